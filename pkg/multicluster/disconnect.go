package multicluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/meshca"
	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// DisconnectOptions name the clusters to part: every link among them that
// connect made goes.
type DisconnectOptions struct {
	Clusters []Ref
	DryRun   bool
	// Preflight checks the plan's permissions before the first removal:
	// the Google ones in each project, the Kubernetes ones in each cluster.
	Preflight *preflight.Checker
}

// DisconnectResult is what disconnect removed, and what it left on purpose.
type DisconnectResult struct {
	Clusters []ClusterInfo      `json:"clusters"`
	Findings []findings.Finding `json:"findings"`
	Plan     []plan.Change      `json:"plan"`
	// Left are meshctl's changes disconnect keeps, and why.
	Left    []string `json:"left,omitempty"`
	DryRun  bool     `json:"dryRun,omitempty"`
	Applied bool     `json:"applied"`
	// Permissions are what the plan needs and what the check found.
	Permissions *preflight.Report `json:"permissions,omitempty"`
}

// HasProblems reports whether a cluster could not be read.
func (r *DisconnectResult) HasProblems() bool { return findings.Fails(r.Findings, findings.Error) }

// Disconnect removes exactly what connect made among the clusters: the
// remote secrets, the readers' tokens no other cluster uses, the
// authorized-network blocks it added, its firewall rule (or the clusters'
// part of it), the trust domain aliases it added, a managed cluster's
// discovery switch, and any probe left behind. It keeps master global
// access and the shared CA: other callers and workloads' certificates may
// depend on them.
func Disconnect(ctx context.Context, c Clients, rep ui.Reporter, o DisconnectOptions) (*DisconnectResult, error) {
	if len(o.Clusters) < 2 {
		return nil, failure.Usagef("disconnect needs at least two clusters, got %d", len(o.Clusters))
	}
	step := rep.Step(fmt.Sprintf("reading %d clusters", len(o.Clusters)))
	ms := gather(ctx, c, o.Clusters)
	step.Done()
	res := &DisconnectResult{Clusters: infos(ms), DryRun: o.DryRun, Findings: []findings.Finding{}}
	for _, m := range ms {
		res.Findings = append(res.Findings, m.failures...)
	}
	if len(res.Findings) > 0 {
		return res, nil
	}
	d, err := planDisconnect(ctx, c, ms)
	if err != nil {
		return nil, err
	}
	res.Plan, res.Left = d.changes, d.left
	if plan.Pending(res.Plan) == 0 {
		return res, nil
	}
	res.Permissions = checkPermissions(ctx, o.Preflight, ms, res.Plan)
	if o.DryRun {
		return res, nil
	}
	if err := res.Permissions.Err(); err != nil {
		return res, err
	}
	step = rep.Step(fmt.Sprintf("removing %d of meshctl's objects", plan.Pending(res.Plan)))
	if err := runAll(d.tasks); err != nil {
		step.Fail(err)
		return res, err
	}
	step.Done()
	res.Applied = true
	return res, nil
}

// disconnectPlan is the changes and the tasks that make them.
type disconnectPlan struct {
	changes []plan.Change
	tasks   []func() error
	left    []string
}

func (d *disconnectPlan) add(ch plan.Change, task func() error) {
	d.changes = append(d.changes, ch)
	if ch.Action.Changes() && task != nil {
		d.tasks = append(d.tasks, task)
	}
}

