package results

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hpcbench/hpcbench/results/stats"
)

// Relative performance, as hpcbench reports it everywhere, is the
// container's performance divided by native performance: for a time,
// native_time / container_time; for a rate (Gflop/s, Mop/s), container_rate
// / native_rate. Above 1 the container is faster, below 1 slower. "Slower
// by 3.1%" means a relative performance of 0.969.

// Alpha is the significance level of the tests.
const Alpha = 0.05

// CellStats summarises the repetitions of one cell.
type CellStats struct {
	// Cell describes the cell; its Key is the canonical key the runs were grouped by.
	Cell Cell
	// Metric names the headline number (Value is unused).
	Metric Metric
	// Values are the metric of the valid, non-warm-up runs, in repetition order.
	Values []float64
	stats.Summary
	// Counts of the runs not in Values.
	Warmups, Invalid, Failed, Timeout int
	// Median launch timings (seconds) over the runs that got that far.
	WallS, WireUpS, FirstFenceS float64
	Hosts                       []string
	// Versions and digests seen across the runs (normally one each).
	MPIVersions, RuntimeVersions, ImageDigests []string
}

// Label names the cell in a table: "cg.S docker per-rank pmi1 x4".
func (c *CellStats) Label() string {
	s := fmt.Sprintf("%s.%s %s x%d", c.Cell.Benchmark, c.Cell.Class, c.Cell.Label(), c.Cell.Ranks)
	if c.Cell.Oversubscribed {
		s += " (oversubscribed)"
	}
	return s
}

// VerdictKind classifies a comparison.
type VerdictKind string

const (
	VerdictSlower       VerdictKind = "slower"
	VerdictFaster       VerdictKind = "faster"
	VerdictNoDifference VerdictKind = "no-difference"
	VerdictTooFew       VerdictKind = "too-few"
)

// Comparison is a container cell against its native counterpart (same
// benchmark, kind, class, MPI, PMI, rank count, binding and
// oversubscription).
type Comparison struct {
	Container, Native *CellStats
	// RelPerf is relative performance (see the package comment) from the
	// medians; RelLow and RelHigh bound its 95% bootstrap interval.
	RelPerf, RelLow, RelHigh float64
	// Test is the Mann-Whitney test of the two samples; valid when Tested.
	Test   stats.MannWhitney
	Tested bool
	Kind   VerdictKind
	// Verdict is the plain sentence: "slower by 3.1% (95% CI 1.2-5.0%, p=0.008)".
	Verdict string
}

// Analysis is everything the report, plots and "results show" print.
type Analysis struct {
	Study Study
	Hosts []Host
	Cells []*CellStats
	// Comparisons has one entry per container cell that has a native counterpart.
	Comparisons []Comparison
	// Unmatched are container cells without a native counterpart.
	Unmatched []*CellStats
	// NotOK are the runs that failed, timed out or were invalid.
	NotOK []Run
	Skips []Skip
	// Runs is the number of runs analysed.
	Runs       int
	Provenance Provenance
}

// Provenance gathers where a study's numbers came from, over all its runs.
type Provenance struct {
	// Runtimes maps a runtime to the versions seen; MPIs likewise.
	Runtimes map[string][]string
	MPIs     map[string][]string
	// Images are "runtime image@digest" strings, sorted.
	Images []string
	// PMI maps "asked -> negotiated" ("pmix -> pmix") to the number of runs.
	PMI map[string]int
	// Env maps each recorded variable to its distinct values.
	Env map[string][]string
	// Choices maps "runtime: key" to the adapter's distinct choices.
	Choices map[string][]string
	// Argv maps a benchmark to its distinct command lines (at most 5 kept).
	Argv map[string][]string
	// SlurmJobs is the number of distinct Slurm jobs runs came from.
	SlurmJobs         int
	Started, Finished time.Time
}

