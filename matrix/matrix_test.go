package matrix

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
)

func TestScheduleIsSeededAndWarmupsComeFirst(t *testing.T) {
	var cells []Cell
	for _, b := range []string{"ep", "is", "cg"} {
		cells = append(cells, Cell{Benchmark: b, Repetition: 1, Warmup: true})
		for rep := 1; rep <= 4; rep++ {
			cells = append(cells, Cell{Benchmark: b, Repetition: rep})
		}
	}
	a := schedule(append([]Cell(nil), cells...), 42, "random")
	b := schedule(append([]Cell(nil), cells...), 42, "random")
	c := schedule(append([]Cell(nil), cells...), 43, "random")
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed gave two orders")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Error("two seeds gave the same order (possible, but not for 15 runs)")
	}
	for i, s := range a {
		if s.order != i {
			t.Errorf("run %d has order %d", i, s.order)
		}
		if (i < 3) != s.cell.Warmup {
			t.Errorf("position %d: warmup=%v; warm-ups must come first", i, s.cell.Warmup)
		}
	}
	seq := schedule(append([]Cell(nil), cells...), 42, "sequential")
	if seq[3].cell.Benchmark != "ep" || seq[3].cell.Repetition != 1 || seq[3].cell.Warmup {
		t.Errorf("sequential order changed the config's order: %+v", seq[3].cell)
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := &limitedBuffer{limit: 10}
	fmt.Fprint(b, "0123456")
	fmt.Fprint(b, "789abcdef")
	got := string(b.Bytes())
	if !strings.HasPrefix(got, "0123456789\n") || !strings.Contains(got, "6 more bytes of output dropped") {
		t.Errorf("got %q", got)
	}
}

// The buffer is written by output copiers while the run is read: writes
// and reads may overlap (go test -race checks the lock), and what Bytes
// returned does not change under later writes.
func TestLimitedBufferConcurrent(t *testing.T) {
	b := &limitedBuffer{limit: 1 << 10}
	fmt.Fprint(b, "first\n")
	snapshot := b.Bytes()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				fmt.Fprintf(b, "writer %d line %d\n", w, i)
			}
		}()
	}
	for i := 0; i < 100; i++ {
		b.Bytes()
	}
	wg.Wait()
	if string(snapshot) != "first\n" {
		t.Errorf("an earlier Bytes changed to %q", snapshot)
	}
	got := string(b.Bytes())
	if !strings.HasPrefix(got, "first\n") || !strings.Contains(got, "more bytes of output dropped") || len(got) < 1<<10 {
		t.Errorf("got %d bytes: %q", len(got), got)
	}
}

// repoRoot is the module root, where the kernels are built.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func buildHpcbench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hpcbench")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hpcbench")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func needKernel(t *testing.T, mpi, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "npb", "kernels", "build", mpi, name)
	_, err := os.Stat(p)
	testenv.Require(t, "kernel "+p+" (run make kernels)", err)
	return filepath.Dir(filepath.Dir(p))
}

