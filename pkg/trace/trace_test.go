package trace

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
)

// The reads a trace that reaches the NEGs makes besides the lists.
var negCalls = []string{"getHealth us-central1-a", "getHealth us-central1-b", "listNetworkEndpoints us-central1-a", "listNetworkEndpoints us-central1-b"}

// firewallCalls are made only to explain unhealthy endpoints.
var firewallCalls = []string{"list firewalls", "list instances"}

func TestTraceEachBreakageNamesItsHop(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(w *world)
		calls  []string
		// want is the answer: the hop, its state and the finding's code
		// ("" kind: no answer).
		kind  HopKind
		state State
		code  string
	}{
		{"healthy", func(w *world) {}, negCalls, "", OK, ""},
		{"a host no forwarding rule serves", func(w *world) { w.opts.Target, w.opts.Address = "other.example.com/", "" }, nil, HopForwardingRule, Broken, "MC0400"},
		{"an address no forwarding rule has", func(w *world) { w.opts.Target = "34.9.9.9" }, nil, HopForwardingRule, Broken, "MC0400"},
		{"only a port 80 rule for an https request", func(w *world) {
			w.compute.put(w.t, lb.KindForwardingRule, `{"name":"fr-443","IPAddress":"`+frIP+`","portRange":"80-80","target":"`+link+`global/targetHttpProxies/http"}`)
			w.opts.Address = frIP
		}, nil, HopForwardingRule, Broken, "MC0400"},
		{"target proxy gone", func(w *world) { w.compute.remove(lb.KindHTTPSProxy, "https"); w.opts.Address = frIP }, nil, HopForwardingRule, Broken, "MC0402"},
		{"certificate PROVISIONING", func(w *world) {
			w.compute.get(lb.KindCertificate, "cert").(*computepb.SslCertificate).Managed.DomainStatus[host] = "PROVISIONING"
		}, negCalls, HopTargetProxy, Converging, "MC0404"},
		{"certificate PROVISIONING while DNS points elsewhere", func(w *world) {
			w.compute.get(lb.KindCertificate, "cert").(*computepb.SslCertificate).Managed.DomainStatus[host] = "PROVISIONING"
			w.dns[host] = []string{"1.2.3.4"}
			w.opts.Target, w.opts.Address = host, ""
		}, negCalls, HopTargetProxy, Broken, "MC0405"},
		{"certificate FAILED_NOT_VISIBLE", func(w *world) {
			w.compute.get(lb.KindCertificate, "cert").(*computepb.SslCertificate).Managed.DomainStatus[host] = "FAILED_NOT_VISIBLE"
		}, negCalls, HopTargetProxy, Broken, "MC0405"},
		{"no certificate for the host", func(w *world) {
			w.compute.get(lb.KindCertificate, "cert").(*computepb.SslCertificate).Managed.Domains = []string{"else.example.com"}
		}, negCalls, HopTargetProxy, Broken, "MC0403"},
		{"Cloud Armor deny-all default", func(w *world) {
			p := w.compute.get(lb.KindSecurityPolicy, "armor").(*computepb.SecurityPolicy)
			p.Rules[1].Action = proto.String("deny(403)")
		}, negCalls, HopBackendService, Broken, "MC0411"},
		{"firewall rule missing", func(w *world) {
			w.compute.remove(lb.KindFirewall, "gfe")
			w.endpointsIn("us-central1-a", "10.0.0.5", "node-a", "UNHEALTHY")
			w.endpointsIn("us-central1-b", "10.0.1.7", "node-b", "UNHEALTHY")
		}, append(slices.Clone(negCalls), firewallCalls...), HopNEG, Broken, "MC0422"},
		{"unhealthy endpoints of a new backend", func(w *world) {
			w.compute.get(lb.KindBackendService, "bs").(*computepb.BackendService).CreationTimestamp = proto.String(now.Add(-2 * time.Minute).Format(time.RFC3339))
			w.endpointsIn("us-central1-a", "10.0.0.5", "node-a", "UNHEALTHY")
			w.endpointsIn("us-central1-b", "10.0.1.7", "node-b", "UNHEALTHY")
		}, append(slices.Clone(negCalls), firewallCalls...), HopNEG, Converging, "MC0421"},
		{"unhealthy endpoints of an old backend", func(w *world) {
			w.endpointsIn("us-central1-a", "10.0.0.5", "node-a", "UNHEALTHY")
			w.endpointsIn("us-central1-b", "10.0.1.7", "node-b", "UNHEALTHY")
		}, append(slices.Clone(negCalls), firewallCalls...), HopNEG, Broken, "MC0420"},
		{"one zone unhealthy, the other serves", func(w *world) {
			w.endpointsIn("us-central1-b", "10.0.1.7", "node-b", "UNHEALTHY")
		}, append(slices.Clone(negCalls), firewallCalls...), "", Warning, ""},
		{"NEGs without endpoints", func(w *world) {
			w.compute.endpoints["us-central1-a/"+negName] = nil
			w.compute.endpoints["us-central1-b/"+negName] = nil
			w.compute.health = map[string]*computepb.BackendServiceGroupHealth{}
		}, negCalls, HopNEG, Broken, "MC0423"},
		{"no Service reports the NEG", func(w *world) { w.removeKube("Service", "shop", "web-gateway") }, negCalls, HopService, Broken, "MC0425"},
		{"gateway pods not ready", func(w *world) {
			w.kubeYAML(strings.Replace(gatewayPod("gw-a", "10.0.0.5", "node-a"), `status: "True"`, `status: "False"`, 1) + "---" +
				strings.Replace(gatewayPod("gw-b", "10.0.1.7", "node-b"), `status: "True"`, `status: "False"`, 1))
		}, negCalls, HopGatewayPods, Broken, "MC0430"},
		{"gateway TLS secret missing", func(w *world) { w.removeKube("Secret", "shop", "web-gateway-cert") }, negCalls, HopIstioGateway, Broken, "MC0435"},
		{"Gateway server for named hosts only (no SNI)", func(w *world) {
			w.istioYAML(strings.Replace(istioYAML, `hosts: ["./*"]`, `hosts: ["./`+host+`"]`, 1))
		}, negCalls, HopIstioGateway, Broken, "MC0433"},
		{"backend speaks plain HTTP to a TLS server", func(w *world) {
			w.compute.get(lb.KindBackendService, "bs").(*computepb.BackendService).Protocol = proto.String("HTTP")
		}, negCalls, HopIstioGateway, Broken, "MC0410"},
		{"no VirtualService for the host", func(w *world) { w.removeKube("VirtualService", "shop", "web-gateway") }, negCalls, HopVirtualService, Broken, "MC0437"},
		{"no route for the path", func(w *world) {
			w.istioYAML(strings.Replace(istioYAML, "  - route:", "  - match: [{uri: {prefix: /shop}}]\n    route:", 1))
		}, negCalls, HopVirtualService, Broken, "MC0438"},
		{"destination without ready pods", func(w *world) { w.kubeYAML(appPod("web-1", false, true)) }, negCalls, HopDestination, Broken, "MC0442"},
		{"destination Service missing", func(w *world) { w.removeKube("Service", "shop", "web") }, negCalls, HopDestination, Broken, "MC0440"},
		{"ISTIO_MUTUAL to pods without sidecars", func(w *world) { w.kubeYAML(appPod("web-1", true, false)) }, negCalls, HopDestinationRule, Broken, "MC0444"},
		{"forwarding rules unreadable", func(w *world) { w.compute.listErr[lb.KindForwardingRule] = errDenied }, nil, HopForwardingRule, Unknown, "MC0100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.break_(w)
			for _, c := range tc.calls {
				w.reg.Stub(c)
			}
			res := w.run()
			got := "none"
			if a := res.Answer; a != nil {
				got = fmt.Sprintf("%s %s", a.Kind, a.State)
			}
			want := "none"
			if tc.kind != "" {
				want = fmt.Sprintf("%s %s", tc.kind, tc.state)
			}
			if got != want || res.State != tc.state {
				t.Errorf("answer %s, state %s; want %s, state %s\n%s", got, res.State, want, tc.state, render(t, res))
			}
			if tc.code != "" && !hopHas(res, tc.kind, tc.code) {
				t.Errorf("no %s on the %s hop:\n%s", tc.code, tc.kind, render(t, res))
			}
			if tc.state == OK && len(res.Findings) != 0 {
				t.Errorf("healthy trace with findings: %v", res.Findings)
			}
			if want := tc.state == Broken || tc.state == Unknown; res.Failed() != want {
				t.Errorf("Failed() = %v, want %v", res.Failed(), want)
			}
		})
	}
}