func (p *Provenance) add(r *Run) {
	if p.Runtimes == nil {
		p.Runtimes, p.MPIs, p.PMI = map[string][]string{}, map[string][]string{}, map[string]int{}
		p.Env, p.Choices, p.Argv = map[string][]string{}, map[string][]string{}, map[string][]string{}
	}
	rt := orNative(r.Cell.Runtime)
	p.Runtimes[rt] = addUnique(p.Runtimes[rt], r.Cell.RuntimeVersion)
	if r.Cell.MPI != "" {
		p.MPIs[r.Cell.MPI] = addUnique(p.MPIs[r.Cell.MPI], r.Cell.MPIVersion)
	}
	if r.Cell.Image != "" {
		img := rt + " " + r.Cell.Image
		if r.Cell.ImageDigest != "" {
			img += "@" + r.Cell.ImageDigest
		}
		p.Images = addUnique(p.Images, img)
	}
	neg := strings.Join(uniqueStrings(r.NegotiatedPMI), ",")
	if neg == "" {
		neg = "(none)"
	}
	p.PMI[r.Cell.PMI+" -> "+neg]++
	for k, v := range r.Env {
		p.Env[k] = addUnique(p.Env[k], v)
	}
	for k, v := range r.Choices {
		p.Choices[rt+": "+k] = addUnique(p.Choices[rt+": "+k], v)
	}
	if len(r.Argv) > 0 && len(p.Argv[r.Cell.Benchmark]) < 5 {
		p.Argv[r.Cell.Benchmark] = addUnique(p.Argv[r.Cell.Benchmark], strings.Join(r.Argv, " "))
	}
	if !r.Started.IsZero() && (p.Started.IsZero() || r.Started.Before(p.Started)) {
		p.Started = r.Started
	}
	if r.Finished.After(p.Finished) {
		p.Finished = r.Finished
	}
}

func uniqueStrings(xs []string) []string {
	var out []string
	for _, x := range xs {
		out = addUnique(out, x)
	}
	sort.Strings(out)
	return out
}

// AnalysisOptions tune Analyse.
type AnalysisOptions struct {
	Resamples int    // bootstrap resamples; default stats.DefaultResamples
	Seed      uint64 // bootstrap seed; the same seed gives the same intervals
}

// Analyse groups runs into cells and compares container cells with native ones.
func Analyse(runs []Run, opt AnalysisOptions) *Analysis {
	if opt.Resamples == 0 {
		opt.Resamples = stats.DefaultResamples
	}
	a := &Analysis{Runs: len(runs)}
	byKey := map[string]*CellStats{}
	var order []string
	type timing struct{ wall, wire, fence []float64 }
	timings := map[string]*timing{}
	slurmJobs := map[string]bool{}
	for i := range runs {
		r := &runs[i]
		a.Provenance.add(r)
		if r.SlurmJobID != "" {
			slurmJobs[r.SlurmJobID] = true
		}
		key := r.Cell.CanonicalKey()
		cs := byKey[key]
		if cs == nil {
			cell := r.Cell
			cell.Key = key
			cs = &CellStats{Cell: cell, Metric: Metric{Name: r.Metric.Name, Unit: r.Metric.Unit, HigherIsBetter: r.Metric.HigherIsBetter}}
			byKey[key] = cs
			timings[key] = &timing{}
			order = append(order, key)
		}
		cs.Hosts = addUnique(cs.Hosts, r.Host.Hostname)
		cs.MPIVersions = addUnique(cs.MPIVersions, r.Cell.MPIVersion)
		cs.RuntimeVersions = addUnique(cs.RuntimeVersions, r.Cell.RuntimeVersion)
		cs.ImageDigests = addUnique(cs.ImageDigests, r.Cell.ImageDigest)
		if r.Status != StatusOK {
			a.NotOK = append(a.NotOK, *r)
			switch r.Status {
			case StatusInvalid:
				cs.Invalid++
			case StatusTimeout:
				cs.Timeout++
			default:
				cs.Failed++
			}
		}
		if r.Status == StatusOK || r.Status == StatusInvalid {
			tm := timings[key]
			tm.wall = appendPositive(tm.wall, r.Wall.Seconds())
			tm.wire = appendPositive(tm.wire, r.WireUp.Seconds())
			tm.fence = appendPositive(tm.fence, r.FirstFence.Seconds())
		}
		switch {
		case r.Status != StatusOK:
		case r.Warmup:
			cs.Warmups++
		case math.IsNaN(r.Metric.Value) || math.IsInf(r.Metric.Value, 0):
		default:
			if cs.Metric.Name == "" {
				cs.Metric = Metric{Name: r.Metric.Name, Unit: r.Metric.Unit, HigherIsBetter: r.Metric.HigherIsBetter}
			}
			cs.Values = append(cs.Values, r.Metric.Value)
		}
	}
	a.Provenance.SlurmJobs = len(slurmJobs)
	sort.Strings(a.Provenance.Images)
	sort.Strings(order)
	for _, key := range order {
		a.Cells = append(a.Cells, byKey[key])
	}
	// Each cell's bootstrap has its own seeded generator, so spreading the
	// cells over the cores changes no number.
	parallel(len(a.Cells), func(i int) {
		cs := a.Cells[i]
		key := cs.Cell.Key
		cs.Summary = stats.Describe(cs.Values, opt.Resamples, stats.NewRand(opt.Seed^hashString(key)))
		tm := timings[key]
		cs.WallS, cs.WireUpS, cs.FirstFenceS = medianOrZero(tm.wall), medianOrZero(tm.wire), medianOrZero(tm.fence)
	})
	sort.SliceStable(a.Cells, func(i, j int) bool { return cellLess(a.Cells[i].Cell, a.Cells[j].Cell) })

	natives := map[string][]*CellStats{}
	for _, cs := range a.Cells {
		if cs.Cell.IsNative() {
			natives[matchKey(cs.Cell)] = append(natives[matchKey(cs.Cell)], cs)
		}
	}
	var pairs [][2]*CellStats
	for _, cs := range a.Cells {
		if cs.Cell.IsNative() {
			continue
		}
		nat := pickNative(natives[matchKey(cs.Cell)], cs.Cell)
		if nat == nil {
			a.Unmatched = append(a.Unmatched, cs)
			continue
		}
		pairs = append(pairs, [2]*CellStats{cs, nat})
	}
	a.Comparisons = make([]Comparison, len(pairs))
	parallel(len(pairs), func(i int) { a.Comparisons[i] = compare(pairs[i][0], pairs[i][1], opt) })
	return a
}

