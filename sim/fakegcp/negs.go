package fakegcp

import (
	"fmt"
	"slices"
	"strconv"
)

// Endpoint is one endpoint of a zonal NEG: what the API shows (instance,
// ipAddress, port) plus what the simulation knows about the pod behind it.
type Endpoint struct {
	Instance  string `json:"instance"` // node (VM) name
	IPAddress string `json:"ipAddress"`
	Port      int    `json:"port"`
	// Ready is the pod's readiness.
	Ready bool `json:"ready"`
	// ServedPorts are the container ports the pod listens on; a health check
	// probing any other port fails.
	ServedPorts []int `json:"servedPorts,omitempty"`
}

var negEndpointTypes = map[string]bool{"GCE_VM_IP_PORT": true, "GCE_VM_IP": true, "NON_GCP_PRIVATE_IP_PORT": true}

func negKind() *kind {
	return &kind{
		collection: "networkEndpointGroups", method: "networkEndpointGroups", apiKind: "compute#networkEndpointGroup",
		typeName: "network_endpoint_group", quota: "NETWORK_ENDPOINT_GROUPS", scope: zonalScope,
		outputOnly: []string{"size", "zone"},
		refs:       []refField{{path: "network", collections: []string{"networks"}}},
		prepare:    prepareNEG,
		render: func(_ *Server, r *resource, out map[string]any) {
			out["size"] = len(r.endpoints)
		},
		verbs: map[string]verb{
			"attachNetworkEndpoints": {opType: "attachNetworkEndpoints", edit: attachNetworkEndpoints},
			"detachNetworkEndpoints": {opType: "detachNetworkEndpoints", edit: detachNetworkEndpoints},
			"listNetworkEndpoints":   {read: listNetworkEndpoints},
		},
	}
}

func prepareNEG(s *Server, c *change) *APIError {
	neg := c.next
	setDefault(neg, "networkEndpointType", "GCE_VM_IP_PORT")
	if t := str(neg, "networkEndpointType"); !negEndpointTypes[t] {
		return errInvalidField("resource.networkEndpointType", t, "Zonal network endpoint groups support GCE_VM_IP_PORT, GCE_VM_IP and NON_GCP_PRIVATE_IP_PORT.")
	}
	setDefault(neg, "network", "global/networks/default")
	if sub := str(neg, "subnetwork"); sub != "" {
		ref, ok := parseRef(sub, s.project, "regions/"+s.sc.Region, "subnetworks")
		if !ok {
			return errInvalidField("resource.subnetwork", sub, "The URL is malformed.")
		}
		neg["subnetwork"] = s.canonicalRef(ref).Link()
	}
	return nil
}

