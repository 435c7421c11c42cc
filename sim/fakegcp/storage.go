package fakegcp

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Cloud Storage, as far as a backend bucket needs it: buckets can be
// created, read, listed (they hold no objects) and deleted, at
// /storage/v1/b/..., with Storage's own error wording. A bucket is created
// at once (Storage has no operations).

// bucket is one Cloud Storage bucket.
type bucket struct {
	obj map[string]any
}

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)

// routeStorage maps a /storage/v1/... request to Storage's method id.
func (s *Server) routeStorage(r *http.Request) (route, *apiCall, *APIError) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/storage/v1/"), "/"), "/")
	if segs[0] != "b" {
		return route{}, nil, errNoSuchURL(r)
	}
	name := ""
	if len(segs) > 1 {
		name = segs[1]
	}
	var rt route
	switch {
	case len(segs) == 1 && r.Method == http.MethodPost:
		rt = route{method: "storage.buckets.insert", mutation: true, handle: s.insertBucket}
	case len(segs) == 2 && r.Method == http.MethodGet:
		rt = route{method: "storage.buckets.get", handle: s.getBucket}
	case len(segs) == 2 && r.Method == http.MethodDelete:
		rt = route{method: "storage.buckets.delete", mutation: true, handle: s.deleteBucket}
	case len(segs) == 3 && segs[2] == "o" && r.Method == http.MethodGet:
		rt = route{method: "storage.objects.list", handle: s.listObjects}
	default:
		return route{}, nil, errNoSuchURL(r)
	}
	c, err := newCall(r, rt.method, s.project, "", name)
	return rt, c, err
}

func errNoSuchBucket() *APIError {
	return &APIError{Code: http.StatusNotFound, Reason: "notFound", Message: "The specified bucket does not exist."}
}

func (s *Server) insertBucket(c *apiCall) (any, *APIError) {
	if p := c.query.Get("project"); !s.projectMatches(p) {
		return nil, &APIError{Code: http.StatusBadRequest, Reason: "invalid", Message: "Invalid project " + p + "."}
	}
	name := str(c.body, "name")
	if !bucketNameRE.MatchString(name) || strings.Contains(name, "..") {
		return nil, &APIError{Code: http.StatusBadRequest, Reason: "invalid", Message: "Invalid bucket name: '" + name + "'"}
	}
	if s.buckets[name] != nil {
		return nil, &APIError{Code: http.StatusConflict, Reason: "conflict",
			Message: "Your previous request to create the named bucket succeeded and you already own it."}
	}
	now := googleStorageTime(time.Now())
	b := copyObject(c.body)
	setDefault(b, "location", "US")
	setDefault(b, "storageClass", "STANDARD")
	b["location"] = strings.ToUpper(str(b, "location"))
	locationType := "region"
	if loc := str(b, "location"); loc == "US" || loc == "EU" || loc == "ASIA" {
		locationType = "multi-region"
	}
	seq := s.nextSeq()
	for k, v := range map[string]any{
		"kind": "storage#bucket", "id": name, "selfLink": "https://www.googleapis.com/storage/v1/b/" + name,
		"projectNumber": s.projectNumber, "metageneration": "1", "generation": strconv.FormatUint(1700000000000000+seq, 10),
		"etag": "CAE=", "timeCreated": now, "updated": now, "locationType": locationType, "rpo": "DEFAULT",
		"softDeletePolicy": map[string]any{"retentionDurationSeconds": "604800", "effectiveTime": now},
	} {
		b[k] = v
	}
	// Uniform bucket-level access is reported under its old name too, both
	// with the time it was set (recorded).
	iam := ensureObj(b, "iamConfiguration")
	setDefault(iam, "publicAccessPrevention", "inherited")
	if ubla := obj(iam, "uniformBucketLevelAccess"); boolean(ubla, "enabled") {
		ubla["lockedTime"] = now
		iam["bucketPolicyOnly"] = map[string]any{"enabled": true, "lockedTime": now}
	}
	if rules := obj(b, "lifecycle"); rules != nil && len(list(rules, "rule")) == 0 {
		delete(b, "lifecycle")
	}
	s.buckets[name] = &bucket{obj: b}
	return copyObject(b), nil
}

func (s *Server) getBucket(c *apiCall) (any, *APIError) {
	b := s.buckets[c.name]
	if b == nil {
		return nil, errNoSuchBucket()
	}
	return copyObject(b.obj), nil
}

// deleteBucket answers 204 No Content, as Storage does.
func (s *Server) deleteBucket(c *apiCall) (any, *APIError) {
	if s.buckets[c.name] == nil {
		return nil, errNoSuchBucket()
	}
	delete(s.buckets, c.name)
	return noContent{}, nil
}

// listObjects: the simulator's buckets hold no objects.
func (s *Server) listObjects(c *apiCall) (any, *APIError) {
	if s.buckets[c.name] == nil {
		return nil, errNoSuchBucket()
	}
	return map[string]any{"kind": "storage#objects"}, nil
}

// googleStorageTime is how Storage writes timestamps: UTC with milliseconds.
func googleStorageTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
