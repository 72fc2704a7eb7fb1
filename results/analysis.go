package results

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/hpcbench/hpcbench/results/stats"
	"gonum.org/v1/gonum/stat"
)

// Relative performance, as hpcbench reports it everywhere, is the
// container's performance divided by native performance: for a time,
// native_time / container_time; for a rate (Gflop/s, Mop/s), container_rate
// / native_rate. Above 1 the container is faster, below 1 slower. "Slower
// by 3.1%" means a relative performance of 0.969.

// How hpcbench turns two samples into a verdict a center can act on.
//
// Every comparison of a study is tested with Welch's t-test on the
// logarithm of performance (so a difference is a ratio), and the raw
// p-values of all the study's tested comparisons are adjusted together by
// Holm's method, which keeps the chance of calling even one runtime
// slower or faster falsely at Alpha however many comparisons the study
// makes. A comparison is then
//
//   - "slower by X%" or "faster by X%" when the adjusted p is below Alpha
//     and the 95% bootstrap interval of the ratio of medians lies wholly
//     beyond the practical margin m on that side (below 1-m, above 1+m):
//     a difference too small to matter is not called one;
//   - "equivalent within ±m" when the 90% interval of the ratio lies inside
//     [1-m, 1+m]: both one-sided tests of Schuirmann's TOST reject at Alpha
//     (per comparison, unadjusted: a false "equivalent" overlooks a small
//     difference, the milder error, and TOST is conservative with few runs);
//   - "inconclusive" otherwise, with the further runs per side that the
//     observed variance says would decide it.
//
// A comparison with fewer than MinTestRuns valid runs on a side is not
// tested at all ("too few repetitions").

// Alpha is the significance level of the tests, after adjustment.
const Alpha = 0.05

// DefaultMargin is the practical margin m when the study sets none: a
// relative performance within 1 +- m counts as no difference that matters.
const DefaultMargin = 0.02

// DefaultMinRunTime is the benchmark time under which a run is short
// enough for launch and wire-up noise to dominate what it measures.
const DefaultMinRunTime = time.Second

// Power is the chance of detecting a true difference that the run counts
// of inconclusive verdicts and the study's sensitivity are computed for.
const Power = 0.8

// MinTestRuns is the fewest valid runs a side that a comparison is tested
// with: each side's variance then rests on at least two degrees of freedom.
const MinTestRuns = 3

// maxFurtherRuns caps the runs an inconclusive verdict suggests; beyond it
// more runs are not a practical way to decide.
const maxFurtherRuns = 1000

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
	// Measured counts the cell's non-warm-up runs whatever their status:
	// the repetitions an adaptive study has spent on it.
	Measured int
	// Median launch timings (seconds) over the runs that got that far.
	WallS, WireUpS, FirstFenceS float64
	// ContainerStartS and PMIExchangeS are the medians (seconds) of the
	// wire-up's two parts (Run.ContainerStart, Run.PMIExchange) over the
	// runs that measured them; 0 when none did.
	ContainerStartS, PMIExchangeS float64
	// Exchanges are the PMI exchange times (seconds) of the runs in
	// Values that measured one: the sample PMI comparisons test.
	Exchanges []float64
	Hosts     []string
	// Versions and digests seen across the runs (normally one each).
	MPIVersions, RuntimeVersions, ImageDigests []string
	// RunTimeS is the median benchmark time (seconds) of the runs in
	// Values, from their time_s metric or a headline metric in seconds; 0
	// when the runs recorded none.
	RunTimeS float64
	// ShortRuns counts the runs in Values whose benchmark time was under
	// the analysis' MinRunTime.
	ShortRuns int
	// LaunchNoise is set when RunTimeS is under MinRunTime: launch and
	// wire-up jitter, not the benchmark, then dominates the cell's spread.
	LaunchNoise bool
}

// Label names the cell in a table: "cg.S docker per-rank mpich pmi1 x4".
// The MPI is named (unless the cell has none): two MPIs under one PMI
// flavour are otherwise two rows of one name.
func (c *CellStats) Label() string {
	side := c.Cell.label(true)
	name := c.Cell.Benchmark
	if c.Cell.Class != "" {
		name += "." + c.Cell.Class
	}
	s := fmt.Sprintf("%s %s x%d", name, side, c.Cell.Ranks)
	if c.Cell.Oversubscribed {
		s += " (oversubscribed)"
	}
	return s
}

