// Package siftest builds small, real SIF images for tests with the
// apptainer binary: a sandbox holding busybox, built into a SIF. A machine
// without apptainer or busybox skips the test (fails it under
// HPCBENCH_REQUIRE_ALL=1, see package testenv).
package siftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// Env returns the environment for apptainer commands of a test: the
// caller's, with Apptainer's keyring and cache in folders of the test's
// own, so that the machine's keys are neither read nor changed.
func Env(t testing.TB, keysDir string) []string {
	t.Helper()
	return append(os.Environ(),
		"APPTAINER_KEYSDIR="+keysDir,
		"APPTAINER_CACHEDIR="+filepath.Join(filepath.Dir(keysDir), "apptainer-cache"),
	)
}

// Apptainer returns the path of the apptainer program, or skips.
func Apptainer(t testing.TB) string {
	t.Helper()
	return testenv.LookPath(t, "apptainer", "install Apptainer")
}

// Build builds dir/name.sif from a sandbox holding busybox at /bin/busybox
// and returns its path.
func Build(t testing.TB, dir, name string) string {
	t.Helper()
	app := Apptainer(t)
	bb := testenv.LookPath(t, "busybox", "install busybox-static")
	sb := filepath.Join(dir, name+".sandbox")
	if err := os.MkdirAll(filepath.Join(sb, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sb, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(sb, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".sif")
	cmd := exec.Command(app, "build", "--force", out, sb)
	cmd.Env = Env(t, filepath.Join(dir, "keys"))
	if b, err := cmd.CombinedOutput(); err != nil {
		testenv.Require(t, "apptainer build of a busybox sandbox", &buildError{err: err, out: string(b)})
	}
	return out
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }
