package validate

import (
	"context"
	"errors"
	"sync"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/mesh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// state holds what several checks read, each list made once.
type state struct {
	c    Clients
	opts Options

	nsOnce sync.Once
	nss    []corev1.Namespace
	nsErr  error

	podOnce sync.Once
	pods    map[string][]corev1.Pod // by namespace
	podErr  error

	svcOnce sync.Once
	svcs    map[string][]corev1.Service // by namespace
	svcErr  error

	revOnce sync.Once
	revs    mesh.Revisions
	revErr  error

	lbLists computeLists
}

func newState(c Clients, opts Options) *state { return &state{c: c, opts: opts} }

func (s *state) namespaces(ctx context.Context) ([]corev1.Namespace, error) {
	s.nsOnce.Do(func() {
		s.nsErr = kube.Paginate(ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) {
			l, err := s.c.Kube.CoreV1().Namespaces().List(ctx, o)
			if err != nil {
				return "", err
			}
			s.nss = append(s.nss, l.Items...)
			return l.Continue, nil
		})
	})
	return s.nss, s.nsErr
}

// scopedList lists with list in every namespace of the scope: one
// cluster-wide paginated list, or one per --namespace.
func (s *state) scopedList(ctx context.Context, list func(ctx context.Context, ns string, o metav1.ListOptions) (string, error)) error {
	if len(s.opts.Namespaces) == 0 {
		return kube.Paginate(ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) { return list(ctx, "", o) })
	}
	for _, ns := range s.opts.Namespaces {
		err := kube.Paginate(ctx, func(ctx context.Context, o metav1.ListOptions) (string, error) { return list(ctx, ns, o) })
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *state) podsByNamespace(ctx context.Context) (map[string][]corev1.Pod, error) {
	s.podOnce.Do(func() {
		s.pods = map[string][]corev1.Pod{}
		s.podErr = s.scopedList(ctx, func(ctx context.Context, ns string, o metav1.ListOptions) (string, error) {
			l, err := s.c.Kube.CoreV1().Pods(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for _, p := range l.Items {
				s.pods[p.Namespace] = append(s.pods[p.Namespace], p)
			}
			return l.Continue, nil
		})
	})
	return s.pods, s.podErr
}

func (s *state) servicesByNamespace(ctx context.Context) (map[string][]corev1.Service, error) {
	s.svcOnce.Do(func() {
		s.svcs = map[string][]corev1.Service{}
		s.svcErr = s.scopedList(ctx, func(ctx context.Context, ns string, o metav1.ListOptions) (string, error) {
			l, err := s.c.Kube.CoreV1().Services(ns).List(ctx, o)
			if err != nil {
				return "", err
			}
			for _, x := range l.Items {
				s.svcs[x.Namespace] = append(s.svcs[x.Namespace], x)
			}
			return l.Continue, nil
		})
	})
	return s.svcs, s.svcErr
}

func (s *state) revisions(ctx context.Context) (mesh.Revisions, error) {
	s.revOnce.Do(func() { s.revs, s.revErr = mesh.ReadRevisions(ctx, s.c.Kube) })
	return s.revs, s.revErr
}

// apiHint says what to do about a failed call.
func apiHint(err error) string {
	var st apierrors.APIStatus
	switch {
	case apierrors.IsForbidden(err):
		return "grant the caller read access (e.g. the view ClusterRole), or narrow the scope with --namespace"
	case apierrors.IsUnauthorized(err):
		return "refresh your credentials: gcloud container clusters get-credentials CLUSTER"
	case errors.As(err, &st):
		return ""
	}
	return "check that the cluster is reachable: kubectl cluster-info"
}
