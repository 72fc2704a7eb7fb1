package results_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// 100,000 runs (256 cells of 390 repetitions and a warm-up), each stored in
// its own transaction as the matrix executor stores them, then read back
// and summarised. Run with: go test ./results -run XXX -bench Store100k -benchtime 1x
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
		t0 := time.Now()
		if err := resultstest.Store(st, study, runs, skips); err != nil {
			b.Fatal(err)
		}
		tStore := time.Since(t0)
		t1 := time.Now()
		back, err := st.Runs(ctx, study.Name, results.RunsOptions{})
		if err != nil || len(back) != len(runs) {
			b.Fatalf("%d runs read back, %v", len(back), err)
		}
		tRead := time.Since(t1)
		t2 := time.Now()
		a := results.Analyse(back, results.AnalysisOptions{Seed: 1})
		tAnalyse := time.Since(t2)
		if len(a.Comparisons) != 192 {
			b.Fatalf("%d comparisons, want 192", len(a.Comparisons))
		}
		st.Close()
		b.ReportMetric(tStore.Seconds(), "store-s")
		b.ReportMetric(float64(len(runs))/tStore.Seconds(), "inserts/s")
		b.ReportMetric(tRead.Seconds(), "read-s")
		b.ReportMetric(tAnalyse.Seconds(), "analyse-s")
		b.Logf("stored %d runs in %v (%.0f/s), read back in %v, analysed in %v", len(runs), tStore, float64(len(runs))/tStore.Seconds(), tRead, tAnalyse)
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
