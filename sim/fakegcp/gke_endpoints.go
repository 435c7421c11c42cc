package fakegcp

import (
	"fmt"
	"net/netip"

	"github.com/meshctl/meshctl/sim/scenario"
)

// Who may reach a cluster's control plane is set by three overlapping parts
// of ClusterUpdate: the older desiredMasterAuthorizedNetworksConfig and
// desiredPrivateClusterConfig, and desiredControlPlaneEndpointsConfig's
// ipEndpointsConfig, which gcloud 528 sends for --enable-master-global-access,
// --enable-master-authorized-networks and --enable-private-endpoint. They
// change the scenario, so the reachability model sees them at once; the
// rest of desiredControlPlaneEndpointsConfig (e.g. dnsEndpointConfig) is
// kept as an overlay.

// Limits on authorized networks (GKE's documentation: 50 blocks on a public
// cluster, 100 on a private one).
const (
	maxAuthorizedBlocksPublic  = 50
	maxAuthorizedBlocksPrivate = 100
)

// endpointChange is what one update asks of the control-plane endpoints.
type endpointChange struct {
	authorized     map[string]any // a MasterAuthorizedNetworksConfig; nil when not asked
	globalAccess   *bool
	publicEndpoint *bool
	// overlay is desiredControlPlaneEndpointsConfig without the fields
	// above, for the cluster's overlay.
	overlay map[string]any
}

