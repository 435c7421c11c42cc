package cluster

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestConfigNamesTheEndpointsAndPorts(t *testing.T) {
	o := CreateOptions{CertSANs: []string{"172.16.0.18", "34.81.171.26"}}
	cfg := o.config(map[string]int{"etcdPeerPort": 40001})
	docs := strings.Split(cfg, "\n---\n")
	var kc struct {
		Kind    string `json:"kind"`
		Options struct {
			SANs         []string `json:"kubeApiserverCertSANs"`
			EtcdPeerPort int      `json:"etcdPeerPort"`
		} `json:"options"`
	}
	if err := yaml.Unmarshal([]byte(docs[len(docs)-1]), &kc); err != nil {
		t.Fatal(err)
	}
	if kc.Kind != "KwokctlConfiguration" || strings.Join(kc.Options.SANs, ",") != "172.16.0.18,34.81.171.26" || kc.Options.EtcdPeerPort != 40001 {
		t.Errorf("kwokctl configuration: %+v\n%s", kc, docs[len(docs)-1])
	}
	if !strings.Contains(cfg, "name: pod-ready") {
		t.Error("the stages are missing")
	}
}
