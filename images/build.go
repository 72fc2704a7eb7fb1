package images

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hpcbench/hpcbench/mpibuild"
)

// BuildOptions describe an image for "hpcbench image build". No registry is
// involved: the root filesystem is assembled on this machine; the runtimes
// then import it into their own formats (package runtimes).
type BuildOptions struct {
	// Name is the image's name in the store and in Docker/Podman.
	Name string
	// MPI is "mpich" or "openmpi": which run-time libraries go in.
	MPI string
	// Minimal images hold only the ldd closure of Binaries (and of the MPI
	// library and its plugins) plus busybox; full images are a Debian
	// minbase made by debootstrap with the MPI's packages.
	Minimal bool
	// WithoutMPI leaves the MPI library and what only it needs out of a
	// minimal image: such an image runs only in the bind layout.
	WithoutMPI bool
	// Binaries are copied in at their host paths, with their libraries.
	Binaries []string
	// MPIBuilds are hpcbench's MPICH builds (package mpibuild) the image
	// carries, each prefix whole at its host path, with what its libraries
	// need (for the PMIx build, libpmix and its plugins): a rank then
	// picks its PMI flavour by its LD_LIBRARY_PATH, as natively. nil, for
	// an MPICH image with its MPI, means every build installed on this
	// machine (mpibuild.Find); an empty slice means none. Images of Open
	// MPI, and images without MPI (the bind layout mounts the build),
	// carry none.
	MPIBuilds []mpibuild.Build
	// Store defaults to OpenStore("").
	Store *Store
	// Suite and Mirror are for full images; Mirror "" takes the URI of
	// the host's own apt sources for Suite (default bookworm).
	Suite  string
	Mirror string
	// Force rebuilds even when the inputs are unchanged.
	Force bool
	// Log receives progress lines; nil discards them. The runtimes'
	// imports write theirs there too.
	Log io.Writer
}

// buildFormat changes when the way images are assembled changes, so that
// the cache does not keep images built the old way.
const buildFormat = 2 // 2: minimal images carry UCX's transport modules

// mpiBuildsFor fills opts.MPIBuilds with its default (see BuildOptions)
// and empties it where the image cannot carry builds.
func (opts *BuildOptions) mpiBuildsFor() {
	switch {
	case opts.MPI != "mpich" || opts.WithoutMPI:
		opts.MPIBuilds = nil
	case opts.MPIBuilds == nil:
		opts.MPIBuilds = mpibuild.Find("")
	}
}

// Validate checks the options before anything is built: the image name,
// the MPI, and that only a minimal image leaves the MPI out.
func (opts *BuildOptions) Validate() error {
	if err := checkImageName(opts.Name); err != nil {
		return err
	}
	if _, err := mpiFiles(opts.MPI); err != nil {
		return err
	}
	if opts.WithoutMPI && !opts.Minimal {
		return errors.New("an image without MPI is a minimal one: add --minimal")
	}
	return nil
}

