package vm

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/eastwest"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// GatewayService is the east-west gateway VMs reach istiod through, as
// Istio's gen-eastwest-gateway.sh names it.
const GatewayService = "istio-eastwestgateway"

// AddOptions are what `meshctl vm add` runs with.
type AddOptions struct {
	Name           string            `json:"name"`
	Namespace      string            `json:"namespace"`
	ServiceAccount string            `json:"serviceAccount"`
	Ports          []Port            `json:"ports"`
	Labels         map[string]string `json:"labels,omitempty"`
	// Network is the mesh network the VM is on; "" for the cluster's.
	Network string `json:"network,omitempty"`
	// Revision is the control-plane revision (or tag); "" for the
	// namespace's.
	Revision string `json:"revision,omitempty"`
	// Address is the VM's internal address (ISTIO_SVC_IP in the bundle),
	// read from --instance or a single-address --vm-range.
	Address string `json:"address,omitempty"`
	// Instance and Zone name the VM's Compute instance, in InstanceProject
	// (default: the cluster's project): its address, VPC network and
	// tags decide the firewall rules add makes.
	Instance        string `json:"instance,omitempty"`
	Zone            string `json:"zone,omitempty"`
	InstanceProject string `json:"instanceProject,omitempty"`
	// VMRange is the VMs' addresses when there is no instance to read
	// (--vm-range CIDR).
	VMRange       string        `json:"vmRange,omitempty"`
	Bundle        string        `json:"bundle"`
	TokenDuration time.Duration `json:"-"`
	DryRun        bool          `json:"dryRun"`
	// Wait bounds each wait (DefaultWait when 0).
	Wait time.Duration `json:"-"`
}

// AddResult is what add did, or would do.
type AddResult struct {
	Group     string `json:"group"`
	Namespace string `json:"namespace"`
	Revision  string `json:"revision"`
	ClusterID string `json:"clusterID"`
	// Network is the VM's mesh network, ClusterNetwork the cluster's.
	Network        string        `json:"network,omitempty"`
	ClusterNetwork string        `json:"clusterNetwork,omitempty"`
	Istiod         string        `json:"istiod"`
	Gateway        string        `json:"gateway"`
	Changes        []plan.Change `json:"changes"`
	Bundle         string        `json:"bundle"`
	Files          []BundleFile  `json:"files,omitempty"`
	// TokenExpires is when the bundle's token expires.
	TokenExpires *time.Time        `json:"tokenExpires,omitempty"`
	Permissions  *preflight.Report `json:"permissions,omitempty"`
	DryRun       bool              `json:"dryRun"`
	NextSteps    []string          `json:"nextSteps,omitempty"`
}

// target is the mesh side of a VM: what add reads before planning.
type target struct {
	revision, clusterID, network, meshConfig string
	gateway                                  gatewaySide
	// gatewaySvc is the east-west gateway's Service.
	gatewaySvc *corev1.Service
}

