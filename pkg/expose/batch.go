package expose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
)

// Batch is several Services of one namespace exposed in one run
// (`meshctl expose svc A B C`, or `--all -l SELECTOR`): each with the same
// options but its own name and hosts.
type Batch struct {
	// Template holds the options every Service shares; its Service and
	// Hosts are not used.
	Template Options
	// Services names the Services; with All they are found by Selector.
	Services []string
	All      bool
	Selector string
	// Hosts are host patterns: HOST (one Service only), SERVICE=HOST (that
	// Service's), or a pattern with {service} and {namespace}, filled in
	// for each Service, e.g. {service}.example.com.
	Hosts []string
}

// Placeholders a host pattern may hold.
const (
	PlaceholderService   = "{service}"
	PlaceholderNamespace = "{namespace}"
)

// Several reports whether the batch may hold more than one Service.
func (b Batch) Several() bool { return b.All || len(b.Services) > 1 }

// Validate checks the batch on its own, before anything is read: every
// problem is a usage error naming the flag.
func (b Batch) Validate() error {
	var errs []error
	switch {
	case b.All && len(b.Services) > 0:
		errs = append(errs, errors.New("name Services or pass --all, not both"))
	case !b.All && len(b.Services) == 0:
		errs = append(errs, errors.New("name the Service to expose: meshctl expose svc NAME (or --all -l SELECTOR)"))
	case b.Selector != "" && !b.All:
		errs = append(errs, errors.New("--selector picks Services for --all: add --all, or name the Services"))
	}
	if b.Selector != "" {
		if _, err := labels.Parse(b.Selector); err != nil {
			errs = append(errs, fmt.Errorf("--selector %q: %w", b.Selector, err))
		}
	}
	if b.Several() && b.Template.CertSecret != "" {
		errs = append(errs, errors.New("--gateway-cert-secret serves one Service's hosts: expose the Services one at a time to bring a certificate for each"))
	}
	for _, h := range b.Hosts {
		name, _, named := strings.Cut(h, "=")
		switch {
		case named && b.All:
			errs = append(errs, fmt.Errorf("--host %q names a Service, but --all picks them: use a pattern such as {service}.example.com", h))
		case named && !slices.Contains(b.Services, name):
			errs = append(errs, fmt.Errorf("--host %q names Service %q, which is not among those to expose (%s)", h, name, strings.Join(b.Services, ", ")))
		case !named && b.Several() && !isPattern(h):
			errs = append(errs, fmt.Errorf("--host %q would go to every Service, but a host goes to one: give SERVICE=%s, or a pattern such as {service}.example.com", h, h))
		}
	}
	if len(errs) > 0 {
		return failure.Usage(errors.Join(errs...), "")
	}
	for _, name := range b.Services {
		if len(b.HostsFor(name)) == 0 {
			errs = append(errs, fmt.Errorf("Service %s gets no host: give --host %s=HOST, or a pattern such as --host '{service}.example.com'", name, name)) //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
		}
	}
	if len(errs) > 0 {
		return failure.Usage(errors.Join(errs...), "")
	}
	return nil
}

func isPattern(h string) bool {
	return strings.Contains(h, PlaceholderService) || strings.Contains(h, PlaceholderNamespace)
}

// HostsFor fills in the hosts of Service name: HOST, its SERVICE=HOST, and
// the patterns.
func (b Batch) HostsFor(name string) []string {
	var out []string
	for _, h := range b.Hosts {
		if svc, host, named := strings.Cut(h, "="); named {
			if svc == name {
				out = append(out, host)
			}
			continue
		}
		out = append(out, strings.NewReplacer(PlaceholderService, name, PlaceholderNamespace, b.Template.Namespace).Replace(h))
	}
	return out
}

// Options returns each Service's options, finding the Services for --all
// (every Service of the namespace matching the selector, but meshctl's own
// gateways), and validates them all: no Service is exposed when any
// cannot be.
func (b Batch) Options(ctx context.Context, c kube.Objects) ([]Options, error) {
	names := b.Services
	if b.All {
		var err error
		if names, err = b.find(ctx, c); err != nil {
			return nil, err
		}
	}
	var out []Options
	var errs []error
	for _, name := range names {
		o := b.Template
		o.Service, o.Hosts = name, b.HostsFor(name)
		if err := o.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("Service %s: %w", name, err)) //nolint:staticcheck // ST1005: Service is the Kubernetes kind, spelt as kubectl does
		}
		out = append(out, o)
	}
	if len(errs) > 0 {
		return nil, failure.Usage(errors.Join(errs...), "")
	}
	return out, nil
}

// find lists the namespace's Services for --all.
func (b Batch) find(ctx context.Context, c kube.Objects) ([]string, error) {
	ns := b.Template.Namespace
	items, err := c.List(ctx, kService.Resource, ns, b.Selector)
	if err != nil {
		return nil, apiError("list Services in "+ns, err)
	}
	var names []string
	for _, it := range items {
		if mesh.MadeByMeshctl(it.GetLabels()) {
			continue // a gateway's own Service
		}
		var svc corev1.Service
		if err := kube.FromUnstructured(&it, &svc); err != nil {
			return nil, err
		}
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		names = append(names, it.GetName())
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, failure.WithHint(fmt.Errorf("no Service in namespace %s matches %q", ns, b.Selector),
			fmt.Sprintf("list them with `kubectl get svc -n %s -l '%s'`", ns, b.Selector))
	}
	return names, nil
}
