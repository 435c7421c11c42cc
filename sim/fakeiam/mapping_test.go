package fakeiam_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/meshctl/meshctl/sim/fakeapi"
	"github.com/meshctl/meshctl/sim/fakegcp"
	"github.com/meshctl/meshctl/sim/fakehub"
	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
)

const (
	project = "meshsim-project" // scenario.Default()'s
	number  = "123456789012"
	host    = "host-project"                               // a Shared VPC host project
	link    = "http://127.0.0.1:9999/compute/v1/projects/" // as gcloud sends links to an endpoint override
)

// TestEveryServedRouteMapsToPermissions asks the fakes for every method
// they serve and fails for one the permission mapping does not resolve, or
// resolves to a permission Google does not have or no role grants. New
// collections and verbs in fakegcp and fakehub land here on their own.
func TestEveryServedRouteMapsToPermissions(t *testing.T) {
	gcp := fakegcp.New(scenario.Default(), fakegcp.Options{})
	hub := fakehub.New(gcp, fakehub.Options{})
	t.Cleanup(hub.Close)
	check := func(api fakeiam.API, routes []fakeapi.Route) {
		if len(routes) < 5 {
			t.Fatalf("%s: only %d routes found; the route listing is broken", api.Name, len(routes))
		}
		for _, rt := range routes {
			r := httptest.NewRequest(rt.HTTPMethod, rt.Path, nil)
			call, ok := api.Resolve(r, []byte(`{"name":"x"}`))
			if !ok || len(call.Checks) == 0 {
				t.Errorf("%s %s (%s): no permission", rt.HTTPMethod, rt.Path, rt.Method)
				continue
			}
			for _, c := range call.Checks {
				if err := fakeiam.Validate(c.Permission); err != nil || !fakeiam.Grantable(c.Permission) {
					t.Errorf("%s %s: %s: %v (grantable %v)", rt.HTTPMethod, rt.Path, c.Permission, err, fakeiam.Grantable(c.Permission))
				}
			}
			// fakegcp names aggregatedList after the global resource
			// (compute.globalAddresses.aggregatedList); Google, and the
			// mapping, after the regional one (compute.addresses.aggregatedList).
			if call.Method != rt.Method && !strings.Contains(rt.Path, "/aggregated/") {
				t.Errorf("%s %s: method %s, the fake logs %s", rt.HTTPMethod, rt.Path, call.Method, rt.Method)
			}
		}
	}
	var compute, container []fakeapi.Route
	for _, rt := range gcp.Routes() {
		if strings.HasPrefix(rt.Path, "/compute/") {
			compute = append(compute, rt)
		} else {
			container = append(container, rt)
		}
	}
	check(fakeiam.Compute, compute)
	check(fakeiam.Container, container)
	check(fakeiam.Fleet(project), hub.Routes())
}

type mapping struct {
	name, httpMethod, path, body string
	method                       string
	checks                       []string // "permission on resource [in project]"
}

func runMappings(t *testing.T, api fakeiam.API, cases []mapping) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			call, ok := api.Resolve(httptest.NewRequest(tc.httpMethod, tc.path, nil), []byte(tc.body))
			if !ok {
				t.Fatalf("%s %s: not resolved", tc.httpMethod, tc.path)
			}
			var got []string
			for _, c := range call.Checks {
				s := c.Permission + " on " + c.Resource
				if c.Project != project {
					s += " in " + c.Project
				}
				got = append(got, s)
			}
			if call.Method != tc.method || !reflect.DeepEqual(got, tc.checks) {
				t.Errorf("%s %s:\n got %s %q\nwant %s %q", tc.httpMethod, tc.path, call.Method, got, tc.method, tc.checks)
			}
		})
	}
}

