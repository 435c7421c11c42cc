package vm

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube/kubefake"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/eastwest"
)

// multiNetworkMesh is meshCluster with the east-west gateway `mesh
// connect --multi-network --expose-istiod` makes: the Service labelled
// with the cluster's network, serving 15443, 15012 and 15017, with global
// access, and expose-istiod.yaml's Gateway.
func multiNetworkMesh(t *testing.T) (*fake.Clientset, *kubefake.Objects) {
	t.Helper()
	kc := meshCluster()
	gw, err := kc.CoreV1().Services("istio-system").Get(context.Background(), GatewayService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gw.Labels = map[string]string{eastwest.LabelNetwork: "net-a"}
	gw.Annotations = map[string]string{eastwest.AnnotationGlobalAccess: "true"}
	gw.Spec.Ports = []corev1.ServicePort{{Name: "tls", Port: 15443}, {Name: "tls-istiod", Port: 15012}, {Name: "tls-webhook", Port: 15017}}
	if _, err := kc.CoreV1().Services("istio-system").Update(context.Background(), gw, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := kubefake.New()
	objs.Add(eastwest.GVRGateway, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": eastwest.IstiodGateway, "namespace": "istio-system"}}})
	return kc, objs
}

// farInstance is an instance on network far of project host, in region.
func farInstance(g *fakeGoogle, zone string) {
	g.instances[zone+"/far-1"] = &computepb.Instance{Name: proto.String("far-1"), Tags: &computepb.Tags{Items: []string{"db"}},
		NetworkInterfaces: []*computepb.NetworkInterface{{NetworkIP: proto.String("10.30.0.7"),
			Network: proto.String("https://www.googleapis.com/compute/v1/projects/host/global/networks/far")}}}
}

func peer(g *fakeGoogle, state string) {
	g.networks["host/net"].Peerings = []*computepb.NetworkPeering{{Name: proto.String("net-to-far"),
		Network: proto.String("https://www.googleapis.com/compute/v1/projects/host/global/networks/far"), State: proto.String(state)}}
}

// TestAddOnAnotherNetwork: an instance on VPC network far, peered with
// the cluster's, joins as network host-far (asmcli's PROJECT-VPC name):
// the group and the bundle carry it, the bundle sends istiod's name to the
// gateway, the rule to the gateway opens 15012, 15017 and 15443, and the
// rule to the VM is made in the VM's network.
func TestAddOnAnotherNetwork(t *testing.T) {
	kc, objs := multiNetworkMesh(t)
	g := newFakeGoogle()
	farInstance(g, "europe-west1-b")
	peer(g, "ACTIVE")
	c := Clients{Kube: kc, Objects: objs, Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
	dir := filepath.Join(t.TempDir(), "b")
	res, err := Add(context.Background(), c, ui.Discard, nil, AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}},
		Bundle: dir, Instance: "far-1", Zone: "europe-west1-b"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Network != "host-far" || res.ClusterNetwork != "net-a" {
		t.Errorf("networks: VM %q, cluster %q; want host-far, net-a", res.Network, res.ClusterNetwork)
	}
	wg := objs.Stored(GVRWorkloadGroup, "db", "db")
	if n, _, _ := unstructured.NestedString(wg.Object, "spec", "template", "network"); n != "host-far" {
		t.Errorf("WorkloadGroup template network %q, want host-far", n)
	}
	if got := wg.GetAnnotations()[AnnotationFirewallProject]; got != "host" {
		t.Errorf("firewall projects %q, want host", got)
	}
	env, _ := os.ReadFile(filepath.Join(dir, FileClusterEnv))
	hosts, _ := os.ReadFile(filepath.Join(dir, FileHosts))
	mesh, _ := os.ReadFile(filepath.Join(dir, FileMesh))
	if !strings.Contains(string(env), "ISTIO_META_NETWORK='host-far'\n") || !strings.Contains(string(mesh), "ISTIO_META_NETWORK: host-far") ||
		string(hosts) != "10.0.0.9 istiod-asm-1.istio-system.svc\n" {
		t.Errorf("bundle: cluster.env\n%s\nmesh.yaml\n%s\nhosts %q", env, mesh, hosts)
	}
	istiod, ports := ruleName("projects/svc/locations/us-central1/clusters/c1", "db", "db", "istiod"), ruleName("projects/svc/locations/us-central1/clusters/c1", "db", "db", "ports")
	in, out := g.rules[istiod], g.rules[ports]
	if !slices.Equal(in.GetAllowed()[0].GetPorts(), []string{"15012", "15017", "15443"}) || in.GetNetwork() != "projects/host/global/networks/net" ||
		!slices.Equal(in.GetSourceRanges(), []string{"10.30.0.7/32"}) || !slices.Equal(in.GetDestinationRanges(), []string{"10.0.0.9/32"}) {
		t.Errorf("rule to the gateway: %v", in)
	}
	if out.GetNetwork() != "projects/host/global/networks/far" || !slices.Equal(out.GetDestinationRanges(), []string{"10.30.0.7/32"}) ||
		!slices.Equal(out.GetTargetTags(), []string{"db"}) {
		t.Errorf("rule to the VM: %v", out)
	}
}

// TestAddRefusesUnreachableNetworks: with nothing made, an instance on
// another VPC network without an active peering, one in another region
// while the gateway has no global access, --network with --vm-range, and
// a gateway without 15443.
func TestAddRefusesUnreachableNetworks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fake.Clientset, *kubefake.Objects, *fakeGoogle)
		opts  AddOptions
		want  string
	}{
		{"not peered", func(_ *fake.Clientset, _ *kubefake.Objects, g *fakeGoogle) { farInstance(g, "us-central1-a") },
			AddOptions{Instance: "far-1", Zone: "us-central1-a"}, "no active VPC Network Peering"},
		{"peering inactive", func(_ *fake.Clientset, _ *kubefake.Objects, g *fakeGoogle) {
			farInstance(g, "us-central1-a")
			peer(g, "INACTIVE")
		},
			AddOptions{Instance: "far-1", Zone: "us-central1-a"}, "no active VPC Network Peering"},
		{"another region without global access", func(kc *fake.Clientset, _ *kubefake.Objects, g *fakeGoogle) {
			farInstance(g, "europe-west1-b")
			peer(g, "ACTIVE")
			gw, _ := kc.CoreV1().Services("istio-system").Get(context.Background(), GatewayService, metav1.GetOptions{})
			gw.Annotations = nil
			_, _ = kc.CoreV1().Services("istio-system").Update(context.Background(), gw, metav1.UpdateOptions{})
		}, AddOptions{Instance: "far-1", Zone: "europe-west1-b"}, "global access is off"},
		{"--network with --vm-range", func(*fake.Clientset, *kubefake.Objects, *fakeGoogle) {}, AddOptions{Network: "net-b", VMRange: "10.30.0.0/24"}, "pass --instance"},
		{"gateway without 15443", func(kc *fake.Clientset, _ *kubefake.Objects, g *fakeGoogle) {
			farInstance(g, "us-central1-a")
			peer(g, "ACTIVE")
			gw, _ := kc.CoreV1().Services("istio-system").Get(context.Background(), GatewayService, metav1.GetOptions{})
			gw.Spec.Ports = gw.Spec.Ports[1:]
			_, _ = kc.CoreV1().Services("istio-system").Update(context.Background(), gw, metav1.UpdateOptions{})
		}, AddOptions{Instance: "far-1", Zone: "us-central1-a"}, "port 15443 on Service istio-eastwestgateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, objs := multiNetworkMesh(t)
			g := newFakeGoogle()
			tc.setup(kc, objs, g)
			c := Clients{Kube: kc, Objects: objs, Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
			o := tc.opts
			o.Name, o.Namespace, o.Ports, o.Bundle = "db", "db", []Port{{"mysql", 3306}}, filepath.Join(t.TempDir(), "b")
			_, err := Add(context.Background(), c, ui.Discard, nil, o)
			if err == nil || !strings.Contains(err.Error()+failure.HintOf(err), tc.want) {
				t.Fatalf("err %v, want it to say %q", err, tc.want)
			}
			if len(objs.Writes()) > 0 || len(g.writes) > 0 {
				t.Errorf("wrote %v %v", objs.Writes(), g.writes)
			}
		})
	}
}