// resolve reads what the VM joins and refuses what cannot take it.
func resolve(ctx context.Context, c Clients, o AddOptions) (target, error) {
	var t target
	ns, err := c.Kube.CoreV1().Namespaces().Get(ctx, o.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return t, failure.WithHint(fmt.Errorf("namespace %s does not exist", o.Namespace),
			fmt.Sprintf("create it and put it in the mesh: kubectl create namespace %s; kubectl label namespace %s istio.io/rev=REVISION", o.Namespace, o.Namespace))
	}
	if err != nil {
		return t, fmt.Errorf("read namespace %s: %w", o.Namespace, err)
	}
	revs, err := mesh.ReadRevisions(ctx, c.Kube)
	if err != nil {
		return t, err
	}
	inj := revs.Injection(ns.Labels)
	if !inj.Enabled {
		return t, failure.WithHint(fmt.Errorf("namespace %s is not in the mesh (no istio.io/rev or istio-injection=enabled label): "+
			"a VM's WorkloadEntry takes its namespace's policies and a Service there selects it", o.Namespace),
			fmt.Sprintf("meshctl inject --namespace %s --revision REVISION (installed: %s)", o.Namespace, revs))
	}
	name := o.Revision
	if name == "" {
		name = inj.Name
	}
	rev, installed := revs.Resolve(name)
	if !installed {
		return t, failure.WithHint(fmt.Errorf("revision %s is not installed (installed: %s)", name, revs), "pass --revision with an installed revision")
	}
	r := revs.Revision(rev)
	if r.Managed || r.Istiod == nil {
		return t, failure.WithHint(fmt.Errorf("revision %s has no istiod in istio-system: VMs join in-cluster control planes only "+
			"(Google's managed control plane has no WorkloadGroup VMs)", rev), "install an in-cluster revision for the VMs' namespace")
	}
	t.revision = rev
	env := map[string]string{}
	for _, ct := range r.Istiod.Spec.Template.Spec.Containers {
		for _, e := range ct.Env {
			env[e.Name] = e.Value
		}
	}
	for _, k := range []string{EnvAutoRegistration, EnvHealthChecks} {
		if v, ok := env[k]; ok {
			if on, err := strconv.ParseBool(v); err == nil && !on {
				return t, failure.WithHint(fmt.Errorf("istiod %s runs with %s=%s: it would not register the VM (auto-registration and its health checks default to on)",
					r.Istiod.Name, k, v), fmt.Sprintf("turn it on in the revision's install (values.pilot.env.%s=true) or: kubectl set env deployment/%s -n istio-system %s=true",
					k, r.Istiod.Name, k))
			}
		}
	}
	t.clusterID = env["CLUSTER_ID"]
	if t.clusterID == "" {
		t.clusterID = "Kubernetes" // istiod's default
	}
	sys, err := c.Kube.CoreV1().Namespaces().Get(ctx, mesh.IstioSystem, metav1.GetOptions{})
	if err != nil {
		return t, fmt.Errorf("read namespace %s: %w", mesh.IstioSystem, err)
	}
	t.network = sys.Labels[eastwest.LabelNetwork]
	cm := "istio"
	if revisioned(rev) {
		cm = "istio-" + rev
	}
	mcm, err := c.Kube.CoreV1().ConfigMaps(mesh.IstioSystem).Get(ctx, cm, metav1.GetOptions{})
	if err != nil {
		return t, fmt.Errorf("read the mesh config of revision %s (ConfigMap %s/%s): %w", rev, mesh.IstioSystem, cm, err)
	}
	t.meshConfig = mcm.Data["mesh"]
	gw, err := c.Kube.CoreV1().Services(mesh.IstioSystem).Get(ctx, GatewayService, metav1.GetOptions{})
	if err == nil {
		t.gatewaySvc = gw
		t.gateway.ip = serviceIP(gw)
		t.gateway.global, _ = strconv.ParseBool(gw.Annotations[eastwest.AnnotationGlobalAccess])
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return t, fmt.Errorf("read Service %s/%s: %w", mesh.IstioSystem, GatewayService, err)
	}
	if t.gateway.ip == "" || !servesPort(gw, 15012) {
		return t, failure.WithHint(fmt.Errorf("istiod is not exposed to VMs: no Service %s/%s with a load balancer address and port 15012 "+
			"(a VM reaches istiod through the east-west gateway's internal load balancer; it resolves no cluster address)", mesh.IstioSystem, GatewayService),
			"meshctl mesh connect CLUSTER CLUSTER... --multi-network --expose-istiod (or Istio's gen-eastwest-gateway.sh and expose-istiod.yaml), then run this again")
	}
	return t, nil
}