func planDisconnect(ctx context.Context, c Clients, ms []*member) (*disconnectPlan, error) {
	d := &disconnectPlan{}
	if err := d.firewall(ctx, c, ms); err != nil {
		return nil, err
	}
	d.access(ctx, c, ms)
	rulesOf := map[string][]*computepb.Firewall{}
	for _, m := range ms {
		if m.managed() {
			if m.asmOptions != nil && hasKey(m.asmOptions.Annotations, annotationPreviousMode) {
				d.add(m.in(plan.Change{Kind: "ConfigMap", Namespace: mesh.IstioSystem, Name: asmOptions, Action: plan.Update, Note: "in " + m.Name + ": multicluster_mode back to what it was"}, resConfigMaps),
					func() error { return setDiscovery(ctx, m, false) })
			}
			continue
		}
		if err := d.gateway(ctx, c, m, rulesOf); err != nil {
			return nil, err
		}
		d.secrets(ctx, m, ms)
		if err := d.token(ctx, m, ms); err != nil {
			return nil, err
		}
		d.aliases(ctx, m, ms)
		d.probe(ctx, m)
	}
	for _, m := range ms {
		if gkecluster.GlobalAccess(m.gke) {
			d.left = append(d.left, "master global access of "+m.Name+" stays on: other clients may use it (gcloud container clusters update "+m.Name+" --no-enable-master-global-access turns it off)")
		}
		if s, err := m.kube.CoreV1().Secrets(mesh.IstioSystem).Get(ctx, meshca.SecretName, metav1.GetOptions{}); err == nil && mesh.MadeByMeshctl(s.Labels) {
			d.left = append(d.left, "istio-system/cacerts of "+m.Name+" stays: its workloads' certificates come from it")
		}
	}
	return d, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func isMember(ms []*member, id string) bool {
	return slices.ContainsFunc(ms, func(m *member) bool { return m.clusterID == id || m.ResourceName() == id })
}

// firewall deletes meshctl's rules that only these clusters use, and
// takes these clusters out of the others.
func (d *disconnectPlan) firewall(ctx context.Context, c Clients, ms []*member) error {
	project, network := gkecluster.Network(ms[0].gke, ms[0].Project)
	rules, err := c.Firewalls.ListFirewalls(ctx, project)
	if err != nil {
		return fmt.Errorf("list the firewall rules of project %s: %w", project, err)
	}
	var ranges, tags []string
	for _, m := range ms {
		if r, ok := m.podRange(); ok {
			ranges = append(ranges, r.String())
		}
		if t := nodeTag(m, rules); t != "" {
			tags = append(tags, t)
		}
	}
	for _, r := range rules {
		owner, ok := parseRuleOwner(r.GetDescription())
		if !ok || !gkecluster.SameNetwork(r.GetNetwork(), project, network) {
			continue
		}
		rest := slices.DeleteFunc(slices.Clone(owner.Clusters), func(id string) bool { return isMember(ms, id) })
		switch {
		case len(rest) == len(owner.Clusters):
		case len(rest) < 2:
			name := r.GetName()
			d.add(firewallChange(plan.Change{Kind: "firewalls", Name: name, Action: plan.Delete, Note: "project " + project}, project, nil),
				func() error { return c.Firewalls.DeleteFirewall(ctx, project, name) })
		default:
			next := proto.Clone(r).(*computepb.Firewall)
			next.SourceRanges = slices.DeleteFunc(next.SourceRanges, func(s string) bool { return slices.Contains(ranges, s) })
			next.TargetTags = slices.DeleteFunc(next.TargetTags, func(s string) bool { return slices.Contains(tags, s) })
			owner.Clusters = rest
			desc, _ := json.Marshal(owner)
			next.Description = proto.String(string(desc))
			d.add(firewallChange(plan.Change{Kind: "firewalls", Name: r.GetName(), Action: plan.Update, Fields: []string{"sourceRanges", "targetTags", "description"}, Note: "the other clusters keep their part"}, project, next),
				func() error { return c.Firewalls.UpdateFirewall(ctx, project, next) })
		}
	}
	return nil
}

// access removes the authorized-network blocks meshctl added for these
// clusters; a user's blocks, and meshctl's for other clusters, stay.
func (d *disconnectPlan) access(ctx context.Context, c Clients, ms []*member) {
	for _, t := range ms {
		var gone []string
		keep := func(b *containerpb.MasterAuthorizedNetworksConfig_CidrBlock) bool {
			id, ours := strings.CutPrefix(b.GetDisplayName(), blockPrefix)
			if ours && isMember(ms, id) && id != t.clusterID {
				gone = append(gone, b.GetCidrBlock())
				return false
			}
			return true
		}
		cfg := withBlocks(t, nil, keep)
		if len(gone) == 0 {
			continue
		}
		update := &containerpb.ClusterUpdate{
			DesiredControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{
				IpEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{AuthorizedNetworksConfig: cfg}},
			Etag: t.gke.GetEtag(),
		}
		d.add(clusterChange(plan.Change{Kind: "clusters", Name: t.String(), Action: plan.Update, Fields: []string{"controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig.cidrBlocks"},
			Note: "remove authorized networks " + strings.Join(gone, ", ") + " (meshctl's)"}, t.Ref),
			func() error { return c.GKE.UpdateCluster(ctx, t.ResourceName(), update) })
	}
}

// secrets deletes m's remote secrets of meshctl's for the other clusters.
func (d *disconnectPlan) secrets(ctx context.Context, m *member, ms []*member) {
	for _, s := range m.secrets {
		id := strings.TrimPrefix(s.Name, RemoteSecretPrefix)
		if !mesh.MadeByMeshctl(s.Labels) || id == m.clusterID || !isMember(ms, id) {
			continue
		}
		name := s.Name
		d.add(m.in(plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: name, Action: plan.Delete, Note: "in " + m.Name}, resSecrets),
			func() error {
				return deleteIgnoringAbsent(m.kube.CoreV1().Secrets(mesh.IstioSystem).Delete(ctx, name, metav1.DeleteOptions{}))
			})
	}
}

