package fakegcp

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// regionalClients are the official clients of the regional surface.
type regionalClients struct {
	addr   *compute.AddressesClient
	hc     *compute.RegionHealthChecksClient
	bs     *compute.RegionBackendServicesClient
	fr     *compute.ForwardingRulesClient
	subnet *compute.SubnetworksClient
	routes *compute.RoutesClient
	groups *compute.InstanceGroupsClient
}

func (e *env) regional(t *testing.T) regionalClients {
	return regionalClients{
		addr:   client(t, e.ctx, compute.NewAddressesRESTClient, e.opts),
		hc:     client(t, e.ctx, compute.NewRegionHealthChecksRESTClient, e.opts),
		bs:     client(t, e.ctx, compute.NewRegionBackendServicesRESTClient, e.opts),
		fr:     client(t, e.ctx, compute.NewForwardingRulesRESTClient, e.opts),
		subnet: client(t, e.ctx, compute.NewSubnetworksRESTClient, e.opts),
		routes: client(t, e.ctx, compute.NewRoutesRESTClient, e.opts),
		groups: client(t, e.ctx, compute.NewInstanceGroupsRESTClient, e.opts),
	}
}

// buildInternalLB makes an internal passthrough load balancer on the
// project's default network: a health check, a backend service and a
// forwarding rule without an address, which gets the subnetwork's first
// free one.
func (e *env) buildInternalLB(t *testing.T, rc regionalClients) *computepb.ForwardingRule {
	t.Helper()
	e.done(t)(rc.hc.Insert(e.ctx, &computepb.InsertRegionHealthCheckRequest{Project: project, Region: region,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("ilb-hc"), Type: proto.String("TCP"),
			TcpHealthCheck: &computepb.TCPHealthCheck{Port: proto.Int32(15021)}}}))
	e.done(t)(rc.bs.Insert(e.ctx, &computepb.InsertRegionBackendServiceRequest{Project: project, Region: region,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("ilb-bs"), LoadBalancingScheme: proto.String("INTERNAL"),
			Protocol: proto.String("TCP"), HealthChecks: []string{regionalLink("healthChecks", "ilb-hc")}}}))
	e.done(t)(rc.fr.Insert(e.ctx, &computepb.InsertForwardingRuleRequest{Project: project, Region: region,
		ForwardingRuleResource: &computepb.ForwardingRule{Name: proto.String("ilb-fr"), LoadBalancingScheme: proto.String("INTERNAL"),
			BackendService: proto.String(regionalLink("backendServices", "ilb-bs")), Ports: []string{"15443"}, AllowGlobalAccess: proto.Bool(true)}}))
	fr, err := rc.fr.Get(e.ctx, &computepb.GetForwardingRuleRequest{Project: project, Region: region, ForwardingRule: "ilb-fr"})
	if err != nil {
		t.Fatal(err)
	}
	return fr
}

