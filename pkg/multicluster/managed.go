package multicluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Google's managed control plane discovers the endpoints of the other
// clusters of its fleet itself, once a cluster opts in: ConfigMap
// istio-system/asm-options with multicluster_mode: connected (Cloud Service
// Mesh's declarative multi-cluster API; it replaces remote secrets, which
// the TRAFFIC_DIRECTOR control plane does not read). The clusters must be
// in one fleet (MC0301) and reach each other's Pods (the firewall rule).
const (
	multiclusterModeKey = "multicluster_mode"
	modeConnected       = "connected"
	// annotationPreviousMode keeps the value connect replaced ("" when the
	// key was absent), so disconnect restores it.
	annotationPreviousMode = "meshctl.io/previous-multicluster-mode"
)

func (m *member) discoveryOn() bool {
	return m.asmOptions != nil && m.asmOptions.Data[multiclusterModeKey] == modeConnected
}

func discoveryFinding(m *member) findings.Finding {
	mode := "absent"
	if m.asmOptions != nil && m.asmOptions.Data[multiclusterModeKey] != "" {
		mode = m.asmOptions.Data[multiclusterModeKey]
	}
	return findings.ManagedDiscoveryOff.New(object(m), "multicluster_mode is "+mode+" in ConfigMap istio-system/asm-options: the managed control plane does not discover the other clusters' endpoints",
		"meshctl mesh connect sets it to connected (kubectl patch configmap/asm-options -n istio-system --type merge -p '{\"data\":{\"multicluster_mode\":\"connected\"}}')")
}

func discoveryChange(m *member) plan.Change {
	c := m.in(plan.Change{Kind: "ConfigMap", Namespace: mesh.IstioSystem, Name: asmOptions, Action: plan.Keep, Note: "in " + m.Name}, resConfigMaps)
	switch {
	case m.asmOptions == nil:
		c.Action, c.Note = plan.Create, c.Note+": multicluster_mode connected"
	case !m.discoveryOn():
		c.Action, c.Fields = plan.Update, []string{"data." + multiclusterModeKey}
	}
	return c
}

// setDiscovery sets multicluster_mode to connected (on) or back to what it
// was before connect (off).
func setDiscovery(ctx context.Context, m *member, on bool) error {
	cms := m.kube.CoreV1().ConfigMaps(mesh.IstioSystem)
	cm, err := cms.Get(ctx, asmOptions, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if !on {
			return nil
		}
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: asmOptions, Namespace: mesh.IstioSystem,
			Labels: map[string]string{mesh.LabelManagedBy: mesh.ManagedBy}, Annotations: map[string]string{annotationPreviousMode: ""}},
			Data: map[string]string{multiclusterModeKey: modeConnected}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: kube.FieldManager})
		return wrapCM(m, err)
	}
	if err != nil {
		return wrapCM(m, err)
	}
	prev, ours := cm.Annotations[annotationPreviousMode]
	switch {
	case on && cm.Data[multiclusterModeKey] == modeConnected:
		return nil
	case on:
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Annotations[annotationPreviousMode] = cm.Data[multiclusterModeKey]
		cm.Data[multiclusterModeKey] = modeConnected
	case !ours:
		return nil // not connect's doing
	case mesh.MadeByMeshctl(cm.Labels):
		return wrapCM(m, cms.Delete(ctx, asmOptions, metav1.DeleteOptions{}))
	default:
		delete(cm.Annotations, annotationPreviousMode)
		if prev == "" {
			delete(cm.Data, multiclusterModeKey)
		} else {
			cm.Data[multiclusterModeKey] = prev
		}
	}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: kube.FieldManager})
	return wrapCM(m, err)
}

func wrapCM(m *member, err error) error {
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("cluster %s: ConfigMap %s/%s: %w", m.Name, mesh.IstioSystem, asmOptions, err)
}
