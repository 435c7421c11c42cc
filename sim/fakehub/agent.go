package fakehub

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/sim/mesh"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// KubeAgent does in the simulated cluster what Google's fleet does once a
// membership's managed control plane is provisioned:
//
//   - the ControlPlaneRevision CRD (controlplanerevisions.mesh.cloud.google.com,
//     v1alpha1 and v1beta1), istio-system and the revision's
//     ControlPlaneRevision (asm-managed, -rapid or -stable) with the
//     conditions tools wait on (Reconciled, ProvisioningFinished, Stalled);
//   - the revision's in-cluster configuration as istioctl renders it, but no
//     istiod Deployment: Google hosts the control plane. A real istiod
//     (pilot-discovery) runs locally for the revision instead;
//   - the injection webhook istiod-REVISION with a url client config (as
//     Google's points at its hosted injector), here https://localhost:PORT of
//     the local istiod, and the `default` revision tag (istioctl tag
//     generate), so namespaces labelled istio-injection=enabled or
//     istio.io/rev=REVISION both get the managed revision's sidecars;
//   - the managed data plane's mdp-controller and the istio-cni-node
//     DaemonSet in kube-system (kwok pods).
//
// A KubeAgent acts in one cluster, the one its membership names: with
// several simulated clusters each membership has its own, so each cluster
// gets its own ControlPlaneRevision and its own local istiod registered
// under that cluster's name (cn-PROJECT-LOCATION-NAME).
type KubeAgent struct {
	Dir    state.Dir
	BinDir string // istioctl and pilot-discovery (make sim-deps)
	// Location and Cluster name the simulated cluster the agent acts in;
	// empty means the simulator's first.
	Location, Cluster string
	// Kube and Dynamic are clients of that cluster.
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	// Scenario is the cluster's current shape.
	Scenario func() scenario.Scenario
}

// The ControlPlaneRevision resource.
var (
	cprGVR = schema.GroupVersionResource{Group: "mesh.cloud.google.com", Version: "v1beta1", Resource: "controlplanerevisions"}
)

// fieldManager marks what the agent applied.
const fieldManager = "gke-fleet"

// managedRelease is the release of the images the simulated fleet
// provisions (those of its data plane controller and CNI below).
const managedRelease = "1.28.2-asm.4"

const cprCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: controlplanerevisions.mesh.cloud.google.com
  labels:
    app.kubernetes.io/managed-by: gke-fleet
spec:
  group: mesh.cloud.google.com
  names:
    kind: ControlPlaneRevision
    listKind: ControlPlaneRevisionList
    plural: controlplanerevisions
    singular: controlplanerevision
    shortNames: [cpr]
  scope: Namespaced
  versions:
%s`

const cprVersion = `  - name: %s
    served: true
    storage: %t
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Reconciled
      type: string
      jsonPath: .status.conditions[?(@.type=="Reconciled")].status
    - name: Stalled
      type: string
      jsonPath: .status.conditions[?(@.type=="Stalled")].status
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              type:
                type: string
                enum: [managed_service]
              channel:
                type: string
                enum: [regular, rapid, stable]
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
`

const dataPlane = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: mdp-controller
  namespace: kube-system
  labels: {app: managed-data-plane-controller, app.kubernetes.io/managed-by: gke-fleet}
spec:
  replicas: 1
  selector: {matchLabels: {app: managed-data-plane-controller}}
  template:
    metadata: {labels: {app: managed-data-plane-controller}}
    spec:
      containers:
      - name: mdp-controller
        image: gcr.io/gke-release/asm/mdp:1.28.2-asm.4
        resources: {requests: {cpu: 50m, memory: 128Mi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: istio-cni-node
  namespace: kube-system
  labels: {k8s-app: istio-cni-node, app.kubernetes.io/managed-by: gke-fleet}
spec:
  selector: {matchLabels: {k8s-app: istio-cni-node}}
  template:
    metadata: {labels: {k8s-app: istio-cni-node}}
    spec:
      tolerations: [{operator: Exists}]
      containers:
      - name: install-cni
        image: gcr.io/gke-release/asm/install-cni:1.28.2-asm.4
        resources: {requests: {cpu: 100m, memory: 100Mi}}
`