func TestInternalForwardingRuleDefaultsAndRoutes(t *testing.T) {
	e := newEnv(t)
	rc := e.regional(t)
	fr := e.buildInternalLB(t, rc)
	// The default network's subnetwork in the region, its first free address
	// after the gateway and the nodes.
	if fr.GetSubnetwork() != regionalLink("subnetworks", "default") || fr.GetNetwork() != globalLink("networks", "default") {
		t.Errorf("network %s, subnetwork %s: want the default network's", fr.GetNetwork(), fr.GetSubnetwork())
	}
	if !strings.HasPrefix(fr.GetIPAddress(), "10.128.0.") || fr.GetIPAddress() == "10.128.0.1" || !fr.GetAllowGlobalAccess() {
		t.Errorf("IPAddress %s, allowGlobalAccess %v: want an address of the subnetwork (not its gateway) and global access", fr.GetIPAddress(), fr.GetAllowGlobalAccess())
	}
	for _, n := range e.srv.nodes() {
		if n.ip == fr.GetIPAddress() {
			t.Errorf("the forwarding rule took node %s's address %s", n.name, n.ip)
		}
	}
	// A route may send traffic to the rule; the rule then cannot go.
	e.done(t)(rc.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
		Name: proto.String("to-ilb"), Network: proto.String(globalLink("networks", "default")), DestRange: proto.String("192.168.0.0/16"),
		NextHopIlb: proto.String(regionalLink("forwardingRules", "ilb-fr"))}}))
	_, err := rc.fr.Delete(e.ctx, &computepb.DeleteForwardingRuleRequest{Project: project, Region: region, ForwardingRule: "ilb-fr"})
	wantAPIError(t, err, 400, "resourceInUseByAnotherResource")
	_, err = rc.routes.Insert(e.ctx, &computepb.InsertRouteRequest{Project: project, RouteResource: &computepb.Route{
		Name: proto.String("two-hops"), Network: proto.String(globalLink("networks", "default")), DestRange: proto.String("10.9.0.0/16"),
		NextHopIp: proto.String("10.128.0.9"), NextHopGateway: proto.String("global/gateways/default-internet-gateway")}})
	wantAPIError(t, err, 400, "invalid")
	// Patching global access away leaves the field out, as recorded.
	e.done(t)(rc.fr.Patch(e.ctx, &computepb.PatchForwardingRuleRequest{Project: project, Region: region, ForwardingRule: "ilb-fr",
		ForwardingRuleResource: &computepb.ForwardingRule{AllowGlobalAccess: proto.Bool(false)}}))
	if got, _ := e.srv.Resource(regionalLink("forwardingRules", "ilb-fr")); got["allowGlobalAccess"] != nil {
		t.Errorf("allowGlobalAccess %v after patching it to false, want it left out", got["allowGlobalAccess"])
	}
	// Compute takes an object's numeric id where it takes its name.
	byID, err := rc.fr.Get(e.ctx, &computepb.GetForwardingRuleRequest{Project: project, Region: region, ForwardingRule: strconv.FormatUint(fr.GetId(), 10)})
	if err != nil || byID.GetName() != "ilb-fr" {
		t.Errorf("get by id: %v, %v", byID.GetName(), err)
	}
}

func TestRegionalBackendServiceSchemeRules(t *testing.T) {
	e := newEnv(t)
	rc := e.regional(t)
	if err := e.srv.EnsureNEG(negZone, "port-neg", `{}`); err != nil {
		t.Fatal(err)
	}
	insert := func(name, scheme, mode string, hc string) error {
		_, err := rc.bs.Insert(e.ctx, &computepb.InsertRegionBackendServiceRequest{Project: project, Region: region,
			BackendServiceResource: &computepb.BackendService{Name: proto.String(name), LoadBalancingScheme: proto.String(scheme),
				HealthChecks: []string{hc},
				Backends:     []*computepb.Backend{{Group: proto.String(zonalLink(negZone, "networkEndpointGroups", "port-neg")), BalancingMode: proto.String(mode)}}}})
		return err
	}
	e.done(t)(e.hc.Insert(e.ctx, &computepb.InsertHealthCheckRequest{Project: project,
		HealthCheckResource: &computepb.HealthCheck{Name: proto.String("global-hc"), Type: proto.String("TCP")}}))
	// A passthrough load balancer balances connections to VMs (GCE_VM_IP).
	wantAPIError(t, insert("a", "INTERNAL", "RATE", globalLink("healthChecks", "global-hc")), 400, "invalid")
	wantAPIError(t, insert("b", "INTERNAL", "CONNECTION", globalLink("healthChecks", "global-hc")), 400, "invalid")
	// A regional managed load balancer checks health from its region.
	wantAPIError(t, insert("c", "INTERNAL_MANAGED", "RATE", globalLink("healthChecks", "global-hc")), 400, "invalid")
	// A global backend service has no INTERNAL scheme.
	_, err := e.bs.Insert(e.ctx, &computepb.InsertBackendServiceRequest{Project: project,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("d"), LoadBalancingScheme: proto.String("INTERNAL")}})
	wantAPIError(t, err, 400, "invalid")
	// References keep to their region.
	_, err = rc.bs.Insert(e.ctx, &computepb.InsertRegionBackendServiceRequest{Project: project, Region: region,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("e"), LoadBalancingScheme: proto.String("INTERNAL"),
			HealthChecks: []string{"projects/" + project + "/regions/europe-west1/healthChecks/elsewhere"}}})
	wantAPIError(t, err, 400, "invalid")
}

