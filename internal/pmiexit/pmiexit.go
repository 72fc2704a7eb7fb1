// Package pmiexit ends a test binary the way hpcbench's main ends: after the
// tests, the PMIx server that jobs started in the process is finalised and
// its /tmp/hpcbench-pmix-* folder removed, so nothing the tests created
// outlives them.
package pmiexit

import (
	"fmt"
	"os"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
)

// Main runs the tests and exits; a failed shutdown fails the binary.
func Main(m *testing.M) {
	code := m.Run()
	if err := pmi.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pmi.Shutdown:", err)
		code = 1
	}
	os.Exit(code)
}
