package matrix

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi/pmix"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
)

// killLoopKills is how many times TestKillLoopAndResume kills hpcbench.
const killLoopKills = 10

// TestKillLoopAndResume kills "hpcbench matrix" with SIGKILL at random
// points of a small native study, killLoopKills times (the first before
// the study is recorded), resuming it each time, then lets a --resume
// finish it: the study completes with every run stored once and nothing
// skipped, the file passes SQLite's integrity check, and no working
// folder, PMIx folder or rank process of hpcbench's is left.
func TestKillLoopAndResume(t *testing.T) {
	testenv.SkipIfShort(t, "runs and kills a real study a dozen times")
	dir, bin, tmp, childTmp := killLoopSetup(t)
	planned := 2 * (1 + 3) // ep on 1 and 2 ranks, one warm-up and 3 runs each
	openMPI := ""
	if _, err := os.Stat(filepath.Join(dir, "openmpi", "ep")); err == nil && pmix.Available() == nil {
		// Open MPI ranks under hpcbench's PMIx server: a PMIx folder too.
		openMPI = `
[[benchmark]]
kind = "npb"
name = "ep"
label = "ep-openmpi"
classes = ["S"]
args = ["{class}"]
mpi = ["openmpi"]
pmi = ["pmix"]
ranks = [2]
env = { OMPI_MCA_pml = "ob1", OMPI_MCA_btl = "self,vader" }
`
		planned += 1 + 3
	} else {
		testenv.Missingf(t, "no Open MPI kernel or no PMIx server: the study runs MPICH only, so no PMIx folder is left to sweep")
	}
	cfg := filepath.Join(tmp, "killloop.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[study]
name = "killloop"
repetitions = 3
warmup = 1
timeout = "60s"
npb_dir = %q
[matrix]
ranks = [1, 2]
[[benchmark]]
kind = "npb"
name = "ep"
label = "ep-mpich"
classes = ["S"]
args = ["{class}"]
mpi = ["mpich"]
pmi = ["pmi1"]
%s
[[runtime]]
name = "native"
`, dir, openMPI)), 0o644)
	db := filepath.Join(tmp, "killloop.db")
	env := append(os.Environ(),
		"TMPDIR="+childTmp,
		// Debian's MPICH, whatever builds this machine has.
		"HPCBENCH_MPICH_ROOT="+filepath.Join(tmp, "no-builds"),
		// A native study: no container runtime is asked about.
		runtimes.SweepEnv+"=0")

	killLoop(t, bin, cfg, db, env, planned, childTmp, dir)
}

// killLoopSetup finds the MPICH EP kernel (its kernels folder is dir),
// builds hpcbench (bin) and makes the test's folder tmp with childTmp in
// it, the TMPDIR of the killed processes.
func killLoopSetup(t *testing.T) (dir, bin, tmp, childTmp string) {
	t.Helper()
	dir = needKernel(t, "mpich", "ep")
	bin = buildHpcbench(t)
	tmp = t.TempDir()
	childTmp = filepath.Join(tmp, "tmp")
	if err := os.Mkdir(childTmp, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin, tmp, childTmp
}

// killLoop kills "hpcbench matrix" (bin, with env) on the config cfg and
// the results file db with SIGKILL killLoopKills times at random points,
// resuming it each time (the first kill comes before the study is
// recorded), then lets a --resume finish it, and checks what
// TestKillLoopAndResume describes: planned runs stored once each, all ok,
// no skip, an intact file, nothing of hpcbench's left in childTmp and no
// process running a program under dir.
func killLoop(t *testing.T, bin, cfg, db string, env []string, planned int, childTmp, dir string) {
	t.Helper()
	seed := time.Now().UnixNano()
	t.Logf("kill delays drawn with seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 16))
	for i := range killLoopKills {
		args := []string{"matrix", "--quiet", "--db", db}
		if i > 0 {
			args = append(args, "--resume")
		}
		cmd := exec.Command(bin, append(args, cfg)...)
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		before := totalRuns(t, db)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var err error
		go func() { err = cmd.Wait(); close(exited) }()
		switch {
		case i == 0:
			// At once, while it detects: no study recorded yet.
		case rng.IntN(2) == 0:
			// Anywhere from its start to well into its runs.
			time.Sleep(time.Duration(rng.Int64N(int64(4 * time.Second))))
		default:
			// In the middle of a run or of storing one: once one more run
			// is stored, somewhere within the next.
			deadline := time.Now().Add(time.Minute)
			for totalRuns(t, db) <= before && time.Now().Before(deadline) {
				select {
				case <-exited:
				case <-time.After(20 * time.Millisecond):
					continue
				}
				break
			}
			time.Sleep(time.Duration(rng.Int64N(int64(700 * time.Millisecond))))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			// It ended by itself before the kill: only a finished study may.
			if err != nil {
				t.Fatalf("run %d ended before its kill with %v:\n%s", i+1, err, out.String())
			}
		}
		if i == 0 {
			if n := studyCount(t, db); n != 0 {
				t.Fatalf("killed at once, yet %d studies were recorded; the test cannot show a resume without one", n)
			}
		}
		t.Logf("kill %d: %d runs stored", i+1, totalRuns(t, db))
	}
	if left := hpcbenchFolders(t, childTmp); len(left) > 0 {
		t.Logf("after the kills: %s", strings.Join(left, " "))
	}

	last := exec.Command(bin, "matrix", "--quiet", "--resume", "--db", db, cfg)
	last.Env = env
	out, err := last.CombinedOutput()
	if err != nil {
		t.Fatalf("the last --resume: %v\n%s", err, out)
	}
	t.Logf("the last --resume: %s", strings.TrimSpace(string(out)))

	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	infos, err := st.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 {
		t.Fatalf("%d studies recorded; want the one every --resume continued", len(infos))
	}
	study := infos[0].Name
	runs, err := st.Runs(ctx, study, results.RunsOptions{})
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
	if len(runs) != planned || len(seen) != planned {
		t.Errorf("%d runs stored, %d distinct; want %d of each", len(runs), len(seen), planned)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times", k, n)
		}
	}
	if skips, err := st.Skips(ctx, study); err != nil || len(skips) != 0 {
		t.Errorf("skips %+v, %v; want none", skips, err)
	}
	if ok := integrity(t, db); ok != "ok" {
		t.Errorf("integrity_check: %s", ok)
	}
	if left := hpcbenchFolders(t, childTmp); len(left) > 0 {
		t.Errorf("left behind after the last run: %s", strings.Join(left, " "))
	}
	if procs := processesOf(t, dir); len(procs) > 0 {
		t.Errorf("rank processes left running: %s", strings.Join(procs, "; "))
	}
}

// TestKillLoopContainers is TestKillLoopAndResume for a study whose ranks
// run in containers: EP on 2 ranks of MPICH in Docker, Podman, Apptainer,
// OCI bundles and Charliecloud (each rank a container, private isolation:
// a pid namespace holder per job), killed killLoopKills times at random
// points.
// After the last --resume, besides what the native loop checks, no
// container of hpcbench's is left in any runtime and no cgroup of an OCI
// rank remains: each start of hpcbench swept what the killed one left.
func TestKillLoopContainers(t *testing.T) {
	testenv.SkipIfShort(t, "runs and kills a real study in five runtimes a dozen times")
	dir, bin, tmp, childTmp := killLoopSetup(t)
	var rts []string
	for _, name := range []string{"docker", "podman", "apptainer", "oci", "charliecloud"} {
		rt, _ := runtimes.Get(name)
		if _, err := rt.Detect(context.Background()); err != nil {
			testenv.Missingf(t, "%s not available here (CI installs it): %v", name, err)
			continue
		}
		rts = append(rts, name)
	}
	if len(rts) == 0 {
		t.Skip("no container runtime")
	}
	env := append(os.Environ(), "TMPDIR="+childTmp,
		"HPCBENCH_MPICH_ROOT="+filepath.Join(tmp, "no-builds"))
	// The image, built before the kills (a study builds it on first use
	// with --build-images; a kill in the middle of a build is not what
	// this test is about).
	build := exec.Command(bin, "image", "build", "--mpi", "mpich", "--name", "hpcbench-killloop-mpich", "--minimal",
		"--binaries", filepath.Join(dir, "mpich", "ep"), "--runtimes", strings.Join(slices.DeleteFunc(slices.Clone(rts), func(n string) bool { return n == "oci" || n == "charliecloud" }), ","))
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	var runtimeTOML strings.Builder
	for _, name := range rts {
		fmt.Fprintf(&runtimeTOML, "\n[[runtime]]\nname = %q\nimage = \"hpcbench-killloop-{mpi}\"\n", name)
	}
	cfg := filepath.Join(tmp, "killloop-containers.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[study]
name = "killloop-containers"
repetitions = 2
warmup = 1
timeout = "60s"
npb_dir = %q
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]
[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
args = ["{class}"]
%s`, dir, runtimeTOML.String())), 0o644)
	planned := len(rts) * (1 + 2)
	killLoop(t, bin, cfg, filepath.Join(tmp, "killloop.db"), env, planned, childTmp, dir)

	for _, engine := range []string{"docker", "podman"} {
		if !slices.Contains(rts, engine) {
			continue
		}
		out, err := exec.Command(engine, "ps", "-aq", "--filter", "label="+runtimes.LabelJob).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("%s containers of hpcbench's left: %q %v", engine, out, err)
		}
	}
	// Containers and cgroups are named "hpcbench-<pid>-...": those of a
	// live hpcbench (a test beside this one) are not leftovers.
	deadOwner := func(name string) bool {
		rest, ok := strings.CutPrefix(name, "hpcbench-")
		if !ok {
			return false
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		return err != nil || syscall.Kill(pid, 0) != nil
	}
	if slices.Contains(rts, "oci") {
		out, _ := exec.Command("runc", "list", "-q").CombinedOutput()
		for _, id := range strings.Fields(string(out)) {
			if id = strings.TrimSuffix(id, ":"); deadOwner(id) {
				t.Errorf("OCI container %s left", id)
			}
		}
	}
	if slices.Contains(rts, "charliecloud") {
		// Join files of a job whose ranks were killed before all joined.
		// Those of a live hpcbench (another test's) are not this one's.
		left, _ := filepath.Glob("/dev/shm/*ch-run_*-hpcbench-*")
		for _, f := range left {
			_, rest, _ := strings.Cut(filepath.Base(f), "-hpcbench-")
			pidText, _, _ := strings.Cut(rest, "-")
			if pid, err := strconv.Atoi(pidText); err == nil && syscall.Kill(pid, 0) == nil {
				continue
			}
			t.Errorf("Charliecloud join file %s left", f)
		}
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/hpcbench-*")
	more, _ := filepath.Glob("/sys/fs/cgroup/hpcbench-*")
	if left := slices.DeleteFunc(append(cgroups, more...), func(cg string) bool { return !deadOwner(filepath.Base(cg)) }); len(left) > 0 {
		t.Errorf("cgroups of hpcbench's left: %q", left)
	}
}

// studyCount is how many studies the results file db holds (0 when it
// does not exist yet).
func studyCount(t *testing.T, db string) int {
	t.Helper()
	if _, err := os.Stat(db); err != nil {
		return 0
	}
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	infos, err := st.Studies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(infos)
}

// totalRuns is how many runs the results file db holds, of any study (0
// when it does not exist yet).
func totalRuns(t *testing.T, db string) int {
	t.Helper()
	if _, err := os.Stat(db); err != nil {
		return 0
	}
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow("SELECT count(*) FROM runs").Scan(&n); err != nil {
		return 0 // no schema yet
	}
	return n
}

// integrity is SQLite's integrity check of db ("ok" when sound).
func integrity(t *testing.T, db string) string {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var ok string
	if err := conn.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// hpcbenchFolders lists what hpcbench left in dir.
func hpcbenchFolders(t *testing.T, dir string) []string {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, "hpcbench-*"))
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// processesOf lists the processes whose executable is under dir (the
// kernels), waiting a little for those being killed to go.
func processesOf(t *testing.T, dir string) []string {
	t.Helper()
	var procs []string
	for try := 0; try < 50; try++ {
		procs = procs[:0]
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
			if err == nil && strings.HasPrefix(exe, dir+string(filepath.Separator)) {
				procs = append(procs, e.Name()+" "+exe)
			}
		}
		if len(procs) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return procs
}