// checkCrossNetwork refuses a VM on another mesh network than the
// cluster's when the east-west gateway cannot carry it, as Istio's
// multi-network VM guide needs it: the gateway Service labelled with the
// cluster's network (istiod sends the VM's calls to the cluster's
// endpoints through it) serving 15443 (mTLS, AUTO_PASSTHROUGH), 15012 and
// 15017, and expose-istiod.yaml's Gateway routing istiod's ports.
func checkCrossNetwork(ctx context.Context, c Clients, t target, vmNetwork string) error {
	var missing []string
	if got := t.gatewaySvc.Labels[eastwest.LabelNetwork]; got != t.network || t.network == "" {
		missing = append(missing, fmt.Sprintf("the label %s=%s on Service %s (it has %q)", eastwest.LabelNetwork, t.network, GatewayService, got))
	}
	for _, p := range []int32{15443, 15017} {
		if !servesPort(t.gatewaySvc, p) {
			missing = append(missing, fmt.Sprintf("port %d on Service %s", p, GatewayService))
		}
	}
	if _, err := c.Objects.Get(ctx, eastwest.GVRGateway, mesh.IstioSystem, eastwest.IstiodGateway); kube.IsNotFound(err) {
		missing = append(missing, "expose-istiod.yaml's Gateway "+mesh.IstioSystem+"/"+eastwest.IstiodGateway)
	} else if err != nil {
		return fmt.Errorf("read Gateway %s/%s: %w", mesh.IstioSystem, eastwest.IstiodGateway, err)
	}
	if len(missing) == 0 {
		return nil
	}
	return failure.WithHint(fmt.Errorf("the VM is on network %q and the cluster on %q, and the east-west gateway cannot carry it: it lacks %s; nothing was changed",
		vmNetwork, t.network, strings.Join(missing, ", ")),
		"meshctl mesh connect CLUSTER CLUSTER... --multi-network --expose-istiod makes the gateway and exposes istiod through it; then run this again")
}

func serviceIP(s *corev1.Service) string {
	if len(s.Status.LoadBalancer.Ingress) > 0 && s.Status.LoadBalancer.Ingress[0].IP != "" {
		return s.Status.LoadBalancer.Ingress[0].IP
	}
	if len(s.Spec.ExternalIPs) > 0 {
		return s.Spec.ExternalIPs[0]
	}
	return ""
}

func servesPort(s *corev1.Service, port int32) bool {
	if s == nil {
		return false
	}
	for _, p := range s.Spec.Ports {
		if p.Port == port {
			return true
		}
	}
	return false
}

// ownerLabels mark what add makes for the group.
func ownerLabels(group string) map[string]string {
	return map[string]string{mesh.LabelManagedBy: mesh.ManagedBy, LabelVM: group}
}

// probe is the group's readiness probe: a TCP connect to its first port,
// which pilot-agent runs on the VM and reports to istiod (the entry's
// Healthy condition).
func probe(ports []Port) map[string]any {
	return map[string]any{"initialDelaySeconds": int64(1), "periodSeconds": int64(5), "tcpSocket": map[string]any{"port": int64(ports[0].Number)}}
}

// desiredGroup is the WorkloadGroup add applies.
func desiredGroup(o AddOptions, network string, labels map[string]string) *unstructured.Unstructured {
	ports := map[string]any{}
	for _, p := range o.Ports {
		ports[p.Name] = int64(p.Number)
	}
	tmpl := map[string]any{"serviceAccount": o.ServiceAccount, "ports": ports}
	if network != "" {
		tmpl["network"] = network
	}
	md := map[string]any{}
	for k, v := range labels {
		md[k] = v
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       "WorkloadGroup",
		"metadata":   map[string]any{"name": o.Name, "namespace": o.Namespace},
		"spec": map[string]any{
			"metadata": map[string]any{"labels": md},
			"template": tmpl,
			"probe":    probe(o.Ports),
		},
	}}
	u.SetLabels(ownerLabels(o.Name))
	return u
}

