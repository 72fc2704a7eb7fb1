// Package calibrate checks hpcbench's statistics against known answers.
// The project's kernels lengthen their timed section by an exact factor
// when HPCBENCH_KERNEL_EXTRA is set (npb/kernels), so a study that runs a
// kernel natively next to the same kernel with each injected overhead
// knows what every comparison should find.
//
// The injected cells go through everything a container cell does: each
// overhead is a [[runtime]] entry with name = "native", a label of its
// own ("native+2%") and HPCBENCH_KERNEL_EXTRA in its env. The store
// records a cell's runtime by its label, and the analysis compares every
// cell whose runtime is not "native" with the native cell of the same
// benchmark, class, MPI, PMI and ranks, so the injected cells are planned,
// scheduled, interleaved, stored, tested and Holm-adjusted exactly as
// container cells are, with no special case anywhere.
package calibrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
)

// ExtraWorkEnv is the variable the kernels read the injected overhead
// from: a fraction, 0.05 for a timed section 5% longer.
const ExtraWorkEnv = "HPCBENCH_KERNEL_EXTRA"

// DefaultOverheads are the overheads calibrated when none are given, in
// percent: 0 is an A/A comparison, which should never be called slower.
var DefaultOverheads = []float64{0, 1, 2, 5}

// Options describe one calibration study.
type Options struct {
	// Overheads are the injected overheads in percent (2 for 2%); empty
	// means DefaultOverheads.
	Overheads []float64
	// Repetitions is the measured runs per cell; 0 makes the study
	// adaptive (repetitions = "auto") with MinRepetitions, MaxRepetitions,
	// TargetCI and Budget (zero for the configs defaults).
	Repetitions                    int
	MinRepetitions, MaxRepetitions int
	TargetCI                       float64
	Budget                         time.Duration
	// Warmup is the unmeasured runs per cell (default 1; negative: none).
	Warmup int
	// Seed seeds the run order and the bootstrap; 0 derives one from the
	// study's name.
	Seed int64
	// Benchmark and Class choose the kernel (default ep, S); MPI is mpich
	// (PMI-1, the default) or openmpi (PMIx); Ranks default 1.
	Benchmark, Class, MPI string
	Ranks                 int
	// Margin is the practical margin (default configs.DefaultMargin).
	Margin float64
	// KernelDir is the folder of the built kernels ({dir}; default the
	// configs default, npb/kernels/build).
	KernelDir string
	// Timeout bounds one run (default configs.DefaultTimeout).
	Timeout time.Duration
	// Study names the study in the store; empty names it "calibrate-"
	// and the date and time.
	Study string
	// Inventory is what this node has; nil detects it.
	Inventory *inventory.Inventory
}

// ErrOptions wraps what is wrong with Options (the user's to fix).
var ErrOptions = errors.New("calibrate")

// withDefaults fills in the defaults and checks the options.
func (o Options) withDefaults() (Options, error) {
	if len(o.Overheads) == 0 {
		o.Overheads = DefaultOverheads
	}
	seen := map[float64]bool{}
	for _, x := range o.Overheads {
		if !(x >= 0 && x <= 100*10) || math.IsNaN(x) {
			return o, fmt.Errorf("%w: overhead %v%%: want 0 to 1000 (percent)", ErrOptions, x)
		}
		if seen[x] {
			return o, fmt.Errorf("%w: overhead %v%% is listed twice", ErrOptions, x)
		}
		seen[x] = true
	}
	if o.Repetitions < 0 {
		return o, fmt.Errorf("%w: %d repetitions: want 1 or more, or 0 for adaptive", ErrOptions, o.Repetitions)
	}
	if o.Benchmark == "" {
		o.Benchmark = "ep"
	}
	if o.Class == "" {
		o.Class = "S"
	}
	if o.MPI == "" {
		o.MPI = "mpich"
	}
	if o.Ranks == 0 {
		o.Ranks = 1
	}
	if o.Warmup == 0 {
		o.Warmup = 1
	} else if o.Warmup < 0 {
		o.Warmup = 0
	}
	return o, nil
}

