package gkegateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	compute "google.golang.org/api/compute/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// pass is one reconciliation of every Gateway of the class: read the
// world, translate each accepted Gateway, build one desired Compute state
// for all of them (backends are shared between Gateways), apply it, write
// statuses and events, collect garbage, release what deleted Gateways held.
type pass struct {
	c      *Controller
	knobs  Knobs
	now    time.Time
	resync bool
	// wake is when the next pass is due at the latest.
	wake time.Time

	w    *world
	pol  *policies
	runs []*gatewayRun
	d    *desired
	out  *outcomes
}

// gatewayRun is one accepted Gateway's part of a pass.
type gatewayRun struct {
	t *translation
	// pending is a reason to come back soon without changing the status
	// (NEGs not made yet, a 412, a resource still in use).
	pending error
	// failed is a Compute error the Gateway cannot get past by waiting.
	failed error
	// planned is set once the whole desired state of the Gateway is known.
	planned  bool
	uses     []resKey
	namedIP  string
	changed  bool
	desc     string
	addrName string
}

func (r *gatewayRun) key() types.NamespacedName { return nn(r.t.gw.Namespace, r.t.gw.Name) }

func (p *pass) soon(t time.Time) {
	if t.Before(p.wake) {
		p.wake = t
	}
}

func (p *pass) retry() { p.soon(p.now.Add(time.Duration(p.knobs.RetryDelay))) }

func (p *pass) logf(format string, a ...any) { p.c.opts.Logf("gke gateway controller: "+format, a...) }

func (p *pass) run(ctx context.Context) {
	w, err := p.c.snapshot()
	if err != nil {
		p.logf("read the cluster: %v", err)
		p.retry()
		return
	}
	p.w, p.pol, p.d, p.out = w, resolvePolicies(w), newDesired(), newOutcomes()
	if len(w.gateways) == 0 && p.c.idle {
		// Nothing to serve and nothing left in Compute: no calls at all,
		// so a simulator without Gateways sees no traffic from here.
		p.releaseNEGs(ctx)
		return
	}
	for _, gw := range w.gateways {
		if gw.DeletionTimestamp != nil {
			continue
		}
		if acceptAt := gw.CreationTimestamp.Add(time.Duration(p.knobs.AcceptDelay)); p.now.Before(acceptAt) {
			p.soon(acceptAt)
			continue
		}
		fresh, err := p.c.ensureFinalizer(ctx, gw)
		if err == nil {
			gw = fresh
		}
		run := &gatewayRun{t: translate(w, gw), desc: p.c.k8sResourceDescription("gateways", gw.Namespace, gw.Name)}
		p.runs = append(p.runs, run)
		if err != nil {
			// Left unplanned, so what it has stays; tried again soon.
			run.pending = retryLater{fmt.Errorf("add the finalizer: %w", err)}
			continue
		}
		if run.t.err == nil {
			p.checkExternal(ctx, run)
		}
	}
	for _, run := range p.runs {
		if run.t.err == nil && run.pending == nil {
			p.plan(ctx, run)
		}
	}
	p.planFirewall()
	p.apply(ctx)
	p.writePolicyStatuses(ctx)
	p.writeRouteStatuses(ctx)
	for _, run := range p.runs {
		p.finish(ctx, run)
	}
	p.collectGarbage(ctx)
	p.releaseNEGs(ctx)
	p.forgetGone()
}

// forgetGone drops what was reported about Gateways that no longer exist.
func (p *pass) forgetGone() {
	live := map[types.NamespacedName]bool{}
	for _, gw := range p.w.gateways {
		live[nn(gw.Namespace, gw.Name)] = true
	}
	for k := range p.c.reported {
		if !live[k] {
			delete(p.c.reported, k)
		}
	}
}

// k8sResourceDescription is GKE's ownership marker in a resource's
// description ([MCG], medium): the Kubernetes object and the cluster.
func (c *Controller) k8sResourceDescription(resource, namespace, name string) string {
	b, _ := json.Marshal(struct {
		K8sResource string `json:"k8sResource"`
		K8sCluster  string `json:"k8sCluster"`
	}{
		K8sResource: "/namespaces/" + namespace + "/" + resource + "/" + name,
		K8sCluster:  "/projects/" + c.opts.Project + "/locations/" + c.opts.Location + "/clusters/" + c.opts.Cluster,
	})
	return string(b)
}

// clusterDescription marks the resources of the cluster rather than of
// one Gateway (the firewall rule); a guess modelled on k8sResource.
func (c *Controller) clusterDescription() string {
	b, _ := json.Marshal(map[string]string{"k8sCluster": "/projects/" + c.opts.Project + "/locations/" + c.opts.Location + "/clusters/" + c.opts.Cluster})
	return string(b)
}

