package lb

import (
	"slices"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// locate names a change's object for the permission check before an
// apply (pkg/preflight): its full name, and what the object it writes
// refers to, read from the body the apply sends.
func (p *Plan) locate(o *object, c plan.Change) plan.Change {
	c.Resource = preflight.ComputeName(p.Project, "global", string(o.kind), o.name)
	if (c.Action == plan.Create || c.Action == plan.Update) && o.want != nil {
		// An update writes the object as read, merged with what is
		// wanted: a shared URL map keeps naming the other services'
		// backends, and Google checks the use of every one.
		written := o.want
		if c.Action == plan.Update && o.merge != nil && o.actual != nil {
			if merged, err := o.merge(o.actual); err == nil {
				written = merged
			}
		}
		for _, m := range []proto.Message{o.want, written} {
			if body, err := protojson.Marshal(m); err == nil {
				c.Uses = append(c.Uses, preflight.ComputeLinks(body, p.Project)...)
			}
		}
	}
	slices.Sort(c.Uses)
	c.Uses = slices.Compact(c.Uses)
	return c
}

// attachUses adds the Cloud Armor policy a backend service is given
// (setSecurityPolicy, apart from the service's own body) to the
// services's change: the apply attaches it when the service is created
// with a policy or its policy changes.
func (p *Plan) attachUses(c plan.Change, armor *object) []string {
	if armor == nil || !(c.Action == plan.Create || slices.Contains(c.Fields, "securityPolicy")) {
		return c.Uses
	}
	return append(c.Uses, preflight.ComputeName(p.Project, "global", string(KindSecurityPolicy), armor.name))
}
