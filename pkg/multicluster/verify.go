package multicluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// The proof that clusters are connected is what each istiod holds, read
// from its own debug endpoints: /debug/clusterz lists the remote clusters
// with their sync status, /debug/endpointShardz the endpoints it has of
// every Service, by cluster. A probe Service in each cluster, with one
// endpoint of its own, shows whether each istiod holds every other
// cluster's endpoint. The probe is selectorless with an EndpointSlice of a
// documentation address (RFC 5737), so it needs no image and no
// scheduling; it is removed afterwards.
const (
	probeName = "meshctl-probe"
	// probeDomain is the clusters' DNS domain istiod names hosts in.
	probeDomain = "cluster.local"
)

func probeHost() string { return probeName + "." + mesh.IstioSystem + ".svc." + probeDomain }

// probeAddress is cluster i's probe endpoint: 192.0.2.(i+1).
func probeAddress(i int) string { return fmt.Sprintf("192.0.2.%d", i%250+1) }

func probeObjects(addr string) (*corev1.Service, *discoveryv1.EndpointSlice) {
	labels := map[string]string{mesh.LabelManagedBy: mesh.ManagedBy}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: probeName, Namespace: mesh.IstioSystem, Labels: labels},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(80), Protocol: corev1.ProtocolTCP}}},
	}
	ready := true
	port, name, proto := int32(80), "http", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: probeName, Namespace: mesh.IstioSystem, Labels: map[string]string{
			mesh.LabelManagedBy: mesh.ManagedBy, discoveryv1.LabelServiceName: probeName, discoveryv1.LabelManagedBy: mesh.ManagedBy}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	return svc, slice
}

// probeChanges are the verification's probe in the plan: created, then
// deleted once every istiod was seen holding it (or not).
func probeChanges(m *member) []plan.Change {
	var out []plan.Change
	for _, a := range []plan.Action{plan.Create, plan.Delete} {
		note := "in " + m.Name + ": the verification's probe"
		if a == plan.Delete {
			note = "in " + m.Name + ": once verified"
		}
		out = append(out,
			m.in(plan.Change{Kind: "Service", Namespace: mesh.IstioSystem, Name: probeName, Action: a, Note: note}, resServices),
			m.in(plan.Change{Kind: "EndpointSlice", Namespace: mesh.IstioSystem, Name: probeName, Action: a, Note: note}, resEndpointSlices))
	}
	return out
}

func deployProbe(ctx context.Context, m *member, addr string) error {
	svc, slice := probeObjects(addr)
	opts := metav1.CreateOptions{FieldManager: kube.FieldManager}
	if _, err := m.kube.CoreV1().Services(mesh.IstioSystem).Create(ctx, svc, opts); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cluster %s: create the probe Service: %w", m.Name, err)
	}
	if _, err := m.kube.DiscoveryV1().EndpointSlices(mesh.IstioSystem).Create(ctx, slice, opts); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cluster %s: create the probe EndpointSlice: %w", m.Name, err)
	}
	return nil
}

// removeProbe deletes the probe, if meshctl's; it runs after a failed or
// cancelled verification too.
func removeProbe(ctx context.Context, m *member) error {
	var errs []string
	if s, err := m.kube.DiscoveryV1().EndpointSlices(mesh.IstioSystem).Get(ctx, probeName, metav1.GetOptions{}); err == nil && mesh.MadeByMeshctl(s.Labels) {
		if err := m.kube.DiscoveryV1().EndpointSlices(mesh.IstioSystem).Delete(ctx, probeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err.Error())
		}
	}
	if s, err := m.kube.CoreV1().Services(mesh.IstioSystem).Get(ctx, probeName, metav1.GetOptions{}); err == nil && mesh.MadeByMeshctl(s.Labels) {
		if err := m.kube.CoreV1().Services(mesh.IstioSystem).Delete(ctx, probeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cluster %s: remove the probe: %s", m.Name, strings.Join(errs, "; "))
	}
	return nil
}