func TestComputeMapping(t *testing.T) {
	const p = "/compute/v1/projects/" + project
	const g = "projects/" + project + "/global/"
	runMappings(t, fakeiam.Compute, []mapping{
		{"project", "GET", p, "", "compute.projects.get", []string{"compute.projects.get on projects/" + project}},
		{"list", "GET", p + "/global/healthChecks", "", "compute.healthChecks.list", []string{"compute.healthChecks.list on projects/" + project}},
		{"insert names the new resource", "POST", p + "/global/healthChecks", `{"name":"hc"}`, "compute.healthChecks.insert",
			[]string{"compute.healthChecks.create on " + g + "healthChecks/hc"}},
		{"backend service uses its health check read-only and its NEGs", "POST", p + "/global/backendServices",
			`{"name":"bs","healthChecks":["` + link + project + `/global/healthChecks/hc"],
			  "backends":[{"group":"https://www.googleapis.com/compute/v1/projects/` + project + `/zones/us-central1-a/networkEndpointGroups/neg"}]}`,
			"compute.backendServices.insert", []string{
				"compute.backendServices.create on " + g + "backendServices/bs",
				"compute.networkEndpointGroups.use on projects/" + project + "/zones/us-central1-a/networkEndpointGroups/neg",
				"compute.healthChecks.useReadOnly on " + g + "healthChecks/hc"}},
		{"update ignores what the API ignores", "PUT", p + "/global/backendServices/bs",
			`{"name":"bs","selfLink":"` + link + project + `/global/backendServices/bs","securityPolicy":"` + link + project + `/global/securityPolicies/sp",
			  "healthChecks":["global/healthChecks/hc"]}`,
			"compute.backendServices.update", []string{
				"compute.backendServices.update on " + g + "backendServices/bs",
				"compute.healthChecks.useReadOnly on " + g + "healthChecks/hc"}},
		{"attaching a security policy uses it", "POST", p + "/global/backendServices/bs/setSecurityPolicy",
			`{"securityPolicy":"` + link + project + `/global/securityPolicies/sp"}`, "compute.backendServices.setSecurityPolicy", []string{
				"compute.backendServices.setSecurityPolicy on " + g + "backendServices/bs",
				"compute.securityPolicies.use on " + g + "securityPolicies/sp"}},
		{"patch needs update and get", "PATCH", p + "/global/urlMaps/um",
			`{"defaultService":"projects/` + project + `/global/backendServices/bs","pathMatchers":[{"defaultService":"global/backendBuckets/bb"}]}`,
			"compute.urlMaps.patch", []string{
				"compute.urlMaps.update on " + g + "urlMaps/um", "compute.urlMaps.get on " + g + "urlMaps/um",
				"compute.backendServices.use on " + g + "backendServices/bs", "compute.backendBuckets.use on " + g + "backendBuckets/bb"}},
		{"global forwarding rule uses its proxy and address", "POST", p + "/global/forwardingRules",
			`{"name":"fr","target":"` + link + project + `/global/targetHttpsProxies/px","IPAddress":"` + link + project + `/global/addresses/ip"}`,
			"compute.globalForwardingRules.insert", []string{
				"compute.globalForwardingRules.create on " + g + "forwardingRules/fr",
				"compute.globalAddresses.use on " + g + "addresses/ip",
				"compute.targetHttpsProxies.use on " + g + "targetHttpsProxies/px"}},
		{"regional forwarding rule on a Shared VPC subnetwork", "POST", p + "/regions/us-central1/forwardingRules",
			`{"name":"ilb","backendService":"projects/` + project + `/regions/us-central1/backendServices/bs",
			  "subnetwork":"https://www.googleapis.com/compute/v1/projects/` + host + `/regions/us-central1/subnetworks/shared"}`,
			"compute.forwardingRules.insert", []string{
				"compute.forwardingRules.create on projects/" + project + "/regions/us-central1/forwardingRules/ilb",
				"compute.regionBackendServices.use on projects/" + project + "/regions/us-central1/backendServices/bs",
				"compute.subnetworks.use on projects/" + host + "/regions/us-central1/subnetworks/shared in " + host}},
		{"regional proxy", "POST", p + "/regions/us-central1/targetHttpProxies/px/setUrlMap",
			`{"urlMap":"regions/us-central1/urlMaps/um"}`, "compute.regionTargetHttpProxies.setUrlMap", []string{
				"compute.regionTargetHttpProxies.setUrlMap on projects/" + project + "/regions/us-central1/targetHttpProxies/px",
				"compute.regionUrlMaps.use on projects/" + project + "/regions/us-central1/urlMaps/um"}},
		{"HTTPS proxy reads its certificates", "POST", p + "/global/targetHttpsProxies",
			`{"name":"px","urlMap":"global/urlMaps/um","sslCertificates":["global/sslCertificates/c1","global/sslCertificates/c2"],
			  "sslPolicy":"global/sslPolicies/tls","certificateMap":"//certificatemanager.googleapis.com/projects/` + project + `/locations/global/certificateMaps/cm"}`,
			"compute.targetHttpsProxies.insert", []string{
				"compute.targetHttpsProxies.create on " + g + "targetHttpsProxies/px",
				"certificatemanager.certmaps.use on projects/" + project + "/locations/global/certificateMaps/cm",
				"compute.sslCertificates.get on " + g + "sslCertificates/c1", "compute.sslCertificates.get on " + g + "sslCertificates/c2",
				"compute.sslPolicies.use on " + g + "sslPolicies/tls", "compute.urlMaps.use on " + g + "urlMaps/um"}},
		{"setUrlMap outside global, as Google serves it", "POST", p + "/targetHttpsProxies/px/setUrlMap",
			`{"urlMap":"` + link + project + `/global/urlMaps/um"}`, "compute.targetHttpsProxies.setUrlMap", []string{
				"compute.targetHttpsProxies.setUrlMap on " + g + "targetHttpsProxies/px", "compute.urlMaps.use on " + g + "urlMaps/um"}},
		{"a firewall changes its network's policy", "POST", p + "/global/firewalls", `{"name":"fw","network":"global/networks/default"}`,
			"compute.firewalls.insert", []string{"compute.firewalls.create on " + g + "firewalls/fw", "compute.networks.updatePolicy on " + g + "networks/default"}},
		{"NEG on a network and subnetwork", "POST", p + "/zones/us-central1-a/networkEndpointGroups",
			`{"name":"neg","network":"global/networks/default","subnetwork":"regions/us-central1/subnetworks/default"}`,
			"compute.networkEndpointGroups.insert", []string{
				"compute.networkEndpointGroups.create on projects/" + project + "/zones/us-central1-a/networkEndpointGroups/neg",
				"compute.networks.use on " + g + "networks/default",
				"compute.subnetworks.use on projects/" + project + "/regions/us-central1/subnetworks/default"}},
		{"waiting reads the operation", "POST", p + "/global/operations/op-1/wait", "", "compute.globalOperations.wait",
			[]string{"compute.globalOperations.get on " + g + "operations/op-1"}},
		{"zonal operation", "GET", p + "/zones/us-central1-a/operations/op-2", "", "compute.zoneOperations.get",
			[]string{"compute.zoneOperations.get on projects/" + project + "/zones/us-central1-a/operations/op-2"}},
		{"listing endpoints reads the NEG", "POST", p + "/zones/us-central1-a/networkEndpointGroups/neg/listNetworkEndpoints", "",
			"compute.networkEndpointGroups.listNetworkEndpoints",
			[]string{"compute.networkEndpointGroups.get on projects/" + project + "/zones/us-central1-a/networkEndpointGroups/neg"}},
		{"aggregated list", "GET", p + "/aggregated/forwardingRules", "", "compute.forwardingRules.aggregatedList",
			[]string{"compute.forwardingRules.list on projects/" + project}},
		{"security policy rules", "POST", p + "/global/securityPolicies/sp/addRule", `{"priority":1}`, "compute.securityPolicies.addRule",
			[]string{"compute.securityPolicies.update on " + g + "securityPolicies/sp"}},
		{"labels on a global address", "POST", p + "/global/addresses/ip/setLabels", `{"labels":{"a":"b"}}`, "compute.globalAddresses.setLabels",
			[]string{"compute.globalAddresses.setLabels on " + g + "addresses/ip"}},
		{"regional kinds by rule", "DELETE", p + "/regions/us-central1/healthChecks/hc", "", "compute.regionHealthChecks.delete",
			[]string{"compute.regionHealthChecks.delete on projects/" + project + "/regions/us-central1/healthChecks/hc"}},
		{"zones", "GET", p + "/zones", "", "compute.zones.list", []string{"compute.zones.list on projects/" + project}},
	})
}

