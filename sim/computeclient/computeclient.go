// Package computeclient is the Compute REST client meshsim's controllers
// (gkegateway, ilbcontroller) share: the official client
// (google.golang.org/api) pointed at meshsim, and the calls every
// controller makes the same way. The controllers go through the same REST
// surface as every other client, so Compute's rules (references, in-use
// deletes, fingerprints, operations, permissions) apply to them too.
package computeclient

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

// New is the official Compute client at an endpoint such as meshsim's
// http://127.0.0.1:PORT, sending userAgent and calling as client's
// principal (nil: no authentication).
func New(ctx context.Context, endpoint, userAgent string, client *http.Client) (*compute.Service, error) {
	opts := []option.ClientOption{option.WithEndpoint(strings.TrimSuffix(endpoint, "/") + "/compute/v1/"),
		option.WithUserAgent(userAgent)}
	if client != nil {
		opts = append(opts, option.WithHTTPClient(client))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	return compute.NewService(ctx, opts...)
}

// LinkBase is how Compute writes references, up to the project: the
// controllers send links in the same form, so that what they read back
// compares equal.
const LinkBase = "https://www.googleapis.com/compute/v1/projects/"

// IsNotFound reports whether err is Compute's 404.
func IsNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// OperationError is the first error of an operation that finished in
// failure.
type OperationError struct {
	Operation, Code, Message string
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation %s: %s: %s", e.Operation, e.Code, e.Message)
}

// Do runs a mutating call with a fresh requestId (so a repeat is not
// applied twice) and waits for its operation, global, regional or zonal,
// in project. The call's and the waits' errors come back as they are; an
// operation that failed is an *OperationError.
func Do(ctx context.Context, svc *compute.Service, project string, call func(requestID string) (*compute.Operation, error)) error {
	op, err := call(uuid.NewString())
	for err == nil && op.Status != "DONE" {
		switch {
		case op.Zone != "":
			op, err = svc.ZoneOperations.Wait(project, LastSegment(op.Zone), op.Name).Context(ctx).Do()
		case op.Region != "":
			op, err = svc.RegionOperations.Wait(project, LastSegment(op.Region), op.Name).Context(ctx).Do()
		default:
			op, err = svc.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
		}
	}
	if err != nil {
		return err
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		e := op.Error.Errors[0]
		return &OperationError{Operation: op.Name, Code: e.Code, Message: e.Message}
	}
	return nil
}

// LastSegment is the last part of a link: a zone's or region's name.
func LastSegment(link string) string { return link[strings.LastIndex(link, "/")+1:] }
