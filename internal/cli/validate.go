package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/install"
	"github.com/meshctl/meshctl/pkg/lb"
	"github.com/meshctl/meshctl/pkg/validate"
)

func newValidateCmd(app *App) *cobra.Command {
	opts := validate.Options{FailOn: findings.Error, CertWarnDays: 30}
	var skipAsmcli, skipLB bool
	var asmcliPath, junitPath string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Validate the mesh and everything exposed through it, in one report for CI",
		Long: `Validate reads the cluster and reports, with stable codes from the findings catalog (see the
README), what is wrong with the mesh:

  control plane     asmcli validate (its [ERROR] and [WARNING] lines; --skip-asmcli leaves it out),
                    each revision's istiod ready, injection webhooks pointing at installed revisions,
                    namespaces labelled with a revision that is not installed or with both labels
  data plane        in every namespace labelled for injection (istio-injection or istio.io/rev, which
                    istioctl analyze's IST0103 skips): pods without istio-proxy (native sidecars
                    count), pods on another revision (a restart is due), opted-out workloads, and
                    Service ports whose name or appProtocol leaves Istio to sniff the protocol
  exposed services  for each Service meshctl expose exposed: the gateway ready with injected
                    proxies, its PodDisruptionBudget selecting its pods, its autoscaler's target, the
                    Gateway's TLS secret with a certificate valid for the hosts and not expiring within
                    --cert-warn-days, the VirtualService bound to the Gateway and routing to a Service
                    port that exists
  load balancers    for each exposed Service, the load balancer expose built (--skip-lb leaves them
                    out): every resource present and wired (the field that differs is named),
                    backends HEALTHY per NEG zone (unhealthy endpoints named), the managed
                    certificate's status per domain with the reason and the fix, the SSL policy's
                    minimum TLS, Cloud Armor attached, a firewall rule admitting Google's front ends
                    (35.191.0.0/16, 130.211.0.0/22) to the gateway's ports

Each list is made once, paginated; independent checks run concurrently, and a check whose API call
fails is reported as such (MC0100) while the others still run. --junit FILE writes JUnit XML, one
test case per check and object, so CI systems show the results natively.

Exit codes: 0 when nothing reaches --fail-on (default error), 3 when something does.`,
		Example: `  meshctl validate
  meshctl validate --skip-asmcli --namespace shop --junit validate.xml
  meshctl validate --service shop/cart -o json
  meshctl validate --fail-on warning   # CI: warnings fail too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.CertWarnDays < 0 {
				return ui.Usage(fmt.Errorf("--cert-warn-days must not be negative"), "")
			}
			rc, err := app.KubeRESTConfig()
			if err != nil {
				return err
			}
			// Read-only and list-heavy: protobuf decodes thousands of pods
			// several times faster than JSON, and a higher rate limit keeps
			// client-go from queueing the per-Service reads.
			rc = rest.CopyConfig(rc)
			rc.QPS, rc.Burst = 100, 200
			pc := rest.CopyConfig(rc)
			pc.ContentType = "application/vnd.kubernetes.protobuf"
			pc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
			kc, err := kubernetes.NewForConfig(pc)
			if err != nil {
				return err
			}
			dc, err := dynamic.NewForConfig(rc)
			if err != nil {
				return err
			}
			clients := validate.Clients{Kube: kc, Dynamic: dc}
			if !skipLB {
				if s := app.Settings; s.Project == "" {
					clients.ComputeErr = fmt.Errorf("no project: set --project (or a gke_ kube context) to check load balancers, or pass --skip-lb")
				} else if gce, err := lb.NewGCE(cmd.Context(), app.GCP(), s.Project); err != nil {
					if ui.ExitCode(err) == ui.ExitUsage {
						return err
					}
					clients.ComputeErr = err
				} else {
					defer gce.Close()
					clients.Compute = gce
				}
			}
			if !skipAsmcli {
				clients.Asmcli = asmcliValidate(app, asmcliPath)
			}
			res, err := validate.Run(cmd.Context(), clients, opts)
			if err != nil {
				return err
			}
			if junitPath != "" {
				if err := writeJUnit(junitPath, res); err != nil {
					return ui.WithHint(fmt.Errorf("write --junit %s: %w", junitPath, err), "pass a writable path")
				}
			}
			if err := app.Print(res); err != nil {
				return err
			}
			if res.Failed() {
				return ui.Problems()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&opts.Namespaces, "namespace", "n", nil, "validate only these namespaces (repeatable, or comma-separated); the control plane is always checked")
	f.StringSliceVar(&opts.Services, "service", nil, "validate only these exposed Services, NAME or NAMESPACE/NAME (repeatable)")
	f.IntVar(&opts.CertWarnDays, "cert-warn-days", 30, "warn when a gateway certificate expires within this many days")
	f.BoolVar(&skipAsmcli, "skip-asmcli", false, "leave out asmcli validate")
	f.BoolVar(&skipLB, "skip-lb", false, "leave out the exposed Services' load balancers (no Compute API calls)")
	f.StringVar(&asmcliPath, "asmcli", "", "path of the asmcli script to run (default: PATH, else the pinned release, downloaded)")
	f.StringVar(&junitPath, "junit", "", "also write the results as JUnit XML to this file")
	f.Var(&opts.FailOn, "fail-on", findings.FailOnUsage)
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"error", "warning", "info"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func writeJUnit(path string, res *validate.Result) error {
	var buf bytes.Buffer
	if err := res.WriteJUnit(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// asmcliValidate runs `asmcli validate` for the cluster of the settings,
// found the way install finds asmcli, and returns its log lines.
func asmcliValidate(app *App, explicit string) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		s := app.Settings
		if s.Project == "" || s.Location == "" || s.Cluster == "" {
			return nil, fmt.Errorf("asmcli needs --project, --location and --cluster (or a gke_ kube context)")
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		a, err := install.Locator{Explicit: explicit, CacheDir: filepath.Join(cache, "meshctl", "asmcli-release")}.Locate(ctx)
		if err != nil {
			return nil, fmt.Errorf("find asmcli: %w", err)
		}
		out, err := os.MkdirTemp("", "meshctl-asmcli-validate-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(out)
		c := exec.CommandContext(ctx, a.Path, "validate", "--project_id", s.Project, "--cluster_name", s.Cluster,
			"--cluster_location", s.Location, "--output_dir", out)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		c.Stdout = &stderr
		runErr := c.Run()
		var lines []string
		sc := bufio.NewScanner(&stderr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if runErr != nil {
			return lines, fmt.Errorf("asmcli validate: %w", runErr)
		}
		return lines, nil
	}
}
