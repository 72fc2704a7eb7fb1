package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// heavyPackages are what the front program must never link: the store,
// the plots and PDF, the signatures, an HTTP client (and TLS), the PMIx
// library (cgo) and the documentation generators of the CLI library.
var heavyPackages = []string{
	"modernc.org/sqlite", "gonum.org/v1/plot", "codeberg.org/go-pdf/fpdf", "codeberg.org/go-latex/latex",
	"github.com/sigstore/", "github.com/ProtonMail/go-crypto", "github.com/russross/blackfriday",
	"github.com/hpcbench/hpcbench/results", "github.com/hpcbench/hpcbench/matrix",
	"github.com/hpcbench/hpcbench/signing", "github.com/hpcbench/hpcbench/configs", "github.com/hpcbench/hpcbench/npb",
	"net/http", "crypto/tls",
}

// TestFrontImportGraph: the front program, built as make builds it, links
// none of heavyPackages (each adds initialisers to every launch's start).
func TestFrontImportGraph(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags", "urfave_cli_no_docs", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps named %d packages: %q", len(deps), out)
	}
	for _, d := range deps {
		for _, h := range heavyPackages {
			if strings.HasPrefix(d, h) {
				t.Errorf("the front program links %s", d)
			}
		}
	}
}

// programs builds the front program and the full one side by side, as
// make build does, and returns the folder.
func programs(tb testing.TB) string {
	tb.Helper()
	testenv.SkipIfShort(tb, "builds both hpcbench programs")
	return filepath.Dir(testenv.BuildPrograms(tb, ".."))
}

// runProgram runs bin with args and returns stdout, stderr and the exit
// status.
func runProgram(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("%s %v: %v", bin, args, err)
	return "", "", 0
}

