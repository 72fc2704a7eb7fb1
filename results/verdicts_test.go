package results_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
	"github.com/hpcbench/hpcbench/results/stats"
)

// family builds the 16 cells a quick study compares: four benchmarks, two
// PMI flavours, two runtimes, each with its native counterpart.
func family(each func(native, container results.Cell)) {
	for _, b := range []string{"cg", "ep", "is", "mg"} {
		for _, pmi := range []string{"pmi1", "pmi2"} {
			nat := results.Cell{Benchmark: b, Kind: "npb", Class: "S", MPI: "mpich", PMI: pmi, Ranks: 2, Runtime: "native"}
			for _, rt := range []string{"docker", "podman"} {
				ctr := nat
				ctr.Runtime, ctr.Layout = rt, "per-rank"
				each(nat, ctr)
			}
		}
	}
}

func noisy(rng *rand.Rand, n int, centre, cv float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = centre * math.Exp(cv*rng.NormFloat64())
	}
	return out
}

// The quick study that prompted the verdicts: class S runs of about 60 ms
// (so launch noise dominates), 4 runs a side, 16 comparisons. One
// comparison is fully separated, the smallest p an exact rank test of 4
// against 4 can give (2/70 = 0.029), and its raw t-test p is below 0.05
// too; both used to read as "slower by 27%". Adjusted for 16 comparisons
// it is not evidence of anything, and the verdict must say so.
func TestQuickStudyRaisesNoFalseAlarm(t *testing.T) {
	rng := stats.NewRand(7)
	var runs []results.Run
	seenNative := map[string]bool{}
	family(func(nat, ctr results.Cell) {
		if !seenNative[nat.CanonicalKey()] {
			seenNative[nat.CanonicalKey()] = true
			if nat.Benchmark == "cg" && nat.PMI == "pmi1" {
				runs = append(runs, cellRuns(nat, 0.050, 0.081, 0.062, 0.071)...)
			} else {
				runs = append(runs, cellRuns(nat, noisy(rng, 4, 0.060, 0.12)...)...)
			}
		}
		if ctr.Benchmark == "cg" && ctr.PMI == "pmi1" && ctr.Runtime == "docker" {
			runs = append(runs, cellRuns(ctr, 0.083, 0.095, 0.088, 0.110)...)
			return
		}
		// The others differ by nothing but noise, whose 12% spread makes
		// their observed ratios scatter like the study's 0.98-1.14x.
		runs = append(runs, cellRuns(ctr, noisy(rng, 4, 0.060, 0.12)...)...)
	})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	if len(a.Comparisons) != 16 {
		t.Fatalf("%d comparisons, want 16", len(a.Comparisons))
	}
	for _, c := range a.Comparisons {
		if c.Kind == results.VerdictSlower || c.Kind == results.VerdictFaster {
			t.Errorf("%s: %s", c.Container.Label(), c.Verdict)
		}
		if !c.Tested || c.PAdjusted < c.P {
			t.Errorf("%s: tested %v, p %v adjusted to %v", c.Container.Label(), c.Tested, c.P, c.PAdjusted)
		}
		if c.Kind == results.VerdictEquivalent {
			t.Errorf("%s: 4 noisy runs a side cannot show equivalence within 2%%: %s", c.Container.Label(), c.Verdict)
		}
		if c.Container.Cell.Benchmark != "cg" || c.Container.Cell.PMI != "pmi1" || c.Container.Cell.Runtime != "docker" {
			continue
		}
		// Medians 0.0665 native and 0.0915 docker: relative performance 0.727.
		if math.Abs(c.Test.P-2.0/70) > 1e-12 || !(c.P < 0.05) || !(c.PAdjusted >= 0.05) || math.Abs(c.RelPerf-0.0665/0.0915) > 1e-9 {
			t.Errorf("separated cell: rank p %v, raw p %v, adjusted %v, ratio %v", c.Test.P, c.P, c.PAdjusted, c.RelPerf)
		}
		if c.Kind != results.VerdictInconclusive || c.FurtherRuns < 1 ||
			!strings.HasPrefix(c.Verdict, "inconclusive: relative performance 0.727 (95% CI ") ||
			!strings.Contains(c.Verdict, "more run") {
			t.Errorf("separated cell: %s (%s, %d further runs)", c.Verdict, c.Kind, c.FurtherRuns)
		}
		t.Logf("%s: %s", c.Container.Label(), c.Verdict)
	}
	for _, f := range a.Findings() {
		t.Log(f)
		if strings.Contains(f.Text, "slower") || strings.Contains(f.Text, "faster") || !strings.HasPrefix(f.Text, "inconclusive on all 8 comparisons (") {
			t.Errorf("finding %s", f)
		}
	}
	// Class S runs of 60 ms measure launch noise: every cell is flagged.
	if n := len(a.LaunchNoiseCells()); n != len(a.Cells) || a.Cells[0].ShortRuns != 4 || a.MinRunTime != time.Second {
		t.Errorf("%d of %d cells flagged, %d short runs in the first, floor %v", n, len(a.Cells), a.Cells[0].ShortRuns, a.MinRunTime)
	}
	// 12% spread, 4 runs a side, 16 comparisons: only a large overhead
	// could have been detected. z(1 - 0.05/32) + z(0.8) = 2.955 + 0.842 =
	// 3.797; times sd * sqrt(2/4) past the 2% margin.
	s := a.Sensitivity
	want := 1 - 0.98*math.Exp(-3.797*s.SDLog*math.Sqrt(0.5))
	if s.Comparisons != 16 || s.RunsPerSide != 4 || math.Abs(s.Alpha-0.05/16) > 1e-15 || math.Abs(s.Overhead-want) > 1e-3 || s.Overhead < 0.15 {
		t.Errorf("sensitivity %+v, want overhead %v", s, want)
	}
	t.Log(s)
}

