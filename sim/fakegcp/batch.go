package fakegcp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
)

// serveBatch answers POST /batch/compute/v1, which gcloud uses when one
// command makes several calls (deleting several names): a multipart/mixed
// body of application/http parts, each an HTTP request, answered by a
// multipart/mixed body of their responses in order, each part's Content-ID
// echoing its request's as "response-<id>".
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method != http.MethodPost || err != nil || !strings.HasPrefix(mediaType, "multipart/") {
		errInvalid("A batch request must be a POST with a multipart/mixed body.").Write(w)
		return
	}
	type answer struct {
		id  string
		rec *httptest.ResponseRecorder
	}
	var answers []answer
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errInvalid("Malformed batch body: %v", err).Write(w)
			return
		}
		raw, err := io.ReadAll(part)
		if err != nil {
			errInvalid("Malformed batch part: %v", err).Write(w)
			return
		}
		inner, err := parseEmbeddedRequest(r, raw)
		if err != nil {
			errInvalid("Malformed batch part: %v", err).Write(w)
			return
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, inner)
		answers = append(answers, answer{id: strings.Trim(part.Header.Get("Content-ID"), "<>"), rec: rec})
	}
	boundary := "batch_meshsim_" + fmt.Sprintf("%08x", uint32(splitmix64(uint64(len(answers)))))
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+boundary)
	w.WriteHeader(http.StatusOK)
	for _, a := range answers {
		fmt.Fprintf(w, "--%s\r\nContent-Type: application/http\r\nContent-ID: <response-%s>\r\n\r\n", boundary, a.id)
		fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n", a.rec.Code, http.StatusText(a.rec.Code))
		_, _ = w.Write(a.rec.Body.Bytes())
		fmt.Fprint(w, "\r\n")
	}
	fmt.Fprintf(w, "--%s--\r\n", boundary)
}

// parseEmbeddedRequest reads "METHOD /path HTTP/1.1", headers, a blank line
// and the body. The parts carry no Content-Length, so the body is whatever
// follows the headers.
func parseEmbeddedRequest(outer *http.Request, raw []byte) (*http.Request, error) {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	fields := strings.Fields(lines[0])
	if len(fields) < 2 {
		return nil, fmt.Errorf("bad request line %q", lines[0])
	}
	req, err := http.NewRequestWithContext(outer.Context(), fields[0], "http://"+outer.Host+fields[1], bytes.NewReader(bytes.TrimSpace(body)))
	if err != nil {
		return nil, err
	}
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	// The batch's own credentials stand for every part that brings none.
	if req.Header.Get("Authorization") == "" && outer.Header.Get("Authorization") != "" {
		req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	}
	return req, nil
}
