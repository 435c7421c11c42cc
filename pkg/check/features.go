package check

import (
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/pkg/findings"
)

const (
	kubernetesLogging    = "logging.googleapis.com/kubernetes"
	kubernetesMonitoring = "monitoring.googleapis.com/kubernetes"
)

func checkWorkloadIdentity(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	want := f.opts.Project + ".svc.id.goog"
	if pool := cl.GetWorkloadIdentityConfig().GetWorkloadPool(); pool != "" {
		return outcome{message: "workload pool " + pool}
	}
	return outcome{findings: []findings.Finding{findings.WorkloadIdentity.New(f.clusterObject(),
		"workload identity is off: the mesh's certificate authority and telemetry need it",
		fmt.Sprintf("gcloud container clusters update %s --workload-pool %s %s", f.opts.Cluster, want, f.gcloudScope()))}}
}

func checkNodeMetadata(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	if cl.GetAutopilot().GetEnabled() {
		return outcome{status: StatusSkipped, message: "Autopilot always uses the GKE metadata server"}
	}
	if cl.GetWorkloadIdentityConfig().GetWorkloadPool() == "" {
		return outcome{status: StatusSkipped, message: "needs workload identity (" + findings.WorkloadIdentity.Code + ")"}
	}
	return nodeMetadata(f, cl, findings.NodeMetadataServer, "its pods cannot use workload identity")
}

// nodeMetadata is one finding of typ per node pool that does not run the
// GKE metadata server, saying why that matters.
func nodeMetadata(f *facts, cl *containerpb.Cluster, typ findings.Type, why string) outcome {
	var out outcome
	for _, p := range PoolsWithoutGKEMetadata(cl) {
		out.findings = append(out.findings, typ.New("node pool "+p,
			fmt.Sprintf("node pool %s does not run the GKE metadata server: %s", p, why),
			fmt.Sprintf("gcloud container node-pools update %s --cluster %s --workload-metadata GKE_METADATA %s", p, f.opts.Cluster, f.gcloudScope())))
	}
	if len(out.findings) == 0 {
		out.message = "every node pool runs the GKE metadata server"
	}
	return out
}

// PoolsWithoutGKEMetadata names the node pools whose nodes serve the GCE
// metadata server rather than GKE's, so their pods cannot use workload
// identity.
func PoolsWithoutGKEMetadata(cl *containerpb.Cluster) []string {
	var pools []string
	for _, p := range cl.GetNodePools() {
		if p.GetConfig().GetWorkloadMetadataConfig().GetMode() != containerpb.WorkloadMetadataConfig_GKE_METADATA {
			pools = append(pools, p.GetName())
		}
	}
	return pools
}

func checkCloudOperations(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	logging, monitoring := cl.GetLoggingService(), cl.GetMonitoringService()
	if logging == kubernetesLogging && monitoring == kubernetesMonitoring {
		return outcome{message: "logging and monitoring for Kubernetes are on"}
	}
	var off []string
	if logging != kubernetesLogging {
		off = append(off, fmt.Sprintf("logging is %q", orNone(logging)))
	}
	if monitoring != kubernetesMonitoring {
		off = append(off, fmt.Sprintf("monitoring is %q", orNone(monitoring)))
	}
	return outcome{findings: []findings.Finding{findings.CloudOperations.New(f.clusterObject(),
		strings.Join(off, ", ")+fmt.Sprintf(": asmcli requires %s and %s", kubernetesLogging, kubernetesMonitoring),
		fmt.Sprintf("gcloud container clusters update %s --logging SYSTEM,WORKLOAD --monitoring SYSTEM %s", f.opts.Cluster, f.gcloudScope()))}}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

var meshIDRE = regexp.MustCompile(`^proj-(\d+)$`)

// checkMeshID: asmcli labels the cluster mesh_id=proj-<fleet project
// number>; the Cloud console groups the mesh by it.
func checkMeshID(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	label, ok := cl.GetResourceLabels()["mesh_id"]
	number := ""
	if p, err := f.project(); err == nil {
		number = fmt.Sprint(p.GetId())
	}
	want := "proj-" + number
	if number == "" {
		want = fmt.Sprintf("proj-$(gcloud projects describe %s --format 'value(projectNumber)')", f.opts.Project)
	}
	hint := fmt.Sprintf("gcloud container clusters update %s --update-labels mesh_id=%s %s", f.opts.Cluster, want, f.gcloudScope())
	switch m := meshIDRE.FindStringSubmatch(label); {
	case !ok:
		return outcome{findings: []findings.Finding{findings.MeshIDLabel.New(f.clusterObject(), "the cluster has no mesh_id label", hint)}}
	case m == nil:
		return outcome{findings: []findings.Finding{findings.MeshIDLabel.New(f.clusterObject(),
			fmt.Sprintf("mesh_id=%q is not of the form proj-<project number>", label), hint)}}
	case number != "" && m[1] != number:
		return outcome{message: fmt.Sprintf("mesh_id=%s (project %s is number %s: right only if the fleet lives in another project)", label, f.opts.Project, number)}
	}
	return outcome{message: "mesh_id=" + label}
}

func checkNetwork(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	project, network := clusterNetwork(cl, f.opts.Project)
	msg := "network " + network
	if sub := cl.GetNetworkConfig().GetSubnetwork(); sub != "" {
		msg += ", subnetwork " + sub
	} else if sub := cl.GetSubnetwork(); sub != "" {
		msg += ", subnetwork " + sub
	}
	if project != f.opts.Project {
		msg += " (Shared VPC in host project " + project + ")"
	}
	return outcome{status: StatusInfo, message: msg}
}
