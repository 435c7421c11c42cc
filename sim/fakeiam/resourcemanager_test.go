package fakeiam_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crmv3 "google.golang.org/api/cloudresourcemanager/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/meshctl/meshctl/sim/fakeiam"
)

// rmEnv is the fake Resource Manager on a test server, with Google's own
// REST clients for v1 and v3 pointed at it.
type rmEnv struct {
	policy *fakeiam.Policy
	rm     *fakeiam.Server
	url    string
	v1     *crmv1.Service
	v3     *crmv3.Service
}

func newRMEnv(t *testing.T, cfg fakeiam.Config) *rmEnv {
	t.Helper()
	policy := newPolicy(t, cfg)
	rm := fakeiam.NewServer(policy, fakeiam.Project{ID: project, Number: number})
	hs := httptest.NewServer(rm.Wrap(http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	ctx := context.Background()
	o := []option.ClientOption{option.WithEndpoint(hs.URL), option.WithoutAuthentication()}
	v1, err := crmv1.NewService(ctx, o...)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := crmv3.NewService(ctx, o...)
	if err != nil {
		t.Fatal(err)
	}
	return &rmEnv{policy: policy, rm: rm, url: hs.URL, v1: v1, v3: v3}
}

func (e *rmEnv) test(version, resource string, perms ...string) ([]string, error) {
	if version == "v1" {
		resp, err := e.v1.Projects.TestIamPermissions(resource, &crmv1.TestIamPermissionsRequest{Permissions: perms}).Do()
		if err != nil {
			return nil, err
		}
		return resp.Permissions, nil
	}
	resp, err := e.v3.Projects.TestIamPermissions("projects/"+resource, &crmv3.TestIamPermissionsRequest{Permissions: perms}).Do()
	if err != nil {
		return nil, err
	}
	return resp.Permissions, nil
}

func TestTestIamPermissions(t *testing.T) {
	e := newRMEnv(t, fakeiam.Config{
		Projects: []fakeiam.Project{{ID: host, Number: "222222222222"}},
		Principals: map[string]fakeiam.Grant{fakeiam.DefaultPrincipal: {
			Permissions: fakeiam.Permissions{Deny: []string{"compute.securityPolicies.create"}},
			Projects:    map[string]fakeiam.Permissions{host: {Deny: []string{"compute.subnetworks.use"}}},
		}},
	})
	asked := []string{"compute.backendServices.create", "compute.securityPolicies.create", "compute.subnetworks.use",
		"compute.sslCertificates.use", "storage.buckets.get", "compute.backendServices.create"}
	for _, version := range []string{"v1", "v3"} {
		for _, tc := range []struct {
			project string
			want    []string
		}{
			{project, []string{"compute.backendServices.create", "compute.subnetworks.use", "storage.buckets.get"}},
			{number, []string{"compute.backendServices.create", "compute.subnetworks.use", "storage.buckets.get"}},
			// The Shared VPC host also denies compute.subnetworks.use.
			{host, []string{"compute.backendServices.create", "storage.buckets.get"}},
		} {
			got, err := e.test(version, tc.project, asked...)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %s: %v %v, want %v", version, tc.project, got, err, tc.want)
			}
		}
		if got, err := e.test(version, project, "compute.securityPolicies.create"); err != nil || len(got) != 0 {
			t.Errorf("%s: nothing held: %v %v", version, got, err)
		}
		for _, bad := range []string{"compute.firewall.create", "compute.*", "resourcemanager.projects.create", "nonsense"} {
			_, err := e.test(version, project, "compute.backendServices.create", bad)
			wantAPIError(t, err, 400, "badRequest", "Request contains an invalid argument.")
		}
		_, err := e.test(version, "no-such-project", "compute.backendServices.create")
		wantAPIError(t, err, 403, "forbidden", "The caller does not have permission")
	}
}

// TestTestIamPermissionsWire checks what the Go GAPIC client
// (cloud.google.com/go/resourcemanager/apiv3) sends and reads: the
// $alt=json;enum-encoding=int query, a project number, and an empty
// answer as {}.
func TestTestIamPermissionsWire(t *testing.T) {
	e := newRMEnv(t, fakeiam.Config{Principals: map[string]fakeiam.Grant{
		fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Deny: []string{"container.clusters.update"}}}}})
	status, body := post(t, e.url+"/v3/projects/"+number+":testIamPermissions?$alt=json;enum-encoding=int", "",
		`{"permissions":["container.clusters.update"]}`)
	if status != 200 || strings.TrimSpace(body) != "{}" {
		t.Errorf("none held: %d %s, want 200 {}", status, body)
	}
	status, body = post(t, e.url+"/v3/projects/"+number+":testIamPermissions?$alt=json;enum-encoding=int", "",
		`{"permissions":["container.clusters.get","container.clusters.update"]}`)
	var got struct{ Permissions []string }
	if status != 200 || json.Unmarshal([]byte(body), &got) != nil || !reflect.DeepEqual(got.Permissions, []string{"container.clusters.get"}) {
		t.Errorf("%d %s", status, body)
	}
	if status, _ := post(t, e.url+"/v3/projects/"+project+":getIamPolicy", "", `{}`); status != 404 {
		t.Errorf("another method: %d, want 404", status)
	}
	if n := e.rm.Requests().ByMethod["cloudresourcemanager.projects.testIamPermissions"]; n != 2 {
		t.Errorf("request log counts %d testIamPermissions, want 2", n)
	}
}

