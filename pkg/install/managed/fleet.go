package managed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/gkehub/v1"
	gkehubv2 "google.golang.org/api/gkehub/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/serviceusage/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FeatureServiceMesh is the fleet feature of Cloud Service Mesh.
const FeatureServiceMesh = "servicemesh"

// MeshAPI is the API the servicemesh feature needs enabled.
const MeshAPI = "mesh.googleapis.com"

// Fleet is what the managed install needs of the GKE Hub (fleet) API. The
// calls that start a long-running operation wait for it.
type Fleet interface {
	// ListMemberships lists the project's memberships in every location.
	ListMemberships(ctx context.Context, project string) ([]*gkehub.Membership, error)
	// CreateMembership registers a membership (v1 memberships.create).
	CreateMembership(ctx context.Context, ref MembershipRef, m *gkehub.Membership) error
	// GetFeature returns the project's servicemesh feature (v1), or an
	// error for which IsNotFound is true.
	GetFeature(ctx context.Context, project string) (*gkehub.Feature, error)
	// CreateFeature enables the servicemesh feature (v1 features.create),
	// labelled as meshctl's (OwnerLabel).
	CreateFeature(ctx context.Context, project string) error
	// DeleteMembership unregisters a membership (v1 memberships.delete).
	DeleteMembership(ctx context.Context, ref MembershipRef) error
	// DeleteFeature disables the servicemesh feature (v1 features.delete).
	DeleteFeature(ctx context.Context, project string) error
	// GetMembershipFeature returns the membership's servicemesh
	// MembershipFeature (v2), or an error for which IsNotFound is true.
	GetMembershipFeature(ctx context.Context, ref MembershipRef) (*gkehubv2.MembershipFeature, error)
	// PatchMembershipFeature writes its spec (v2, updateMask=spec,
	// allowMissing), as `gcloud container fleet mesh update` does.
	PatchMembershipFeature(ctx context.Context, ref MembershipRef, spec *gkehubv2.FeatureSpec) error
}

// ServiceUsage enables Google APIs.
type ServiceUsage interface {
	// EnableService enables service (e.g. mesh.googleapis.com) in project
	// and waits until it is enabled.
	EnableService(ctx context.Context, project, service string) error
}

// GKE is what the managed install needs of the GKE API; internal/gcp's GKE
// has it.
type GKE interface {
	// GetCluster returns projects/P/locations/L/clusters/C.
	GetCluster(ctx context.Context, name string) (*containerpb.Cluster, error)
}

// HubClient is Fleet over google.golang.org/api's gkehub v1 and v2 clients.
type HubClient struct {
	V1 *gkehub.Service
	V2 *gkehubv2.Service
	// PollInterval is the first wait in operation polling (default 200ms).
	PollInterval time.Duration
}

// ListMemberships implements Fleet.
func (h HubClient) ListMemberships(ctx context.Context, project string) ([]*gkehub.Membership, error) {
	var out []*gkehub.Membership
	err := h.V1.Projects.Locations.Memberships.List("projects/"+project+"/locations/-").Pages(ctx, func(page *gkehub.ListMembershipsResponse) error {
		out = append(out, page.Resources...)
		return nil
	})
	return out, err
}

// CreateMembership implements Fleet.
func (h HubClient) CreateMembership(ctx context.Context, ref MembershipRef, m *gkehub.Membership) error {
	parent := fmt.Sprintf("projects/%s/locations/%s", ref.Project, ref.Location)
	op, err := h.V1.Projects.Locations.Memberships.Create(parent, m).MembershipId(ref.ID).Context(ctx).Do()
	if err != nil {
		return err
	}
	return h.waitV1(ctx, op)
}

func featureName(project string) string {
	return "projects/" + project + "/locations/global/features/" + FeatureServiceMesh
}

// GetFeature implements Fleet.
func (h HubClient) GetFeature(ctx context.Context, project string) (*gkehub.Feature, error) {
	return h.V1.Projects.Locations.Features.Get(featureName(project)).Context(ctx).Do()
}

// CreateFeature implements Fleet.
func (h HubClient) CreateFeature(ctx context.Context, project string) error {
	op, err := h.V1.Projects.Locations.Features.Create("projects/"+project+"/locations/global", &gkehub.Feature{Labels: ownerLabels()}).
		FeatureId(FeatureServiceMesh).Context(ctx).Do()
	if err != nil {
		return err
	}
	return h.waitV1(ctx, op)
}

// DeleteMembership implements Fleet.
func (h HubClient) DeleteMembership(ctx context.Context, ref MembershipRef) error {
	op, err := h.V1.Projects.Locations.Memberships.Delete(ref.Name()).Context(ctx).Do()
	if err != nil {
		return err
	}
	return h.waitV1(ctx, op)
}

// DeleteFeature implements Fleet.
func (h HubClient) DeleteFeature(ctx context.Context, project string) error {
	op, err := h.V1.Projects.Locations.Features.Delete(featureName(project)).Context(ctx).Do()
	if err != nil {
		return err
	}
	return h.waitV1(ctx, op)
}

