package matrix

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/results"
)

func TestNextRoundNumbersAfterTheStoredRunsAndIsSeeded(t *testing.T) {
	a := Cell{Benchmark: "ep", Class: "S", Runtime: "native", RuntimeLabel: "native", MPI: "mpich", PMI: "pmi1", Ranks: 1, Kind: configs.KindNPB}
	b := a
	b.RuntimeLabel = "native+5%"
	templates := map[string]Cell{a.Key(): a, b.Key(): b}
	// As the store has them: b's class filled in, as for an HPL cell, so
	// the analysis' key differs from the one its runs were stored under.
	storedA := storeCell(a, nil, nil)
	storedB := storeCell(b, nil, nil)
	storedB.Class = "N=1000"
	var runs []results.Run
	for rep := 1; rep <= 4; rep++ {
		runs = append(runs, results.Run{Cell: storedA, Repetition: rep})
	}
	runs = append(runs, results.Run{Cell: storedB, Repetition: 6},
		results.Run{Cell: storedB, Repetition: 9, Warmup: true})
	keys := []string{storedA.CanonicalKey(), storedB.CanonicalKey(), "benchmark=filtered-out"}
	round := nextRound(runs, keys, templates, 7)
	if len(round) != 2 {
		t.Fatalf("round = %+v, want one run of each of the plan's two cells", round)
	}
	for i, p := range round {
		want := map[string]int{a.Key(): 5, b.Key(): 7}[p.cell.Key()]
		if p.cell.Repetition != want || p.cell.Warmup {
			t.Errorf("%s: repetition %d (warm-up %v), want measured repetition %d", p.cell.Key(), p.cell.Repetition, p.cell.Warmup, want)
		}
		if p.order != len(runs)+i {
			t.Errorf("run %d has order %d, want %d (after the stored runs)", i, p.order, len(runs)+i)
		}
	}
	again := nextRound(runs, keys, templates, 7)
	if fmt.Sprint(round) != fmt.Sprint(again) {
		t.Errorf("the same stored runs and seed drew two rounds: %v and %v", round, again)
	}
}

// adaptiveStudy is a native adaptive study of EP class S on one rank
// against itself with 10% more work injected (see package calibrate).
func adaptiveStudy(t *testing.T, dir, extra string) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse("adaptive.toml", []byte(fmt.Sprintf(`
[study]
name = "adaptive"
seed = 3
repetitions = "auto"
min_repetitions = 3
max_repetitions = 5
target_ci = 0.0001
warmup = 1
timeout = "60s"
npb_dir = %q
%s
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [1]
[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
args = ["{class}"]
[[runtime]]
name = "native"
[[runtime]]
name = "native"
label = "native+10%%"
env = { HPCBENCH_KERNEL_EXTRA = "0.1" }
`, dir, extra)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestAdaptiveStudyNatively runs a real adaptive study whose target
// interval (±0.01%) no run count here can reach: it adds rounds up to
// max_repetitions and stops there, a resumed run adds nothing, and a
// study with its budget spent adds no round at all.
func TestAdaptiveStudyNatively(t *testing.T) {
	testenv.SkipIfShort(t, "runs a real study")
	dir := needKernel(t, "mpich", "ep")
	ctx := context.Background()
	st, err := results.Open(filepath.Join(t.TempDir(), "adaptive.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	plan, err := NewPlan(ctx, adaptiveStudy(t, dir, ""), Overrides{Study: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Cells) != 2*(1+3) {
		t.Fatalf("plan: %d runs, want 2 cells x (1 warm-up + 3 measured); skipped %+v", len(plan.Cells), plan.Skipped)
	}
	var log strings.Builder
	sum, err := (&Local{Log: &log}).RunStudy(ctx, plan, st)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if sum.Rounds != 2 || sum.Ran != 2*(1+5) || sum.OK != sum.Ran {
		t.Errorf("summary %s (rounds %d), want 2 rounds and 12 ok runs\n%s", sum, sum.Rounds, log.String())
	}
	if !strings.Contains(sum.String(), "2 adaptive rounds") {
		t.Errorf("summary %q does not count the rounds", sum)
	}
	runs, err := st.Runs(ctx, "a1", results.RunsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		id := fmt.Sprintf("%s warmup=%v rep=%d", r.Cell.Key, r.Warmup, r.Repetition)
		if seen[id] {
			t.Errorf("%s stored twice", id)
		}
		seen[id] = true
		if !r.Warmup && (r.Repetition < 1 || r.Repetition > 5) {
			t.Errorf("%s: repetition outside 1..5", id)
		}
	}
	a, err := results.Load(ctx, st, "a1", results.AnalysisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.MaxRepetitions != 5 || len(a.Comparisons) != 1 {
		t.Fatalf("analysis: max repetitions %d, %d comparisons", a.MaxRepetitions, len(a.Comparisons))
	}
	c := a.Comparisons[0]
	if c.Container.Measured != 5 || c.Native.Measured != 5 {
		t.Errorf("measured runs %d and %d, want 5 each", c.Container.Measured, c.Native.Measured)
	}
	if c.StoppedAtMax != (c.Kind == results.VerdictInconclusive) {
		t.Errorf("%s: StoppedAtMax = %v", c.Verdict, c.StoppedAtMax)
	}
	t.Logf("after 5 runs a side: %s", c.Verdict)

	// Resuming a finished adaptive study runs nothing more.
	plan, err = NewPlan(ctx, adaptiveStudy(t, dir, ""), Overrides{Study: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	sum, err = (&Local{Resume: true}).RunStudy(ctx, plan, st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ran != 0 || sum.Rounds != 0 || sum.Resumed != len(plan.Cells) {
		t.Errorf("resume of a finished study: %s (rounds %d)", sum, sum.Rounds)
	}

	// A spent budget stops before the first round.
	plan, err = NewPlan(ctx, adaptiveStudy(t, dir, `budget = "1ms"`), Overrides{Study: "a2"})
	if err != nil {
		t.Fatal(err)
	}
	log.Reset()
	sum, err = (&Local{Log: &log}).RunStudy(ctx, plan, st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rounds != 0 || sum.Ran != len(plan.Cells) || !strings.Contains(log.String(), "budget of 1ms is spent") {
		t.Errorf("spent budget: %s (rounds %d); log:\n%s", sum, sum.Rounds, log.String())
	}
}
