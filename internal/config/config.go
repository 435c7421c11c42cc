// Package config resolves meshctl's settings and remembers where each came
// from. It does no I/O of its own: the environment, the file system and the
// kubeconfig reach it through Inputs, so every precedence rule is unit-tested.
//
// Precedence, highest first:
//
//  1. a command-line flag (--project); for project, location and cluster
//     also a GKE context given as --context: the cluster it names is the one
//     the command talks to, so an environment that names another (meshsim's
//     MESHCTL_CLUSTER, a CI job's) must not send the Google calls elsewhere
//  2. a MESHCTL_ environment variable (MESHCTL_PROJECT)
//  3. the config file (--config, MESHCTL_CONFIG, or $XDG_CONFIG_HOME/meshctl/config.yaml)
//  4. for project, location and cluster: the kubeconfig context, when it is a
//     GKE one (gke_PROJECT_LOCATION_CLUSTER), because it names the cluster the
//     command is about to talk to
//  5. Google's defaults: CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT,
//     CLOUDSDK_COMPUTE_ZONE, CLOUDSDK_COMPUTE_REGION, CLOUDSDK_CONTAINER_CLUSTER,
//     then the active gcloud configuration file
//  6. meshctl's built-in default
//
// The kubeconfig context itself defaults to the kubeconfig's current-context,
// and --no-color to the NO_COLOR convention. Empty environment variables
// count as unset.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshctl/meshctl/internal/failure"
	"github.com/meshctl/meshctl/internal/gcp"
	"github.com/meshctl/meshctl/internal/kube"
	"github.com/meshctl/meshctl/internal/ui"
	"github.com/spf13/viper"
)

// Key names a setting. It is also the flag name and the config file key; the
// environment variable is EnvVar().
type Key string

// The settings.
const (
	Project           Key = "project"
	Location          Key = "location"
	Cluster           Key = "cluster"
	Kubeconfig        Key = "kubeconfig"
	Context           Key = "context"
	Output            Key = "output"
	NoColor           Key = "no-color"
	Verbose           Key = "verbose"
	Timeout           Key = "timeout"
	ComputeEndpoint   Key = "compute-endpoint"
	ContainerEndpoint Key = "container-endpoint"
	GKEHubEndpoint    Key = "gkehub-endpoint"
	// ServiceUsageEndpoint is where meshctl enables Google APIs it needs
	// (mesh.googleapis.com for install --managed).
	ServiceUsageEndpoint Key = "serviceusage-endpoint"
	// CertificateManagerEndpoint is where meshctl makes certificate maps
	// (expose --via gateway-api) and reads them (trace).
	CertificateManagerEndpoint Key = "certificate-manager-endpoint"
	// ResourceManagerEndpoint is where meshctl asks which permissions the
	// caller holds (projects.testIamPermissions) before changing anything.
	ResourceManagerEndpoint Key = "resource-manager-endpoint"
)

// Keys lists every setting in the order `meshctl config view` shows them.
var Keys = []Key{
	Project, Location, Cluster, Kubeconfig, Context, Output, NoColor, Verbose, Timeout,
	ComputeEndpoint, ContainerEndpoint, GKEHubEndpoint, ServiceUsageEndpoint, CertificateManagerEndpoint, ResourceManagerEndpoint,
}

// ConfigEnvVar names the config file, like --config.
const ConfigEnvVar = "MESHCTL_CONFIG"

// DefaultTimeout bounds a whole command unless --timeout says otherwise; an
// asmcli install or a load balancer build fits well within it.
const DefaultTimeout = 30 * time.Minute

// EnvVar returns the environment variable for k, e.g. MESHCTL_NO_COLOR.
func (k Key) EnvVar() string {
	return "MESHCTL_" + strings.ToUpper(strings.ReplaceAll(string(k), "-", "_"))
}

// Default returns k's built-in default as a flag would show it.
func (k Key) Default() string {
	switch k {
	case Output:
		return string(ui.FormatText)
	case NoColor, Verbose:
		return "false"
	case Timeout:
		return DefaultTimeout.String()
	}
	return ""
}

// SourceKind is the kind of place a setting came from.
type SourceKind string

// The places a setting can come from, highest precedence first.
const (
	SourceFlag       SourceKind = "flag"
	SourceEnv        SourceKind = "env"
	SourceConfig     SourceKind = "config"
	SourceKubeconfig SourceKind = "kubeconfig"
	SourceGcloud     SourceKind = "gcloud"
	SourceDefault    SourceKind = "default"
)

