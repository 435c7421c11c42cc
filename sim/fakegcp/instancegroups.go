package fakegcp

import (
	"fmt"
	"slices"
)

// instanceGroupKind: unmanaged instance groups, the older backends of
// backend services. The group holds instances of its zone (a deleted
// instance leaves it) and names its serving ports.
func instanceGroupKind() *kind {
	return &kind{
		collection: "instanceGroups", method: "instanceGroups", apiKind: "compute#instanceGroup",
		typeName: "instance_group", scope: zonalScope, quota: "INSTANCE_GROUPS",
		fingerprint: true,
		outputOnly:  []string{"size"},
		refs:        []refField{{path: "network", collections: []string{"networks"}}},
		prepare: func(_ *Server, c *change) *APIError {
			return checkNamedPorts(list(c.next, "namedPorts"), "resource.namedPorts")
		},
		render: func(s *Server, r *resource, out map[string]any) {
			out["size"] = len(s.groupMembers(r))
		},
		verbs: map[string]verb{
			"addInstances":    {opType: "addInstances", edit: addInstances},
			"removeInstances": {opType: "removeInstances", edit: removeInstances},
			"setNamedPorts":   {opType: "setNamedPorts", edit: setNamedPorts},
			"listInstances":   {read: listGroupInstances},
		},
	}
}

func checkNamedPorts(ports []any, field string) *APIError {
	for i, p := range ports {
		np, _ := p.(map[string]any)
		f := fmt.Sprintf("%s[%d]", field, i)
		if !nameRE.MatchString(str(np, "name")) {
			return errInvalidField(f+".name", str(np, "name"), "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
		}
		if port, ok := num(np, "port"); !ok || port < 1 || port > 65535 {
			return errInvalidField(f+".port", np["port"], "The port must be between 1 and 65535.")
		}
	}
	return nil
}

// groupMembers lists the group's instances that still exist: created
// ones and the simulated clusters' nodes (GKE's instance groups hold
// those). Called with s.mu held.
func (s *Server) groupMembers(g *resource) []string {
	var out []string
	for _, path := range g.members {
		if inst := s.resources[path]; inst != nil && inst.obj != nil {
			out = append(out, path)
		} else if ref, ok := parseRef(path, s.project, "", "instances"); ok && s.referable(ref) == nil {
			out = append(out, path)
		}
	}
	return out
}

// groupInstances reads body.instances[].instance as instances of the
// group's zone that exist.
func (s *Server) groupInstances(c *change) ([]string, *APIError) {
	var paths []string
	for i, e := range list(c.call.body, "instances") {
		link := str(e.(map[string]any), "instance")
		field := fmt.Sprintf("instances[%d].instance", i)
		ref, ok := parseRef(link, s.project, c.r.ref.Scope, "instances")
		if !ok {
			return nil, errInvalidField(field, link, "The URL is malformed.")
		}
		ref = s.canonicalRef(ref)
		if ref.Scope != c.r.ref.Scope {
			return nil, errInvalidField(field, link, "The instance must be in "+scopeWords(c.r.ref.Scope)+", as the group is.")
		}
		if err := s.referable(ref); err != nil {
			return nil, err
		}
		paths = append(paths, ref.Path())
	}
	return paths, nil
}

func addInstances(s *Server, c *change) *APIError {
	add, err := s.groupInstances(c)
	if err != nil {
		return err
	}
	members := s.groupMembers(c.r)
	for _, p := range add {
		if slices.Contains(members, p) {
			return errInvalid("The resource '%s' is already a member of '%s'", p, c.r.ref.Path())
		}
		members = append(members, p)
	}
	c.members = &members
	return nil
}

func removeInstances(s *Server, c *change) *APIError {
	remove, err := s.groupInstances(c)
	if err != nil {
		return err
	}
	members := s.groupMembers(c.r)
	for _, p := range remove {
		i := slices.Index(members, p)
		if i < 0 {
			return errInvalid("The resource '%s' is not a member of '%s'", p, c.r.ref.Path())
		}
		members = slices.Delete(members, i, i+1)
	}
	c.members = &members
	return nil
}

// setNamedPorts replaces the group's named ports; the request must carry
// the group's current fingerprint.
func setNamedPorts(s *Server, c *change) *APIError {
	if fp := str(c.call.body, "fingerprint"); fp != "" && !s.fingerprintAccepted(c.r, "fingerprint", fp) {
		return errFingerprint()
	}
	ports := list(c.call.body, "namedPorts")
	if err := checkNamedPorts(ports, "namedPorts"); err != nil {
		return err
	}
	c.next["namedPorts"] = deepCopy(ports)
	return nil
}

// listGroupInstances answers instanceGroups.listInstances: each member with
// its status and the group's named ports (recorded: no selfLink).
func listGroupInstances(s *Server, c *apiCall, g *resource) (any, *APIError) {
	var items []map[string]any
	for _, path := range s.groupMembers(g) {
		item := map[string]any{"instance": computeBase + path, "status": "RUNNING"}
		if ports := list(g.obj, "namedPorts"); len(ports) > 0 {
			item["namedPorts"] = deepCopy(ports)
		}
		items = append(items, item)
	}
	return s.verbListResponse(c, "compute#instanceGroupsListInstances", g.ref.Path()+"/listInstances", items)
}
