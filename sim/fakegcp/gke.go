package fakegcp

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/meshctl/meshctl/sim/scenario"
)

// gkeCluster is one GKE cluster. The scenario's cluster answers from the
// server's live scenario, so UpdateScenario shows at once; clusters created
// through the API (the recordings create one) keep their own shape.
type gkeCluster struct {
	scenario bool
	spec     scenario.Scenario // for clusters created through the API
	// simulated clusters have a real control plane and kwok nodes behind
	// them: the scenario's and Options.MoreClusters. Their nodes are
	// Compute instances; endpoint and caCert are their API server's.
	simulated        bool
	endpoint, caCert string
	// overlay holds fields set by updates that a scenario does not model
	// (e.g. desiredControlPlaneEndpointsConfig); it is merged over the
	// rendered cluster.
	overlay map[string]any
	// blockNames are the displayNames of the authorized networks' blocks,
	// by CIDR: GKE keeps what an update names them (the scenario keeps
	// only the CIDRs, which the reachability model reads).
	blockNames map[string]string
	status     string // PROVISIONING, RUNNING, RECONCILING or STOPPING
	created    time.Time
	generation int
	pending    *gkeOperation
}

func (cl *gkeCluster) shape(s *Server) scenario.Scenario {
	if cl.scenario {
		return s.sc
	}
	return cl.spec
}

// change applies fn to the cluster's shape: the server's scenario for the
// simulated cluster, the cluster's own otherwise.
func (cl *gkeCluster) change(s *Server, fn func(*scenario.Scenario)) {
	if cl.scenario {
		fn(&s.sc)
		return
	}
	fn(&cl.spec)
}

type gkeOperation struct {
	seq      uint64
	name     string
	location string
	opType   string
	cluster  string
	started  time.Time
	doneAt   time.Time
	done     bool
	apply    func()
	// failure, when set, is the error the operation ends with.
	failure string
}

func (s *Server) seedScenarioCluster(now time.Time) {
	s.started = now
	s.clusters["scenario"] = &gkeCluster{scenario: true, simulated: true, status: "RUNNING", created: now,
		endpoint: s.opts.ClusterEndpoint, caCert: s.opts.ClusterCACertificate}
	s.seedGKEFirewalls(s.sc, now)
	for i, more := range s.opts.MoreClusters {
		// Keys sort after "scenario" in creation order, so lists show the
		// clusters as meshsim numbered them.
		s.clusters[fmt.Sprintf("scenario-%03d", i+2)] = &gkeCluster{spec: more.Scenario, simulated: true, status: "RUNNING",
			created: now, endpoint: more.Endpoint, caCert: more.CACertificate}
		s.seedGKEFirewalls(more.Scenario, now)
	}
}

// simulatedScenarios are the shapes of the clusters with a control plane
// behind them, the scenario's first. Called with s.mu held.
func (s *Server) simulatedScenarios() []scenario.Scenario {
	out := []scenario.Scenario{s.sc}
	for _, key := range sortedKeys(s.clusters) {
		if cl := s.clusters[key]; cl.simulated && !cl.scenario {
			out = append(out, cl.spec)
		}
	}
	return out
}

// SimulatedClusters returns the simulated clusters as GKE describes them
// now, the scenario's first; updates through the API show at once.
func (s *Server) SimulatedClusters() []scenario.Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return s.simulatedScenarios()
}

func gkeNotFound(path string) *APIError {
	return &APIError{Code: http.StatusNotFound, Reason: "notFound", Status: "NOT_FOUND", Message: "Not found: " + path + "."}
}

func gkeInvalid(format string, args ...any) *APIError {
	return &APIError{Code: http.StatusBadRequest, Reason: "badRequest", Status: "INVALID_ARGUMENT", Message: fmt.Sprintf(format, args...)}
}