func (a *KubeAgent) istioctl() string { return filepath.Join(a.BinDir, "istioctl") }

// workdir keeps what the agent rendered: fleet/ in a one-cluster
// simulator, as always, and fleet/CLUSTER with several, so the clusters'
// manifests of one revision do not overwrite each other.
func (a *KubeAgent) workdir(t mesh.Target) string {
	sim, err := a.Dir.Load()
	if err == nil && sim.Multi() {
		return filepath.Join(string(a.Dir), "fleet", t.Cluster)
	}
	return filepath.Join(string(a.Dir), "fleet")
}

// target is where the revision's local istiod runs and what it serves:
// the agent's cluster, through that cluster's own kubeconfig.
func (a *KubeAgent) target(revision string) (mesh.Target, error) {
	sim, err := a.Dir.Load()
	if err != nil {
		return mesh.Target{}, err
	}
	return mesh.TargetFor(a.Dir, sim, "", a.Location, a.Cluster, revision)
}

// Provision implements Agent.
func (a *KubeAgent) Provision(ctx context.Context, channel, revision string) error {
	sc := a.Scenario()
	t, err := a.target(revision)
	if err != nil {
		return err
	}
	var versions strings.Builder
	fmt.Fprintf(&versions, cprVersion, "v1alpha1", true)
	fmt.Fprintf(&versions, cprVersion, "v1beta1", false)
	if err := a.apply(ctx, t, []byte(fmt.Sprintf(cprCRD, versions.String()))); err != nil {
		return fmt.Errorf("install the ControlPlaneRevision CRD: %w", err)
	}
	if err := a.kubectl(ctx, t, nil, "wait", "--for", "condition=established", "--timeout", "60s", "crd/controlplanerevisions.mesh.cloud.google.com"); err != nil {
		return err
	}
	cpr := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: mesh.cloud.google.com/v1beta1
kind: ControlPlaneRevision
metadata:
  name: %s
  namespace: istio-system
  labels:
    mesh.cloud.google.com/managed-cni-enabled: "true"
    app.kubernetes.io/created-by: fleet-mesh-controller
  annotations:
    mesh.cloud.google.com/vpcsc: "false"
spec:
  type: managed_service
  channel: %s
`, revision, channel)
	if err := a.apply(ctx, t, []byte(cpr)); err != nil {
		return fmt.Errorf("create ControlPlaneRevision %s: %w", revision, err)
	}
	if err := a.setCPRStatus(ctx, revision, false); err != nil {
		return err
	}

	workdir := a.workdir(t)
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return err
	}
	opFile := filepath.Join(workdir, revision+"-operator.yaml")
	meshID := fmt.Sprintf("proj-%d", sc.ProjectNumber)
	if err := os.WriteFile(opFile, []byte(mesh.Operator(revision, managedRelease, meshID, sc.MeshClusterID(), sc.Project+"-"+sc.Network)), 0o644); err != nil {
		return err
	}
	manifest, err := mesh.Render(ctx, a.istioctl(), revision, []string{opFile})
	if err != nil {
		return err
	}
	rest, webhooks := mesh.SplitWebhooks(manifest)
	config, istiod := withoutIstiod(rest, mesh.IstiodName(revision))
	if istiod == nil {
		return fmt.Errorf("istioctl rendered no %s Deployment", mesh.IstiodName(revision))
	}
	if err := os.WriteFile(filepath.Join(workdir, revision+"-manifest.yaml"), mesh.Join(config), 0o644); err != nil {
		return err
	}
	if err := a.apply(ctx, t, mesh.Join(config)); err != nil {
		return err
	}
	ist, err := mesh.StartIstiodIn(ctx, a.Dir, t, deploymentSource{a.Kube, istiod}, filepath.Join(a.BinDir, "pilot-discovery"), revision)
	if err != nil {
		return err
	}
	local, err := mesh.LocalWebhooks(webhooks, ist.WebhookPort)
	if err != nil {
		return err
	}
	for i, doc := range local {
		if local[i], err = renameInjector(doc, revision); err != nil {
			return err
		}
	}
	if err := a.apply(ctx, t, mesh.Join(local)); err != nil {
		return err
	}
	if err := a.defaultTag(ctx, t, revision, ist.WebhookPort); err != nil {
		return err
	}
	if err := a.apply(ctx, t, []byte(dataPlane)); err != nil {
		return fmt.Errorf("managed data plane: %w", err)
	}
	return a.setCPRStatus(ctx, revision, true)
}

// withoutIstiod drops the istiod Deployment (and its autoscaler and
// disruption budget) from a rendered manifest: Google hosts the managed
// control plane. It returns the Deployment for the local istiod.
func withoutIstiod(docs [][]byte, name string) ([][]byte, *appsv1.Deployment) {
	var keep [][]byte
	var istiod *appsv1.Deployment
	for _, doc := range docs {
		var probe struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if yaml.Unmarshal(doc, &probe) != nil || probe.Metadata.Name != name {
			keep = append(keep, doc)
			continue
		}
		switch probe.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if yaml.Unmarshal(doc, &d) == nil {
				if d.Namespace == "" {
					d.Namespace = "istio-system"
				}
				istiod = &d
			}
		case "HorizontalPodAutoscaler", "PodDisruptionBudget":
		default:
			keep = append(keep, doc)
		}
	}
	return keep, istiod
}

// renameInjector names the revision's injection webhook as Google does,
// istiod-REVISION, instead of istioctl's istio-sidecar-injector-REVISION.
func renameInjector(doc []byte, revision string) ([]byte, error) {
	var probe struct{ Kind string }
	if err := yaml.Unmarshal(doc, &probe); err != nil || probe.Kind != "MutatingWebhookConfiguration" {
		return doc, err
	}
	var cfg admissionv1.MutatingWebhookConfiguration
	if err := yaml.Unmarshal(doc, &cfg); err != nil {
		return nil, err
	}
	cfg.Name = mesh.IstiodName(revision)
	return yaml.Marshal(&cfg)
}

var tagRevision = regexp.MustCompile(`asm-managed(-rapid|-stable)?`)

// defaultTag points the `default` revision tag at the revision, unless it
// already points at an in-cluster (non-managed) revision.
func (a *KubeAgent) defaultTag(ctx context.Context, t mesh.Target, revision string, port int) error {
	cur, err := a.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "istio-revision-tag-default", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case !tagRevision.MatchString(cur.Labels["istio.io/rev"]):
		return nil // the user's default tag: leave it
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, a.istioctl(), "tag", "generate", "default", "--revision", revision, "--overwrite", "-y",
		"--kubeconfig", t.Kubeconfig)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("istioctl tag generate default: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	_, hooks := mesh.SplitWebhooks(out.Bytes())
	local, err := mesh.LocalWebhooks(hooks, port)
	if err != nil {
		return err
	}
	return a.apply(ctx, t, mesh.Join(local))
}

// setCPRStatus writes the ControlPlaneRevision's conditions: provisioning,
// or reconciled and provisioned.
func (a *KubeAgent) setCPRStatus(ctx context.Context, revision string, done bool) error {
	res := a.Dynamic.Resource(cprGVR).Namespace("istio-system")
	var lastErr error
	for range 20 {
		u, err := res.Get(ctx, revision, metav1.GetOptions{})
		if err != nil {
			lastErr = err
			time.Sleep(250 * time.Millisecond) // the CRD's new version may not be served yet
			continue
		}
		now := time.Now().UTC().Format(time.RFC3339)
		cond := func(t string, ok bool, reason, msg string) any {
			st := "False"
			if ok {
				st = "True"
			}
			return map[string]any{"type": t, "status": st, "reason": reason, "message": msg, "lastTransitionTime": now}
		}
		var conds []any
		if done {
			conds = []any{
				cond("Reconciled", true, "Ready", "Ready"),
				cond("Stalled", false, "Ready", "Ready"),
				cond("ProvisioningFinished", true, "Ready", "Provisioning finished"),
			}
		} else {
			conds = []any{
				cond("Reconciled", false, "Provisioning", "Provisioning the managed control plane"),
				cond("Stalled", false, "Provisioning", "Provisioning"),
				cond("ProvisioningFinished", false, "Provisioning", "Provisioning in progress"),
			}
		}
		if err := unstructured.SetNestedSlice(u.Object, conds, "status", "conditions"); err != nil {
			return err
		}
		if _, err := res.UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
			lastErr = err
			continue
		}
		return nil
	}
	return fmt.Errorf("set ControlPlaneRevision %s status: %w", revision, lastErr)
}

// Deprovision implements Agent: the webhooks, the local istiod, the
// revision's configuration and its ControlPlaneRevision go; the CRD and
// istio-system stay, as they do when Google removes a managed revision.
func (a *KubeAgent) Deprovision(ctx context.Context, revision string) error {
	t, err := a.target(revision)
	if err != nil {
		return err
	}
	adm := a.Kube.AdmissionregistrationV1()
	sel := metav1.ListOptions{LabelSelector: "istio.io/rev=" + revision}
	var errs []string
	if err := adm.MutatingWebhookConfigurations().DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		errs = append(errs, err.Error())
	}
	if err := adm.ValidatingWebhookConfigurations().DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		errs = append(errs, err.Error())
	}
	if err := mesh.StopIstiod(a.Dir, t.Key); err != nil {
		errs = append(errs, err.Error())
	}
	if b, err := os.ReadFile(filepath.Join(a.workdir(t), revision+"-manifest.yaml")); err == nil {
		if err := a.kubectl(ctx, t, b, "delete", "--ignore-not-found", "--wait=false", "-f", "-"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	err = a.Dynamic.Resource(cprGVR).Namespace("istio-system").Delete(ctx, revision, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, err.Error())
	}
	left, err := a.Dynamic.Resource(cprGVR).Namespace("istio-system").List(ctx, metav1.ListOptions{})
	if err == nil && len(left.Items) == 0 {
		if err := a.kubectl(ctx, t, []byte(dataPlane), "delete", "--ignore-not-found", "--wait=false", "-f", "-"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove %s: %s", revision, strings.Join(errs, "; "))
	}
	return nil
}

func (a *KubeAgent) apply(ctx context.Context, t mesh.Target, manifest []byte) error {
	return a.kubectl(ctx, t, manifest, "apply", "--server-side", "--force-conflicts", "--field-manager", fieldManager, "-f", "-")
}

// kubectl runs kubectl against the target's cluster alone.
func (a *KubeAgent) kubectl(ctx context.Context, t mesh.Target, stdin []byte, args ...string) error {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", t.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// deploymentSource answers Deployments().Get for the istiod Deployment the
// cluster does not hold (Google hosts the control plane), so
// mesh.StartIstiod can read its environment, and passes everything else to
// the cluster.
type deploymentSource struct {
	kubernetes.Interface
	istiod *appsv1.Deployment
}

func (d deploymentSource) AppsV1() appsv1client.AppsV1Interface {
	return appsV1{d.Interface.AppsV1(), d.istiod}
}

type appsV1 struct {
	appsv1client.AppsV1Interface
	istiod *appsv1.Deployment
}

func (a appsV1) Deployments(namespace string) appsv1client.DeploymentInterface {
	return deployments{a.AppsV1Interface.Deployments(namespace), namespace, a.istiod}
}

type deployments struct {
	appsv1client.DeploymentInterface
	namespace string
	istiod    *appsv1.Deployment
}

func (d deployments) Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error) {
	if d.namespace == d.istiod.Namespace && name == d.istiod.Name {
		return d.istiod.DeepCopy(), nil
	}
	return d.DeploymentInterface.Get(ctx, name, opts)
}