// VerdictKind classifies a comparison (see the verdict rules above).
type VerdictKind string

const (
	VerdictSlower       VerdictKind = "slower"       // slower beyond the margin, after adjustment
	VerdictFaster       VerdictKind = "faster"       // faster beyond the margin, after adjustment
	VerdictEquivalent   VerdictKind = "equivalent"   // within the margin (TOST)
	VerdictInconclusive VerdictKind = "inconclusive" // neither shown; FurtherRuns says what would decide
	// VerdictTooFew is no verdict: a side has fewer than MinTestRuns
	// valid runs, or the two cells cannot be compared at all.
	VerdictTooFew VerdictKind = "too-few"
)

// Comparison is a container cell against its native counterpart (same
// benchmark, kind, class, MPI, PMI, rank count, binding and
// oversubscription).
type Comparison struct {
	Container, Native *CellStats
	// RelPerf is relative performance (see the package comment) from the
	// medians; RelLow and RelHigh bound its 95% bootstrap interval.
	RelPerf, RelLow, RelHigh float64
	// Tested is set when both sides have MinTestRuns valid runs; the
	// fields below up to FurtherRuns are valid only then.
	Tested bool
	// LogTest is Welch's t-test of the logarithms of performance
	// (container minus native): the test the verdict rests on.
	LogTest stats.TTest
	// P is LogTest's raw two-sided p-value; PAdjusted is P adjusted by
	// Holm's method over all the tested comparisons of the analysis.
	P, PAdjusted float64
	// Equivalence is the TOST of the same logarithms against the bounds
	// log(1-Margin) and log(1+Margin); EquivLow and EquivHigh are its 90%
	// interval as a relative performance (a ratio of geometric means).
	Equivalence         stats.Equivalence
	EquivLow, EquivHigh float64
	// Test is the Mann-Whitney rank test of the two samples, kept as a
	// distribution-free cross-check; the verdict does not rest on it.
	Test stats.MannWhitney
	// Margin is the practical margin the verdict used.
	Margin float64
	// FurtherRuns is, for an inconclusive comparison, about how many more
	// runs per side the observed variance says would decide it (with
	// probability Power); -1 when no practical number would (the ratio
	// sits on the margin). 0 for other verdicts.
	FurtherRuns int
	// StoppedAtMax is set, in an adaptive study (AnalysisOptions'
	// MaxRepetitions), for an inconclusive comparison both of whose cells
	// have had the most repetitions the study allows: more runs were not
	// going to be made, so it stays undecided.
	StoppedAtMax bool
	Kind         VerdictKind
	// Verdict is the plain sentence: "slower by 3.1% (95% CI 1.2-5.0%;
	// p<0.001, Holm-adjusted p=0.004)".
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
	// Margin and MinRunTime are the practical margin and the short-run
	// floor the analysis used.
	Margin     float64
	MinRunTime time.Duration
	// MaxRepetitions is the adaptive study's most measured runs per cell
	// (AnalysisOptions.MaxRepetitions); 0 for a fixed count.
	MaxRepetitions int
	// Sensitivity is what the study could have detected at all.
	Sensitivity Sensitivity
	// PMIComparisons compare PMI flavours where the study ran the same
	// cell under several (see comparePMIFlavours); their tests are a
	// family of their own for Holm's adjustment.
	PMIComparisons []PMIComparison
}

// LaunchNoiseCells returns the cells whose median benchmark time is under
// the floor (MinRunTime), in the order of Cells.
func (a *Analysis) LaunchNoiseCells() []*CellStats {
	var out []*CellStats
	for _, c := range a.Cells {
		if c.LaunchNoise {
			out = append(out, c)
		}
	}
	return out
}

