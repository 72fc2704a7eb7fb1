package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/npb/kernels"
)

// runIn runs bin with args in folder dir with extra environment variables,
// and returns its standard output, standard error and exit status.
func runIn(t *testing.T, dir string, env []string, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// TestQuickStudyOutsideTheTree is the built-in quick study's dry run in a
// folder that is not the source tree, with an empty kernels cache: the
// kernels are built once, found by the second study without a build, and
// built again when the cache's entry is for other sources.
func TestQuickStudyOutsideTheTree(t *testing.T) {
	testenv.LookPath(t, "mpicc.mpich", "install MPICH (Debian: libmpich-dev) to build the kernels")
	bin := buildCLI(t)
	cache := t.TempDir()
	env := []string{kernels.CacheEnv + "=" + cache}
	elsewhere := t.TempDir()
	args := []string{"matrix", "--dry-run", "--filter", "mpi=mpich,runtime=native"}

	out, errOut, code := runIn(t, elsewhere, env, bin, args...)
	if code != 0 {
		t.Fatalf("first dry run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "building hpcbench's kernels for mpich") {
		t.Errorf("first dry run built nothing:\n%s", errOut)
	}
	// Every MPICH cell runs (its PMI flavours on hpcbench's builds, or PMI-1
	// on Debian's MPICH): none is skipped for a missing binary.
	if strings.Contains(out, "binary not found") || !strings.Contains(out, "ep ") {
		t.Errorf("first dry run does not run the cached kernels:\n%s", out)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "*", "mpich", "ep"))
	if len(entries) != 1 {
		t.Fatalf("cache holds %v, want one mpich/ep", entries)
	}
	ep := entries[0]
	before, err := os.Stat(ep)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)

	out, errOut, code = runIn(t, elsewhere, env, bin, args...)
	if code != 0 || strings.Contains(errOut, "building") || strings.Contains(out, "binary not found") {
		t.Fatalf("second dry run: exit %d, it built again or lost the kernels:\n%s%s", code, out, errOut)
	}
	if after, err := os.Stat(ep); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("%s was rebuilt by the second study", ep)
	}

	// "kernels list" shows the entry; "kernels build" finds it built.
	out, _, code = runIn(t, elsewhere, env, bin, "kernels", "list")
	if code != 0 || !strings.Contains(out, filepath.Dir(filepath.Dir(ep))) {
		t.Errorf("kernels list: exit %d\n%s", code, out)
	}
	out, errOut, code = runIn(t, elsewhere, env, bin, "kernels", "build", "--mpi", "mpich")
	if code != 0 || strings.Contains(errOut, "building") || !strings.Contains(out, filepath.Dir(ep)) {
		t.Errorf("kernels build of a built MPI: exit %d\n%s%s", code, out, errOut)
	}

	// An entry keyed for other sources is not this hpcbench's: moving the
	// entry under another key leaves the sources' key missing, so the next
	// study builds again.
	entry := filepath.Dir(filepath.Dir(ep))
	if err := os.Rename(entry, filepath.Join(cache, "0000000000000000")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runIn(t, elsewhere, env, bin, args...)
	if code != 0 || !strings.Contains(errOut, "building hpcbench's kernels for mpich") {
		t.Errorf("dry run without the sources' entry: exit %d, did not build:\n%s", code, errOut)
	}
}

// TestMatrixLogWithoutTerminal runs a small native study with its output
// going to files, as "hpcbench matrix > log 2>&1" or a Slurm job's output
// does: no carriage return, and at most one progress line per run.
func TestMatrixLogWithoutTerminal(t *testing.T) {
	testenv.LookPath(t, "mpicc.mpich", "install MPICH (Debian: libmpich-dev) to build the kernels")
	testenv.LookPath(t, "mpiexec.mpich", "install MPICH (Debian: mpich) to run the kernels")
	bin := buildCLI(t)
	dir := t.TempDir()
	const runs = 3
	config := filepath.Join(dir, "small.toml")
	err := os.WriteFile(config, []byte(`[study]
name = "small"
repetitions = 3
warmup = 0
timeout = "60s"

[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]

[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
binary = "{dir}/{mpi}/{name}"
args = ["{class}"]

[[runtime]]
name = "native"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runIn(t, dir, nil, bin, "matrix", "--db", filepath.Join(dir, "small.db"), config)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	log := out + errOut
	if strings.ContainsRune(log, '\r') {
		t.Errorf("carriage return in the log:\n%q", log)
	}
	var progress []string
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "run ") {
			progress = append(progress, line)
		}
	}
	if len(progress) == 0 || len(progress) > runs {
		t.Errorf("%d progress lines for %d runs:\n%s", len(progress), runs, log)
	}
	if last := progress[len(progress)-1]; !strings.HasPrefix(last, "run 3/3, 3 ok, 0 failed") {
		t.Errorf("last progress line %q\n%s", last, log)
	}
}

// TestImagesOnFirstUse runs a study whose OCI image this machine lacks
// with --build-images: the first study builds it (minimal, from the cell's
// MPI and the kernels beside its binary) and runs on it; the second finds
// it and builds nothing.
func TestImagesOnFirstUse(t *testing.T) {
	testenv.LookPath(t, "runc", "install runc (Debian: runc) for OCI bundles")
	testenv.LookPath(t, "mpiexec.mpich", "install MPICH (Debian: mpich)")
	kernelsDir, err := filepath.Abs("../../npb/kernels/build")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(kernelsDir, "mpich", "ep")); err != nil {
		testenv.Missingf(t, "the kernels are not built (make kernels): %v", err)
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "firstuse.toml")
	err = os.WriteFile(config, []byte(`[study]
name = "firstuse"
repetitions = 1
warmup = 0
timeout = "60s"
npb_dir = "`+kernelsDir+`"

[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]

[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
binary = "{dir}/{mpi}/{name}"
args = ["{class}"]

[[runtime]]
name = "oci"
image = "hpcbench-firstuse-{mpi}"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"HPCBENCH_IMAGES=" + filepath.Join(dir, "images")}
	db := filepath.Join(dir, "firstuse.db")
	out, errOut, code := runIn(t, dir, env, bin, "matrix", "--build-images", "--db", db, config)
	if code != 0 || !strings.Contains(out+errOut, "1 runs (1 ok,") {
		t.Fatalf("first study: exit %d, want its run ok\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "image hpcbench-firstuse-mpich for oci: not found, building it") ||
		!strings.Contains(errOut, "image hpcbench-firstuse-mpich for oci: built in") {
		t.Errorf("first study did not say it built the image:\n%s", errOut)
	}
	out, errOut, code = runIn(t, dir, env, bin, "matrix", "--build-images", "--db", db, config)
	if code != 0 || strings.Contains(errOut, "building it") || !strings.Contains(out+errOut, "1 runs (1 ok,") {
		t.Fatalf("second study: exit %d, its run failed or it built again:\n%s%s", code, out, errOut)
	}
	// Without --build-images a missing image stays an error of the run.
	env = []string{"HPCBENCH_IMAGES=" + filepath.Join(dir, "other-images")}
	out, errOut, _ = runIn(t, dir, env, bin, "matrix", "--db", db, config)
	if strings.Contains(errOut, "building it") || !strings.Contains(out+errOut, "1 failed") {
		t.Errorf("without --build-images: want the run failed and no build:\n%s%s", out, errOut)
	}
}
