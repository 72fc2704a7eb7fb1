package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// MannWhitney is the result of a two-sided Mann-Whitney U (Wilcoxon
// rank-sum) test.
type MannWhitney struct {
	// U is the statistic of the first sample: the number of pairs (x, y)
	// with x > y, ties counting one half.
	U float64
	// P is the two-sided p-value.
	P float64
	// Exact is true when P comes from the exact distribution of U (no
	// ties, both samples of at most ExactLimit values); otherwise it comes
	// from the normal approximation with tie and continuity corrections.
	Exact bool
	Z     float64 // the normal score; 0 for an exact test
}

// ExactLimit is the largest sample size for which the exact distribution is used.
const ExactLimit = 50

// MannWhitneyTest compares x and y without assuming a distribution.
// Both samples must hold at least one value; the result is NaN otherwise.
func MannWhitneyTest(x, y []float64) MannWhitney {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{U: math.NaN(), P: math.NaN()}
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	// Mid-ranks for ties; tieTerm accumulates sum(t^3 - t) over tie groups.
	var r1, tieTerm float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j averaged
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		if t := float64(j - i); t > 1 {
			tieTerm += t*t*t - t
		}
		i = j
	}
	fn1 := float64(n1)
	u := r1 - fn1*(fn1+1)/2
	res := MannWhitney{U: u}
	if tieTerm == 0 && n1 <= ExactLimit && n2 <= ExactLimit {
		res.Exact = true
		res.P = exactTwoSided(n1, n2, u)
		return res
	}
	res.P, res.Z = normalP(u, fn1, float64(n2), tieTerm)
	return res
}

// normalP is the normal approximation of the two-sided p-value of U, with
// the variance corrected for ties (tieTerm = sum of t^3 - t over groups of
// t tied values) and a continuity correction of one half.
func normalP(u, n1, n2, tieTerm float64) (p, z float64) {
	n := n1 + n2
	mu := n1 * n2 / 2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - tieTerm/(n*(n-1))))
	if sigma == 0 { // every value equal: no evidence of a difference
		return 1, 0
	}
	d := math.Max(0, math.Abs(u-mu)-0.5)
	z = d / sigma
	if u < mu {
		z = -z
	}
	return math.Min(1, 2*distuv.UnitNormal.Survival(math.Abs(z))), z
}

// exactTwoSided returns 2 * P(U <= min(u, n1*n2 - u)) under the null
// hypothesis, from the counts of arrangements giving each U.
func exactTwoSided(n1, n2 int, u float64) float64 {
	counts := uCounts(n1, n2)
	total := 0.0
	for _, c := range counts {
		total += c
	}
	tail := math.Min(u, float64(n1*n2)-u)
	var p float64
	for k := 0; k <= int(math.Floor(tail+1e-9)); k++ {
		p += counts[k]
	}
	return math.Min(1, 2*p/total)
}

// uCounts returns, for k = 0..n1*n2, the number of orderings of n1 x's and
// n2 y's in which exactly k (x, y) pairs have x > y. It uses the
// recurrence c(m, n, k) = c(m-1, n, k-n) + c(m, n-1, k): the largest value
// is either an x (beating all n y's) or a y.
func uCounts(n1, n2 int) []float64 {
	// prev[n][k] holds c(m-1, n, k); cur is built for m.
	maxU := n1 * n2
	prev := make([][]float64, n2+1)
	for n := range prev {
		prev[n] = make([]float64, maxU+1)
		prev[n][0] = 1 // c(0, n, 0) = 1
	}
	for m := 1; m <= n1; m++ {
		cur := make([][]float64, n2+1)
		cur[0] = make([]float64, maxU+1)
		cur[0][0] = 1 // c(m, 0, 0) = 1
		for n := 1; n <= n2; n++ {
			row := make([]float64, maxU+1)
			for k := 0; k <= m*n; k++ {
				v := cur[n-1][k]
				if k >= n {
					v += prev[n][k-n]
				}
				row[k] = v
			}
			cur[n] = row
		}
		prev = cur
	}
	return prev[n2]
}

// MinP is the smallest two-sided p-value an exact Mann-Whitney test can
// reach with samples of n1 and n2 values: 2 / C(n1+n2, n1). With 3 and 3
// it is 0.1, so no difference can ever be significant at 0.05.
func MinP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	lg, _ := math.Lgamma(float64(n1 + n2 + 1))
	l1, _ := math.Lgamma(float64(n1 + 1))
	l2, _ := math.Lgamma(float64(n2 + 1))
	return math.Min(1, 2/math.Exp(lg-l1-l2))
}