// BuildRootfs builds (or reuses) the root filesystem opts describes, saves
// its manifest in the store and returns it. A rebuild is skipped when the
// inputs (the binaries' contents, the MPI and its package versions, minimal
// or full) are unchanged and the root filesystem is still there; rebuilt
// says whether it was made anew, in which case every runtime's copy
// recorded in the manifest is stale. opts.Store and opts.Suite get their
// defaults filled in.
func BuildRootfs(ctx context.Context, opts *BuildOptions) (m *Manifest, rebuilt bool, err error) {
	if err := opts.Validate(); err != nil {
		return nil, false, err
	}
	if opts.Store == nil {
		opts.Store = OpenStore("")
	}
	if opts.Suite == "" {
		opts.Suite = "bookworm"
	}
	opts.mpiBuildsFor()
	builds, err := recordBuilds(opts.MPIBuilds)
	if err != nil {
		return nil, false, err
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	var bins []BinaryInput
	for _, b := range opts.Binaries {
		abs, err := filepath.Abs(b)
		if err != nil {
			return nil, false, err
		}
		sum, err := FileSHA256(abs)
		if err != nil {
			return nil, false, fmt.Errorf("binary %s: %w", b, err)
		}
		bins = append(bins, BinaryInput{Path: abs, SHA256: sum})
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i].Path < bins[j].Path })
	inputs := inputsDigest(*opts, bins, builds)

	dir := filepath.Join(opts.Store.Root, opts.Name)
	old, _ := opts.Store.Lookup(opts.Name)
	m = old
	rebuilt = m == nil || m.Inputs != inputs || opts.Force
	if !rebuilt {
		if _, err := os.Stat(m.Rootfs); err != nil {
			rebuilt = true
		}
	}
	if !rebuilt {
		fmt.Fprintf(log, "root filesystem %s: inputs unchanged, kept\n", m.Rootfs)
		if m.Engines == nil {
			m.Engines = map[string]EngineImage{}
		}
		return m, false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("image store %s: %w", opts.Store.Root, err)
	}
	m = &Manifest{Name: opts.Name, MPI: opts.MPI, Minimal: opts.Minimal, WithoutMPI: opts.WithoutMPI,
		Binaries: bins, MPIBuilds: builds, Inputs: inputs, Dir: dir, Engines: map[string]EngineImage{}}
	start := time.Now()
	rootfs := filepath.Join(dir, "rootfs")
	tmp := rootfs + ".new"
	_ = removeTree(tmp)
	if opts.Minimal {
		err = buildMinimal(ctx, tmp, *opts, bins)
	} else {
		err = buildFull(ctx, tmp, *opts, bins, log)
	}
	if err != nil {
		_ = removeTree(tmp)
		return nil, false, fmt.Errorf("image %s: %w", opts.Name, err)
	}
	if err := removeTree(rootfs); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, rootfs); err != nil {
		return nil, false, err
	}
	m.Rootfs = rootfs
	cw := &countingWriter{}
	h := sha256.New()
	if err := WriteRootfsTar(rootfs, io.MultiWriter(h, cw)); err != nil {
		return nil, false, fmt.Errorf("image %s: %w", opts.Name, err)
	}
	m.RootfsDigest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	m.RootfsBytes = cw.n
	m.Created = time.Now().UTC()
	fmt.Fprintf(log, "root filesystem %s: %.1f MB in %.1f s\n", rootfs, float64(cw.n)/1e6, time.Since(start).Seconds())
	if err := opts.Store.Save(m); err != nil {
		return nil, false, err
	}
	return m, true, nil
}

// inputsDigest identifies what a root filesystem is built from.
func inputsDigest(opts BuildOptions, bins []BinaryInput, builds []MPIBuildRecord) string {
	in := struct {
		Format     int
		MPI        string
		Minimal    bool
		WithoutMPI bool
		Suite      string
		Binaries   []BinaryInput
		Packages   string
		MPIBuilds  []MPIBuildRecord `json:",omitempty"`
	}{buildFormat, opts.MPI, opts.Minimal, opts.WithoutMPI, opts.Suite, bins, packageVersions(), builds}
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// packageVersions are the host's MPI package versions, whose files a
// minimal image copies.
func packageVersions() string {
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Package}=${Version}\n",
		"libmpich12", "libopenmpi3", "libpmix2", "libucx0", "busybox-static", "libc6").Output()
	return string(out)
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// removeTree removes path; a missing path is fine.
func removeTree(path string) error {
	err := os.RemoveAll(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// rootfsBuilder copies host paths into a root filesystem at the same paths,
// recreating the host's symlinks on the way (/lib -> usr/lib and the like)
// so that the loader finds libraries where it would on the host.
type rootfsBuilder struct {
	root    string
	done    map[string]bool
	exclude map[string]bool // canonical library paths to leave out
	// keepExisting leaves files the root filesystem already has (full images).
	keepExisting bool
}

func newRootfsBuilder(root string) *rootfsBuilder {
	return &rootfsBuilder{root: root, done: map[string]bool{}, exclude: map[string]bool{}}
}

// add copies hostPath (a file or a symlink, and every folder and symlink
// on its way) into the root filesystem.
func (b *rootfsBuilder) add(hostPath string) error { return b.addDepth(filepath.Clean(hostPath), 0) }

func (b *rootfsBuilder) addDepth(p string, depth int) error {
	if depth > 40 {
		return fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	if b.done[p] || b.exclude[CanonicalLibPath(p)] {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := filepath.Join(cur, part)
		last := i == len(parts)-1
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		dst := filepath.Join(b.root, next)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if _, err := os.Lstat(dst); err != nil {
				if err := os.Symlink(target, dst); err != nil {
					return err
				}
			}
			resolved := target
			if !filepath.IsAbs(target) {
				resolved = filepath.Join(cur, target)
			}
			b.done[p] = true
			return b.addDepth(filepath.Join(append([]string{resolved}, parts[i+1:]...)...), depth+1)
		case fi.IsDir():
			if st, err := os.Lstat(dst); err != nil {
				if err := os.Mkdir(dst, fi.Mode().Perm()); err != nil {
					return err
				}
				copyOwner(dst, fi)
			} else if !st.IsDir() && st.Mode()&os.ModeSymlink == 0 {
				return fmt.Errorf("%s: a folder on the host, a file in the image", next)
			}
		case fi.Mode().IsRegular() && last:
			if _, err := os.Lstat(dst); err == nil && b.keepExisting {
				break
			}
			if err := copyFile(next, dst, fi); err != nil {
				return err
			}
		case last:
			// Devices, sockets, fifos: not part of an image.
		default:
			return fmt.Errorf("%s: not a folder", next)
		}
		cur = next
	}
	b.done[p] = true
	return nil
}

// addTree copies a folder and everything in it, except subfolders for
// which skip is true.
func (b *rootfsBuilder) addTree(dir string, skip func(string) bool) ([]string, error) {
	var objs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && skip != nil && skip(p) {
			return fs.SkipDir
		}
		if d.IsDir() {
			return b.add(p)
		}
		if d.Type().IsRegular() && strings.Contains(d.Name(), ".so") {
			objs = append(objs, p)
		}
		return b.add(p)
	})
	return objs, err
}

