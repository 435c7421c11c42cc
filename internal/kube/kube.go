// Package kube loads kubeconfig the way kubectl does and builds Kubernetes
// clients for meshctl.
package kube

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// FieldManager is the server-side apply field manager for everything meshctl
// writes.
const FieldManager = "meshctl"

// GKEContext is what a kubeconfig context written by `gcloud container
// clusters get-credentials` says about its cluster.
type GKEContext struct {
	Project  string `json:"project"`
	Location string `json:"location"`
	Cluster  string `json:"cluster"`
}

// ParseGKEContext parses a context name of the form gke_PROJECT_LOCATION_CLUSTER.
// Project IDs, locations and cluster names cannot contain underscores, so a
// name with any other number of parts is not a GKE context.
func ParseGKEContext(name string) (GKEContext, bool) {
	parts := strings.Split(name, "_")
	if len(parts) != 4 || parts[0] != "gke" {
		return GKEContext{}, false
	}
	for _, p := range parts[1:] {
		if p == "" {
			return GKEContext{}, false
		}
	}
	return GKEContext{Project: parts[1], Location: parts[2], Cluster: parts[3]}, true
}

// String returns the context name gcloud would write for c.
func (c GKEContext) String() string {
	return "gke_" + c.Project + "_" + c.Location + "_" + c.Cluster
}

// Config says which kubeconfig and context to use.
type Config struct {
	// Kubeconfig is an explicit kubeconfig file (--kubeconfig). Empty means
	// kubectl's rules: the files in $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// SearchPaths are the files kubectl's rules merge when Kubeconfig is
	// empty: the $KUBECONFIG list, or ~/.kube/config. Nil means read them
	// from the process environment.
	SearchPaths []string
	// Context overrides the kubeconfig's current-context.
	Context string
	// UserAgent is sent with every request, e.g. "meshctl/v0.1.0".
	UserAgent string
}

func (c Config) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.Kubeconfig
	if c.SearchPaths != nil {
		rules.Precedence = c.SearchPaths
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// CurrentContext returns the current-context of the kubeconfig that c
// selects (ignoring c.Context), or "" when there is none.
func CurrentContext(c Config) (string, error) {
	c.Context = ""
	raw, err := c.clientConfig().RawConfig()
	if err != nil {
		return "", fmt.Errorf("load kubeconfig: %w", err)
	}
	return raw.CurrentContext, nil
}

// RESTConfig returns the client configuration for the selected context,
// tuned for meshctl (see tune).
func RESTConfig(c Config) (*rest.Config, error) {
	rc, err := c.clientConfig().ClientConfig()
	if err != nil {
		return nil, kubeconfigError(err)
	}
	if c.UserAgent != "" {
		rc.UserAgent = c.UserAgent
	}
	return tune(rc), nil
}

const credentialsHint = "run `gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT`, or pass --kubeconfig / --context"

func kubeconfigError(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return failure.WithHint(errors.New("no Kubernetes cluster configured: the kubeconfig has no current context"), credentialsHint)
	}
	if clientcmd.IsConfigurationInvalid(err) {
		return failure.WithHint(fmt.Errorf("load kubeconfig: %w", err), credentialsHint)
	}
	return fmt.Errorf("load kubeconfig: %w", err)
}
