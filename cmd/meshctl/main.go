// Command meshctl runs the runbooks for Istio-based service mesh on GKE as
// safe, idempotent commands. See internal/cli for the command tree.
package main

import (
	"context"
	"os"

	"github.com/meshctl/meshctl/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.SystemEnv()))
}
