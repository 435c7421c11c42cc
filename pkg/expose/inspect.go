package expose

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// get reads one object into a typed value.
func get[T any](ctx context.Context, c kube.Objects, k kind, namespace, name string) (*T, error) {
	u, err := c.Get(ctx, k.Resource, namespace, name)
	if err != nil {
		return nil, err
	}
	out := new(T)
	if err := kube.FromUnstructured(u, out); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", k, name, err)
	}
	return out, nil
}

// list reads objects into typed values.
func list[T any](ctx context.Context, c kube.Objects, k kind, namespace, selector string) ([]T, error) {
	items, err := c.List(ctx, k.Resource, namespace, selector)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(items))
	for i := range items {
		if err := kube.FromUnstructured(&items[i], &out[i]); err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
	}
	return out, nil
}

// inspection is what resolve learned besides the Spec.
type inspection struct {
	warnings []string
	// certReason says why meshctl's certificate is new ("" when reused).
	certReason string
	podCount   int
	placement  placement
}

// resolve checks opts against the cluster and completes them into a Spec.
// It only reads.
func resolve(ctx context.Context, c kube.Objects, opts Options, now time.Time) (Spec, inspection, error) {
	var in inspection
	ns, err := namespace(ctx, c, opts.Namespace, "-n")
	if err != nil {
		return Spec{}, in, err
	}
	svc, err := service(ctx, c, opts.Namespace, opts.Service)
	if err != nil {
		return Spec{}, in, err
	}
	port, err := servicePort(svc, opts.Port)
	if err != nil {
		return Spec{}, in, err
	}
	if len(svc.Spec.Selector) == 0 {
		return Spec{}, in, failure.WithHint(fmt.Errorf("the Service %s/%s has no pod selector: meshctl exposes Services backed by pods in the mesh", svc.Namespace, svc.Name),
			"expose a Service that selects the pods of a Deployment or StatefulSet")
	}
	rev, pl, err := gatewayRevision(ctx, c, opts, ns)
	if err != nil {
		return Spec{}, in, err
	}
	gwNS := pl.ns
	n, warn, err := meshPods(ctx, c, svc, rev)
	if err != nil {
		return Spec{}, in, err
	}
	in.podCount = n
	if warn != "" {
		in.warnings = append(in.warnings, warn)
	}
	clusterID, err := clusterID(ctx, c)
	if err != nil {
		return Spec{}, in, err
	}

	spec := Spec{
		Namespace:        opts.Namespace,
		Service:          opts.Service,
		Port:             port.Port,
		Selector:         svc.Spec.Selector,
		Hosts:            append([]string(nil), opts.Hosts...),
		Revision:         rev,
		GatewayNamespace: gwNS.Name,
		Names:            NamesFor(opts.Namespace, opts.Service, gwNS.Name, clusterID),
		MinReplicas:      opts.MinReplicas,
		MaxReplicas:      opts.MaxReplicas,
		CPUTarget:        opts.CPUTarget,
		StrictMTLS:       opts.StrictMTLS,
		ControllerNEGs:   opts.ControllerNEGs,
		OwnNamespace:     pl.own,
		NetworkPolicy:    !opts.NoNetworkPolicy,
	}
	spec.Replicas, err = replicas(ctx, c, spec)
	if err != nil {
		return Spec{}, in, err
	}
	if opts.CertSecret != "" && !pl.exists {
		return Spec{}, in, failure.WithHint(fmt.Errorf("--gateway-cert-secret %s: the Secret must be in the gateway's namespace, and %s, the gateway's own, does not exist yet (meshctl makes it)", opts.CertSecret, gwNS.Name),
			fmt.Sprintf("create the namespace and the Secret first (kubectl create namespace %s; kubectl create secret tls %s -n %s --cert CERT.pem --key KEY.pem) and pass --gateway-namespace %s",
				gwNS.Name, opts.CertSecret, gwNS.Name, gwNS.Name))
	}
	if in.certReason, err = certificate(ctx, c, opts.CertSecret, &spec, now); err != nil {
		return spec, in, err
	}
	in.placement = pl
	if !pl.own {
		in.warnings = append(in.warnings, sharedNamespaceWarning(ctx, c, spec, pl))
	}
	return spec, in, nil
}

// gatewayRevision picks the revision that injects the gateway and the
// namespace it runs in (placeGateway), checking that the revision injects
// there.
func gatewayRevision(ctx context.Context, c kube.Objects, opts Options, ns *corev1.Namespace) (string, placement, error) {
	revs, err := mesh.ReadRevisionsFrom(ctx, c)
	if err != nil {
		return "", placement{}, err
	}
	rev, err := pickRevision(opts.Revision, ns, revs)
	if err != nil {
		return "", placement{}, err
	}
	pl, err := placeGateway(ctx, c, opts, ns)
	if err != nil {
		return "", pl, err
	}
	if pl.own {
		// meshctl's own namespace for the gateway: this run labels it for
		// rev, whatever revision an earlier run labelled it for.
		return rev, pl, nil
	}
	return rev, pl, injectableBy(pl.ns, rev, revs)
}

