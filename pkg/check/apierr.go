package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/api/googleapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meshctl/meshctl/internal/failure"
)

// viewerRoles name a predefined role that grants each read permission, for
// hints.
var viewerRoles = map[string]string{
	"container.clusters.get":   "roles/container.clusterViewer",
	"compute.projects.get":     "roles/compute.viewer",
	"compute.machineTypes.get": "roles/compute.viewer",
	"compute.firewalls.list":   "roles/compute.networkViewer",
	"compute.firewalls.create": "roles/compute.securityAdmin",
}

// explain turns a failed call into a sentence and the command that fixes it.
func (f *facts) explain(e *APIFailure) (msg, hint string) {
	err := e.Err
	if e.call.method == "client" || errors.Is(err, errNoClient) {
		return err.Error(), failure.HintOf(err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "no answer in time: " + err.Error(), f.reachHint(e)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return f.explainGoogle(e, gerr)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return f.explainKube(e, err)
	}
	var uerr *url.Error
	var nerr net.Error
	if errors.As(err, &uerr) || errors.As(err, &nerr) {
		return "cannot reach the API: " + err.Error(), f.reachHint(e)
	}
	return err.Error(), failure.HintOf(err)
}

func (f *facts) explainGoogle(e *APIFailure, g *googleapi.Error) (string, string) {
	p := f.opts.Project
	reason := ""
	if len(g.Errors) > 0 {
		reason = g.Errors[0].Reason
	}
	text := g.Message
	if text == "" {
		text = http.StatusText(g.Code)
	}
	disabled := reason == "accessNotConfigured" || strings.Contains(g.Body, "SERVICE_DISABLED") ||
		strings.Contains(text, "has not been used") || strings.Contains(text, "it is disabled")
	switch {
	case g.Code == http.StatusForbidden && disabled:
		return fmt.Sprintf("the %s API is disabled in project %s (%d: %s)", e.call.service, p, g.Code, text),
			fmt.Sprintf("gcloud services enable %s --project %s", e.call.service, p)
	case g.Code == http.StatusForbidden && (reason == "rateLimitExceeded" || reason == "userRateLimitExceeded" || reason == "quotaExceeded"):
		return fmt.Sprintf("rate limited (%d %s: %s)", g.Code, reason, text), "wait a minute and run the command again"
	case g.Code == http.StatusForbidden:
		role := viewerRoles[e.call.permission]
		if role == "" {
			role = "a role that grants " + e.call.permission
		}
		return fmt.Sprintf("permission denied: the caller needs %s (%d: %s)", e.call.permission, g.Code, text),
			fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member \"user:$(gcloud config get-value core/account)\" --role %s", p, role)
	case g.Code == http.StatusUnauthorized:
		return fmt.Sprintf("the credentials were rejected (%d: %s)", g.Code, text), "gcloud auth application-default login"
	case g.Code == http.StatusNotFound && e.call.method == "clusters.get":
		return fmt.Sprintf("cluster %s not found in project %s, location %s (%d: %s)", f.opts.Cluster, p, f.opts.Location, g.Code, text),
			fmt.Sprintf("gcloud container clusters list --project %s  # then pass the right --cluster and --location", p)
	case g.Code == http.StatusNotFound:
		return fmt.Sprintf("not found (%d: %s)", g.Code, text), ""
	case g.Code == http.StatusTooManyRequests || g.Code >= 500:
		return fmt.Sprintf("the API is unavailable right now (%d: %s)", g.Code, text), "run the command again in a minute"
	}
	return fmt.Sprintf("%d: %s", g.Code, text), ""
}

func (f *facts) explainKube(e *APIFailure, err error) (string, string) {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("forbidden: the caller may not %s (%v)", e.call.permission, err),
			"kubectl create clusterrolebinding meshctl-cluster-admin --clusterrole cluster-admin --user \"$(gcloud config get-value core/account)\""
	case apierrors.IsUnauthorized(err):
		return fmt.Sprintf("the Kubernetes API rejected the credentials (%v)", err), f.credentialsHint()
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return err.Error(), f.reachHint(e)
	}
	return err.Error(), ""
}

func (f *facts) credentialsHint() string {
	return fmt.Sprintf("gcloud container clusters get-credentials %s --location %s --project %s", f.opts.Cluster, f.opts.Location, f.opts.Project)
}

// reachHint says what usually stands between meshctl and an API server it
// cannot reach: a private endpoint or master authorized networks.
func (f *facts) reachHint(e *APIFailure) string {
	if e.call.api != "Kubernetes" {
		return "check the network path to the Google API endpoint (proxy, --compute-endpoint, --container-endpoint)"
	}
	cl := f.clusterIfKnown()
	if cl == nil {
		return "check that the kubeconfig context points at the cluster: " + f.credentialsHint()
	}
	if privateEndpointOnly(cl) {
		return fmt.Sprintf("the control plane has only a private endpoint (%s): run meshctl from a VM in the cluster's VPC, or through a bastion; then %s --internal-ip",
			privateEndpoint(cl), f.credentialsHint())
	}
	if on, cidrs := authorizedNetworks(cl); on {
		cidrs = append(cidrs, "YOUR_IP/32")
		return fmt.Sprintf("master authorized networks admit only %s: add this machine's address with gcloud container clusters update %s --location %s --project %s --enable-master-authorized-networks --master-authorized-networks %s",
			strings.Join(cidrs[:len(cidrs)-1], ","), f.opts.Cluster, f.opts.Location, f.opts.Project, strings.Join(cidrs, ","))
	}
	return "check that the kubeconfig context points at the cluster: " + f.credentialsHint()
}