// parallel runs fn(0..n-1) on as many goroutines as there are CPUs.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// matchKey is what a container cell and its native counterpart share.
func matchKey(c Cell) string {
	return strings.Join([]string{c.Kind, c.Benchmark, c.Class, c.MPI, c.PMI, fmt.Sprint(c.Ranks), fmt.Sprint(c.Oversubscribed)}, "\x00")
}

// pickNative prefers the native cell with the same binding.
func pickNative(cands []*CellStats, c Cell) *CellStats {
	for _, n := range cands {
		if n.Cell.Bind == c.Bind {
			return n
		}
	}
	if len(cands) > 0 {
		return cands[0]
	}
	return nil
}

func compare(ctr, nat *CellStats, opt AnalysisOptions) Comparison {
	cmp := Comparison{Container: ctr, Native: nat}
	nc, nn := len(ctr.Values), len(nat.Values)
	if nc == 0 || nn == 0 {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = math.NaN(), math.NaN(), math.NaN()
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("no valid runs to compare (n=%d container, %d native)", nc, nn)
		return cmp
	}
	if ctr.Metric.Name != nat.Metric.Name || ctr.Metric.HigherIsBetter != nat.Metric.HigherIsBetter {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = math.NaN(), math.NaN(), math.NaN()
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("not comparable: the container cell measured %s, the native cell %s", ctr.Metric.Name, nat.Metric.Name)
		return cmp
	}
	rng := stats.NewRand(opt.Seed ^ hashString(ctr.Cell.Key+"\x00"+nat.Cell.Key))
	higher := ctr.Metric.HigherIsBetter
	if higher {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = stats.BootstrapRatioCI(ctr.Values, nat.Values, 0.95, opt.Resamples, rng)
	} else {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = stats.BootstrapRatioCI(nat.Values, ctr.Values, 0.95, opt.Resamples, rng)
	}
	if stats.MinP(nc, nn) >= Alpha {
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("too few repetitions for a test (n=%d container, %d native); %.3fx native", nc, nn, cmp.RelPerf)
		return cmp
	}
	cmp.Tested = true
	cmp.Test = stats.MannWhitneyTest(ctr.Values, nat.Values)
	switch {
	case cmp.Test.P >= Alpha:
		cmp.Kind = VerdictNoDifference
		cmp.Verdict = fmt.Sprintf("no significant difference (p=%s)", formatP(cmp.Test.P))
	case cmp.RelPerf < 1:
		cmp.Kind = VerdictSlower
		cmp.Verdict = fmt.Sprintf("slower by %.1f%% (95%% CI %.1f-%.1f%%, p=%s)",
			100*(1-cmp.RelPerf), 100*(1-cmp.RelHigh), 100*(1-cmp.RelLow), formatP(cmp.Test.P))
	default:
		cmp.Kind = VerdictFaster
		cmp.Verdict = fmt.Sprintf("faster by %.1f%% (95%% CI %.1f-%.1f%%, p=%s)",
			100*(cmp.RelPerf-1), 100*(cmp.RelLow-1), 100*(cmp.RelHigh-1), formatP(cmp.Test.P))
	}
	return cmp
}

