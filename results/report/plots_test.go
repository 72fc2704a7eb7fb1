package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/cmpimg"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata")

func syntheticAnalysis(t testing.TB, o resultstest.Options) *results.Analysis {
	t.Helper()
	study, runs, skips := resultstest.Study(o)
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	a.Study = study
	a.Hosts = []results.Host{resultstest.Host}
	a.Skips = skips
	return a
}

// The figures of a deterministic synthetic study must match the golden
// images within a small tolerance (font rasterisation may differ a little).
func TestFiguresGolden(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 11, Benchmarks: []string{"cg", "ep"}})
	figs, err := Figures(a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"overhead", "wireup", "cg-relative", "cg-scaling", "cg-efficiency", "cg-distribution",
		"ep-relative", "ep-scaling", "ep-efficiency", "ep-distribution"}
	if len(figs) != len(want) {
		t.Fatalf("%d figures, want %d", len(figs), len(want))
	}
	for i, f := range figs {
		if f.Name != want[i] {
			t.Errorf("figure %d is %q, want %q", i, f.Name, want[i])
		}
		got, err := f.Render("png")
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", f.Name+".png")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		wantPNG, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (regenerate with: go test ./results/report -run TestFiguresGolden -update)", err)
		}
		ok, err := cmpimg.EqualApprox("png", got, wantPNG, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			os.WriteFile(filepath.Join(t.TempDir(), f.Name+".png"), got, 0o644)
			t.Errorf("figure %s differs from %s (if the change is intended: -update)", f.Name, golden)
		}
	}
}

func TestFiguresWithoutData(t *testing.T) {
	figs, err := Figures(&results.Analysis{})
	if err != nil || len(figs) != 0 {
		t.Errorf("empty analysis: %d figures, %v", len(figs), err)
	}
	// One rank count, natives only: no scaling, no comparisons, but a distribution.
	a := syntheticAnalysis(t, resultstest.Options{Seed: 1, Benchmarks: []string{"ep"}, Ranks: []int{2}})
	a.Comparisons = nil
	figs, err = Figures(a)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.Name)
	}
	if len(figs) != 2 || names[0] != "wireup" || names[1] != "ep-distribution" {
		t.Errorf("figures %v, want [wireup ep-distribution]", names)
	}
	dir := t.TempDir()
	for _, format := range []string{"png", "svg", "pdf"} {
		paths, err := WriteFigures(figs, dir, format)
		if err != nil || len(paths) != 2 {
			t.Errorf("%s: %v %v", format, paths, err)
		}
	}
	if _, err := WriteFigures(figs, dir, "gif"); err == nil {
		t.Errorf("gif accepted")
	}
}