// Matrix is what each istiod (a row) holds of each cluster (a column).
type Matrix struct {
	Clusters []string    `json:"clusters"`
	Rows     []MatrixRow `json:"rows"`
}

// MatrixRow is one istiod.
type MatrixRow struct {
	Cluster  string `json:"cluster"`
	Revision string `json:"revision"`
	Cells    []Cell `json:"cells"`
	// Error is why the istiod could not be read.
	Error string `json:"error,omitempty"`
}

// Cell is one istiod's view of one cluster: its sync status
// (/debug/clusterz; "local" for its own) and whether it holds the
// cluster's probe endpoint (/debug/endpointShardz).
type Cell struct {
	Cluster   string `json:"cluster"`
	Sync      string `json:"sync"`
	Endpoints bool   `json:"endpoints"`
}

// OK reports whether the cell shows the cluster connected.
func (c Cell) OK() bool { return (c.Sync == "synced" || c.Sync == "local") && c.Endpoints }

// Connected reports whether every istiod holds every cluster.
func (m *Matrix) Connected() bool {
	for _, r := range m.Rows {
		if r.Error != "" {
			return false
		}
		for _, c := range r.Cells {
			if !c.OK() {
				return false
			}
		}
	}
	return len(m.Rows) > 0
}

// pending lists the cells not yet OK, for progress.
func (m *Matrix) pending() []string {
	var out []string
	for _, r := range m.Rows {
		if r.Error != "" {
			out = append(out, r.Cluster+": "+r.Error)
			continue
		}
		for _, c := range r.Cells {
			if !c.OK() {
				out = append(out, fmt.Sprintf("%s→%s %s", r.Cluster, c.Cluster, c.Sync))
			}
		}
	}
	return out
}

// verifyOptions bound a verification.
type verifyOptions struct {
	Timeout time.Duration
	// Poll is the time between two reads of every istiod.
	Poll time.Duration
}

// verify deploys the probes, reads every istiod until each holds every
// cluster or the time is up, and removes the probes.
func verify(ctx context.Context, c Clients, rep ui.Reporter, ms []*member, o verifyOptions) (*Matrix, []findings.Finding, error) {
	step := rep.Step(fmt.Sprintf("verifying: each istiod syncs the %d other clusters and holds their probe endpoints", len(ms)-1))
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, m := range ms {
			if err := removeProbe(cctx, m); err != nil {
				rep.Warnf("%v", err)
			}
		}
	}()
	if err := forEach(ms, func(i int, m *member) error { return deployProbe(ctx, m, probeAddress(i)) }); err != nil {
		step.Fail(err)
		return nil, nil, err
	}
	var eps [][]IstiodEndpoint
	for _, m := range ms {
		list, err := c.Istiods.Istiods(ctx, m.Ref, m.revisions())
		if err != nil {
			step.Fail(err)
			return nil, nil, fmt.Errorf("cluster %s: reach istiod: %w", m.Name, err)
		}
		eps = append(eps, list)
	}
	defer func() {
		for _, list := range eps {
			for _, e := range list {
				if e.Close != nil {
					e.Close()
				}
			}
		}
	}()
	deadline := time.Now().Add(o.Timeout)
	for {
		mx := readMatrix(ctx, ms, eps)
		if mx.Connected() {
			step.Done()
			return mx, nil, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			step.Fail(fmt.Errorf("not connected after %s", o.Timeout))
			return mx, matrixFindings(mx, ms), nil
		}
		step.Progressf("waiting for %s", strings.Join(mx.pending(), ", "))
		select {
		case <-ctx.Done():
		case <-time.After(o.Poll):
		}
	}
}

