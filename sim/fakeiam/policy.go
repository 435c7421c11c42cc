package fakeiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
)

// DefaultPrincipal is the caller that sends no credentials: meshctl and
// gcloud against meshsim's loopback endpoint (neither sends a token there).
const DefaultPrincipal = "default"

// Permissions limit what a principal holds. Allow nil means every
// permission a role can grant; an empty Allow means none. Deny takes
// permissions away again. Entries are permission names or patterns ending
// in "*" (compute.firewalls.*, compute.*).
type Permissions struct {
	// Allow is written out as null when nil, so that "everything" and
	// "nothing" ([]) survive a round trip.
	Allow []string `json:"allow"`
	Deny  []string `json:"deny,omitempty"`
}

func (p Permissions) allows(perm string) bool {
	if p.Allow != nil && !matchesAny(p.Allow, perm) {
		return false
	}
	return !matchesAny(p.Deny, perm)
}

func matchesAny(patterns []string, perm string) bool {
	for _, pat := range patterns {
		if matchesPattern(pat, perm) {
			return true
		}
	}
	return false
}

// Grant is one principal's permissions: in every project, and further
// limited in single projects (by project id), so a Shared VPC host project
// can deny what the service project allows.
type Grant struct {
	Permissions
	Projects map[string]Permissions `json:"projects,omitempty"`
}

// Project is a project the simulator knows, by id and number.
type Project struct {
	ID     string `json:"id"`
	Number string `json:"number"`
}

// Config is meshsim's permission model as JSON (the state directory's
// iam.json, `meshsim up --iam-policy`, PUT /meshsim/iam/policy):
//
//	{"principals": {
//	   "default": {"allow": null, "deny": ["compute.securityPolicies.create"],
//	               "projects": {"host-project": {"allow": null, "deny": ["compute.subnetworks.use"]}}},
//	   "serviceAccount:ci@p.iam.gserviceaccount.com": {"allow": ["compute.*", "container.clusters.get"]}},
//	 "projects": [{"id": "host-project", "number": "222222222222"}]}
//
// A principal that is not listed holds every permission, if the simulator
// knows it at all (DefaultPrincipal and the Google service agents of the
// known projects); any other principal is unauthenticated.
type Config struct {
	Principals map[string]Grant `json:"principals,omitempty"`
	// Projects the simulator knows besides its own (a Shared VPC host).
	Projects []Project `json:"projects,omitempty"`
}

// LoadConfig reads a Config from a JSON file; a missing file is the empty
// config (every known principal holds everything).
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every principal, project and permission of c.
func (c Config) Validate() error {
	for _, name := range slices.Sorted(maps.Keys(c.Principals)) {
		if name == "" {
			return errors.New("a principal has an empty name")
		}
		g := c.Principals[name]
		if err := g.validate(); err != nil {
			return fmt.Errorf("principal %s: %w", name, err)
		}
		for _, project := range slices.Sorted(maps.Keys(g.Projects)) {
			if project == "" {
				return fmt.Errorf("principal %s: a project has an empty id", name)
			}
			if err := g.Projects[project].validate(); err != nil {
				return fmt.Errorf("principal %s in project %s: %w", name, project, err)
			}
		}
	}
	for _, p := range c.Projects {
		if p.ID == "" || p.Number == "" {
			return fmt.Errorf("project %+v: both id and number are required", p)
		}
	}
	return nil
}

func (p Permissions) validate() error {
	for _, pat := range append(slices.Clone(p.Allow), p.Deny...) {
		if err := validatePattern(pat); err != nil {
			return err
		}
	}
	return nil
}

// Policy is the permission model every fake API enforces and the fake
// Resource Manager answers from. It is safe for concurrent use.
type Policy struct {
	// editMu makes each Deny and Grant one read-modify-write.
	editMu sync.Mutex

	mu       sync.Mutex
	cfg      Config
	home     []Project          // the projects the simulator serves
	projects map[string]Project // by id and by number
	builtins map[string]bool    // principals known without config
}

