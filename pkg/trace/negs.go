package trace

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/lb"
)

// endpoint is one NEG endpoint with the health Google reports for it.
type endpoint struct {
	ip       string
	port     int
	instance string
	// state is HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, UNKNOWN, or "" when
	// getHealth has not reported it yet.
	state string
}

func (e endpoint) String() string { return fmt.Sprintf("%s:%d", e.ip, e.port) }

// negStatus is one NEG's endpoints and their health.
type negStatus struct {
	ref       negRef
	endpoints []endpoint
	err       error
	notFound  bool
}

func (s negStatus) count(state string) int {
	n := 0
	for _, e := range s.endpoints {
		if e.state == state {
			n++
		}
	}
	return n
}

// negHops judges each NEG. A zone without endpoints or with unhealthy
// ones is only a warning while other zones serve; when none serves, the
// NEGs are broken, or converging while the backend is new and nothing
// explains the failure.
func (t *tracer) negHops(ctx context.Context, b *backend) []Hop {
	statuses := make([]negStatus, len(b.negs))
	healthy, total := 0, 0
	for i, n := range b.negs {
		statuses[i] = t.readNEG(ctx, b, n)
		healthy += statuses[i].count("HEALTHY")
		total += len(statuses[i].endpoints)
	}
	var hops []Hop
	for _, s := range statuses {
		hops = append(hops, t.negHop(ctx, b, s, healthy))
	}
	if total == 0 && len(hops) > 0 && !slices.ContainsFunc(statuses, func(s negStatus) bool { return s.err != nil }) {
		h := &hops[0]
		h.add(Broken, findings.TraceNEGEmpty.New("backend service "+b.bs.GetName(),
			fmt.Sprintf("its NEGs hold no endpoints in any zone (%s): every request gets 503 (no healthy upstream)", strings.Join(zonesOf(b.negs), ", ")),
			"the NEG controller adds the ready pods of the Service that owns the NEGs: see the Service and gateway pods hops below"))
	}
	return hops
}

func zonesOf(negs []negRef) []string {
	var out []string
	for _, n := range negs {
		out = append(out, n.zone)
	}
	return out
}

// readNEG lists a NEG's endpoints and the health Google reports for them.
func (t *tracer) readNEG(ctx context.Context, b *backend, n negRef) negStatus {
	s := negStatus{ref: n}
	eps, err := t.r.negEndpoints(n.zone, n.name).wait(ctx)
	if err != nil {
		s.err, s.notFound = err, isNotFound(err)
		return s
	}
	health, err := t.r.groupHealth(b.bs.GetName(), n.link).wait(ctx)
	if err != nil {
		s.err = err
		return s
	}
	states := map[string]string{}
	for _, hs := range health.GetHealthStatus() {
		states[fmt.Sprintf("%s:%d", hs.GetIpAddress(), hs.GetPort())] = hs.GetHealthState()
	}
	for _, ep := range eps {
		ne := ep.GetNetworkEndpoint()
		e := endpoint{ip: ne.GetIpAddress(), port: int(ne.GetPort()), instance: ne.GetInstance()}
		e.state = states[e.String()]
		s.endpoints = append(s.endpoints, e)
	}
	return s
}

// negHop judges one NEG; healthy is how many endpoints are healthy over
// all the backend's NEGs.
func (t *tracer) negHop(ctx context.Context, b *backend, s negStatus, healthy int) Hop {
	h := Hop{Kind: HopNEG, Name: s.ref.name, Zone: s.ref.zone, State: OK}
	obj := fmt.Sprintf("NEG %s in %s", s.ref.name, s.ref.zone)
	switch {
	case s.notFound:
		h.add(Broken, findings.TraceMissingLink.New("backend service "+b.bs.GetName(), obj+" does not exist", "remove it from the backend service, or let the NEG controller recreate it (the Service's cloud.google.com/neg annotation)"))
		return h
	case s.err != nil:
		h.add(Unknown, findings.APIUnavailable.New(obj, s.err.Error(), apiHint(s.err)))
		return h
	case len(s.endpoints) == 0:
		h.see("no endpoints (no ready pod in this zone)")
		return h
	}
	var bad, unreported []endpoint
	for _, e := range s.endpoints {
		switch e.state {
		case "HEALTHY":
		case "":
			unreported = append(unreported, e)
		default:
			bad = append(bad, e)
		}
	}
	h.see("%s, %d HEALTHY: %s", plural(len(s.endpoints), "endpoint"), s.count("HEALTHY"), endpointList(s.endpoints))
	if len(bad)+len(unreported) == 0 {
		return h
	}
	state, f := t.diagnose(ctx, b, obj, bad, unreported)
	if healthy > 0 && state != Unknown {
		f = findings.TracePartlyUnhealthy.New(obj, f.Message+"; the load balancer sends requests to the healthy endpoints of other zones meanwhile", f.Hint)
		state = Warning
	}
	h.add(state, f)
	return h
}

