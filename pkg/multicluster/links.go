package multicluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// linkPlan is everything connect would change, read from the clusters:
// the network (firewall rule, control-plane access), then per cluster
// the reader's token, the remote secrets of the others (N×(N−1) in all),
// the trust domain aliases, or for managed control planes their
// discovery switch, and the shared CA when asked for.
type linkPlan struct {
	ms      []*member
	fw      firewallState
	access  []accessNeed
	managed bool
	creds   []credentials
	secrets []secretLink
	aliases []aliasLink
	ca      *caPlan
	// gateways are a multi-network mesh's east-west gateways, one per
	// cluster; they replace the pod-to-pod firewall rule.
	gateways []gatewayLink
	// stale are other tools' remote secrets for the clusters (MC0315).
	stale []findings.Finding
	// probe says the verification deploys its probe in each cluster.
	probe bool
}

type secretLink struct {
	local, remote *member
	have          *corev1.Secret
	change        plan.Change
}

type aliasLink struct {
	m      *member
	config string
	add    []string
	change plan.Change
}

func planLinks(ctx context.Context, c Clients, ms []*member, o Options) (*linkPlan, error) {
	lp := &linkPlan{ms: ms, managed: ms[0].managed()}
	project, network := gkecluster.Network(ms[0].gke, ms[0].Project)
	rules, err := c.Firewalls.ListFirewalls(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("list the firewall rules of project %s: %w", project, err)
	}
	lp.fw = readFirewall(ms, project, network, rules)
	lp.access = readAccess(ms)
	if lp.managed {
		if o.MultiNetwork.Enabled {
			return nil, failure.Usagef("--multi-network is for in-cluster control planes: meshctl does not build east-west gateways for a managed control plane")
		}
		return lp, nil
	}
	if o.MultiNetwork.Enabled {
		if lp.gateways, err = planGateways(ctx, c, ms, o.MultiNetwork); err != nil {
			return nil, err
		}
	}
	lp.creds = make([]credentials, len(ms))
	if err := forEach(ms, func(i int, m *member) error {
		cred, err := readCredentials(ctx, m.kube)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", m.Name, err)
		}
		lp.creds[i] = cred
		return nil
	}); err != nil {
		return nil, err
	}
	for _, local := range ms {
		for j, remote := range ms {
			if local != remote {
				lp.secrets = append(lp.secrets, lp.secretLink(local, remote, lp.creds[j]))
			}
		}
		for _, p := range local.planes {
			ch, add := aliasChange(local, p, ms)
			lp.aliases = append(lp.aliases, aliasLink{m: local, config: p.MeshConfig, add: add, change: ch})
		}
		lp.stale = append(lp.stale, staleSecrets(local, ms)...)
	}
	if o.CA.Shared {
		if lp.ca, err = planCA(ctx, ms, o.CA, o.DryRun); err != nil {
			return nil, err
		}
	}
	return lp, nil
}

// secretLink plans local's remote secret for remote. Without the remote's
// token yet, the secret can only be said to be created (or rewritten).
func (lp *linkPlan) secretLink(local, remote *member, cred credentials) secretLink {
	name := RemoteSecretPrefix + remote.clusterID
	var have *corev1.Secret
	for i := range local.secrets {
		if local.secrets[i].Name == name {
			have = &local.secrets[i]
		}
	}
	l := secretLink{local: local, remote: remote, have: have}
	if cred.known() {
		want, err := RemoteSecret(remote.clusterID, remote.server(), cred.ca, cred.token)
		if err == nil {
			l.change = secretChange(local, want, have)
			return l
		}
	}
	l.change = local.in(plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: name, Action: plan.Create, Note: "in " + local.Name}, resSecrets)
	if have != nil {
		l.change.Action = plan.Update
	}
	return l
}

// staleSecrets are remote secrets of other names that reach one of the
// clusters (asmcli create-mesh's gke-… names, say): istiod registers that
// cluster twice.
func staleSecrets(local *member, ms []*member) []findings.Finding {
	var out []findings.Finding
	for _, s := range local.secrets {
		for _, r := range ms {
			if r == local || s.Name == RemoteSecretPrefix+r.clusterID || !reaches(s, r) {
				continue
			}
			out = append(out, findings.RemoteSecretStale.New("Secret "+mesh.IstioSystem+"/"+s.Name+" in cluster "+local.Name,
				fmt.Sprintf("it reaches cluster %s under another name than its installed one (%s): istiod registers the cluster twice", r.Name, r.clusterID),
				fmt.Sprintf("kubectl --context %s -n %s delete secret %s (meshctl mesh connect makes %s%s)", local.Context, mesh.IstioSystem, s.Name, RemoteSecretPrefix, r.clusterID)))
		}
	}
	return out
}

