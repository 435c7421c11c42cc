package asmcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshctl/meshctl/sim/state"
)

// Env is what the stand-in runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	State          state.Dir
}

// exitError ends the run with asmcli's exit code.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs the stand-in and returns its exit code: 0 on success, 2 for a
// problem asmcli diagnosed (fatal, validation_error, usage), 1 for a crash.
func Main(ctx context.Context, argv []string, env Env) int {
	log := &logger{stderr: env.Stderr}
	defer log.close()
	args, err := Parse(argv, env.Getenv)
	var uerr usageError
	switch {
	case errors.As(err, &uerr):
		fmt.Fprint(env.Stderr, shortUsage)
		log.error("%s", uerr.msg)
		return 2
	case args.ShowVersion:
		fmt.Fprintln(env.Stdout, Version)
		return 0
	case args.ShowHelp:
		fmt.Fprint(env.Stdout, longUsage)
		return 0
	}
	log.stamp = args.Verbose && env.Getenv(TimestampEnv) == "1"
	r := &run{args: args, env: env, log: log}
	err = r.main(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		// What set -e does to asmcli: the failing command's message, exit 1.
		fmt.Fprintln(env.Stderr, err)
		return 1
	}
}

type run struct {
	args    Args
	env     Env
	log     *logger
	sim     state.Sim
	kube    kubernetes.Interface
	kubecfg string
	// kubeContext is asm_kubeconfig's current context: the cluster's.
	kubeContext string
	cluster     *gkeCluster
	project     string
	errors      int // validation errors counted in `validate`
}

// fatal logs an [ERROR] and stops with exit 2.
func (r *run) fatal(format string, a ...any) error {
	r.log.error(format, a...)
	return exitError{2}
}

// validationError stops `install` at once and is counted by `validate`.
func (r *run) validationError(format string, a ...any) error {
	r.log.error(format, a...)
	if r.args.Command == "validate" {
		r.errors++
		return nil
	}
	return exitError{2}
}

func (r *run) main(ctx context.Context) error {
	a := r.args
	if a.Managed {
		r.log.warn("Onboarding Managed Cloud Service Mesh through asmcli is deprecated starting Aug 22, 2024.")
	}
	if a.Channel != "" {
		r.log.warn("Channel selection will no longer affect version, but revision names and tags will be respected.")
	}
	if errs := a.Validate(fileExists); len(errs) > 0 {
		for _, e := range errs {
			r.log.error("%s", e)
		}
		return exitError{2}
	}
	if err := r.prepareOutputDir(); err != nil {
		return err
	}
	if err := r.checkDependencies(); err != nil {
		return err
	}
	if err := r.connect(ctx); err != nil {
		return err
	}
	for _, step := range []func(context.Context) error{
		r.checkCluster, r.checkWorkloadIdentity, r.checkCloudOperations, r.checkLabels,
		r.checkClusterAdmin, r.checkNamespace, r.checkEnvironment,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if a.Command == "validate" {
		if r.errors > 0 {
			r.log.info("Please see the errors above.")
			return exitError{2}
		}
		r.log.info("Successfully validated all requirements to install ASM.")
		return nil
	}
	return r.install(ctx)
}

func (r *run) prepareOutputDir() error {
	a := &r.args
	if a.OutputDir == "" {
		dir, err := os.MkdirTemp("", "asmcli_tmp.")
		if err != nil {
			return err
		}
		a.OutputDir = dir
		r.log.info("Creating temp directory...")
		r.log.warn("--output_dir not specified; using %s as the output directory.", dir)
	}
	if err := os.MkdirAll(a.OutputDir, 0o755); err != nil {
		return r.fatal("Couldn't create the output directory %s.", a.OutputDir)
	}
	abs, err := filepath.Abs(a.OutputDir)
	if err == nil {
		a.OutputDir = abs
	}
	if err := r.log.openFile(a.OutputDir); err != nil {
		return err
	}
	r.log.info("Setting up necessary files...")
	if prev, err := os.ReadFile(filepath.Join(a.OutputDir, ".asm_version")); err == nil && strings.TrimSpace(string(prev)) != Version {
		r.log.warn("The existing configuration in %s is from a different version.", a.OutputDir)
	}
	return os.WriteFile(filepath.Join(a.OutputDir, ".asm_version"), []byte(Version+"\n"), 0o644)
}

func (r *run) checkDependencies() error {
	r.log.info("Checking installation tool dependencies...")
	tools := []string{"awk", "gcloud", "git", "grep", "jq", "kubectl", "sed", "tr", "head", "csplit"}
	if r.args.CACert != "" {
		tools = append(tools, "openssl")
	}
	missing := false
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			r.log.error("Dependency not found: %s", t)
			missing = true
		}
	}
	if missing {
		return r.fatal("One or more dependencies were not found. Please install them and retry.")
	}
	return nil
}

