package multicluster

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/container/apiv1/containerpb"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/meshca"
)

// Istio's names for what connects clusters.
const (
	// LabelMultiCluster marks the Secrets istiod reads remote clusters from.
	LabelMultiCluster = mesh.LabelMultiCluster
	// AnnotationCluster on a remote secret names the cluster it reaches.
	AnnotationCluster = "networking.istio.io/cluster"
	// RemoteSecretPrefix starts a remote secret's name; the cluster's
	// name follows (istioctl create-remote-secret).
	RemoteSecretPrefix = "istio-remote-secret-"
	// ReaderServiceAccount is the account remote istiods read a cluster as.
	ReaderServiceAccount = "istio-reader-service-account"
	// RootCertConfigMap holds, in every namespace, the mesh's root
	// certificate as istiod distributes it.
	RootCertConfigMap = "istio-ca-root-cert"
	// asmOptions is the managed control plane's options ConfigMap; its
	// multicluster_mode turns multi-cluster endpoint discovery on.
	asmOptions = "asm-options"
)

// member is one cluster as read before connecting: its GKE settings, its
// control planes and what links it already has.
type member struct {
	Ref
	kube kubernetes.Interface
	gke  *containerpb.Cluster

	planes []plane
	// clusterID is the installed cluster name (istiod's CLUSTER_ID).
	clusterID string
	// secrets are istio-system's remote secrets (istio/multiCluster=true).
	secrets []corev1.Secret
	// asmOptions is the managed control plane's options; nil when absent.
	asmOptions *corev1.ConfigMap
	// roots are the root certificates of istio-system's istio-ca-root-cert.
	roots []*x509.Certificate
	// failures are the reads that failed (MC0100).
	failures []findings.Finding
	// crossNetwork is set when other clusters of the mesh are in another
	// VPC: they reach this one's control plane at its public endpoint.
	crossNetwork bool
}

// plane is one installed control-plane revision.
type plane struct {
	Revision string `json:"revision"`
	// Version is istiod's image tag (e.g. 1.28.2-asm.4); empty for a
	// managed revision, whose istiod Google runs.
	Version string `json:"version,omitempty"`
	Managed bool   `json:"managed,omitempty"`
	// ClusterID is the cluster name istiod registers under.
	ClusterID string `json:"clusterID"`
	// Deployment is its istiod Deployment in istio-system; empty for a
	// managed revision.
	Deployment string `json:"deployment,omitempty"`
	// MeshConfig names the revision's mesh ConfigMap in istio-system.
	MeshConfig  string   `json:"meshConfig"`
	TrustDomain string   `json:"trustDomain"`
	Aliases     []string `json:"trustDomainAliases,omitempty"`
}

// usable reports whether the cluster was read well enough to connect.
func (m *member) usable() bool { return m.gke != nil && m.kube != nil && len(m.failures) == 0 }

func (m *member) managed() bool {
	return len(m.planes) > 0 && !slices.ContainsFunc(m.planes, func(p plane) bool { return !p.Managed })
}

func (m *member) revisions() []string {
	var out []string
	for _, p := range m.planes {
		out = append(out, p.Revision)
	}
	return out
}

// trustDomain is the first revision's; each revision's own is checked too.
func (m *member) trustDomain() string {
	if len(m.planes) == 0 {
		return ""
	}
	return m.planes[0].TrustDomain
}

func (m *member) podRange() (netip.Prefix, bool) { return gkecluster.PodRange(m.gke) }

// endpoint is the address other clusters' istiods dial: the private
// endpoint when GKE gives one (private nodes have no route to a public
// one), else the public endpoint.
//
// Clusters in other VPC networks dial the public endpoint while there is
// one: the private endpoint lives in Google's network peered with the
// cluster's VPC, and peering is not transitive, so a peered VPC has no
// route to it.
func (m *member) endpoint() (addr string, private bool) {
	if ep := gkecluster.PrivateEndpoint(m.gke); ep != "" && !(m.crossNetwork && !gkecluster.PrivateEndpointOnly(m.gke) && m.gke.GetEndpoint() != "") {
		return ep, true
	}
	return strings.TrimPrefix(m.gke.GetEndpoint(), "https://"), false
}

func (m *member) server() string {
	addr, _ := m.endpoint()
	return "https://" + addr
}

func (m *member) fail(call string, err error) {
	m.failures = append(m.failures, findings.APIUnavailable.New("cluster "+m.Name, call+": "+err.Error(), apiHint(err)))
}

// gather reads every cluster concurrently.
func gather(ctx context.Context, c Clients, refs []Ref) []*member {
	out := make([]*member, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = read(ctx, c, r)
		}()
	}
	wg.Wait()
	vpcs := map[string]bool{}
	for _, m := range out {
		if m.gke != nil {
			p, n := gkecluster.Network(m.gke, m.Project)
			vpcs[p+"/"+n] = true
		}
	}
	for _, m := range out {
		m.crossNetwork = len(vpcs) > 1
	}
	return out
}

