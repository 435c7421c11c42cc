// Command meshctl runs the runbooks for Istio-based service mesh on GKE as
// safe, idempotent commands. cmd/meshctl/root wires the command tree: one
// package per verb beside it, the logic in pkg/.
package main

import (
	"context"
	"os"

	"github.com/meshctl/meshctl/cmd/meshctl/factory"
	"github.com/meshctl/meshctl/cmd/meshctl/root"
)

func main() {
	os.Exit(root.Run(context.Background(), os.Args[1:], factory.SystemEnv()))
}