// connect resolves the cluster (project/location/name, or a kubeconfig
// context of the form gke_P_L_C), writes asm_kubeconfig and checks the API
// server answers.
func (r *run) connect(ctx context.Context) error {
	a := &r.args
	sim, err := r.env.State.Load()
	if err != nil {
		return r.fatal("%s", err)
	}
	r.sim = sim
	source := r.env.State.Kubeconfig()
	if a.Kubeconfig != "" {
		source = a.Kubeconfig
		parts := strings.Split(a.Context, "_")
		if len(parts) == 4 && parts[0] == "gke" {
			a.Project, a.Location, a.Cluster = parts[1], parts[2], parts[3]
		} else {
			return r.fatal("Context %s is not a GKE context (gke_PROJECT_LOCATION_CLUSTER).", a.Context)
		}
	}
	r.project = a.Project
	r.kubecfg = filepath.Join(a.OutputDir, "asm_kubeconfig")
	if err := r.writeKubeconfig(source); err != nil {
		return err
	}
	r.log.info("Using %s as the kubeconfig...", r.kubecfg)
	r.log.info("Verifying connectivity (20s)...")
	overrides := &clientcmd.ConfigOverrides{}
	if a.Context != "" {
		overrides.CurrentContext = a.Context
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: r.kubecfg}, overrides).ClientConfig()
	if err == nil {
		r.kube, err = kubernetes.NewForConfig(cfg)
	}
	if err == nil {
		_, err = r.kube.Discovery().ServerVersion()
	}
	if err != nil {
		return r.fatal("Couldn't connect to %s. If this is a private cluster, verify that the correct firewall rules are applied. https://cloud.google.com/service-mesh/docs/gke-install-overview#requirements", a.Cluster)
	}
	r.log.info("kubeconfig set to %s", r.kubecfg)
	return nil
}

// writeKubeconfig copies the kubeconfig to asm_kubeconfig with the
// cluster's context current, as `gcloud container clusters get-credentials`
// leaves it: with several simulated clusters, the one named by
// --project_id/--cluster_location/--cluster_name, so every kubectl call and
// istiod go to it.
func (r *run) writeKubeconfig(source string) error {
	a := &r.args
	cfg, err := clientcmd.LoadFromFile(source)
	if err != nil {
		return r.fatal("Couldn't read kubeconfig %s.", source)
	}
	if a.Context == "" {
		if gke := fmt.Sprintf("gke_%s_%s_%s", a.Project, a.Location, a.Cluster); cfg.Contexts[gke] != nil {
			a.Context = gke
		}
	}
	if a.Context != "" && cfg.Contexts[a.Context] != nil {
		cfg.CurrentContext = a.Context
	}
	r.kubeContext = cfg.CurrentContext
	if err := clientcmd.WriteToFile(*cfg, r.kubecfg); err != nil {
		return err
	}
	return os.Chmod(r.kubecfg, 0o600)
}

func (r *run) checkCluster(ctx context.Context) error {
	a := r.args
	r.log.info("Getting account information...")
	c, err := describeCluster(ctx, r.sim.GCPEndpoint, a.Project, a.Location, a.Cluster)
	if err != nil {
		return r.fatal("Couldn't describe cluster %s/%s: %v", a.Location, a.Cluster, err)
	}
	if c == nil {
		return r.fatal("Unable to find cluster %s/%s.", a.Location, a.Cluster)
	}
	r.cluster = c
	if c.Autopilot != nil && c.Autopilot.Enabled {
		return r.fatal("Autopilot clusters are only supported with managed control plane.")
	}
	return nil
}

func (r *run) checkWorkloadIdentity(context.Context) error {
	if wi := r.cluster.WorkloadIdentityConfig; wi == nil || wi.WorkloadPool == "" {
		return r.validationError("Workload identity is not enabled on %s. Please enable it and retry, or run the script with the '--enable_gcp_components' flag to allow the script to enable it on your behalf.", r.args.Cluster)
	}
	return nil
}

