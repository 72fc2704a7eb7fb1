package calibrate

import (
	"fmt"
	"os"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
)

// TestMain finalises any PMIx server the tests' jobs started in this
// process, as hpcbench's main does.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := pmi.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pmi.Shutdown:", err)
		code = 1
	}
	os.Exit(code)
}