// A clear 5% overhead, measured 10 times a side with 1% noise, among 16
// comparisons: after Holm's adjustment it is still "slower by ~5%", and
// the comparisons without overhead are not called slower or faster.
func TestClearOverheadIsSlower(t *testing.T) {
	rng := stats.NewRand(3)
	var runs []results.Run
	seenNative := map[string]bool{}
	rate := func(cell results.Cell, values []float64) {
		for i, v := range values {
			cell.Key = cell.CanonicalKey()
			runs = append(runs, results.Run{Study: "s", Host: resultstest.Host, Cell: cell, Repetition: i, Status: results.StatusOK,
				Metric:  results.Metric{Name: "mops_total", Value: v, Unit: "Mop/s", HigherIsBetter: true},
				Metrics: map[string]any{"time_s": 1200 / v}})
		}
	}
	family(func(nat, ctr results.Cell) {
		if !seenNative[nat.CanonicalKey()] {
			seenNative[nat.CanonicalKey()] = true
			rate(nat, noisy(rng, 10, 100, 0.01))
		}
		overhead := 0.0
		if ctr.Benchmark == "ep" && ctr.PMI == "pmi2" && ctr.Runtime == "docker" {
			overhead = 0.05
		}
		rate(ctr, noisy(rng, 10, 100*(1-overhead), 0.01))
	})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	slower := 0
	for _, c := range a.Comparisons {
		t.Logf("%s: %s", c.Container.Label(), c.Verdict)
		if c.Container.Cell.Benchmark == "ep" && c.Container.Cell.PMI == "pmi2" && c.Container.Cell.Runtime == "docker" {
			slower++
			pct, err := strconv.ParseFloat(strings.TrimSuffix(strings.Fields(strings.TrimPrefix(c.Verdict, "slower by "))[0], "%"), 64)
			if c.Kind != results.VerdictSlower || !strings.HasPrefix(c.Verdict, "slower by ") || err != nil || math.Abs(pct-5) > 1 || !(c.PAdjusted < 0.05) {
				t.Errorf("5%% overhead: %s (%s)", c.Verdict, c.Kind)
			}
			continue
		}
		if c.Kind == results.VerdictSlower || c.Kind == results.VerdictFaster {
			t.Errorf("no overhead, yet %s", c.Verdict)
		}
	}
	if slower != 1 {
		t.Fatalf("the overhead cell was compared %d times", slower)
	}
	findings := map[string]string{}
	for _, f := range a.Findings() {
		findings[f.Subject] = f.Text
	}
	if f := findings["docker per-rank"]; !strings.HasPrefix(f, "slower by ") || !strings.Contains(f, "% on ep.S pmi2 (95% CI ") {
		t.Errorf("docker finding %q", f)
	}
	// 12 s runs are long enough to measure the benchmark.
	if n := len(a.LaunchNoiseCells()); n != 0 || a.Cells[0].RunTimeS < 11 {
		t.Errorf("%d cells flagged; first cell's run time %v s", n, a.Cells[0].RunTimeS)
	}
	// 1% spread, 10 runs a side, 16 comparisons: 3.797 * 0.01 * sqrt(2/10)
	// = 0.0170 beyond the 2% margin, about 3.7%.
	s := a.Sensitivity
	if s.RunsPerSide != 10 || math.Abs(s.SDLog-0.01) > 0.002 || math.Abs(s.Overhead-(1-0.98*math.Exp(-3.797*s.SDLog*math.Sqrt(0.2)))) > 1e-3 ||
		!strings.HasPrefix(s.String(), "sensitivity on this host: the smallest overhead this study could detect with 80% power is 3.") {
		t.Errorf("sensitivity %+v: %s", s, s)
	}
}

