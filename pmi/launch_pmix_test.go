//go:build cgo && !nopmix

package pmi_test

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

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/pmi/pmix"
)

// pmixOpenMPIEnv keeps Open MPI's MPI_Init off UCX probing, as every cell
// with Open MPI does.
var pmixOpenMPIEnv = []string{"OMPI_MCA_pml=ob1", "OMPI_MCA_btl=self,vader"}

// requirePMIx skips a test when libpmix cannot start a server or Open
// MPI's compiler is missing. Builds without PMIx do not compile this file;
// their stub is tested by TestLaunchPMIxWithoutPMIx.
func requirePMIx(t *testing.T) {
	t.Helper()
	testenv.Require(t, "PMIx", pmix.Available())
	testenv.LookPath(t, "mpicc.openmpi", "install libopenmpi-dev")
}

// buildOpenMPIProgram compiles pmi/testdata/NAME.c with Open MPI's mpicc
// into a folder of the test.
func buildOpenMPIProgram(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	b, err := exec.Command("mpicc.openmpi", "-O1", "-o", out, filepath.Join("testdata", name+".c")).CombinedOutput()
	if err != nil {
		t.Fatalf("building %s with mpicc.openmpi: %v\n%s", name, err, b)
	}
	return out
}

// tmpdirRecorder is a Wrapper that changes nothing and records the PMIx
// tmpdir the launcher hands to runtime adapters.
type tmpdirRecorder struct {
	mu     sync.Mutex
	tmpdir []string
}

func (w *tmpdirRecorder) Channel() pmi.Channel { return pmi.ChannelFD }
func (w *tmpdirRecorder) WrapRank(job pmi.Job, _ *pmi.RankCommand) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tmpdir = append(w.tmpdir, job.PMIxTmpdir)
	return nil
}
func (w *tmpdirRecorder) Cleanup(pmi.Job) error { return nil }

type pmixRun struct {
	rep            *pmi.Report
	stdout, stderr bytes.Buffer
}

func launchPMIx(t *testing.T, ctx context.Context, opts pmi.Options) *pmixRun {
	t.Helper()
	run := &pmixRun{}
	opts.PMI = pmi.PMIx
	opts.Stdout, opts.Stderr = &run.stdout, &run.stderr
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	rep, err := pmi.Launch(ctx, opts)
	if err != nil {
		t.Fatalf("Launch %v: %v\nstderr:\n%s", opts.Argv, err, run.stderr.String())
	}
	run.rep = rep
	return run
}

func (r *pmixRun) requireOK(t *testing.T) {
	t.Helper()
	if !r.rep.OK() {
		t.Fatalf("launch failed: %s (exit codes %v)\nstdout:\n%s\nstderr:\n%s",
			r.rep.Reason, r.rep.ExitCodes, r.stdout.String(), r.stderr.String())
	}
}

func TestLaunchPMIxOpenMPIHello(t *testing.T) {
	requirePMIx(t)
	hello := buildOpenMPIProgram(t, "hello_mpi")
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("ranks=%d", n), func(t *testing.T) {
			w := &tmpdirRecorder{}
			run := launchPMIx(t, context.Background(), pmi.Options{
				Ranks: n, Argv: []string{hello}, Env: pmixOpenMPIEnv, Wrapper: w,
			})
			run.requireOK(t)
			rep := run.rep
			for r := range n {
				want := fmt.Sprintf("rank %d of %d sum %d", r, n, n*(n-1)/2)
				if !strings.Contains(run.stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, run.stdout.String())
				}
				if rep.Negotiated[r] != "pmix" {
					t.Errorf("rank %d negotiated %q, want pmix", r, rep.Negotiated[r])
				}
			}
			if rep.WireUp <= 0 || rep.WireUp > rep.Wall {
				t.Errorf("WireUp %v outside (0, Wall %v]", rep.WireUp, rep.Wall)
			}
			if rep.FirstFence <= 0 || rep.FirstFence > rep.Wall {
				t.Errorf("FirstFence %v outside (0, Wall %v]", rep.FirstFence, rep.Wall)
			}
			if rep.ContainerStart <= 0 || rep.PMIExchange <= 0 || rep.ContainerStart+rep.PMIExchange > rep.FirstFence {
				t.Errorf("container start %v, PMI exchange %v: want both > 0 and their sum within the first fence %v",
					rep.ContainerStart, rep.PMIExchange, rep.FirstFence)
			}
			if rep.Settings["OMPI_MCA_schizo"] != "^orte" {
				t.Errorf("Settings %v lack OMPI_MCA_schizo=^orte", rep.Settings)
			}
			if len(w.tmpdir) != n || w.tmpdir[0] == "" {
				t.Fatalf("runtime adapter saw PMIxTmpdir %q, want the server's tmpdir for each of %d ranks", w.tmpdir, n)
			}
			if st, err := os.Stat(w.tmpdir[0]); err != nil || !st.IsDir() {
				t.Errorf("PMIxTmpdir %s: %v", w.tmpdir[0], err)
			}
		})
	}
}

