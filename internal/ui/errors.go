package ui

import (
	"fmt"
	"io"

	"github.com/meshctl/meshctl/internal/failure"
)

// PrintError writes err to w (stderr) as one "Error:" line and, when the
// error carries one, a "Hint:" line. Silent errors (a chain holding a
// failure.Error with a nil Err, such as failure.Problems()) print nothing.
func PrintError(w io.Writer, s Styles, err error) {
	if err == nil || failure.Silent(err) {
		return
	}
	fmt.Fprintf(w, "%s %s\n", s.Error("Error:"), err.Error())
	if hint := failure.HintOf(err); hint != "" {
		fmt.Fprintf(w, "%s %s\n", s.Faint("Hint:"), hint)
	}
}
