package multicluster

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/plan"
)

// CAOptions give the clusters one root of trust (connect --ca shared).
type CAOptions struct {
	meshca.Options
	// Shared turns it on.
	Shared bool
	// RestartTimeout bounds istiod's restart onto the new CA.
	RestartTimeout time.Duration
}

// CAReport is what the shared root is and what each cluster holds of it.
type CAReport struct {
	// Root is the root certificate's file; RootCreated says this run made it.
	Root        string `json:"root"`
	RootCreated bool   `json:"rootCreated,omitempty"`
	Subject     string `json:"subject"`
	NotAfter    string `json:"notAfter"`
	// SHA256 is the root certificate's fingerprint.
	SHA256   string      `json:"sha256"`
	Clusters []CACluster `json:"clusters"`
}

// CACluster is one cluster's intermediate CA.
type CACluster struct {
	Cluster string      `json:"cluster"`
	Action  plan.Action `json:"action"`
	// Files is where its bundle was written (keys 0600), when issued now.
	Files string `json:"files,omitempty"`
	// Verified is true once every namespace's istio-ca-root-cert and
	// istiod's serving chain lead to the shared root.
	Verified bool `json:"verified"`
}

type caPlan struct {
	opts     CAOptions
	root     *meshca.Root // nil in a dry run that would create it
	clusters []caCluster
	findings []findings.Finding
}

type caCluster struct {
	m      *member
	secret *corev1.Secret
	action plan.Action
}

// planCA reads the root (creating it unless dryRun) and each cluster's
// cacerts Secret.
func planCA(ctx context.Context, ms []*member, o CAOptions, dryRun bool) (*caPlan, error) {
	p := &caPlan{opts: o}
	exists := o.RootCert != "" || fileExists(filepath.Join(o.Dir, meshca.RootCertFile))
	if exists || !dryRun {
		root, err := meshca.LoadOrCreateRoot(o.Options)
		if err != nil {
			return nil, fmt.Errorf("the shared root CA: %w", err)
		}
		p.root = root
	}
	for _, m := range ms {
		s, err := meshca.ReadSecret(ctx, m.kube)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", m.Name, err)
		}
		c := caCluster{m: m, secret: s, action: plan.Create}
		if s != nil {
			c.action = plan.Keep
			if p.root == nil {
				c.action = plan.Skip
			} else if err := meshca.CheckBundle(s, p.root.Cert); err != nil {
				p.findings = append(p.findings, caFinding(m, err))
				c.action = plan.Skip
			} else if !hasRoot(m, p.root) {
				c.action = plan.Restart
			}
		}
		p.clusters = append(p.clusters, c)
	}
	return p, nil
}

func hasRoot(m *member, root *meshca.Root) bool {
	for _, r := range m.roots {
		if r.Equal(root.Cert) {
			return true
		}
	}
	return false
}

func caFinding(m *member, err error) findings.Finding {
	if errors.Is(err, meshca.ErrOtherRoot) {
		return findings.CACertsForeign.New(object(m), "istio-system/cacerts holds a CA of another root: meshctl does not replace a cluster's CA (its workloads' certificates would stop being trusted at once)",
			"rotate it by hand with a bundle whose root-cert.pem holds both roots, or delete the Secret and restart istiod if nothing depends on it")
	}
	return findings.CACertsInvalid.New(object(m), "istio-system/cacerts: "+err.Error(), "complete the Secret or delete it, then run meshctl mesh connect --ca shared again")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (p *caPlan) changes() []plan.Change {
	var out []plan.Change
	if p.root == nil || p.root.Created {
		out = append(out, plan.Change{Kind: "root CA", Name: filepath.Join(p.opts.Dir, meshca.RootCertFile), Action: plan.Create,
			Note: "kept on this machine only (key 0600)"})
	}
	for _, c := range p.clusters {
		ch := plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: meshca.SecretName, Action: c.action, Note: "in " + c.m.Name}
		switch c.action {
		case plan.Create:
			ch.Note += ": a new intermediate CA of the shared root, then istiod restarts onto it"
			ch = c.m.in(ch, resSecrets) // created whole
		case plan.Restart:
			// The Secret stays as it is: istiod's restart, below, is the change.
			ch.Action, ch.Note = plan.Keep, ch.Note+": chains to the shared root; istiod restarts to load it"
		case plan.Skip:
			ch.Note += ": another CA (see the findings)"
		}
		out = append(out, ch)
		if c.action == plan.Create || c.action == plan.Restart {
			for _, d := range deployments(c.m) {
				out = append(out, c.m.in(plan.Change{Kind: "Deployment", Namespace: mesh.IstioSystem, Name: d, Action: plan.Restart,
					Note: "in " + c.m.Name + ": loads the shared CA"}, resDeployments))
			}
		}
	}
	return out
}

