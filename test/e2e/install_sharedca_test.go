//go:build e2e

package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const sharedCARevision = "asm-shared-ca"

// TestInstallSharedCA: install --ca shared puts the cacerts Secret in
// istio-system before asmcli, so the istiod asmcli starts signs with an
// intermediate of a root that stays on this machine: checked here with
// crypto/x509 in a new namespace's istio-ca-root-cert and in the chain
// istiod serves on 15012; the files are 0600, the root key is not in the
// cluster, the intermediate has pathlen 0 and the cluster in its subject,
// a re-run keeps the Secret, and a second install with another root stops
// before asmcli runs.
//
// It runs on a simulator of its own: on the shared one, other revisions'
// istiods, with roots of their own, rewrite every namespace's
// istio-ca-root-cert too.
func TestInstallSharedCA(t *testing.T) {
	env := ownSim(t)
	dir := filepath.Join(t.TempDir(), "ca")
	args := []string{"--enable-all", "--revision", sharedCARevision, "--output-dir", t.TempDir(), "--ca", "shared", "--ca-dir", dir, "--ca-key-type", "ecdsa"}
	start := time.Now()
	res, r := meshctlInstallEnv(t, env, args...)
	if r.Code != 0 {
		t.Fatalf("meshctl install --ca shared: exit %d\n%s", r.Code, r.Stderr)
	}
	t.Logf("install --ca shared: %.1fs", time.Since(start).Seconds())
	if res.CA == nil || res.CA.Secret != "create" || !res.CA.RootCreated || !slices.Contains(res.Command, "citadel") {
		t.Errorf("result: CA %+v, command %v", res.CA, res.Command)
	}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	root := parseCerts(t, rootPEM)[0]
	roots := x509.NewCertPool()
	roots.AddCert(root)
	rootKey, err := os.ReadFile(filepath.Join(dir, "root-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Stderr+r.Stdout, "PRIVATE KEY") {
		t.Error("a private key reached meshctl's output")
	}

	var cacerts secretJSON
	if err := json.Unmarshal([]byte(kubectlWith(t, env, "get", "secret", "-n", "istio-system", "cacerts", "-o", "json")), &cacerts); err != nil {
		t.Fatal(err)
	}
	for k, v := range cacerts.Data {
		if d, _ := base64.StdEncoding.DecodeString(v); bytes.Contains(d, bytes.TrimSpace(rootKey)) {
			t.Errorf("the root key is in cacerts %s", k)
		}
	}
	caPEM, _ := base64.StdEncoding.DecodeString(cacerts.Data["ca-cert.pem"])
	inter := parseCerts(t, caPEM)[0]
	clusterID := "cn-" + simProject + "-" + simLocation + "-" + simCluster
	if _, err := inter.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil ||
		!inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero || !slices.Contains(inter.Subject.Locality, clusterID) {
		t.Errorf("intermediate %s: IsCA %v pathlen %d/%v, verify %v", inter.Subject, inter.IsCA, inter.MaxPathLen, inter.MaxPathLenZero, err)
	}

	// istiod publishes its root in every namespace, a new one included.
	ns := "e2e-shared-ca"
	kubectlWith(t, env, "create", "namespace", ns)
	eventually(t, 90*time.Second, "istio-ca-root-cert in "+ns+" holds the shared root", func() (bool, string) {
		out := runWith(t, env, "kubectl", "get", "configmap", "-n", ns, "istio-ca-root-cert", "-o", "jsonpath={.data.root-cert\\.pem}").Stdout
		if out == "" {
			return false, "no ConfigMap yet"
		}
		return slices.ContainsFunc(parseCerts(t, []byte(out)), root.Equal), "another root"
	})

	chain := revisionChain(t, env, simLocation, simCluster, sharedCARevision)
	im := x509.NewCertPool()
	for _, c := range chain[1:] {
		im.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: im, DNSName: "istiod-" + sharedCARevision + ".istio-system.svc",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("istiod's serving chain does not lead to the shared root: %v", err)
	}

	// A re-run keeps the Secret as it is.
	secretVersion := func() string {
		return kubectlWith(t, env, "get", "secret", "-n", "istio-system", "cacerts", "-o", "jsonpath={.metadata.resourceVersion}")
	}
	before := secretVersion()
	res, r = meshctlInstallEnv(t, env, args...)
	if r.Code != 0 || res.CA == nil || res.CA.Secret != "keep" || res.CA.RootCreated {
		t.Errorf("re-run: exit %d, CA %+v\n%s", r.Code, res.CA, r.Stderr)
	}
	if after := secretVersion(); after != before {
		t.Errorf("re-run changed cacerts: resourceVersion %s → %s", before, after)
	}

	// Another root (a new --ca-dir) for another revision: refused before
	// asmcli runs, so no trace of that revision reaches the cluster.
	const other = "asm-other-root"
	otherArgs := []string{"--enable-all", "--revision", other, "--output-dir", t.TempDir(), "--ca", "shared", "--ca-dir", filepath.Join(t.TempDir(), "ca"), "--ca-key-type", "ecdsa"}
	if _, r := meshctlInstallEnv(t, env, otherArgs...); r.Code == 0 || !strings.Contains(r.Stderr, "istio-system/cacerts holds a CA of another root") {
		t.Errorf("install with another root: exit %d, want refused naming the other root\n%s", r.Code, r.Stderr)
	}
	if left := kubectlWith(t, env, "get", "deployments,mutatingwebhookconfigurations,configmaps", "-A", "-l", "istio.io/rev="+other, "-o", "name"); strings.TrimSpace(left) != "" {
		t.Errorf("asmcli ran for %s despite the other root: %s", other, left)
	}
	if after := secretVersion(); after != before {
		t.Errorf("the refused install changed cacerts: resourceVersion %s → %s", before, after)
	}
}
