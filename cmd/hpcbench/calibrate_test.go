package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

func TestCalibrateFlagErrors(t *testing.T) {
	bin := buildCLI(t)
	db := filepath.Join(t.TempDir(), "c.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--overheads", "1,x"}, `"x" is not a number of percent`},
		{[]string{"--overheads", "2,2"}, "listed twice"},
		{[]string{"--repetitions", "some"}, `--repetitions "some"`},
		{[]string{"--mpi", "lam"}, `MPI "lam"`},
		{[]string{"--class", "Q"}, "classes"},
		{[]string{"extra"}, "no arguments expected"},
		{[]string{"--repetitions", "3", "--budget", "1h"}, "--budget is for --repetitions auto only"},
		{[]string{"--max-repetitions", "2"}, "max_repetitions"},
	} {
		out, code := runCLI(t, bin, append([]string{"calibrate", "--db", db}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("calibrate %v: exit %d, want 2 and %q in:\n%s", tc.args, code, tc.want, out)
		}
	}

	// Batch jobs cannot add adaptive rounds: refused before anything runs.
	cfg := filepath.Join(t.TempDir(), "auto.toml")
	os.WriteFile(cfg, []byte("[study]\nrepetitions = \"auto\"\n[matrix]\nranks = [1]\n[[benchmark]]\nkind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]\n"), 0o644)
	out, code := runCLI(t, bin, "matrix", "--executor", "slurm", "--db", db, cfg)
	if code != 2 || !strings.Contains(out, `repetitions = "auto" needs the local executor`) {
		t.Errorf("an adaptive study through Slurm: exit %d\n%s", code, out)
	}
}

// TestCalibrateEndToEnd runs "hpcbench calibrate --json" for real on the
// MPICH kernels with 3 runs a cell: one JSON object per overhead with the
// documented fields, every run used.
func TestCalibrateEndToEnd(t *testing.T) {
	testenv.SkipIfShort(t, "runs a real calibration")
	kernels, err := filepath.Abs(filepath.Join("..", "..", "npb", "kernels", "build"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(kernels, "mpich", "ep"))
	testenv.Require(t, "the MPICH kernels in "+kernels+" (run make kernels)", err)
	bin := buildCLI(t)
	db := filepath.Join(t.TempDir(), "c.db")
	out, code := runCLI(t, bin, "calibrate", "--overheads", "0,100", "--repetitions", "3", "--seed", "4",
		"--kernels", kernels, "--db", db, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		rows = append(rows, row)
	}
	if len(rows) != 2 {
		t.Fatalf("%d JSON rows, want 2:\n%s", len(rows), out)
	}
	for i, injected := range []float64{0, 100} {
		r := rows[i]
		if r["injected"] != injected || r["runs"] != 3.0 {
			t.Errorf("row %d = %v, want injected %v with 3 runs", i, r, injected)
		}
		for _, k := range []string{"measured", "ci_low", "ci_high", "verdict"} {
			if _, ok := r[k]; !ok {
				t.Errorf("row %d lacks %q: %v", i, k, r)
			}
		}
	}
	if m, ok := rows[1]["measured"].(float64); !ok || m < 30 {
		t.Errorf("100%% injected measured as %v", rows[1]["measured"])
	}
	out, code = runCLI(t, bin, "results", "show", "--db", db)
	if code != 0 || !strings.Contains(out, "native+100%") {
		t.Errorf("results show of the calibration: exit %d\n%s", code, out)
	}
}
