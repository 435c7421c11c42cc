// Package istiod reaches a cluster's running istiods from this machine:
// their debug endpoints (the monitoring port, 15014) and their secure xDS
// port (15012). By default through the Kubernetes API's port-forwarding to
// an istiod pod, as istioctl does (a private cluster's control plane
// reaches its nodes' kubelets, not arbitrary Pod ports); or, where istiod
// does not run in a pod (the simulator), by asking a directory service.
package istiod

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Ports of istiod.
const (
	MonitoringPort = 15014
	SecureXDSPort  = 15012
)

// Target is a cluster: its GKE name and its kube context.
type Target struct {
	Project, Location, Cluster, Context string
}

// Endpoint is one istiod reached from here.
type Endpoint struct {
	Revision string `json:"revision"`
	// DebugURL is the base of its debug endpoints, ending in /debug.
	DebugURL string `json:"debugURL"`
	// SecureXDS is host:port of its port 15012.
	SecureXDS string `json:"secureXDS"`
	// Close releases the port-forward, if any.
	Close func() `json:"-"`
}

// Forwarder port-forwards to a ready istiod pod of each revision.
type Forwarder struct {
	// RESTConfig returns the client configuration of a kube context.
	RESTConfig func(context string) (*rest.Config, error)
}

// Find forwards local ports to an istiod of each revision.
func (f Forwarder) Find(ctx context.Context, t Target, revisions []string) ([]Endpoint, error) {
	rc, err := f.RESTConfig(t.Context)
	if err != nil {
		return nil, err
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	var out []Endpoint
	for _, rev := range revisions {
		pod, err := readyPod(ctx, kc, rev)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		ep, err := forward(rc, kc, pod, rev)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("port-forward to %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		out = append(out, ep)
	}
	return out, nil
}

func closeAll(eps []Endpoint) {
	for _, e := range eps {
		e.Close()
	}
}

func readyPod(ctx context.Context, kc kubernetes.Interface, rev string) (*corev1.Pod, error) {
	pods, err := kc.CoreV1().Pods("istio-system").List(ctx, metav1.ListOptions{LabelSelector: "app=istiod,istio.io/rev=" + rev})
	if err != nil {
		return nil, fmt.Errorf("list istiod pods of revision %s: %w", rev, err)
	}
	for i, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}) {
			return &pods.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no ready istiod pod of revision %s in istio-system", rev)
}

func forward(rc *rest.Config, kc kubernetes.Interface, pod *corev1.Pod, rev string) (Endpoint, error) {
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		return Endpoint{}, err
	}
	u := kc.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	ports := []string{"0:" + strconv.Itoa(MonitoringPort), "0:" + strconv.Itoa(SecureXDSPort)}
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, ports, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return Endpoint{}, err
	}
	failed := make(chan error, 1)
	go func() { failed <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-failed:
		return Endpoint{}, err
	case <-time.After(30 * time.Second):
		close(stop)
		return Endpoint{}, fmt.Errorf("not ready after 30s")
	}
	local, err := fw.GetPorts()
	if err != nil {
		close(stop)
		return Endpoint{}, fmt.Errorf("read the forwarded ports: %w", err)
	}
	if len(local) != 2 {
		close(stop)
		return Endpoint{}, fmt.Errorf("read the forwarded ports: %d of them, want 2", len(local))
	}
	return Endpoint{
		Revision:  rev,
		DebugURL:  fmt.Sprintf("http://127.0.0.1:%d/debug", local[0].Local),
		SecureXDS: fmt.Sprintf("127.0.0.1:%d", local[1].Local),
		Close:     func() { close(stop) },
	}, nil
}

// Directory asks a service where a cluster's istiods listen: GET
// URL?project=P&location=L&cluster=C answers {"istiods":[Endpoint...]}.
// The simulator serves one (MESHCTL_ISTIOD_ENDPOINTS), its istiods being
// local processes rather than pods.
type Directory struct {
	URL string
}

// Find asks the directory for the revisions' istiods.
func (d Directory) Find(ctx context.Context, t Target, revisions []string) ([]Endpoint, error) {
	q := url.Values{"project": {t.Project}, "location": {t.Location}, "cluster": {t.Cluster}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask %s for the istiods of %s: %w", d.URL, t.Cluster, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("ask %s for the istiods of %s: %s: %s", d.URL, t.Cluster, resp.Status, b)
	}
	var body struct {
		Istiods []Endpoint `json:"istiods"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("ask %s for the istiods of %s: %w", d.URL, t.Cluster, err)
	}
	var out []Endpoint
	for _, rev := range revisions {
		i := slices.IndexFunc(body.Istiods, func(e Endpoint) bool { return e.Revision == rev })
		if i < 0 {
			return nil, fmt.Errorf("no istiod of revision %s runs for cluster %s", rev, t.Cluster)
		}
		e := body.Istiods[i]
		e.Close = func() {}
		out = append(out, e)
	}
	return out, nil
}