// Provenance gathers where a study's numbers came from, over all its runs.
type Provenance struct {
	// Runtimes maps a runtime to the versions seen; MPIs likewise.
	Runtimes map[string][]string
	MPIs     map[string][]string
	// Images are "runtime image@digest" strings, sorted.
	Images []string
	// ImageChecks maps an Images entry to the outcomes of checking the
	// image that its runs recorded (Cell.ImageVerification; "not recorded"
	// for runs stored before hpcbench recorded them).
	ImageChecks map[string][]string
	// PMI maps "asked -> negotiated" ("pmix -> pmix") to the number of runs.
	PMI map[string]int
	// Env maps each recorded variable to its distinct values.
	Env map[string][]string
	// Choices maps "runtime: key" to the adapter's distinct choices.
	Choices map[string][]string
	// Isolation maps a container runtime to the isolations its runs
	// recorded (choice "isolation": private, host); runtimes whose runs
	// recorded none (stored before it was recorded) are left out.
	Isolation map[string][]string
	// SharedMemory maps "runtime mpi" of container runs to their shm mode
	// and cross-memory attach outcome (choices "shm" and "cma", e.g.
	// "shared, CMA available"); runs that recorded neither are left out.
	SharedMemory map[string][]string
	// Argv maps a benchmark to its distinct command lines (at most 5 kept).
	Argv map[string][]string
	// SlurmJobs is the number of distinct Slurm jobs runs came from.
	SlurmJobs         int
	Started, Finished time.Time
}

// VerifiedOutcome reports whether an image verification outcome (as
// Cell.ImageVerification holds it) says the image was checked and passed:
// its signature verified, or its pinned digest matched.
func VerifiedOutcome(v string) bool {
	return strings.HasPrefix(v, "verified ") || v == "verified" || v == "pinned digest matched"
}

// UnverifiedImages are the Images entries that at least one run used
// without a passed check (unsigned, unverified, signed but not verified,
// or not recorded), sorted.
func (p *Provenance) UnverifiedImages() []string {
	var out []string
	for _, img := range p.Images {
		for _, v := range p.ImageChecks[img] {
			if !VerifiedOutcome(v) {
				out = append(out, img)
				break
			}
		}
	}
	return out
}

// VerificationLine says plainly whether the study's container images
// were verified: "" without container images.
func (p *Provenance) VerificationLine() string {
	if len(p.Images) == 0 {
		return ""
	}
	un := p.UnverifiedImages()
	if len(un) == 0 {
		return fmt.Sprintf("All %d container images were verified (signature or pinned digest) before they ran.", len(p.Images))
	}
	return fmt.Sprintf("This study ran %d of its %d container images UNVERIFIED (neither a verified signature nor a pinned digest): %s.",
		len(un), len(p.Images), strings.Join(un, "; "))
}

// SharedMemoryLine says, per container runtime and MPI, whether the
// ranks shared memory and whether cross-memory attach worked between
// them, e.g. "charliecloud mpich: shared, CMA available;
// charliecloud+isolated mpich: isolated, CMA unavailable"; "" where no
// run recorded it.
func (p *Provenance) SharedMemoryLine() string {
	if len(p.SharedMemory) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p.SharedMemory))
	for k := range p.SharedMemory {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		vals := append([]string(nil), p.SharedMemory[k]...)
		sort.Strings(vals)
		parts[i] = k + ": " + strings.Join(vals, " and ")
	}
	return strings.Join(parts, "; ")
}

