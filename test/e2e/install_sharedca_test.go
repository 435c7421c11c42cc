//go:build e2e

package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const sharedCARevision = "asm-shared-ca"

// TestInstallSharedCA: install --ca shared on the shared simulator puts the
// cacerts Secret in istio-system before asmcli, so the istiod asmcli starts
// signs with an intermediate of a root that stays on this machine: checked
// here with crypto/x509 in a namespace's istio-ca-root-cert and in the
// chain istiod serves on 15012; the files are 0600, the root key is not in
// the cluster, and a re-run keeps the Secret.
func TestInstallSharedCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ns := "e2e-shared-ca"
	t.Cleanup(func() {
		// Later tests' istiods would start on this CA: take it away.
		runIn(t, "", meshctlBin, "uninstall", "--revision", sharedCARevision)
		runIn(t, "", "kubectl", "delete", "secret", "-n", "istio-system", "cacerts", "--ignore-not-found")
		runIn(t, "", "kubectl", "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
	})
	args := []string{"--enable-all", "--revision", sharedCARevision, "--output-dir", t.TempDir(), "--ca", "shared", "--ca-dir", dir, "--ca-key-type", "ecdsa"}
	start := time.Now()
	res, r := meshctlInstall(t, args...)
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
	if strings.Contains(r.Stderr, "PRIVATE KEY") {
		t.Error("a private key reached meshctl's output")
	}

	var cacerts secretJSON
	if err := json.Unmarshal([]byte(kubectl(t, "get", "secret", "-n", "istio-system", "cacerts", "-o", "json")), &cacerts); err != nil {
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
	kubectl(t, "create", "namespace", ns)
	eventually(t, 60*time.Second, "istio-ca-root-cert in "+ns+" holds the shared root", func() (bool, string) {
		out := runIn(t, "", "kubectl", "get", "configmap", "-n", ns, "istio-ca-root-cert", "-o", "jsonpath={.data.root-cert\\.pem}").Stdout
		if out == "" {
			return false, "no ConfigMap yet"
		}
		return slices.ContainsFunc(parseCerts(t, []byte(out)), root.Equal), "another root"
	})

	chain := sharedCAIstiodChain(t, sharedCARevision)
	im := x509.NewCertPool()
	for _, c := range chain[1:] {
		im.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: im, DNSName: "istiod-" + sharedCARevision + ".istio-system.svc",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("istiod's serving chain does not lead to the shared root: %v", err)
	}

	// A re-run keeps the Secret as it is.
	before := kubectl(t, "get", "secret", "-n", "istio-system", "cacerts", "-o", "jsonpath={.metadata.resourceVersion}")
	res, r = meshctlInstall(t, args...)
	if r.Code != 0 || res.CA == nil || res.CA.Secret != "keep" || res.CA.RootCreated {
		t.Errorf("re-run: exit %d, CA %+v\n%s", r.Code, res.CA, r.Stderr)
	}
	if after := kubectl(t, "get", "secret", "-n", "istio-system", "cacerts", "-o", "jsonpath={.metadata.resourceVersion}"); after != before {
		t.Errorf("re-run changed cacerts: resourceVersion %s → %s", before, after)
	}
}

// sharedCAIstiodChain is the chain the shared simulator's istiod of the
// revision serves on its secure xDS port, found where `meshsim env` says
// meshctl finds istiods.
func sharedCAIstiodChain(t *testing.T, revision string) []*x509.Certificate {
	t.Helper()
	var list struct {
		Istiods []struct {
			Revision  string `json:"revision"`
			SecureXDS string `json:"secureXDS"`
		} `json:"istiods"`
	}
	q := url.Values{"project": {simProject}, "location": {simLocation}, "cluster": {simCluster}}
	if err := getJSON(envValue(simEnv, "MESHCTL_ISTIOD_ENDPOINTS")+"?"+q.Encode(), &list); err != nil {
		t.Fatal(err)
	}
	for _, i := range list.Istiods {
		if i.Revision != revision {
			continue
		}
		conn, err := tls.Dial("tcp", i.SecureXDS, &tls.Config{InsecureSkipVerify: true, ServerName: "istiod-" + revision + ".istio-system.svc"}) //nolint:gosec // verified against the shared root by the caller
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates
	}
	t.Fatalf("no istiod of %s among %+v", revision, list.Istiods)
	return nil
}
