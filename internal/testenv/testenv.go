// Package testenv decides what a test does when the machine lacks something
// it needs: a program, a built kernel, a running service, a privilege.
//
// On a developer's machine such a test skips with a message naming what is
// missing, so the unit tests stay green without the whole HPC stack. In CI
// (.ci/run sets HPCBENCH_REQUIRE_ALL=1) the same test fails with that
// message instead: CI installs every tool, so a skip there means the setup
// is broken and must not pass unnoticed.
//
//	bin := testenv.LookPath(t, "mpicc.mpich", "install libmpich-dev")
//	testenv.Require(t, "a Slurm cluster (scripts/slurm-up.sh)", err)
//	testenv.Skipf(t, "%s not built (make kernels)", path)
//	testenv.SkipIfShort(t, "runs a real study")
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireAllEnv is the environment variable that turns every skip of this
// package into a failure.
const RequireAllEnv = "HPCBENCH_REQUIRE_ALL"

// RequireAll reports whether missing tools fail tests instead of skipping
// them (HPCBENCH_REQUIRE_ALL set to anything but "" or "0").
func RequireAll() bool {
	v := os.Getenv(RequireAllEnv)
	return v != "" && v != "0"
}

// Skipf skips the test with the message, or fails it with the message in
// require mode. The message should name what is missing and how to get it.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		t.Fatalf("required by %s=1, missing: %s", RequireAllEnv, msg)
	}
	t.Skip(msg)
}

// Require skips (or, in require mode, fails) the test when err is not nil;
// what names the thing the test needs, err says why it is unavailable.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		Skipf(t, "%s: %v", what, err)
	}
}

// LookPath returns the path of program, or skips (fails in require mode)
// naming it with hint, typically the package that installs it.
func LookPath(t testing.TB, program, hint string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		Skipf(t, "%s not found (%s)", program, hint)
	}
	return path
}

// SkipIfShort skips the test under go test -short with why (what makes it
// long). Require mode asks for every test to run, so there -short is an
// error rather than a silent skip.
func SkipIfShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		Skipf(t, "-short given, but this test %s", why)
	}
}

// Missingf reports a missing tool that the test can do without (it covers
// what it can with the rest): a log line normally, an error in require
// mode, where the test goes on but fails.
func Missingf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		t.Errorf("required by %s=1, missing: %s", RequireAllEnv, msg)
		return
	}
	t.Log(msg)
}

// BuildPrograms builds hpcbench as "make build" does, into a temporary
// folder: the full program (the package in cmdDir, the path of
// cmd/hpcbench from the calling test's package) as hpcbench-full, and the
// static front program (cmdDir/front) as hpcbench beside it, both without
// the CLI's man-page generator. It returns the front program's path.
func BuildPrograms(tb testing.TB, cmdDir string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, p := range []struct {
		out, pkg string
		cgo      bool
	}{{"hpcbench-full", cmdDir, true}, {"hpcbench", cmdDir + "/front", false}} {
		cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", dir+"/"+p.out, p.pkg)
		if !p.cgo {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("go build %s: %v\n%s", p.pkg, err, out)
		}
	}
	return dir + "/hpcbench"
}
