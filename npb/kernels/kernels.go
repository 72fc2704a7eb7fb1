// Package kernels carries the C sources of hpcbench's own MPI kernels (EP,
// IS, CG, MG and the ping-pong probe, in src/) inside the hpcbench binary
// and builds them on first use with an MPI's compiler wrapper into a
// cache, so that the built-in quick study runs in any folder, not only in
// the source tree after "make kernels".
//
// A build lives in <cache>/<key>/<mpi>/<program>. The key is a digest of
// everything the programs depend on: the sources, the compile flags, the
// wrapper's real path and content, and what the wrapper says of its
// compiler and MPI version. A changed MPI or source gets a new key, so it
// is rebuilt; an unchanged one is found and never rebuilt. A build is made
// in a temporary folder beside the cache entries and renamed into place,
// so a concurrent builder sees either no entry or a complete one.
package kernels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

//go:embed src/*.c src/*.h
var embedded embed.FS

// Sources are the kernels' C sources as hpcbench carries them, at the root
// of the returned file system (ep.c, npbcommon.h, ...).
func Sources() fs.FS {
	sub, err := fs.Sub(embedded, "src")
	if err != nil {
		// The pattern above is checked at compile time.
		panic(err)
	}
	return sub
}

// CacheEnv moves the cache: a folder that replaces DefaultCacheRoot.
const CacheEnv = "HPCBENCH_KERNELS_CACHE"

// InfoName is the file in each cache entry that says what it was built
// from; an entry without it is incomplete and never used.
const InfoName = "hpcbench-kernels.txt"

// CommonSource is the file every program is linked with; each other .c
// file of the sources is one program.
const CommonSource = "npbcommon.c"

// CFLAGS are the compile flags, the same as npb/kernels/Makefile's.
var CFLAGS = []string{"-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra"}

// Wrappers are the compiler wrappers of the MPI libraries the kernels are
// built for, by MPI name: Debian's, as the Makefile uses. Programs linked
// by mpicc.mpich run on every MPICH build under /opt/hpcbench (same ABI).
var Wrappers = map[string]string{
	"mpich":   "mpicc.mpich",
	"openmpi": "mpicc.openmpi",
}

// Errors the cache wraps.
var (
	// ErrNoWrapper: the MPI's compiler wrapper is not installed (or the
	// MPI is not one the kernels are built for).
	ErrNoWrapper = errors.New("no compiler wrapper for the MPI")
	// ErrBuild: the wrapper failed to compile a program.
	ErrBuild = errors.New("kernel build failed")
)

// DefaultCacheRoot is $HPCBENCH_KERNELS_CACHE, else /var/lib/hpcbench/kernels
// for root, else $XDG_CACHE_HOME/hpcbench/kernels (~/.cache when unset).
func DefaultCacheRoot() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/hpcbench/kernels"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "hpcbench", "kernels")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".cache", "hpcbench", "kernels")
	}
	return filepath.Join(os.TempDir(), "hpcbench-kernels")
}

// Cache builds the kernels into Root and finds them there.
type Cache struct {
	// Root is the cache folder; "" is DefaultCacheRoot.
	Root string
	// Sources are the C sources; nil is the ones hpcbench carries.
	Sources fs.FS
	// Log, when set, gets one line when a build starts and one when it ends.
	Log io.Writer
}

// Entry is one build in the cache.
type Entry struct {
	// Dir holds <mpi>/<program>: the folder {dir} stands for in the
	// quick study's binary template.
	Dir string
	MPI string
	// Key names the entry: a digest of what the programs depend on.
	Key string
	// Info is the content of the entry's InfoName file.
	Info     string
	Programs []string
	Built    time.Time
}

func (c *Cache) root() string { return DefaultCacheRootOr(c.Root) }

// DefaultCacheRootOr is root, or DefaultCacheRoot when root is "".
func DefaultCacheRootOr(root string) string {
	if root != "" {
		return root
	}
	return DefaultCacheRoot()
}

func (c *Cache) sources() fs.FS {
	if c.Sources != nil {
		return c.Sources
	}
	return Sources()
}

