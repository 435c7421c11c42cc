package gkegateway

import (
	"encoding/json"
	"fmt"
	"strings"

	gkev1 "github.com/GoogleCloudPlatform/gke-gateway-api/apis/networking/v1"
	compute "google.golang.org/api/compute/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// backendProtocol is the backend service protocol for a Service port, from
// its appProtocol (GKE docs quoted in openbao-helm#151): HTTP by default,
// HTTPS, HTTP2, and kubernetes.io/h2c as H2C.
func backendProtocol(sp *corev1.ServicePort) string {
	if sp == nil || sp.AppProtocol == nil {
		return "HTTP"
	}
	switch p := *sp.AppProtocol; {
	case strings.EqualFold(p, "HTTPS"):
		return "HTTPS"
	case strings.EqualFold(p, "HTTP2"):
		return "HTTP2"
	case p == "kubernetes.io/h2c":
		return "H2C"
	}
	return "HTTP"
}

// defaultHealthCheck is GKE's health check for a backend without a
// HealthCheckPolicy: GET / on the serving port (never derived from the
// pods' readiness probes; artifact-keeper-iac#125), every 15 s with a 15 s
// timeout, healthy after 1 success and unhealthy after 2 failures
// ([MCG], medium). Its type follows the backend's protocol (a guess;
// H2C is probed as HTTP/2).
func defaultHealthCheck(name, description, protocol string) *compute.HealthCheck {
	hc := &compute.HealthCheck{
		Name: name, Description: description,
		CheckIntervalSec: 15, TimeoutSec: 15, HealthyThreshold: 1, UnhealthyThreshold: 2,
	}
	settings := httpSettings{PortSpecification: "USE_SERVING_PORT", RequestPath: "/", ProxyHeader: "NONE"}
	switch protocol {
	case "HTTPS":
		hc.Type, hc.HttpsHealthCheck = "HTTPS", settings.https()
	case "HTTP2", "H2C":
		hc.Type, hc.Http2HealthCheck = "HTTP2", settings.http2()
	default:
		hc.Type, hc.HttpHealthCheck = "HTTP", settings.http()
	}
	return hc
}

// httpSettings are the fields Compute's HTTP, HTTPS and HTTP/2 health
// checks share.
type httpSettings struct {
	Port              int64  `json:"port,omitempty"`
	PortName          string `json:"portName,omitempty"`
	PortSpecification string `json:"portSpecification,omitempty"`
	Host              string `json:"host,omitempty"`
	RequestPath       string `json:"requestPath,omitempty"`
	ProxyHeader       string `json:"proxyHeader,omitempty"`
	Response          string `json:"response,omitempty"`
}

func convert[T any](from any) *T {
	b, _ := json.Marshal(from)
	var to T
	_ = json.Unmarshal(b, &to)
	return &to
}

func (s httpSettings) http() *compute.HTTPHealthCheck   { return convert[compute.HTTPHealthCheck](s) }
func (s httpSettings) https() *compute.HTTPSHealthCheck { return convert[compute.HTTPSHealthCheck](s) }
func (s httpSettings) http2() *compute.HTTP2HealthCheck { return convert[compute.HTTP2HealthCheck](s) }
func (s httpSettings) grpc() *compute.GRPCHealthCheck   { return convert[compute.GRPCHealthCheck](s) }
func (s httpSettings) tcp() *compute.TCPHealthCheck     { return convert[compute.TCPHealthCheck](s) }
func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func num(p *int64, def int64) int64 {
	if p == nil {
		return def
	}
	return *p
}

// policyHealthCheck is the health check a HealthCheckPolicy asks for (the
// mapping in reference §2). Unset intervals and thresholds take the CRD's
// documented defaults (5 s, 5 s, 2, 2); with neither port nor portName
// nor portSpecification the port is the serving port, as the CRD says.
func policyHealthCheck(name, description string, cfg *gkev1.HealthCheckPolicyConfig) *compute.HealthCheck {
	hc := &compute.HealthCheck{
		Name: name, Description: description,
		CheckIntervalSec: num(cfg.CheckIntervalSec, 5), TimeoutSec: num(cfg.TimeoutSec, 5),
		HealthyThreshold: num(cfg.HealthyThreshold, 2), UnhealthyThreshold: num(cfg.UnhealthyThreshold, 2),
	}
	if cfg.LogConfig != nil && cfg.LogConfig.Enabled != nil {
		hc.LogConfig = &compute.HealthCheckLogConfig{Enable: *cfg.LogConfig.Enabled, ForceSendFields: []string{"Enable"}}
	}
	typ := gkev1.HTTP
	var common gkev1.CommonHealthCheck
	var http gkev1.CommonHTTPHealthCheck
	if c := cfg.Config; c != nil {
		if c.Type != "" {
			typ = c.Type
		}
		switch {
		case c.HTTP != nil:
			common, http = c.HTTP.CommonHealthCheck, c.HTTP.CommonHTTPHealthCheck
		case c.HTTPS != nil:
			common, http = c.HTTPS.CommonHealthCheck, c.HTTPS.CommonHTTPHealthCheck
		case c.HTTP2 != nil:
			common, http = c.HTTP2.CommonHealthCheck, c.HTTP2.CommonHTTPHealthCheck
		case c.GRPC != nil:
			common = c.GRPC.CommonHealthCheck
		case c.TCP != nil:
			common = c.TCP.CommonHealthCheck
		}
	}
	s := httpSettings{
		Port: num(common.Port, 0), PortName: str(common.PortName), PortSpecification: str(common.PortSpecification),
		Host: str(http.Host), RequestPath: str(http.RequestPath), ProxyHeader: str(http.ProxyHeader), Response: str(http.Response),
	}
	if s.PortSpecification == "" && s.Port == 0 && s.PortName == "" {
		s.PortSpecification = string(gkev1.UseServingPort)
	}
	hc.Type = string(typ)
	switch typ {
	case gkev1.HTTPS:
		s.RequestPath = strOr(s.RequestPath, "/")
		hc.HttpsHealthCheck = s.https()
	case gkev1.HTTP2:
		s.RequestPath = strOr(s.RequestPath, "/")
		hc.Http2HealthCheck = s.http2()
	case gkev1.GRPC:
		hc.GrpcHealthCheck = s.grpc()
		if cfg.Config != nil && cfg.Config.GRPC != nil {
			hc.GrpcHealthCheck.GrpcServiceName = str(cfg.Config.GRPC.GRPCServiceName)
		}
	case gkev1.TCP:
		s.RequestPath = ""
		hc.TcpHealthCheck = s.tcp()
	default:
		s.RequestPath = strOr(s.RequestPath, "/")
		hc.HttpHealthCheck = s.http()
	}
	return hc
}

func strOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// negStatus is the NEG controller's cloud.google.com/neg-status annotation.
type negStatus struct {
	NetworkEndpointGroups map[string]string `json:"network_endpoint_groups"`
	Zones                 []string          `json:"zones"`
}

// Annotations on Services, as GKE spells them.
const (
	negAnnotation       = "cloud.google.com/neg"
	negStatusAnnotation = "cloud.google.com/neg-status"
)

// negsOf reads which NEGs the NEG controller made for a Service port.
func negsOf(svc *corev1.Service, port int32) (name string, zones []string, ok bool) {
	var st negStatus
	if json.Unmarshal([]byte(svc.Annotations[negStatusAnnotation]), &st) != nil {
		return "", nil, false
	}
	name = st.NetworkEndpointGroups[fmt.Sprint(port)]
	return name, st.Zones, name != "" && len(st.Zones) > 0
}

// defaultMaxRatePerEndpoint is GKE's RATE balancing default ([MCG], [GGA]).
const defaultMaxRatePerEndpoint = 1e8

// backendService is the backend service of one (Service, port): the
// Service's zonal NEGs in RATE mode, EXTERNAL_MANAGED, with the
// GCPBackendPolicy's settings. iapSecret is the OAuth client secret read
// from the policy's Secret, when IAP is on.
func backendService(g gce, name, description, protocol, negName string, zones []string, pol *gkev1.GCPBackendPolicyConfig, iapSecret string) *compute.BackendService {
	bs := &compute.BackendService{
		Name: name, Description: description, LoadBalancingScheme: "EXTERNAL_MANAGED", Protocol: protocol,
		HealthChecks: []string{g.link("healthChecks", name)}, TimeoutSec: 30, SessionAffinity: "NONE",
		LogConfig: &compute.BackendServiceLogConfig{ForceSendFields: []string{"Enable"}},
	}
	rate := float64(defaultMaxRatePerEndpoint)
	if pol != nil {
		if pol.MaxRatePerEndpoint != nil {
			rate = float64(*pol.MaxRatePerEndpoint)
		}
		applyBackendPolicy(bs, pol, iapSecret)
	}
	for _, z := range zones {
		bs.Backends = append(bs.Backends, &compute.Backend{
			Group:         computeclient.LinkBase + g.project + "/zones/" + z + "/networkEndpointGroups/" + negName,
			BalancingMode: "RATE", MaxRatePerEndpoint: rate, CapacityScaler: 1,
		})
	}
	return bs
}

// applyBackendPolicy maps a GCPBackendPolicy onto the backend service
// (reference §2): timeoutSec, connectionDraining, logConfig with
// sampleRate in millionths (default all), session affinity, IAP. The Cloud
// Armor policy is attached apart, with setSecurityPolicy.
func applyBackendPolicy(bs *compute.BackendService, pol *gkev1.GCPBackendPolicyConfig, iapSecret string) {
	if pol.TimeoutSec != nil {
		bs.TimeoutSec = *pol.TimeoutSec
	}
	if pol.ConnectionDraining != nil && pol.ConnectionDraining.DrainingTimeoutSec != nil {
		bs.ConnectionDraining = &compute.ConnectionDraining{DrainingTimeoutSec: *pol.ConnectionDraining.DrainingTimeoutSec}
	}
	if l := pol.Logging; l != nil && l.Enabled != nil && *l.Enabled {
		rate := 1.0
		if l.SampleRate != nil {
			rate = float64(*l.SampleRate) / 1e6
		}
		bs.LogConfig = &compute.BackendServiceLogConfig{Enable: true, SampleRate: rate, ForceSendFields: []string{"SampleRate"}}
	}
	if a := pol.SessionAffinity; a != nil && a.Type != nil {
		bs.SessionAffinity = *a.Type
		if a.CookieTTLSec != nil {
			bs.AffinityCookieTtlSec = *a.CookieTTLSec
		}
	}
	if iap := pol.IAP; iap != nil && iap.Enabled != nil {
		bs.Iap = &compute.BackendServiceIAP{Enabled: *iap.Enabled, ForceSendFields: []string{"Enabled"}}
		if *iap.Enabled {
			bs.Iap.Oauth2ClientId, bs.Iap.Oauth2ClientSecret = str(iap.ClientID), iapSecret
		}
	}
}

// defaultBackendService is a Gateway namespace's gw-serve404 or
// gw-serve500: the URL maps' default and the target of rules whose
// backends do not resolve. Guess: how GKE makes it answer 404/500 is not
// visible; meshsim's has no backends.
func defaultBackendService(name, description string) *compute.BackendService {
	return &compute.BackendService{
		Name: name, Description: description, LoadBalancingScheme: "EXTERNAL_MANAGED", Protocol: "HTTP",
		TimeoutSec: 30, SessionAffinity: "NONE", LogConfig: &compute.BackendServiceLogConfig{ForceSendFields: []string{"Enable"}},
	}
}

// healthCheckerRanges are where Google's health checkers and the
// external Application Load Balancer's proxies connect from.
var healthCheckerRanges = []string{"130.211.0.0/22", "35.191.0.0/16"}

// firewallRule is the cluster's L7 rule (gkegw1-<t4>-l7-<network>-global,
// reference §2, medium): the health checkers' ranges to the backends'
// pod ports and the health-checked ports. Target tags: the nodes' tag (the
// sources disagree here; low). The description (the cluster, as the
// ownership marker) is a guess.
func firewallRule(g gce, name, description, network, nodeTag string, ports []int64) *compute.Firewall {
	fw := &compute.Firewall{
		Name: name, Description: description,
		Network:   computeclient.LinkBase + g.project + "/global/networks/" + network,
		Direction: "INGRESS", Priority: 1000, SourceRanges: healthCheckerRanges,
	}
	if nodeTag != "" {
		fw.TargetTags = []string{nodeTag}
	}
	var list []string
	for _, p := range ports {
		list = append(list, fmt.Sprint(p))
	}
	fw.Allowed = []*compute.FirewallAllowed{{IPProtocol: "tcp", Ports: list}}
	return fw
}
