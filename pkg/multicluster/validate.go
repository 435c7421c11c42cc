package multicluster

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/validate"
)

// GroupAcross holds the findings that are about how the clusters link.
const GroupAcross = "across clusters"

// ValidateOptions are `meshctl validate` over several clusters.
type ValidateOptions struct {
	Clusters []Ref
	// Validate applies to each cluster.
	Validate validate.Options
	// ClientsFor builds one cluster's validate clients; release frees them.
	ClientsFor func(ctx context.Context, r Ref) (c validate.Clients, release func(), err error)
}

// Validate runs `meshctl validate` in every cluster at once and adds the
// cross-cluster checks: each cluster's remote secret for each other one,
// current; each istiod syncing each other cluster; the remote control
// planes reachable as GKE is set; the Pods' firewall rule; one root of
// trust. One report, the clusters' groups named after them.
func Validate(ctx context.Context, c Clients, o ValidateOptions) (*validate.Result, error) {
	start := time.Now()
	if o.Validate.FailOn == "" {
		o.Validate.FailOn = findings.Error
	}
	results := make([]*validate.Result, len(o.Clusters))
	var ms []*member
	err := runAll([]func() error{
		func() error {
			return forEach(make([]*member, len(o.Clusters)), func(i int, _ *member) error {
				vc, release, err := o.ClientsFor(ctx, o.Clusters[i])
				if err != nil {
					return fmt.Errorf("cluster %s: %w", o.Clusters[i].Name, err)
				}
				defer release()
				results[i], err = validate.Run(ctx, vc, o.Validate)
				return err
			})
		},
		func() error { ms = gather(ctx, c, o.Clusters); return nil },
	})
	if err != nil {
		return nil, err
	}
	var cases []validate.Case
	for i, r := range results {
		for _, cs := range r.Cases {
			cs.Group = o.Clusters[i].Name + " · " + cs.Group
			for j := range cs.Findings {
				cs.Findings[j].Object = "cluster " + o.Clusters[i].Name + ": " + cs.Findings[j].Object
			}
			cases = append(cases, cs)
		}
	}
	cases = append(cases, acrossCases(ctx, c, ms)...)
	return assemble(cases, o.Validate.FailOn, time.Since(start)), nil
}

func assemble(cases []validate.Case, failOn findings.Level, d time.Duration) *validate.Result {
	r := &validate.Result{Cases: cases, FailOn: failOn, Duration: d, Findings: []findings.Finding{}}
	for _, c := range cases {
		r.Findings = append(r.Findings, c.Findings...)
	}
	findings.Sort(r.Findings)
	r.Summary = findings.Summarize(r.Findings)
	return r
}

const podFirewallCheck = "firewall between Pods and nodes"

// acrossCases are the cross-cluster checks, a case per check and pair.
func acrossCases(ctx context.Context, c Clients, ms []*member) []validate.Case {
	var out []validate.Case
	usable := slices.DeleteFunc(slices.Clone(ms), func(m *member) bool { return !m.usable() || len(m.planes) == 0 })
	for _, m := range ms {
		if len(m.failures) > 0 {
			out = append(out, validate.Case{Group: GroupAcross, Check: "cluster read", Object: "cluster " + m.Name, Findings: m.failures})
		}
	}
	if len(usable) < 2 {
		return out
	}
	var gw []validate.Case
	multi := false
	if !usable[0].managed() {
		gw, multi = gatewayCases(ctx, c, usable)
	}
	nc := networkCases(ctx, c, usable)
	if multi {
		// Pods of different networks reach each other through the
		// gateways, not directly: the pod-to-pod rule is not wanted.
		nc = slices.DeleteFunc(nc, func(cs validate.Case) bool { return cs.Check == podFirewallCheck })
	}
	out = append(out, nc...)
	out = append(out, gw...)
	if !usable[0].managed() {
		out = append(out, secretCases(usable)...)
		out = append(out, syncCases(ctx, c, usable)...)
		out = append(out, rootCase(usable))
	}
	return out
}

func pairs(ms []*member, fn func(local, remote *member)) {
	for _, l := range ms {
		for _, r := range ms {
			if l != r {
				fn(l, r)
			}
		}
	}
}

func pairObject(local, remote *member) string { return "cluster " + local.Name + " → " + remote.Name }

// networkCases: the firewall rule, and each remote control plane reachable
// as GKE is set (the remote's own findings, filed under each caller).
func networkCases(ctx context.Context, c Clients, ms []*member) []validate.Case {
	project, network := gkecluster.Network(ms[0].gke, ms[0].Project)
	fw := validate.Case{Group: GroupAcross, Check: podFirewallCheck, Object: "network " + project + "/" + network}
	if rules, err := c.Firewalls.ListFirewalls(ctx, project); err != nil {
		fw.Findings = []findings.Finding{findings.APIUnavailable.New(fw.Object, "Compute firewalls.list "+project+": "+err.Error(), "")}
	} else {
		fw.Findings = readFirewall(ms, project, network, rules).finding()
	}
	out := []validate.Case{fw}
	needs := readAccess(ms)
	pairs(ms, func(l, r *member) {
		cs := validate.Case{Group: GroupAcross, Check: "control plane reachable", Object: pairObject(l, r)}
		for _, n := range needs {
			if n.target != r {
				continue
			}
			for _, f := range n.findings() {
				if strings.Contains(f.Message, l.Name) {
					cs.Findings = append(cs.Findings, f)
				}
			}
		}
		out = append(out, cs)
	})
	return out
}

