package lb

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// Defaults for what the flags leave out.
const (
	DefaultSSLProfile         = "RESTRICTED"
	DefaultMinTLS             = "TLS_1_2"
	DefaultHealthCheckPort    = mesh.StatusPort
	DefaultHealthCheckPath    = mesh.ReadinessPath
	DefaultServingPort        = mesh.GatewayHTTPSPort
	DefaultMaxRatePerEndpoint = 100
	DefaultLogSampleRate      = 1.0
	// DefaultParallel bounds how many graph nodes run at once. Nodes spend
	// nearly all their time waiting on operations, so the bound is about
	// API rate quotas, not local resources.
	DefaultParallel = 64
	// MaxNEGsPerBackendService is Compute's limit of backends (NEGs) in one
	// backend service.
	MaxNEGsPerBackendService = 50
)

// GFERanges are the ranges Google's front ends and health checkers connect
// from for the global external Application Load Balancer: the firewall rule
// meshctl makes admits them, and validate checks that some rule does.
var GFERanges = []string{"35.191.0.0/16", "130.211.0.0/22"}

// Service is one Kubernetes Service exposed through the load balancer, as
// the gateway half of `meshctl expose` leaves it: a dedicated Istio ingress
// gateway whose Service carries cloud.google.com/neg-status.
type Service struct {
	// Namespace and Name identify the exposed Service.
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Hosts are the public host names routed to it.
	Hosts []string `json:"hosts"`
	// NEG is the gateway Service's neg-status: the standalone NEG's name
	// and the zones it exists in.
	NEG NEG `json:"neg"`
	// ServingPort is the gateway pods' port the NEG endpoints point at
	// (the container target port, 8443); HealthCheckPort and
	// HealthCheckPath are where the load balancer probes them (Istio's
	// status port, 15021, /healthz/ready). Zero values take the defaults.
	ServingPort     int    `json:"servingPort,omitempty"`
	HealthCheckPort int    `json:"healthCheckPort,omitempty"`
	HealthCheckPath string `json:"healthCheckPath,omitempty"`
}

// Key is "namespace/name".
func (s Service) Key() string { return s.Namespace + "/" + s.Name }

// NEG is a standalone network endpoint group as GKE's NEG controller reports
// it in cloud.google.com/neg-status.
type NEG struct {
	Name  string   `json:"name"`
	Zones []string `json:"zones"`
}

// Armor says what Cloud Armor does for the load balancer's services.
type Armor struct {
	// Disabled attaches no policy (--no-armor).
	Disabled bool `json:"disabled,omitempty"`
	// Policy names an existing policy to attach; meshctl never changes it
	// (--armor-policy).
	Policy string `json:"policy,omitempty"`
	// Specified is set when any rule flag was given. The rules below are
	// then the policy's rules; without it a new policy gets only the
	// default rule and an existing one keeps the rules it has, so a second
	// service joining a shared load balancer does not undo the first's.
	Specified bool `json:"specified,omitempty"`
	// WAF lists preconfigured rule sets to deny, e.g. "xss", "sqli" or a
	// full name such as "xss-v33-stable".
	WAF []string `json:"waf,omitempty"`
	// AllowCIDRs, when set, turns the default rule into a deny: only these
	// ranges get through. DenyCIDRs are refused first.
	AllowCIDRs []string `json:"allowCidrs,omitempty"`
	DenyCIDRs  []string `json:"denyCidrs,omitempty"`
}

// IAP turns on Identity-Aware Proxy for the backend services.
type IAP struct {
	Enabled bool `json:"enabled"`
	// ClientID and ClientSecret name an OAuth client; empty uses
	// Google's managed client.
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret string `json:"-"`
}

