package results

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/hpcbench/hpcbench/results/stats"
)

// Baseline compares a study with a baseline study cell by cell: the same
// benchmark, class, MPI, PMI, runtime, layout, ranks, binding and
// oversubscription (the cell's canonical key, which leaves out versions
// and digests, so a runtime upgrade or another host still matches). Each
// matching pair is compared by the same machinery as container against
// native, the study's cell relative to the baseline's: above 1 the study
// is faster. Its tests are a family of their own for Holm's adjustment.
type Baseline struct {
	Baseline, Study string
	// Comparisons has one entry per cell both studies ran; Container is
	// the study's cell, Native the baseline's.
	Comparisons []Comparison
	// OnlyInStudy and OnlyInBaseline are cells the other study lacks.
	OnlyInStudy, OnlyInBaseline []*CellStats
	// Margin is the practical margin the verdicts used (the study's).
	Margin float64
}

// CompareStudies compares study with base (both analysed already). The
// margin is opt.Margin, else the study's.
func CompareStudies(base, study *Analysis, opt AnalysisOptions) *Baseline {
	if opt.Resamples == 0 {
		opt.Resamples = stats.DefaultResamples
	}
	if !(opt.Margin > 0 && opt.Margin < 0.5) {
		opt.Margin = study.Margin
	}
	if !(opt.Margin > 0 && opt.Margin < 0.5) {
		opt.Margin = DefaultMargin
	}
	if opt.Seed == 0 {
		opt.Seed = uint64(study.Study.Seed)
	}
	b := &Baseline{Baseline: base.Study.Name, Study: study.Study.Name, Margin: opt.Margin}
	byKey := map[string]*CellStats{}
	for _, cs := range base.Cells {
		byKey[cs.Cell.CanonicalKey()] = cs
	}
	matched := map[*CellStats]bool{}
	var pairs [][2]*CellStats
	for _, cs := range study.Cells {
		old := byKey[cs.Cell.CanonicalKey()]
		if old == nil {
			b.OnlyInStudy = append(b.OnlyInStudy, cs)
			continue
		}
		matched[old] = true
		pairs = append(pairs, [2]*CellStats{cs, old})
	}
	for _, cs := range base.Cells {
		if !matched[cs] {
			b.OnlyInBaseline = append(b.OnlyInBaseline, cs)
		}
	}
	b.Comparisons = make([]Comparison, len(pairs))
	parallel(len(pairs), func(i int) {
		b.Comparisons[i] = compareSides(pairs[i][0], pairs[i][1], opt, b.Study, b.Baseline)
	})
	decide(b.Comparisons, opt.Margin)
	return b
}

// LoadBaseline loads and analyses both studies from st and compares study
// with baseline.
func LoadBaseline(ctx context.Context, st *Store, baseline, study string, opt AnalysisOptions) (*Baseline, error) {
	base, err := Load(ctx, st, baseline, opt)
	if err != nil {
		return nil, fmt.Errorf("baseline %q: %w", baseline, err)
	}
	cur, err := Load(ctx, st, study, opt)
	if err != nil {
		return nil, fmt.Errorf("study %q: %w", study, err)
	}
	return CompareStudies(base, cur, opt), nil
}

// Counts returns how many comparisons got each verdict.
func (b *Baseline) Counts() map[VerdictKind]int {
	n := map[VerdictKind]int{}
	for _, c := range b.Comparisons {
		n[c.Kind]++
	}
	return n
}

// Regressions returns the comparisons whose verdict is "slower": the cells
// where the study lost performance against the baseline beyond the margin.
func (b *Baseline) Regressions() []Comparison {
	var out []Comparison
	for _, c := range b.Comparisons {
		if c.Kind == VerdictSlower {
			out = append(out, c)
		}
	}
	return out
}

