package launchstate

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
)

// TestLaunchRecords: the state folder says nothing can be left behind only
// after a complete sweep, and only while every hpcbench that recorded
// itself since still runs or ended cleanly; a SIGKILLed one, or a later
// process that reuses its pid, leaves its record stale.
func TestLaunchRecords(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, dir)
	live := filepath.Join(dir, "live")

	rec, stale, clean := Begin(dir)
	if rec == nil || clean || len(stale) > 0 {
		t.Fatalf("fresh state folder: record %v, stale %q, clean %v; want a record, not clean", rec, stale, clean)
	}
	if _, err := os.Stat(rec.path); err != nil {
		t.Fatalf("own record: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "swept"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stale, clean := Begin(dir); !clean || len(stale) > 0 {
		t.Fatalf("after a sweep: stale %q, clean %v; want clean", stale, clean)
	}

	// Another launching process, running: its record is not stale.
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	start, ok := processStart(child.Process.Pid)
	if !ok {
		t.Fatal("no start time for a running child")
	}
	childRec := liveName(child.Process.Pid, start)
	if err := os.WriteFile(filepath.Join(live, childRec), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stale, clean := Begin(dir); !clean || len(stale) > 0 {
		t.Errorf("with a running launcher: stale %q, clean %v; want clean", stale, clean)
	}

	// Killed: its record stays, and is stale.
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	if _, stale, clean := Begin(dir); clean || !slices.Equal(stale, []string{childRec}) {
		t.Errorf("after SIGKILL: stale %q, clean %v; want %s stale", stale, clean, childRec)
	}
	os.Remove(filepath.Join(live, childRec))

	// This process's pid with another start time: an earlier process
	// that had the pid, killed.
	own, _ := processStart(os.Getpid())
	reused := liveName(os.Getpid(), own+1)
	os.WriteFile(filepath.Join(live, reused), nil, 0o644)
	if _, stale, clean := Begin(dir); clean || !slices.Equal(stale, []string{reused}) {
		t.Errorf("a record of a reused pid: stale %q, clean %v; want it stale", stale, clean)
	}
	os.Remove(filepath.Join(live, reused))

	// A clean end removes the record, unless a launch killed ranks or a
	// cleanup failed (then the next start must sweep).
	rec.Done()
	_, err := os.Stat(rec.path)
	if keep := cleanupFailures.Load() > 0 || pmi.InterruptedJobs() > 0; keep != (err == nil) {
		t.Errorf("record after Done: %v (cleanup failures %d, interrupted jobs %d)", err, cleanupFailures.Load(), pmi.InterruptedJobs())
	}
}