func endpointList(eps []endpoint) string {
	var parts []string
	for i, e := range eps {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("… %d more", len(eps)-i))
			break
		}
		parts = append(parts, e.String()+" "+orText(e.state, "not reported"))
	}
	return strings.Join(parts, ", ")
}

// diagnose finds why endpoints are not healthy: the firewall, their pods,
// or the health check's port; without a cause a new backend is
// converging, an older one broken.
func (t *tracer) diagnose(ctx context.Context, b *backend, obj string, bad, unreported []endpoint) (State, findings.Finding) {
	all := append(slices.Clone(bad), unreported...)
	what := fmt.Sprintf("%s not healthy (%s)", plural(len(all), "endpoint"), endpointList(all))
	pr := probe{protocol: "?"}
	if b.hc != nil {
		pr = probeOf(b.hc)
	}
	if fw, err := t.firewallBlocks(ctx, all, pr); err != nil {
		return Unknown, findings.APIUnavailable.New(obj, what+"; could not check the firewall: "+err.Error(), apiHint(err))
	} else if len(fw.blocked) > 0 {
		return Broken, findings.TraceFirewall.New(obj,
			what+": no firewall rule admits "+strings.Join(fw.blocked, ", ")+" on the nodes, so Google's health checkers and front ends are shut out",
			fw.fix(pr, all))
	}
	pods, _ := t.endpointPods(ctx, b)
	var notReady []string
	for _, e := range all {
		if p, ok := pods[e.ip]; ok && !podReady(p) {
			notReady = append(notReady, "pod "+p.Name)
		}
	}
	if pr.port != 0 && len(pods) > 0 && !servesPort(pods, pr.port) {
		return Broken, findings.TraceHealthCheckPort.New("health check "+b.hc.GetName(),
			fmt.Sprintf("%s: the health check probes port %d, which the pods do not serve", what, pr.port),
			fmt.Sprintf("probe the pods' readiness port instead (Istio gateways: gcloud compute health-checks update http %s --port 15021 --request-path /healthz/ready)", b.hc.GetName()))
	}
	since := t.newestChange(b, pods, all)
	recent := !since.IsZero() && t.opts.Now().Sub(since) < t.opts.ConvergeWindow
	why := "nothing trace reads explains it (the firewall admits the health checkers, the pods are ready)"
	if len(notReady) > 0 {
		why = "not ready: " + strings.Join(notReady, ", ")
	} else if len(bad) == 0 {
		why = "Google has not reported their health yet"
	}
	if recent {
		return Converging, findings.TraceNEGConverging.New(obj,
			fmt.Sprintf("%s: %s; the backend changed %s ago, and GKE usually takes a few minutes to probe new endpoints healthy", what, why, t.opts.Now().Sub(since).Round(time.Second)),
			"wait: meshctl trace "+t.target.URL+" --watch")
	}
	hint := "check what the health check probes (" + pr.String() + ") on the pods: kubectl describe pod; for an Istio gateway, probe 15021 /healthz/ready"
	if b.hc != nil && !istioGatewayProbe(pr) {
		hint = fmt.Sprintf("the health check probes %s; an Istio gateway answers readiness on 15021 /healthz/ready: gcloud compute health-checks update http %s --port 15021 --request-path /healthz/ready", pr, b.hc.GetName())
	}
	return Broken, findings.TraceUnhealthy.New(obj, what+": "+why, hint)
}

// firewallVerdict is what the firewall shuts out, and the nodes' network
// and tags for the rule that would let it in.
type firewallVerdict struct {
	blocked          []string
	network, nodeTag string
}

