package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"
)

// The labels `istioctl install` sets on every object it applies, whatever
// the chart rendered (istio.io/istio operator/pkg/install getOwnerLabels).
// `istioctl uninstall --revision REV` finds a revision's objects by them:
// istio.io/rev=REV, the owning resource's namespace (istio-system, from
// the default profile) and a component among Pilot and the gateways; an
// object without them is not pruned.
const (
	labelOperatorManaged  = "operator.istio.io/managed"
	labelOperatorVersion  = "operator.istio.io/version"
	labelOwningResource   = "install.operator.istio.io/owning-resource"
	labelOwningNamespace  = "install.operator.istio.io/owning-resource-namespace"
	labelIstioComponent   = "operator.istio.io/component"
	labelIstioRev         = "istio.io/rev"
	componentBase         = "Base"
	componentPilot        = "Pilot"
	defaultOwnerNamespace = "istio-system"
)

// Owner is what istioctl install labels every object with: the merged
// IstioOperator's name and namespace, the revision and istioctl's version.
type Owner struct {
	Name, Namespace, Revision, Version string
}

// RenderInstall renders a revision as `istioctl install -f FILES --set
// revision=REV` applies it: `istioctl manifest generate`'s objects, each
// with the labels istioctl install adds (Owner's and the component that
// rendered it). manifest generate prints neither, nor which component an
// object comes from, so the revision is rendered a second time without the
// base component: what that render lacks is Base's.
func RenderInstall(ctx context.Context, istioctl, revision string, files []string) ([]byte, error) {
	owner, err := ownerOf(files)
	if err != nil {
		return nil, err
	}
	owner.Revision = revision
	var full, withoutBase []byte
	var version struct {
		ClientVersion struct{ Version string } `json:"clientVersion"`
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { full, err = Render(gctx, istioctl, revision, files); return err })
	g.Go(func() (err error) {
		withoutBase, err = render(gctx, istioctl, revision, files, "components.base.enabled=false")
		return err
	})
	g.Go(func() error {
		// The version istioctl install writes is its own build's.
		out, err := exec.CommandContext(gctx, istioctl, "version", "--remote=false", "-o", "json").Output()
		if err != nil {
			return fmt.Errorf("istioctl version: %w", err)
		}
		return json.Unmarshal(out, &version)
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	owner.Version = version.ClientVersion.Version
	return LabelAsInstalled(full, withoutBase, owner)
}

// ownerOf is the name and namespace of the IstioOperator that istioctl
// merges from files (later files win; the default profile's namespace is
// istio-system).
func ownerOf(files []string) (Owner, error) {
	o := Owner{Namespace: defaultOwnerNamespace}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return o, err
		}
		var iop struct {
			Metadata struct{ Name, Namespace string }
		}
		if err := yaml.Unmarshal(b, &iop); err != nil {
			return o, fmt.Errorf("read IstioOperator %s: %w", f, err)
		}
		if iop.Metadata.Name != "" {
			o.Name = iop.Metadata.Name
		}
		if iop.Metadata.Namespace != "" {
			o.Namespace = iop.Metadata.Namespace
		}
	}
	return o, nil
}

// LabelAsInstalled labels each object of the full manifest as istioctl
// install does. Its component is the one its chart names
// (operator.istio.io/component, which the gateway charts set everywhere);
// else Pilot when the render without the base component has it too, else
// Base (the CRDs, the reader service account).
func LabelAsInstalled(full, withoutBase []byte, o Owner) ([]byte, error) {
	notBase := map[string]bool{}
	rest, err := parseObjects(withoutBase)
	if err != nil {
		return nil, err
	}
	for _, obj := range rest {
		notBase[objectKey(obj)] = true
	}
	objs, err := parseObjects(full)
	if err != nil {
		return nil, err
	}
	docs := make([][]byte, 0, len(objs))
	for _, obj := range objs {
		meta, _ := obj["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			obj["metadata"] = meta
		}
		labels, _ := meta["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
			meta["labels"] = labels
		}
		component, _ := labels[labelIstioComponent].(string)
		switch {
		case component != "":
		case notBase[objectKey(obj)]:
			component = componentPilot
		default:
			component = componentBase
		}
		set := map[string]string{
			labelOperatorManaged: "Reconcile",
			labelOperatorVersion: o.Version,
			labelIstioRev:        o.Revision,
			labelIstioComponent:  component,
			labelOwningResource:  o.Name,
			labelOwningNamespace: o.Namespace,
		}
		for k, v := range set {
			if v != "" {
				labels[k] = v
			}
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return Join(docs), nil
}

// parseObjects reads the objects of a multi-document manifest.
func parseObjects(manifest []byte) ([]map[string]any, error) {
	var out []map[string]any
	for _, doc := range docSeparator.Split(string(manifest), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("read rendered manifest: %w", err)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out, nil
}

// objectKey names an object by kind, namespace and name.
func objectKey(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v/%v", obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
}
