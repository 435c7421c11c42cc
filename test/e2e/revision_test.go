//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/pkg/inject"
	"github.com/meshctl/meshctl/pkg/revision"
)

// The canary upgrade's revisions and tag: its own, since it removes one.
const (
	canaryOld = "asm-canary-1"
	canaryNew = "asm-canary-2"
	canaryTag = "e2e-canary"
)

// revisionJSON runs meshctl with -o json, wants exit code want and decodes
// stdout into out, which must be zero: json.Unmarshal keeps what the
// output leaves out (omitempty fields).
func revisionJSON(t *testing.T, want int, out any, args ...string) {
	t.Helper()
	r := runIn(t, "", meshctlBin, append(args, "-o", "json")...)
	if r.Code != want {
		t.Fatalf("meshctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, want, r.Stdout, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), out); err != nil {
		t.Fatalf("meshctl %s -o json: %v\n%s", strings.Join(args, " "), err, r.Stdout)
	}
}

// exists reports whether kubectl finds an object (NotFound is false; any
// other failure fails the test).
func exists(t *testing.T, args ...string) bool {
	t.Helper()
	r := runIn(t, "", "kubectl", append([]string{"get", "-o", "name"}, args...)...)
	switch {
	case r.Code == 0:
		return true
	case strings.Contains(r.Stderr, "NotFound"):
		return false
	}
	t.Fatalf("kubectl get %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
	return false
}

// istiodPid is the pid of the local istiod meshsim runs for revision in
// the shared simulator (its record under the state directory), 0 when
// there is no record.
func istiodPid(t *testing.T, revision string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "istiod", revision+".json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Pid
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndex(s, ")")
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// podsOn fails the test unless every pod in the namespaces runs
// istio-proxy of revision rev, read with kubectl.
func podsOn(t *testing.T, rev string, want int, namespaces ...string) {
	t.Helper()
	for _, ns := range namespaces {
		ps := pods(t, ns)
		if len(ps) != want {
			t.Errorf("%s: %d pods, want %d", ns, len(ps), want)
		}
		for _, p := range ps {
			if !p.Proxy || p.Revision != rev {
				t.Errorf("pod %s/%s: proxy %v on %q, want %s", ns, p.Name, p.Proxy, p.Revision, rev)
			}
		}
	}
}

// TestRevisionCanaryUpgradeWithATag is the canary upgrade Istio documents:
// two in-cluster revisions installed by asmcli, namespaces labelled with a
// tag, the tag moved to the new revision, the old revision's removal
// refused while pods still run it, the workloads restarted onto the new
// one, and the old revision removed: its objects from the API server and
// its istiod from the process list, the new revision left whole.
func TestRevisionCanaryUpgradeWithATag(t *testing.T) {
	start := time.Now()
	ensureRevision(t, canaryOld)
	ensureRevision(t, canaryNew)
	t.Logf("two revisions installed in %s", time.Since(start).Round(time.Second))
	t.Cleanup(func() { cleanupCanary(t) })

	var set revision.TagResult
	revisionJSON(t, 0, &set, "revision", "tag", "set", canaryTag, "--revision", canaryOld)
	if set.Revision != canaryOld || set.Previous != "" {
		t.Errorf("tag set: %+v", set)
	}
	hook := kubectl(t, "get", "mutatingwebhookconfiguration", "istio-revision-tag-"+canaryTag, "-o", "jsonpath={.metadata.labels}")
	if !strings.Contains(hook, `"istio.io/tag":"`+canaryTag+`"`) || !strings.Contains(hook, `"istio.io/rev":"`+canaryOld+`"`) {
		t.Errorf("tag webhook labels: %s", hook)
	}

	nss := []string{"e2e-canary-a", "e2e-canary-b"}
	for _, ns := range nss {
		createNamespace(t, ns, "istio.io/rev: "+canaryTag)
		kubectlApply(t, workloadApp("Deployment", ns, "web", 2, ""))
	}
	for _, ns := range nss {
		waitRunning(t, ns, 2)
	}
	podsOn(t, canaryOld, 2, nss...) // injected through the tag

	// Retag without restarts: new pods would get the new revision, the
	// running ones still run the old one, and meshctl says how to move them.
	set = revision.TagResult{}
	revisionJSON(t, 0, &set, "revision", "tag", "set", canaryTag, "--revision", canaryNew)
	if set.Previous != canaryOld || len(set.Namespaces) != 2 || set.Namespaces[0].Restart != 2 || set.NextStep == "" {
		t.Errorf("retag: %+v", set)
	}
	podsOn(t, canaryOld, 2, nss...)

	// The old revision cannot go while pods run it: nothing deleted, and
	// the pods' workloads listed.
	var un revision.UninstallResult
	revisionJSON(t, 3, &un, "uninstall", "--revision", canaryOld)
	if !un.Refused || len(un.Usage.Workloads) != 2 || len(un.Usage.Namespaces) != 0 || len(un.Usage.Tags) != 0 {
		t.Errorf("uninstall while in use: %+v", un)
	}
	if text := runIn(t, "", meshctlBin, "uninstall", "--revision", canaryOld).Stdout; !strings.Contains(text, "e2e-canary-a") || !strings.Contains(text, "e2e-canary-b") {
		t.Errorf("the refusal does not name the namespaces:\n%s", text)
	}
	if !exists(t, "deployment", "-n", "istio-system", "istiod-"+canaryOld) {
		t.Fatal("a refused uninstall deleted istiod")
	}

	// Retagging again with --restart moves the pods.
	var restarted struct {
		revision.TagResult
		Restart *inject.Result `json:"restart"`
	}
	revisionJSON(t, 0, &restarted, "revision", "tag", "set", canaryTag, "--revision", canaryNew, "--restart")
	if restarted.Restart == nil || restarted.Restart.Summary.Restarted != 2 || restarted.Restart.Failed() {
		t.Errorf("tag set --restart: %+v", restarted.Restart)
	}
	podsOn(t, canaryNew, 2, nss...)

	oldPid, newPid := istiodPid(t, canaryOld), istiodPid(t, canaryNew)
	if oldPid == 0 || !alive(oldPid) || newPid == 0 {
		t.Fatalf("istiods before the uninstall: %s pid %d, %s pid %d", canaryOld, oldPid, canaryNew, newPid)
	}
	un = revision.UninstallResult{}
	revisionJSON(t, 0, &un, "uninstall", "--revision", canaryOld, "--dry-run")
	if un.Refused || len(un.Changes) == 0 || !exists(t, "deployment", "-n", "istio-system", "istiod-"+canaryOld) {
		t.Fatalf("dry run: %+v\n%s", un, kubectl(t, "get", "pods", "-A", "-l", "app=web", "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase,DEL:.metadata.deletionTimestamp,STATUS:.metadata.annotations.sidecar\\.istio\\.io/status"))
	}
	un = revision.UninstallResult{}
	revisionJSON(t, 0, &un, "uninstall", "--revision", canaryOld)
	installOnce.Delete(canaryOld)
	checkCanaryRemoved(t, un, oldPid, newPid)

	// Again: nothing left to do.
	un = revision.UninstallResult{}
	revisionJSON(t, 0, &un, "uninstall", "--revision", canaryOld)
	if len(un.Changes) != 0 {
		t.Errorf("second uninstall: %+v", un.Changes)
	}
}

// checkCanaryRemoved checks, with kubectl and the process list, that the
// old revision is gone and the new one whole.
func checkCanaryRemoved(t *testing.T, un revision.UninstallResult, oldPid, newPid int) {
	t.Helper()
	if un.Refused || len(un.Changes) == 0 {
		t.Fatalf("uninstall: %+v", un)
	}
	for _, obj := range [][]string{
		{"deployment", "-n", "istio-system", "istiod-" + canaryOld},
		{"service", "-n", "istio-system", "istiod-" + canaryOld},
		{"mutatingwebhookconfiguration", "istio-sidecar-injector-" + canaryOld},
	} {
		if exists(t, obj...) {
			t.Errorf("%v still there", obj)
		}
	}
	for _, obj := range [][]string{
		{"deployment", "-n", "istio-system", "istiod-" + canaryNew},
		{"mutatingwebhookconfiguration", "istio-sidecar-injector-" + canaryNew},
		{"mutatingwebhookconfiguration", "istio-revision-tag-" + canaryTag},
		{"crd", "virtualservices.networking.istio.io"},
	} {
		if !exists(t, obj...) {
			t.Errorf("%v gone with the old revision", obj)
		}
	}
	eventually(t, 30*time.Second, "the old istiod process stops", func() (bool, string) {
		return !alive(oldPid) && istiodPid(t, canaryOld) == 0, fmt.Sprintf("pid %d alive %v", oldPid, alive(oldPid))
	})
	if !alive(newPid) {
		t.Errorf("the new revision's istiod (pid %d) stopped too", newPid)
	}
}

// cleanupCanary leaves the shared simulator as other tests expect it: the
// namespaces, the tag and the canary revisions gone.
func cleanupCanary(t *testing.T) {
	runIn(t, "", "kubectl", "delete", "namespace", "e2e-canary-a", "e2e-canary-b", "--wait=true", "--timeout=90s", "--ignore-not-found")
	runIn(t, "", meshctlBin, "revision", "tag", "remove", canaryTag, "--force")
	for _, rev := range []string{canaryNew, canaryOld} {
		if r := runIn(t, "", meshctlBin, "uninstall", "--revision", rev); r.Code != 0 {
			t.Logf("cleanup: uninstall --revision %s: exit %d\n%s%s", rev, r.Code, r.Stdout, r.Stderr)
		}
		installOnce.Delete(rev)
	}
}