// Programs are the names of the programs the sources hold, sorted.
func Programs(src fs.FS) ([]string, error) {
	names, err := fs.Glob(src, "*.c")
	if err != nil {
		return nil, err
	}
	var progs []string
	for _, n := range names {
		if n != CommonSource {
			progs = append(progs, strings.TrimSuffix(n, ".c"))
		}
	}
	if len(progs) == 0 {
		return nil, fmt.Errorf("kernel sources: no program (*.c besides %s)", CommonSource)
	}
	return progs, nil
}

// SourceDigest is the SHA-256 of every source file's name and content, in
// name order.
func SourceDigest(src fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("kernel sources: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, err := fs.ReadFile(src, n)
		if err != nil {
			return "", fmt.Errorf("kernel sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// wrapperFacts describes the compiler wrapper of mpi: its real path, a
// digest of its file, and what it says about the compiler and the MPI.
// They are the wrapper's part of the key, and the entry's info.
func wrapperFacts(ctx context.Context, mpi string) (wrapper string, facts []string, err error) {
	name, ok := Wrappers[mpi]
	if !ok {
		return "", nil, fmt.Errorf("%w: %q (want one of mpich, openmpi)", ErrNoWrapper, mpi)
	}
	wrapper, err = exec.LookPath(name)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %s is not installed", ErrNoWrapper, mpi, name)
	}
	real, err := filepath.EvalSymlinks(wrapper)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrNoWrapper, wrapper, err)
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrNoWrapper, real, err)
	}
	sum := sha256.Sum256(data)
	facts = append(facts, "wrapper "+wrapper, "wrapper_file "+real, "wrapper_sha256 "+hex.EncodeToString(sum[:]))
	// The compiler behind the wrapper, and the flags and libraries it adds
	// (which name the MPI's install); Open MPI also states its version.
	queries := [][]string{{"--version"}, {"-show"}}
	if mpi == "openmpi" {
		queries = [][]string{{"--version"}, {"--showme"}, {"--showme:version"}}
	}
	for _, q := range queries {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(qctx, wrapper, q...).CombinedOutput()
		cancel()
		if err != nil {
			return "", nil, fmt.Errorf("%w: %s %s: %v", ErrNoWrapper, wrapper, strings.Join(q, " "), err)
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		facts = append(facts, fmt.Sprintf("%s %s", strings.Join(q, " "), first))
		h := sha256.Sum256(out)
		facts = append(facts, fmt.Sprintf("%s_sha256 %s", strings.Join(q, " "), hex.EncodeToString(h[:8])))
	}
	return wrapper, facts, nil
}

// key is the cache key of mpi's build of the sources, and the info lines
// that went into it.
func (c *Cache) key(ctx context.Context, mpi string) (key, wrapper string, info []string, err error) {
	digest, err := SourceDigest(c.sources())
	if err != nil {
		return "", "", nil, err
	}
	wrapper, facts, err := wrapperFacts(ctx, mpi)
	if err != nil {
		return "", "", nil, err
	}
	info = append([]string{"mpi " + mpi, "sources_sha256 " + digest, "cflags " + strings.Join(CFLAGS, " ")}, facts...)
	h := sha256.Sum256([]byte(strings.Join(info, "\n")))
	return hex.EncodeToString(h[:8]), wrapper, info, nil
}

// Lookup returns the cache entry of mpi's build of the current sources, or
// ok false when there is none yet.
func (c *Cache) Lookup(ctx context.Context, mpi string) (e Entry, ok bool, err error) {
	key, _, _, err := c.key(ctx, mpi)
	if err != nil {
		return Entry{}, false, err
	}
	e, err = readEntry(filepath.Join(c.root(), key), mpi)
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, false, nil
	}
	return e, err == nil, err
}

// Ensure returns the entry of mpi's build of the current sources, building
// it first when the cache has none (built says so).
func (c *Cache) Ensure(ctx context.Context, mpi string) (e Entry, built bool, err error) {
	key, wrapper, info, err := c.key(ctx, mpi)
	if err != nil {
		return Entry{}, false, err
	}
	dir := filepath.Join(c.root(), key)
	if e, err := readEntry(dir, mpi); err == nil {
		return e, false, nil
	}
	if err := c.build(ctx, dir, mpi, wrapper, info); err != nil {
		return Entry{}, false, err
	}
	e, err = readEntry(dir, mpi)
	return e, true, err
}

