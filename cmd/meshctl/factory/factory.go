// Package factory is what every meshctl command gets: the streams, the
// resolved settings, the printer and the progress reporter, and the
// clients, built on first use from the settings. The root command fills in
// the settings, printer and reporter before any command runs; a command's
// NewCmdX copies what its run needs into its options.
package factory

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
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshctl/meshctl/internal/buildinfo"
	"github.com/meshctl/meshctl/internal/config"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
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

// Factory is what every command gets. Clients are built once per run and
// closed by Close when the command ends.
type Factory struct {
	Env Env
	IO  ui.Streams
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

	// Client constructors; tests replace them to hand commands fakes.
	NewKubeClient     func(*rest.Config) (kubernetes.Interface, error)
	NewClusterManager func(context.Context, gcp.Config) (*container.ClusterManagerClient, error)
	DetectCredentials func() (*auth.Credentials, error)

	mu      sync.Mutex
	closers []io.Closer
	creds   func() (*auth.Credentials, error)
	kubeRC  *rest.Config
	kubeCS  kubernetes.Interface
	gke     *container.ClusterManagerClient
}

// New returns a Factory for env with the real client constructors.
func New(env Env) *Factory {
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	return &Factory{
		Env:               env,
		IO:                env.Streams,
		Reporter:          ui.Discard,
		Printer:           &ui.Printer{Format: ui.FormatText, Out: env.Streams.Out},
		NewKubeClient:     func(rc *rest.Config) (kubernetes.Interface, error) { return kubernetes.NewForConfig(rc) },
		NewClusterManager: gcp.NewClusterManager,
		DetectCredentials: gcp.DetectDefault,
	}
}

// Configure sets the settings and builds the printer and reporter they ask
// for. The root command calls it before every command.
func (f *Factory) Configure(s *config.Settings) {
	f.Settings = s
	term, _ := f.Env.LookupEnv("TERM")
	f.Printer = &ui.Printer{
		Format: s.Output,
		Out:    f.IO.Out,
		Styles: ui.NewStyles(f.IO.Out, ui.ColorEnabled(f.IO.OutTTY, s.NoColor, term)),
	}
	f.ErrStyles = ui.NewStyles(f.IO.ErrOut, ui.ColorEnabled(f.IO.ErrTTY, s.NoColor, term))
	f.Reporter = ui.NewReporter(f.IO.ErrOut, f.IO.ErrTTY, f.ErrStyles)
}

// Logf writes a debug line to stderr when --verbose is set.
func (f *Factory) Logf(format string, args ...any) {
	if f.Settings != nil && f.Settings.Verbose {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.ErrStyles.Faint("debug:"), fmt.Sprintf(format, args...))
	}
}

// KubeConfig says which kubeconfig and context the Kubernetes clients use.
func (f *Factory) KubeConfig() kube.Config {
	return kube.Config{
		Kubeconfig:  f.Settings.Kubeconfig,
		SearchPaths: KubeSearchPaths(f.Env.LookupEnv),
		Context:     f.Settings.Context,
		UserAgent:   buildinfo.UserAgent(),
	}
}

// KubeSearchPaths applies kubectl's rules to lookupEnv rather than to the
// process environment, so that a run sees one environment throughout.
func KubeSearchPaths(lookupEnv func(string) (string, bool)) []string {
	if v, ok := lookupEnv("KUBECONFIG"); ok && v != "" {
		return filepath.SplitList(v)
	}
	if home, ok := lookupEnv("HOME"); ok && home != "" {
		return []string{filepath.Join(home, ".kube", "config")}
	}
	return nil
}

// Namespace returns ns, or the kubeconfig context's namespace when ns is
// empty.
func (f *Factory) Namespace(ns string) (string, error) {
	if ns != "" {
		return ns, nil
	}
	return kube.Namespace(f.KubeConfig())
}

// KubeRESTConfig returns the client configuration for the selected
// kubeconfig context (tuned by internal/kube).
func (f *Factory) KubeRESTConfig() (*rest.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kubeRESTConfigLocked()
}

func (f *Factory) kubeRESTConfigLocked() (*rest.Config, error) {
	if f.kubeRC != nil {
		return rest.CopyConfig(f.kubeRC), nil
	}
	rc, err := kube.RESTConfig(f.KubeConfig())
	if err != nil {
		s := f.Settings
		if s.Project != "" && s.Location != "" && s.Cluster != "" {
			err = failure.WithHint(err, fmt.Sprintf("run `gcloud container clusters get-credentials %s --location %s --project %s`", s.Cluster, s.Location, s.Project))
		}
		return nil, err
	}
	f.kubeRC = rc
	return rest.CopyConfig(rc), nil
}

// Kube returns the Kubernetes client for the selected context.
func (f *Factory) Kube() (kubernetes.Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kubeCS != nil {
		return f.kubeCS, nil
	}
	rc, err := f.kubeRESTConfigLocked()
	if err != nil {
		return nil, err
	}
	cs, err := f.NewKubeClient(rc)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	f.kubeCS = cs
	return cs, nil
}

// Dynamic returns a dynamic client (custom resources) for the selected
// context.
func (f *Factory) Dynamic() (dynamic.Interface, error) {
	rc, err := f.KubeRESTConfig()
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create kubernetes client: %w", err)
	}
	return dc, nil
}

// Objects returns the client for objects of any kind (expose's).
func (f *Factory) Objects() (kube.Objects, error) {
	rc, err := f.KubeRESTConfig()
	if err != nil {
		return nil, err
	}
	return kube.NewDynamic(rc)
}

// Close releases what the command opened.
func (f *Factory) Close() error {
	ui.CloseReporter(f.Reporter)
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for i := len(f.closers) - 1; i >= 0; i-- {
		errs = append(errs, f.closers[i].Close())
	}
	f.closers = nil
	return errors.Join(errs...)
}

func (f *Factory) addCloser(c io.Closer) {
	f.mu.Lock()
	f.closers = append(f.closers, c)
	f.mu.Unlock()
}

// SeveralClusters is the annotation of a command that takes --cluster more
// than once (the settings' Clusters); others refuse it.
const SeveralClusters = "meshctl.io/several-clusters"