// routeGKE maps /v1/projects/{p}/{locations|zones}/{l}/... to GKE's methods.
func (s *Server) routeGKE(r *http.Request) (route, *apiCall, *APIError) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/"), "/"), "/")
	if len(segs) < 5 || segs[0] != "projects" || (segs[2] != "locations" && segs[2] != "zones") {
		return route{}, nil, errNoSuchURL(r)
	}
	project, form, location, rest := segs[1], segs[2], segs[3], segs[4:]
	prefix := "container.projects." + form + "."
	var rt route
	name := ""
	switch {
	case rest[0] == "clusters" && len(rest) == 1 && r.Method == http.MethodGet:
		rt = route{method: prefix + "clusters.list", handle: s.listClusters}
	case rest[0] == "clusters" && len(rest) == 1 && r.Method == http.MethodPost:
		rt = route{method: prefix + "clusters.create", mutation: true, handle: s.createCluster}
	case rest[0] == "clusters" && len(rest) == 2 && r.Method == http.MethodGet:
		rt = route{method: prefix + "clusters.get", handle: s.getCluster}
	case rest[0] == "clusters" && len(rest) == 2 && r.Method == http.MethodPut:
		rt = route{method: prefix + "clusters.update", mutation: true, handle: s.updateCluster}
	case rest[0] == "clusters" && len(rest) == 2 && r.Method == http.MethodDelete:
		rt = route{method: prefix + "clusters.delete", mutation: true, handle: s.deleteCluster}
	case rest[0] == "clusters" && len(rest) == 3 && rest[2] == "nodePools" && r.Method == http.MethodGet:
		rt = route{method: prefix + "clusters.nodePools.list", handle: s.listNodePools}
	case rest[0] == "clusters" && len(rest) == 4 && rest[2] == "nodePools" && r.Method == http.MethodGet:
		rt = route{method: prefix + "clusters.nodePools.get", handle: s.getNodePool}
	case rest[0] == "operations" && len(rest) == 1 && r.Method == http.MethodGet:
		rt = route{method: prefix + "operations.list", handle: s.listGKEOperations}
	case rest[0] == "operations" && len(rest) == 2 && r.Method == http.MethodGet:
		rt = route{method: prefix + "operations.get", handle: s.getGKEOperation}
	default:
		return route{}, nil, errNoSuchURL(r)
	}
	if len(rest) >= 2 {
		name = rest[1]
	}
	if !s.projectMatches(project) {
		return rt, nil, gkeNotFound("projects/" + project)
	}
	c, err := newCall(r, rt.method, s.project, location, name)
	if err == nil && len(rest) == 4 {
		c.child = rest[3]
	}
	return rt, c, err
}

func clusterPath(project, location, name string) string {
	return "projects/" + project + "/locations/" + location + "/clusters/" + name
}

// findCluster looks a cluster up by location ("-" matches any) and name.
func (s *Server) findCluster(location, name string) (*gkeCluster, *APIError) {
	for _, cl := range s.clusters {
		sc := cl.shape(s)
		if sc.Cluster == name && (location == "-" || location == sc.Location) {
			return cl, nil
		}
	}
	return nil, gkeNotFound(clusterPath(s.project, location, name))
}

func (s *Server) listClusters(c *apiCall) (any, *APIError) {
	var out []any
	for _, key := range sortedKeys(s.clusters) {
		cl := s.clusters[key]
		if c.scope == "-" || cl.shape(s).Location == c.scope {
			out = append(out, s.renderCluster(cl))
		}
	}
	if len(out) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"clusters": out}, nil
}

func (s *Server) getCluster(c *apiCall) (any, *APIError) {
	cl, err := s.findCluster(c.scope, c.name)
	if err != nil {
		return nil, err
	}
	return s.renderCluster(cl), nil
}

func (s *Server) listNodePools(c *apiCall) (any, *APIError) {
	cl, err := s.findCluster(c.scope, c.name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"nodePools": s.renderCluster(cl)["nodePools"]}, nil
}

func (s *Server) getNodePool(c *apiCall) (any, *APIError) {
	cl, err := s.findCluster(c.scope, c.name)
	if err != nil {
		return nil, err
	}
	for _, p := range list(s.renderCluster(cl), "nodePools") {
		if pool, _ := p.(map[string]any); str(pool, "name") == c.child {
			return pool, nil
		}
	}
	return nil, gkeNotFound(clusterPath(s.project, c.scope, c.name) + "/nodePools/" + c.child)
}

