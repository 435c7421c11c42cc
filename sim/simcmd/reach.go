package simcmd

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/reach"
	"github.com/meshctl/meshctl/sim/state"
)

// gkeOptions gives the fake GKE the simulated clusters' endpoints and CAs,
// so `gcloud container clusters get-credentials` reaches their API servers.
func gkeOptions(d state.Dir, s state.Sim) fakegcp.Options {
	opts := fakegcp.Options{}
	opts.ClusterEndpoint, opts.ClusterCACertificate = clusterEndpoint(d.Kubeconfig(), "")
	for _, c := range s.AllClusters()[1:] {
		endpoint, ca := clusterEndpoint(d.Kubeconfig(), c.Context)
		opts.MoreClusters = append(opts.MoreClusters, fakegcp.SimulatedCluster{Scenario: c.Scenario, Endpoint: endpoint, CACertificate: ca})
	}
	return opts
}

// clusterEndpoint reads a context's server and CA (base64 PEM, as GKE
// returns it) from a kubeconfig; context "" is the current one.
func clusterEndpoint(kubeconfig, context string) (server, ca string) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return "", ""
	}
	if context == "" {
		context = cfg.CurrentContext
	}
	ctx := cfg.Contexts[context]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		return "", ""
	}
	c := cfg.Clusters[ctx.Cluster]
	data := c.CertificateAuthorityData
	if len(data) == 0 && c.CertificateAuthority != "" {
		data, _ = os.ReadFile(c.CertificateAuthority)
	}
	return c.Server, base64.StdEncoding.EncodeToString(data)
}

// serveReach starts the reachability proxy: one listener per cluster, for
// its istiods, deciding from the fake GKE's live settings, and one for
// simulated VMs, deciding from the fake Compute's load balancers, VMs,
// peerings and firewall, routed as the east-west gateways would.
func serveReach(ctx context.Context, s state.Sim, gke *fakegcp.Server, route reach.Router) (*reach.Proxy, error) {
	p := &reach.Proxy{Clusters: gke.SimulatedClusters, Backends: map[string]string{}, Logf: log.Printf, Network: gke, Route: route}
	for _, c := range s.AllClusters() {
		if u, err := url.Parse(c.KubeAPIServer); err == nil {
			p.Backends[c.Name()] = u.Host
		}
	}
	for _, c := range s.AllClusters() {
		if c.ProxyPort == 0 {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.ProxyPort))
		if err != nil {
			return nil, fmt.Errorf("the reachability proxy for %s: %w", c.Name(), err)
		}
		go func() {
			if err := p.Serve(ctx, ln, c.Name()); err != nil {
				log.Printf("reachability proxy for %s: %v", c.Name(), err)
			}
		}()
	}
	if s.VMProxyPort != 0 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.VMProxyPort))
		if err != nil {
			return nil, fmt.Errorf("the VM proxy: %w", err)
		}
		go func() {
			if err := p.ServeVMs(ctx, ln); err != nil {
				log.Printf("VM proxy: %v", err)
			}
		}()
	}
	return p, nil
}

// withReach serves the reachability model at /meshsim/reach beside the
// Google Cloud APIs.
func withReach(p *reach.Proxy, apis http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/meshsim/reach", p.Handler())
	mux.Handle("/", apis)
	return mux
}
