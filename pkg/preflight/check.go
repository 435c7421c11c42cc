package preflight

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/googleapi"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/plan"
)

// IAM answers Resource Manager's projects.testIamPermissions: which of
// permissions the caller holds in project. internal/gcp's ResourceManager
// implements it.
type IAM interface {
	TestIamPermissions(ctx context.Context, project string, permissions []string) ([]string, error)
}

// Access answers a SelfSubjectAccessReview: may the caller do a in the
// cluster? KubeAccess implements it over a Kubernetes client.
type Access interface {
	Allowed(ctx context.Context, a KubeAccess) (bool, error)
}

// DefaultChunkSize bounds the permissions of one testIamPermissions
// request. Google documents no limit (B1); a plan of meshctl's needs fewer
// than this in a project, so each project is one request.
const DefaultChunkSize = 100

// kubeParallel bounds the access reviews in flight.
const kubeParallel = 32

// Checker checks, before a plan's first change, that the caller holds
// every permission the plan needs. A nil Checker checks nothing (a
// capability used without one, as in unit tests).
type Checker struct {
	// IAM tests Google permissions; nil lists them unchecked.
	IAM IAM
	// Access reviews Kubernetes permissions; nil lists them unchecked.
	Access Access
	// Skip lists the permissions without asking (--skip-permission-check).
	Skip bool
	// ChunkSize is DefaultChunkSize when 0.
	ChunkSize int
	// Reporter shows the check as a step and its warnings.
	Reporter ui.Reporter
}