func TestSubnetworksNetworksAndTheirRoutes(t *testing.T) {
	e := newEnv(t)
	rc := e.regional(t)
	e.done(t)(e.nets.Insert(e.ctx, &computepb.InsertNetworkRequest{Project: project,
		NetworkResource: &computepb.Network{Name: proto.String("vpc"), AutoCreateSubnetworks: proto.Bool(false)}}))
	e.done(t)(rc.subnet.Insert(e.ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: region,
		SubnetworkResource: &computepb.Subnetwork{Name: proto.String("a"), Network: proto.String("global/networks/vpc"), IpCidrRange: proto.String("10.0.0.0/20")}}))
	_, err := rc.subnet.Insert(e.ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: "europe-west1",
		SubnetworkResource: &computepb.Subnetwork{Name: proto.String("b"), Network: proto.String("global/networks/vpc"), IpCidrRange: proto.String("10.0.8.0/22")}})
	gerr := apiError(t, err, 400, "invalid")
	if !strings.Contains(gerr.Message, "Invalid IPCidrRange: 10.0.8.0/22 conflicts with existing subnetwork 'a' in region 'us-central1'.") {
		t.Errorf("overlap: %s", gerr.Message)
	}
	// The network has Google's route to the internet, the subnetwork its local route.
	routes, dest := e.routesOf("vpc"), map[string]bool{}
	for _, r := range routes {
		dest[str(r, "destRange")] = true
	}
	if len(routes) != 2 || !dest["0.0.0.0/0"] || !dest["10.0.0.0/20"] {
		t.Errorf("routes of the network: %v, want the internet's and the subnetwork's", routes)
	}
	_, err = e.nets.Delete(e.ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "vpc"})
	if gerr := apiError(t, err, 400, "resourceInUseByAnotherResource"); !strings.Contains(gerr.Message, "subnetworks/a") {
		t.Errorf("network in use: %s, want the subnetwork named", gerr.Message)
	}
	e.done(t)(rc.subnet.ExpandIpCidrRange(e.ctx, &computepb.ExpandIpCidrRangeSubnetworkRequest{Project: project, Region: region, Subnetwork: "a",
		SubnetworksExpandIpCidrRangeRequestResource: &computepb.SubnetworksExpandIpCidrRangeRequest{IpCidrRange: proto.String("10.0.0.0/16")}}))
	e.wantFields(regionalLink("subnetworks", "a"), map[string]any{"ipCidrRange": "10.0.0.0/16"})
	e.done(t)(rc.subnet.Delete(e.ctx, &computepb.DeleteSubnetworkRequest{Project: project, Region: region, Subnetwork: "a"}))
	e.done(t)(e.nets.Delete(e.ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "vpc"}))
	if routes := e.routesOf("vpc"); len(routes) != 0 {
		t.Errorf("the network's routes outlive it: %v", routes)
	}
}

func (e *env) routesOf(network string) []map[string]any {
	var out []map[string]any
	for _, r := range e.srv.State().Resources {
		if str(r, "kind") == "compute#route" && strings.HasSuffix(str(r, "network"), "/networks/"+network) {
			out = append(out, r)
		}
	}
	return out
}

