package fakegcp

import (
	"net/http"
	"strings"
)

// publicImages are the public image families the simulator knows, by
// project, each with its newest image (recorded for debian-11). The
// project has no images of its own.
var publicImages = map[string]map[string]string{
	"debian-cloud":    {"debian-11": "debian-11-bullseye-v20231010", "debian-12": "debian-12-bookworm-v20240312"},
	"cos-cloud":       {"cos-stable": "cos-stable-109-17800-147-54"},
	"ubuntu-os-cloud": {"ubuntu-2204-lts": "ubuntu-2204-jammy-v20240319"},
}

// image is one public image.
type image struct{ project, family, name string }

// renderImage shows an image as recorded: its name, family and status.
func (im *image) render() map[string]any {
	return map[string]any{
		"kind":     "compute#image",
		"name":     im.name,
		"family":   im.family,
		"status":   "READY",
		"selfLink": computeBase + "projects/" + im.project + "/global/images/" + im.name,
	}
}

func findImage(project, name string) *image {
	for family, n := range publicImages[project] {
		if n == name {
			return &image{project, family, n}
		}
	}
	return nil
}

func imageOfFamily(project, family string) *image {
	if n, ok := publicImages[project][family]; ok {
		return &image{project, family, n}
	}
	return nil
}

// lookupImage resolves an image reference as a disk's sourceImage names it:
// projects/P/global/images/NAME, .../images/family/FAMILY or, as gcloud
// sends --image-family, projects/P/zones/ZONE/imageFamilyViews/FAMILY
// (ZONE may be "-"), relative or full; nil when there is no such image.
func (s *Server) lookupImage(link string) *image {
	segs := strings.Split(strings.TrimPrefix(trimLinkHost(link), "/"), "/")
	project := s.project
	if len(segs) >= 2 && segs[0] == "projects" {
		project, segs = segs[1], segs[2:]
	}
	switch {
	case len(segs) == 4 && segs[0] == "global" && segs[1] == "images" && segs[2] == "family":
		return imageOfFamily(project, segs[3])
	case len(segs) == 3 && segs[0] == "global" && segs[1] == "images":
		return findImage(project, segs[2])
	case len(segs) == 4 && segs[0] == "zones" && segs[2] == "imageFamilyViews":
		return imageOfFamily(project, segs[3])
	}
	return nil
}

// imageRoute answers images.get, images.getFromFamily and images.list of a
// project (public image projects included); segs follow global/images.
func (s *Server) imageRoute(r *http.Request, project string, segs []string) (route, *apiCall, *APIError) {
	notFound := func(path string) func(*apiCall) (any, *APIError) {
		return func(*apiCall) (any, *APIError) {
			return nil, errNotFound("projects/" + project + "/global/images/" + path)
		}
	}
	switch {
	case len(segs) == 0:
		return s.readRoute(r, "compute.images.list", "global", "", func(c *apiCall) (any, *APIError) {
			var items []map[string]any
			for family, name := range publicImages[project] {
				items = append(items, (&image{project, family, name}).render())
			}
			return s.listResponse(c, "compute#imageList", "projects/"+project+"/global/images", items, true)
		})
	case len(segs) == 1:
		h := notFound(segs[0])
		if im := findImage(project, segs[0]); im != nil {
			h = func(*apiCall) (any, *APIError) { return im.render(), nil }
		}
		return s.readRoute(r, "compute.images.get", "global", segs[0], h)
	case len(segs) == 2 && segs[0] == "family":
		h := notFound("family/" + segs[1])
		if im := imageOfFamily(project, segs[1]); im != nil {
			h = func(*apiCall) (any, *APIError) { return im.render(), nil }
		}
		return s.readRoute(r, "compute.images.getFromFamily", "global", segs[1], h)
	}
	return route{}, nil, errNoSuchURL(r)
}
