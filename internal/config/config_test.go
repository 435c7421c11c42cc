package config

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/ui"
)

// world is a fake environment, file system and kubeconfig.
type world struct {
	env     map[string]string
	files   map[string]string
	current string // the kubeconfig's current-context
	kubeErr error
	gotKube []string // kubeconfig paths CurrentContext was asked about
	flags   map[Key]string
	cfgFlag string
}

func (w *world) inputs() Inputs {
	return Inputs{
		Flags:      w.flags,
		ConfigFlag: w.cfgFlag,
		LookupEnv: func(k string) (string, bool) {
			v, ok := w.env[k]
			return v, ok
		},
		ReadFile: func(name string) ([]byte, error) {
			if b, ok := w.files[name]; ok {
				return []byte(b), nil
			}
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		},
		CurrentContext: func(kubeconfig string) (string, error) {
			w.gotKube = append(w.gotKube, kubeconfig)
			return w.current, w.kubeErr
		},
	}
}

const userConfig = "/home/u/.config/meshctl/config.yaml"
const gcloudDefault = "/home/u/.config/gcloud/configurations/config_default"

func TestProjectPrecedence(t *testing.T) {
	full := func() *world {
		return &world{
			flags: map[Key]string{Project: "from-flag"},
			env: map[string]string{
				"HOME":                  "/home/u",
				"MESHCTL_PROJECT":       "from-env",
				"CLOUDSDK_CORE_PROJECT": "from-cloudsdk",
				"GOOGLE_CLOUD_PROJECT":  "from-google",
			},
			files: map[string]string{
				userConfig:    "project: from-config\n",
				gcloudDefault: "[core]\naccount = u@example.com\nproject = from-gcloud-file\n",
			},
			current: "gke_from-context_us-central1_mesh-1",
		}
	}
	tests := []struct {
		name   string
		strip  func(w *world)
		want   string
		source string
	}{
		{"flag beats everything", func(*world) {}, "from-flag", "flag --project"},
		{"env beats config", func(w *world) { delete(w.flags, Project) }, "from-env", "env MESHCTL_PROJECT"},
		{"empty env counts as unset", func(w *world) { delete(w.flags, Project); w.env["MESHCTL_PROJECT"] = "" }, "from-config", "config " + userConfig},
		{"config beats kube context", func(w *world) { delete(w.flags, Project); delete(w.env, "MESHCTL_PROJECT") }, "from-config", "config " + userConfig},
		{"GKE kube context beats gcloud defaults", func(w *world) {
			delete(w.flags, Project)
			delete(w.env, "MESHCTL_PROJECT")
			delete(w.files, userConfig)
		}, "from-context", "kubeconfig context gke_from-context_us-central1_mesh-1"},
		{"CLOUDSDK_CORE_PROJECT", func(w *world) {
			delete(w.flags, Project)
			delete(w.env, "MESHCTL_PROJECT")
			delete(w.files, userConfig)
			w.current = "kind-local"
		}, "from-cloudsdk", "gcloud CLOUDSDK_CORE_PROJECT"},
		{"GOOGLE_CLOUD_PROJECT", func(w *world) {
			delete(w.flags, Project)
			delete(w.env, "MESHCTL_PROJECT")
			delete(w.env, "CLOUDSDK_CORE_PROJECT")
			delete(w.files, userConfig)
			w.current = ""
		}, "from-google", "gcloud GOOGLE_CLOUD_PROJECT"},
		{"gcloud configuration file", func(w *world) {
			delete(w.flags, Project)
			delete(w.env, "MESHCTL_PROJECT")
			delete(w.env, "CLOUDSDK_CORE_PROJECT")
			delete(w.env, "GOOGLE_CLOUD_PROJECT")
			delete(w.files, userConfig)
			w.kubeErr = errors.New("no kubeconfig")
		}, "from-gcloud-file", "gcloud " + gcloudDefault + " [core] project"},
		{"nothing", func(w *world) {
			delete(w.flags, Project)
			w.env = map[string]string{}
			w.current = ""
		}, "", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := full()
			tt.strip(w)
			s, err := Resolve(w.inputs())
			if err != nil {
				t.Fatal(err)
			}
			got := s.Get(Project)
			if s.Project != tt.want || got.Value != tt.want || got.Source.String() != tt.source {
				t.Errorf("project = %q from %q; want %q from %q", got.Value, got.Source, tt.want, tt.source)
			}
		})
	}
}

