package trace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Target is the request traced.
type Target struct {
	// URL is the request as a URL: https://shop.example.com/cart.
	URL    string `json:"url"`
	Scheme string `json:"scheme"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Path   string `json:"path"`
	// IsIP is set when the host is an address.
	IsIP bool `json:"isIP,omitempty"`
	// Addresses are where the host leads: the IP itself, --address, or
	// DNS's answer.
	Addresses []string `json:"addresses,omitempty"`
	// ResolvedBy says how: "ip", "--address", "dns", or "" when DNS gave
	// nothing and the URL maps' host rules are searched instead.
	ResolvedBy string `json:"resolvedBy,omitempty"`
	// DNSError is why DNS gave nothing.
	DNSError string `json:"dnsError,omitempty"`
}

// ParseTarget reads HOST, HOST/PATH, IP, IP/PATH or a URL; without a
// scheme the request is HTTPS.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, fmt.Errorf("nothing to trace: give a host, an IP or a URL")
	}
	raw := s
	if !strings.Contains(s, "://") {
		raw = "https://" + s
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("%q is not a host or a URL: %w", s, err)
	}
	t := Target{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Hostname()), Path: u.EscapedPath()}
	switch t.Scheme {
	case "https":
		t.Port = 443
	case "http":
		t.Port = 80
	default:
		return Target{}, fmt.Errorf("%q: scheme %s: the load balancer serves http and https", s, u.Scheme)
	}
	if p := u.Port(); p != "" {
		if t.Port, err = strconv.Atoi(p); err != nil || t.Port < 1 || t.Port > 65535 {
			return Target{}, fmt.Errorf("%q: port %s is not a port number", s, p)
		}
	}
	if t.Host == "" {
		return Target{}, fmt.Errorf("%q names no host", s)
	}
	if _, err := netip.ParseAddr(t.Host); err == nil {
		t.IsIP = true
	} else if strings.Trim(t.Host, "abcdefghijklmnopqrstuvwxyz0123456789-.*") != "" {
		return Target{}, fmt.Errorf("%q: %q is not a host name", s, t.Host)
	}
	if t.Path == "" {
		t.Path = "/"
	}
	hostPort := t.Host
	if strings.Contains(hostPort, ":") {
		hostPort = "[" + hostPort + "]"
	}
	if u.Port() != "" {
		hostPort += ":" + u.Port()
	}
	t.URL = t.Scheme + "://" + hostPort + t.Path
	return t, nil
}

// resolve finds the addresses the target leads to.
func resolve(ctx context.Context, t Target, opts Options) (addrs []string, by, dnsErr string) {
	switch {
	case t.IsIP:
		return []string{t.Host}, "ip", ""
	case opts.Address != "":
		return []string{opts.Address}, "--address", ""
	}
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	got, err := opts.LookupHost(ctx, t.Host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, "", "no such host"
		}
		return nil, "", err.Error()
	}
	if len(got) == 0 {
		return nil, "", "no address"
	}
	return got, "dns", ""
}

// ValidateAddress checks --address.
func ValidateAddress(a string) error {
	if a == "" {
		return nil
	}
	if _, err := netip.ParseAddr(a); err != nil {
		return fmt.Errorf("--address %q is not an IP address", a)
	}
	return nil
}
