package preflight

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/meshctl/meshctl/pkg/plan"
)

// Google resources are named in changes by their full resource names, as
// Cloud Asset Inventory and IAM conditions name them:
// //compute.googleapis.com/projects/p/global/backendServices/bs,
// //gkehub.googleapis.com/projects/p/locations/global/features/servicemesh.
// The name says the API, the project the permission is checked in, and the
// collection, which is what IAM's permission names are made of.

// ComputeName is the full name of a Compute resource; scope is "global",
// "regions/REGION" or "zones/ZONE".
func ComputeName(project, scope, collection, name string) string {
	return "//compute.googleapis.com/projects/" + project + "/" + scope + "/" + collection + "/" + name
}

// GoogleName is the full name of a resource of another Google API, from its
// relative name: GoogleName("gkehub", "projects/p/locations/global/features/servicemesh").
func GoogleName(service, relative string) string {
	return "//" + service + ".googleapis.com/" + relative
}

// googleName is a full resource name, parsed.
type googleName struct {
	service string   // compute, gkehub, serviceusage, container, cloudresourcemanager
	project string   // the project the permission is checked in
	rest    []string // the segments after projects/PROJECT
}

func parseGoogleName(s string) (googleName, bool) {
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		return googleName{}, false
	}
	host, path, ok := strings.Cut(rest, "/")
	service, isGoogle := strings.CutSuffix(host, ".googleapis.com")
	if !ok || !isGoogle {
		return googleName{}, false
	}
	segs := strings.Split(path, "/")
	if len(segs) < 2 || segs[0] != "projects" || segs[1] == "" {
		return googleName{}, false
	}
	return googleName{service: service, project: segs[1], rest: segs[2:]}, true
}

// computeRef is a Compute resource: its method collection as IAM names it
// (globalAddresses, regionBackendServices, networkEndpointGroups) and scope.
type computeRef struct {
	project    string
	scope      string // global, regions/r, zones/z
	collection string // as in URLs: addresses, backendServices
	iam        string // as in permissions: globalAddresses, backendServices
}

// computeGlobalNames are the global collections whose permissions carry a
// "global" prefix (compute.globalAddresses.create).
var computeGlobalNames = map[string]string{
	"addresses": "globalAddresses", "forwardingRules": "globalForwardingRules",
	"networkEndpointGroups": "globalNetworkEndpointGroups", "operations": "globalOperations",
	"publicDelegatedPrefixes": "globalPublicDelegatedPrefixes",
}

// computeRegionalPlain are the regional collections whose permissions have
// no "region" prefix (compute.subnetworks.use, compute.addresses.create).
var computeRegionalPlain = map[string]bool{
	"addresses": true, "forwardingRules": true, "subnetworks": true, "routers": true, "targetPools": true,
	"networkAttachments": true, "serviceAttachments": true, "resourcePolicies": true,
}

func parseComputeName(n googleName) (computeRef, bool) {
	r := computeRef{project: n.project}
	var tail []string
	switch {
	case len(n.rest) == 3 && n.rest[0] == "global":
		r.scope, tail = "global", n.rest[1:]
	case len(n.rest) == 4 && (n.rest[0] == "regions" || n.rest[0] == "zones"):
		r.scope, tail = n.rest[0]+"/"+n.rest[1], n.rest[2:]
	default:
		return r, false
	}
	r.collection = tail[0]
	r.iam = computeIAMName(r.scope, r.collection)
	return r, true
}

func computeIAMName(scope, collection string) string {
	switch {
	case scope == "global":
		if g, ok := computeGlobalNames[collection]; ok {
			return g
		}
	case strings.HasPrefix(scope, "regions/") && !computeRegionalPlain[collection]:
		return "region" + strings.ToUpper(collection[:1]) + collection[1:]
	case strings.HasPrefix(scope, "zones/") && collection == "operations":
		return "zoneOperations"
	}
	return collection
}

func (r computeRef) perm(verb string) string { return "compute." + r.iam + "." + verb }

// operations is the permission that reads the operation a mutation in
// this scope starts (meshctl waits for each one).
func (r computeRef) operations() string {
	switch {
	case strings.HasPrefix(r.scope, "regions/"):
		return "compute.regionOperations.get"
	case strings.HasPrefix(r.scope, "zones/"):
		return "compute.zoneOperations.get"
	}
	return "compute.globalOperations.get"
}

// computeSetters are the fields Compute changes through a method of their
// own rather than update or patch (its API reference); each method has a
// permission of the same name.
var computeSetters = map[string]map[string]string{
	"targetHttpsProxies": {"urlMap": "setUrlMap", "sslCertificates": "setSslCertificates", "sslPolicy": "setSslPolicy",
		"certificateMap": "setCertificateMap", "quicOverride": "setQuicOverride"},
	"targetHttpProxies":     {"urlMap": "setUrlMap"},
	"globalForwardingRules": {"target": "setTarget", "labels": "setLabels"},
	"forwardingRules":       {"target": "setTarget", "labels": "setLabels"},
	"backendServices":       {"securityPolicy": "setSecurityPolicy", "edgeSecurityPolicy": "setEdgeSecurityPolicy"},
}