// NewPolicy builds a policy over cfg for the simulator's own projects.
func NewPolicy(cfg Config, projects ...Project) (*Policy, error) {
	p := &Policy{home: projects}
	if err := p.SetConfig(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// SetConfig replaces the permission model.
func (p *Policy) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = copyConfig(cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg = cfg
	p.projects, p.builtins = map[string]Project{}, map[string]bool{DefaultPrincipal: true}
	for _, pr := range append(slices.Clone(p.home), cfg.Projects...) {
		p.projects[pr.ID], p.projects[pr.Number] = pr, pr
		for _, agent := range ServiceAgents(pr.Number) {
			p.builtins[agent] = true
		}
	}
	return nil
}

// Config returns a copy of the permission model.
func (p *Policy) Config() Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return copyConfig(p.cfg)
}

// Project finds a project the simulator knows by id or number.
func (p *Policy) Project(idOrNumber string) (Project, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.projects[idOrNumber]
	return pr, ok
}

// Knows reports whether principal may call the APIs at all.
func (p *Policy) Knows(principal string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, listed := p.cfg.Principals[principal]
	return listed || p.builtins[principal]
}

// Holds reports whether principal holds perm in project (id or number).
func (p *Policy) Holds(principal, project, perm string) bool {
	if !Grantable(perm) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	g, listed := p.cfg.Principals[principal]
	if !listed {
		return p.builtins[principal]
	}
	if !g.allows(perm) {
		return false
	}
	if pr, ok := p.projects[project]; ok {
		project = pr.ID
	}
	if in, ok := g.Projects[project]; ok && !in.allows(perm) {
		return false
	}
	return true
}

// Change names permissions of one principal, in one project or (Project
// empty) in all: the body of POST /meshsim/iam/deny and /meshsim/iam/grant.
type Change struct {
	Principal   string   `json:"principal,omitempty"` // default: DefaultPrincipal
	Project     string   `json:"project,omitempty"`
	Permissions []string `json:"permissions"`
}

// Deny takes permissions away from a principal.
func (p *Policy) Deny(c Change) error {
	return p.change(c, func(level *Permissions, perm string) {
		if !slices.Contains(level.Deny, perm) {
			level.Deny = append(level.Deny, perm)
		}
	})
}

// Grant gives permissions back: they leave the deny lists that name them
// and join the allow lists that lack them, in the principal's
// every-project grant and in the project's (or, with no project, in every
// project's). A permission a pattern still denies is an error: change the
// whole policy (PUT /meshsim/iam/policy) instead.
func (p *Policy) Grant(c Change) error {
	return p.change(c, func(level *Permissions, perm string) {
		level.Deny = slices.DeleteFunc(level.Deny, func(d string) bool { return d == perm })
		if level.Allow != nil && !matchesAny(level.Allow, perm) {
			level.Allow = append(level.Allow, perm)
		}
	})
}

func (p *Policy) change(c Change, edit func(*Permissions, string)) error {
	p.editMu.Lock()
	defer p.editMu.Unlock()
	if c.Principal == "" {
		c.Principal = DefaultPrincipal
	}
	cfg := p.Config()
	if cfg.Principals == nil {
		cfg.Principals = map[string]Grant{}
	}
	g := cfg.Principals[c.Principal]
	for _, perm := range c.Permissions {
		if err := validatePattern(perm); err != nil {
			return err
		}
		if c.Project == "" {
			edit(&g.Permissions, perm)
			for name, in := range g.Projects {
				edit(&in, perm)
				g.Projects[name] = in
			}
			continue
		}
		id := c.Project
		if pr, ok := p.Project(id); ok {
			id = pr.ID
		}
		if g.Projects == nil {
			g.Projects = map[string]Permissions{}
		}
		in := g.Projects[id]
		edit(&in, perm)
		g.Projects[id] = in
	}
	cfg.Principals[c.Principal] = g
	if err := p.SetConfig(cfg); err != nil {
		return err
	}
	return p.stillDenied(c)
}

// stillDenied reports a granted permission that a pattern keeps denying.
func (p *Policy) stillDenied(c Change) error {
	g := p.Config().Principals[c.Principal]
	for _, perm := range c.Permissions {
		levels := []Permissions{g.Permissions}
		if in, ok := g.Projects[c.Project]; ok {
			levels = append(levels, in)
		}
		for _, level := range levels {
			if matchesAny(level.Deny, perm) && !slices.Contains(level.Deny, perm) {
				return fmt.Errorf("%s is still denied to %s by a pattern in %v; replace the policy instead", perm, c.Principal, level.Deny)
			}
		}
	}
	return nil
}

func copyConfig(c Config) Config {
	out := Config{Projects: slices.Clone(c.Projects)}
	if c.Principals != nil {
		out.Principals = map[string]Grant{}
	}
	for name, g := range c.Principals {
		cp := Grant{Permissions: g.copy()}
		if g.Projects != nil {
			cp.Projects = map[string]Permissions{}
			for project, in := range g.Projects {
				cp.Projects[project] = in.copy()
			}
		}
		out.Principals[name] = cp
	}
	return out
}

func (p Permissions) copy() Permissions {
	return Permissions{Allow: slices.Clone(p.Allow), Deny: slices.Clone(p.Deny)}
}
