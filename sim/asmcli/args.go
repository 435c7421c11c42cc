// Package asmcli is meshsim's stand-in for Google's asmcli script: the same
// subcommands, flags (both spellings, and the ALL_CAPS environment forms),
// log format, exit codes and output directory, doing the in-cluster install
// for real against the simulated cluster. Messages are asmcli's own wording
// (anthos-service-mesh-packages asmcli/lib/*.sh) so wrappers can be tested
// against what they will meet.
package asmcli

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Version is the asmcli release imitated, the one meshctl pins
// (1.31.1-asm.19, the newest on Google's versions page in November 2026;
// CONFIG_VER 1 as in the 1.28 source); the default revision derives from it
// as lib/util.sh:init does (asm-${MAJOR}${MINOR}${POINT}-${REV}).
const (
	Version         = "1.31.1-asm.19+config1"
	Release         = "1.31.1-asm.19"
	DefaultRevision = "asm-1311-19"
)

// Args are asmcli's parsed options.
type Args struct {
	Command         string
	Project         string
	Cluster         string
	Location        string
	Kubeconfig      string
	Context         string
	FleetID         string
	CA              string
	Revision        string
	OutputDir       string
	Options         []string
	CustomOverlays  []string
	Enable          map[string]bool // cluster_roles, cluster_labels, gcp_apis, ...
	Managed         bool
	Verbose         bool
	DryRun          bool
	OnlyEnable      bool
	Channel         string
	Platform        string
	ServiceAccount  string
	KeyFile         string
	CACert, CAKey   string
	RootCert, Chain string
	ShowHelp        bool
	ShowVersion     bool
}

var enableNames = []string{"cluster_roles", "cluster_labels", "gcp_apis", "gcp_iam_roles", "gcp_components",
	"meshconfig_init", "registration", "namespace_creation"}