// Add makes the group and writes its bundle.
func Add(ctx context.Context, c Clients, rep ui.Reporter, check *preflight.Checker, o AddOptions) (*AddResult, error) {
	if o.Wait == 0 {
		o.Wait = DefaultWait
	}
	if o.TokenDuration == 0 {
		o.TokenDuration = DefaultTokenDuration
	}
	if o.TokenDuration < 10*time.Minute || o.TokenDuration > MaxTokenDuration {
		return nil, failure.Usagef("--token-duration %s: between 10m and %s (the token only bootstraps the VM's certificate; refresh it with meshctl vm token-refresh)", o.TokenDuration, MaxTokenDuration)
	}
	if len(o.Ports) == 0 {
		return nil, failure.Usagef("at least one --port NAME:NUMBER: the ports the VM serves (the readiness probe checks the first)")
	}
	if err := checkVMFlags(&o); err != nil {
		return nil, err
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = o.Name
	}
	if o.Bundle == "" {
		o.Bundle = "./" + o.Name + "-bundle"
	}
	labels := map[string]string{"app": o.Name}
	maps.Copy(labels, o.Labels)

	step := rep.Step("read the mesh for namespace " + o.Namespace)
	t, err := resolve(ctx, c, o)
	if err != nil {
		step.Fail(err)
		return nil, err
	}
	step.Done()
	if o.Network != "" && o.Network != t.network && o.VMRange != "" {
		return nil, failure.Usagef("--vm-range with --network %s: the rule to the VM goes into the VM's VPC network, which a range does not tell; pass --instance, or leave both out and make the rules the next steps name", o.Network)
	}
	var fp *firewallPlan
	var vm vmSide
	var cloud Cloud
	vmNetwork := cmp.Or(o.Network, t.network)
	if o.Instance != "" || o.VMRange != "" {
		if cloud, err = c.cloud(ctx); err != nil {
			return nil, err
		}
		step := rep.Step("read the VM and the cluster's network")
		if fp, vm, vmNetwork, err = planVMFirewall(ctx, c, cloud, &o, t, rep); err != nil {
			step.Fail(err)
			return nil, err
		}
		step.Done()
	} else if vmNetwork != t.network {
		if err := checkCrossNetwork(ctx, c, t, vmNetwork); err != nil {
			return nil, err
		}
	}
	res := &AddResult{Group: o.Name, Namespace: o.Namespace, Revision: t.revision, ClusterID: t.clusterID, Network: vmNetwork, ClusterNetwork: t.network,
		Istiod: istiodAddr(t.revision), Gateway: t.gateway.ip, Bundle: o.Bundle, DryRun: o.DryRun}

	// The plan: the service account, the group, the token and the bundle.
	saChange := plan.Change{Kind: "ServiceAccount", Namespace: o.Namespace, Name: o.ServiceAccount, Resource: "serviceaccounts", Action: plan.Create}
	sa, err := c.Kube.CoreV1().ServiceAccounts(o.Namespace).Get(ctx, o.ServiceAccount, metav1.GetOptions{})
	switch {
	case err == nil && mesh.MadeByMeshctl(sa.Labels) && sa.Labels[LabelVM] == o.Name:
		saChange.Action = plan.Keep
	case err == nil:
		saChange.Action, saChange.Note = plan.Use, "not made by meshctl vm add: remove leaves it"
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("read ServiceAccount %s/%s: %w", o.Namespace, o.ServiceAccount, err)
	}
	want := desiredGroup(o, vmNetwork, labels)
	wgChange := plan.Change{Kind: "WorkloadGroup", Namespace: o.Namespace, Name: o.Name, Resource: "networking.istio.io/workloadgroups", Action: plan.Create}
	live, err := c.Objects.Get(ctx, GVRWorkloadGroup, o.Namespace, o.Name)
	switch {
	case err == nil && !mesh.MadeByMeshctl(live.GetLabels()):
		return nil, failure.WithHint(fmt.Errorf("WorkloadGroup %s/%s exists and meshctl did not make it", o.Namespace, o.Name),
			"choose another name, or delete it (kubectl delete workloadgroup -n "+o.Namespace+" "+o.Name+")")
	case err == nil:
		if fields := groupDiff(live, want); len(fields) > 0 {
			wgChange.Action, wgChange.Fields = plan.Update, fields
		} else {
			wgChange.Action = plan.Keep
		}
	case !kube.IsNotFound(err):
		return nil, fmt.Errorf("read WorkloadGroup %s/%s: %w", o.Namespace, o.Name, err)
	default:
		live = nil
	}
	res.Changes = []plan.Change{saChange, wgChange,
		{Kind: "TokenRequest", Namespace: o.Namespace, Name: o.ServiceAccount, Action: plan.Create,
			Note: fmt.Sprintf("audience istio-ca, valid %s", o.TokenDuration)},
		{Kind: "bundle", Name: o.Bundle, Action: plan.Create, Note: "cluster.env, mesh.yaml, root-cert.pem, istio-token (0600), hosts, install.sh"},
	}
	if fp != nil {
		res.Changes = append(res.Changes, fp.changes()...)
		setAnnotation(want, AnnotationFirewallProject, fp.projects())
	} else {
		res.Changes = append(res.Changes, plan.Change{Kind: "firewalls", Name: "(none)", Action: plan.Skip,
			Note: "the VM's address is unknown: pass --instance NAME --zone ZONE or --vm-range CIDR"})
		if live != nil {
			// Rules an earlier run made stay, and remove still finds them.
			setAnnotation(want, AnnotationFirewallProject, live.GetAnnotations()[AnnotationFirewallProject])
		}
	}
	res.Permissions = check.Check(ctx, res.Changes)
	if o.Instance != "" && res.Permissions != nil {
		// Reading the instance above was the check: it went through.
		res.Permissions.Permissions = append(res.Permissions.Permissions, preflight.Permission{Permission: "compute.instances.get",
			Project: cmp.Or(o.InstanceProject, cloud.Project), Steps: []string{"read " + vm.from}, Status: preflight.Held})
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	if !o.DryRun {
		// RBAC grants tokens as create on serviceaccounts/token, which the
		// plan's checks cannot name: ask for it before the first change.
		if err := canCreateToken(ctx, c, o.Namespace, o.ServiceAccount); err != nil {
			return res, err
		}
	}
	if o.DryRun {
		return res, nil
	}

	if saChange.Action == plan.Create {
		step := rep.Step("create ServiceAccount " + o.Namespace + "/" + o.ServiceAccount)
		_, err := c.Kube.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: o.ServiceAccount, Namespace: o.Namespace, Labels: ownerLabels(o.Name)}},
			metav1.CreateOptions{FieldManager: kube.FieldManager})
		if err != nil {
			step.Fail(err)
			return res, fmt.Errorf("create ServiceAccount %s/%s: %w", o.Namespace, o.ServiceAccount, err)
		}
		step.Done()
	}
	// istiod writes its root certificate into every namespace; a fresh one
	// may not have it yet.
	var root string
	step = rep.Step(fmt.Sprintf("wait up to %s for ConfigMap %s/istio-ca-root-cert (istiod's root certificate)", o.Wait, o.Namespace))
	err = wait.PollUntilContextTimeout(ctx, time.Second, o.Wait, true, func(ctx context.Context) (bool, error) {
		cm, err := c.Kube.CoreV1().ConfigMaps(o.Namespace).Get(ctx, "istio-ca-root-cert", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		root = cm.Data["root-cert.pem"]
		return root != "", nil
	})
	if err != nil {
		err = fmt.Errorf("istiod %s wrote no root certificate into namespace %s within %s (ConfigMap istio-ca-root-cert): %w", t.revision, o.Namespace, o.Wait, err)
		step.Fail(err)
		return res, err
	}
	step.Done()

	step = rep.Step(fmt.Sprintf("request a token for ServiceAccount %s/%s (audience istio-ca, %s)", o.Namespace, o.ServiceAccount, o.TokenDuration))
	token, expires, err := requestToken(ctx, c, o.Namespace, o.ServiceAccount, o.TokenDuration)
	if err != nil {
		step.Fail(err)
		return res, err
	}
	step.Done()
	res.TokenExpires = &expires
	setTokenAnnotations(want, expires, o.TokenDuration)

	// Applied on every run: its annotations record the new token's expiry.
	step = rep.Step(fmt.Sprintf("%s WorkloadGroup %s/%s", wgChange.Action, o.Namespace, o.Name))
	if _, err := c.Objects.Apply(ctx, GVRWorkloadGroup, want, false); err != nil {
		step.Fail(err)
		return res, fmt.Errorf("apply WorkloadGroup %s/%s: %w", o.Namespace, o.Name, err)
	}
	step.Done()

	if fp != nil {
		if err := fp.apply(ctx, cloud.Firewalls, rep); err != nil {
			return res, err
		}
	}

	files, err := bundleInput{Group: o.Name, Namespace: o.Namespace, ServiceAccount: o.ServiceAccount, Network: vmNetwork, ClusterID: t.clusterID,
		Revision: t.revision, Ports: o.Ports, Labels: labels, Probe: probe(o.Ports), MeshConfig: t.meshConfig, RootCert: root, Token: token,
		GatewayIP: t.gateway.ip, Address: o.Address}.files()
	if err != nil {
		return res, err
	}
	step = rep.Step("write the bundle " + o.Bundle)
	if err := writeBundle(o.Bundle, files); err != nil {
		step.Fail(err)
		return res, err
	}
	step.Done()
	res.Files = bundleFiles
	res.NextSteps = []string{
		fmt.Sprintf("copy %s to the VM (it holds a token for %s/%s until %s)", o.Bundle, o.Namespace, o.ServiceAccount, expires.UTC().Format(time.RFC3339)),
		"on the VM, as root: ISTIO_VERSION=<the mesh's version> sh install.sh",
		fmt.Sprintf("meshctl vm list --namespace %s shows the VM once istiod registers it", o.Namespace),
	}
	if fp == nil {
		res.NextSteps = append(res.NextSteps, manualRules(t.gateway.ip, o.Ports, vmNetwork != t.network))
	}
	return res, nil
}