func TestGKEContextDefaults(t *testing.T) {
	w := &world{
		env: map[string]string{
			"MESHCTL_CLUSTER":       "env-cluster",
			"CLOUDSDK_COMPUTE_ZONE": "us-east1-b",
			"CLOUDSDK_CORE_PROJECT": "gcloud-project",
		},
		current: "gke_ctx-project_europe-west1_ctx-cluster",
	}
	s, err := Resolve(w.inputs())
	if err != nil {
		t.Fatal(err)
	}
	if s.GKE == nil || s.GKE.Project != "ctx-project" {
		t.Fatalf("GKE = %+v", s.GKE)
	}
	if s.Project != "ctx-project" || s.Location != "europe-west1" || s.Cluster != "env-cluster" {
		t.Errorf("got %s/%s/%s", s.Project, s.Location, s.Cluster)
	}
	if got := s.Get(Context).Source.String(); got != "kubeconfig current-context" {
		t.Errorf("context source = %q", got)
	}

	// An explicit --context is parsed the same way and, naming the cluster
	// the command talks to, outranks MESHCTL_CLUSTER; the kubeconfig's
	// current-context is not consulted.
	w.flags = map[Key]string{Context: "gke_p2_us-west1-a_c2"}
	w.gotKube = nil
	s, err = Resolve(w.inputs())
	if err != nil {
		t.Fatal(err)
	}
	if s.Context != "gke_p2_us-west1-a_c2" || s.Project != "p2" || s.Location != "us-west1-a" || s.Cluster != "c2" {
		t.Errorf("explicit context: got %s %s %s %s", s.Context, s.Project, s.Location, s.Cluster)
	}
	// The settings' own flags still win.
	w.flags[Cluster] = "flag-cluster"
	if s, err = Resolve(w.inputs()); err != nil || s.Cluster != "flag-cluster" {
		t.Errorf("--cluster beside --context: got %v %v", s, err)
	}
	if len(w.gotKube) != 0 {
		t.Errorf("kubeconfig read although --context was given")
	}
}

func TestLocationAndClusterFromGcloud(t *testing.T) {
	w := &world{
		env: map[string]string{"CLOUDSDK_CONFIG": "/cfg/gcloud", "CLOUDSDK_COMPUTE_REGION": "asia-east1"},
		files: map[string]string{
			"/cfg/gcloud/active_config":              "work\n",
			"/cfg/gcloud/configurations/config_work": "[compute]\nzone = asia-east1-a\n[container]\ncluster = prod\n",
		},
	}
	s, err := Resolve(w.inputs())
	if err != nil {
		t.Fatal(err)
	}
	if s.Location != "asia-east1" || s.Get(Location).Source.String() != "gcloud CLOUDSDK_COMPUTE_REGION" {
		t.Errorf("location %q from %q", s.Location, s.Get(Location).Source)
	}
	if s.Cluster != "prod" || !strings.Contains(s.Get(Cluster).Source.String(), "config_work [container] cluster") {
		t.Errorf("cluster %q from %q", s.Cluster, s.Get(Cluster).Source)
	}
	delete(w.env, "CLOUDSDK_COMPUTE_REGION")
	s, _ = Resolve(w.inputs())
	if s.Location != "asia-east1-a" {
		t.Errorf("location from gcloud file = %q", s.Location)
	}
}

