package install

import (
	"regexp"
	"strings"
)

// Event is one line of asmcli's log, classified.
type Event struct {
	Level   string `json:"level"` // info, warning or error
	Message string `json:"message"`
	// Time is the UTC timestamp asmcli put before the line, when it
	// timestamps its log (see ParseLine); empty otherwise.
	Time string `json:"time,omitempty"`
}

// tsPrefix is the timestamp asmcli puts before each line of its own log
// when it runs with --verbose and moreutils' ts is installed: lib/log.sh
// info() pipes the line through `TZ=utc ts '%Y-%m-%dT%.T'`, and ts writes
// the time (microseconds for %.T), one space, then the line, e.g.
// "2026-11-03T14:02:07.123456 asmcli: Setting up necessary files...".
// The fraction is optional so that other ts builds (%T) read too.
var tsPrefix = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?) `)

// ParseLine reads one line of asmcli's stderr: `asmcli: msg`,
// `asmcli: [WARNING]: msg` or `asmcli: [ERROR]: msg`, each possibly after
// the timestamp ts adds (tsPrefix). Lines without the prefix (istioctl's
// output, bash errors) are not asmcli's own events.
func ParseLine(line string) (Event, bool) {
	line = strings.TrimRight(line, "\r\n")
	stamp := ""
	if m := tsPrefix.FindStringSubmatch(line); m != nil {
		stamp, line = m[1], line[len(m[0]):]
	}
	msg, ok := strings.CutPrefix(line, "asmcli: ")
	if !ok {
		return Event{}, false
	}
	e := Event{Level: "info", Message: msg, Time: stamp}
	switch {
	case strings.HasPrefix(msg, "[ERROR]: "):
		e.Level, e.Message = "error", strings.TrimPrefix(msg, "[ERROR]: ")
	case strings.HasPrefix(msg, "[WARNING]: "):
		e.Level, e.Message = "warning", strings.TrimPrefix(msg, "[WARNING]: ")
	}
	return e, true
}

var revisionInOutro = regexp.MustCompile(`kubectl label namespace \S+ istio-injection- istio\.io/rev=([a-z0-9]([-a-z0-9]*[a-z0-9])?) --overwrite`)

// RevisionFromLine returns the revision asmcli's outro names in its
// `kubectl label namespace ...` advice, the most reliable place to read it.
func RevisionFromLine(msg string) (string, bool) {
	m := revisionInOutro.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// hints maps asmcli's diagnosed problems to what meshctl tells users to do.
// {project}, {location}, {cluster} are filled in.
var hints = []struct{ contains, hint string }{
	{"Workload identity is not enabled", "enable it: gcloud container clusters update {cluster} --location {location} --workload-pool={project}.svc.id.goog (or re-run with --enable gcp_components)"},
	{"Cloud Operations (Stackdriver)", "enable it: gcloud container clusters update {cluster} --location {location} --logging=SYSTEM,WORKLOAD --monitoring=SYSTEM (or re-run with --enable gcp_components)"},
	{"Cluster label not found - mesh_id", "label the cluster: gcloud container clusters update {cluster} --location {location} --update-labels mesh_id=proj-PROJECT_NUMBER (or re-run with --enable cluster_labels)"},
	{"One or more required cluster labels were not found", "re-run with --enable cluster_labels, or label the cluster yourself"},
	{"istio-system namespace doesn't exist", "create it: kubectl create namespace istio-system (or re-run with --enable namespace_creation)"},
	{"Unable to find cluster", "check --project, --location and --cluster: gcloud container clusters list --project {project}"},
	{"Couldn't connect to", "the control plane is not reachable from here; on a private cluster add this machine's address to the master authorized networks: gcloud container clusters update {cluster} --location {location} --enable-master-authorized-networks --master-authorized-networks CIDR"},
	{"Dependency not found", "install the missing tool and retry (meshctl install checks these before starting)"},
	{"Stopping installation at user request", "a legacy istio-ingressgateway exists in istio-system; keep it with --option legacy-default-ingressgateway, or remove it first"},
	{"API not enabled", "enable it: gcloud services enable mesh.googleapis.com --project {project} (or re-run with --enable gcp_apis)"},
	{"IAM role not enabled", "grant the role named above, or re-run with --enable gcp_iam_roles"},
	{"Autopilot clusters are only supported with managed control plane", "use the managed control plane: meshctl install --managed"},
}

func hintFor(msg string, o Options) string {
	for _, h := range hints {
		if strings.Contains(msg, h.contains) {
			return strings.NewReplacer("{project}", o.Project, "{location}", o.Location, "{cluster}", o.Cluster).Replace(h.hint)
		}
	}
	return ""
}