// An equal pair, measured often and quietly, is equivalent; the same pair
// with a 1.5% difference is within a 2% margin but, measured three times
// with 2% noise, inconclusive.
func TestEquivalentAndInconclusive(t *testing.T) {
	nat := results.Cell{Benchmark: "cg", Class: "A", PMI: "pmi1", Ranks: 2, Runtime: "native"}
	ctr := nat
	ctr.Runtime = "docker"
	rng := stats.NewRand(5)
	a := results.Analyse(append(cellRuns(nat, noisy(rng, 12, 20, 0.003)...), cellRuns(ctr, noisy(rng, 12, 20, 0.003)...)...), results.AnalysisOptions{Seed: 1})
	if c := a.Comparisons[0]; c.Kind != results.VerdictEquivalent || !(c.EquivLow > 0.98 && c.EquivHigh < 1.02) || c.Equivalence.P >= 0.05 {
		t.Errorf("quiet equal pair: %s (%s)", c.Verdict, c.Kind)
	}
	a = results.Analyse(append(cellRuns(nat, 20, 20.4, 19.6), cellRuns(ctr, 20.3, 20.7, 19.9)...), results.AnalysisOptions{Seed: 1})
	c := a.Comparisons[0]
	if c.Kind != results.VerdictInconclusive || c.FurtherRuns < 1 || !strings.Contains(c.Verdict, "more runs per side would decide it") {
		t.Errorf("noisy pair: %s (%s)", c.Verdict, c.Kind)
	}
	// A 10% margin is wide enough for the same data's 90% interval.
	a = results.Analyse(append(cellRuns(nat, 20, 20.4, 19.6), cellRuns(ctr, 20.3, 20.7, 19.9)...), results.AnalysisOptions{Seed: 1, Margin: 0.1})
	if c := a.Comparisons[0]; c.Kind != results.VerdictEquivalent || !strings.HasPrefix(c.Verdict, "equivalent within ±10% (90% CI of relative performance 0.9") {
		t.Errorf("10%% margin: %s (%s)", c.Verdict, c.Kind)
	}
}

func TestLoadTakesMarginFromStudyConfig(t *testing.T) {
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 2, Benchmarks: []string{"ep"}, Ranks: []int{2}})
	study.Config = "[study]\nname = \"synthetic\"\nmargin = 0.05\nmin_run_time = \"100ms\"\n\n[matrix]\nranks = [2]\n"
	if err := resultstest.Store(st, study, runs, skips); err != nil {
		t.Fatal(err)
	}
	a, err := results.Load(context.Background(), st, "", results.AnalysisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Margin != 0.05 || a.MinRunTime != 100*time.Millisecond || a.Comparisons[0].Margin != 0.05 {
		t.Errorf("margin %v, floor %v", a.Margin, a.MinRunTime)
	}
	a, err = results.Load(context.Background(), st, "", results.AnalysisOptions{Margin: 0.03})
	if err != nil || a.Margin != 0.03 {
		t.Errorf("an explicit margin: %v (%v)", a.Margin, err)
	}
}

func TestSummaryPrintsVerdictsSensitivityAndLaunchNoise(t *testing.T) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 11, Benchmarks: []string{"cg", "is"}, Ranks: []int{2, 8}})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	var b strings.Builder
	if err := results.WriteSummary(&b, a); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"slower/faster: beyond the ±2% margin, p adjusted by Holm over 24 tested comparisons;",
		"  apptainer per-rank: equivalent within ±2% on all 8 comparisons (relative performance ",
		"  docker per-rank: slower on all 8 comparisons, by ",
		"  podman per-rank: inconclusive on all 8 comparisons (",
		"\nSensitivity on this host: the smallest overhead this study could detect with 80% power is 3.",
		// cg x8 (0.54 s) and is x2, x8 (0.42 s, 0.14 s): 3 x 2 PMIs x 4 runtimes.
		"\nLaunch noise dominates 24 cells (median benchmark time under 1s; ",
		"  is.S native mpich pmi1 x8: 0.1352 s, 5 of 5 runs short\n",
		"slower by 3.6% (95% CI ",
		": a difference, but not shown to exceed the ±2% margin; about ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