func read(ctx context.Context, c Clients, r Ref) *member {
	m := &member{Ref: r}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl, err := c.GKE.GetCluster(ctx, r.ResourceName())
		if err != nil {
			m.fail("GKE clusters.get "+r.ResourceName(), err)
			return
		}
		m.gke = cl
	}()
	kc, err := c.Kube(r)
	if err != nil {
		wg.Wait()
		m.fail("Kubernetes client for context "+r.Context, err)
		return m
	}
	m.kube = kc
	if err := m.readKube(ctx); err != nil {
		wg.Wait()
		m.fail("Kubernetes API of context "+r.Context, err)
		return m
	}
	wg.Wait()
	return m
}

// readKube reads the control planes, the remote secrets, the managed
// options and the root certificate.
func (m *member) readKube(ctx context.Context) error {
	revs, err := mesh.ReadRevisions(ctx, m.kube)
	if err != nil {
		return err
	}
	for _, name := range revs.Names() {
		p, err := m.readPlane(ctx, revs.Revision(name))
		if err != nil {
			return err
		}
		m.planes = append(m.planes, p)
	}
	m.clusterID = m.InstalledName()
	if len(m.planes) > 0 && m.planes[0].ClusterID != "" {
		m.clusterID = m.planes[0].ClusterID
	}
	secrets, err := m.kube.CoreV1().Secrets(mesh.IstioSystem).List(ctx, metav1.ListOptions{LabelSelector: LabelMultiCluster + "=true"})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("list remote secrets: %w", err)
	}
	if secrets != nil {
		m.secrets = secrets.Items
	}
	if cm, err := m.kube.CoreV1().ConfigMaps(mesh.IstioSystem).Get(ctx, asmOptions, metav1.GetOptions{}); err == nil {
		m.asmOptions = cm
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read ConfigMap %s: %w", asmOptions, err)
	}
	roots, err := meshca.RootsOf(ctx, m.kube, mesh.IstioSystem)
	if err != nil {
		return fmt.Errorf("read ConfigMap %s/%s: %w", mesh.IstioSystem, RootCertConfigMap, err)
	}
	m.roots = roots
	return nil
}

// readPlane reads a revision's istiod and mesh config.
func (m *member) readPlane(ctx context.Context, rev *mesh.Revision) (plane, error) {
	// A revision whose webhook calls a URL is managed only when no istiod
	// of it runs in the cluster (meshsim points in-cluster ones at a URL).
	p := plane{Revision: rev.Name, Managed: rev.Managed && rev.Istiod == nil, MeshConfig: meshConfigName(rev.Name)}
	if rev.Istiod != nil {
		p.Deployment, p.Version, p.ClusterID = rev.Istiod.Name, istiodVersion(rev.Istiod), istiodEnv(rev.Istiod, "CLUSTER_ID")
	}
	if p.ClusterID == "" {
		p.ClusterID = m.InstalledName()
	}
	cm, err := m.kube.CoreV1().ConfigMaps(mesh.IstioSystem).Get(ctx, p.MeshConfig, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		p.TrustDomain = defaultTrustDomain
	case err != nil:
		return p, fmt.Errorf("read mesh config %s: %w", p.MeshConfig, err)
	default:
		mc, err := parseMeshConfig(cm.Data["mesh"])
		if err != nil {
			return p, fmt.Errorf("ConfigMap %s/%s: %w", mesh.IstioSystem, p.MeshConfig, err)
		}
		p.TrustDomain, p.Aliases = mc.TrustDomain, mc.TrustDomainAliases
	}
	return p, nil
}

// meshConfigName is the revision's mesh ConfigMap: istio-REV, or istio for
// the default revision.
func meshConfigName(rev string) string {
	if rev == mesh.DefaultRevision {
		return "istio"
	}
	return "istio-" + rev
}

const defaultTrustDomain = "cluster.local"

// meshConfig is the part of Istio's MeshConfig connecting clusters reads.
type meshConfig struct {
	TrustDomain        string   `json:"trustDomain"`
	TrustDomainAliases []string `json:"trustDomainAliases"`
}

func parseMeshConfig(text string) (meshConfig, error) {
	var mc meshConfig
	if err := yaml.Unmarshal([]byte(text), &mc); err != nil {
		return mc, fmt.Errorf("mesh config: %w", err)
	}
	if mc.TrustDomain == "" {
		mc.TrustDomain = defaultTrustDomain
	}
	return mc, nil
}

func istiodContainer(d *appsv1.Deployment) *corev1.Container {
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "discovery" {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

func istiodVersion(d *appsv1.Deployment) string {
	c := istiodContainer(d)
	if c == nil {
		return ""
	}
	image := c.Image
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i >= 0 && !strings.Contains(image[i:], "/") {
		return image[i+1:]
	}
	return ""
}

func istiodEnv(d *appsv1.Deployment, name string) string {
	c := istiodContainer(d)
	if c == nil {
		return ""
	}
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value
		}
	}
	return ""
}

// apiHint says what to do about a failed read.
func apiHint(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "grant the caller cluster-admin (or read access to istio-system, namespaces and webhooks) in that cluster"
	case apierrors.IsUnauthorized(err):
		return credentialsHint
	}
	return ""
}