// build compiles every program with wrapper into a temporary folder beside
// dir, then renames the folder to dir. When another builder renamed its
// own first, that one is kept and this one removed.
func (c *Cache) build(ctx context.Context, dir, mpi, wrapper string, info []string) error {
	root := filepath.Dir(dir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("kernels cache %s: %w", root, err)
	}
	tmp, err := os.MkdirTemp(root, ".build-"+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("kernels cache %s: %w", root, err)
	}
	defer os.RemoveAll(tmp)
	src := c.sources()
	srcDir := filepath.Join(tmp, "src")
	if err := os.CopyFS(srcDir, src); err != nil {
		return fmt.Errorf("kernels cache: copy the sources to %s: %w", srcDir, err)
	}
	progs, err := Programs(src)
	if err != nil {
		return err
	}
	out := filepath.Join(tmp, mpi)
	if err := os.Mkdir(out, 0o755); err != nil {
		return fmt.Errorf("kernels cache: %w", err)
	}
	start := time.Now()
	if c.Log != nil {
		fmt.Fprintf(c.Log, "building hpcbench's kernels for %s with %s into %s (once; later studies reuse them)\n", mpi, filepath.Base(wrapper), dir)
	}
	for _, p := range progs {
		args := append(slices.Clone(CFLAGS),
			fmt.Sprintf("-DNPB_MPICC=%q", filepath.Base(wrapper)), fmt.Sprintf("-DNPB_CFLAGS=%q", CFLAGS[0]),
			"-o", filepath.Join(out, p), filepath.Join(srcDir, p+".c"), filepath.Join(srcDir, CommonSource), "-lm")
		cmd := exec.CommandContext(ctx, wrapper, args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w: %s: %s %s: %v\n%s", ErrBuild, mpi, wrapper, path.Join("src", p+".c"), err, strings.TrimSpace(stderr.String()))
		}
	}
	if err := os.RemoveAll(srcDir); err != nil {
		return fmt.Errorf("kernels cache: %w", err)
	}
	info = append(info, "programs "+strings.Join(progs, " "), "built "+time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(tmp, InfoName), []byte(strings.Join(info, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("kernels cache: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("kernels cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, InfoName)); statErr == nil {
			// Another builder finished first: its entry is as good.
			return nil
		}
		return fmt.Errorf("kernels cache: move the build to %s: %w", dir, err)
	}
	if c.Log != nil {
		fmt.Fprintf(c.Log, "built %d kernels for %s in %s\n", len(progs), mpi, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// readEntry reads the entry at dir for mpi; an entry without its info file
// or its MPI's folder does not exist.
func readEntry(dir, mpi string) (Entry, error) {
	info, err := os.ReadFile(filepath.Join(dir, InfoName))
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Dir: dir, Key: filepath.Base(dir), Info: string(info)}
	for _, line := range strings.Split(string(info), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "mpi":
			e.MPI = v
		case "programs":
			e.Programs = strings.Fields(v)
		case "built":
			e.Built, _ = time.Parse(time.RFC3339, v)
		}
	}
	if mpi != "" && e.MPI != mpi {
		return Entry{}, fmt.Errorf("kernels cache %s: built for %q, not %q: %w", dir, e.MPI, mpi, fs.ErrNotExist)
	}
	if _, err := os.Stat(filepath.Join(dir, e.MPI)); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// List returns every complete entry of the cache, oldest first.
func (c *Cache) List() ([]Entry, error) {
	dirs, err := os.ReadDir(c.root())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kernels cache: %w", err)
	}
	var out []Entry
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		if e, err := readEntry(filepath.Join(c.root(), d.Name()), ""); err == nil {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Built.Before(out[j].Built) })
	return out, nil
}

// Clean removes the cache folder and everything in it, returning what it
// removed ("" when there was nothing).
func (c *Cache) Clean() (string, error) {
	root := c.root()
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err := os.RemoveAll(root); err != nil {
		return "", fmt.Errorf("kernels cache: %w", err)
	}
	return root, nil
}
