package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/pmi"
)

func runLaunchVerb(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	full, err := launchcli.ReorderArgs(app, append([]string{"hpcbench", "launch"}, args...))
	if err != nil {
		return "", "", err
	}
	err = app.Run(full)
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestLaunchVerbReportAndStatus(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.json")
	// Rank 1's failure ends the job, so rank 1 waits until rank 0 has
	// written its line (a marker file) before it exits: otherwise rank 0
	// may be killed before it prints anything.
	marker := filepath.Join(dir, "rank0-said-hello")
	script := `echo "hello from $PMI_RANK of $PMI_SIZE"
if [ "$PMI_RANK" = 0 ]; then : > "$1"; exit 0; fi
i=0; while [ ! -e "$1" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
exit 3`
	// Flags after the program's "--" belong to the program.
	out, errOut, err := runLaunchVerb(t, "-n", "2", "--tag-output", "--report", report, "--",
		"sh", "-c", script, "sh", marker)
	if exitCode(err) != 3 {
		t.Fatalf("exit %d (%v), want rank 1's 3\n%s", exitCode(err), err, errOut)
	}
	for _, want := range []string{"[0] hello from 0 of 2\n", "[1] hello from 1 of 2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "hpcbench launch: 2 ranks, pmi1 over fd, wall ") ||
		!strings.Contains(errOut, "FAILED: rank 1 exited with code 3") {
		t.Errorf("summary line:\n%s", errOut)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep pmi.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Ranks != 2 || rep.FailedRank != 1 || rep.ExitCodes[1] != 3 || rep.Reason != "rank 1 exited with code 3" {
		t.Errorf("report %+v", rep)
	}
}

func TestLaunchVerbQuietSuccess(t *testing.T) {
	// true is no MPI program: --no-pmi, or the world-size guard fails it.
	_, errOut, err := runLaunchVerb(t, "--quiet", "-n", "3", "--no-pmi", "--", "true")
	if err != nil || errOut != "" {
		t.Fatalf("err %v, stderr %q", err, errOut)
	}
}

func TestLaunchVerbUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "2"}, "no program given"},
		{[]string{"-n", "0", "--", "true"}, "need at least 1 rank"},
		{[]string{"-n", "2", "--pmi", "pmi3", "--", "true"}, `--pmi "pmi3"`},
		{[]string{"-n", "2", "--channel", "shm", "--", "true"}, `--channel "shm"`},
		{[]string{"-n", "2", "--bind", "socket", "--", "true"}, `--bind "socket"`},
	} {
		_, _, err := runLaunchVerb(t, tc.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want a usage error with %q", tc.args, err, exitCode(err), tc.want)
		}
	}
}

func TestSummariseNegotiated(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"pmi1", "pmi1"}, "pmi1 x2"},
		{[]string{"", "pmi1"}, "-,pmi1"},
		{nil, "-"},
	} {
		if got := launchcli.SummariseNegotiated(tc.in); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