// copyFile hard-links src to dst where both are on one filesystem (no
// space, and the content is the host's own file), else copies it.
func copyFile(src, dst string, fi os.FileInfo) error {
	_ = os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	copyOwner(dst, fi)
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

func copyOwner(dst string, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && isRoot() {
		_ = os.Lchown(dst, int(st.Uid), int(st.Gid))
	}
}

// skipHeaders leaves development headers out of plugin folders.
func skipHeaders(p string) bool { return filepath.Base(p) == "include" }

// buildMinimal assembles the ldd closure of the binaries and of the MPI
// (with Open MPI's plugin folders), plus busybox, into root.
func buildMinimal(ctx context.Context, root string, opts BuildOptions, bins []BinaryInput) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	b := newRootfsBuilder(root)
	layout, _ := mpiFiles(opts.MPI)
	if opts.WithoutMPI {
		libs, err := HostMPIBinds(ctx, opts.MPI)
		if err != nil {
			return err
		}
		for _, l := range libs {
			b.exclude[l] = true
		}
	}
	// Top-level symlinks first (merged /usr), then the skeleton.
	for _, top := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if fi, err := os.Lstat(top); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if err := b.add(top); err != nil {
				return err
			}
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"tmp", 0o1777}, {"var/tmp", 0o1777}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"etc", 0o755}, {"root", 0o700}, {"run", 0o755}, {"home", 0o755}, {"usr/bin", 0o755}} {
		if err := os.MkdirAll(filepath.Join(root, d.path), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(root, d.path), d.mode); err != nil {
			return err
		}
	}
	if err := writeUserFiles(root); err != nil {
		return err
	}
	var elfs []string
	for _, bin := range bins {
		if err := b.add(bin.Path); err != nil {
			return fmt.Errorf("binary %s: %w", bin.Path, err)
		}
		elfs = append(elfs, bin.Path)
	}
	if !opts.WithoutMPI {
		for _, l := range layout.libs {
			if err := b.add(l); err != nil {
				return fmt.Errorf("%s library %s: %w (is it installed?)", opts.MPI, l, err)
			}
			elfs = append(elfs, l)
		}
		for _, d := range layout.dirs {
			objs, err := b.addTree(d, skipHeaders)
			if err != nil {
				return fmt.Errorf("%s folder %s: %w", opts.MPI, d, err)
			}
			elfs = append(elfs, objs...)
		}
	}
	deps, err := lddClosure(ctx, elfs)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if err := b.add(d); err != nil {
			return fmt.Errorf("library %s: %w", d, err)
		}
	}
	if err := addMPIBuilds(ctx, b, opts.MPIBuilds); err != nil {
		return err
	}
	return addBusybox(root, b)
}