// IsolationLine says what container isolation the study measured, e.g.
// "docker private, oci host"; "" where no run recorded one.
func (p *Provenance) IsolationLine() string {
	if len(p.Isolation) == 0 {
		return ""
	}
	rts := make([]string, 0, len(p.Isolation))
	for rt := range p.Isolation {
		rts = append(rts, rt)
	}
	sort.Strings(rts)
	parts := make([]string, len(rts))
	for i, rt := range rts {
		vals := append([]string(nil), p.Isolation[rt]...)
		sort.Strings(vals)
		parts[i] = rt + " " + strings.Join(vals, " and ")
	}
	return strings.Join(parts, ", ")
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
		if p.ImageChecks == nil {
			p.ImageChecks = map[string][]string{}
		}
		v := r.Cell.ImageVerification
		if v == "" {
			v = "not recorded"
		}
		p.ImageChecks[img] = addUnique(p.ImageChecks[img], v)
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
	if iso := r.Choices["isolation"]; iso != "" && !r.Cell.IsNative() {
		if p.Isolation == nil {
			p.Isolation = map[string][]string{}
		}
		p.Isolation[rt] = addUnique(p.Isolation[rt], iso)
	}
	if shm, cma := r.Choices["shm"], r.Choices["cma"]; (shm != "" || cma != "") && !r.Cell.IsNative() {
		var v []string
		if shm != "" {
			v = append(v, shm)
		}
		if cma != "" {
			word, _, _ := strings.Cut(cma, " ")
			v = append(v, "CMA "+strings.TrimSuffix(word, ":"))
		}
		if p.SharedMemory == nil {
			p.SharedMemory = map[string][]string{}
		}
		k := rt + " " + r.Cell.MPI
		p.SharedMemory[k] = addUnique(p.SharedMemory[k], strings.Join(v, ", "))
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
	// Margin is the practical margin m (0 < m < 0.5); 0 means
	// DefaultMargin. Load takes it from the study's [study] margin.
	Margin float64
	// MinRunTime is the short-run floor; 0 means DefaultMinRunTime. Load
	// takes it from the study's [study] min_run_time.
	MinRunTime time.Duration
	// MaxRepetitions is, for an adaptive study (repetitions = "auto"),
	// the most measured runs a cell may get; 0 for a study with a fixed
	// count. Load takes it from the study's [study] max_repetitions.
	MaxRepetitions int
}

// Analyse groups runs into cells and compares container cells with native ones.
func Analyse(runs []Run, opt AnalysisOptions) *Analysis {
	if opt.Resamples == 0 {
		opt.Resamples = stats.DefaultResamples
	}
	if !(opt.Margin > 0 && opt.Margin < 0.5) {
		opt.Margin = DefaultMargin
	}
	if opt.MinRunTime <= 0 {
		opt.MinRunTime = DefaultMinRunTime
	}
	a := &Analysis{Runs: len(runs), Margin: opt.Margin, MinRunTime: opt.MinRunTime, MaxRepetitions: opt.MaxRepetitions}
	byKey := map[string]*CellStats{}
	var order []string
	type timing struct{ wall, wire, fence, start, exchange, bench []float64 }
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
		if !r.Warmup {
			cs.Measured++
		}
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
			tm.start = appendPositive(tm.start, r.ContainerStart.Seconds())
			tm.exchange = appendPositive(tm.exchange, r.PMIExchange.Seconds())
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
			cs.Exchanges = appendPositive(cs.Exchanges, r.PMIExchange.Seconds())
			if bt := benchmarkSeconds(r); bt > 0 {
				timings[key].bench = append(timings[key].bench, bt)
				if bt < opt.MinRunTime.Seconds() {
					cs.ShortRuns++
				}
			}
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
		cs.ContainerStartS, cs.PMIExchangeS = medianOrZero(tm.start), medianOrZero(tm.exchange)
		cs.RunTimeS = medianOrZero(tm.bench)
		cs.LaunchNoise = cs.RunTimeS > 0 && cs.RunTimeS < opt.MinRunTime.Seconds()
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
	decide(a.Comparisons, opt.Margin)
	if opt.MaxRepetitions > 0 {
		for i := range a.Comparisons {
			c := &a.Comparisons[i]
			c.StoppedAtMax = c.Kind == VerdictInconclusive &&
				c.Container.Measured >= opt.MaxRepetitions && c.Native.Measured >= opt.MaxRepetitions
		}
	}
	a.Sensitivity = sensitivity(a.Comparisons, opt.Margin)
	a.PMIComparisons = comparePMIFlavours(a.Cells, opt)
	return a
}

// CIHalfWidth is the half-width of the relative performance's 95%
// interval as a fraction of the ratio (0.01: about +-1%); NaN when there
// is no interval.
func (c *Comparison) CIHalfWidth() float64 {
	if !(c.RelPerf > 0) || math.IsNaN(c.RelLow) || math.IsNaN(c.RelHigh) {
		return math.NaN()
	}
	return (c.RelHigh - c.RelLow) / (2 * c.RelPerf)
}

// Undecided is the stopping rule of adaptive repetitions: a tested
// comparison wants more runs while it is inconclusive or its 95% interval
// is wider than +-targetCI. A comparison that was not tested (too few
// valid runs on a side, or two cells that cannot be compared) is not
// undecided: more repetitions of a cell that keeps failing would not
// settle it.
func (c *Comparison) Undecided(targetCI float64) bool {
	if !c.Tested {
		return false
	}
	return c.Kind == VerdictInconclusive || !(c.CIHalfWidth() <= targetCI)
}

// CellsToExtend returns the keys (CellStats.Cell.Key) of the cells an
// adaptive study should run once more: both cells of every Undecided
// comparison, except those that already have maxRepetitions measured
// runs. A cell shared by several comparisons (a native one) is listed
// once. The keys are sorted.
func (a *Analysis) CellsToExtend(targetCI float64, maxRepetitions int) []string {
	want := map[string]bool{}
	for i := range a.Comparisons {
		c := &a.Comparisons[i]
		if !c.Undecided(targetCI) {
			continue
		}
		for _, cell := range []*CellStats{c.Container, c.Native} {
			if cell.Measured < maxRepetitions {
				want[cell.Cell.Key] = true
			}
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// StoppedAtMax returns the comparisons of an adaptive study that reached
// the most repetitions allowed and are still inconclusive.
func (a *Analysis) StoppedAtMax() []*Comparison {
	var out []*Comparison
	for i := range a.Comparisons {
		if a.Comparisons[i].StoppedAtMax {
			out = append(out, &a.Comparisons[i])
		}
	}
	return out
}

// benchmarkSeconds is how long the benchmark itself ran, as it reported:
// its time_s metric, else a headline metric in seconds; 0 when unknown.
func benchmarkSeconds(r *Run) float64 {
	switch v := r.Metrics["time_s"].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	}
	if r.Metric.Unit == "s" {
		return r.Metric.Value
	}
	return 0
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
	return compareSides(ctr, nat, opt, "container", "native")
}

// compareSides compares subject (Comparison.Container) with reference
// (Comparison.Native); subjectName and referenceName say what the sides
// are in the sentences of a comparison that cannot be tested.
func compareSides(ctr, nat *CellStats, opt AnalysisOptions, subjectName, referenceName string) Comparison {
	cmp := Comparison{Container: ctr, Native: nat}
	nc, nn := len(ctr.Values), len(nat.Values)
	if nc == 0 || nn == 0 {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = math.NaN(), math.NaN(), math.NaN()
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("no valid runs to compare (n=%d %s, %d %s)", nc, subjectName, nn, referenceName)
		return cmp
	}
	if ctr.Metric.Name != nat.Metric.Name || ctr.Metric.HigherIsBetter != nat.Metric.HigherIsBetter {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = math.NaN(), math.NaN(), math.NaN()
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("not comparable: the %s cell measured %s, the %s cell %s", subjectName, ctr.Metric.Name, referenceName, nat.Metric.Name)
		return cmp
	}
	rng := stats.NewRand(opt.Seed ^ hashString(ctr.Cell.Key+"\x00"+nat.Cell.Key))
	higher := ctr.Metric.HigherIsBetter
	if higher {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = stats.BootstrapRatioCI(ctr.Values, nat.Values, 0.95, opt.Resamples, rng)
	} else {
		cmp.RelPerf, cmp.RelLow, cmp.RelHigh = stats.BootstrapRatioCI(nat.Values, ctr.Values, 0.95, opt.Resamples, rng)
	}
	cmp.Margin = opt.Margin
	cmp.Test = stats.MannWhitneyTest(ctr.Values, nat.Values)
	if nc < MinTestRuns || nn < MinTestRuns {
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("too few repetitions for a test (n=%d %s, %d %s); %.3fx %s; a test needs %d a side", nc, subjectName, nn, referenceName, cmp.RelPerf, referenceName, MinTestRuns)
		return cmp
	}
	lc, ln := logPerformance(ctr.Values, higher), logPerformance(nat.Values, higher)
	if lc == nil || ln == nil {
		cmp.Kind = VerdictTooFew
		cmp.Verdict = fmt.Sprintf("not comparable: %s has a value that is not positive, so no ratio can be formed", ctr.Metric.Name)
		return cmp
	}
	cmp.Tested = true
	cmp.LogTest = stats.WelchTTest(lc, ln)
	cmp.P = cmp.LogTest.P
	cmp.Equivalence = stats.TOST(lc, ln, math.Log(1-opt.Margin), math.Log(1+opt.Margin))
	lo, hi := cmp.Equivalence.CI(1 - 2*Alpha)
	cmp.EquivLow, cmp.EquivHigh = math.Exp(lo), math.Exp(hi)
	return cmp
}

// logPerformance returns the logarithms of the values as performance
// (negated for a time, so that container minus native is the log of the
// relative performance); nil when a value is not positive.
func logPerformance(vs []float64, higherIsBetter bool) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		if !(v > 0) {
			return nil
		}
		out[i] = math.Log(v)
		if !higherIsBetter {
			out[i] = -out[i]
		}
	}
	return out
}

// decide adjusts the tested comparisons' p-values together and gives each
// its verdict.
func decide(cs []Comparison, margin float64) {
	ps := make([]float64, len(cs))
	tested := 0
	for i, c := range cs {
		ps[i] = math.NaN()
		if c.Tested {
			ps[i] = c.P
			tested++
		}
	}
	adjusted := stats.Holm(ps)
	for i := range cs {
		c := &cs[i]
		if !c.Tested {
			continue
		}
		c.PAdjusted = adjusted[i]
		pText := fmt.Sprintf("p%s, Holm-adjusted p%s", formatP(c.P), formatP(c.PAdjusted))
		significant := c.PAdjusted < Alpha
		switch {
		case significant && c.LogTest.Diff < 0 && c.RelHigh < 1-margin:
			c.Kind = VerdictSlower
			c.Verdict = fmt.Sprintf("slower by %.1f%% (95%% CI %.1f-%.1f%%; %s)",
				100*(1-c.RelPerf), 100*(1-c.RelHigh), 100*(1-c.RelLow), pText)
		case significant && c.LogTest.Diff > 0 && c.RelLow > 1+margin:
			c.Kind = VerdictFaster
			c.Verdict = fmt.Sprintf("faster by %.1f%% (95%% CI %.1f-%.1f%%; %s)",
				100*(c.RelPerf-1), 100*(c.RelLow-1), 100*(c.RelHigh-1), pText)
		case c.Equivalence.P < Alpha:
			c.Kind = VerdictEquivalent
			c.Verdict = fmt.Sprintf("equivalent within ±%s (90%% CI of relative performance %.3f-%.3f)", FormatMargin(margin), c.EquivLow, c.EquivHigh)
		default:
			c.Kind = VerdictInconclusive
			c.FurtherRuns = furtherRuns(c, margin, tested)
			why := ""
			if significant {
				why = fmt.Sprintf(": a difference, but not shown to exceed the ±%s margin", FormatMargin(margin))
			}
			c.Verdict = fmt.Sprintf("inconclusive: relative performance %.3f (95%% CI %.3f-%.3f; %s)%s; %s",
				c.RelPerf, c.RelLow, c.RelHigh, pText, why, furtherRunsText(c.FurtherRuns))
		}
	}
}

// Sensitivity is how small an overhead a study could detect at all, given
// the spread of its runs on this host and how many it made.
type Sensitivity struct {
	// Overhead is the smallest true slowdown (0.05 for 5%) that would be
	// called "slower" with probability Power: the margin plus what a test
	// at level Alpha can tell from the spread, by the normal approximation
	// on log performance (stats.Detectable). NaN when nothing was tested.
	Overhead float64
	Power    float64
	// Alpha is the level one comparison must pass in Holm's first step:
	// the study's Alpha over the number of tested comparisons.
	Alpha float64
	// RunsPerSide is the median over tested comparisons of the smaller
	// side's valid runs.
	RunsPerSide int
	// SDLog is the standard deviation of log performance (about the
	// relative run-to-run spread), pooled over the tested comparisons' cells.
	SDLog float64
	// Comparisons is the number of tested comparisons.
	Comparisons int
}

func (s Sensitivity) String() string {
	if s.Comparisons == 0 || math.IsNaN(s.Overhead) {
		return fmt.Sprintf("sensitivity on this host: unknown, since no comparison had %d valid runs a side", MinTestRuns)
	}
	return fmt.Sprintf("sensitivity on this host: the smallest overhead this study could detect with %.0f%% power is %.1f%% (%d runs a side, run-to-run spread %.1f%%, %d comparison%s at a family-wise %.0f%%)",
		100*s.Power, 100*s.Overhead, s.RunsPerSide, 100*s.SDLog, s.Comparisons, plural(s.Comparisons), 100*Alpha)
}

func sensitivity(cs []Comparison, margin float64) Sensitivity {
	s := Sensitivity{Power: Power, Overhead: math.NaN(), SDLog: math.NaN()}
	seen := map[*CellStats]bool{}
	var sumSq, df float64
	var runs []int
	for _, c := range cs {
		if !c.Tested {
			continue
		}
		s.Comparisons++
		runs = append(runs, min(len(c.Container.Values), len(c.Native.Values)))
		for _, cell := range []*CellStats{c.Container, c.Native} {
			if seen[cell] {
				continue
			}
			seen[cell] = true
			logs := logPerformance(cell.Values, cell.Metric.HigherIsBetter)
			_, v := stat.MeanVariance(logs, nil)
			sumSq += v * float64(len(logs)-1)
			df += float64(len(logs) - 1)
		}
	}
	if s.Comparisons == 0 || df == 0 {
		return s
	}
	sort.Ints(runs)
	s.RunsPerSide = runs[len(runs)/2]
	s.SDLog = math.Sqrt(sumSq / df)
	s.Alpha = Alpha / float64(s.Comparisons)
	d := stats.Detectable(s.SDLog, s.RunsPerSide, s.RunsPerSide, s.Alpha, s.Power, 2)
	s.Overhead = 1 - (1-margin)*math.Exp(-d)
	return s
}

// furtherRuns estimates how many more runs per side would decide an
// inconclusive comparison, by the normal approximation on log performance
// (stats.RunsPerSide) with the two cells' variances pooled:
//
//   - when the observed log ratio d lies beyond a margin, the distance from
//     d to that margin must be detected by a two-sided test at the level
//     Holm's first step needs, Alpha over the number of tested comparisons;
//   - when it lies inside, the distance from d to the nearer margin must be
//     detected by each one-sided test of the TOST at Alpha.
//
// It assumes the observed ratio and spread are the true ones: an estimate
// to plan the next study with, not a promise.
func furtherRuns(c *Comparison, margin float64, tested int) int {
	d := c.LogTest.Diff
	lo, hi := math.Log(1-margin), math.Log(1+margin)
	nc, nn := len(c.Container.Values), len(c.Native.Values)
	// SE^2 = s^2 (1/nc + 1/nn) for a common s: recover s from Welch's SE.
	sd := c.LogTest.SE / math.Sqrt(1/float64(nc)+1/float64(nn))
	var need int
	switch {
	case d < lo:
		need = stats.RunsPerSide(sd, lo-d, Alpha/float64(max(1, tested)), Power, 2, maxFurtherRuns)
	case d > hi:
		need = stats.RunsPerSide(sd, d-hi, Alpha/float64(max(1, tested)), Power, 2, maxFurtherRuns)
	default:
		need = stats.RunsPerSide(sd, math.Min(d-lo, hi-d), Alpha, Power, 1, maxFurtherRuns)
	}
	if need < 0 {
		return -1
	}
	return max(1, need-min(nc, nn))
}

func furtherRunsText(n int) string {
	if n < 0 {
		return fmt.Sprintf("more runs alone are unlikely to decide it (over %d per side)", maxFurtherRuns)
	}
	return fmt.Sprintf("about %d more run%s per side would decide it", n, plural(n))
}

// marginText writes a margin as a percentage: 0.02 as "2%", 0.025 as "2.5%".
func FormatMargin(m float64) string {
	return strconv.FormatFloat(100*m, 'g', 3, 64) + "%"
}

// formatP writes a p-value with its relation: "=0.03", "=0.004", "<0.001".
func formatP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	if p < 0.01 {
		return fmt.Sprintf("=%.3f", p)
	}
	return fmt.Sprintf("=%.2f", p)
}