// Label is the runtime label of the cells with overhead percent injected.
func Label(percent float64) string {
	return "native+" + strconv.FormatFloat(percent, 'g', -1, 64) + "%"
}

// Config is the study Options describe, as a validated config: the
// kernel natively and once per overhead.
func Config(o Options) (*configs.Config, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	pmiOf := map[string]string{"mpich": "pmi1", "openmpi": "pmix"}
	flavour, ok := pmiOf[o.MPI]
	if !ok {
		return nil, fmt.Errorf("%w: MPI %q: want mpich or openmpi", ErrOptions, o.MPI)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A known-answer calibration: %s class %s natively and with each overhead\n", o.Benchmark, o.Class)
	fmt.Fprintf(&b, "# injected through %s.\n[study]\nname = \"calibrate\"\n", ExtraWorkEnv)
	if o.Seed != 0 {
		fmt.Fprintf(&b, "seed = %d\n", o.Seed)
	}
	if o.Repetitions > 0 {
		fmt.Fprintf(&b, "repetitions = %d\n", o.Repetitions)
	} else {
		b.WriteString("repetitions = \"auto\"\n")
		if o.MinRepetitions > 0 {
			fmt.Fprintf(&b, "min_repetitions = %d\n", o.MinRepetitions)
		}
		if o.MaxRepetitions > 0 {
			fmt.Fprintf(&b, "max_repetitions = %d\n", o.MaxRepetitions)
		}
		if o.TargetCI > 0 {
			fmt.Fprintf(&b, "target_ci = %v\n", o.TargetCI)
		}
		if o.Budget > 0 {
			fmt.Fprintf(&b, "budget = %q\n", o.Budget.String())
		}
	}
	fmt.Fprintf(&b, "warmup = %d\n", o.Warmup)
	if o.Timeout > 0 {
		fmt.Fprintf(&b, "timeout = %q\n", o.Timeout.String())
	}
	if o.Margin != 0 {
		fmt.Fprintf(&b, "margin = %v\n", o.Margin)
	}
	if o.KernelDir != "" {
		fmt.Fprintf(&b, "npb_dir = %q\n", o.KernelDir)
	}
	fmt.Fprintf(&b, "\n[matrix]\nmpi = [%q]\npmi = [%q]\nranks = [%d]\n", o.MPI, flavour, o.Ranks)
	fmt.Fprintf(&b, "\n[[benchmark]]\nkind = \"npb\"\nname = %q\nclasses = [%q]\nargs = [\"{class}\"]\n", o.Benchmark, o.Class)
	b.WriteString("\n[[runtime]]\nname = \"native\"\n")
	for _, x := range o.Overheads {
		fmt.Fprintf(&b, "\n[[runtime]]\nname = \"native\"\nlabel = %q\nenv = { %s = %q }\n",
			Label(x), ExtraWorkEnv, strconv.FormatFloat(x/100, 'g', -1, 64))
	}
	cfg, err := configs.Parse("calibrate.toml", []byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return cfg, nil
}

// Row is what the statistics made of one injected overhead. Percentages
// are of time: Measured is how much longer the injected cell's runs took
// than the native ones (from the ratio of medians), CILow and CIHigh its
// 95% bootstrap interval.
type Row struct {
	Injected float64 `json:"injected"` // percent
	Measured float64 `json:"measured"` // percent
	CILow    float64 `json:"ci_low"`   // percent
	CIHigh   float64 `json:"ci_high"`  // percent
	// Verdict is the comparison's kind: slower, faster, equivalent,
	// inconclusive or too-few.
	Verdict results.VerdictKind `json:"verdict"`
	// Runs are the valid measured runs of the injected cell; NativeRuns
	// those of the native cell it was compared with.
	Runs       int `json:"runs"`
	NativeRuns int `json:"native_runs"`
	// StoppedAtMax: an adaptive study reached max_repetitions undecided.
	StoppedAtMax bool `json:"stopped_at_max,omitempty"`
	// Detail is the verdict's full sentence.
	Detail string `json:"detail"`
}

// Rows reads one Row per overhead from an analysis of a calibration
// study, in the order of overheads; an overhead with no comparison (its
// cells failed or were skipped) has the verdict too-few and NaN numbers.
func Rows(a *results.Analysis, overheads []float64) []Row {
	byLabel := map[string]*results.Comparison{}
	for i := range a.Comparisons {
		byLabel[a.Comparisons[i].Container.Cell.Runtime] = &a.Comparisons[i]
	}
	rows := make([]Row, 0, len(overheads))
	for _, x := range overheads {
		r := Row{Injected: x, Measured: math.NaN(), CILow: math.NaN(), CIHigh: math.NaN(), Verdict: results.VerdictTooFew}
		c := byLabel[Label(x)]
		if c == nil {
			r.Detail = "no comparison: the cells did not run (see hpcbench results show)"
			rows = append(rows, r)
			continue
		}
		// Relative performance is native over injected time; its inverse
		// is the time ratio, so the interval's ends swap.
		r.Measured, r.CILow, r.CIHigh = slowdown(c.RelPerf), slowdown(c.RelHigh), slowdown(c.RelLow)
		r.Verdict, r.Detail, r.StoppedAtMax = c.Kind, c.Verdict, c.StoppedAtMax
		r.Runs, r.NativeRuns = len(c.Container.Values), len(c.Native.Values)
		rows = append(rows, r)
	}
	return rows
}

// slowdown turns a relative performance into percent more time.
func slowdown(rel float64) float64 { return 100 * (1/rel - 1) }

// Result is a finished calibration.
type Result struct {
	Study   string
	Summary *matrix.Summary
	Rows    []Row
}

// Run plans the calibration study, runs it with local into store, and
// analyses it as "hpcbench results" would.
func Run(ctx context.Context, o Options, local *matrix.Local, store *results.Store) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := Config(o)
	if err != nil {
		return nil, err
	}
	plan, err := matrix.NewPlan(ctx, cfg, matrix.Overrides{Study: o.Study, Inventory: o.Inventory})
	if err != nil {
		return nil, err
	}
	if len(plan.Cells) == 0 {
		var why []string
		for _, s := range plan.Skipped {
			why = append(why, s.Cell.RuntimeLabel+": "+s.Reason)
		}
		slices.Sort(why)
		why = slices.Compact(why)
		return nil, fmt.Errorf("%w: no cell can run on this node: %s", ErrOptions, strings.Join(why, "; "))
	}
	sum, err := local.RunStudy(ctx, plan, store)
	if err != nil {
		return &Result{Study: plan.Study, Summary: sum}, err
	}
	a, err := results.Load(ctx, store, sum.Study, results.AnalysisOptions{})
	if err != nil {
		return nil, err
	}
	return &Result{Study: sum.Study, Summary: sum, Rows: Rows(a, o.Overheads)}, nil
}

// WriteTable prints the rows as a table: injected %, measured % with its
// interval, verdict, runs.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INJECTED\tMEASURED\t95% CI\tVERDICT\tRUNS")
	for _, r := range rows {
		measured, ci := "-", "-"
		if !math.IsNaN(r.Measured) {
			measured = fmt.Sprintf("%+.2f%%", r.Measured)
			ci = fmt.Sprintf("%+.2f%% to %+.2f%%", r.CILow, r.CIHigh)
		}
		verdict := string(r.Verdict)
		if r.StoppedAtMax {
			verdict += " (stopped at max_repetitions)"
		}
		fmt.Fprintf(tw, "%g%%\t%s\t%s\t%s\t%d/%d\n", r.Injected, measured, ci, verdict, r.Runs, r.NativeRuns)
	}
	return tw.Flush()
}

// WriteJSON prints one JSON object per row, one a line; a number the
// statistics could not give is null.
func WriteJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		out := struct {
			Row
			Measured *float64 `json:"measured"`
			CILow    *float64 `json:"ci_low"`
			CIHigh   *float64 `json:"ci_high"`
		}{Row: r, Measured: finite(r.Measured), CILow: finite(r.CILow), CIHigh: finite(r.CIHigh)}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return nil
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
