package validate

import (
	"context"
	"fmt"
	"strings"

	cm "google.golang.org/api/certificatemanager/v1"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gatewayapi"
)

// CertificateMaps reads Certificate Manager: the certificates a Gateway's
// map names (expose --via gateway-api). *gatewayapi.CertManagerREST has it.
type CertificateMaps interface {
	ListEntries(ctx context.Context, mapName string) ([]*cm.CertificateMapEntry, error)
	GetCertificate(ctx context.Context, name string) (*cm.Certificate, error)
}

// checkGatewayAPI checks a Service exposed through a GKE Gateway: what
// the controller reports on the Gateway, the route and the policies, then
// the same load balancer facts as for meshctl's own load balancer, reached
// through the resources the Gateway's annotations name. ok is false when
// the Service is not on this path.
func checkGatewayAPI(ctx context.Context, st *state, e exposed) (cases []Case, ok bool) {
	if st.c.Dynamic == nil {
		return nil, false
	}
	objs := &kube.Dynamic{Client: st.c.Dynamic}
	x, err := gatewayapi.FindExposure(ctx, objs, e.namespace, e.service, e.gateway.Namespace)
	if err != nil {
		return []Case{apiFailed(GroupLB, "gke gateway", e.object(), "find the Service's HTTPRoute", err)}, true
	}
	if x == nil {
		return nil, false
	}
	reexpose := fmt.Sprintf("meshctl expose svc %s -n %s --via gateway-api --gateway %s", e.service, e.namespace, x.Gateway)
	c := Case{Group: GroupLB, Check: "gke gateway", Object: e.object()}
	obs, err := x.Observe(ctx, objs)
	if err != nil {
		return []Case{apiFailed(GroupLB, "gke gateway", e.object(), "read the Gateway API objects", err)}, true
	}
	c.Findings = conditionFindings(obs, reexpose)
	cases = append(cases, c)
	switch {
	case st.c.Compute != nil && obs.Gateway != nil:
		cases = append(cases, checkGatewayLB(ctx, st, e, x, obs, reexpose, objs)...)
	case st.c.ComputeErr != nil:
		cases = append(cases, apiFailed(GroupLB, "load balancer", e.object(), "connect to the Compute API", st.c.ComputeErr))
	}
	return cases, true
}

// conditionFindings turns what the controller reports into findings: its
// problems with its words, and what it has not done yet.
func conditionFindings(obs *gatewayapi.Observed, reexpose string) []findings.Finding {
	var out []findings.Finding
	typeOf := func(object string) findings.Type {
		switch {
		case strings.HasPrefix(object, "Gateway "):
			return findings.GKEGatewayNotProgrammed
		case strings.HasPrefix(object, "HTTPRoute "):
			return findings.GKERouteNotAttached
		}
		return findings.GKEPolicyNotAttached
	}
	for _, p := range obs.Problems {
		out = append(out, typeOf(p.Object).New(p.Object, fmt.Sprintf("%s=%s (%s): %s", p.Type, p.Status, p.Reason, p.Message), fixOf(p, reexpose)))
	}
	for _, p := range obs.Pending {
		object, _ := cutObject(p)
		out = append(out, typeOf(object).New(object, "not yet: "+strings.TrimPrefix(p, object+" "), "GKE takes up to 10 minutes to program a Gateway; if this stays, "+reexpose))
	}
	return out
}

// cutObject splits "Kind namespace/name rest" into the object and the rest.
func cutObject(s string) (string, string) {
	parts := strings.SplitN(s, " ", 3)
	if len(parts) < 3 {
		return s, ""
	}
	return parts[0] + " " + parts[1], parts[2]
}

func fixOf(p gatewayapi.Problem, reexpose string) string {
	switch {
	case p.Code == "GWCER102":
		return "an object it names does not exist (the mesh gateway's Service?): " + reexpose
	case p.Reason == "Conflicted":
		return "another policy of the kind targets the same Service: delete it"
	case p.Code != "":
		return "see the controller's events: kubectl get events -n " + strings.SplitN(strings.SplitN(p.Object, " ", 2)[1], "/", 2)[0]
	}
	return reexpose
}

