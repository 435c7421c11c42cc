package fakegcp

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/sim/scenario"
)

// hcFirewall is the rule field-notes section 6 prescribes for a NEG-backed
// gateway: Google's health-check ranges to the health check and serving
// ports on the nodes' tag.
func hcFirewall(e *env) *computepb.Firewall {
	return &computepb.Firewall{
		Network:      proto.String(globalLink("networks", e.srv.Scenario().Network)),
		SourceRanges: []string{"130.211.0.0/22", "35.191.0.0/16"},
		TargetTags:   []string{e.srv.Scenario().NodeTag()},
		Allowed:      []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"15021", "8443"}}},
	}
}

func TestBackendHealthFollowsPodsPortsAndFirewall(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)
	e.done(t)(e.nets.Insert(e.ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{Name: proto.String("other")}}))
	node := e.nodeIn(t, negZone)
	servingPod := Endpoint{Instance: node, IPAddress: "10.112.0.7", Port: 8443, Ready: true, ServedPorts: []int{8443, 15021}}

	cases := []struct {
		name      string
		endpoint  func(Endpoint) Endpoint
		firewalls func(*computepb.Firewall) []*computepb.Firewall
		want      string
	}{
		{"ready pod, health port served, firewall open", nil, nil, "HEALTHY"},
		{"no firewall rule", nil, func(*computepb.Firewall) []*computepb.Firewall { return nil }, "UNHEALTHY"},
		{"pod not ready", func(ep Endpoint) Endpoint { ep.Ready = false; return ep }, nil, "UNHEALTHY"},
		{"pod does not serve the health check port", func(ep Endpoint) Endpoint { ep.ServedPorts = []int{8443}; return ep }, nil, "UNHEALTHY"},
		{"rule misses 130.211.0.0/22", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.SourceRanges = []string{"35.191.0.0/16"}
			return []*computepb.Firewall{f}
		}, "UNHEALTHY"},
		{"two rules cover one range each", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			g := proto.Clone(f).(*computepb.Firewall)
			f.SourceRanges, g.SourceRanges = []string{"35.191.0.0/16"}, []string{"130.211.0.0/22"}
			return []*computepb.Firewall{f, g}
		}, "HEALTHY"},
		{"rule opens only the serving port", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.Allowed[0].Ports = []string{"8443"}
			return []*computepb.Firewall{f}
		}, "UNHEALTHY"},
		{"rule opens a port range", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.Allowed[0].Ports = []string{"15000-16000"}
			return []*computepb.Firewall{f}
		}, "HEALTHY"},
		{"rule targets another tag", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.TargetTags = []string{"web"}
			return []*computepb.Firewall{f}
		}, "UNHEALTHY"},
		{"rule targets every instance", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.TargetTags = nil
			return []*computepb.Firewall{f}
		}, "HEALTHY"},
		{"rule on another network", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.Network = proto.String(globalLink("networks", "other"))
			return []*computepb.Firewall{f}
		}, "UNHEALTHY"},
		{"rule disabled", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			f.Disabled = proto.Bool(true)
			return []*computepb.Firewall{f}
		}, "UNHEALTHY"},
		{"higher-priority deny", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			deny := &computepb.Firewall{Network: f.Network, Priority: proto.Int32(900), SourceRanges: []string{"35.191.0.0/16"},
				Denied: []*computepb.Denied{{IPProtocol: proto.String("all")}}}
			return []*computepb.Firewall{f, deny}
		}, "UNHEALTHY"},
		{"lower-priority deny", nil, func(f *computepb.Firewall) []*computepb.Firewall {
			deny := &computepb.Firewall{Network: f.Network, Priority: proto.Int32(2000), SourceRanges: []string{"0.0.0.0/0"},
				Denied: []*computepb.Denied{{IPProtocol: proto.String("tcp")}}}
			return []*computepb.Firewall{f, deny}
		}, "HEALTHY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep := servingPod
			if tc.endpoint != nil {
				ep = tc.endpoint(ep)
			}
			if err := e.srv.SetNEGEndpoints(negZone, "gw-neg", []Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			rules := []*computepb.Firewall{hcFirewall(e)}
			if tc.firewalls != nil {
				rules = tc.firewalls(hcFirewall(e))
			}
			var names []string
			for i, fw := range rules {
				fw.Name = proto.String("case-rule-" + string(rune('a'+i)))
				names = append(names, fw.GetName())
				e.done(t)(e.fw.Insert(e.ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: fw}))
			}
			defer func() {
				for _, n := range names {
					e.done(t)(e.fw.Delete(e.ctx, &computepb.DeleteFirewallRequest{Project: project, Firewall: n}))
				}
			}()
			health := e.health(t)
			if len(health.GetHealthStatus()) != 1 {
				t.Fatalf("health: %v", health)
			}
			if got := health.GetHealthStatus()[0].GetHealthState(); got != tc.want {
				t.Errorf("healthState %s, want %s", got, tc.want)
			}
		})
	}
}

func (e *env) health(t *testing.T) *computepb.BackendServiceGroupHealth {
	t.Helper()
	health, err := e.bs.GetHealth(e.ctx, &computepb.GetHealthBackendServiceRequest{Project: project, BackendService: "gw-bs",
		ResourceGroupReferenceResource: &computepb.ResourceGroupReference{Group: proto.String(zonalLink(negZone, "networkEndpointGroups", "gw-neg"))}})
	if err != nil {
		t.Fatal(err)
	}
	return health
}

