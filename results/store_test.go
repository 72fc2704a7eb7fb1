package results

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var testHost = Host{Hostname: "node1", CPUModel: "Test CPU @ 2.0GHz", Cores: 2, MemoryBytes: 24 << 30, Kernel: "6.1.0-test"}

func testRun(study string, cell Cell, rep int, value float64) Run {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(time.Duration(rep) * time.Minute)
	if cell.Key == "" {
		cell.Key = cell.CanonicalKey()
	}
	return Run{
		Study: study, Host: testHost, Cell: cell, Repetition: rep,
		Status:  StatusOK,
		Metric:  Metric{Name: "time", Value: value, Unit: "s"},
		Metrics: map[string]any{"time_s": value, "mops_total": 1000 / value},
		Wall:    time.Duration(value*1e9) + 200*time.Millisecond, WireUp: 12 * time.Millisecond, FirstFence: 15 * time.Millisecond,
		ContainerStart: 8 * time.Millisecond, PMIExchange: 5 * time.Millisecond,
		NegotiatedPMI: []string{"pmi1", "pmi1"}, ExitCodes: []int{0, 0}, PeakRSSKiB: []int64{10240, 10300},
		Choices: map[string]string{"network": "host", "channel": "fd"},
		Env:     map[string]string{"OMPI_MCA_btl": "self,vader"},
		Argv:    []string{"cg.S.x"},
		Started: t0, Finished: t0.Add(time.Duration(value * 1e9)),
		Order: rep, Seed: 42,
	}
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	st, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	if err := st.CreateStudy(ctx, Study{Name: "s1", Seed: 7, Config: "[matrix]\n", Version: "v-test"}); err != nil {
		t.Fatal(err)
	}
	cell := Cell{Benchmark: "cg", Kind: "npb", Class: "S", MPI: "mpich", MPIVersion: "4.0.2", PMI: "pmi1", Runtime: "docker",
		RuntimeVersion: "20.10", Image: "hpcbench/npb:1", ImageDigest: "sha256:abc", Layout: "per-rank", Ranks: 2, Bind: "core"}
	want := testRun("s1", cell, 0, 1.25)
	want.Output = []byte("CG Benchmark Completed.\n Time in seconds = 1.25\n")
	want.SlurmJobID = "1234"
	id, err := st.AddRun(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Runs(ctx, "s1", RunsOptions{WithOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d runs, want 1", len(got))
	}
	want.ID = id
	// JSON numbers come back as float64, which they already are.
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got[0], want)
	}
	noOut, _ := st.Runs(ctx, "s1", RunsOptions{})
	if noOut[0].Output != nil {
		t.Errorf("output read without WithOutput")
	}
	hosts, err := st.Hosts(ctx, "s1")
	if err != nil || len(hosts) != 1 || hosts[0] != testHost {
		t.Errorf("hosts = %v, %v", hosts, err)
	}
	if _, err := st.AddRun(ctx, want); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second AddRun of the same repetition: %v, want ErrDuplicate", err)
	}
	warm := want
	warm.Warmup = true
	if _, err := st.AddRun(ctx, warm); err != nil {
		t.Errorf("warm-up of the same repetition number: %v", err)
	}
	skip := Skip{Study: "s1", Host: "node1", Cell: Cell{Key: "hpl-pmi2", Benchmark: "hpl", PMI: "pmi2"}, Reason: "no MPI speaks pmi2"}
	if err := st.AddSkip(ctx, skip); err != nil {
		t.Fatal(err)
	}
	if err := st.AddSkip(ctx, skip); err != nil {
		t.Fatalf("re-adding a skip: %v", err)
	}
	skips, err := st.Skips(ctx, "s1")
	if err != nil || len(skips) != 1 || skips[0] != skip {
		t.Errorf("skips = %+v, %v", skips, err)
	}
	failed := testRun("s1", cell, 1, 0)
	failed.Status, failed.Reason = StatusFailed, "rank 1 exited 137"
	if _, err := st.AddRun(ctx, failed); err != nil {
		t.Fatal(err)
	}
	infos, err := st.Studies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Runs != 3 || infos[0].OK != 2 || infos[0].Failed != 1 || infos[0].Skipped != 1 || infos[0].Version != "v-test" {
		t.Errorf("studies = %+v", infos)
	}
	if _, err := st.AddRun(ctx, testRun("nope", cell, 0, 1)); !errors.Is(err, ErrNoStudy) {
		t.Errorf("run of an unknown study: %v, want ErrNoStudy", err)
	}
	bad := testRun("s1", cell, 5, 1)
	bad.Status = "great"
	if _, err := st.AddRun(ctx, bad); err == nil {
		t.Errorf("unknown status accepted")
	}
}

