// Package cli is meshctl's command tree: cobra commands that parse input,
// call a capability package and print its result. No API logic lives here.
//
// Adding a command takes one line in NewRootCmd plus a constructor:
//
//	func newCheckCmd(app *App) *cobra.Command {
//		var opts check.Options
//		cmd := &cobra.Command{
//			Use:   "check",
//			Short: "...",
//			Args:  cobra.NoArgs,
//			RunE: func(cmd *cobra.Command, _ []string) error {
//				gke, err := app.ClusterManager(cmd.Context())
//				if err != nil {
//					return err
//				}
//				res, err := check.Run(cmd.Context(), gke, app.Reporter, opts)
//				if err != nil {
//					return err
//				}
//				if err := app.Print(res); err != nil {
//					return err
//				}
//				if res.HasProblems() {
//					return ui.Problems() // exit code 3, nothing more printed
//				}
//				return nil
//			},
//		}
//		cmd.Flags().StringVar(&opts.Revision, "revision", "", "...")
//		return cmd
//	}
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"cloud.google.com/go/auth"
	container "cloud.google.com/go/container/apiv1"
	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"google.golang.org/api/option"
	"google.golang.org/api/serviceusage/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Env is what one run of meshctl takes from its process. Tests build their
// own with buffers and a fake environment.
type Env struct {
	Streams   ui.Streams
	LookupEnv func(string) (string, bool)
	ReadFile  func(string) ([]byte, error)
}

// SystemEnv returns the real process environment.
func SystemEnv() Env {
	return Env{Streams: ui.SystemStreams(), LookupEnv: os.LookupEnv, ReadFile: os.ReadFile}
}

// App is what every command gets: resolved settings, the streams, the printer
// and reporter, and clients built on first use from the settings. The root
// command fills Settings, Printer and Reporter before any command's RunE.
type App struct {
	IO ui.Streams
	// Settings are the effective global settings (project, location,
	// cluster, kubeconfig, context, endpoints, output...).
	Settings *config.Settings
	// Printer prints a command's result to stdout in the --output format.
	Printer *ui.Printer
	// Reporter shows progress on stderr: a spinner on a terminal,
	// timestamped lines otherwise.
	Reporter ui.Reporter
	// ErrStyles style messages on stderr.
	ErrStyles ui.Styles

	// Client factories; tests replace them to hand commands fakes.
	NewKubeClient     func(*rest.Config) (kubernetes.Interface, error)
	NewClusterManager func(context.Context, gcp.Config) (*container.ClusterManagerClient, error)
	DetectCredentials func() (*auth.Credentials, error)

	env     Env
	started bool // the root's PersistentPreRunE ran: later errors are not usage errors
	cancel  context.CancelFunc

	mu      sync.Mutex
	closers []io.Closer
	creds   func() (*auth.Credentials, error)
	kubeRC  *rest.Config
	kubeCS  kubernetes.Interface
	gke     *container.ClusterManagerClient
}

// NewApp returns an App for env with the real client factories.
func NewApp(env Env) *App {
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	return &App{
		IO:                env.Streams,
		Reporter:          ui.Discard,
		Printer:           &ui.Printer{Format: ui.FormatText, Out: env.Streams.Out},
		NewKubeClient:     func(rc *rest.Config) (kubernetes.Interface, error) { return kubernetes.NewForConfig(rc) },
		NewClusterManager: gcp.NewClusterManager,
		DetectCredentials: gcp.DetectDefault,
		env:               env,
	}
}

// Print prints a command's result once, in the --output format.
func (a *App) Print(v any) error {
	return a.Printer.Print(v)
}

// Logf writes a debug line to stderr when --verbose is set.
func (a *App) Logf(format string, args ...any) {
	if a.Settings != nil && a.Settings.Verbose {
		fmt.Fprintf(a.IO.ErrOut, "%s %s\n", a.ErrStyles.Faint("debug:"), fmt.Sprintf(format, args...))
	}
}

// KubeConfig says which kubeconfig and context the Kubernetes clients use.
func (a *App) KubeConfig() kube.Config {
	return kube.Config{
		Kubeconfig:  a.Settings.Kubeconfig,
		SearchPaths: kubeSearchPaths(a.env.LookupEnv),
		Context:     a.Settings.Context,
		UserAgent:   buildinfo.UserAgent(),
	}
}

