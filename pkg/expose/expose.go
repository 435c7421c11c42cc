// Package expose gives a Kubernetes Service in the mesh its own Istio
// ingress gateway, ready for Google's global external HTTPS load balancer:
// a Deployment injected from Istio's gateway template, a ClusterIP Service
// with standalone NEGs, a PodDisruptionBudget and an autoscaler, a
// least-privilege identity, a TLS certificate for the hop from the load
// balancer, and the Istio Gateway, VirtualService and DestinationRule that
// route the user's hosts to the Service over Istio mutual TLS.
//
// It works out the desired objects (Render), compares them with the
// cluster (NewPlan: one pkg/plan Change per object), and applies only the
// difference (Plan.Apply), with server-side apply as field manager
// "meshctl". Unexpose deletes exactly
// what expose made, found by its ownership labels.
//
// The load balancer (pkg/lb) comes in through RunMany, planned and built
// once the gateways are ready, from the NEG names and zones in each Result;
// unexpose removes it through Hooks, before anything else. Other
// capabilities (pkg/gatewayapi) apply a Plan with their own Hooks.
package expose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Hook is work another capability adds after the gateway is ready: the
// load balancer part builds Google's load balancer here. In a dry run it
// runs too, with Result.DryRun set, so it can add its own plan.
type Hook struct {
	// Name names the hook's step in progress output.
	Name string
	// Run may append its own changes to res.Changes.
	Run func(ctx context.Context, res *Result) error
}

// TeardownHook is work another capability must do before unexpose
// deletes the gateway, such as removing the load balancer that uses its
// NEGs. An error stops unexpose with nothing deleted.
type TeardownHook struct {
	Name string
	// Plan, when set, works out the hook's changes before anything is
	// deleted, for the permission check; Run then carries them out.
	Plan func(ctx context.Context, t *Teardown) ([]plan.Change, error)
	Run  func(ctx context.Context, t *Teardown) error
}

// Hooks are the extension points of expose and unexpose.
type Hooks struct {
	// AfterGateway run in order once the gateway is rolled out and GKE
	// has reported its NEGs, before objects no longer wanted are deleted
	// (so the load balancer moves to a new NEG before the old one goes).
	AfterGateway []Hook
	// BeforeTeardown run in order before unexpose deletes anything.
	BeforeTeardown []TeardownHook
	// Preflight checks that the caller may make every change, the
	// gateway's and the hooks', before the first one; nil checks nothing.
	Preflight *preflight.Checker
}

// ServiceRef names the exposed Service and the port routed to.
type ServiceRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Port      int32  `json:"port,omitempty"`
}

// HealthCheck is where the load balancer checks the gateway's pods.
type HealthCheck struct {
	Port int32  `json:"port"`
	Path string `json:"path"`
}

// Gateway describes the Service's ingress gateway, for the load balancer.
type Gateway struct {
	Namespace string `json:"namespace"`
	// Name names the Deployment, its Service and the Istio Gateway.
	Name string `json:"name"`
	// Selector selects the gateway's pods.
	Selector map[string]string `json:"selector"`
	// Port is the gateway Service's HTTPS port, which the NEGs expose;
	// TargetPort is the pods' port behind it (the firewall must allow it
	// from Google's front ends, as well as the health check port).
	Port       int32 `json:"port"`
	TargetPort int32 `json:"targetPort"`
	// BackendProtocol is the protocol for the load balancer's backend
	// service: HTTP2, i.e. HTTP/2 over TLS.
	BackendProtocol string      `json:"backendProtocol"`
	HealthCheck     HealthCheck `json:"healthCheck"`
	// CertSecret is the Secret with the certificate the gateway serves to
	// the load balancer; CertNotAfter is when meshctl's own expires (nil
	// for a Secret the user brought).
	CertSecret   string     `json:"certSecret"`
	CertNotAfter *time.Time `json:"certNotAfter,omitempty"`
}