// certificate settles the certificate the gateway serves: the user's Secret
// (checked), or meshctl's own (kept, renewed or new; the reason says why).
func certificate(ctx context.Context, c kube.Objects, userSecret string, spec *Spec, now time.Time) (string, error) {
	if userSecret == spec.Names.CertSecret {
		return "", failure.Usage(fmt.Errorf("--gateway-cert-secret %s names the Secret meshctl makes for this gateway", userSecret),
			"leave out --gateway-cert-secret to use meshctl's certificate, or name a Secret of your own")
	}
	if userSecret != "" {
		spec.CertSecret = userSecret
		return "", userCert(ctx, c, spec.GatewayNamespace, userSecret, now)
	}
	spec.CertSecret = spec.Names.CertSecret
	var reason string
	var err error
	spec.Cert, reason, err = ownCert(ctx, c, *spec, now)
	return reason, err
}

// namespace reads a namespace; a missing one is an error naming those that
// exist.
func namespace(ctx context.Context, c kube.Objects, name, flag string) (*corev1.Namespace, error) {
	ns, err := get[corev1.Namespace](ctx, c, kNamespace, "", name)
	if err == nil {
		return ns, nil
	}
	if !kube.IsNotFound(err) {
		return nil, fmt.Errorf("read namespace %s: %w", name, err)
	}
	all, lerr := list[corev1.Namespace](ctx, c, kNamespace, "", "")
	names := make([]string, 0, len(all))
	for _, n := range all {
		names = append(names, n.Name)
	}
	msg := fmt.Sprintf("namespace %q not found", name)
	if lerr == nil {
		msg += "; namespaces: " + listNames(names)
	}
	hint := fmt.Sprintf("pass the Service's namespace with %s NAMESPACE", flag)
	if flag == "--gateway-namespace" {
		hint = fmt.Sprintf("create it first (kubectl create namespace %s), or leave out --gateway-namespace to give the gateway a namespace of its own", name)
	}
	return nil, failure.WithHint(errors.New(msg), hint)
}

func service(ctx context.Context, c kube.Objects, namespace, name string) (*corev1.Service, error) {
	svc, err := get[corev1.Service](ctx, c, kService, namespace, name)
	if err == nil {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			return nil, fmt.Errorf("the Service %s/%s is an ExternalName Service: it has no pods to route to", namespace, name)
		}
		return svc, nil
	}
	if !kube.IsNotFound(err) {
		return nil, fmt.Errorf("read Service %s/%s: %w", namespace, name, err)
	}
	all, lerr := list[corev1.Service](ctx, c, kService, namespace, "")
	if lerr != nil {
		return nil, fmt.Errorf("service %s/%s not found", namespace, name)
	}
	var names []string
	for _, s := range all {
		if s.Labels[mesh.LabelManagedBy] != mesh.ManagedBy { // not the gateways of other exposed Services
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return nil, failure.WithHint(fmt.Errorf("service %s/%s not found; namespace %s has no Services", namespace, name, namespace), "check the namespace (-n)")
	}
	return nil, failure.WithHint(fmt.Errorf("service %s/%s not found; Services in %s: %s", namespace, name, namespace, listNames(names)), "check the name, or the namespace (-n)")
}

// servicePort picks the Service port to route to: want by number or name,
// or the only port when want is empty.
func servicePort(svc *corev1.Service, want string) (corev1.ServicePort, error) {
	ports := svc.Spec.Ports
	describe := func() string {
		var out []string
		for _, p := range ports {
			s := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
			if p.Name != "" {
				s = p.Name + " " + s
			}
			out = append(out, s)
		}
		return strings.Join(out, ", ")
	}
	ref := svc.Namespace + "/" + svc.Name
	if len(ports) == 0 {
		return corev1.ServicePort{}, fmt.Errorf("the Service %s has no ports", ref)
	}
	var found *corev1.ServicePort
	switch {
	case want == "" && len(ports) == 1:
		found = &ports[0]
	case want == "":
		return corev1.ServicePort{}, failure.Usage(fmt.Errorf("the Service %s has several ports (%s): choose one with --port", ref, describe()), "")
	default:
		n, numErr := strconv.Atoi(want)
		for i := range ports {
			if numErr == nil && ports[i].Port == int32(n) || numErr != nil && ports[i].Name == want {
				found = &ports[i]
			}
		}
	}
	if found == nil {
		return corev1.ServicePort{}, failure.WithHint(fmt.Errorf("the Service %s has no port %s; its ports: %s", ref, want, describe()), "pass --port with one of them (number or name)")
	}
	if found.Protocol != "" && found.Protocol != corev1.ProtocolTCP {
		return corev1.ServicePort{}, fmt.Errorf("port %d of Service %s is %s: a gateway routes HTTP, over TCP", found.Port, ref, found.Protocol)
	}
	return *found, nil
}

