package gatewayapi

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/pkg/expose"
)

// iapSecretNote stands in for the IAP Secret in printed manifests: it
// holds the OAuth client secret, which meshctl never prints.
const iapSecretNote = `# Secret %s/%s is left out: it holds the OAuth client secret for IAP,
# which meshctl never prints. Create it with
#   kubectl create secret generic %s -n %s --from-literal=%s=CLIENT_SECRET
`

// Manifests returns every object of a (dry run) result as YAML documents
// for kubectl apply or a GitOps repository: the mesh gateway's (as
// pkg/expose prints them, without its certificate's private key), then the
// Gateway API objects. Google's side (the address, the policies, the
// certificate map) is not Kubernetes objects: it is in the plan.
func Manifests(res *Result) ([]byte, error) {
	b, err := expose.Manifests(res.Objects)
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(b)
	for _, o := range res.GatewayAPI.Objects {
		buf.WriteString("---\n")
		if o.kind == kSecret {
			ns, name := o.Obj.GetNamespace(), o.Obj.GetName()
			fmt.Fprintf(buf, iapSecretNote, ns, name, name, ns, IAPSecretKey)
			continue
		}
		u, err := kube.ToUnstructured(o.Obj)
		if err != nil {
			return nil, err
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", o.Ref(), err)
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}

// ManifestList returns the same objects as a v1 List (for -o json).
func ManifestList(res *Result) (map[string]any, error) {
	l, err := expose.ManifestList(res.Objects)
	if err != nil {
		return nil, err
	}
	items, _ := l["items"].([]any)
	for _, o := range res.GatewayAPI.Objects {
		if o.kind == kSecret {
			continue
		}
		u, err := kube.ToUnstructured(o.Obj)
		if err != nil {
			return nil, err
		}
		items = append(items, u.Object)
	}
	l["items"] = items
	return l, nil
}
