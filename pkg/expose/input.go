package expose

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults for the gateway's size.
const (
	DefaultMinReplicas = 3 // one per zone of a regional cluster
	DefaultMaxReplicas = 5
	DefaultCPUTarget   = 80 // percent of the CPU request, as in ASM's gateway sample
)

// Options is what the user asks of `meshctl expose svc`.
type Options struct {
	// Namespace and Service name the Kubernetes Service to expose.
	Namespace string
	Service   string
	// Hosts are the host names the gateway routes to the Service.
	Hosts []string
	// Port is the Service port to route to, by number or name; empty
	// means the Service's only port.
	Port string
	// Revision is the mesh revision (or revision tag) that injects the
	// gateway; empty means the one the Service's namespace uses, else the
	// only one installed.
	Revision string
	// GatewayNamespace is where the gateway runs. Empty means where
	// meshctl's gateway for the Service runs already, else a namespace of
	// the gateway's own (DedicatedNamespace), which meshctl makes.
	GatewayNamespace string
	// NoNetworkPolicy leaves out the gateway's NetworkPolicy.
	NoNetworkPolicy bool
	// MinReplicas and MaxReplicas bound the gateway's autoscaler.
	MinReplicas, MaxReplicas int32
	// CPUTarget is the autoscaler's target, in percent of the CPU request.
	CPUTarget int32
	// CertSecret is an existing kubernetes.io/tls Secret in the gateway
	// namespace to serve instead of the certificate meshctl makes.
	CertSecret string
	// StrictMTLS adds a STRICT PeerAuthentication for the Service's pods.
	StrictMTLS bool
	// ControllerNEGs leaves the NEGs to GKE's Gateway controller (the
	// Gateway API path, pkg/gatewayapi): the gateway Service carries no
	// cloud.google.com/neg annotation of meshctl's, since the controller
	// writes its own for the ports its routes use, and expose does not wait
	// for NEGs.
	ControllerNEGs bool
	// DryRun plans and stops: nothing is written.
	DryRun bool

	// Now, PollInterval and WaitTimeout are for tests; zero means the
	// clock, one second, and ten minutes per wait.
	Now          func() time.Time
	PollInterval time.Duration
	WaitTimeout  time.Duration
}

// ParseReplicas parses --replicas MIN:MAX.
func ParseReplicas(s string) (minReplicas, maxReplicas int32, err error) {
	lo, hi, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("--replicas %q: want MIN:MAX, e.g. 3:5", s)
	}
	a, errA := strconv.ParseInt(lo, 10, 32)
	b, errB := strconv.ParseInt(hi, 10, 32)
	if errA != nil || errB != nil {
		return 0, 0, fmt.Errorf("--replicas %q: MIN and MAX must be whole numbers, e.g. 3:5", s)
	}
	return int32(a), int32(b), nil
}

var revisionPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validateNames checks the Service and namespace names both expose and
// unexpose take; missing is the error when no Service is named.
func validateNames(missing, service, namespace, gatewayNamespace string) []error {
	var errs []error
	if service == "" {
		errs = append(errs, errors.New(missing))
	} else if msgs := validation.IsDNS1035Label(service); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("invalid Service name %q: %s", service, strings.Join(msgs, "; ")))
	}
	for _, f := range []struct{ flag, ns string }{{"--namespace", namespace}, {"--gateway-namespace", gatewayNamespace}} {
		if f.ns == "" {
			continue
		}
		if msgs := validation.IsDNS1123Label(f.ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a valid namespace name: %s", f.flag, f.ns, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

// Validate checks the options on their own, before anything is read from the
// cluster. Every problem is a usage error that names the flag.
func (o *Options) Validate() error {
	errs := validateNames("name the Service to expose: meshctl expose svc NAME", o.Service, o.Namespace, o.GatewayNamespace)
	if len(o.Hosts) == 0 {
		errs = append(errs, errors.New("give at least one --host, e.g. --host www.example.com"))
	}
	seen := map[string]bool{}
	for _, h := range o.Hosts {
		if err := ValidateHost(h); err != nil {
			errs = append(errs, err)
		}
		if seen[strings.ToLower(h)] {
			errs = append(errs, fmt.Errorf("--host %q is given twice", h))
		}
		seen[strings.ToLower(h)] = true
	}
	if o.Port != "" {
		if n, err := strconv.Atoi(o.Port); err == nil {
			if n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("--port %s is not a port number (1-65535)", o.Port))
			}
		} else if msgs := validation.IsValidPortName(o.Port); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--port %q is neither a port number nor a port name", o.Port))
		}
	}
	if o.Revision != "" && (len(o.Revision) > 63 || !revisionPattern.MatchString(o.Revision)) {
		errs = append(errs, fmt.Errorf("--revision %q is not a revision name (lower case letters, digits and '-', e.g. asm-1282-4)", o.Revision))
	}
	if o.MinReplicas < 1 || o.MaxReplicas < o.MinReplicas {
		errs = append(errs, fmt.Errorf("--replicas %d:%d: want 1 <= MIN <= MAX", o.MinReplicas, o.MaxReplicas))
	}
	if o.CPUTarget < 1 || o.CPUTarget > 1000 {
		errs = append(errs, fmt.Errorf("--cpu-target %d: want a percentage of the CPU request between 1 and 1000", o.CPUTarget))
	}
	if o.CertSecret != "" {
		if msgs := validation.IsDNS1123Subdomain(o.CertSecret); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--gateway-cert-secret %q is not a valid Secret name: %s", o.CertSecret, strings.Join(msgs, "; ")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return failure.Usage(errors.Join(errs...), "")
}

// Host name rules, as Istio validates VirtualService hosts bound to a
// gateway (istio pkg/config/validation/agent ValidateWildcardDomain): only
// the first label may hold a wildcard ("*", "*.example.com",
// "*-foo.example.com"), the rest are RFC 1123 labels, and the top-level
// domain is not all digits (so IP addresses are refused).
var (
	dnsLabel      = `[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?`
	dnsLabelRE    = regexp.MustCompile(`^` + dnsLabel + `$`)
	firstLabelRE  = regexp.MustCompile(`^(\*|(\*|\*-)?` + dnsLabel + `)$`)
	allDigitsRE   = regexp.MustCompile(`^[0-9]+$`)
	maxLabelChars = 63
)

// ValidateHost checks one --host value.
func ValidateHost(h string) error {
	bad := func(why string) error { return fmt.Errorf("--host %q is not a valid host name: %s", h, why) }
	switch {
	case h == "":
		return bad("it is empty")
	case len(h) > 255:
		return bad("longer than 255 characters")
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/:"):
		return bad("give the host name alone, without scheme, port or path")
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for i, l := range labels {
		if len(l) > maxLabelChars {
			return bad(fmt.Sprintf("label %q is longer than 63 characters", l))
		}
		re := dnsLabelRE
		if i == 0 {
			re = firstLabelRE
		}
		if !re.MatchString(l) {
			if i > 0 && strings.Contains(l, "*") {
				return bad("a wildcard is allowed only in the first label, e.g. *.example.com")
			}
			return bad(fmt.Sprintf("label %q is not a DNS label (letters, digits and '-', not starting or ending with '-')", l))
		}
	}
	if tld := labels[len(labels)-1]; allDigitsRE.MatchString(tld) {
		return bad("the top-level domain is all digits (IP addresses are not host names)")
	}
	return nil
}
