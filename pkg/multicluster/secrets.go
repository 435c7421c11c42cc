package multicluster

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// What `istioctl create-remote-secret` makes, meshctl makes the same way:
// a token of the cluster's istio-reader-service-account (a
// kubernetes.io/service-account-token Secret the controller manager fills
// in), in a kubeconfig whose server is the cluster's private endpoint,
// stored in every other cluster's istio-system as Secret
// istio-remote-secret-NAME, labelled istio/multiCluster=true, with NAME the
// installed cluster name (cn-PROJECT-LOCATION-CLUSTER).

// tokenSecretName is istioctl's name for the reader's token Secret: a
// token Secret meshctl makes, istioctl finds and reuses, and the other way
// round.
const tokenSecretName = ReaderServiceAccount + "-istio-remote-secret-token"

// annotationUsers, on a token Secret meshctl made, lists the clusters whose
// remote secrets carry its token: disconnect deletes it (revoking the
// token) once none does.
const annotationUsers = "meshctl.io/remote-secret-users"

// readerRole is what remote istiods need of a cluster, as Istio's chart
// grants istio-reader-service-account; meshctl creates it only where no
// install did.
const readerRole = "meshctl-istio-reader"

// credentials are a cluster's reader token, as its remote secrets carry it.
type credentials struct {
	ca, token []byte
	// secret is the token Secret; nil when there is none yet.
	secret *corev1.Secret
	// account is false when the reader service account is missing.
	account bool
}

func (c credentials) known() bool { return len(c.ca) > 0 && len(c.token) > 0 }

// readCredentials finds the reader's token as istioctl does: the first
// service-account-token Secret of istio-system for the account.
func readCredentials(ctx context.Context, kc kubernetes.Interface) (credentials, error) {
	var cred credentials
	if _, err := kc.CoreV1().ServiceAccounts(mesh.IstioSystem).Get(ctx, ReaderServiceAccount, metav1.GetOptions{}); err == nil {
		cred.account = true
	} else if !apierrors.IsNotFound(err) {
		return cred, fmt.Errorf("read service account %s: %w", ReaderServiceAccount, err)
	}
	list, err := kc.CoreV1().Secrets(mesh.IstioSystem).List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(corev1.SecretTypeServiceAccountToken)})
	if err != nil {
		return cred, fmt.Errorf("list token Secrets in %s: %w", mesh.IstioSystem, err)
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for i := range items {
		s := &items[i]
		if s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountNameKey] == ReaderServiceAccount {
			cred.secret, cred.ca, cred.token = s, s.Data[corev1.ServiceAccountRootCAKey], s.Data[corev1.ServiceAccountTokenKey]
			break
		}
	}
	return cred, nil
}

// users lists the clusters a token Secret of meshctl's serves.
func users(s *corev1.Secret) []string {
	if s == nil || s.Annotations[annotationUsers] == "" {
		return nil
	}
	return strings.Split(s.Annotations[annotationUsers], ",")
}

// credentialChanges are the plan's entries for a cluster's reader.
func credentialChanges(t *member, cred credentials, callers []string) []plan.Change {
	var out []plan.Change
	if !cred.account {
		out = append(out,
			t.in(plan.Change{Kind: "ServiceAccount", Namespace: mesh.IstioSystem, Name: ReaderServiceAccount, Action: plan.Create, Note: "in " + t.Name + ", no install made it"}, resServiceAccounts),
			t.in(plan.Change{Kind: "ClusterRole", Name: readerRole, Action: plan.Create, Note: "in " + t.Name + ", read access for remote istiods"}, resClusterRoles),
			t.in(plan.Change{Kind: "ClusterRoleBinding", Name: readerRole, Action: plan.Create, Note: "in " + t.Name}, resClusterRoleBindings))
	}
	c := plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: tokenSecretName, Action: plan.Create, Note: "in " + t.Name + ", the reader's token"}
	switch {
	case cred.secret == nil:
	case !mesh.MadeByMeshctl(cred.secret.Labels):
		c.Name, c.Action, c.Note = cred.secret.Name, plan.Keep, "in "+t.Name+", the reader's token (made by another tool)"
	case len(missing(users(cred.secret), callers)) > 0:
		c.Action, c.Fields = plan.Update, []string{"metadata.annotations." + annotationUsers}
	default:
		c.Action = plan.Keep
	}
	return append(out, t.in(c, resSecrets))
}