// Spec is the desired load balancer: its services and how it serves them.
type Spec struct {
	// Project, Location and Cluster name the GKE cluster the services run
	// in; names derive from them.
	Project  string `json:"project"`
	Location string `json:"location"`
	Cluster  string `json:"cluster"`
	// LB names a shared load balancer (--lb); empty gives each run's single
	// service a dedicated one named after it.
	LB string `json:"lb,omitempty"`
	// Services are exposed (or, for Teardown, removed) in one run.
	Services []Service `json:"services"`

	// Network and NodeTags are the cluster's VPC network (a name in
	// Project, or projects/HOST/global/networks/N for a Shared VPC) and the
	// network tags of its nodes; empty means read them from the GKE and
	// Compute APIs.
	Network  string   `json:"network,omitempty"`
	NodeTags []string `json:"nodeTags,omitempty"`

	// Address and Certificate name existing resources to use instead of
	// creating them (--address, --certificate).
	Address     string `json:"address,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	// SSLProfile and MinTLS shape the SSL policy.
	SSLProfile string `json:"sslProfile"`
	MinTLS     string `json:"minTls"`
	Armor      Armor  `json:"armor"`
	// LogSampleRate is the share of requests logged (0..1); logging is
	// always on.
	LogSampleRate        float64  `json:"logSampleRate"`
	MaxRatePerEndpoint   float64  `json:"maxRatePerEndpoint"`
	IAP                  IAP      `json:"iap"`
	CustomRequestHeaders []string `json:"customRequestHeaders,omitempty"`
	// NoHTTPRedirect skips the port 80 redirect to HTTPS.
	NoHTTPRedirect bool `json:"noHttpRedirect,omitempty"`
	// Adopt lets meshctl take over objects with its names that it did not
	// create; without it such a name is an error.
	Adopt bool `json:"adopt,omitempty"`
	// Parallel bounds the graph nodes running at once.
	Parallel int `json:"-"`
}

// withDefaults fills what was left out.
func (s Spec) withDefaults() Spec {
	if s.SSLProfile == "" {
		s.SSLProfile = DefaultSSLProfile
	}
	if s.MinTLS == "" {
		s.MinTLS = DefaultMinTLS
	}
	s.MinTLS = normalizeTLS(s.MinTLS)
	s.SSLProfile = strings.ToUpper(s.SSLProfile)
	if s.LogSampleRate == 0 {
		s.LogSampleRate = DefaultLogSampleRate
	}
	if s.MaxRatePerEndpoint == 0 {
		s.MaxRatePerEndpoint = DefaultMaxRatePerEndpoint
	}
	if s.Parallel <= 0 {
		s.Parallel = DefaultParallel
	}
	s.Services = slices.Clone(s.Services)
	for i := range s.Services {
		sv := &s.Services[i]
		if sv.ServingPort == 0 {
			sv.ServingPort = DefaultServingPort
		}
		if sv.HealthCheckPort == 0 {
			sv.HealthCheckPort = DefaultHealthCheckPort
		}
		if sv.HealthCheckPath == "" {
			sv.HealthCheckPath = DefaultHealthCheckPath
		}
		sv.Hosts = normalizeHosts(sv.Hosts)
	}
	slices.SortFunc(s.Services, func(a, b Service) int { return strings.Compare(a.Key(), b.Key()) })
	return s
}

// normalizeTLS accepts 1.2, TLS1.2, tls_1_2 and TLS_1_2.
func normalizeTLS(v string) string {
	u := strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(v))
	u = strings.TrimPrefix(strings.TrimPrefix(u, "TLS"), "_")
	if u == "" {
		return v
	}
	return "TLS_" + u
}

func normalizeHosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

var (
	sslProfiles = []string{"COMPATIBLE", "MODERN", "RESTRICTED", "FIPS_202205"}
	tlsVersions = []string{"TLS_1_0", "TLS_1_1", "TLS_1_2", "TLS_1_3"}
	lbNameRE    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
	labelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	tldRE       = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	headerRE    = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+:.*$`)
)