// Check works out what changes need (Required) and asks whether the
// caller holds it: one testIamPermissions request per project (chunked),
// the projects at once, and the Kubernetes access reviews beside them.
// A check that cannot run is a warning in the report, and its permissions
// stay unchecked: Google's answer is advice (testIamPermissions may fail
// open), and a 403 at apply time still names what is missing. The report
// says what is missing; Err turns that into the error that stops a run.
func (c *Checker) Check(ctx context.Context, changes []plan.Change) *Report {
	if c == nil {
		return nil
	}
	r := &Report{Permissions: Required(changes)}
	if c.Skip || len(r.Permissions) == 0 {
		return r
	}
	rep := c.Reporter
	if rep == nil {
		rep = ui.Discard
	}
	step := rep.Step(fmt.Sprintf("check %d permissions", len(r.Permissions)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	warn := func(msg string) {
		mu.Lock()
		r.Warnings = append(r.Warnings, msg)
		mu.Unlock()
	}
	for _, project := range Projects(r.Permissions) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.checkProject(ctx, r, project, &mu, warn)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.checkKube(ctx, r, warn)
	}()
	wg.Wait()
	r.finish()
	slices.Sort(r.Warnings)
	for _, w := range r.Warnings {
		rep.Warnf("%s", w)
	}
	if r.Missing > 0 {
		step.Fail(fmt.Errorf("%d missing", r.Missing))
	} else {
		step.Done()
	}
	return r
}

// checkProject asks for the project's permissions, in chunks sent at once.
func (c *Checker) checkProject(ctx context.Context, r *Report, project string, mu *sync.Mutex, warn func(string)) {
	if c.IAM == nil {
		return
	}
	var perms []string
	for _, p := range r.Permissions {
		if p.Kubernetes == nil && p.Project == project {
			perms = append(perms, p.Permission)
		}
	}
	size := c.ChunkSize
	if size <= 0 {
		size = DefaultChunkSize
	}
	held := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	for chunk := range slices.Chunk(perms, size) {
		g.Go(func() error {
			got, err := c.IAM.TestIamPermissions(gctx, project, chunk)
			mu.Lock()
			defer mu.Unlock()
			for _, p := range got {
				held[p] = true
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		warn(cannotCheck(project, err))
		return
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range r.Permissions {
		if p.Kubernetes == nil && p.Project == project {
			r.Permissions[i].Status = Missing
			if held[p.Permission] {
				r.Permissions[i].Status = Held
			}
		}
	}
}

// checkKube reviews the Kubernetes permissions. Each verb on a resource in
// a namespace is asked once without an object's name: allowed there, it
// is allowed for every name. Only what that refuses is asked again object
// by object (RBAC can grant single objects by name). A verb on a resource
// wanted in several namespaces is asked first across all of them
// (reviewAcross).
func (c *Checker) checkKube(ctx context.Context, r *Report, warn func(string)) {
	// Each Kubernetes entry of r.Permissions is written here only; the
	// projects' goroutines write the others.
	if c.Access == nil {
		return
	}
	var asks []KubeAccess
	members := map[KubeAccess][]int{}
	for i, p := range r.Permissions {
		if p.Kubernetes == nil {
			continue
		}
		wide := *p.Kubernetes
		wide.Name = ""
		if members[wide] == nil {
			asks = append(asks, wide)
		}
		members[wide] = append(members[wide], i)
	}
	allowed, err := c.reviewAcross(ctx, asks)
	var again []KubeAccess
	againAt := map[KubeAccess]int{}
	for _, a := range asks {
		for _, i := range members[a] {
			k := *r.Permissions[i].Kubernetes
			switch {
			case err != nil:
			case allowed[a]:
				r.Permissions[i].Status = Held
			case k.Name != "":
				again, againAt[k] = append(again, k), i
			default:
				r.Permissions[i].Status = Missing
			}
		}
	}
	if err == nil && len(again) > 0 {
		var byName map[KubeAccess]bool
		if byName, err = c.review(ctx, again); err == nil {
			for _, k := range again {
				r.Permissions[againAt[k]].Status = map[bool]Status{true: Held, false: Missing}[byName[k]]
			}
		}
	}
	if err != nil {
		warn(fmt.Sprintf("could not check Kubernetes permissions (%v): going on without the check; a refusal will name what is missing", err))
		for i, p := range r.Permissions {
			if p.Kubernetes != nil {
				r.Permissions[i].Status = Unchecked
			}
		}
	}
}

// reviewAcross answers asks of one verb on one resource in several
// namespaces with one review across all namespaces (a
// SelfSubjectAccessReview without a namespace), which a ClusterRoleBinding
// or Google's IAM allows when it allows them everywhere; only what that
// refuses is asked namespace by namespace. Twenty gateways, each in a
// namespace of its own, are then a dozen reviews instead of hundreds.
func (c *Checker) reviewAcross(ctx context.Context, asks []KubeAccess) (map[KubeAccess]bool, error) {
	inNamespaces := map[KubeAccess]int{}
	var across []KubeAccess
	for _, a := range asks {
		all := a
		all.Namespace = ""
		if a.Namespace == "" {
			continue
		}
		if inNamespaces[all]++; inNamespaces[all] == 2 {
			across = append(across, all)
		}
	}
	everywhere, err := c.review(ctx, across)
	if err != nil {
		return nil, err
	}
	allowed := map[KubeAccess]bool{}
	var rest []KubeAccess
	for _, a := range asks {
		all := a
		all.Namespace = ""
		if everywhere[all] {
			allowed[a] = true
			continue
		}
		rest = append(rest, a)
	}
	more, err := c.review(ctx, rest)
	for a, ok := range more {
		allowed[a] = ok
	}
	return allowed, err
}

// review asks for each access at once (up to kubeParallel in flight).
func (c *Checker) review(ctx context.Context, asks []KubeAccess) (map[KubeAccess]bool, error) {
	var mu sync.Mutex
	out := map[KubeAccess]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(kubeParallel)
	for _, a := range asks {
		g.Go(func() error {
			ok, err := c.Access.Allowed(gctx, a)
			mu.Lock()
			out[a] = ok
			mu.Unlock()
			return err
		})
	}
	return out, g.Wait()
}

var quotaProjectRE = regexp.MustCompile(`in project (\S+?) before or it is disabled`)

// cannotCheck is the warning when testIamPermissions fails: for the
// Resource Manager API disabled in the quota project (403
// accessNotConfigured, terraform-google-project-factory#715), how to
// enable it.
func cannotCheck(project string, err error) string {
	var g *googleapi.Error
	if errors.As(err, &g) && g.Code == 403 && disabledAPI(g) {
		quota := project
		if m := quotaProjectRE.FindStringSubmatch(g.Message); m != nil {
			quota = m[1]
		}
		return fmt.Sprintf("cannot check permissions in project %s: the Cloud Resource Manager API (cloudresourcemanager.googleapis.com) is disabled in project %s, the quota project; going on without the check. Enable it with `gcloud services enable cloudresourcemanager.googleapis.com --project %s`",
			project, quota, quota)
	}
	return fmt.Sprintf("could not check permissions in project %s (%v): going on without the check; a refusal will name what is missing", project, err)
}

func disabledAPI(g *googleapi.Error) bool {
	for _, e := range g.Errors {
		if e.Reason == "accessNotConfigured" {
			return true
		}
	}
	text := g.Message + " " + g.Body
	return strings.Contains(text, "SERVICE_DISABLED") || strings.Contains(text, "has not been used in project")
}