// usageError is fatal_with_usage: asmcli prints the message and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Parse reads argv (after the program name) and the environment as asmcli's
// lib/parse.sh and context_init do.
func Parse(argv []string, getenv func(string) string) (Args, error) {
	a := Args{Enable: map[string]bool{}, CA: "mesh_ca", Platform: "gcp"}
	// Environment first: flags given on the command line win.
	envStr := map[string]*string{"PROJECT_ID": &a.Project, "CLUSTER_NAME": &a.Cluster, "CLUSTER_LOCATION": &a.Location,
		"FLEET_ID": &a.FleetID, "CA": &a.CA, "OUTPUT_DIR": &a.OutputDir, "KUBECONFIG_FILE": &a.Kubeconfig,
		"CONTEXT": &a.Context, "REVISION_NAME": &a.Revision, "CHANNEL": &a.Channel, "PLATFORM": &a.Platform}
	for k, p := range envStr {
		if v := getenv(k); v != "" {
			*p = v
		}
	}
	toggles := map[string]*bool{"MANAGED": &a.Managed, "VERBOSE": &a.Verbose, "DRY_RUN": &a.DryRun, "ONLY_ENABLE": &a.OnlyEnable}
	for _, n := range enableNames {
		toggles["ENABLE_"+strings.ToUpper(n)] = nil
	}
	toggles["ENABLE_ALL"] = nil
	for k, p := range toggles {
		v := getenv(k)
		if v == "" {
			continue
		}
		if v != "0" && v != "1" {
			return a, usageError{fmt.Sprintf("%s must be 0 (off) or 1 (on) if set via environment variables.", k)}
		}
		on := v == "1"
		switch {
		case p != nil:
			*p = on
		case k == "ENABLE_ALL":
			a.setEnableAll(on)
		default:
			a.Enable[strings.ToLower(strings.TrimPrefix(k, "ENABLE_"))] = on
		}
	}

	if len(argv) == 0 {
		return a, usageError{"no command given"}
	}
	switch argv[0] {
	case "install", "apply", "validate":
		a.Command = argv[0]
		argv = argv[1:]
	case "-h", "--help", "help":
		a.ShowHelp = true
		return a, nil
	case "--version":
		a.ShowVersion = true
		return a, nil
	default:
		return a, usageError{fmt.Sprintf("Unknown command %s", argv[0])}
	}

	for i := 0; i < len(argv); i++ {
		flag := strings.ReplaceAll(argv[i], "-", "_")
		value := func() (string, error) {
			if i+1 >= len(argv) || strings.HasPrefix(argv[i+1], "-") {
				return "", usageError{fmt.Sprintf("Missing value for %s", argv[i])}
			}
			i++
			return argv[i], nil
		}
		var err error
		switch flag {
		case "_p", "__project_id":
			a.Project, err = value()
		case "_n", "__cluster_name":
			a.Cluster, err = value()
		case "_l", "__cluster_location":
			a.Location, err = value()
		case "__kc", "__kubeconfig":
			a.Kubeconfig, err = value()
		case "__ctx", "__context":
			a.Context, err = value()
		case "__fleet_id":
			a.FleetID, err = value()
		case "_c", "__ca":
			a.CA, err = value()
		case "_r", "__revision_name":
			a.Revision, err = value()
		case "_D", "__output_dir", "__working_dir":
			a.OutputDir, err = value()
		case "_o", "__option":
			var v string
			v, err = value()
			a.Options = append(a.Options, v)
		case "__co", "__custom_overlay":
			var v string
			v, err = value()
			a.CustomOverlays = append(a.CustomOverlays, v)
		case "__channel":
			a.Channel, err = value()
		case "__platform":
			a.Platform, err = value()
		case "_s", "__service_account":
			a.ServiceAccount, err = value()
		case "_k", "__key_file":
			a.KeyFile, err = value()
		case "__ca_cert":
			a.CACert, err = value()
		case "__ca_key":
			a.CAKey, err = value()
		case "__root_cert":
			a.RootCert, err = value()
		case "__cert_chain":
			a.Chain, err = value()
		case "_e", "__enable_all":
			a.setEnableAll(true)
		case "__managed":
			a.Managed = true
		case "_v", "__verbose":
			a.Verbose = true
		case "__dry_run":
			a.DryRun = true
		case "__only_enable":
			a.OnlyEnable = true
		case "_h", "__help":
			a.ShowHelp = true
		case "__version":
			a.ShowVersion = true
		default:
			if name, ok := strings.CutPrefix(flag, "__enable_"); ok && contains(enableNames, name) {
				a.Enable[name] = true
				continue
			}
			return a, usageError{fmt.Sprintf("Unknown option %s", argv[i])}
		}
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

func (a *Args) setEnableAll(on bool) {
	for _, n := range enableNames {
		a.Enable[n] = on
	}
}

func (a Args) anyEnable() bool {
	for _, on := range a.Enable {
		if on {
			return true
		}
	}
	return false
}

var rfc1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate applies validate_args: each returned message is one asmcli
// `[ERROR]` line; any of them makes asmcli exit 2.
func (a Args) Validate(fileExists func(string) bool) []string {
	var errs []string
	hasGCP := a.Project != "" || a.Cluster != "" || a.Location != ""
	if a.Kubeconfig != "" && hasGCP {
		errs = append(errs, "Incompatible arguments. Kubeconfig cannot be used in conjunction with [--cluster_location|--cluster_name|--project_id].")
	}
	if a.Kubeconfig == "" && (a.Project == "" || a.Cluster == "" || a.Location == "") {
		if !hasGCP {
			errs = append(errs, "Missing arguments: either --kubeconfig and --context, or --project_id, --cluster_name and --cluster_location are required.")
		} else {
			for flag, v := range map[string]string{"--project_id": a.Project, "--cluster_name": a.Cluster, "--cluster_location": a.Location} {
				if v == "" {
					errs = append(errs, fmt.Sprintf("Missing value for %s.", flag))
				}
			}
		}
	}
	if a.Kubeconfig != "" && a.Context == "" {
		errs = append(errs, "Missing value for --context: it must be given with --kubeconfig.")
	}
	switch a.CA {
	case "mesh_ca", "citadel", "gcp_cas", "managed_cas":
	default:
		errs = append(errs, "CA must be one of 'citadel', 'mesh_ca', 'gcp_cas', 'managed_cas'")
	}
	if a.Platform != "gcp" && a.Platform != "multicloud" {
		errs = append(errs, "Platform must be one of 'gcp', 'multicloud'")
	}
	if a.Revision != "" {
		if a.Managed {
			errs = append(errs, "The revision name cannot be specified with --managed.")
		}
		if len(a.Revision) > 63 || !rfc1123.MatchString(a.Revision) {
			errs = append(errs, "Revision label does not follow RFC 1123 formatting convention.")
		}
	}
	if a.Channel != "" && a.Channel != "regular" && a.Channel != "stable" && a.Channel != "rapid" {
		errs = append(errs, "Channel must be one of 'regular', 'stable', 'rapid'.")
	}
	custom := []string{a.CACert, a.CAKey, a.RootCert, a.Chain}
	n := 0
	for _, f := range custom {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 4 {
		errs = append(errs, "All four certificate options must be present: --ca_cert, --ca_key, --root_cert and --cert_chain.")
	}
	if n == 4 && a.CA != "citadel" {
		errs = append(errs, "You must select Istio CA with --ca citadel to use custom certificates.")
	}
	if (a.ServiceAccount == "") != (a.KeyFile == "") {
		errs = append(errs, "Service account and key file must be used together.")
	}
	if a.Command == "validate" && a.anyEnable() {
		errs = append(errs, "validation cannot be run with any --enable* flag")
	}
	if a.OnlyEnable && !a.anyEnable() {
		errs = append(errs, "You must specify at least one --enable* flag with --only_enable")
	}
	for _, f := range append(append([]string{}, a.CustomOverlays...), a.CACert, a.CAKey, a.RootCert, a.Chain, a.KeyFile) {
		if f != "" && !fileExists(f) {
			errs = append(errs, fmt.Sprintf("Couldn't find file %s.", f))
		}
	}
	return errs
}

// RevisionName is the revision to install: --revision_name, else the release's.
func (a Args) RevisionName() string {
	if a.Managed {
		return "asm-managed"
	}
	if a.Revision != "" {
		return a.Revision
	}
	return DefaultRevision
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
