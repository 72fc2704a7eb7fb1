package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
)

// epStudy is a native study of EP class S on one rank under MPICH's
// PMI-1, repeated reps times.
func epStudy(t *testing.T, name, dir string, reps int) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse(name+".toml", []byte(fmt.Sprintf(`
[study]
name = %q
repetitions = %d
warmup = 0
timeout = "60s"
npb_dir = %q
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [1]
[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
args = ["{class}"]
[[runtime]]
name = "native"
`, name, reps, dir)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func openStore(t *testing.T) *results.Store {
	t.Helper()
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func skipReasons(t *testing.T, st *results.Store, study string) []string {
	t.Helper()
	ks, err := st.Skips(context.Background(), study)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range ks {
		out = append(out, k.Reason)
	}
	return out
}

// TestResumeStartsAStudyWithoutItsRow: a first run killed before it
// recorded its study leaves nothing to resume; --resume then starts the
// study instead of refusing, and the next --resume continues that one.
func TestResumeStartsAStudyWithoutItsRow(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	// An inventory without MPICH: the one cell is skipped, nothing runs.
	inv := &inventory.Inventory{}
	dir := t.TempDir()
	plan, err := NewPlan(ctx, epStudy(t, "norow", dir, 1), Overrides{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sum, err := (&Local{Resume: true, Log: &log}).RunStudy(ctx, plan, st)
	if err != nil {
		t.Fatalf("--resume with no study recorded: %v", err)
	}
	if !sum.Started || !strings.HasPrefix(sum.Study, "norow-") || !strings.Contains(log.String(), "starting "+sum.Study) {
		t.Errorf("summary %+v, log %q: want the study started and said so", sum, log.String())
	}
	if got := skipReasons(t, st, sum.Study); len(got) != 1 {
		t.Errorf("skips of the started study: %q; want its one cell", got)
	}
	plan, err = NewPlan(ctx, epStudy(t, "norow", dir, 1), Overrides{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	again, err := (&Local{Resume: true}).RunStudy(ctx, plan, st)
	if err != nil {
		t.Fatalf("the next --resume: %v", err)
	}
	if again.Started || again.Study != sum.Study {
		t.Errorf("the next --resume: study %q (started %v); want %q continued", again.Study, again.Started, sum.Study)
	}
}

// TestProbeTimeoutDefersCells follows one cell through what a busy
// machine does to detection: MPICH's probe times out (a fake version tool
// that never answers), so the cell is deferred, neither run nor recorded
// as skipped, and the study is incomplete; a genuine "not installed" is
// recorded; once MPICH is detected a --resume runs the cell and its skip
// goes; later the cell, with every run stored, is no skip at all.
func TestProbeTimeoutDefersCells(t *testing.T) {
	dir := needKernel(t, "mpich", "ep")
	ctx := context.Background()
	st := openStore(t)
	const reps = 2
	noBuilds := t.TempDir() // Debian's MPICH, whatever builds this machine has
	detect := func(timeout time.Duration) *inventory.Inventory {
		return inventory.Detect(ctx, inventory.Options{NPBDirs: []string{dir}, MPICHRoot: noBuilds, Timeout: timeout})
	}
	run := func(stage string, inv *inventory.Inventory) (*Summary, string, error) {
		t.Helper()
		plan, err := NewPlan(ctx, epStudy(t, "busy", dir, reps), Overrides{Study: "busy", Inventory: inv})
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		var log strings.Builder
		sum, err := (&Local{Resume: true, Log: &log}).RunStudy(ctx, plan, st)
		if sum == nil {
			t.Fatalf("%s: %v", stage, err)
		}
		return sum, log.String(), err
	}
	countRuns := func() int {
		runs, err := st.Runs(ctx, "busy", results.RunsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(runs)
	}

	// 1. MPICH's tools do not answer in time.
	fake := t.TempDir()
	for _, tool := range []string{"mpichversion", "mpiexec.mpich", "mpiexec.hydra"} {
		if err := os.WriteFile(filepath.Join(fake, tool), []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := os.Getenv("PATH")
	t.Setenv("PATH", fake+string(os.PathListSeparator)+path)
	busy := detect(300 * time.Millisecond)
	t.Setenv("PATH", path)
	if m := busy.FindMPI("mpich"); !m.Unknown {
		t.Fatalf("mpich with tools that time out: %+v; want Unknown", m.Component)
	}
	sum, log, err := run("probe timed out", busy)
	if !errors.Is(err, ErrIncomplete) || sum.Deferred != reps || sum.Skipped != 0 || sum.Ran != 0 {
		t.Errorf("probe timed out: %s, %v; want %d runs deferred, none skipped, ErrIncomplete", sum, err, reps)
	}
	if !strings.Contains(log, "deferred") || !strings.Contains(log, "probe timed out") {
		t.Errorf("probe timed out: the log does not say why the cell waits:\n%s", log)
	}
	if got := skipReasons(t, st, "busy"); len(got) != 0 {
		t.Errorf("probe timed out: skips %q recorded; want none", got)
	}

	// 2. MPICH really is missing: that is a skip, and recorded.
	real := detect(0)
	if m := real.FindMPI("mpich"); !m.Found {
		t.Skipf("MPICH not detected here: %s", m.Detail)
	}
	missing := *real
	missing.MPI = slices.Clone(real.MPI)
	missing.MPI[0] = inventory.MPI{Component: inventory.Component{Name: "mpich", Hint: "apt-get install mpich"}}
	sum, _, err = run("not installed", &missing)
	if err != nil || sum.Skipped != 1 || sum.Deferred != 0 {
		t.Errorf("not installed: %s, %v; want the cell skipped", sum, err)
	}
	if got := skipReasons(t, st, "busy"); len(got) != 1 || !strings.Contains(got[0], "not installed") {
		t.Errorf("not installed: skips %q", got)
	}

	// 3. Detected at last: --resume runs the cell, and its skip goes.
	sum, log, err = run("detected", real)
	if err != nil || sum.Ran != reps || sum.OK != reps {
		t.Fatalf("detected: %s, %v\n%s", sum, err, log)
	}
	if got := skipReasons(t, st, "busy"); len(got) != 0 {
		t.Errorf("detected: skips %q remain beside the cell's %d runs", got, countRuns())
	}

	// 4. Missing again, with every run stored: nothing to skip or defer.
	sum, _, err = run("missing after all runs", &missing)
	if err != nil || sum.Skipped != 0 || sum.Deferred != 0 || sum.Ran != 0 {
		t.Errorf("missing after all runs: %s, %v; want nothing skipped, deferred or run", sum, err)
	}
	if got := skipReasons(t, st, "busy"); len(got) != 0 || countRuns() != reps {
		t.Errorf("missing after all runs: skips %q, %d runs; want none and %d", got, countRuns(), reps)
	}
}

// TestRunDeferredWhenItsRuntimeTimesOut: a run whose runtime's detection
// timed out when it came up is not stored (it would count as done); the
// study ends incomplete and a --resume runs it. No runtime is asked: the
// resolver already holds the timed-out answer.
func TestRunDeferredWhenItsRuntimeTimesOut(t *testing.T) {
	t.Setenv(runtimes.SweepEnv, "0") // no container engine is asked about leftovers
	ctx := context.Background()
	cfg, err := configs.Parse("late.toml", []byte(`
[study]
name = "late"
repetitions = 2
warmup = 0
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [1]
[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
args = ["{class}"]
[[runtime]]
name = "docker"
image = "late-image"
`))
	if err != nil {
		t.Fatal(err)
	}
	cells, _ := Expand(cfg, nil)
	rs := NewResolver()
	rs.images[imageKey("docker", "", "late-image", Policy{})] = Resolved{Err: fmt.Errorf("docker: %w: docker version: %w", runtimes.ErrUnavailable, runtimes.ErrProbeTimedOut)}
	plan := &Plan{Config: cfg, Study: "late", StudyGiven: true, Seed: 1, Cells: cells, Runtimes: rs}
	st := openStore(t)
	var log strings.Builder
	sum, err := (&Local{Log: &log, WorkRoot: t.TempDir()}).RunStudy(ctx, plan, st)
	if !errors.Is(err, ErrIncomplete) || sum.Deferred != 2 || sum.Ran != 0 {
		t.Fatalf("%s, %v; want both runs deferred and ErrIncomplete\n%s", sum, err, log.String())
	}
	if runs, _ := st.Runs(ctx, "late", results.RunsOptions{}); len(runs) != 0 {
		t.Errorf("%d runs stored; want none", len(runs))
	}
}

// A study's working folder goes when it ends; with the folders of failed
// runs kept for inspection it is renamed so that no sweep removes it, and
// the log says where it is.
func TestWorkFolderRemovedOrKept(t *testing.T) {
	root := t.TempDir()
	for _, keep := range []bool{false, true} {
		var log strings.Builder
		ex := &executor{local: &Local{WorkRoot: root, KeepWork: keep, Log: &log}, study: "w/1"}
		if err := ex.init(); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(filepath.Base(ex.workRoot), workPrefix) {
			t.Fatalf("working folder %s", ex.workRoot)
		}
		if keep {
			if err := os.Mkdir(filepath.Join(ex.workRoot, "run-failed"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		ex.close()
		SweepWorkFolders(root)
		left, _ := filepath.Glob(filepath.Join(root, "*"))
		switch {
		case !keep && len(left) != 0:
			t.Errorf("without kept runs: %q left", left)
		case keep && (len(left) != 1 || !strings.HasPrefix(filepath.Base(left[0]), keptPrefix+"w_1-") ||
			!strings.Contains(log.String(), left[0])):
			t.Errorf("with a kept run: %q left, log %q; want one %s folder, named in the log", left, log.String(), keptPrefix)
		case keep:
			if _, err := os.Stat(filepath.Join(left[0], "run-failed")); err != nil {
				t.Errorf("the kept run's folder: %v", err)
			}
		}
	}
}
