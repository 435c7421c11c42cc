package vm

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// Group is a WorkloadGroup and its WorkloadEntries.
type Group struct {
	Name           string     `json:"name"`
	Namespace      string     `json:"namespace"`
	ServiceAccount string     `json:"serviceAccount"`
	Network        string     `json:"network,omitempty"`
	MadeByMeshctl  bool       `json:"madeByMeshctl"`
	TokenExpires   *time.Time `json:"tokenExpires,omitempty"`
	tokenLifetime  time.Duration
	Entries        []Entry `json:"entries"`
}

// Entry is a WorkloadEntry of a group.
type Entry struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Network string `json:"network,omitempty"`
	// AutoRegistered is true for an entry istiod made for a connected VM.
	AutoRegistered bool `json:"autoRegistered"`
	// Health is the entry's Healthy condition as the VM's proxy reported
	// it through istiod: "healthy", "unhealthy", or "unknown" before any
	// report.
	Health      string `json:"health"`
	ConnectedAt string `json:"connectedAt,omitempty"`
}

// Groups is list's result.
type Groups struct {
	Groups []Group `json:"groups"`
}

// List reads the groups of namespace ("" for all) and their entries.
func List(ctx context.Context, c kube.Objects, namespace string) (*Groups, error) {
	wgs, err := c.List(ctx, GVRWorkloadGroup, namespace, "")
	if err != nil {
		return nil, fmt.Errorf("list WorkloadGroups: %w", err)
	}
	wes, err := c.List(ctx, GVRWorkloadEntry, namespace, "")
	if err != nil {
		return nil, fmt.Errorf("list WorkloadEntries: %w", err)
	}
	out := &Groups{Groups: []Group{}}
	for _, wg := range wgs {
		g := Group{Name: wg.GetName(), Namespace: wg.GetNamespace(), MadeByMeshctl: mesh.MadeByMeshctl(wg.GetLabels()), Entries: []Entry{}}
		g.ServiceAccount, _, _ = unstructured.NestedString(wg.Object, "spec", "template", "serviceAccount")
		g.Network, _, _ = unstructured.NestedString(wg.Object, "spec", "template", "network")
		if t, err := time.Parse(time.RFC3339, wg.GetAnnotations()[AnnotationTokenExpires]); err == nil {
			g.TokenExpires = &t
			secs, _ := strconv.Atoi(wg.GetAnnotations()[AnnotationTokenLifetime])
			g.tokenLifetime = time.Duration(secs) * time.Second
		}
		for _, we := range wes {
			if we.GetNamespace() != g.Namespace || we.GetAnnotations()[AnnotationAutoRegistrationGroup] != g.Name {
				continue
			}
			e := Entry{Name: we.GetName(), AutoRegistered: true, Health: "unknown", ConnectedAt: we.GetAnnotations()[AnnotationConnectedAt]}
			e.Address, _, _ = unstructured.NestedString(we.Object, "spec", "address")
			e.Network, _, _ = unstructured.NestedString(we.Object, "spec", "network")
			conds, _, _ := unstructured.NestedSlice(we.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Healthy" {
					switch m["status"] {
					case "True":
						e.Health = "healthy"
					case "False":
						e.Health = "unhealthy"
					}
				}
			}
			g.Entries = append(g.Entries, e)
		}
		out.Groups = append(out.Groups, g)
	}
	slices.SortFunc(out.Groups, func(a, b Group) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out, nil
}

// RenderText prints one line per entry under its group.
func (g *Groups) RenderText(w io.Writer, s ui.Styles) error {
	if len(g.Groups) == 0 {
		_, err := fmt.Fprintln(w, "No WorkloadGroups.")
		return err
	}
	t := ui.Table{Headers: []string{"NAMESPACE", "GROUP", "ENTRY", "ADDRESS", "NETWORK", "HEALTH", "CONNECTED"}}
	for _, gr := range g.Groups {
		if len(gr.Entries) == 0 {
			t.Rows = append(t.Rows, []string{gr.Namespace, gr.Name, "(none: no VM connected)", "", "", "", ""})
		}
		for _, e := range gr.Entries {
			t.Rows = append(t.Rows, []string{gr.Namespace, gr.Name, e.Name, e.Address, e.Network, e.Health, e.ConnectedAt})
		}
	}
	return s.WriteTable(w, t)
}

