package mesh

import (
	"context"
	"fmt"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/meshctl/meshctl/sim/state"
)

// FollowIstiodDeployments makes a revision's local istiod follow its
// Deployment in the cluster: on GKE, deleting istiod's Deployment (as
// `istioctl uninstall --revision` or `meshctl uninstall --revision` do)
// ends its pods and so the control plane; here the pods are kwok's and run
// nothing, so the local pilot-discovery that serves the revision is what
// stops. It runs until ctx ends. Revisions without an istiod Deployment
// (the fleet's managed ones) are never touched. Once it has read the
// Deployments it logs "following the istiod Deployments of CLUSTER".
func FollowIstiodDeployments(ctx context.Context, dir state.Dir, kc kubernetes.Interface, cluster string, logf func(string, ...any)) error {
	factory := informers.NewSharedInformerFactoryWithOptions(kc, 0, informers.WithNamespace("istio-system"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=istiod" }))
	inf := factory.Apps().V1().Deployments().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			d, ok := obj.(*appsv1.Deployment)
			if !ok {
				return
			}
			revision := d.Labels["istio.io/rev"]
			if revision == "" {
				revision = "default"
			}
			if err := stopRevision(dir, cluster, revision); err != nil {
				logf("istiod %s in %s: %v", revision, cluster, err)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watch istiod deployments: %w", err)
	}
	factory.Start(ctx.Done())
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		logf("following the istiod Deployments of %s", cluster)
	}
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

// stopRevision stops the local istiods recorded for revision in cluster.
func stopRevision(dir state.Dir, cluster, revision string) error {
	list, err := dir.Istiods()
	if err != nil {
		return err
	}
	for _, i := range list {
		if i.Revision == revision && (i.Cluster == cluster || i.Cluster == "") {
			if err := StopIstiod(dir, i.KeyOrRevision()); err != nil {
				return err
			}
			logStop(dir, i)
		}
	}
	return nil
}

// logStop notes in the istiod's own log why it stopped.
func logStop(dir state.Dir, i state.Istiod) {
	name := "istiod-" + i.KeyOrRevision()
	f, err := openAppend(dir.Log(name))
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "meshsim: the %s Deployment was deleted: stopped this istiod\n", IstiodName(i.Revision))
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}
