package lb

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// maxNameLen is Compute's limit on resource names (RFC 1035 labels).
const maxNameLen = 63

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// shortHash is 8 hex digits of SHA-256 over the parts.
func shortHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:4])
}

// resourceName builds a Compute name "<base>-<suffix>": lower case, RFC 1035,
// at most 63 characters. When base must be shortened, its tail gives way to a
// hash of key (everything the name stands for), so two long names that share
// a prefix still differ.
func resourceName(base, suffix string, key ...string) string {
	base = strings.Trim(nonName.ReplaceAllString(strings.ToLower(base), "-"), "-")
	base = strings.Join(strings.FieldsFunc(base, func(r rune) bool { return r == '-' }), "-")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "mc-" + base
	}
	name := base + "-" + suffix
	if len(name) <= maxNameLen {
		return name
	}
	h := shortHash(append(key, base)...)
	keep := maxNameLen - len(suffix) - len(h) - 2
	return strings.TrimRight(base[:keep], "-") + "-" + h + "-" + suffix
}

// names are the resource names of one load balancer.
type names struct {
	project, lb string // lb: the key recorded in descriptions
	prefix      string
	key         []string
	cluster     string
}

// lbNames derives the load balancer's names: "mclb-<NAME>-..." for a shared
// load balancer, "mc-<cluster>-<namespace>-<service>-..." for a dedicated one.
func lbNames(spec Spec) names {
	if spec.LB != "" {
		return names{project: spec.Project, lb: spec.LB, prefix: "mclb-" + spec.LB, key: []string{spec.Project, "lb", spec.LB}, cluster: spec.Cluster}
	}
	sv := spec.Services[0]
	return names{
		project: spec.Project, lb: dedicatedLB(spec.Cluster, sv),
		prefix: "mc-" + spec.Cluster + "-" + sv.Namespace + "-" + sv.Name,
		key:    []string{spec.Project, spec.Cluster, sv.Namespace, sv.Name}, cluster: spec.Cluster,
	}
}

// dedicatedLB is the key a service's own load balancer is recorded under.
func dedicatedLB(cluster string, sv Service) string {
	return cluster + "/" + sv.Namespace + "/" + sv.Name
}

func (n names) of(suffix string) string { return resourceName(n.prefix, suffix, n.key...) }

func (n names) address() string     { return n.of("ip") }
func (n names) sslPolicy() string   { return n.of("ssl") }
func (n names) armor() string       { return n.of("armor") }
func (n names) urlMap() string      { return n.of("um") }
func (n names) httpsProxy() string  { return n.of("https") }
func (n names) httpsRule() string   { return n.of("fr-443") }
func (n names) redirectMap() string { return n.of("redirect") }
func (n names) httpProxy() string   { return n.of("http") }
func (n names) httpRule() string    { return n.of("fr-80") }
func (n names) certificate(domains []string) string {
	d := slices.Clone(domains)
	sort.Strings(d)
	return n.of("cert-" + shortHash(d...))
}

// Per-service names: they carry the cluster and the service, so a service
// is in at most one load balancer at a time.
func serviceBase(project, cluster string, sv Service) (string, []string) {
	return "mc-" + cluster + "-" + sv.Namespace + "-" + sv.Name, []string{project, cluster, sv.Namespace, sv.Name}
}

func (n names) backendService(sv Service) string {
	base, key := serviceBase(n.project, n.cluster, sv)
	return resourceName(base, "bs", key...)
}

func (n names) healthCheck(sv Service) string {
	base, key := serviceBase(n.project, n.cluster, sv)
	return resourceName(base, "hc", key...)
}

func (n names) firewall(sv Service) string {
	base, key := serviceBase(n.project, n.cluster, sv)
	return resourceName(base, "gfe", key...)
}
