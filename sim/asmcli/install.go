package asmcli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshctl/meshctl/sim/mesh"
)

// options are the files under asm/istio/options that `--option NAME` picks.
var options = map[string]string{
	"envoy-access-log": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    accessLogFile: /dev/stdout
`,
	"legacy-default-ingressgateway": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  components:
    ingressGateways:
    - name: istio-ingressgateway
      enabled: true
`,
	// --ca citadel: istiod signs the workloads' certificates itself, in
	// the trust domain cluster.local (asm/istio/options/citadel-ca.yaml).
	"citadel-ca": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    trustDomain: cluster.local
    defaultConfig:
      proxyMetadata:
        CA_PROVIDER: Citadel
  values:
    global:
      caAddress: ""
      pilotCertProvider: istiod
`,
	"egressgateways": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  components:
    egressGateways:
    - name: istio-egressgateway
      enabled: true
`,
}

func (r *run) install(ctx context.Context) error {
	a := r.args
	rev := a.RevisionName()
	out := a.OutputDir
	istioctl := filepath.Join(r.sim.BinDir, "istioctl")

	r.log.info("Downloading ASM..")
	files, err := r.writePackage()
	if err != nil {
		return err
	}
	r.log.info("Installing ASM control plane...")
	cmdline := fmt.Sprintf("istioctl install -f %s --set revision=%s --skip-confirmation", strings.Join(files, " -f "), rev)
	if a.DryRun {
		r.log.warn("Would have executed: %s", cmdline)
		return nil
	}
	if a.Verbose {
		r.log.info("Running: '%s'", cmdline)
	}
	if step := r.env.Getenv("MESHSIM_ASMCLI_CRASH_AT"); step == "install" {
		// Test knob: a crash mid-step, as when one of asmcli's retried
		// commands gives up and `set -e` ends the script.
		return fmt.Errorf("Error: failed to install manifests: simulated crash (MESHSIM_ASMCLI_CRASH_AT=install)")
	}
	if err := r.labelNetwork(ctx); err != nil {
		return err
	}
	// Labelled as istioctl install labels what it applies, so that
	// `istioctl uninstall --revision` finds the revision.
	manifest, err := mesh.RenderInstall(ctx, istioctl, rev, files)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, rev+"-manifest.yaml"), manifest, 0o644); err != nil {
		return err
	}
	// The webhooks go in once istiod runs, pointing at it: applied before,
	// they would send the API server to an in-cluster istiod that is only a
	// kwok pod.
	rest, webhooks := mesh.SplitWebhooks(manifest)
	if _, err := mesh.Apply(ctx, r.kubecfg, mesh.Join(rest)); err != nil {
		return err
	}
	target, err := mesh.TargetFor(r.env.State, r.sim, r.kubeContext, a.Location, a.Cluster, rev)
	if err != nil {
		return r.fatal("%s", err)
	}
	ist, err := mesh.StartIstiodIn(ctx, r.env.State, target, r.kube, filepath.Join(r.sim.BinDir, "pilot-discovery"), rev)
	if err != nil {
		return err
	}
	local, err := mesh.LocalWebhooks(webhooks, ist.WebhookPort)
	if err != nil {
		return err
	}
	if _, err := mesh.Apply(ctx, r.kubecfg, mesh.Join(local)); err != nil {
		return err
	}
	r.log.info("...done!")
	return r.outro(ctx, rev, istioctl)
}

// labelNetwork is asmcli's label_istio_namespace: istio-system carries the
// cluster's network (PROJECT-VPC on GCP, as in the IstioOperator), unless a
// label is there already. istiod reads each cluster's network from it, the
// remote clusters' included.
func (r *run) labelNetwork(ctx context.Context) error {
	ns, err := r.kube.CoreV1().Namespaces().Get(ctx, "istio-system", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read namespace istio-system: %w", err)
	}
	if cur, ok := ns.Labels[networkLabel]; ok {
		r.log.info("%s is already set to %s and will NOT be overridden.", networkLabel, cur)
		return nil
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, networkLabel, r.meshNetwork())
	_, err = r.kube.CoreV1().Namespaces().Patch(ctx, "istio-system", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "asmcli"})
	return err
}

const networkLabel = "topology.istio.io/network"

// meshNetwork is the network asmcli installs the cluster on: PROJECT-VPC,
// the VPC being the cluster's own as GKE describes it (clusters of one
// simulator may be on different networks).
func (r *run) meshNetwork() string {
	network := r.sim.Scenario.Network
	if r.cluster != nil && r.cluster.Network != "" {
		network = r.cluster.Network
	}
	return r.args.Project + "-" + network
}

