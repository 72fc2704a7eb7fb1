package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot/cmpimg"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// pmiStudy is a synthetic study of MPICH under three PMI flavours on
// ranks, with the wire-up split measured.
func pmiStudy(t testing.TB, ranks ...int) *results.Analysis {
	return syntheticAnalysis(t, resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: ranks,
		PMIs: []string{"pmi1", "pmi2", "pmix"}, MPI: "mpich", SplitWireUp: true})
}

// checkGolden compares figure f, rendered as PNG, with testdata/file
// (rewritten with -update).
func checkGolden(t *testing.T, f *Figure, file string) {
	t.Helper()
	got, err := f.Render("png")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with: go test ./results/report -run %s -update)", err, t.Name())
	}
	ok, err := cmpimg.EqualApprox("png", got, want, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("figure %s differs from %s (if the change is intended: -update)", f.Name, golden)
	}
}

// With one rank count the PMI exchange figure is a bar chart per runtime
// and flavour; so is the wire-up figure.
func TestOneRankCountBarsGolden(t *testing.T) {
	a := pmiStudy(t, 2)
	f, err := PMIExchange(a)
	if err != nil || f == nil {
		t.Fatalf("PMI exchange figure %v, %v", f, err)
	}
	checkGolden(t, f, "pmi-exchange-bars.png")
	f, err = WireUp(a)
	if err != nil || f == nil || f.Name != "wireup" {
		t.Fatalf("wire-up figure %v, %v", f, err)
	}
	checkGolden(t, f, "wireup-bars.png")
}

// With several rank counts it is a line chart against ranks, and without
// measured exchanges there is no figure.
func TestPMIExchangeLinesGolden(t *testing.T) {
	f, err := PMIExchange(pmiStudy(t, 1, 2, 4))
	if err != nil || f == nil {
		t.Fatalf("figure %v, %v", f, err)
	}
	checkGolden(t, f, "pmi-exchange-lines.png")
	none, err := PMIExchange(syntheticAnalysis(t, resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: []int{2}}))
	if none != nil || err != nil {
		t.Errorf("a figure without measured exchanges: %v, %v", none, err)
	}
}

// The report of a PMI study answers "does the PMI flavour matter?", shows
// the wire-up split, and with a baseline adds the regression section.
func TestReportPMIAndBaseline(t *testing.T) {
	a := pmiStudy(t, 2)
	before := syntheticAnalysis(t, resultstest.Options{Seed: 4, Name: "before", Benchmarks: []string{"ep"}, Ranks: []int{2},
		PMIs: []string{"pmi1", "pmi2", "pmix"}, MPI: "mpich", SplitWireUp: true,
		Overhead: map[string]float64{"docker": -0.1, "podman": 0.02, "apptainer": 0}})
	before.Study.Name = "before"
	b := results.CompareStudies(before, a, results.AnalysisOptions{})
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Version: "v9.9.9-test", Generated: generated, DPI: 72, Baseline: b}); err != nil {
		t.Fatal(err)
	}
	flat := regexp.MustCompile(`\s+`).ReplaceAllString(pdfText(t, buf.Bytes()), " ")
	for _, want := range []string{
		"Container start and PMI exchange", "Does the PMI flavour matter?", "ep.S native mpich x2: pmix vs pmi2",
		"PMI exchange ratio 0.7", "Against baseline study before", "Regressions", "PMI exchange time",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("report text lacks %q", want)
		}
	}
}
