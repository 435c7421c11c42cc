package inject

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/meshctl/meshctl/pkg/mesh"
	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Workload kinds meshctl restarts.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
)

type workloadKey struct{ kind, name string }

// workload is a Deployment, StatefulSet or DaemonSet with its live pods.
type workload struct {
	Kind string
	Name string
	// template is the pod template; desired how many pods the workload
	// wants.
	template *corev1.PodTemplateSpec
	desired  int32
	// paused (Deployments) and onDelete (StatefulSets, DaemonSets) make a
	// restart ineffective.
	paused   bool
	onDelete bool
	// pods are the workload's pods that are not terminating.
	pods []*corev1.Pod
}

// snapshot is one namespace's workloads and pods, read once.
type snapshot struct {
	workloads []*workload // sorted by kind, then name
	// newestRS is each Deployment's newest ReplicaSet (highest
	// deployment.kubernetes.io/revision): its events say why new pods
	// are missing.
	newestRS map[string]string
	// bare counts pods that no workload owns (they cannot be restarted).
	bare int
}

// readNamespace lists namespace's workloads, ReplicaSets and pods (five
// lists, run concurrently) and ties pods to their workloads through owner
// references.
func readNamespace(ctx context.Context, kc kubernetes.Interface, ns string) (*snapshot, error) {
	var (
		deps *appsv1.DeploymentList
		stss *appsv1.StatefulSetList
		dss  *appsv1.DaemonSetList
		rss  *appsv1.ReplicaSetList
		pods *corev1.PodList
	)
	g, gctx := errgroup.WithContext(ctx)
	list := listIn(g, ns)
	apps := kc.AppsV1()
	list("deployments", func() (err error) { deps, err = apps.Deployments(ns).List(gctx, metav1.ListOptions{}); return })
	list("statefulsets", func() (err error) { stss, err = apps.StatefulSets(ns).List(gctx, metav1.ListOptions{}); return })
	list("daemonsets", func() (err error) { dss, err = apps.DaemonSets(ns).List(gctx, metav1.ListOptions{}); return })
	list("replicasets", func() (err error) { rss, err = apps.ReplicaSets(ns).List(gctx, metav1.ListOptions{}); return })
	list("pods", func() (err error) { pods, err = kc.CoreV1().Pods(ns).List(gctx, metav1.ListOptions{}); return })
	if err := g.Wait(); err != nil {
		return nil, err
	}

	s := &snapshot{}
	for i := range deps.Items {
		d := &deps.Items[i]
		s.workloads = append(s.workloads, &workload{Kind: KindDeployment, Name: d.Name, template: &d.Spec.Template,
			desired: replicas(d.Spec.Replicas), paused: d.Spec.Paused})
	}
	for i := range stss.Items {
		st := &stss.Items[i]
		s.workloads = append(s.workloads, &workload{Kind: KindStatefulSet, Name: st.Name, template: &st.Spec.Template,
			desired: replicas(st.Spec.Replicas), onDelete: st.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType})
	}
	for i := range dss.Items {
		d := &dss.Items[i]
		s.workloads = append(s.workloads, &workload{Kind: KindDaemonSet, Name: d.Name, template: &d.Spec.Template,
			desired: d.Status.DesiredNumberScheduled, onDelete: d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType})
	}
	sort.Slice(s.workloads, func(i, j int) bool {
		a, b := s.workloads[i], s.workloads[j]
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		return a.Name < b.Name
	})
	s.attach(rss.Items, pods.Items)
	return s, nil
}