func missing(have, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// ensureCredentials makes what the plan asks for the reader of t, then
// waits until the controller manager has filled the token in.
func ensureCredentials(ctx context.Context, t *member, cred credentials, callers []string) (credentials, error) {
	kc := t.kube
	if !cred.account {
		if err := createReader(ctx, kc); err != nil {
			return cred, fmt.Errorf("cluster %s: %w", t.Name, err)
		}
		cred.account = true
	}
	if cred.secret == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: tokenSecretName, Namespace: mesh.IstioSystem,
				Labels:      map[string]string{mesh.LabelManagedBy: mesh.ManagedBy},
				Annotations: map[string]string{corev1.ServiceAccountNameKey: ReaderServiceAccount, annotationUsers: strings.Join(callers, ",")}},
			Type: corev1.SecretTypeServiceAccountToken,
		}
		created, err := kc.CoreV1().Secrets(mesh.IstioSystem).Create(ctx, s, metav1.CreateOptions{FieldManager: kube.FieldManager})
		if err != nil {
			return cred, fmt.Errorf("cluster %s: create Secret %s/%s: %w", t.Name, mesh.IstioSystem, tokenSecretName, err)
		}
		cred.secret = created
	} else if mesh.MadeByMeshctl(cred.secret.Labels) && len(missing(users(cred.secret), callers)) > 0 {
		s := cred.secret.DeepCopy()
		s.Annotations[annotationUsers] = strings.Join(append(users(s), missing(users(s), callers)...), ",")
		updated, err := kc.CoreV1().Secrets(mesh.IstioSystem).Update(ctx, s, metav1.UpdateOptions{FieldManager: kube.FieldManager})
		if err != nil {
			return cred, fmt.Errorf("cluster %s: update Secret %s/%s: %w", t.Name, mesh.IstioSystem, s.Name, err)
		}
		cred.secret = updated
	}
	return waitToken(ctx, kc, t.Name, cred)
}

// tokenWait bounds the wait for the controller manager (istioctl gives it
// five seconds; a loaded control plane can take longer).
const tokenWait = 30 * time.Second

func waitToken(ctx context.Context, kc kubernetes.Interface, cluster string, cred credentials) (credentials, error) {
	deadline := time.Now().Add(tokenWait)
	for !cred.known() {
		if time.Now().After(deadline) {
			return cred, fmt.Errorf("cluster %s: Secret %s/%s has no token after %s: is the controller manager's token controller running?", cluster, mesh.IstioSystem, cred.secret.Name, tokenWait)
		}
		select {
		case <-ctx.Done():
			return cred, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		s, err := kc.CoreV1().Secrets(mesh.IstioSystem).Get(ctx, cred.secret.Name, metav1.GetOptions{})
		if err != nil {
			return cred, fmt.Errorf("cluster %s: read Secret %s/%s: %w", cluster, mesh.IstioSystem, cred.secret.Name, err)
		}
		cred.secret, cred.ca, cred.token = s, s.Data[corev1.ServiceAccountRootCAKey], s.Data[corev1.ServiceAccountTokenKey]
	}
	return cred, nil
}

// createReader makes the reader account and its read access, labelled as
// meshctl's.
func createReader(ctx context.Context, kc kubernetes.Interface) error {
	labels := map[string]string{mesh.LabelManagedBy: mesh.ManagedBy}
	opts := metav1.CreateOptions{FieldManager: kube.FieldManager}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ReaderServiceAccount, Namespace: mesh.IstioSystem, Labels: labels}}
	if _, err := kc.CoreV1().ServiceAccounts(mesh.IstioSystem).Create(ctx, sa, opts); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account %s: %w", ReaderServiceAccount, err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: readerRole, Labels: labels}, Rules: readerRules}
	if _, err := kc.RbacV1().ClusterRoles().Create(ctx, role, opts); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRole %s: %w", readerRole, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: readerRole, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: readerRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ReaderServiceAccount, Namespace: mesh.IstioSystem}},
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, binding, opts); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ClusterRoleBinding %s: %w", readerRole, err)
	}
	return nil
}