// RemoveOptions are what `meshctl vm remove` runs with.
type RemoveOptions struct {
	Name, Namespace string
	DryRun          bool
	Wait            time.Duration
}

// RemoveResult is what remove deleted, or would.
type RemoveResult struct {
	Changes     []plan.Change     `json:"changes"`
	Permissions *preflight.Report `json:"permissions,omitempty"`
	DryRun      bool              `json:"dryRun"`
}

// Remove deletes what add made for the group: its firewall rules (in the
// project the group records, those whose owner marker names this cluster
// and group), the WorkloadGroup (istiod's entries for it go with it: they
// are its dependents) and the service account when add made it, which
// also revokes the bundle's token. It leaves what it did not make. The
// rules go first: the group records where they are until they are gone.
func Remove(ctx context.Context, c Clients, rep ui.Reporter, check *preflight.Checker, o RemoveOptions) (*RemoveResult, error) {
	if o.Wait == 0 {
		o.Wait = DefaultWait
	}
	res := &RemoveResult{Changes: []plan.Change{}, DryRun: o.DryRun}
	wg, err := c.Objects.Get(ctx, GVRWorkloadGroup, o.Namespace, o.Name)
	if kube.IsNotFound(err) {
		wg = nil
	} else if err != nil {
		return nil, fmt.Errorf("read WorkloadGroup %s/%s: %w", o.Namespace, o.Name, err)
	}
	if wg != nil && !mesh.MadeByMeshctl(wg.GetLabels()) {
		return nil, failure.WithHint(fmt.Errorf("WorkloadGroup %s/%s was not made by meshctl vm add: remove leaves it", o.Namespace, o.Name),
			"delete it yourself if it should go: kubectl delete workloadgroup -n "+o.Namespace+" "+o.Name)
	}
	sas, err := c.Kube.CoreV1().ServiceAccounts(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelVM + "=" + o.Name + "," + mesh.LabelManagedBy + "=" + mesh.ManagedBy})
	if err != nil {
		return nil, fmt.Errorf("list ServiceAccounts of %s in %s: %w", o.Name, o.Namespace, err)
	}
	// The group records the projects of its rules: the cluster's network's
	// and, for a VM on another VPC network, that network's.
	type projectRule struct {
		project string
		rule    *computepb.Firewall
	}
	var rules []projectRule
	var cloud Cloud
	var projects []string
	if wg != nil && wg.GetAnnotations()[AnnotationFirewallProject] != "" {
		projects = strings.Split(wg.GetAnnotations()[AnnotationFirewallProject], ",")
	}
	if len(projects) > 0 {
		if cloud, err = c.cloud(ctx); err != nil {
			return nil, err
		}
	}
	for _, project := range projects {
		rs, err := groupRules(ctx, cloud.Firewalls, project, cloud.ClusterName(), o.Namespace, o.Name)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			rules = append(rules, projectRule{project, r})
			res.Changes = append(res.Changes, plan.Change{Kind: "firewalls", Name: r.GetName(), Action: plan.Delete, Note: "project " + project,
				Resource: preflight.ComputeName(project, "global", "firewalls", r.GetName())})
		}
	}
	if wg != nil {
		res.Changes = append(res.Changes, plan.Change{Kind: "WorkloadGroup", Namespace: o.Namespace, Name: o.Name, Action: plan.Delete,
			Resource: "networking.istio.io/workloadgroups", Note: "istiod's WorkloadEntries for it go with it"})
	}
	for _, sa := range sas.Items {
		res.Changes = append(res.Changes, plan.Change{Kind: "ServiceAccount", Namespace: o.Namespace, Name: sa.Name, Action: plan.Delete,
			Resource: "serviceaccounts", Note: "revokes the bundle's token"})
	}
	res.Permissions = check.Check(ctx, res.Changes)
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	if o.DryRun || len(res.Changes) == 0 {
		return res, nil
	}
	for _, pr := range rules {
		r, project := pr.rule, pr.project
		step := rep.Step(fmt.Sprintf("delete firewall rule %s (project %s)", r.GetName(), project))
		if err := cloud.Firewalls.DeleteFirewall(ctx, project, r.GetName()); err != nil && !isNotFound(err) {
			err = fmt.Errorf("delete firewall rule %s in project %s: %w", r.GetName(), project, err)
			step.Fail(err)
			return res, err
		}
		step.Done()
	}
	if wg != nil {
		step := rep.Step(fmt.Sprintf("delete WorkloadGroup %s/%s and wait up to %s for its WorkloadEntries to go", o.Namespace, o.Name, o.Wait))
		if err := c.Objects.Delete(ctx, GVRWorkloadGroup, o.Namespace, o.Name, wg.GetUID(), true); err != nil && !kube.IsNotFound(err) {
			step.Fail(err)
			return res, fmt.Errorf("delete WorkloadGroup %s/%s: %w", o.Namespace, o.Name, err)
		}
		err := wait.PollUntilContextTimeout(ctx, time.Second, o.Wait, true, func(ctx context.Context) (bool, error) {
			wes, err := c.Objects.List(ctx, GVRWorkloadEntry, o.Namespace, "")
			if err != nil {
				return false, err
			}
			for _, we := range wes {
				if we.GetAnnotations()[AnnotationAutoRegistrationGroup] == o.Name {
					return false, nil
				}
			}
			_, err = c.Objects.Get(ctx, GVRWorkloadGroup, o.Namespace, o.Name)
			return kube.IsNotFound(err), nil
		})
		if err != nil {
			err = fmt.Errorf("WorkloadGroup %s/%s or its WorkloadEntries still there after %s: %w", o.Namespace, o.Name, o.Wait, err)
			step.Fail(err)
			return res, err
		}
		step.Done()
	}
	for _, sa := range sas.Items {
		step := rep.Step("delete ServiceAccount " + o.Namespace + "/" + sa.Name)
		uid := sa.UID
		if err := c.Kube.CoreV1().ServiceAccounts(o.Namespace).Delete(ctx, sa.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !kube.IsNotFound(err) {
			step.Fail(err)
			return res, fmt.Errorf("delete ServiceAccount %s/%s: %w", o.Namespace, sa.Name, err)
		}
		step.Done()
	}
	return res, nil
}

