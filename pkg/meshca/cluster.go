package meshca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// SecretName is the Secret istiod's Deployment mounts at /etc/cacerts
// (ROOT_CA_DIR): with all four files there, istiod signs with them
// ("Use local CA certificate") instead of its self-signed istio-ca-secret.
const SecretName = "cacerts"

// rootConfigMap is where istiod publishes its root in every namespace.
const rootConfigMap = "istio-ca-root-cert"

// Errors of CheckBundle.
var (
	ErrIncomplete = errors.New("the cacerts Secret lacks some of ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem (istiod then refuses to start: \"incomplete signing CA bundle\")")
	ErrOtherRoot  = errors.New("the cacerts Secret's CA does not chain to the shared root")
)

// ReadSecret returns istio-system's cacerts Secret, or nil.
func ReadSecret(ctx context.Context, kc kubernetes.Interface) (*corev1.Secret, error) {
	s, err := kc.CoreV1().Secrets(mesh.IstioSystem).Get(ctx, SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", mesh.IstioSystem, SecretName, err)
	}
	return s, nil
}

// CheckBundle reports whether a cacerts Secret is complete and its CA
// chains to root.
func CheckBundle(s *corev1.Secret, root *x509.Certificate) error {
	for _, k := range []string{CACertFile, CAKeyFile, RootCertFile, CertChainFile} {
		if len(s.Data[k]) == 0 {
			return ErrIncomplete
		}
	}
	block, _ := pem.Decode(s.Data[CACertFile])
	if block == nil {
		return ErrIncomplete
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("ca-cert.pem: %w", err)
	}
	if _, err := ca.Verify(x509.VerifyOptions{Roots: pool(root), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return ErrOtherRoot
	}
	return nil
}

// Secret is the bundle as istio-system's cacerts Secret, marked as
// meshctl's.
func (b *Bundle) Secret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: mesh.IstioSystem, Labels: map[string]string{mesh.LabelManagedBy: mesh.ManagedBy}},
		Type:       corev1.SecretTypeOpaque,
		Data:       b.Files(),
	}
}

// InstallSecret creates the cacerts Secret, and istio-system when no
// install has made it yet (install --ca shared runs before asmcli).
func InstallSecret(ctx context.Context, kc kubernetes.Interface, b *Bundle) error {
	opts := metav1.CreateOptions{FieldManager: kube.FieldManager}
	// Created only when missing: RBAC authorizes a create before the API
	// server finds the namespace exists, so a caller who may not create
	// namespaces would be refused one that is there (mesh connect's
	// clusters all have it).
	_, err := kc.CoreV1().Namespaces().Get(ctx, mesh.IstioSystem, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mesh.IstioSystem}}
		if _, err := kc.CoreV1().Namespaces().Create(ctx, ns, opts); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", mesh.IstioSystem, err)
		}
	case err != nil:
		return fmt.Errorf("read namespace %s: %w", mesh.IstioSystem, err)
	}
	if _, err := kc.CoreV1().Secrets(mesh.IstioSystem).Create(ctx, b.Secret(), opts); err != nil {
		return fmt.Errorf("create Secret %s/%s: %w", mesh.IstioSystem, SecretName, err)
	}
	return nil
}

// Provision issues the cluster's intermediate CA from the root, writes its
// bundle to dir/cluster (keys 0600) and installs it as the cluster's
// cacerts Secret (the root's key stays on this machine). It returns the
// bundle's directory.
func (r *Root) Provision(ctx context.Context, kc kubernetes.Interface, dir, cluster string, kt KeyType, now time.Time) (string, error) {
	b, err := r.Issue(cluster, kt, now)
	if err != nil {
		return "", err
	}
	files := filepath.Join(dir, cluster)
	if err := WriteBundle(dir, cluster, b); err != nil {
		return files, err
	}
	return files, InstallSecret(ctx, kc, b)
}