// readerRules are Istio's istio-reader-clusterrole rules.
var readerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"config.istio.io", "security.istio.io", "networking.istio.io", "authentication.istio.io", "rbac.istio.io", "telemetry.istio.io", "extensions.istio.io"},
		Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"endpoints", "pods", "services", "nodes", "replicationcontrollers", "namespaces", "secrets", "configmaps"},
		Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.istio.io"}, Resources: []string{"workloadentries"}, Verbs: []string{"get", "watch", "list"}},
	{APIGroups: []string{"networking.x-k8s.io", "gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: []string{"get", "watch", "list"}},
	{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceexports"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
	{APIGroups: []string{"multicluster.x-k8s.io"}, Resources: []string{"serviceimports"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
}

// RemoteSecret is the Secret that lets istiods read cluster t: in
// istioctl's form, plus meshctl's owner label.
func RemoteSecret(clusterID, server string, ca, token []byte) (*corev1.Secret, error) {
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{clusterID: {CertificateAuthorityData: ca, Server: server}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{clusterID: {Token: string(token)}},
		Contexts:       map[string]*clientcmdapi.Context{clusterID: {Cluster: clusterID, AuthInfo: clusterID}},
		CurrentContext: clusterID,
	}
	data, err := clientcmd.Write(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode the kubeconfig of %s: %w", clusterID, err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: RemoteSecretPrefix + clusterID, Namespace: mesh.IstioSystem,
			Labels:      map[string]string{LabelMultiCluster: "true", mesh.LabelManagedBy: mesh.ManagedBy},
			Annotations: map[string]string{AnnotationCluster: clusterID},
		},
		Data: map[string][]byte{clusterID: data},
	}, nil
}

// secretChange compares a remote secret as wanted with the one there.
func secretChange(local *member, want *corev1.Secret, have *corev1.Secret) plan.Change {
	c := local.in(plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: want.Name, Action: plan.Create, Note: "in " + local.Name}, resSecrets)
	if have == nil {
		return c
	}
	c.Fields = secretDiff(have, want)
	switch {
	case len(c.Fields) == 0:
		c.Action = plan.Keep
	case !mesh.MadeByMeshctl(have.Labels):
		c.Action, c.Note = plan.Update, c.Note+"; made by another tool, rewritten as meshctl's"
	default:
		c.Action = plan.Update
	}
	return c
}

func secretDiff(have, want *corev1.Secret) []string {
	var fields []string
	for _, k := range slices.Sorted(maps.Keys(want.Labels)) {
		if have.Labels[k] != want.Labels[k] && k != mesh.LabelManagedBy {
			fields = append(fields, "metadata.labels."+k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.Annotations)) {
		if have.Annotations[k] != want.Annotations[k] {
			fields = append(fields, "metadata.annotations."+k)
		}
	}
	for k, v := range want.Data {
		if !bytes.Equal(have.Data[k], v) {
			fields = append(fields, "data."+k)
		}
	}
	if len(have.Data) != len(want.Data) && !slices.Contains(fields, "data") {
		fields = append(fields, "data")
	}
	return fields
}

// writeSecret creates or replaces a remote secret.
func writeSecret(ctx context.Context, kc kubernetes.Interface, want, have *corev1.Secret) error {
	opts := metav1.CreateOptions{FieldManager: kube.FieldManager}
	if have == nil {
		_, err := kc.CoreV1().Secrets(mesh.IstioSystem).Create(ctx, want, opts)
		return err
	}
	next := have.DeepCopy()
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	maps.Copy(next.Labels, want.Labels)
	maps.Copy(next.Annotations, want.Annotations)
	next.Data, next.StringData = want.Data, nil
	_, err := kc.CoreV1().Secrets(mesh.IstioSystem).Update(ctx, next, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return err
}