// addBusybox puts the static busybox in /usr/bin with a link for each
// applet the image does not already have (Apptainer runs programs through
// /bin/sh, and a shell helps debugging).
func addBusybox(root string, b *rootfsBuilder) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox not found: install busybox-static")
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	if err := b.add(bb); err != nil {
		return err
	}
	real, _ := filepath.EvalSymlinks(bb)
	dir := filepath.Dir(real)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		link := filepath.Join(root, dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Base(real), link); err != nil {
			return err
		}
	}
	return nil
}

// writeUserFiles gives the image root, nobody and the building user.
func writeUserFiles(root string) error {
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group := "root:x:0:\nnogroup:x:65534:\n"
	if uid := os.Getuid(); uid != 0 {
		passwd += fmt.Sprintf("user:x:%d:%d:user:/tmp:/bin/sh\n", uid, os.Getgid())
		group += fmt.Sprintf("user:x:%d:\n", os.Getgid())
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644)
}

// fullPackages are the Debian packages of a full image per MPI. libpmix2
// is always there: hpcbench's own PMIx server (per-node layout) needs it.
var fullPackages = map[string][]string{
	"mpich":   {"libmpich12", "libpmix2"},
	"openmpi": {"libopenmpi3", "openmpi-common", "libpmix2"},
}

// buildFull makes a Debian minbase with debootstrap, from the mirror the
// host's own apt sources use, then adds the binaries and their libraries.
func buildFull(ctx context.Context, root string, opts BuildOptions, bins []BinaryInput, log io.Writer) error {
	if !isRoot() {
		return errors.New("a full image needs debootstrap, which runs as root: build as root or use --minimal")
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap not found: install it, or use --minimal")
	}
	mirror := opts.Mirror
	if mirror == "" {
		var err error
		if mirror, err = aptMirror(opts.Suite); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(fullPackages[opts.MPI], ","), opts.Suite, root, mirror)
	cmd.Stdout, cmd.Stderr = log, log
	fmt.Fprintf(log, "debootstrap %s into %s\n", opts.Suite, root)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap: %w (its output is above)", err)
	}
	for _, pattern := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"} {
		matches, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, m := range matches {
			_ = os.Remove(m)
		}
	}
	b := newRootfsBuilder(root)
	b.keepExisting = true
	var elfs []string
	for _, bin := range bins {
		if err := b.add(bin.Path); err != nil {
			return fmt.Errorf("binary %s: %w", bin.Path, err)
		}
		elfs = append(elfs, bin.Path)
	}
	deps, err := lddClosure(ctx, elfs)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if err := b.add(d); err != nil {
			return fmt.Errorf("library %s: %w", d, err)
		}
	}
	return addMPIBuilds(ctx, b, opts.MPIBuilds)
}

// aptMirror returns the URI of the host's apt source for suite, from
// /etc/apt/sources.list and /etc/apt/sources.list.d (one-line and deb822
// formats).
func aptMirror(suite string) (string, error) {
	files := []string{"/etc/apt/sources.list"}
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		switch {
		case strings.HasSuffix(f, ".sources"):
			uri = mirrorFromDeb822(string(b), suite)
		case strings.HasSuffix(f, ".list") || f == "/etc/apt/sources.list":
			uri = mirrorFromOneLine(string(b), suite)
		}
		if uri != "" {
			return uri, nil
		}
	}
	return "", fmt.Errorf("no apt source for %s in /etc/apt/sources.list or /etc/apt/sources.list.d: pass a mirror", suite)
}

func mirrorFromOneLine(text, suite string) string {
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 2 && f[1] == suite {
			return f[0]
		}
	}
	return ""
}

func mirrorFromDeb822(text, suite string) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if strings.EqualFold(fields["enabled"], "no") || !contains(strings.Fields(fields["types"]), "deb") {
			continue
		}
		if contains(strings.Fields(fields["suites"]), suite) {
			if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
				return uris[0]
			}
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WriteRootfsTar writes root as a tar stream in a fixed order, so that its
// digest identifies the content (and Docker and Podman import it).
func WriteRootfsTar(root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			return nil // device nodes and the like: the runtime provides /dev
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
