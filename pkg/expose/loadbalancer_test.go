package expose

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/sim/scenario"
)

// noClient fails the test when the load balancer's client is built.
func noClient(t *testing.T) func(context.Context) (*lb.Client, func(), error) {
	return func(context.Context) (*lb.Client, func(), error) {
		t.Error("the load balancer's client was built")
		return nil, nil, errors.New("no client in this test")
	}
}

// The load balancer's input is checked before the gateway is touched, with
// stand-ins for what the gateway provides later.
func TestLoadBalancerValidate(t *testing.T) {
	where := lb.Spec{Project: "p", Location: "us-central1", Cluster: "c1"}
	cases := []struct {
		name   string
		spec   func(*lb.Spec)
		dryRun bool
		want   string
		hint   string
	}{
		{"valid", func(*lb.Spec) {}, false, "", ""},
		{"unknown WAF rule set", func(s *lb.Spec) { s.Armor.WAF = []string{"bogus"} }, false, `--waf "bogus"`, ""},
		{"bad CIDR", func(s *lb.Spec) { s.Armor.DenyCIDRs = []string{"10.0.0.0/33"} }, false, `CIDR "10.0.0.0/33"`, ""},
		{"no-armor with rules", func(s *lb.Spec) { s.Armor.Disabled, s.Armor.WAF = true, []string{"xss"} }, false, "--no-armor cannot be combined", ""},
		{"bad TLS version", func(s *lb.Spec) { s.MinTLS = "2.0" }, false, `--min-tls "2.0"`, ""},
		{"no project", func(s *lb.Spec) { *s = lb.Spec{} }, false, "the load balancer needs [--project --location --cluster]", "--no-lb"},
		{"no project in a dry run: planned without it", func(s *lb.Spec) { *s = lb.Spec{} }, true, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &LoadBalancer{Spec: where, Client: noClient(t)}
			tc.spec(&l.Spec)
			o := opts()
			o.DryRun = tc.dryRun
			err := l.Validate(o)
			if tc.want == "" {
				if err != nil {
					t.Errorf("err %v", err)
				}
				return
			}
			if err == nil || failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(err.Error(), tc.want) || !strings.Contains(failure.HintOf(err), tc.hint) {
				t.Errorf("err %v (exit %d, hint %q), want a usage error with %q and hint %q", err, failure.ExitCode(err), failure.HintOf(err), tc.want, tc.hint)
			}
		})
	}
}

// A dry run plans the load balancer only when it can: with the cluster's
// coordinates and the NEGs GKE reports. Otherwise it says so, and builds no
// client.
func TestRunWithLoadBalancerDryRunWarnings(t *testing.T) {
	o := opts()
	o.DryRun, o.GatewayNamespace = true, "" // the gateway's own namespace: no warning of a shared one

	cases := []struct {
		name string
		l    func(t *testing.T) *LoadBalancer
		warn string
	}{
		{"--no-lb", func(*testing.T) *LoadBalancer { return nil }, ""},
		{"no coordinates", func(t *testing.T) *LoadBalancer { return &LoadBalancer{Client: noClient(t)} }, "the load balancer is not planned: it needs [--project --location --cluster]"},
		{"no NEGs yet", func(t *testing.T) *LoadBalancer {
			return &LoadBalancer{Spec: lb.Spec{Project: "p", Location: "us-central1", Cluster: "c1"}, Client: noClient(t)}
		}, "the load balancer is planned once GKE reports the gateways' NEGs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			rec := &ui.Recorder{}
			out, err := RunWithLoadBalancer(context.Background(), c, rec, o, tc.l(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if out.LoadBalancer != nil || len(out.Changes) != 13 {
				t.Errorf("load balancer %+v, %d gateway changes", out.LoadBalancer, len(out.Changes))
			}
			got := strings.Join(out.Warnings, "\n")
			if (tc.warn == "") != (got == "") || !strings.Contains(got, tc.warn) || !strings.Contains(strings.Join(rec.Lines(), "\n"), tc.warn) {
				t.Errorf("warnings %q (progress %q), want %q", got, rec.Lines(), tc.warn)
			}
			if w := c.Writes(); len(w) != 0 {
				t.Errorf("dry run wrote %v", w)
			}
		})
	}
}

// The load balancer gets the gateway's NEG, ports and health check, is
// built after the gateway, and goes before it.
func TestRunWithLoadBalancerBuildsAndRemovesIt(t *testing.T) {
	sc := scenario.Default()
	clients := 0
	srv, client := fakeLBClient(t, sc, &clients)
	l := &LoadBalancer{Spec: lb.Spec{Project: sc.Project, Location: sc.Location, Cluster: sc.Cluster}, Client: client}
	c := newCluster(t)
	ctx := context.Background()

	// GKE's NEG controller makes the NEGs the gateway Service asks for.
	dry := opts()
	dry.DryRun = true
	planned, err := RunWithLoadBalancer(ctx, c, ui.Discard, dry, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range c.zones {
		if err := srv.EnsureNEG(z, planned.NEG.Name, `{"cluster-uid":"0a1b2c3d"}`); err != nil {
			t.Fatal(err)
		}
	}

	out, err := RunWithLoadBalancer(ctx, c, ui.Discard, opts(), l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.LoadBalancer == nil || out.LoadBalancer.DryRun || out.LoadBalancer.IPAddress == "" || len(out.LoadBalancer.Backends) != len(c.zones) {
		t.Fatalf("load balancer %+v", out.LoadBalancer)
	}
	var hc, bs map[string]any
	for _, r := range srv.State().Resources {
		switch r["kind"] {
		case "compute#healthCheck":
			hc = r
		case "compute#backendService":
			bs = r
		}
	}
	check, _ := hc["httpHealthCheck"].(map[string]any)
	if fmt.Sprint(check["port"]) != fmt.Sprint(out.Gateway.HealthCheck.Port) || check["requestPath"] != out.Gateway.HealthCheck.Path {
		t.Errorf("health check %v, want the gateway's port %d", hc["httpHealthCheck"], out.Gateway.HealthCheck.Port)
	}
	if backends, _ := bs["backends"].([]any); len(backends) != len(c.zones) || !strings.Contains(backends[0].(map[string]any)["group"].(string), out.NEG.Name) {
		t.Errorf("backends %v, want the gateway's NEG %s in %d zones", bs["backends"], out.NEG.Name, len(c.zones))
	}

	un, err := UnexposeWithLoadBalancer(ctx, c, ui.Discard, UnexposeOptions{Namespace: "shop", Service: "web", PollInterval: time.Millisecond}, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if un.LoadBalancer == nil || len(un.LoadBalancer.Plan) == 0 || len(un.Changes) == 0 {
		t.Fatalf("unexpose: load balancer %+v, %d gateway changes", un.LoadBalancer, len(un.Changes))
	}
	for _, r := range srv.State().Resources {
		if d, _ := r["description"].(string); strings.Contains(d, `"managedBy":"meshctl"`) {
			t.Errorf("left after unexpose: %s", r["selfLink"])
		}
	}
	if clients != 2 {
		t.Errorf("%d clients built, want one per run that planned the load balancer", clients)
	}
}
