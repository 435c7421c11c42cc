package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// ResourceLister lists every namespaced kind the API server serves that
// can be listed: what "everything in a namespace" means. Dynamic has it;
// a client without it (a test fake) leaves callers to a list of their own.
type ResourceLister interface {
	NamespacedResources(ctx context.Context) ([]schema.GroupVersionResource, error)
}

var _ ResourceLister = (*Dynamic)(nil)

// NamespacedResources implements ResourceLister through discovery, each
// resource at its group's preferred version. A group whose discovery fails
// (an aggregated API that is down) is left out, as kubectl does.
func (d *Dynamic) NamespacedResources(context.Context) ([]schema.GroupVersionResource, error) {
	if d.Discovery == nil {
		return nil, errors.New("no discovery client")
	}
	lists, err := d.Discovery.ServerPreferredNamespacedResources()
	var partial *discovery.ErrGroupDiscoveryFailed
	if err != nil && !errors.As(err, &partial) {
		return nil, fmt.Errorf("discover the API server's resources: %w", err)
	}
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if slices.Contains(r.Verbs, "list") {
				out = append(out, gv.WithResource(r.Name))
			}
		}
	}
	return out, nil
}
