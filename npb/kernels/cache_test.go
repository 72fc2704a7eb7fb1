package kernels_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/npb/kernels"
)

// oneProgram is the embedded sources cut down to the common file and EP,
// so that the cache tests compile one program per build, not five.
func oneProgram(t *testing.T) fstest.MapFS {
	t.Helper()
	src := fstest.MapFS{}
	for _, name := range []string{"ep.c", "npbcommon.c", "npbcommon.h"} {
		data, err := fs.ReadFile(kernels.Sources(), name)
		if err != nil {
			t.Fatal(err)
		}
		src[name] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return src
}

func TestSourcesAreTheTree(t *testing.T) {
	// The embedded sources are the ones "make kernels" builds.
	progs, err := kernels.Programs(kernels.Sources())
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("src/*.c")
	if len(progs) != len(files)-1 {
		t.Errorf("embedded programs %v, src/ holds %v", progs, files)
	}
	for _, f := range files {
		disk, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		emb, err := fs.ReadFile(kernels.Sources(), filepath.Base(f))
		if err != nil || !bytes.Equal(disk, emb) {
			t.Errorf("embedded %s differs from the tree's (%v)", f, err)
		}
	}
}

func TestCacheBuildsOnceAndRebuildsOnChange(t *testing.T) {
	testenv.LookPath(t, "mpicc.mpich", "install MPICH (Debian: libmpich-dev) to build the kernels")
	ctx := context.Background()
	var log bytes.Buffer
	src := oneProgram(t)
	c := &kernels.Cache{Root: t.TempDir(), Sources: src, Log: &log}
	if _, ok, err := c.Lookup(ctx, "mpich"); ok || err != nil {
		t.Fatalf("empty cache: Lookup found an entry (%v)", err)
	}
	e, built, err := c.Ensure(ctx, "mpich")
	if err != nil || !built {
		t.Fatalf("first Ensure: built %v, %v", built, err)
	}
	ep := filepath.Join(e.Dir, "mpich", "ep")
	st, err := os.Stat(ep)
	if err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Fatalf("no executable %s after the build: %v", ep, err)
	}
	if !strings.Contains(log.String(), "building hpcbench's kernels for mpich") {
		t.Errorf("the build said nothing: %q", log.String())
	}
	// Unchanged sources and wrapper: found, not rebuilt.
	again, built, err := c.Ensure(ctx, "mpich")
	if err != nil || built || again.Dir != e.Dir {
		t.Fatalf("second Ensure: built %v, dir %s (first %s), %v", built, again.Dir, e.Dir, err)
	}
	if st2, err := os.Stat(ep); err != nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("%s changed on the second Ensure", ep)
	}
	// A changed source is a new key, and a new build beside the old one.
	src["ep.c"] = &fstest.MapFile{Data: append(bytes.Clone(src["ep.c"].Data), "\n/* changed */\n"...), Mode: 0o644}
	changed, built, err := c.Ensure(ctx, "mpich")
	if err != nil || !built || changed.Dir == e.Dir {
		t.Fatalf("Ensure after a source change: built %v, dir %s (before %s), %v", built, changed.Dir, e.Dir, err)
	}
	list, err := c.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d entries, %v", len(list), err)
	}
	if list[0].MPI != "mpich" || len(list[0].Programs) != 1 || list[0].Programs[0] != "ep" {
		t.Errorf("entry %+v", list[0])
	}
	// The program runs.
	if _, err := exec.LookPath("mpiexec.mpich"); err == nil {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := exec.CommandContext(rctx, "mpiexec.mpich", "-n", "1", ep, "S").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESSFUL") {
			t.Errorf("%s S: %v\n%s", ep, err, out)
		}
	}
}

func TestConcurrentBuildersShareOneEntry(t *testing.T) {
	testenv.LookPath(t, "mpicc.mpich", "install MPICH (Debian: libmpich-dev) to build the kernels")
	root := t.TempDir()
	src := oneProgram(t)
	var wg sync.WaitGroup
	dirs := make([]string, 3)
	errs := make([]error, 3)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &kernels.Cache{Root: root, Sources: src}
			e, _, err := c.Ensure(context.Background(), "mpich")
			dirs[i], errs[i] = e.Dir, err
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("builder %d: %s, %v (builder 0: %s)", i, dirs[i], errs[i], dirs[0])
		}
	}
	left, _ := filepath.Glob(filepath.Join(root, ".build-*"))
	if len(left) > 0 {
		t.Errorf("temporary build folders left: %v", left)
	}
	if list, _ := (&kernels.Cache{Root: root}).List(); len(list) != 1 {
		t.Errorf("%d entries, want 1", len(list))
	}
}

func TestUnknownMPI(t *testing.T) {
	c := &kernels.Cache{Root: t.TempDir()}
	if _, _, err := c.Ensure(context.Background(), "intelmpi"); !errors.Is(err, kernels.ErrNoWrapper) {
		t.Errorf("Ensure(intelmpi) = %v, want ErrNoWrapper", err)
	}
}

func TestDefaultCacheRoot(t *testing.T) {
	t.Setenv(kernels.CacheEnv, "/somewhere/kernels")
	if got := kernels.DefaultCacheRoot(); got != "/somewhere/kernels" {
		t.Errorf("with $%s: %s", kernels.CacheEnv, got)
	}
	t.Setenv(kernels.CacheEnv, "")
	want := "/var/lib/hpcbench/kernels"
	if os.Geteuid() != 0 {
		t.Setenv("XDG_CACHE_HOME", "/xdg")
		want = "/xdg/hpcbench/kernels"
	}
	if got := kernels.DefaultCacheRoot(); got != want {
		t.Errorf("DefaultCacheRoot() = %s, want %s", got, want)
	}
}
