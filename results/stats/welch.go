package stats

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// TTest is Welch's two-sample t-test of mean(x) - mean(y), which does not
// assume equal variances (degrees of freedom by Welch-Satterthwaite).
type TTest struct {
	Diff float64 // mean(x) - mean(y)
	SE   float64 // standard error of Diff
	DF   float64 // Welch-Satterthwaite degrees of freedom
	T    float64 // Diff / SE
	P    float64 // two-sided p-value
}

// WelchTTest compares the means of x and y. Both samples need at least two
// values; the result is NaN otherwise. Two constant samples give SE 0: P is
// 1 when their means are equal and 0 when they differ.
func WelchTTest(x, y []float64) TTest {
	if len(x) < 2 || len(y) < 2 {
		nan := math.NaN()
		return TTest{Diff: nan, SE: nan, DF: nan, T: nan, P: nan}
	}
	mx, vx := stat.MeanVariance(x, nil)
	my, vy := stat.MeanVariance(y, nil)
	ax, ay := vx/float64(len(x)), vy/float64(len(y))
	r := TTest{Diff: mx - my, SE: math.Sqrt(ax + ay)}
	if r.SE == 0 {
		r.DF = float64(len(x) + len(y) - 2)
		switch {
		case r.Diff == 0:
			r.P = 1
		default:
			r.T, r.P = math.Copysign(math.Inf(1), r.Diff), 0
		}
		return r
	}
	r.DF = (ax + ay) * (ax + ay) / (ax*ax/float64(len(x)-1) + ay*ay/float64(len(y)-1))
	r.T = r.Diff / r.SE
	r.P = math.Min(1, 2*r.dist().Survival(math.Abs(r.T)))
	return r
}

func (t TTest) dist() distuv.StudentsT { return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: t.DF} }

// CI returns the two-sided confidence interval of Diff at level (0.95 for 95%).
func (t TTest) CI(level float64) (lo, hi float64) {
	if t.SE == 0 || math.IsNaN(t.SE) {
		return t.Diff, t.Diff
	}
	h := t.dist().Quantile(1-(1-level)/2) * t.SE
	return t.Diff - h, t.Diff + h
}

// Equivalence is the two one-sided tests (TOST) procedure of Schuirmann
// (1987) on Welch's t: the difference lies between Low and High when both
// H0: Diff <= Low and H0: Diff >= High are rejected. Rejecting both at
// level alpha is the same as the (1 - 2 alpha) confidence interval of Diff
// lying inside (Low, High), which is how hpcbench states it.
type Equivalence struct {
	TTest
	Low, High float64
	// PLower tests H0: Diff <= Low, PUpper H0: Diff >= High; P is the
	// larger, the p-value of the equivalence claim.
	PLower, PUpper, P float64
}

// TOST tests whether mean(x) - mean(y) lies within (low, high), low < high.
// It needs two values a side, like WelchTTest.
func TOST(x, y []float64, low, high float64) Equivalence {
	e := Equivalence{TTest: WelchTTest(x, y), Low: low, High: high}
	switch {
	case math.IsNaN(e.Diff):
		e.PLower, e.PUpper, e.P = math.NaN(), math.NaN(), math.NaN()
		return e
	case e.SE == 0:
		e.PLower, e.PUpper = boolP(e.Diff > low), boolP(e.Diff < high)
	default:
		d := e.dist()
		e.PLower = d.Survival((e.Diff - low) / e.SE)
		e.PUpper = d.CDF((e.Diff - high) / e.SE)
	}
	e.P = math.Max(e.PLower, e.PUpper)
	return e
}

// boolP is the p-value of a test without noise: 0 when the alternative
// holds exactly, 1 when it does not.
func boolP(alternative bool) float64 {
	if alternative {
		return 0
	}
	return 1
}
