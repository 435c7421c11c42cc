package check

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/meshctl/meshctl/pkg/findings"
)

// call names one API call, for errors and for finding MC0100.
type call struct {
	api        string // "GKE", "Compute" or "Kubernetes"
	method     string // "clusters.get", "list services"
	resource   string // what it was about
	permission string // IAM permission or RBAC verb/resource it needs
	service    string // the Google API's service name, to enable it
}

func (c call) String() string {
	s := c.api + " " + c.method
	if c.resource != "" {
		s += " " + c.resource
	}
	return s
}

// APIFailure is an API call that failed; the checks that needed it report
// it as their reason, and it becomes one MC0100 finding.
type APIFailure struct {
	call call
	Err  error
}

func (e *APIFailure) Error() string { return e.call.String() + " failed" }
func (e *APIFailure) Unwrap() error { return e.Err }

// facts are the run's API reads: each fetched at most once, on first use,
// by whichever check asks first; the others wait for the same answer.
type facts struct {
	ctx     context.Context
	opts    Options
	release Release
	clients Clients

	cluster       func() (*containerpb.Cluster, error)
	project       func() (*computepb.Project, error)
	serverVersion func() (*version.Info, error)
	admin         func() (bool, error)
	user          func() (string, error)
	namespaces    func() ([]corev1.Namespace, error)
	services      func() ([]corev1.Service, error)
	deployments   func() ([]appsv1.Deployment, error)
	nodes         func() ([]corev1.Node, error)
	pools         func() ([]poolCapacity, error)

	mu           sync.Mutex
	machineTypes map[string]func() (*computepb.MachineType, error)
	firewalls    map[string]func() ([]*computepb.Firewall, error)
	failures     map[string]*APIFailure
}

// istioDeploymentSelector finds istiod and the legacy gateway in one list.
const istioDeploymentSelector = "app in (istiod, istio-ingressgateway)"

func newFacts(ctx context.Context, c Clients, opts Options, release Release) *facts {
	f := &facts{
		ctx: ctx, opts: opts, release: release, clients: c,
		machineTypes: map[string]func() (*computepb.MachineType, error){},
		firewalls:    map[string]func() ([]*computepb.Firewall, error){},
		failures:     map[string]*APIFailure{},
	}
	name := opts.ClusterName()
	f.cluster = memo(f, call{"GKE", "clusters.get", name, "container.clusters.get", "container.googleapis.com"},
		func(ctx context.Context) (*containerpb.Cluster, error) {
			if c.GKE == nil {
				return nil, clientMissing(c.GKEErr)
			}
			cl, err := c.GKE.GetCluster(ctx, name)
			if err == nil {
				f.prefetch(cl)
			}
			return cl, err
		})
	f.project = memo(f, call{"Compute", "projects.get", opts.Project, "compute.projects.get", "compute.googleapis.com"},
		func(ctx context.Context) (*computepb.Project, error) {
			if c.Compute == nil {
				return nil, clientMissing(c.ComputeErr)
			}
			return c.Compute.GetProject(ctx, opts.Project)
		})
	f.serverVersion = kubeMemo(f, call{method: "get version"}, func(ctx context.Context) (*version.Info, error) {
		return c.Kube.Discovery().ServerVersion()
	})
	f.admin = kubeMemo(f, call{method: "create selfsubjectaccessreviews", permission: "create selfsubjectaccessreviews.authorization.k8s.io"},
		func(ctx context.Context) (bool, error) {
			r, err := c.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
				Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}},
			}, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			return r.Status.Allowed, nil
		})
	f.user = kubeMemo(f, call{method: "create selfsubjectreviews", permission: "create selfsubjectreviews.authentication.k8s.io"},
		func(ctx context.Context) (string, error) {
			r, err := c.Kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				return "", err
			}
			return r.Status.UserInfo.Username, nil
		})
	f.namespaces = kubeMemo(f, call{method: "list namespaces", permission: "list namespaces"}, func(ctx context.Context) ([]corev1.Namespace, error) {
		l, err := c.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	})
	f.services = kubeMemo(f, call{method: "list services", resource: "in all namespaces", permission: "list services"}, func(ctx context.Context) ([]corev1.Service, error) {
		l, err := c.Kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	})
	f.deployments = kubeMemo(f, call{method: "list deployments", resource: "(" + istioDeploymentSelector + ") in all namespaces", permission: "list deployments.apps"},
		func(ctx context.Context) ([]appsv1.Deployment, error) {
			l, err := c.Kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: istioDeploymentSelector})
			if err != nil {
				return nil, err
			}
			return l.Items, nil
		})
	f.nodes = kubeMemo(f, call{method: "list nodes", permission: "list nodes"}, func(ctx context.Context) ([]corev1.Node, error) {
		l, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	})
	f.pools = sync.OnceValues(f.loadPools)
	return f
}

