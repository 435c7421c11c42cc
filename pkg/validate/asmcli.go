package validate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/meshctl/meshctl/pkg/install"
)

// AsmcliCluster names the cluster `asmcli validate` looks at.
type AsmcliCluster struct {
	Project, Location, Cluster string
}

// RunAsmcli returns the Clients.Asmcli that runs `asmcli validate` for
// cluster, with the asmcli loc finds (as install finds it), in a throw-away
// output directory, and returns its log lines.
func RunAsmcli(loc install.Locator, cluster AsmcliCluster) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		if cluster.Project == "" || cluster.Location == "" || cluster.Cluster == "" {
			return nil, fmt.Errorf("asmcli needs --project, --location and --cluster (or a gke_ kube context)")
		}
		a, err := loc.LocateOnce(ctx)
		if err != nil {
			return nil, fmt.Errorf("find asmcli: %w", err)
		}
		out, err := os.MkdirTemp("", "meshctl-asmcli-validate-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(out)
		c := exec.CommandContext(ctx, a.Path, "validate", "--project_id", cluster.Project, "--cluster_name", cluster.Cluster,
			"--cluster_location", cluster.Location, "--output_dir", out)
		// asmcli logs to stderr; both streams are its log.
		var log bytes.Buffer
		c.Stderr, c.Stdout = &log, &log
		runErr := c.Run()
		var lines []string
		sc := bufio.NewScanner(&log)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if runErr != nil {
			return lines, fmt.Errorf("asmcli validate: %w", runErr)
		}
		return lines, nil
	}
}
