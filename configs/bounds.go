package configs

import (
	"fmt"
	"strings"
)

// Ceilings on the size of a study, checked when a config is validated:
// before the matrix is expanded, so a mistyped count (repetitions = 1e9)
// is an error naming its key and line rather than gigabytes of cells or
// a --dry-run that never ends.
const (
	// MaxRunsPerCell bounds each of repetitions, warmup, min_repetitions
	// and max_repetitions, in [study] and in a [[benchmark]].
	MaxRunsPerCell = 10_000
	// MaxStudyRuns bounds the runs the whole matrix expands to, warm-ups
	// included (an adaptive study's counted at max_repetitions), before
	// any cell is skipped.
	MaxStudyRuns = 100_000
)

// runsPerCell checks the counts of runs a config sets against MaxRunsPerCell.
func (v *validator) runsPerCell() {
	s := v.cfg.Study
	for _, k := range []struct {
		key string
		n   int
		set bool
	}{
		{"study.repetitions", s.RepetitionsKey.Count, !s.AutoRepetitions && v.md.IsDefined("study", "repetitions")},
		{"study.warmup", s.Warmup, v.md.IsDefined("study", "warmup")},
		{"study.min_repetitions", s.MinRepetitions, v.md.IsDefined("study", "min_repetitions")},
		{"study.max_repetitions", s.MaxRepetitions, v.md.IsDefined("study", "max_repetitions")},
	} {
		if k.set && k.n > MaxRunsPerCell {
			v.add(k.key, ErrInvalid, "%d: more than the %d runs a cell may have", k.n, MaxRunsPerCell)
		}
	}
	for i, b := range v.cfg.Benchmarks {
		key := fmt.Sprintf("benchmark[%d]", i)
		if b.Repetitions != nil && *b.Repetitions > MaxRunsPerCell {
			v.add(key+".repetitions", ErrInvalid, "%d: more than the %d runs a cell may have", *b.Repetitions, MaxRunsPerCell)
		}
		if b.Warmup != nil && *b.Warmup > MaxRunsPerCell {
			v.add(key+".warmup", ErrInvalid, "%d: more than the %d runs a cell may have", *b.Warmup, MaxRunsPerCell)
		}
	}
}

// runsBound counts the runs a benchmark entry (after names are split)
// expands to at most, and says what they are made of.
func (c *Config) runsBound(b Benchmark) (int64, string) {
	classes := max(len(b.Classes), 1)
	layouts := 0
	for _, rt := range c.Runtimes {
		if len(b.Runtimes) == 0 || contains(b.Runtimes, rt.Label) {
			layouts += len(rt.Layouts)
		}
	}
	mpis, pmis, ranks := len(or(b.MPI, c.Matrix.MPI)), len(or(b.PMI, c.Matrix.PMI)), len(or(b.Ranks, c.Matrix.Ranks))
	perCell := c.Study.Repetitions
	if c.Study.AutoRepetitions {
		perCell = c.Study.MaxRepetitions
	} else if b.Repetitions != nil {
		perCell = *b.Repetitions
	}
	if b.Warmup != nil {
		perCell += *b.Warmup
	} else {
		perCell += c.Study.Warmup
	}
	n := int64(1)
	for _, f := range []int{classes, layouts, mpis, pmis, ranks, perCell} {
		n = saturatingMul(n, int64(f))
	}
	parts := []string{
		plural(classes, "class", "classes"), plural(layouts, "runtime layout", "runtime layouts"),
		plural(mpis, "MPI", "MPI"), plural(pmis, "PMI flavour", "PMI flavours"),
		plural(ranks, "rank count", "rank counts"), plural(perCell, "run per cell", "runs per cell"),
	}
	return n, strings.Join(parts, " x ")
}

// studySize refuses a matrix of more than MaxStudyRuns runs, naming the
// benchmark entry with the most. It runs on a config that validated.
func (v *validator) studySize() {
	var total, most int64
	mostAt, mostWhy := -1, ""
	for _, b := range v.cfg.Benchmarks {
		n, why := v.cfg.runsBound(b)
		total = saturatingAdd(total, n)
		if n > most || mostAt < 0 {
			most, mostAt, mostWhy = n, b.source, why
		}
	}
	if total <= MaxStudyRuns {
		return
	}
	v.add(fmt.Sprintf("benchmark[%d]", mostAt), ErrInvalid,
		"the study expands to %s runs, more than the %d a study may have: lower repetitions or narrow an axis (this entry: %s = %d runs)",
		countText(total), MaxStudyRuns, mostWhy, most)
}

// saturationPoint is where the counts above stop growing: far above any
// ceiling, far below overflow.
const saturationPoint = int64(1) << 60

func saturatingMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > saturationPoint/b {
		return saturationPoint
	}
	return min(a*b, saturationPoint)
}

func saturatingAdd(a, b int64) int64 { return min(a+b, saturationPoint) }

func countText(n int64) string {
	if n >= saturationPoint {
		return "more than 10^18"
	}
	return fmt.Sprint(n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func or[T any](override, base []T) []T {
	if override != nil {
		return override
	}
	return base
}
