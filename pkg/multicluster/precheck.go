package multicluster

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/meshctl/meshctl/pkg/findings"
	"github.com/meshctl/meshctl/pkg/gkecluster"
)

// prechecks are the findings about the clusters themselves and how they
// fit together, from what gather read. The network between them (firewall,
// private endpoints) is the links' plan's (network.go).
func prechecks(ms []*member) []findings.Finding {
	var out []findings.Finding
	var read, installed []*member
	for _, m := range ms {
		out = append(out, m.failures...)
		if !m.usable() {
			continue
		}
		read = append(read, m)
		if m.gke.GetWorkloadIdentityConfig().GetWorkloadPool() == "" {
			out = append(out, findings.MCWorkloadIdentity.New(object(m), "workload identity is off: the mesh's workloads and the managed control plane authenticate through it",
				fmt.Sprintf("gcloud container clusters update %s --location %s --project %s --workload-pool %s.svc.id.goog", m.Name, m.Location, m.Project, m.Project)))
		}
		if len(m.planes) == 0 {
			out = append(out, findings.NoControlPlane.New(object(m), "no istiod revision and no managed revision is installed in "+m.Context,
				"meshctl install --context "+m.Context+" (or --managed)"))
			continue
		}
		installed = append(installed, m)
	}
	for _, check := range []func([]*member) []findings.Finding{checkFleets, checkPodRanges, checkNetworks} {
		out = append(out, check(read)...)
	}
	for _, check := range []func([]*member) []findings.Finding{checkKinds, checkVersions, checkRevisions, checkNames, checkTrustDomains} {
		out = append(out, check(installed)...)
	}
	return out
}

func object(m *member) string { return "cluster " + m.Name }

func names(ms []*member) string {
	var n []string
	for _, m := range ms {
		n = append(n, m.Name)
	}
	return strings.Join(n, ", ")
}

// checkKinds: connect links in-cluster control planes with remote secrets
// and managed ones through the fleet; a mesh of both is not what either
// supports.
func checkKinds(ms []*member) []findings.Finding {
	var managed, inCluster []*member
	for _, m := range ms {
		if m.managed() {
			managed = append(managed, m)
		} else {
			inCluster = append(inCluster, m)
		}
	}
	if len(managed) == 0 || len(inCluster) == 0 {
		return nil
	}
	return []findings.Finding{findings.ControlPlaneKindsMix.New("clusters "+names(ms),
		fmt.Sprintf("managed control planes in %s, in-cluster ones in %s", names(managed), names(inCluster)),
		"migrate the in-cluster control planes to the managed one (meshctl install --managed) first")}
}

// checkVersions: istiods of different releases share remote clusters'
// endpoints, but Istio supports only a control-plane skew of one minor
// release, as during an upgrade.
func checkVersions(ms []*member) []findings.Finding {
	byVersion := map[string][]string{}
	for _, m := range ms {
		for _, p := range m.planes {
			if p.Version != "" {
				byVersion[p.Version] = append(byVersion[p.Version], m.Name+"/"+p.Revision)
			}
		}
	}
	if len(byVersion) < 2 {
		return nil
	}
	var parts []string
	minors := map[int]bool{}
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		parts = append(parts, v+" ("+strings.Join(byVersion[v], ", ")+")")
		if minor, ok := minorOf(v); ok {
			minors[minor] = true
		}
	}
	msg := "control planes run " + strings.Join(parts, ", ")
	keys := slices.Sorted(maps.Keys(minors))
	if len(keys) > 1 && keys[len(keys)-1]-keys[0] > 1 {
		msg += ": more than one minor release apart, which Istio does not support"
	}
	return []findings.Finding{findings.MeshVersionsDiffer.New("clusters "+names(ms), msg, "upgrade the older control planes (meshctl install --revision NEW, then meshctl inject)")}
}

// minorOf reads 28 from 1.28.2-asm.4.
func minorOf(version string) (int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return n, err == nil
}

// checkRevisions: a namespace labelled istio.io/rev=R is injected only
// where R exists; workloads moved between clusters expect the same names.
func checkRevisions(ms []*member) []findings.Finding {
	if len(ms) < 2 {
		return nil
	}
	common := map[string]bool{}
	for _, r := range ms[0].revisions() {
		common[r] = true
	}
	var each []string
	for _, m := range ms {
		each = append(each, m.Name+": "+strings.Join(m.revisions(), ","))
		for r := range common {
			if !slices.Contains(m.revisions(), r) {
				delete(common, r)
			}
		}
	}
	if len(common) > 0 {
		return nil
	}
	return []findings.Finding{findings.NoCommonRevision.New("clusters "+names(ms), "no revision is installed in every cluster ("+strings.Join(each, "; ")+
		"): a namespace labelled for one revision is injected in some clusters only", "install the same revision name in every cluster (meshctl install --revision NAME)")}
}