// TestLaunchPMIxJobsInSequence: one process serves job after job, as a
// matrix does.
func TestLaunchPMIxJobsInSequence(t *testing.T) {
	requirePMIx(t)
	hello := buildOpenMPIProgram(t, "hello_mpi")
	for i := range 5 {
		run := launchPMIx(t, context.Background(), pmi.Options{Ranks: 2, Argv: []string{hello}, Env: pmixOpenMPIEnv})
		if !run.rep.OK() {
			t.Fatalf("job %d of 5: %s\n%s", i+1, run.rep.Reason, run.stderr.String())
		}
	}
}

func TestLaunchPMIxAbort(t *testing.T) {
	requirePMIx(t)
	prog := buildOpenMPIProgram(t, "abort_mpi")
	run := launchPMIx(t, context.Background(), pmi.Options{Ranks: 3, Argv: []string{prog}, Env: pmixOpenMPIEnv})
	rep := run.rep
	if rep.FailedRank != 1 || rep.ExitStatus != 7 || rep.Reason != "rank 1 called abort with code 7" {
		t.Fatalf("report: failed rank %d, exit status %d, reason %q; want rank 1 aborting with 7\n%s",
			rep.FailedRank, rep.ExitStatus, rep.Reason, run.stderr.String())
	}
	// Without the abort up-call Open MPI's other ranks wait 30 s.
	if rep.Wall > 5*time.Second {
		t.Errorf("an aborted job took %v to end", rep.Wall)
	}
}

func TestLaunchPMIxRankKilledBySignal(t *testing.T) {
	requirePMIx(t)
	prog := buildOpenMPIProgram(t, "segv_mpi")
	run := launchPMIx(t, context.Background(), pmi.Options{Ranks: 2, Argv: []string{prog}, Env: pmixOpenMPIEnv})
	rep := run.rep
	if rep.OK() || rep.FailedRank != 1 || rep.ExitCodes[1] != -11 {
		t.Fatalf("report: reason %q, failed rank %d, exit codes %v; want rank 1 killed by signal 11",
			rep.Reason, rep.FailedRank, rep.ExitCodes)
	}
}

func TestLaunchPMIxTimeout(t *testing.T) {
	requirePMIx(t)
	prog := buildOpenMPIProgram(t, "hang_mpi")
	run := launchPMIx(t, context.Background(), pmi.Options{
		Ranks: 2, Argv: []string{prog}, Env: pmixOpenMPIEnv, Timeout: 2 * time.Second,
	})
	if !strings.Contains(run.rep.Reason, "timeout after 2s") {
		t.Fatalf("reason %q, want a timeout", run.rep.Reason)
	}
	for r, code := range run.rep.ExitCodes {
		if code >= 0 {
			t.Errorf("rank %d exit %d after a timeout, want killed", r, code)
		}
	}
}

