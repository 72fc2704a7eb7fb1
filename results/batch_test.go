package results

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A batch that fails stores nothing, and what it recorded on the way (a
// new host) is not remembered: the next run on that host must record the
// host again, or its row would point at a host that was rolled back.
func TestBatchFailedStoresNothing(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	st.CreateStudy(ctx, Study{Name: "s"})
	cell := Cell{Benchmark: "cg", Class: "S", Runtime: "native", Ranks: 2}
	boom := errors.New("boom")
	err := st.Batch(ctx, func(b *Batch) error {
		for rep := 0; rep < 3; rep++ {
			if _, err := b.AddRun(testRun("s", cell, rep, 2)); err != nil {
				return err
			}
		}
		if b.Added() != 3 {
			t.Errorf("Added = %d in the batch, want 3", b.Added())
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Batch = %v, want fn's error", err)
	}
	runs, err := st.Runs(ctx, "s", RunsOptions{})
	if err != nil || len(runs) != 0 {
		t.Fatalf("%d runs stored by a failed batch (%v), want none", len(runs), err)
	}
	// The host's row went with the batch; AddRun and a new batch must
	// both record it again.
	if _, err := st.AddRun(ctx, testRun("s", cell, 0, 2)); err != nil {
		t.Fatalf("AddRun after a failed batch: %v", err)
	}
	if _, err := st.AddRuns(ctx, []Run{testRun("s", cell, 1, 2)}); err != nil {
		t.Fatalf("AddRuns after a failed batch: %v", err)
	}
	hosts, err := st.Hosts(ctx, "s")
	if err != nil || len(hosts) != 1 || hosts[0] != testHost {
		t.Errorf("hosts %+v (%v), want the test host", hosts, err)
	}
	if ok, err := integrityCheck(st); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
	var dangling int
	st.db.QueryRow(`SELECT count(*) FROM runs WHERE host_id NOT IN (SELECT id FROM hosts)`).Scan(&dangling)
	if dangling != 0 {
		t.Errorf("%d runs point at no host", dangling)
	}
}

// A duplicate in a batch, of a stored run or of one earlier in the same
// batch, is ErrDuplicate and leaves the rest of the batch to commit.
func TestBatchDuplicatesLeaveTheRest(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	st.CreateStudy(ctx, Study{Name: "s"})
	cell := Cell{Benchmark: "cg", Class: "S", Runtime: "native", Ranks: 2}
	if _, err := st.AddRun(ctx, testRun("s", cell, 0, 2)); err != nil {
		t.Fatal(err)
	}
	ids, err := st.AddRuns(ctx, []Run{
		testRun("s", cell, 0, 2), // stored before
		testRun("s", cell, 1, 2),
		testRun("s", cell, 1, 3), // earlier in the batch
		testRun("s", cell, 2, 2),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != 0 || ids[1] == 0 || ids[2] != 0 || ids[3] == 0 || ids[1] == ids[3] {
		t.Errorf("ids %v: want 0 for the two duplicates, distinct ids for the others", ids)
	}
	runs, err := st.Runs(ctx, "s", RunsOptions{})
	if err != nil || len(runs) != 3 {
		t.Fatalf("%d runs (%v), want 3", len(runs), err)
	}
	if runs[1].ID != ids[1] || runs[1].Metric.Value != 2 || runs[2].ID != ids[3] {
		t.Errorf("runs read back %+v, ids %v", runs, ids)
	}
	err = st.Batch(ctx, func(b *Batch) error {
		_, err := b.AddRun(testRun("s", cell, 2, 2))
		return err
	})
	if !errors.Is(err, ErrDuplicate) {
		t.Errorf("a batch's duplicate: %v, want ErrDuplicate", err)
	}
	// An invalid run is an error, which AddRuns returns, storing none.
	bad := testRun("s", cell, 9, 2)
	bad.Status = "lost"
	if _, err := st.AddRuns(ctx, []Run{testRun("s", cell, 8, 2), bad}); err == nil {
		t.Error("AddRuns took a run with an unknown status")
	}
	if done, _ := st.Done(ctx, "s", testHost.Hostname); len(done) != 3 {
		t.Errorf("%d runs after a rejected batch, want 3", len(done))
	}
	if _, err := st.AddRuns(ctx, []Run{testRun("nosuch", cell, 0, 2)}); !errors.Is(err, ErrNoStudy) {
		t.Errorf("a run of a missing study: %v, want ErrNoStudy", err)
	}
}

// A batch removes the skips of the cells it stored runs of, when it
// commits; a failed batch leaves them. NextRepetition inside a batch
// counts the batch's own runs.
func TestBatchSkipsAndNumbering(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	st.CreateStudy(ctx, Study{Name: "s"})
	cell := Cell{Key: "cg-x", Benchmark: "cg", Class: "S", Runtime: "native", Ranks: 2}
	other := Cell{Key: "ep-x", Benchmark: "ep", Class: "S", Runtime: "native", Ranks: 2}
	for _, c := range []Cell{cell, other} {
		if err := st.AddSkip(ctx, Skip{Study: "s", Host: testHost.Hostname, Cell: c, Reason: "probe timed out"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Batch(ctx, func(b *Batch) error {
		b.AddRun(testRun("s", cell, 0, 2))
		return errors.New("stop")
	})
	if skips, _ := st.Skips(ctx, "s"); len(skips) != 2 {
		t.Fatalf("%d skips after a failed batch, want both", len(skips))
	}
	err := st.Batch(ctx, func(b *Batch) error {
		for i := 0; i < 3; i++ {
			r := testRun("s", cell, 0, 2)
			n, err := b.NextRepetition("s", testHost.Hostname, cell.Key)
			if err != nil {
				return err
			}
			if n != i {
				t.Errorf("NextRepetition = %d after %d runs in the batch", n, i)
			}
			r.Repetition = n
			if _, err := b.AddRun(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	skips, err := st.Skips(ctx, "s")
	if err != nil || len(skips) != 1 || skips[0].Cell.Key != other.Key {
		t.Errorf("skips %+v (%v), want only %s's", skips, err, other.Key)
	}
	if n, err := st.NextRepetition(ctx, "s", testHost.Hostname, cell.Key); err != nil || n != 3 {
		t.Errorf("NextRepetition = %d, %v; want 3", n, err)
	}
}

// A file is imported whole or not at all: a bad line stores none of the
// lines before it, and the same file, mended, then imports in full.
func TestImportIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	good := `{"kind":"npb","benchmark":"cg","class":"S","time_s":1.5,"mops_total":44.2,"valid":true}
{"kind":"npb","benchmark":"cg","class":"S","time_s":1.6,"mops_total":41.0,"valid":true}
`
	bad := good + `{"kind":"npb","class":"S","time_s":1.7}` + "\n"
	opt := ImportOptions{Study: "imp", Host: testHost, Cell: Cell{Ranks: 2}}
	if _, err := Import(ctx, st, "bad.jsonl", []byte(bad), opt); err == nil || !strings.Contains(err.Error(), "bad.jsonl: result 3") {
		t.Fatalf("import of a file with a bad result: %v", err)
	}
	// The bad result is found before anything is written, study included.
	if runs, err := st.Runs(ctx, "imp", RunsOptions{}); !errors.Is(err, ErrNoStudy) && len(runs) != 0 {
		t.Fatalf("%d runs kept from a failed import (%v), want none", len(runs), err)
	}
	// A failure while storing (here a run with an unknown status, after
	// a good one) is undone too.
	twice := `{"study":"imp2","host":{"hostname":"n"},"cell":{"cell_key":"k","benchmark":"cg"},"status":"ok"}
{"study":"imp2","host":{"hostname":"n"},"cell":{"cell_key":"k2","benchmark":"cg"},"status":"lost"}
`
	if _, err := Import(ctx, st, "twice.jsonl", []byte(twice), ImportOptions{}); err == nil || !strings.Contains(err.Error(), "twice.jsonl:2") {
		t.Fatalf("import of a run with an unknown status: %v", err)
	}
	if runs, err := st.Runs(ctx, "imp2", RunsOptions{}); err != nil || len(runs) != 0 {
		t.Fatalf("%d runs kept from a failed import (%v), want none", len(runs), err)
	}
	is, err := Import(ctx, st, "good.jsonl", []byte(good), opt)
	if err != nil || is.Added != 2 {
		t.Fatalf("import: %+v, %v", is, err)
	}
	is, err = Import(ctx, st, "good.jsonl", []byte(good), opt)
	if err != nil || is.Added != 2 {
		t.Fatalf("second import: %+v, %v", is, err)
	}
	runs, err := st.Runs(ctx, "imp", RunsOptions{})
	if err != nil || len(runs) != 4 {
		t.Fatalf("%d runs (%v), want 4", len(runs), err)
	}
	for i, r := range runs {
		if r.Repetition != i {
			t.Errorf("run %d has repetition %d: numbering must continue across and within files", i, r.Repetition)
		}
	}
	// Exported runs: a second import of the export finds only duplicates.
	var exp strings.Builder
	if err := Export(&exp, runs, ExportJSON); err != nil {
		t.Fatal(err)
	}
	is, err = Import(ctx, st, "export.jsonl", []byte(exp.String()), ImportOptions{Host: testHost})
	if err != nil || is.Added != 0 || is.Duplicates != 4 {
		t.Errorf("re-import of the export: %+v, %v; want 4 duplicates", is, err)
	}
}

// A writer killed in the middle of its batches leaves each batch whole or
// absent: every batch it had committed is in the file, no batch is there
// in part, and the file is intact.
func TestKilledBatchWriterLeavesWholeBatches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.CreateStudy(ctx, Study{Name: "s"})
	const size = 400
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "HPCBENCH_STORE_WRITER="+path, "HPCBENCH_STORE_WRITER_ID=b",
		"HPCBENCH_STORE_WRITER_N=4000000", fmt.Sprintf("HPCBENCH_STORE_WRITER_BATCH=%d", size), "HPCBENCH_STORE_WRITER_REPORT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	committed := 0
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			fmt.Sscan(n, &committed)
		}
		if committed >= 5*size {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if committed < 5*size {
		t.Fatalf("writer committed only %d runs before it ended", committed)
	}
	if ok, err := integrityCheck(st); err != nil || ok != "ok" {
		t.Errorf("integrity_check after kill = %q, %v", ok, err)
	}
	done, err := st.Done(ctx, "s", testHost.Hostname)
	if err != nil || len(done) < committed {
		t.Errorf("%d runs in the file (%v), but the writer had committed %d", len(done), err, committed)
	}
	if len(done)%size != 0 {
		t.Errorf("%d runs in the file: a batch of %d is there in part", len(done), size)
	}
	t.Logf("%d runs committed when killed, %d in the file", committed, len(done))
}

// Reading a study back walks an index in the order the runs were stored:
// no temporary table sorts them (which, at 100,000 runs, cost more than
// reading them), in a new file and in one migrated from schema 3.
func TestRunsReadInStoredOrderWithoutSorting(t *testing.T) {
	ctx := context.Background()
	st := openTemp(t)
	st.CreateStudy(ctx, Study{Name: "s"})
	st.CreateStudy(ctx, Study{Name: "t"})
	var runs []Run
	for rep := 0; rep < 6; rep++ {
		for _, b := range []string{"is", "cg", "ep"} {
			runs = append(runs, testRun([]string{"s", "t"}[rep%2], Cell{Benchmark: b, Class: "S", Runtime: "native", Ranks: 2}, rep, 2))
		}
	}
	if _, err := st.AddRuns(ctx, runs); err != nil {
		t.Fatal(err)
	}
	plan := func() string {
		rows, err := st.db.Query("EXPLAIN QUERY PLAN "+runsQuery(RunsOptions{}), 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			lines = append(lines, detail)
		}
		return strings.Join(lines, "; ")
	}
	if p := plan(); strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "runs_by_study") {
		t.Errorf("query plan %q: want the runs_by_study index and no sort", p)
	}
	back, err := st.Runs(ctx, "s", RunsOptions{})
	if err != nil || len(back) != 9 {
		t.Fatalf("%d runs, %v", len(back), err)
	}
	for i := 1; i < len(back); i++ {
		if back[i].ID <= back[i-1].ID {
			t.Errorf("run %d has id %d after %d: not in stored order", i, back[i].ID, back[i-1].ID)
		}
	}
	// A file of schema 3 gains the index.
	st.db.Exec("DROP INDEX runs_by_study")
	st.db.Exec("PRAGMA user_version = 3")
	if err := st.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if p := plan(); strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("query plan after migrating schema 3: %q", p)
	}
}

// Every connection of the pool writes the log ahead and syncs it at each
// commit: a stored run must survive a crash of the machine, not only a
// killed process.
func TestEveryConnectionSyncsItsCommits(t *testing.T) {
	st := openTemp(t)
	ctx := context.Background()
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		c, err := st.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var mode string
		var sync, fk int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		if mode != "wal" || sync != 2 || fk != 1 {
			t.Errorf("connection %d: journal_mode %s, synchronous %d, foreign_keys %d; want wal, 2 (FULL), 1", i, mode, sync, fk)
		}
		c.Close()
	}
}
