package gcp

import (
	"context"
	"fmt"

	crm "google.golang.org/api/cloudresourcemanager/v3"
)

// ResourceManager tests the caller's permissions on projects with Cloud
// Resource Manager v3's projects.testIamPermissions, the check meshctl
// makes before changing anything. It needs no permission of its own; it
// fails with 403 accessNotConfigured when the API is disabled in the
// caller's quota project.
type ResourceManager struct {
	projects *crm.ProjectsService
}

// NewResourceManager builds the client against c's Resource Manager
// endpoint (Google's when empty).
func NewResourceManager(ctx context.Context, c Config) (*ResourceManager, error) {
	opts, err := c.discoveryOptions(c.ResourceManagerEndpoint)
	if err != nil {
		return nil, err
	}
	svc, err := crm.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create Resource Manager client: %w", err)
	}
	return &ResourceManager{projects: svc.Projects}, nil
}

// TestIamPermissions returns the permissions of perms the caller holds in
// project (an id or number), in one request. Google answers 400 for a name
// that is not a permission or cannot be tested on a project.
func (r *ResourceManager) TestIamPermissions(ctx context.Context, project string, perms []string) ([]string, error) {
	res, err := r.projects.TestIamPermissions("projects/"+project, &crm.TestIamPermissionsRequest{Permissions: perms}).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	return res.Permissions, nil
}
