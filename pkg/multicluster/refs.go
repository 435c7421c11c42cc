package multicluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/gkecluster"
)

// Ref names one cluster of the mesh: its GKE identity and the kubeconfig
// context that reaches its API server.
type Ref struct {
	Project  string `json:"project"`
	Location string `json:"location"`
	Name     string `json:"name"`
	Context  string `json:"context"`
}

// ResourceName is the cluster's name in the GKE API.
func (r Ref) ResourceName() string {
	return "projects/" + r.Project + "/locations/" + r.Location + "/clusters/" + r.Name
}

// String is PROJECT/LOCATION/NAME, as the commands take it.
func (r Ref) String() string { return r.Project + "/" + r.Location + "/" + r.Name }

// Region is the cluster's region (a zonal cluster's zone without its
// letter): what GKE's master global access compares.
func (r Ref) Region() string { return gkecluster.Region(r.Location) }

// InstalledName is the cluster name asmcli and Google's managed control
// plane install istiod under (values.global.multiCluster.clusterName, the
// CLUSTER_ID): cn-PROJECT-LOCATION-NAME. A remote secret must carry it.
// (asmcli create-mesh names its secrets gke-PROJECT-LOCATION-NAME, which
// istiod then registers as a cluster of another name.)
func (r Ref) InstalledName() string {
	return "cn-" + r.Project + "-" + r.Location + "-" + r.Name
}

// RefDefaults complete a bare cluster NAME and check contexts exist.
type RefDefaults struct {
	// Project and Location complete a bare NAME (--project, --location).
	Project, Location string
	// Contexts are the kubeconfig's context names.
	Contexts []string
}

const credentialsHint = "run `gcloud container clusters get-credentials NAME --location LOCATION --project PROJECT` for each cluster (its context is then gke_PROJECT_LOCATION_NAME)"

// ParseRefs resolves clusters given as PROJECT/LOCATION/NAME, as a kube
// context written by `gcloud container clusters get-credentials`
// (gke_PROJECT_LOCATION_NAME), or as a bare NAME in the default project and
// location. Each needs its context in the kubeconfig. Errors are usage
// errors with a hint.
func ParseRefs(args []string, d RefDefaults) ([]Ref, error) {
	var out []Ref
	seen := map[string]string{}
	for _, arg := range args {
		r, err := parseRef(arg, d)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[r.ResourceName()]; dup {
			return nil, failure.Usage(fmt.Errorf("cluster %s is given twice (%q and %q)", r, prev, arg), "name each cluster once")
		}
		seen[r.ResourceName()] = arg
		out = append(out, r)
	}
	return out, nil
}

func parseRef(arg string, d RefDefaults) (Ref, error) {
	if strings.Contains(arg, "/") {
		parts := strings.Split(arg, "/")
		if len(parts) != 3 || slices.Contains(parts, "") {
			return Ref{}, failure.Usage(fmt.Errorf("cluster %q: want PROJECT/LOCATION/NAME or a kube context", arg), "")
		}
		return withContext(Ref{Project: parts[0], Location: parts[1], Name: parts[2]}, arg, d)
	}
	if slices.Contains(d.Contexts, arg) {
		gke, ok := kube.ParseGKEContext(arg)
		if !ok {
			return Ref{}, failure.Usage(fmt.Errorf("kube context %q does not name a GKE cluster (gke_PROJECT_LOCATION_NAME)", arg),
				"give the cluster as PROJECT/LOCATION/NAME and keep the context gcloud wrote for it")
		}
		return Ref{Project: gke.Project, Location: gke.Location, Name: gke.Cluster, Context: arg}, nil
	}
	if d.Project == "" || d.Location == "" {
		return Ref{}, failure.Usage(fmt.Errorf("cluster %q is not a kube context, and a bare name needs --project and --location", arg),
			"give the cluster as PROJECT/LOCATION/NAME or as its kube context")
	}
	return withContext(Ref{Project: d.Project, Location: d.Location, Name: arg}, arg, d)
}

func withContext(r Ref, arg string, d RefDefaults) (Ref, error) {
	ctx := kube.GKEContext{Project: r.Project, Location: r.Location, Cluster: r.Name}.String()
	if !slices.Contains(d.Contexts, ctx) {
		return Ref{}, failure.Usage(fmt.Errorf("cluster %q: the kubeconfig has no context %s", arg, ctx),
			strings.NewReplacer("NAME", r.Name, "LOCATION", r.Location, "PROJECT", r.Project).Replace(credentialsHint))
	}
	r.Context = ctx
	return r, nil
}
