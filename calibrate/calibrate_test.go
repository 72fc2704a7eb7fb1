package calibrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/stats"
)

func TestConfigInjectsEachOverheadAsANativeRuntime(t *testing.T) {
	cfg, err := Config(Options{Overheads: []float64{0, 2.5}, Repetitions: 4, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Study.Repetitions != 4 || cfg.Study.AutoRepetitions || cfg.Study.Seed != 9 || cfg.Study.Warmup != 1 {
		t.Errorf("study = %+v", cfg.Study)
	}
	var labels, extras []string
	for _, rt := range cfg.Runtimes {
		if rt.Name != "native" {
			t.Errorf("runtime %q: every cell of a calibration is native", rt.Name)
		}
		labels = append(labels, rt.Label)
		extras = append(extras, rt.Env[ExtraWorkEnv])
	}
	if strings.Join(labels, " ") != "native native+0% native+2.5%" || strings.Join(extras, " ") != " 0 0.025" {
		t.Errorf("runtimes %v with %s %q", labels, ExtraWorkEnv, extras)
	}
	b := cfg.Benchmarks[0]
	if b.Name != "ep" || strings.Join(b.Classes, "") != "S" || strings.Join(cfg.Matrix.MPI, "") != "mpich" || cfg.Matrix.Ranks[0] != 1 {
		t.Errorf("benchmark %+v, matrix %+v", b, cfg.Matrix)
	}

	cfg, err = Config(Options{Budget: time.Hour, MaxRepetitions: 12})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Study; !s.AutoRepetitions || s.MaxRepetitions != 12 || s.Budget.Duration != time.Hour || len(cfg.Runtimes) != 1+len(DefaultOverheads) {
		t.Errorf("adaptive default: %+v, %d runtimes", s, len(cfg.Runtimes))
	}

	for _, bad := range []Options{
		{Overheads: []float64{-1}},
		{Overheads: []float64{2, 2}},
		{MPI: "lam"},
		{Class: "Z"},
		{Repetitions: -2},
	} {
		if _, err := Config(bad); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: got %v, want ErrOptions", bad, err)
		}
	}
}

// TestRowsReadTheComparisons gives the analysis synthetic runs of a
// calibration: 5% more time injected is measured as about 5% and called
// slower, 0% is not, and an overhead whose cells never ran has a row
// that says so.
func TestRowsReadTheComparisons(t *testing.T) {
	rng := stats.NewRand(4)
	native := results.Cell{Benchmark: "ep", Kind: "npb", Class: "S", MPI: "mpich", PMI: "pmi1", Ranks: 1, Runtime: "native"}
	var runs []results.Run
	for _, side := range []struct {
		label string
		time  float64
	}{{"native", 1}, {Label(0), 1}, {Label(5), 1.05}} {
		cell := native
		cell.Runtime = side.label
		cell.Key = cell.CanonicalKey()
		for rep := 1; rep <= 8; rep++ {
			v := side.time * math.Exp(0.003*rng.NormFloat64())
			// Mop/s, as the kernels report: higher is better.
			runs = append(runs, results.Run{Cell: cell, Repetition: rep, Status: results.StatusOK,
				Metric: results.Metric{Name: "mops_total", Unit: "Mop/s", Value: 100 / v, HigherIsBetter: true}})
		}
	}
	rows := Rows(results.Analyse(runs, results.AnalysisOptions{Seed: 1}), []float64{0, 5, 7})
	if len(rows) != 3 {
		t.Fatalf("rows = %+v", rows)
	}
	if r := rows[0]; r.Verdict == results.VerdictSlower || r.Verdict == results.VerdictFaster || math.Abs(r.Measured) > 1 || r.Runs != 8 || r.NativeRuns != 8 {
		t.Errorf("0%%: %+v", r)
	}
	if r := rows[1]; r.Verdict != results.VerdictSlower || math.Abs(r.Measured-5) > 1 || !(r.CILow <= r.Measured && r.Measured <= r.CIHigh) {
		t.Errorf("5%%: %+v", r)
	}
	if r := rows[2]; r.Verdict != results.VerdictTooFew || !math.IsNaN(r.Measured) {
		t.Errorf("7%% (never ran): %+v", r)
	}
	var out bytes.Buffer
	if err := WriteJSON(&out, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("JSON: %d lines\n%s", len(lines), out.String())
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"injected", "measured", "ci_low", "ci_high", "verdict", "runs"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON object lacks %q: %s", k, lines[1])
		}
	}
	if obj["verdict"] != "slower" || obj["injected"] != 5.0 {
		t.Errorf("JSON row = %s", lines[1])
	}
	if !strings.Contains(lines[2], `"measured":null`) {
		t.Errorf("a missing measurement is not null: %s", lines[2])
	}
	out.Reset()
	if err := WriteTable(&out, rows); err != nil || !strings.Contains(out.String(), "INJECTED") || !strings.Contains(out.String(), "slower") {
		t.Errorf("table: %v\n%s", err, out.String())
	}
}

// kernelDir builds the MPICH kernels (make is incremental) and returns
// the folder {dir} stands for.
func kernelDir(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"make", "mpicc.mpich", "mpiexec.mpich"} {
		testenv.LookPath(t, tool, "install MPICH (Debian: mpich, libmpich-dev) to build and run the kernels")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(wd), "npb", "kernels")
	if out, err := exec.Command("make", "-C", dir, "mpich").CombinedOutput(); err != nil {
		t.Fatalf("make -C %s mpich: %v\n%s", dir, err, out)
	}
	return filepath.Join(dir, "build")
}

// TestCalibrateNatively runs a small real calibration end to end: the
// kernel natively and with 0% and 100% injected, 4 runs a cell. The
// machine's noise decides how sharp the verdicts are; what must hold is
// that every run is stored and compared, the A/A pair is never called
// slower or faster, and 100% (twice the time) is measured as a clear
// slowdown.
func TestCalibrateNatively(t *testing.T) {
	testenv.SkipIfShort(t, "runs a real study")
	dir := kernelDir(t)
	ctx := context.Background()
	st, err := results.Open(filepath.Join(t.TempDir(), "calibrate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log strings.Builder
	res, err := Run(ctx, Options{Overheads: []float64{0, 100}, Repetitions: 4, Seed: 5, KernelDir: dir, Study: "cal"},
		&matrix.Local{Log: &log}, st)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.Summary.OK != 3*(1+4) {
		t.Errorf("summary %s, want 15 ok runs\n%s", res.Summary, log.String())
	}
	var table strings.Builder
	WriteTable(&table, res.Rows)
	t.Logf("\n%s", table.String())
	if len(res.Rows) != 2 {
		t.Fatalf("rows = %+v", res.Rows)
	}
	for _, r := range res.Rows {
		if r.Runs != 4 || r.NativeRuns != 4 {
			t.Errorf("%g%%: %d/%d runs, want 4/4", r.Injected, r.Runs, r.NativeRuns)
		}
	}
	if v := res.Rows[0].Verdict; v == results.VerdictSlower || v == results.VerdictFaster {
		t.Errorf("0%% injected was called %s: %s", v, res.Rows[0].Detail)
	}
	if m := res.Rows[1].Measured; !(m > 30) {
		t.Errorf("100%% injected measured as %+.1f%%: %s", m, res.Rows[1].Detail)
	}
}