// endpointKey identifies an endpoint within a NEG.
func endpointKey(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

// readEndpoints decodes body.networkEndpoints, filling the NEG's default
// port and the node's address, and checking each instance is a node of the
// NEG's zone.
func (s *Server) readEndpoints(c *change) ([]Endpoint, *APIError) {
	zone := zoneOf(c.r.ref.Scope)
	nodes := map[string]string{} // name → IP in this zone
	for _, n := range s.nodes() {
		if n.zone == zone {
			nodes[n.name] = n.ip
		}
	}
	defaultPort, hasDefault := num(c.prev, "defaultPort")
	var eps []Endpoint
	for i, e := range list(c.call.body, "networkEndpoints") {
		m, _ := e.(map[string]any)
		field := fmt.Sprintf("networkEndpoints[%d]", i)
		ep := Endpoint{Instance: str(m, "instance"), IPAddress: str(m, "ipAddress")}
		if ref, ok := parseRef(ep.Instance, s.project, c.r.ref.Scope, "instances"); ok && ep.Instance != "" {
			ep.Instance = ref.Name
		}
		port, ok := num(m, "port")
		switch {
		case ok:
			ep.Port = int(port)
		case hasDefault:
			ep.Port = int(defaultPort)
		default:
			return nil, errRequired(field + ".port")
		}
		ip, known := nodes[ep.Instance]
		if !known {
			return nil, errInvalidField(field+".instance", str(m, "instance"), "The instance does not exist in zone "+zone+".")
		}
		if ep.IPAddress == "" {
			ep.IPAddress = ip
		}
		// An endpoint attached through the API has no pod the simulation
		// knows of: take it to be a ready server of its own port.
		ep.Ready, ep.ServedPorts = true, []int{ep.Port}
		eps = append(eps, ep)
	}
	return eps, nil
}

func attachNetworkEndpoints(s *Server, c *change) *APIError {
	add, err := s.readEndpoints(c)
	if err != nil {
		return err
	}
	eps := slices.Clone(c.r.endpoints)
	for _, ep := range add {
		for _, have := range eps {
			if endpointKey(have.IPAddress, have.Port) == endpointKey(ep.IPAddress, ep.Port) {
				return errInvalid("The network endpoint %s already exists in network endpoint group '%s'.", endpointKey(ep.IPAddress, ep.Port), c.r.ref.Path())
			}
		}
		eps = append(eps, ep)
	}
	c.endpoints = &eps
	return nil
}

func detachNetworkEndpoints(s *Server, c *change) *APIError {
	remove, err := s.readEndpoints(c)
	if err != nil {
		return err
	}
	eps := slices.Clone(c.r.endpoints)
	for _, ep := range remove {
		i := slices.IndexFunc(eps, func(have Endpoint) bool {
			return endpointKey(have.IPAddress, have.Port) == endpointKey(ep.IPAddress, ep.Port)
		})
		if i < 0 {
			return errInvalid("The network endpoint %s is not in network endpoint group '%s'.", endpointKey(ep.IPAddress, ep.Port), c.r.ref.Path())
		}
		eps = slices.Delete(eps, i, i+1)
	}
	c.endpoints = &eps
	return nil
}

// listNetworkEndpoints answers with the endpoints and, when the request asks
// for healthStatus SHOW, their health in each serving backend service.
func listNetworkEndpoints(s *Server, c *apiCall, neg *resource) (any, *APIError) {
	show := str(c.body, "healthStatus") == "SHOW"
	type user struct {
		bs, fr *resource
		hc     map[string]any
		hcLink string
	}
	var users []user
	if show {
		for _, bs := range s.allOf(kindOf("backendServices")) {
			if !slices.Contains(s.refsIn(bs.kind, bs.obj), neg.ref.Path()) {
				continue
			}
			u := user{bs: bs, fr: s.frontendOf(bs)}
			if links := strList(bs.obj, "healthChecks"); len(links) > 0 {
				u.hcLink = links[0]
				if ref, ok := parseRef(links[0], s.project, "global", "healthChecks"); ok {
					if r := s.resources[s.canonicalRef(ref).Path()]; r != nil {
						u.hc = r.obj
					}
				}
			}
			if u.fr != nil {
				users = append(users, u)
			}
		}
	}
	var items []map[string]any
	for _, ep := range neg.endpoints {
		item := map[string]any{"networkEndpoint": map[string]any{"instance": ep.Instance, "ipAddress": ep.IPAddress, "port": ep.Port}}
		if show {
			var healths []any
			for _, u := range users {
				state := "UNHEALTHY"
				if s.endpointHealthy(u.hc, ep) {
					state = "HEALTHY"
				}
				healths = append(healths, map[string]any{
					"backendService": map[string]any{"backendService": str(u.bs.obj, "selfLink")},
					"forwardingRule": map[string]any{"forwardingRule": str(u.fr.obj, "selfLink")},
					"healthCheck":    map[string]any{"healthCheck": u.hcLink},
					"healthState":    state,
				})
			}
			item["healths"] = healths
		}
		items = append(items, item)
	}
	return s.verbListResponse(c, "compute#networkEndpointGroupsListNetworkEndpoints", neg.ref.Path()+"/listNetworkEndpoints", items)
}