// TestBackendHealthShape checks the answer's fields, and that a backend
// service no forwarding rule leads to is not health checked.
func TestBackendHealthShape(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)
	node := e.nodeIn(t, negZone)
	if err := e.srv.SetNEGEndpoints(negZone, "gw-neg", []Endpoint{{Instance: node, IPAddress: "10.112.0.7", Port: 8443, Ready: true, ServedPorts: []int{8443, 15021}}}); err != nil {
		t.Fatal(err)
	}
	e.done(t)(e.fw.Insert(e.ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: func() *computepb.Firewall {
		f := hcFirewall(e)
		f.Name = proto.String("allow-gfe")
		return f
	}()}))
	fr, _ := e.fr.Get(e.ctx, &computepb.GetGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443"})
	h := e.health(t)
	if h.GetKind() != "compute#backendServiceGroupHealth" || len(h.GetHealthStatus()) != 1 {
		t.Fatalf("health: %v", h)
	}
	st := h.GetHealthStatus()[0]
	if st.GetIpAddress() != "10.112.0.7" || st.GetPort() != 8443 || st.GetInstance() != zonalLink(negZone, "instances", node) ||
		st.GetForwardingRule() != fr.GetSelfLink() || st.GetForwardingRuleIp() != fr.GetIPAddress() || st.GetHealthState() != "HEALTHY" {
		t.Errorf("health status: %v", st)
	}

	// Raw HTTP here: the Go client's ListNetworkEndpoints sends its whole
	// request message as the body, so its HealthStatus never arrives where
	// the API reads it (top-level healthStatus).
	resp, err := http.Post(e.url+"/compute/v1/projects/"+project+"/zones/"+negZone+"/networkEndpointGroups/gw-neg/listNetworkEndpoints",
		"application/json", strings.NewReader(`{"healthStatus":"SHOW"}`))
	if err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Items []struct {
			Healths []struct {
				HealthState    string
				BackendService struct{ BackendService string }
			}
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if len(listed.Items) != 1 || len(listed.Items[0].Healths) != 1 || listed.Items[0].Healths[0].HealthState != "HEALTHY" ||
		listed.Items[0].Healths[0].BackendService.BackendService != globalLink("backendServices", "gw-bs") {
		t.Errorf("listNetworkEndpoints SHOW: %+v", listed)
	}

	e.done(t)(e.fr.Delete(e.ctx, &computepb.DeleteGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443"}))
	if h := e.health(t); len(h.GetHealthStatus()) != 0 {
		t.Errorf("health with no forwarding rule: %v", h)
	}
	_, err = e.bs.GetHealth(e.ctx, &computepb.GetHealthBackendServiceRequest{Project: project, BackendService: "gw-bs",
		ResourceGroupReferenceResource: &computepb.ResourceGroupReference{Group: proto.String(zonalLink("us-central1-b", "networkEndpointGroups", "gw-neg"))}})
	wantAPIError(t, err, 400, "invalid")
}

// On a Shared VPC (meshsim up --shared-vpc) the nodes sit on the host
// project's network: a health-check rule on the service project's network
// of the same name is another network's and leaves the backends
// unhealthy; the same rule in the host project, on its network, makes
// them healthy.
func TestBackendHealthOnASharedVPCFollowsTheHostsRules(t *testing.T) {
	const host = "net-host"
	sc := scenario.Default()
	sc.SharedVPCHost = host
	e := newEnvWith(t, sc, Options{})
	e.buildChain(t)
	if err := e.srv.SetNEGEndpoints(negZone, "gw-neg", []Endpoint{{Instance: e.nodeIn(t, negZone), IPAddress: "10.112.0.7", Port: 8443, Ready: true, ServedPorts: []int{8443, 15021}}}); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		h := e.health(t).GetHealthStatus()
		if len(h) != 1 {
			t.Fatalf("health: %v", h)
		}
		return h[0].GetHealthState()
	}

	inService := hcFirewall(e)
	inService.Name = proto.String("hc-in-service-project")
	e.done(t)(e.fw.Insert(e.ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: inService}))
	if got := state(); got != "UNHEALTHY" {
		t.Errorf("with the rule on the service project's network: %s, want UNHEALTHY", got)
	}

	inHost := hcFirewall(e)
	inHost.Name = proto.String("hc-in-host-project")
	inHost.Network = proto.String(computeBase + "projects/" + host + "/global/networks/" + sc.Network)
	// The operation is the host project's: waited on there.
	op, err := e.fw.Insert(e.ctx, &computepb.InsertFirewallRequest{Project: host, FirewallResource: inHost})
	if err != nil {
		t.Fatal(err)
	}
	if final, err := e.gops.Wait(e.ctx, &computepb.WaitGlobalOperationRequest{Project: host, Operation: op.Name()}); err != nil || final.GetError() != nil {
		t.Fatalf("insert in %s: %v %v", host, err, final.GetError())
	}
	if got := state(); got != "HEALTHY" {
		t.Errorf("with the rule on the host project's network: %s, want HEALTHY", got)
	}
}