func TestKubeconfigAndContext(t *testing.T) {
	tests := []struct {
		name         string
		w            world
		wantExplicit string // Settings.Kubeconfig, and what CurrentContext was asked
		wantShown    string
		wantSource   string
	}{
		{"flag", world{flags: map[Key]string{Kubeconfig: "/k/flag"}, env: map[string]string{"KUBECONFIG": "/k/env"}}, "/k/flag", "/k/flag", "flag --kubeconfig"},
		{"MESHCTL_KUBECONFIG", world{env: map[string]string{"MESHCTL_KUBECONFIG": "/k/m", "KUBECONFIG": "/k/env"}}, "/k/m", "/k/m", "env MESHCTL_KUBECONFIG"},
		{"KUBECONFIG is left to clientcmd", world{env: map[string]string{"KUBECONFIG": "/a:/b", "HOME": "/h"}}, "", "/a:/b", "env KUBECONFIG"},
		{"home default", world{env: map[string]string{"HOME": "/h"}}, "", "/h/.kube/config", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			s, err := Resolve(w.inputs())
			if err != nil {
				t.Fatal(err)
			}
			got := s.Get(Kubeconfig)
			if s.Kubeconfig != tt.wantExplicit || got.Value != tt.wantShown || got.Source.String() != tt.wantSource {
				t.Errorf("kubeconfig explicit %q shown %q from %q", s.Kubeconfig, got.Value, got.Source)
			}
			if len(w.gotKube) != 1 || w.gotKube[0] != tt.wantExplicit {
				t.Errorf("CurrentContext asked about %q, want [%q]", w.gotKube, tt.wantExplicit)
			}
		})
	}
}