// fix is the rule that lets Google's front ends and health checkers reach
// the endpoints.
func (v firewallVerdict) fix(pr probe, eps []endpoint) string {
	ports := []string{fmt.Sprintf("tcp:%d", eps[0].port)}
	if pr.port != 0 && pr.port != eps[0].port {
		ports = append(ports, fmt.Sprintf("tcp:%d", pr.port))
	}
	return fmt.Sprintf("gcloud compute firewall-rules create allow-gfe-to-gateways --network %s --direction INGRESS --source-ranges %s --allow %s --target-tags %s",
		orText(v.network, "NETWORK"), strings.Join(lb.GFERanges, ","), strings.Join(ports, ","), orText(v.nodeTag, "NODE_TAG"))
}

// endpointPods maps pod IPs to the gateway pods behind the NEGs.
func (t *tracer) endpointPods(ctx context.Context, b *backend) (map[string]corev1.Pod, error) {
	svc, _, ok := t.serviceOf(ctx, b)
	if !ok || len(svc.Spec.Selector) == 0 {
		return nil, nil
	}
	pods, err := t.r.podsOf(svc.Namespace, svc.Spec.Selector).wait(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]corev1.Pod{}
	for _, p := range pods {
		out[p.Status.PodIP] = p
	}
	return out, nil
}

// newestChange is when the backend last changed in a way that restarts
// GKE's probing: the backend service's creation, or an endpoint's pod
// turning ready.
func (t *tracer) newestChange(b *backend, pods map[string]corev1.Pod, eps []endpoint) time.Time {
	newest := parseTime(b.bs.GetCreationTimestamp())
	for _, e := range eps {
		p, ok := pods[e.ip]
		if !ok {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.LastTransitionTime.After(newest) {
				newest = c.LastTransitionTime.Time
			}
		}
	}
	return newest
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// servesPort reports whether any pod declares a container port.
func servesPort(pods map[string]corev1.Pod, port int) bool {
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if int(cp.ContainerPort) == port {
					return true
				}
			}
		}
	}
	return false
}

// firewallBlocks evaluates the VPC firewall for Google's front ends and
// health checkers to the endpoints' serving port and the probed port on
// their nodes.
func (t *tracer) firewallBlocks(ctx context.Context, eps []endpoint, pr probe) (firewallVerdict, error) {
	var v firewallVerdict
	rulesF, nodesF := t.r.firewallRules(), t.r.nodes()
	ms, err := rulesF.wait(ctx)
	if err != nil {
		return v, err
	}
	nodes, err := nodesF.wait(ctx)
	if err != nil {
		return v, err
	}
	var rules []*computepb.Firewall
	for _, m := range ms {
		if f, ok := m.(*computepb.Firewall); ok {
			rules = append(rules, f)
		}
	}
	var blocked []string
	seen := map[string]bool{}
	for _, e := range eps {
		node := findInstance(nodes, e.instance)
		if node != nil && v.network == "" {
			if nics := node.GetNetworkInterfaces(); len(nics) > 0 {
				v.network = linkName(nics[0].GetNetwork())
			}
			if tags := node.GetTags().GetItems(); len(tags) > 0 {
				v.nodeTag = tags[0]
			}
		}
		ports := []int{e.port}
		if pr.port != 0 && pr.port != e.port {
			ports = append(ports, pr.port)
		}
		for _, port := range ports {
			for _, src := range lb.GFERanges {
				key := fmt.Sprintf("%s→%s:%d", src, nodeKey(node), port)
				if seen[key] {
					continue
				}
				seen[key] = true
				if !ingressAllowed(rules, node, src, port) {
					blocked = append(blocked, fmt.Sprintf("%s to tcp:%d", src, port))
				}
			}
		}
	}
	slices.Sort(blocked)
	v.blocked = slices.Compact(blocked)
	return v, nil
}

// findInstance finds an endpoint's node among the instances; nil when it
// is not listed (the firewall is then judged without its tags).
func findInstance(nodes []*computepb.Instance, name string) *computepb.Instance {
	name = linkName(name)
	for _, n := range nodes {
		if n.GetName() == name {
			return n
		}
	}
	return nil
}

func nodeKey(n *computepb.Instance) string {
	if n == nil {
		return "?"
	}
	return n.GetName()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
