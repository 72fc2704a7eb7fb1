package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// TestMatrixBLASThreads runs Debian's hpcc once with --blas-threads 2 and
// checks the run's recorded environment: both thread variables and the
// BLAS library hpcc loads.
func TestMatrixBLASThreads(t *testing.T) {
	bin := buildCLI(t)
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "blas.toml")
	os.WriteFile(cfg, []byte(`
[study]
name = "blas"
repetitions = 1
warmup = 0
timeout = "3m"
blas_threads = 1
[matrix]
mpi = ["openmpi"]
pmi = ["pmix"]
ranks = [1]
[[benchmark]]
kind = "hpcc"
n = 500
nb = 100
[[runtime]]
name = "native"
`), 0o644)
	db := filepath.Join(tmp, "blas.db")

	out, code := runCLI(t, bin, "matrix", "--quiet", "--db", db, "--blas-threads", "0", cfg)
	if code != 2 || !strings.Contains(out, "--blas-threads 0") {
		t.Errorf("--blas-threads 0: exit %d, want 2 with the flag named\n%s", code, out)
	}
	testenv.SkipIfShort(t, "runs hpcc")
	testenv.LookPath(t, "hpcc", "apt-get install hpcc")
	out, code = runCLI(t, bin, "matrix", "--quiet", "--db", db, "--study", "blas2", cfg, "--blas-threads", "2")
	if code != 0 || !strings.Contains(out, "1 ok") {
		t.Fatalf("exit %d, want one ok run\n%s", code, out)
	}
	out, code = runCLI(t, bin, "results", "export", "--db", db, "--study", "blas2", "--json")
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	var run struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &run); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if run.Env["OPENBLAS_NUM_THREADS"] != "2" || run.Env["OMP_NUM_THREADS"] != "2" {
		t.Errorf("recorded env %v; want both thread counts 2", run.Env)
	}
	if lib := run.Env["HPCBENCH_BLAS_LIBRARY"]; !strings.Contains(lib, "blas") || strings.HasPrefix(lib, "unknown") {
		t.Errorf("HPCBENCH_BLAS_LIBRARY = %q", lib)
	}
}