func TestConfigFileLocation(t *testing.T) {
	tests := []struct {
		name     string
		w        world
		wantFile string
		wantErr  bool
	}{
		{"XDG_CONFIG_HOME", world{env: map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/home/u"},
			files: map[string]string{"/x/meshctl/config.yaml": "cluster: c\n", userConfig: "cluster: other\n"}}, "/x/meshctl/config.yaml", false},
		{"HOME", world{env: map[string]string{"HOME": "/home/u"}, files: map[string]string{userConfig: "cluster: c\n"}}, userConfig, false},
		{"MESHCTL_CONFIG", world{env: map[string]string{"MESHCTL_CONFIG": "/etc/m.yaml", "HOME": "/home/u"},
			files: map[string]string{"/etc/m.yaml": "cluster: c\n", userConfig: "cluster: other\n"}}, "/etc/m.yaml", false},
		{"--config beats MESHCTL_CONFIG", world{cfgFlag: "/f.yaml", env: map[string]string{"MESHCTL_CONFIG": "/etc/m.yaml"},
			files: map[string]string{"/f.yaml": "cluster: c\n", "/etc/m.yaml": "cluster: other\n"}}, "/f.yaml", false},
		{"JSON by extension", world{cfgFlag: "/f.json", files: map[string]string{"/f.json": `{"cluster": "c"}`}}, "/f.json", false},
		{"missing default file is fine", world{env: map[string]string{"HOME": "/home/u"}}, "", false},
		{"missing explicit file is an error", world{cfgFlag: "/nope.yaml"}, "", true},
		{"unknown key", world{cfgFlag: "/f.yaml", files: map[string]string{"/f.yaml": "cluster: c\nprojcet: typo\n"}}, "", true},
		{"malformed", world{cfgFlag: "/f.yaml", files: map[string]string{"/f.yaml": "cluster: [\n"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			s, err := Resolve(w.inputs())
			if tt.wantErr {
				if failure.ExitCode(err) != failure.ExitUsage {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.ConfigFile != tt.wantFile {
				t.Errorf("ConfigFile = %q, want %q", s.ConfigFile, tt.wantFile)
			}
			if tt.wantFile != "" && (s.Cluster != "c" || s.Get(Cluster).Source.String() != "config "+tt.wantFile) {
				t.Errorf("cluster %q from %q", s.Cluster, s.Get(Cluster).Source)
			}
		})
	}
}

func TestUnknownKeyHintListsValidKeys(t *testing.T) {
	w := world{cfgFlag: "/f.yaml", files: map[string]string{"/f.yaml": "projcet: typo\n"}}
	_, err := Resolve(w.inputs())
	if !strings.Contains(err.Error(), "projcet") || !strings.Contains(failure.HintOf(err), "project") {
		t.Errorf("err %v, hint %q", err, failure.HintOf(err))
	}
}

func TestTypedSettings(t *testing.T) {
	w := world{
		flags: map[Key]string{Output: "json", Verbose: "true"},
		env: map[string]string{
			"MESHCTL_TIMEOUT":          "90s",
			"MESHCTL_COMPUTE_ENDPOINT": "http://127.0.0.1:8085",
		},
		cfgFlag: "/f.yaml",
		files:   map[string]string{"/f.yaml": "no-color: true\ncontainer-endpoint: https://container-psc.p.googleapis.com\ntimeout: 5m\n"},
	}
	s, err := Resolve(w.inputs())
	if err != nil {
		t.Fatal(err)
	}
	if s.Output != ui.FormatJSON || !s.Verbose || !s.NoColor || s.Timeout != 90*time.Second {
		t.Errorf("output %q verbose %v noColor %v timeout %v", s.Output, s.Verbose, s.NoColor, s.Timeout)
	}
	if s.ComputeEndpoint != "http://127.0.0.1:8085" || s.ContainerEndpoint != "https://container-psc.p.googleapis.com" || s.GKEHubEndpoint != "" {
		t.Errorf("endpoints %q %q %q", s.ComputeEndpoint, s.ContainerEndpoint, s.GKEHubEndpoint)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Resolve(Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Output != ui.FormatText || s.NoColor || s.Verbose || s.Timeout != DefaultTimeout || s.ConfigFile != "" {
		t.Errorf("defaults: %+v", s)
	}
	all := s.All()
	if len(all) != len(Keys) {
		t.Fatalf("All() has %d settings, want %d", len(all), len(Keys))
	}
	for i, st := range all {
		if st.Key != Keys[i] || st.Source.Kind != SourceDefault {
			t.Errorf("setting %d = %+v", i, st)
		}
	}
}

func TestNoColor(t *testing.T) {
	tests := []struct {
		name   string
		w      world
		want   bool
		source string
	}{
		{"NO_COLOR", world{env: map[string]string{"NO_COLOR": "1"}}, true, "env NO_COLOR"},
		{"empty NO_COLOR is unset", world{env: map[string]string{"NO_COLOR": ""}}, false, "default"},
		{"--no-color", world{flags: map[Key]string{NoColor: "true"}}, true, "flag --no-color"},
		{"--no-color=false beats NO_COLOR", world{flags: map[Key]string{NoColor: "false"}, env: map[string]string{"NO_COLOR": "1"}}, false, "flag --no-color"},
		{"MESHCTL_NO_COLOR", world{env: map[string]string{"MESHCTL_NO_COLOR": "true"}}, true, "env MESHCTL_NO_COLOR"},
	}
	for _, tt := range tests {
		w := tt.w
		s, err := Resolve(w.inputs())
		if err != nil {
			t.Fatal(err)
		}
		if s.NoColor != tt.want || s.Get(NoColor).Source.String() != tt.source {
			t.Errorf("%s: NoColor %v from %q", tt.name, s.NoColor, s.Get(NoColor).Source)
		}
	}
}

func TestInvalidValuesAreUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		w       world
		mention string
	}{
		{"output", world{flags: map[Key]string{Output: "xml"}}, `invalid output "xml" (from flag --output)`},
		{"timeout", world{env: map[string]string{"MESHCTL_TIMEOUT": "soon"}}, "from env MESHCTL_TIMEOUT"},
		{"negative timeout", world{flags: map[Key]string{Timeout: "-1s"}}, "timeout"},
		{"bool", world{env: map[string]string{"MESHCTL_VERBOSE": "loud"}}, "verbose"},
		{"endpoint", world{cfgFlag: "/f.yaml", files: map[string]string{"/f.yaml": "compute-endpoint: http://198.51.100.1\n"}}, "compute-endpoint"},
	}
	for _, tt := range tests {
		w := tt.w
		_, err := Resolve(w.inputs())
		if failure.ExitCode(err) != failure.ExitUsage || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: err = %v, want a usage error mentioning %q", tt.name, err, tt.mention)
		}
	}
}

func TestEnvVar(t *testing.T) {
	if got := ComputeEndpoint.EnvVar(); got != "MESHCTL_COMPUTE_ENDPOINT" {
		t.Errorf("EnvVar = %q", got)
	}
	if got := GKEHubEndpoint.EnvVar(); got != "MESHCTL_GKEHUB_ENDPOINT" {
		t.Errorf("EnvVar = %q", got)
	}
}

func TestParseINI(t *testing.T) {
	got := parseINI("# c\n[core]\nproject = p\n; x\naccount=a@b\n\n[compute]\n zone = z \n")
	want := map[string]string{"core/project": "p", "core/account": "a@b", "compute/zone": "z"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
