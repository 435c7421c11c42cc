package deps

import (
	_ "cloud.google.com/go/compute/apiv1"
	_ "cloud.google.com/go/container/apiv1"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/cobra/doc"
	_ "github.com/spf13/viper"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "google.golang.org/api/gkehub/v1"
	_ "google.golang.org/api/option"
	_ "istio.io/client-go/pkg/clientset/versioned"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/kubernetes/fake"
	_ "sigs.k8s.io/yaml"
)
