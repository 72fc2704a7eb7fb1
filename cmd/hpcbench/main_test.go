package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hpcbench/hpcbench/internal/pmiexit"
	"github.com/hpcbench/hpcbench/npb/kernels"
)

// TestMain finalises the PMIx server the tests' jobs started in this
// process, as hpcbench's main does. The quick study run outside the source
// tree builds the project's kernels into the kernels cache: the tests keep
// theirs in the temporary folder (built once, reused by later runs) rather
// than in the machine's cache, unless $HPCBENCH_KERNELS_CACHE says where.
func TestMain(m *testing.M) {
	if os.Getenv(kernels.CacheEnv) == "" {
		os.Setenv(kernels.CacheEnv, filepath.Join(os.TempDir(), "hpcbench-test-kernels"))
	}
	pmiexit.Main(m)
}
