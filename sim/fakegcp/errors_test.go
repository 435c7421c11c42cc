package fakegcp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func TestErrorsAsGoogleAnswersThem(t *testing.T) {
	e := newEnv(t, func(k *Knobs) { k.Quotas = map[string]float64{"SECURITY_POLICIES": 1} })
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP")}}))
	e.done(t)(e.sp.Insert(e.ctx, &computepb.InsertSecurityPolicyRequest{Project: project,
		SecurityPolicyResource: &computepb.SecurityPolicy{Name: proto.String("armor")}}))
	insertHC := func(name string) error {
		_, err := e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
			HealthCheckResource: &computepb.HealthCheck{Name: proto.String(name), Type: proto.String("TCP")}})
		return err
	}
	insertBS := func(healthCheck string) error {
		_, err := e.bs.Insert(e.ctx, &computepb.InsertBackendServiceRequest{Project: project,
			BackendServiceResource: &computepb.BackendService{Name: proto.String("bs"), HealthChecks: []string{healthCheck}}})
		return err
	}
	cases := []struct {
		name    string
		call    func() error
		code    int
		reason  string
		message string
	}{
		{"get of a missing object", func() error {
			_, err := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "nope"})
			return err
		}, 404, "notFound", "The resource 'projects/meshsim-project/global/healthChecks/nope' was not found"},
		{"insert of a name in use", func() error { return insertHC("hc") },
			409, "alreadyExists", "The resource 'projects/meshsim-project/global/healthChecks/hc' already exists"},
		{"upper-case name", func() error { return insertHC("Bad_Name") },
			400, "invalid", "Invalid value for field 'resource.name': 'Bad_Name'. Must be a match of regex"},
		{"name of 64 characters", func() error { return insertHC(strings.Repeat("a", 64)) }, 400, "invalid", "Must be a match of regex"},
		{"name ending in a dash", func() error { return insertHC("hc-") }, 400, "invalid", "Must be a match of regex"},
		{"missing required field", func() error {
			_, err := e.https.Insert(e.ctx, &computepb.InsertTargetHttpsProxyRequest{Project: project,
				TargetHttpsProxyResource: &computepb.TargetHttpsProxy{Name: proto.String("p"), SslCertificates: []string{"c"}}})
			return err
		}, 400, "required", "Required field 'resource.urlMap' not specified"},
		{"malformed reference", func() error { return insertBS("global/urlMaps/hc") },
			400, "invalid", "Invalid value for field 'resource.healthChecks[0]': 'global/urlMaps/hc'. The URL is malformed."},
		{"reference to a missing object", func() error { return insertBS(globalLink("healthChecks", "missing")) },
			404, "notFound", "The resource 'projects/meshsim-project/global/healthChecks/missing' was not found"},
		{"requestId that is not a UUID", func() error {
			_, err := e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project, RequestId: proto.String("retry-1"),
				HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc2"), Type: proto.String("TCP")}})
			return err
		}, 400, "invalid", "The request ID must be a valid UUID"},
		{"quota", func() error {
			_, err := e.sp.Insert(e.ctx, &computepb.InsertSecurityPolicyRequest{Project: project,
				SecurityPolicyResource: &computepb.SecurityPolicy{Name: proto.String("armor-2")}})
			return err
		}, 403, "quotaExceeded", "Quota 'SECURITY_POLICIES' exceeded.  Limit: 1.0 globally."},
		{"unknown zone", func() error {
			_, err := e.neg.Get(e.ctx, &computepb.GetNetworkEndpointGroupRequest{Project: project, Zone: "europe-west1-b", NetworkEndpointGroup: "n"})
			return err
		}, 404, "notFound", "projects/meshsim-project/zones/europe-west1-b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gerr := apiError(t, tc.call(), tc.code, tc.reason)
			if !strings.Contains(gerr.Message, tc.message) || gerr.Errors[0].Message != gerr.Message {
				t.Errorf("message %q, want it to contain %q", gerr.Message, tc.message)
			}
		})
	}
}

