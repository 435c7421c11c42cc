package multicluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// annotationAliases, on a mesh ConfigMap, lists the trust domain aliases
// meshctl added: disconnect removes exactly those.
const annotationAliases = "meshctl.io/trust-domain-aliases"

// aliasChange is the plan's entry for a revision's mesh config when it
// lacks the other clusters' trust domains (asmcli create-mesh adds the
// fleet's workload pool the same way).
func aliasChange(m *member, p plane, ms []*member) (plan.Change, []string) {
	add := missingAliases(p, ms)
	c := m.in(plan.Change{Kind: "ConfigMap", Namespace: mesh.IstioSystem, Name: p.MeshConfig, Action: plan.Keep}, resConfigMaps)
	if len(add) > 0 {
		c.Action, c.Fields, c.Note = plan.Update, []string{"data.mesh.trustDomainAliases"}, "in "+m.Name+": accept "+strings.Join(add, ", ")
	}
	return c, add
}

// setAliases edits the trustDomainAliases of a revision's mesh config:
// adds add, removes remove (only those meshctl added), and records what
// meshctl added. istiod reloads its mesh config when the ConfigMap changes.
func setAliases(ctx context.Context, m *member, configMap string, add, remove []string) error {
	cms := m.kube.CoreV1().ConfigMaps(mesh.IstioSystem)
	cm, err := cms.Get(ctx, configMap, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("cluster %s: read ConfigMap %s/%s: %w", m.Name, mesh.IstioSystem, configMap, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["mesh"]), &doc); err != nil {
		return fmt.Errorf("cluster %s: ConfigMap %s/%s: mesh config: %w", m.Name, mesh.IstioSystem, configMap, err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	var aliases []string
	if list, ok := doc["trustDomainAliases"].([]any); ok {
		for _, a := range list {
			if s, ok := a.(string); ok {
				aliases = append(aliases, s)
			}
		}
	}
	ours := splitList(cm.Annotations[annotationAliases])
	for _, r := range remove {
		if slices.Contains(ours, r) {
			aliases = slices.DeleteFunc(aliases, func(a string) bool { return a == r })
			ours = slices.DeleteFunc(ours, func(a string) bool { return a == r })
		}
	}
	for _, a := range add {
		if !slices.Contains(aliases, a) {
			aliases, ours = append(aliases, a), append(ours, a)
		}
	}
	if len(aliases) == 0 {
		delete(doc, "trustDomainAliases")
	} else {
		doc["trustDomainAliases"] = aliases
	}
	text, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	cm.Data["mesh"] = string(text)
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	if len(ours) == 0 {
		delete(cm.Annotations, annotationAliases)
	} else {
		cm.Annotations[annotationAliases] = strings.Join(ours, ",")
	}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: kube.FieldManager}); err != nil {
		return fmt.Errorf("cluster %s: update ConfigMap %s/%s: %w", m.Name, mesh.IstioSystem, configMap, err)
	}
	return nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