func formatP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	if p < 0.01 {
		return fmt.Sprintf("%.3f", p)
	}
	return fmt.Sprintf("%.2f", p)
}

// Finding is one sentence of the executive summary, about one runtime and
// layout across benchmarks.
type Finding struct {
	Subject string // "docker per-rank"
	Text    string // "slower by 4.2% on cg.S (95% CI ...); no significant difference on ep.S, is.S"
}

func (f Finding) String() string { return f.Subject + ": " + f.Text }

// Findings turns the comparisons into sentences, one per runtime and layout.
func (a *Analysis) Findings() []Finding {
	groups := map[string][]Comparison{}
	var subjects []string
	for _, c := range a.Comparisons {
		subj := orNative(c.Container.Cell.Runtime)
		if c.Container.Cell.Layout != "" {
			subj += " " + c.Container.Cell.Layout
		}
		if _, ok := groups[subj]; !ok {
			subjects = append(subjects, subj)
		}
		groups[subj] = append(groups[subj], c)
	}
	sort.Strings(subjects)
	var out []Finding
	for _, subj := range subjects {
		cs := groups[subj]
		name := comparisonNamer(cs)
		var slower, faster, same, few []string
		within1 := true
		benchmarks := map[string]bool{}
		for _, c := range cs {
			benchmarks[c.Container.Cell.Benchmark] = true
			if !(math.Abs(c.RelLow-1) <= 0.01 && math.Abs(c.RelHigh-1) <= 0.01) {
				within1 = false
			}
			switch c.Kind {
			case VerdictSlower, VerdictFaster:
				what := fmt.Sprintf("%s by %.1f%% on %s", c.Kind, 100*math.Abs(c.RelPerf-1), name(c))
				lo, hi := 100*(1-c.RelHigh), 100*(1-c.RelLow)
				if c.Kind == VerdictFaster {
					lo, hi = 100*(c.RelLow-1), 100*(c.RelHigh-1)
				}
				what += fmt.Sprintf(" (95%% CI %.1f-%.1f%%)", lo, hi)
				if c.Kind == VerdictSlower {
					slower = append(slower, what)
				} else {
					faster = append(faster, what)
				}
			case VerdictNoDifference:
				same = append(same, name(c))
			default:
				few = append(few, name(c))
			}
		}
		var parts []string
		if len(slower)+len(faster) == 0 && len(same) > 0 && len(few) == 0 {
			what := fmt.Sprintf("%d comparisons", len(cs))
			if len(benchmarks) == len(cs) {
				what = fmt.Sprintf("%d benchmark%s", len(cs), plural(len(cs)))
			}
			if within1 {
				parts = append(parts, fmt.Sprintf("within 1%% of native on all %s; no significant difference", what))
			} else {
				lo, hi := relRange(cs)
				parts = append(parts, fmt.Sprintf("no significant difference on all %s (relative performance %.3f-%.3f)", what, lo, hi))
			}
		} else if n := len(cs); n > 2 && (len(slower) == n || len(faster) == n) {
			dir := "slower"
			if len(faster) == n {
				dir = "faster"
			}
			lo, hi := relRange(cs)
			ciLo, ciHi := math.Inf(1), math.Inf(-1)
			for _, c := range cs {
				ciLo, ciHi = math.Min(ciLo, c.RelLow), math.Max(ciHi, c.RelHigh)
			}
			d1, d2, c1, c2 := 100*(1-hi), 100*(1-lo), 100*(1-ciHi), 100*(1-ciLo)
			if dir == "faster" {
				d1, d2, c1, c2 = 100*(lo-1), 100*(hi-1), 100*(ciLo-1), 100*(ciHi-1)
			}
			parts = append(parts, fmt.Sprintf("%s on all %d comparisons, by %.1f-%.1f%% (95%% CIs within %.1f-%.1f%%)", dir, n, d1, d2, c1, c2))
		} else {
			parts = append(parts, slower...)
			parts = append(parts, faster...)
			if len(same) > 0 {
				parts = append(parts, "no significant difference on "+strings.Join(same, ", "))
			}
			if len(few) > 0 {
				parts = append(parts, "too few repetitions to test "+strings.Join(few, ", "))
			}
		}
		out = append(out, Finding{Subject: subj, Text: strings.Join(parts, "; ")})
	}
	return out
}

