package runtimes

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
)

// The conformance suite and the benchmarks share one fixture folder, kept
// between runs so that images are only rebuilt when their inputs change:
// $HPCBENCH_TEST_DIR, default /tmp/hpcbench-runtimes-test. Programs are
// built there, so that each has the same absolute path in the images as on
// the host.
var fixtureDir string

func TestMain(m *testing.M) {
	fixtureDir = os.Getenv("HPCBENCH_TEST_DIR")
	if fixtureDir == "" {
		fixtureDir = filepath.Join(os.TempDir(), "hpcbench-runtimes-test")
	}
	if os.Getenv("HPCBENCH_IMAGES") == "" {
		os.Setenv("HPCBENCH_IMAGES", filepath.Join(fixtureDir, "images"))
	}
	code := m.Run()
	// PMIx jobs ran in this process: finalise the server and remove its folder.
	if err := pmi.Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// mpiFlavour is the PMI each MPI of the machine speaks.
var mpiFlavour = map[string]pmi.Flavour{"mpich": pmi.PMI1, "openmpi": pmi.PMIx}

var mpiCC = map[string]string{"mpich": "mpicc.mpich", "openmpi": "mpicc.openmpi"}

var (
	buildMu    sync.Mutex
	probes     = map[string]string{}
	probeErrs  = map[string]error{}
	hpcbenchMu sync.Mutex
	hpcbench   string
	hpcbenchE  error
	testImages = map[string]*images.Manifest{}
	imageErrs  = map[string]error{}
)

// probe returns the probe program built with mpi's compiler, or skips.
func probe(t testing.TB, mpi string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := probes[mpi]; ok {
		return p
	}
	if err, ok := probeErrs[mpi]; ok {
		testenv.Skipf(t, "%v", err)
	}
	cc, err := exec.LookPath(mpiCC[mpi])
	if err != nil {
		probeErrs[mpi] = fmt.Errorf("%s not installed: no %s programs (apt-get install lib%s-dev)", mpiCC[mpi], mpi, map[string]string{"mpich": "mpich", "openmpi": "openmpi"}[mpi])
		testenv.Skipf(t, "%v", probeErrs[mpi])
	}
	out := filepath.Join(fixtureDir, mpi, "probe")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(cc, "-O2", "-o", out+".new", "testdata/probe.c").CombinedOutput(); err != nil {
		t.Fatalf("%s testdata/probe.c: %v\n%s", cc, err, b)
	}
	// Keep the old file (and the image built from it) when nothing changed.
	if same(out, out+".new") {
		os.Remove(out + ".new")
	} else if err := os.Rename(out+".new", out); err != nil {
		t.Fatal(err)
	}
	probes[mpi] = out
	return out
}

func same(a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// kernel returns npb/kernels/build/<mpi>/<name>, or skips when it has not
// been built.
func kernel(t testing.TB, mpi, name string) string {
	t.Helper()
	p, _ := filepath.Abs(filepath.Join("..", "npb", "kernels", "build", mpi, name))
	_, err := os.Stat(p)
	testenv.Require(t, p+" (make -C npb/kernels)", err)
	return p
}

// hpcbenchBinary builds hpcbench itself (the per-node layout runs it inside
// the container).
func hpcbenchBinary(t testing.TB) string {
	t.Helper()
	self, err := buildHpcbench()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

func buildHpcbench() (string, error) {
	hpcbenchMu.Lock()
	defer hpcbenchMu.Unlock()
	if hpcbench == "" && hpcbenchE == nil {
		out := filepath.Join(fixtureDir, "bin", "hpcbench")
		cmd := exec.Command("go", "build", "-o", out+".new", "../cmd/hpcbench")
		if b, err := cmd.CombinedOutput(); err != nil {
			hpcbenchE = fmt.Errorf("go build ./cmd/hpcbench: %v\n%s", err, b)
		} else {
			if same(out, out+".new") {
				os.Remove(out + ".new")
			} else {
				os.Rename(out+".new", out)
			}
			hpcbench = out
		}
	}
	return hpcbench, hpcbenchE
}

// testImage builds (once per test binary; the store skips unchanged
// inputs across runs) the minimal image for mpi holding the probe, the
// EP and pingpong kernels where built, and hpcbench.
func testImage(t testing.TB, mpi string, withoutMPI bool) *images.Manifest {
	t.Helper()
	name := testImagePrefix() + mpi
	if withoutMPI {
		name += "-nompi"
	}
	bins := []string{probe(t, mpi)}
	// hpcbench goes in for the per-node layout (its libraries, libpmix);
	// a tree in which it does not build fails only the per-node tests.
	if self, err := buildHpcbench(); err == nil {
		bins = append(bins, self)
	}
	for _, k := range []string{"ep", "pingpong"} {
		if p, _ := filepath.Abs(filepath.Join("..", "npb", "kernels", "build", mpi, k)); fileExists(p) {
			bins = append(bins, p)
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if m := testImages[name]; m != nil {
		return m
	}
	if err := imageErrs[name]; err != nil {
		t.Fatal(err)
	}
	var rts []string
	for _, n := range Names() {
		rt, _ := Get(n)
		if _, imports := rt.(Importer); !imports || rt.Name() != n {
			continue
		}
		if _, err := rt.Detect(context.Background()); err == nil {
			rts = append(rts, n)
		}
	}
	var log bytes.Buffer
	start := time.Now()
	m, err := buildTestImage(context.Background(), images.BuildOptions{
		Name: name, MPI: mpi, Minimal: true, WithoutMPI: withoutMPI,
		Binaries: bins, Log: &log,
	}, rts)
	if err != nil {
		imageErrs[name] = fmt.Errorf("building test image %s: %v\n%s", name, err, log.String())
		t.Fatal(imageErrs[name])
	}
	t.Logf("image %s (%v): %s", name, time.Since(start).Round(time.Millisecond), strings.TrimSpace(log.String()))
	testImages[name] = m
	return m
}

// buildTestImage builds the root filesystem and imports it into the
// runtimes named, as package imagebuild does (which this package's tests
// cannot import: it imports runtimes).
func buildTestImage(ctx context.Context, opts images.BuildOptions, names []string) (*images.Manifest, error) {
	m, rebuilt, err := images.BuildRootfs(ctx, &opts)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		rt, err := Get(n)
		if err != nil {
			return nil, err
		}
		if err := rt.(Importer).ImportRootfs(ctx, m, rebuilt, opts.Log); err != nil {
			return nil, err
		}
		if err := opts.Store.Save(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// testImagePrefix starts the test images' names: $HPCBENCH_TEST_IMAGE_PREFIX,
// default "hpcbench-test-". Docker's and Podman's image names are global
// to the machine; two checkouts testing at once give each its own prefix.
func testImagePrefix() string {
	if p := os.Getenv("HPCBENCH_TEST_IMAGE_PREFIX"); p != "" {
		return p
	}
	return "hpcbench-test-"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// available returns the runtime called name, or skips with the reason.
func available(t testing.TB, name string) Runtime {
	t.Helper()
	rt, err := Get(name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := rt.Detect(context.Background())
	testenv.Require(t, name, err)
	t.Logf("%s %s", name, v)
	return rt
}

// specFor prepares rt's copy of the test image for mpi and layout.
func specFor(t testing.TB, rt Runtime, mpi string, layout Layout) Spec {
	t.Helper()
	spec := Spec{Layout: layout, MPI: mpi}
	if rt.Name() == "native" {
		return spec
	}
	m := testImage(t, mpi, layout == Bind)
	info, err := rt.Prepare(context.Background(), m.Name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Ref == "" {
		t.Fatalf("%s: Prepare(%s) returned no reference", rt.Name(), m.Name)
	}
	spec.Image = info
	return spec
}

var jobSeq int

func newJobID(t testing.TB) string {
	buildMu.Lock()
	defer buildMu.Unlock()
	jobSeq++
	return fmt.Sprintf("t%d-%d", os.Getpid(), jobSeq)
}

// workDir is a per-test working folder under the fixture folder.
func workDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp(filepath.Join(fixtureDir), "work-")
	if err != nil {
		if err := os.MkdirAll(fixtureDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if d, err = os.MkdirTemp(fixtureDir, "work-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// launchResult is one job run through pmi.Launch.
type launchResult struct {
	rep    *pmi.Report
	err    error
	stdout string
	stderr string
	jobID  string
	wall   time.Duration
}

func launchJob(t testing.TB, w pmi.Wrapper, flavour pmi.Flavour, ranks int, argv []string, timeout time.Duration) launchResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	res := launchResult{jobID: newJobID(t)}
	start := time.Now()
	opts := pmi.Options{
		Ranks: ranks, PMI: flavour, Timeout: timeout, Argv: argv,
		Dir: workDir(t), Stdout: &stdout, Stderr: &stderr, Wrapper: w, JobID: res.jobID,
	}
	res.rep, res.err = pmi.Launch(context.Background(), opts)
	res.wall = time.Since(start)
	res.stdout, res.stderr = stdout.String(), stderr.String()
	return res
}

// conformanceFixture is what the conformance suite needs to know of a
// runtime beyond its interface. Every registered runtime must have one: a
// new adapter without fixtures fails the suite (TestConformanceFixtures)
// instead of being left out of it.
type conformanceFixture struct {
	// leftovers lists the containers the runtime still holds of a job;
	// nil where the containers are the rank processes themselves.
	leftovers func(t testing.TB, rt Runtime, jobID string) []string
	// runFlags are a config's runtime.flags the runtime must accept (nil:
	// it takes none); envFlag says they set HPCBENCH_FLAG_SEEN=yes in the
	// ranks' environment.
	runFlags []string
	envFlag  bool
}

var envFlags = []string{"--env", "HPCBENCH_FLAG_SEEN=yes"}

var conformanceFixtures = map[string]conformanceFixture{
	"native":       {},
	"docker":       {leftovers: engineLeftovers, runFlags: envFlags, envFlag: true},
	"podman":       {leftovers: engineLeftovers, runFlags: envFlags, envFlag: true},
	"apptainer":    {runFlags: envFlags, envFlag: true},
	"oci":          {leftovers: ociLeftovers, runFlags: []string{"--no-new-keyring"}},
	"charliecloud": {leftovers: chLeftovers, runFlags: []string{"--set-env=HPCBENCH_FLAG_SEEN=yes"}, envFlag: true},
}

// conformanceRuntimes are the registered runtimes, each once under its
// canonical name (singularity is apptainer's alias), that have fixtures;
// one without fails t.
func conformanceRuntimes(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, n := range Names() {
		rt, _ := Get(n)
		if rt.Name() != n {
			continue
		}
		if _, ok := conformanceFixtures[n]; !ok {
			t.Errorf("runtime %s is registered but has no conformance fixture (add it to conformanceFixtures)", n)
			continue
		}
		names = append(names, n)
	}
	return names
}

// conformanceRuntimesWhere are the conformanceRuntimes for which keep is
// true.
func conformanceRuntimesWhere(t testing.TB, keep func(Runtime) bool) []string {
	t.Helper()
	var names []string
	for _, n := range conformanceRuntimes(t) {
		if rt, _ := Get(n); keep(rt) {
			names = append(names, n)
		}
	}
	return names
}

// isEngine: Docker and Podman, whose containers the tests start and list
// with the engine's own client.
func isEngine(rt Runtime) bool { _, ok := rt.(*engine); return ok }

// leftovers lists what the runtime still holds of job.
func leftovers(t testing.TB, rt Runtime, jobID string) []string {
	t.Helper()
	f, ok := conformanceFixtures[rt.Name()]
	if !ok {
		t.Fatalf("runtime %s has no conformance fixture", rt.Name())
	}
	if f.leftovers == nil {
		return nil
	}
	return f.leftovers(t, rt, jobID)
}

func engineLeftovers(t testing.TB, rt Runtime, jobID string) []string {
	t.Helper()
	e := rt.(*engine)
	ids, err := e.listContainers(context.Background(), LabelJob+"="+jobID)
	if err != nil {
		t.Fatalf("%s ps: %v", e.name, err)
	}
	return ids
}

func ociLeftovers(t testing.TB, rt Runtime, jobID string) []string {
	t.Helper()
	out, err := runTool(context.Background(), nil, rt.(*ociRuntime).binary(), "list")
	if err != nil {
		t.Fatalf("oci list: %v", err)
	}
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "hpcbench-"+jobID+"-") {
			ids = append(ids, f[0])
		}
	}
	return ids
}

func requireNoLeftovers(t testing.TB, rt Runtime, jobID string) {
	t.Helper()
	if left := leftovers(t, rt, jobID); len(left) > 0 {
		t.Errorf("%s kept %d container(s) of job %s after the launch: %v", rt.Name(), len(left), jobID, left)
		_ = rt.Cleanup(context.Background(), pmi.Job{ID: jobID})
	}
}

// chLeftovers lists what a charliecloud job left: its folder, its join
// files, and processes still running in its image copy.
func chLeftovers(t testing.TB, rt Runtime, jobID string) []string {
	t.Helper()
	var left []string
	dir := filepath.Join(os.TempDir(), chJobDirPrefix(os.Getpid())+jobID)
	if fileExists(dir) {
		left = append(left, dir)
	}
	for _, f := range chJoinFiles(chJoinTag(jobID)) {
		if fileExists(f) {
			left = append(left, f)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/root")
	for _, p := range procs {
		if to, err := os.Readlink(p); err == nil && strings.HasPrefix(to, dir) {
			left = append(left, p)
		}
	}
	return left
}
