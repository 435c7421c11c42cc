package check

import (
	"fmt"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/meshctl/meshctl/pkg/findings"
)

func masterVersion(cl *containerpb.Cluster) string {
	if v := cl.GetCurrentMasterVersion(); v != "" {
		return v
	}
	return cl.GetInitialClusterVersion()
}

// poolVersion is the pool's node version; GKE leaves it empty only while a
// pool is created, when it follows the control plane.
func poolVersion(cl *containerpb.Cluster, p *containerpb.NodePool) string {
	if v := p.GetVersion(); v != "" {
		return v
	}
	return masterVersion(cl)
}

func checkMasterVersion(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	raw := masterVersion(cl)
	v, ok := ParseGKEVersion(raw)
	r := f.release
	if !ok {
		return outcome{findings: []findings.Finding{findings.MasterVersionUnsupported.Newf(f.clusterObject(),
			"GKE reports control plane version %q, which meshctl cannot read", raw)}}
	}
	if r.Supports(v.Minor) {
		return outcome{message: fmt.Sprintf("GKE %s; CSM %s supports %s", raw, r.Mesh, r.Window())}
	}
	msg := fmt.Sprintf("GKE %s is %s than CSM %s supports (%s)", raw, map[bool]string{true: "older", false: "newer"}[v.Minor.Less(r.MinGKE)], r.Mesh, r.Window())
	var hints []string
	if v.Minor.Less(r.MinGKE) {
		// GKE upgrades the control plane one minor version at a time.
		step := "gcloud container clusters upgrade " + f.opts.Cluster + " --master --cluster-version " + v.Minor.Next().String() + " " + f.gcloudScope()
		if v.Minor.Next() != r.MinGKE {
			step += fmt.Sprintf(" (then again, one minor version at a time, up to %s)", r.MinGKE)
		}
		hints = append(hints, step)
	}
	if others := releasesSupporting(v.Minor); len(others) > 0 {
		hints = append(hints, fmt.Sprintf("or target a release that supports GKE %s: --mesh-version %s", v.Minor, others[0]))
	} else if !v.Minor.Less(r.MinGKE) {
		hints = append(hints, fmt.Sprintf("no release in meshctl's table supports GKE %s yet; see https://cloud.google.com/service-mesh/docs/supported-platforms", v.Minor))
	}
	return outcome{findings: []findings.Finding{findings.MasterVersionUnsupported.New(f.clusterObject(), msg, strings.Join(hints, "; "))}}
}

func checkNodeVersions(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	r := f.release
	var out outcome
	minors := map[string]bool{}
	for _, p := range cl.GetNodePools() {
		raw := poolVersion(cl, p)
		v, ok := ParseGKEVersion(raw)
		if ok && r.Supports(v.Minor) {
			minors[v.Minor.String()] = true
			continue
		}
		obj := "node pool " + p.GetName()
		msg := fmt.Sprintf("node pool %s runs GKE %s; CSM %s supports %s", p.GetName(), raw, r.Mesh, r.Window())
		// Nodes never run newer than the control plane: a supported control
		// plane means the pool is behind and can follow it.
		hint := ""
		if mv, mok := ParseGKEVersion(masterVersion(cl)); mok && r.Supports(mv.Minor) {
			hint = f.poolUpgradeHint(p.GetName(), masterVersion(cl))
		} else if ok && v.Minor.Less(r.MinGKE) {
			hint = "upgrade the control plane first (" + findings.MasterVersionUnsupported.Code + "), then the pool: " + f.poolUpgradeHint(p.GetName(), r.MinGKE.String())
		}
		out.findings = append(out.findings, findings.NodeVersionUnsupported.New(obj, msg, hint))
	}
	if len(out.findings) == 0 {
		out.message = fmt.Sprintf("%s on GKE %s, supported", plural(len(cl.GetNodePools()), "node pool", "node pools"), joinKeys(minors))
	}
	return out
}

func (f *facts) poolUpgradeHint(pool, version string) string {
	return fmt.Sprintf("gcloud container clusters upgrade %s --node-pool %s --cluster-version %s %s", f.opts.Cluster, pool, version, f.gcloudScope())
}

func checkNodeVersionLag(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	master, ok := ParseGKEVersion(masterVersion(cl))
	if !ok {
		return outcome{status: StatusSkipped, message: "the control plane version is unreadable"}
	}
	var out outcome
	patchBehind := 0
	for _, p := range cl.GetNodePools() {
		v, ok := ParseGKEVersion(poolVersion(cl, p))
		if !ok {
			continue
		}
		switch {
		case v.Minor.Less(master.Minor):
			out.findings = append(out.findings, findings.NodeVersionBehind.New("node pool "+p.GetName(),
				fmt.Sprintf("node pool %s runs GKE %s, behind the control plane's %s", p.GetName(), v.Raw, master.Raw),
				f.poolUpgradeHint(p.GetName(), master.Raw)))
		case v.Minor == master.Minor && v.Raw != master.Raw:
			patchBehind++
		}
	}
	if len(out.findings) == 0 {
		out.message = "every node pool runs the control plane's minor version " + master.Minor.String()
		if patchBehind > 0 {
			out.message += fmt.Sprintf(" (%s on another patch release)", plural(patchBehind, "pool", "pools"))
		}
	}
	return out
}

func checkReleaseChannel(f *facts) outcome {
	cl, err := f.cluster()
	if err != nil {
		return unavailable(err)
	}
	switch ch := cl.GetReleaseChannel().GetChannel(); ch {
	case containerpb.ReleaseChannel_RAPID, containerpb.ReleaseChannel_REGULAR, containerpb.ReleaseChannel_STABLE, containerpb.ReleaseChannel_EXTENDED:
		return outcome{status: StatusInfo, message: ch.String() + ": GKE upgrades the cluster automatically; keep the mesh release in step"}
	}
	return outcome{status: StatusInfo, message: "none: a static version, upgraded by hand"}
}