// RestartIstiod restarts the revisions' istiod Deployments as `kubectl
// rollout restart` does, so that their new pods mount the cacerts Secret,
// and waits until the rollouts are done. A running istiod loads plug-in
// certificates only at start.
func RestartIstiod(ctx context.Context, kc kubernetes.Interface, deployments []string, timeout time.Duration) error {
	at := time.Now().UTC().Format(time.RFC3339)
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, at)
	deps := kc.AppsV1().Deployments(mesh.IstioSystem)
	for _, name := range deployments {
		if _, err := deps.Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: kube.FieldManager}); err != nil {
			return fmt.Errorf("restart Deployment %s/%s: %w", mesh.IstioSystem, name, err)
		}
	}
	return Poll(ctx, timeout, "the istiod rollouts", func() (bool, error) {
		for _, name := range deployments {
			d, err := deps.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			s := d.Status
			if s.ObservedGeneration < d.Generation || s.UpdatedReplicas < want || s.AvailableReplicas < want || s.Replicas > want {
				return false, nil
			}
		}
		return true, nil
	})
}

// RootsOf reads the root certificates istiod published in a namespace;
// nil when it has not.
func RootsOf(ctx context.Context, kc kubernetes.Interface, namespace string) ([]*x509.Certificate, error) {
	cm, err := kc.CoreV1().ConfigMaps(namespace).Get(ctx, rootConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseCertificates([]byte(cm.Data["root-cert.pem"]))
}

// WaitRoot waits until istiod publishes root in istio-system: it has
// restarted with the plug-in CA.
func WaitRoot(ctx context.Context, kc kubernetes.Interface, root *x509.Certificate, timeout time.Duration) error {
	return Poll(ctx, timeout, "istiod to publish the shared root in "+mesh.IstioSystem+"/"+rootConfigMap, func() (bool, error) {
		roots, err := RootsOf(ctx, kc, mesh.IstioSystem)
		return hasRoot(roots, root), err
	})
}

// ForeignRoots lists the namespaces whose istio-ca-root-cert does not hold
// root (istiod writes it in every namespace but Kubernetes' own).
func ForeignRoots(ctx context.Context, kc kubernetes.Interface, root *x509.Certificate) ([]string, error) {
	nss, err := kc.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, ns := range nss.Items {
		if ignoredNamespaces[ns.Name] || ns.DeletionTimestamp != nil {
			continue
		}
		roots, err := RootsOf(ctx, kc, ns.Name)
		if err != nil {
			return nil, err
		}
		if !hasRoot(roots, root) {
			bad = append(bad, ns.Name)
		}
	}
	return bad, nil
}

// ignoredNamespaces are where istiod publishes no root (Istio's
// inject.IgnoredNamespaces).
var ignoredNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true, "local-path-storage": true}

// ServingChain reads the certificate chain istiod serves on its secure
// xDS port (15012); serverName is its Service's host.
func ServingChain(ctx context.Context, addr, serverName string) ([]*x509.Certificate, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		ServerName: serverName, NextProtos: []string{"h2"},
		// The chain is verified by the caller against the shared root,
		// which the system pool does not hold.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyChain
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TLS to istiod at %s: %w", addr, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

// VerifyChain checks that a served chain leads to root for the name.
func VerifyChain(chain []*x509.Certificate, root *x509.Certificate, dnsName string) error {
	if len(chain) == 0 {
		return errors.New("no certificate served")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: pool(root), Intermediates: inter, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func hasRoot(roots []*x509.Certificate, root *x509.Certificate) bool {
	return slices.ContainsFunc(roots, func(c *x509.Certificate) bool { return bytes.Equal(c.Raw, root.Raw) })
}

func pool(root *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(root)
	return p
}

// ParseCertificates reads every certificate of a PEM bundle.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
}

// Poll calls cond every 250ms until it holds, the timeout passes (the
// error says what was awaited and cond's last error) or ctx ends.
func Poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("waited %s for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("waited %s for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