// RefreshOptions are what `meshctl vm token-refresh` runs with.
type RefreshOptions struct {
	Name, Namespace, Bundle string
	TokenDuration           time.Duration
}

// RefreshResult is the renewed token.
type RefreshResult struct {
	Token        string    `json:"token"`
	TokenExpires time.Time `json:"tokenExpires"`
	// Permissions is the check of both writes, made before the first.
	Permissions *preflight.Report `json:"permissions,omitempty"`
}

// TokenRefresh writes a new token into the bundle (0600) and records its
// expiry on the group. Copy it to the VM's /var/run/secrets/tokens/.
//
// Both writes, the token request and the group's expiry annotations, are
// checked before the first (check): a new token in the bundle whose expiry
// the group cannot record would leave validate warning about the old one.
func TokenRefresh(ctx context.Context, c Clients, rep ui.Reporter, check *preflight.Checker, o RefreshOptions) (*RefreshResult, error) {
	if o.TokenDuration == 0 {
		o.TokenDuration = DefaultTokenDuration
	}
	if o.TokenDuration < 10*time.Minute || o.TokenDuration > MaxTokenDuration {
		return nil, failure.Usagef("--token-duration %s: between 10m and %s", o.TokenDuration, MaxTokenDuration)
	}
	if o.Bundle == "" {
		o.Bundle = "./" + o.Name + "-bundle"
	}
	if _, err := os.Stat(filepath.Join(o.Bundle, FileToken)); err != nil {
		return nil, failure.WithHint(fmt.Errorf("no bundle at %s: %w", o.Bundle, err), "pass --bundle DIR, the directory meshctl vm add wrote")
	}
	wg, err := c.Objects.Get(ctx, GVRWorkloadGroup, o.Namespace, o.Name)
	if err != nil {
		return nil, fmt.Errorf("read WorkloadGroup %s/%s: %w", o.Namespace, o.Name, err)
	}
	if !mesh.MadeByMeshctl(wg.GetLabels()) {
		return nil, fmt.Errorf("WorkloadGroup %s/%s was not made by meshctl vm add", o.Namespace, o.Name)
	}
	sa, _, _ := unstructured.NestedString(wg.Object, "spec", "template", "serviceAccount")
	res := &RefreshResult{Permissions: check.Check(ctx, []plan.Change{
		{Kind: "TokenRequest", Namespace: o.Namespace, Name: sa, Action: plan.Create, Replace: true, Resource: preflight.KubeSubresource(gvrServiceAccounts, "token")},
		{Kind: "WorkloadGroup", Namespace: o.Namespace, Name: o.Name, Action: plan.Update, Resource: preflight.KubeResource(GVRWorkloadGroup)},
	})}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	step := rep.Step(fmt.Sprintf("request a token for ServiceAccount %s/%s (audience istio-ca, %s)", o.Namespace, sa, o.TokenDuration))
	token, expires, err := requestToken(ctx, c, o.Namespace, sa, o.TokenDuration)
	if err != nil {
		step.Fail(err)
		return nil, err
	}
	step.Done()
	if err := writeFile(o.Bundle, FileToken, []byte(token), 0o600); err != nil {
		return nil, err
	}
	// A separate apply of the annotations alone would take them from
	// add's field manager: apply the whole group as add left it.
	want := wg.DeepCopy()
	unstructured.RemoveNestedField(want.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(want.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(want.Object, "metadata", "uid")
	unstructured.RemoveNestedField(want.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(want.Object, "metadata", "generation")
	unstructured.RemoveNestedField(want.Object, "status")
	setTokenAnnotations(want, expires, o.TokenDuration)
	if _, err := c.Objects.Apply(ctx, GVRWorkloadGroup, want, false); err != nil {
		return nil, fmt.Errorf("record the token's expiry on WorkloadGroup %s/%s: %w", o.Namespace, o.Name, err)
	}
	res.Token, res.TokenExpires = filepath.Join(o.Bundle, FileToken), expires
	return res, nil
}

// RenderText says where the token is and what to do with it.
func (r *RefreshResult) RenderText(w io.Writer, s ui.Styles) error {
	_, err := fmt.Fprintf(w, "%s new token in %s, valid until %s\nCopy it to the VM: /var/run/secrets/tokens/istio-token (owner istio-proxy, mode 0600)\n",
		s.OK("✓"), r.Token, r.TokenExpires.UTC().Format(time.RFC3339))
	return err
}

// Check gives validate its findings on the groups: one without entries
// (no VM connected), an entry its proxy reports unhealthy, and a bundle
// token meshctl issued that expires within a quarter of its lifetime.
func Check(gs *Groups, now time.Time) map[string][]findings.Finding {
	out := map[string][]findings.Finding{}
	for _, g := range gs.Groups {
		obj := "WorkloadGroup " + g.Namespace + "/" + g.Name
		var fs []findings.Finding
		if len(g.Entries) == 0 {
			fs = append(fs, findings.VMGroupWithoutEntries.New(obj, "no WorkloadEntry: no VM of the group is connected to istiod, so its Services have no VM endpoint",
				"start the VM's proxy (systemctl start istio) and check it reaches istiod through the east-west gateway; meshctl vm list --namespace "+g.Namespace))
		}
		for _, e := range g.Entries {
			if e.Health == "unhealthy" {
				fs = append(fs, findings.VMEntryUnhealthy.New("WorkloadEntry "+g.Namespace+"/"+e.Name,
					fmt.Sprintf("the VM %s reports its readiness probe failing: istiod sends it no traffic", e.Address), "check the service on the VM listens on its probed port"))
			}
		}
		if g.TokenExpires != nil {
			left := g.TokenExpires.Sub(now)
			if left < g.tokenLifetime/4 || left <= 0 {
				msg := fmt.Sprintf("the bundle's token expires %s (in %s)", g.TokenExpires.UTC().Format(time.RFC3339), left.Round(time.Minute))
				if left <= 0 {
					msg = fmt.Sprintf("the bundle's token expired %s", g.TokenExpires.UTC().Format(time.RFC3339))
				}
				fs = append(fs, findings.VMTokenExpiry.New(obj, msg+": a VM that has not bootstrapped by then cannot",
					fmt.Sprintf("meshctl vm token-refresh %s --namespace %s --bundle DIR, then copy istio-token to the VM", g.Name, g.Namespace)))
			}
		}
		out[obj] = fs
	}
	return out
}

// RenderText lists what was deleted, or would be.
func (r *RemoveResult) RenderText(w io.Writer, s ui.Styles) error {
	if len(r.Changes) == 0 {
		_, err := fmt.Fprintln(w, "Nothing to remove: meshctl made no WorkloadGroup, ServiceAccount or firewall rule for this VM group here.")
		return err
	}
	if err := s.WriteTable(w, plan.Table(r.Changes, nil)); err != nil {
		return err
	}
	if r.DryRun {
		_, err := fmt.Fprintln(w, "\nDry run: nothing deleted.")
		return err
	}
	return nil
}