// NEGStatus is what GKE's NEG controller reports in the gateway Service's
// cloud.google.com/neg-status annotation: one zonal NEG per zone, all with
// the same name.
type NEGStatus struct {
	Name  string   `json:"name"`
	Zones []string `json:"zones"`
	// Planned is set in a dry run when GKE has not reported the NEG yet:
	// Zones are then those of the cluster's nodes, where GKE will make it.
	Planned bool `json:"planned,omitempty"`
}

// Result is what expose did (or, in a dry run, would do).
type Result struct {
	Service  ServiceRef `json:"service"`
	Hosts    []string   `json:"hosts"`
	Revision string     `json:"revision"`
	Gateway  Gateway    `json:"gateway"`
	// NEG holds the NEG name and zones; in a dry run the name is the
	// planned one and Zones are those GKE reports already, if any.
	NEG      NEGStatus     `json:"neg"`
	Changes  []plan.Change `json:"changes"`
	Warnings []string      `json:"warnings,omitempty"`
	DryRun   bool          `json:"dryRun,omitempty"`
	// Permissions are what the changes (the load balancer's included)
	// need, as the check before the first change found them.
	Permissions *preflight.Report `json:"permissions,omitempty"`

	// Objects are the desired objects, for printing as manifests.
	Objects []Object `json:"-"`
}

// dryRunResult is the plan's result with DryRun set and the NEG's zones
// GKE reports already, if any.
func (p *Plan) dryRunResult(ctx context.Context, c kube.Objects) *Result {
	res := p.result()
	res.DryRun = true
	if st, ok := currentNEGStatus(ctx, c, p.Spec); ok {
		res.NEG.Zones = st.Zones
	}
	return res
}

// DryRunResult is the result of not applying p, for a capability that
// plans the gateway as part of its own plan (pkg/gatewayapi).
func (p *Plan) DryRunResult() *Result {
	res := p.result()
	res.DryRun = true
	return res
}

func (p *Plan) result() *Result {
	s := p.Spec
	g := Gateway{
		Namespace: s.GatewayNamespace, Name: s.Names.Gateway, Selector: s.selectorLabels(),
		Port: HTTPSPort, TargetPort: mesh.GatewayHTTPSPort, BackendProtocol: BackendProtocol,
		HealthCheck: HealthCheck{Port: mesh.StatusPort, Path: mesh.ReadinessPath},
		CertSecret:  s.CertSecret,
	}
	if s.Cert != nil {
		t := s.Cert.NotAfter
		g.CertNotAfter = &t
	}
	neg := NEGStatus{Name: s.Names.NEG}
	if s.ControllerNEGs {
		neg = NEGStatus{} // GKE's Gateway controller names them
	}
	return &Result{
		Service:  ServiceRef{Namespace: s.Namespace, Name: s.Service, Port: s.Port},
		Hosts:    slices.Clone(s.Hosts),
		Revision: s.Revision,
		Gateway:  g,
		NEG:      neg,
		Changes:  slices.Clone(p.Changes),
		Warnings: p.Warnings,
		Objects:  p.Objects,
	}
}

// Apply makes the plan so: it writes what differs (nothing when nothing
// does), waits for the gateway to roll out with an injected proxy and for
// GKE to report its NEGs, runs the AfterGateway hooks, and then deletes
// what is no longer wanted.
func (p *Plan) Apply(ctx context.Context, c kube.Objects, r ui.Reporter, hooks Hooks) (*Result, error) {
	res, stale, err := p.applyGateway(ctx, c, r)
	if err != nil {
		return res, err
	}
	if err := runHooks(ctx, r, hooks, res); err != nil {
		return res, err
	}
	notes, err := deleteAll(ctx, c, r, stale, p.opts)
	res.Warnings = append(res.Warnings, notes...)
	return res, err
}