// rereadPods returns a copy of s with its workloads' pods read afresh (two
// lists instead of five): what verification after a rollout needs.
func rereadPods(ctx context.Context, kc kubernetes.Interface, ns string, s *snapshot) (*snapshot, error) {
	var (
		rss  *appsv1.ReplicaSetList
		pods *corev1.PodList
	)
	g, gctx := errgroup.WithContext(ctx)
	list := listIn(g, ns)
	list("replicasets", func() (err error) { rss, err = kc.AppsV1().ReplicaSets(ns).List(gctx, metav1.ListOptions{}); return })
	list("pods", func() (err error) { pods, err = kc.CoreV1().Pods(ns).List(gctx, metav1.ListOptions{}); return })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := &snapshot{}
	for _, w := range s.workloads {
		c := *w
		c.pods = nil
		out.workloads = append(out.workloads, &c)
	}
	out.attach(rss.Items, pods.Items)
	return out, nil
}

// listIn returns a function that runs one list in g, wrapping its error.
func listIn(g *errgroup.Group, ns string) func(what string, f func() error) {
	return func(what string, f func() error) {
		g.Go(func() error {
			if err := f(); err != nil {
				return fmt.Errorf("list %s in namespace %s: %w", what, ns, err)
			}
			return nil
		})
	}
}

// attach ties pods to s's workloads through owner references (pods of a
// Deployment through its ReplicaSets) and notes each Deployment's newest
// ReplicaSet.
func (s *snapshot) attach(rss []appsv1.ReplicaSet, pods []corev1.Pod) {
	s.newestRS = map[string]string{}
	byKey := map[workloadKey]*workload{}
	for _, w := range s.workloads {
		byKey[workloadKey{w.Kind, w.Name}] = w
	}
	rsOwner := map[string]string{}
	newest := map[string]int{}
	for i := range rss {
		rs := &rss[i]
		ref := metav1.GetControllerOf(rs)
		if ref == nil || ref.Kind != KindDeployment {
			continue
		}
		rsOwner[rs.Name] = ref.Name
		rev, _ := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
		if cur, ok := newest[ref.Name]; !ok || rev > cur {
			newest[ref.Name] = rev
			s.newestRS[ref.Name] = rs.Name
		}
	}
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		ref := metav1.GetControllerOf(p)
		var key workloadKey
		switch {
		case ref == nil:
		case ref.Kind == "ReplicaSet" && rsOwner[ref.Name] != "":
			key = workloadKey{KindDeployment, rsOwner[ref.Name]}
		case ref.Kind == KindStatefulSet || ref.Kind == KindDaemonSet:
			key = workloadKey{ref.Kind, ref.Name}
		}
		if w := byKey[key]; w != nil {
			w.pods = append(w.pods, p)
		} else if ref == nil {
			s.bare++
		}
	}
	for _, w := range s.workloads {
		sort.Slice(w.pods, func(i, j int) bool { return w.pods[i].Name < w.pods[j].Name })
	}
}

func kindOrder(k string) int {
	switch k {
	case KindDeployment:
		return 0
	case KindStatefulSet:
		return 1
	}
	return 2
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// skipReason says why meshctl leaves w alone when enabling injection, or ""
// when it does not: Istio would not inject its pods whatever the namespace
// says.
func skipReason(w *workload) Reason {
	switch {
	case mesh.OptedOut(&w.template.ObjectMeta):
		return mesh.ReasonOptedOut
	case w.template.Spec.HostNetwork:
		return mesh.ReasonHostNetwork
	}
	return ""
}

// restartWhy says why w's pods must be restarted to reach want, or "" when
// they all run what want asks.
func restartWhy(w *workload, want Want) string {
	counts := map[string]int{}
	var order []string
	for _, p := range w.pods {
		if pr := mesh.CheckPod(p, want); pr != nil {
			key := pr.Message
			if counts[key] == 0 {
				order = append(order, key)
			}
			counts[key]++
		}
	}
	if len(order) == 0 {
		return ""
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%d of %s: %s", counts[k], plural(len(w.pods), "pod"), k)
	}
	return strings.Join(parts, "; ")
}

// ref names w as kubectl does: deployment/web.
func (w *workload) ref() string { return strings.ToLower(w.Kind) + "/" + w.Name }
