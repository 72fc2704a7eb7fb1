package stats

import (
	"math"
	"testing"
)

// Holm's adjustment, worked by hand with the algorithm R's p.adjust
// documents for method "holm" (Holm 1979): sort ascending, multiply the
// i-th smallest of m by m-i+1, carry the running maximum, cap at 1.
func TestHolm(t *testing.T) {
	for _, c := range []struct {
		name string
		p    []float64
		want []float64
	}{
		// 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> running max 0.06.
		{"unsorted", []float64{0.01, 0.04, 0.03, 0.005}, []float64{0.03, 0.06, 0.06, 0.02}},
		// p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") = 0.05 0.08 0.09 0.09 0.09.
		{"evenly spaced", []float64{0.01, 0.02, 0.03, 0.04, 0.05}, []float64{0.05, 0.08, 0.09, 0.09, 0.09}},
		// 0.3*3 = 0.9; 0.4*2 = 0.8 -> 0.9; 0.9*1 = 0.9: capped values and ties.
		{"large", []float64{0.9, 0.3, 0.4}, []float64{0.9, 0.9, 0.9}},
		// 0.2*2 = 0.4 and 0.7*1 = 0.7; NaN is not a test and does not count.
		{"with NaN", []float64{0.7, math.NaN(), 0.2}, []float64{0.7, math.NaN(), 0.4}},
		{"one", []float64{0.03}, []float64{0.03}},
		{"capped", []float64{0.6, 0.6}, []float64{1, 1}},
	} {
		got := Holm(c.p)
		for i := range c.want {
			if math.IsNaN(c.want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(got[i]) && !near(got[i], c.want[i], 1e-12)) {
				t.Errorf("%s: Holm(%v) = %v, want %v", c.name, c.p, got, c.want)
				break
			}
		}
	}
	// Sixteen comparisons whose smallest p is the smallest an exact
	// Mann-Whitney test of 4 runs a side can give (2/70 = 0.0286): Holm
	// multiplies it by 16, far from 0.05.
	ps := make([]float64, 16)
	for i := range ps {
		ps[i] = 0.2 + 0.05*float64(i)
	}
	ps[7] = MinP(4, 4)
	if adj := Holm(ps); !near(adj[7], 16*2.0/70, 1e-12) {
		t.Errorf("adjusted smallest p = %v, want %v", adj[7], 16*2.0/70)
	}
}

// R's documented t.test example on the sleep data (Cushny and Peebles, as
// in R's datasets): t.test(extra ~ group, data = sleep) prints Welch's
// t = -1.8608, df = 17.776, p-value = 0.07939, 95 percent confidence
// interval -3.3654832 0.2054832.
var sleep1 = []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
var sleep2 = []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}

func TestWelchTTestSleep(t *testing.T) {
	r := WelchTTest(sleep1, sleep2)
	if !near(r.Diff, -1.58, 1e-12) || !near(r.T, -1.8608, 5e-5) || !near(r.DF, 17.776, 5e-4) || !near(r.P, 0.07939, 5e-6) {
		t.Errorf("got %+v, want t=-1.8608 df=17.776 p=0.07939", r)
	}
	lo, hi := r.CI(0.95)
	if !near(lo, -3.3654832, 1e-6) || !near(hi, 0.2054832, 1e-6) {
		t.Errorf("95%% CI [%v, %v], want [-3.3654832, 0.2054832]", lo, hi)
	}
	if c := WelchTTest([]float64{2, 2}, []float64{2, 2, 2}); c.P != 1 {
		t.Errorf("equal constants: %+v", c)
	}
	if c := WelchTTest([]float64{3, 3}, []float64{2, 2, 2}); c.P != 0 || !math.IsInf(c.T, 1) {
		t.Errorf("different constants: %+v", c)
	}
	if c := WelchTTest([]float64{3}, []float64{2, 2, 2}); !math.IsNaN(c.P) {
		t.Errorf("one value: %+v", c)
	}
}

// A TOST reference case on the same data with equivalence bounds of
// +-0.5 (raw units), as TOSTER's t_TOST(extra ~ group, data = sleep,
// eqb = 0.5) runs it. From R's published Welch output above, SE =
// 1.58/1.8608 = 0.84910: the lower test has t = (-1.58 + 0.5)/0.84910 =
// -1.2719, p = P(T > -1.2719 | 17.776 df) = 0.890; the upper test
// t = (-1.58 - 0.5)/0.84910 = -2.4496, p = P(T < -2.4496) = 0.0124. The
// equivalence p is the larger, 0.890: not equivalent. Its 90% interval is
// -1.58 -+ t(0.95, 17.776) * 0.84910, with t(0.95, 17.776) = 1.7353
// interpolated from the tables' 1.7396 (17 df) and 1.7341 (18 df):
// [-3.0535, -0.1065], which reaches below the lower bound -0.5.
func TestTOSTSleep(t *testing.T) {
	e := TOST(sleep1, sleep2, -0.5, 0.5)
	if !near((e.Diff+0.5)/e.SE, -1.2719, 5e-4) || !near(e.PLower, 0.890, 1e-3) || !near(e.PUpper, 0.0124, 2e-4) || e.P != e.PLower {
		t.Errorf("got %+v, want lower p 0.890, upper p 0.0124", e)
	}
	lo, hi := e.CI(0.90)
	if !near(lo, -3.0535, 5e-4) || !near(hi, -0.1065, 5e-4) {
		t.Errorf("90%% CI [%v, %v], want [-3.0535, -0.1065]", lo, hi)
	}
	// Shifting the second sample by the observed difference centres it:
	// then bounds of +-2.5 contain the whole 90% interval (+-1.4735), and
	// both one-sided tests reject.
	shifted := make([]float64, len(sleep2))
	for i, v := range sleep2 {
		shifted[i] = v - 1.58
	}
	c := TOST(sleep1, shifted, -2.5, 2.5)
	lo, hi = c.CI(0.90)
	if !(c.P < 0.05) || !(lo > -2.5 && hi < 2.5) || !near(c.PLower, c.PUpper, 1e-9) {
		t.Errorf("centred: %+v CI [%v, %v]", c, lo, hi)
	}
}

func TestPower(t *testing.T) {
	// z(0.975) + z(0.8) = 1.959964 + 0.841621 = 2.801585; with sd 1 and
	// 8 a side the detectable difference is 2.801585 * sqrt(2/8) = 1.400792.
	if d := Detectable(1, 8, 8, 0.05, 0.8, 2); !near(d, 1.400792, 1e-5) {
		t.Errorf("Detectable = %v, want 1.400792", d)
	}
	// Inverting it: 2 * (2.801585 * 1 / 0.5)^2 = 62.79 -> 63 runs a side.
	if n := RunsPerSide(1, 0.5, 0.05, 0.8, 2, 1000); n != 63 {
		t.Errorf("RunsPerSide = %d, want 63", n)
	}
	if n := RunsPerSide(1, 0, 0.05, 0.8, 2, 1000); n != -1 {
		t.Errorf("zero difference: %d runs, want -1", n)
	}
	if n := RunsPerSide(1, 0.01, 0.05, 0.8, 2, 1000); n != -1 {
		t.Errorf("beyond the cap: %d runs, want -1", n)
	}
}