// TestDeleteOfAnObjectInUse tries each delete out of order: Compute refuses
// while another object still references the target, naming that object.
func TestDeleteOfAnObjectInUse(t *testing.T) {
	e := newEnv(t)
	e.buildChain(t)
	cases := []struct {
		target, user string
		del          func() error
	}{
		{"global/healthChecks/gw-hc", "global/backendServices/gw-bs", func() error {
			_, err := e.hc.Delete(e.ctx, &computepb.DeleteHealthCheckRequest{Project: project, HealthCheck: "gw-hc"})
			return err
		}},
		{"global/backendServices/gw-bs", "global/urlMaps/web-map", func() error {
			_, err := e.bs.Delete(e.ctx, &computepb.DeleteBackendServiceRequest{Project: project, BackendService: "gw-bs"})
			return err
		}},
		{"global/urlMaps/web-map", "global/targetHttpsProxies/web-https", func() error {
			_, err := e.um.Delete(e.ctx, &computepb.DeleteUrlMapRequest{Project: project, UrlMap: "web-map"})
			return err
		}},
		{"global/targetHttpsProxies/web-https", "global/forwardingRules/web-443", func() error {
			_, err := e.https.Delete(e.ctx, &computepb.DeleteTargetHttpsProxyRequest{Project: project, TargetHttpsProxy: "web-https"})
			return err
		}},
		{"global/sslCertificates/web-cert", "global/targetHttpsProxies/web-https", func() error {
			_, err := e.cert.Delete(e.ctx, &computepb.DeleteSslCertificateRequest{Project: project, SslCertificate: "web-cert"})
			return err
		}},
		{"global/sslPolicies/web-ssl", "global/targetHttpsProxies/web-https", func() error {
			_, err := e.sslp.Delete(e.ctx, &computepb.DeleteSslPolicyRequest{Project: project, SslPolicy: "web-ssl"})
			return err
		}},
		{"global/securityPolicies/web-armor", "global/backendServices/gw-bs", func() error {
			_, err := e.sp.Delete(e.ctx, &computepb.DeleteSecurityPolicyRequest{Project: project, SecurityPolicy: "web-armor"})
			return err
		}},
		{"global/addresses/web-ip", "global/forwardingRules/web-443", func() error {
			_, err := e.addr.Delete(e.ctx, &computepb.DeleteGlobalAddressRequest{Project: project, Address: "web-ip"})
			return err
		}},
		{"zones/" + negZone + "/networkEndpointGroups/gw-neg", "global/backendServices/gw-bs", func() error {
			_, err := e.neg.Delete(e.ctx, &computepb.DeleteNetworkEndpointGroupRequest{Project: project, Zone: negZone, NetworkEndpointGroup: "gw-neg"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			gerr := apiError(t, tc.del(), 400, "resourceInUseByAnotherResource")
			want := "resource 'projects/" + project + "/" + tc.target + "' is already being used by 'projects/" + project + "/" + tc.user + "'"
			if !strings.Contains(gerr.Message, want) {
				t.Errorf("message %q, want it to contain %q", gerr.Message, want)
			}
		})
	}
	// The NEG controller's hook refuses the same way, as GKE leaves a NEG a
	// backend service still uses.
	var apiErr *APIError
	if err := e.srv.DeleteNEG(negZone, "gw-neg"); !errors.As(err, &apiErr) || apiErr.Reason != "resourceInUseByAnotherResource" {
		t.Errorf("DeleteNEG of a NEG in use: %v", err)
	}
}

// TestWriteWhileAnOperationRuns: an object another operation is changing
// answers resourceNotReady, and the first change is not visible until DONE.
func TestWriteWhileAnOperationRuns(t *testing.T) {
	e := newEnv(t)
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("hc"), Type: proto.String("TCP")}}))
	e.srv.UpdateKnobs(func(k *Knobs) { k.OperationDuration = Duration(5 * time.Second) }) // outlasts the test
	patch := func(interval int32) error {
		_, err := e.hc.Patch(e.ctx, &computepb.PatchHealthCheckRequest{Project: project, HealthCheck: "hc",
			HealthCheckResource: &computepb.HealthCheck{CheckIntervalSec: proto.Int32(interval)}})
		return err
	}
	if err := patch(20); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, patch(30), 400, "resourceNotReady")
	hc, _ := e.hc.Get(e.ctx, &computepb.GetHealthCheckRequest{Project: project, HealthCheck: "hc"})
	if hc.GetCheckIntervalSec() != 5 {
		t.Errorf("interval while the patch runs = %d, want the old 5", hc.GetCheckIntervalSec())
	}
	_, err := e.hc.Delete(e.ctx, &computepb.DeleteHealthCheckRequest{Project: project, HealthCheck: "hc"})
	wantAPIError(t, err, 400, "resourceNotReady")
}