// Source says where a setting's value came from.
type Source struct {
	Kind SourceKind `json:"kind"`
	// Detail names the flag, variable, file or context, e.g. "MESHCTL_PROJECT".
	Detail string `json:"detail,omitempty"`
}

func (s Source) String() string {
	if s.Detail == "" {
		return string(s.Kind)
	}
	return string(s.Kind) + " " + s.Detail
}

// Setting is one resolved setting.
type Setting struct {
	Key    Key    `json:"key"`
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// Settings are the effective settings of one run.
type Settings struct {
	Project  string
	Location string
	Cluster  string
	// Kubeconfig is set only when given explicitly (flag, env, config file);
	// empty means kubectl's rules ($KUBECONFIG, then ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context to use; empty when the kubeconfig has
	// no current-context.
	Context string
	// GKE is what Context says about its cluster, when it is a GKE context.
	GKE *kube.GKEContext

	Output  ui.Format
	NoColor bool
	Verbose bool
	// Timeout bounds the whole command; zero means no limit.
	Timeout time.Duration

	ComputeEndpoint   string
	ContainerEndpoint string
	GKEHubEndpoint    string
	// ServiceUsageEndpoint is the Service Usage API's base URL.
	ServiceUsageEndpoint string
	// CertificateManagerEndpoint is the Certificate Manager API's base URL.
	CertificateManagerEndpoint string
	// ResourceManagerEndpoint is the Cloud Resource Manager API's base URL.
	ResourceManagerEndpoint string

	// ConfigFile is the config file that was read, or "" when there was none.
	ConfigFile string
	// Clusters are the --cluster flags when given more than once (check
	// and validate over several clusters); Cluster is then the first.
	Clusters []string

	all map[Key]Setting
}

// Get returns the resolved setting k.
func (s *Settings) Get(k Key) Setting { return s.all[k] }

// All returns every setting in Keys order.
func (s *Settings) All() []Setting {
	out := make([]Setting, 0, len(Keys))
	for _, k := range Keys {
		out = append(out, s.all[k])
	}
	return out
}

// Inputs are everything resolution looks at.
type Inputs struct {
	// Flags holds the flags the user actually set, by key, as strings.
	Flags map[Key]string
	// ConfigFlag is --config; empty when not given.
	ConfigFlag string
	// LookupEnv reads the environment (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// ReadFile reads a file (os.ReadFile); a missing file must give an error
	// matching fs.ErrNotExist.
	ReadFile func(string) ([]byte, error)
	// CurrentContext returns the current-context of the kubeconfig (an
	// explicit path, or "" for kubectl's rules). Nil means no kubeconfig.
	CurrentContext func(kubeconfig string) (string, error)
}

type resolver struct {
	in       Inputs
	file     map[string]any
	filePath string
	gcloud   *gcloudConfig
	out      map[Key]Setting
	// flagged ranks just below the settings' own flags (a GKE --context).
	flagged map[Key]fallback
}

// Resolve computes the effective settings. Errors are usage errors (exit
// code 2) naming the bad value and where it came from.
func Resolve(in Inputs) (*Settings, error) {
	if in.LookupEnv == nil {
		in.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if in.ReadFile == nil {
		in.ReadFile = func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	}
	r := &resolver{in: in, out: map[Key]Setting{}}
	if err := r.readConfigFile(); err != nil {
		return nil, err
	}
	// Resolution order differs from display order: the kubeconfig decides
	// the context, and the context can decide project, location and cluster.
	s := &Settings{ConfigFile: r.filePath}
	r.resolve(Kubeconfig, r.kubeconfigDefault)
	r.resolve(Context, r.currentContext)
	if gke, ok := kube.ParseGKEContext(r.out[Context].Value); ok {
		s.GKE = &gke
	}
	fromContext := map[Key]fallback{
		Project:  r.fromGKE(s.GKE, func(c *kube.GKEContext) string { return c.Project }),
		Location: r.fromGKE(s.GKE, func(c *kube.GKEContext) string { return c.Location }),
		Cluster:  r.fromGKE(s.GKE, func(c *kube.GKEContext) string { return c.Cluster }),
	}
	if s.GKE != nil && r.out[Context].Source.Kind == SourceFlag {
		r.flagged = fromContext
	}
	r.resolve(Project, fromContext[Project],
		r.env(SourceGcloud, "CLOUDSDK_CORE_PROJECT"), r.env(SourceGcloud, "GOOGLE_CLOUD_PROJECT"),
		r.gcloudProperty("core", "project"))
	r.resolve(Location, fromContext[Location],
		r.env(SourceGcloud, "CLOUDSDK_COMPUTE_ZONE"), r.env(SourceGcloud, "CLOUDSDK_COMPUTE_REGION"),
		r.gcloudProperty("compute", "zone"), r.gcloudProperty("compute", "region"))
	r.resolve(Cluster, fromContext[Cluster],
		r.env(SourceGcloud, "CLOUDSDK_CONTAINER_CLUSTER"), r.gcloudProperty("container", "cluster"))
	r.resolve(Output)
	r.resolve(NoColor, r.noColorConvention)
	r.resolve(Verbose)
	r.resolve(Timeout)
	r.resolve(ComputeEndpoint)
	r.resolve(ContainerEndpoint)
	r.resolve(GKEHubEndpoint)
	r.resolve(ServiceUsageEndpoint)
	r.resolve(CertificateManagerEndpoint)
	r.resolve(ResourceManagerEndpoint)
	s.all = r.out
	return s, r.parse(s)
}

// fallback is a source below the config file; ok is false when it has nothing.
type fallback func() (value string, src Source, ok bool)

func (r *resolver) resolve(k Key, fallbacks ...fallback) {
	set := func(v string, src Source) { r.out[k] = Setting{Key: k, Value: v, Source: src} }
	if v, ok := r.in.Flags[k]; ok {
		set(v, Source{SourceFlag, "--" + string(k)})
		return
	}
	if f, ok := r.flagged[k]; ok {
		v, src, _ := f()
		set(v, src)
		return
	}
	if v, ok := r.lookupEnv(k.EnvVar()); ok {
		set(v, Source{SourceEnv, k.EnvVar()})
		return
	}
	if v, ok := r.file[string(k)]; ok {
		set(fmt.Sprint(v), Source{SourceConfig, r.filePath})
		return
	}
	for _, f := range fallbacks {
		if v, src, ok := f(); ok {
			set(v, src)
			return
		}
	}
	set(k.Default(), Source{Kind: SourceDefault})
}

func (r *resolver) lookupEnv(name string) (string, bool) {
	v, ok := r.in.LookupEnv(name)
	return v, ok && v != ""
}

func (r *resolver) env(kind SourceKind, name string) fallback {
	return func() (string, Source, bool) {
		v, ok := r.lookupEnv(name)
		return v, Source{kind, name}, ok
	}
}

func (r *resolver) fromGKE(gke *kube.GKEContext, field func(*kube.GKEContext) string) fallback {
	return func() (string, Source, bool) {
		if gke == nil {
			return "", Source{}, false
		}
		return field(gke), Source{SourceKubeconfig, "context " + gke.String()}, true
	}
}

// kubeconfigDefault shows what kubectl would load; Settings.Kubeconfig stays
// empty so that clientcmd applies the same rules itself (KUBECONFIG may list
// several files).
func (r *resolver) kubeconfigDefault() (string, Source, bool) {
	if v, ok := r.lookupEnv("KUBECONFIG"); ok {
		return v, Source{SourceEnv, "KUBECONFIG"}, true
	}
	if home, ok := r.lookupEnv("HOME"); ok {
		return path.Join(home, ".kube", "config"), Source{Kind: SourceDefault}, true
	}
	return "", Source{}, false
}

func (r *resolver) currentContext() (string, Source, bool) {
	if r.in.CurrentContext == nil {
		return "", Source{}, false
	}
	// A missing or broken kubeconfig is not an error here: most settings do
	// not need it, and building a Kubernetes client reports it properly.
	name, err := r.in.CurrentContext(explicitKubeconfig(r.out[Kubeconfig]))
	if err != nil || name == "" {
		return "", Source{}, false
	}
	return name, Source{SourceKubeconfig, "current-context"}, true
}

func explicitKubeconfig(s Setting) string {
	switch s.Source.Kind {
	case SourceFlag, SourceConfig:
		return s.Value
	case SourceEnv:
		if s.Source.Detail != "KUBECONFIG" {
			return s.Value
		}
	}
	return ""
}

// noColorConvention follows https://no-color.org: NO_COLOR set to anything
// non-empty turns colour off.
func (r *resolver) noColorConvention() (string, Source, bool) {
	if _, ok := r.lookupEnv("NO_COLOR"); ok {
		return "true", Source{SourceEnv, "NO_COLOR"}, true
	}
	return "", Source{}, false
}

func (r *resolver) parse(s *Settings) error {
	bad := func(k Key, err error) error {
		st := r.out[k]
		return failure.Usage(fmt.Errorf("invalid %s %q (from %s): %w", k, st.Value, st.Source, err), "")
	}
	s.Project = r.out[Project].Value
	s.Location = r.out[Location].Value
	s.Cluster = r.out[Cluster].Value
	s.Kubeconfig = explicitKubeconfig(r.out[Kubeconfig])
	s.Context = r.out[Context].Value
	f, err := ui.ParseFormat(r.out[Output].Value)
	if err != nil {
		return bad(Output, errors.New("want text, json or yaml"))
	}
	s.Output = f
	for k, dst := range map[Key]*bool{NoColor: &s.NoColor, Verbose: &s.Verbose} {
		b, err := strconv.ParseBool(r.out[k].Value)
		if err != nil {
			return bad(k, errors.New("want true or false"))
		}
		*dst = b
	}
	d, err := time.ParseDuration(r.out[Timeout].Value)
	if err != nil || d < 0 {
		return bad(Timeout, errors.New("want a duration such as 90s, 20m or 1h; 0 for no limit"))
	}
	s.Timeout = d
	for k, dst := range map[Key]*string{ComputeEndpoint: &s.ComputeEndpoint, ContainerEndpoint: &s.ContainerEndpoint, GKEHubEndpoint: &s.GKEHubEndpoint, ServiceUsageEndpoint: &s.ServiceUsageEndpoint,
		CertificateManagerEndpoint: &s.CertificateManagerEndpoint, ResourceManagerEndpoint: &s.ResourceManagerEndpoint} {
		v := r.out[k].Value
		if err := gcp.ValidateEndpoint(v); err != nil {
			return bad(k, err)
		}
		*dst = v
	}
	return nil
}

// DefaultConfigFile returns $XDG_CONFIG_HOME/meshctl/config.yaml, falling back
// to $HOME/.config, or "" when neither variable is set.
func DefaultConfigFile(lookupEnv func(string) (string, bool)) string {
	if dir, ok := lookupEnv("XDG_CONFIG_HOME"); ok && dir != "" {
		return path.Join(dir, "meshctl", "config.yaml")
	}
	if home, ok := lookupEnv("HOME"); ok && home != "" {
		return path.Join(home, ".config", "meshctl", "config.yaml")
	}
	return ""
}

// DefaultCADir is where a shared root CA is kept unless --ca-dir says
// otherwise: $XDG_CONFIG_HOME/meshctl/ca, or ~/.config/meshctl/ca; "" when
// neither variable is set.
func DefaultCADir(lookupEnv func(string) (string, bool)) string {
	file := DefaultConfigFile(lookupEnv)
	if file == "" {
		return ""
	}
	return path.Join(path.Dir(file), "ca")
}

func (r *resolver) readConfigFile() error {
	file, explicit := r.in.ConfigFlag, true
	if file == "" {
		file, _ = r.lookupEnv(ConfigEnvVar)
	}
	if file == "" {
		file, explicit = DefaultConfigFile(r.in.LookupEnv), false
	}
	if file == "" {
		return nil
	}
	b, err := r.in.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return failure.Usage(fmt.Errorf("read config file: %w", err), "check --config and "+ConfigEnvVar)
	}
	v := viper.New()
	switch ext := strings.TrimPrefix(path.Ext(file), "."); ext {
	case "json", "toml":
		v.SetConfigType(ext)
	default:
		v.SetConfigType("yaml")
	}
	if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
		return failure.Usage(fmt.Errorf("parse config file %s: %w", file, err), "")
	}
	known := map[string]bool{}
	for _, k := range Keys {
		known[string(k)] = true
	}
	var unknown []string
	r.file = map[string]any{}
	for _, k := range v.AllKeys() {
		if !known[k] {
			unknown = append(unknown, k)
			continue
		}
		r.file[k] = v.Get(k)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		valid := make([]string, len(Keys))
		for i, k := range Keys {
			valid[i] = string(k)
		}
		return failure.Usage(fmt.Errorf("config file %s: unknown setting(s) %s", file, strings.Join(unknown, ", ")),
			"valid settings: "+strings.Join(valid, ", "))
	}
	r.filePath = file
	return nil
}
