package lb

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/meshctl/meshctl/internal/failure"
	"google.golang.org/api/googleapi"
)

var (
	requiredPermissionRE = regexp.MustCompile(`Required '([a-zA-Z0-9_.]+)' permission`)
	quotaMetricRE        = regexp.MustCompile(`Quota '([A-Z0-9_]+)' exceeded\.\s*Limit: ([0-9.]+)`)
)

// describe turns an API error into one a person can act on: what was being
// done, why it failed and what to do. verb is what meshctl was doing
// ("create"), what and name the object, permission the IAM permission the
// call needs.
func describe(err error, project, verb, what, name, permission string) error {
	if err == nil {
		return nil
	}
	target := what
	if name != "" {
		target += " " + name
	}
	doing := verb + " " + target
	var opErr *OperationError
	if errors.As(err, &opErr) && opErr.Code == "QUOTA_EXCEEDED" {
		return quotaError(doing, project, opErr.Message, err)
	}
	var g *googleapi.Error
	if !errors.As(err, &g) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	reason := ""
	if len(g.Errors) > 0 {
		reason = g.Errors[0].Reason
	}
	text := g.Message + " " + g.Body
	switch {
	case g.Code == 403 && (reason == "accessNotConfigured" || strings.Contains(text, "SERVICE_DISABLED") ||
		strings.Contains(text, "has not been used in project") || strings.Contains(text, "it is disabled")):
		api := "compute.googleapis.com"
		if strings.HasPrefix(permission, "container.") {
			api = "container.googleapis.com"
		}
		return failure.WithHint(fmt.Errorf("%s: the %s API is not enabled in project %s: %w", doing, api, project, err),
			fmt.Sprintf("enable it: `gcloud services enable %s --project %s` (it takes a minute to take effect)", api, project))
	case g.Code == 403 && reason == "quotaExceeded", g.Code == 403 && strings.Contains(text, "Quota '"):
		return quotaError(doing, project, g.Message, err)
	case g.Code == 403 || g.Code == 401:
		if m := requiredPermissionRE.FindStringSubmatch(text); m != nil {
			permission = m[1]
		}
		role := "roles/compute.loadBalancerAdmin"
		switch {
		case strings.HasPrefix(permission, "compute.firewalls"), strings.HasPrefix(permission, "compute.securityPolicies"),
			strings.HasPrefix(permission, "compute.sslPolicies"):
			role = "roles/compute.securityAdmin"
		case strings.HasPrefix(permission, "container."):
			role = "roles/container.clusterViewer"
		}
		return failure.WithHint(fmt.Errorf("%s: permission denied: it needs %s on project %s: %w", doing, permission, project, err),
			fmt.Sprintf("grant a role that has it to the account meshctl runs as, e.g. `gcloud projects add-iam-policy-binding %s --member=user:YOU@example.com --role=%s`", project, role))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func quotaError(doing, project, message string, err error) error {
	metric, limit := "", ""
	if m := quotaMetricRE.FindStringSubmatch(message); m != nil {
		metric, limit = m[1], strings.TrimSuffix(m[2], ".0")
	}
	what := "a quota"
	if metric != "" {
		what = fmt.Sprintf("quota %s (limit %s)", metric, limit)
	}
	return failure.WithHint(fmt.Errorf("%s: %s is used up in project %s: %w", doing, what, project, err),
		fmt.Sprintf("delete what you no longer need (`gcloud compute project-info describe --project %s` shows usage) or request more at https://console.cloud.google.com/iam-admin/quotas?project=%s", project, project))
}

// permissionFor is the IAM permission a call on kind needs.
func permissionFor(kind Kind, verb string) string {
	switch verb {
	case "create":
		return kind.permission() + ".create"
	case "delete":
		return kind.permission() + ".delete"
	case "read", "get":
		return kind.permission() + ".get"
	case "list":
		return kind.permission() + ".list"
	case "attach":
		return "compute.backendServices.setSecurityPolicy"
	}
	return kind.permission() + ".update"
}

// NameTakenError is a name meshctl wants, held by an object meshctl did not
// create (or made for another load balancer).
type NameTakenError struct {
	Kind  Kind
	Name  string
	Owner string // "" when meshctl did not make it
}

func (e *NameTakenError) Error() string {
	if e.Owner != "" {
		return fmt.Sprintf("%s %s already exists and belongs to meshctl load balancer %q", e.Kind.Title(), e.Name, e.Owner)
	}
	return fmt.Sprintf("%s %s already exists and was not created by meshctl", e.Kind.Title(), e.Name)
}

func nameTaken(kind Kind, name, owner string, perService bool) error {
	err := &NameTakenError{Kind: kind, Name: name, Owner: owner}
	switch {
	case owner != "" && perService && !strings.Contains(owner, "/"):
		return failure.WithHint(err, fmt.Sprintf("the service is on shared load balancer %q: pass --lb %s to keep it there, or run `meshctl unexpose svc` with --lb %s first to move it", owner, owner, owner))
	case owner != "" && perService:
		return failure.WithHint(err, "the service has a load balancer of its own: run `meshctl unexpose svc` (without --lb) first to move it")
	case owner != "":
		return failure.WithHint(err, "choose another --lb name")
	}
	return failure.WithHint(err, fmt.Sprintf("meshctl changes only what it made: delete or rename it (`gcloud compute %s describe %s --global` shows it), choose another --lb name, or pass --adopt to let meshctl take it over",
		gcloudGroup(kind), name))
}

func gcloudGroup(k Kind) string {
	switch k {
	case KindAddress:
		return "addresses"
	case KindHealthCheck:
		return "health-checks"
	case KindSSLPolicy:
		return "ssl-policies"
	case KindCertificate:
		return "ssl-certificates"
	case KindSecurityPolicy:
		return "security-policies"
	case KindFirewall:
		return "firewall-rules"
	case KindBackendService:
		return "backend-services"
	case KindURLMap:
		return "url-maps"
	case KindHTTPSProxy:
		return "target-https-proxies"
	case KindHTTPProxy:
		return "target-http-proxies"
	case KindForwardingRule:
		return "forwarding-rules"
	}
	return string(k)
}
