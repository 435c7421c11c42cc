// Package vmagent is meshsim's stand-in for a VM's pilot-agent: from the
// bundle `istioctl x workload entry configure` writes, it opens the xDS
// stream to istiod a VM's proxy would open and keeps it until stopped, so
// that istiod itself registers the VM (WorkloadEntry auto-registration)
// and, once the stream ends, removes it after its grace period.
//
// What it does as pilot-agent does: istiod's address from mesh.yaml's
// discoveryAddress, resolved through the bundle's hosts (the VM resolves
// no cluster names); TLS verified with root-cert.pem for istiod's name;
// the istio-token as the bearer credential, which istiod's token
// authenticator checks with a TokenReview (audience istio-ca); the node ID
// and metadata from cluster.env and proxyMetadata. What it does not: it
// asks no certificate from istio-ca (pilot-agent then uses the workload
// certificate for xDS; istiod accepts the token alone), runs no Envoy and
// applies nothing it receives; it only acknowledges the clusters istiod
// sends. There is no data path: the connection to istiod goes through
// meshsim's VM proxy (sim/reach ServeVMs), which admits it as the network
// model allows and ends it where the east-west gateway would send it.
package vmagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/meshctl/meshctl/sim/reach"
)

// Options says how the agent reaches istiod.
type Options struct {
	Bundle *Bundle
	Node   Node
	// Proxy is meshsim's VM proxy (host:port) and Caller the VM behind
	// the connections (sim/reach CallerHeader).
	Proxy, Caller string
	// Logf reports progress.
	Logf func(format string, a ...any)
}

// adsMethod is Envoy's aggregated discovery stream, which pilot-agent
// proxies to istiod.
const adsMethod = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"

// clusterType is what the agent asks for first, as Envoy does.
const clusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster"

// Run connects to istiod and holds the stream until ctx ends; it returns
// the first error that ends the stream otherwise.
func Run(ctx context.Context, o Options) error {
	target, err := o.Bundle.Resolve(o.Bundle.DiscoveryAddress)
	if err != nil {
		return err
	}
	serverName, _, _ := net.SplitHostPort(o.Bundle.DiscoveryAddress)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(o.Bundle.RootCert) {
		return fmt.Errorf("%s/%s holds no PEM certificate", o.Bundle.Dir, RootCertFile)
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialThrough(ctx, o.Proxy, o.Caller, addr)
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	md := metadata.Pairs("authorization", "Bearer "+o.Bundle.Token, "ClusterID", o.Node.ClusterID)
	stream, err := conn.NewStream(metadata.NewOutgoingContext(ctx, md), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
		adsMethod, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return fmt.Errorf("xDS to %s (%s): %w", o.Bundle.DiscoveryAddress, target, err)
	}
	first, err := discoveryRequest(o.Node, clusterType, "", "")
	if err != nil {
		return err
	}
	if err := stream.SendMsg(first); err != nil {
		return streamErr(ctx, o, target, err)
	}
	o.Logf("xDS stream to %s (%s) open as %s", o.Bundle.DiscoveryAddress, target, o.Node.ID)
	for {
		var raw []byte
		if err := stream.RecvMsg(&raw); err != nil {
			return streamErr(ctx, o, target, err)
		}
		resp, err := parseDiscoveryResponse(raw)
		if err != nil {
			return err
		}
		o.Logf("istiod sent %d %s (version %s)", resp.Resources, resp.TypeURL, resp.Version)
		ack, err := discoveryRequest(o.Node, resp.TypeURL, resp.Version, resp.Nonce)
		if err != nil {
			return err
		}
		if err := stream.SendMsg(ack); err != nil {
			return streamErr(ctx, o, target, err)
		}
	}
}

// streamErr is nil when ctx ended (the agent was stopped), else err with
// what the agent was doing.
func streamErr(ctx context.Context, o Options, target string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("xDS stream to %s (%s): %w", o.Bundle.DiscoveryAddress, target, err)
}

// dialThrough opens a connection to addr through meshsim's VM proxy.
func dialThrough(ctx context.Context, proxy, caller, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", proxy)
	if err != nil {
		return nil, fmt.Errorf("meshsim's VM proxy %s: %w (is the simulator up?)", proxy, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s: %s\r\n\r\n", addr, addr, reach.CallerHeader, caller); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s as %s: %w", addr, caller, err)
	}
	// A 200 to CONNECT has no body (what follows is the tunnel, which closing
	// resp.Body does not read); on an error conn is closed first.
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("CONNECT %s as %s: %s", addr, caller, resp.Status)
	}
	if br.Buffered() > 0 {
		conn.Close()
		return nil, errors.New("the VM proxy sent data before the tunnel opened")
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}
