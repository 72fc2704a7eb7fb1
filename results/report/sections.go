package report

import (
	"fmt"

	"github.com/hpcbench/hpcbench/results"
)

// This file holds the sections on start-up, PMI flavours and a baseline.

// startupSection shows, per runtime, layout and PMI flavour, the wire-up
// split into the ranks' start and the PMI exchange.
func (r *renderer) startupSection() {
	rows := r.a.Startups()
	if len(rows) == 0 {
		return
	}
	r.heading("Container start and PMI exchange")
	r.para("The wire-up (first spawn until every rank finished PMI init) has two parts. Start is the slowest rank's time from its own spawn until its first PMI message reached the server: in a container, the container's start plus the process's and MPI's own set-up before PMI (for a per-node layout, measured inside the container, so without the container's own start). PMI exchange is from the moment every rank had spoken PMI until the first fence completed for all ranks: the PMI protocol's own time. Values are medians over the cells' runs, then over the cells.")
	t := table{
		headers: []string{"Runtime, layout, PMI", "Cells", "Start", "PMI exchange", "Wire-up"},
		widths:  []float64{60, 18, 34, 34, 34},
		align:   "LRRRR",
	}
	for _, s := range rows {
		t.rows = append(t.rows, []string{s.Label(), fmt.Sprint(s.Cells), msText(s.ContainerStartS), msText(s.PMIExchangeS), msText(s.WireUpS)})
	}
	r.table(t)
}

func msText(s float64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", 1000*s)
}

// pmiSection answers "does the PMI flavour matter?" per runtime.
func (r *renderer) pmiSection() {
	pcs := r.a.PMIComparisons
	if len(pcs) == 0 {
		return
	}
	r.heading("Does the PMI flavour matter?")
	r.para("Where the study ran the same cell (benchmark, class, MPI library, runtime, layout and rank count) under several PMI flavours, each flavour is compared with a reference flavour of that cell: PMI-2 where the cell ran under it (what srun --mpi=pmi2 gives), else PMI-1. The ratio is the flavour's performance over the reference's, on the benchmark's metric and on the PMI exchange time (every rank speaking PMI until the first fence completed); above 1 the flavour is faster. The verdicts follow the rules of the executive summary, with p adjusted by Holm over the PMI comparisons.")
	byRuntime := map[string][]results.PMIComparison{}
	var runtimes []string
	for _, p := range pcs {
		rt := p.Runtime()
		if _, ok := byRuntime[rt]; !ok {
			runtimes = append(runtimes, rt)
		}
		byRuntime[rt] = append(byRuntime[rt], p)
	}
	for _, rt := range runtimes {
		r.subheading(capitalise(rt))
		for _, p := range byRuntime[rt] {
			r.bullet(fmt.Sprintf("%s: %s %s; PMI exchange %s.", p.Subject(), p.Metric.Container.Metric.Name, pmiText(p.Metric), pmiText(p.Exchange)))
		}
	}
	r.figure("pmi-exchange")
}

func pmiText(c results.Comparison) string {
	if rel := relText(c); rel != "-" {
		return "ratio " + rel + ": " + c.Verdict
	}
	return c.Verdict
}

// baselineSection compares the study with the baseline, when one was given.
func (r *renderer) baselineSection() {
	b := r.opt.Baseline
	if b == nil {
		return
	}
	r.heading("Against baseline study " + b.Baseline)
	r.para(fmt.Sprintf("Each cell of study %s is compared with the same cell (benchmark, class, MPI library, PMI flavour, runtime, layout and rank count; versions may differ) of the baseline study %s. Relative performance is %s's performance over %s's: above 1 the study is faster, below 1 it regressed. The verdicts follow the rules of the executive summary within ±%s, with p adjusted by Holm over these comparisons. %s.",
		b.Study, b.Baseline, b.Study, b.Baseline, results.FormatMargin(b.Margin), capitalise(b.Summary())))
	if regs := b.Regressions(); len(regs) > 0 {
		r.subheading("Regressions")
		for _, c := range regs {
			r.bullet(fmt.Sprintf("%s.%s %s x%d: %s.", c.Container.Cell.Benchmark, c.Container.Cell.Class, c.Container.Cell.Label(), c.Container.Cell.Ranks, c.Verdict))
		}
	}
	t := table{
		headers: []string{"Benchmark", "Cell", "Ranks", "n (study/base)", "Rel. perf. [95% CI]", "Verdict"},
		widths:  []float64{18, 40, 13, 19, 32, 58},
		align:   "LLRRRL",
	}
	for _, c := range b.Comparisons {
		cell := c.Container.Cell
		t.rows = append(t.rows, []string{cell.Benchmark + "." + cell.Class, cell.Label(), fmt.Sprint(cell.Ranks),
			fmt.Sprintf("%d/%d", c.Container.N, c.Native.N), relText(c), c.Verdict})
	}
	r.table(t)
	var missing []string
	for _, c := range b.OnlyInStudy {
		missing = append(missing, c.Label()+" (only in "+b.Study+")")
	}
	for _, c := range b.OnlyInBaseline {
		missing = append(missing, c.Label()+" (only in "+b.Baseline+")")
	}
	if len(missing) > 0 {
		r.subheading("Cells not compared")
		for _, m := range missing {
			r.bullet(m)
		}
	}
}
