// Package multicluster joins GKE clusters with the mesh installed into one
// mesh (`meshctl mesh connect`, `disconnect`) and checks and validates
// them as one (`meshctl check` and `meshctl validate` over several
// clusters). Connect reads every cluster concurrently, checks that they
// fit (one fleet, one network, one mesh release, unique names and Pod
// ranges, workload identity), plans what the mesh lacks (a VPC firewall
// rule between the clusters' Pods and nodes; for private clusters, master
// global access and the callers' Pod ranges in the authorized networks;
// the remote secrets, N×(N−1), and trust domain aliases; optionally a
// shared root CA), applies it, and proves it from each istiod's debug
// endpoints.
package multicluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// Options are what connect runs with.
type Options struct {
	Clusters []Ref
	// Fix lets connect make the GKE and firewall changes the network needs;
	// without it, it refuses and says what they are.
	Fix bool
	// DryRun stops after the plan.
	DryRun bool
	// NoVerify skips the probe and istiod's debug endpoints.
	NoVerify bool
	// VerifyTimeout bounds the wait for every istiod to hold every cluster.
	VerifyTimeout time.Duration
	CA            CAOptions
	FailOn        findings.Level
	// MultiNetwork builds a multi-network mesh: east-west gateways.
	MultiNetwork MultiNetworkOptions
	// Preflight checks the plan's permissions before the first change: the
	// Google ones in each project, the Kubernetes ones in each cluster.
	Preflight *preflight.Checker
}

// Result is what connect found, planned, did and proved.
type Result struct {
	Clusters []ClusterInfo      `json:"clusters"`
	Findings []findings.Finding `json:"findings"`
	Plan     []plan.Change      `json:"plan"`
	// Added are the GKE and firewall changes, exactly.
	Added []string `json:"added,omitempty"`
	// Refused says why nothing was changed.
	Refused string    `json:"refused,omitempty"`
	DryRun  bool      `json:"dryRun,omitempty"`
	Applied bool      `json:"applied"`
	Matrix  *Matrix   `json:"matrix,omitempty"`
	CA      *CAReport `json:"ca,omitempty"`
	// Gateways are the east-west gateways of a multi-network mesh.
	Gateways []GatewayView `json:"gateways,omitempty"`
	// Permissions are what the plan needs and what the check found.
	Permissions *preflight.Report `json:"permissions,omitempty"`
	Summary     findings.Summary  `json:"summary"`
	FailOn      findings.Level    `json:"failOn"`
	// Connected is true when every istiod was seen holding every cluster.
	Connected bool `json:"connected"`
}

// ClusterInfo is one cluster as connect saw it.
type ClusterInfo struct {
	Ref
	ClusterID string  `json:"clusterID,omitempty"`
	Endpoint  string  `json:"endpoint,omitempty"`
	PodRange  string  `json:"podRange,omitempty"`
	Planes    []plane `json:"controlPlanes,omitempty"`
}

// HasProblems reports whether the command must exit with code 3.
func (r *Result) HasProblems() bool {
	return r.Refused != "" || findings.Fails(r.Findings, r.FailOn) || (r.Matrix != nil && !r.Connected)
}

// fixable are the codes connect itself resolves: they do not stop it.
var fixable = []string{
	findings.PodFirewallMissing.Code, findings.GlobalAccessOff.Code, findings.AuthorizedNetworkGap.Code,
	findings.TrustDomainsDiffer.Code, findings.ManagedDiscoveryOff.Code,
}

