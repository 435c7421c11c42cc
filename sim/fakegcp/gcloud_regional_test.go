package fakegcp

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// The real gcloud drives each kind of the regional surface and Certificate
// Manager through its life: create, describe, update, a refused delete of
// an object in use, delete. gcloud takes a second or more per call, so the
// tests run in parallel, each against its own fake.

const region = "us-central1"

// TestGcloudInternalPassthroughLoadBalancer: a custom network and
// subnetwork, a regional internal address, a regional health check, an
// INTERNAL regional backend service and an internal forwarding rule with
// global access.
func TestGcloudInternalPassthroughLoadBalancer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGcloud(t, e)
	r := []string{"--region", region}
	g.must("compute", "networks", "create", "mesh-net", "--subnet-mode", "custom")
	g.must(append([]string{"compute", "networks", "subnets", "create", "mesh-sub", "--network", "mesh-net", "--range", "10.10.0.0/20"}, r...)...)
	g.must(append([]string{"compute", "addresses", "create", "ilb-ip", "--subnet", "mesh-sub", "--addresses", "10.10.0.50"}, r...)...)
	g.must(append([]string{"compute", "health-checks", "create", "tcp", "ilb-hc", "--port", "15021"}, r...)...)
	g.must(append([]string{"compute", "backend-services", "create", "ilb-bs", "--load-balancing-scheme", "INTERNAL", "--protocol", "TCP",
		"--health-checks", "ilb-hc", "--health-checks-region", region, "--network", "mesh-net"}, r...)...)
	g.must(append([]string{"compute", "forwarding-rules", "create", "ilb-fr", "--load-balancing-scheme", "INTERNAL", "--network", "mesh-net",
		"--subnet", "mesh-sub", "--address", "ilb-ip", "--ports", "15443", "--backend-service", "ilb-bs", "--allow-global-access"}, r...)...)

	e.wantFields(globalLink("networks", "mesh-net"), map[string]any{"autoCreateSubnetworks": false, "subnetworks": []any{regionalLink("subnetworks", "mesh-sub")}})
	g.describe(append([]string{"compute", "networks", "subnets", "describe", "mesh-sub"}, r...),
		map[string]any{"ipCidrRange": "10.10.0.0/20", "gatewayAddress": "10.10.0.1", "network": globalLink("networks", "mesh-net")})
	g.describe(append([]string{"compute", "addresses", "describe", "ilb-ip"}, r...),
		map[string]any{"address": "10.10.0.50", "addressType": "INTERNAL", "status": "IN_USE", "purpose": "GCE_ENDPOINT"})
	g.describe(append([]string{"compute", "health-checks", "describe", "ilb-hc"}, r...), map[string]any{"type": "TCP", "tcpHealthCheck.port": float64(15021)})
	bs := g.describe(append([]string{"compute", "backend-services", "describe", "ilb-bs"}, r...),
		map[string]any{"loadBalancingScheme": "INTERNAL", "protocol": "TCP", "network": globalLink("networks", "mesh-net")})
	if hcs, _ := bs["healthChecks"].([]any); len(hcs) != 1 || hcs[0] != regionalLink("healthChecks", "ilb-hc") {
		t.Errorf("backend service health checks %v, want the regional ilb-hc", bs["healthChecks"])
	}
	fr := g.describe(append([]string{"compute", "forwarding-rules", "describe", "ilb-fr"}, r...), map[string]any{
		"IPAddress": "10.10.0.50", "allowGlobalAccess": true, "loadBalancingScheme": "INTERNAL",
		"backendService": regionalLink("backendServices", "ilb-bs"), "subnetwork": regionalLink("subnetworks", "mesh-sub"),
	})
	if ports := fr["ports"]; len(ports.([]any)) != 1 {
		t.Errorf("forwarding rule ports %v, want [15443]", ports)
	}

	// Updates: each through the method gcloud picks for it.
	g.must(append([]string{"compute", "forwarding-rules", "update", "ilb-fr", "--no-allow-global-access"}, r...)...)
	g.must(append([]string{"compute", "backend-services", "update", "ilb-bs", "--timeout", "60"}, r...)...)
	g.must(append([]string{"compute", "health-checks", "update", "tcp", "ilb-hc", "--port", "15020"}, r...)...)
	g.must(append([]string{"compute", "networks", "subnets", "update", "mesh-sub", "--enable-private-ip-google-access"}, r...)...)
	g.must(append([]string{"beta", "compute", "addresses", "update", "ilb-ip", "--update-labels", "env=test"}, r...)...)
	// (gcloud described each already; the updates are read from the fake.)
	e.wantFields(regionalLink("forwardingRules", "ilb-fr"), map[string]any{"allowGlobalAccess": nil})
	e.wantFields(regionalLink("backendServices", "ilb-bs"), map[string]any{"timeoutSec": int64(60)})
	e.wantFields(regionalLink("healthChecks", "ilb-hc"), map[string]any{"tcpHealthCheck.port": int64(15020)})
	e.wantFields(regionalLink("subnetworks", "mesh-sub"), map[string]any{"privateIpGoogleAccess": true})
	e.wantFields(regionalLink("addresses", "ilb-ip"), map[string]any{"labels.env": "test"})

	// Nothing another object uses can go.
	inUse := "is already being used by 'projects/" + project + "/regions/" + region + "/"
	g.refused(append([]string{"compute", "addresses", "delete", "ilb-ip"}, r...), inUse+"forwardingRules/ilb-fr'")
	g.refused(append([]string{"compute", "backend-services", "delete", "ilb-bs"}, r...), inUse+"forwardingRules/ilb-fr'")
	g.refused(append([]string{"compute", "health-checks", "delete", "ilb-hc"}, r...), inUse+"backendServices/ilb-bs'")
	g.refused(append([]string{"compute", "networks", "subnets", "delete", "mesh-sub"}, r...), "is already being used by")
	g.refused([]string{"compute", "networks", "delete", "mesh-net"}, "is already being used by")

	for _, del := range [][]string{{"forwarding-rules", "ilb-fr"}, {"backend-services", "ilb-bs"}, {"health-checks", "ilb-hc"}, {"addresses", "ilb-ip"}} {
		g.must(append([]string{"compute", del[0], "delete", del[1]}, r...)...)
	}
	g.must(append([]string{"compute", "networks", "subnets", "delete", "mesh-sub"}, r...)...)
	g.must("compute", "networks", "delete", "mesh-net")
	if _, ok := e.srv.Resource("projects/" + project + "/global/networks/mesh-net"); ok {
		t.Error("the network is still there")
	}
	e.leftBehind(t)
	// gcloud waited on regional operations, through regionOperations.wait.
	if waits := e.srv.Requests().ByMethod["compute.regionOperations.wait"]; waits < 10 {
		t.Errorf("gcloud waited on %d regional operations, want every regional insert, update and delete", waits)
	}
}

