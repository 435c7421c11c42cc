// Command meshsim runs a local stand-in for GKE, the mesh and Google Cloud:
// `meshsim up | env | status | down`. Invoked as `asmcli` (through the link
// `meshsim up` puts on the PATH `meshsim env` prints) it is the asmcli stand-in.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/meshctl/meshctl/sim/asmcli"
	"github.com/meshctl/meshctl/sim/simcmd"
	"github.com/meshctl/meshctl/sim/state"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if filepath.Base(os.Args[0]) == "asmcli" {
		os.Exit(asmcli.Main(ctx, os.Args[1:], asmcli.Env{
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, State: state.Default(),
		}))
	}
	os.Exit(simcmd.Execute(ctx, os.Args[1:]))
}
