// Package launchstate keeps the little state a launching hpcbench needs
// to know whether anything can have been left behind by an earlier one:
// a record per launching process, removed only by its clean end, and a
// mark of the last complete sweep. The runtimes' sweep (runtimes.SweepIfNeeded)
// reads it to decide whether a start must sweep at all.
package launchstate

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hpcbench/hpcbench/pmi"
)

// hpcbench keeps a little state per machine and user in a folder of its
// own (Dir), so that what cannot have changed since the previous
// start is not asked again:
//
//	<state>/swept            the last sweep of every runtime found nothing
//	                         it could not remove
//	<state>/live/<pid>-<t>   an hpcbench that launches (pid, start time in
//	                         clock ticks since boot); only its clean exit
//	                         removes it
//	<state>/versions/<hash>  a runtime's version, keyed by its program's
//	                         path, size, modification time and inode
//	<state>/digests/<hash>   an image file's digest (a SIF), keyed by its
//	                         path, size, inode, modification and change times;
//	                         a Podman image's ID, keyed by its name and its
//	                         storage's list of images (as a SIF's)
//	<state>/stores/<hash>    where a Podman program's storage lists images
//
// For root the folder is /run/hpcbench, a tmpfs that a reboot empties, so
// the first start after one sweeps and probes again.

// Env names the environment variable that moves the state folder.
const Env = "HPCBENCH_STATE_DIR"

// Dir is where hpcbench keeps its state: $HPCBENCH_STATE_DIR, else
// /run/hpcbench for root, else $XDG_RUNTIME_DIR/hpcbench, else a folder
// of the user's in the temporary folder.
func Dir() string {
	if d := os.Getenv(Env); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/run/hpcbench"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "hpcbench")
	}
	return filepath.Join(os.TempDir(), "hpcbench-state-"+strconv.Itoa(os.Getuid()))
}

// processStart is pid's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat), which tells a process from a later one that reuses
// its pid; ok is false when pid does not run.
func processStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after its closing parenthesis (field 3 is the first of them).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	return t, err == nil
}

// liveName names a launching process's record: "<pid>-<start>".
func liveName(pid int, start uint64) string {
	return strconv.Itoa(pid) + "-" + strconv.FormatUint(start, 10)
}

// recordRunning reports whether the record name (liveName) is of a process
// that still runs.
func recordRunning(name string) bool {
	pidText, startText, ok := strings.Cut(name, "-")
	if !ok {
		return false
	}
	pid, err1 := strconv.Atoi(pidText)
	start, err2 := strconv.ParseUint(startText, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	now, ok := processStart(pid)
	return ok && now == start
}

// Launching is a launching hpcbench's record in the state folder.
type Launching struct {
	path string
}

// Done removes the record: call it on a clean exit only, once every
// container and folder of the process's jobs is gone. It keeps the record
// where a runtime's cleanup of a job failed, or where a launch killed
// ranks (pmi.InterruptedJobs: a container client killed while creating
// one may leave what only the sweep removes); a killed process keeps it
// too. The next start then sweeps.
func (l *Launching) Done() {
	if l == nil || l.path == "" || cleanupFailures.Load() > 0 || pmi.InterruptedJobs() > 0 {
		return
	}
	_ = os.Remove(l.path)
}

// cleanupFailures counts the jobs whose containers or folders a runtime
// could not remove.
var cleanupFailures atomic.Int64

// CleanupFailed notes a failed cleanup (err not nil) and returns err: the
// process's record then stays, and the next start sweeps.
func CleanupFailed(err error) error {
	if err != nil {
		cleanupFailures.Add(1)
	}
	return err
}

// Begin writes this process's record in dir and reads the others:
// stale are the records of processes that no longer run, clean whether
// dir says nothing can be left behind (a complete earlier sweep, and no
// stale record). Without a usable dir, rec is nil and clean false.
func Begin(dir string) (rec *Launching, stale []string, clean bool) {
	start, ok := processStart(os.Getpid())
	if !ok {
		return nil, nil, false
	}
	live := filepath.Join(dir, "live")
	if err := os.MkdirAll(live, 0o700); err != nil {
		return nil, nil, false
	}
	self := liveName(os.Getpid(), start)
	path := filepath.Join(live, self)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return nil, nil, false
	}
	rec = &Launching{path: path}
	entries, err := os.ReadDir(live)
	if err != nil {
		return rec, nil, false
	}
	for _, e := range entries {
		if e.Name() != self && !recordRunning(e.Name()) {
			stale = append(stale, e.Name())
		}
	}
	_, err = os.Stat(filepath.Join(dir, "swept"))
	return rec, stale, err == nil && len(stale) == 0
}

// MarkSwept records a complete sweep in dir, and drops the stale records
// (Begin's) it swept after; Unswept removes the mark, after a sweep that
// did not complete.
func MarkSwept(dir string, stale []string) {
	for _, s := range stale {
		_ = os.Remove(filepath.Join(dir, "live", s))
	}
	_ = os.WriteFile(filepath.Join(dir, "swept"), nil, 0o644)
}

// Unswept removes dir's mark of a complete sweep: the next start sweeps.
func Unswept(dir string) { _ = os.Remove(filepath.Join(dir, "swept")) }

// Disabled says whether the environment turns the sweep off
// (HPCBENCH_SWEEP_CONTAINERS=0, off, false or no).
func Disabled() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(SweepEnv))) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

// SweepEnv is the environment variable that turns the sweep of leftovers
// off: for machines where hpcbench runs in several PID namespaces, whose
// processes cannot see one another, so that a live hpcbench's containers
// would look abandoned. "hpcbench doctor --clean" still removes them on
// demand.
const SweepEnv = "HPCBENCH_SWEEP_CONTAINERS"