// wafSets are Cloud Armor's preconfigured WAF rule sets (the v33 stable
// versions), by the short name the --waf flag takes.
var wafSets = map[string]string{
	"sqli":              "sqli-v33-stable",
	"xss":               "xss-v33-stable",
	"lfi":               "lfi-v33-stable",
	"rfi":               "rfi-v33-stable",
	"rce":               "rce-v33-stable",
	"methodenforcement": "methodenforcement-v33-stable",
	"scannerdetection":  "scannerdetection-v33-stable",
	"protocolattack":    "protocolattack-v33-stable",
	"php":               "php-v33-stable",
	"sessionfixation":   "sessionfixation-v33-stable",
	"java":              "java-v33-stable",
	"nodejs":            "nodejs-v33-stable",
}

// WAFRuleSet returns the preconfigured expression name for a --waf value:
// "xss" and "xss-v33-stable" both give "xss-v33-stable".
func WAFRuleSet(v string) (string, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	if full, ok := wafSets[v]; ok {
		return full, true
	}
	for _, full := range wafSets {
		if v == full {
			return full, true
		}
	}
	// Other versions of a known set (e.g. xss-stable, sqli-v33-canary).
	for short := range wafSets {
		if strings.HasPrefix(v, short+"-") && (strings.HasSuffix(v, "-stable") || strings.HasSuffix(v, "-canary")) {
			return v, true
		}
	}
	return "", false
}

// Validate checks the spec before any API call. Every problem is reported,
// each a usage error naming what to fix.
func (s Spec) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Project == "" {
		add("no project: set --project (or MESHCTL_PROJECT)")
	}
	if s.Cluster == "" {
		add("no cluster: set --cluster (or MESHCTL_CLUSTER)")
	}
	if s.Network == "" && s.Location == "" {
		add("no cluster location: set --location (or MESHCTL_LOCATION)")
	}
	if s.LB != "" && !lbNameRE.MatchString(s.LB) {
		add("--lb %q: use lower-case letters, digits and dashes, starting with a letter, at most 40 characters", s.LB)
	}
	if len(s.Services) == 0 {
		add("no service to expose")
	}
	if len(s.Services) > 1 && s.LB == "" {
		add("%d services need a shared load balancer: name it with --lb", len(s.Services))
	}
	if s.SSLProfile != "" && !slices.Contains(sslProfiles, strings.ToUpper(s.SSLProfile)) {
		add("--ssl-profile %q: want one of %s", s.SSLProfile, strings.Join(sslProfiles, ", "))
	}
	if s.MinTLS != "" && !slices.Contains(tlsVersions, normalizeTLS(s.MinTLS)) {
		add("--min-tls %q: want one of 1.0, 1.1, 1.2, 1.3", s.MinTLS)
	}
	if s.LogSampleRate < 0 || s.LogSampleRate > 1 {
		add("--log-sample-rate %v: want a number from 0 to 1", s.LogSampleRate)
	}
	if s.MaxRatePerEndpoint < 0 {
		add("--max-rate-per-endpoint %v: want a positive number", s.MaxRatePerEndpoint)
	}
	if (s.IAP.ClientID == "") != (s.IAP.ClientSecret == "") {
		add("--iap-client-id and --iap-client-secret go together")
	}
	for _, h := range s.CustomRequestHeaders {
		if !headerRE.MatchString(h) {
			add("--request-header %q: want NAME:VALUE", h)
		}
	}
	errs = append(errs, s.Armor.validate()...)
	errs = append(errs, s.validateServices()...)
	if len(errs) == 0 {
		return nil
	}
	return failure.Usage(errors.Join(errs...), "")
}