func TestContainerMapping(t *testing.T) {
	const p = "/v1/projects/" + project
	runMappings(t, fakeiam.Container, []mapping{
		{"list is on the project", "GET", p + "/locations/-/clusters", "", "container.projects.locations.clusters.list",
			[]string{"container.clusters.list on projects/" + project}},
		{"get", "GET", p + "/locations/us-central1/clusters/meshsim", "", "container.projects.locations.clusters.get",
			[]string{"container.clusters.get on projects/" + project + "/locations/us-central1/clusters/meshsim"}},
		{"zonal form", "PUT", p + "/zones/us-central1-a/clusters/c", `{"update":{}}`, "container.projects.zones.clusters.update",
			[]string{"container.clusters.update on projects/" + project + "/zones/us-central1-a/clusters/c"}},
		{"node pools are read with clusters.get", "GET", p + "/locations/us-central1/clusters/meshsim/nodePools", "",
			"container.projects.locations.clusters.nodePools.list",
			[]string{"container.clusters.get on projects/" + project + "/locations/us-central1/clusters/meshsim"}},
		{"custom verbs update the cluster", "POST", p + "/locations/us-central1/clusters/meshsim:setResourceLabels", `{}`,
			"container.projects.locations.clusters.setResourceLabels",
			[]string{"container.clusters.update on projects/" + project + "/locations/us-central1/clusters/meshsim"}},
		{"operation", "GET", p + "/locations/us-central1/operations/operation-1", "", "container.projects.locations.operations.get",
			[]string{"container.operations.get on projects/" + project + "/locations/us-central1/operations/operation-1"}},
	})
}

