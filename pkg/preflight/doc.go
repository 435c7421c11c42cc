// Package preflight checks, before a plan's first change, that the caller
// may make every change the plan holds, and says what to grant when not.
//
// The permissions come from the plan itself (Required): each pkg/plan
// Change names its object's API and project through Resource (a Google full
// resource name, or a Kubernetes group/resource), what the apply does to it
// (Action, and for a Compute update the Fields, some of which change
// through methods of their own), and the Google resources it makes the
// object refer to (Uses), whose use Google checks in their own project (a
// Shared VPC host's network, a fleet project's membership). A capability
// hands its plan's changes to Checker.Check between planning and applying:
//
//	report := opts.Preflight.Check(ctx, p.Changes)
//	if err := report.Err(); err != nil && !opts.DryRun {
//		return err // nothing was changed
//	}
//
// The Checker asks Resource Manager's projects.testIamPermissions once per
// project (chunked, the projects at once) and the API server's
// SelfSubjectAccessReview per verb, resource and namespace, beside each
// other, so the check costs one round trip. It never asks for the two
// permissions no role grants (compute.sslCertificates.use,
// compute.globalForwardingRules.use). When it cannot run (the Resource
// Manager API disabled in the quota project), it warns and the run goes on:
// testIamPermissions is advice that may fail open, and a 403 at apply time
// still names the permission.
//
// For what is missing, the report names the smallest predefined roles that
// grant it per project (SmallestRoles over roles.txt), the gcloud commands
// that grant them, and kubectl commands for a Role with the missing verbs.
package preflight
