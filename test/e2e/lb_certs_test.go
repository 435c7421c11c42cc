//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/lb"
)

// certProbe reads a load balancer's HTTPS proxy, its certificates and its
// URL map every interval, as a client would see them, and records every
// moment a host that had been served with an ACTIVE certificate is still
// routed but has none on the proxy.
type certProbe struct {
	proxy, urlMap string

	mu      sync.Mutex
	samples int
	served  map[string]bool // hosts seen with an ACTIVE certificate
	gaps    []string
}

type probeCert struct {
	Managed struct {
		Domains      []string          `json:"domains"`
		DomainStatus map[string]string `json:"domainStatus"`
	} `json:"managed"`
}

// sample reads the proxy and its certificates first, then the URL map: a
// host that leaves goes from the URL map before its certificate goes from
// the proxy, so this order never sees a host routed without a certificate
// that was there.
func (p *certProbe) sample(tb testing.TB) {
	var proxy struct {
		SslCertificates []string `json:"sslCertificates"`
	}
	if lbComputeCall(tb, http.MethodGet, "/global/targetHttpsProxies/"+p.proxy, &proxy) != http.StatusOK {
		return
	}
	active := map[string]bool{}
	for _, link := range proxy.SslCertificates {
		var c probeCert
		if lbComputeCall(tb, http.MethodGet, "/global/sslCertificates/"+linkTail(link), &c) != http.StatusOK {
			continue
		}
		for d, s := range c.Managed.DomainStatus {
			if s == "ACTIVE" {
				active[d] = true
			}
		}
	}
	var um struct {
		HostRules []struct {
			Hosts []string `json:"hosts"`
		} `json:"hostRules"`
	}
	if lbComputeCall(tb, http.MethodGet, "/global/urlMaps/"+p.urlMap, &um) != http.StatusOK {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples++
	for _, hr := range um.HostRules {
		for _, h := range hr.Hosts {
			switch {
			case active[h]:
				p.served[h] = true
			case p.served[h]:
				p.gaps = append(p.gaps, fmt.Sprintf("%s: %s routed without an ACTIVE certificate (proxy: %v)",
					time.Now().Format("15:04:05.000"), h, proxy.SslCertificates))
			}
		}
	}
}

// run samples until ctx ends.
func (p *certProbe) run(ctx context.Context, tb testing.TB, every time.Duration) {
	for ctx.Err() == nil {
		p.sample(tb)
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

func (p *certProbe) report() (samples int, served, gaps []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for h := range p.served {
		served = append(served, h)
	}
	slices.Sort(served)
	return p.samples, served, slices.Clone(p.gaps)
}

// waitCertActive waits until every host is ACTIVE on the proxy.
func waitCertActive(t *testing.T, p *certProbe, hosts ...string) {
	t.Helper()
	eventually(t, 2*time.Minute, fmt.Sprintf("ACTIVE certificates for %v", hosts), func() (bool, string) {
		_, served, _ := p.report()
		for _, h := range hosts {
			if !slices.Contains(served, h) {
				return false, fmt.Sprint("served: ", served)
			}
		}
		return true, ""
	})
}

// TestLBCertificatesNeverLeaveAServedHostWithoutTLS: with Google-managed
// certificates taking 10 s to provision, two Services join one shared load
// balancer (one of them then changes its hosts while the other joins), and
// both leave, while a probe reads the proxy and the certificates every
// 300 ms: no host that was served with an ACTIVE certificate is ever routed
// without one.
func TestLBCertificatesNeverLeaveAServedHostWithoutTLS(t *testing.T) {
	svs := lbGateways(t, "e2e-lb-certs", "first", "second", "third")
	first, second, third := svs[0], svs[1], svs[2]
	lbKnobs(t, map[string]any{"certProvisioningDelay": "10s"})
	const lbName = "e2e-certs"
	cl := lbClient(t, nil)
	lbApply(t, cl, lbSpec(lbName, first))

	probe := &certProbe{proxy: "mclb-" + lbName + "-https", urlMap: "mclb-" + lbName + "-um", served: map[string]bool{}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); probe.run(ctx, t, 300*time.Millisecond) }()
	defer func() { stop(); <-done }()
	waitCertActive(t, probe, first.Hosts[0])

	// The second joins; once it is served, it adds a host while the third
	// joins at the same time, in another run.
	lbApply(t, cl, lbSpec(lbName, second))
	waitCertActive(t, probe, second.Hosts[0])
	secondMore := second
	secondMore.Hosts = []string{second.Hosts[0], "more." + second.Hosts[0]}
	concurrently(t, false, lbSpec(lbName, secondMore), lbSpec(lbName, third))
	waitCertActive(t, probe, secondMore.Hosts[1], third.Hosts[0])
	// A run after the new certificate is ACTIVE retires the old one.
	res := lbApply(t, cl, lbSpec(lbName, secondMore))
	if len(res.Certificates) != 3 {
		t.Errorf("after the new certificate is ACTIVE the proxy holds %+v, want one per Service", res.Certificates)
	}

	// Both leave, at the same time.
	concurrently(t, true, lbSpec(lbName, secondMore), lbSpec(lbName, third))
	stop()
	<-done

	samples, served, gaps := probe.report()
	t.Logf("%d probes; hosts served with an ACTIVE certificate: %v", samples, served)
	if samples < 20 {
		t.Errorf("only %d probes", samples)
	}
	for _, g := range gaps {
		t.Errorf("gap: %s", g)
	}
	var proxy struct {
		SslCertificates []string `json:"sslCertificates"`
	}
	lbComputeCall(t, http.MethodGet, "/global/targetHttpsProxies/"+probe.proxy, &proxy)
	if len(proxy.SslCertificates) != 1 || !strings.Contains(proxy.SslCertificates[0], "-first-cert-") {
		t.Errorf("after both left the proxy holds %v, want the first Service's certificate alone", proxy.SslCertificates)
	}
	lbTeardown(t, cl, lbSpec(lbName, first))
	if owned := lbOwned(t, lbName); len(owned) != 0 {
		t.Errorf("left: %v", owned)
	}
}

// concurrently exposes (or, with teardown, removes) the specs in runs of
// their own at the same time.
func concurrently(t *testing.T, teardown bool, specs ...lb.Spec) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	for i, spec := range specs {
		cl := lbClient(t, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			plan := cl.Plan
			if teardown {
				plan = cl.PlanTeardown
			}
			p, err := plan(ctx, spec)
			if err == nil {
				_, err = cl.Apply(ctx, p)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run for %s: %v", specs[i].Services[0].Key(), err)
		}
	}
}
