package gatewayapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	cm "google.golang.org/api/certificatemanager/v1"
	"google.golang.org/api/googleapi"
)

// CertificateManager is what this path needs of the Certificate Manager
// API, in the project's global location: certificate maps, their entries
// and Google-managed certificates. Creates and deletes return once their
// operation is done. A missing object is an error for which IsNotFound
// holds.
type CertificateManager interface {
	GetMap(ctx context.Context, name string) (*cm.CertificateMap, error)
	CreateMap(ctx context.Context, name string, m *cm.CertificateMap) error
	DeleteMap(ctx context.Context, name string) error
	ListEntries(ctx context.Context, mapName string) ([]*cm.CertificateMapEntry, error)
	CreateEntry(ctx context.Context, mapName, name string, e *cm.CertificateMapEntry) error
	DeleteEntry(ctx context.Context, mapName, name string) error
	GetCertificate(ctx context.Context, name string) (*cm.Certificate, error)
	CreateCertificate(ctx context.Context, name string, c *cm.Certificate) error
	DeleteCertificate(ctx context.Context, name string) error
}

// IsNotFound reports whether err is Google's 404.
func IsNotFound(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusNotFound
}

// isConflict reports Google's 409 (already exists).
func isConflict(err error) bool {
	var g *googleapi.Error
	return errors.As(err, &g) && g.Code == http.StatusConflict
}

// CertManagerREST is CertificateManager over the official client
// (google.golang.org/api/certificatemanager/v1), for one project.
type CertManagerREST struct {
	Service *cm.Service
	Project string
	// Poll is how often an operation is read while it runs (zero: 500ms).
	Poll time.Duration
}

var _ CertificateManager = (*CertManagerREST)(nil)

func (c *CertManagerREST) location() string {
	return "projects/" + c.Project + "/locations/global"
}

func (c *CertManagerREST) mapName(name string) string {
	return c.location() + "/certificateMaps/" + name
}

// wait polls the operation until it is done and returns its error.
func (c *CertManagerREST) wait(ctx context.Context, op *cm.Operation, err error) error {
	if err != nil {
		return err
	}
	poll := c.Poll
	if poll == 0 {
		poll = 500 * time.Millisecond
	}
	for !op.Done {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		if op, err = c.Service.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do(); err != nil {
			return err
		}
	}
	if op.Error != nil {
		return &googleapi.Error{Code: int(op.Error.Code), Message: op.Error.Message}
	}
	return nil
}

// GetMap implements CertificateManager.
func (c *CertManagerREST) GetMap(ctx context.Context, name string) (*cm.CertificateMap, error) {
	return c.Service.Projects.Locations.CertificateMaps.Get(c.mapName(name)).Context(ctx).Do()
}

// CreateMap implements CertificateManager.
func (c *CertManagerREST) CreateMap(ctx context.Context, name string, m *cm.CertificateMap) error {
	op, err := c.Service.Projects.Locations.CertificateMaps.Create(c.location(), m).CertificateMapId(name).Context(ctx).Do()
	return c.wait(ctx, op, err)
}

// DeleteMap implements CertificateManager.
func (c *CertManagerREST) DeleteMap(ctx context.Context, name string) error {
	op, err := c.Service.Projects.Locations.CertificateMaps.Delete(c.mapName(name)).Context(ctx).Do()
	return c.wait(ctx, op, err)
}

// ListEntries implements CertificateManager.
func (c *CertManagerREST) ListEntries(ctx context.Context, mapName string) ([]*cm.CertificateMapEntry, error) {
	var out []*cm.CertificateMapEntry
	err := c.Service.Projects.Locations.CertificateMaps.CertificateMapEntries.List(c.mapName(mapName)).Pages(ctx,
		func(r *cm.ListCertificateMapEntriesResponse) error {
			out = append(out, r.CertificateMapEntries...)
			return nil
		})
	return out, err
}

// CreateEntry implements CertificateManager.
func (c *CertManagerREST) CreateEntry(ctx context.Context, mapName, name string, e *cm.CertificateMapEntry) error {
	op, err := c.Service.Projects.Locations.CertificateMaps.CertificateMapEntries.Create(c.mapName(mapName), e).
		CertificateMapEntryId(name).Context(ctx).Do()
	return c.wait(ctx, op, err)
}

// DeleteEntry implements CertificateManager.
func (c *CertManagerREST) DeleteEntry(ctx context.Context, mapName, name string) error {
	op, err := c.Service.Projects.Locations.CertificateMaps.CertificateMapEntries.Delete(c.mapName(mapName) + "/certificateMapEntries/" + name).Context(ctx).Do()
	return c.wait(ctx, op, err)
}

// GetCertificate implements CertificateManager.
func (c *CertManagerREST) GetCertificate(ctx context.Context, name string) (*cm.Certificate, error) {
	return c.Service.Projects.Locations.Certificates.Get(c.location() + "/certificates/" + name).Context(ctx).Do()
}

// CreateCertificate implements CertificateManager.
func (c *CertManagerREST) CreateCertificate(ctx context.Context, name string, cert *cm.Certificate) error {
	op, err := c.Service.Projects.Locations.Certificates.Create(c.location(), cert).CertificateId(name).Context(ctx).Do()
	return c.wait(ctx, op, err)
}

// DeleteCertificate implements CertificateManager.
func (c *CertManagerREST) DeleteCertificate(ctx context.Context, name string) error {
	op, err := c.Service.Projects.Locations.Certificates.Delete(c.location() + "/certificates/" + name).Context(ctx).Do()
	return c.wait(ctx, op, err)
}

// certError says what failed and, for a permission or a disabled API,
// what to do.
func certError(doing string, err error) error {
	var g *googleapi.Error
	if errors.As(err, &g) && g.Code == http.StatusForbidden {
		return fmt.Errorf("%s: %w (the account needs roles/certificatemanager.editor, and certificatemanager.googleapis.com must be enabled: `gcloud services enable certificatemanager.googleapis.com`)", doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
