package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// The power calculations below use the normal approximation for two
// samples of equal size n and a common standard deviation sd: a true
// difference delta is detected with probability power by a test at level
// alpha when
//
//	delta >= (z(1 - alpha/sides) + z(power)) * sd * sqrt(2/n)
//
// (sides is 2 for a two-sided test, 1 for each of the one-sided tests of
// an equivalence test). The t distribution needs a little more than this
// with few runs, so the numbers are estimates, not promises.

// Detectable returns the smallest true difference a test at level alpha
// would detect with the given power, from samples of n1 and n2 values with
// standard deviation sd. It is +Inf when either sample is empty.
func Detectable(sd float64, n1, n2 int, alpha, power float64, sides int) float64 {
	if n1 < 1 || n2 < 1 {
		return math.Inf(1)
	}
	return zSum(alpha, power, sides) * sd * math.Sqrt(1/float64(n1)+1/float64(n2))
}

// RunsPerSide returns how many values each sample needs for a test at level
// alpha to detect a true difference delta with the given power, when the
// values have standard deviation sd. It is at least 2, and -1 when no
// number will do (delta is 0) or the answer is beyond maxRuns.
func RunsPerSide(sd, delta, alpha, power float64, sides, maxRuns int) int {
	if delta <= 0 || math.IsNaN(delta) || math.IsNaN(sd) {
		return -1
	}
	z := zSum(alpha, power, sides)
	n := math.Ceil(2 * (z * sd / delta) * (z * sd / delta))
	if n > float64(maxRuns) {
		return -1
	}
	return max(2, int(n))
}

func zSum(alpha, power float64, sides int) float64 {
	return distuv.UnitNormal.Quantile(1-alpha/float64(sides)) + distuv.UnitNormal.Quantile(power)
}
