package mesh

import "fmt"

// Operator is the base IstioOperator of an ASM control plane, as asmcli's
// asm/istio/istio-operator.yaml and Google's managed install both render it:
// istiod only, no ingress gateway, ASM's images, Mesh CA as the proxies'
// CA (CA_PROVIDER GoogleCA; asmcli's citadel-ca.yaml option overrides it),
// and the mesh id, cluster name and network Google sets. tag is the
// release of the images (what asmcli installs, or what the fleet
// provisions).
func Operator(name, tag, meshID, clusterName, network string) string {
	return fmt.Sprintf(`apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: %s
spec:
  profile: minimal
  hub: gcr.io/gke-release/asm
  tag: %s
  meshConfig:
    defaultConfig:
      proxyMetadata:
        ISTIO_META_DNS_CAPTURE: "true"
        CA_PROVIDER: GoogleCA
  values:
    global:
      meshID: %s
      multiCluster:
        clusterName: %s
      network: %s
`, name, tag, meshID, clusterName, network)
}