// validate checks the Cloud Armor flags.
func (a Armor) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.Disabled && (a.Policy != "" || len(a.WAF) > 0 || len(a.AllowCIDRs) > 0 || len(a.DenyCIDRs) > 0) {
		add("--no-armor cannot be combined with --armor-policy, --waf, --allow-cidr or --deny-cidr")
	}
	if a.Policy != "" && (len(a.WAF) > 0 || len(a.AllowCIDRs) > 0 || len(a.DenyCIDRs) > 0) {
		add("--armor-policy attaches an existing policy as it is: drop --waf, --allow-cidr and --deny-cidr, or drop --armor-policy")
	}
	for _, w := range a.WAF {
		if _, ok := WAFRuleSet(w); !ok {
			add("--waf %q: want one of %s (or a full name such as xss-v33-stable)", w, strings.Join(sortedKeys(wafSets), ", "))
		}
	}
	for _, c := range append(slices.Clone(a.AllowCIDRs), a.DenyCIDRs...) {
		if _, err := netip.ParsePrefix(c); err != nil {
			if _, aerr := netip.ParseAddr(c); aerr != nil {
				add("CIDR %q is not an IP range such as 203.0.113.0/24", c)
			}
		}
	}
	return errs
}

// validateServices checks each service's name, hosts and NEG, and that no
// host goes to two services.
func (s Spec) validateServices() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	seen := map[string]string{}
	for _, sv := range s.Services {
		if sv.Namespace == "" || sv.Name == "" {
			add("a service needs a namespace and a name")
			continue
		}
		hosts := normalizeHosts(sv.Hosts)
		if s.Certificate == "" && !slices.ContainsFunc(hosts, func(h string) bool { return !strings.HasPrefix(h, "*.") }) {
			add("service %s: give at least one host name (--host) that is not a wildcard, for the Google-managed certificate, or bring your own with --certificate", sv.Key())
		}
		for _, h := range hosts {
			// A wildcard is routed; the managed certificate covers the rest.
			if err := ValidateDomain(strings.TrimPrefix(h, "*.")); err != nil {
				add("service %s: %v", sv.Key(), err)
			}
			if other, dup := seen[h]; dup && other != sv.Key() {
				add("host %s is claimed by both %s and %s", h, other, sv.Key())
			}
			seen[h] = sv.Key()
		}
		if err := validateNEG(sv); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func validateNEG(sv Service) error {
	if sv.NEG.Name == "" || len(sv.NEG.Zones) == 0 {
		return failure.WithHint(fmt.Errorf("service %s: its gateway Service has no NEG status yet (no cloud.google.com/neg-status annotation)", sv.Key()),
			fmt.Sprintf("GKE's NEG controller writes it once the gateway Service carries cloud.google.com/neg; check with `kubectl get svc -n %s -o yaml` and the NEG controller's events", sv.Namespace))
	}
	if len(sv.NEG.Zones) > MaxNEGsPerBackendService {
		return fmt.Errorf("service %s: its NEG spans %d zones; a backend service takes at most %d NEG backends", sv.Key(), len(sv.NEG.Zones), MaxNEGsPerBackendService)
	}
	return nil
}

// ValidateDomain checks that a Google-managed certificate can be issued for
// a host name: a fully qualified public DNS name, no wildcard, no IP
// address, no private or reserved suffix.
func ValidateDomain(h string) error {
	bad := func(why string) error {
		return fmt.Errorf("host %q cannot have a Google-managed certificate: %s", h, why)
	}
	switch {
	case strings.HasPrefix(h, "*."):
		return bad("Google-managed certificates cannot cover wildcards (use --certificate with your own)")
	case len(h) > 253:
		return bad("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return bad("it is an IP address, not a DNS name")
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return bad("not a fully qualified domain name (e.g. www.example.com)")
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return bad(fmt.Sprintf("label %q must be 1-63 letters, digits or dashes, not starting or ending with a dash", l))
		}
	}
	tld := labels[len(labels)-1]
	if !tldRE.MatchString(tld) || strings.Trim(tld, "0123456789") == "" {
		return bad(fmt.Sprintf("%q is not a top-level domain", tld))
	}
	for _, private := range []string{"local", "localhost", "internal", "test", "example", "invalid", "lan", "home", "corp", "svc", "cluster.local"} {
		if tld == private || strings.HasSuffix(h, "."+private) {
			return bad(fmt.Sprintf("%q is not a public domain, so the certificate can never be validated", "."+private))
		}
	}
	return nil
}
