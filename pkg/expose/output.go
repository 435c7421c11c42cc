package expose

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/plan"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// RenderText prints the result for a person.
func (r *Result) RenderText(w io.Writer, s ui.Styles) error {
	var b strings.Builder
	svc := fmt.Sprintf("Service %s/%s port %d", r.Service.Namespace, r.Service.Name, r.Service.Port)
	gw := r.Gateway.Namespace + "/" + r.Gateway.Name
	n := plan.Counts(r.Changes)
	if r.DryRun {
		fmt.Fprintf(&b, "%s exposing %s through gateway %s (revision %s) would create %d, update %d and delete %d objects; %d are unchanged. Nothing was written.\n",
			s.Heading("Dry run:"), svc, gw, r.Revision, n[plan.Create], n[plan.Update], n[plan.Delete], n[plan.Keep])
	} else {
		fmt.Fprintf(&b, "%s %s is exposed through gateway %s (revision %s)\n", s.OK(ui.MarkOK), svc, gw, r.Revision)
	}
	cert := "Secret " + r.Gateway.Namespace + "/" + r.Gateway.CertSecret
	if r.Gateway.CertNotAfter != nil {
		cert += ", self-signed by meshctl, expires " + r.Gateway.CertNotAfter.Format(time.DateOnly)
	} else {
		cert += " (yours)"
	}
	neg := r.NEG.Name
	if len(r.NEG.Zones) > 0 {
		neg += " in " + strings.Join(r.NEG.Zones, ", ")
	}
	if r.NEG.Planned || r.DryRun && len(r.NEG.Zones) == 0 {
		neg += " (planned)"
	}
	if r.NEG.Name == "" {
		neg = "made by GKE's Gateway controller for the routes to port " + fmt.Sprint(r.Gateway.Port)
	}
	rows := [][]string{
		{"hosts:", strings.Join(r.Hosts, ", ")},
		{"NEG:", neg},
		{"backend:", fmt.Sprintf("%s to port %d (pods: %d)", r.Gateway.BackendProtocol, r.Gateway.Port, r.Gateway.TargetPort)},
		{"health check:", fmt.Sprintf("HTTP port %d %s", r.Gateway.HealthCheck.Port, r.Gateway.HealthCheck.Path)},
		{"certificate:", cert},
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "  %-14s%s\n", row[0], row[1])
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := s.WriteTable(w, plan.Table(r.Changes, nil)); err != nil {
		return err
	}
	if r.DryRun {
		_, err := fmt.Fprintf(w, "\n%s\n", s.Faint("Run the same command without --dry-run to apply; add -o yaml to print the manifests."))
		return err
	}
	return nil
}

// RenderText prints the unexpose result for a person.
func (r *UnexposeResult) RenderText(w io.Writer, s ui.Styles) error {
	ref := r.Service.Namespace + "/" + r.Service.Name
	switch {
	case len(r.Changes) == 0:
		_, err := fmt.Fprintf(w, "%s nothing to remove: meshctl has made nothing for Service %s\n", s.OK(ui.MarkOK), ref)
		return err
	case r.DryRun:
		if _, err := fmt.Fprintf(w, "%s unexposing Service %s would delete %d objects, in this order. Nothing was deleted.\n\n", s.Heading("Dry run:"), ref, len(r.Changes)); err != nil {
			return err
		}
	default:
		if _, err := fmt.Fprintf(w, "%s removed the %d objects meshctl made for Service %s\n\n", s.OK(ui.MarkOK), len(r.Changes), ref); err != nil {
			return err
		}
	}
	if err := s.WriteTable(w, plan.Table(r.Changes, nil)); err != nil {
		return err
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "%s %s\n", s.Faint("note:"), n); err != nil {
			return err
		}
	}
	return nil
}

// secretNote stands in for meshctl's certificate Secret in printed
// manifests: it holds a private key, which meshctl never prints.
const secretNote = `# Secret %s/%s (kubernetes.io/tls) is left out:
# it holds the gateway's private key, which meshctl never prints. meshctl
# creates it when it applies; to manage these manifests yourself, create a
# TLS Secret and pass --gateway-cert-secret NAME.
`

// Manifests returns the objects as YAML documents for kubectl apply or a
// GitOps repository, without meshctl's certificate Secret.
func Manifests(objs []Object) ([]byte, error) {
	var b bytes.Buffer
	for _, o := range objs {
		b.WriteString("---\n")
		if o.kind == kSecret {
			fmt.Fprintf(&b, secretNote, o.Obj.GetNamespace(), o.Obj.GetName())
			continue
		}
		u, err := manifest(o)
		if err != nil {
			return nil, err
		}
		y, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", o.Ref(), err)
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// ManifestList returns the objects as a v1 List (for -o json), without
// meshctl's certificate Secret.
func ManifestList(objs []Object) (map[string]any, error) {
	items := []any{}
	for _, o := range objs {
		if o.kind == kSecret {
			continue
		}
		u, err := manifest(o)
		if err != nil {
			return nil, err
		}
		items = append(items, u.Object)
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, nil
}

// manifest is an object as printed for others to apply. The Deployment
// leaves out its replica count: the autoscaler owns it, and a GitOps tool
// re-applying a fixed count would fight the autoscaler (meshctl itself
// carries the current count over instead).
func manifest(o Object) (*unstructured.Unstructured, error) {
	u, err := kube.ToUnstructured(o.Obj)
	if err != nil {
		return nil, err
	}
	if o.kind == kDeployment {
		unstructured.RemoveNestedField(u.Object, "spec", "replicas")
	}
	return u, nil
}
