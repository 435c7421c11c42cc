package install

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/plan"
)

func sharedBase(t *testing.T) Options {
	o := base()
	o.CA, o.OutputDir = "shared", t.TempDir()
	o.SharedCA = meshca.Options{Dir: filepath.Join(t.TempDir(), "ca"), KeyType: meshca.ECDSA}
	return o
}

func TestValidateSharedCA(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.pem")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no directory", func(o *Options) { o.SharedCA.Dir = "" }, "(--ca-dir)"},
		{"a custom CA's files", func(o *Options) { o.CACert = file }, "--ca-cert, --ca-key and --cert-chain are for --ca citadel"},
		{"root without its key", func(o *Options) { o.SharedCA.RootCert = file }, "--root-cert and --root-key go together"},
		{"missing root", func(o *Options) { o.SharedCA.RootCert, o.SharedCA.RootKey = file, file+".nope" }, "f.pem.nope"},
		{"root key without shared", func(o *Options) { o.CA = "citadel"; o.SharedCA.RootKey = file }, "--root-key and --ca-dir go with --ca shared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sharedBase(t)
			tt.change(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error naming %q", err, tt.want)
			}
		})
	}
	if err := sharedBase(t).Validate(); err != nil {
		t.Errorf("valid --ca shared rejected: %v", err)
	}
	// asmcli knows no "shared": its istiod CA (citadel), which signs with
	// the cacerts Secret meshctl installed, and no custom-CA flags (asmcli
	// refuses them once cacerts exists, so a re-run would fail).
	args := strings.Join(sharedBase(t).Args(), " ")
	if !strings.Contains(args, " --ca citadel ") || strings.Contains(args, "shared") || strings.Contains(args, "--ca_cert") {
		t.Errorf("asmcli args for --ca shared: %s", args)
	}
}

// TestRunSharedCA: the cacerts Secret is in the cluster before asmcli runs
// (an asmcli that fails still finds it), chains to the root, holds no root
// key; a re-run keeps it; another root's Secret stops the install before
// asmcli; istiods that started before it are named.
func TestRunSharedCA(t *testing.T) {
	success, _ := os.ReadFile("testdata/asmcli-install-success.log")
	o := sharedBase(t)
	kc := fake.NewClientset(istiod("asm-test-1"), istiod("asm-old"))
	in := Installer{Locator: Locator{Explicit: fakeAsmcli(t, "asmcli: Installing ASM control plane...\nError: failed\n", 1)}, Kube: kc, Reporter: ui.Discard, LookPath: allTools}
	if _, err := in.Run(context.Background(), o); err == nil {
		t.Fatal("a failing asmcli succeeded")
	}
	secret, err := kc.CoreV1().Secrets("istio-system").Get(context.Background(), meshca.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no cacerts Secret before asmcli: %v", err)
	}
	rootPEM, _ := os.ReadFile(filepath.Join(o.SharedCA.Dir, meshca.RootCertFile))
	rootKey, _ := os.ReadFile(filepath.Join(o.SharedCA.Dir, meshca.RootKeyFile))
	blk, _ := pem.Decode(rootPEM)
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := meshca.CheckBundle(secret, root); err != nil {
		t.Errorf("cacerts does not chain to the root: %v", err)
	}
	for k, v := range secret.Data {
		if bytes.Contains(v, bytes.TrimSpace(rootKey)) {
			t.Errorf("the root key is in cacerts %s", k)
		}
	}
	err = filepath.Walk(o.SharedCA.Dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// A re-run keeps the Secret; it created nothing, so it does not warn
	// about the istiods that started before.
	in.Locator.Explicit = fakeAsmcli(t, string(success), 0)
	res, err := in.Run(context.Background(), o)
	if err != nil || res.CA == nil || res.CA.Secret != plan.Keep || res.CA.Cluster != "cn-p-us-central1-c" || res.CA.RootCreated {
		t.Fatalf("re-run: err %v, CA %+v", err, res.CA)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q", res.Warnings)
	}

	// A fresh cluster with an older istiod: created, and the warning names it.
	o2 := o
	o2.OutputDir = t.TempDir()
	in.Kube = fake.NewClientset(istiod("asm-test-1"), istiod("asm-old"))
	res, err = in.Run(context.Background(), o2)
	if err != nil || res.CA.Secret != plan.Create || res.CA.Files != filepath.Join(o.SharedCA.Dir, "cn-p-us-central1-c") {
		t.Fatalf("fresh cluster: err %v, CA %+v", err, res.CA)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "istiod-asm-old started before the cacerts Secret") {
		t.Errorf("warnings %q", res.Warnings)
	}

	// Another root's Secret: refused before asmcli.
	other := sharedBase(t)
	marker := filepath.Join(t.TempDir(), "ran")
	script := filepath.Join(t.TempDir(), "asmcli")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --version ] && { echo 1.31.1-asm.19+config1; exit 0; }\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	in.Locator.Explicit = script
	if _, err := in.Run(context.Background(), other); err == nil || !strings.Contains(err.Error(), "a CA of another root") {
		t.Errorf("another root: err %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("asmcli ran over another root's cacerts")
	}
}

func TestDryRunSharedCA(t *testing.T) {
	o := sharedBase(t)
	o.DryRun = true
	res, err := Installer{Locator: Locator{Explicit: fakeAsmcli(t, "", 0)}, Reporter: ui.Discard}.Run(context.Background(), o)
	if err != nil || res.CA == nil || !res.CA.RootCreated || res.CA.Secret != plan.Create || res.CA.Root != filepath.Join(o.SharedCA.Dir, meshca.RootCertFile) {
		t.Fatalf("dry run: err %v, CA %+v", err, res.CA)
	}
	if _, err := os.Stat(o.SharedCA.Dir); err == nil {
		t.Error("a dry run wrote the CA directory")
	}
}
