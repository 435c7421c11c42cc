package fakegcp

import (
	"slices"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestChainReadsBackAsGoogleAnswers builds the load balancer with the
// official clients and checks what each Get answers: server defaults,
// references expanded to full links whatever form they were sent in, and
// the links between objects.
func TestChainReadsBackAsGoogleAnswers(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)

	addr, err := e.addr.Get(e.ctx, &computepb.GetGlobalAddressRequest{Project: project, Address: "web-ip"})
	if err != nil {
		t.Fatal(err)
	}
	if addr.GetAddress() == "" || addr.GetStatus() != "IN_USE" || !slices.Contains(addr.GetUsers(), globalLink("forwardingRules", "web-443")) {
		t.Errorf("address: %v", addr)
	}

	hc, err := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gw-hc"})
	if err != nil {
		t.Fatal(err)
	}
	if hc.GetCheckIntervalSec() != 5 || hc.GetTimeoutSec() != 5 || hc.GetHealthyThreshold() != 2 ||
		hc.GetHttpHealthCheck().GetPort() != 15021 || hc.GetHttpHealthCheck().GetProxyHeader() != "NONE" {
		t.Errorf("health check defaults: %v", hc)
	}

	bs, err := e.bs.Get(e.ctx, &computepb.GetBackendServiceRequest{Project: project, BackendService: "gw-bs"})
	if err != nil {
		t.Fatal(err)
	}
	if bs.GetFingerprint() == "" || bs.GetTimeoutSec() != 30 || bs.GetSessionAffinity() != "NONE" ||
		bs.GetSecurityPolicy() != globalLink("securityPolicies", "web-armor") ||
		bs.GetHealthChecks()[0] != globalLink("healthChecks", "gw-hc") ||
		bs.GetBackends()[0].GetGroup() != zonalLink(negZone, "networkEndpointGroups", "gw-neg") ||
		bs.GetBackends()[0].GetCapacityScaler() != 1 {
		t.Errorf("backend service: %v", bs)
	}

	um, err := e.um.Get(e.ctx, &computepb.GetUrlMapRequest{Project: project, UrlMap: "web-map"})
	if err != nil {
		t.Fatal(err)
	}
	if um.GetDefaultService() != globalLink("backendServices", "gw-bs") || um.GetFingerprint() == "" {
		t.Errorf("url map: %v", um)
	}

	p, err := e.https.Get(e.ctx, &computepb.GetTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https"})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetUrlMap() != globalLink("urlMaps", "web-map") || p.GetSslCertificates()[0] != globalLink("sslCertificates", "web-cert") ||
		p.GetSslPolicy() != globalLink("sslPolicies", "web-ssl") || p.GetQuicOverride() != "NONE" || p.GetTlsEarlyData() != "DISABLED" {
		t.Errorf("https proxy: %v", p)
	}

	fr, err := e.fr.Get(e.ctx, &computepb.GetGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443"})
	if err != nil {
		t.Fatal(err)
	}
	if fr.GetIPAddress() != addr.GetAddress() || fr.GetPortRange() != "443-443" || fr.GetIPProtocol() != "TCP" ||
		fr.GetNetworkTier() != "PREMIUM" || fr.GetTarget() != globalLink("targetHttpsProxies", "web-https") || fr.GetLabelFingerprint() == "" {
		t.Errorf("forwarding rule: %v", fr)
	}

	sslp, err := e.sslp.Get(e.ctx, &computepb.GetSslPolicyRequest{Project: project, SslPolicy: "web-ssl"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sslp.GetEnabledFeatures(), sslProfileFeatures["RESTRICTED"]) {
		t.Errorf("ssl policy features: %v", sslp.GetEnabledFeatures())
	}

	sp, err := e.sp.Get(e.ctx, &computepb.GetSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.GetRules()) != 1 || sp.GetRules()[0].GetPriority() != defaultRulePriority || sp.GetRules()[0].GetAction() != "allow" || sp.GetType() != "CLOUD_ARMOR" {
		t.Errorf("security policy default rule: %v", sp.GetRules())
	}

	it := e.bs.List(e.ctx, &computepb.ListBackendServicesRequest{Project: project})
	if got, err := it.Next(); err != nil || got.GetName() != "gw-bs" {
		t.Errorf("list backend services: %v %v", got, err)
	}
}

// TestChainTeardownInReverseOrder deletes the chain as field-notes section 6
// prescribes; every delete completes and the object is gone.
func TestChainTeardownInReverseOrder(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)
	e.done(t)(e.fr.Delete(e.ctx, &computepb.DeleteGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443"}))
	e.done(t)(e.https.Delete(e.ctx, &computepb.DeleteTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https"}))
	e.done(t)(e.um.Delete(e.ctx, &computepb.DeleteUrlMapRequest{Project: project, UrlMap: "web-map"}))
	e.done(t)(e.bs.Delete(e.ctx, &computepb.DeleteBackendServiceRequest{Project: project, BackendService: "gw-bs"}))
	e.done(t)(e.hc.Delete(e.ctx, &computepb.DeleteHealthCheckRequest{Project: project, HealthCheck: "gw-hc"}))
	e.done(t)(e.sp.Delete(e.ctx, &computepb.DeleteSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor"}))
	e.done(t)(e.sslp.Delete(e.ctx, &computepb.DeleteSslPolicyRequest{Project: project, SslPolicy: "web-ssl"}))
	e.done(t)(e.cert.Delete(e.ctx, &computepb.DeleteSslCertificateRequest{Project: project, SslCertificate: "web-cert"}))
	e.done(t)(e.addr.Delete(e.ctx, &computepb.DeleteGlobalAddressRequest{Project: project, Address: "web-ip"}))
	if err := e.srv.DeleteNEG(negZone, "gw-neg"); err != nil {
		t.Errorf("DeleteNEG after the backend service is gone: %v", err)
	}
	_, err := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gw-hc"})
	wantAPIError(t, err, 404, "notFound")
	for _, r := range e.srv.State().Resources {
		if k := str(r, "kind"); !projectInfrastructure[k] {
			t.Errorf("left behind: %s", str(r, "selfLink"))
		}
	}
}

// TestWritesChangeObjectsAndFingerprints runs every update method on the
// chain and checks the change lands, the fingerprint moves, and the old
// fingerprint is then refused with 412.
func TestWritesChangeObjectsAndFingerprints(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)

	t.Run("backend service update keeps the attached policy", func(t *testing.T) {
		bs, _ := e.bs.Get(e.ctx, &computepb.GetBackendServiceRequest{Project: project, BackendService: "gw-bs"})
		old := bs.GetFingerprint()
		bs.TimeoutSec = proto.Int32(60)
		bs.SecurityPolicy = nil // a client writing the object back cannot detach it this way
		e.done(t)(e.bs.Update(e.ctx, &computepb.UpdateBackendServiceRequest{Project: project, BackendService: "gw-bs", BackendServiceResource: bs}))
		got, _ := e.bs.Get(e.ctx, &computepb.GetBackendServiceRequest{Project: project, BackendService: "gw-bs"})
		if got.GetTimeoutSec() != 60 || got.GetFingerprint() == old || got.GetSecurityPolicy() == "" {
			t.Errorf("after update: timeout %d fingerprint %q (was %q) policy %q", got.GetTimeoutSec(), got.GetFingerprint(), old, got.GetSecurityPolicy())
		}
		bs.Fingerprint = proto.String(old)
		_, err := e.bs.Update(e.ctx, &computepb.UpdateBackendServiceRequest{Project: project, BackendService: "gw-bs", BackendServiceResource: bs})
		wantAPIError(t, err, 412, "conditionNotMet")
	})

	t.Run("url map patch", func(t *testing.T) {
		um, _ := e.um.Get(e.ctx, &computepb.GetUrlMapRequest{Project: project, UrlMap: "web-map"})
		patch := &computepb.UrlMap{Fingerprint: um.Fingerprint,
			HostRules:    []*computepb.HostRule{{Hosts: []string{"www.example.com"}, PathMatcher: proto.String("web")}},
			PathMatchers: []*computepb.PathMatcher{{Name: proto.String("web"), DefaultService: proto.String("gw-bs")}}}
		e.done(t)(e.um.Patch(e.ctx, &computepb.PatchUrlMapRequest{Project: project, UrlMap: "web-map", UrlMapResource: patch}))
		got, _ := e.um.Get(e.ctx, &computepb.GetUrlMapRequest{Project: project, UrlMap: "web-map"})
		if got.GetDefaultService() == "" || got.GetPathMatchers()[0].GetDefaultService() != globalLink("backendServices", "gw-bs") {
			t.Errorf("after patch: %v", got)
		}
		_, err := e.um.Patch(e.ctx, &computepb.PatchUrlMapRequest{Project: project, UrlMap: "web-map", UrlMapResource: patch})
		wantAPIError(t, err, 412, "conditionNotMet")
	})

	t.Run("https proxy set methods", func(t *testing.T) {
		e.done(t)(e.um.Insert(e.ctx, &computepb.InsertUrlMapRequest{Project: project,
			UrlMapResource: &computepb.UrlMap{Name: proto.String("web-map-2"), DefaultService: proto.String("gw-bs")}}))
		e.done(t)(e.https.SetUrlMap(e.ctx, &computepb.SetUrlMapTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https",
			UrlMapReferenceResource: &computepb.UrlMapReference{UrlMap: proto.String("web-map-2")}}))
		e.done(t)(e.cert.Insert(e.ctx, &computepb.InsertSslCertificateRequest{Project: project, SslCertificateResource: &computepb.SslCertificate{
			Name: proto.String("web-cert-2"), Managed: &computepb.SslCertificateManagedSslCertificate{Domains: []string{"api.example.com"}}}}))
		e.done(t)(e.https.SetSslCertificates(e.ctx, &computepb.SetSslCertificatesTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https",
			TargetHttpsProxiesSetSslCertificatesRequestResource: &computepb.TargetHttpsProxiesSetSslCertificatesRequest{SslCertificates: []string{"web-cert", "web-cert-2"}}}))
		e.done(t)(e.https.SetSslPolicy(e.ctx, &computepb.SetSslPolicyTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https",
			SslPolicyReferenceResource: &computepb.SslPolicyReference{}}))
		p, _ := e.https.Get(e.ctx, &computepb.GetTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https"})
		if p.GetUrlMap() != globalLink("urlMaps", "web-map-2") || len(p.GetSslCertificates()) != 2 || p.GetSslPolicy() != "" {
			t.Errorf("proxy: %v", p)
		}
	})

	t.Run("forwarding rule labels and target", func(t *testing.T) {
		fr, _ := e.fr.Get(e.ctx, &computepb.GetGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443"})
		e.done(t)(e.fr.SetLabels(e.ctx, &computepb.SetLabelsGlobalForwardingRuleRequest{Project: project, Resource: "web-443",
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: fr.LabelFingerprint, Labels: map[string]string{"managed-by": "meshctl"}}}))
		_, err := e.fr.SetLabels(e.ctx, &computepb.SetLabelsGlobalForwardingRuleRequest{Project: project, Resource: "web-443",
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: fr.LabelFingerprint, Labels: map[string]string{"x": "y"}}})
		wantAPIError(t, err, 412, "conditionNotMet")

		e.done(t)(e.http.Insert(e.ctx, &computepb.InsertTargetHttpProxyRequest{Project: project,
			TargetHttpProxyResource: &computepb.TargetHttpProxy{Name: proto.String("web-http"), UrlMap: proto.String("web-map")}}))
		e.done(t)(e.fr.SetTarget(e.ctx, &computepb.SetTargetGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443",
			TargetReferenceResource: &computepb.TargetReference{Target: proto.String(globalLink("targetHttpProxies", "web-http"))}}))
		got, _ := e.fr.Get(e.ctx, &computepb.GetGlobalForwardingRuleRequest{Project: project, ForwardingRule: "web-443"})
		if got.GetLabels()["managed-by"] != "meshctl" || got.GetTarget() != globalLink("targetHttpProxies", "web-http") {
			t.Errorf("forwarding rule: %v", got)
		}
	})

	t.Run("security policy rules", func(t *testing.T) {
		rule := &computepb.SecurityPolicyRule{Priority: proto.Int32(1000), Action: proto.String("deny(403)"),
			Match: &computepb.SecurityPolicyRuleMatcher{Expr: &computepb.Expr{Expression: proto.String("evaluatePreconfiguredExpr('xss-stable')")}}}
		e.done(t)(e.sp.AddRule(e.ctx, &computepb.AddRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", SecurityPolicyRuleResource: rule}))
		_, err := e.sp.AddRule(e.ctx, &computepb.AddRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", SecurityPolicyRuleResource: rule})
		wantAPIError(t, err, 400, "invalid")
		e.done(t)(e.sp.PatchRule(e.ctx, &computepb.PatchRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", Priority: proto.Int32(1000),
			SecurityPolicyRuleResource: &computepb.SecurityPolicyRule{Preview: proto.Bool(true)}}))
		got, err := e.sp.GetRule(e.ctx, &computepb.GetRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", Priority: proto.Int32(1000)})
		if err != nil || !got.GetPreview() || got.GetAction() != "deny(403)" {
			t.Errorf("rule after patch: %v %v", got, err)
		}
		e.done(t)(e.sp.RemoveRule(e.ctx, &computepb.RemoveRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", Priority: proto.Int32(1000)}))
		_, err = e.sp.GetRule(e.ctx, &computepb.GetRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", Priority: proto.Int32(1000)})
		wantAPIError(t, err, 400, "invalid")
		_, err = e.sp.RemoveRule(e.ctx, &computepb.RemoveRuleSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor", Priority: proto.Int32(defaultRulePriority)})
		wantAPIError(t, err, 400, "invalid")
	})

	t.Run("ssl policy patch recomputes features", func(t *testing.T) {
		p, _ := e.sslp.Get(e.ctx, &computepb.GetSslPolicyRequest{Project: project, SslPolicy: "web-ssl"})
		e.done(t)(e.sslp.Patch(e.ctx, &computepb.PatchSslPolicyRequest{Project: project, SslPolicy: "web-ssl",
			SslPolicyResource: &computepb.SslPolicy{Fingerprint: p.Fingerprint, Profile: proto.String("MODERN")}}))
		got, _ := e.sslp.Get(e.ctx, &computepb.GetSslPolicyRequest{Project: project, SslPolicy: "web-ssl"})
		if got.GetProfile() != "MODERN" || len(got.GetEnabledFeatures()) != 10 || got.GetMinTlsVersion() != "TLS_1_2" {
			t.Errorf("ssl policy: %v", got)
		}
	})

	t.Run("health check update and patch", func(t *testing.T) {
		e.done(t)(e.hc.Patch(e.ctx, &computepb.PatchHealthCheckRequest{Project: project, HealthCheck: "gw-hc",
			HealthCheckResource: &computepb.HealthCheck{CheckIntervalSec: proto.Int32(15)}}))
		got, _ := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gw-hc"})
		if got.GetCheckIntervalSec() != 15 || got.GetHttpHealthCheck().GetPort() != 15021 {
			t.Errorf("patched health check: %v", got)
		}
		got.HttpHealthCheck.Port = proto.Int32(8080)
		e.done(t)(e.hc.Update(e.ctx, &computepb.UpdateHealthCheckRequest{Project: project, HealthCheck: "gw-hc", HealthCheckResource: got}))
		got, _ = e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "gw-hc"})
		if got.GetHttpHealthCheck().GetPort() != 8080 {
			t.Errorf("updated health check: %v", got)
		}
	})

	t.Run("address labels", func(t *testing.T) {
		a, _ := e.addr.Get(e.ctx, &computepb.GetGlobalAddressRequest{Project: project, Address: "web-ip"})
		e.done(t)(e.addr.SetLabels(e.ctx, &computepb.SetLabelsGlobalAddressRequest{Project: project, Resource: "web-ip",
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: a.LabelFingerprint, Labels: map[string]string{"env": "prod"}}}))
		got, _ := e.addr.Get(e.ctx, &computepb.GetGlobalAddressRequest{Project: project, Address: "web-ip"})
		if got.GetLabels()["env"] != "prod" || got.GetLabelFingerprint() == a.GetLabelFingerprint() {
			t.Errorf("address labels: %v", got)
		}
	})
}

func TestFirewallLifecycle(t *testing.T) {
	e := newEnv(t)
	e.done(t)(e.fw.Insert(e.ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: &computepb.Firewall{
		Name: proto.String("allow-gfe"), Network: proto.String("http://127.0.0.1:1/compute/v1/projects/" + project + "/global/networks/default"),
		SourceRanges: []string{"130.211.0.0/22", "35.191.0.0/16"}, TargetTags: []string{e.srv.Scenario().NodeTag()},
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"15021", "8443"}}}}}))
	got, err := e.fw.Get(e.ctx, &computepb.GetFirewallRequest{Project: project, Firewall: "allow-gfe"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetDirection() != "INGRESS" || got.GetPriority() != 1000 || got.GetNetwork() != globalLink("networks", "default") {
		t.Errorf("firewall: %v", got)
	}
	e.done(t)(e.fw.Patch(e.ctx, &computepb.PatchFirewallRequest{Project: project, Firewall: "allow-gfe",
		FirewallResource: &computepb.Firewall{Disabled: proto.Bool(true)}}))
	got, _ = e.fw.Get(e.ctx, &computepb.GetFirewallRequest{Project: project, Firewall: "allow-gfe"})
	if !got.GetDisabled() || len(got.GetAllowed()) != 1 {
		t.Errorf("patched firewall: %v", got)
	}
	e.done(t)(e.fw.Delete(e.ctx, &computepb.DeleteFirewallRequest{Project: project, Firewall: "allow-gfe"}))
	_, err = e.fw.Get(e.ctx, &computepb.GetFirewallRequest{Project: project, Firewall: "allow-gfe"})
	wantAPIError(t, err, 404, "notFound")
}

// TestNEGThroughTheAPI covers the zonal NEG methods and zonal operations.
func TestNEGThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	op := e.done(t)(e.neg.Insert(e.ctx, &computepb.InsertNetworkEndpointGroupRequest{Project: project, Zone: negZone,
		NetworkEndpointGroupResource: &computepb.NetworkEndpointGroup{Name: proto.String("manual-neg"), DefaultPort: proto.Int32(8080)}}))
	if op.GetZone() != computeBase+"projects/"+project+"/zones/"+negZone {
		t.Errorf("zonal operation zone = %q", op.GetZone())
	}
	node := e.nodeIn(t, negZone)
	e.done(t)(e.neg.AttachNetworkEndpoints(e.ctx, &computepb.AttachNetworkEndpointsNetworkEndpointGroupRequest{Project: project, Zone: negZone,
		NetworkEndpointGroup: "manual-neg", NetworkEndpointGroupsAttachEndpointsRequestResource: &computepb.NetworkEndpointGroupsAttachEndpointsRequest{
			NetworkEndpoints: []*computepb.NetworkEndpoint{{Instance: proto.String(node), IpAddress: proto.String("10.112.0.5")}}}}))
	neg, err := e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "manual-neg"})
	if err != nil || neg.GetSize() != 1 || neg.GetNetworkEndpointType() != "GCE_VM_IP_PORT" || neg.GetNetwork() != globalLink("networks", "default") {
		t.Fatalf("neg: %v %v", neg, err)
	}
	it := e.neg.ListNetworkEndpoints(e.ctx, &computepb.ListNetworkEndpointsNetworkEndpointGroupsRequest{Project: project, Zone: negZone,
		NetworkEndpointGroup: "manual-neg", NetworkEndpointGroupsListEndpointsRequestResource: &computepb.NetworkEndpointGroupsListEndpointsRequest{}})
	ep, err := it.Next()
	if err != nil || ep.GetNetworkEndpoint().GetPort() != 8080 || ep.GetNetworkEndpoint().GetInstance() != node {
		t.Errorf("endpoint: %v %v", ep, err)
	}
	_, err = e.neg.AttachNetworkEndpoints(e.ctx, &computepb.AttachNetworkEndpointsNetworkEndpointGroupRequest{Project: project, Zone: negZone,
		NetworkEndpointGroup: "manual-neg", NetworkEndpointGroupsAttachEndpointsRequestResource: &computepb.NetworkEndpointGroupsAttachEndpointsRequest{
			NetworkEndpoints: []*computepb.NetworkEndpoint{{Instance: proto.String("not-a-node"), IpAddress: proto.String("10.0.0.1")}}}})
	wantAPIError(t, err, 400, "invalid")
	e.done(t)(e.neg.DetachNetworkEndpoints(e.ctx, &computepb.DetachNetworkEndpointsNetworkEndpointGroupRequest{Project: project, Zone: negZone,
		NetworkEndpointGroup: "manual-neg", NetworkEndpointGroupsDetachEndpointsRequestResource: &computepb.NetworkEndpointGroupsDetachEndpointsRequest{
			NetworkEndpoints: []*computepb.NetworkEndpoint{{Instance: proto.String(node), IpAddress: proto.String("10.112.0.5"), Port: proto.Int32(8080)}}}}))
	neg, _ = e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "manual-neg"})
	if neg.GetSize() != 0 {
		t.Errorf("size after detach = %d", neg.GetSize())
	}
	e.done(t)(e.neg.Delete(e.ctx, &computepb.DeleteNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "manual-neg"}))
	_, err = e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "manual-neg"})
	wantAPIError(t, err, 404, "notFound")
}

