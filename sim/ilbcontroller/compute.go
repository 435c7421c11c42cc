package ilbcontroller

import (
	"context"
	"errors"
	"net/http"
	"strings"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/meshctl/meshctl/sim/computeclient"
)

// NewComputeService is the official Compute client at an endpoint such as
// meshsim's http://127.0.0.1:PORT, calling as client's principal: the
// controller goes through the same REST surface, rules and permissions as
// every other client.
func NewComputeService(ctx context.Context, endpoint string, client *http.Client) (*compute.Service, error) {
	return computeclient.New(ctx, endpoint, "gce-cloud-provider (meshsim)", client)
}

// gce is the Compute the controller uses, in one project and region.
type gce struct {
	svc             *compute.Service
	project, region string
}

func (g gce) globalLink(collection, name string) string {
	return computeclient.LinkBase + g.project + "/global/" + collection + "/" + name
}

func (g gce) regionalLink(collection, name string) string {
	return computeclient.LinkBase + g.project + "/regions/" + g.region + "/" + collection + "/" + name
}

func (g gce) zonalLink(zone, collection, name string) string {
	return computeclient.LinkBase + g.project + "/zones/" + zone + "/" + collection + "/" + name
}

// do runs a mutating call with a requestId and waits for its operation,
// global, regional or zonal.
func (g gce) do(ctx context.Context, call func(requestID string) (*compute.Operation, error)) error {
	return computeclient.Do(ctx, g.svc, g.project, call)
}

// isInUse: Compute refuses to delete what another object still uses (a
// health check, instance group or firewall shared with another Service).
func isInUse(err error) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return strings.Contains(err.Error(), "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE")
	}
	for _, item := range ge.Errors {
		if item.Reason == "resourceInUseByAnotherResource" {
			return true
		}
	}
	return false
}

// ignoreGone treats a delete of something already gone, or still used by
// another Service, as done.
func ignoreGone(err error) error {
	if err == nil || computeclient.IsNotFound(err) || isInUse(err) {
		return nil
	}
	return err
}

// refPath is a link from "projects/" on, so links of any host compare.
func refPath(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}
