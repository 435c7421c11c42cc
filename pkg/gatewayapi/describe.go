package gatewayapi

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	cm "google.golang.org/api/certificatemanager/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshctl/meshctl/pkg/lb"
)

// ChainLink is one Compute resource of the load balancer GKE's controller
// made, on the way from the IP to the gateway's pods.
type ChainLink struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

// HostCertificate is the Google-managed certificate of one host.
type HostCertificate struct {
	Host        string `json:"host"`
	Certificate string `json:"certificate"`
	State       string `json:"state"`
	Detail      string `json:"detail,omitempty"`
}

// describe fills in the address, the DNS records, the chain of Compute
// resources and the backends' health, from what the Gateway reports and
// Compute holds. These are reports: what cannot be read is left out.
func (v *backendView) describe(ctx context.Context, c ComputeReader, gw *gwv1.Gateway, res *EdgeResult) {
	for _, a := range gw.Status.Addresses {
		res.IPAddress = a.Value
	}
	res.Backends = v.health
	res.Chain = chain(ctx, c, gw, v)
}

// chain follows the load balancer from the HTTPS forwarding rule the
// Gateway's annotation names to the NEGs of the mesh gateway.
func chain(ctx context.Context, c ComputeReader, gw *gwv1.Gateway, v *backendView) []ChainLink {
	var out []ChainLink
	proxy, fr := HTTPSProxy(ctx, c, gw)
	if fr != nil {
		out = append(out, ChainLink{Kind: "forwarding rule", Name: fr.GetName(), Detail: fmt.Sprintf("%s:%s, %s", fr.GetIPAddress(), fr.GetPortRange(), fr.GetLoadBalancingScheme())})
	}
	if proxy != nil {
		var d []string
		if m := proxy.GetCertificateMap(); m != "" {
			d = append(d, "certificate map "+lastSegment(m))
		}
		for _, sc := range proxy.GetSslCertificates() {
			d = append(d, "certificate "+lastSegment(sc))
		}
		if p := proxy.GetSslPolicy(); p != "" {
			d = append(d, "SSL policy "+lastSegment(p))
		}
		out = append(out, ChainLink{Kind: "target HTTPS proxy", Name: proxy.GetName(), Detail: strings.Join(d, ", ")})
		out = append(out, ChainLink{Kind: "URL map", Name: lastSegment(proxy.GetUrlMap())})
	}
	bs := v.backend
	if bs == nil {
		return out
	}
	d := []string{bs.GetProtocol(), bs.GetLoadBalancingScheme()}
	if sp := bs.GetSecurityPolicy(); sp != "" {
		d = append(d, "Cloud Armor "+lastSegment(sp))
	}
	out = append(out, ChainLink{Kind: "backend service", Name: bs.GetName(), Detail: strings.Join(d, ", ")})
	for _, hcLink := range bs.GetHealthChecks() {
		hc := getCompute[*computepb.HealthCheck](ctx, c, lb.KindHealthCheck, lastSegment(hcLink))
		if hc != nil {
			out = append(out, ChainLink{Kind: "health check", Name: hc.GetName(), Detail: healthCheckDetail(hc)})
		}
	}
	var zones []string
	for _, b := range bs.GetBackends() {
		zones = append(zones, zoneOf(b.GetGroup()))
	}
	slices.Sort(zones)
	out = append(out, ChainLink{Kind: "NEG", Name: v.neg.Name, Detail: "zones " + strings.Join(zones, ", ")})
	for _, name := range annotated(gw.Annotations, annotationFirewalls) {
		out = append(out, ChainLink{Kind: "firewall rule", Name: name})
	}
	return out
}

func healthCheckDetail(hc *computepb.HealthCheck) string {
	if h := hc.GetHttpHealthCheck(); h != nil {
		port := fmt.Sprint(h.GetPort())
		if h.GetPortSpecification() == "USE_SERVING_PORT" {
			port = "serving port"
		}
		return fmt.Sprintf("HTTP %s %s", port, h.GetRequestPath())
	}
	return hc.GetType()
}

// hostStatuses reads each host's Google-managed certificate.
func hostStatuses(ctx context.Context, c CertificateManager, hosts []hostCert) []HostCertificate {
	var out []HostCertificate
	for _, h := range hosts {
		hc := HostCertificate{Host: h.Host, Certificate: h.Name, State: "UNKNOWN"}
		cert, err := c.GetCertificate(ctx, h.Name)
		if err == nil {
			hc.State, hc.Detail = certState(cert)
		}
		out = append(out, hc)
	}
	return out
}

// certState is a managed certificate's state and, when not active, why.
func certState(cert *cm.Certificate) (string, string) {
	m := cert.Managed
	if m == nil {
		return "SELF_MANAGED", ""
	}
	var why []string
	for _, a := range m.AuthorizationAttemptInfo {
		if a.State != "AUTHORIZED" && a.State != "" {
			why = append(why, strings.TrimSpace(fmt.Sprintf("%s: %s %s", a.Domain, a.State, a.FailureReason)))
		}
	}
	if m.ProvisioningIssue != nil && m.ProvisioningIssue.Reason != "" {
		why = append(why, "provisioning issue: "+m.ProvisioningIssue.Reason)
	}
	return m.State, strings.Join(why, "; ")
}