// TestPortsRuleAdmitsEveryMeshCluster: the rule to the VM admits the Pod
// ranges of the clusters the remote secrets name (found among the
// project's clusters by endpoint: public, private, or the public one a
// private-endpoint cluster lists apart), and warns of a remote secret it
// cannot place.
func TestPortsRuleAdmitsEveryMeshCluster(t *testing.T) {
	kc := meshCluster()
	for name, server := range map[string]string{"istio-remote-secret-c2": "https://34.1.2.3", "istio-remote-secret-c3": "https://172.16.0.2", "istio-remote-secret-x": "https://203.0.113.9",
		"istio-remote-secret-c4": "https://34.4.4.4/"} {
		kubeconfig := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"" + server + "\"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n"
		if _, err := kc.CoreV1().Secrets("istio-system").Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "istio-system",
			Labels: map[string]string{"istio/multiCluster": "true"}}, Data: map[string][]byte{name: []byte(kubeconfig)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	g := newFakeGoogle()
	g.clusters = []*containerpb.Cluster{
		{Name: "c2", Endpoint: "34.1.2.3", IpAllocationPolicy: &containerpb.IPAllocationPolicy{ClusterIpv4CidrBlock: "10.8.0.0/14"}},
		// c3 reports its private endpoint in the legacy field alone, as older clusters do.
		{Name: "c3", Endpoint: "35.0.0.1", PrivateClusterConfig: &containerpb.PrivateClusterConfig{PrivateEndpoint: "172.16.0.2"}, //nolint:staticcheck // the legacy field, still returned
			IpAllocationPolicy: &containerpb.IPAllocationPolicy{ClusterIpv4CidrBlock: "10.12.0.0/14"}},
		{Name: "c4", Endpoint: "172.16.0.9", ControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{
			IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{PublicEndpoint: "34.4.4.4", PrivateEndpoint: "172.16.0.9"}},
			IpAllocationPolicy: &containerpb.IPAllocationPolicy{ClusterIpv4CidrBlock: "10.16.0.0/14"}},
		{Name: "not-in-the-mesh", Endpoint: "35.9.9.9", IpAllocationPolicy: &containerpb.IPAllocationPolicy{ClusterIpv4CidrBlock: "10.99.0.0/16"}},
	}
	c := Clients{Kube: kc, Objects: kubefake.New(), Cloud: func(context.Context) (Cloud, error) { return g.cloud(), nil }}
	rep := &ui.Recorder{}
	res, err := Add(context.Background(), c, rep, nil, AddOptions{Name: "db", Namespace: "db", Ports: []Port{{"mysql", 3306}},
		Bundle: filepath.Join(t.TempDir(), "b"), Instance: "db-1", Zone: "us-central1-a", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, ch := range res.Changes {
		if strings.HasSuffix(ch.Name, "-ports") {
			note = ch.Note
		}
	}
	if !strings.Contains(note, "from 10.12.0.0/14,10.16.0.0/14,10.4.0.0/14,10.8.0.0/14 to 10.128.0.5/32") {
		t.Errorf("rule to the VM: %q, want the Pod ranges of c1, c2, c3 and c4", note)
	}
	var warnings []string
	for _, l := range rep.Lines() {
		if strings.HasPrefix(l, "warn ") {
			warnings = append(warnings, l)
		}
	}
	if w := strings.Join(warnings, "\n"); len(warnings) != 1 || !strings.Contains(w, "203.0.113.9") {
		t.Errorf("warnings %q, want one for the remote secret at 203.0.113.9 only", w)
	}
}
