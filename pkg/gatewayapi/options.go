package gatewayapi

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
)

// Defaults for what the flags leave out.
const (
	// DefaultProgramTimeout bounds the wait for the controller: GKE takes
	// about two minutes to program a Gateway, "up to 10 minutes" by its
	// own account (reference gke-gateway.md §3).
	DefaultProgramTimeout = 15 * time.Minute
	// maxBackendTimeout is Compute's limit for an external Application
	// Load Balancer's backend service timeout (one day).
	maxBackendTimeout = 24 * time.Hour
)

// Options is what the user asks of `meshctl expose svc --via gateway-api`.
type Options struct {
	// Expose is the mesh ingress gateway's part, as for --via compute.
	Expose expose.Options
	// Gateway names the GKE Gateway, NAME or NAMESPACE/NAME; several
	// Services name the same one to share it. Empty gives the Service a
	// Gateway of its own.
	Gateway string
	// Paths are the path prefixes routed to the Service; empty means all.
	Paths []string
	// Address names the user's reserved global address (a NamedAddress);
	// empty reserves one.
	Address string
	// Certificate names the user's Compute SSL certificate (pre-shared);
	// empty makes a Certificate Manager map with a Google-managed
	// certificate per host.
	Certificate    string
	NoHTTPRedirect bool
	SSLProfile     string
	MinTLS         string
	Armor          lb.Armor
	LogSampleRate  float64
	// MaxRatePerEndpoint is the requests per second each gateway pod takes
	// (0: GKE's default).
	MaxRatePerEndpoint int64
	IAP                lb.IAP
	// BackendTimeout is the load balancer's timeout towards the gateway
	// (0: GKE's 30 s).
	BackendTimeout time.Duration
	// Adopt lets meshctl take over Compute resources with its names that
	// it did not make.
	Adopt bool
	// Project, Location and Cluster name the GKE cluster.
	Project, Location, Cluster string

	// ProgramTimeout bounds the wait for the controller (zero: the
	// default); PollInterval is for tests, as in expose.Options.
	ProgramTimeout time.Duration
	PollInterval   time.Duration
}

// MissingSettings names the settings Google's side needs that are unset.
func (o *Options) MissingSettings() []string {
	var out []string
	for _, kv := range [][2]string{{"--project", o.Project}, {"--location", o.Location}, {"--cluster", o.Cluster}} {
		if kv[1] == "" {
			out = append(out, kv[0])
		}
	}
	return out
}

// Validate checks the options on their own, before anything is read:
// usage errors naming the flag. What GKE's Gateway controller would refuse
// of the objects they make is checked later, on the objects themselves.
func (o *Options) Validate() error {
	if err := o.Expose.Validate(); err != nil {
		return err
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Gateway != "" {
		ns, name := SplitGateway(o.Gateway)
		for _, part := range []string{ns, name} {
			if part == "" && ns != "" {
				add("--gateway %q: want NAME or NAMESPACE/NAME", o.Gateway)
			} else if msgs := validation.IsDNS1123Label(part); part != "" && len(msgs) > 0 {
				add("--gateway %q: %q is not a valid name: %s", o.Gateway, part, strings.Join(msgs, "; "))
			}
		}
	}
	for _, p := range o.Paths {
		if !strings.HasPrefix(p, "/") {
			add("--path %q: a path starts with /", p)
		}
	}
	if o.Address != "" && !isIP(o.Address) {
		if msgs := validation.IsDNS1035Label(o.Address); len(msgs) > 0 {
			add("--address %q is not the name of a global address: %s", o.Address, strings.Join(msgs, "; "))
		}
	}
	if o.LogSampleRate < 0 || o.LogSampleRate > 1 {
		add("--log-sample-rate %v: want a number from 0 to 1", o.LogSampleRate)
	}
	if o.MaxRatePerEndpoint < 0 {
		add("--max-rate-per-endpoint %d: want a positive number", o.MaxRatePerEndpoint)
	}
	if (o.IAP.ClientID == "") != (o.IAP.ClientSecret == "") {
		add("--iap-client-id and --iap-client-secret go together")
	}
	if o.BackendTimeout < 0 || o.BackendTimeout > maxBackendTimeout || o.BackendTimeout%time.Second != 0 {
		add("--backend-timeout %s: want whole seconds from 1s to 24h", o.BackendTimeout)
	}
	if o.Certificate == "" && !o.Expose.DryRun {
		errs = append(errs, managedHosts(o.Expose.Hosts)...)
	}
	edge := lb.EdgeSpec{Project: "p", Key: "c/n/g", SSLProfile: o.SSLProfile, MinTLS: o.MinTLS, Armor: o.Armor}
	if err := edge.Validate(); err != nil {
		errs = append(errs, errors.Unwrap(err))
	}
	if len(errs) == 0 {
		return nil
	}
	return failure.Usage(errors.Join(errs...), "")
}

// managedHosts checks that Google can issue its managed certificate for
// the hosts: Certificate Manager's load balancer authorization covers
// public names, not wildcards (those are routed, and need a certificate of
// the user's own).
func managedHosts(hosts []string) []error {
	var errs []error
	named := 0
	for _, h := range hosts {
		if strings.HasPrefix(h, "*") {
			continue
		}
		named++
		if err := lb.ValidateDomain(strings.ToLower(strings.TrimSuffix(h, "."))); err != nil {
			errs = append(errs, err)
		}
	}
	if named == 0 {
		errs = append(errs, errors.New("give at least one --host that is not a wildcard, for the Google-managed certificate, or bring your own with --certificate"))
	}
	return errs
}

// SplitGateway reads --gateway: "NAME" or "NAMESPACE/NAME".
func SplitGateway(v string) (namespace, name string) {
	if ns, n, ok := strings.Cut(v, "/"); ok {
		return ns, n
	}
	return "", v
}

func isIP(v string) bool {
	_, err := netip.ParseAddr(v)
	return err == nil
}

// defaults fills the knobs users do not set.
func (o *Options) defaults() {
	if o.ProgramTimeout == 0 {
		o.ProgramTimeout = DefaultProgramTimeout
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.SSLProfile == "" {
		o.SSLProfile = lb.DefaultSSLProfile
	}
	if o.MinTLS == "" {
		o.MinTLS = lb.DefaultMinTLS
	}
	o.Expose.ControllerNEGs = true
	o.Expose.PollInterval = o.PollInterval
}
