// Package vm is `meshctl vm`: a VM joins the mesh as Istio's "virtual
// machine installation" has it, without SSH to the VM. add makes the
// namespace's service account and a WorkloadGroup (auto-registration, a
// readiness probe), checks that the revision's istiod takes VMs, and
// writes the bootstrap bundle `istioctl x workload entry configure
// --autoregister` writes (cluster.env, mesh.yaml, root-cert.pem,
// istio-token, hosts) with an install script; istiod itself creates the
// VM's WorkloadEntry when the VM's proxy connects. list shows the groups
// and their entries, remove deletes what add made, token-refresh renews
// the bundle's token, and Check gives validate its findings.
package vm

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
)

// Istio's resources for VMs.
var (
	GVRWorkloadGroup = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadgroups"}
	GVRWorkloadEntry = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}
)

// Annotations istiod writes on the WorkloadEntries it registers
// (pilot/pkg/autoregistration), and meshctl's own on a group.
const (
	// AnnotationAutoRegistrationGroup names the group of an entry istiod
	// made for a connected VM.
	AnnotationAutoRegistrationGroup = "istio.io/autoRegistrationGroup"
	AnnotationConnectedAt           = "istio.io/connectedAt"
	AnnotationDisconnectedAt        = "istio.io/disconnectedAt"
	// AnnotationTokenExpires is when the token of the bundle meshctl last
	// wrote for the group expires (RFC 3339): validate warns before it does
	// without reading the bundle, which lives where the user put it.
	AnnotationTokenExpires = "meshctl.io/vm-token-expires"
	// AnnotationTokenLifetime is that token's lifetime in seconds, so that
	// "near expiry" is a share of it.
	AnnotationTokenLifetime = "meshctl.io/vm-token-lifetime"
	// LabelVM marks what add made for a group: its name.
	LabelVM = "meshctl.io/vm"
)

// The istiod settings auto-registration needs (pilot/pkg/features; both
// default to true).
const (
	EnvAutoRegistration = "PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION"
	EnvHealthChecks     = "PILOT_ENABLE_WORKLOAD_ENTRY_HEALTHCHECKS"
)

// Token lifetimes: istioctl's default, and the most add issues (a VM's
// token bootstraps its certificate; a long-lived one is a standing
// credential on a disk meshctl does not control).
const (
	DefaultTokenDuration = time.Hour
	MaxTokenDuration     = 24 * time.Hour
)

// DefaultWait bounds every wait of a command.
const DefaultWait = 2 * time.Minute

// Port is one of the VM's service ports, --port name:number.
type Port struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
}

var portName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ParsePort reads "name:number".
func ParsePort(s string) (Port, error) {
	name, num, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || n > 65535 || !portName.MatchString(name) {
		return Port{}, fmt.Errorf("--port %q: want NAME:NUMBER, e.g. mysql:3306 or http:8080 (Istio picks the protocol from the name's prefix)", s)
	}
	return Port{Name: name, Number: n}, nil
}

// Clients are what the commands read and write.
type Clients struct {
	Kube    kubernetes.Interface
	Objects kube.Objects
	// Cloud builds the Google side, for the firewall; nil without one.
	Cloud func(context.Context) (Cloud, error)
}

// cloud builds the Google side and checks it names the cluster.
func (c Clients) cloud(ctx context.Context) (Cloud, error) {
	if c.Cloud == nil {
		return Cloud{}, fmt.Errorf("no Google Cloud clients: the VM's firewall rules need the cluster's project")
	}
	cl, err := c.Cloud(ctx)
	if err != nil {
		return cl, err
	}
	if cl.Project == "" || cl.Location == "" || cl.Cluster == "" {
		return cl, failure.Usage(fmt.Errorf("the VM's firewall rules need the kube context's GKE cluster, and it is unknown"),
			"use the context gcloud container clusters get-credentials writes (gke_PROJECT_LOCATION_NAME), or pass --project, --location and --cluster")
	}
	return cl, nil
}
