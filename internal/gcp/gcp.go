// Package gcp builds meshctl's Google Cloud API clients: Compute (REST), GKE
// (REST) and, later, the fleet (GKE Hub) API. It decides the endpoint, the
// credentials and the user agent; capability packages declare the narrow
// interfaces they need and accept these clients through them.
package gcp

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	container "cloud.google.com/go/container/apiv1"
	"github.com/meshctl/meshctl/internal/failure"
	"google.golang.org/api/option"
)

// Config decides how clients reach Google Cloud.
type Config struct {
	// Endpoints override Google's (Private Service Connect, the local
	// simulator). Each is a base URL such as https://compute-x.p.googleapis.com
	// or http://127.0.0.1:8085: the clients add the API path (/compute/v1/...,
	// /v1/projects/...) themselves. Empty means Google's public endpoint.
	ComputeEndpoint   string
	ContainerEndpoint string
	GKEHubEndpoint    string
	// ServiceUsageEndpoint is where Google APIs are enabled.
	ServiceUsageEndpoint string
	// CertificateManagerEndpoint is Certificate Manager's, e.g.
	// meshsim's http://127.0.0.1:PORT/certificatemanager.
	CertificateManagerEndpoint string
	// ResourceManagerEndpoint is where permissions are tested.
	ResourceManagerEndpoint string
	// UserAgent is sent with every request, e.g. "meshctl/v0.1.0".
	UserAgent string
	// DetectCredentials finds Application Default Credentials. Nil means
	// DetectDefault. It is not called for loopback endpoints.
	DetectCredentials func() (*auth.Credentials, error)
}

// ADCHint is the hint shown when no Application Default Credentials exist.
const ADCHint = "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file)"

// DetectDefault finds Application Default Credentials with the
// cloud-platform scope.
func DetectDefault() (*auth.Credentials, error) {
	return credentials.DetectDefault(&credentials.DetectOptions{
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"},
	})
}

// ValidateEndpoint checks an endpoint override: an absolute http(s) URL with
// a host, and plain http only on loopback, where no credentials are sent.
func ValidateEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("endpoint %q is not a URL like https://HOST or http://127.0.0.1:PORT", endpoint)
	}
	if u.Scheme == "http" && !IsLoopback(endpoint) {
		return fmt.Errorf("endpoint %q uses plain http on a non-loopback host: credentials would be sent unencrypted; use https", endpoint)
	}
	return nil
}

// IsLoopback reports whether endpoint's host is on this machine (localhost,
// 127.0.0.0/8 or ::1): such endpoints get requests without credentials.
func IsLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ClientOptions returns the options for a client of the API at endpoint
// (empty for Google's default): the endpoint itself, the user agent, and
// either no authentication (loopback) or Application Default Credentials.
func (c Config) ClientOptions(endpoint string) ([]option.ClientOption, error) {
	if err := ValidateEndpoint(endpoint); err != nil {
		return nil, failure.Usage(err, "check --compute-endpoint, --container-endpoint and the MESHCTL_*_ENDPOINT variables")
	}
	var opts []option.ClientOption
	if c.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(c.UserAgent))
	}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(endpoint, "/")))
	}
	if endpoint != "" && IsLoopback(endpoint) {
		return append(opts, option.WithoutAuthentication()), nil
	}
	detect := c.DetectCredentials
	if detect == nil {
		detect = DetectDefault
	}
	creds, err := detect()
	if err != nil {
		return nil, failure.WithHint(fmt.Errorf("find Google Cloud credentials: %w", err), ADCHint)
	}
	return append(opts, option.WithAuthCredentials(creds)), nil
}

// NewCompute builds any Compute REST client from cloud.google.com/go/compute/apiv1
// against c's Compute endpoint, e.g.
//
//	bs, err := gcp.NewCompute(ctx, cfg, compute.NewBackendServicesRESTClient)
//
// The caller closes the client.
func NewCompute[T any](ctx context.Context, c Config, newClient func(context.Context, ...option.ClientOption) (T, error)) (T, error) {
	var zero T
	opts, err := c.ClientOptions(c.ComputeEndpoint)
	if err != nil {
		return zero, err
	}
	client, err := newClient(ctx, opts...)
	if err != nil {
		return zero, fmt.Errorf("create compute client: %w", err)
	}
	return client, nil
}

// NewClusterManager builds the GKE API client (REST transport) against c's
// Container endpoint. The caller closes the client.
func NewClusterManager(ctx context.Context, c Config) (*container.ClusterManagerClient, error) {
	opts, err := c.ClientOptions(c.ContainerEndpoint)
	if err != nil {
		return nil, err
	}
	client, err := container.NewClusterManagerRESTClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create GKE client: %w", err)
	}
	return client, nil
}

// GKEHubOptions returns the options for google.golang.org/api/gkehub/v1
// (gkehub.NewService(ctx, opts...)). That discovery-based client joins
// relative paths to its endpoint, so the endpoint gets a trailing slash.
func (c Config) GKEHubOptions() ([]option.ClientOption, error) {
	return c.discoveryOptions(c.GKEHubEndpoint)
}

// ServiceUsageOptions returns the options for
// google.golang.org/api/serviceusage/v1 against c's Service Usage endpoint.
func (c Config) ServiceUsageOptions() ([]option.ClientOption, error) {
	return c.discoveryOptions(c.ServiceUsageEndpoint)
}

// CertificateManagerOptions returns the options for
// google.golang.org/api/certificatemanager/v1 against c's endpoint.
func (c Config) CertificateManagerOptions() ([]option.ClientOption, error) {
	return c.discoveryOptions(c.CertificateManagerEndpoint)
}

// discoveryOptions are the options of a discovery-based client
// (google.golang.org/api/...), which wants a trailing slash.
func (c Config) discoveryOptions(endpoint string) ([]option.ClientOption, error) {
	if endpoint != "" && !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	opts, err := c.ClientOptions(endpoint)
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		// ClientOptions trimmed the slash for the REST clients; put it back.
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	return opts, nil
}