// checkNames: istiod keys remote clusters by name; two clusters of one
// name cannot both be registered ("cluster has already been registered").
func checkNames(ms []*member) []findings.Finding {
	byID := map[string][]string{}
	for _, m := range ms {
		byID[m.clusterID] = append(byID[m.clusterID], m.Name)
	}
	var out []findings.Finding
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		if len(byID[id]) > 1 {
			out = append(out, findings.ClusterNameTaken.New("cluster name "+id, "clusters "+strings.Join(byID[id], ", ")+" were installed with the same cluster name "+id,
				"reinstall all but one with their own name (asmcli installs cn-PROJECT-LOCATION-NAME)"))
		}
	}
	return out
}

// checkFleets: clusters of one mesh belong to one fleet (its mesh id and
// workload identity pool).
func checkFleets(ms []*member) []findings.Finding {
	var out []findings.Finding
	fleets := map[string][]string{}
	for _, m := range ms {
		f := m.gke.GetFleet().GetProject()
		if f == "" {
			out = append(out, findings.FleetUnregistered.New(object(m), "the cluster is not registered to a fleet: Google's tooling (the mesh dashboards, managed features) expects every cluster of a mesh in one fleet",
				fmt.Sprintf("gcloud container clusters update %s --location %s --project %s --fleet-project FLEET_PROJECT", m.Name, m.Location, m.Project)))
			continue
		}
		fleets[f] = append(fleets[f], m.Name)
	}
	if len(fleets) > 1 {
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(fleets)) {
			parts = append(parts, f+" ("+strings.Join(fleets[f], ", ")+")")
		}
		out = append(out, findings.FleetsDiffer.New("clusters "+names(ms), "the clusters belong to different fleets: "+strings.Join(parts, ", "),
			"register every cluster to one fleet host project"))
	}
	return out
}

// checkTrustDomains: a workload's identity names its trust domain; a
// cluster accepts another's workloads only when its mesh config lists that
// trust domain as an alias. Connect adds the missing aliases.
func checkTrustDomains(ms []*member) []findings.Finding {
	var out []findings.Finding
	for _, m := range ms {
		if m.managed() {
			continue
		}
		for _, p := range m.planes {
			if missing := missingAliases(p, ms); len(missing) > 0 {
				out = append(out, findings.TrustDomainsDiffer.New(object(m)+" revision "+p.Revision,
					fmt.Sprintf("trust domain %s; the other clusters' %s are not in trustDomainAliases of ConfigMap istio-system/%s", p.TrustDomain, strings.Join(missing, ", "), p.MeshConfig),
					"meshctl mesh connect adds them"))
			}
		}
	}
	return out
}

// missingAliases are the other clusters' trust domains p does not accept.
func missingAliases(p plane, ms []*member) []string {
	var missing []string
	for _, o := range ms {
		td := o.trustDomain()
		if td == "" || td == p.TrustDomain || slices.Contains(p.Aliases, td) || slices.Contains(missing, td) {
			continue
		}
		missing = append(missing, td)
	}
	sort.Strings(missing)
	return missing
}

// checkPodRanges: istiod keys endpoints by address; a single network's
// Pod addresses must be unique.
func checkPodRanges(ms []*member) []findings.Finding {
	var out []findings.Finding
	for i, a := range ms {
		ra, okA := a.podRange()
		for _, b := range ms[i+1:] {
			rb, okB := b.podRange()
			if okA && okB && ra.Overlaps(rb) {
				out = append(out, findings.PodRangesOverlap.New("clusters "+a.Name+", "+b.Name,
					fmt.Sprintf("Pod range %s of %s overlaps %s of %s: the same Pod address can exist in both", ra, a.Name, rb, b.Name),
					"recreate one cluster with its own Pod range (--cluster-ipv4-cidr)"))
			}
		}
	}
	return out
}

// checkNetworks: one VPC is one network for Istio; clusters in several
// would need east-west gateways, which connect does not build.
func checkNetworks(ms []*member) []findings.Finding {
	byNet := map[string][]string{}
	for _, m := range ms {
		p, n := gkecluster.Network(m.gke, m.Project)
		byNet[p+"/"+n] = append(byNet[p+"/"+n], m.Name)
	}
	if len(byNet) < 2 {
		return nil
	}
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(byNet)) {
		parts = append(parts, n+" ("+strings.Join(byNet[n], ", ")+")")
	}
	return []findings.Finding{findings.NetworksDiffer.New("clusters "+names(ms), "the clusters are in networks "+strings.Join(parts, ", "),
		"put the clusters in one VPC (a Shared VPC across projects), or build a multi-network mesh with east-west gateways")}
}
