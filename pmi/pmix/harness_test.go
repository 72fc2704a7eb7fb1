//go:build cgo && !nopmix

package pmix

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// programs holds the test programs, built once per test binary.
var programs struct {
	once sync.Once
	dir  string
	err  map[string]error
}

// TestMain shuts the server down after every test and benchmark, checking
// that Shutdown succeeds once every job is closed and that it is final:
// libpmix cannot start a second server in a process, so NewJob must refuse
// with ErrServerShutDown rather than crash. Then it removes the programs.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pmix.Shutdown:", err)
		code = 1
	}
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "second pmix.Shutdown:", err)
		code = 1
	}
	if _, err := NewJob("hpcbench-test-after-shutdown", 1, Events{}); !errors.Is(err, ErrServerShutDown) {
		fmt.Fprintln(os.Stderr, "NewJob after Shutdown:", err, "; want ErrServerShutDown")
		code = 1
	}
	if programs.dir != "" {
		os.RemoveAll(programs.dir)
	}
	os.Exit(code)
}

// program returns the path of a test program built from testdata/NAME.c
// (mpi_* with mpicc.openmpi, the rest against libpmix), skipping the test
// when the compiler is missing.
func program(t testing.TB, name string) string {
	t.Helper()
	programs.once.Do(func() {
		dir, err := os.MkdirTemp("", "hpcbench-pmix-test-")
		if err != nil {
			panic(err)
		}
		programs.dir = dir
		programs.err = map[string]error{}
	})
	out := filepath.Join(programs.dir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if err, failed := programs.err[name]; failed {
		testenv.Skipf(t, "%v", err)
	}
	src, _ := filepath.Abs(filepath.Join("testdata", name+".c"))
	var cmd *exec.Cmd
	if len(name) > 4 && name[:4] == "mpi_" {
		if _, err := exec.LookPath("mpicc.openmpi"); err != nil {
			programs.err[name] = fmt.Errorf("mpicc.openmpi not found (install libopenmpi-dev): %v", err)
			testenv.Skipf(t, "%v", programs.err[name])
		}
		cmd = exec.Command("mpicc.openmpi", "-O1", "-o", out, src)
	} else {
		flags, err := exec.Command("pkg-config", "--cflags", "--libs", "pmix").Output()
		if err != nil {
			programs.err[name] = fmt.Errorf("pkg-config pmix failed (install libpmix-dev): %v", err)
			testenv.Skipf(t, "%v", programs.err[name])
		}
		args := append([]string{"-O1", "-o", out, src}, splitFields(string(flags))...)
		cmd = exec.Command("cc", args...)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, b)
	}
	return out
}

func splitFields(s string) []string {
	var out []string
	for _, f := range bytes.Fields([]byte(s)) {
		out = append(out, string(f))
	}
	return out
}

// outcome is what runJob observed.
type outcome struct {
	exit      []int // -signal for a signal death
	stdout    []string
	stderr    []string
	connected []time.Duration // since the first spawn; 0: never
	finalized []bool
	fences    int
	// firstFence is since the first spawn; 0: none.
	firstFence time.Duration
	abortRank  int // -1: none
	abortCode  int
	abortMsg   string
	abortAt    time.Time
	timedOut   bool
	wall       time.Duration
	lastExitAt time.Time
	settings   map[string]string
}

// runJob is a minimal launcher over this package, the way pmi.Launch uses
// it: register the job, spawn each rank with RankEnv, kill every rank when
// one aborts or the timeout passes, reap, close.
func runJob(t testing.TB, nspace string, ranks int, argv []string, env []string, dir string, timeout time.Duration) *outcome {
	t.Helper()
	o := &outcome{
		exit:      make([]int, ranks),
		stdout:    make([]string, ranks),
		stderr:    make([]string, ranks),
		connected: make([]time.Duration, ranks),
		finalized: make([]bool, ranks),
		abortRank: -1,
	}
	var (
		mu     sync.Mutex
		start  time.Time
		procs  []*os.Process
		killed bool
	)
	killAll := func() {
		mu.Lock()
		defer mu.Unlock()
		killed = true
		for _, p := range procs {
			p.Signal(syscall.SIGKILL)
		}
	}
	job, err := NewJob(nspace, ranks, Events{
		Connected: func(r int) {
			mu.Lock()
			o.connected[r] = time.Since(start)
			mu.Unlock()
		},
		Finalized: func(r int) {
			mu.Lock()
			o.finalized[r] = true
			mu.Unlock()
		},
		Aborted: func(r, status int, msg string) {
			mu.Lock()
			if o.abortRank < 0 {
				o.abortRank, o.abortCode, o.abortMsg, o.abortAt = r, status, msg, time.Now()
			}
			mu.Unlock()
			killAll()
		},
		FenceDone: func() {
			mu.Lock()
			o.fences++
			if o.firstFence == 0 {
				o.firstFence = time.Since(start)
			}
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("NewJob(%s, %d): %v", nspace, ranks, err)
	}
	defer func() {
		if err := job.Close(); err != nil {
			t.Errorf("closing job %s: %v", nspace, err)
		}
	}()
	o.settings = job.Settings()

	cmds := make([]*exec.Cmd, ranks)
	outs := make([]*bytes.Buffer, ranks)
	errs := make([]*bytes.Buffer, ranks)
	envs := make([][]string, ranks)
	for r := range ranks {
		renv, err := job.RankEnv(r)
		if err != nil {
			t.Fatal(err)
		}
		envs[r] = append(append(os.Environ(), renv...), env...)
	}
	mu.Lock()
	start = time.Now()
	for r := range ranks {
		c := exec.Command(argv[0], argv[1:]...)
		c.Env = envs[r]
		c.Dir = dir
		outs[r], errs[r] = new(bytes.Buffer), new(bytes.Buffer)
		c.Stdout, c.Stderr = outs[r], errs[r]
		if err := c.Start(); err != nil {
			mu.Unlock()
			killAll()
			t.Fatalf("starting rank %d: %v", r, err)
		}
		cmds[r] = c
		procs = append(procs, c.Process)
	}
	mu.Unlock()

	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			mu.Lock()
			o.timedOut = !killed
			mu.Unlock()
			killAll()
		})
	}
	for r, c := range cmds {
		c.Wait()
		ws := c.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			o.exit[r] = -int(ws.Signal())
		} else {
			o.exit[r] = ws.ExitStatus()
		}
	}
	o.lastExitAt = time.Now()
	if timer != nil {
		timer.Stop()
	}
	mu.Lock()
	o.wall = time.Since(start)
	mu.Unlock()
	for r := range ranks {
		o.stdout[r], o.stderr[r] = outs[r].String(), errs[r].String()
	}
	return o
}

// dump logs every rank's output, for a failing test.
func (o *outcome) dump(t testing.TB) {
	t.Helper()
	for r := range o.exit {
		t.Logf("rank %d exit %d\nstdout:\n%s\nstderr:\n%s", r, o.exit[r], o.stdout[r], o.stderr[r])
	}
}
