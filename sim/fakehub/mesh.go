package fakehub

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Management modes and lifecycle states, as gkehub names them.
const (
	managementAutomatic    = "MANAGEMENT_AUTOMATIC"
	managementNotInstalled = "MANAGEMENT_NOT_INSTALLED"

	stateDisabled           = "DISABLED"
	stateFailedPrecondition = "FAILED_PRECONDITION"
	stateProvisioning       = "PROVISIONING"
	stateActive             = "ACTIVE"
	stateStalled            = "STALLED"
	stateDeprovisioning     = "DEPROVISIONING"
)

// meshSpec is a membership's servicemesh spec.
type meshSpec struct {
	Management     string
	DefaultChannel string
	ConfigAPI      string
	ControlPlane   string // deprecated AUTOMATIC/MANUAL
}

func (m *meshSpec) v1() map[string]any {
	out := map[string]any{}
	for k, v := range map[string]string{"management": m.Management, "controlPlane": m.ControlPlane, "configApi": m.ConfigAPI} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func (m *meshSpec) v2() map[string]any {
	out := m.v1()
	if m.DefaultChannel != "" {
		out["defaultChannel"] = m.DefaultChannel
	}
	return out
}

// automatic reports whether the spec asks Google to manage the mesh.
func (m *meshSpec) automatic() bool {
	return m.Management == managementAutomatic || (m.Management == "" && m.ControlPlane == "AUTOMATIC")
}

type statusDetail struct{ code, details string }

type meshCondition struct{ code, details, link, severity string }

// meshState is what the fleet reports for a membership's mesh.
type meshState struct {
	gen          int // bumped by every spec change: stale workers stop
	cp, dp, impl string
	cpDetails    []statusDetail
	dpDetails    []statusDetail
	conditions   []meshCondition
	code, desc   string
	updated      time.Time
	channel      string // being provisioned or provisioned
	revision     string // installed in the cluster, "" when none
}

func detailsJSON(ds []statusDetail) []any {
	var out []any
	for _, d := range ds {
		out = append(out, map[string]any{"code": d.code, "details": d.details})
	}
	return out
}

func (st *meshState) servicemesh() map[string]any {
	cp := map[string]any{"state": orDefault(st.cp, stateDisabled)}
	if st.impl != "" {
		cp["implementation"] = st.impl
	}
	if len(st.cpDetails) > 0 {
		cp["details"] = detailsJSON(st.cpDetails)
	}
	dp := map[string]any{"state": orDefault(st.dp, stateDisabled)}
	if len(st.dpDetails) > 0 {
		dp["details"] = detailsJSON(st.dpDetails)
	}
	out := map[string]any{"controlPlaneManagement": cp, "dataPlaneManagement": dp}
	var conds []any
	for _, c := range st.conditions {
		cond := map[string]any{"code": c.code, "details": c.details, "severity": c.severity}
		if c.link != "" {
			cond["documentationLink"] = c.link
		}
		conds = append(conds, cond)
	}
	if len(conds) > 0 {
		out["conditions"] = conds
	}
	return out
}

func (st *meshState) state() map[string]any {
	out := map[string]any{"code": orDefault(st.code, "OK")}
	if st.desc != "" {
		out["description"] = st.desc
	}
	if !st.updated.IsZero() {
		out["updateTime"] = googleTime(st.updated)
	}
	return out
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// channelFor is the channel Google provisions: the spec's defaultChannel,
// else the one mapped from the membership's cluster's GKE release channel.
func (s *Server) channelFor(m *membership, spec meshSpec) string {
	if c := strings.ToLower(spec.DefaultChannel); c == "rapid" || c == "regular" || c == "stable" {
		return c
	}
	sc, _ := s.clusterOf(m.resourceLink)
	switch sc.ReleaseChannel {
	case "RAPID":
		return "rapid"
	case "STABLE":
		return "stable"
	}
	return "regular"
}

// RevisionFor is the revision Google names after a channel.
func RevisionFor(channel string) string {
	if channel == "regular" {
		return "asm-managed"
	}
	return "asm-managed-" + channel
}

// setSpec records a membership's spec and starts what it asks for.
// Called with s.mu held.
func (s *Server) setSpec(m *membership, spec meshSpec) {
	now := time.Now()
	m.spec = &spec
	m.specUpdated = now
	m.updated = now
	if spec.automatic() {
		channel := s.channelFor(m, spec)
		busy := m.mesh.cp == stateProvisioning || m.mesh.cp == stateActive || m.mesh.cp == stateFailedPrecondition
		if busy && m.mesh.channel == channel {
			return // already on its way
		}
		m.mesh.gen++
		m.mesh.channel = channel
		m.mesh.cp, m.mesh.dp, m.mesh.impl = stateProvisioning, stateProvisioning, ""
		m.mesh.cpDetails = []statusDetail{{"PROVISIONING", "Service is provisioning."}}
		m.mesh.dpDetails = []statusDetail{{"PROVISIONING", "Service is provisioning."}}
		m.mesh.conditions = nil
		m.mesh.code, m.mesh.desc, m.mesh.updated = "OK", "Provisioning the managed control plane.", now
		s.wg.Add(1)
		go s.provision(m, m.mesh.gen, channel)
		return
	}
	s.stopMesh(m)
}

// stopMesh deprovisions a membership's mesh: management not installed (or
// manual), the membership deleted or the feature disabled. Called with
// s.mu held.
func (s *Server) stopMesh(m *membership) {
	if m.mesh.cp == "" || (m.mesh.cp == stateDisabled && m.mesh.revision == "") {
		m.mesh.gen++
		return
	}
	m.mesh.gen++
	m.mesh.cp, m.mesh.dp, m.mesh.impl = stateDeprovisioning, stateDeprovisioning, ""
	m.mesh.cpDetails = []statusDetail{{"DEPROVISIONING", "Service is deprovisioning."}}
	m.mesh.dpDetails = nil
	m.mesh.conditions = nil
	m.mesh.code, m.mesh.desc, m.mesh.updated = "OK", "Removing the managed control plane.", time.Now()
	s.wg.Add(1)
	go s.deprovision(m, m.mesh.gen, m.mesh.revision)
}

// update changes a membership's mesh state unless a later spec change
// superseded the worker (gen). It reports whether it did.
func (s *Server) update(m *membership, gen int, fn func(*meshState)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.mesh.gen != gen {
		return false
	}
	fn(&m.mesh)
	m.mesh.updated = time.Now()
	return true
}

func (s *Server) current(m *membership, gen int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return m.mesh.gen == gen
}

// pause waits d unless the server closes; it reports whether the worker
// should go on.
func (s *Server) pause(m *membership, gen int, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
	}
	return s.current(m, gen)
}

// provision is the PROVISIONING → ACTIVE worker: it checks the cluster's
// prerequisites a third of the way in (failing, and re-checking every
// second, while one is missing), then has the agent install the revision.
func (s *Server) provision(m *membership, gen int, channel string) {
	defer s.wg.Done()
	knobs := s.Knobs()
	total := time.Duration(knobs.ProvisioningTime)
	if !s.pause(m, gen, total/3) {
		return
	}
	for {
		failWith := s.Knobs().FailWith
		conds := s.prerequisites(m, failWith)
		if failWith == stateStalled {
			s.update(m, gen, func(st *meshState) {
				st.cp, st.dp = stateStalled, stateStalled
				st.cpDetails = []statusDetail{{"STALLED", "Provisioning could not be completed (meshsim failWith=STALLED)."}}
				st.code, st.desc = "ERROR", "Provisioning stalled."
			})
		} else if len(conds) > 0 {
			s.update(m, gen, func(st *meshState) {
				st.cp, st.dp = stateFailedPrecondition, stateFailedPrecondition
				st.cpDetails = []statusDetail{{"PRECONDITION_FAILED", "Provisioning cannot proceed: " + conds[0].details}}
				st.dpDetails = nil
				st.conditions = conds
				st.code, st.desc = "ERROR", "Please see the conditions for details."
			})
		} else {
			break
		}
		if !s.pause(m, gen, time.Second) {
			return
		}
	}
	if !s.update(m, gen, func(st *meshState) {
		st.cp, st.dp = stateProvisioning, stateProvisioning
		st.cpDetails = []statusDetail{{"PROVISIONING", "Service is provisioning."}}
		st.dpDetails = []statusDetail{{"PROVISIONING", "Service is provisioning."}}
		st.conditions, st.code, st.desc = nil, "OK", "Provisioning the managed control plane."
	}) {
		return
	}
	if !s.pause(m, gen, total-total/3) {
		return
	}
	revision := RevisionFor(channel)
	s.mu.Lock()
	previous := m.mesh.revision
	s.mu.Unlock()
	if m.agent != nil {
		if previous != "" && previous != revision {
			if err := m.agent.Deprovision(s.ctx, previous); err != nil {
				s.logf("fleet agent: remove %s: %v", previous, err)
			}
		}
		if err := m.agent.Provision(s.ctx, channel, revision); err != nil {
			s.logf("fleet agent: provision %s: %v", revision, err)
			s.update(m, gen, func(st *meshState) {
				st.cp, st.dp = stateStalled, stateStalled
				st.cpDetails = []statusDetail{{"STALLED", "Provisioning could not be completed: " + err.Error()}}
				st.code, st.desc = "ERROR", "Provisioning stalled."
			})
			return
		}
	}
	s.update(m, gen, func(st *meshState) {
		st.revision = revision
		st.cp, st.impl = stateActive, "TRAFFIC_DIRECTOR"
		st.cpDetails = []statusDetail{{"REVISION_READY", "Ready: " + revision}}
		st.dp = stateActive
		st.dpDetails = []statusDetail{{"OK", "Service is running."}}
		st.conditions = []meshCondition{{code: "VPCSC_GA_SUPPORTED", details: "This control plane supports VPC-SC GA.",
			link: "http://cloud.google.com/service-mesh/docs/managed/vpc-sc", severity: "INFO"}}
		st.code, st.desc = "OK", "Revision ready for use: "+revision+"."
	})
}

// deprovision is the DEPROVISIONING → DISABLED worker.
func (s *Server) deprovision(m *membership, gen int, revision string) {
	defer s.wg.Done()
	if m.agent != nil && revision != "" {
		if err := m.agent.Deprovision(s.ctx, revision); err != nil {
			s.logf("fleet agent: remove %s: %v", revision, err)
		}
	}
	if !s.pause(m, gen, time.Duration(s.Knobs().ProvisioningTime)/3) {
		return
	}
	s.update(m, gen, func(st *meshState) {
		*st = meshState{gen: st.gen, cp: stateDisabled, dp: stateDisabled, code: "OK", desc: "Management is not installed."}
	})
}

// conditionText are the details and links the fleet gives with the
// prerequisite conditions meshsim reports.
var conditionText = map[string][2]string{
	"WORKLOAD_IDENTITY_REQUIRED": {"Workload Identity is not enabled on the cluster. Managed Cloud Service Mesh requires Workload Identity.",
		"https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity"},
	"NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED": {"Node pools %s do not use the GKE metadata server (workload metadata mode GKE_METADATA).",
		"https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity#enable-existing-cluster"},
	"CLUSTER_HAS_ZERO_NODES": {"The cluster has no nodes.", "https://cloud.google.com/service-mesh/docs/managed/provision-managed-anthos-service-mesh"},
	"MESH_IAM_PERMISSION_DENIED": {"The Service Mesh service agent does not have the required permissions in the fleet project.",
		"https://cloud.google.com/service-mesh/docs/troubleshooting/troubleshoot-managed-service-mesh"},
}

// prerequisites returns the conditions that block provisioning for the
// cluster as it is now (and failWith, when set).
func (s *Server) prerequisites(m *membership, failWith string) []meshCondition {
	var out []meshCondition
	add := func(code string, args ...any) {
		t, ok := conditionText[code]
		if !ok {
			t = [2]string{"Simulated by meshsim (failWith " + code + ").", ""}
		}
		details := t[0]
		if len(args) > 0 {
			details = fmt.Sprintf(details, args...)
		}
		out = append(out, meshCondition{code: code, details: details, link: t[1], severity: "ERROR"})
	}
	if failWith != "" && failWith != stateStalled {
		add(failWith)
	}
	sc, ok := s.clusterOf(m.resourceLink)
	if !ok {
		return out
	}
	if !sc.Autopilot {
		if !sc.WorkloadIdentity {
			add("WORKLOAD_IDENTITY_REQUIRED")
		} else {
			var pools []string
			for _, p := range sc.NodePools {
				if p.WorkloadMetadata != "GKE_METADATA" {
					pools = append(pools, p.Name)
				}
			}
			if len(pools) > 0 {
				add("NODEPOOL_WORKLOAD_IDENTITY_FEDERATION_REQUIRED", strings.Join(pools, ", "))
			}
		}
		if len(sc.Nodes()) == 0 {
			add("CLUSTER_HAS_ZERO_NODES")
		}
	}
	return out
}

// WaitIdle waits until no provisioning or deprovisioning is in flight, for
// tests.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		busy := false
		for _, m := range s.memberships {
			if m.mesh.cp == stateProvisioning || m.mesh.cp == stateDeprovisioning {
				busy = true
			}
		}
		s.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