func TestStudyConfigAndLatest(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	if _, err := st.Study(ctx, ""); !errors.Is(err, ErrNoStudy) {
		t.Errorf("latest study of an empty file: %v", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.CreateStudy(ctx, Study{Name: "old", Config: "a", Created: t0}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateStudy(ctx, Study{Name: "new", Config: "b", Created: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateStudy(ctx, Study{Name: "old", Config: "a"}); err != nil {
		t.Errorf("resuming a study with its config: %v", err)
	}
	if err := st.CreateStudy(ctx, Study{Name: "old", Config: "changed"}); !errors.Is(err, ErrConfigChanged) {
		t.Errorf("study with another config: %v, want ErrConfigChanged", err)
	}
	latest, err := st.Study(ctx, "")
	if err != nil || latest.Name != "new" || latest.Config != "b" {
		t.Errorf("latest = %+v, %v", latest, err)
	}
}

func TestResumeSet(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	st.CreateStudy(ctx, Study{Name: "s"})
	cell := Cell{Key: "ep-native", Benchmark: "ep", Class: "S", Ranks: 2}
	for rep := 0; rep < 3; rep++ {
		if _, err := st.AddRun(ctx, testRun("s", cell, rep, 1)); err != nil {
			t.Fatal(err)
		}
	}
	w := testRun("s", cell, 0, 1)
	w.Warmup = true
	st.AddRun(ctx, w)
	other := testRun("s", cell, 3, 1)
	other.Host.Hostname = "node2"
	st.AddRun(ctx, other)
	done, err := st.Done(ctx, "s", "node1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[DoneKey]bool{{"ep-native", 0, false}: true, {"ep-native", 1, false}: true, {"ep-native", 2, false}: true, {"ep-native", 0, true}: true}
	if !reflect.DeepEqual(done, want) {
		t.Errorf("Done = %v, want %v", done, want)
	}
	if n, _ := st.NextRepetition(ctx, "s", "node1", "ep-native"); n != 3 {
		t.Errorf("NextRepetition = %d, want 3", n)
	}
}

func TestMigrationIdempotentAndNewer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var v int
	st.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion)
	}
	var mode string
	st.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	st.db.Exec("PRAGMA user_version = 99")
	st.Close()
	if _, err := Open(path); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("opening a newer schema: %v, want ErrNewerSchema", err)
	}
}

// Two handles on one file writing at once, as two matrix processes would.
func TestConcurrentHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.CreateStudy(ctx, Study{Name: "s"})
	const perWriter = 150
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, st := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cell := Cell{Key: fmt.Sprintf("cell-%d", i), Benchmark: "ep"}
			for rep := 0; rep < perWriter; rep++ {
				if _, err := st.AddRun(ctx, testRun("s", cell, rep, 1)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	runs, err := a.Runs(ctx, "s", RunsOptions{})
	if err != nil || len(runs) != 2*perWriter {
		t.Fatalf("%d runs stored (%v), want %d", len(runs), err, 2*perWriter)
	}
}

// Two OS processes writing to one file at once. The child is this test
// binary re-run with HPCBENCH_STORE_WRITER set.
func TestConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.CreateStudy(ctx, Study{Name: "s"})
	const perWriter = 200
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "HPCBENCH_STORE_WRITER="+path, "HPCBENCH_STORE_WRITER_ID="+strconv.Itoa(i), "HPCBENCH_STORE_WRITER_N="+strconv.Itoa(perWriter))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("writer process: %v", err)
		}
	}
	if ok, err := integrityCheck(st); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
	done, err := st.Done(ctx, "s", testHost.Hostname)
	if err != nil || len(done) != 2*perWriter {
		t.Errorf("%d repetitions stored (%v), want %d", len(done), err, 2*perWriter)
	}
}

func integrityCheck(st *Store) (string, error) {
	var s string
	err := st.db.QueryRow("PRAGMA integrity_check").Scan(&s)
	return s, err
}

// A writer killed with SIGKILL loses nothing it had stored: every run whose
// AddRun returned is in the file afterwards, and the file is intact.
func TestKilledWriterLosesNothingStored(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.CreateStudy(ctx, Study{Name: "s"})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "HPCBENCH_STORE_WRITER="+path, "HPCBENCH_STORE_WRITER_ID=k", "HPCBENCH_STORE_WRITER_N=100000", "HPCBENCH_STORE_WRITER_REPORT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "stored ") {
			acked++
		}
		if acked == 100 {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 100 {
		t.Fatalf("writer stored only %d runs before it ended", acked)
	}
	if ok, err := integrityCheck(st); err != nil || ok != "ok" {
		t.Errorf("integrity_check after kill = %q, %v", ok, err)
	}
	done, err := st.Done(ctx, "s", testHost.Hostname)
	if err != nil || len(done) < acked {
		t.Errorf("%d runs in the file (%v), but the writer had stored %d", len(done), err, acked)
	}
}

