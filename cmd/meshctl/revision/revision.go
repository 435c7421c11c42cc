// Package revision is `meshctl revision`: the revision tags of the
// in-cluster control planes (the work is pkg/revision's; the restarts
// after a retag are pkg/inject's).
package revision

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
	"github.com/meshctl/meshctl/pkg/revision"
)

// NewCmdRevision returns `meshctl revision` and its subcommands.
func NewCmdRevision(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revision",
		Short: "Control-plane revisions: tags that namespaces follow through canary upgrades",
		Long: `Revision tags are names for a control-plane revision that namespaces are labelled with
(istio.io/rev=prod) instead of the revision itself. A canary upgrade then moves namespaces by
pointing the tag at the new revision and restarting their workloads, without relabelling.

meshctl makes a tag as istioctl tag set does: the tag's injection webhook
(istio-revision-tag-TAG) copied from the revision's own, and a Service; the default tag
also serves namespaces labelled istio-injection=enabled and validates Istio configuration.
Remove an old revision afterwards with meshctl uninstall --revision.`,
		Args: cobra.NoArgs,
	}
	tag := &cobra.Command{Use: "tag", Short: "Set, list and remove revision tags", Args: cobra.NoArgs}
	tag.AddCommand(NewCmdTagSet(f, nil), NewCmdTagList(f, nil), NewCmdTagRemove(f, nil))
	cmd.AddCommand(tag)
	return cmd
}

// TagSetOptions are what `meshctl revision tag set` runs with.
type TagSetOptions struct {
	Tag revision.TagOptions
	// Restart restarts the workloads of the tag's namespaces that do not
	// run the revision yet (as meshctl inject does).
	Restart bool
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	// Objects and Kube build the clients.
	Objects  func() (kube.Objects, error)
	Kube     func() (kubernetes.Interface, error)
	Printer  *ui.Printer
	Reporter ui.Reporter
}