// TestFrontRunsLaunches: the front program runs a launch under PMI-1 or
// PMI-2 itself, natively or in a container runtime (it works with the
// full program gone), with the exit statuses and usage errors of the full
// one, and hands everything else to the full program: every other verb,
// help, launches under PMIx and those of an image pinned to its digest,
// which need the full program's code.
func TestFrontRunsLaunches(t *testing.T) {
	ep, err := filepath.Abs(filepath.Join("..", "..", "..", "npb", "kernels", "build", "mpich", "ep"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ep); err != nil {
		testenv.Require(t, "the project's kernels (make kernels)", err)
	}
	chRun := testenv.LookPath(t, "ch-run", "apt-get install charliecloud-runtime (make setup)")
	dir := programs(t)
	front, full := filepath.Join(dir, "hpcbench"), filepath.Join(dir, FullName)
	// A minimal image without MPI, in a store of the test's own, for a
	// container launch by the front alone.
	t.Setenv("HPCBENCH_IMAGES", t.TempDir())
	if _, stderr, code := runProgram(t, full, "image", "build", "--mpi", "mpich", "--minimal", "--without-mpi",
		"--name", "hpcbench-front-test", "--runtimes", "charliecloud"); code != 0 {
		t.Fatalf("image build: exit %d\n%s", code, stderr)
	}

	frontVersion, _, code := runProgram(t, front, "version")
	fullVersion, _, _ := runProgram(t, full, "version")
	if code != 0 || frontVersion != fullVersion || !strings.HasPrefix(frontVersion, "hpcbench ") {
		t.Errorf("version: front %q (exit %d), full %q", frontVersion, code, fullVersion)
	}

	// Handed off: the full program's verbs and help.
	out, _, code := runProgram(t, front, "--help")
	if code != 0 || !strings.Contains(out, "matrix") || !strings.Contains(out, "report") {
		t.Errorf("hpcbench --help through the front (exit %d) does not list every verb:\n%s", code, out)
	}
	out, _, code = runProgram(t, front, "results", "--help")
	if code != 0 || !strings.Contains(out, "hpcbench results") {
		t.Errorf("hpcbench results --help through the front: exit %d\n%s", code, out)
	}

	// The full program gone: native launches still run, the rest says
	// what is missing.
	hidden := full + ".away"
	if err := os.Rename(full, hidden); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "launch.json")
	stdout, stderr, code := runProgram(t, front, "launch", "-n", "2", "--pmi", "pmi2", "--report", report, "--", ep, "S")
	if code != 0 || !strings.Contains(stdout, "Verification") {
		t.Fatalf("a native PMI-2 launch without the full program: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep struct {
		Negotiated []string `json:"negotiated"`
	}
	if b, err := os.ReadFile(report); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("launch report: %v\n%s", err, b)
	}
	if strings.Join(rep.Negotiated, ",") != "pmi2,pmi2" {
		t.Errorf("negotiated %v, want pmi2 on both ranks", rep.Negotiated)
	}
	if _, _, code := runProgram(t, front, "launch", "-n", "1", "--no-pmi", "--quiet", "--", "false"); code != 1 {
		t.Errorf("a rank exiting 1: the front exited %d, want 1", code)
	}
	if _, stderr, code := runProgram(t, front, "launch", "-n", "0", "--", "true"); code != 2 || !strings.Contains(stderr, "-n 0") {
		t.Errorf("launch -n 0: exit %d, want 2 naming the flag:\n%s", code, stderr)
	}
	// In a container: two ranks of ch-run, each saying where it runs.
	stdout, stderr, code = runProgram(t, front, "launch", "-n", "2", "--no-pmi", "--runtime", "charliecloud",
		"--runtime-command", chRun, "--image", "hpcbench-front-test", "--", "/bin/sh", "-c", "echo rank $PMI_RANK")
	if code != 0 || !strings.Contains(stdout, "rank 0") || !strings.Contains(stdout, "rank 1") || !strings.Contains(stderr, "charliecloud per-rank") {
		t.Errorf("a Charliecloud launch without the full program: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, stderr, code := runProgram(t, front, "launch", "-n", "1", "--no-pmi", "--runtime", "charliecloud",
		"--image", "hpcbench-front-test", "--", "/bin/sh", "-c", "exit 3"); code != 3 {
		t.Errorf("a container rank exiting 3: the front exited %d, want 3\n%s", code, stderr)
	}
	if _, stderr, code := runProgram(t, front, "launch", "-n", "1", "--runtime", "nosuch", "--", "true"); code != 2 || !strings.Contains(stderr, "nosuch") {
		t.Errorf("launch --runtime nosuch: exit %d, want 2 naming it:\n%s", code, stderr)
	}
	pinned := "hpcbench-front-test@sha256:" + strings.Repeat("0", 64)
	for _, args := range [][]string{
		{"matrix", "--help"},
		{"launch", "-n", "1", "--pmi", "pmix", "--no-pmi", "--", "true"},
		{"launch", "-n", "1", "--runtime", "charliecloud", "--image", pinned, "--no-pmi", "--", "true"},
		{},
	} {
		_, stderr, code := runProgram(t, front, args...)
		if code != 1 || !strings.Contains(stderr, FullName) || !strings.Contains(stderr, "make build") {
			t.Errorf("hpcbench %v without the full program: exit %d, want 1 naming %s and how to get it:\n%s", args, code, FullName, stderr)
		}
	}

	// Back: a PMIx launch is the full program's (the front links no PMIx).
	if err := os.Rename(hidden, full); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runProgram(t, front, "launch", "-n", "2", "--pmi", "pmix", "--no-pmi", "--", "true"); code != 0 || !strings.Contains(stderr, "pmix") {
		t.Errorf("a PMIx launch through the front: exit %d\n%s", code, stderr)
	}
	// A pinned image is checked by the full program: a wrong digest is
	// refused before anything runs.
	if _, stderr, code := runProgram(t, front, "launch", "-n", "1", "--no-pmi", "--runtime", "charliecloud",
		"--image", pinned, "--", "true"); code == 0 || !strings.Contains(stderr, "pinned to") {
		t.Errorf("a launch of an image pinned to a wrong digest through the front: exit %d\n%s", code, stderr)
	}
}

// TestFrontSweeps: the front program sweeps the runtimes itself, only
// where a killed hpcbench may have left something: the first start (no
// complete sweep yet), and after a stale launching record; never after
// clean ends. It needs nothing of the full program.
func TestFrontSweeps(t *testing.T) {
	dir := programs(t)
	front, full := filepath.Join(dir, "hpcbench"), filepath.Join(dir, FullName)
	if err := os.Remove(full); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	launch := func() (string, int) {
		t.Helper()
		cmd := exec.Command(front, "launch", "-n", "1", "--no-pmi", "--quiet", "--", "true")
		cmd.Env = append(os.Environ(), "HPCBENCH_STATE_DIR="+state)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stderr.String(), code
	}
	records := func() []string {
		entries, _ := os.ReadDir(filepath.Join(state, "live"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	swept := func() (time.Time, bool) {
		fi, err := os.Stat(filepath.Join(state, "swept"))
		if err != nil {
			return time.Time{}, false
		}
		return fi.ModTime(), true
	}

	// First start: a sweep.
	stderr, code := launch()
	first, ok := swept()
	if code != 0 || !ok || len(records()) != 0 {
		t.Fatalf("first launch: exit %d, swept %v, records %v:\n%s", code, ok, records(), stderr)
	}
	// Clean since: no sweep.
	time.Sleep(20 * time.Millisecond)
	if stderr, code := launch(); code != 0 || len(records()) != 0 {
		t.Errorf("launch after a clean end: exit %d, records %v:\n%s", code, records(), stderr)
	}
	if again, _ := swept(); !again.Equal(first) {
		t.Errorf("a launch after clean ends swept again (marker %v, then %v)", first, again)
	}
	// A killed launcher's record: the next start sweeps and removes it.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := strconv.Itoa(dead.Process.Pid) + "-1"
	if err := os.WriteFile(filepath.Join(state, "live", stale), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, code = launch()
	after, ok := swept()
	if code != 0 || !ok || !after.After(first) || len(records()) != 0 {
		t.Errorf("launch after a killed one: exit %d, swept %v (%v, first %v), records %v (want the stale one gone):\n%s",
			code, ok, after, first, records(), stderr)
	}
}
