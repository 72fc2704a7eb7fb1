package results

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteStudies prints a table of studies, as "hpcbench results list" shows it.
func WriteStudies(w io.Writer, studies []StudyInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STUDY\tCREATED\tRUNS\tOK\tINVALID\tFAILED\tTIMEOUT\tSKIPPED\tHOSTS\tHPCBENCH")
	for _, s := range studies {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Created.Local().Format("2006-01-02 15:04"),
			s.Runs, s.OK, s.Invalid, s.Failed, s.Timeout, s.Skipped, s.Hosts, dash(s.Version))
	}
	return tw.Flush()
}

// SummaryOptions tune WriteSummaryWith.
type SummaryOptions struct {
	// Verbose lists every skipped cell under its reason; without it the
	// skipped cells are given by cause, with counts and the axes they cover.
	Verbose bool
}

// WriteSummary prints an analysis as readable text: findings, per-cell
// statistics, comparisons with native cells, problems and skipped cells
// (grouped by cause).
func WriteSummary(w io.Writer, a *Analysis) error { return WriteSummaryWith(w, a, SummaryOptions{}) }

// WriteSummaryWith is WriteSummary with options.
func WriteSummaryWith(w io.Writer, a *Analysis, opts SummaryOptions) error {
	ew := &errWriter{w: w}
	ok := a.Runs - len(a.NotOK)
	ew.printf("Study %s: %d runs (%d ok, %d not ok), %d cells, %d skipped\n", a.Study.Name, a.Runs, ok, len(a.NotOK), len(a.Cells), len(a.Skips))
	if shm := a.Provenance.SharedMemoryLine(); shm != "" {
		ew.printf("Shared memory between ranks (shm; CMA: process_vm_readv between two ranks): %s\n", shm)
	}
	if iso := a.Provenance.IsolationLine(); iso != "" {
		ew.printf("Container isolation measured: %s (private: the job's own pid namespace, no needless privileges; host: the host's)\n", iso)
	}
	if len(a.Provenance.Images) > 0 {
		ew.printf("Images (runtime image@digest: verification):\n")
		for _, img := range a.Provenance.Images {
			ew.printf("  %s: %s\n", img, strings.Join(a.Provenance.ImageChecks[img], "; "))
		}
		ew.printf("%s\n", a.Provenance.VerificationLine())
	}
	if a.Runs > 0 && ok == 0 {
		ew.printf("No run in this study succeeded; nothing to compare.\n")
	}
	if f := a.Findings(); len(f) > 0 {
		ew.printf("\nFindings (relative performance = container / native performance; >1 is faster;\n")
		ew.printf("slower/faster: beyond the ±%s margin, p adjusted by Holm over %d tested comparisons;\n", FormatMargin(a.Margin), a.Sensitivity.Comparisons)
		ew.printf("equivalent: 90%% interval within ±%s; inconclusive: neither shown yet):\n", FormatMargin(a.Margin))
		for _, x := range f {
			ew.printf("  %s\n", x)
		}
		ew.printf("%s\n", capitalise(a.Sensitivity.String()))
	}
	if stopped := a.StoppedAtMax(); len(stopped) > 0 {
		ew.printf("\nStopped at the most repetitions allowed (max_repetitions = %d), still undecided:\n", a.MaxRepetitions)
		for _, c := range stopped {
			ew.printf("  %s: %s\n", c.Container.Label(), c.Verdict)
		}
	}
	if noisy := a.LaunchNoiseCells(); len(noisy) > 0 {
		ew.printf("\nLaunch noise dominates %d cell%s (median benchmark time under %s; a larger class measures the benchmark instead):\n", len(noisy), plural(len(noisy)), a.MinRunTime)
		for _, c := range noisy {
			ew.printf("  %s: %s s, %d of %d runs short\n", c.Label(), g(c.RunTimeS), c.ShortRuns, c.N)
		}
	}
	if len(a.Cells) > 0 {
		ew.printf("\nCells (valid, non-warm-up repetitions):\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "CELL\tN\tMETRIC\tMEDIAN\t95% CI\tMEAN\tSD\tCV\tWIRE-UP\tNOT OK\t")
		for _, c := range a.Cells {
			med, ci, mean, sd, cv := "-", "-", "-", "-", "-"
			if c.N > 0 {
				med, mean, sd = g(c.Median), g(c.Mean), g(c.SD)
				ci = fmt.Sprintf("%s-%s", g(c.CILow), g(c.CIHigh))
				cv = fmt.Sprintf("%.1f%%", 100*c.CV)
			}
			wire := "-"
			if c.WireUpS > 0 {
				wire = fmt.Sprintf("%.1fms", 1000*c.WireUpS)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", c.Label(), c.N, dash(c.Metric.Unit), med, ci, mean, sd, cv, wire, c.Failed+c.Invalid+c.Timeout)
		}
		tw.Flush()
	}
	if len(a.Comparisons) > 0 {
		ew.printf("\nAgainst native:\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTAINER CELL\tREL. PERF.\t95% CI\tVERDICT")
		for _, c := range a.Comparisons {
			rel, ci := "-", "-"
			if !math.IsNaN(c.RelPerf) {
				rel, ci = fmt.Sprintf("%.3f", c.RelPerf), fmt.Sprintf("%.3f-%.3f", c.RelLow, c.RelHigh)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Container.Label(), rel, ci, c.Verdict)
		}
		tw.Flush()
	}
	writeStartups(ew, a)
	writePMIComparisons(ew, a)
	if len(a.Unmatched) > 0 {
		ew.printf("\nContainer cells without a matching native cell (not compared):\n")
		for _, c := range a.Unmatched {
			ew.printf("  %s\n", c.Label())
		}
	}
	if len(a.NotOK) > 0 {
		ew.printf("\nRuns without a valid result:\n")
		const maxShown = 50
		for i, r := range a.NotOK {
			if i == maxShown {
				ew.printf("  ... and %d more (hpcbench results export lists them all)\n", len(a.NotOK)-maxShown)
				break
			}
			warm := ""
			if r.Warmup {
				warm = " warm-up"
			}
			ew.printf("  %s rep %d%s: %s: %s\n", r.Cell.CanonicalKey(), r.Repetition, warm, r.Status, dash(r.Reason))
		}
	}
	if len(a.Skips) > 0 {
		ew.printf("\nSkipped cells:\n")
		if err := WriteSkipGroups(ew, a.Skips, opts.Verbose, "  ", describeSkip(a.Skips)); err != nil {
			return err
		}
	}
	return ew.err
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func g(v float64) string { return fmt.Sprintf("%.4g", v) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

// writeStartups prints the wire-up split per runtime, layout and PMI.
func writeStartups(ew *errWriter, a *Analysis) {
	rows := a.Startups()
	if len(rows) == 0 {
		return
	}
	ew.printf("\nWire-up split (medians over cells; start: the slowest rank's spawn to its first PMI message;\n")
	ew.printf("PMI exchange: every rank speaking PMI to the first fence done):\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RUNTIME\tCELLS\tSTART\tPMI EXCHANGE\tWIRE-UP\t")
	for _, s := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", s.Label(), s.Cells, ms(s.ContainerStartS), ms(s.PMIExchangeS), ms(s.WireUpS))
	}
	tw.Flush()
}

// writePMIComparisons prints "does the PMI flavour matter?" per runtime.
func writePMIComparisons(ew *errWriter, a *Analysis) {
	if len(a.PMIComparisons) == 0 {
		return
	}
	ew.printf("\nDoes the PMI flavour matter? (the flavour relative to the reference flavour of the same cell; >1 is faster;\n")
	ew.printf("p adjusted by Holm over the PMI comparisons):\n")
	runtime := ""
	for _, p := range a.PMIComparisons {
		if rt := p.Runtime(); rt != runtime {
			runtime = rt
			ew.printf("  %s:\n", rt)
		}
		ew.printf("    %s\n", p.Subject())
		ew.printf("      %s: %s\n", p.Metric.Container.Metric.Name, pmiVerdictText(p.Metric))
		ew.printf("      PMI exchange: %s\n", pmiVerdictText(p.Exchange))
	}
}

// pmiVerdictText is a comparison's ratio with its interval, then its verdict.
func pmiVerdictText(c Comparison) string {
	if math.IsNaN(c.RelPerf) {
		return c.Verdict
	}
	return fmt.Sprintf("ratio %.3f (95%% CI %.3f-%.3f): %s", c.RelPerf, c.RelLow, c.RelHigh, c.Verdict)
}

func ms(s float64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", 1000*s)
}
