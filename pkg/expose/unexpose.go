package expose

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	corev1 "k8s.io/api/core/v1"
)

// UnexposeOptions is what the user asks of `meshctl unexpose svc`.
type UnexposeOptions struct {
	Namespace string
	Service   string
	// GatewayNamespace is where to look besides Namespace when the user
	// may not list objects cluster-wide; empty means only Namespace.
	GatewayNamespace string
	DryRun           bool

	// PollInterval and WaitTimeout are for tests, as in Options.
	PollInterval, WaitTimeout time.Duration
}

// Teardown is what unexpose is about to delete, for the BeforeTeardown
// hooks: the load balancer removes the backends that use the NEGs first.
type Teardown struct {
	Service ServiceRef `json:"service"`
	// Gateways are the gateway Services found (normally one), with the
	// NEGs GKE reported for each.
	Gateways []GatewayNEG  `json:"gateways"`
	Changes  []plan.Change `json:"changes"`
	DryRun   bool          `json:"dryRun,omitempty"`
	// Notes say what stayed and why (the gateway's own namespace, when
	// something else is in it).
	Notes []string `json:"notes,omitempty"`
	// Permissions are what the deletions (the hooks' included) need, as
	// the check before the first one found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`
}

// GatewayNEG is one gateway Service and its NEGs.
type GatewayNEG struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// NEG is empty when GKE reported none.
	NEG NEGStatus `json:"neg"`
}

// UnexposeResult is what unexpose deleted (or, in a dry run, would delete).
type UnexposeResult Teardown

// Unexpose deletes what expose made for a Service, found by its ownership
// labels: routing first, then the gateway's Service and workload, the mTLS
// policy, and its identity and certificate. Objects of other Services are
// never touched: each delete names the UID found with the labels. Nothing
// to delete is not an error.
func Unexpose(ctx context.Context, c kube.Objects, r ui.Reporter, opts UnexposeOptions, hooks Hooks) (*UnexposeResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	wait := Options{PollInterval: opts.PollInterval, WaitTimeout: opts.WaitTimeout}
	wait.defaults()
	ref := opts.Namespace + "/" + opts.Service
	st := r.Step("find what meshctl made for Service " + ref)
	found, err := owned(ctx, c, opts.Namespace, opts.Service, []string{opts.Namespace, opts.GatewayNamespace})
	if err != nil {
		st.Fail(err)
		return nil, err
	}
	st.Progressf("%d objects", len(found))
	st.Done()
	t := &Teardown{Service: ServiceRef{Namespace: opts.Namespace, Name: opts.Service}, Changes: changesOf(found), DryRun: opts.DryRun}
	for _, ch := range found {
		if ch.kind != kService {
			continue
		}
		g := GatewayNEG{Namespace: ch.Namespace, Name: ch.Name}
		if svc, err := get[corev1.Service](ctx, c, kService, ch.Namespace, ch.Name); err == nil {
			if neg, err := ParseNEGStatus(svc.Annotations[NEGStatusAnnotation], HTTPSPort); err == nil {
				g.NEG = neg
			}
		}
		t.Gateways = append(t.Gateways, g)
	}
	if len(found) == 0 {
		r.Infof("nothing to remove: no object is labelled as meshctl's for Service %s", ref)
	}
	if err := checkTeardown(ctx, t, hooks, opts.DryRun); err != nil {
		return (*UnexposeResult)(t), err
	}
	for _, h := range hooks.BeforeTeardown {
		hs := r.Step(h.Name)
		if err := h.Run(ctx, t); err != nil {
			hs.Fail(err)
			return (*UnexposeResult)(t), fmt.Errorf("%s: %w (nothing deleted)", h.Name, err)
		}
		hs.Done()
	}
	if opts.DryRun || len(found) == 0 {
		return (*UnexposeResult)(t), nil
	}
	t.Notes, err = deleteAll(ctx, c, r, found, wait)
	return (*UnexposeResult)(t), err
}

func (o UnexposeOptions) validate() error {
	errs := validateNames("name the Service: meshctl unexpose svc NAME", o.Service, o.Namespace, o.GatewayNamespace)
	if len(errs) == 0 {
		return nil
	}
	return failure.Usage(errors.Join(errs...), "")
}
