package report

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hpcbench/hpcbench/results/resultstest"
)

// TestWriteSampleReport writes the report of a synthetic study; set
// HPCBENCH_SAMPLE_REPORT=FILE to keep it and look at it.
func TestWriteSampleReport(t *testing.T) {
	out := os.Getenv("HPCBENCH_SAMPLE_REPORT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "sample-report.pdf")
	}
	a := syntheticAnalysis(t, resultstest.Options{Seed: 11, Benchmarks: []string{"cg", "ep", "is"}})
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(f, a, Options{Version: "dev", Generated: generated}); err != nil {
		t.Fatal(err)
	}
}
