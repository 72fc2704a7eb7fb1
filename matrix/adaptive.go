package matrix

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hpcbench/hpcbench/results"
)

// Adaptive repetitions (repetitions = "auto"): the plan's cells carry
// min_repetitions measured runs each. Once they are stored, adaptiveRounds
// analyses the study as "hpcbench results" would and, while some
// comparison is undecided (results.Comparison.Undecided: inconclusive, or
// its ratio's 95% interval wider than ±target_ci), runs one more round:
// one more repetition of each cell of those comparisons that has fewer
// than max_repetitions, in a seeded random order, so that drift still
// spreads over the cells compared. It stops when no comparison is
// undecided, every undecided one has reached the maximum, or the study's
// runs have taken [study] budget.
//
// Everything it decides on is read back from the store, so a resumed
// study picks up where it stopped: the planned runs first, then the
// rounds the stored runs still call for, numbered after the highest
// repetition stored.

// adaptiveRounds runs rounds until the stopping rule or the budget ends
// them; runOne runs and stores one run and returns false when the study
// was interrupted.
func (l *Local) adaptiveRounds(ctx context.Context, plan *Plan, store *results.Store, study string, sum *Summary,
	runOne func(scheduled) (bool, error), newBar func(runs int) *progress) error {
	s := plan.Config.Study
	templates := map[string]Cell{}
	for _, c := range plan.Cells {
		if !c.Warmup {
			if _, ok := templates[c.Key()]; !ok {
				templates[c.Key()] = c
			}
		}
	}
	opt := results.AnalysisOptions{Seed: uint64(plan.Seed), Margin: s.Margin,
		MinRunTime: s.MinRunTime.Duration, MaxRepetitions: s.MaxRepetitions}
	for ctx.Err() == nil {
		runs, err := store.Runs(ctx, study, results.RunsOptions{})
		if err != nil {
			return err
		}
		spent := spentTime(runs)
		if s.Budget.Duration > 0 && spent >= s.Budget.Duration {
			l.logf("adaptive repetitions: the budget of %s is spent (%s of runs); undecided comparisons stay so\n",
				s.Budget.Duration, spent.Round(time.Second))
			return nil
		}
		round := nextRound(runs, results.Analyse(runs, opt).CellsToExtend(s.TargetCI, s.MaxRepetitions), templates, plan.Seed)
		if len(round) == 0 {
			return nil
		}
		sum.Planned += len(round)
		sum.Rounds++
		bar := newBar(len(round))
		deferred := sum.Deferred
		for _, p := range round {
			if ctx.Err() != nil {
				return nil
			}
			if s.Budget.Duration > 0 && spent >= s.Budget.Duration {
				break
			}
			start := time.Now()
			ok, err := runOne(p)
			if err != nil || !ok {
				return err
			}
			spent += time.Since(start)
		}
		bar.finish()
		if sum.Deferred > deferred {
			// A deferred run is not stored, so the next round would ask
			// for it again, and again: the rounds go on after --resume.
			l.logf("adaptive repetitions: runs of this round were deferred; the rounds go on with --resume\n")
			return nil
		}
	}
	return nil
}

// spentTime is the wall time of a study's stored runs.
func spentTime(runs []results.Run) time.Duration {
	var d time.Duration
	for _, r := range runs {
		d += r.Wall
	}
	return d
}

// nextRound is one more measured run of each cell keys names that this
// plan has (a filtered plan leaves the others alone), numbered after the
// highest repetition stored for it, in an order drawn from the seed and
// the round's repetition numbers, so that a resumed study draws the same.
// keys are the analysis' (results.Cell.CanonicalKey); the plan's cells
// are found by the key their runs were stored under (Cell.Key), which
// differs for a cell whose class the store fills in (HPL's "N=...").
func nextRound(runs []results.Run, keys []string, templates map[string]Cell, seed int64) []scheduled {
	highest := map[string]int{}
	stored := map[string]string{}
	for _, r := range runs {
		stored[r.Cell.CanonicalKey()] = r.Cell.Key
		if !r.Warmup && r.Repetition > highest[r.Cell.Key] {
			highest[r.Cell.Key] = r.Repetition
		}
	}
	var round []scheduled
	var salt uint64
	for _, canonical := range keys {
		k, ok := stored[canonical]
		if !ok {
			k = canonical
		}
		c, ok := templates[k]
		if !ok {
			continue
		}
		c.Repetition = highest[k] + 1
		salt = salt*31 + uint64(c.Repetition)
		round = append(round, scheduled{cell: c})
	}
	rng := rand.New(rand.NewPCG(uint64(seed), salt^0x6164617074697665))
	rng.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
	for i := range round {
		round[i].order = len(runs) + i // after every run stored so far
	}
	return round
}

func (l *Local) logf(format string, a ...any) {
	if l.Log != nil {
		fmt.Fprintf(l.Log, format, a...)
	}
}
