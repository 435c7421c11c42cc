package factory

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// SkipPermissionCheckFlag is the flag of every mutating command that skips
// the permission check before its first change.
const SkipPermissionCheckFlag = "skip-permission-check"

// AddSkipPermissionCheck adds --skip-permission-check to a mutating command.
func AddSkipPermissionCheck(cmd *cobra.Command, skip *bool) {
	cmd.Flags().BoolVar(skip, SkipPermissionCheckFlag, false,
		"do not check Google and Kubernetes permissions before the first change (they are still listed in a dry run)")
}

// Preflight returns what builds the permission check of a mutating
// command: Resource Manager for Google permissions, SelfSubjectAccessReviews
// through the command's kube context for Kubernetes ones. skip lists the
// permissions without asking. A client that cannot be built leaves its
// permissions unchecked (the command's own use of it reports why).
func (f *Factory) Preflight(skip *bool) func(context.Context) *preflight.Checker {
	return func(ctx context.Context) *preflight.Checker {
		c := f.PreflightClusters(skip)(ctx)
		if c.Skip {
			return c
		}
		if kc, err := f.Kube(); err == nil {
			c.Access = preflight.KubeReviewer{Client: kc}
		} else {
			f.Logf("permission check: no Kubernetes client: %v", err)
		}
		return c
	}
}

// PreflightClusters is Preflight for a command over several clusters: the
// Google check only, since each cluster's own API server reviews its
// Kubernetes permissions (the command's capability brings them).
func (f *Factory) PreflightClusters(skip *bool) func(context.Context) *preflight.Checker {
	return func(ctx context.Context) *preflight.Checker {
		c := &preflight.Checker{Skip: *skip, Reporter: f.Reporter}
		if c.Skip {
			return c
		}
		if rm, err := gcp.NewResourceManager(ctx, f.GCP()); err == nil {
			c.IAM = rm
		} else {
			f.Logf("permission check: no Resource Manager client: %v", err)
		}
		return c
	}
}
