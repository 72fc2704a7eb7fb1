package matrix

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/results"
)

// PlanOptions tune WritePlan.
type PlanOptions struct {
	// Quiet writes only the summary line.
	Quiet bool
	// Verbose lists every skipped cell under its reason; without it the
	// skipped cells are given by cause, with counts and the axes they cover.
	Verbose bool
}

// WritePlan writes what a study would run: one line per run (benchmark,
// class, MPI, PMI, runtime, layout, ranks, repetition), then each skipped
// cells grouped by cause (each cell with Verbose), then counts. It is
// "hpcbench matrix --dry-run".
func WritePlan(w io.Writer, cfg *configs.Config, cells []Cell, skipped []Skipped, opts PlanOptions) error {
	if !opts.Quiet {
		fmt.Fprintf(w, "study %q from %s (seed %d, order %s)\n\n", cfg.Study.Name, cfg.File, cfg.Study.Seed, cfg.Study.Order)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "BENCHMARK\tCLASS\tMPI\tPMI\tRUNTIME\tLAYOUT\tRANKS\tRUN\tNOTE")
		for _, c := range cells {
			run := fmt.Sprintf("rep %d", c.Repetition)
			if c.Warmup {
				run = fmt.Sprintf("warmup %d", c.Repetition)
			}
			var notes []string
			if c.MPIBuild != nil {
				notes = append(notes, "build "+c.MPIBuild.Prefix)
			}
			if c.Oversubscribed {
				notes = append(notes, "oversubscribed")
			}
			note := strings.Join(notes, ", ")
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Benchmark, dash(c.Class), c.MPI, c.PMI,
				c.RuntimeLabel, layoutName(c.Layout), c.Ranks, run, note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(skipped) > 0 {
			fmt.Fprintf(w, "\nskipped:\n")
			if err := WriteSkipped(w, skipped, opts.Verbose, "  "); err != nil {
				return err
			}
		}
		fmt.Fprintln(w)
	}
	keys := map[string]bool{}
	var measured int
	var budget time.Duration
	for _, c := range cells {
		keys[c.Key()] = true
		if !c.Warmup {
			measured++
		}
		budget += c.Timeout
	}
	fmt.Fprintf(w, "%d runs (%d cells x repetitions, %d measured, %d warm-up), %d cells skipped; at most %s if every run hits its timeout\n",
		len(cells), len(keys), measured, len(cells)-measured, len(skipped), budget)
	if st := cfg.Study; st.AutoRepetitions {
		// The runs above are the first min_repetitions of each cell; the
		// rounds after them depend on what those runs measure.
		fmt.Fprintf(w, "adaptive repetitions: then rounds of one more run per cell of each undecided comparison, up to %d measured per cell (target 95%% interval ±%s)",
			st.MaxRepetitions, strconv.FormatFloat(100*st.TargetCI, 'g', -1, 64)+"%")
		if st.Budget.Duration > 0 {
			fmt.Fprintf(w, " or until %s of runs", st.Budget.Duration)
		}
		fmt.Fprintln(w)
	}
	if len(skipped) > 0 && opts.Quiet {
		fmt.Fprintf(w, "skipped: %s\n", skipSummary(skipped))
	}
	return nil
}

// WriteSkipped writes skipped cells grouped by cause: "N cells: cause
// (the axes they cover)", and under it the distinct reasons with their
// counts when they differ; verbose lists each cell under its reason.
// indent prefixes every line.
func WriteSkipped(w io.Writer, skipped []Skipped, verbose bool, indent string) error {
	skips := make([]results.Skip, len(skipped))
	byKey := map[string]Cell{}
	for i, s := range skipped {
		c := s.Cell
		skips[i] = results.Skip{Reason: s.Reason, Cell: results.Cell{Key: c.Key(), Benchmark: c.Benchmark, Class: c.Class,
			MPI: c.MPI, PMI: string(c.PMI), Runtime: c.RuntimeLabel, Layout: string(c.Layout), Ranks: c.Ranks}}
		byKey[c.Key()] = c
	}
	return results.WriteSkipGroups(w, skips, verbose, indent, func(k results.Skip) string {
		c := byKey[k.Cell.Key]
		return fmt.Sprintf("%s %s %s %s %s %s %d", c.Benchmark, dash(c.Class), c.MPI, c.PMI, c.RuntimeLabel, layoutName(c.Layout), c.Ranks)
	})
}

// skipSummary counts skipped cells by cause.
func skipSummary(skipped []Skipped) string {
	count := map[string]int{}
	for _, s := range skipped {
		cause := s.Reason
		if i := strings.IndexByte(cause, ':'); i >= 0 {
			cause = cause[:i]
		}
		count[cause]++
	}
	var parts []string
	for k, n := range count {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func layoutName(l configs.Layout) string {
	if l == configs.LayoutNone {
		return "-"
	}
	return string(l)
}