// pickRevision applies --revision's defaulting by pkg/mesh's rules: the
// flag, else the revision the namespace's labels ask for (its istio.io/rev,
// or the default revision for istio-injection=enabled), else the only
// revision installed (tags are not revisions).
func pickRevision(flag string, ns *corev1.Namespace, revs mesh.Revisions) (string, error) {
	names := revs.Names()
	if len(names) == 0 {
		return "", failure.WithHint(errors.New("no mesh revision is installed in this cluster (no Istio injection webhook or istiod found)"),
			"install the mesh first: meshctl install (or asmcli install)")
	}
	if flag != "" {
		if !revs.Known(flag) {
			return "", failure.WithHint(fmt.Errorf("revision %q is not installed; installed: %s", flag, revs), "pass one of them with --revision")
		}
		return flag, nil
	}
	switch want := revs.Injection(ns.Labels); {
	case want.Enabled && want.Installed && want.Label == mesh.LabelRevision:
		return want.Name, nil
	case want.Enabled && want.Installed:
		return want.Revision, nil
	case want.Enabled && want.Label == mesh.LabelRevision:
		return "", failure.WithHint(fmt.Errorf("namespace %s is labelled %s=%s, which is not installed; installed: %s", ns.Name, mesh.LabelRevision, want.Name, revs),
			"pass --revision, or relabel the namespace: meshctl inject --namespace "+ns.Name)
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", failure.WithHint(fmt.Errorf("several mesh revisions are installed (%s) and namespace %s names none", revs, ns.Name),
		"choose one with --revision")
}

// injectableBy checks that the gateway's pods, labelled istio.io/rev=rev,
// get injected by that revision in namespace ns: a namespace's own
// injection labels win over a pod's (pkg/mesh's rules, as Istio's webhooks
// select).
func injectableBy(ns *corev1.Namespace, rev string, revs mesh.Revisions) error {
	hint := "run the gateway in another namespace with --gateway-namespace, or pass the namespace's revision with --revision"
	want := revs.Injection(ns.Labels)
	wantRev, _ := revs.Resolve(rev)
	switch {
	case !want.Labelled:
		return nil // the pod's own istio.io/rev picks its injector
	case !want.Enabled:
		return failure.WithHint(fmt.Errorf("namespace %s is labelled %s=%s: the gateway's proxy could not be injected there", ns.Name, mesh.LabelInjection, ns.Labels[mesh.LabelInjection]), hint)
	case want.Label == mesh.LabelInjection && !want.Installed:
		return failure.WithHint(fmt.Errorf("namespace %s is labelled %s=enabled, but no revision is the default (no %q tag or revision): nothing would inject the gateway there", ns.Name, mesh.LabelInjection, mesh.DefaultRevision),
			hint+", or make a revision the default: istioctl tag set default --revision "+wantRev)
	case want.Label == mesh.LabelInjection && want.Revision != wantRev:
		return failure.WithHint(fmt.Errorf("namespace %s is labelled %s=enabled, so revision %s would inject the gateway, not %s", ns.Name, mesh.LabelInjection, want.Revision, rev), hint)
	case want.Label == mesh.LabelRevision && !want.Installed:
		return failure.WithHint(fmt.Errorf("namespace %s is labelled %s=%s, which is not installed: nothing would inject the gateway there", ns.Name, mesh.LabelRevision, want.Name), hint)
	case want.Label == mesh.LabelRevision && want.Revision != wantRev:
		return failure.WithHint(fmt.Errorf("namespace %s is labelled %s=%s, so that revision would inject the gateway, not %s", ns.Name, mesh.LabelRevision, want.Name, rev), hint)
	}
	return nil
}