// secretCases: each cluster holds a remote secret for each other one,
// under its installed name, naming its endpoint and its CA.
func secretCases(ms []*member) []validate.Case {
	var out []validate.Case
	pairs(ms, func(l, r *member) {
		cs := validate.Case{Group: GroupAcross, Check: "remote secret", Object: pairObject(l, r)}
		data, name := remoteKubeconfig(l, r.clusterID)
		switch {
		case data == nil:
			cs.Findings = append(cs.Findings, findings.RemoteSecretMissing.New(cs.Object,
				fmt.Sprintf("no remote secret in %s's istio-system carries cluster %s: its istiods do not see %s's endpoints", l.Name, r.clusterID, r.Name),
				"meshctl mesh connect "+l.String()+" "+r.String()))
		default:
			if problem := staleKubeconfig(data, r); problem != "" {
				cs.Findings = append(cs.Findings, findings.RemoteSecretStale.New(cs.Object, "Secret istio-system/"+name+": "+problem, "meshctl mesh connect rewrites it"))
			}
		}
		out = append(out, cs)
	})
	return out
}

// remoteKubeconfig finds the kubeconfig istiod reads for cluster id in l.
func remoteKubeconfig(l *member, id string) ([]byte, string) {
	for _, s := range l.secrets {
		if d, ok := s.Data[id]; ok {
			return d, s.Name
		}
	}
	return nil, ""
}

// staleKubeconfig says what in a remote secret's kubeconfig does not match
// the cluster: its server (the private endpoint), its CA.
func staleKubeconfig(data []byte, r *member) string {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return "its kubeconfig does not parse: " + err.Error()
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		return "its kubeconfig has no current context"
	}
	cl := cfg.Clusters[ctx.Cluster]
	if cl.Server != r.server() {
		return fmt.Sprintf("server %s, but %s's control plane is at %s", cl.Server, r.Name, r.server())
	}
	if ca := r.gke.GetMasterAuth().GetClusterCaCertificate(); ca != "" && !sameCA(cl.CertificateAuthorityData, ca) {
		return "its CA is not " + r.Name + "'s cluster CA"
	}
	return ""
}

// syncCases: what each istiod says of each other cluster.
func syncCases(ctx context.Context, c Clients, ms []*member) []validate.Case {
	var mu sync.Mutex
	var out []validate.Case
	_ = forEach(ms, func(_ int, l *member) error {
		eps, err := c.Istiods.Istiods(ctx, l.Ref, l.revisions())
		var cases []validate.Case
		for _, r := range ms {
			if r == l {
				continue
			}
			cs := validate.Case{Group: GroupAcross, Check: "istiod syncs the remote cluster", Object: pairObject(l, r)}
			if err != nil {
				cs.Findings = append(cs.Findings, findings.APIUnavailable.New(cs.Object, "reach istiod of "+l.Name+": "+err.Error(), ""))
			}
			for _, e := range eps {
				sync, err := Clusterz(ctx, e.DebugURL)
				switch {
				case err != nil:
					cs.Findings = append(cs.Findings, findings.APIUnavailable.New(cs.Object, "istiod "+e.Revision+" /debug/clusterz: "+err.Error(), ""))
				case sync[r.clusterID] != "synced":
					st := sync[r.clusterID]
					if st == "" {
						st = "absent"
					}
					cs.Findings = append(cs.Findings, findings.RemoteNotSynced.New(cs.Object,
						fmt.Sprintf("istiod %s of %s shows cluster %s %s in /debug/clusterz", e.Revision, l.Name, r.clusterID, st),
						"see the remote secret and control plane checks of this pair"))
				}
			}
			cases = append(cases, cs)
		}
		for _, e := range eps {
			if e.Close != nil {
				e.Close()
			}
		}
		mu.Lock()
		out = append(out, cases...)
		mu.Unlock()
		return nil
	})
	slices.SortFunc(out, func(a, b validate.Case) int { return strings.Compare(a.Object, b.Object) })
	return out
}

// rootCase: workloads of two clusters trust each other only through a
// common root in their istio-ca-root-cert.
func rootCase(ms []*member) validate.Case {
	cs := validate.Case{Group: GroupAcross, Check: "one root of trust", Object: "clusters " + names(ms)}
	for i, a := range ms {
		for _, b := range ms[i+1:] {
			if len(a.roots) == 0 || len(b.roots) == 0 {
				continue
			}
			if !slices.ContainsFunc(a.roots, func(x *x509.Certificate) bool { return slices.ContainsFunc(b.roots, x.Equal) }) {
				cs.Findings = append(cs.Findings, findings.RootsDiffer.New("clusters "+a.Name+", "+b.Name,
					fmt.Sprintf("istio-ca-root-cert of %s (%s) and of %s (%s) share no root: their workloads do not trust each other's certificates",
						a.Name, a.roots[0].Subject, b.Name, b.roots[0].Subject),
					"meshctl mesh connect --ca shared gives them one root"))
			}
		}
	}
	return cs
}

// sameCA reports whether a kubeconfig's CA data is the cluster CA GKE
// reports (base64 PEM).
func sameCA(data []byte, gkeCA string) bool {
	pemData, err := base64.StdEncoding.DecodeString(gkeCA)
	if err != nil {
		return true // not something to compare with
	}
	b, err := meshca.ParseCertificates(pemData)
	if err != nil || len(b) == 0 {
		return true
	}
	a, err := meshca.ParseCertificates(data)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(a, func(x *x509.Certificate) bool { return slices.ContainsFunc(b, x.Equal) })
}