// computePatchedToo are set-method fields meshctl also writes with a
// patch: pkg/lb gives an HTTPS proxy its certificates with a patch that
// carries the fingerprint (so concurrent runs cannot undo each other), and
// Google authorizes a patch with the kind's update permission.
var computePatchedToo = map[string]map[string]bool{"targetHttpsProxies": {"sslCertificates": true}}

// computeReplaced are kinds whose other fields cannot change in place:
// meshctl deletes and creates them again.
var computeReplaced = map[string]bool{"globalForwardingRules": true, "forwardingRules": true}

// computeUseVerbs are the permissions Google checks on a resource another
// one refers to where that is not "use" (managed-mesh-and-iam.md B2; GKE
// autoneg's minimal role): health checks are read, and a proxy reads its
// certificates with .get, since compute.sslCertificates.use is in no role.
var computeUseVerbs = map[string]string{
	"healthChecks": "useReadOnly", "regionHealthChecks": "useReadOnly",
	"httpHealthChecks": "useReadOnly", "httpsHealthChecks": "useReadOnly",
	"sslCertificates": "get", "regionSslCertificates": "get",
}

// heldByNoRole exist, so testIamPermissions accepts them, but no
// predefined role grants them: asking would report them missing for every
// caller (B1). Google checks neither when a resource refers to one.
var heldByNoRole = map[string]bool{
	"compute.sslCertificates.use":       true,
	"compute.globalForwardingRules.use": true,
}

// computeNeeds are the permissions one Compute change needs: the method's
// own on the resource, use of what it refers to (in that resource's
// project: a Shared VPC network is the host project's), and reading the
// operation it starts.
func computeNeeds(c plan.Change, r computeRef, add func(perm, project string)) {
	if c.Action == plan.Read {
		// A read starts no operation and refers to nothing.
		add(r.perm("get"), r.project)
		return
	}
	verbs := computeVerbs(c, r)
	if len(verbs) == 0 {
		return
	}
	for _, v := range verbs {
		add(r.perm(v), r.project)
	}
	add(r.operations(), r.project)
	if c.Action == plan.Delete {
		return
	}
	for _, link := range c.Uses {
		n, ok := parseGoogleName(link)
		if !ok || n.service != "compute" {
			if ok && n.service == "certificatemanager" {
				add("certificatemanager.certmaps.use", n.project)
			}
			continue
		}
		ref, ok := parseComputeName(n)
		if !ok {
			continue
		}
		for _, p := range computeUse(r, ref) {
			if !heldByNoRole[p] {
				add(p, ref.project)
			}
		}
	}
}

// computeVerbs are the method permissions of a change on r.
func computeVerbs(c plan.Change, r computeRef) []string {
	switch c.Action {
	case plan.Create:
		return []string{"create"}
	case plan.Delete:
		return []string{"delete"}
	case plan.Update:
	default:
		return nil
	}
	setters := computeSetters[r.iam]
	var verbs []string
	plain := len(c.Fields) == 0
	for _, f := range c.Fields {
		switch v, ok := setters[f]; {
		case ok:
			verbs = append(verbs, v)
			plain = plain || computePatchedToo[r.iam][f]
		case computeReplaced[r.iam]:
			verbs = append(verbs, "delete", "create")
		default:
			plain = true
		}
	}
	if plain {
		verbs = append(verbs, "update")
	}
	// An update reads the object first (read-modify-write, or to see
	// which set method is due).
	verbs = append(verbs, "get")
	slices.Sort(verbs)
	return slices.Compact(verbs)
}

// computeUse is what referring from r to ref needs: a backend service is
// given its Cloud Armor policy with setSecurityPolicy, a firewall rule
// changes its network's policy, the rest use what they name.
func computeUse(r, ref computeRef) []string {
	switch {
	case ref.iam == "securityPolicies" && r.iam == "backendServices":
		return []string{"compute.backendServices.setSecurityPolicy", "compute.securityPolicies.use"}
	case ref.iam == "networks" && r.iam == "firewalls":
		return []string{"compute.networks.updatePolicy"}
	}
	verb := "use"
	if v, ok := computeUseVerbs[ref.iam]; ok {
		verb = v
	}
	return []string{ref.perm(verb)}
}

// ComputeLinks finds the Compute resources a request body refers to: every
// string in body (JSON) that is a link to one, as a full name. A link is a
// URL (https://compute.googleapis.com/compute/v1/projects/...), a relative
// name (projects/p/global/healthChecks/hc), or one relative to project
// (global/networks/default); bare names are not links.
func ComputeLinks(body []byte, project string) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	found := map[string]bool{}
	walkStrings(v, "", func(field, s string) {
		if field == "selfLink" || field == "name" || field == "description" {
			return
		}
		if name, ok := computeLinkName(s, project); ok {
			found[name] = true
		}
	})
	return slices.Sorted(maps.Keys(found))
}