// createCluster accepts a cluster that shows at once as PROVISIONING and
// turns RUNNING when its operation is DONE.
func (s *Server) createCluster(c *apiCall) (any, *APIError) {
	req := obj(c.body, "cluster")
	if req == nil {
		return nil, gkeInvalid("Cluster.name must be specified.")
	}
	spec, err := s.specFromRequest(c.scope, req)
	if err != nil {
		return nil, err
	}
	if existing, _ := s.findCluster(c.scope, spec.Cluster); existing != nil {
		return nil, &APIError{Code: http.StatusConflict, Reason: "alreadyExists", Status: "ALREADY_EXISTS",
			Message: "Already exists: " + clusterPath(s.project, c.scope, spec.Cluster) + "."}
	}
	cl := &gkeCluster{spec: spec, status: "PROVISIONING", created: time.Now()}
	s.clusters[clusterPath(s.project, c.scope, spec.Cluster)] = cl
	op := s.startGKEOperation(cl, "CREATE_CLUSTER", func() { cl.status = "RUNNING" })
	return s.renderGKEOperation(op), nil
}

// specFromRequest turns a create request into a scenario, with GKE's
// defaults for what the request leaves out.
func (s *Server) specFromRequest(location string, req map[string]any) (scenario.Scenario, *APIError) {
	sc := scenario.Scenario{
		Project: s.project, ProjectNumber: s.sc.ProjectNumber,
		Region: regionOfZone(location), Location: location, Cluster: str(req, "name"),
		MasterVersion: s.sc.MasterVersion, ReleaseChannel: "REGULAR",
		LoggingService: "logging.googleapis.com/kubernetes", MonitoringService: "monitoring.googleapis.com/kubernetes",
		Network: "default", Subnetwork: "default",
	}
	if v := str(obj(req, "releaseChannel"), "channel"); v != "" {
		sc.ReleaseChannel = v
	}
	for field, dst := range map[string]*string{"loggingService": &sc.LoggingService, "monitoringService": &sc.MonitoringService,
		"network": &sc.Network, "subnetwork": &sc.Subnetwork, "initialClusterVersion": &sc.MasterVersion} {
		if v := str(req, field); v != "" {
			*dst = v
		}
	}
	sc.WorkloadIdentity = str(obj(req, "workloadIdentityConfig"), "workloadPool") != ""
	sc.Autopilot = boolean(obj(req, "autopilot"), "enabled")
	pc := obj(req, "privateClusterConfig")
	sc.Private, sc.PrivateEndpoint, sc.MasterCIDR = boolean(pc, "enablePrivateNodes"), boolean(pc, "enablePrivateEndpoint"), str(pc, "masterIpv4CidrBlock")
	if man := obj(req, "masterAuthorizedNetworksConfig"); boolean(man, "enabled") {
		for _, b := range list(man, "cidrBlocks") {
			block, _ := b.(map[string]any)
			sc.AuthorizedNetworks = append(sc.AuthorizedNetworks, str(block, "cidrBlock"))
		}
	}
	if labels := stringMap(req, "resourceLabels"); len(labels) > 0 {
		sc.ResourceLabels = labels
	}
	zones := strList(req, "locations")
	if len(zones) == 0 {
		zones = []string{location}
		if !isZone(location) {
			zones = []string{location + "-a", location + "-b", location + "-c"}
		}
	}
	pools := list(req, "nodePools")
	if len(pools) == 0 {
		pools = []any{map[string]any{"name": "default-pool", "config": req["nodeConfig"], "initialNodeCount": req["initialNodeCount"]}}
	}
	for _, p := range pools {
		pool, _ := p.(map[string]any)
		np := scenario.NodePool{Name: str(pool, "name"), MachineType: "e2-medium", NodesPerZone: 3, Zones: zones}
		if mt := str(obj(pool, "config"), "machineType"); mt != "" {
			np.MachineType = mt
		}
		if n, ok := num(pool, "initialNodeCount"); ok {
			np.NodesPerZone = int(n)
		}
		if z := strList(pool, "locations"); len(z) > 0 {
			np.Zones = z
		}
		np.WorkloadMetadata = str(obj(obj(pool, "config"), "workloadMetadataConfig"), "mode")
		if as := obj(pool, "autoscaling"); boolean(as, "enabled") {
			lo, _ := num(as, "minNodeCount")
			hi, _ := num(as, "maxNodeCount")
			np.MinNodesPerZone, np.MaxNodesPerZone = int(lo), int(hi)
		}
		sc.NodePools = append(sc.NodePools, np)
	}
	if err := sc.Validate(); err != nil {
		return sc, gkeInvalid("%s", err.Error())
	}
	return sc, nil
}

