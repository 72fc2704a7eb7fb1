package stats

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The example in SciPy's mannwhitneyu documentation (ages of male and
// female faculty): U = 17, exact two-sided p = 14/126 = 0.1111, normal
// approximation with continuity correction 0.11134688653314041.
func TestMannWhitneyTextbookExact(t *testing.T) {
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	r := MannWhitneyTest(males, females)
	if r.U != 17 || !r.Exact || !near(r.P, 14.0/126, 1e-12) {
		t.Errorf("got U=%v p=%v exact=%v, want U=17 p=0.11111 exact", r.U, r.P, r.Exact)
	}
	p, _ := normalP(17, 5, 4, 0)
	if !near(p, 0.11134688653314041, 1e-9) {
		t.Errorf("normal approximation p = %v, want 0.111346886533", p)
	}
	// Swapping the samples mirrors U and keeps p.
	s := MannWhitneyTest(females, males)
	if s.U != 3 || !near(s.P, r.P, 1e-12) {
		t.Errorf("swapped: U=%v p=%v", s.U, s.P)
	}
}

// R's wilcox.test documentation example (Hollander and Wolfe, depression
// scale): W = 35, one-sided exact p = 0.1272, so two-sided 0.2544.
func TestMannWhitneyHollanderWolfe(t *testing.T) {
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	r := MannWhitneyTest(x, y)
	if r.U != 35 || !near(r.P, 0.2544, 5e-4) {
		t.Errorf("U=%v p=%v, want U=35 p=0.2544", r.U, r.P)
	}
}

// Ties, worked by hand: x = {1,2,2,3}, y = {2,3,4,4,5}. Mid-ranks give
// R1 = 1+3+3+5.5 = 12.5, U = 2.5; tie groups of 3, 2 and 2 values make
// sum(t^3-t) = 36, variance 20/12*(10-36/72) = 15.8333, z = (7.5-0.5)/3.9791
// = 1.7592, p = 2*(1-Phi(1.7592)) = 0.0785.
func TestMannWhitneyTies(t *testing.T) {
	r := MannWhitneyTest([]float64{1, 2, 2, 3}, []float64{2, 3, 4, 4, 5})
	if r.Exact || r.U != 2.5 || !near(r.Z, -1.7592, 1e-3) || !near(r.P, 0.0785, 1e-3) {
		t.Errorf("got %+v, want U=2.5 z=-1.7592 p=0.0785 (normal)", r)
	}
	same := MannWhitneyTest([]float64{5, 5, 5}, []float64{5, 5, 5, 5})
	if same.P != 1 {
		t.Errorf("identical samples: p = %v, want 1", same.P)
	}
}

func TestMannWhitneyExactMatchesNormalForLargeSamples(t *testing.T) {
	var x, y []float64
	for i := 0; i < 20; i++ {
		x = append(x, float64(2*i)+0.5) // interleaved, x slightly shifted up
		y = append(y, float64(2*i)-0.7)
	}
	ex := MannWhitneyTest(x, y)
	pn, _ := normalP(ex.U, 20, 20, 0)
	if !ex.Exact || !near(ex.P, pn, 0.01) {
		t.Errorf("exact p %v vs normal p %v", ex.P, pn)
	}
	sep := MannWhitneyTest([]float64{10, 11, 12, 13, 14}, []float64{1, 2, 3, 4, 5})
	if !near(sep.P, 2.0/252, 1e-12) {
		t.Errorf("fully separated 5 vs 5: p = %v, want 2/252", sep.P)
	}
}