// TestGcloudRegionalApplicationLoadBalancer: a regional internal
// application load balancer (INTERNAL_MANAGED) on a proxy-only
// subnetwork, with its regional URL map and target HTTP proxy. (The global
// target HTTP proxy is in TestGcloudAgainstTheFake.)
func TestGcloudRegionalApplicationLoadBalancer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGcloud(t, e)
	r := []string{"--region", region}
	g.must("compute", "networks", "create", "app-net", "--subnet-mode", "custom")
	g.must(append([]string{"compute", "networks", "subnets", "create", "app-sub", "--network", "app-net", "--range", "10.30.0.0/20"}, r...)...)
	g.must(append([]string{"compute", "health-checks", "create", "http", "app-hc", "--port", "15021"}, r...)...)
	g.must(append([]string{"compute", "backend-services", "create", "app-bs", "--load-balancing-scheme", "INTERNAL_MANAGED", "--protocol", "HTTP",
		"--health-checks", "app-hc", "--health-checks-region", region}, r...)...)
	g.must(append([]string{"compute", "url-maps", "create", "app-map", "--default-service", "app-bs"}, r...)...)
	g.must(append([]string{"compute", "url-maps", "create", "app-map-2", "--default-service", "app-bs"}, r...)...)
	g.must(append([]string{"compute", "target-http-proxies", "create", "app-http", "--url-map", "app-map", "--url-map-region", region}, r...)...)
	frArgs := append([]string{"compute", "forwarding-rules", "create", "app-fr", "--load-balancing-scheme", "INTERNAL_MANAGED", "--network", "app-net",
		"--subnet", "app-sub", "--target-http-proxy", "app-http", "--target-http-proxy-region", region, "--ports", "80"}, r...)
	// A regional managed load balancer needs the region's proxy-only subnetwork.
	g.refused(frArgs, "proxy-only subnetwork")
	g.must(append([]string{"compute", "networks", "subnets", "create", "app-proxies", "--network", "app-net", "--range", "10.31.0.0/23",
		"--purpose", "REGIONAL_MANAGED_PROXY", "--role", "ACTIVE"}, r...)...)
	g.must(frArgs...)
	g.describe(append([]string{"compute", "forwarding-rules", "describe", "app-fr"}, r...), map[string]any{
		"target": regionalLink("targetHttpProxies", "app-http"), "portRange": "80-80", "IPAddress": "10.30.0.2"})
	g.must(append([]string{"compute", "target-http-proxies", "update", "app-http", "--url-map", "app-map-2", "--url-map-region", region}, r...)...)
	e.wantFields(regionalLink("targetHttpProxies", "app-http"), map[string]any{"urlMap": regionalLink("urlMaps", "app-map-2")})
	g.refused(append([]string{"compute", "target-http-proxies", "delete", "app-http"}, r...), "forwardingRules/app-fr")
	for _, del := range [][]string{{"forwarding-rules", "app-fr"}, {"target-http-proxies", "app-http"}, {"url-maps", "app-map"}, {"url-maps", "app-map-2"},
		{"backend-services", "app-bs"}, {"health-checks", "app-hc"}} {
		g.must(append([]string{"compute", del[0], "delete", del[1]}, r...)...)
	}
	e.leftBehind(t)
}