// token drops the other clusters from the users of m's token Secret of
// meshctl's, and deletes it (revoking the token) once none is left, with
// the reader account meshctl made.
func (d *disconnectPlan) token(ctx context.Context, m *member, ms []*member) error {
	cred, err := readCredentials(ctx, m.kube)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", m.Name, err)
	}
	s := cred.secret
	if s == nil || !mesh.MadeByMeshctl(s.Labels) {
		return nil
	}
	rest := slices.DeleteFunc(users(s), func(id string) bool { return isMember(ms, id) })
	if len(rest) == len(users(s)) {
		return nil
	}
	secrets := m.kube.CoreV1().Secrets(mesh.IstioSystem)
	if len(rest) > 0 {
		next := s.DeepCopy()
		next.Annotations[annotationUsers] = strings.Join(rest, ",")
		d.add(m.in(plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: s.Name, Action: plan.Update, Fields: []string{"metadata.annotations." + annotationUsers}, Note: "in " + m.Name}, resSecrets),
			func() error {
				_, err := secrets.Update(ctx, next, metav1.UpdateOptions{FieldManager: kube.FieldManager})
				return err
			})
		return nil
	}
	d.add(m.in(plan.Change{Kind: "Secret", Namespace: mesh.IstioSystem, Name: s.Name, Action: plan.Delete, Note: "in " + m.Name + ": revokes the reader's token"}, resSecrets),
		func() error { return deleteIgnoringAbsent(secrets.Delete(ctx, s.Name, metav1.DeleteOptions{})) })
	d.reader(ctx, m)
	return nil
}

// reader deletes the reader account and its access if meshctl made them.
func (d *disconnectPlan) reader(ctx context.Context, m *member) {
	core, rbac := m.kube.CoreV1(), m.kube.RbacV1()
	if sa, err := core.ServiceAccounts(mesh.IstioSystem).Get(ctx, ReaderServiceAccount, metav1.GetOptions{}); err == nil && mesh.MadeByMeshctl(sa.Labels) {
		d.add(m.in(plan.Change{Kind: "ServiceAccount", Namespace: mesh.IstioSystem, Name: ReaderServiceAccount, Action: plan.Delete, Note: "in " + m.Name}, resServiceAccounts),
			func() error {
				return deleteIgnoringAbsent(core.ServiceAccounts(mesh.IstioSystem).Delete(ctx, ReaderServiceAccount, metav1.DeleteOptions{}))
			})
	}
	if r, err := rbac.ClusterRoleBindings().Get(ctx, readerRole, metav1.GetOptions{}); err == nil && mesh.MadeByMeshctl(r.Labels) {
		d.add(m.in(plan.Change{Kind: "ClusterRoleBinding", Name: readerRole, Action: plan.Delete, Note: "in " + m.Name}, resClusterRoleBindings),
			func() error {
				return deleteIgnoringAbsent(rbac.ClusterRoleBindings().Delete(ctx, readerRole, metav1.DeleteOptions{}))
			})
	}
	if r, err := rbac.ClusterRoles().Get(ctx, readerRole, metav1.GetOptions{}); err == nil && mesh.MadeByMeshctl(r.Labels) {
		d.add(m.in(plan.Change{Kind: "ClusterRole", Name: readerRole, Action: plan.Delete, Note: "in " + m.Name}, resClusterRoles),
			func() error {
				return deleteIgnoringAbsent(rbac.ClusterRoles().Delete(ctx, readerRole, metav1.DeleteOptions{}))
			})
	}
}

