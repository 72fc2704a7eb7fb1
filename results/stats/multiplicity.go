package stats

import (
	"math"
	"slices"
)

// Holm adjusts p-values for multiple comparisons by Holm's (1979) step-down
// method, which controls the family-wise error rate: the chance of even one
// false rejection among all the tests is at most alpha when every adjusted
// p below alpha is rejected. With the m p-values sorted ascending,
//
//	adjusted p(i) = max over j <= i of min(1, (m - j + 1) p(j))
//
// which is what R's p.adjust(p, "holm") computes. NaN entries (tests not
// made) stay NaN and do not count in m. The result is in the input's order.
func Holm(ps []float64) []float64 {
	out := make([]float64, len(ps))
	var idx []int
	for i, p := range ps {
		if math.IsNaN(p) {
			out[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case ps[a] < ps[b]:
			return -1
		case ps[a] > ps[b]:
			return 1
		}
		return 0
	})
	m := len(idx)
	running := 0.0
	for rank, i := range idx {
		running = math.Max(running, math.Min(1, float64(m-rank)*ps[i]))
		out[i] = running
	}
	return out
}
