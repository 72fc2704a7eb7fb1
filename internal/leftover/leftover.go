// Package leftover names the temporary folders hpcbench makes after the
// process that owns them, so that a later hpcbench can remove what a
// killed one left (SIGKILL gives no chance to clean up) without touching
// the folders of one that still runs:
//
//	MkdirTemp(dir, "hpcbench-pmix-", "")    dir/hpcbench-pmix-<pid>.<ns>-<random>
//	MkdirTemp(dir, "hpcbench-work-", "ep")  dir/hpcbench-work-<pid>.<ns>-ep-<random>
//	Sweep(dir, "hpcbench-pmix-")            removes those whose process is gone
//
// <ns> is the owner's PID namespace (the inode of /proc/self/ns/pid): a
// pid means something only there. A process in another PID namespace (in
// a container given the host's temporary folder) cannot tell whether the
// owner runs, so it leaves the folder alone. The owner removes its
// folders itself when it ends normally; Sweep is for the others.
package leftover

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Process identifies a folder's owner.
type Process struct {
	Pid int
	// NS is the inode of its PID namespace; 0 where it could not be read.
	NS uint64
}

// Self is this process.
func Self() Process { return Process{Pid: os.Getpid(), NS: selfNS()} }

var selfNS = sync.OnceValue(func() uint64 {
	link, err := os.Readlink("/proc/self/ns/pid") // "pid:[4026531836]"
	if err != nil {
		return 0
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "pid:["), "]"), 10, 64)
	if err != nil {
		return 0
	}
	return ino
})

// token is how p is written in a folder's name.
func (p Process) token() string {
	return strconv.Itoa(p.Pid) + "." + strconv.FormatUint(p.NS, 10)
}

// Gone reports whether p has ended: it lived in this process's PID
// namespace and no process has its pid there now. An owner in another
// namespace is never taken for gone.
func (p Process) Gone() bool {
	return p.NS == selfNS() && !Alive(p.Pid)
}

// MkdirTemp makes a new folder in dir (the system's temporary folder when
// dir is "") named prefix, this process (pid.namespace), a dash, label and
// a dash when label is not empty, then random characters; the folder is
// private to its owner (0700).
func MkdirTemp(dir, prefix, label string) (string, error) {
	pattern := prefix + Self().token() + "-"
	if label != "" {
		pattern += label + "-"
	}
	return os.MkdirTemp(dir, pattern)
}

// Owner returns the process in the name of a folder MkdirTemp made with
// prefix (its base name, or a path); ok is false for any other name.
func Owner(name, prefix string) (owner Process, ok bool) {
	rest, found := strings.CutPrefix(filepath.Base(name), prefix)
	if !found {
		return Process{}, false
	}
	tok, _, found := strings.Cut(rest, "-")
	if !found {
		return Process{}, false
	}
	pidText, nsText, found := strings.Cut(tok, ".")
	if !found {
		return Process{}, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != pidText {
		return Process{}, false
	}
	ns, err := strconv.ParseUint(nsText, 10, 64)
	if err != nil || strconv.FormatUint(ns, 10) != nsText {
		return Process{}, false
	}
	return Process{Pid: pid, NS: ns}, true
}

// Alive reports whether a process with this pid runs in this process's
// PID namespace. A process of another user counts: it exists.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Sweep removes the folders in dir ("" is the system's temporary folder)
// that MkdirTemp made with prefix for a process that is gone, and returns
// their paths. A folder it cannot remove (another user's) stays, and is
// not returned.
func Sweep(dir, prefix string) []string {
	if dir == "" {
		dir = os.TempDir()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		owner, ok := Owner(e.Name(), prefix)
		if !ok || !owner.Gone() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(path); err == nil {
			removed = append(removed, path)
		}
	}
	return removed
}