// parseEndpointChange reads the endpoint fields of a ClusterUpdate and
// refuses an update that sets one thing twice, as the API documents: "It
// is invalid to specify both ... at the same time".
func parseEndpointChange(update map[string]any) (endpointChange, *APIError) {
	var c endpointChange
	cp := copyObject(obj(update, "desiredControlPlaneEndpointsConfig"))
	ip := obj(cp, "ipEndpointsConfig")
	legacyPrivate := obj(update, "desiredPrivateClusterConfig")
	legacyAuthorized, hasLegacyAuthorized := update["desiredMasterAuthorizedNetworksConfig"].(map[string]any)

	if a, ok := ip["authorizedNetworksConfig"].(map[string]any); ok {
		if hasLegacyAuthorized {
			return c, gkeInvalid("Cannot specify both desired_master_authorized_networks_config and desired_control_plane_endpoints_config.ip_endpoints_config.authorized_networks_config.")
		}
		c.authorized = a
	} else if hasLegacyAuthorized {
		c.authorized = legacyAuthorized
	}
	// masterGlobalAccessConfig is a message: present with "enabled" left
	// out (proto3 JSON drops false) means off.
	legacyGlobal, hasLegacyGlobal := legacyPrivate["masterGlobalAccessConfig"].(map[string]any)
	if v, ok := ip["globalAccess"].(bool); ok {
		if hasLegacyGlobal {
			return c, gkeInvalid("Cannot specify both desired_private_cluster_config.master_global_access_config and desired_control_plane_endpoints_config.ip_endpoints_config.global_access.")
		}
		c.globalAccess = &v
	} else if hasLegacyGlobal {
		v := boolean(legacyGlobal, "enabled")
		c.globalAccess = &v
	}
	if v, ok := ip["enablePublicEndpoint"].(bool); ok {
		if _, twice := legacyPrivate["enablePrivateEndpoint"]; twice {
			return c, gkeInvalid("Cannot specify both desired_private_cluster_config.enable_private_endpoint and desired_control_plane_endpoints_config.ip_endpoints_config.enable_public_endpoint.")
		}
		c.publicEndpoint = &v
	} else if v, ok := legacyPrivate["enablePrivateEndpoint"].(bool); ok {
		public := !v
		c.publicEndpoint = &public
	}
	for _, k := range []string{"authorizedNetworksConfig", "globalAccess", "enablePublicEndpoint"} {
		delete(ip, k)
	}
	if ip != nil {
		if len(ip) == 0 {
			delete(cp, "ipEndpointsConfig")
		} else {
			cp["ipEndpointsConfig"] = ip
		}
	}
	if len(cp) > 0 {
		c.overlay = cp
	}
	if c.authorized != nil {
		if err := checkBlocks(c.authorized); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkBlocks refuses a block that is not a CIDR. (The wording is ours:
// no recorded answer shows GKE's.)
func checkBlocks(authorized map[string]any) *APIError {
	for _, b := range list(authorized, "cidrBlocks") {
		block, _ := b.(map[string]any)
		cidr := str(block, "cidrBlock")
		if _, err := netip.ParsePrefix(cidr); err != nil {
			return gkeInvalid("Invalid master authorized networks: network %q is not a valid CIDR block.", cidr)
		}
	}
	return nil
}

// blockNames are the displayNames the update gives its blocks, by CIDR.
func (c endpointChange) blockNames() map[string]string {
	out := map[string]string{}
	for _, b := range list(c.authorized, "cidrBlocks") {
		block, _ := b.(map[string]any)
		if name := str(block, "displayName"); name != "" {
			out[str(block, "cidrBlock")] = name
		}
	}
	return out
}

// apply changes the scenario as the update asks.
func (c endpointChange) apply(sc *scenario.Scenario) {
	if c.authorized != nil {
		on := boolean(c.authorized, "enabled")
		var cidrs []string
		if on {
			for _, b := range list(c.authorized, "cidrBlocks") {
				block, _ := b.(map[string]any)
				cidrs = append(cidrs, str(block, "cidrBlock"))
			}
		}
		sc.AuthorizedNetworks, sc.AuthorizedNetworksEnabled = cidrs, on
	}
	if c.globalAccess != nil {
		sc.MasterGlobalAccess = *c.globalAccess
	}
	if c.publicEndpoint != nil {
		sc.PrivateEndpoint = !*c.publicEndpoint
	}
}

// failure is why GKE would fail the update's operation, or "": GKE checks
// the resulting configuration as it applies it, so these errors come with
// the finished operation, not with the request (terraform reports them as
// "Error waiting for ...").
func (c endpointChange) failure(current scenario.Scenario) string {
	next := current
	next.AuthorizedNetworks = append([]string(nil), current.AuthorizedNetworks...)
	c.apply(&next)
	limit := maxAuthorizedBlocksPublic
	if next.Private {
		limit = maxAuthorizedBlocksPrivate
	}
	if len(next.AuthorizedNetworks) > limit {
		// Wording ours; the limits are GKE's documented ones.
		return fmt.Sprintf("Invalid master authorized networks: at most %d CIDR blocks are allowed, got %d.", limit, len(next.AuthorizedNetworks))
	}
	if next.PrivateEndpoint {
		for _, cidr := range next.AuthorizedNetworks {
			if p, err := netip.ParsePrefix(cidr); err == nil && !internalRange(p) {
				// GKE's own words (seen in terraform and gcloud reports).
				return fmt.Sprintf("Invalid master authorized networks: network %q is not a reserved network, which is required for private endpoints.", cidr)
			}
		}
	}
	return ""
}

var internalRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
}

func internalRange(p netip.Prefix) bool {
	for _, r := range internalRanges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// withoutModelledEndpointFields drops from an update what endpointChange
// handles, so the generic overlay merge does not also record it.
func withoutModelledEndpointFields(update map[string]any, c endpointChange) map[string]any {
	out := copyObject(update)
	delete(out, "desiredMasterAuthorizedNetworksConfig")
	delete(out, "desiredControlPlaneEndpointsConfig")
	if c.overlay != nil {
		out["desiredControlPlaneEndpointsConfig"] = c.overlay
	}
	if pc := copyObject(obj(out, "desiredPrivateClusterConfig")); pc != nil {
		delete(pc, "masterGlobalAccessConfig")
		delete(pc, "enablePrivateEndpoint")
		if len(pc) == 0 {
			delete(out, "desiredPrivateClusterConfig")
		} else {
			out["desiredPrivateClusterConfig"] = pc
		}
	}
	return out
}