// Finding is one sentence of the executive summary, about one runtime and
// layout across benchmarks.
type Finding struct {
	Subject string // "docker per-rank"
	Text    string // "slower by 4.2% on cg.S (95% CI ...); equivalent within ±2% on ep.S; inconclusive on is.S (...)"
}

func (f Finding) String() string { return f.Subject + ": " + f.Text }

// Findings turns the comparisons into sentences, one per runtime and
// layout, in the four verdicts' words.
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
	margin := a.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	equivalentWords := "equivalent within ±" + FormatMargin(margin)
	var out []Finding
	for _, subj := range subjects {
		cs := groups[subj]
		name := comparisonNamer(cs)
		var slower, faster, same, unsure, few []string
		further, undecidable := 0, 0 // the most further runs an inconclusive comparison needs; how many no practical number would decide
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
			case VerdictEquivalent:
				same = append(same, name(c))
			case VerdictInconclusive:
				unsure = append(unsure, name(c))
				if c.FurtherRuns < 0 {
					undecidable++
				}
				further = max(further, c.FurtherRuns)
			default:
				few = append(few, name(c))
			}
		}
		what := fmt.Sprintf("%d comparisons", len(cs))
		if len(benchmarks) == len(cs) {
			what = fmt.Sprintf("%d benchmark%s", len(cs), plural(len(cs)))
		}
		var parts []string
		if n := len(cs); len(same) == n {
			if within1 {
				parts = append(parts, fmt.Sprintf("within 1%% of native on all %s; %s", what, equivalentWords))
			} else {
				lo, hi := relRange(cs)
				parts = append(parts, fmt.Sprintf("%s on all %s (relative performance %.3f-%.3f)", equivalentWords, what, lo, hi))
			}
		} else if n > 2 && (len(slower) == n || len(faster) == n) {
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
				parts = append(parts, equivalentWords+" on "+strings.Join(same, ", "))
			}
			if len(unsure) > 0 {
				on := "on " + strings.Join(unsure, ", ")
				if len(unsure) == n && n > 1 {
					on = fmt.Sprintf("on all %s", what)
				}
				parts = append(parts, "inconclusive "+on+" ("+furtherRunsSummary(len(unsure), further, undecidable)+")")
			}
			if len(few) > 0 {
				parts = append(parts, "too few repetitions to test "+strings.Join(few, ", "))
			}
		}
		out = append(out, Finding{Subject: subj, Text: strings.Join(parts, "; ")})
	}
	return out
}

