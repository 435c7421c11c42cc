package ilbcontroller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// NewComputeService is the official Compute client at an endpoint such as
// meshsim's http://127.0.0.1:PORT, calling as client's principal: the
// controller goes through the same REST surface, rules and permissions as
// every other client.
func NewComputeService(ctx context.Context, endpoint string, client *http.Client) (*compute.Service, error) {
	opts := []option.ClientOption{option.WithEndpoint(strings.TrimSuffix(endpoint, "/") + "/compute/v1/"),
		option.WithUserAgent("gce-cloud-provider (meshsim)")}
	if client != nil {
		opts = append(opts, option.WithHTTPClient(client))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	return compute.NewService(ctx, opts...)
}

// linkBase is how Compute writes references; the controller sends links
// in the same form so what it reads back compares equal.
const linkBase = "https://www.googleapis.com/compute/v1/projects/"

// gce is the Compute the controller uses, in one project and region.
type gce struct {
	svc             *compute.Service
	project, region string
}

func (g gce) globalLink(collection, name string) string {
	return linkBase + g.project + "/global/" + collection + "/" + name
}

func (g gce) regionalLink(collection, name string) string {
	return linkBase + g.project + "/regions/" + g.region + "/" + collection + "/" + name
}

func (g gce) zonalLink(zone, collection, name string) string {
	return linkBase + g.project + "/zones/" + zone + "/" + collection + "/" + name
}

// do runs a mutating call with a requestId and waits for its operation,
// global, regional or zonal.
func (g gce) do(ctx context.Context, call func(requestID string) (*compute.Operation, error)) error {
	op, err := call(uuid.NewString())
	for err == nil && op.Status != "DONE" {
		switch {
		case op.Zone != "":
			op, err = g.svc.ZoneOperations.Wait(g.project, lastSegment(op.Zone), op.Name).Context(ctx).Do()
		case op.Region != "":
			op, err = g.svc.RegionOperations.Wait(g.project, lastSegment(op.Region), op.Name).Context(ctx).Do()
		default:
			op, err = g.svc.GlobalOperations.Wait(g.project, op.Name).Context(ctx).Do()
		}
	}
	if err != nil {
		return err
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		e := op.Error.Errors[0]
		return fmt.Errorf("operation %s: %s: %s", op.Name, e.Code, e.Message)
	}
	return nil
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
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
	if err == nil || isNotFound(err) || isInUse(err) {
		return nil
	}
	return err
}

func lastSegment(link string) string { return link[strings.LastIndex(link, "/")+1:] }

// refPath is a link from "projects/" on, so links of any host compare.
func refPath(link string) string {
	if i := strings.Index(link, "projects/"); i >= 0 {
		return link[i:]
	}
	return link
}
