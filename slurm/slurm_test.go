package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/imagebuild"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The Slurm the tests run against: a private one-node cluster brought up by
// scripts/slurm-up.sh in TestMain and torn down by scripts/slurm-down.sh
// when the tests end, however they end.
var (
	testDir       string // kept between runs: the hpcbench binary, images
	slurmSkip     string // why the tests that need Slurm skip; "" when it is up
	hpcbenchBin   string
	hpcbenchBuild error
)

func TestMain(m *testing.M) {
	flag.Parse()
	testDir = os.Getenv("HPCBENCH_TEST_DIR")
	if testDir == "" {
		testDir = filepath.Join(os.TempDir(), "hpcbench-slurm-test")
	}
	os.MkdirAll(testDir, 0o755)
	if os.Getenv("HPCBENCH_IMAGES") == "" {
		os.Setenv("HPCBENCH_IMAGES", filepath.Join(testDir, "images"))
	}
	stateDir := filepath.Join(testDir, "cluster")
	slurmSkip = bringUpSlurm(stateDir)
	code := m.Run()
	if slurmSkip == "" {
		down := exec.Command("../scripts/slurm-down.sh", stateDir)
		down.Stdout, down.Stderr = os.Stderr, os.Stderr
		if err := down.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "slurm-down.sh: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// bringUpSlurm starts the private cluster and returns why it could not.
func bringUpSlurm(stateDir string) string {
	if testing.Short() {
		return "-short: no Slurm cluster"
	}
	if os.Geteuid() != 0 {
		return "scripts/slurm-up.sh needs root (slurmd and munged run as root)"
	}
	for _, tool := range []string{"munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed (apt-get install slurm-wlm munge; CI installs them)"
		}
	}
	up := exec.Command("../scripts/slurm-up.sh", stateDir)
	var stderr bytes.Buffer
	up.Stderr = &stderr
	out, err := up.Output()
	if err != nil {
		exec.Command("../scripts/slurm-down.sh", stateDir).Run()
		return fmt.Sprintf("scripts/slurm-up.sh failed: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(string(out), "\n") {
		// export NAME=VALUE (shell-quoted by printf %q; these paths need none)
		if kv, ok := strings.CutPrefix(line, "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}
	return ""
}

func needSlurm(t *testing.T) {
	t.Helper()
	if slurmSkip != "" {
		testenv.Skipf(t, "a Slurm cluster: %s", slurmSkip)
	}
}

// hpcbench builds the hpcbench the jobs run, once per test binary.
func hpcbench(t *testing.T) string {
	t.Helper()
	if hpcbenchBin == "" && hpcbenchBuild == nil {
		out := filepath.Join(testDir, "bin", "hpcbench")
		if b, err := exec.Command("go", "build", "-o", out, "../cmd/hpcbench").CombinedOutput(); err != nil {
			hpcbenchBuild = fmt.Errorf("go build ./cmd/hpcbench: %v\n%s", err, b)
		} else {
			hpcbenchBin = out
		}
	}
	if hpcbenchBuild != nil {
		t.Fatal(hpcbenchBuild)
	}
	return hpcbenchBin
}

// kernelDir is npb/kernels/build; tests skip when the kernels are not built.
func kernelDir(t *testing.T, mpis ...string) string {
	t.Helper()
	dir, _ := filepath.Abs("../npb/kernels/build")
	for _, mpi := range mpis {
		for _, k := range []string{"ep", "cg", "is"} {
			_, err := os.Stat(filepath.Join(dir, mpi, k))
			testenv.Require(t, fmt.Sprintf("%s/%s/%s (make -C npb/kernels)", dir, mpi, k), err)
		}
	}
	return dir
}

func loadConfig(t *testing.T, text string) *configs.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "study.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// studyPlan is the study of cfg named name, as "hpcbench slurm gen
// --study NAME" plans it on this host.
func studyPlan(t *testing.T, cfg *configs.Config, name string) *matrix.Plan {
	t.Helper()
	plan, err := matrix.NewPlan(context.Background(), cfg, matrix.Overrides{Study: name})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestGenGolden pins one generated script: [slurm] settings, modules,
// prologue, one srun line per run with --mpi=pmi2 for MPICH and
// --mpi=pmix for Open MPI. Regenerate with go test ./slurm -run Golden -update.
func TestGenGolden(t *testing.T) {
	// The golden script is a node's without hpcbench's MPICH builds
	// (MPICH is Debian's, PMI-1): TestGenShippedConfigs covers the builds.
	t.Setenv("HPCBENCH_MPICH_ROOT", t.TempDir())
	cfg := loadConfig(t, `
[study]
name = "golden"
seed = 7
repetitions = 2
warmup = 1
timeout = "90s"
bind = "core"
npb_dir = "/shared/npb"

[matrix]
mpi = ["mpich", "openmpi"]
pmi = ["pmi1", "pmix"]
ranks = [4]

[[benchmark]]
kind = "npb"
names = ["cg"]
classes = ["S"]
args = ["{class}"]
check_binary = false
env = { OMPI_MCA_pml = "ob1" }

[[runtime]]
name = "native"

[slurm]
partition = "compute"
account = "hpc-benchmarks"
nodes = 2
time = "01:00:00"
modules = ["mpi/openmpi-4.1"]
prologue = "ulimit -s unlimited"
sbatch_flags = ["--exclusive"]
`)
	dir := t.TempDir()
	plan, err := Generate(context.Background(), studyPlan(t, cfg, "golden-study"), GenOptions{Dir: dir, Self: "/opt/hpcbench/bin/hpcbench"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Jobs) != 1 {
		t.Fatalf("%d jobs, want 1 (one rank count)", len(plan.Jobs))
	}
	j := plan.Jobs[0]
	if len(j.Runs) != 6 {
		t.Fatalf("%d runs, want 6 (2 MPI x (1 warm-up + 2 reps)); skipped: %v", len(j.Runs), plan.Skipped)
	}
	script, err := os.ReadFile(j.Script)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", j.Script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n %s: %v\n%s\n%s", j.Script, err, out, script)
	}
	got := strings.ReplaceAll(string(script), dir, "@DIR@")
	got = strings.ReplaceAll(got, "hpcbench "+j.Version+" from "+cfg.File, "hpcbench @VERSION@ from @CONFIG@")
	golden := filepath.Join("testdata", "ranks-4.sbatch.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if got != string(want) {
		t.Errorf("generated script differs from %s (rerun with -update if intended):\n%s", golden, got)
	}
	for _, r := range j.Runs {
		want := map[string]string{"mpich": "--mpi=pmi2", "openmpi": "--mpi=pmix"}[r.Cell.MPI]
		if r.Srun[1] != want {
			t.Errorf("run %s (%s): srun %v, want %s", r.ID, r.Cell.MPI, r.Srun, want)
		}
	}
}

// TestScriptsPassBashSyntax checks every script a varied config gives.
func TestScriptsPassBashSyntax(t *testing.T) {
	cfg := loadConfig(t, `
[study]
name = "syntax"
repetitions = 1
warmup = 0
npb_dir = "/shared/npb"
env = { ODD = "a value with 'quotes', commas and $dollars" }

[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [1, 2, 4]

[[benchmark]]
kind = "npb"
names = ["ep", "is"]
classes = ["S"]
check_binary = false

[[runtime]]
name = "native"

[slurm]
prologue = """
echo "prologue with a # hash" && true
"""
`)
	dir := t.TempDir()
	plan, err := Generate(context.Background(), studyPlan(t, cfg, "syntax"), GenOptions{Dir: dir, Self: "/opt/hp cbench/hpcbench", Group: GroupBenchmark})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Jobs) != 2 {
		t.Fatalf("%d jobs, want one per benchmark", len(plan.Jobs))
	}
	for _, j := range plan.Jobs {
		if j.NTasks != 4 {
			t.Errorf("job %s: ntasks %d, want the largest rank count 4", j.Name, j.NTasks)
		}
		if out, err := exec.Command("bash", "-n", j.Script).CombinedOutput(); err != nil {
			b, _ := os.ReadFile(j.Script)
			t.Errorf("bash -n %s: %v\n%s\n%s", j.Script, err, out, b)
		}
	}
}

// testImage builds (or reuses) a minimal image for mpi holding the kernels,
// in the runtimes given.
func testImage(t *testing.T, mpi string, kernels string, rts []string) string {
	t.Helper()
	name := "hpcbench-slurmtest-" + mpi
	var bins []string
	for _, k := range []string{"ep", "cg", "is"} {
		bins = append(bins, filepath.Join(kernels, mpi, k))
	}
	var log bytes.Buffer
	start := time.Now()
	if _, err := imagebuild.Build(context.Background(), images.BuildOptions{Name: name, MPI: mpi, Minimal: true, Binaries: bins, Log: &log}, rts); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, log.String())
	}
	t.Logf("image %s (%v): %s", name, time.Since(start).Round(time.Millisecond), strings.TrimSpace(log.String()))
	return name
}

// containerRuntimes are the runtimes present here, of those that can run
// ranks under srun.
func containerRuntimes(t *testing.T) []string {
	var have []string
	for _, n := range []string{"apptainer", "podman", "docker"} {
		rt, _ := runtimes.Get(n)
		if v, err := rt.Detect(context.Background()); err != nil {
			testenv.Missingf(t, "%s not available here (CI installs it): %v", n, err)
		} else {
			t.Logf("%s %s", n, v)
			have = append(have, n)
		}
	}
	return have
}

// TestStudyUnderSlurm submits a real study: EP and IS class S at 2 ranks,
// MPICH under PMI-1, PMI-2 and PMIx (hpcbench's build of each flavour, one
// unchanged binary) and Open MPI under PMIx, natively and in every
// container runtime present; the PMI-1 and PMI-2 cells run under srun
// --mpi=pmi2, the PMIx ones under --mpi=pmix. Every run must come back ok,
// in the store, with its Slurm job id and the build of its flavour.
func TestStudyUnderSlurm(t *testing.T) {
	needSlurm(t)
	requireBuilds(t)
	kernels := kernelDir(t, "mpich", "openmpi")
	self := hpcbench(t)
	rts := containerRuntimes(t)
	var runtimeTOML strings.Builder
	runtimeTOML.WriteString("[[runtime]]\nname = \"native\"\n")
	for _, rt := range rts {
		testImage(t, "mpich", kernels, rts)
		testImage(t, "openmpi", kernels, rts)
		fmt.Fprintf(&runtimeTOML, "\n[[runtime]]\nname = %q\nimage = \"hpcbench-slurmtest-{mpi}\"\n", rt)
	}
	cfg := loadConfig(t, fmt.Sprintf(`
[study]
name = "slurm-study"
seed = 11
repetitions = 1
warmup = 0
timeout = "1m"
npb_dir = %q

[matrix]
mpi = ["mpich", "openmpi"]
pmi = ["pmi1", "pmi2", "pmix"]
ranks = [2]

[[benchmark]]
kind = "npb"
names = ["ep", "is"]
classes = ["S"]
args = ["{class}"]
env = { OMPI_MCA_btl_vader_single_copy_mechanism = "none" }

%s
[slurm]
nodes = 1
`, kernels, runtimeTOML.String()))
	st, err := results.Open(filepath.Join(t.TempDir(), "study.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log bytes.Buffer
	dir := filepath.Join(t.TempDir(), "jobs")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	sum, err := Submit(ctx, studyPlan(t, cfg, "under-slurm"), SubmitOptions{Gen: GenOptions{Dir: dir, Self: self, Group: GroupBenchmark},
		Store: st, Poll: time.Second, Log: &log})
	t.Logf("submit log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	// Per benchmark and runtime: MPICH x {pmi1, pmi2, pmix}, Open MPI x pmix.
	want := 2 * 4 * (1 + len(rts))
	if sum.Imported != want || sum.OK != want {
		t.Errorf("%s; want %d runs, all ok", sum, want)
	}
	if len(sum.Jobs) != 2 {
		t.Errorf("jobs %v, want one per benchmark", sum.Jobs)
	}
	runs, err := st.Runs(context.Background(), "under-slurm", results.RunsOptions{WithOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != want {
		t.Fatalf("%d runs stored, want %d", len(runs), want)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		key := r.Cell.Runtime + " " + r.Cell.MPI + " " + r.Cell.PMI
		seen[key] = true
		if r.Status != results.StatusOK {
			t.Errorf("%s: %s: %s\n%s", r.Cell.Key, r.Status, r.Reason, r.Output)
			continue
		}
		if r.SlurmJobID == "" || sum.Jobs[r.Cell.Benchmark] != r.SlurmJobID {
			t.Errorf("%s: slurm job id %q, want %q", r.Cell.Key, r.SlurmJobID, sum.Jobs[r.Cell.Benchmark])
		}
		plugin := srunPlugin[r.Cell.PMI]
		if r.Choices["launcher"] != "srun" || r.Choices["srun_mpi"] != plugin {
			t.Errorf("%s: choices %v, want launcher srun, srun_mpi %s", r.Cell.Key, r.Choices, plugin)
		}
		checkBuildChoice(t, r)
		if !r.Cell.IsNative() && (r.Choices["runtime"] != r.Cell.Runtime || r.Cell.ImageDigest == "") {
			t.Errorf("%s: runtime choices %v, image digest %q", r.Cell.Key, r.Choices, r.Cell.ImageDigest)
		}
		// One task per rank: private isolation, but the host's pid
		// namespace (Apptainer always keeps it).
		if !r.Cell.IsNative() && (r.Choices["isolation"] != "private" || (r.Cell.Runtime != "apptainer" && r.Choices["pid"] != "host")) {
			t.Errorf("%s: isolation %q, pid %q; want private, host", r.Cell.Key, r.Choices["isolation"], r.Choices["pid"])
		}
		if r.Metric.Name != "mops_total" || r.Metric.Value <= 0 || r.Wall <= 0 {
			t.Errorf("%s: metric %+v, wall %v", r.Cell.Key, r.Metric, r.Wall)
		}
		if !bytes.Contains(r.Output, []byte("processes =")) {
			t.Errorf("%s: output not stored:\n%s", r.Cell.Key, r.Output)
		}
	}
	t.Logf("ran: %v", seen)
}

// TestCancelledJobIsFailed cancels a running job with scancel: the run in
// flight and the ones after it are stored as failed with the reason.
func TestCancelledJobIsFailed(t *testing.T) {
	needSlurm(t)
	self := hpcbench(t)
	cfg := loadConfig(t, `
[study]
name = "cancel"
repetitions = 2
warmup = 0
timeout = "5m"

[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [1]

[[benchmark]]
kind = "command"
name = "sleeper"
argv = ["sleep", "300"]
mpi = ["none"]

[[runtime]]
name = "native"
`)
	st, err := results.Open(filepath.Join(t.TempDir(), "cancel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := filepath.Join(t.TempDir(), "jobs")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type outcome struct {
		sum *Summary
		err error
	}
	done := make(chan outcome, 1)
	var log bytes.Buffer
	go func() {
		sum, err := Submit(ctx, studyPlan(t, cfg, "cancelled"), SubmitOptions{Gen: GenOptions{Dir: dir, Self: self}, Store: st, Poll: time.Second, Log: &log})
		done <- outcome{sum, err}
	}()
	// Wait until the job runs its first srun step, then cancel it.
	var id string
	deadline := time.Now().Add(time.Minute)
	for id == "" || !stepRunning(id) {
		if time.Now().After(deadline) {
			t.Fatalf("job %q never started its first step; log:\n%s", id, log.String())
		}
		time.Sleep(200 * time.Millisecond)
		if id == "" {
			ids := map[string]string{}
			if b, err := os.ReadFile(filepath.Join(dir, "jobs.json")); err == nil && json.Unmarshal(b, &ids) == nil {
				id = ids["ranks-1"]
			}
		}
	}
	if out, err := exec.Command("scancel", id).CombinedOutput(); err != nil {
		t.Fatalf("scancel %s: %v\n%s", id, err, out)
	}
	var o outcome
	select {
	case o = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("submit did not notice the cancelled job %s; log:\n%s", id, log.String())
	}
	t.Logf("submit log:\n%s", log.String())
	if o.err != nil {
		t.Fatal(o.err)
	}
	runs, err := st.Runs(context.Background(), "cancelled", results.RunsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs stored, want 2 (both repetitions, failed)", len(runs))
	}
	for _, r := range runs {
		if r.Status != results.StatusFailed || !strings.Contains(r.Reason, "job "+id+" was cancelled") || r.SlurmJobID != id {
			t.Errorf("rep %d: %s %q (job %q); want failed, the reason naming the cancellation, job %s", r.Repetition, r.Status, r.Reason, r.SlurmJobID, id)
		}
	}
}

// stepRunning reports whether job id has a running srun step.
func stepRunning(id string) bool {
	out, err := exec.Command("squeue", "-h", "-s", "-j", id, "-o", "%i").Output()
	return err == nil && strings.Contains(string(out), id+".0")
}

// TestMatrixLauncherSrun runs "hpcbench matrix --launcher srun" inside an
// allocation (salloc): hpcbench's local executor, srun as the launcher,
// Slurm's PMI serving the ranks: MPICH's PMI-1 and PMI-2 builds under
// --mpi=pmi2, its PMIx build and Open MPI under --mpi=pmix.
func TestMatrixLauncherSrun(t *testing.T) {
	needSlurm(t)
	requireBuilds(t)
	kernels := kernelDir(t, "mpich", "openmpi")
	self := hpcbench(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "srun.toml")
	os.WriteFile(config, []byte(fmt.Sprintf(`
[study]
name = "srun-launcher"
repetitions = 1
warmup = 0
timeout = "2m"
npb_dir = %q

[matrix]
mpi = ["mpich", "openmpi"]
pmi = ["pmi1", "pmi2", "pmix"]
ranks = [2]

[[benchmark]]
kind = "npb"
names = ["ep"]
classes = ["S"]
args = ["{class}"]

[[runtime]]
name = "native"
`, kernels)), 0o644)
	db := filepath.Join(dir, "srun.db")
	cmd := exec.Command("salloc", "--ntasks=2", "--time=10", self, "matrix", "--launcher", "srun", "--quiet", "--db", db, "--study", "in-allocation", config)
	out, err := cmd.CombinedOutput()
	t.Logf("salloc ... hpcbench matrix --launcher srun:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), "in-allocation", results.RunsOptions{WithOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs, want 4 (MPICH pmi1, pmi2 and pmix, Open MPI pmix)", len(runs))
	}
	for _, r := range runs {
		checkBuildChoice(t, r)
		plugin := srunPlugin[r.Cell.PMI]
		if r.Status != results.StatusOK || r.Choices["launcher"] != "srun" || r.Choices["srun_mpi"] != plugin || r.Choices["slurm_job"] == "" {
			t.Errorf("%s: %s %q, choices %v; want ok through srun --mpi=%s in the allocation\n%s", r.Cell.Key, r.Status, r.Reason, r.Choices, plugin, r.Output)
		}
		if len(r.Argv) == 0 || r.Argv[0] != "srun" {
			t.Errorf("%s: argv %v, want the srun command line", r.Cell.Key, r.Argv)
		}
	}
}

func TestSrunFailureReasons(t *testing.T) {
	for _, tc := range []struct {
		out      string
		status   int
		timedOut bool
		reason   string
	}{
		{"ok\n", 0, false, ""},
		{"slurmstepd-vm: error: *** STEP 3.2 ON vm CANCELLED AT 2026-11-29T20:41:50 DUE TO TIME LIMIT ***\n", 143, true, "timeout after 1m0s"},
		{"srun: Job step aborted\nslurmstepd: error: *** STEP 5.0 ON n1 CANCELLED AT 2026 ***\n", 143, false, "CANCELLED"},
		{"srun: error: n1: task 1: Exited with exit code 7\n", 7, false, "srun exited with status 7 (n1: task 1: Exited with exit code 7)"},
		{"", 1, false, "srun exited with status 1"},
	} {
		timedOut, reason := srunFailure([]byte(tc.out), tc.status, time.Minute)
		if timedOut != tc.timedOut || !strings.Contains(reason, tc.reason) || (tc.reason == "" && reason != "") {
			t.Errorf("%q exit %d: timedOut %v reason %q; want %v containing %q", tc.out, tc.status, timedOut, reason, tc.timedOut, tc.reason)
		}
	}
}

// srunPlugin is the Slurm MPI plugin that serves ranks speaking each PMI
// flavour: Slurm's pmi2 plugin answers PMI-1 clients too.
var srunPlugin = map[string]string{"pmi1": "pmi2", "pmi2": "pmi2", "pmix": "pmix"}

// requireBuilds skips (fails under HPCBENCH_REQUIRE_ALL=1) without
// hpcbench's three MPICH builds (scripts/build-mpich.sh, run by setup).
func requireBuilds(t *testing.T) {
	t.Helper()
	for _, f := range []string{"pmi1", "pmi2", "pmix"} {
		var err error
		if _, ok := mpibuild.ForFlavour("", f); !ok {
			err = fmt.Errorf("no complete build under %s", mpibuild.Root(""))
		}
		testenv.Require(t, "hpcbench's MPICH build for "+f+" (scripts/build-mpich.sh)", err)
	}
}

// checkBuildChoice: an MPICH run loaded hpcbench's build of its cell's
// flavour (a PMI-2 or PMIx build speaks nothing else, so a verified run is
// the proof that its ranks spoke that flavour to Slurm's plugin); an Open
// MPI run loaded none.
func checkBuildChoice(t *testing.T, r results.Run) {
	t.Helper()
	got := r.Choices["mpi_build_flavour"]
	switch {
	case r.Cell.MPI == "mpich" && got != r.Cell.PMI:
		t.Errorf("%s: ran on MPICH build %q (%s), want the %s build", r.Cell.Key, got, r.Choices["mpi_build"], r.Cell.PMI)
	case r.Cell.MPI != "mpich" && got != "":
		t.Errorf("%s: %s run on MPICH build %q", r.Cell.Key, r.Cell.MPI, got)
	}
}
