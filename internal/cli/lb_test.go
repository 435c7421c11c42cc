package cli

import (
	"strings"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
)

// The load balancer's flags are checked before the gateway is touched.
func TestExposeChecksLoadBalancerFlagsFirst(t *testing.T) {
	where := []string{"--project", "p", "--location", "us-central1", "--cluster", "c1"}
	cases := []struct {
		name string
		args []string
		want string
		hint string
	}{
		{"unknown WAF rule set", append([]string{"--waf", "bogus"}, where...), `--waf "bogus"`, ""},
		{"bad CIDR", append([]string{"--deny-cidr", "10.0.0.0/33"}, where...), `CIDR "10.0.0.0/33"`, ""},
		{"no-armor with rules", append([]string{"--no-armor", "--waf", "xss"}, where...), "--no-armor cannot be combined", ""},
		{"bad TLS version", append([]string{"--min-tls", "2.0"}, where...), `--min-tls "2.0"`, ""},
		{"no project", nil, "the load balancer needs [--project --location --cluster]", "--no-lb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := meshCluster()
			args := append([]string{"expose", "svc", "web", "-n", "shop", "--host", "www.example.com"}, tc.args...)
			r := runWithObjects(t, newHarness(t), f, args...)
			if r.code != ui.ExitUsage || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, tc.hint) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2, %q and %q", r.code, r.stderr, tc.want, tc.hint)
			}
			if w := f.Writes(); len(w) != 0 {
				t.Errorf("wrote %v", w)
			}
		})
	}
}

func TestExposeWithoutLoadBalancer(t *testing.T) {
	f := meshCluster()
	r := runWithObjects(t, newHarness(t), f, "expose", "svc", "web", "-n", "shop", "--host", "www.example.com", "--dry-run", "--no-lb")
	if r.code != 0 || strings.Contains(r.stderr, "Google's load balancer") || strings.Contains(r.stdout, "the load balancer is not planned") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A dry run without the cluster's coordinates says it left the load balancer out.
	r = runWithObjects(t, newHarness(t), f, "expose", "svc", "web", "-n", "shop", "--host", "www.example.com", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "the load balancer is not planned") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
