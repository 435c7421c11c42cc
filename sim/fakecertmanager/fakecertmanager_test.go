package fakecertmanager

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	project = "meshsim-project"
	number  = "123456789012"
	loc     = "/certificatemanager/v1/projects/" + project + "/locations/global"
)

// fakeCompute stands in for the Compute fake: the maps proxies name and
// the maps that serve.
type fakeCompute struct {
	mu     sync.Mutex
	users  map[string][]string
	served map[string]time.Time
}

func (f *fakeCompute) CertificateMapUsers() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for k, v := range f.users {
		out[k] = v
	}
	return out
}

func (f *fakeCompute) ServedCertificateMaps() map[string]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]time.Time{}
	for k, v := range f.served {
		out[k] = v
	}
	return out
}

type env struct {
	t       *testing.T
	url     string
	compute *fakeCompute
}

func newEnv(t *testing.T, provisioning time.Duration) *env {
	k := DefaultKnobs()
	k.OperationDuration, k.ProvisioningDelay = Duration(10*time.Millisecond), Duration(provisioning)
	fc := &fakeCompute{users: map[string][]string{}, served: map[string]time.Time{}}
	srv := New(project, number, Options{Knobs: &k, Compute: fc})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, url: hs.URL, compute: fc}
}

// do sends a request and decodes the JSON answer.
func (e *env) do(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// done waits (with a deadline) for an operation to be done and fails the
// test unless it is.
func (e *env) done(status int, op map[string]any) map[string]any {
	e.t.Helper()
	if status != 200 {
		e.t.Fatalf("request: %d %v", status, op)
	}
	name, _ := op["name"].(string)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		_, got := e.do("GET", "/certificatemanager/v1/"+name, nil)
		if got["done"] == true {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("operation %s is not done after 5s", name)
	return nil
}

func (e *env) wantError(status int, body map[string]any, code int, canonical, text string) {
	e.t.Helper()
	errObj, _ := body["error"].(map[string]any)
	msg, _ := errObj["message"].(string)
	if status != code || errObj["status"] != canonical || !strings.Contains(msg, text) {
		e.t.Errorf("got %d %v, want %d %s mentioning %q", status, errObj, code, canonical, text)
	}
}

// field reads a dotted path.
func field(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		o, _ := cur.(map[string]any)
		cur = o[p]
	}
	return cur
}

func TestDNSAuthorizedCertificateProvisionsOnTheClock(t *testing.T) {
	e := newEnv(t, 200*time.Millisecond)
	e.done(e.do("POST", loc+"/dnsAuthorizations?dnsAuthorizationId=www-auth", map[string]any{"domain": "www.example.com"}))
	_, auth := e.do("GET", loc+"/dnsAuthorizations/www-auth", nil)
	if field(auth, "dnsResourceRecord.name") != "_acme-challenge.www.example.com." || auth["type"] != "FIXED_RECORD" {
		t.Errorf("DNS authorization: %v", auth)
	}
	cert := map[string]any{"managed": map[string]any{"domains": []string{"www.example.com"},
		"dnsAuthorizations": []string{"projects/" + number + "/locations/global/dnsAuthorizations/www-auth"}}}
	created := time.Now()
	e.done(e.do("POST", loc+"/certificates?certificateId=www", cert))
	if _, got := e.do("GET", loc+"/certificates/www", nil); field(got, "managed.state") != "PROVISIONING" && time.Since(created) < 200*time.Millisecond {
		t.Errorf("a new managed certificate: state %v, want PROVISIONING", field(got, "managed.state"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, got := e.do("GET", loc+"/certificates/www", nil)
		if field(got, "managed.state") == "ACTIVE" {
			if elapsed := time.Since(created); elapsed < 200*time.Millisecond {
				t.Errorf("ACTIVE after %v, before the provisioning delay", elapsed)
			}
			info, _ := field(got, "managed.authorizationAttemptInfo").([]any)
			if len(info) != 1 || info[0].(map[string]any)["state"] != "AUTHORIZED" {
				t.Errorf("authorizationAttemptInfo %v, want the domain AUTHORIZED", info)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %v after 5s", field(got, "managed.state"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The authorization serves the certificate: it cannot go first.
	status, body := e.do("DELETE", loc+"/dnsAuthorizations/www-auth", nil)
	e.wantError(status, body, 400, "FAILED_PRECONDITION", "certificates/www")
}

func TestManagedCertificateChecksItsAuthorizations(t *testing.T) {
	e := newEnv(t, 0)
	status, body := e.do("POST", loc+"/certificates?certificateId=c", map[string]any{"managed": map[string]any{
		"domains": []string{"a.example.com"}, "dnsAuthorizations": []string{"projects/" + project + "/locations/global/dnsAuthorizations/none"}}})
	e.wantError(status, body, 404, "NOT_FOUND", `dnsAuthorization "projects/`+project+`/locations/global/dnsAuthorizations/none" not found`)
	e.done(e.do("POST", loc+"/dnsAuthorizations?dnsAuthorizationId=a", map[string]any{"domain": "a.example.com"}))
	status, body = e.do("POST", loc+"/certificates?certificateId=c", map[string]any{"managed": map[string]any{
		"domains": []string{"a.example.com", "b.example.com"}, "dnsAuthorizations": []string{"projects/" + project + "/locations/global/dnsAuthorizations/a"}}})
	e.wantError(status, body, 400, "INVALID_ARGUMENT", "b.example.com")
	status, body = e.do("POST", loc+"/certificates?certificateId=Bad_Id", map[string]any{"managed": map[string]any{"domains": []string{"a.example.com"}}})
	e.wantError(status, body, 400, "INVALID_ARGUMENT", "certificateId")
}

// A certificate without DNS authorization is issued once it serves: its map
// must be attached to a target HTTPS proxy behind a forwarding rule.
func TestLoadBalancerAuthorizedCertificateWaitsToServe(t *testing.T) {
	e := newEnv(t, 50*time.Millisecond)
	e.done(e.do("POST", loc+"/certificates?certificateId=web", map[string]any{"managed": map[string]any{"domains": []string{"web.example.com"}}}))
	e.done(e.do("POST", loc+"/certificateMaps?certificateMapId=web-map", map[string]any{}))
	e.done(e.do("POST", loc+"/certificateMaps/web-map/certificateMapEntries?certificateMapEntryId=web",
		map[string]any{"hostname": "web.example.com", "certificates": []string{"projects/" + project + "/locations/global/certificates/web"}}))
	time.Sleep(100 * time.Millisecond) // longer than the delay: only serving starts the clock
	if _, got := e.do("GET", loc+"/certificates/web", nil); field(got, "managed.state") != "PROVISIONING" {
		t.Fatalf("before serving: state %v, want PROVISIONING", field(got, "managed.state"))
	}
	mapName := "projects/" + project + "/locations/global/certificateMaps/web-map"
	e.compute.mu.Lock()
	e.compute.served[mapName] = time.Now()
	e.compute.users[mapName] = []string{"projects/" + project + "/global/targetHttpsProxies/web"}
	e.compute.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, got := e.do("GET", loc+"/certificates/web", nil); field(got, "managed.state") == "ACTIVE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ACTIVE 5s after its map began to serve")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, m := e.do("GET", loc+"/certificateMaps/web-map", nil)
	if targets, _ := m["gclbTargets"].([]any); len(targets) != 1 {
		t.Errorf("gclbTargets %v, want the proxy", m["gclbTargets"])
	}
	status, body := e.do("DELETE", loc+"/certificates/web", nil)
	e.wantError(status, body, 400, "FAILED_PRECONDITION", "certificateMapEntries/web")
	status, body = e.do("DELETE", loc+"/certificateMaps/web-map", nil)
	e.wantError(status, body, 400, "FAILED_PRECONDITION", "certificateMapEntries/web")
	e.done(e.do("DELETE", loc+"/certificateMaps/web-map/certificateMapEntries/web", nil))
	status, body = e.do("DELETE", loc+"/certificateMaps/web-map", nil)
	e.wantError(status, body, 400, "FAILED_PRECONDITION", "targetHttpsProxies/web")
}

func TestMapEntriesAndTheGoClientsEncoding(t *testing.T) {
	e := newEnv(t, 0)
	e.done(e.do("POST", loc+"/certificateMaps?certificateMapId=m", map[string]any{"description": "d", "labels": map[string]string{"a": "b"}}))
	status, body := e.do("POST", loc+"/certificateMaps/none/certificateMapEntries?certificateMapEntryId=e", map[string]any{"matcher": "PRIMARY"})
	e.wantError(status, body, 404, "NOT_FOUND", `certificateMap "projects/`+project+`/locations/global/certificateMaps/none" not found`)
	status, body = e.do("POST", loc+"/certificateMaps/m/certificateMapEntries?certificateMapEntryId=e",
		map[string]any{"matcher": 1, "certificates": []string{"projects/" + project + "/locations/global/certificates/none"}})
	e.wantError(status, body, 404, "NOT_FOUND", `certificate "projects/`+project+`/locations/global/certificates/none" not found`)
	e.done(e.do("POST", loc+"/certificates?certificateId=c", map[string]any{"managed": map[string]any{"domains": []string{"x.example.com"}}}))
	op := e.done(e.do("POST", loc+"/certificateMaps/m/certificateMapEntries?certificateMapEntryId=e",
		map[string]any{"matcher": 1, "certificates": []string{"projects/" + project + "/locations/global/certificates/c"}}))
	if field(op, "response.matcher") != "PRIMARY" || field(op, "response.@type") != typePrefix+"CertificateMapEntry" {
		t.Errorf("operation response %v", op["response"])
	}
	// The Go client asks for numbers.
	_, got := e.do("GET", loc+"/certificateMaps/m/certificateMapEntries/e?%24alt=json%3Benum-encoding%3Dint", nil)
	if got["matcher"] != float64(1) {
		t.Errorf("matcher with enum-encoding=int: %v, want 1", got["matcher"])
	}
	status, body = e.do("POST", loc+"/certificateMaps/m/certificateMapEntries?certificateMapEntryId=e2",
		map[string]any{"matcher": "PRIMARY", "certificates": []string{"projects/" + project + "/locations/global/certificates/c"}})
	e.wantError(status, body, 400, "INVALID_ARGUMENT", "certificateMapEntries/e")
	// An update changes what the mask names, and only that.
	e.done(e.do("PATCH", loc+"/certificateMaps/m?updateMask=description", map[string]any{"description": "new", "labels": map[string]string{"x": "y"}}))
	_, m := e.do("GET", loc+"/certificateMaps/m", nil)
	if m["description"] != "new" || field(m, "labels.a") != "b" {
		t.Errorf("after the update: %v", m)
	}
	status, body = e.do("PATCH", loc+"/certificateMaps/m", map[string]any{"description": "x"})
	e.wantError(status, body, 400, "INVALID_ARGUMENT", "update_mask")
	// gcloud sends only the fields it changes: the entry keeps the others.
	e.done(e.do("PATCH", loc+"/certificateMaps/m/certificateMapEntries/e?updateMask=description", map[string]any{"description": "entry"}))
	_, got = e.do("GET", loc+"/certificateMaps/m/certificateMapEntries/e", nil)
	if got["description"] != "entry" || got["matcher"] != "PRIMARY" || len(got["certificates"].([]any)) != 1 {
		t.Errorf("after a description update: %v", got)
	}
}

func TestSelfManagedCertificateKeepsItsKey(t *testing.T) {
	e := newEnv(t, 0)
	cert, key := selfSigned(t)
	op := e.done(e.do("POST", loc+"/certificates?certificateId=own", map[string]any{"selfManaged": map[string]any{"pemCertificate": cert, "pemPrivateKey": key}}))
	_, got := e.do("GET", loc+"/certificates/own", nil)
	for _, answer := range []map[string]any{got, op["response"].(map[string]any)} {
		if field(answer, "selfManaged.pemCertificate") != cert || field(answer, "selfManaged.pemPrivateKey") != nil {
			t.Errorf("self-managed certificate answered as %v: want the certificate and never the key", answer["selfManaged"])
		}
	}
	status, body := e.do("POST", loc+"/certificates?certificateId=own", map[string]any{"selfManaged": map[string]any{"pemCertificate": cert, "pemPrivateKey": key}})
	e.wantError(status, body, 409, "ALREADY_EXISTS", "certificates/own")
	status, body = e.do("POST", loc+"/certificates?certificateId=bad", map[string]any{"selfManaged": map[string]any{"pemCertificate": "nope", "pemPrivateKey": key}})
	e.wantError(status, body, 400, "INVALID_ARGUMENT", "pemCertificate")
}

// selfSigned makes a PEM certificate and key for www.example.com.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example.com"},
		DNSNames: []string{"www.example.com"}, NotBefore: time.Now(), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

func TestMethodOfNamesGooglesMethods(t *testing.T) {
	srv := New(project, number, Options{})
	for _, c := range []struct{ method, path, want string }{
		{"POST", loc + "/certificates?certificateId=c", "certificatemanager.projects.locations.certificates.create"},
		{"PATCH", loc + "/certificateMaps/m/certificateMapEntries/e", "certificatemanager.projects.locations.certificateMaps.certificateMapEntries.patch"},
		{"GET", loc + "/operations/op", "certificatemanager.projects.locations.operations.get"},
		{"GET", loc + "/nothing", "unknown"},
	} {
		if got := srv.MethodOf(httptest.NewRequest(c.method, c.path, strings.NewReader("{}"))); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.method, c.path, got, c.want)
		}
	}
}

func TestInjectedFailureAnswersOnce(t *testing.T) {
	e := newEnv(t, 0)
	status, body := e.do("POST", "/meshsim/certificatemanager/knobs",
		map[string]any{"failNext": map[string]any{"certificatemanager.projects.locations.certificateMaps.create": map[string]any{"count": 1, "code": 503}}})
	if status != 200 {
		t.Fatalf("knobs: %d %v", status, body)
	}
	status, body = e.do("POST", loc+"/certificateMaps?certificateMapId=m", map[string]any{})
	e.wantError(status, body, 503, "UNAVAILABLE", "injected")
	e.done(e.do("POST", loc+"/certificateMaps?certificateMapId=m", map[string]any{}))
}

// TestMapCreateAnswersItsEndTime: as recorded, a certificate map's create
// answers with endTime in the metadata though not yet done (the map is made
// in the request), and keeps that endTime once done; other creates and a
// map's update show endTime only once done.
func TestMapCreateAnswersItsEndTime(t *testing.T) {
	e := newEnv(t, 0)
	status, op := e.do("POST", loc+"/certificateMaps?certificateMapId=m", map[string]any{})
	if status != 200 || field(op, "metadata.endTime") == nil || op["done"] != nil {
		t.Errorf("map create answered %d %v, want endTime and not done", status, op)
	}
	if done := e.done(status, op); field(done, "metadata.endTime") != field(op, "metadata.endTime") {
		t.Errorf("done map create: endTime %v, want %v as first answered", field(done, "metadata.endTime"), field(op, "metadata.endTime"))
	}
	for _, req := range []struct{ method, path string }{
		{"POST", loc + "/dnsAuthorizations?dnsAuthorizationId=a"},
		{"PATCH", loc + "/certificateMaps/m?updateMask=description"},
	} {
		status, op := e.do(req.method, req.path, map[string]any{"domain": "a.example.com", "description": "d"})
		if status != 200 || field(op, "metadata.endTime") != nil {
			t.Errorf("%s %s answered %d %v, want no endTime while running", req.method, req.path, status, op)
		}
		if done := e.done(status, op); field(done, "metadata.endTime") == nil {
			t.Errorf("%s %s: done without endTime: %v", req.method, req.path, done)
		}
	}
}
