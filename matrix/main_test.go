package matrix

import (
	"fmt"
	"os"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
)

// TestMain finalises the PMIx server the tests' jobs started in this
// process, as hpcbench's main does, so no PMIx folder outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := pmi.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pmi.Shutdown:", err)
		code = 1
	}
	os.Exit(code)
}