// TestKillAndResume kills hpcbench with SIGKILL in the middle of a study,
// resumes it, and checks every run is stored exactly once, and that the
// resumed run swept the working folder the killed one left.
func TestKillAndResume(t *testing.T) {
	testenv.SkipIfShort(t, "runs a real study")
	dir := needKernel(t, "mpich", "ep")
	bin := buildHpcbench(t)
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "kill.toml")
	const reps = 8
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[study]
name = "kill"
repetitions = %d
warmup = 1
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
`, reps, dir)), 0o644)
	db := filepath.Join(tmp, "kill.db")
	ctx := context.Background()
	childTmp := filepath.Join(tmp, "tmp")
	if err := os.Mkdir(childTmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// A native study: no container runtime is asked about.
	env := append(os.Environ(), "TMPDIR="+childTmp, runtimes.SweepEnv+"=0")

	first := exec.Command(bin, "matrix", "--quiet", "--study", "k1", "--db", db, cfg)
	first.Env = env
	first.Stdout, first.Stderr = os.Stderr, os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a few runs are stored, while another is in flight.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n := countRuns(t, db, "k1")
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("only %d runs stored after 2 minutes", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	before := countRuns(t, db, "k1")
	if before >= reps+1 {
		t.Fatalf("the study finished before it could be killed (%d runs)", before)
	}
	if left := hpcbenchFolders(t, childTmp); len(left) != 1 || !strings.Contains(left[0], "hpcbench-work-") {
		t.Errorf("the killed study left %q; want its working folder", left)
	}

	second := exec.Command(bin, "matrix", "--quiet", "--resume", "--study", "k1", "--db", db, cfg)
	second.Env = env
	out, err := second.CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if left := hpcbenchFolders(t, childTmp); len(left) > 0 {
		t.Errorf("after the resumed study: %q left; want the killed one's working folder swept", left)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d already stored", before)) {
		t.Errorf("resume did not report the %d runs already stored:\n%s", before, out)
	}

	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(ctx, "k1", results.RunsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range runs {
		seen[fmt.Sprintf("%s warmup=%v rep=%d", r.Cell.Key, r.Warmup, r.Repetition)]++
		if r.Status != results.StatusOK {
			t.Errorf("run %s rep %d: %s %s", r.Cell.Key, r.Repetition, r.Status, r.Reason)
		}
	}
	if len(runs) != reps+1 || len(seen) != reps+1 {
		t.Errorf("%d runs stored, %d distinct; want %d of each", len(runs), len(seen), reps+1)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times", k, n)
		}
	}
}

func countRuns(t *testing.T, db, study string) int {
	t.Helper()
	if _, err := os.Stat(db); err != nil {
		return 0
	}
	st, err := results.Open(db)
	if err != nil {
		return 0
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), study, results.RunsOptions{})
	if err != nil {
		return 0
	}
	return len(runs)
}

// judge tells a timeout by the report's failure kind, and fails a
// successful launch in which a rank never spoke PMI.
func TestJudgeLaunchReport(t *testing.T) {
	ex := &executor{}
	c := Cell{Kind: configs.KindCommand, PMI: pmi.PMI1, Ranks: 2}
	for _, tc := range []struct {
		name   string
		rep    *pmi.Report
		status results.Status
		reason string
	}{
		{"timeout", &pmi.Report{Ranks: 2, Reason: "timeout after 3s", Failure: pmi.FailureTimeout}, results.StatusTimeout, "timeout after 3s"},
		{"per-node timeout", &pmi.Report{Ranks: 2, Reason: "timeout after 33s (the per-node container did not stop by itself)", Failure: pmi.FailureTimeout},
			results.StatusTimeout, "per-node container"},
		{"deadline", &pmi.Report{Ranks: 2, Reason: "deadline exceeded", Failure: pmi.FailureInterrupted}, results.StatusFailed, "deadline exceeded"},
		{"abort", &pmi.Report{Ranks: 2, Reason: "rank 1 called abort with code 7", Failure: pmi.FailureAbort}, results.StatusFailed, "abort"},
		{"singleton", &pmi.Report{JobID: "j", Ranks: 2, Negotiated: []string{"pmi1", ""}}, results.StatusInvalid, "singleton"},
		// A per-node launch inside the container applies the same guard.
		{"per-node singleton", func() *pmi.Report {
			rep := &pmi.Report{JobID: "j", Ranks: 2, Negotiated: []string{"pmi1", ""}}
			pmi.GuardWorld(rep, pmi.PMI1)
			return rep
		}(), results.StatusInvalid, "rank never spoke PMI (it ran as a singleton): rank(s) 1 of 2"},
		{"ok", &pmi.Report{JobID: "j", Ranks: 2, Negotiated: []string{"pmi1", "pmi1"}}, results.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var run results.Run
			ex.judge(&run, c, tc.rep, nil, t.TempDir())
			if run.Status != tc.status || !strings.Contains(run.Reason, tc.reason) {
				t.Errorf("status %s, reason %q; want %s with %q", run.Status, run.Reason, tc.status, tc.reason)
			}
		})
	}
}
