package matrix

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/imagebuild"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/pmi/pmix"
	"github.com/hpcbench/hpcbench/results"
)

// hpccImage is the minimal image the container cells of the HPCC tests
// run: Debian's hpcc with its ldd closure (OpenBLAS included) and Open MPI.
const hpccImage = "hpcbench-test-hpcc"

// needHPCC skips unless Debian's hpcc, Open MPI and hpcbench's PMIx server
// are all here, and returns hpcc's path and the node's inventory.
func needHPCC(t *testing.T) (string, *inventory.Inventory) {
	t.Helper()
	testenv.SkipIfShort(t, "runs Debian's hpcc for real")
	path := testenv.LookPath(t, "hpcc", "apt-get install hpcc")
	testenv.Require(t, "hpcbench's PMIx server (hpcc is linked with Open MPI)", pmix.Available())
	inv := inventory.Detect(context.Background(), inventory.Options{})
	if m := inv.FindMPI("openmpi"); m == nil || !m.Found {
		testenv.Skipf(t, "Open MPI (apt-get install openmpi-bin libopenmpi-dev)")
	}
	return path, inv
}

// runStudy loads text as a config, runs it into a fresh store and returns
// the summary and the stored runs.
func runStudy(t *testing.T, text string, inv *inventory.Inventory) (*Summary, []results.Run, *results.Store) {
	t.Helper()
	cfg, err := configs.Parse(t.Name()+".toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	st, err := results.Open(filepath.Join(tmp, "hpl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var log strings.Builder
	plan, err := NewPlan(context.Background(), cfg, Overrides{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := (&Local{Log: &log, WorkRoot: tmp, KeepWork: true}).RunStudy(context.Background(), plan, st)
	if log.Len() > 0 {
		t.Logf("matrix log:\n%s", log.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(context.Background(), sum.Study, results.RunsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sum, runs, st
}

// TestHPCCNativeAndInContainers runs Debian's hpcc (HPL and the rest of
// the suite) at N=1000 on 1 and 2 ranks natively under hpcbench's PMIx
// server, and per rank in Docker and Apptainer where they are available,
// then compares each container cell with native.
func TestHPCCNativeAndInContainers(t *testing.T) {
	hpcc, inv := needHPCC(t)
	ctx := context.Background()

	rts := []string{"native"}
	var missing []string
	for _, rt := range []string{"docker", "apptainer"} {
		if _, _, err := inv.RuntimeStatus(rt); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", rt, err))
			continue
		}
		rts = append(rts, rt)
	}
	if len(missing) > 0 {
		testenv.Missingf(t, "container cells left out, runtime unavailable: %s", strings.Join(missing, "; "))
	}
	if len(rts) > 1 {
		m, err := imagebuild.Build(ctx, images.BuildOptions{
			Name: hpccImage, MPI: "openmpi", Minimal: true, Binaries: []string{hpcc},
		}, rts[1:])
		if err != nil {
			t.Fatalf("image with hpcc: %v", err)
		}
		// hpcc's BLAS must be in the image: the ldd closure brings the
		// library behind libblas.so.3 through the alternatives links.
		host, err := npb.DetectBLAS(ctx, hpcc)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range host.Libraries {
			if _, err := os.Stat(filepath.Join(m.Rootfs, l)); err != nil {
				t.Errorf("the image lacks hpcc's BLAS %s: %v", l, err)
			}
		}
	}

	text := `
[study]
name = "hpcc-test"
repetitions = 2
warmup = 0
timeout = "4m"
blas_threads = 1
[study.env]
OMP_NUM_THREADS = "4"  # blas_threads wins over env
[matrix]
mpi = ["openmpi"]
pmi = ["pmix"]
ranks = [1, 2]
[[benchmark]]
kind = "hpcc"
n = 1000
nb = 100
`
	for _, rt := range rts {
		text += fmt.Sprintf("[[runtime]]\nname = %q\n", rt)
		if rt != "native" {
			text += fmt.Sprintf("image = %q\n", hpccImage)
		}
	}
	sum, runs, _ := runStudy(t, text, inv)
	if want := len(rts) * 2 * 2; sum.Ran != want || sum.OK != want {
		t.Errorf("%s; want %d runs, all ok", sum, want)
	}
	for _, r := range runs {
		id := fmt.Sprintf("%s x%d rep %d", r.Cell.Runtime, r.Cell.Ranks, r.Repetition)
		if r.Status != results.StatusOK {
			t.Errorf("%s: %s: %s", id, r.Status, r.Reason)
			continue
		}
		if r.Metric.Name != "gflops" || r.Metric.Value <= 0 {
			t.Errorf("%s: metric %+v; want HPL's Gflops above 0", id, r.Metric)
		}
		if r.Cell.Class != "N=1000" {
			t.Errorf("%s: class %q, want N=1000", id, r.Cell.Class)
		}
		// hpcc runs its whole suite; the other tests' numbers are kept.
		for _, k := range []string{"StarSTREAM_Triad", "StarDGEMM_Gflops", "MPIRandomAccess_GUPs"} {
			if _, ok := r.Metrics[k]; !ok {
				t.Errorf("%s: metrics lack %s: %v", id, k, r.Metrics)
			}
		}
		if r.Env["OPENBLAS_NUM_THREADS"] != "1" || r.Env["OMP_NUM_THREADS"] != "1" {
			t.Errorf("%s: BLAS threads OPENBLAS_NUM_THREADS=%q OMP_NUM_THREADS=%q; want 1 and 1", id, r.Env["OPENBLAS_NUM_THREADS"], r.Env["OMP_NUM_THREADS"])
		}
		blas := r.Env[EnvBLASLibrary]
		if strings.HasPrefix(blas, "unknown") || !strings.Contains(blas, "blas") {
			t.Errorf("%s: BLAS provenance %q", id, blas)
		}
		if r.Cell.Runtime != "native" && !strings.Contains(blas, "in image "+hpccImage) {
			t.Errorf("%s: BLAS provenance %q does not say it is the image's", id, blas)
		}
		if _, ok := r.Env["OMPI_MCA_mpi_yield_when_idle"]; ok {
			t.Errorf("%s: not oversubscribed, yet yield_when_idle was set", id)
		}
		if r.Finished.Before(r.Started) {
			t.Errorf("%s: finished %s before it started %s", id, r.Finished, r.Started)
		}
	}
	t.Logf("BLAS: %s", runs[0].Env[EnvBLASLibrary])

	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	t.Logf("%-10s %5s %14s %14s", "runtime", "ranks", "median Gflops", "vs native")
	for _, cs := range a.Cells {
		rel := "-"
		for _, cmp := range a.Comparisons {
			if cmp.Container == cs {
				rel = fmt.Sprintf("%.2f [%.2f-%.2f]", cmp.RelPerf, cmp.RelLow, cmp.RelHigh)
			}
		}
		t.Logf("%-10s %5d %14.3f %14s", cs.Cell.Runtime, cs.Cell.Ranks, cs.Median, rel)
	}
	if want := (len(rts) - 1) * 2; len(a.Comparisons) != want {
		t.Errorf("%d comparisons with native, want %d (unmatched: %d)", len(a.Comparisons), want, len(a.Unmatched))
	}
	for _, cmp := range a.Comparisons {
		if cmp.RelPerf <= 0 {
			t.Errorf("%s: relative performance %g", cmp.Container.Label(), cmp.RelPerf)
		}
	}
}

// TestHPCCOversubscribedYields runs hpcc on 2 ranks with the node said to
// have one core: the cell is marked oversubscribed and Open MPI's ranks
// are told to yield when idle, and the run records both.
func TestHPCCOversubscribedYields(t *testing.T) {
	_, inv := needHPCC(t)
	one := *inv
	one.Host.Cores = 1
	_, runs, _ := runStudy(t, `
[study]
name = "hpcc-oversubscribed"
repetitions = 1
warmup = 0
timeout = "4m"
oversubscribe = true
[matrix]
mpi = ["openmpi"]
pmi = ["pmix"]
ranks = [2]
[[benchmark]]
kind = "hpcc"
n = 500
nb = 100
[[runtime]]
name = "native"
`, &one)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.Status != results.StatusOK {
		t.Errorf("%s: %s", r.Status, r.Reason)
	}
	if !r.Cell.Oversubscribed || !strings.Contains(r.Cell.Key, "oversubscribed") {
		t.Errorf("cell %s not marked oversubscribed", r.Cell.Key)
	}
	if got := r.Env["OMPI_MCA_mpi_yield_when_idle"]; got != "1" {
		t.Errorf("OMPI_MCA_mpi_yield_when_idle = %q in the run's env, want 1", got)
	}
}

// TestHPLGridNotTheRanks gives a 2 x 2 grid with 2 ranks: no node could run
// it, so the cell is skipped with the reason and stored as skipped, and
// nothing is launched.
func TestHPLGridNotTheRanks(t *testing.T) {
	inv := inventory.Detect(context.Background(), inventory.Options{})
	sum, runs, st := runStudy(t, `
[study]
name = "hpl-bad-grid"
repetitions = 1
warmup = 0
[matrix]
mpi = ["openmpi"]
pmi = ["pmix"]
ranks = [2]
[[benchmark]]
kind = "hpcc"
n = 1000
nb = 100
p = 2
q = 2
check_binary = false
[[runtime]]
name = "native"
`, inv)
	if len(runs) != 0 || sum.Skipped != 1 {
		t.Fatalf("%s; want no run and one skipped cell", sum)
	}
	skips, err := st.Skips(context.Background(), sum.Study)
	if err != nil {
		t.Fatal(err)
	}
	if len(skips) != 1 || !strings.Contains(skips[0].Reason, "2 x 2 needs 4 ranks, not 2") {
		t.Errorf("skips %+v; want the grid's reason", skips)
	}
}

// TestJudgeHPLOutput judges real and constructed HPL and HPCC outputs the
// way a finished launch is judged: a grid other than the ranks or a
// residual check that failed makes the run invalid, with the reason.
func TestJudgeHPLOutput(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "npb", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hpl := Cell{Benchmark: "hpl", Name: "hpl", Kind: configs.KindHPL}
	hpcc := Cell{Benchmark: "hpcc", Name: "hpcc", Kind: configs.KindHPCC}
	for _, tc := range []struct {
		name   string
		cell   Cell
		ranks  int
		file   string
		status results.Status
		reason string
	}{
		{"hpl 1x2 on 2", hpl, 2, "hpl-2000-1x2.txt", results.StatusOK, ""},
		{"hpl 1x2 on 4", hpl, 4, "hpl-2000-1x2.txt", results.StatusInvalid, "grid"},
		{"hpl residual failed", hpl, 4, "constructed-hpl2.0-failed.txt", results.StatusInvalid, "FAILED"},
		{"hpcc 1x2 on 2", hpcc, 2, "hpccoutf.txt", results.StatusOK, ""},
		{"hpcc 1x2 on 1", hpcc, 1, "hpccoutf.txt", results.StatusInvalid, ""},
		{"hpcc failed", hpcc, 4, "constructed-hpcc1.5-failed.txt", results.StatusInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cell
			c.Ranks = tc.ranks
			work := t.TempDir()
			var run results.Run
			if c.Kind == configs.KindHPCC {
				os.WriteFile(filepath.Join(work, "hpccoutf.txt"), read(tc.file), 0o644)
			} else {
				run.Output = read(tc.file)
			}
			judgeOutput(&run, c, 0, work)
			if run.Status != tc.status || !strings.Contains(run.Reason, tc.reason) {
				t.Errorf("status %s (%s), want %s with %q", run.Status, run.Reason, tc.status, tc.reason)
			}
			if tc.status == results.StatusInvalid && run.Reason == "" {
				t.Error("invalid without a reason")
			}
			if run.Status == results.StatusOK && (run.Metric.Name != "gflops" || run.Metric.Value <= 0) {
				t.Errorf("metric %+v", run.Metric)
			}
		})
	}
}

// TestPrepareRunHPL checks what PrepareRun writes and sets for HPL and
// HPCC cells: the input file, the BLAS threads (blas_threads over env,
// env over the default 1) and yield_when_idle only for oversubscribed
// Open MPI cells.
func TestPrepareRunHPL(t *testing.T) {
	t.Setenv("OPENBLAS_NUM_THREADS", "")
	os.Unsetenv("OPENBLAS_NUM_THREADS")
	t.Setenv("OMP_NUM_THREADS", "")
	os.Unsetenv("OMP_NUM_THREADS")
	in := &npb.HPLInput{N: 1000, NB: 100, P: 1, Q: 2}
	for _, tc := range []struct {
		name        string
		cell        Cell
		file        string
		want, unset []string
	}{
		{"hpl default", Cell{Kind: configs.KindHPL, MPI: "mpich", Ranks: 2, HPL: in}, "HPL.dat",
			[]string{"OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1"}, []string{"OMPI_MCA_mpi_yield_when_idle"}},
		{"hpcc env", Cell{Kind: configs.KindHPCC, MPI: "openmpi", Ranks: 2, HPL: in, Env: map[string]string{"OPENBLAS_NUM_THREADS": "3"}}, "hpccinf.txt",
			[]string{"OPENBLAS_NUM_THREADS=3", "OMP_NUM_THREADS=1"}, []string{"OMPI_MCA_mpi_yield_when_idle"}},
		{"hpcc blas_threads over env", Cell{Kind: configs.KindHPCC, MPI: "openmpi", Ranks: 2, HPL: in, BLASThreads: 2, Env: map[string]string{"OPENBLAS_NUM_THREADS": "3"}}, "hpccinf.txt",
			[]string{"OPENBLAS_NUM_THREADS=2", "OMP_NUM_THREADS=2"}, nil},
		{"oversubscribed openmpi", Cell{Kind: configs.KindHPCC, MPI: "openmpi", Ranks: 2, HPL: in, Oversubscribed: true}, "hpccinf.txt",
			[]string{"OMPI_MCA_mpi_yield_when_idle=1"}, nil},
		{"oversubscribed mpich", Cell{Kind: configs.KindHPL, MPI: "mpich", Ranks: 2, HPL: in, Oversubscribed: true}, "HPL.dat",
			nil, []string{"OMPI_MCA_mpi_yield_when_idle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			env, err := PrepareRun(tc.cell, work, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range tc.want {
				if !slices.Contains(env, kv) {
					t.Errorf("env %v lacks %s", env, kv)
				}
			}
			for _, k := range tc.unset {
				for _, kv := range env {
					if strings.HasPrefix(kv, k+"=") {
						t.Errorf("env has %s", kv)
					}
				}
			}
			b, err := os.ReadFile(filepath.Join(work, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "1000         Ns") || !strings.Contains(string(b), "2            Qs") {
				t.Errorf("%s:\n%s", tc.file, b)
			}
		})
	}
	bad := Cell{Kind: configs.KindHPL, MPI: "mpich", Ranks: 2, HPL: &npb.HPLInput{N: 1000, NB: 100, P: 2, Q: 2}}
	if _, err := PrepareRun(bad, t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), "needs 4 ranks, not 2") {
		t.Errorf("a 2 x 2 grid on 2 ranks gave %v", err)
	}
}