func (r *run) checkCloudOperations(context.Context) error {
	c := r.cluster
	if c.LoggingService != "logging.googleapis.com/kubernetes" || c.MonitoringService != "monitoring.googleapis.com/kubernetes" {
		return r.validationError("Cloud Operations (Stackdriver)  is not enabled on %s. Please enable it and retry, or run the script with the '--enable_gcp_components' flag to allow the script to enable it on your behalf.", r.args.Cluster)
	}
	return nil
}

func (r *run) checkLabels(context.Context) error {
	want := fmt.Sprintf("proj-%d", r.sim.Scenario.ProjectNumber)
	if r.cluster.ResourceLabels["mesh_id"] == want {
		return nil
	}
	r.log.error("Cluster label not found - mesh_id=%s", want)
	return r.validationError("One or more required cluster labels were not found. Please label them and retry, or run the script with the '--enable_cluster_labels' flag to allow the script to enable them on your behalf.")
}

func (r *run) checkClusterAdmin(ctx context.Context) error {
	r.log.info("Verifying cluster admin permissions...")
	// The simulated cluster's kubeconfig user is the cluster's admin: asmcli's
	// check (a ClusterRoleBinding to cluster-admin) passes as it would for an owner.
	return nil
}

func (r *run) checkNamespace(ctx context.Context) error {
	r.log.info("Checking for istio-system namespace...")
	_, err := r.kube.CoreV1().Namespaces().Get(ctx, "istio-system", metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return r.fatal("Couldn't read namespaces: %v", err)
	}
	if r.args.Enable["namespace_creation"] && r.args.Command != "validate" {
		r.log.info("Creating istio-system namespace...")
		if r.args.DryRun {
			r.log.warn("Would have executed: kubectl create ns istio-system")
			return nil
		}
		_, err := r.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return r.fatal("Couldn't create the istio-system namespace: %v", err)
		}
		return nil
	}
	return r.validationError("The istio-system namespace doesn't exist. Please create the \"istio-system\" and retry, or run the script with the '--enable_namespace_creation' flag to allow the script to enable it on your behalf.")
}

func (r *run) checkEnvironment(ctx context.Context) error {
	a := r.args
	r.log.info("Confirming node pool requirements for %s/%s/%s...", a.Project, a.Location, a.Cluster)
	if poolVCPUs(r.cluster) < 8 {
		r.log.warn("ASM requires you to have at least 8 vCPUs in node pools whose machine type is at least 4 vCPUs. %s/%s does not meet this requirement. ASM may not function as expected.", a.Location, a.Cluster)
	}
	v, err := r.kube.Discovery().ServerVersion()
	if err == nil {
		minor := strings.TrimRight(v.Minor, "+")
		if m, err := strconv.Atoi(minor); err == nil && m < 15 {
			return r.validationError("ASM %s requires Kubernetes version 1.15+, found %s.%s", Release, v.Major, minor)
		}
	}
	r.log.info("Checking Istio installations...")
	deploys, err := r.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "app=istiod"})
	if err == nil {
		for _, d := range deploys.Items {
			if d.Namespace != "istio-system" {
				return r.fatal("found istiod deployment outside of istio-system namespace. This installer does not support that configuration.")
			}
		}
	}
	if a.Command == "validate" || contains(a.Options, "legacy-default-ingressgateway") {
		return nil
	}
	_, svcErr := r.kube.CoreV1().Services("istio-system").Get(ctx, "istio-ingressgateway", metav1.GetOptions{})
	_, depErr := r.kube.AppsV1().Deployments("istio-system").Get(ctx, "istio-ingressgateway", metav1.GetOptions{})
	if svcErr == nil || depErr == nil {
		r.log.warn("The ingress gateway istio-ingressgateway in istio-system is no longer installed by default. Installing will remove it unless you pass '--option legacy-default-ingressgateway'.")
		fmt.Fprint(r.env.Stderr, "Continue? [y/N] ")
		line, _ := bufio.NewReader(r.env.Stdin).ReadString('\n')
		if ans := strings.TrimSpace(line); ans != "y" && ans != "Y" {
			return r.fatal("Stopping installation at user request.")
		}
	}
	return nil
}
