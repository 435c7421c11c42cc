package managed

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/api/gkehub/v1"
)

// Lifecycle states of the servicemesh feature's control-plane and data-plane
// management for one membership (gkehub v1 LifecycleState).
const (
	StateUnspecified        = "LIFECYCLE_STATE_UNSPECIFIED"
	StateDisabled           = "DISABLED"
	StateFailedPrecondition = "FAILED_PRECONDITION"
	StateProvisioning       = "PROVISIONING"
	StateActive             = "ACTIVE"
	StateStalled            = "STALLED"
	StateNeedsAttention     = "NEEDS_ATTENTION"
	StateDegraded           = "DEGRADED"
	StateDeprovisioning     = "DEPROVISIONING"
)

// Management modes of a membership's servicemesh spec.
const (
	ManagementAutomatic    = "MANAGEMENT_AUTOMATIC"
	ManagementManual       = "MANAGEMENT_MANUAL"
	ManagementNotInstalled = "MANAGEMENT_NOT_INSTALLED"
)

// detailRevisionReady is the control-plane detail code of a ready revision:
// {code: REVISION_READY, details: "Ready: asm-managed"}.
const detailRevisionReady = "REVISION_READY"

// MeshStatus is the servicemesh feature's state for one membership, as the
// fleet reports it in features/servicemesh membershipStates.
type MeshStatus struct {
	// Reported is false when the feature has no state for the membership
	// yet (just enabled, or management never set).
	Reported            bool           `json:"reported"`
	ControlPlane        string         `json:"controlPlaneState,omitempty"`
	Implementation      string         `json:"implementation,omitempty"`
	ControlPlaneDetails []StatusDetail `json:"controlPlaneDetails,omitempty"`
	DataPlane           string         `json:"dataPlaneState,omitempty"`
	DataPlaneDetails    []StatusDetail `json:"dataPlaneDetails,omitempty"`
	Conditions          []Condition    `json:"conditions,omitempty"`
	// Code and Description are the membership's overall feature state:
	// OK, WARNING or ERROR and e.g. "Revision(s) ready for use: asm-managed.".
	Code        string `json:"code,omitempty"`
	Description string `json:"description,omitempty"`
}

// StatusDetail is one machine-readable explanation of a state.
type StatusDetail struct {
	Code    string `json:"code"`
	Details string `json:"details,omitempty"`
}

// Condition is a condition the fleet reports for a membership.
type Condition struct {
	Code              string `json:"code"`
	Details           string `json:"details,omitempty"`
	Severity          string `json:"severity,omitempty"`
	DocumentationLink string `json:"documentationLink,omitempty"`
}

// StatusFromV1 reads a membership's servicemesh state from a gkehub v1
// Feature's membershipStates entry (nil: not reported).
func StatusFromV1(st *gkehub.MembershipFeatureState) MeshStatus {
	var s MeshStatus
	if st == nil {
		return s
	}
	if st.State != nil {
		s.Code, s.Description = st.State.Code, st.State.Description
	}
	sm := st.Servicemesh
	if sm == nil {
		s.Reported = s.Code != ""
		return s
	}
	s.Reported = true
	if cp := sm.ControlPlaneManagement; cp != nil {
		s.ControlPlane, s.Implementation = cp.State, cp.Implementation
		for _, d := range cp.Details {
			if d != nil {
				s.ControlPlaneDetails = append(s.ControlPlaneDetails, StatusDetail{Code: d.Code, Details: d.Details})
			}
		}
	}
	if dp := sm.DataPlaneManagement; dp != nil {
		s.DataPlane = dp.State
		for _, d := range dp.Details {
			if d != nil {
				s.DataPlaneDetails = append(s.DataPlaneDetails, StatusDetail{Code: d.Code, Details: d.Details})
			}
		}
	}
	for _, c := range sm.Conditions {
		if c != nil {
			s.Conditions = append(s.Conditions, Condition{Code: c.Code, Details: c.Details, Severity: c.Severity, DocumentationLink: c.DocumentationLink})
		}
	}
	return s
}

// ReadyRevisions returns the revisions the control plane reports ready, from
// details such as {REVISION_READY, "Ready: asm-managed"}.
func (s MeshStatus) ReadyRevisions() []string {
	var revs []string
	for _, d := range s.ControlPlaneDetails {
		if d.Code != detailRevisionReady {
			continue
		}
		text := strings.TrimSpace(d.Details)
		if i := strings.Index(text, ":"); i >= 0 {
			text = text[i+1:]
		}
		revs = append(revs, strings.FieldsFunc(text, func(c rune) bool { return c == ',' || c == ' ' || c == '.' })...)
	}
	return revs
}