// TestGcloudCertificateManager: a DNS authorization, a Google-managed
// certificate it authorizes, a certificate map with an entry for it, and a
// target HTTPS proxy (Compute) serving the map.
func TestGcloudCertificateManager(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGcloud(t, e)
	cm := func(args ...string) []string { return append([]string{"certificate-manager"}, args...) }
	g.must(cm("dns-authorizations", "create", "www-auth", "--domain", "www.example.com")...)
	g.must(cm("certificates", "create", "www-cert", "--domains", "www.example.com", "--dns-authorizations", "www-auth")...)
	g.must(cm("maps", "create", "www-map")...)
	g.must(cm("maps", "entries", "create", "www-entry", "--map", "www-map", "--hostname", "www.example.com", "--certificates", "www-cert")...)

	g.describe(cm("dns-authorizations", "describe", "www-auth"), map[string]any{
		"domain": "www.example.com", "type": "FIXED_RECORD", "dnsResourceRecord.name": "_acme-challenge.www.example.com.", "dnsResourceRecord.type": "CNAME"})
	// A DNS-authorized certificate is issued the provisioning delay after
	// its creation (short in tests): wait for it, with a deadline.
	deadline := time.Now().Add(time.Minute)
	for {
		cert := g.describe(cm("certificates", "describe", "www-cert"), nil)
		if v, _ := lookupPath(cert, "managed.state"); v == "ACTIVE" {
			break
		} else if v != "PROVISIONING" || time.Now().After(deadline) {
			t.Fatalf("certificate state %v, want PROVISIONING then ACTIVE", v)
		}
	}
	entry := g.describe(cm("maps", "entries", "describe", "www-entry", "--map", "www-map"), map[string]any{"hostname": "www.example.com"})
	if certs, _ := entry["certificates"].([]any); len(certs) != 1 || !strings.HasSuffix(certs[0].(string), "/certificates/www-cert") {
		t.Errorf("entry certificates %v, want www-cert", entry["certificates"])
	}

	g.must(cm("certificates", "update", "www-cert", "--description", "the web certificate")...)
	g.must(cm("maps", "update", "www-map", "--description", "the web map")...)
	g.must(cm("maps", "entries", "update", "www-entry", "--map", "www-map", "--description", "the web entry")...)
	loc := "projects/" + project + "/locations/global/"
	e.wantCMFields(loc+"certificates/www-cert", map[string]any{"description": "the web certificate"})
	e.wantCMFields(loc+"certificateMaps/www-map", map[string]any{"description": "the web map"})
	e.wantCMFields(loc+"certificateMaps/www-map/certificateMapEntries/www-entry", map[string]any{"description": "the web entry"})
	g.describe(cm("maps", "describe", "www-map"), map[string]any{"name": loc + "certificateMaps/www-map", "description": "the web map"})

	// Compute's target HTTPS proxy serves the map (its URL map and backend
	// are made with the Go client: gcloud's part here is the map).
	e.buildURLMap(t, "web-map")
	g.must("compute", "target-https-proxies", "create", "web-https", "--url-map", "web-map", "--certificate-map", "www-map")
	g.describe([]string{"compute", "target-https-proxies", "describe", "web-https"},
		map[string]any{"certificateMap": "//certificatemanager.googleapis.com/projects/" + project + "/locations/global/certificateMaps/www-map"})
	e.wantCMFields(loc+"certificateMaps/www-map", map[string]any{
		"gclbTargets": []any{map[string]any{"targetHttpsProxy": "//compute.googleapis.com/projects/" + project + "/global/targetHttpsProxies/web-https"}}})

	g.refused(cm("dns-authorizations", "delete", "www-auth"), "FAILED_PRECONDITION", "certificates/www-cert")
	g.refused(cm("certificates", "delete", "www-cert"), "FAILED_PRECONDITION", "certificateMapEntries/www-entry")
	g.refused(cm("maps", "delete", "www-map"), "FAILED_PRECONDITION", "certificateMapEntries/www-entry")
	g.must(cm("maps", "entries", "delete", "www-entry", "--map", "www-map")...)
	g.refused(cm("maps", "delete", "www-map"), "FAILED_PRECONDITION", "targetHttpsProxies/web-https")
	g.must("compute", "target-https-proxies", "delete", "web-https")
	g.must(cm("maps", "delete", "www-map")...)
	g.must(cm("certificates", "delete", "www-cert")...)
	g.must(cm("dns-authorizations", "delete", "www-auth")...)
	g.refused(cm("certificates", "describe", "www-cert"), "NOT_FOUND")
	if objects := e.cm.State().Objects; len(objects) != 0 {
		t.Errorf("left behind in Certificate Manager: %v", objects)
	}
}