// applyGateway writes what differs and waits for the gateway and its NEGs;
// it returns the objects no longer wanted, to delete once the load
// balancer no longer needs them.
func (p *Plan) applyGateway(ctx context.Context, c kube.Objects, r ui.Reporter) (*Result, []step, error) {
	res := p.result()
	var stale []step
	var writes []step
	for _, ch := range p.steps {
		switch ch.Action {
		case plan.Create, plan.Update:
			writes = append(writes, ch)
		case plan.Delete:
			stale = append(stale, ch)
		}
	}
	// Writes go in waves (writeWave), each wave's objects at the same
	// time, and stop after a wave with a failure: later waves depend on
	// earlier ones (everything on the namespace, the pods on their
	// policies and certificate, the routing on the gateway), and a re-run
	// resumes from what exists.
	for _, wave := range writeWaves(writes) {
		errs := make([]error, len(wave))
		var wg sync.WaitGroup
		for i, ch := range wave {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := r.Step(fmt.Sprintf("%s %s", ch.Action, ch.Ref()))
				if len(ch.Fields) > 0 {
					st.Progressf("%s", plan.DescribeFields(ch.Fields))
				}
				if _, err := c.Apply(ctx, ch.kind.Resource, ch.obj, false); err != nil {
					errs[i] = apiError(fmt.Sprintf("%s %s", ch.Action, ch.Ref()), err)
					st.Fail(errs[i])
					return
				}
				st.Done()
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return res, nil, err
		}
	}
	if err := waitRollout(ctx, c, r, p.Spec, p.opts); err != nil {
		return res, nil, err
	}
	if !p.Spec.ControllerNEGs {
		neg, err := waitNEGs(ctx, c, r, p.Spec, p.opts)
		if err != nil {
			return res, nil, err
		}
		res.NEG = neg
	}
	return res, stale, nil
}

// writeWave is when a kind is written, in Render's order: the gateway's
// namespace first; then what its pods need before they start (identity,
// certificate, mTLS and network policies); then the workload and its
// Service, budget and autoscaler; the routing last, once there is a
// gateway to route through. Objects of one wave do not need each other.
func writeWave(k kind) int {
	switch k {
	case kNamespace:
		return 0
	case kDeployment, kService, kPDB, kHPA:
		return 2
	case kGateway, kVirtualService:
		return 3
	}
	return 1
}

// writeWaves groups writes by wave, in order, keeping their order within
// each wave.
func writeWaves(writes []step) [][]step {
	var waves [4][]step
	for _, ch := range writes {
		w := writeWave(ch.kind)
		waves[w] = append(waves[w], ch)
	}
	var out [][]step
	for _, w := range waves {
		if len(w) > 0 {
			out = append(out, w)
		}
	}
	return out
}

func runHooks(ctx context.Context, r ui.Reporter, hooks Hooks, res *Result) error {
	for _, h := range hooks.AfterGateway {
		st := r.Step(h.Name)
		if err := h.Run(ctx, res); err != nil {
			st.Fail(err)
			return err
		}
		st.Done()
	}
	return nil
}

// poll waits as Poll does, with the options' interval and timeout.
func poll(ctx context.Context, opts Options, what string, check func() (done bool, state string, err error)) error {
	return Poll(ctx, opts.PollInterval, opts.WaitTimeout, what, check)
}