// Connect joins the clusters into one mesh. It returns an error for what
// stops it half way (an API write that fails); what it finds is in the
// Result.
func Connect(ctx context.Context, c Clients, rep ui.Reporter, o Options) (*Result, error) {
	if len(o.Clusters) < 2 {
		return nil, failure.Usagef("connect needs at least two clusters, got %d", len(o.Clusters))
	}
	if o.FailOn == "" {
		o.FailOn = findings.Error
	}
	if o.VerifyTimeout == 0 {
		o.VerifyTimeout = 3 * time.Minute
	}
	if o.MultiNetwork.GatewayTimeout == 0 {
		o.MultiNetwork.GatewayTimeout = 3 * time.Minute
	}
	if o.CA.RestartTimeout == 0 {
		o.CA.RestartTimeout = 3 * time.Minute
	}
	step := rep.Step(fmt.Sprintf("reading %d clusters", len(o.Clusters)))
	ms := gather(ctx, c, o.Clusters)
	step.Done()
	res := &Result{FailOn: o.FailOn, DryRun: o.DryRun, Clusters: infos(ms)}
	defer res.summarize()
	res.Findings = prechecks(ms)
	if o.MultiNetwork.Enabled {
		if err := multiNetworkUsable(ms, o.MultiNetwork); err != nil {
			return nil, err
		}
		// Clusters in different VPCs are what a multi-network mesh is for.
		res.Findings = slices.DeleteFunc(res.Findings, func(f findings.Finding) bool { return f.Code == findings.NetworksDiffer.Code })
	}
	if blocking(res.Findings) {
		res.Refused = "the clusters cannot be connected as they are: see the errors above; nothing was changed"
		return res, nil
	}
	if o.CA.Shared && ms[0].managed() {
		return nil, failure.Usagef("--ca shared is for in-cluster control planes: a managed control plane signs with Mesh CA or CA Service")
	}
	lp, err := planLinks(ctx, c, ms, o)
	if err == nil && !o.NoVerify {
		lp.probe = !lp.managed
	}
	if err != nil {
		return nil, err
	}
	res.Plan, res.Added = lp.changes(), lp.added()
	res.Findings = append(res.Findings, lp.findings()...)
	if lp.ca != nil {
		res.CA = lp.ca.report()
	}
	switch {
	case blocking(res.Findings):
		res.Refused = "nothing was changed: see the errors above"
		return res, nil
	case lp.networkPending() && !o.Fix:
		res.Refused = "the network does not let the clusters' control planes and Pods reach each other; meshctl mesh connect --fix makes the changes listed, nothing was changed"
		return res, nil
	}
	res.Permissions = checkPermissions(ctx, o.Preflight, ms, append(slices.Clone(res.Plan), lp.reachChanges()...))
	if o.DryRun {
		return res, nil
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	if err := apply(ctx, c, rep, lp, res); err != nil {
		return res, err
	}
	res.Applied = true
	res.Findings = slices.DeleteFunc(res.Findings, func(f findings.Finding) bool { return slices.Contains(fixable, f.Code) })
	if lp.ca != nil {
		res.Findings = append(res.Findings, lp.ca.verify(ctx, c, res.CA)...)
	}
	if lp.gateways != nil && !o.NoVerify {
		views, fs, err := waitGateways(ctx, c, rep, lp.gateways, o.MultiNetwork.GatewayTimeout)
		res.Gateways = views
		res.Findings = append(res.Findings, fs...)
		if err != nil {
			return res, err
		}
	}
	if !o.NoVerify && !lp.managed {
		mx, fs, err := verify(ctx, c, rep, ms, verifyOptions{Timeout: o.VerifyTimeout, Poll: time.Second})
		if err != nil {
			return res, err
		}
		res.Matrix, res.Connected = mx, mx.Connected()
		res.Findings = append(res.Findings, fs...)
	}
	return res, nil
}

func (r *Result) summarize() {
	findings.Sort(r.Findings)
	if r.Findings == nil {
		r.Findings = []findings.Finding{}
	}
	r.Summary = findings.Summarize(r.Findings)
}

// blocking reports whether an error finding is one connect cannot fix.
func blocking(fs []findings.Finding) bool {
	return slices.ContainsFunc(fs, func(f findings.Finding) bool {
		return f.Level == findings.Error && !slices.Contains(fixable, f.Code)
	})
}

func infos(ms []*member) []ClusterInfo {
	var out []ClusterInfo
	for _, m := range ms {
		ci := ClusterInfo{Ref: m.Ref, ClusterID: m.clusterID, Planes: m.planes}
		if m.gke != nil {
			ci.Endpoint = m.server()
			if r, ok := m.podRange(); ok {
				ci.PodRange = r.String()
			}
		}
		out = append(out, ci)
	}
	return out
}

// apply makes the plan's changes: the network first (its GKE updates and
// the firewall rule side by side), then in every cluster at once the CA,
// the readers' tokens, the remote secrets and the aliases.
func apply(ctx context.Context, c Clients, rep ui.Reporter, lp *linkPlan, res *Result) error {
	if err := applyNetwork(ctx, c, rep, lp); err != nil {
		return err
	}
	if lp.managed {
		return forEach(lp.ms, func(_ int, m *member) error { return setDiscovery(ctx, m, true) })
	}
	if lp.gateways != nil {
		if err := applyGateways(ctx, c, rep, lp.gateways); err != nil {
			return err
		}
	}
	if lp.ca != nil {
		if err := lp.ca.apply(ctx, rep, res.CA); err != nil {
			return err
		}
	}
	step := rep.Step(fmt.Sprintf("remote secrets: %d clusters, %d secrets", len(lp.ms), len(lp.secrets)))
	if err := applySecrets(ctx, lp); err != nil {
		step.Fail(err)
		return err
	}
	step.Done()
	for _, a := range lp.aliases {
		if len(a.add) > 0 {
			if err := setAliases(ctx, a.m, a.config, a.add, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyNetwork(ctx context.Context, c Clients, rep ui.Reporter, lp *linkPlan) error {
	tasks := []func() error{}
	if ch := lp.fw.change(); ch.Action.Changes() && lp.gateways == nil {
		tasks = append(tasks, func() error {
			step := rep.Step(fmt.Sprintf("%s firewall rule %s", ch.Action, ch.Name))
			var err error
			if ch.Action == plan.Create {
				err = c.Firewalls.InsertFirewall(ctx, lp.fw.project, lp.fw.want)
			} else {
				err = c.Firewalls.UpdateFirewall(ctx, lp.fw.project, lp.fw.want)
			}
			return done(step, err, "firewall rule "+ch.Name)
		})
	}
	for _, n := range lp.access {
		tasks = append(tasks, func() error {
			step := rep.Step("update cluster " + n.target.Name + ": " + n.change().Note)
			return done(step, c.GKE.UpdateCluster(ctx, n.target.ResourceName(), n.update()), "update cluster "+n.target.Name)
		})
	}
	return runAll(tasks)
}

func done(step ui.Step, err error, what string) error {
	if err != nil {
		err = fmt.Errorf("%s: %w", what, err)
		step.Fail(err)
		return err
	}
	step.Done()
	return nil
}

// applySecrets gets every cluster's reader token, then writes every
// cluster's remote secrets for the others.
func applySecrets(ctx context.Context, lp *linkPlan) error {
	if err := forEach(lp.ms, func(i int, m *member) error {
		cred, err := ensureCredentials(ctx, m, lp.creds[i], lp.callers(m))
		lp.creds[i] = cred
		return err
	}); err != nil {
		return err
	}
	index := map[*member]int{}
	for i, m := range lp.ms {
		index[m] = i
	}
	return forEach(lp.ms, func(_ int, local *member) error {
		for _, s := range lp.secrets {
			if s.local != local {
				continue
			}
			cred := lp.creds[index[s.remote]]
			want, err := RemoteSecret(s.remote.clusterID, s.remote.server(), cred.ca, cred.token)
			if err != nil {
				return err
			}
			if s.have != nil && len(secretDiff(s.have, want)) == 0 {
				continue
			}
			if err := writeSecret(ctx, local.kube, want, s.have); err != nil {
				return fmt.Errorf("cluster %s: write Secret %s/%s: %w", local.Name, want.Namespace, want.Name, err)
			}
		}
		return nil
	})
}