// Summary is the status in one line for progress:
// "control plane PROVISIONING, data plane PROVISIONING".
func (s MeshStatus) Summary() string {
	if !s.Reported {
		return "not reported yet"
	}
	orNone := func(v string) string {
		if v == "" || v == StateUnspecified {
			return "not reported"
		}
		return v
	}
	parts := []string{"control plane " + orNone(s.ControlPlane)}
	if s.Implementation != "" && s.Implementation != "IMPLEMENTATION_UNSPECIFIED" {
		parts[0] += " (" + s.Implementation + ")"
	}
	parts = append(parts, "data plane "+orNone(s.DataPlane))
	var codes []string
	for _, d := range s.ControlPlaneDetails {
		if d.Code != s.ControlPlane {
			codes = append(codes, d.Code)
		}
	}
	for _, c := range s.Conditions {
		codes = append(codes, c.Code)
	}
	if len(codes) > 0 {
		parts = append(parts, strings.Join(codes, ", "))
	}
	return strings.Join(parts, ", ")
}

// Phase is what a waiting command makes of a status.
type Phase string

// Phases.
const (
	PhaseWaiting Phase = "waiting"
	PhaseReady   Phase = "ready"
	PhaseFailed  Phase = "failed"
	// PhaseRemoved: the managed control plane is gone (uninstall's goal).
	PhaseRemoved Phase = "removed"
)

// Problem is a condition or state explained: what it means and the command
// that fixes it.
type Problem struct {
	Code        string `json:"code"`
	Explanation string `json:"explanation"`
	Fix         string `json:"fix,omitempty"`
	// Blocking problems stop provisioning until fixed; others are warnings.
	Blocking bool `json:"blocking"`
}

func (p Problem) String() string {
	s := p.Code + ": " + p.Explanation
	if p.Fix != "" {
		s += "\n    fix: " + p.Fix
	}
	return s
}

// Assessment is the verdict on one status.
type Assessment struct {
	Phase    Phase
	Revision string    // the ready revision, for PhaseReady
	Problems []Problem // blocking ones for PhaseFailed, warnings otherwise
}

// FixContext names what the fixes refer to.
type FixContext struct {
	Project, Location, Cluster string
	FleetProject               string
	// FleetProjectNumber names the service agents; learned from the
	// feature's membership keys when it can be.
	FleetProjectNumber string
	Membership         string // the membership's id
	MembershipLocation string
	// Pools lacking GKE_METADATA, when known.
	PoolsWithoutGKEMetadata []string
}

func (f FixContext) fleetNumber() string {
	if f.FleetProjectNumber != "" {
		return f.FleetProjectNumber
	}
	return "FLEET_PROJECT_NUMBER"
}

func (f FixContext) clusterFlags() string {
	return fmt.Sprintf("--location %s --project %s", f.Location, f.Project)
}

func (f FixContext) describe() string {
	return fmt.Sprintf("gcloud container fleet mesh describe --project %s", f.FleetProject)
}

type conditionInfo struct {
	explain  string
	fix      func(FixContext) string
	blocking bool
}

