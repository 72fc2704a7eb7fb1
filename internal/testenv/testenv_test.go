package testenv

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRequireAll(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"", false}, {"0", false}, {"1", true}, {"yes", true}} {
		t.Setenv(RequireAllEnv, tc.value)
		if got := RequireAll(); got != tc.want {
			t.Errorf("%s=%q: RequireAll() = %v, want %v", RequireAllEnv, tc.value, got, tc.want)
		}
	}
}

// TestSkipOrFail runs the helpers in a child test process, once normally
// and once in require mode, and reads its verdict back from go test -v.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") != "" {
		// Only the child's outcome matters; in the parent this body does
		// not run (see below).
		switch os.Getenv("TESTENV_CHILD") {
		case "require":
			Require(t, "the frobnicator", errors.New("not installed"))
		case "lookpath":
			LookPath(t, "hpcbench-no-such-program", "install nothing")
		}
		t.Fatal("the helper returned although what it needs is missing")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, helper := range []string{"require", "lookpath"} {
		for _, requireAll := range []string{"", "1"} {
			cmd := exec.Command(exe, "-test.run=^TestSkipOrFail$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTENV_CHILD="+helper, RequireAllEnv+"="+requireAll)
			out, err := cmd.CombinedOutput()
			skipped := strings.Contains(string(out), "--- SKIP: TestSkipOrFail")
			failed := strings.Contains(string(out), "--- FAIL: TestSkipOrFail")
			if requireAll == "" && (!skipped || err != nil) {
				t.Errorf("%s without require mode: want a skip, got (err %v):\n%s", helper, err, out)
			}
			if requireAll != "" && (!failed || err == nil || !strings.Contains(string(out), "missing:")) {
				t.Errorf("%s in require mode: want a failure naming what is missing, got (err %v):\n%s", helper, err, out)
			}
		}
	}
}

func TestNothingMissing(t *testing.T) {
	t.Setenv(RequireAllEnv, "1")
	Require(t, "nothing", nil)
	if LookPath(t, "sh", "the shell") == "" {
		t.Error("LookPath(sh) returned an empty path")
	}
}