// groupDiff names the fields of the group an apply would change, leaving
// out the token's annotations, which every run renews.
func groupDiff(live, want *unstructured.Unstructured) []string {
	var out []string
	for _, path := range [][]string{{"spec"}, {"metadata", "labels"}} {
		a, _, _ := unstructured.NestedFieldNoCopy(live.Object, path...)
		b, _, _ := unstructured.NestedFieldNoCopy(want.Object, path...)
		for _, f := range kube.ChangedFields(&unstructured.Unstructured{Object: map[string]any{"x": a}}, &unstructured.Unstructured{Object: map[string]any{"x": b}}) {
			out = append(out, strings.Join(path, ".")+strings.TrimPrefix(f, "x"))
		}
	}
	return out
}

func setTokenAnnotations(u *unstructured.Unstructured, expires time.Time, lifetime time.Duration) {
	setAnnotation(u, AnnotationTokenExpires, expires.UTC().Format(time.RFC3339))
	setAnnotation(u, AnnotationTokenLifetime, strconv.Itoa(int(lifetime.Seconds())))
}

// setAnnotation sets one annotation; an empty value sets nothing.
func setAnnotation(u *unstructured.Unstructured, key, value string) {
	if value == "" {
		return
	}
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	u.SetAnnotations(a)
}

