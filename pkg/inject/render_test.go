package inject

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshctl/meshctl/internal/ui"
	"github.com/meshctl/meshctl/pkg/mesh"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestRenderText(t *testing.T) {
	applied := &Result{Mode: ModeEnable, Revision: "asm-2", ProxyRevision: "asm-2", RevisionSource: "flag",
		Namespaces: []NamespaceResult{
			{Name: "blog", Labels: LabelChange{Before: revLabel("asm-2")}, Workloads: []WorkloadResult{
				{Kind: KindDeployment, Name: "cms", Action: ActionKeep, Outcome: OutcomeConverged, Pods: 1, OK: 1,
					Why: "istio-proxy of revision asm-2 in all its 1 pod"}}},
			{Name: "shop", Labels: LabelChange{Before: revLabel("asm-1"), Set: revLabel("asm-2")},
				Migration: &Migration{From: "asm-1", To: "asm-2"},
				Workloads: []WorkloadResult{
					{Kind: KindDeployment, Name: "web", Action: ActionRestart, Outcome: OutcomeConverged, Pods: 2, OK: 2,
						Why: "2 of 2 pods: istio-proxy of revision asm-1; want asm-2"},
					{Kind: KindDeployment, Name: "legacy", Action: ActionSkip, Outcome: OutcomeSkipped,
						Why: skipMessage(mesh.ReasonOptedOut)},
					{Kind: KindStatefulSet, Name: "db", Action: ActionRestart, Outcome: OutcomeFailed, Pods: 2,
						Why: "2 of 2 pods: istio-proxy of revision asm-1; want asm-2",
						Problems: []Problem{{Reason: ReasonRolloutStuck, Message: "rollout not finished in time: waiting for 1 pods to be ready"},
							{Reason: ReasonWebhookFailed, Message: `new pods cannot be created: Error creating: failed calling webhook`},
							{Pod: "db-0", Reason: mesh.ReasonWrongRevision, Message: "istio-proxy of revision asm-1; want asm-2"},
							{Pod: "db-1", Reason: mesh.ReasonWrongRevision, Message: "istio-proxy of revision asm-1; want asm-2"}}},
				},
				Notes: []string{"1 pod(s) belong to no Deployment, StatefulSet or DaemonSet; recreate them yourself"}},
		},
		SkippedNamespaces: []SkippedNamespace{{Name: "kube-system", Reason: "system namespace (--force to include)"}},
	}
	applied.Summary = summarize(applied)

	dry := &Result{Mode: ModeEnable, Revision: "prod", ProxyRevision: "asm-2", RevisionSource: "flag", DryRun: true,
		Namespaces: []NamespaceResult{{Name: "shop",
			Labels:    LabelChange{Before: map[string]string{mesh.LabelInjection: "enabled"}, Set: revLabel("prod"), Remove: []string{mesh.LabelInjection}},
			Migration: &Migration{From: "default", To: "prod"},
			Workloads: []WorkloadResult{{Kind: KindDeployment, Name: "web", Action: ActionRestart, Outcome: OutcomePlanned,
				Why: "2 of 2 pods: no istio-proxy"}}}}}
	dry.Summary = summarize(dry)

	disabled := &Result{Mode: ModeDisable, Namespaces: []NamespaceResult{{Name: "shop",
		Labels:    LabelChange{Before: revLabel("asm-1"), Set: map[string]string{mesh.LabelInjection: "disabled"}, Remove: []string{mesh.LabelRevision}},
		Workloads: []WorkloadResult{{Kind: KindDaemonSet, Name: "agent", Action: ActionRestart, Outcome: OutcomeConverged, Pods: 3, OK: 3}}}}}
	disabled.Summary = summarize(disabled)

	for name, r := range map[string]*Result{"applied": applied, "dry-run": dry, "disable": disabled} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := (&ui.Printer{Format: ui.FormatText, Out: &b, Styles: ui.NewStyles(io.Discard, false)}).Print(r); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.String())
		})
	}
}