// readMatrix reads every istiod once, concurrently.
func readMatrix(ctx context.Context, ms []*member, eps [][]IstiodEndpoint) *Matrix {
	mx := &Matrix{}
	for _, m := range ms {
		mx.Clusters = append(mx.Clusters, m.Name)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, m := range ms {
		for _, e := range eps[i] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				row := readRow(ctx, m, e, ms)
				mu.Lock()
				mx.Rows = append(mx.Rows, row)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	slices.SortFunc(mx.Rows, func(a, b MatrixRow) int {
		return strings.Compare(a.Cluster+"/"+a.Revision, b.Cluster+"/"+b.Revision)
	})
	return mx
}

func readRow(ctx context.Context, local *member, e IstiodEndpoint, ms []*member) MatrixRow {
	row := MatrixRow{Cluster: local.Name, Revision: e.Revision}
	sync, err := Clusterz(ctx, e.DebugURL)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	shards, err := EndpointShards(ctx, e.DebugURL, probeHost(), mesh.IstioSystem)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	for i, m := range ms {
		cell := Cell{Cluster: m.Name, Sync: sync[m.clusterID]}
		if m == local {
			cell.Sync = "local"
		} else if cell.Sync == "" {
			cell.Sync = "absent"
		}
		cell.Endpoints = slices.Contains(shards[m.clusterID], probeAddress(i))
		row.Cells = append(row.Cells, cell)
	}
	return row
}

// matrixFindings turn what is not connected into findings.
func matrixFindings(mx *Matrix, ms []*member) []findings.Finding {
	var out []findings.Finding
	for _, r := range mx.Rows {
		obj := "istiod " + r.Revision + " of cluster " + r.Cluster
		if r.Error != "" {
			out = append(out, findings.APIUnavailable.New(obj, "read its debug endpoints: "+r.Error, ""))
			continue
		}
		for _, c := range r.Cells {
			switch {
			case c.Sync != "synced" && c.Sync != "local":
				out = append(out, findings.RemoteNotSynced.New(obj, fmt.Sprintf("cluster %s is %s in /debug/clusterz", c.Cluster, c.Sync),
					"check that its control plane is reachable (meshctl validate --cluster ... lists why not) and its remote secret current"))
			case !c.Endpoints:
				out = append(out, findings.RemoteEndpointsGone.New(obj, fmt.Sprintf("no endpoint of cluster %s's probe in /debug/endpointShardz", c.Cluster), ""))
			}
		}
	}
	return out
}

// Clusterz reads istiod's /debug/clusterz: remote cluster id → sync
// status ("synced", "syncing", "timeout", ...).
func Clusterz(ctx context.Context, debugURL string) (map[string]string, error) {
	var list []struct {
		ID         string `json:"id"`
		SyncStatus string `json:"syncStatus"`
	}
	if err := getJSON(ctx, debugURL+"/clusterz", &list); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range list {
		out[c.ID] = c.SyncStatus
	}
	return out, nil
}

// EndpointShards reads istiod's /debug/endpointShardz for one Service
// host: cluster id → the endpoint addresses istiod holds from it.
func EndpointShards(ctx context.Context, debugURL, host, namespace string) (map[string][]string, error) {
	var shardz map[string]map[string]struct {
		Shards map[string][]struct {
			Addresses []string `json:"Addresses"`
		} `json:"Shards"`
	}
	if err := getJSON(ctx, debugURL+"/endpointShardz", &shardz); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for shard, eps := range shardz[host][namespace].Shards {
		cluster := strings.TrimPrefix(shard, "Kubernetes/")
		for _, ep := range eps {
			out[cluster] = append(out[cluster], ep.Addresses...)
		}
	}
	return out, nil
}

var debugClient = &http.Client{Timeout: 20 * time.Second}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := debugClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// forEach runs fn for every cluster concurrently and joins the errors.
func forEach(ms []*member, fn func(i int, m *member) error) error {
	tasks := make([]func() error, len(ms))
	for i, m := range ms {
		tasks[i] = func() error { return fn(i, m) }
	}
	return runAll(tasks)
}

// runAll runs the tasks concurrently and joins their errors.
func runAll(tasks []func() error) error {
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
