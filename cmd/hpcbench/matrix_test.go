package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildCLI builds the hpcbench binary for one test. The tests run the
// binary rather than the app in-process because urfave/cli commands keep
// flag values between runs in one process.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hpcbench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runCLI runs bin with args and returns its output and exit status.
func runCLI(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestMatrixDryRun(t *testing.T) {
	bin := buildCLI(t)
	// A node without hpcbench's MPICH builds: MPICH is Debian's, PMI-1 only.
	t.Setenv("HPCBENCH_MPICH_ROOT", t.TempDir())
	out, code := runCLI(t, bin, "matrix", "--dry-run", "--quiet")
	if code != 0 || !strings.Contains(out, "runs (") {
		t.Fatalf("built-in quick dry run: exit %d\n%s", code, out)
	}
	// Flags after the config, a filter, and every cell of it on a line.
	out, code = runCLI(t, bin, "matrix", "../../configs/quick.toml", "--dry-run", "--filter", "runtime=native,mpi=mpich")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && (f[0] == "ep" || f[0] == "is" || f[0] == "cg") && (f[2] != "mpich" || f[4] != "native") {
			t.Errorf("filter let through %q", line)
		}
	}
	if !strings.Contains(out, "skipped:") || !strings.Contains(out, "mpich speaks pmi1 only, not pmix") {
		t.Errorf("dry run lacks the skipped PMI cells:\n%s", out)
	}
}

func TestMatrixErrors(t *testing.T) {
	bin := buildCLI(t)
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[study]\nrepetitons = 3\n[matrix]\nranks = [2]\n[[benchmark]]\nkind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"matrix", "--dry-run", bad}, 2, bad + `:2: study.repetitons: unknown key "repetitons"`},
		{[]string{"matrix", "--dry-run", "no-such.toml"}, 2, "no-such.toml"},
		{[]string{"matrix", "--dry-run", "--filter", "colour=red"}, 2, `unknown key "colour"`},
		{[]string{"matrix", "--dry-run", "--filter", "benchmark=hpl"}, 2, "matches no cell"},
		{[]string{"matrix", "a.toml", "b.toml"}, 2, "one CONFIG at most"},
		{[]string{"matrix", "--quiet", "--db", "/nonexistent-dir/x.db", "--filter", "runtime=native"}, 1, "open results /nonexistent-dir/x.db"},
	}
	for _, tt := range tests {
		out, code := runCLI(t, bin, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("hpcbench %s: exit %d, want %d with %q:\n%s", strings.Join(tt.args, " "), code, tt.code, tt.want, out)
		}
	}
}

func TestDoctor(t *testing.T) {
	bin := buildCLI(t)
	out, code := runCLI(t, bin, "doctor")
	if code != 0 {
		t.Fatalf("doctor: exit %d\n%s", code, out)
	}
	for _, s := range []string{"Host", "MPI", "PMI", "Runtimes", "Slurm", "Benchmarks"} {
		if !strings.Contains(out, s+"\n") {
			t.Errorf("doctor output lacks the %s group:\n%s", s, out)
		}
	}
	out, code = runCLI(t, bin, "doctor", "--json")
	if code != 0 || !strings.HasPrefix(out, "{") || !strings.Contains(out, `"runtimes"`) {
		t.Errorf("doctor --json: exit %d\n%s", code, out)
	}
}

// TestMatrixDryRunGroupsSkips: on a node with Debian's MPICH only, the
// quick study's PMI-2 and PMIx MPICH cells are one cause with its count and
// axes, each flavour citing its own evidence; --verbose lists every cell.
func TestMatrixDryRunGroupsSkips(t *testing.T) {
	bin := buildCLI(t)
	t.Setenv("HPCBENCH_MPICH_ROOT", t.TempDir())
	out, code := runCLI(t, bin, "matrix", "--dry-run", "--filter", "mpi=mpich")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^  \d+ cells: MPI does not speak the PMI flavour: mpich speaks pmi1 only \(.*pmi2, pmix.*\)$`).MatchString(out) {
		t.Errorf("no grouped PMI cause:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "not pmix") && strings.Contains(line, "fullinit") {
			t.Errorf("a PMIx skip cites the PMI-2 evidence: %q", line)
		}
	}
	if n := strings.Count(out, "not pmix ("); n != 1 {
		t.Errorf("the PMIx reason is written %d times, want once:\n%s", n, out)
	}
	verbose, code := runCLI(t, bin, "matrix", "--dry-run", "--verbose", "--filter", "mpi=mpich,pmi=pmix")
	if code != 0 || strings.Count(verbose, "mpich pmix ") < 2 {
		t.Errorf("--verbose does not list the cells: exit %d\n%s", code, verbose)
	}
}