func TestInstancesGroupsAndTheirBackendService(t *testing.T) {
	e := newEnv(t)
	rc := e.regional(t)
	insert := func(name, image string) error {
		_, err := e.inst.Insert(e.ctx, &computepb.InsertInstanceRequest{Project: project, Zone: negZone, InstanceResource: &computepb.Instance{
			Name: proto.String(name), MachineType: proto.String("zones/" + negZone + "/machineTypes/e2-small"),
			Disks:             []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(image)}}},
			NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default")}},
		}})
		return err
	}
	wantAPIError(t, insert("vm", "projects/debian-cloud/global/images/family/debian-99"), 400, "invalid")
	if err := insert("vm", "projects/debian-cloud/global/images/family/debian-12"); err != nil {
		t.Fatal(err)
	}
	e.waitVisible(t, zonalLink(negZone, "instances", "vm"))
	e.done(t)(rc.groups.Insert(e.ctx, &computepb.InsertInstanceGroupRequest{Project: project, Zone: negZone,
		InstanceGroupResource: &computepb.InstanceGroup{Name: proto.String("vms"), NamedPorts: []*computepb.NamedPort{{Name: proto.String("http"), Port: proto.Int32(8080)}}}}))
	e.done(t)(rc.groups.AddInstances(e.ctx, &computepb.AddInstancesInstanceGroupRequest{Project: project, Zone: negZone, InstanceGroup: "vms",
		InstanceGroupsAddInstancesRequestResource: &computepb.InstanceGroupsAddInstancesRequest{Instances: []*computepb.InstanceReference{{Instance: proto.String(zonalLink(negZone, "instances", "vm"))}}}}))
	g, err := rc.groups.Get(e.ctx, &computepb.GetInstanceGroupRequest{Project: project, Zone: negZone, InstanceGroup: "vms"})
	if err != nil || g.GetSize() != 1 {
		t.Fatalf("group: size %d, %v; want the instance in it", g.GetSize(), err)
	}
	e.done(t)(rc.bs.Insert(e.ctx, &computepb.InsertRegionBackendServiceRequest{Project: project, Region: region,
		BackendServiceResource: &computepb.BackendService{Name: proto.String("vm-bs"), LoadBalancingScheme: proto.String("INTERNAL"),
			Backends: []*computepb.Backend{{Group: proto.String(zonalLink(negZone, "instanceGroups", "vms"))}}}}))
	_, err = rc.groups.Delete(e.ctx, &computepb.DeleteInstanceGroupRequest{Project: project, Zone: negZone, InstanceGroup: "vms"})
	wantAPIError(t, err, 400, "resourceInUseByAnotherResource")
	// A node of the simulated cluster is an instance too, but not one the API changes.
	_, err = e.inst.Delete(e.ctx, &computepb.DeleteInstanceRequest{Project: project, Zone: negZone, Instance: e.nodeIn(t, negZone)})
	wantAPIError(t, err, 400, "invalid")
	// Deleting the instance takes it out of its group.
	e.done(t)(e.inst.Delete(e.ctx, &computepb.DeleteInstanceRequest{Project: project, Zone: negZone, Instance: "vm"}))
	if g, _ := rc.groups.Get(e.ctx, &computepb.GetInstanceGroupRequest{Project: project, Zone: negZone, InstanceGroup: "vms"}); g.GetSize() != 0 {
		t.Errorf("group size %d after its instance was deleted, want 0", g.GetSize())
	}
}

// waitVisible waits for an object's insert to be done.
func (e *env) waitVisible(t *testing.T, link string) {
	t.Helper()
	for {
		if _, ok := e.srv.Resource(link); ok {
			return
		}
		select {
		case <-e.ctx.Done():
			t.Fatalf("%s did not appear", link)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Google serves a target HTTP proxy's setUrlMap without global/, and not with it.
func TestTargetHTTPProxySetURLMapLivesOutsideGlobal(t *testing.T) {
	e := newEnv(t)
	e.buildURLMap(t, "first")
	e.done(t)(e.um.Insert(e.ctx, &computepb.InsertUrlMapRequest{Project: project,
		UrlMapResource: &computepb.UrlMap{Name: proto.String("second"), DefaultService: proto.String(globalLink("backendServices", "first-bs"))}}))
	e.done(t)(e.http.Insert(e.ctx, &computepb.InsertTargetHttpProxyRequest{Project: project,
		TargetHttpProxyResource: &computepb.TargetHttpProxy{Name: proto.String("p"), UrlMap: proto.String(globalLink("urlMaps", "first"))}}))
	e.done(t)(e.http.SetUrlMap(e.ctx, &computepb.SetUrlMapTargetHttpProxyRequest{Project: project, TargetHttpProxy: "p",
		UrlMapReferenceResource: &computepb.UrlMapReference{UrlMap: proto.String(globalLink("urlMaps", "second"))}}))
	e.wantFields(globalLink("targetHttpProxies", "p"), map[string]any{"urlMap": globalLink("urlMaps", "second")})
	resp, err := http.Post(e.url+"/compute/v1/projects/"+project+"/global/targetHttpProxies/p/setUrlMap", "application/json", strings.NewReader(`{"urlMap":"global/urlMaps/first"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("setUrlMap under global/: %d, want 404", resp.StatusCode)
	}
}
