package runtimes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Linking a whole image for every job (5,300 files of MPICH's image: 0.3 s
// here, as long again to remove) was nearly all of a Charliecloud rank's
// start. An image of hpcbench's store therefore keeps one copy of links
// beside it (<store>/<name>/charliecloud/root), which one job at a time
// uses, under an exclusive lock: the job changes it where it must (mount
// points, the folders it links in read-only), and its cleanup puts back
// each top-level entry it changed, linked again from the image. Until
// then a marker (dirty) says the copy is not the image's; a job that finds
// it (its owner was killed) makes the copy anew. A job that finds the copy
// locked (another job uses it), or an image outside the store, links a
// copy of its own as before.

// chShared is an image's shared copy, locked by the job that uses it.
type chShared struct {
	dir   string // <store>/<name>/charliecloud
	root  string // dir/root
	image string // the image's root filesystem, where the copy's files come from
	lock  *os.File
	// changed are the top-level entries of root the job changed, to put
	// back; dirty whether the marker is written.
	changed map[string]bool
	dirty   bool
}

// chStamp is what the copy was made from: the root filesystem and its
// digest.
func chStamp(info ImageInfo) string { return info.Ref + "\n" + info.Digest + "\n" }

// openChShared locks and returns the shared copy of info's image, made or
// made anew as needed; nil where there is none to use (an image outside
// the store, a copy in use, any error: the caller links its own).
func openChShared(info ImageInfo) *chShared {
	store := info.Meta["store"]
	if store == "" || info.Digest == "" {
		return nil
	}
	dir := filepath.Join(store, "charliecloud")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil
	}
	s := &chShared{dir: dir, root: filepath.Join(dir, "root"), image: info.Ref, lock: lock, changed: map[string]bool{}}
	stamp, _ := os.ReadFile(filepath.Join(dir, "stamp"))
	_, dirtyErr := os.Stat(filepath.Join(dir, "dirty"))
	_, rootErr := os.Stat(s.root)
	if string(stamp) == chStamp(info) && errors.Is(dirtyErr, os.ErrNotExist) && rootErr == nil {
		return s
	}
	if err := s.build(info); err != nil {
		s.release()
		return nil
	}
	return s
}

// build makes the copy anew: links of the image, with the mount points
// ch-run needs (see newChJob), then the stamp.
func (s *chShared) build(info ImageInfo) error {
	_ = os.Remove(filepath.Join(s.dir, "stamp"))
	if err := os.RemoveAll(s.root); err != nil {
		return err
	}
	fresh := s.root + ".new"
	_ = os.RemoveAll(fresh)
	if err := linkTree(info.Ref, fresh); err != nil {
		os.RemoveAll(fresh)
		return err
	}
	if err := chMountPoints(fresh); err != nil {
		os.RemoveAll(fresh)
		return err
	}
	if err := os.Rename(fresh, s.root); err != nil {
		os.RemoveAll(fresh)
		return err
	}
	_ = os.Remove(filepath.Join(s.dir, "dirty"))
	return os.WriteFile(filepath.Join(s.dir, "stamp"), []byte(chStamp(info)), 0o644)
}

// chMountPoints gives root the /etc/passwd and /etc/group ch-run binds
// files of its own over, where the image has none.
func chMountPoints(root string) error {
	for _, f := range []string{"etc/passwd", "etc/group"} {
		if _, err := os.Lstat(filepath.Join(root, f)); os.IsNotExist(err) {
			if err := mountPoint(root, f, "/"+f); err != nil {
				return err
			}
		}
	}
	return nil
}

// change notes that the job is about to change the copy at the paths
// under root (the path as the job names it, and where it resolves):
// the marker goes first, and their top-level entries are put back by
// restore.
func (s *chShared) change(paths ...string) error {
	if !s.dirty {
		if err := os.WriteFile(filepath.Join(s.dir, "dirty"), nil, 0o644); err != nil {
			return err
		}
		s.dirty = true
	}
	for _, p := range paths {
		rel, err := filepath.Rel(s.root, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("charliecloud: %s is not inside the image copy %s", p, s.root)
		}
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		s.changed[top] = true
	}
	return nil
}

// restore puts back every top-level entry the job changed, as the image
// has it, clears the marker and releases the copy. Where that fails the
// marker stays, and the next job makes the copy anew.
func (s *chShared) restore() error {
	defer s.release()
	tops := make([]string, 0, len(s.changed))
	for t := range s.changed {
		tops = append(tops, t)
	}
	sort.Strings(tops)
	for _, top := range tops {
		dst := filepath.Join(s.root, top)
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("charliecloud: restoring the image copy's /%s: %w", top, err)
		}
		src := filepath.Join(s.image, top)
		fi, err := os.Lstat(src)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // the job made it
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			to, err := os.Readlink(src)
			if err != nil {
				return err
			}
			err = os.Symlink(to, dst)
			if err != nil {
				return err
			}
		default:
			if err := linkTree(src, dst); err != nil {
				return fmt.Errorf("charliecloud: restoring the image copy's /%s: %w", top, err)
			}
		}
	}
	if err := chMountPoints(s.root); err != nil {
		return err
	}
	if s.dirty {
		if err := os.Remove(filepath.Join(s.dir, "dirty")); err != nil {
			return err
		}
		s.dirty = false
	}
	return nil
}

// release unlocks the copy.
func (s *chShared) release() {
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}
