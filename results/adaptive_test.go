package results_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/stats"
)

// adaptiveCells are a native cell and two "runtimes" compared with it.
func adaptiveCells() (native, same, slow results.Cell) {
	native = results.Cell{Benchmark: "ep", Kind: "npb", Class: "S", MPI: "mpich", PMI: "pmi1", Ranks: 2, Runtime: "native"}
	same, slow = native, native
	same.Runtime, slow.Runtime = "native+0%", "native+5%"
	for _, c := range []*results.Cell{&native, &same, &slow} {
		c.Key = c.CanonicalKey()
	}
	return native, same, slow
}

// measuredRuns returns n runs of cell whose times are centre with a
// log-normal spread cv, numbered from first.
func measuredRuns(rng *rand.Rand, cell results.Cell, first, n int, centre, cv float64) []results.Run {
	var out []results.Run
	for i, v := range noisy(rng, n, centre, cv) {
		out = append(out, results.Run{Study: "s", Cell: cell, Repetition: first + i, Status: results.StatusOK,
			Metric: results.Metric{Name: "time", Value: v, Unit: "s"}})
	}
	return out
}

func sorted(keys ...string) []string {
	slices.Sort(keys)
	return keys
}

func TestStoppingRule(t *testing.T) {
	rng := stats.NewRand(11)
	native, same, slow := adaptiveCells()
	opt := results.AnalysisOptions{Seed: 1, Margin: 0.02, MaxRepetitions: 10}

	// A 10% slowdown measured tightly is decided and its interval narrow:
	// nothing more to run at a 1% target, but a 0.1% target wants more.
	var runs []results.Run
	runs = append(runs, measuredRuns(rng, native, 1, 5, 1.0, 0.002)...)
	runs = append(runs, measuredRuns(rng, slow, 1, 5, 1.1, 0.002)...)
	a := results.Analyse(runs, opt)
	if len(a.Comparisons) != 1 || a.Comparisons[0].Kind != results.VerdictSlower {
		t.Fatalf("comparisons = %+v", a.Comparisons)
	}
	if keys := a.CellsToExtend(0.01, 10); len(keys) != 0 {
		t.Errorf("a decided, narrow comparison: extend %v, want none", keys)
	}
	if keys := a.CellsToExtend(0.001, 10); !slices.Equal(keys, sorted(native.Key, slow.Key)) {
		t.Errorf("a decided comparison wider than the target: extend %v, want both cells", keys)
	}
	if keys := a.CellsToExtend(0.001, 5); len(keys) != 0 {
		t.Errorf("cells at the maximum: extend %v, want none", keys)
	}

	// A 1% difference in 5% noise is inconclusive: both cells go on,
	// until they reach the maximum, where it is reported as stopped.
	runs = nil
	runs = append(runs, measuredRuns(rng, native, 1, 5, 1.0, 0.05)...)
	runs = append(runs, measuredRuns(rng, same, 1, 5, 1.01, 0.05)...)
	a = results.Analyse(runs, opt)
	if c := a.Comparisons[0]; c.Kind != results.VerdictInconclusive || c.StoppedAtMax {
		t.Fatalf("noisy comparison: %s, stopped at max %v", c.Verdict, c.StoppedAtMax)
	}
	if keys := a.CellsToExtend(0.01, 10); !slices.Equal(keys, sorted(native.Key, same.Key)) {
		t.Errorf("an inconclusive comparison: extend %v, want both cells", keys)
	}
	runs = append(runs, measuredRuns(rng, native, 6, 5, 1.0, 0.05)...)
	runs = append(runs, measuredRuns(rng, same, 6, 5, 1.01, 0.05)...)
	a = results.Analyse(runs, opt)
	if c := a.Comparisons[0]; c.Kind == results.VerdictInconclusive {
		if !c.StoppedAtMax || len(a.StoppedAtMax()) != 1 {
			t.Errorf("inconclusive at 10 runs a side, the maximum: StoppedAtMax = %v", c.StoppedAtMax)
		}
		if keys := a.CellsToExtend(0.01, 10); len(keys) != 0 {
			t.Errorf("at the maximum: extend %v, want none", keys)
		}
		var text strings.Builder
		if err := results.WriteSummary(&text, a); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), "Stopped at the most repetitions allowed (max_repetitions = 10)") {
			t.Errorf("the text does not list the comparison stopped at the maximum:\n%s", text.String())
		}
	} else {
		t.Fatalf("expected the noisy comparison to stay inconclusive at 10 runs: %s", c.Verdict)
	}

	// Too few valid runs on a side: not tested, and not extended.
	runs = measuredRuns(rng, native, 1, 2, 1.0, 0.05)
	runs = append(runs, measuredRuns(rng, slow, 1, 5, 1.05, 0.05)...)
	if keys := results.Analyse(runs, opt).CellsToExtend(0.01, 10); len(keys) != 0 {
		t.Errorf("an untested comparison: extend %v, want none", keys)
	}
}

// TestStoppingRuleConverges plays an adaptive study on synthetic runs:
// rounds of one run per cell the rule asks for, until it asks for none.
// With 1% noise, a true 5% slowdown is called slower and an A/A pair
// equivalent, both before the maximum, and the rule stops by itself.
func TestStoppingRuleConverges(t *testing.T) {
	rng := stats.NewRand(5)
	native, same, slow := adaptiveCells()
	centre := map[string]float64{native.Key: 1.0, same.Key: 1.0, slow.Key: 1.05}
	cells := map[string]results.Cell{native.Key: native, same.Key: same, slow.Key: slow}
	reps := map[string]int{}
	var runs []results.Run
	add := func(key string, n int) {
		runs = append(runs, measuredRuns(rng, cells[key], reps[key]+1, n, centre[key], 0.01)...)
		reps[key] += n
	}
	for key := range cells {
		add(key, 5)
	}
	const maxReps, target = 40, 0.01
	opt := results.AnalysisOptions{Seed: 2, Margin: 0.02, MaxRepetitions: maxReps}
	var a *results.Analysis
	for round := 0; ; round++ {
		a = results.Analyse(runs, opt)
		keys := a.CellsToExtend(target, maxReps)
		if len(keys) == 0 {
			break
		}
		if round > maxReps {
			t.Fatalf("round %d: still extending %v", round, keys)
		}
		for _, k := range keys {
			add(k, 1)
		}
	}
	for _, c := range a.Comparisons {
		want := results.VerdictEquivalent
		if c.Container.Cell.Key == slow.Key {
			want = results.VerdictSlower
		}
		if c.Kind != want || c.StoppedAtMax {
			t.Errorf("%s after %d runs: %s (stopped at max %v), want %s", c.Container.Label(), c.Container.Measured, c.Verdict, c.StoppedAtMax, want)
		}
		if w := c.CIHalfWidth(); !(w <= target) {
			t.Errorf("%s: interval half-width %.4f, want at most %.2f", c.Container.Label(), w, target)
		}
		t.Logf("%s: %d runs, %s", c.Container.Label(), c.Container.Measured, c.Verdict)
	}
}
