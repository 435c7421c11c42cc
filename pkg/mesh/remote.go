package mesh

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// LabelMultiCluster marks the Secrets istiod reads remote clusters from
// (istioctl create-remote-secret's remote secrets).
const LabelMultiCluster = "istio/multiCluster"

// RemoteSecretServers are the API servers remote secrets' kubeconfigs
// name, as hosts (https:// and a trailing slash cut): the clusters istiod
// discovers.
func RemoteSecretServers(secrets []corev1.Secret) []string {
	var out []string
	for _, s := range secrets {
		for _, data := range s.Data {
			cfg, err := clientcmd.Load(data)
			if err != nil {
				continue
			}
			for _, c := range cfg.Clusters {
				if host := strings.TrimPrefix(strings.TrimSuffix(c.Server, "/"), "https://"); !slices.Contains(out, host) {
					out = append(out, host)
				}
			}
		}
	}
	return out
}
