package multicluster

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
	"github.com/meshctl/meshctl/pkg/plan"
)

// Each istiod reads every other cluster's API server at the address its
// remote secret names: a private cluster's private endpoint. GKE lets a
// caller through only from the cluster's own region unless master global
// access is on, and, with master authorized networks on, only from the
// blocks listed; an istiod calls from its Pod's address, so its cluster's
// whole Pod range must be listed (Cloud Service Mesh's multi-cluster
// guide: "add the calling control planes' IP ranges to the remote private
// clusters' authorized networks").

// blockPrefix starts the display name of the authorized-network blocks
// meshctl adds; the calling cluster's installed name follows. Disconnect
// removes exactly those, and never a user's block.
const blockPrefix = "meshctl "

func blockName(caller *member) string { return blockPrefix + caller.clusterID }

// accessNeed is what one cluster's control plane lacks for the other
// clusters' istiods to reach it.
type accessNeed struct {
	target *member
	// fromRegions are callers in other regions while global access is off.
	fromRegions []string
	// add are the callers' Pod ranges missing from the authorized networks.
	add []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock
	// callers names the clusters of add, in order.
	callers []string
}

func (n accessNeed) empty() bool { return len(n.fromRegions) == 0 && len(n.add) == 0 }

// readAccess works out, for every cluster with a private endpoint, what
// keeps the other clusters' istiods out.
func readAccess(ms []*member) []accessNeed {
	var out []accessNeed
	for _, t := range ms {
		if _, private := t.endpoint(); !private {
			continue
		}
		n := accessNeed{target: t}
		on, blocks := gkecluster.AuthorizedNetworks(t.gke)
		for _, c := range ms {
			if c == t {
				continue
			}
			if c.Region() != t.Region() && !gkecluster.GlobalAccess(t.gke) {
				n.fromRegions = append(n.fromRegions, c.Name+" ("+c.Region()+")")
			}
			if r, ok := c.podRange(); ok && on && !covered(blocks, r) {
				n.add = append(n.add, &containerpb.MasterAuthorizedNetworksConfig_CidrBlock{DisplayName: blockName(c), CidrBlock: r.String()})
				n.callers = append(n.callers, c.Name)
			}
		}
		if !n.empty() {
			out = append(out, n)
		}
	}
	return out
}

// covered reports whether one block holds the whole range: an istiod Pod
// may get any address of it.
func covered(blocks []string, r netip.Prefix) bool {
	for _, b := range blocks {
		p, err := netip.ParsePrefix(b)
		if err == nil && p.Bits() <= r.Bits() && p.Masked().Contains(r.Addr()) {
			return true
		}
	}
	return false
}

// added says exactly what the update adds, for the plan and the report.
func (n accessNeed) added() []string {
	var out []string
	if len(n.fromRegions) > 0 {
		out = append(out, "master global access on")
	}
	for i, b := range n.add {
		out = append(out, fmt.Sprintf("authorized network %s (%s's Pods, named %q)", b.GetCidrBlock(), n.callers[i], b.GetDisplayName()))
	}
	return out
}

func (n accessNeed) findings() []findings.Finding {
	t := n.target
	ep, _ := t.endpoint()
	var out []findings.Finding
	if len(n.fromRegions) > 0 {
		out = append(out, findings.GlobalAccessOff.New(object(t),
			fmt.Sprintf("%s's private endpoint %s admits callers from %s only (master global access is off): the istiods of %s cannot reach it",
				t.Name, ep, t.Region(), strings.Join(n.fromRegions, ", ")),
			fmt.Sprintf("meshctl mesh connect --fix (or gcloud container clusters update %s --location %s --project %s --enable-master-global-access)", t.Name, t.Location, t.Project)))
	}
	if len(n.add) > 0 {
		var ranges []string
		for i, b := range n.add {
			ranges = append(ranges, b.GetCidrBlock()+" ("+n.callers[i]+")")
		}
		_, blocks := gkecluster.AuthorizedNetworks(t.gke)
		out = append(out, findings.AuthorizedNetworkGap.New(object(t),
			fmt.Sprintf("%s's authorized networks [%s] do not admit the Pod ranges %s, whose istiods call its private endpoint %s",
				t.Name, strings.Join(blocks, ", "), strings.Join(ranges, ", "), ep),
			"meshctl mesh connect --fix adds them, keeping the blocks there"))
	}
	return out
}

func (n accessNeed) change() plan.Change {
	c := plan.Change{Kind: "clusters", Name: n.target.String(), Action: plan.Update, Note: strings.Join(n.added(), "; ")}
	if len(n.fromRegions) > 0 {
		c.Fields = append(c.Fields, "controlPlaneEndpointsConfig.ipEndpointsConfig.globalAccess")
	}
	if len(n.add) > 0 {
		c.Fields = append(c.Fields, "controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig.cidrBlocks")
	}
	return clusterChange(c, n.target.Ref)
}

// update is one ClusterUpdate: GKE runs one update per cluster at a time,
// and both settings are fields of desiredControlPlaneEndpointsConfig. The
// authorized networks are sent whole (the API replaces them): every block
// there, with its name, then ours. The etag makes a concurrent change
// fail the update rather than be overwritten.
func (n accessNeed) update() *containerpb.ClusterUpdate {
	ip := &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{}
	if len(n.fromRegions) > 0 {
		ip.GlobalAccess = proto.Bool(true)
	}
	if len(n.add) > 0 {
		ip.AuthorizedNetworksConfig = withBlocks(n.target, n.add)
	}
	return &containerpb.ClusterUpdate{
		DesiredControlPlaneEndpointsConfig: &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: ip},
		Etag:                               n.target.gke.GetEtag(),
	}
}

// withBlocks is the cluster's authorized networks with blocks replaced by
// keep (nil keeps all) and add appended.
func withBlocks(t *member, add []*containerpb.MasterAuthorizedNetworksConfig_CidrBlock, keep ...func(*containerpb.MasterAuthorizedNetworksConfig_CidrBlock) bool) *containerpb.MasterAuthorizedNetworksConfig {
	cfg := &containerpb.MasterAuthorizedNetworksConfig{}
	if cur := gkecluster.AuthorizedNetworksConfig(t.gke); cur != nil {
		cfg = proto.Clone(cur).(*containerpb.MasterAuthorizedNetworksConfig)
	}
	if len(keep) > 0 {
		cfg.CidrBlocks = slices.DeleteFunc(cfg.CidrBlocks, func(b *containerpb.MasterAuthorizedNetworksConfig_CidrBlock) bool { return !keep[0](b) })
	}
	cfg.Enabled = true
	cfg.CidrBlocks = append(cfg.CidrBlocks, add...)
	return cfg
}
