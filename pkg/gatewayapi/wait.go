package gatewayapi

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/expose"
	"github.com/meshctl/meshctl/pkg/lb"
)

// Annotations GKE's controller writes on a programmed Gateway: the
// resources it made, ", "-joined /projects/NUMBER/global/COLLECTION/NAME.
const (
	annotationForwardingRules = "networking.gke.io/forwarding-rules"
	annotationBackendServices = "networking.gke.io/backend-services"
	annotationHealthChecks    = "networking.gke.io/health-checks"
	annotationFirewalls       = "networking.gke.io/firewalls"
	annotationHTTPSProxies    = "networking.gke.io/target-https-proxies"
	annotationHTTPProxies     = "networking.gke.io/target-http-proxies"
	annotationURLMaps         = "networking.gke.io/url-maps"
	annotationAddresses       = "networking.gke.io/addresses"
)

// controllerResources maps the annotations to Compute kinds, in the order
// the controller deletes them.
var controllerResources = []struct {
	annotation string
	kind       lb.Kind
}{
	{annotationForwardingRules, lb.KindForwardingRule},
	{annotationHTTPSProxies, lb.KindHTTPSProxy},
	{annotationHTTPProxies, lb.KindHTTPProxy},
	{annotationURLMaps, lb.KindURLMap},
	{annotationBackendServices, lb.KindBackendService},
	{annotationHealthChecks, lb.KindHealthCheck},
	{annotationAddresses, lb.KindAddress},
	{annotationFirewalls, lb.KindFirewall},
}

// annotated lists the names an annotation holds.
func annotated(annotations map[string]string, key string) []string {
	var out []string
	for _, link := range strings.Split(annotations[key], ",") {
		if link = strings.TrimSpace(link); link != "" {
			out = append(out, lastSegment(link))
		}
	}
	return out
}

// poll is expose.Poll: every interval until done, failed or timed out.
var poll = expose.Poll

// wait follows the controller: the Gateway, the routes and the policies
// until they are accepted, attached and programmed (or refused: then the
// controller's words and what to do), then the backends until every
// gateway pod is HEALTHY; then it describes the load balancer.
func (p *Plan) wait(ctx context.Context, cl Clients, r ui.Reporter, res *EdgeResult) error {
	w := p.Spec.watched()
	ref := w.namespace + "/" + w.gateway
	st := r.Step("wait for GKE's Gateway controller to program Gateway " + ref)
	var obs *Observed
	err := poll(ctx, p.opts.PollInterval, p.opts.ProgramTimeout, "Gateway "+ref, func() (bool, string, error) {
		var err error
		if obs, err = w.Observe(ctx, cl.Kube); err != nil {
			return false, "", err
		}
		if len(obs.Problems) > 0 {
			return false, "", p.problemError(ctx, cl.Kube, w, obs)
		}
		state := obs.Summary()
		st.Progressf("%s", firstNonEmpty(state, "programmed"))
		return obs.Ready(), state, nil
	})
	if obs != nil {
		res.Conditions = obs.Conditions
	}
	if err != nil {
		err = timeoutHint(err, ref)
		res.Events = w.Events(ctx, cl.Kube, false)
		st.Fail(err)
		return err
	}
	st.Done()
	st = r.Step("wait for the backends of Service " + p.Spec.Names.Namespace + "/" + p.Spec.MeshGateway + " to be HEALTHY")
	lbv, err := p.waitHealthy(ctx, cl, st)
	if err != nil {
		st.Fail(err)
		return err
	}
	st.Done()
	lbv.describe(ctx, cl.Compute, obs.Gateway, res)
	for _, h := range p.Spec.Hosts {
		if res.IPAddress != "" {
			res.DNS = append(res.DNS, lb.DNSRecord{Name: strings.TrimSuffix(h, ".") + ".", Type: "A", Value: res.IPAddress})
		}
	}
	if p.Certs != nil && cl.CertManager != nil {
		res.CertificateStatus = hostStatuses(ctx, cl.CertManager, p.Certs.hosts)
	}
	res.Events = w.Events(ctx, cl.Kube, false)
	return nil
}

func timeoutHint(err error, ref string) error {
	if failure.HintOf(err) != "" {
		return err
	}
	ns, name, _ := strings.Cut(ref, "/")
	return failure.WithHint(err, fmt.Sprintf("GKE takes up to 10 minutes to program a Gateway: see `kubectl describe gateway %s -n %s` and its events; running the same command again waits again and redoes nothing", name, ns))
}

// problemError is the controller's refusal as an error: its words, its
// recent warnings and what to do.
func (p *Plan) problemError(ctx context.Context, c kube.Objects, w watched, obs *Observed) error {
	var msgs []string
	code := ""
	for _, pr := range obs.Problems {
		msgs = append(msgs, fmt.Sprintf("%s %s=%s (%s): %s", pr.Object, pr.Type, pr.Status, pr.Reason, pr.Message))
		if code == "" {
			code = firstNonEmpty(pr.Code, pr.Reason)
		}
	}
	if evs := w.Events(ctx, c, true); len(evs) > 0 {
		if len(evs) > 3 {
			evs = evs[len(evs)-3:]
		}
		msgs = append(msgs, "events: "+strings.Join(evs, "; "))
	}
	return failure.WithHint(fmt.Errorf("GKE's Gateway controller refused the Gateway's objects:\n  %s", strings.Join(msgs, "\n  ")), fixFor(code, w))
}

