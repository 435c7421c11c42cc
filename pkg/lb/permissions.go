package lb

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/plan"
	"github.com/meshctl/meshctl/pkg/preflight"
)

// locate names a change's object for the permission check before an
// apply (pkg/preflight): its full name, and what the object it writes
// refers to, read from the body the apply sends.
func (p *Plan) locate(o *object, c plan.Change) plan.Change {
	c.Resource = preflight.ComputeName(cmp.Or(o.project, p.Project), "global", string(o.kind), o.name)
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
	if fw, ok := o.want.(*computepb.Firewall); ok && c.Action == plan.Create {
		c.Handover = FirewallCommand(cmp.Or(o.project, p.Project), fw)
	}
	return c
}

// FirewallCommand is the gcloud command that creates fw as meshctl
// would, description (its owner marker) included, for a network
// administrator to run: the next run finds the rule as it wants it.
func FirewallCommand(project string, fw *computepb.Firewall) string {
	var rules []string
	for _, a := range fw.GetAllowed() {
		for _, port := range a.GetPorts() {
			rules = append(rules, a.GetIPProtocol()+":"+port)
		}
	}
	cmd := fmt.Sprintf("gcloud compute firewall-rules create %s --project %s --network %s --direction %s --priority %d --action ALLOW --rules %s",
		fw.GetName(), project, fw.GetNetwork(), fw.GetDirection(), fw.GetPriority(), strings.Join(rules, ","))
	for _, f := range []struct {
		flag   string
		values []string
	}{{"--source-ranges", fw.GetSourceRanges()}, {"--destination-ranges", fw.GetDestinationRanges()}, {"--target-tags", fw.GetTargetTags()}} {
		if len(f.values) > 0 {
			cmd += " " + f.flag + " " + strings.Join(f.values, ",")
		}
	}
	return cmd + " --description " + shellQuote(fw.GetDescription())
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

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

// declaredRefs are what each kind can refer to, for DeclaredChanges.
var declaredRefs = map[Kind][]string{
	KindBackendService: {"global/" + string(KindHealthCheck), "zones/ZONE/networkEndpointGroups", "global/" + string(KindSecurityPolicy)},
	KindURLMap:         {"global/" + string(KindBackendService)},
	KindHTTPSProxy:     {"global/" + string(KindURLMap), "global/" + string(KindCertificate), "global/" + string(KindSSLPolicy)},
	KindHTTPProxy:      {"global/" + string(KindURLMap)},
	KindForwardingRule: {"global/" + string(KindHTTPSProxy), "global/" + string(KindHTTPProxy), "global/" + string(KindAddress)},
	KindFirewall:       {"global/networks"},
}

// declaredFields are fields each kind can change in an update: those with
// a set method of their own and one that changes through update (or, for
// a forwarding rule, by deleting and creating it again).
var declaredFields = []string{"description", "urlMap", "sslCertificates", "sslPolicy", "target", "labels", "securityPolicy"}

// immutable kinds have no update method (so no update permission): a
// new address or certificate is a new object.
var immutable = map[Kind]bool{KindAddress: true, KindCertificate: true}

// DeclaredChanges are every change an apply or a teardown of a load
// balancer can make in project, without a plan: each kind created,
// updated in every way and deleted, referring to all it can refer to. The
// firewall rules are netProject's, on its network: the project of the
// cluster's network, a Shared VPC's host project (as an apply puts them).
// It is `meshctl check --permissions`' superset for expose and unexpose;
// TestPlanPermissionsCoverTheApply checks every real plan needs no more.
func DeclaredChanges(project, netProject string) []plan.Change {
	return declaredChanges(project, netProject, KindAddress, KindHealthCheck, KindSSLPolicy, KindCertificate, KindSecurityPolicy, KindFirewall,
		KindBackendService, KindURLMap, KindHTTPSProxy, KindHTTPProxy, KindForwardingRule)
}

// DeclaredEdgeChanges are DeclaredChanges for a GKE Gateway's edge
// (PlanEdge, PlanEdgeTeardown): its address, SSL policy and Cloud Armor
// policy; GKE's Gateway controller makes the rest with its own account.
func DeclaredEdgeChanges(project string) []plan.Change {
	return declaredChanges(project, project, KindAddress, KindSSLPolicy, KindSecurityPolicy)
}

func declaredChanges(project, netProject string, kinds ...Kind) []plan.Change {
	var out []plan.Change
	for _, k := range kinds {
		in := project
		if k == KindFirewall {
			in = cmp.Or(netProject, project)
		}
		var uses []string
		for _, ref := range declaredRefs[k] {
			scope, collection := ref[:strings.LastIndex(ref, "/")], ref[strings.LastIndex(ref, "/")+1:]
			uses = append(uses, preflight.ComputeName(in, scope, collection, "ANY"))
		}
		res := preflight.ComputeName(in, "global", string(k), "ANY")
		base := plan.Change{Kind: string(k), Name: "ANY", Resource: res}
		for _, a := range []plan.Action{plan.Create, plan.Update, plan.Delete} {
			if a == plan.Update && immutable[k] {
				continue
			}
			c := base
			c.Action = a
			if a != plan.Delete {
				c.Uses = uses
			}
			if a == plan.Update {
				c.Fields = declaredFields
			}
			out = append(out, c)
		}
	}
	return out
}
