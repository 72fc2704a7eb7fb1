//go:build cgo && !nopmix

package pmix

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// openMPIEnv are the transport settings of every Open MPI test here: the
// shared-memory transport only, which keeps MPI_Init off UCX probing.
var openMPIEnv = []string{"OMPI_MCA_pml=ob1", "OMPI_MCA_btl=self,vader"}

func TestAvailable(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("Available() = %v in a cgo build", err)
	}
	if v := Version(); !strings.Contains(v, "PMIx") {
		t.Errorf("Version() = %q, want libpmix's version string", v)
	}
}

func TestRankEnvAndJobTable(t *testing.T) {
	job, err := NewJob("hpcbench-test-env", 2, Events{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := job.RankEnv(1)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for k, want := range map[string]string{
		"PMIX_NAMESPACE":  "hpcbench-test-env",
		"PMIX_RANK":       "1",
		"OMPI_MCA_schizo": "^orte",
		"PMIX_GDS_MODULE": "hash",
		"PMIX_MCA_gds":    "hash",
	} {
		if vars[k] != want {
			t.Errorf("RankEnv(1): %s=%q, want %q", k, vars[k], want)
		}
	}
	if uri := vars["PMIX_SERVER_URI41"]; !strings.Contains(uri, "tcp4://127.0.0.1:") {
		t.Errorf("PMIX_SERVER_URI41=%q: want the server on tcp4://127.0.0.1 only", uri)
	}
	if got := job.Settings()["OMPI_MCA_schizo"]; got != "^orte" {
		t.Errorf("Settings() lacks OMPI_MCA_schizo=^orte: %v", job.Settings())
	}
	if st, err := os.Stat(job.Tmpdir()); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("Tmpdir %s: %v, mode %v; want a private folder", job.Tmpdir(), err, st.Mode())
	}
	if !strings.HasPrefix(vars["PMIX_SERVER_TMPDIR"], job.Tmpdir()) {
		t.Errorf("PMIX_SERVER_TMPDIR=%q is not under Tmpdir() %s", vars["PMIX_SERVER_TMPDIR"], job.Tmpdir())
	}

	if _, err := job.RankEnv(2); err == nil {
		t.Error("RankEnv(2) of a 2-rank job: no error")
	}
	if _, err := NewJob("hpcbench-test-env", 1, Events{}); err == nil {
		t.Error("NewJob with a namespace in use: no error")
	}
	if _, err := NewJob("", 1, Events{}); err == nil {
		t.Error("NewJob with an empty namespace: no error")
	}
	if _, err := NewJob("hpcbench-test-zero", 0, Events{}); err == nil {
		t.Error("NewJob with 0 ranks: no error")
	}
	if err := Shutdown(); err == nil {
		t.Error("Shutdown with a job open: no error")
	}
	if err := job.Close(); err != nil {
		t.Fatal(err)
	}
	if err := job.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := job.RankEnv(0); !errors.Is(err, ErrJobClosed) {
		t.Errorf("RankEnv after Close: %v, want ErrJobClosed", err)
	}
	// The namespace is free again.
	again, err := NewJob("hpcbench-test-env", 1, Events{})
	if err != nil {
		t.Fatalf("NewJob after Close of the same namespace: %v", err)
	}
	again.Close()
}

// TestPMIxClient runs bare PMIx clients: put, commit, fence with data,
// get of every peer's key.
func TestPMIxClient(t *testing.T) {
	bin := program(t, "pmix_client")
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("ranks=%d", n), func(t *testing.T) {
			o := runJob(t, fmt.Sprintf("hpcbench-test-client-%d", n), n, []string{bin}, nil, "", 30*time.Second)
			ok := !o.timedOut
			for r := range n {
				if o.exit[r] != 0 || !strings.Contains(o.stdout[r], fmt.Sprintf("rank %d of %d ok", r, n)) {
					ok = false
				}
				if o.connected[r] == 0 {
					t.Errorf("rank %d: no Connected event", r)
				}
				if !o.finalized[r] {
					t.Errorf("rank %d: no Finalized event", r)
				}
			}
			if o.fences < 1 || o.firstFence == 0 {
				t.Errorf("%d fences seen: the fence up-call was not made", o.fences)
			}
			if !ok {
				o.dump(t)
				t.Fatal("job failed")
			}
		})
	}
}