func TestMinP(t *testing.T) {
	for _, c := range []struct {
		n1, n2 int
		want   float64
	}{{3, 3, 0.1}, {4, 4, 2.0 / 70}, {2, 2, 1.0 / 3}, {0, 5, 1}} {
		if got := MinP(c.n1, c.n2); !near(got, c.want, 1e-12) {
			t.Errorf("MinP(%d,%d) = %v, want %v", c.n1, c.n2, got, c.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	xs := []float64{4, 1, 100, 3, 2}
	s := Describe(xs, DefaultResamples, NewRand(1))
	if s.N != 5 || s.Median != 3 || s.Mean != 22 || !near(s.SD, math.Sqrt(1902.5), 1e-9) || s.Min != 1 || s.Max != 100 {
		t.Errorf("got %+v", s)
	}
	if !near(s.CV, math.Sqrt(1902.5)/22, 1e-12) {
		t.Errorf("CV = %v", s.CV)
	}
	if s.CILow > s.Median || s.CIHigh < s.Median || s.CILow < 1 || s.CIHigh > 100 {
		t.Errorf("CI [%v, %v] does not bracket the median within the data", s.CILow, s.CIHigh)
	}
	again := Describe(xs, DefaultResamples, NewRand(1))
	if again != s {
		t.Errorf("same seed, different result: %+v vs %+v", again, s)
	}
	if Median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Errorf("even median wrong")
	}
	one := Describe([]float64{7}, 100, NewRand(1))
	if one.Median != 7 || one.CILow != 7 || one.CIHigh != 7 || one.SD != 0 {
		t.Errorf("single value: %+v", one)
	}
	if e := Describe(nil, 10, NewRand(1)); !math.IsNaN(e.Median) {
		t.Errorf("empty sample median = %v", e.Median)
	}
}

func TestBootstrapRatio(t *testing.T) {
	r, lo, hi := BootstrapRatioCI([]float64{2, 2, 2}, []float64{1, 1, 1, 1}, 0.95, 500, NewRand(3))
	if r != 2 || lo != 2 || hi != 2 {
		t.Errorf("constant samples: %v [%v, %v]", r, lo, hi)
	}
	num := []float64{10.1, 10.3, 9.9, 10.0, 10.2, 10.4}
	den := []float64{9.6, 9.7, 9.5, 9.8, 9.6, 9.9}
	r, lo, hi = BootstrapRatioCI(num, den, 0.95, DefaultResamples, NewRand(3))
	if !(lo <= r && r <= hi) || lo < 10.0/9.9-1e-9 || hi > 10.4/9.5+1e-9 || lo >= hi {
		t.Errorf("ratio %v [%v, %v] implausible", r, lo, hi)
	}
}

func TestSelectMedianMatchesSort(t *testing.T) {
	rng := NewRand(9)
	for n := 1; n < 60; n++ {
		for trial := 0; trial < 20; trial++ {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(rng.IntN(7)) // many ties
			}
			want := Median(xs)
			if got := selectMedian(append([]float64(nil), xs...)); got != want {
				t.Fatalf("n=%d %v: selectMedian %v, Median %v", n, xs, got, want)
			}
		}
	}
}

// The counting resampler must draw what copying the values and selecting
// their median draws, and return the same median to the bit: the report's
// intervals (and its golden figures) rest on it.
func TestResamplerMatchesCopyAndSelect(t *testing.T) {
	gen := NewRand(5)
	for n := 2; n < 70; n++ {
		for trial := 0; trial < 10; trial++ {
			xs := make([]float64, n)
			for i := range xs {
				switch trial % 3 {
				case 0:
					xs[i] = float64(gen.IntN(5)) // many ties
				case 1:
					xs[i] = 100 + gen.NormFloat64()
				default:
					xs[i] = gen.Float64()
					if i == n/3 {
						xs[i] = math.NaN() // no rank: the copying path
					}
				}
			}
			seed := gen.Uint64()
			ref, got := NewRand(seed), NewRand(seed)
			buf := make([]float64, n)
			r := newResampler(xs)
			for i := 0; i < 50; i++ {
				for j := range buf {
					buf[j] = xs[ref.IntN(n)]
				}
				want := selectMedian(buf)
				have := r.median(got)
				if math.Float64bits(want) != math.Float64bits(have) && !(math.IsNaN(want) && math.IsNaN(have)) {
					t.Fatalf("n=%d trial %d resample %d: median %v, copy and select gave %v", n, trial, i, have, want)
				}
			}
			if ref.Uint64() != got.Uint64() {
				t.Fatalf("n=%d: the resampler drew a different number of values", n)
			}
		}
	}
}