// Summary is one sentence: "3 cells compared: 1 slower, 2 equivalent within ±2%".
func (b *Baseline) Summary() string {
	n := b.Counts()
	s := fmt.Sprintf("%d matching cell%s compared", len(b.Comparisons), plural(len(b.Comparisons)))
	var parts []string
	for _, k := range []VerdictKind{VerdictSlower, VerdictFaster, VerdictEquivalent, VerdictInconclusive, VerdictTooFew} {
		if n[k] == 0 {
			continue
		}
		word := string(k)
		switch k {
		case VerdictEquivalent:
			word = "equivalent within ±" + FormatMargin(b.Margin)
		case VerdictTooFew:
			word = "too few runs to test"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n[k], word))
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

// WriteBaseline prints a baseline comparison as "hpcbench results compare"
// shows it.
func WriteBaseline(w io.Writer, b *Baseline) error {
	ew := &errWriter{w: w}
	ew.printf("Study %s against baseline %s (relative performance = %s / %s performance; >1 is faster;\n", b.Study, b.Baseline, b.Study, b.Baseline)
	ew.printf("slower/faster: beyond the ±%s margin, p adjusted by Holm over this comparison's tests):\n", FormatMargin(b.Margin))
	ew.printf("%s\n", capitalise(b.Summary()))
	if len(b.Comparisons) > 0 {
		ew.printf("\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CELL\tN\tREL. PERF.\t95% CI\tVERDICT")
		for _, c := range b.Comparisons {
			rel, ci := "-", "-"
			if !math.IsNaN(c.RelPerf) {
				rel, ci = fmt.Sprintf("%.3f", c.RelPerf), fmt.Sprintf("%.3f-%.3f", c.RelLow, c.RelHigh)
			}
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\n", c.Container.Label(), len(c.Container.Values), len(c.Native.Values), rel, ci, c.Verdict)
		}
		tw.Flush()
	}
	for _, side := range []struct {
		what  string
		cells []*CellStats
	}{{"Cells only in " + b.Study, b.OnlyInStudy}, {"Cells only in " + b.Baseline, b.OnlyInBaseline}} {
		if len(side.cells) == 0 {
			continue
		}
		ew.printf("\n%s (not compared):\n", side.what)
		for _, c := range side.cells {
			ew.printf("  %s\n", c.Label())
		}
	}
	return ew.err
}

// Startup is the wire-up of one runtime, layout and PMI flavour split into
// its two parts, as medians (seconds) over the cells that measured them.
type Startup struct {
	Runtime, Layout, PMI string
	// Cells is the number of cells the medians are over.
	Cells int
	// ContainerStartS is the slowest rank's spawn to its first PMI
	// message; PMIExchangeS every rank speaking to the first fence done;
	// WireUpS the first spawn to every rank's PMI init, for reference.
	ContainerStartS, PMIExchangeS, WireUpS float64
}

// Label names the row: "docker per-rank pmi1", "native pmix".
func (s Startup) Label() string {
	return Cell{Runtime: s.Runtime, Layout: s.Layout, PMI: s.PMI}.Label()
}

// Startups returns the wire-up split per runtime, layout and PMI flavour,
// for the runtimes whose runs measured it, sorted native first.
func (a *Analysis) Startups() []Startup {
	type acc struct{ start, exchange, wire []float64 }
	groups := map[[3]string]*acc{}
	var keys [][3]string
	for _, cs := range a.Cells {
		if cs.ContainerStartS <= 0 && cs.PMIExchangeS <= 0 {
			continue
		}
		layout := cs.Cell.Layout
		if cs.Cell.IsNative() {
			layout = ""
		}
		k := [3]string{orNative(cs.Cell.Runtime), layout, cs.Cell.PMI}
		g := groups[k]
		if g == nil {
			g = &acc{}
			groups[k] = g
			keys = append(keys, k)
		}
		g.start = appendPositive(g.start, cs.ContainerStartS)
		g.exchange = appendPositive(g.exchange, cs.PMIExchangeS)
		g.wire = appendPositive(g.wire, cs.WireUpS)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if nativeFirst(a[0]) != nativeFirst(b[0]) {
			return nativeFirst(a[0]) < nativeFirst(b[0])
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return a[2] < b[2]
	})
	out := make([]Startup, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		out = append(out, Startup{Runtime: k[0], Layout: k[1], PMI: k[2], Cells: max(len(g.start), len(g.exchange)),
			ContainerStartS: medianOrZero(g.start), PMIExchangeS: medianOrZero(g.exchange), WireUpS: medianOrZero(g.wire)})
	}
	return out
}
