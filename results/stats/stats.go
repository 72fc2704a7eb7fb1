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
	m := newResampler(xs)
	for i := range meds {
		meds[i] = m.median(rng)
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
	rn, rd := newResampler(num), newResampler(den)
	for i := range ratios {
		// The numerator's resample is drawn first, then the
		// denominator's: one sequence of draws per generator.
		n := rn.median(rng)
		ratios[i] = n / rd.median(rng)
	}
	lo, hi = percentileInterval(ratios, level)
	return ratio, lo, hi
}

// resampler draws bootstrap resamples of one sample and returns their
// medians. A resample is n draws with replacement of positions in xs;
// its median depends only on how often each value was drawn, so the
// draws are counted by the value's rank in the sorted sample and the
// median is read off the running count: no resample is copied or
// reordered. The draws are those of
//
//	for j := range buf { buf[j] = xs[rng.IntN(len(xs))] }
//
// and the median the one selectMedian finds in buf, to the bit.
type resampler struct {
	xs     []float64
	sorted []float64 // xs in increasing order
	rank   []int32   // rank[i]: a position of xs[i] in sorted
	counts []int32   // draws per rank in the resample being read
	buf    []float64 // for a sample with NaNs, which have no rank
}

func newResampler(xs []float64) *resampler {
	n := len(xs)
	r := &resampler{xs: xs}
	if slices.ContainsFunc(xs, math.IsNaN) {
		r.buf = make([]float64, n)
		return r
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch {
		case xs[a] < xs[b]:
			return -1
		case xs[a] > xs[b]:
			return 1
		}
		return 0
	})
	r.sorted = make([]float64, n)
	r.rank = make([]int32, n)
	for p, i := range order {
		r.sorted[p] = xs[i]
		r.rank[i] = int32(p)
	}
	r.counts = make([]int32, n)
	return r
}

// median draws one resample and returns its median.
func (r *resampler) median(rng *rand.Rand) float64 {
	n := len(r.xs)
	if r.buf != nil {
		for j := range r.buf {
			r.buf[j] = r.xs[rng.IntN(n)]
		}
		return selectMedian(r.buf)
	}
	counts := r.counts
	clear(counts)
	for range n {
		counts[r.rank[rng.IntN(n)]]++
	}
	// The k-th smallest drawn value (k from 0) lies at the first rank
	// where the running count exceeds k.
	k := int32(n / 2)
	p, seen := 0, counts[0]
	if n%2 == 1 {
		for seen <= k {
			p++
			seen += counts[p]
		}
		return r.sorted[p]
	}
	for seen <= k-1 {
		p++
		seen += counts[p]
	}
	lo := r.sorted[p]
	for seen <= k {
		p++
		seen += counts[p]
	}
	return (lo + r.sorted[p]) / 2
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
