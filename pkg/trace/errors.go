package trace

import (
	"errors"
	"net/http"

	"google.golang.org/api/googleapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// apiHint says what to do about a read that failed.
func apiHint(err error) string {
	var ge *googleapi.Error
	switch {
	case errors.As(err, &ge) && ge.Code == http.StatusForbidden:
		return "grant the caller read access to the project's load balancer (roles/compute.viewer), or check --project"
	case errors.As(err, &ge) && ge.Code == http.StatusUnauthorized:
		return "refresh your credentials: gcloud auth application-default login"
	case apierrors.IsForbidden(err):
		return "grant the caller read access to the cluster (e.g. the view ClusterRole)"
	case apierrors.IsUnauthorized(err):
		return "refresh your credentials: gcloud container clusters get-credentials CLUSTER"
	}
	return ""
}

// isNotFound reports a 404 from either API.
func isNotFound(err error) bool {
	var ge *googleapi.Error
	return (errors.As(err, &ge) && ge.Code == http.StatusNotFound) || apierrors.IsNotFound(err)
}
