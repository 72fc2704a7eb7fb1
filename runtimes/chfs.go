package runtimes

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The folder work of the charliecloud adapter: a job's image is a tree of
// hard links to the store's files, and host folders are linked or copied
// into it at their host paths, never through a symbolic link of the image
// that would lead out of it.

// linkTree makes dst a copy of src (a folder or a file) whose regular
// files are hard links to src's (copies where a link cannot be made:
// another file system, or a file this user may not link). Symbolic links
// are copied as links; devices, pipes and sockets are left out.
func linkTree(src, dst string) error { return cloneTree(src, dst, true) }

// copyTree is linkTree with every regular file copied: for trees the
// container may write to, where a link would let it write the host's file.
func copyTree(src, dst string) error { return cloneTree(src, dst, false) }

func cloneTree(src, dst string, link bool) error {
	// A bind mount of a symbolic link mounts what it points to: so does
	// this, for the top (the links inside a folder stay links).
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return os.Chmod(target, mode.Perm()|mode&(fs.ModeSticky|fs.ModeSetgid))
		case mode&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(to, target)
		case mode.IsRegular():
			if link {
				if err := os.Link(p, target); err == nil {
					return nil
				}
			}
			return copyFile(p, target, mode.Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// resolveIn returns where rel (a slash-separated path inside the tree
// root) lies, following the tree's symbolic links as the container would
// see them (an absolute link starts again at root, ".." stops at root),
// for every component but the last; missing folders are made.
func resolveIn(root, rel string) (string, error) {
	parts := splitPath(rel)
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: no path below the image's root", rel)
	}
	last := parts[len(parts)-1]
	pending := parts[:len(parts)-1]
	var done []string
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		p := filepath.Join(append([]string{root}, append(done, c)...)...)
		fi, err := os.Lstat(p)
		switch {
		case os.IsNotExist(err):
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many symbolic links in the image", rel)
			}
			to, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(to, "/") {
				done = nil
			}
			pending = append(splitPath(to), pending...)
			continue
		case !fi.IsDir():
			return "", fmt.Errorf("%s: %s is not a folder in the image", rel, filepath.Join(done...))
		}
		done = append(done, c)
	}
	return filepath.Join(append([]string{root}, append(done, last)...)...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// mountPoint makes, inside root, the mount point of host path host at rel:
// a folder, or an empty file for a file. ch-run follows the image's
// symbolic links in a bind's destination from the host's root, so a link
// on the way is refused rather than followed.
func mountPoint(root, rel, host string) error {
	hfi, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("charliecloud: bind %s: %w", host, err)
	}
	parts := splitPath(rel)
	p := root
	for i, c := range parts {
		if c == "." || c == ".." {
			return fmt.Errorf("charliecloud: bind %s: %q in the path", host, c)
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		lastOne := i == len(parts)-1
		switch {
		case os.IsNotExist(err):
			if lastOne && !hfi.IsDir() {
				f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return err
				}
				f.Close()
				continue
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("charliecloud: bind %s: the image has a symbolic link at %s, which ch-run would follow from the host's root", host, "/"+filepath.Join(parts[:i+1]...))
		case !lastOne && !fi.IsDir(), lastOne && fi.IsDir() != hfi.IsDir():
			return fmt.Errorf("charliecloud: bind %s: /%s in the image is not a mount point of the same kind", host, filepath.Join(parts[:i+1]...))
		}
	}
	return nil
}
