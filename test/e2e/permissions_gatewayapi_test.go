//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// gatewayAPIKinds are the Gateway API objects meshctl makes, for kubectl.
const gatewayAPIKinds = "gateways.gateway.networking.k8s.io,httproutes,healthcheckpolicies,gcpbackendpolicies,gcpgatewaypolicies"

// certManagerMutations are the mutating Certificate Manager calls logged
// since the last reset (its fake keeps a log of its own, beside Compute's
// and the fleet's).
func certManagerMutations(tb testing.TB) []string {
	tb.Helper()
	return loggedMutations(tb, "/meshsim/certificatemanager/requests")
}

// loggedMutations are the mutating calls in the shared simulator's
// request log at path.
func loggedMutations(tb testing.TB, path string) []string {
	tb.Helper()
	var log struct {
		Requests []lbRequest `json:"requests"`
	}
	lbSimAPI(tb, http.MethodGet, path, nil, &log)
	var out []string
	for _, r := range log.Requests {
		if r.Mutation {
			out = append(out, r.HTTPMethod+" "+r.Path)
		}
	}
	return out
}

// refusedOnGatewayAPI is refused for Certificate Manager too: its fake's
// log holds no mutating call either.
func refusedOnGatewayAPI(t *testing.T, perm string, args ...string) {
	t.Helper()
	lbSimAPI(t, http.MethodDelete, "/meshsim/certificatemanager/requests", nil, nil)
	refused(t, perm, "project "+simProject, args...)
	if m := certManagerMutations(t); len(m) != 0 {
		t.Errorf("meshctl %s changed Certificate Manager before refusing: %v", strings.Join(args, " "), m)
	}
}

