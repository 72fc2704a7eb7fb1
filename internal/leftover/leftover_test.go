package leftover

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// deadPid returns the pid of a process that has ended (and been reaped).
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if Alive(pid) {
		t.Skipf("pid %d was reused at once", pid)
	}
	return pid
}

func TestOwner(t *testing.T) {
	for _, c := range []struct {
		name   string
		prefix string
		owner  Process
		ok     bool
	}{
		{"hpcbench-pmix-123.456-abc", "hpcbench-pmix-", Process{123, 456}, true},
		{"/tmp/hpcbench-pmix-123.0-abc", "hpcbench-pmix-", Process{123, 0}, true},
		{"hpcbench-work-77.9-ep-9", "hpcbench-work-", Process{77, 9}, true},
		{"hpcbench-pmix-abc", "hpcbench-pmix-", Process{}, false},     // the old name, without a pid
		{"hpcbench-pmix-123-abc", "hpcbench-pmix-", Process{}, false}, // no namespace
		{"hpcbench-pmix-123.456", "hpcbench-pmix-", Process{}, false}, // no dash after the owner
		{"hpcbench-pmix-0.1-x", "hpcbench-pmix-", Process{}, false},   // no such pid
		{"hpcbench-pmix-012.1-x", "hpcbench-pmix-", Process{}, false}, // not how a pid is written
		{"hpcbench-pmix-12.01-x", "hpcbench-pmix-", Process{}, false}, // nor a namespace
		{"hpcbench-oci-5.1-x", "hpcbench-pmix-", Process{}, false},    // another prefix
		{"hpcbench-pmix-5.1.2-x", "hpcbench-pmix-", Process{}, false}, // not a number
		{"hpcbench-pmix-5.-x", "hpcbench-pmix-", Process{}, false},    // empty namespace
		{"hpcbench-pmix-.1-x", "hpcbench-pmix-", Process{}, false},    // empty pid
		{"hpcbench-pmix-9.18446744073709551615-x", "hpcbench-pmix-", Process{9, 1<<64 - 1}, true},
	} {
		owner, ok := Owner(c.name, c.prefix)
		if owner != c.owner || ok != c.ok {
			t.Errorf("Owner(%q) = %+v, %v; want %+v, %v", c.name, owner, ok, c.owner, c.ok)
		}
	}
}

// Sweep removes the folders of processes that ended, never those of live
// ones (this one), of owners in another PID namespace, nor folders it did
// not name.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	mine, err := MkdirTemp(dir, "hpcbench-x-", "study")
	if err != nil {
		t.Fatal(err)
	}
	if owner, ok := Owner(mine, "hpcbench-x-"); !ok || owner != Self() {
		t.Fatalf("MkdirTemp made %s: owner %+v, %v; want %+v", mine, owner, ok, Self())
	}
	if st, err := os.Stat(mine); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v; want a private folder", mine, err)
	}
	gone := Process{Pid: deadPid(t), NS: Self().NS}
	dead := filepath.Join(dir, "hpcbench-x-"+gone.token()+"-zz")
	elsewhere := filepath.Join(dir, fmt.Sprintf("hpcbench-x-%d.%d-zz", gone.Pid, Self().NS+1))
	other := filepath.Join(dir, "hpcbench-y-"+gone.token()+"-zz")
	old := filepath.Join(dir, "hpcbench-x-zz")
	for _, d := range []string{dead, elsewhere, other, old} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removed := Sweep(dir, "hpcbench-x-")
	if !slices.Equal(removed, []string{dead}) {
		t.Errorf("Sweep removed %v; want only %s", removed, dead)
	}
	for _, d := range []string{mine, elsewhere, other, old} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("%s is still there", dead)
	}
}