// kubeSearchPaths applies kubectl's rules to env rather than to the process
// environment, so that a run sees one environment throughout.
func kubeSearchPaths(lookupEnv func(string) (string, bool)) []string {
	if v, ok := lookupEnv("KUBECONFIG"); ok && v != "" {
		return filepath.SplitList(v)
	}
	if home, ok := lookupEnv("HOME"); ok && home != "" {
		return []string{filepath.Join(home, ".kube", "config")}
	}
	return nil
}

// KubeRESTConfig returns the client configuration for the selected
// kubeconfig context, for clients other than kubernetes.Interface (dynamic,
// Istio).
func (a *App) KubeRESTConfig() (*rest.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.kubeRESTConfigLocked()
}

func (a *App) kubeRESTConfigLocked() (*rest.Config, error) {
	if a.kubeRC != nil {
		return rest.CopyConfig(a.kubeRC), nil
	}
	rc, err := kube.RESTConfig(a.KubeConfig())
	if err != nil {
		s := a.Settings
		if s.Project != "" && s.Location != "" && s.Cluster != "" {
			err = ui.WithHint(err, fmt.Sprintf("run `gcloud container clusters get-credentials %s --location %s --project %s`", s.Cluster, s.Location, s.Project))
		}
		return nil, err
	}
	a.kubeRC = rc
	return rest.CopyConfig(rc), nil
}

// Kube returns the Kubernetes client for the selected context.
func (a *App) Kube() (kubernetes.Interface, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kubeCS != nil {
		return a.kubeCS, nil
	}
	rc, err := a.kubeRESTConfigLocked()
	if err != nil {
		return nil, err
	}
	cs, err := a.NewKubeClient(rc)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	a.kubeCS = cs
	return cs, nil
}

// GCP returns the Google Cloud client configuration: endpoints from the
// settings, meshctl's user agent, and credentials looked up once per run.
func (a *App) GCP() gcp.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.creds == nil {
		a.creds = sync.OnceValues(a.DetectCredentials)
	}
	return gcp.Config{
		ComputeEndpoint:      a.Settings.ComputeEndpoint,
		ContainerEndpoint:    a.Settings.ContainerEndpoint,
		GKEHubEndpoint:       a.Settings.GKEHubEndpoint,
		ServiceUsageEndpoint: a.Settings.ServiceUsageEndpoint,
		UserAgent:            buildinfo.UserAgent(),
		DetectCredentials:    a.creds,
	}
}

// ClusterManager returns the GKE API client, closed when the command ends.
func (a *App) ClusterManager(ctx context.Context) (*container.ClusterManagerClient, error) {
	cfg := a.GCP()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gke != nil {
		return a.gke, nil
	}
	c, err := a.NewClusterManager(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.gke = c
	a.closers = append(a.closers, c)
	return c, nil
}

// GKEHub returns the fleet (GKE Hub) API client.
func (a *App) GKEHub(ctx context.Context) (*gkehub.Service, error) {
	opts, err := a.GCP().GKEHubOptions()
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
func (a *App) GKEHubV2(ctx context.Context) (*gkehubv2.Service, error) {
	opts, err := a.GCP().GKEHubOptions()
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
func (a *App) ServiceUsage(ctx context.Context) (*serviceusage.Service, error) {
	opts, err := a.GCP().ServiceUsageOptions()
	if err != nil {
		return nil, err
	}
	svc, err := serviceusage.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create Service Usage client: %w", err)
	}
	return svc, nil
}

// NewCompute builds a Compute REST client for the command, closed when the
// command ends:
//
//	bs, err := cli.NewCompute(ctx, app, compute.NewBackendServicesRESTClient)
func NewCompute[T io.Closer](ctx context.Context, a *App, newClient func(context.Context, ...option.ClientOption) (T, error)) (T, error) {
	c, err := gcp.NewCompute(ctx, a.GCP(), newClient)
	if err != nil {
		return c, err
	}
	a.mu.Lock()
	a.closers = append(a.closers, c)
	a.mu.Unlock()
	return c, nil
}

// close releases what the command opened.
func (a *App) close() error {
	if a.cancel != nil {
		a.cancel()
	}
	ui.CloseReporter(a.Reporter)
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i].Close())
	}
	a.closers = nil
	return errors.Join(errs...)
}