func TestFleetMapping(t *testing.T) {
	const p = "/v1/projects/" + project + "/locations/global"
	runMappings(t, fakeiam.Fleet(project), []mapping{
		{"memberships everywhere", "GET", "/v1/projects/" + project + "/locations/-/memberships", "",
			"gkehub.projects.locations.memberships.list", []string{"gkehub.memberships.list on projects/" + project + "/locations/-/memberships"}},
		{"feature patch", "PATCH", p + "/features/servicemesh", `{}`, "gkehub.projects.locations.features.patch",
			[]string{"gkehub.features.update on projects/" + project + "/locations/global/features/servicemesh"}},
		{"v2 membership feature", "PATCH", "/v2/projects/" + project + "/locations/us-central1/memberships/m/features/servicemesh", `{}`,
			"gkehub.projects.locations.memberships.features.patch",
			[]string{"gkehub.membershipfeatures.update on projects/" + project + "/locations/us-central1/memberships/m/features/servicemesh"}},
		{"operation", "GET", "/v2" + p[3:] + "/operations/operation-1-a-b-c", "", "gkehub.projects.locations.operations.get",
			[]string{"gkehub.operations.get on projects/" + project + "/locations/global/operations/operation-1-a-b-c"}},
		{"enable a service", "POST", "/v1/projects/" + project + "/services/mesh.googleapis.com:enable", `{}`, "serviceusage.services.enable",
			[]string{"serviceusage.services.enable on projects/" + project + "/services/mesh.googleapis.com"}},
		{"service usage operations name no project", "GET", "/v1/operations/acat.p2-1", "", "serviceusage.operations.get",
			[]string{"serviceusage.operations.get on operations/acat.p2-1"}},
	})
}

func TestCertificateManagerMapping(t *testing.T) {
	const p = "/v1/projects/" + project + "/locations/global"
	const r = "projects/" + project + "/locations/global"
	runMappings(t, fakeiam.CertificateManager, []mapping{
		{"create a certificate with a DNS authorization", "POST", p + "/certificates?certificateId=c",
			`{"managed":{"domains":["a.example.com"],"dnsAuthorizations":["` + r + `/dnsAuthorizations/a"]}}`,
			"certificatemanager.projects.locations.certificates.create", []string{
				"certificatemanager.certs.create on " + r + "/certificates",
				"certificatemanager.dnsauthorizations.use on " + r + "/dnsAuthorizations/a"}},
		{"map entry uses its certificates", "POST", p + "/certificateMaps/m/certificateMapEntries",
			`{"hostname":"a.example.com","certificates":["` + r + `/certificates/c"]}`,
			"certificatemanager.projects.locations.certificateMaps.certificateMapEntries.create", []string{
				"certificatemanager.certmapentries.create on " + r + "/certificateMaps/m/certificateMapEntries",
				"certificatemanager.certs.use on " + r + "/certificates/c"}},
		{"get a map", "GET", p + "/certificateMaps/m", "", "certificatemanager.projects.locations.certificateMaps.get",
			[]string{"certificatemanager.certmaps.get on " + r + "/certificateMaps/m"}},
		{"operation", "GET", p + "/operations/op", "", "certificatemanager.projects.locations.operations.get",
			[]string{"certificatemanager.operations.get on " + r + "/operations/op"}},
		{"where meshsim serves it (sim/fakecertmanager.Prefix)", "DELETE", "/certificatemanager" + p + "/certificates/c", "",
			"certificatemanager.projects.locations.certificates.delete", []string{"certificatemanager.certs.delete on " + r + "/certificates/c"}},
	})
	for _, path := range []string{"/v1/projects/p/locations/l/clusters", "/v1/projects/p/locations/l/memberships/m"} {
		if _, ok := fakeiam.CertificateManager.Resolve(httptest.NewRequest(http.MethodGet, path, nil), nil); ok {
			t.Errorf("%s resolved as Certificate Manager", path)
		}
	}
}
