package results

import (
	"fmt"
	"os"
	"testing"
)

// TestMain turns the test binary into a store writer when a test starts it
// as a second process (see runStoreWriter).
func TestMain(m *testing.M) {
	if path := os.Getenv("HPCBENCH_STORE_WRITER"); path != "" {
		if err := runStoreWriter(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