// expose --via gateway-api and its unexpose: the plan's Google permissions
// (Certificate Manager's map, Compute's address and policies) and its
// Kubernetes ones (the Gateway API objects, by SelfSubjectAccessReview)
// are checked before the first change. A caller missing one is refused
// with nothing changed, in the cluster or at Google; granted, the same
// command succeeds.
func TestPermissionsExposeViaGatewayAPI(t *testing.T) {
	ensureRevision(t, "asm-test-1")
	const ns, host = "e2e-perm-gwapi", "www.perm-gwapi.e2e.example.com"
	gwNamespace := ns + "-web-gateway"
	unexpose := []string{"unexpose", "svc", "web", "-n", ns}
	t.Cleanup(func() {
		lbRun(t, "", meshctlBin, unexpose...)
		lbRun(t, "", "kubectl", "delete", "namespace", ns, "--wait=false")
	})
	kubectlApply(t, webApp(ns, "asm-test-1", 1))
	expose := []string{"expose", "svc", "web", "-n", ns, "--host", host, "--via", "gateway-api"}

	// The dry run lists what the plan needs, the Gateway's pieces among it.
	dry := succeeds(t, append(expose, "--dry-run", "-o", "json")...)
	var plan struct {
		Permissions struct {
			Permissions []struct {
				Permission string `json:"permission"`
				Project    string `json:"project"`
				Kubernetes *struct {
					Verb, Group, Resource, Namespace string
				} `json:"kubernetes"`
				Status string `json:"status"`
			} `json:"permissions"`
		} `json:"permissions"`
	}
	if err := json.Unmarshal([]byte(dry.Stdout), &plan); err != nil {
		t.Fatalf("%v\n%s", err, dry.Stdout)
	}
	var listed []string
	for _, p := range plan.Permissions.Permissions {
		if p.Status != "held" {
			t.Errorf("dry run: %+v is %s for a caller holding everything", p, p.Status)
		}
		if k := p.Kubernetes; k != nil {
			listed = append(listed, k.Verb+" "+k.Resource+"."+k.Group)
		} else {
			listed = append(listed, p.Permission)
		}
	}
	for _, want := range []string{"certificatemanager.certmaps.create", "certificatemanager.certs.create", "certificatemanager.certmapentries.create",
		"certificatemanager.certs.use", "certificatemanager.operations.get", "compute.globalAddresses.create", "compute.sslPolicies.create",
		"compute.securityPolicies.create", "create gateways.gateway.networking.k8s.io", "create httproutes.gateway.networking.k8s.io",
		"create healthcheckpolicies.networking.gke.io", "create gcpbackendpolicies.networking.gke.io", "create gcpgatewaypolicies.networking.gke.io",
		"create deployments.apps"} {
		if !slices.Contains(listed, want) {
			t.Errorf("the dry run's permissions lack %s: %v", want, listed)
		}
	}

	// Certificate Manager's map may not be made: an administrator sees it
	// with check --permissions, without a plan; expose is refused before
	// the mesh gateway, the Gateway API objects, the address or the map.
	iamDeny(t, "", "certificatemanager.certmaps.create")
	check := lbRun(t, "", meshctlBin, "check", "--permissions", "--for", "expose-gateway-api,unexpose-gateway-api", "-o", "json")
	var declared struct {
		Commands []struct {
			Command string `json:"command"`
			Missing int    `json:"missing"`
			Grants  []struct {
				Commands []string `json:"commands"`
			} `json:"grants"`
		} `json:"commands"`
	}
	if err := json.Unmarshal([]byte(check.Stdout), &declared); check.Code != 3 || err != nil || len(declared.Commands) != 2 {
		t.Fatalf("check --permissions: exit %d, %v\n%s%s", check.Code, err, check.Stdout, check.Stderr)
	}
	if c := declared.Commands[0]; c.Missing != 1 || len(c.Grants) != 1 || !strings.Contains(strings.Join(c.Grants[0].Commands, " "), "--role=roles/certificatemanager.editor") {
		t.Errorf("check --permissions --for expose-gateway-api: %+v", c)
	}
	if c := declared.Commands[1]; c.Missing != 0 {
		t.Errorf("check --permissions --for unexpose-gateway-api misses what only expose needs: %+v", c)
	}
	refusedOnGatewayAPI(t, "certificatemanager.certmaps.create", expose...)
	if made := exposeVersions(t, "app.kubernetes.io/managed-by=meshctl,meshctl.io/service-namespace="+ns); len(made) != 0 {
		t.Errorf("the refused expose created the mesh gateway's objects: %v", made)
	}
	if exists(t, "namespace", gwNamespace) {
		t.Errorf("the refused expose created namespace %s", gwNamespace)
	}
	iamChange(t, "grant", "", "certificatemanager.certmaps.create")
	succeeds(t, expose...)
	gateways := func() string {
		return strings.TrimSpace(kubectl(t, "get", gatewayAPIKinds, "-n", gwNamespace, "-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name"))
	}
	made := gateways()
	if strings.Count(made, "\n") < 4 {
		t.Fatalf("after expose, the Gateway API objects are %q", made)
	}

	// unexpose may not delete the hosts' certificates: its dry run lists
	// the permission missing; the unexpose is refused before the route goes.
	iamDeny(t, "", "certificatemanager.certs.delete")
	if r := succeeds(t, append(unexpose, "--dry-run")...); !strings.Contains(r.Stdout, "1 missing") || !strings.Contains(r.Stdout, "certificatemanager.certs.delete") {
		t.Errorf("unexpose --dry-run does not list the missing permission:\n%s", r.Stdout)
	}
	refusedOnGatewayAPI(t, "certificatemanager.certs.delete", unexpose...)
	if left := gateways(); left != made {
		t.Errorf("the refused unexpose changed the Gateway API objects: %q, was %q", left, made)
	}
	iamChange(t, "grant", "", "certificatemanager.certs.delete")

	// A Kubernetes identity that may delete everything but the Service's
	// HTTPRoute (the Gateway's redirect route it may delete, by name) is
	// refused, named by the SelfSubjectAccessReview that denied it; with
	// the delete granted, the same identity unexposes.
	env, setRules := limitedKube(t, "e2e-perm-gwapi")
	rules := func(routes string) string {
		return `- {apiGroups: ["", apps, policy, autoscaling, networking.istio.io, security.istio.io, networking.k8s.io, rbac.authorization.k8s.io, networking.gke.io], resources: ["*"], verbs: [delete]}
- {apiGroups: [gateway.networking.k8s.io], resources: [gateways], verbs: [delete]}
- {apiGroups: [gateway.networking.k8s.io], resources: [httproutes], verbs: [delete]` + routes + `}`
	}
	setRules(rules(", resourceNames: [web-edge-http-redirect]"))
	lbResetRequests(t)
	kubeRefused(t, env, "delete httproutes.gateway.networking.k8s.io web-gateway in namespace "+gwNamespace, unexpose...)
	if left := gateways(); left != made {
		t.Errorf("the refused unexpose changed the Gateway API objects: %q, was %q", left, made)
	}
	if m := append(googleMutations(t), certManagerMutations(t)...); len(m) != 0 {
		t.Errorf("the refused unexpose changed Google resources: %v", m)
	}
	setRules(rules(""))
	if r := runEnv(t, env, "", meshctlBin, unexpose...); r.Code != 0 {
		t.Fatalf("unexpose with the permissions: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if left := strings.TrimSpace(kubectl(t, "get", gatewayAPIKinds, "-A", "-l", "app.kubernetes.io/managed-by=meshctl", "-o", "name")); left != "" {
		t.Errorf("Gateway API objects left after unexpose: %s", left)
	}
}