// updateCluster applies ClusterUpdate's desired* fields when the operation
// is DONE. Those the scenario models change it (and so the simulated
// cluster); any other desiredX is merged into the cluster's X.
func (s *Server) updateCluster(c *apiCall) (any, *APIError) {
	cl, err := s.findCluster(c.scope, c.name)
	if err != nil {
		return nil, err
	}
	if cl.pending != nil {
		return nil, &APIError{Code: http.StatusBadRequest, Reason: "failedPrecondition", Status: "FAILED_PRECONDITION",
			Message: "Cluster is running incompatible operation " + cl.pending.name + "."}
	}
	update := copyObject(obj(c.body, "update"))
	if len(update) == 0 {
		return nil, gkeInvalid("Cluster.update must be specified.")
	}
	endpoints, aerr := parseEndpointChange(update)
	if aerr != nil {
		return nil, aerr
	}
	failure := endpoints.failure(cl.shape(s))
	rest := withoutModelledEndpointFields(update, endpoints)
	cl.status = "RECONCILING"
	op := s.startGKEOperation(cl, "UPDATE_CLUSTER", func() {
		// A failed update changes nothing.
		if failure == "" {
			cl.change(s, endpoints.apply)
			if endpoints.authorized != nil {
				cl.blockNames = endpoints.blockNames()
			}
			cl.applyUpdate(s, rest)
			cl.generation++
		}
		cl.status = "RUNNING"
	})
	op.failure = failure
	return s.renderGKEOperation(op), nil
}

func (cl *gkeCluster) applyUpdate(s *Server, update map[string]any) {
	for key, v := range update {
		val, _ := v.(map[string]any)
		text, _ := v.(string)
		switch key {
		case "desiredMasterVersion":
			if text != "" && text != "-" && text != "latest" {
				cl.change(s, func(sc *scenario.Scenario) { sc.MasterVersion = text })
			}
		case "desiredReleaseChannel":
			cl.change(s, func(sc *scenario.Scenario) { sc.ReleaseChannel = str(val, "channel") })
		case "desiredWorkloadIdentityConfig":
			cl.change(s, func(sc *scenario.Scenario) { sc.WorkloadIdentity = str(val, "workloadPool") != "" })
		case "desiredLoggingService":
			cl.change(s, func(sc *scenario.Scenario) { sc.LoggingService = text })
		case "desiredMonitoringService":
			cl.change(s, func(sc *scenario.Scenario) { sc.MonitoringService = text })
		default:
			if field, ok := strings.CutPrefix(key, "desired"); ok && field != "" {
				field = strings.ToLower(field[:1]) + field[1:]
				if cl.overlay == nil {
					cl.overlay = map[string]any{}
				}
				cl.overlay = mergePatch(cl.overlay, map[string]any{field: v})
			}
		}
	}
}

// deleteCluster shows the cluster STOPPING until its operation is DONE.
func (s *Server) deleteCluster(c *apiCall) (any, *APIError) {
	cl, err := s.findCluster(c.scope, c.name)
	if err != nil {
		return nil, err
	}
	if cl.pending != nil {
		return nil, &APIError{Code: http.StatusBadRequest, Reason: "failedPrecondition", Status: "FAILED_PRECONDITION",
			Message: "Cluster is running incompatible operation " + cl.pending.name + "."}
	}
	cl.status = "STOPPING"
	op := s.startGKEOperation(cl, "DELETE_CLUSTER", func() {
		for key, other := range s.clusters {
			if other == cl {
				delete(s.clusters, key)
			}
		}
	})
	return s.renderGKEOperation(op), nil
}

