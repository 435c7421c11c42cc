package install

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/plan"
)

// SharedCA is what `install --ca shared` did for the cluster: the root it
// chains to and the cacerts Secret asmcli's istiod starts with.
type SharedCA struct {
	// Root is the root certificate's file; RootCreated says this run made
	// it (in a dry run: would make it).
	Root        string `json:"root"`
	RootCreated bool   `json:"rootCreated,omitempty"`
	// SHA256 is the root certificate's fingerprint (unknown in a dry run
	// that would create it).
	SHA256 string `json:"sha256,omitempty"`
	// Cluster names the intermediate CA (its subject's L), as asmcli names
	// the installed cluster.
	Cluster string `json:"cluster"`
	// Secret is istio-system/cacerts: create, or keep when it already
	// chains to the root (a re-run).
	Secret plan.Action `json:"secret"`
	// Files is where the intermediate's bundle was written (keys 0600).
	Files string `json:"files,omitempty"`
}

// installedName is the cluster's name in the mesh as asmcli installs it
// (cn-PROJECT-LOCATION-CLUSTER), from the names or the kube context.
func (o Options) installedName() string {
	p, l, c := o.Project, o.Location, o.Cluster
	if o.Kubeconfig != "" {
		// Validate checked for a context; asmcli reads gke_P_L_C from it.
		if parts := strings.SplitN(o.Context, "_", 4); len(parts) == 4 && parts[0] == "gke" {
			p, l, c = parts[1], parts[2], parts[3]
		}
	}
	return "cn-" + p + "-" + l + "-" + c
}

func (o Options) validateSharedCA() []string {
	var problems []string
	s := o.SharedCA
	if o.CA != "shared" {
		if s.RootKey != "" || s.Dir != "" {
			problems = append(problems, "--root-key and --ca-dir go with --ca shared")
		}
		return problems
	}
	if o.CACert != "" || o.CAKey != "" || o.CertChain != "" || o.RootCert != "" {
		problems = append(problems, "--ca shared issues the cluster's intermediate CA itself: --ca-cert, --ca-key and --cert-chain are for --ca citadel (give your own root with --root-cert and --root-key)")
	}
	if (s.RootCert == "") != (s.RootKey == "") {
		problems = append(problems, "--root-cert and --root-key go together")
	}
	if s.Dir == "" {
		problems = append(problems, "--ca shared needs a directory for the root CA and the cluster's intermediate (--ca-dir)")
	}
	for _, f := range []string{s.RootCert, s.RootKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			problems = append(problems, fmt.Sprintf("file %s: %v", f, err))
		}
	}
	return problems
}

// planSharedCA says, without touching the cluster or writing anything,
// what a dry run of --ca shared would do with the root.
func (o Options) planSharedCA() *SharedCA {
	s := o.SharedCA
	res := &SharedCA{Root: s.RootCert, Cluster: o.installedName(), Secret: plan.Create}
	if s.RootCert == "" {
		res.Root = filepath.Join(s.Dir, meshca.RootCertFile)
		if _, err := os.Stat(res.Root); err != nil {
			res.RootCreated = true
		}
	}
	return res
}

// installSharedCA makes sure istio-system holds a cacerts Secret that
// chains to the shared root before asmcli runs, so the istiod it installs
// starts signing with it: istiod loads plug-in certificates only at start.
// The Secret is created here, not by asmcli's --ca_cert flags: asmcli
// refuses those when cacerts exists, which would break a re-run.
func (in Installer) installSharedCA(ctx context.Context, o Options) (*SharedCA, error) {
	step := in.Reporter.Step("shared CA: istio-system/cacerts")
	res, err := in.ensureSharedCA(ctx, o)
	if err != nil {
		step.Fail(err)
		return res, err
	}
	step.Progressf("%s intermediate CA of %s, root %s", res.Secret, res.Cluster, res.Root)
	step.Done()
	return res, nil
}

func (in Installer) ensureSharedCA(ctx context.Context, o Options) (*SharedCA, error) {
	root, err := meshca.LoadOrCreateRoot(o.SharedCA)
	if err != nil {
		return nil, failure.WithHint(fmt.Errorf("the shared root CA: %w", err), "pass --ca-dir DIR (a root is generated there) or your root's --root-cert and --root-key")
	}
	sum := sha256.Sum256(root.Cert.Raw)
	res := &SharedCA{Root: root.Source, RootCreated: root.Created, SHA256: fmt.Sprintf("%X", sum[:]), Cluster: o.installedName()}
	s, err := meshca.ReadSecret(ctx, in.Kube)
	if err != nil {
		return res, err
	}
	if s != nil {
		if err := meshca.CheckBundle(s, root.Cert); errors.Is(err, meshca.ErrOtherRoot) {
			return res, failure.WithHint(fmt.Errorf("istio-system/cacerts holds a CA of another root: meshctl does not replace a cluster's CA (its workloads' certificates would stop being trusted at once)"),
				"install with that CA's root (--root-cert, --root-key), or delete the Secret if nothing depends on it")
		} else if err != nil {
			return res, failure.WithHint(fmt.Errorf("istio-system/cacerts: %w", err), "complete the Secret or delete it, then run meshctl install --ca shared again")
		}
		res.Secret = plan.Keep
		return res, nil
	}
	now := o.SharedCA.Now
	if now == nil {
		now = time.Now
	}
	res.Files, err = root.Provision(ctx, in.Kube, o.SharedCA.Dir, res.Cluster, o.SharedCA.KeyType, now())
	if err != nil {
		return res, err
	}
	res.Secret = plan.Create
	return res, nil
}

// runningIstiods are the istiod Deployments already in istio-system: they
// started before the cacerts Secret and keep their old CA until restarted.
func (in Installer) runningIstiods(ctx context.Context, except string) []string {
	list, err := in.Kube.AppsV1().Deployments(mesh.IstioSystem).List(ctx, metav1.ListOptions{LabelSelector: "app=" + mesh.IstiodApp})
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range list.Items {
		if d.Labels[mesh.LabelRevision] != except {
			out = append(out, d.Name)
		}
	}
	return out
}
