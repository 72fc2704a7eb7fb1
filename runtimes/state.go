package runtimes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/launchstate"
)

// SweepIfNeeded is what a launching hpcbench does first: it records itself
// as launching (see Launching) and sweeps every runtime's leftovers
// (SweepLeftovers), unless the state folder shows that none can exist:
// the previous sweep was complete and every hpcbench that launched since
// either ended cleanly (its record is gone) or still runs. A sweep that
// answers without error marks the state swept and drops the records of
// the processes it swept after. swept says whether it swept. Without a
// state folder it always sweeps.
func SweepIfNeeded(ctx context.Context) (rec *launchstate.Launching, removed []string, swept bool, err error) {
	if launchstate.Disabled() {
		return nil, nil, false, nil
	}
	dir := launchstate.Dir()
	rec, stale, clean := launchstate.Begin(dir)
	if clean {
		return rec, nil, false, nil
	}
	removed, err = SweepLeftovers(ctx)
	if err == nil && rec != nil {
		launchstate.MarkSwept(dir, stale)
	} else {
		launchstate.Unswept(dir)
	}
	return rec, removed, true, err
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
	return filepath.Join(launchstate.Dir(), kind, hex.EncodeToString(sum[:12]))
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
