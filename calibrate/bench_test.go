package calibrate

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
)

// BenchmarkCalibration runs the calibration for overheads 0, 2 and 5%
// with 20 seeds and prints how often each overhead was called slower,
// faster, equivalent or inconclusive, with the mean estimate and runs:
// how the verdicts behave on this machine when the answer is known. It is
// slow (with adaptive repetitions, up to 4 cells x 31 runs per seed);
// HPCBENCH_CALIBRATION_SEEDS, HPCBENCH_CALIBRATION_REPETITIONS (a count,
// or auto) and HPCBENCH_CALIBRATION_MAX (max_repetitions of an adaptive
// run, default 30) make it smaller.
//
//	go test -run '^$' -bench Calibration -benchtime 1x -timeout 2h ./calibrate/
func BenchmarkCalibration(b *testing.B) {
	seeds := envInt(b, "HPCBENCH_CALIBRATION_SEEDS", 20)
	reps := 0 // adaptive, as hpcbench calibrate runs by default
	if v := os.Getenv("HPCBENCH_CALIBRATION_REPETITIONS"); v != "" && v != "auto" {
		reps = envInt(b, "HPCBENCH_CALIBRATION_REPETITIONS", 0)
	}
	maxReps := 0
	if os.Getenv("HPCBENCH_CALIBRATION_MAX") != "" {
		maxReps = envInt(b, "HPCBENCH_CALIBRATION_MAX", 0)
	}
	dir := kernelDir(b)
	overheads := []float64{0, 2, 5}
	ctx := context.Background()
	st, err := results.Open(filepath.Join(b.TempDir(), "calibration.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	inv := inventory.Detect(ctx, inventory.Options{})

	type tally struct {
		verdicts       map[results.VerdictKind]int
		measured, runs []float64
		covered, atMax int
	}
	tallies := make([]tally, len(overheads))
	for i := range tallies {
		tallies[i].verdicts = map[results.VerdictKind]int{}
	}
	start := time.Now()
	for b.Loop() {
		for seed := 1; seed <= seeds; seed++ {
			res, err := Run(ctx, Options{Overheads: overheads, Repetitions: reps, MaxRepetitions: maxReps, Seed: int64(seed), KernelDir: dir,
				Study: "calibration-" + strconv.Itoa(seed), Inventory: inv}, &matrix.Local{}, st)
			if err != nil {
				b.Fatal(err)
			}
			for i, r := range res.Rows {
				t := &tallies[i]
				t.verdicts[r.Verdict]++
				if !math.IsNaN(r.Measured) {
					t.measured = append(t.measured, r.Measured)
					if r.CILow <= r.Injected && r.Injected <= r.CIHigh {
						t.covered++
					}
				}
				t.runs = append(t.runs, float64(r.Runs))
				if r.StoppedAtMax {
					t.atMax++
				}
			}
		}
	}
	repText := "auto"
	if maxReps > 0 {
		repText += fmt.Sprintf(" (max %d)", maxReps)
	}
	if reps > 0 {
		repText = strconv.Itoa(reps)
	}
	fmt.Printf("\ncalibration: ep class S, 1 rank, MPICH, %d seeds, repetitions %s, %s\n", seeds, repText, time.Since(start).Round(time.Second))
	fmt.Printf("%-9s %7s %7s %11s %13s %8s %14s %12s %10s %8s\n",
		"injected", "slower", "faster", "equivalent", "inconclusive", "too-few", "mean measured", "CI holds it", "mean runs", "at max")
	for i, x := range overheads {
		t := tallies[i]
		fmt.Printf("%-9s %7d %7d %11d %13d %8d %13.2f%% %12d %10.1f %8d\n", fmt.Sprintf("%g%%", x),
			t.verdicts[results.VerdictSlower], t.verdicts[results.VerdictFaster], t.verdicts[results.VerdictEquivalent],
			t.verdicts[results.VerdictInconclusive], t.verdicts[results.VerdictTooFew], mean(t.measured), t.covered, mean(t.runs), t.atMax)
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