// Poll calls check every interval until it reports done, fails, or the
// timeout passes; on timeout the error names what was awaited and the
// last state seen. pkg/gatewayapi waits on GKE's controller with it.
func Poll(ctx context.Context, interval, timeout time.Duration, what string, check func() (done bool, state string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		done, state, err := check()
		if err != nil || done {
			return err
		}
		last = state
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s: not done after %s (%s)", what, timeout, last)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// waitRollout waits until the gateway Deployment has rolled out, then
// checks that every pod got a real proxy from the revision's gateway
// template: with image "auto" a pod the injector missed would never run.
func waitRollout(ctx context.Context, c kube.Objects, r ui.Reporter, s Spec, opts Options) error {
	ref := s.GatewayNamespace + "/" + s.Names.Gateway
	st := r.Step("roll out gateway " + ref)
	err := poll(ctx, opts, "gateway "+ref+" rollout", func() (bool, string, error) {
		d, err := get[appsv1.Deployment](ctx, c, kDeployment, s.GatewayNamespace, s.Names.Gateway)
		if err != nil {
			return false, "", fmt.Errorf("read Deployment %s: %w", ref, err)
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentReplicaFailure && cond.Status == corev1.ConditionTrue {
				return false, "", failure.WithHint(fmt.Errorf("gateway %s cannot create pods: %s", ref, cond.Message),
					"kubectl describe replicaset -n "+s.GatewayNamespace+" -l "+mesh.LabelGateway+"="+s.Names.Gateway)
			}
			if cond.Type == appsv1.DeploymentProgressing && cond.Reason == "ProgressDeadlineExceeded" {
				return false, "", fmt.Errorf("gateway %s rollout stalled: %s", ref, cond.Message)
			}
		}
		state := fmt.Sprintf("%d of %d pods updated, %d available", d.Status.UpdatedReplicas, want, d.Status.AvailableReplicas)
		st.Progressf("%s", state)
		done := d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.Replicas == want && d.Status.AvailableReplicas == want
		return done, state, nil
	})
	if err == nil {
		err = verifyInjected(ctx, c, s)
	}
	if err != nil {
		st.Fail(err)
		return err
	}
	st.Done()
	return nil
}

func verifyInjected(ctx context.Context, c kube.Objects, s Spec) error {
	sel := labels.SelectorFromSet(s.selectorLabels()).String()
	pods, err := list[corev1.Pod](ctx, c, kPod, s.GatewayNamespace, sel)
	if err != nil {
		return fmt.Errorf("list gateway pods: %w", err)
	}
	var bad []string
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		n++
		if !mesh.GatewayInjected(&p) {
			bad = append(bad, p.Name)
		}
	}
	if len(bad) > 0 {
		return failure.WithHint(fmt.Errorf("gateway pods without an injected proxy (image still \"auto\", no sidecar.istio.io/status): %s", listNames(bad)),
			fmt.Sprintf("revision %s's injector did not run in namespace %s: check `kubectl get mutatingwebhookconfiguration -l istio.io/rev=%s` and the namespace's labels, then `kubectl rollout restart deployment/%s -n %s`",
				s.Revision, s.GatewayNamespace, s.Revision, s.Names.Gateway, s.GatewayNamespace))
	}
	if n == 0 {
		return fmt.Errorf("gateway %s/%s has no pods", s.GatewayNamespace, s.Names.Gateway)
	}
	return nil
}

// negStatus is GKE's cloud.google.com/neg-status annotation.
type negStatus struct {
	NetworkEndpointGroups map[string]string `json:"network_endpoint_groups"`
	Zones                 []string          `json:"zones"`
}

// ParseNEGStatus reads the NEG of port from a cloud.google.com/neg-status
// annotation value.
func ParseNEGStatus(value string, port int32) (NEGStatus, error) {
	var st negStatus
	if err := json.Unmarshal([]byte(value), &st); err != nil {
		return NEGStatus{}, fmt.Errorf("%s is not valid JSON: %w", NEGStatusAnnotation, err)
	}
	name := st.NetworkEndpointGroups[fmt.Sprint(port)]
	if name == "" {
		return NEGStatus{}, fmt.Errorf("%s has no NEG for port %d", NEGStatusAnnotation, port)
	}
	zones := slices.Clone(st.Zones)
	slices.Sort(zones)
	return NEGStatus{Name: name, Zones: zones}, nil
}

func currentNEGStatus(ctx context.Context, c kube.Objects, s Spec) (NEGStatus, bool) {
	svc, err := get[corev1.Service](ctx, c, kService, s.GatewayNamespace, s.Names.Gateway)
	if err != nil {
		return NEGStatus{}, false
	}
	st, err := ParseNEGStatus(svc.Annotations[NEGStatusAnnotation], HTTPSPort)
	if err != nil || st.Name != s.Names.NEG {
		return NEGStatus{}, false
	}
	return st, true
}

// waitNEGs waits for GKE's NEG controller to report the gateway's NEGs.
func waitNEGs(ctx context.Context, c kube.Objects, r ui.Reporter, s Spec, opts Options) (NEGStatus, error) {
	ref := s.GatewayNamespace + "/" + s.Names.Gateway
	st := r.Step("wait for NEGs of Service " + ref)
	var out NEGStatus
	err := poll(ctx, opts, "NEGs of Service "+ref, func() (bool, string, error) {
		svc, err := get[corev1.Service](ctx, c, kService, s.GatewayNamespace, s.Names.Gateway)
		if err != nil {
			return false, "", fmt.Errorf("read Service %s: %w", ref, err)
		}
		raw, ok := svc.Annotations[NEGStatusAnnotation]
		if !ok {
			return false, "no " + NEGStatusAnnotation + " yet", nil
		}
		neg, err := ParseNEGStatus(raw, HTTPSPort)
		if err != nil {
			return false, err.Error(), nil
		}
		if neg.Name != s.Names.NEG || len(neg.Zones) == 0 {
			return false, fmt.Sprintf("NEG %s in %d zones", neg.Name, len(neg.Zones)), nil
		}
		out = neg
		return true, "", nil
	})
	if err != nil {
		err = failure.WithHint(err, "GKE's NEG controller writes "+NEGStatusAnnotation+"; it needs a VPC-native cluster with the HTTP load balancing add-on. See `kubectl describe service "+s.Names.Gateway+" -n "+s.GatewayNamespace+"` for its events")
		st.Fail(err)
		return out, err
	}
	st.Progressf("NEG %s in %s", out.Name, strings.Join(out.Zones, ", "))
	st.Done()
	return out, nil
}

// deleteAll deletes changes in order, keeping on after a failure and
// reporting every failure at the end. A Deployment goes with foreground
// propagation, and deleteAll waits until it has gone with its pods. The
// gateway's own namespace goes last, and only when nothing else is in it;
// otherwise it stays, and the returned notes say why.
func deleteAll(ctx context.Context, c kube.Objects, r ui.Reporter, changes []step, opts Options) ([]string, error) {
	var errs []error
	var notes []string
	for _, ch := range changes {
		st := r.Step("delete " + ch.Ref())
		if ch.kind == kNamespace {
			left, err := leftIn(ctx, c, ch.Name)
			if err == nil && len(left) > 0 {
				note := keepNamespaceNote(ch.Name, left)
				notes = append(notes, note)
				st.Progressf("kept: %s", note)
				st.Done()
				continue
			}
			if err != nil {
				st.Fail(err)
				errs = append(errs, err)
				continue
			}
		}
		// A Deployment's pods and a namespace's contents go before the
		// object itself: wait for that.
		wait := ch.kind == kDeployment || ch.kind == kNamespace
		err := c.Delete(ctx, ch.kind.Resource, ch.Namespace, ch.Name, ch.uid, ch.kind == kDeployment)
		if kube.IsNotFound(err) {
			err = nil
		}
		if err == nil && wait {
			err = poll(ctx, opts, "delete "+ch.Ref(), func() (bool, string, error) {
				_, err := c.Get(ctx, ch.kind.Resource, ch.Namespace, ch.Name)
				if kube.IsNotFound(err) {
					return true, "", nil
				}
				return false, "waiting for what it holds to go", err
			})
		}
		if err != nil {
			err = apiError("delete "+ch.Ref(), err)
			st.Fail(err)
			errs = append(errs, err)
			continue
		}
		st.Done()
	}
	return notes, errors.Join(errs...)
}

// defaults fills the knobs users do not set.
func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 10 * time.Minute
	}
}