// runStoreWriter is the child of TestConcurrentProcesses and
// TestKilledWriterLosesNothingStored (TestMain runs it when HPCBENCH_STORE_WRITER names a
// store): it adds HPCBENCH_STORE_WRITER_N runs of its own cell, printing
// "stored N" after each when HPCBENCH_STORE_WRITER_REPORT is set; with
// HPCBENCH_STORE_WRITER_BATCH=SIZE it stores them SIZE to a transaction,
// printing "committed N" (the runs committed so far) after each.
func runStoreWriter(path string) error {
	id := os.Getenv("HPCBENCH_STORE_WRITER_ID")
	n, _ := strconv.Atoi(os.Getenv("HPCBENCH_STORE_WRITER_N"))
	st, err := Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	cell := Cell{Key: "proc-" + id, Benchmark: "ep"}
	report := os.Getenv("HPCBENCH_STORE_WRITER_REPORT") != ""
	if size, _ := strconv.Atoi(os.Getenv("HPCBENCH_STORE_WRITER_BATCH")); size > 0 {
		for rep := 0; rep < n; rep += size {
			runs := make([]Run, 0, size)
			for i := rep; i < rep+size; i++ {
				runs = append(runs, testRun("s", cell, i, 1))
			}
			if _, err := st.AddRuns(context.Background(), runs); err != nil {
				return fmt.Errorf("writer %s, batch at %d: %w", id, rep, err)
			}
			if report {
				fmt.Printf("committed %d\n", rep+size)
			}
		}
		return nil
	}
	for rep := 0; rep < n; rep++ {
		if _, err := st.AddRun(context.Background(), testRun("s", cell, rep, 1)); err != nil {
			return fmt.Errorf("writer %s, repetition %d: %w", id, rep, err)
		}
		if report {
			fmt.Printf("stored %d\n", rep)
		}
	}
	return nil
}

// A skip says the cell cannot run; once the cell has runs, the skip is
// false. AddRun removes it, AddSkip does not record one beside runs, and
// DropSkipsWithRuns removes those an older hpcbench left.
func TestSkipsOfCellsWithRunsGo(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	if err := st.CreateStudy(ctx, Study{Name: "s", Config: "x"}); err != nil {
		t.Fatal(err)
	}
	cell := func(rt string) Cell {
		c := Cell{Benchmark: "ep", Kind: "npb", Class: "S", MPI: "openmpi", PMI: "pmix", Runtime: rt, Layout: "none", Ranks: 1}
		c.Key = c.CanonicalKey()
		return c
	}
	skipped := func() []string {
		t.Helper()
		ks, err := st.Skips(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range ks {
			keys = append(keys, k.Host+" "+k.Cell.Runtime)
		}
		return keys
	}
	native, docker := cell("native"), cell("docker")
	// A false skip (a probe timed out), then the cell runs after all.
	for _, c := range []Cell{native, docker} {
		if err := st.AddSkip(ctx, Skip{Study: "s", Host: testHost.Hostname, Cell: c, Reason: "openmpi is not installed on this node"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.AddRun(ctx, testRun("s", native, 1, 1.0)); err != nil {
		t.Fatal(err)
	}
	if got := skipped(); !reflect.DeepEqual(got, []string{"node1 docker"}) {
		t.Errorf("skips after native ran = %v; want only docker's", got)
	}
	// A skip of a cell that has runs is not recorded.
	if err := st.AddSkip(ctx, Skip{Study: "s", Host: testHost.Hostname, Cell: native, Reason: "not installed"}); err != nil {
		t.Fatal(err)
	}
	if got := skipped(); !reflect.DeepEqual(got, []string{"node1 docker"}) {
		t.Errorf("skips after skipping a cell with runs = %v; want only docker's", got)
	}
	// On another host the cell has no runs: its skip stays.
	if err := st.AddSkip(ctx, Skip{Study: "s", Host: "node2", Cell: native, Reason: "not installed"}); err != nil {
		t.Fatal(err)
	}
	// What an older hpcbench left: a skip written beside runs.
	if _, err := st.db.Exec(`INSERT INTO skips (study_id, hostname, cell_key, cell, reason)
		SELECT id, ?, ?, '{"runtime":"native"}', 'stale' FROM studies WHERE name = 's'`, testHost.Hostname, native.Key); err != nil {
		t.Fatal(err)
	}
	if err := st.DropSkipsWithRuns(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if got := skipped(); !reflect.DeepEqual(got, []string{"node1 docker", "node2 native"}) {
		t.Errorf("skips after DropSkipsWithRuns = %v; want docker's and node2's", got)
	}
	if err := st.DropSkipsWithRuns(ctx, "nope"); !errors.Is(err, ErrNoStudy) {
		t.Errorf("DropSkipsWithRuns of a missing study: %v", err)
	}
	if ok, err := integrityCheck(st); ok != "ok" || err != nil {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
}
