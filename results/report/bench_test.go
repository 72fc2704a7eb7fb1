package report

import (
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// A report for a study of 9,920 runs (160 cells of 61 repetitions and a
// warm-up): analysis, 22 figures and the PDF.
// Run with: go test ./results/report -run XXX -bench Report10k -benchtime 1x
func BenchmarkReport10k(b *testing.B) {
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 1, Reps: 61, Benchmarks: []string{"cg", "ep", "is", "lu", "mg"}})
	b.Logf("%d runs", len(runs))
	for b.Loop() {
		t0, c0 := time.Now(), cpuTime()
		a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
		a.Study, a.Skips, a.Hosts = study, skips, []results.Host{resultstest.Host}
		tAnalyse, cAnalyse := time.Since(t0), cpuTime()-c0
		t1, c1 := time.Now(), cpuTime()
		if err := Write(io.Discard, a, Options{Generated: generated}); err != nil {
			b.Fatal(err)
		}
		tPDF, cPDF := time.Since(t1), cpuTime()-c1
		b.ReportMetric(tAnalyse.Seconds(), "analyse-s")
		b.ReportMetric(tPDF.Seconds(), "pdf-s")
		b.Logf("analysed %d runs in %v (CPU %v), wrote the PDF in %v (CPU %v)", len(runs), tAnalyse, cAnalyse, tPDF, cPDF)
	}
}

// cpuTime is the processor time this process has used, all threads
// together: on a busy machine it says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