// meshPods checks that the Service's pods run an Istio proxy: the gateway
// speaks Istio mutual TLS to them. It returns how many pods there are, and
// a warning when there are none to check.
func meshPods(ctx context.Context, c kube.Objects, svc *corev1.Service, rev string) (int, string, error) {
	sel := labels.SelectorFromSet(svc.Spec.Selector).String()
	pods, err := list[corev1.Pod](ctx, c, kPod, svc.Namespace, sel)
	if err != nil {
		return 0, "", fmt.Errorf("list the pods of Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	var missing []string
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		n++
		if !mesh.ProxyOf(&p).Injected {
			missing = append(missing, p.Name)
		}
	}
	if n == 0 {
		return 0, fmt.Sprintf("Service %s/%s selects no running pods (%s): the gateway will answer 503 until it does", svc.Namespace, svc.Name, sel), nil
	}
	if len(missing) > 0 {
		return n, "", failure.WithHint(
			fmt.Errorf("%d of %d pods of Service %s/%s are not in the mesh (no istio-proxy): %s", len(missing), n, svc.Namespace, svc.Name, listNames(missing)),
			fmt.Sprintf("inject them first: meshctl inject --namespace %s --revision %s", svc.Namespace, rev))
	}
	return n, "", nil
}

// clusterID identifies the cluster in NEG names: the first 8 hex digits of
// the kube-system namespace's UID, stable for the cluster's life.
func clusterID(ctx context.Context, c kube.Objects) (string, error) {
	ns, err := get[corev1.Namespace](ctx, c, kNamespace, "", "kube-system")
	if err != nil {
		return "", fmt.Errorf("read namespace kube-system (its UID names the cluster's NEGs): %w", err)
	}
	uid := strings.ReplaceAll(string(ns.UID), "-", "")
	if len(uid) < 8 {
		return "", fmt.Errorf("namespace kube-system has no usable UID (%q)", ns.UID)
	}
	return uid[:8], nil
}

// replicas keeps the autoscaler's current choice for an existing gateway
// (within the new bounds), and starts a new one at its minimum.
func replicas(ctx context.Context, c kube.Objects, s Spec) (int32, error) {
	d, err := get[appsv1.Deployment](ctx, c, kDeployment, s.GatewayNamespace, s.Names.Gateway)
	if kube.IsNotFound(err) {
		return s.MinReplicas, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read Deployment %s/%s: %w", s.GatewayNamespace, s.Names.Gateway, err)
	}
	n := s.MinReplicas
	if d.Spec.Replicas != nil {
		n = *d.Spec.Replicas
	}
	return min(max(n, s.MinReplicas), s.MaxReplicas), nil
}

// userCert checks the Secret the user named with --gateway-cert-secret.
func userCert(ctx context.Context, c kube.Objects, namespace, name string, now time.Time) error {
	hint := fmt.Sprintf("create it with: kubectl create secret tls %s -n %s --cert CERT.pem --key KEY.pem (or leave out --gateway-cert-secret for a certificate made by meshctl)", name, namespace)
	s, err := get[corev1.Secret](ctx, c, kSecret, namespace, name)
	if kube.IsNotFound(err) {
		return failure.WithHint(fmt.Errorf("--gateway-cert-secret: Secret %s/%s not found", namespace, name), hint)
	}
	if err != nil {
		return fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	if len(s.Data[corev1.TLSCertKey]) == 0 || len(s.Data[corev1.TLSPrivateKeyKey]) == 0 {
		return failure.WithHint(fmt.Errorf("--gateway-cert-secret: Secret %s/%s holds no %s and %s", namespace, name, corev1.TLSCertKey, corev1.TLSPrivateKeyKey), hint)
	}
	exp, err := certExpiry(s.Data[corev1.TLSCertKey])
	if err != nil {
		return failure.WithHint(fmt.Errorf("--gateway-cert-secret: the certificate in Secret %s/%s does not parse: %w", namespace, name, err), hint)
	}
	if !now.Before(exp) {
		return failure.WithHint(fmt.Errorf("--gateway-cert-secret: the certificate in Secret %s/%s expired %s; Istio would not serve it", namespace, name, exp.Format(time.DateOnly)), hint)
	}
	return nil
}

// ownCert keeps meshctl's certificate while it is good for the hosts and
// not near expiry, and makes a new one otherwise; reason says why.
func ownCert(ctx context.Context, c kube.Objects, s Spec, now time.Time) (*Cert, string, error) {
	existing, err := get[corev1.Secret](ctx, c, kSecret, s.GatewayNamespace, s.Names.CertSecret)
	switch {
	case kube.IsNotFound(err):
		cert, err := newCert(s.Hosts, now)
		return cert, "new self-signed certificate", err
	case err != nil:
		return nil, "", fmt.Errorf("read Secret %s/%s: %w", s.GatewayNamespace, s.Names.CertSecret, err)
	case !mesh.OwnedBy(existing.Labels, s.Namespace, s.Service):
		// plan reports the conflict; nothing to reuse.
		cert, err := newCert(s.Hosts, now)
		return cert, "new self-signed certificate", err
	}
	cert, why := reuseCert(existing, s.Hosts, now)
	if why == nil {
		return cert, "", nil
	}
	cert, err = newCert(s.Hosts, now)
	return cert, "certificate renewed: " + why.Error(), err
}

// listNames joins names for a message, at most 15 of them.
func listNames(names []string) string {
	slices.Sort(names)
	if len(names) > 15 {
		return strings.Join(names[:15], ", ") + fmt.Sprintf(" and %d more", len(names)-15)
	}
	return strings.Join(names, ", ")
}
