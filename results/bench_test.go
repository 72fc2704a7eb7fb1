package results_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// 100,000 runs (256 cells of 390 repetitions and a warm-up), stored in one
// transaction as an imported file is, then read back and summarised. The
// table of results/report's BenchmarkGoals sets these figures beside
// their peers (one transaction per run, the sqlite3 shell).
// Run with: go test ./results -run XXX -bench Store100k -benchtime 1x
func BenchmarkStore100k(b *testing.B) {
	ctx := context.Background()
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 1, Reps: 390,
		Benchmarks: []string{"bt", "cg", "ep", "ft", "is", "lu", "mg", "sp"}})
	b.Logf("%d runs", len(runs))
	for b.Loop() {
		st, err := results.Open(filepath.Join(b.TempDir(), "r.db"))
		if err != nil {
			b.Fatal(err)
		}
		t0, c0 := time.Now(), cpuTime()
		if err := resultstest.Store(st, study, runs, skips); err != nil {
			b.Fatal(err)
		}
		tStore, cStore := time.Since(t0), cpuTime()-c0
		t1, c1 := time.Now(), cpuTime()
		back, err := st.Runs(ctx, study.Name, results.RunsOptions{})
		if err != nil || len(back) != len(runs) {
			b.Fatalf("%d runs read back, %v", len(back), err)
		}
		tRead, cRead := time.Since(t1), cpuTime()-c1
		t2, c2 := time.Now(), cpuTime()
		a := results.Analyse(back, results.AnalysisOptions{Seed: 1})
		tAnalyse, cAnalyse := time.Since(t2), cpuTime()-c2
		if len(a.Comparisons) != 192 {
			b.Fatalf("%d comparisons, want 192", len(a.Comparisons))
		}
		st.Close()
		b.ReportMetric(tStore.Seconds(), "store-s")
		b.ReportMetric(float64(len(runs))/tStore.Seconds(), "inserts/s")
		b.ReportMetric(tRead.Seconds(), "read-s")
		b.ReportMetric(tAnalyse.Seconds(), "analyse-s")
		b.Logf("stored %d runs in %v (%.0f/s; CPU %v), read back in %v (CPU %v), analysed in %v (CPU %v)",
			len(runs), tStore, float64(len(runs))/tStore.Seconds(), cStore, tRead, cRead, tAnalyse, cAnalyse)
	}
}

// Summarising 100,000 runs already in memory (the statistics alone).
func BenchmarkAnalyse100k(b *testing.B) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 1, Reps: 390,
		Benchmarks: []string{"bt", "cg", "ep", "ft", "is", "lu", "mg", "sp"}})
	for b.Loop() {
		a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
		if len(a.Comparisons) != 192 {
			b.Fatalf("%d comparisons", len(a.Comparisons))
		}
	}
}

// cpuTime is the processor time this process has used, all threads
// together: on a busy machine it says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
