package simcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/meshctl/meshctl/sim/fakeiam"
	"github.com/meshctl/meshctl/sim/scenario"
	"github.com/meshctl/meshctl/sim/state"
)

// iamFlags are `meshsim up`'s permission flags.
type iamFlags struct {
	deny   []string
	policy string
}

func addIAMFlags(f *pflag.FlagSet) *iamFlags {
	i := &iamFlags{}
	f.StringSliceVar(&i.deny, "deny", nil, "permissions the default caller (meshctl, gcloud) lacks in every project, e.g. compute.securityPolicies.create or compute.firewalls.* (comma-separated or repeated; POST /meshsim/iam/grant gives them back)")
	f.StringVar(&i.policy, "iam-policy", "", "a JSON file of the simulated principals' permissions, per principal and per project (sim/fakeiam.Config)")
	return i
}

func (i *iamFlags) set() bool { return len(i.deny) > 0 || i.policy != "" }

// config builds the permission model the flags ask for and checks it
// against the scenario's project, before anything starts.
func (i *iamFlags) config(sc scenario.Scenario) (fakeiam.Config, error) {
	cfg, err := fakeiam.LoadConfig(i.policy)
	if i.policy != "" {
		if _, statErr := os.Stat(i.policy); statErr != nil {
			return cfg, fmt.Errorf("--iam-policy: %w", statErr)
		}
	}
	if err != nil {
		return cfg, fmt.Errorf("--iam-policy: %w", err)
	}
	if len(i.deny) > 0 {
		if cfg.Principals == nil {
			cfg.Principals = map[string]fakeiam.Grant{}
		}
		g := cfg.Principals[fakeiam.DefaultPrincipal]
		g.Deny = append(g.Deny, i.deny...)
		cfg.Principals[fakeiam.DefaultPrincipal] = g
	}
	if _, err := fakeiam.NewPolicy(cfg, servedProjects(sc)...); err != nil {
		return cfg, fmt.Errorf("--deny/--iam-policy: %w", err)
	}
	return cfg, nil
}

// write saves the permission model where the daemon reads it.
func writeIAMPolicy(d state.Dir, cfg fakeiam.Config) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(d.IAMPolicy()), 0o755); err != nil {
		return err
	}
	return os.WriteFile(d.IAMPolicy(), append(b, '\n'), 0o644)
}

// pushIAMPolicy applies the model to a daemon that was already running.
func pushIAMPolicy(ctx context.Context, endpoint string, cfg fakeiam.Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, endpoint+"/meshsim/iam/policy", bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("apply the permissions: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("apply the permissions: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// homeProject is the scenario's project as fakeiam names projects.
func homeProject(sc scenario.Scenario) fakeiam.Project {
	return fakeiam.Project{ID: sc.Project, Number: strconv.FormatInt(sc.ProjectNumber, 10)}
}

// servedProjects are the projects the simulator serves: the scenario's
// and, with --shared-vpc, the host project, whose permissions are its own.
func servedProjects(sc scenario.Scenario) []fakeiam.Project {
	out := []fakeiam.Project{homeProject(sc)}
	if sc.SharedVPCHost != "" {
		out = append(out, fakeiam.Project{ID: sc.SharedVPCHost, Number: strconv.FormatInt(sc.SharedVPCHostNumber(), 10)})
	}
	return out
}

// newIAM builds the daemon's permission model from the state directory and
// the Resource Manager answering from it.
func newIAM(d state.Dir, sc scenario.Scenario) (*fakeiam.Policy, *fakeiam.Server, error) {
	cfg, err := fakeiam.LoadConfig(d.IAMPolicy())
	if err != nil {
		return nil, nil, err
	}
	policy, err := fakeiam.NewPolicy(cfg, servedProjects(sc)...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", d.IAMPolicy(), err)
	}
	return policy, fakeiam.NewServer(policy, homeProject(sc)), nil
}