func hopHas(res *Result, kind HopKind, code string) bool {
	for _, p := range res.Paths {
		for _, h := range p.Hops {
			if h.Kind != kind {
				continue
			}
			for _, f := range h.Findings {
				if f.Code == code {
					return true
				}
			}
		}
	}
	return false
}

func render(t *testing.T, r *Result) string {
	var b strings.Builder
	if err := r.RenderText(&b, noColor); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The healthy trace shows every hop, in the order a request meets them,
// and reads nothing but the lists, the NEGs' health and endpoints and the
// cluster.
func TestTraceHealthyHops(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	res := w.run()
	var kinds []string
	for _, h := range res.Paths[0].Hops {
		kinds = append(kinds, string(h.Kind))
	}
	want := "forwarding rule,target proxy,URL map,backend service,NEG,NEG,Service,gateway pods,Istio Gateway,VirtualService,destination,DestinationRule"
	if strings.Join(kinds, ",") != want {
		t.Errorf("hops %s\nwant %s", strings.Join(kinds, ","), want)
	}
	if got := res.Paths[0].BuiltBy; got != "built by meshctl expose (c/shop/web)" {
		t.Errorf("built by %q", got)
	}
	if res.Target.ResolvedBy != "--address" || res.Target.Addresses[0] != frIP {
		t.Errorf("resolution %+v", res.Target)
	}
}

// A host DNS resolves is traced through the forwarding rule with that
// address, even when another load balancer has a host rule for it.
func TestTraceFollowsDNS(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	w.compute.put(t, lb.KindForwardingRule, `{"name":"other-fr","IPAddress":"34.2.2.2","portRange":"443-443","target":"`+link+`global/targetHttpsProxies/https"}`)
	w.dns[host] = []string{frIP}
	w.opts.Address = ""
	res := w.run()
	if len(res.Paths) != 1 || res.Paths[0].ForwardingRule != "fr-443" || res.Target.ResolvedBy != "dns" {
		t.Fatalf("paths %+v, resolved by %q", res.Paths, res.Target.ResolvedBy)
	}
	if res.State != OK {
		t.Errorf("state %s\n%s", res.State, render(t, res))
	}
}

// Without DNS, a host found only by the URL map's host rules is served,
// with a warning that clients cannot reach it yet.
func TestTraceWarnsWithoutDNS(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	w.opts.Target, w.opts.Address = host, ""
	res := w.run()
	if res.State != Warning || !hopHas(res, HopForwardingRule, findings.TraceDNS.Code) {
		t.Errorf("state %s\n%s", res.State, render(t, res))
	}
}

// An http:// request meets the redirect to HTTPS and ends there.
func TestTraceRedirect(t *testing.T) {
	w := newWorld(t)
	w.compute.put(t, lb.KindForwardingRule, `{"name":"fr-80","IPAddress":"`+frIP+`","portRange":"80-80","target":"`+link+`global/targetHttpProxies/http"}`)
	w.compute.put(t, lb.KindHTTPProxy, `{"name":"http","urlMap":"`+link+`global/urlMaps/redirect"}`)
	w.compute.put(t, lb.KindURLMap, `{"name":"redirect","defaultUrlRedirect":{"httpsRedirect":true,"redirectResponseCode":"MOVED_PERMANENTLY_DEFAULT"}}`)
	w.opts.Target = "http://" + host + "/cart"
	w.opts.Address = frIP
	res := w.run()
	if res.State != OK || len(res.Paths) != 1 || res.Paths[0].End != "redirect (301) to https://"+host+"/cart" {
		t.Errorf("state %s, paths %+v\n%s", res.State, res.Paths, render(t, res))
	}
}

// A URL map splitting traffic by weight gives a path per backend.
func TestTraceWeightedBackends(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	w.compute.put(t, lb.KindURLMap, `{"name":"um","hostRules":[{"hosts":["*"],"pathMatcher":"pm"}],"pathMatchers":[{"name":"pm","defaultService":"`+link+`global/backendServices/bs",
		"routeRules":[{"priority":1,"matchRules":[{"prefixMatch":"/"}],"routeAction":{"weightedBackendServices":[
			{"backendService":"`+link+`global/backendServices/bs","weight":90},{"backendService":"`+link+`global/backendServices/canary","weight":10}]}}]}]}`)
	w.opts.Address = frIP
	res := w.run()
	if len(res.Paths) != 2 || res.Paths[0].Weight != 90 || res.Paths[1].Weight != 10 {
		t.Fatalf("paths %+v", res.Paths)
	}
	if res.Answer == nil || res.Answer.Path != 1 || res.Answer.Kind != HopURLMap || !hopHas(res, HopURLMap, "MC0402") {
		t.Errorf("the canary backend does not exist: answer %+v\n%s", res.Answer, render(t, res))
	}
}

// GKE Gateway's default backend answers 404: the URL map is the answer.
func TestTraceGatewayDefaultBackend(t *testing.T) {
	w := newWorld(t)
	w.compute.put(t, lb.KindURLMap, `{"name":"um","defaultService":"`+link+`global/backendServices/gkegw1-ab12-shop-gw-serve404-80-xyz","hostRules":[{"hosts":["`+host+`"],"pathMatcher":"pm"}],
		"pathMatchers":[{"name":"pm","defaultService":"`+link+`global/backendServices/gkegw1-ab12-shop-gw-serve404-80-xyz","routeRules":[{"priority":1,"matchRules":[{"prefixMatch":"/api/"}],"service":"`+link+`global/backendServices/bs"}]}]}`)
	res := w.run()
	if res.Answer == nil || res.Answer.Kind != HopURLMap || !hopHas(res, HopURLMap, "MC0408") || !strings.Contains(res.Answer.Message, "404") {
		t.Errorf("answer %+v\n%s", res.Answer, render(t, res))
	}
}

// Without a Kubernetes client the trace stops at the cluster's edge and
// says why.
func TestTraceWithoutKubernetes(t *testing.T) {
	w := newWorld(t)
	for _, c := range negCalls {
		w.reg.Stub(c)
	}
	c := w.clients()
	c.Kube, c.Dynamic, c.KubeErr = nil, nil, fmt.Errorf("no kubeconfig")
	res, err := Run(t.Context(), c, w.opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Answer == nil || res.Answer.Kind != HopService || res.Answer.State != Unknown || !strings.Contains(res.Answer.Message, "no kubeconfig") {
		t.Errorf("answer %+v", res.Answer)
	}
}