// checkGatewayLB checks the load balancer GKE's controller made for the
// Service: its backend service (the one holding the mesh gateway's NEGs),
// health per zone, Cloud Armor, the firewall, and the HTTPS proxy's SSL
// policy and certificates.
func checkGatewayLB(ctx context.Context, st *state, e exposed, x *gatewayapi.Exposure, obs *gatewayapi.Observed, reexpose string, objs kube.Objects) []Case {
	if err := st.lbLists.load(ctx, st.c.Compute, st.c.NetworkCompute); err != nil {
		return []Case{apiFailed(GroupLB, "load balancer", e.object(), "read the load balancer", err)}
	}
	newCase := func(check string) Case { return Case{Group: GroupLB, Check: check, Object: e.object()} }
	k := &lbCheck{ctx: ctx, c: st.c.Compute, l: &st.lbLists, key: e.ref(), svcObj: e.object(), reexpose: reexpose,
		wiring: newCase("wiring"), health: newCase("backend health"), armor: newCase("cloud armor"), fw: newCase("firewall"), tls: newCase("tls")}
	bs, neg, err := x.Backend(ctx, objs, st.c.Compute, obs.Gateway)
	if err != nil {
		return []Case{apiFailed(GroupLB, "load balancer", e.object(), "read the Gateway's backend services", err)}
	}
	if bs == nil {
		msg := fmt.Sprintf("no backend service named in Gateway %s/%s's networking.gke.io/backend-services holds the gateway's NEG %q", x.Namespace, x.Gateway, neg.Name)
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New(k.svcObj, msg, reexpose))
		return []Case{k.wiring}
	}
	k.bs, k.bsObj = bs, "backend service "+bs.GetName()
	k.backendWiring()
	k.backendHealth()
	k.cloudArmor()
	k.firewall()
	proxy, _ := gatewayapi.HTTPSProxy(ctx, st.c.Compute, obs.Gateway)
	if proxy == nil {
		k.wiring.Findings = append(k.wiring.Findings, findings.LBDrift.New(fmt.Sprintf("Gateway %s/%s", x.Namespace, x.Gateway),
			"its networking.gke.io/forwarding-rules name no forwarding rule to an HTTPS proxy", reexpose))
	} else {
		k.proxyTLS(proxy, nil) // the hosts' certificates are in the map, below
		if m := proxy.GetCertificateMap(); m != "" {
			k.tls.Findings = append(k.tls.Findings, mapCertificates(ctx, st.c.CertificateMaps, m)...)
		}
	}
	return []Case{k.wiring, k.health, k.armor, k.fw, k.tls}
}

// mapCertificates reports the Google-managed certificates of a
// certificate map that are not ACTIVE.
func mapCertificates(ctx context.Context, c CertificateMaps, mapLink string) []findings.Finding {
	if c == nil {
		return nil
	}
	mapName := mapLink[strings.LastIndex(mapLink, "/")+1:]
	entries, err := c.ListEntries(ctx, mapName)
	if err != nil {
		return []findings.Finding{findings.APIUnavailable.New("certificate map "+mapName, fmt.Sprintf("list its entries: %v", err), "")}
	}
	var out []findings.Finding
	for _, en := range entries {
		for _, link := range en.Certificates {
			name := link[strings.LastIndex(link, "/")+1:]
			cert, err := c.GetCertificate(ctx, name)
			if err != nil {
				out = append(out, driftOrAPI("certificate map "+mapName, "certificates", "certificate "+name, err, ""))
				continue
			}
			if cert.Managed == nil || cert.Managed.State == "ACTIVE" {
				continue
			}
			out = append(out, findings.ManagedCertStatus.New("certificate "+name, fmt.Sprintf("host %s: %s: Google issues it once the host's DNS record points at the load balancer", en.Hostname, cert.Managed.State),
				"point "+en.Hostname+" at the Gateway's IP (an A record) and wait"))
		}
	}
	return out
}

var _ CertificateMaps = (*gatewayapi.CertManagerREST)(nil)