func membershipFeatureName(ref MembershipRef) string {
	return ref.Name() + "/features/" + FeatureServiceMesh
}

// GetMembershipFeature implements Fleet.
func (h HubClient) GetMembershipFeature(ctx context.Context, ref MembershipRef) (*gkehubv2.MembershipFeature, error) {
	return h.V2.Projects.Locations.Memberships.Features.Get(membershipFeatureName(ref)).Context(ctx).Do()
}

// PatchMembershipFeature implements Fleet.
func (h HubClient) PatchMembershipFeature(ctx context.Context, ref MembershipRef, spec *gkehubv2.FeatureSpec) error {
	op, err := h.V2.Projects.Locations.Memberships.Features.Patch(membershipFeatureName(ref), &gkehubv2.MembershipFeature{Spec: spec}).
		UpdateMask("spec").AllowMissing(true).Context(ctx).Do()
	if err != nil {
		return err
	}
	for wait := h.firstPoll(); !op.Done; wait = h.nextPoll(wait) {
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		if op, err = h.V2.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do(); err != nil {
			return fmt.Errorf("wait for %s: %w", op.Name, err)
		}
	}
	return opError(op.Name, op.Error)
}

func (h HubClient) waitV1(ctx context.Context, op *gkehub.Operation) error {
	for wait := h.firstPoll(); !op.Done; wait = h.nextPoll(wait) {
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		next, err := h.V1.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", op.Name, err)
		}
		op = next
	}
	return opError(op.Name, op.Error)
}

// firstPoll and nextPoll pace operation polling: from PollInterval (default
// 200ms), doubling up to 2 seconds.
func (h HubClient) firstPoll() time.Duration {
	if h.PollInterval > 0 {
		return h.PollInterval
	}
	return 200 * time.Millisecond
}

func (h HubClient) nextPoll(d time.Duration) time.Duration {
	return min(d*2, max(2*time.Second, h.PollInterval))
}

// opError turns an operation's error status, whichever API's type it has,
// into an error.
func opError(name string, statuses ...any) error {
	for _, s := range statuses {
		var code int64
		var msg string
		switch st := s.(type) {
		case *gkehub.GoogleRpcStatus:
			if st == nil {
				continue
			}
			code, msg = st.Code, st.Message
		case *gkehubv2.GoogleRpcStatus:
			if st == nil {
				continue
			}
			code, msg = st.Code, st.Message
		case *serviceusage.Status:
			if st == nil {
				continue
			}
			code, msg = st.Code, st.Message
		default:
			continue
		}
		return &OperationError{Operation: name, Code: codes.Code(code), Message: msg}
	}
	return nil
}

// OperationError is a long-running operation that finished with an error.
type OperationError struct {
	Operation string
	Code      codes.Code
	Message   string
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation %s failed: %s: %s", e.Operation, e.Code, e.Message)
}

// ServiceUsageClient is ServiceUsage over google.golang.org/api's
// serviceusage v1 client.
type ServiceUsageClient struct {
	S            *serviceusage.Service
	PollInterval time.Duration
}

// EnableService implements ServiceUsage.
func (c ServiceUsageClient) EnableService(ctx context.Context, project, service string) error {
	op, err := c.S.Services.Enable("projects/"+project+"/services/"+service, &serviceusage.EnableServiceRequest{}).Context(ctx).Do()
	if err != nil {
		return err
	}
	h := HubClient{PollInterval: c.PollInterval}
	for wait := h.firstPoll(); !op.Done; wait = h.nextPoll(wait) {
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		if op, err = c.S.Operations.Get(op.Name).Context(ctx).Do(); err != nil {
			return fmt.Errorf("wait for %s: %w", op.Name, err)
		}
	}
	return opError(op.Name, op.Error)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsNotFound reports whether err is a Google API 404.
func IsNotFound(err error) bool { return httpCode(err) == http.StatusNotFound }

func httpCode(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.OK && s.Code() != codes.Unknown {
		switch s.Code() {
		case codes.NotFound:
			return http.StatusNotFound
		case codes.PermissionDenied:
			return http.StatusForbidden
		case codes.AlreadyExists:
			return http.StatusConflict
		case codes.InvalidArgument, codes.FailedPrecondition:
			return http.StatusBadRequest
		}
	}
	return 0
}

// apiNotEnabled reports whether err is features.create's 400
// FAILED_PRECONDITION "... mesh.googleapis.com ... is not enabled", the
// signal gcloud also acts on.
func apiNotEnabled(err error, api string) bool {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusBadRequest {
		return false
	}
	msg := gerr.Message + " " + gerr.Body
	return strings.Contains(msg, "is not enabled") && (strings.Contains(msg, api) || strings.Contains(msg, "meshconfig.googleapis.com"))
}

// errorMessage is a Google API error's message without the client's
// "googleapi: Error 400:" prefix.
func errorMessage(err error) string {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Message != "" {
		return gerr.Message
	}
	return err.Error()
}