// checkVMFlags refuses, before any call, what --instance, --zone and
// --vm-range cannot mean together.
func checkVMFlags(o *AddOptions) error {
	switch {
	case (o.Instance == "") != (o.Zone == ""):
		return failure.Usagef("--instance and --zone go together: the instance's name and its zone")
	case o.Instance != "" && o.VMRange != "":
		return failure.Usagef("--instance or --vm-range, not both: the instance's address is the VM's range")
	case o.InstanceProject != "" && o.Instance == "":
		return failure.Usagef("--instance-project names the project of --instance")
	case o.VMRange != "":
		r, err := ParseVMRange(o.VMRange)
		o.VMRange = r
		return err
	}
	return nil
}

// planVMFirewall reads the VM (its instance, or --vm-range) and the
// cluster's network, works out the VM's mesh network (--network; else the
// cluster's when the VM is on the cluster's VPC network, else the VM's
// VPC named as asmcli names networks, PROJECT-VPC), refuses a VM with no
// route to the gateway or a gateway that cannot carry it, and plans its
// rules; the instance's address goes into the bundle.
func planVMFirewall(ctx context.Context, c Clients, cloud Cloud, o *AddOptions, t target, rep ui.Reporter) (*firewallPlan, vmSide, string, error) {
	vm := vmSide{ranges: []string{o.VMRange}, from: "--vm-range " + o.VMRange}
	if o.Instance != "" {
		var err error
		if vm, err = readInstance(ctx, cloud.Instances, cmp.Or(o.InstanceProject, cloud.Project), o.Zone, o.Instance); err != nil {
			return nil, vm, "", err
		}
	}
	if o.Address == "" {
		o.Address = vm.address()
	}
	cs, err := readCluster(ctx, cloud)
	if err != nil {
		return nil, vm, "", err
	}
	network := t.network
	switch {
	case o.Network != "":
		network = o.Network
	case cs.otherVPC(vm):
		network = vm.networkProject + "-" + vm.network
	}
	if err := checkRoute(ctx, cloud, cs, vm, t.gateway); err != nil {
		return nil, vm, network, err
	}
	if network != t.network {
		if err := checkCrossNetwork(ctx, c, t, network); err != nil {
			return nil, vm, network, err
		}
	}
	fp, err := planFirewall(ctx, c, cloud, *o, cs, t.gateway, vm, network != t.network, rep)
	return fp, vm, network, err
}