// furtherRunsSummary says what would decide n inconclusive comparisons:
// at most most further runs per side each, except undecidable of them that
// no practical number of runs would decide.
func furtherRunsSummary(n, most, undecidable int) string {
	switch {
	case undecidable == n && n == 1:
		return fmt.Sprintf("more runs alone are unlikely to decide it (over %d per side)", maxFurtherRuns)
	case undecidable == n:
		return fmt.Sprintf("more runs alone are unlikely to decide them (over %d per side)", maxFurtherRuns)
	case n == 1:
		return fmt.Sprintf("about %d more run%s per side would decide it", most, plural(most))
	case undecidable == 0:
		return fmt.Sprintf("up to about %d more run%s per side would decide them", most, plural(most))
	}
	return fmt.Sprintf("up to about %d more run%s per side would decide %d of them; the other %d would need over %d", most, plural(most), n-undecidable, undecidable, maxFurtherRuns)
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

// defaultMaxRepetitions is configs.DefaultMaxRepetitions, the most runs
// a cell of an adaptive study gets when it sets no max_repetitions.
const defaultMaxRepetitions = 30

// studyJudgement reads [study] margin, min_run_time and, for an adaptive
// study (repetitions = "auto"), max_repetitions from a study's stored
// config text; zero for what it does not set. The config was validated
// when the study ran, so a value that does not parse (a config imported
// from elsewhere) falls back to the defaults rather than failing.
func studyJudgement(config string) (margin float64, minRunTime time.Duration, maxRepetitions int) {
	var c struct {
		Study struct {
			Margin         float64 `toml:"margin"`
			MinRunTime     string  `toml:"min_run_time"`
			Repetitions    any     `toml:"repetitions"`
			MaxRepetitions int     `toml:"max_repetitions"`
		} `toml:"study"`
	}
	if _, err := toml.Decode(config, &c); err != nil {
		return 0, 0, 0
	}
	if c.Study.Repetitions == "auto" {
		maxRepetitions = defaultMaxRepetitions
		if c.Study.MaxRepetitions > 0 {
			maxRepetitions = c.Study.MaxRepetitions
		}
	}
	if c.Study.Margin > 0 && c.Study.Margin < 0.5 {
		margin = c.Study.Margin
	}
	if d, err := time.ParseDuration(c.Study.MinRunTime); err == nil && d > 0 {
		minRunTime = d
	}
	return margin, minRunTime, maxRepetitions
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
	margin, floor, maxReps := studyJudgement(s.Config)
	if opt.Margin == 0 {
		opt.Margin = margin
	}
	if opt.MinRunTime == 0 {
		opt.MinRunTime = floor
	}
	if opt.MaxRepetitions == 0 {
		opt.MaxRepetitions = maxReps
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