// checkExternal verifies what the Gateway names outside Kubernetes: its
// NamedAddress (GWCER106), its certificate map and pre-shared
// certificates (GWCER105), and the SSL and Cloud Armor policies and IAP
// Secrets its policies name.
func (p *pass) checkExternal(ctx context.Context, run *gatewayRun) {
	t, g := run.t, p.c.g
	if t.namedAddress != "" {
		addr, err := g.addresses().get(ctx, t.namedAddress)
		switch {
		case computeclient.IsNotFound(err):
			t.fail("GWCER106", string(gwv1.GatewayReasonAddressNotUsable), "address %q does not exist", t.namedAddress)
			return
		case err != nil:
			run.pending = classify(err)
			return
		}
		run.namedIP = addr.Address
	}
	if t.certs.certMap != "" && p.c.opts.CertificateMaps != nil {
		ok, err := p.c.opts.CertificateMaps.CertificateMapExists(ctx, p.c.opts.Project, t.certs.certMap)
		switch {
		case errors.Is(err, ErrCertificateManagerNotServed):
			if !p.c.certMapsUnverified {
				p.logf("certificate maps are not verified: %v", err)
				p.c.certMapsUnverified = true
			}
		case err != nil:
			run.pending = retryLater{err}
			return
		case !ok:
			// Guess: the code and wording for a missing map were not seen.
			t.fail("GWCER105", string(gwv1.GatewayReasonInvalid), "CertificateMap %q does not exist", t.certs.certMap)
			return
		}
	}
	for _, name := range t.certs.preShared {
		if _, err := g.sslCertificates().get(ctx, name); computeclient.IsNotFound(err) {
			t.fail("GWCER105", string(gwv1.GatewayReasonInvalid), "SslCertificate %q does not exist", "global/sslCertificates/"+name)
			return
		} else if err != nil {
			run.pending = classify(err)
			return
		}
	}
	p.checkPolicies(ctx, run)
}

// checkPolicies verifies the Compute objects and Secrets the Gateway's
// policies name; a missing one makes its policy Invalid and the Gateway
// fail to sync (a guess: GKE's wording and code for these were not seen).
func (p *pass) checkPolicies(ctx context.Context, run *gatewayRun) {
	t, g := run.t, p.c.g
	missing := func(kind, ns, name, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		p.pol.attached[policyKey{kind, ns, name}] = condition{metav1.ConditionFalse, string(gkev1.PolicyReasonInvalid), msg}
		t.fail("GWCER102", string(gwv1.GatewayReasonInvalid), "%s", msg)
	}
	if gp := p.pol.gateway[nn(t.gw.Namespace, t.gw.Name)]; gp != nil && gp.Spec.Default != nil && gp.Spec.Default.SslPolicy != "" {
		if _, err := g.svc.SslPolicies.Get(g.project, gp.Spec.Default.SslPolicy).Context(ctx).Do(); computeclient.IsNotFound(err) {
			missing(kindGatewayPolicy, gp.Namespace, gp.Name, "SslPolicy %q does not exist", "global/sslPolicies/"+gp.Spec.Default.SslPolicy)
			return
		}
	}
	for _, k := range sortedBackends(t.backends) {
		bp := p.pol.backend[nn(k.Namespace, k.Service)]
		if bp == nil || bp.Spec.Default == nil {
			continue
		}
		if sp := bp.Spec.Default.SecurityPolicy; sp != nil && *sp != "" {
			if _, err := g.svc.SecurityPolicies.Get(g.project, *sp).Context(ctx).Do(); computeclient.IsNotFound(err) {
				missing(kindBackendPolicy, bp.Namespace, bp.Name, "SecurityPolicy %q does not exist", "global/securityPolicies/"+*sp)
				return
			}
		}
		if iap := bp.Spec.Default.IAP; iap != nil && iap.Enabled != nil && *iap.Enabled {
			secretName := ""
			if iap.Oauth2ClientSecret != nil {
				secretName = str(iap.Oauth2ClientSecret.Name)
			}
			if s := p.w.secrets[nn(bp.Namespace, secretName)]; s == nil || len(s.Data["key"]) == 0 {
				missing(kindBackendPolicy, bp.Namespace, bp.Name, "secrets %s/%s not found (IAP needs the OAuth client secret under the key \"key\")", bp.Namespace, secretName)
				return
			}
		}
	}
}

