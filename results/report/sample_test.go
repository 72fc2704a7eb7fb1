package report

import (
	"os"
	"testing"

	"github.com/hpcbench/hpcbench/results/resultstest"
)

func TestWriteSampleReport(t *testing.T) {
	out := os.Getenv("HPCBENCH_SAMPLE_REPORT")
	if out == "" {
		t.Skip("set HPCBENCH_SAMPLE_REPORT=FILE to write a sample report to look at")
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
