package factory

import (
	"context"
	"fmt"
	"io"
	"sync"

	container "cloud.google.com/go/container/apiv1"
	"google.golang.org/api/certificatemanager/v1"
	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"google.golang.org/api/option"
	"google.golang.org/api/serviceusage/v1"

	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/gcp"
)

// GCP returns the Google Cloud client configuration: endpoints from the
// settings, meshctl's user agent, and credentials looked up once per run.
func (f *Factory) GCP() gcp.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.creds == nil {
		f.creds = sync.OnceValues(f.DetectCredentials)
	}
	return gcp.Config{
		ComputeEndpoint:            f.Settings.ComputeEndpoint,
		ContainerEndpoint:          f.Settings.ContainerEndpoint,
		GKEHubEndpoint:             f.Settings.GKEHubEndpoint,
		ServiceUsageEndpoint:       f.Settings.ServiceUsageEndpoint,
		CertificateManagerEndpoint: f.Settings.CertificateManagerEndpoint,
		ResourceManagerEndpoint:    f.Settings.ResourceManagerEndpoint,
		UserAgent:                  buildinfo.UserAgent(),
		DetectCredentials:          f.creds,
	}
}

// ClusterManager returns the GKE API client, closed when the command ends.
func (f *Factory) ClusterManager(ctx context.Context) (*container.ClusterManagerClient, error) {
	cfg := f.GCP()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gke != nil {
		return f.gke, nil
	}
	c, err := f.NewClusterManager(ctx, cfg)
	if err != nil {
		return nil, err
	}
	f.gke = c
	f.closers = append(f.closers, c)
	return c, nil
}

// GKEHub returns the fleet (GKE Hub) API client.
func (f *Factory) GKEHub(ctx context.Context) (*gkehub.Service, error) {
	opts, err := f.GCP().GKEHubOptions()
	if err != nil {
		return nil, err
	}
	svc, err := gkehub.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create GKE Hub client: %w", err)
	}
	return svc, nil
}

// GKEHubV2 returns the fleet API's v2 client (membership features).
func (f *Factory) GKEHubV2(ctx context.Context) (*gkehubv2.Service, error) {
	opts, err := f.GCP().GKEHubOptions()
	if err != nil {
		return nil, err
	}
	svc, err := gkehubv2.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create GKE Hub v2 client: %w", err)
	}
	return svc, nil
}

// ServiceUsage returns the Service Usage API client (enabling APIs).
func (f *Factory) ServiceUsage(ctx context.Context) (*serviceusage.Service, error) {
	opts, err := f.GCP().ServiceUsageOptions()
	if err != nil {
		return nil, err
	}
	svc, err := serviceusage.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create Service Usage client: %w", err)
	}
	return svc, nil
}

// CertificateManager returns the Certificate Manager API client.
func (f *Factory) CertificateManager(ctx context.Context) (*certificatemanager.Service, error) {
	opts, err := f.GCP().CertificateManagerOptions()
	if err != nil {
		return nil, err
	}
	svc, err := certificatemanager.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create Certificate Manager client: %w", err)
	}
	return svc, nil
}

// NewCompute builds a Compute REST client for the command, closed when the
// command ends:
//
//	bs, err := factory.NewCompute(ctx, f, compute.NewBackendServicesRESTClient)
func NewCompute[T io.Closer](ctx context.Context, f *Factory, newClient func(context.Context, ...option.ClientOption) (T, error)) (T, error) {
	c, err := gcp.NewCompute(ctx, f.GCP(), newClient)
	if err != nil {
		return c, err
	}
	f.addCloser(c)
	return c, nil
}
