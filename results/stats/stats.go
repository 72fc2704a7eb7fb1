// Package stats holds the numerical methods hpcbench's results rest on:
// descriptive statistics of repeated runs, bootstrap confidence intervals
// of a median and of a ratio of medians, the Mann-Whitney U test, Welch's
// t-test with its two one-sided tests of equivalence (TOST), Holm's
// adjustment for many comparisons, and the normal-approximation power
// calculations behind "how many runs would decide it". It knows nothing
// about runs or cells; results.Analyse applies it.
package stats

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// DefaultResamples is the number of bootstrap resamples hpcbench uses.
const DefaultResamples = 2000

// Summary describes a sample of repeated measurements.
type Summary struct {
	N      int
	Median float64
	Mean   float64
	SD     float64 // sample standard deviation (n-1); 0 for n < 2
	CV     float64 // SD / Mean; 0 when undefined
	Min    float64
	Max    float64
	// CILow and CIHigh bound the 95% percentile-bootstrap confidence
	// interval of the median; both equal Median when n < 2.
	CILow  float64
	CIHigh float64
}

// Median returns the median of xs (the mean of the two middle values for
// an even count); NaN for an empty sample. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedMedian(s)
}

func sortedMedian(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Describe summarises xs; rng drives the bootstrap (seed it for results
// that repeat exactly).
func Describe(xs []float64, resamples int, rng *rand.Rand) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		nan := math.NaN()
		s.Median, s.Mean, s.SD, s.CV, s.Min, s.Max, s.CILow, s.CIHigh = nan, nan, nan, nan, nan, nan, nan, nan
		return s
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	s.Median = sortedMedian(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	if len(xs) > 1 {
		s.Mean, s.SD = stat.MeanStdDev(xs, nil)
	} else {
		s.Mean = xs[0]
	}
	if s.Mean != 0 {
		s.CV = s.SD / math.Abs(s.Mean)
	}
	s.CILow, s.CIHigh = BootstrapMedianCI(xs, 0.95, resamples, rng)
	return s
}

// BootstrapMedianCI returns the percentile-bootstrap confidence interval of
// the median of xs at the given level (0.95 for 95%).
func BootstrapMedianCI(xs []float64, level float64, resamples int, rng *rand.Rand) (lo, hi float64) {
	if len(xs) < 2 || resamples < 1 {
		m := Median(xs)
		return m, m
	}
	meds := make([]float64, resamples)
	buf := make([]float64, len(xs))
	for i := range meds {
		meds[i] = resampleMedian(xs, buf, rng)
	}
	return percentileInterval(meds, level)
}

// BootstrapRatioCI returns the median of num over the median of den, and
// the percentile-bootstrap interval of that ratio, resampling each sample
// independently.
func BootstrapRatioCI(num, den []float64, level float64, resamples int, rng *rand.Rand) (ratio, lo, hi float64) {
	ratio = Median(num) / Median(den)
	if len(num) < 2 || len(den) < 2 || resamples < 1 {
		return ratio, ratio, ratio
	}
	ratios := make([]float64, resamples)
	bn := make([]float64, len(num))
	bd := make([]float64, len(den))
	for i := range ratios {
		ratios[i] = resampleMedian(num, bn, rng) / resampleMedian(den, bd, rng)
	}
	lo, hi = percentileInterval(ratios, level)
	return ratio, lo, hi
}

func resampleMedian(xs, buf []float64, rng *rand.Rand) float64 {
	for j := range buf {
		buf[j] = xs[rng.IntN(len(xs))]
	}
	return selectMedian(buf)
}

// selectMedian returns the median of buf, reordering it: a selection in
// linear expected time, which matters when thousands of resamples are drawn.
func selectMedian(buf []float64) float64 {
	n := len(buf)
	hi := nthElement(buf, n/2)
	if n%2 == 1 {
		return hi
	}
	// The lower middle is the largest value left of n/2 after selection.
	lo := buf[0]
	for _, v := range buf[1 : n/2] {
		lo = max(lo, v)
	}
	return (lo + hi) / 2
}

// nthElement reorders a so that a[k] is the value a sorted a would hold
// there, with smaller or equal values before it and larger or equal after.
func nthElement(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		pivot := a[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

func percentileInterval(vals []float64, level float64) (lo, hi float64) {
	slices.Sort(vals)
	tail := (1 - level) / 2
	return stat.Quantile(tail, stat.Empirical, vals, nil), stat.Quantile(1-tail, stat.Empirical, vals, nil)
}

// NewRand returns the deterministic generator hpcbench's bootstraps use.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x68706362656e6368)) // "hpcbench"
}