// wantFields checks fields of a Compute object (dotted paths; nil: absent)
// as the fake holds it.
func (e *env) wantFields(link string, fields map[string]any) {
	e.t.Helper()
	got, ok := e.srv.Resource(link)
	if !ok {
		e.t.Errorf("%s does not exist", link)
		return
	}
	checkFields(e.t, link, got, fields)
}

// wantCMFields checks fields of a Certificate Manager object as the fake holds it.
func (e *env) wantCMFields(name string, fields map[string]any) {
	e.t.Helper()
	for _, o := range e.cm.State().Objects {
		if o["name"] == name {
			checkFields(e.t, name, o, fields)
			return
		}
	}
	e.t.Errorf("%s does not exist", name)
}

func checkFields(t *testing.T, what string, got map[string]any, fields map[string]any) {
	t.Helper()
	for path, want := range fields {
		v, _ := lookupPath(got, path)
		if n, ok := num(map[string]any{"v": v}, "v"); ok {
			if w, isInt := want.(int64); isInt && n == w {
				continue
			}
		}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("%s: %s = %v, want %v", what, path, v, want)
		}
	}
}

// buildURLMap makes a global URL map over a backend service and its health
// check, with the Go client.
func (e *env) buildURLMap(t *testing.T, name string) {
	t.Helper()
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String(name + "-hc"), Type: proto.String("HTTP")}}))
	e.done(t)(e.bs.Insert(e.ctx, &computepb.InsertBackendServiceRequest{Project: project,
		BackendServiceResource: &computepb.BackendService{Name: proto.String(name + "-bs"), Protocol: proto.String("HTTP"),
			LoadBalancingScheme: proto.String("EXTERNAL_MANAGED"), HealthChecks: []string{globalLink("healthChecks", name+"-hc")}}}))
	e.done(t)(e.um.Insert(e.ctx, &computepb.InsertUrlMapRequest{Project: project,
		UrlMapResource: &computepb.UrlMap{Name: proto.String(name), DefaultService: proto.String(globalLink("backendServices", name+"-bs"))}}))
}
