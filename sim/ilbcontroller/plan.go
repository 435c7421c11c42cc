package ilbcontroller

import (
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// lbPlan is what a Service's load balancer is made of.
type lbPlan struct {
	svc        *corev1.Service
	name       string   // a<UID>: forwarding rule, backend service
	protocol   string   // TCP or UDP
	ports      []string // the forwarding rule's, unless allPorts
	allPorts   bool
	portRanges []string // the traffic firewall's
	global     bool
	subnetwork string // link
	sourceIP   []string
	sharedHC   bool
	hcName     string
	hcPort     int64
}

// plan reads what GKE reads from a Service.
func (c *Controller) plan(svc *corev1.Service) (lbPlan, error) {
	p := lbPlan{svc: svc, name: LoadBalancerName(svc), global: svc.Annotations[GlobalAccessAnnotation] == "true",
		subnetwork: c.net.regionalLink("subnetworks", c.opts.Subnetwork), sharedHC: sharedHealthCheck(svc)}
	if sub := svc.Annotations[SubnetAnnotation]; sub != "" {
		p.subnetwork = c.net.regionalLink("subnetworks", sub)
	}
	if len(svc.Spec.Ports) == 0 {
		return p, fmt.Errorf("the Service has no ports")
	}
	// Google's load balancer carries one protocol: the first port's.
	p.protocol = string(svc.Spec.Ports[0].Protocol)
	if p.protocol == "" {
		p.protocol = "TCP"
	}
	if p.protocol != "TCP" && p.protocol != "UDP" {
		return p, fmt.Errorf("Invalid protocol %s, only TCP and UDP are supported", p.protocol) //nolint:staticcheck // ST1005: the GCE cloud provider's text, word for word, as its SyncLoadBalancerFailed event shows it
	}
	var nums []int
	for _, port := range svc.Spec.Ports {
		p.ports = append(p.ports, strconv.Itoa(int(port.Port)))
		nums = append(nums, int(port.Port))
	}
	p.portRanges = portRanges(nums)
	if len(p.ports) > maxForwardingRulePorts {
		p.ports, p.allPorts = nil, true
	}
	p.sourceIP = svc.Spec.LoadBalancerSourceRanges
	if len(p.sourceIP) == 0 {
		p.sourceIP = []string{"0.0.0.0/0"}
	}
	p.hcName, p.hcPort = healthCheckName(p.name, c.opts.ClusterID, p.sharedHC), nodesHealthCheckPort
	if !p.sharedHC {
		p.hcPort = int64(svc.Spec.HealthCheckNodePort)
	}
	return p, nil
}

// portRanges folds sorted ports into ranges ("80", "8080-8081"), as the
// traffic firewall rule lists them.
func portRanges(ports []int) []string {
	sort.Ints(ports)
	var out []string
	for i := 0; i < len(ports); {
		j := i
		for j+1 < len(ports) && ports[j+1] <= ports[j]+1 {
			j++
		}
		if ports[i] == ports[j] {
			out = append(out, strconv.Itoa(ports[i]))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", ports[i], ports[j]))
		}
		i = j + 1
	}
	return out
}
