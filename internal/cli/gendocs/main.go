// Command gendocs writes meshctl's Markdown command reference:
//
//	go run ./internal/cli/gendocs docs/cli
package main

import (
	"fmt"
	"os"

	"github.com/meshctl/meshctl/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := cli.GenerateDocs(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
