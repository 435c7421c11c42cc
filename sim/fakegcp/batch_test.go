package fakegcp

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// TestBatchAsGcloudSendsIt posts a body shaped as gcloud's apitools writes
// it (LF line ends, no Content-Length in the parts) and reads each answer.
func TestBatchAsGcloudSendsIt(t *testing.T) {
	e := newEnv(t)
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("a1"), Type: proto.String("TCP")}}))
	part := func(id, method, path, body string) string {
		return "--BOUNDARY\nContent-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <base+" + id + ">\n\n" +
			method + " " + path + " HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\nHost: 127.0.0.1\n\n" + body + "\n"
	}
	base := "/compute/v1/projects/" + project + "/global/healthChecks"
	body := part("0", "DELETE", base+"/a1?alt=json", "") +
		part("1", "POST", base+"?alt=json", `{"name": "a2", "type": "TCP"}`) +
		part("2", "GET", base+"/missing?alt=json", "") + "--BOUNDARY--\n"
	resp, err := http.Post(e.url+"/batch/compute/v1", `multipart/mixed; boundary="BOUNDARY"`, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	want := []struct{ id, status, has string }{
		{"<response-base+0>", "HTTP/1.1 200 OK", `"operationType": "delete"`},
		{"<response-base+1>", "HTTP/1.1 200 OK", `"operationType": "insert"`},
		{"<response-base+2>", "HTTP/1.1 404 Not Found", `"reason": "notFound"`},
	}
	for _, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %s: %v", w.id, err)
		}
		raw, _ := io.ReadAll(p)
		if p.Header.Get("Content-ID") != w.id || !strings.HasPrefix(string(raw), w.status) || !strings.Contains(string(raw), w.has) {
			t.Errorf("part %s: header %v body %s", w.id, p.Header, raw)
		}
	}
	if got := e.srv.Requests().ByMethod; got["compute.healthChecks.delete"] != 1 || got["compute.healthChecks.insert"] != 2 {
		t.Errorf("batch parts were not served as API calls: %v", got)
	}
}
