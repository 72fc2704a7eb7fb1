package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// cost is what one measured step took: wall clock and processor time
// (all threads, and child processes for the sqlite3 shell).
type cost struct{ wall, cpu time.Duration }

func measure(fn func() error) (cost, error) {
	t0, c0 := time.Now(), cpuTime()+childCPUTime()
	err := fn()
	return cost{time.Since(t0), cpuTime() + childCPUTime() - c0}, err
}

// goalRow is one line of the table: a figure, its goal, and the named
// peer it is measured against in the same run.
type goalRow struct {
	figure   string
	goal     time.Duration // on the wall clock; 0: no goal, a reference
	got      cost
	peer     string
	peerCost cost
	// scale multiplies the peer's cost where the peer did a part of
	// the work (the per-run path on a tenth of the runs); 1 otherwise.
	scale float64
}

// BenchmarkGoals measures the store and the report at the sizes the
// project promises to stay quick at, each against a named peer measured
// in the same run, and prints one table:
//
//   - storing 100,000 runs in one transaction (as an imported file or a
//     Slurm collection is stored), against one transaction per run (as a
//     matrix stores each run when it ends) on the first 10,000 of the
//     same runs, scaled to 100,000, and against the sqlite3 shell loading
//     the same rows from a dump in one transaction, when it is installed;
//   - summarising 100,000 stored runs (reading them back and analysing
//     them), against reading them alone;
//   - the report of 10,000 stored runs (read, analysis, 22 figures and
//     the PDF file), against its read and analysis alone.
//
// Run with: go test ./results/report -run XXX -bench Goals -benchtime 1x
func BenchmarkGoals(b *testing.B) {
	ctx := context.Background()
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 1, Reps: 390,
		Benchmarks: []string{"bt", "cg", "ep", "ft", "is", "lu", "mg", "sp"}})
	study10k, runs10k, skips10k := resultstest.Study(resultstest.Options{Name: "report10k", Seed: 1, Reps: 61,
		Benchmarks: []string{"cg", "ep", "is", "lu", "mg"}})
	const peerRuns = 10000
	for b.Loop() {
		dir := b.TempDir()
		var rows []goalRow

		// Storing.
		batched, err := results.Open(filepath.Join(dir, "batched.db"))
		if err != nil {
			b.Fatal(err)
		}
		store, err := measure(func() error { return resultstest.Store(batched, study, runs, skips) })
		if err != nil {
			b.Fatal(err)
		}
		each, err := results.Open(filepath.Join(dir, "each.db"))
		if err != nil {
			b.Fatal(err)
		}
		perRun, err := measure(func() error { return resultstest.StoreEach(each, study, runs[:peerRuns], nil) })
		each.Close()
		if err != nil {
			b.Fatal(err)
		}
		rows = append(rows, goalRow{figure: fmt.Sprintf("store %d runs, one transaction", len(runs)), goal: 10 * time.Second, got: store,
			peer: fmt.Sprintf("a transaction per run (%d runs, x%.2f)", peerRuns, float64(len(runs))/peerRuns), peerCost: perRun,
			scale: float64(len(runs)) / peerRuns})
		if shell, err := exec.LookPath("sqlite3"); err == nil {
			c, err := shellLoad(shell, filepath.Join(dir, "batched.db"), dir)
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, goalRow{figure: fmt.Sprintf("store %d runs, one transaction", len(runs)), goal: 10 * time.Second, got: store,
				peer: "sqlite3 shell loading the same rows", peerCost: c, scale: 1})
		}

		// Summarising 100,000 runs.
		var back []results.Run
		read, err := measure(func() error {
			var err error
			back, err = batched.Runs(ctx, study.Name, results.RunsOptions{})
			return err
		})
		if err != nil || len(back) != len(runs) {
			b.Fatalf("%d runs read back, %v", len(back), err)
		}
		back = nil
		var a *results.Analysis
		summary, err := measure(func() error {
			var err error
			a, err = results.Load(ctx, batched, study.Name, results.AnalysisOptions{Seed: 1})
			return err
		})
		if err != nil || len(a.Comparisons) != 192 {
			b.Fatalf("analysis: %v", err)
		}
		a = nil
		batched.Close()
		rows = append(rows, goalRow{figure: fmt.Sprintf("summarise %d stored runs", len(runs)), goal: 10 * time.Second, got: summary,
			peer: "reading them alone", peerCost: read, scale: 1})

		// The report of 10,000 runs.
		st, err := results.Open(filepath.Join(dir, "report.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := resultstest.Store(st, study10k, runs10k, skips10k); err != nil {
			b.Fatal(err)
		}
		analyse, err := measure(func() error {
			_, err := results.Load(ctx, st, study10k.Name, results.AnalysisOptions{Seed: 1})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		pdf := filepath.Join(dir, "report.pdf")
		whole, err := measure(func() error {
			a, err := results.Load(ctx, st, study10k.Name, results.AnalysisOptions{Seed: 1})
			if err != nil {
				return err
			}
			return WriteFile(pdf, a, Options{Generated: generated})
		})
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		if fi, err := os.Stat(pdf); err != nil || fi.Size() == 0 {
			b.Fatalf("no report written: %v", err)
		}
		rows = append(rows, goalRow{figure: fmt.Sprintf("report of %d stored runs (PDF)", len(runs10k)), goal: 5 * time.Second, got: whole,
			peer: "its read and analysis alone", peerCost: analyse, scale: 1})

		b.Log("\n" + goalTable(rows))
		b.ReportMetric(store.wall.Seconds(), "store100k-s")
		b.ReportMetric(summary.wall.Seconds(), "summary100k-s")
		b.ReportMetric(whole.wall.Seconds(), "report10k-s")
	}
}

// shellLoad dumps db with the sqlite3 shell and times the shell loading
// the dump into a new file (one transaction, WAL as hpcbench's own).
func shellLoad(shell, db, dir string) (cost, error) {
	dump := filepath.Join(dir, "dump.sql")
	f, err := os.Create(dump)
	if err != nil {
		return cost{}, err
	}
	fmt.Fprintln(f, "PRAGMA journal_mode=WAL;")
	cmd := exec.Command(shell, db, ".dump")
	cmd.Stdout = f
	err = cmd.Run()
	f.Close()
	if err != nil {
		return cost{}, fmt.Errorf("sqlite3 .dump: %w", err)
	}
	return measure(func() error {
		in, err := os.Open(dump)
		if err != nil {
			return err
		}
		defer in.Close()
		load := exec.Command(shell, filepath.Join(dir, "shell.db"))
		load.Stdin = in
		if out, err := load.CombinedOutput(); err != nil || len(out) > 0 && !strings.HasPrefix(string(out), "wal") {
			return fmt.Errorf("sqlite3 load: %v: %s", err, out)
		}
		return nil
	})
}

func goalTable(rows []goalRow) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-38s %-7s %8s %8s  %-42s %8s %8s %7s %7s  %s\n",
		"figure", "goal", "wall", "CPU", "peer (same run)", "wall", "CPU", "wall x", "CPU x", "goal met")
	sec := func(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
	for _, r := range rows {
		pw := time.Duration(float64(r.peerCost.wall) * r.scale)
		pc := time.Duration(float64(r.peerCost.cpu) * r.scale)
		goal, met := "-", "-"
		if r.goal > 0 {
			goal = "< " + fmt.Sprint(r.goal)
			met = "yes"
			if r.got.wall >= r.goal {
				met = "NO"
			}
		}
		fmt.Fprintf(&sb, "%-38s %-7s %8s %8s  %-42s %8s %8s %7.2f %7.2f  %s\n",
			r.figure, goal, sec(r.got.wall), sec(r.got.cpu), r.peer, sec(pw), sec(pc),
			pw.Seconds()/r.got.wall.Seconds(), pc.Seconds()/r.got.cpu.Seconds(), met)
	}
	sb.WriteString("wall x and CPU x: the peer's time over the figure's (above 1: the figure is quicker)")
	return sb.String()
}

// childCPUTime is the processor time of the child processes waited for.
func childCPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