// conditions explains the condition codes of gkehub v1
// ServiceMeshCondition that a person can act on. Codes not listed are shown
// with the fleet's own details; they block only with severity ERROR while
// the control plane is FAILED_PRECONDITION or STALLED.
var conditions = map[string]conditionInfo{
	"WORKLOAD_IDENTITY_REQUIRED": {
		explain: "the cluster does not have Workload Identity; the managed control plane needs it",
		fix: func(f FixContext) string {
			return fmt.Sprintf("gcloud container clusters update %s %s --workload-pool=%s.svc.id.goog", f.Cluster, f.clusterFlags(), f.Project)
		},
		blocking: true,
	},
	"NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED": {
		explain: "node pools must run the GKE metadata server (workload metadata GKE_METADATA) for the managed mesh",
		fix: func(f FixContext) string {
			pools := f.PoolsWithoutGKEMetadata
			if len(pools) == 0 {
				pools = []string{"POOL"}
			}
			var cmds []string
			for _, p := range pools {
				cmds = append(cmds, fmt.Sprintf("gcloud container node-pools update %s --cluster %s %s --workload-metadata=GKE_METADATA", p, f.Cluster, f.clusterFlags()))
			}
			return strings.Join(cmds, " && ")
		},
		blocking: true,
	},
	"CLUSTER_HAS_ZERO_NODES": {
		explain: "the cluster has no nodes to run the mesh's components on",
		fix: func(f FixContext) string {
			return fmt.Sprintf("gcloud container clusters resize %s --node-pool POOL --num-nodes 1 %s", f.Cluster, f.clusterFlags())
		},
		blocking: true,
	},
	"MESH_IAM_PERMISSION_DENIED": {
		explain: "the Cloud Service Mesh service agent lacks its role in the fleet project",
		fix: func(f FixContext) string {
			return fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member serviceAccount:service-%s@gcp-sa-servicemesh.iam.gserviceaccount.com --role roles/anthosservicemesh.serviceAgent", f.FleetProject, f.fleetNumber())
		},
		blocking: true,
	},
	"MESH_IAM_CROSS_PROJECT_PERMISSION_DENIED": {
		explain: "the fleet project's service agents lack their roles in the cluster project",
		fix: func(f FixContext) string {
			n := f.fleetNumber()
			return fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member serviceAccount:service-%s@gcp-sa-servicemesh.iam.gserviceaccount.com --role roles/anthosservicemesh.serviceAgent && gcloud projects add-iam-policy-binding %s --member serviceAccount:service-%s@gcp-sa-gkehub.iam.gserviceaccount.com --role roles/gkehub.serviceAgent", f.Project, n, f.Project, n)
		},
		blocking: true,
	},
	"GKE_SANDBOX_UNSUPPORTED": {
		explain:  "GKE Sandbox (gVisor) node pools are not supported by the managed mesh",
		fix:      func(FixContext) string { return "move mesh workloads to node pools without GKE Sandbox" },
		blocking: true,
	},
	"CNI_CONFIG_UNSUPPORTED": {
		explain:  "the cluster's CNI configuration is not supported by the managed mesh's CNI",
		fix:      func(f FixContext) string { return f.describe() + " (see the condition's documentation link)" },
		blocking: true,
	},
	"SHARED_VPC_MISSING_PERMISSIONS": {
		explain: "on a Shared VPC, the service agents lack permissions in the host project",
		fix: func(f FixContext) string {
			return "grant roles/anthosservicemesh.serviceAgent to service-" + f.fleetNumber() + "@gcp-sa-servicemesh.iam.gserviceaccount.com in the Shared VPC host project"
		},
		blocking: true,
	},
	"REQUIRED_ORG_POLICY_DISABLED": {
		explain: "an organization policy the managed mesh needs is enforced (compute.disableInternetNetworkEndpointGroup)",
		fix: func(f FixContext) string {
			return fmt.Sprintf("gcloud resource-manager org-policies disable-enforce compute.disableInternetNetworkEndpointGroup --project %s", f.Project)
		},
		blocking: true,
	},
	"UNSUPPORTED_MULTIPLE_CONTROL_PLANES": {
		explain: "the cluster has more than one control plane the fleet cannot reconcile",
		fix: func(f FixContext) string {
			return "remove the other control planes (kubectl get controlplanerevisions -n istio-system; istioctl x uninstall --revision REV)"
		},
		blocking: true,
	},
	"MANAGED_CNI_NOT_ENABLED": {
		explain:  "the managed CNI is not enabled on the cluster",
		fix:      func(f FixContext) string { return f.describe() + " (see the condition's documentation link)" },
		blocking: true,
	},
	"CNI_INSTALLATION_FAILED": {
		explain: "the istio-cni-node DaemonSet in kube-system did not install",
		fix:     func(FixContext) string { return "kubectl -n kube-system describe daemonset istio-cni-node" },
	},
	"CNI_POD_UNSCHEDULABLE": {
		explain: "istio-cni-node pods cannot be scheduled on some nodes",
		fix:     func(FixContext) string { return "kubectl -n kube-system get pods -l k8s-app=istio-cni-node -o wide" },
	},
	"VPCSC_GA_SUPPORTED": {
		explain: "VPC Service Controls are supported for this control plane",
	},
	"DEPRECATED_SPEC_CONTROL_PLANE_MANAGEMENT": {
		explain: "the membership uses the deprecated controlPlane field and no management",
		fix: func(f FixContext) string {
			return fmt.Sprintf("gcloud container fleet mesh update --management automatic --memberships %s --project %s", f.Membership, f.FleetProject)
		},
	},
	"LEGACY_MC_SECRETS": {
		explain: "legacy Istio multi-cluster secrets are present",
		fix:     func(FixContext) string { return "kubectl -n istio-system get secrets -l istio/multiCluster=true" },
	},
}

// ExplainCondition explains a condition code and gives its fix.
func ExplainCondition(c Condition, f FixContext) Problem {
	p := Problem{Code: c.Code, Explanation: c.Details}
	if info, ok := conditions[c.Code]; ok {
		p.Explanation = info.explain
		if c.Details != "" && !strings.EqualFold(c.Details, info.explain) {
			p.Explanation += " (fleet: " + c.Details + ")"
		}
		if info.fix != nil {
			p.Fix = info.fix(f)
		}
		p.Blocking = info.blocking
	} else if strings.HasPrefix(c.Code, "QUOTA_EXCEEDED_") {
		p.Explanation = fmt.Sprintf("a quota of the fleet project is exhausted (%s)", strings.ToLower(strings.TrimPrefix(c.Code, "QUOTA_EXCEEDED_")))
		if c.Details != "" {
			p.Explanation += " (fleet: " + c.Details + ")"
		}
		p.Fix = fmt.Sprintf("request more quota: https://console.cloud.google.com/iam-admin/quotas?project=%s", f.FleetProject)
	}
	if p.Explanation == "" {
		p.Explanation = "reported by the fleet"
	}
	if c.DocumentationLink != "" && p.Fix == "" {
		p.Fix = "see " + c.DocumentationLink
	}
	return p
}

