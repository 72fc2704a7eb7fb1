package results

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Does the PMI flavour matter? Where a study ran the same cell (benchmark,
// kind, class, MPI, runtime, layout, ranks, binding, oversubscription)
// under several PMI flavours, each flavour is compared with a reference
// flavour of that cell by the same machinery as container against native:
// once on the benchmark's metric and once on the PMI exchange time
// (Run.PMIExchange: every rank speaking PMI until the first fence done).
//
// The reference is PMI-2 where the cell ran under it: it is what
// "srun --mpi=pmi2" gives today, so "PMIx vs PMI-2" answers whether moving
// to PMIx pays. Without PMI-2 the reference is PMI-1, else the first
// flavour in the order pmi1, pmi2, pmix, then by name. Every other flavour
// of the cell is compared with it (PMI-1 vs PMI-2 too).
//
// Relative performance is the flavour's performance over the reference's:
// above 1 the flavour is faster (for the exchange time: it wires up in
// less time). All the PMI comparisons' tests of a study, on the metric and
// on the exchange, form one family for Holm's adjustment, apart from the
// container-against-native family.

// PMIComparison is one PMI flavour of a cell against the reference flavour
// of the same cell.
type PMIComparison struct {
	// Flavour and Reference are the PMI flavours compared ("pmix", "pmi2").
	Flavour, Reference string
	// Metric compares the benchmark's headline metric; its Container is
	// the flavour's cell, its Native the reference's.
	Metric Comparison
	// Exchange compares the PMI exchange times (seconds, lower is
	// better); Kind is VerdictTooFew when the runs did not measure it.
	// Its two sides hold only the cell, the metric "pmi_exchange" and
	// the exchange times as Values (no summary).
	Exchange Comparison
}

// Subject names the comparison: "ep.S native mpich x2: pmix vs pmi2".
func (p PMIComparison) Subject() string {
	c := p.Metric.Container.Cell
	s := fmt.Sprintf("%s.%s %s", c.Benchmark, c.Class, orNative(c.Runtime))
	if c.Layout != "" && !c.IsNative() {
		s += " " + c.Layout
	}
	s += fmt.Sprintf(" %s x%d", c.MPI, c.Ranks)
	if c.Oversubscribed {
		s += " (oversubscribed)"
	}
	return s + ": " + p.Flavour + " vs " + p.Reference
}

// Runtime is the runtime (and layout) the comparison was made in, as
// findings group it: "native", "docker per-rank".
func (p PMIComparison) Runtime() string {
	c := p.Metric.Container.Cell
	s := orNative(c.Runtime)
	if c.Layout != "" && !c.IsNative() {
		s += " " + c.Layout
	}
	return s
}

// pmiMatchKey is what the cells of one PMI comparison share: everything
// that defines a cell but its PMI flavour.
func pmiMatchKey(c Cell) string {
	return strings.Join([]string{c.Kind, c.Benchmark, c.Class, c.MPI, orNative(c.Runtime), c.Layout,
		fmt.Sprint(c.Ranks), c.Bind, fmt.Sprint(c.Oversubscribed)}, "\x00")
}

// pmiRank orders flavours for the choice of a reference: PMI-2 first (see
// above), then PMI-1, PMIx and any other.
func pmiRank(f string) int {
	switch f {
	case "pmi2":
		return 0
	case "pmi1":
		return 1
	case "pmix":
		return 2
	}
	return 3
}

// exchangeMetric is the PMI exchange time as a metric.
var exchangeMetric = Metric{Name: "pmi_exchange", Unit: "s", HigherIsBetter: false}

// exchangeStats is cs with its PMI exchange times as its values.
func exchangeStats(cs *CellStats) *CellStats {
	return &CellStats{Cell: cs.Cell, Metric: exchangeMetric, Values: cs.Exchanges}
}

func comparePMIFlavours(cells []*CellStats, opt AnalysisOptions) []PMIComparison {
	groups := map[string][]*CellStats{}
	var keys []string
	for _, cs := range cells {
		if cs.Cell.PMI == "" {
			continue
		}
		k := pmiMatchKey(cs.Cell)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], cs)
	}
	sort.Strings(keys)
	var out []PMIComparison
	for _, k := range keys {
		g := groups[k]
		if len(g) < 2 {
			continue
		}
		sort.SliceStable(g, func(i, j int) bool {
			ri, rj := pmiRank(g[i].Cell.PMI), pmiRank(g[j].Cell.PMI)
			if ri != rj {
				return ri < rj
			}
			return g[i].Cell.PMI < g[j].Cell.PMI
		})
		ref := g[0]
		for _, cs := range g[1:] {
			out = append(out, PMIComparison{Flavour: cs.Cell.PMI, Reference: ref.Cell.PMI,
				Metric: Comparison{Container: cs, Native: ref}})
		}
	}
	if len(out) == 0 {
		return nil
	}
	// Grouped by runtime (native first), as the answers are read.
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := out[i].Runtime(), out[j].Runtime()
		if nativeFirst(ri) != nativeFirst(rj) {
			return nativeFirst(ri) < nativeFirst(rj)
		}
		return false
	})
	// One family: the metric comparisons, then the exchange comparisons.
	family := make([]Comparison, 2*len(out))
	parallel(len(out), func(i int) {
		p := &out[i]
		sub, ref := p.Metric.Container, p.Metric.Native
		family[i] = compareSides(sub, ref, opt, p.Flavour, p.Reference)
		ex := compareSides(exchangeStats(sub), exchangeStats(ref), opt, p.Flavour, p.Reference)
		if len(sub.Exchanges) == 0 || len(ref.Exchanges) == 0 {
			ex.Tested = false
			ex.Kind = VerdictTooFew
			ex.RelPerf, ex.RelLow, ex.RelHigh = math.NaN(), math.NaN(), math.NaN()
			ex.Verdict = "PMI exchange not measured (runs stored before it was, or no fence completed)"
		}
		family[len(out)+i] = ex
	})
	decide(family, opt.Margin)
	for i := range out {
		out[i].Metric = family[i]
		out[i].Exchange = family[len(out)+i]
	}
	return out
}