func checkHello(t *testing.T, o *outcome, n int) {
	t.Helper()
	ok := !o.timedOut
	for r := range n {
		want := fmt.Sprintf("rank %d of %d sum %d", r, n, n*(n+1)/2)
		if o.exit[r] != 0 || !strings.Contains(o.stdout[r], want) {
			ok = false
			t.Errorf("rank %d: exit %d, want 0 and %q", r, o.exit[r], want)
		}
		if o.connected[r] == 0 {
			t.Errorf("rank %d: no Connected event", r)
		}
	}
	if o.firstFence == 0 {
		t.Error("no fence seen")
	}
	if !ok {
		o.dump(t)
	}
}

func TestOpenMPIHello(t *testing.T) {
	bin := program(t, "mpi_hello")
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("ranks=%d", n), func(t *testing.T) {
			o := runJob(t, fmt.Sprintf("hpcbench-test-hello-%d", n), n, []string{bin}, openMPIEnv, "", 60*time.Second)
			checkHello(t, o, n)
		})
	}
}

// TestJobsInSequence runs five jobs one after another in one server, as a
// matrix does, and checks that closing a job leaves nothing behind in the
// server's tmpdir.
func TestJobsInSequence(t *testing.T) {
	bin := program(t, "mpi_hello")
	probe, err := NewJob("hpcbench-test-seq-probe", 1, Events{})
	if err != nil {
		t.Fatal(err)
	}
	tmpdir := probe.Tmpdir()
	probe.Close()
	before := countFiles(t, tmpdir)
	for i := range 5 {
		o := runJob(t, fmt.Sprintf("hpcbench-test-seq-%d", i), 2, []string{bin}, openMPIEnv, "", 60*time.Second)
		checkHello(t, o, 2)
		if t.Failed() {
			t.Fatalf("job %d of 5 failed", i+1)
		}
	}
	if after := countFiles(t, tmpdir); after > before {
		t.Errorf("server tmpdir holds %d files after 5 jobs, %d before: jobs leak files", after, before)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range entries {
		n++
	}
	return n
}

// TestOpenMPIAbort: MPI_Abort in one rank reaches the server as an abort
// up-call, and the job's other ranks are gone within a second of it.
func TestOpenMPIAbort(t *testing.T) {
	bin := program(t, "mpi_abort")
	const n = 3
	o := runJob(t, "hpcbench-test-abort", n, []string{bin}, openMPIEnv, "", 30*time.Second)
	if o.abortRank != n-1 || o.abortCode != 7 {
		o.dump(t)
		t.Fatalf("abort from rank %d with code %d, want rank %d code 7", o.abortRank, o.abortCode, n-1)
	}
	if o.timedOut {
		t.Fatal("job timed out instead of ending on abort")
	}
	if d := o.lastExitAt.Sub(o.abortAt); d > time.Second {
		t.Errorf("last rank ended %v after the abort, want within 1s", d)
	}
	for r := 0; r < n-1; r++ {
		if o.exit[r] == 0 {
			t.Errorf("rank %d exited 0 after another rank aborted", r)
		}
	}
}

// TestHungRankTimesOut: a rank that never reaches a barrier is killed with
// the rest of its job at the timeout, and the server serves the next job.
func TestHungRankTimesOut(t *testing.T) {
	bin := program(t, "mpi_hang")
	start := time.Now()
	o := runJob(t, "hpcbench-test-hang", 2, []string{bin}, openMPIEnv, "", 3*time.Second)
	if !o.timedOut {
		o.dump(t)
		t.Fatal("a hung job was not timed out")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("hung job took %v to end with a 3s timeout", d)
	}
	for r, code := range o.exit {
		if code != -9 {
			t.Errorf("rank %d: exit %d, want killed (-9)", r, code)
		}
	}
	hello := program(t, "mpi_hello")
	checkHello(t, runJob(t, "hpcbench-test-after-hang", 2, []string{hello}, openMPIEnv, "", 60*time.Second), 2)
}
