// Package install drives Google's asmcli to install the in-cluster mesh
// control plane: it finds asmcli, checks what asmcli needs, builds its
// arguments and overlays from meshctl's settings (rejecting what asmcli
// would reject, before anything runs), streams its log as structured
// events, and captures and confirms the installed revision.
//
// `install --managed`, Google's managed control plane through the fleet
// API, is pkg/install/managed.
package install

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/meshctl/meshctl/pkg/meshca"
)

// Options are what `meshctl install` was asked to do.
type Options struct {
	Project, Location, Cluster string
	// Kubeconfig and Context select the cluster instead of project,
	// location and cluster (asmcli takes one set or the other).
	Kubeconfig, Context string

	OutputDir string
	Revision  string
	// MeshVersion is the release to install ("1.31"); asmcli installs its
	// own release, so this picks which asmcli to download and must match
	// an asmcli given or on PATH. Empty means that asmcli's release, or
	// PinnedRelease when one is downloaded.
	MeshVersion string
	// CA is mesh_ca (default), citadel, gcp_cas, managed_cas, or shared:
	// istiod's own CA (asmcli's citadel) signing with an intermediate of
	// the root SharedCA names, installed by meshctl before asmcli runs.
	CA string
	// SharedCA is the root for --ca shared.
	SharedCA meshca.Options
	CAPool   string // gcp_cas only
	FleetID  string
	// Custom CA files for citadel: all four or none.
	CACert, CAKey, RootCert, CertChain string

	EnableAll bool
	Enable    []string // granular --enable_* names, e.g. namespace_creation
	Options   []string // asmcli --option NAME
	// CustomOverlays are IstioOperator files passed through to asmcli.
	CustomOverlays []string
	// Overlays meshctl generates so users need not write IstioOperator YAML.
	EgressRegistryOnly bool
	AccessLogging      bool

	Verbose    bool
	DryRun     bool
	SkipChecks bool
}

// EnableNames are asmcli's granular --enable_* flags.
var EnableNames = []string{"cluster_roles", "cluster_labels", "gcp_apis", "gcp_iam_roles", "gcp_components",
	"meshconfig_init", "registration", "namespace_creation"}

