package kube

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PageSize bounds each list call: 2,000 pods come in four pages rather than
// one response the API server must hold in memory at once.
const PageSize = 500

// Paginate calls list with a continue token, PageSize objects at a time,
// until the last page; list returns the next page's token ("" at the end).
func Paginate(ctx context.Context, list func(ctx context.Context, o metav1.ListOptions) (string, error)) error {
	o := metav1.ListOptions{Limit: PageSize}
	for {
		next, err := list(ctx, o)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		o.Continue = next
	}
}
