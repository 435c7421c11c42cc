package lb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/pkg/mesh"
	"github.com/meshctl/meshctl/pkg/plan"
)

// EdgeSpec is what a GKE Gateway (the Gateway API path, pkg/gatewayapi)
// needs of Compute that GKE's Gateway controller does not make: a reserved
// global address for its NamedAddress, the SSL policy its GCPGatewayPolicy
// names and the Cloud Armor policy its GCPBackendPolicies name. The
// controller makes the rest of the load balancer from the Gateway API
// objects. Planned and applied like a load balancer (same graph, ownership
// marker, retries and requestIds); its owner key is "gateway/" + Key.
type EdgeSpec struct {
	Project string `json:"project"`
	// Key names the Gateway, CLUSTER/NAMESPACE/NAME: resources are named
	// after it and record it as their owner.
	Key string `json:"key"`
	// Address and Certificate name the user's own global address and SSL
	// certificate (pre-shared), which must exist and are never changed.
	Address     string `json:"address,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	SSLProfile  string `json:"sslProfile"`
	MinTLS      string `json:"minTls"`
	Armor       Armor  `json:"armor"`
	Adopt       bool   `json:"adopt,omitempty"`
	Parallel    int    `json:"-"`
}

// EdgeNames are the names an EdgeSpec's own resources get.
type EdgeNames struct {
	Owner     string `json:"owner"`
	Address   string `json:"address"`
	SSLPolicy string `json:"sslPolicy"`
	Armor     string `json:"armor"`
}

func (s EdgeSpec) names() names {
	prefix := "mcgw-" + strings.ReplaceAll(s.Key, "/", "-")
	return names{project: s.Project, lb: "gateway/" + s.Key, prefix: prefix, key: []string{s.Project, "gateway", s.Key}}
}

// Names returns the names of the resources meshctl makes for s; a user's
// own (Address, Armor.Policy) replace them.
func (s EdgeSpec) Names() EdgeNames {
	n := s.names()
	out := EdgeNames{Owner: n.lb, Address: n.address(), SSLPolicy: n.sslPolicy(), Armor: n.armor()}
	if s.Address != "" {
		out.Address = s.Address
	}
	if s.Armor.Policy != "" {
		out.Armor = s.Armor.Policy
	}
	if s.Armor.Disabled {
		out.Armor = ""
	}
	return out
}

// ResourceName builds a Compute-style name "<base>-<suffix>" as the load
// balancer's own are built: lower case, RFC 1035, at most 63 characters,
// the base shortened with a hash of key when it must be. Certificate
// Manager takes the same form.
func ResourceName(base, suffix string, key ...string) string {
	return resourceName(base, suffix, key...)
}

// Validate checks the edge's input before any call.
func (s EdgeSpec) Validate() error {
	var errs []error
	if s.Project == "" {
		errs = append(errs, errors.New("no project: set --project (or MESHCTL_PROJECT)"))
	}
	if strings.Count(s.Key, "/") != 2 {
		errs = append(errs, fmt.Errorf("gateway key %q: want CLUSTER/NAMESPACE/NAME", s.Key))
	}
	if s.SSLProfile != "" && !containsFold(sslProfiles, s.SSLProfile) {
		errs = append(errs, fmt.Errorf("--ssl-profile %q: want one of %s", s.SSLProfile, strings.Join(sslProfiles, ", ")))
	}
	if s.MinTLS != "" && !containsFold(tlsVersions, normalizeTLS(s.MinTLS)) {
		errs = append(errs, fmt.Errorf("--min-tls %q: want one of 1.0, 1.1, 1.2, 1.3", s.MinTLS))
	}
	errs = append(errs, s.Armor.validate()...)
	if len(errs) == 0 {
		return nil
	}
	return failure.Usage(errors.Join(errs...), "")
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// spec is the load balancer Spec the plan machinery runs with.
func (s EdgeSpec) spec() Spec {
	return Spec{Project: s.Project, LB: "gateway/" + s.Key, Address: s.Address, Certificate: s.Certificate,
		SSLProfile: s.SSLProfile, MinTLS: s.MinTLS, Armor: s.Armor, Adopt: s.Adopt, Parallel: s.Parallel}.withDefaults()
}

func newEdgePlan(operation string, s EdgeSpec) *Plan {
	spec := s.spec()
	n := s.names()
	return &Plan{Operation: operation, Project: s.Project, LoadBalancer: n.lb, spec: spec, names: n,
		objs: map[string]*object{}, external: map[string]bool{}}
}

// PlanEdge reads what exists of the edge and works out what an apply would
// do: create, update (naming the fields), keep, or use the user's own. It
// refuses names meshctl did not make (unless Adopt) and user-named
// resources that do not exist. It changes nothing.
func (cl *Client) PlanEdge(ctx context.Context, s EdgeSpec) (*Plan, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p := newEdgePlan("gateway", s)
	spec, n := p.spec, p.names
	r := cl.newReader(ctx, spec)
	r.get(KindAddress, p.addressName())
	r.get(KindSSLPolicy, n.sslPolicy())
	if !spec.Armor.Disabled {
		r.get(KindSecurityPolicy, p.armorName())
	}
	if spec.Certificate != "" {
		r.get(KindCertificate, spec.Certificate)
	}
	f, err := r.wait()
	if err != nil {
		return nil, err
	}
	var errs []error
	own := func(kind Kind, name string) {
		if err := checkOwner(f.get(kind, name), kind, name, n.lb, false, spec.Adopt); err != nil {
			errs = append(errs, err)
		}
	}
	if spec.Address == "" {
		own(KindAddress, p.addressName())
	}
	own(KindSSLPolicy, n.sslPolicy())
	if !spec.Armor.Disabled && spec.Armor.Policy == "" {
		own(KindSecurityPolicy, p.armorName())
	}
	for _, name := range []string{spec.Address, spec.Certificate, spec.Armor.Policy} {
		p.external[name] = name != ""
	}
	if errs = append(errs, p.missingNamed(f)...); len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	d := &desired{p: p, f: f}
	owner := mesh.NewResourceOwner(n.lb)
	if spec.Address != "" {
		d.add(&object{kind: KindAddress, name: spec.Address, external: true})
	} else {
		d.add(addressObject(p.addressName(), owner))
	}
	d.add(sslPolicyObject(n.sslPolicy(), owner, spec))
	d.armorPolicy(owner)
	if err := p.diff(d); err != nil {
		return nil, err
	}
	p.nodes = cl.nodes(p, d.armor)
	return p, nil
}

// PlanEdgeTeardown works out how to remove what meshctl made for the edge:
// its address, SSL policy and Cloud Armor policy, each only when meshctl
// made it for this Gateway. The user's own stay. Run it once the
// controller has removed what used them.
func (cl *Client) PlanEdgeTeardown(ctx context.Context, s EdgeSpec) (*Plan, error) {
	if s.Project == "" || strings.Count(s.Key, "/") != 2 {
		return nil, failure.Usagef("the Gateway's edge needs a project and a CLUSTER/NAMESPACE/NAME key (got %q, %q)", s.Project, s.Key)
	}
	p := newEdgePlan("gateway teardown", s)
	n := p.names
	r := cl.newReader(ctx, p.spec)
	for _, o := range []struct {
		kind Kind
		name string
	}{{KindAddress, n.address()}, {KindSSLPolicy, n.sslPolicy()}, {KindSecurityPolicy, n.armor()}} {
		r.get(o.kind, o.name)
	}
	f, err := r.wait()
	if err != nil {
		return nil, err
	}
	t := &teardown{p: p, f: f}
	t.del(KindAddress, n.address())
	t.del(KindSSLPolicy, n.sslPolicy())
	t.del(KindSecurityPolicy, n.armor())
	for _, o := range t.dels {
		p.add(o, o.change(plan.Delete))
	}
	p.nodes = cl.nodes(p, nil)
	return p, nil
}