// reaches reports whether a remote secret's kubeconfig names one of r's
// endpoints.
func reaches(s corev1.Secret, r *member) bool {
	return slices.ContainsFunc(mesh.RemoteSecretServers([]corev1.Secret{s}), func(host string) bool { return gkecluster.IsEndpoint(r.gke, host) })
}

// networkPending reports whether GKE or the firewall must change.
func (lp *linkPlan) networkPending() bool {
	if lp.gateways != nil {
		return len(lp.access) > 0 || slices.ContainsFunc(lp.gateways, func(g gatewayLink) bool { return g.fw.change().Action.Changes() })
	}
	return len(lp.access) > 0 || lp.fw.change().Action.Changes()
}

// findings are what the plan finds missing that connect makes: the
// network's (fixable with --fix), the managed discovery switch, the CA's.
func (lp *linkPlan) findings() []findings.Finding {
	var out []findings.Finding
	if lp.gateways == nil {
		out = lp.fw.finding()
	}
	for _, n := range lp.access {
		out = append(out, n.findings()...)
	}
	if lp.managed {
		for _, m := range lp.ms {
			if !m.discoveryOn() {
				out = append(out, discoveryFinding(m))
			}
		}
	}
	out = append(out, lp.stale...)
	if lp.ca != nil {
		out = append(out, lp.ca.findings...)
	}
	return out
}

// changes is the plan, network first.
func (lp *linkPlan) changes() []plan.Change {
	out := []plan.Change{lp.fw.change()}
	if lp.gateways != nil {
		out = nil
		for _, g := range lp.gateways {
			out = append(out, g.fw.change())
		}
	}
	for _, n := range lp.access {
		out = append(out, n.change())
	}
	if lp.managed {
		for _, m := range lp.ms {
			out = append(out, discoveryChange(m))
		}
		return out
	}
	if lp.ca != nil {
		out = append(out, lp.ca.changes()...)
	}
	for _, g := range lp.gateways {
		for _, ch := range g.gw.Changes {
			ch.Note = strings.TrimSpace("in " + g.m.Name + " " + ch.Note)
			ch.Cluster = g.m.Context
			out = append(out, ch)
		}
	}
	for i, m := range lp.ms {
		out = append(out, credentialChanges(m, lp.creds[i], lp.callers(m))...)
	}
	for _, s := range lp.secrets {
		out = append(out, s.change)
	}
	for _, a := range lp.aliases {
		out = append(out, a.change)
	}
	if lp.probe {
		for _, m := range lp.ms {
			out = append(out, probeChanges(m)...)
		}
	}
	return out
}

// callers are the installed names of the clusters that read m.
func (lp *linkPlan) callers(m *member) []string {
	var out []string
	for _, o := range lp.ms {
		if o != m {
			out = append(out, o.clusterID)
		}
	}
	return out
}

// added lists, exactly, the GKE and firewall changes: a user reviews these.
func (lp *linkPlan) added() []string {
	var out []string
	if c := lp.fw.change(); c.Action.Changes() && lp.gateways == nil {
		out = append(out, fmt.Sprintf("firewall rule %s (%s): %s", c.Name, c.Action, lp.fw.describe()))
	}
	for _, g := range lp.gateways {
		if c := g.fw.change(); c.Action.Changes() {
			out = append(out, fmt.Sprintf("firewall rule %s (%s) for the east-west gateway of %s: %s", c.Name, c.Action, g.m.Name, g.fw.describe()))
		}
	}
	for _, n := range lp.access {
		for _, a := range n.added() {
			out = append(out, "cluster "+n.target.Name+": "+a)
		}
	}
	return out
}

// describe is meshctl's rule in a line.
func (st firewallState) describe() string {
	if st.want == nil {
		return ""
	}
	return fmt.Sprintf("allow %s from %s to tags %s, priority %d, network %s/%s", strings.Join(podProtocols, ","),
		strings.Join(st.want.GetSourceRanges(), ","), strings.Join(st.want.GetTargetTags(), ","), podRulePriority, st.project, st.network)
}