// fixFor says what to do about a code of the controller.
func fixFor(code string, w watched) string {
	switch code {
	case "GWCER102":
		return "an object the Gateway or a route names does not exist (a Service, a Secret): create it, or run meshctl expose again to recreate meshctl's"
	case "GWCER104":
		return "a route uses what the load balancer cannot do (regular expressions, method matches): change or delete the route"
	case "GWCER105":
		return "the Gateway's certificates: its certificate map or pre-shared certificate must exist, and a map excludes listener tls"
	case "GWCER106":
		return "the Gateway's address must be one reserved global address of the project, named (NamedAddress): `gcloud compute addresses list --global`"
	case "Conflicted":
		return "another policy of the same kind targets the same Service: delete it (`kubectl get gcpbackendpolicies,healthcheckpolicies -n " + w.namespace + "`)"
	case "TargetNotFound":
		return "a policy's target does not exist: run meshctl expose again to recreate the gateway's Service"
	}
	return fmt.Sprintf("see `kubectl describe gateway %s -n %s` and the routes' and policies' status", w.gateway, w.namespace)
}

// backendView is the load balancer the controller made, as far as the
// Service is concerned: its backend service and NEG.
type backendView struct {
	backend *computepb.BackendService
	neg     expose.NEGStatus
	health  []lb.BackendHealth
}

// waitHealthy finds the backend service that holds the mesh gateway's
// NEGs among those the Gateway's annotation names, and waits until every
// endpoint of every zone is HEALTHY.
func (p *Plan) waitHealthy(ctx context.Context, cl Clients, st ui.Step) (*backendView, error) {
	w := p.Spec.watched()
	view := &backendView{}
	svcKey := p.Spec.Service.Namespace + "/" + p.Spec.Service.Name
	err := poll(ctx, p.opts.PollInterval, p.opts.ProgramTimeout, "backends of "+svcKey, func() (bool, string, error) {
		gw, err := w.Observe(ctx, cl.Kube)
		if err != nil {
			return false, "", err
		}
		neg, ok := meshGatewayNEG(ctx, cl.Kube, p.Spec.Names.Namespace, p.Spec.MeshGateway)
		if !ok || gw.Gateway == nil {
			return false, "GKE has not made the mesh gateway's NEGs yet", nil
		}
		view.neg = neg
		bs, err := backendFor(ctx, cl.Compute, annotated(gw.Gateway.Annotations, annotationBackendServices), neg.Name)
		if err != nil || bs == nil {
			return false, fmt.Sprintf("the Gateway's %s names no backend service with NEG %s yet", annotationBackendServices, neg.Name), err
		}
		view.backend = bs
		health, state, err := backendHealth(ctx, cl.Compute, svcKey, bs)
		view.health = health
		st.Progressf("%s", state)
		return err == nil && allHealthy(health), state, err
	})
	return view, err
}

// backendFor returns the backend service among names whose backends are
// the NEG's.
func backendFor(ctx context.Context, c ComputeReader, names []string, neg string) (*computepb.BackendService, error) {
	for _, name := range names {
		m, err := c.Get(ctx, lb.KindBackendService, name)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read backend service %s: %w", name, err)
		}
		bs := m.(*computepb.BackendService)
		for _, b := range bs.GetBackends() {
			if lastSegment(b.GetGroup()) == neg {
				return bs, nil
			}
		}
	}
	return nil, nil
}

// backendHealth reads the health of each NEG zone of the backend service.
func backendHealth(ctx context.Context, c ComputeReader, svcKey string, bs *computepb.BackendService) ([]lb.BackendHealth, string, error) {
	var out []lb.BackendHealth
	var parts []string
	for _, b := range bs.GetBackends() {
		h, err := c.GetHealth(ctx, bs.GetName(), b.GetGroup())
		if err != nil {
			return nil, "", fmt.Errorf("get the health of backend service %s: %w", bs.GetName(), err)
		}
		bh := lb.BackendHealth{Service: svcKey, Zone: zoneOf(b.GetGroup()), Endpoints: len(h.GetHealthStatus())}
		for _, s := range h.GetHealthStatus() {
			if s.GetHealthState() == "HEALTHY" {
				bh.Healthy++
			}
		}
		out = append(out, bh)
		parts = append(parts, fmt.Sprintf("%s %d/%d healthy", bh.Zone, bh.Healthy, bh.Endpoints))
	}
	return out, strings.Join(parts, ", "), nil
}

func allHealthy(hs []lb.BackendHealth) bool {
	for _, h := range hs {
		if h.Endpoints == 0 || h.Healthy < h.Endpoints {
			return false
		}
	}
	return len(hs) > 0
}

func zoneOf(link string) string {
	parts := strings.Split(link, "/")
	for i, p := range parts {
		if p == "zones" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return "?"
}

// getCompute reads one Compute object, nil when it does not exist.
func getCompute[T proto.Message](ctx context.Context, c ComputeReader, kind lb.Kind, name string) T {
	var zero T
	if name == "" {
		return zero
	}
	m, err := c.Get(ctx, kind, name)
	if err != nil {
		return zero
	}
	v, _ := m.(T)
	return v
}