// aliases removes the other clusters' trust domains meshctl added.
func (d *disconnectPlan) aliases(ctx context.Context, m *member, ms []*member) {
	for _, p := range m.planes {
		cm, err := m.kube.CoreV1().ConfigMaps(mesh.IstioSystem).Get(ctx, p.MeshConfig, metav1.GetOptions{})
		if err != nil {
			continue
		}
		var remove []string
		for _, a := range splitList(cm.Annotations[annotationAliases]) {
			for _, o := range ms {
				if o != m && o.trustDomain() == a && !slices.Contains(remove, a) {
					remove = append(remove, a)
				}
			}
		}
		if len(remove) == 0 {
			continue
		}
		config := p.MeshConfig
		d.add(m.in(plan.Change{Kind: "ConfigMap", Namespace: mesh.IstioSystem, Name: config, Action: plan.Update, Fields: []string{"data.mesh.trustDomainAliases"},
			Note: "in " + m.Name + ": no longer accept " + strings.Join(remove, ", ")}, resConfigMaps),
			func() error { return setAliases(ctx, m, config, nil, remove) })
	}
}

// probe removes a probe an interrupted connect left.
func (d *disconnectPlan) probe(ctx context.Context, m *member) {
	s, err := m.kube.CoreV1().Services(mesh.IstioSystem).Get(ctx, probeName, metav1.GetOptions{})
	if err != nil || !mesh.MadeByMeshctl(s.Labels) {
		return
	}
	// The probe's EndpointSlice goes with it (removeProbe).
	d.add(m.in(plan.Change{Kind: "Service", Namespace: mesh.IstioSystem, Name: probeName, Action: plan.Delete, Note: "in " + m.Name + ": a probe an interrupted connect left"}, resServices),
		func() error { return removeProbe(ctx, m) })
	d.add(m.in(plan.Change{Kind: "EndpointSlice", Namespace: mesh.IstioSystem, Name: probeName, Action: plan.Delete, Note: "in " + m.Name}, resEndpointSlices), nil)
}

func deleteIgnoringAbsent(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// RenderText shows the plan, what was removed and what stays.
func (r *DisconnectResult) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	writeClusters(&b, s, r.Clusters)
	writeFindings(&b, s, "Findings", r.Findings)
	if len(r.Plan) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.Heading("Plan"))
		if err := s.WriteTable(indent(&b), plan.Table(r.Plan, nil)); err != nil {
			return err
		}
	}
	if len(r.Left) > 0 {
		fmt.Fprintf(&b, "\n%s\n", s.Heading("Left in place"))
		for _, l := range r.Left {
			fmt.Fprintf(&b, "  %s %s\n", s.Faint(ui.MarkInfo), l)
		}
	}
	if err := writePermissions(&b, s, r.DryRun, r.Permissions); err != nil {
		return err
	}
	b.WriteString("\n")
	n := plan.Pending(r.Plan)
	switch {
	case r.HasProblems():
		fmt.Fprintf(&b, "%s not disconnected: a cluster could not be read\n", s.Error(ui.MarkErr))
	case r.DryRun:
		fmt.Fprintf(&b, "%s dry run: %d of meshctl's objects would be removed or changed\n", s.Faint(ui.MarkInfo), n)
	case n == 0:
		fmt.Fprintf(&b, "%s nothing of meshctl's links these clusters\n", s.OK(ui.MarkOK))
	default:
		fmt.Fprintf(&b, "%s %d clusters disconnected: %d of meshctl's objects removed or changed\n", s.OK(ui.MarkOK), len(r.Clusters), n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