// NewCmdTagSet returns `meshctl revision tag set`; runF replaces its run in
// tests.
func NewCmdTagSet(f *factory.Factory, runF func(*TagSetOptions) error) *cobra.Command {
	opts := &TagSetOptions{}
	cmd := &cobra.Command{
		Use:   "set TAG --revision REVISION",
		Short: "Point a revision tag at a revision (create or move it)",
		Long: `Point TAG at REVISION: create the tag, or move it from the revision it points at now.
Running it again changes nothing. Pods of the namespaces labelled with the tag move at their next
restart; the result lists those namespaces and how many pods each still runs another revision.
--restart restarts them now (only the workloads not yet on REVISION), waits and checks every pod.

A tag named like an installed revision is refused (it would hide it), except default.`,
		Example: `  # A canary upgrade: namespaces are labelled istio.io/rev=prod
  meshctl revision tag set prod --revision asm-1282-4 --dry-run
  meshctl revision tag set prod --revision asm-1282-4 --restart

  # Make a revision the default: istio-injection=enabled namespaces and validation
  meshctl revision tag set default --revision asm-1282-4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Tag.Tag = args[0]
			if opts.Restart && opts.Tag.DryRun {
				return failure.Usagef("--restart and --dry-run do not go together")
			}
			opts.Objects, opts.Kube, opts.Printer, opts.Reporter = f.Objects, f.Kube, f.Printer, f.Reporter
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			if runF != nil {
				return runF(opts)
			}
			return runTagSet(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Tag.Revision, "revision", "", "the installed revision the tag points at")
	cmd.Flags().BoolVar(&opts.Restart, "restart", false, "restart the workloads of the tag's namespaces that do not run the revision yet")
	cmd.Flags().BoolVar(&opts.Tag.DryRun, "dry-run", false, "show what would change; change nothing")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	_ = cmd.MarkFlagRequired("revision")
	return cmd
}

// tagSetResult is a tag set and, with --restart, the restarts.
type tagSetResult struct {
	*revision.TagResult
	Restart *inject.Result `json:"restart,omitempty"`
}

// RenderText prints the tag, then the restarts.
func (r tagSetResult) RenderText(w io.Writer, s ui.Styles) error {
	if err := r.TagResult.RenderText(w, s); err != nil || r.Restart == nil {
		return err
	}
	fmt.Fprintln(w)
	return r.Restart.RenderText(w, s)
}

func runTagSet(ctx context.Context, opts *TagSetOptions) error {
	c, err := opts.Objects()
	if err != nil {
		return err
	}
	var check *preflight.Checker
	if opts.Preflight != nil {
		check = opts.Preflight(ctx)
	}
	opts.Tag.Preflight = check
	if opts.Restart {
		opts.Tag.Then = func(ctx context.Context, namespaces []string) ([]plan.Change, error) {
			return planRestarts(ctx, opts, namespaces)
		}
	}
	res, err := revision.SetTag(ctx, c, opts.Reporter, opts.Tag)
	if err != nil {
		return err
	}
	out := tagSetResult{TagResult: res}
	if ns := res.NamespacesToRestart(); opts.Restart && len(ns) > 0 {
		kc, err := opts.Kube()
		if err != nil {
			return err
		}
		if out.Restart, err = inject.Run(ctx, kc, opts.Reporter, inject.Options{Namespaces: ns, Revision: opts.Tag.Tag, Preflight: check}); err != nil {
			return err
		}
		res.NextStep = ""
	}
	if err := opts.Printer.Print(out); err != nil {
		return err
	}
	if out.Restart != nil && out.Restart.Failed() {
		return failure.Problems()
	}
	return nil
}

// planRestarts are --restart's restarts, planned by inject as a dry run
// for the revision the tag will point at (the tag itself does not exist
// before the tag's write): the workloads not yet on it.
func planRestarts(ctx context.Context, opts *TagSetOptions, namespaces []string) ([]plan.Change, error) {
	kc, err := opts.Kube()
	if err != nil {
		return nil, err
	}
	res, err := inject.Run(ctx, kc, ui.Discard, inject.Options{Namespaces: namespaces, Revision: opts.Tag.Revision, DryRun: true})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(res.Changes(false), func(c plan.Change) bool { return c.Action != plan.Restart }), nil
}

// TagListOptions are what `meshctl revision tag list` runs with.
type TagListOptions struct {
	Objects func() (kube.Objects, error)
	Printer *ui.Printer
}

// NewCmdTagList returns `meshctl revision tag list`.
func NewCmdTagList(f *factory.Factory, runF func(*TagListOptions) error) *cobra.Command {
	opts := &TagListOptions{}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List revision tags, their revisions and the namespaces that use them",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Objects, opts.Printer = f.Objects, f.Printer
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Objects()
			if err != nil {
				return err
			}
			l, err := revision.ListTags(cmd.Context(), c)
			if err != nil {
				return err
			}
			return opts.Printer.Print(l)
		},
	}
}

// TagRemoveOptions are what `meshctl revision tag remove` runs with.
type TagRemoveOptions struct {
	Remove revision.RemoveTagOptions
	// SkipPermissionCheck is --skip-permission-check; Preflight builds the
	// check.
	SkipPermissionCheck bool
	Preflight           func(context.Context) *preflight.Checker
	Objects             func() (kube.Objects, error)
	Printer             *ui.Printer
	Reporter            ui.Reporter
}

// NewCmdTagRemove returns `meshctl revision tag remove`.
func NewCmdTagRemove(f *factory.Factory, runF func(*TagRemoveOptions) error) *cobra.Command {
	opts := &TagRemoveOptions{}
	cmd := &cobra.Command{
		Use:   "remove TAG",
		Short: "Remove a revision tag (refused while namespaces use it)",
		Long: `Remove TAG's injection webhook, its Service and, for the default tag, the default
validating webhook. While namespaces are labelled with the tag (or, for default, with
istio-injection=enabled) it refuses and lists them: their new pods would get no sidecar.
--force removes it anyway. Removing a tag that does not exist changes nothing.`,
		Aliases: []string{"rm"},
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Remove.Tag = args[0]
			opts.Objects, opts.Printer, opts.Reporter = f.Objects, f.Printer, f.Reporter
			opts.Preflight = f.Preflight(&opts.SkipPermissionCheck)
			if runF != nil {
				return runF(opts)
			}
			c, err := opts.Objects()
			if err != nil {
				return err
			}
			opts.Remove.Preflight = opts.Preflight(cmd.Context())
			res, err := revision.RemoveTag(cmd.Context(), c, opts.Reporter, opts.Remove)
			if err != nil {
				return err
			}
			return opts.Printer.Print(res)
		},
	}
	cmd.Flags().BoolVar(&opts.Remove.Force, "force", false, "remove the tag although namespaces use it")
	cmd.Flags().BoolVar(&opts.Remove.DryRun, "dry-run", false, "show what would go; change nothing")
	factory.AddSkipPermissionCheck(cmd, &opts.SkipPermissionCheck)
	return cmd
}