// comparisonNamer names comparisons within a group as briefly as the group
// allows: "cg.S", or "cg.S pmi1 x4" when the PMI or rank count varies.
func comparisonNamer(cs []Comparison) func(Comparison) string {
	pmis, ranks, over := map[string]bool{}, map[int]bool{}, false
	for _, c := range cs {
		pmis[c.Container.Cell.PMI] = true
		ranks[c.Container.Cell.Ranks] = true
		over = over || c.Container.Cell.Oversubscribed
	}
	return func(c Comparison) string {
		s := c.Container.Cell.Benchmark + "." + c.Container.Cell.Class
		if len(pmis) > 1 {
			s += " " + c.Container.Cell.PMI
		}
		if len(ranks) > 1 {
			s += fmt.Sprintf(" x%d", c.Container.Cell.Ranks)
		}
		if over && c.Container.Cell.Oversubscribed {
			s += " (oversubscribed)"
		}
		return s
	}
}

func relRange(cs []Comparison) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, c := range cs {
		lo, hi = math.Min(lo, c.RelPerf), math.Max(hi, c.RelPerf)
	}
	return lo, hi
}

// Benchmarks returns the benchmarks the analysis covers, sorted.
func (a *Analysis) Benchmarks() []string {
	var out []string
	for _, c := range a.Cells {
		out = addUnique(out, c.Cell.Benchmark)
	}
	sort.Strings(out)
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func cellLess(a, b Cell) bool {
	ka := []string{a.Benchmark, a.Class, fmt.Sprintf("%06d", a.Ranks), a.PMI, nativeFirst(a.Runtime), a.Layout, a.MPI, a.Bind, fmt.Sprint(a.Oversubscribed)}
	kb := []string{b.Benchmark, b.Class, fmt.Sprintf("%06d", b.Ranks), b.PMI, nativeFirst(b.Runtime), b.Layout, b.MPI, b.Bind, fmt.Sprint(b.Oversubscribed)}
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return false
}

func nativeFirst(rt string) string {
	if rt == "" || rt == "native" {
		return ""
	}
	return rt
}

func addUnique(xs []string, s string) []string {
	if s == "" {
		return xs
	}
	for _, x := range xs {
		if x == s {
			return xs
		}
	}
	return append(xs, s)
}

func appendPositive(xs []float64, v float64) []float64 {
	if v > 0 {
		return append(xs, v)
	}
	return xs
}

func medianOrZero(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return stats.Median(xs)
}

// hashString is FNV-1a: a stable per-cell bootstrap seed, so adding a cell
// does not change another cell's interval.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Load reads a study (the most recent one for an empty name) and analyses it.
func Load(ctx context.Context, st *Store, study string, opt AnalysisOptions) (*Analysis, error) {
	s, err := st.Study(ctx, study)
	if err != nil {
		return nil, err
	}
	runs, err := st.Runs(ctx, s.Name, RunsOptions{})
	if err != nil {
		return nil, err
	}
	if opt.Seed == 0 {
		opt.Seed = uint64(s.Seed)
	}
	a := Analyse(runs, opt)
	a.Study = s
	if a.Hosts, err = st.Hosts(ctx, s.Name); err != nil {
		return nil, err
	}
	if a.Skips, err = st.Skips(ctx, s.Name); err != nil {
		return nil, err
	}
	return a, nil
}