// prefetch starts, the moment the cluster is known, the reads that depend
// on it and that some check will make: the machine types, the project, and
// on a private cluster the firewall rules. The checks then find them in
// flight instead of each waking up to ask; nothing is read that no check
// needs.
func (f *facts) prefetch(cl *containerpb.Cluster) {
	go func() { _, _ = f.project() }()
	if !cl.GetAutopilot().GetEnabled() {
		seen := map[string]bool{}
		for _, p := range cl.GetNodePools() {
			if mt := poolMachineType(p); !seen[mt] {
				seen[mt] = true
				zone := poolZones(cl, p)[0]
				go func() { _, _ = f.machineType(zone, mt) }()
			}
		}
	}
	if privateNodes(cl) && masterCIDR(cl) != "" {
		project, _ := clusterNetwork(cl, f.opts.Project)
		go func() { _, _ = f.firewallRules(project) }()
	}
}

// errNoClient stands for a client that was never built without saying why.
var errNoClient = errors.New("no client")

func clientMissing(err error) error {
	if err == nil {
		return errNoClient
	}
	return err
}

// memo makes fetch run once; a failure is recorded for MC0100.
func memo[T any](f *facts, c call, fetch func(context.Context) (T, error)) func() (T, error) {
	return sync.OnceValues(func() (T, error) {
		v, err := fetch(f.ctx)
		if err != nil {
			return v, f.fail(c, err)
		}
		return v, nil
	})
}

// kubeMemo is memo for Kubernetes calls: each gets a time limit, and a
// missing client (no kubeconfig) is one failure shared by all of them.
func kubeMemo[T any](f *facts, c call, fetch func(context.Context) (T, error)) func() (T, error) {
	c.api = "Kubernetes"
	return sync.OnceValues(func() (T, error) {
		var zero T
		if f.clients.Kube == nil {
			return zero, f.fail(call{api: "Kubernetes", method: "client", resource: f.opts.KubeContext}, clientMissing(f.clients.KubeErr))
		}
		timeout := f.opts.KubeTimeout
		if timeout == 0 {
			timeout = 20 * time.Second
		}
		ctx, cancel := context.WithTimeout(f.ctx, timeout)
		defer cancel()
		v, err := fetch(ctx)
		if err != nil {
			return zero, f.fail(c, err)
		}
		return v, nil
	})
}

func (f *facts) fail(c call, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := c.String()
	if prev, ok := f.failures[key]; ok {
		return prev
	}
	e := &APIFailure{call: c, Err: err}
	f.failures[key] = e
	return e
}

// machineType returns the shape of a machine type, read in zone; a type is
// read once whatever the number of pools or zones using it.
func (f *facts) machineType(zone, name string) (*computepb.MachineType, error) {
	f.mu.Lock()
	get, ok := f.machineTypes[name]
	if !ok {
		get = memo(f, call{"Compute", "machineTypes.get", "zones/" + zone + "/machineTypes/" + name, "compute.machineTypes.get", "compute.googleapis.com"},
			func(ctx context.Context) (*computepb.MachineType, error) {
				if f.clients.Compute == nil {
					return nil, clientMissing(f.clients.ComputeErr)
				}
				return f.clients.Compute.GetMachineType(ctx, f.opts.Project, zone, name)
			})
		f.machineTypes[name] = get
	}
	f.mu.Unlock()
	return get()
}

// firewallRules returns the firewall rules of project (the network's host
// project for a Shared VPC).
func (f *facts) firewallRules(project string) ([]*computepb.Firewall, error) {
	f.mu.Lock()
	get, ok := f.firewalls[project]
	if !ok {
		get = memo(f, call{"Compute", "firewalls.list", project, "compute.firewalls.list", "compute.googleapis.com"},
			func(ctx context.Context) ([]*computepb.Firewall, error) {
				if f.clients.Compute == nil {
					return nil, clientMissing(f.clients.ComputeErr)
				}
				return f.clients.Compute.ListFirewalls(ctx, project)
			})
		f.firewalls[project] = get
	}
	f.mu.Unlock()
	return get()
}

// forgetFirewalls makes the next firewallRules read fresh data (after --fix).
func (f *facts) forgetFirewalls(project string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.firewalls, project)
}

// failureFindings turns the failed calls into MC0100 findings, explained.
func (f *facts) failureFindings() []findings.Finding {
	f.mu.Lock()
	fails := make([]*APIFailure, 0, len(f.failures))
	for _, e := range f.failures {
		fails = append(fails, e)
	}
	f.mu.Unlock()
	sort.Slice(fails, func(i, j int) bool { return fails[i].call.String() < fails[j].call.String() })
	var out []findings.Finding
	for _, e := range fails {
		msg, hint := f.explain(e)
		out = append(out, findings.APIUnavailable.New(e.call.String(), msg, hint))
	}
	return out
}

// clusterIfKnown returns the cluster when GKE answered, without fetching it
// for a run that never asked.
func (f *facts) clusterIfKnown() *containerpb.Cluster {
	if f.clients.GKE == nil {
		return nil
	}
	cl, err := f.cluster()
	if err != nil {
		return nil
	}
	return cl
}