func TestTestIamPermissionsKnobs(t *testing.T) {
	e := newRMEnv(t, fakeiam.Config{Principals: map[string]fakeiam.Grant{
		fakeiam.DefaultPrincipal: {Permissions: fakeiam.Permissions{Deny: []string{"compute.firewalls.create"}}}}})
	perms := []string{"compute.firewalls.create", "compute.firewalls.get", "compute.networks.updatePolicy"}

	// Chunks: a client sending at most the limit gets its answers.
	setKnobs(t, e.url, `{"maxPermissionsPerRequest": 2}`)
	_, err := e.test("v3", project, perms...)
	wantAPIError(t, err, 400, "badRequest", "Request contains an invalid argument.")
	var held []string
	for _, chunk := range [][]string{perms[:2], perms[2:]} {
		got, err := e.test("v3", project, chunk...)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, got...)
	}
	if want := []string{"compute.firewalls.get", "compute.networks.updatePolicy"}; !reflect.DeepEqual(held, want) {
		t.Errorf("chunked: %v, want %v", held, want)
	}

	// Fail-open: the answer says held, the policy still denies.
	setKnobs(t, e.url, `{"maxPermissionsPerRequest": 0, "failOpen": true}`)
	if got, err := e.test("v1", project, perms...); err != nil || !reflect.DeepEqual(got, perms) {
		t.Errorf("fail-open: %v %v, want every permission", got, err)
	}
	if e.policy.Holds(fakeiam.DefaultPrincipal, project, "compute.firewalls.create") {
		t.Error("fail-open changed the policy")
	}

	// The API disabled in the quota project.
	setKnobs(t, e.url, `{"failOpen": false, "resourceManagerDisabled": true}`)
	for _, version := range []string{"v1", "v3"} {
		_, err := e.test(version, project, perms...)
		var ae *googleapi.Error
		if !errors.As(err, &ae) || ae.Code != 403 || len(ae.Errors) != 1 || ae.Errors[0].Reason != "accessNotConfigured" ||
			!strings.HasPrefix(ae.Message, "Cloud Resource Manager API has not been used in project "+number+" before or it is disabled.") {
			t.Errorf("%s disabled: %v", version, err)
		}
	}
	_, body := post(t, e.url+"/v3/projects/"+project+":testIamPermissions", "", `{"permissions":[]}`)
	for _, want := range []string{`"status": "PERMISSION_DENIED"`, `"reason": "SERVICE_DISABLED"`,
		`"activationUrl": "https://console.developers.google.com/apis/api/cloudresourcemanager.googleapis.com/overview?project=` + number + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("accessNotConfigured body lacks %s:\n%s", want, body)
		}
	}
}

func TestTestIamPermissionsPrincipals(t *testing.T) {
	const ci = "serviceAccount:ci@meshsim-project.iam.gserviceaccount.com"
	e := newRMEnv(t, fakeiam.Config{Principals: map[string]fakeiam.Grant{
		ci: {Permissions: fakeiam.Permissions{Allow: []string{"container.clusters.get"}}}}})
	url := e.url + "/v1/projects/" + project + ":testIamPermissions"
	const asked = `{"permissions":["container.clusters.get","container.clusters.update"]}`
	if status, body := post(t, url, ci, asked); status != 200 || !strings.Contains(body, "container.clusters.get") || strings.Contains(body, "update") {
		t.Errorf("as %s: %d %s", ci, status, body)
	}
	if status, body := post(t, url, "", asked); status != 200 || !strings.Contains(body, "container.clusters.update") {
		t.Errorf("as the default caller: %d %s", status, body)
	}
	if status, body := post(t, url, "user:typo@example.com", asked); status != 401 || !strings.Contains(body, "UNAUTHENTICATED") {
		t.Errorf("an unknown principal: %d %s", status, body)
	}
}

func post(t *testing.T, url, principal, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if principal != "" {
		req.Header.Set("Authorization", "Bearer "+principal)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func setKnobs(t *testing.T, url, knobs string) {
	t.Helper()
	if status, body := post(t, url+"/meshsim/iam/knobs", "", knobs); status != 200 {
		t.Fatalf("knobs: %d %s", status, body)
	}
}

func wantAPIError(t *testing.T, err error, code int, reason, message string) {
	t.Helper()
	var ae *googleapi.Error
	if !errors.As(err, &ae) || ae.Code != code || ae.Message != message || len(ae.Errors) != 1 || ae.Errors[0].Reason != reason {
		t.Errorf("got %v, want %d %s %q", err, code, reason, message)
	}
}
