package fakegcp

// defaultQuotas approximate a new project's global quotas; Knobs.Quotas
// overrides them. Inserts beyond a limit fail with 403 quotaExceeded.
var defaultQuotas = map[string]float64{
	"BACKEND_SERVICES":        75,
	"HEALTH_CHECKS":           75,
	"URL_MAPS":                30,
	"TARGET_HTTPS_PROXIES":    30,
	"TARGET_HTTP_PROXIES":     30,
	"SSL_CERTIFICATES":        30,
	"SSL_POLICIES":            10,
	"SECURITY_POLICIES":       10,
	"FIREWALLS":               200,
	"NETWORKS":                15,
	"NETWORK_ENDPOINT_GROUPS": 300,
	"FORWARDING_RULES":        45,
	"SUBNETWORKS":             175,
	"ROUTES":                  250,
	"INSTANCES":               24,
	"INSTANCE_GROUPS":         100,
}

func (s *Server) quotaLimit(metric string) float64 {
	if v, ok := s.knobs.Quotas[metric]; ok {
		return v
	}
	return defaultQuotas[metric]
}

// quotaUsage counts objects of the kinds under a metric, in flight included.
func (s *Server) quotaUsage(metric string) int {
	n := 0
	for _, r := range s.resources {
		if r.kind.quota == metric {
			n++
		}
	}
	return n
}

func (s *Server) checkQuota(k *kind) *APIError {
	if k.quota == "" {
		return nil
	}
	if limit := s.quotaLimit(k.quota); float64(s.quotaUsage(k.quota)) >= limit {
		return errQuota(k.quota, limit)
	}
	return nil
}

// getProject is projects.get, with the quotas and their usage.
func (s *Server) getProject(*apiCall) (any, *APIError) {
	var quotas []any
	for _, metric := range sortedKeys(defaultQuotas) {
		quotas = append(quotas, map[string]any{"metric": metric, "limit": s.quotaLimit(metric), "usage": s.quotaUsage(metric)})
	}
	return map[string]any{
		"kind":                  "compute#project",
		"id":                    s.projectNumber,
		"name":                  s.project,
		"creationTimestamp":     googleTime(s.started),
		"selfLink":              computeBase + "projects/" + s.project,
		"defaultServiceAccount": s.sc.NodeServiceAccount(),
		"defaultNetworkTier":    "PREMIUM",
		"xpnProjectStatus":      "UNSPECIFIED_XPN_PROJECT_STATUS",
		"quotas":                quotas,
	}, nil
}

// zones lists the zones that hold the simulated clusters' nodes.
// Called with s.mu held.
func (s *Server) zones() []string {
	seen := map[string]bool{}
	for _, sc := range s.simulatedScenarios() {
		for _, p := range sc.NodePools {
			for _, z := range p.Zones {
				seen[z] = true
			}
		}
	}
	return sortedKeys(seen)
}

func (s *Server) knownZoneLocked(zone string) bool {
	for _, z := range s.zones() {
		if z == zone {
			return true
		}
	}
	return false
}

func (s *Server) knownZone(zone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.knownZoneLocked(zone)
}

// zoneCPUPlatforms are the CPU platforms a zone offers, as recorded for
// us-central1-a.
var zoneCPUPlatforms = []string{
	"Ampere Altra", "Intel Broadwell", "Intel Cascade Lake", "Intel Emerald Rapids", "AMD Genoa", "NVIDIA Grace",
	"Intel Granite Rapids", "Intel Haswell", "Intel Ice Lake", "Intel Ivy Bridge", "Google Axion", "AMD Milan",
	"AMD Rome", "Intel Sandy Bridge", "Intel Sapphire Rapids", "Intel Skylake", "AMD Turin",
}

func (s *Server) renderZone(zone string) map[string]any {
	return map[string]any{
		"kind":                  "compute#zone",
		"id":                    itoa(int64(nameID(zone) >> 8)),
		"creationTimestamp":     "1969-12-31T16:00:00.000-08:00",
		"name":                  zone,
		"description":           zone,
		"status":                "UP",
		"region":                computeBase + "projects/" + s.project + "/regions/" + regionOfZone(zone),
		"selfLink":              computeBase + "projects/" + s.project + "/zones/" + zone,
		"availableCpuPlatforms": toAnyList(zoneCPUPlatforms),
		"supportsPzs":           false,
	}
}

func (s *Server) getZone(c *apiCall) (any, *APIError) {
	return s.renderZone(c.name), nil
}

func (s *Server) listZones(c *apiCall) (any, *APIError) {
	var items []map[string]any
	for _, z := range s.zones() {
		items = append(items, s.renderZone(z))
	}
	return s.listResponse(c, "compute#zoneList", "projects/"+s.project+"/zones", items, true)
}
