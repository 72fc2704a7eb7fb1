package runtimes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/pmi"
)

// hpcbench keeps a little state per machine and user in a folder of its
// own (StateDir), so that what cannot have changed since the previous
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

// StateEnv names the environment variable that moves the state folder.
const StateEnv = "HPCBENCH_STATE_DIR"

// StateDir is where hpcbench keeps its state: $HPCBENCH_STATE_DIR, else
// /run/hpcbench for root, else $XDG_RUNTIME_DIR/hpcbench, else a folder
// of the user's in the temporary folder.
func StateDir() string {
	if d := os.Getenv(StateEnv); d != "" {
		return d
	}
	if isRoot() {
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

// cleanupFailed notes a failed cleanup (err not nil) and returns err.
func cleanupFailed(err error) error {
	if err != nil {
		cleanupFailures.Add(1)
	}
	return err
}

// SweepIfNeeded is what a launching hpcbench does first: it records itself
// as launching (see Launching) and sweeps every runtime's leftovers
// (SweepLeftovers), unless the state folder shows that none can exist:
// the previous sweep was complete and every hpcbench that launched since
// either ended cleanly (its record is gone) or still runs. A sweep that
// answers without error marks the state swept and drops the records of
// the processes it swept after. swept says whether it swept. Without a
// state folder it always sweeps.
func SweepIfNeeded(ctx context.Context) (rec *Launching, removed []string, swept bool, err error) {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(SweepEnv))) {
	case "0", "off", "false", "no":
		return nil, nil, false, nil
	}
	rec, stale, clean := launchState(StateDir())
	if clean {
		return rec, nil, false, nil
	}
	removed, err = SweepLeftovers(ctx)
	if err == nil && rec != nil {
		dir := StateDir()
		for _, s := range stale {
			_ = os.Remove(filepath.Join(dir, "live", s))
		}
		_ = os.WriteFile(filepath.Join(dir, "swept"), nil, 0o644)
	} else {
		_ = os.Remove(filepath.Join(StateDir(), "swept"))
	}
	return rec, removed, true, err
}

// launchState writes this process's record in dir and reads the others:
// stale are the records of processes that no longer run, clean whether
// dir says nothing can be left behind (a complete earlier sweep, and no
// stale record). Without a usable dir, rec is nil and clean false.
func launchState(dir string) (rec *Launching, stale []string, clean bool) {
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

// cacheEntry is a value the state folder keeps (a runtime's version, a
// file's digest), with the key it holds for and the file it is about.
type cacheEntry struct {
	Key   string `json:"key"`
	File  string `json:"file"`
	Value string `json:"value"`
}

// programKey identifies program's file as it is now (path, size,
// modification time, inode), with extra: "" when it cannot be read.
func programKey(runtime, program string, extra ...string) string {
	fi, err := os.Stat(program)
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%d", runtime, program, fi.Size(), fi.ModTime().UnixNano(), inode(fi))
	for _, x := range extra {
		key += "\x00" + x
	}
	return key
}

// fileStamp is path's inode and modification time, or "-" when it is
// missing: a part of a version key for a file besides the program (a
// daemon's socket, its binary).
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return path + ":-"
	}
	return fmt.Sprintf("%s:%d:%d", path, inode(fi), fi.ModTime().UnixNano())
}

// fileKey identifies the file path as it is now, content included as far
// as its metadata tells: size, inode, modification time and change time
// (which no user can set back); "" when it cannot be read.
func fileKey(path string) string {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	var ctime int64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ctime = st.Ctim.Nano()
	}
	return fmt.Sprintf("%s\x00%d\x00%d\x00%d\x00%d", path, fi.Size(), inode(fi), fi.ModTime().UnixNano(), ctime)
}

func cachePath(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(StateDir(), kind, hex.EncodeToString(sum[:12]))
}

// cached is the value of kind ("versions", "digests") stored under key,
// if any.
func cached(kind, key string) (string, bool) {
	if key == "" {
		return "", false
	}
	b, err := os.ReadFile(cachePath(kind, key))
	if err != nil {
		return "", false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.Key != key || e.Value == "" {
		return "", false
	}
	return e.Value, true
}

// store keeps value of kind under key, and drops the entries whose file
// is gone (stand-ins of tests, an uninstalled runtime, a removed image).
func store(kind, key, file, value string) {
	if key == "" || value == "" {
		return
	}
	p := cachePath(kind, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	if entries, err := os.ReadDir(filepath.Dir(p)); err == nil && len(entries) > 16 {
		for _, d := range entries {
			var e cacheEntry
			b, err := os.ReadFile(filepath.Join(filepath.Dir(p), d.Name()))
			if err != nil || json.Unmarshal(b, &e) != nil {
				continue
			}
			if _, err := os.Stat(e.File); errors.Is(err, os.ErrNotExist) {
				_ = os.Remove(filepath.Join(filepath.Dir(p), d.Name()))
			}
		}
	}
	b, _ := json.Marshal(cacheEntry{Key: key, File: file, Value: value})
	tmp := p + ".tmp" + strconv.Itoa(os.Getpid())
	if os.WriteFile(tmp, b, 0o644) != nil {
		return
	}
	if os.Rename(tmp, p) != nil {
		_ = os.Remove(tmp)
	}
}

// detectCached is Detect for a runtime whose answer depends on nothing but
// the files in key (programKey): the version stored for it, else probe's
// answer, stored when the runtime is usable. An empty key always probes.
func detectCached(ctx context.Context, key, program string, probe func(context.Context) Fingerprint) (string, error) {
	if v, ok := cached("versions", key); ok {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, detectTimeout)
	defer cancel()
	fp := probe(ctx)
	v, err := fp.detected()
	if err == nil {
		store("versions", key, program, v)
	}
	return v, err
}

// inode is fi's inode number, 0 where the platform does not say.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// fileDigest is images.FileSHA256 of path, from the state folder while the
// file is unchanged (fileKey): hashing a SIF of 40 MB took 30 ms, a fifth
// of starting a rank in it.
func fileDigest(path string) (string, error) {
	key := fileKey(path)
	if d, ok := cached("digests", key); ok {
		return d, nil
	}
	d, err := images.FileSHA256(path)
	if err == nil && key == fileKey(path) {
		store("digests", key, path, d)
	}
	return d, err
}
