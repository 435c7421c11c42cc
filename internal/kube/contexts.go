package kube

import (
	"fmt"
	"sort"
)

// Contexts lists the context names of the kubeconfig that c selects.
func Contexts(c Config) ([]string, error) {
	raw, err := c.clientConfig().RawConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	out := make([]string, 0, len(raw.Contexts))
	for name := range raw.Contexts {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}