// requestToken is a TokenRequest for the VM, as istioctl makes it: audience
// istio-ca (istiod's token authenticator checks it), bounded lifetime.
func requestToken(ctx context.Context, c Clients, ns, sa string, d time.Duration) (string, time.Time, error) {
	secs := int64(d.Seconds())
	tr, err := c.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{"istio-ca"}, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("request a token for ServiceAccount %s/%s: %w", ns, sa, err)
	}
	return tr.Status.Token, tr.Status.ExpirationTimestamp.Time, nil
}

// canCreateToken asks the API server whether the caller may request the
// service account's tokens.
func canCreateToken(ctx context.Context, c Clients, ns, sa string) error {
	r, err := c.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: "create", Resource: "serviceaccounts", Subresource: "token", Name: sa},
	}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("check the permission to request tokens of ServiceAccount %s/%s: %w", ns, sa, err)
	}
	if !r.Status.Allowed {
		return failure.WithHint(fmt.Errorf("missing permission: create serviceaccounts/token in namespace %s: the VM's bundle needs a token for ServiceAccount %s (nothing was changed)", ns, sa),
			fmt.Sprintf("ask for a Role granting create on serviceaccounts/token in %s, or check with: kubectl auth can-i create serviceaccounts/token -n %s", ns, ns))
	}
	return nil
}

// RenderText shows the plan, then the bundle and what to do next.
func (r *AddResult) RenderText(w io.Writer, s ui.Styles) error {
	network := fmt.Sprintf("network %q", r.Network)
	if r.Network != r.ClusterNetwork {
		network = fmt.Sprintf("the VM on network %q, the cluster on %q", r.Network, r.ClusterNetwork)
	}
	fmt.Fprintf(w, "VM group %s/%s: revision %s, cluster %s, %s; istiod %s through the east-west gateway %s\n\n",
		r.Namespace, r.Group, r.Revision, r.ClusterID, network, r.Istiod, r.Gateway)
	if err := s.WriteTable(w, plan.Table(r.Changes, nil)); err != nil {
		return err
	}
	if r.DryRun {
		_, err := fmt.Fprintln(w, "\nDry run: nothing changed.")
		return err
	}
	fmt.Fprintf(w, "\n%s bundle %s:\n", s.OK("✓"), r.Bundle)
	for _, f := range r.Files {
		fmt.Fprintf(w, "  %-14s %04o  %s\n", f.Name, f.Mode, f.OnVM)
	}
	fmt.Fprintln(w, "\nNext:")
	for _, n := range r.NextSteps {
		fmt.Fprintf(w, "  %s\n", n)
	}
	return nil
}
