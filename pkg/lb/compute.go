package lb

import (
	"context"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Kind is a Compute collection pkg/lb manages, named as in the API's URLs.
type Kind string

// The collections of a global external Application Load Balancer.
const (
	KindAddress        Kind = "addresses"
	KindHealthCheck    Kind = "healthChecks"
	KindSSLPolicy      Kind = "sslPolicies"
	KindCertificate    Kind = "sslCertificates"
	KindSecurityPolicy Kind = "securityPolicies"
	KindFirewall       Kind = "firewalls"
	KindBackendService Kind = "backendServices"
	KindURLMap         Kind = "urlMaps"
	KindHTTPSProxy     Kind = "targetHttpsProxies"
	KindHTTPProxy      Kind = "targetHttpProxies"
	KindForwardingRule Kind = "forwardingRules"
)

// Title is the kind as people read it: "backend service".
func (k Kind) Title() string {
	switch k {
	case KindAddress:
		return "address"
	case KindHealthCheck:
		return "health check"
	case KindSSLPolicy:
		return "SSL policy"
	case KindCertificate:
		return "certificate"
	case KindSecurityPolicy:
		return "Cloud Armor policy"
	case KindFirewall:
		return "firewall rule"
	case KindBackendService:
		return "backend service"
	case KindURLMap:
		return "URL map"
	case KindHTTPSProxy:
		return "HTTPS proxy"
	case KindHTTPProxy:
		return "HTTP proxy"
	case KindForwardingRule:
		return "forwarding rule"
	}
	return string(k)
}

// permission is the IAM permission prefix of the kind's methods:
// "compute.backendServices".
func (k Kind) permission() string {
	switch k {
	case KindAddress:
		return "compute.globalAddresses"
	case KindForwardingRule:
		return "compute.globalForwardingRules"
	}
	return "compute." + string(k)
}

// Compute is what pkg/lb needs of the Compute API, for one project. Objects
// are the computepb messages of the kind (*computepb.BackendService for
// KindBackendService, and so on). Mutations return the operation they
// started; WaitOperation waits for it. Errors are the client's: a
// *googleapi.Error for an HTTP error.
//
// NewGCE implements it over cloud.google.com/go/compute/apiv1; unit tests
// use a fake.
type Compute interface {
	Get(ctx context.Context, kind Kind, name string) (proto.Message, error)
	// List returns the kind's objects that match a Compute list filter
	// (empty: all).
	List(ctx context.Context, kind Kind, filter string) ([]proto.Message, error)
	Insert(ctx context.Context, kind Kind, obj proto.Message, requestID string) (*computepb.Operation, error)
	// Update writes obj over the object: PUT for kinds that have it
	// (backend services, URL maps, health checks), PATCH otherwise. A
	// fingerprinted object's write carries the fingerprint read with it.
	Update(ctx context.Context, kind Kind, name string, obj proto.Message, requestID string) (*computepb.Operation, error)
	Delete(ctx context.Context, kind Kind, name, requestID string) (*computepb.Operation, error)

	// SetSecurityPolicy attaches a Cloud Armor policy (a link; "" detaches).
	SetSecurityPolicy(ctx context.Context, backendService, policy, requestID string) (*computepb.Operation, error)
	// SetURLMap points a target HTTP or HTTPS proxy at a URL map.
	SetURLMap(ctx context.Context, kind Kind, proxy, urlMap, requestID string) (*computepb.Operation, error)
	SetSSLCertificates(ctx context.Context, proxy string, certificates []string, requestID string) (*computepb.Operation, error)
	SetSSLPolicy(ctx context.Context, proxy, policy, requestID string) (*computepb.Operation, error)
	SetTarget(ctx context.Context, forwardingRule, target, requestID string) (*computepb.Operation, error)
	// The rule methods take no requestId in the API; a retried AddRule
	// that already landed fails as a duplicate priority and is reconciled
	// by reading the policy again.
	AddRule(ctx context.Context, policy string, rule *computepb.SecurityPolicyRule) (*computepb.Operation, error)
	PatchRule(ctx context.Context, policy string, rule *computepb.SecurityPolicyRule) (*computepb.Operation, error)
	RemoveRule(ctx context.Context, policy string, priority int32) (*computepb.Operation, error)

	GetHealth(ctx context.Context, backendService, group string) (*computepb.BackendServiceGroupHealth, error)
	// WaitOperation is globalOperations.wait: it returns the operation when
	// it is DONE or after the server's own limit (about two minutes).
	WaitOperation(ctx context.Context, name string) (*computepb.Operation, error)
	// Quotas returns the project's quotas (projects.get).
	Quotas(ctx context.Context) ([]*computepb.Quota, error)
	// Instances lists the project's VM instances matching a filter, in
	// every zone.
	Instances(ctx context.Context, filter string) ([]*computepb.Instance, error)
}

// computeBase is how Compute writes links in the objects it returns.
const computeBase = "https://www.googleapis.com/compute/v1/"

// globalLink is a global object's link in Google's form.
func globalLink(project string, kind Kind, name string) string {
	return computeBase + "projects/" + project + "/global/" + string(kind) + "/" + name
}

// negLink is a zonal network endpoint group's link.
func negLink(project, zone, name string) string {
	return computeBase + "projects/" + project + "/zones/" + zone + "/networkEndpointGroups/" + name
}

// linkName is the last path segment of a link (or the name itself).
func linkName(link string) string {
	return link[strings.LastIndex(link, "/")+1:]
}

// sameLink compares links by what they point at: Compute answers
// https://www.googleapis.com/compute/v1/ links (sometimes .../beta/) and
// accepts relative ones, so the part from "projects/" on is what counts.
func sameLink(a, b string) bool {
	return relLink(a) == relLink(b)
}

func relLink(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}