func sortedBackends(set map[backendKey]bool) []backendKey {
	out := make([]backendKey, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// plan adds one Gateway's resources to the desired state: per backend its
// NEG annotation, health check and backend service; the namespace's
// default backends; a URL map and proxy per protocol; the address unless
// named; a forwarding rule per port.
func (p *pass) plan(ctx context.Context, run *gatewayRun) {
	t, names, gw := run.t, p.c.names, run.t.gw
	use := func(collection, name string) { run.uses = append(run.uses, resKey{collection, name}) }
	for _, which := range []string{"serve404", "serve500"} {
		name := names.defaultBackendName(gw.Namespace, which)
		p.d.backends[name] = defaultBackendService(name, p.c.k8sResourceDescription("services", gw.Namespace, "gw-"+which))
		p.d.armor[name] = ""
		use("backendServices", name)
	}
	for _, k := range sortedBackends(t.backends) {
		if err := p.planBackend(ctx, k); err != nil {
			if run.pending == nil {
				run.pending = err
			}
			continue
		}
		name := names.backendName(k.Namespace, k.Service, k.Port)
		use("backendServices", name)
		use("healthChecks", name)
	}
	if run.pending != nil {
		return
	}
	links := linker{
		backend: func(k backendKey) string {
			return p.c.g.link("backendServices", names.backendName(k.Namespace, k.Service, k.Port))
		},
		serve404: p.c.g.link("backendServices", names.defaultBackendName(gw.Namespace, "serve404")),
		serve500: p.c.g.link("backendServices", names.defaultBackendName(gw.Namespace, "serve500")),
	}
	proxies := map[gwv1.ProtocolType]string{}
	for _, proto := range []gwv1.ProtocolType{gwv1.HTTPProtocolType, gwv1.HTTPSProtocolType} {
		if !t.hasProtocol(proto) {
			continue
		}
		role, collection := roleHTTPFrontend, "targetHttpProxies"
		if proto == gwv1.HTTPSProtocolType {
			role, collection = roleTLSFrontend, "targetHttpsProxies"
		}
		name := names.gatewayName(gw.Namespace, gw.Name, role)
		p.d.urlMaps[name] = buildURLMap(name, run.desc, t.frontends[proto], links)
		use("urlMaps", name)
		if proto == gwv1.HTTPProtocolType {
			p.d.httpProxies[name] = &compute.TargetHttpProxy{Name: name, Description: run.desc, UrlMap: p.c.g.link("urlMaps", name)}
		} else {
			p.d.httpsProxies[name] = p.httpsProxy(run, name)
		}
		use(collection, name)
		proxies[proto] = p.c.g.link(collection, name)
	}
	if t.namedAddress == "" {
		run.addrName = names.gatewayName(gw.Namespace, gw.Name, roleAddress)
		p.d.addresses[run.addrName] = &compute.Address{Name: run.addrName, Description: run.desc, AddressType: "EXTERNAL", IpVersion: "IPV4"}
		use("addresses", run.addrName)
	}
	for port, proto := range t.ports {
		name := names.forwardingRuleName(gw.Namespace, gw.Name, port)
		p.d.rules[name] = &frPlan{run: run, rule: &compute.ForwardingRule{
			Name: name, Description: run.desc, IPProtocol: "TCP", PortRange: strconv.Itoa(int(port)), Target: proxies[proto],
			LoadBalancingScheme: "EXTERNAL_MANAGED", NetworkTier: "PREMIUM",
		}}
		use("forwardingRules", name)
	}
	run.planned = true
}

// httpsProxy is the HTTPS frontend: certificates from the map (as
// //certificatemanager.googleapis.com/projects/P/locations/global/certificateMaps/M)
// or Compute certificates, and the GCPGatewayPolicy's SSL policy.
func (p *pass) httpsProxy(run *gatewayRun, name string) *compute.TargetHttpsProxy {
	t, g := run.t, p.c.g
	proxy := &compute.TargetHttpsProxy{Name: name, Description: run.desc, UrlMap: g.link("urlMaps", name)}
	if t.certs.certMap != "" {
		proxy.CertificateMap = "//certificatemanager.googleapis.com/projects/" + p.c.opts.Project + "/locations/global/certificateMaps/" + t.certs.certMap
	}
	for _, n := range t.certs.preShared {
		proxy.SslCertificates = append(proxy.SslCertificates, g.link("sslCertificates", n))
	}
	for _, k := range t.certs.secrets {
		s := p.w.secrets[k]
		certName := p.c.names.certificateName(k.Namespace, k.Name, append(append([]byte(nil), s.Data["tls.crt"]...), s.Data["tls.key"]...))
		p.d.certs[certName] = &compute.SslCertificate{
			Name: certName, Description: p.c.k8sResourceDescription("secrets", k.Namespace, k.Name), Type: "SELF_MANAGED",
			Certificate: string(s.Data["tls.crt"]), PrivateKey: string(s.Data["tls.key"]),
		}
		proxy.SslCertificates = append(proxy.SslCertificates, g.link("sslCertificates", certName))
		run.uses = append(run.uses, resKey{"sslCertificates", certName})
	}
	if gp := p.pol.gateway[nn(t.gw.Namespace, t.gw.Name)]; gp != nil && gp.Spec.Default != nil && gp.Spec.Default.SslPolicy != "" {
		proxy.SslPolicy = g.link("sslPolicies", gp.Spec.Default.SslPolicy)
	}
	return proxy
}

// planBackend adds one (Service, port)'s health check and backend
// service, once the NEG controller has made its NEGs.
func (p *pass) planBackend(ctx context.Context, k backendKey) error {
	name := p.c.names.backendName(k.Namespace, k.Service, k.Port)
	if _, done := p.d.backends[name]; done {
		return nil
	}
	svc := p.w.services[nn(k.Namespace, k.Service)]
	if err := p.c.ensureNEGAnnotation(ctx, svc, k.Port); err != nil {
		return retryLater{fmt.Errorf("NEG annotation of Service %s/%s: %w", k.Namespace, k.Service, err)}
	}
	negName, zones, ok := negsOf(svc, k.Port)
	if !ok {
		return retryLater{fmt.Errorf("waiting for the NEGs of Service %s/%s port %d", k.Namespace, k.Service, k.Port)}
	}
	desc := p.c.k8sResourceDescription("services", k.Namespace, k.Service)
	protocol := backendProtocol(servicePort(svc, k.Port))
	hc := defaultHealthCheck(name, desc, protocol)
	if hp := p.pol.healthCheck[nn(k.Namespace, k.Service)]; hp != nil && hp.Spec.Default != nil {
		hc = policyHealthCheck(name, desc, hp.Spec.Default)
	}
	p.d.healthChecks[name] = hc
	var cfg *gkev1.GCPBackendPolicyConfig
	if bp := p.pol.backend[nn(k.Namespace, k.Service)]; bp != nil {
		cfg = bp.Spec.Default
	}
	iapSecret, armor := "", ""
	if cfg != nil {
		if cfg.IAP != nil && cfg.IAP.Oauth2ClientSecret != nil {
			if s := p.w.secrets[nn(k.Namespace, str(cfg.IAP.Oauth2ClientSecret.Name))]; s != nil {
				iapSecret = string(s.Data["key"])
			}
		}
		if cfg.SecurityPolicy != nil && *cfg.SecurityPolicy != "" {
			armor = p.c.g.link("securityPolicies", *cfg.SecurityPolicy)
		}
	}
	p.d.backends[name] = backendService(p.c.g, name, desc, protocol, negName, zones, cfg, iapSecret)
	p.d.armor[name] = armor
	return nil
}

// planFirewall wants the L7 rule while any accepted Gateway has backends,
// open to every backend's pod ports and health-checked ports.
func (p *pass) planFirewall() {
	ports := map[int64]bool{}
	for _, run := range p.runs {
		for k := range run.t.backends {
			for _, tp := range p.w.targetPorts(k) {
				ports[int64(tp)] = true
			}
			if hp := p.pol.healthCheck[nn(k.Namespace, k.Service)]; hp != nil && hp.Spec.Default != nil {
				if port := healthCheckPort(policyHealthCheck("", "", hp.Spec.Default)); port != 0 {
					ports[port] = true
				}
			}
		}
	}
	if len(ports) == 0 {
		return
	}
	list := make([]int64, 0, len(ports))
	for port := range ports {
		list = append(list, port)
	}
	slices.Sort(list)
	name := p.c.names.firewallName()
	p.d.firewall = firewallRule(p.c.net, name, p.c.clusterDescription(), p.c.opts.Network, p.c.opts.NodeTag, list)
}

// healthCheckPort is the fixed port a health check probes, or 0 for the
// serving port.
func healthCheckPort(hc *compute.HealthCheck) int64 {
	var port int64
	var spec string
	switch {
	case hc.HttpHealthCheck != nil:
		port, spec = hc.HttpHealthCheck.Port, hc.HttpHealthCheck.PortSpecification
	case hc.HttpsHealthCheck != nil:
		port, spec = hc.HttpsHealthCheck.Port, hc.HttpsHealthCheck.PortSpecification
	case hc.Http2HealthCheck != nil:
		port, spec = hc.Http2HealthCheck.Port, hc.Http2HealthCheck.PortSpecification
	case hc.GrpcHealthCheck != nil:
		port, spec = hc.GrpcHealthCheck.Port, hc.GrpcHealthCheck.PortSpecification
	case hc.TcpHealthCheck != nil:
		port, spec = hc.TcpHealthCheck.Port, hc.TcpHealthCheck.PortSpecification
	}
	if spec == "USE_SERVING_PORT" {
		return 0
	}
	return port
}