var rfc1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate rejects what asmcli's validate_args would reject, naming asmcli's
// rule, so a bad combination fails in a second rather than after asmcli's
// downloads.
func (o Options) Validate() error {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	byName := o.Project != "" || o.Location != "" || o.Cluster != ""
	switch {
	case o.Kubeconfig != "" && byName:
		add("--kubeconfig cannot be combined with --project/--location/--cluster (asmcli: \"Incompatible arguments. Kubeconfig cannot be used in conjunction with [--cluster_location|--cluster_name|--project_id].\")")
	case o.Kubeconfig != "" && o.Context == "":
		add("--kubeconfig needs --context (asmcli reads project, location and cluster from a gke_PROJECT_LOCATION_CLUSTER context)")
	case o.Kubeconfig == "" && (o.Project == "" || o.Location == "" || o.Cluster == ""):
		var missing []string
		for flag, v := range map[string]string{"--project": o.Project, "--location": o.Location, "--cluster": o.Cluster} {
			if v == "" {
				missing = append(missing, flag)
			}
		}
		sort.Strings(missing)
		add("the cluster is not fully named: set %s (or use a gke_PROJECT_LOCATION_CLUSTER kube context)", strings.Join(missing, ", "))
	}
	switch o.CA {
	case "", "mesh_ca", "citadel", "gcp_cas", "managed_cas", "shared":
	default:
		add("--ca %q: asmcli accepts only mesh_ca, citadel, gcp_cas or managed_cas; meshctl adds shared", o.CA)
	}
	problems = append(problems, o.validateSharedCA()...)
	if o.CA == "gcp_cas" && !regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/caPools/[^/]+$`).MatchString(o.CAPool) {
		add("--ca gcp_cas needs --ca-pool projects/PROJECT/locations/REGION/caPools/POOL (asmcli: \"Malformed ca-name\")")
	}
	if o.CAPool != "" && o.CA != "gcp_cas" {
		add("--ca-pool is only used with --ca gcp_cas")
	}
	if o.Revision != "" && (len(o.Revision) > 63 || !rfc1123Label.MatchString(o.Revision)) {
		add("--revision %q: asmcli requires an RFC 1123 label (lower-case letters, digits and '-', at most 63 characters)", o.Revision)
	}
	custom := 0
	for _, f := range []string{o.CACert, o.CAKey, o.RootCert, o.CertChain} {
		if f != "" {
			custom++
		}
	}
	if custom != 0 && custom != 4 {
		add("custom CA files go together: --ca-cert, --ca-key, --root-cert and --cert-chain (asmcli: \"All four certificate options must be present\")")
	}
	if custom == 4 && o.CA != "citadel" {
		add("custom CA files need --ca citadel (asmcli: \"You must select Istio CA with --ca citadel to use custom certificates.\")")
	}
	for _, e := range o.Enable {
		if !contains(EnableNames, e) {
			add("--enable %q: asmcli knows %s", e, strings.Join(EnableNames, ", "))
		}
	}
	for _, f := range append(append([]string{}, o.CustomOverlays...), o.CACert, o.CAKey, o.RootCert, o.CertChain) {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			add("file %s: %v", f, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// Overlay is an IstioOperator file meshctl writes for asmcli.
type Overlay struct {
	Name    string `json:"name"`
	Path    string `json:"path"`
	Content string `json:"content"`
}

// GeneratedOverlays are the overlays the options ask meshctl to write.
func (o Options) GeneratedOverlays() []Overlay {
	var out []Overlay
	if o.EgressRegistryOnly {
		out = append(out, Overlay{Name: "egress-registry-only", Content: `# Written by meshctl: outbound traffic only to services in the mesh's registry.
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
`})
	}
	if o.AccessLogging {
		out = append(out, Overlay{Name: "access-logging", Content: `# Written by meshctl: Envoy access logs on every proxy's standard output.
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  meshConfig:
    accessLogFile: /dev/stdout
    accessLogEncoding: JSON
`})
	}
	for i := range out {
		out[i].Path = filepath.Join(o.OutputDir, "meshctl-overlay-"+out[i].Name+".yaml")
	}
	return out
}

// Args are asmcli's arguments for an install with these options.
func (o Options) Args() []string {
	args := []string{"install"}
	if o.Kubeconfig != "" {
		args = append(args, "--kubeconfig", o.Kubeconfig, "--context", o.Context)
	} else {
		args = append(args, "--project_id", o.Project, "--cluster_name", o.Cluster, "--cluster_location", o.Location)
	}
	args = append(args, "--output_dir", o.OutputDir)
	if o.Revision != "" {
		args = append(args, "--revision_name", o.Revision)
	}
	switch o.CA {
	case "":
	case "shared":
		// istiod signs with the cacerts Secret meshctl installed first.
		args = append(args, "--ca", "citadel")
	default:
		args = append(args, "--ca", o.CA)
	}
	if o.CAPool != "" {
		args = append(args, "--ca_pool", o.CAPool)
	}
	if o.CACert != "" {
		args = append(args, "--ca_cert", o.CACert, "--ca_key", o.CAKey, "--root_cert", o.RootCert, "--cert_chain", o.CertChain)
	}
	if o.FleetID != "" {
		args = append(args, "--fleet_id", o.FleetID)
	}
	if o.EnableAll {
		args = append(args, "--enable_all")
	} else {
		for _, e := range o.Enable {
			args = append(args, "--enable_"+e)
		}
	}
	for _, opt := range o.Options {
		args = append(args, "--option", opt)
	}
	for _, f := range o.CustomOverlays {
		args = append(args, "--custom_overlay", f)
	}
	for _, ov := range o.GeneratedOverlays() {
		args = append(args, "--custom_overlay", ov.Path)
	}
	// Always verbose: the full log is kept in OUTPUT_DIR/logs.txt either way,
	// and the extra lines are what tells where a crash happened.
	args = append(args, "--verbose")
	return args
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