func TestLaunchPMIxInterrupted(t *testing.T) {
	requirePMIx(t)
	prog := buildOpenMPIProgram(t, "hang_mpi")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	run := launchPMIx(t, ctx, pmi.Options{Ranks: 2, Argv: []string{prog}, Env: pmixOpenMPIEnv})
	if run.rep.Reason != "interrupted" {
		t.Fatalf("reason %q, want interrupted", run.rep.Reason)
	}
	if run.rep.WireUp == 0 {
		t.Error("ranks never connected before the interruption")
	}
}

// TestLaunchPMIxCG runs the project's CG kernel, built with Open MPI, at 4
// ranks (oversubscribed on small machines) and checks it verifies.
func TestLaunchPMIxCG(t *testing.T) {
	requirePMIx(t)
	cg, err := filepath.Abs(filepath.Join("..", "npb", "kernels", "build", "openmpi", "cg"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(cg)
	testenv.Require(t, "the CG kernel for Open MPI (make -C npb/kernels)", err)
	run := launchPMIx(t, context.Background(), pmi.Options{
		Ranks: 4, Argv: []string{cg, "S"}, Env: append(pmixOpenMPIEnv, "OMPI_MCA_mpi_yield_when_idle=1"),
	})
	run.requireOK(t)
	results, err := npb.ParseNPB(strings.NewReader(run.stdout.String()), 4)
	if err != nil {
		t.Fatalf("parsing CG output: %v\n%s", err, run.stdout.String())
	}
	if len(results) != 1 || !results[0].Valid {
		t.Fatalf("CG at 4 ranks did not verify: %+v\n%s", results, run.stdout.String())
	}
}

// TestLaunchPMIxHPCC runs Debian's hpcc (an Open MPI program) with a small
// problem in a fresh folder and checks hpccoutf.txt reports success.
func TestLaunchPMIxHPCC(t *testing.T) {
	requirePMIx(t)
	hpcc := testenv.LookPath(t, "hpcc", "install Debian's hpcc")
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("ranks=%d", n), func(t *testing.T) {
			dir := t.TempDir()
			p, q := npb.Grid(n)
			var inf bytes.Buffer
			if err := npb.WriteHPCCInf(&inf, npb.HPLInput{N: 500, NB: 64, P: p, Q: q}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "hpccinf.txt"), inf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			run := launchPMIx(t, context.Background(), pmi.Options{
				Ranks: n, Argv: []string{hpcc}, Dir: dir, Env: pmixOpenMPIEnv, Timeout: 5 * time.Minute,
			})
			run.requireOK(t)
			out, err := os.ReadFile(filepath.Join(dir, "hpccoutf.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte("\nSuccess=1\n")) {
				t.Fatalf("hpccoutf.txt lacks Success=1:\n%s", out)
			}
			if !bytes.Contains(out, []byte(fmt.Sprintf("CommWorldProcs=%d\n", n))) {
				t.Errorf("hpccoutf.txt does not report %d processes", n)
			}
		})
	}
}

// A process that ran a PMIx job and ended as hpcbench's main does leaves
// no PMIx folder behind in its TMPDIR.
func TestPMIxProcessLeavesNoFolder(t *testing.T) {
	requirePMIx(t)
	hello := buildOpenMPIProgram(t, "hello_mpi")
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "TMPDIR="+tmp, pmi.PMIxProcessEnv+"="+hello), pmixOpenMPIEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the PMIx process: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	for r := range 2 {
		if want := fmt.Sprintf("rank %d of 2 sum 1", r); !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The job's folder was there while it ran, in the TMPDIR given...
	want := fmt.Sprintf("pmix tmpdir %s%chpcbench-pmix-", tmp, filepath.Separator)
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), " existed true") {
		t.Fatalf("output does not show a PMIx folder under %s during the job:\n%s", tmp, out)
	}
	// ...and is gone now that the process ended.
	left, err := filepath.Glob(filepath.Join(tmp, "hpcbench-pmix-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("the process left %q behind", left)
	}
}