// Assess decides what a status means for an install waiting on revision
// (empty: any ready revision). It never returns PhaseRemoved.
func (s MeshStatus) Assess(revision string, f FixContext) Assessment {
	var problems, blocking []Problem
	for _, c := range s.Conditions {
		p := ExplainCondition(c, f)
		terminal := s.ControlPlane == StateFailedPrecondition || s.ControlPlane == StateStalled
		if !p.Blocking && terminal && strings.EqualFold(c.Severity, "ERROR") {
			p.Blocking = true
		}
		if p.Blocking {
			blocking = append(blocking, p)
		} else if !strings.EqualFold(c.Severity, "INFO") {
			problems = append(problems, p)
		}
	}
	if len(blocking) > 0 {
		return Assessment{Phase: PhaseFailed, Problems: append(blocking, problems...)}
	}
	switch s.ControlPlane {
	case StateFailedPrecondition, StateStalled:
		what := map[string]string{
			StateFailedPrecondition: "the fleet cannot provision the control plane because of something about the cluster",
			StateStalled:            "provisioning the control plane stalled",
		}[s.ControlPlane]
		if d := s.detailsText(); d != "" {
			what += " (" + d + ")"
		}
		return Assessment{Phase: PhaseFailed, Problems: append([]Problem{{Code: s.ControlPlane, Explanation: what, Fix: f.describe(), Blocking: true}}, problems...)}
	case StateActive, StateNeedsAttention, StateDegraded:
		revs := s.ReadyRevisions()
		rev := ""
		for _, r := range revs {
			if revision == "" || r == revision {
				rev = r
				break
			}
		}
		if rev == "" {
			// ACTIVE without the revision ready yet (e.g. a channel change):
			// keep waiting.
			return Assessment{Phase: PhaseWaiting, Problems: problems}
		}
		switch s.DataPlane {
		case StateActive:
		case StateDisabled:
			problems = append(problems, Problem{Code: "DATA_PLANE_DISABLED", Explanation: "the managed data plane is off: sidecar proxies are not upgraded for you"})
		case StateFailedPrecondition, StateStalled:
			problems = append(problems, Problem{Code: "DATA_PLANE_" + s.DataPlane, Explanation: "the managed data plane is " + s.DataPlane + s.dataPlaneDetailsText(), Fix: f.describe()})
		case StateNeedsAttention, StateDegraded:
			problems = append(problems, Problem{Code: "DATA_PLANE_" + s.DataPlane, Explanation: "the managed data plane is " + s.DataPlane + s.dataPlaneDetailsText(), Fix: f.describe()})
		default:
			return Assessment{Phase: PhaseWaiting, Problems: problems}
		}
		if s.ControlPlane != StateActive {
			problems = append([]Problem{{Code: s.ControlPlane, Explanation: "the control plane is ready but " + strings.ToLower(strings.ReplaceAll(s.ControlPlane, "_", " ")) + s.detailsParen(), Fix: f.describe()}}, problems...)
		}
		return Assessment{Phase: PhaseReady, Revision: rev, Problems: problems}
	default:
		// PROVISIONING, DEPROVISIONING, DISABLED (not picked up yet),
		// unspecified or not reported: the fleet is still at work.
		return Assessment{Phase: PhaseWaiting, Problems: problems}
	}
}

// Removed reports whether the managed control plane is gone: what
// `uninstall --managed` waits for.
func (s MeshStatus) Removed() bool {
	switch s.ControlPlane {
	case "", StateUnspecified, StateDisabled:
		return true
	}
	return false
}

func (s MeshStatus) detailsText() string {
	var parts []string
	for _, d := range s.ControlPlaneDetails {
		parts = append(parts, strings.TrimSpace(d.Code+" "+d.Details))
	}
	return strings.Join(parts, "; ")
}

func (s MeshStatus) detailsParen() string {
	if d := s.detailsText(); d != "" {
		return " (" + d + ")"
	}
	return ""
}

func (s MeshStatus) dataPlaneDetailsText() string {
	var parts []string
	for _, d := range s.DataPlaneDetails {
		parts = append(parts, strings.TrimSpace(d.Code+" "+d.Details))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// KnownConditionCodes lists the codes meshctl explains, sorted.
func KnownConditionCodes() []string {
	var codes []string
	for c := range conditions {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}
