package gkegateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The controller asks GKE's NEG controller for a backend's zonal NEGs by
// annotating the Service with cloud.google.com/neg:
// {"exposed_ports":{"<port>":{}}} (2021 evidence, medium), and reads their
// names back from cloud.google.com/neg-status.

// negExposure is the annotation's value; other keys ("ingress") are kept.
type negExposure map[string]json.RawMessage

func readNEGExposure(svc *corev1.Service) (negExposure, map[string]json.RawMessage, error) {
	all := map[string]json.RawMessage{}
	raw := svc.Annotations[negAnnotation]
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &all); err != nil {
			return nil, nil, fmt.Errorf("annotation %s is not valid JSON: %w", negAnnotation, err)
		}
	}
	ports := negExposure{}
	if r, ok := all["exposed_ports"]; ok {
		if err := json.Unmarshal(r, &ports); err != nil {
			return nil, nil, fmt.Errorf("annotation %s: exposed_ports: %w", negAnnotation, err)
		}
	}
	return ports, all, nil
}

// ensureNEGAnnotation adds a port to the Service's exposed NEG ports.
func (c *Controller) ensureNEGAnnotation(ctx context.Context, svc *corev1.Service, port int32) error {
	ports, all, err := readNEGExposure(svc)
	if err != nil {
		return err
	}
	key := fmt.Sprint(port)
	if _, ok := ports[key]; ok {
		return nil
	}
	ports[key] = json.RawMessage(`{}`)
	return c.writeNEGAnnotation(ctx, svc, ports, all)
}

func (c *Controller) writeNEGAnnotation(ctx context.Context, svc *corev1.Service, ports negExposure, all map[string]json.RawMessage) error {
	var value any
	if len(ports) > 0 {
		b, _ := json.Marshal(ports)
		all["exposed_ports"] = b
	} else {
		delete(all, "exposed_ports")
	}
	if len(all) > 0 {
		b, _ := json.Marshal(all)
		value = string(b)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{negAnnotation: value}}})
	_, err := c.cl.Kube.CoreV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

// ownsNEGAnnotation reports whether the controller last wrote the
// Service's cloud.google.com/neg annotation (its managedFields say so):
// only then does it take ports away, so a user's own annotation stays.
func ownsNEGAnnotation(svc *corev1.Service) bool {
	field := `"f:` + negAnnotation + `"`
	for _, mf := range svc.ManagedFields {
		if mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), field) {
			return mf.Manager == fieldManager
		}
	}
	return false
}

// releaseNEGs takes away the exposed ports no accepted Gateway uses any
// more (the NEG controller then deletes those NEGs once no backend
// service holds them).
func (p *pass) releaseNEGs(ctx context.Context) {
	used := map[types.NamespacedName]map[string]bool{}
	for _, run := range p.runs {
		for k := range run.t.backends {
			key := nn(k.Namespace, k.Service)
			if used[key] == nil {
				used[key] = map[string]bool{}
			}
			used[key][fmt.Sprint(k.Port)] = true
		}
	}
	keys := make([]types.NamespacedName, 0, len(p.w.services))
	for k := range p.w.services {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		svc := p.w.services[k]
		if svc.Annotations[negAnnotation] == "" || !ownsNEGAnnotation(svc) {
			continue
		}
		ports, all, err := readNEGExposure(svc)
		if err != nil {
			continue
		}
		removed := false
		for port := range ports {
			if !used[k][port] {
				delete(ports, port)
				removed = true
			}
		}
		if !removed {
			continue
		}
		if err := p.c.writeNEGAnnotation(ctx, svc, ports, all); err != nil {
			p.logf("release the NEGs of Service %s: %v", k, err)
			p.retry()
		}
	}
}