// writePackage lays out OUTPUT_DIR as asmcli does and returns the
// IstioOperator files to install, base first.
func (r *run) writePackage() ([]string, error) {
	a := r.args
	out := a.OutputDir
	sc := r.sim.Scenario
	base := filepath.Join(out, "asm", "istio", "istio-operator.yaml")
	write := func(path, content string) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, []byte(content), 0o644)
	}
	meshID := fmt.Sprintf("proj-%d", sc.ProjectNumber)
	cluster := fmt.Sprintf("cn-%s-%s-%s", a.Project, a.Location, a.Cluster)
	if err := write(base, mesh.Operator("asm", Release, meshID, cluster, r.meshNetwork())); err != nil {
		return nil, err
	}
	for name, content := range options {
		if err := write(filepath.Join(out, "asm", "istio", "options", name+".yaml"), content); err != nil {
			return nil, err
		}
	}
	// istio-RELEASE/bin/istioctl and the OUTPUT_DIR/istioctl symlink.
	bin := filepath.Join(out, "istio-"+Release, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	for _, link := range []string{filepath.Join(bin, "istioctl"), filepath.Join(out, "istioctl")} {
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(r.sim.BinDir, "istioctl"), link); err != nil {
			return nil, err
		}
	}
	files := []string{base}
	if a.CA == "citadel" {
		files = append(files, filepath.Join(out, "asm", "istio", "options", "citadel-ca.yaml"))
	}
	for _, o := range a.Options {
		f := filepath.Join(out, "asm", "istio", "options", o+".yaml")
		if _, err := os.Stat(f); err != nil {
			return nil, r.fatal("Couldn't find yaml file for overlay option %s.", o)
		}
		files = append(files, f)
	}
	for i, o := range a.CustomOverlays {
		b, err := os.ReadFile(o)
		if err != nil {
			return nil, r.fatal("Couldn't find file %s.", o)
		}
		f := filepath.Join(out, fmt.Sprintf("overlay-%02d", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func (r *run) outro(ctx context.Context, rev, istioctl string) error {
	out := r.args.OutputDir
	star := "*****************************"
	r.log.info("%s", star)
	ver, _ := exec.CommandContext(ctx, istioctl, "version", "--remote=false").CombinedOutput()
	r.log.raw(string(ver))
	r.log.info("%s", star)
	r.log.info("The ASM control plane installation is now complete.")
	r.log.info("To enable automatic sidecar injection on a namespace, you can use the following command:")
	r.log.info("kubectl label namespace <NAMESPACE> istio-injection- istio.io/rev=%s --overwrite", rev)
	r.log.info("If you use 'istioctl install' afterwards to modify this installation, you will need")
	r.log.info("to specify the option '--set revision=%s' to target this control plane", rev)
	r.log.info("instead of installing a new one.")
	r.log.info("To finish the installation, enable Cloud Monitoring and Cloud Logging to your cluster.")
	r.log.info("The ASM package used for installation can be found at:")
	r.log.info("%s/asm", out)
	r.log.info("The version of istioctl that matches the installation can be found at:")
	r.log.info("%s/istio-%s/bin/istioctl", out, Release)
	r.log.info("A symlink to the istioctl binary can be found at:")
	r.log.info("%s/istioctl", out)
	r.log.info("The combined configuration generated for installation can be found at:")
	r.log.info("%s/%s-manifest-raw.yaml", out, rev)
	r.log.info("The full, expanded set of kubernetes resources can be found at:")
	r.log.info("%s/%s-manifest-expanded.yaml", out, rev)
	r.log.info("%s", star)
	r.log.info("Successfully installed ASM.")
	return nil
}

const shortUsage = `usage: asmcli [SUBCOMMAND] [OPTION]...

Set up, validate, and install ASM in a Google Cloud environment.
Use -h|--help with -v|--verbose to show detailed descriptions.

SUBCOMMANDS:
  install
  validate
  create-mesh
  build-offline-package

`

const longUsage = shortUsage + `OPTIONS:
  -l|--cluster_location  <LOCATION>   The GCP location of the target cluster.
  -n|--cluster_name      <NAME>       The name of the target cluster.
  -p|--project_id        <ID>         The GCP project ID.
  --kc|--kubeconfig <KUBECONFIG_FILE> Path to the kubeconfig file to use for CLI requests.
  --ctx|--context        <CONTEXT>    The name of the kubeconfig context to use.
  --fleet_id             <FLEET ID>   The Fleet host project ID.
  -c|--ca                <CA>         The CA to use: mesh_ca, gcp_cas, managed_cas or citadel.
  -o|--option            <FILE NAME>  The name of a YAML file in the kpt pkg to apply.
  --co|--custom_overlay  <FILE PATH>  The location of a YAML file to overlay on the ASM IstioOperator.
  -D|--output_dir        <DIR PATH>   The directory where this script will place downloaded ASM packages and configuration.
  -r|--revision_name     <REVISION NAME> Custom revision label. Label needs to follow DNS label formats (re: RFC 1123).

FLAGS:
  -e|--enable_all                     Allow the script to perform all of the individual enable actions below.
     --enable_cluster_roles           Allow the script to attempt to set the necessary cluster roles.
     --enable_cluster_labels          Allow the script to attempt to set necessary cluster labels.
     --enable_gcp_apis                Allow the script to enable GCP APIs on the user's behalf.
     --enable_gcp_iam_roles           Allow the script to set the required GCP IAM permissions.
     --enable_gcp_components          Allow the script to enable required GCP managed services and components.
     --enable_registration            Allow the script to register the cluster to a fleet.
     --enable_namespace_creation      Allow the script to create the istio-system namespace for the user.
     --managed                        Provision a remote, managed control plane instead of installing one in-cluster.
     --dry_run                        Print out the commands that would have been executed.
  -v|--verbose                        Print commands before and after execution.
  -h|--help                           Show this message and exit.
  --version                           Print the version of this tool and exit.
`