func (s *Server) startGKEOperation(cl *gkeCluster, opType string, apply func()) *gkeOperation {
	now := time.Now()
	seq := s.nextSeq()
	sc := cl.shape(s)
	op := &gkeOperation{
		seq:      seq,
		name:     fmt.Sprintf("operation-%d-%08x", now.UnixMilli(), uint32(splitmix64(seq))),
		location: sc.Location,
		opType:   opType,
		cluster:  sc.Cluster,
		started:  now,
		doneAt:   now.Add(time.Duration(s.knobs.ClusterOperationDuration)),
		apply:    apply,
	}
	cl.pending = op
	s.gkeOps[op.name] = op
	return op
}

// advanceGKE completes due GKE operations. Called with s.mu held.
func (s *Server) advanceGKE(now time.Time) {
	var due []*gkeOperation
	for _, op := range s.gkeOps {
		if !op.done && !op.doneAt.After(now) {
			due = append(due, op)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].seq < due[j].seq })
	for _, op := range due {
		op.done = true
		for _, cl := range s.clusters {
			if cl.pending == op {
				cl.pending = nil
			}
		}
		op.apply()
	}
}

// createProgress is what GKE reports in progress.metrics for a finished
// cluster creation (recorded).
var createProgress = []any{
	map[string]any{"intValue": "8", "name": "CLUSTER_CONFIGURING"},
	map[string]any{"intValue": "8", "name": "CLUSTER_CONFIGURING_TOTAL"},
	map[string]any{"intValue": "12", "name": "CLUSTER_DEPLOYING"},
	map[string]any{"intValue": "12", "name": "CLUSTER_DEPLOYING_TOTAL"},
	map[string]any{"intValue": "1", "name": "CLUSTER_HEALTHCHECKING"},
	map[string]any{"intValue": "2", "name": "CLUSTER_HEALTHCHECKING_TOTAL"},
}

// renderGKEOperation: GKE's operation links name the project by number.
func (s *Server) renderGKEOperation(op *gkeOperation) map[string]any {
	m := map[string]any{
		"name":          op.name,
		"zone":          op.location,
		"operationType": op.opType,
		"status":        "RUNNING",
		"selfLink":      gkeLink(s.projectNumber, op.location, "operations/"+op.name),
		"targetLink":    gkeLink(s.projectNumber, op.location, "clusters/"+op.cluster),
		"startTime":     op.started.UTC().Format(time.RFC3339Nano),
	}
	if op.done {
		m["status"] = "DONE"
		m["endTime"] = op.doneAt.UTC().Format(time.RFC3339Nano)
		if op.failure != "" {
			// gcloud reports statusMessage ("Operation [...] finished with
			// error: ..."); error is its google.rpc.Status form.
			m["statusMessage"] = op.failure
			m["error"] = map[string]any{"code": 3, "message": op.failure}
		}
		if op.opType == "CREATE_CLUSTER" {
			m["progress"] = map[string]any{"metrics": deepCopy(createProgress)}
		}
	}
	return m
}

func (s *Server) getGKEOperation(c *apiCall) (any, *APIError) {
	op := s.gkeOps[c.name]
	if op == nil || (c.scope != "-" && c.scope != op.location) {
		return nil, gkeNotFound("projects/" + s.project + "/locations/" + c.scope + "/operations/" + c.name)
	}
	return s.renderGKEOperation(op), nil
}

func (s *Server) listGKEOperations(c *apiCall) (any, *APIError) {
	var ops []*gkeOperation
	for _, op := range s.gkeOps {
		if c.scope == "-" || c.scope == op.location {
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].seq < ops[j].seq })
	var out []any
	for _, op := range ops {
		out = append(out, s.renderGKEOperation(op))
	}
	if len(out) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"operations": out}, nil
}
