package gkegateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// CertificateMaps is what the controller needs of Certificate Manager: does
// the map a Gateway's networking.gke.io/certmap annotation names exist?
type CertificateMaps interface {
	// CertificateMapExists looks up
	// projects/PROJECT/locations/global/certificateMaps/NAME.
	CertificateMapExists(ctx context.Context, project, name string) (bool, error)
}

// ErrCertificateManagerNotServed is returned when the endpoint does not
// serve the Certificate Manager API at all (an unknown URL, not a missing
// map): the controller then cannot verify certificate maps and lets them
// through, with a log line.
var ErrCertificateManagerNotServed = errors.New("the Certificate Manager API is not served at this endpoint")

// CertificateManagerREST reads certificate maps over Certificate Manager's
// REST surface (certificatemanager.googleapis.com v1), at an endpoint such
// as meshsim's http://127.0.0.1:PORT, where GET
// /v1/projects/P/locations/global/certificateMaps/M answers the map or a
// 404 in Google's error format.
type CertificateManagerREST struct {
	Endpoint string
	Client   *http.Client
}

// CertificateMapExists implements CertificateMaps.
func (c CertificateManagerREST) CertificateMapExists(ctx context.Context, project, name string) (bool, error) {
	u := strings.TrimSuffix(c.Endpoint, "/") + "/v1/projects/" + url.PathEscape(project) +
		"/locations/global/certificateMaps/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Errorf("get certificate map %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound:
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		// Google's front end words an unknown path this way; a missing
		// map is `certificateMap "projects/P/locations/global/certificateMaps/M"
		// not found` with status NOT_FOUND (recorded).
		if e.Error.Message == "" || strings.HasPrefix(e.Error.Message, "The requested URL") {
			return false, ErrCertificateManagerNotServed
		}
		return false, nil
	}
	return false, fmt.Errorf("get certificate map %s: HTTP %d: %s", name, resp.StatusCode, strings.TrimSpace(string(body)))
}