// apply installs the intermediates and restarts the istiods that need it,
// cluster by cluster concurrently.
func (p *caPlan) apply(ctx context.Context, rep ui.Reporter, report *CAReport) error {
	now := p.opts.Now
	if now == nil {
		now = time.Now
	}
	return forEach(members(p.clusters), func(i int, m *member) error {
		c := p.clusters[i]
		if c.action != plan.Create && c.action != plan.Restart {
			return nil
		}
		step := rep.Step("shared CA in " + m.Name)
		if c.action == plan.Create {
			files, err := p.root.Provision(ctx, m.kube, p.opts.Dir, m.clusterID, p.opts.KeyType, now())
			report.Clusters[i].Files = files
			if err != nil {
				step.Fail(err)
				return fmt.Errorf("cluster %s: %w", m.Name, err)
			}
		}
		step.Progressf("restarting istiod")
		if err := meshca.RestartIstiod(ctx, m.kube, deployments(m), p.opts.RestartTimeout); err != nil {
			step.Fail(err)
			return fmt.Errorf("cluster %s: %w", m.Name, err)
		}
		step.Done()
		return nil
	})
}

func members(cs []caCluster) []*member {
	var out []*member
	for _, c := range cs {
		out = append(out, c.m)
	}
	return out
}

func deployments(m *member) []string {
	var out []string
	for _, p := range m.planes {
		if p.Deployment != "" {
			out = append(out, p.Deployment)
		}
	}
	return out
}

// verify checks every cluster: istiod published the shared root in every
// namespace, and serves a chain that leads to it.
func (p *caPlan) verify(ctx context.Context, c Clients, report *CAReport) []findings.Finding {
	var mu sync.Mutex
	var out []findings.Finding
	_ = forEach(members(p.clusters), func(i int, m *member) error {
		problems := p.verifyCluster(ctx, c, m)
		mu.Lock()
		defer mu.Unlock()
		report.Clusters[i].Verified = len(problems) == 0
		for _, pr := range problems {
			out = append(out, findings.ChainNotShared.New(object(m), pr, "meshctl mesh connect --ca shared restarts istiod onto the shared CA"))
		}
		return nil
	})
	findings.Sort(out)
	return out
}

// verifyCluster waits, within the restart timeout, until the cluster's
// roots and istiod's chain all lead to the shared root: istiod restarts,
// then writes the root in one namespace after another. It returns what
// still differs when the time is up.
func (p *caPlan) verifyCluster(ctx context.Context, c Clients, m *member) []string {
	if err := meshca.WaitRoot(ctx, m.kube, p.root.Cert, p.opts.RestartTimeout); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	err := meshca.Poll(ctx, p.opts.RestartTimeout, "every namespace and istiod to lead to the shared root", func() (bool, error) {
		problems = p.clusterProblems(ctx, c, m)
		return len(problems) == 0, nil
	})
	if err != nil && len(problems) == 0 {
		problems = []string{err.Error()}
	}
	return problems
}

// clusterProblems says what in the cluster does not lead to the shared
// root: namespaces' istio-ca-root-cert, istiod's serving chain.
func (p *caPlan) clusterProblems(ctx context.Context, c Clients, m *member) []string {
	var problems []string
	if bad, err := meshca.ForeignRoots(ctx, m.kube, p.root.Cert); err != nil {
		problems = append(problems, "read the namespaces' istio-ca-root-cert: "+err.Error())
	} else if len(bad) > 0 {
		problems = append(problems, "istio-ca-root-cert of namespaces "+strings.Join(bad, ", ")+" does not hold the shared root")
	}
	eps, err := c.Istiods.Istiods(ctx, m.Ref, m.revisions())
	if err != nil {
		return append(problems, "reach istiod: "+err.Error())
	}
	for _, e := range eps {
		name := "istiod-" + e.Revision + "." + mesh.IstioSystem + ".svc"
		if e.Revision == mesh.DefaultRevision {
			name = "istiod." + mesh.IstioSystem + ".svc"
		}
		chain, err := meshca.ServingChain(ctx, e.SecureXDS, name)
		if err == nil {
			err = meshca.VerifyChain(chain, p.root.Cert, name)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("istiod %s's serving chain on port 15012: %v", e.Revision, err))
		}
		if e.Close != nil {
			e.Close()
		}
	}
	return problems
}

func (p *caPlan) report() *CAReport {
	r := &CAReport{}
	if p.root != nil {
		sum := sha256.Sum256(p.root.Cert.Raw)
		r.Root, r.RootCreated = p.root.Source, p.root.Created
		r.Subject, r.NotAfter = p.root.Cert.Subject.String(), p.root.Cert.NotAfter.UTC().Format(time.RFC3339)
		r.SHA256 = fmt.Sprintf("%X", sum[:])
	} else {
		r.Root, r.RootCreated = filepath.Join(p.opts.Dir, meshca.RootCertFile), true
	}
	for _, c := range p.clusters {
		r.Clusters = append(r.Clusters, CACluster{Cluster: c.m.Name, Action: c.action})
	}
	return r
}