func walkStrings(v any, field string, visit func(field, s string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			walkStrings(x, k, visit)
		}
	case []any:
		for _, x := range t {
			walkStrings(x, field, visit)
		}
	case string:
		visit(field, t)
	}
}

// computeLinkName reads a Compute link in any form clients send.
func computeLinkName(s, project string) (string, bool) {
	if i := strings.Index(s, "://"); i >= 0 {
		j := strings.Index(s[i+3:], "/")
		if j < 0 {
			return "", false
		}
		path := s[i+3+j+1:]
		var ok bool
		for _, v := range []string{"compute/v1/", "compute/beta/", "compute/alpha/"} {
			if rest, found := strings.CutPrefix(path, v); found {
				path, ok = rest, true
				break
			}
		}
		if !ok {
			return "", false
		}
		s = path
	}
	segs := strings.Split(strings.Trim(s, "/"), "/")
	if len(segs) >= 2 && segs[0] == "projects" {
		project, segs = segs[1], segs[2:]
	}
	var scope string
	switch {
	case len(segs) == 3 && segs[0] == "global":
		scope, segs = "global", segs[1:]
	case len(segs) == 4 && (segs[0] == "regions" || segs[0] == "zones"):
		scope, segs = segs[0]+"/"+segs[1], segs[2:]
	default:
		return "", false
	}
	if project == "" || segs[1] == "" || strings.ContainsAny(segs[1], " .") {
		return "", false
	}
	return ComputeName(project, scope, segs[0], segs[1]), true
}

// platformNeeds are the permissions of a change to a resource of the APIs
// built on Google's resource-oriented design (gkehub, serviceusage,
// container, cloudresourcemanager): service.collection.verb, where the
// collection is the last one in the name.
func platformNeeds(c plan.Change, n googleName, add func(perm, project string)) {
	verb := map[plan.Action]string{plan.Create: "create", plan.Update: "update", plan.Delete: "delete"}[c.Action]
	if verb == "" {
		return
	}
	switch n.service {
	case "serviceusage":
		// projects/p/services/NAME: enabling is "create", disabling "delete".
		if verb == "delete" {
			add("serviceusage.services.disable", n.project)
		} else {
			add("serviceusage.services.enable", n.project)
		}
		add("serviceusage.operations.get", n.project)
		return
	case "cloudresourcemanager":
		// The project itself: its IAM policy is read, changed and written.
		add("resourcemanager.projects.getIamPolicy", n.project)
		add("resourcemanager.projects.setIamPolicy", n.project)
		return
	case "meshconfig":
		// projects/p: its initialization (asmcli's POST
		// v1alpha1/projects/p:initialize), which has one permission.
		add("meshconfig.projects.init", n.project)
		return
	}
	collection := platformCollection(n)
	if collection == "" {
		return
	}
	if n.service == "certificatemanager" {
		certificateManagerNeeds(c, n, collection, verb, add)
		return
	}
	add(n.service+"."+collection+"."+verb, n.project)
	switch n.service {
	case "gkehub":
		add("gkehub.operations.get", n.project)
	case "container":
		add("container.operations.get", n.project)
	}
}

// certificateManagerResources are Certificate Manager's collections as
// its permissions name them (certificatemanager.certs.create,
// certificatemanager.certmapentries.create; roles/certificatemanager.editor).
var certificateManagerResources = map[string]string{
	"certificates": "certs", "certificateMaps": "certmaps", "certificateMapEntries": "certmapentries",
	"dnsAuthorizations": "dnsauthorizations",
}

// certificateManagerNeeds are a Certificate Manager change's permissions:
// the method's, reading its operation (meshctl waits for each), and the
// use of what the written object names (an entry's certificates, a
// certificate's DNS authorizations), in their own project.
func certificateManagerNeeds(c plan.Change, n googleName, collection, verb string, add func(perm, project string)) {
	short, ok := certificateManagerResources[collection]
	if !ok {
		return
	}
	add("certificatemanager."+short+"."+verb, n.project)
	add("certificatemanager.operations.get", n.project)
	if c.Action == plan.Delete {
		return
	}
	for _, link := range c.Uses {
		u, ok := parseGoogleName(link)
		if !ok || u.service != "certificatemanager" {
			continue
		}
		if s, ok := certificateManagerResources[platformCollection(u)]; ok {
			add("certificatemanager."+s+".use", u.project)
		}
	}
}

// platformCollection is the IAM resource of a name: its last collection
// (projects/p/locations/l/memberships/m → memberships), with gkehub v2's
// membership features (memberships/m/features/f) as membershipfeatures.
func platformCollection(n googleName) string {
	rest := n.rest
	if len(rest) >= 2 && rest[0] == "locations" || len(rest) >= 2 && rest[0] == "zones" {
		rest = rest[2:]
	}
	if n.service == "gkehub" && len(rest) == 4 && rest[0] == "memberships" && rest[2] == "features" {
		return "membershipfeatures"
	}
	if len(rest) < 2 {
		return ""
	}
	return rest[len(rest)-2]
}
