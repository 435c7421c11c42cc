package fakegcp

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

const negZone = "us-central1-a"

// buildChain creates, with the official clients, the global external HTTPS
// load balancer of field-notes section 6 in front of a NEG the NEG
// controller's hook made: address, health check, Cloud Armor policy, SSL
// policy, managed certificate, backend service with the NEG, URL map, HTTPS
// proxy and forwarding rule.
func (e *env) buildChain(t *testing.T) {
	t.Helper()
	if err := e.srv.EnsureNEG(negZone, "gw-neg", `{"cluster-uid":"x"}`); err != nil {
		t.Fatalf("EnsureNEG: %v", err)
	}
	e.done(t)(e.addr.Insert(e.ctx, &computepb.InsertGlobalAddressRequest{Project: project,
		AddressResource: &computepb.Address{Name: proto.String("web-ip")}}))
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("gw-hc"), Type: proto.String("HTTP"),
			HttpHealthCheck: &computepb.HTTPHealthCheck{Port: proto.Int32(15021), RequestPath: proto.String("/healthz/ready")}}}))
	e.done(t)(e.sp.Insert(e.ctx, &computepb.InsertSecurityPolicyRequest{Project: project,
		SecurityPolicyResource: &computepb.SecurityPolicy{Name: proto.String("web-armor")}}))
	e.done(t)(e.sslp.Insert(e.ctx, &computepb.InsertSslPolicyRequest{Project: project,
		SslPolicyResource: &computepb.SslPolicy{Name: proto.String("web-ssl"), Profile: proto.String("RESTRICTED"), MinTlsVersion: proto.String("TLS_1_2")}}))
	e.done(t)(e.cert.Insert(e.ctx, &computepb.InsertSslCertificateRequest{Project: project,
		SslCertificateResource: &computepb.SslCertificate{Name: proto.String("web-cert"), Type: proto.String("MANAGED"),
			Managed: &computepb.SslCertificateManagedSslCertificate{Domains: []string{"www.example.com"}}}}))
	e.done(t)(e.bs.Insert(e.ctx, &computepb.InsertBackendServiceRequest{Project: project,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("gw-bs"), Protocol: proto.String("HTTP2"),
			LoadBalancingScheme: proto.String("EXTERNAL_MANAGED"),
			HealthChecks:        []string{globalLink("healthChecks", "gw-hc")},
			Backends: []*computepb.Backend{{Group: proto.String(zonalLink(negZone, "networkEndpointGroups", "gw-neg")),
				BalancingMode: proto.String("RATE"), MaxRatePerEndpoint: proto.Float32(100)}}}}))
	e.done(t)(e.bs.SetSecurityPolicy(e.ctx, &computepb.SetSecurityPolicyBackendServiceRequest{Project: project, BackendService: "gw-bs",
		SecurityPolicyReferenceResource: &computepb.SecurityPolicyReference{SecurityPolicy: proto.String(globalLink("securityPolicies", "web-armor"))}}))
	e.done(t)(e.um.Insert(e.ctx, &computepb.InsertUrlMapRequest{Project: project,
		UrlMapResource: &computepb.UrlMap{Name: proto.String("web-map"), DefaultService: proto.String("global/backendServices/gw-bs")}}))
	e.done(t)(e.https.Insert(e.ctx, &computepb.InsertTargetHttpsProxyRequest{Project: project,
		TargetHttpsProxyResource: &computepb.TargetHttpsProxy{Name: proto.String("web-https"),
			UrlMap:          proto.String("projects/" + project + "/global/urlMaps/web-map"),
			SslCertificates: []string{"web-cert"},
			SslPolicy:       proto.String(globalLink("sslPolicies", "web-ssl"))}}))
	e.done(t)(e.fr.Insert(e.ctx, &computepb.InsertGlobalForwardingRuleRequest{Project: project,
		ForwardingRuleResource: &computepb.ForwardingRule{Name: proto.String("web-443"),
			LoadBalancingScheme: proto.String("EXTERNAL_MANAGED"), PortRange: proto.String("443"),
			IPAddress: proto.String(globalLink("addresses", "web-ip")),
			Target:    proto.String(globalLink("targetHttpsProxies", "web-https"))}}))
}
