package results_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// Reading back 10,000 stored runs.
func BenchmarkRuns10k(b *testing.B) {
	ctx := context.Background()
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 1, Reps: 77, Benchmarks: []string{"cg", "ep", "is", "mg"}})
	st, err := results.Open(filepath.Join(b.TempDir(), "r.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := resultstest.Store(st, study, runs, skips); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		back, err := st.Runs(ctx, study.Name, results.RunsOptions{})
		if err != nil || len(back) != len(runs) {
			b.Fatalf("%d runs, %v", len(back), err)
		}
	}
}