// nodeIn names a node of the scenario in zone.
func (e *env) nodeIn(t *testing.T, zone string) string {
	t.Helper()
	for _, n := range e.srv.Scenario().Nodes() {
		if n.Zone == zone {
			return n.Name
		}
	}
	t.Fatalf("no node in %s", zone)
	return ""
}

// TestListEveryCollection lists each collection the chain touches with its
// official client and finds the chain's object there.
func TestListEveryCollection(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)
	e.done(t)(e.http.Insert(e.ctx, &computepb.InsertTargetHttpProxyRequest{Project: project,
		TargetHttpProxyResource: &computepb.TargetHttpProxy{Name: proto.String("web-http"), UrlMap: proto.String("web-map")}}))
	first := func(name string, err error) string {
		if err != nil {
			t.Errorf("list: %v", err)
		}
		return name
	}
	cases := []struct {
		collection, want string
		list             func() string
	}{
		{"addresses", "web-ip", func() string {
			a, err := e.addr.List(e.ctx, &computepb.ListGlobalAddressesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"healthChecks", "gw-hc", func() string {
			a, err := e.hc.List(e.ctx, &computepb.ListHealthChecksRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"urlMaps", "web-map", func() string {
			a, err := e.um.List(e.ctx, &computepb.ListUrlMapsRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"targetHttpsProxies", "web-https", func() string {
			a, err := e.https.List(e.ctx, &computepb.ListTargetHttpsProxiesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"targetHttpProxies", "web-http", func() string {
			a, err := e.http.List(e.ctx, &computepb.ListTargetHttpProxiesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"forwardingRules", "web-443", func() string {
			a, err := e.fr.List(e.ctx, &computepb.ListGlobalForwardingRulesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"sslCertificates", "web-cert", func() string {
			a, err := e.cert.List(e.ctx, &computepb.ListSslCertificatesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"sslPolicies", "web-ssl", func() string {
			a, err := e.sslp.List(e.ctx, &computepb.ListSslPoliciesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"securityPolicies", "web-armor", func() string {
			a, err := e.sp.List(e.ctx, &computepb.ListSecurityPoliciesRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
		{"networkEndpointGroups", "gw-neg", func() string {
			a, err := e.neg.List(e.ctx, &computepb.ListNetworkEndpointGroupsRequest{Project: project, Zone: negZone}).Next()
			return first(a.GetName(), err)
		}},
		{"networks", "default", func() string {
			a, err := e.nets.List(e.ctx, &computepb.ListNetworksRequest{Project: project}).Next()
			return first(a.GetName(), err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.collection, func(t *testing.T) {
			if got := tc.list(); got != tc.want {
				t.Errorf("first item %q, want %q", got, tc.want)
			}
		})
	}
	e.done(t)(e.http.Delete(e.ctx, &computepb.DeleteTargetHttpProxyRequest{Project: project, TargetHttpProxy: "web-http"}))
	_, err := e.http.Get(e.ctx, &computepb.GetTargetHttpProxyRequest{Project: project, TargetHttpProxy: "web-http"})
	wantAPIError(t, err, 404, "notFound")
}
