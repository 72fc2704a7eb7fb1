package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/hpcbench/hpcbench/internal/outfile"
	"github.com/hpcbench/hpcbench/results"
)

// Options tune the PDF report.
type Options struct {
	// Version is the hpcbench writing the report.
	Version string
	// Generated stamps the report; default time.Now. Set it for a
	// reproducible file.
	Generated time.Time
	// DPI of the embedded figures; default 150.
	DPI int
	// Baseline, when set, adds a section comparing the study with a
	// baseline study cell by cell (results.CompareStudies).
	Baseline *results.Baseline
}

// Layout of an A4 page, in millimetres.
const (
	pageW, pageH = 210.0, 297.0
	margin       = 15.0
	contentW     = pageW - 2*margin
	bottom       = pageH - 18.0
)

// Write renders the analysed study as a PDF onto w.
func Write(w io.Writer, a *results.Analysis, opt Options) error {
	if opt.Generated.IsZero() {
		opt.Generated = time.Now()
	}
	if opt.DPI == 0 {
		opt.DPI = 150
	}
	figs, err := Figures(a)
	if err != nil {
		return err
	}
	r := &renderer{pdf: fpdf.New("P", "mm", "A4", ""), a: a, opt: opt}
	r.tr = r.pdf.UnicodeTranslatorFromDescriptor("")
	r.pdf.SetMargins(margin, margin, margin)
	r.pdf.SetAutoPageBreak(true, pageH-bottom)
	r.pdf.SetTitle("hpcbench report: "+a.Study.Name, true)
	r.pdf.SetCreator("hpcbench "+opt.Version, true)
	r.pdf.SetCreationDate(opt.Generated)
	r.pdf.SetModificationDate(opt.Generated)
	r.pdf.AliasNbPages("{nb}")
	r.pdf.SetFooterFunc(func() {
		r.pdf.SetY(-12)
		r.pdf.SetFont("Helvetica", "", 8)
		r.pdf.SetTextColor(100, 100, 100)
		r.pdf.CellFormat(0, 5, r.tr(fmt.Sprintf("hpcbench report - study %s - page %d of {nb}", a.Study.Name, r.pdf.PageNo())), "", 0, "C", false, 0, "")
		r.pdf.SetTextColor(0, 0, 0)
	})
	r.figs = map[string]Figure{}
	for _, f := range figs {
		r.figs[f.Name] = f
	}
	// The figures are drawn on every core while the text is laid out;
	// each is placed once drawn. Drawing them takes most of a report's
	// time.
	r.pngs = renderAll(figs, opt.DPI)
	defer r.pngs.stop()

	r.titlePage()
	r.executiveSummary()
	r.summaryTable()
	r.startupSection()
	r.pmiSection()
	r.baselineSection()
	for _, b := range a.Benchmarks() {
		r.benchmarkSection(b)
	}
	r.problems()
	r.provenance()
	if r.err != nil {
		return r.err
	}
	return r.pdf.Output(w)
}

type renderer struct {
	pdf     *fpdf.Fpdf
	tr      func(string) string
	a       *results.Analysis
	opt     Options
	figs    map[string]Figure
	pngs    *rendering
	section int
	err     error
}

// clean keeps text within what the core fonts can show.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r == '\n':
			return r
		case r < 32:
			return -1
		case r > 255:
			return '?'
		}
		return r
	}, s)
}

func (r *renderer) heading(text string) {
	r.section++
	r.pdf.AddPage()
	r.pdf.SetFont("Helvetica", "B", 16)
	r.pdf.CellFormat(0, 10, r.tr(clean(fmt.Sprintf("%d  %s", r.section, text))), "", 1, "L", false, 0, "")
	r.pdf.Ln(2)
}

func (r *renderer) subheading(text string) {
	r.ensure(20)
	r.pdf.Ln(2)
	r.pdf.SetFont("Helvetica", "B", 12)
	r.pdf.CellFormat(0, 7, r.tr(clean(text)), "", 1, "L", false, 0, "")
	r.pdf.Ln(1)
}

func (r *renderer) para(text string) {
	r.pdf.SetFont("Helvetica", "", 10)
	r.pdf.MultiCell(0, 5, r.tr(clean(text)), "", "L", false)
	r.pdf.Ln(1.5)
}

func (r *renderer) bullet(text string) {
	r.pdf.SetFont("Helvetica", "", 10)
	x := r.pdf.GetX()
	r.pdf.CellFormat(5, 5, r.tr("\u2022"), "", 0, "L", false, 0, "")
	r.pdf.SetLeftMargin(x + 5)
	r.pdf.MultiCell(contentW-5, 5, r.tr(clean(text)), "", "L", false)
	r.pdf.SetLeftMargin(x)
	r.pdf.SetX(x)
	r.pdf.Ln(1)
}

// ensure starts a new page unless h millimetres remain on this one.
func (r *renderer) ensure(h float64) {
	if r.pdf.GetY()+h > bottom {
		r.pdf.AddPage()
	}
}

func (r *renderer) titlePage() {
	a := r.a
	r.pdf.AddPage()
	r.pdf.SetY(70)
	r.pdf.SetFont("Helvetica", "B", 26)
	r.pdf.CellFormat(0, 14, "hpcbench report", "", 1, "C", false, 0, "")
	r.pdf.SetFont("Helvetica", "", 14)
	r.pdf.CellFormat(0, 9, r.tr(clean("What containers cost MPI benchmarks")), "", 1, "C", false, 0, "")
	r.pdf.Ln(14)
	var hosts []string
	for _, h := range a.Hosts {
		hosts = append(hosts, h.Hostname)
	}
	created := "unknown"
	if !a.Study.Created.IsZero() {
		created = a.Study.Created.UTC().Format("2006-01-02 15:04 UTC")
	}
	rows := [][2]string{
		{"Study", a.Study.Name},
		{"Host", orDash(strings.Join(hosts, ", "))},
		{"Study created", created},
		{"Report generated", r.opt.Generated.UTC().Format("2006-01-02 15:04 UTC")},
		{"hpcbench (study)", orDash(a.Study.Version)},
		{"hpcbench (report)", orDash(r.opt.Version)},
		{"Runs", fmt.Sprintf("%d stored, %d ok, %d not ok; %d cells skipped", a.Runs, a.Runs-len(a.NotOK), len(a.NotOK), len(a.Skips))},
	}
	for _, row := range rows {
		r.pdf.SetX(40)
		r.pdf.SetFont("Helvetica", "B", 11)
		r.pdf.CellFormat(45, 7, r.tr(row[0]), "", 0, "L", false, 0, "")
		r.pdf.SetFont("Helvetica", "", 11)
		r.pdf.MultiCell(90, 7, r.tr(clean(row[1])), "", "L", false)
	}
}

func (r *renderer) executiveSummary() {
	a := r.a
	r.heading("Executive summary")
	ok := a.Runs - len(a.NotOK)
	switch {
	case a.Runs == 0:
		r.para("This study holds no runs, so there is nothing to compare.")
	case ok == 0:
		r.para(fmt.Sprintf("No run in this study succeeded: all %d runs %s. There is nothing to compare; the reasons are listed in the section \"Failed, invalid and skipped cells\".",
			a.Runs, describeNotOK(a.NotOK)))
	case len(a.Comparisons) == 0:
		r.para(fmt.Sprintf("%d of %d runs succeeded, but no container cell has a matching native cell (same benchmark, class, MPI, PMI flavour, rank count and oversubscription), so no overhead can be stated. The per-benchmark sections give each cell's statistics.", ok, a.Runs))
	default:
		margin := results.FormatMargin(a.Margin)
		r.para("Relative performance is a container cell's performance divided by that of the matching native cell (same benchmark, class, MPI library, PMI flavour, rank count and oversubscription): for a time, native time / container time; for a rate, container rate / native rate. Above 1 the container is faster. \"Slower by 3%\" means a relative performance of 0.97. Intervals are 95% bootstrap intervals of the ratio of medians.")
		r.para(fmt.Sprintf("Each comparison gets one of four verdicts. \"Slower\" or \"faster\" means Welch's t-test on log performance rejects equality at the 5%% level after Holm's adjustment for all %d tested comparisons of the study, and the 95%% interval lies wholly beyond the practical margin of %s. \"Equivalent within ±%s\" means the 90%% interval lies inside 1 ± %s (two one-sided tests). \"Inconclusive\" means neither was shown; the verdict says about how many more runs per side would decide it. A test needs at least %d valid repetitions on each side.",
			a.Sensitivity.Comparisons, margin, margin, margin, results.MinTestRuns))
		r.subheading("Findings")
		for _, f := range a.Findings() {
			r.bullet(capitalise(f.Subject) + ": " + f.Text + ".")
		}
		r.para(capitalise(a.Sensitivity.String()) + ".")
	}
	var notes []string
	if n := len(a.NotOK); n > 0 && ok > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d runs did not produce a valid result (%s); they are left out of the statistics and listed with their reasons.", n, a.Runs, describeNotOK(a.NotOK)))
	}
	if len(a.Provenance.UnverifiedImages()) > 0 {
		notes = append(notes, a.Provenance.VerificationLine()+" Appendix A lists each image's digest and verification outcome.")
	}
	if n := len(a.Skips); n > 0 {
		notes = append(notes, fmt.Sprintf("%d cell%s could not run on this host and %s skipped; the reasons are listed.", n, plural(n), map[bool]string{true: "was", false: "were"}[n == 1]))
	}
	over := 0
	for _, c := range a.Cells {
		if c.Cell.Oversubscribed {
			over++
		}
	}
	if over > 0 {
		notes = append(notes, fmt.Sprintf("%d cell%s ran more ranks than cores (oversubscribed); they are compared only with oversubscribed native cells and marked in every table.", over, plural(over)))
	}
	if n := len(a.Unmatched); n > 0 {
		notes = append(notes, fmt.Sprintf("%d container cell%s had no matching native cell and %s not compared.", n, plural(n), map[bool]string{true: "is", false: "are"}[n == 1]))
	}
	if stopped := a.StoppedAtMax(); len(stopped) > 0 {
		names := make([]string, 0, len(stopped))
		for _, c := range stopped {
			names = append(names, c.Container.Label())
		}
		notes = append(notes, fmt.Sprintf("%d comparison%s reached the most repetitions this adaptive study allows (%d a cell) still inconclusive: %s. More runs, a larger problem or a quieter machine would be needed to decide %s.",
			len(stopped), plural(len(stopped)), a.MaxRepetitions, strings.Join(names, ", "), map[bool]string{true: "it", false: "them"}[len(stopped) == 1]))
	}
	if noisy := a.LaunchNoiseCells(); len(noisy) > 0 {
		names := make([]string, 0, len(noisy))
		for i, c := range noisy {
			if i == maxNamed {
				names = append(names, fmt.Sprintf("and %d more", len(noisy)-maxNamed))
				break
			}
			names = append(names, c.Label())
		}
		n := len(noisy)
		notes = append(notes, fmt.Sprintf("Launch noise dominates %d cell%s: %s benchmark time is under %s, so start-up and wire-up jitter weigh as much as the work measured; a larger class or problem size measures the benchmark instead (%s).",
			n, plural(n), map[bool]string{true: "its median", false: "their median"}[n == 1], a.MinRunTime, strings.Join(names, ", ")))
	}
	if len(notes) > 0 {
		r.subheading("Notes")
		for _, n := range notes {
			r.bullet(n)
		}
	}
	r.figure("overhead")
	r.figure("wireup")
}

// maxNamed is how many cells a note names before it counts the rest.
const maxNamed = 12

func describeNotOK(runs []results.Run) string {
	counts := map[results.Status]int{}
	for _, r := range runs {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range []struct {
		st   results.Status
		verb string
	}{{results.StatusFailed, "failed"}, {results.StatusInvalid, "invalid"}, {results.StatusTimeout, "timed out"}} {
		if n := counts[s.st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s.verb))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *renderer) summaryTable() {
	r.heading("Summary of comparisons with native runs")
	valid := 0
	for _, c := range r.a.Comparisons {
		if !math.IsNaN(c.RelPerf) {
			valid++
		}
	}
	if valid == 0 {
		r.para("There are no comparisons: no container cell with valid runs has a matching native cell with valid runs.")
		return
	}
	t := table{
		headers: []string{"Benchmark", "Container cell", "Ranks", "n (ctr/nat)", "Rel. perf. [95% CI]", "Verdict"},
		widths:  []float64{18, 40, 13, 19, 32, 58},
		align:   "LLRRRL",
	}
	for _, c := range r.a.Comparisons {
		cell := c.Container.Cell
		name := cell.Label()
		if cell.Oversubscribed {
			name += " (oversubscribed)"
		}
		t.rows = append(t.rows, []string{cell.Benchmark + "." + cell.Class, name, fmt.Sprint(cell.Ranks),
			fmt.Sprintf("%d/%d", c.Container.N, c.Native.N), relText(c), c.Verdict})
	}
	r.table(t)
}

func relText(c results.Comparison) string {
	if math.IsNaN(c.RelPerf) {
		return "-"
	}
	return fmt.Sprintf("%.3f [%.3f, %.3f]", c.RelPerf, c.RelLow, c.RelHigh)
}

func (r *renderer) benchmarkSection(b string) {
	a := r.a
	r.heading("Benchmark " + b)
	t := table{
		headers: []string{"Cell", "Ranks", "n", "Median [95% CI]", "Mean", "SD", "CV", "Wire-up", "Not ok"},
		widths:  []float64{50, 12, 9, 37, 17, 15, 12, 15, 13},
		align:   "LRRRRRRRR",
	}
	unit := ""
	for _, c := range a.Cells {
		if c.Cell.Benchmark != b {
			continue
		}
		if unit == "" && c.Metric.Name != "" {
			unit = fmt.Sprintf("%s in %s (%s)", c.Metric.Name, c.Metric.Unit, map[bool]string{true: "higher is better", false: "lower is better"}[c.Metric.HigherIsBetter])
		}
		name := c.Cell.Class + " " + c.Cell.Label()
		if c.Cell.Oversubscribed {
			name += " (oversubscribed)"
		}
		med, mean, sd, cv := "-", "-", "-", "-"
		if c.N > 0 {
			med = fmt.Sprintf("%s [%s, %s]", num(c.Median), num(c.CILow), num(c.CIHigh))
			mean, sd = num(c.Mean), num(c.SD)
			cv = fmt.Sprintf("%.1f%%", 100*c.CV)
		}
		wire := "-"
		if c.WireUpS > 0 {
			wire = fmt.Sprintf("%.1f ms", 1000*c.WireUpS)
		}
		t.rows = append(t.rows, []string{name, fmt.Sprint(c.Cell.Ranks), fmt.Sprint(c.N), med, mean, sd, cv, wire, fmt.Sprint(c.Failed + c.Invalid + c.Timeout)})
	}
	if unit != "" {
		r.para("Metric: " + unit + ". Statistics are over valid, non-warm-up repetitions; the interval is a 95% bootstrap interval of the median.")
	}
	r.table(t)
	var cs []results.Comparison
	for _, c := range a.Comparisons {
		if c.Container.Cell.Benchmark == b {
			cs = append(cs, c)
		}
	}
	if len(cs) > 0 {
		r.subheading("Against native")
		ct := table{
			headers: []string{"Container cell", "Ranks", "n (ctr/nat)", "Rel. perf. [95% CI]", "Verdict"},
			widths:  []float64{50, 13, 19, 32, 66},
			align:   "LRRRL",
		}
		for _, c := range cs {
			name := c.Container.Cell.Class + " " + c.Container.Cell.Label()
			if c.Container.Cell.Oversubscribed {
				name += " (oversubscribed)"
			}
			ct.rows = append(ct.rows, []string{name, fmt.Sprint(c.Container.Cell.Ranks), fmt.Sprintf("%d/%d", c.Container.N, c.Native.N), relText(c), c.Verdict})
		}
		r.table(ct)
	}
	for _, kind := range []string{"relative", "scaling", "efficiency", "distribution"} {
		r.figure(sanitize(b) + "-" + kind)
	}
}

func (r *renderer) problems() {
	a := r.a
	r.heading("Failed, invalid and skipped cells")
	if len(a.NotOK) == 0 && len(a.Skips) == 0 {
		r.para("Every run of this study succeeded and no cell was skipped.")
		return
	}
	if len(a.NotOK) > 0 {
		r.subheading("Runs without a valid result")
		r.para("Runs of one cell that ended the same way for the same reason are grouped.")
		type key struct {
			cell   string
			status results.Status
			reason string
		}
		groups := map[key][]int{}
		var keys []key
		for _, run := range a.NotOK {
			k := key{fmt.Sprintf("%s.%s %s x%d", run.Cell.Benchmark, run.Cell.Class, run.Cell.Label(), run.Cell.Ranks), run.Status, run.Reason}
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			rep := run.Repetition
			if run.Warmup {
				rep = -1 - rep
			}
			groups[k] = append(groups[k], rep)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].cell != keys[j].cell {
				return keys[i].cell < keys[j].cell
			}
			return keys[i].reason < keys[j].reason
		})
		t := table{headers: []string{"Cell", "Status", "Repetitions", "Reason"}, widths: []float64{55, 18, 32, 75}, align: "LLLL"}
		for _, k := range keys {
			t.rows = append(t.rows, []string{k.cell, string(k.status), repList(groups[k]), orDash(k.reason)})
		}
		r.table(t)
	}
	if len(a.Skips) > 0 {
		// Grouped by cause: a study often skips dozens of cells for two or
		// three reasons. Each group gives its count and the axes its
		// cells cover, then its distinct reasons when they differ.
		r.subheading("Skipped cells")
		t := table{headers: []string{"Cells", "Cause and reasons", "Covering"}, widths: []float64{15, 115, 50}, align: "RLL"}
		for _, g := range results.GroupSkips(a.Skips) {
			t.rows = append(t.rows, []string{fmt.Sprint(len(g.Skips)), g.Cause, g.Axes(a.Skips)})
			if len(g.Reasons) == 1 && g.Reasons[0].Reason == g.Cause {
				continue
			}
			for _, rc := range g.Reasons {
				t.rows = append(t.rows, []string{fmt.Sprint(rc.Cells), "- " + rc.Reason, ""})
			}
		}
		r.table(t)
	}
}

// repList writes repetition numbers compactly; warm-ups (stored negative
// here) are marked "w".
func repList(reps []int) string {
	sort.Ints(reps)
	var parts []string
	for i, n := 0, len(reps); i < n && len(parts) < 12; i++ {
		if reps[i] < 0 {
			parts = append(parts, fmt.Sprintf("w%d", -1-reps[i]))
			continue
		}
		j := i
		for j+1 < n && reps[j+1] == reps[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", reps[i], reps[j]))
		} else {
			parts = append(parts, fmt.Sprint(reps[i]))
		}
		i = j
	}
	s := strings.Join(parts, ", ")
	if len(reps) > 1 {
		s += fmt.Sprintf(" (%d runs)", len(reps))
	}
	return s
}

func (r *renderer) provenance() {
	a := r.a
	p := a.Provenance
	r.section = 0
	r.pdf.AddPage()
	r.pdf.SetFont("Helvetica", "B", 16)
	r.pdf.CellFormat(0, 10, "Appendix A  Provenance", "", 1, "L", false, 0, "")
	r.pdf.Ln(2)
	r.subheading("Hosts")
	ht := table{headers: []string{"Host", "CPU", "Cores", "Memory", "Kernel"}, widths: []float64{30, 70, 14, 22, 44}, align: "LLRRL"}
	for _, h := range a.Hosts {
		ht.rows = append(ht.rows, []string{h.Hostname, orDash(h.CPUModel), fmt.Sprint(h.Cores), fmt.Sprintf("%.1f GiB", float64(h.MemoryBytes)/(1<<30)), orDash(h.Kernel)})
	}
	r.table(ht)
	kv := func(title string, m map[string][]string) {
		if len(m) == 0 {
			return
		}
		r.subheading(title)
		t := table{headers: []string{"Name", "Values"}, widths: []float64{60, 120}, align: "LL"}
		for _, k := range sortedKeys(m) {
			t.rows = append(t.rows, []string{k, orDash(strings.Join(m[k], "; "))})
		}
		r.table(t)
	}
	kv("Runtimes and versions", p.Runtimes)
	kv("MPI libraries and versions", p.MPIs)
	if len(p.Images) > 0 {
		r.subheading("Images, digests and verification")
		r.para(p.VerificationLine())
		t := table{headers: []string{"Runtime, image and digest / verification outcome"}, widths: []float64{contentW}, align: "L", mono: true}
		for _, img := range p.Images {
			t.rows = append(t.rows, []string{img}, []string{"  -> " + strings.Join(p.ImageChecks[img], "; ")})
		}
		r.table(t)
	}
	if len(p.PMI) > 0 {
		r.subheading("PMI: asked for and negotiated by the ranks")
		t := table{headers: []string{"Asked -> negotiated", "Runs"}, widths: []float64{90, 30}, align: "LR"}
		for _, k := range sortedKeys(p.PMI) {
			t.rows = append(t.rows, []string{k, fmt.Sprint(p.PMI[k])})
		}
		r.table(t)
	}
	kv("Runtime adapter choices", p.Choices)
	kv("Environment", p.Env)
	kv("Command lines", p.Argv)
	r.subheading("Study")
	lines := []string{
		fmt.Sprintf("Seed: %d", a.Study.Seed),
		"Config sha256: " + orDash(a.Study.ConfigSHA256),
	}
	if shm := p.SharedMemoryLine(); shm != "" {
		lines = append(lines, "Shared memory between ranks (shm; CMA: process_vm_readv between two ranks): "+shm)
	}
	if iso := p.IsolationLine(); iso != "" {
		lines = append(lines, "Container isolation measured: "+iso)
	}
	if !p.Started.IsZero() {
		lines = append(lines, fmt.Sprintf("Runs from %s to %s", p.Started.UTC().Format(time.RFC3339), p.Finished.UTC().Format(time.RFC3339)))
	}
	if p.SlurmJobs > 0 {
		lines = append(lines, fmt.Sprintf("Slurm jobs: %d", p.SlurmJobs))
	}
	for _, l := range lines {
		r.para(l)
	}
	if a.Study.Config != "" {
		r.subheading("Config")
		r.pdf.SetFont("Courier", "", 8)
		r.pdf.MultiCell(0, 3.6, r.tr(clean(a.Study.Config)), "", "L", false)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// figure embeds a figure scaled to the content width, starting a page if
// it does not fit.
func (r *renderer) figure(name string) {
	f, ok := r.figs[name]
	if !ok || r.err != nil {
		return
	}
	png, err := r.pngs.get(name)
	if err != nil {
		r.err = err
		return
	}
	w := contentW
	h := w * float64(f.Height) / float64(f.Width)
	capH := 12.0
	// A figure that nearly fits is shrunk rather than leaving most of a
	// page empty.
	if avail := bottom - r.pdf.GetY() - capH; h > avail && avail >= 0.7*h {
		w, h = w*avail/h, avail
	}
	r.ensure(h + capH)
	opt := fpdf.ImageOptions{ImageType: "PNG", ReadDpi: false}
	r.pdf.RegisterImageOptionsReader(name, opt, bytes.NewReader(png))
	y := r.pdf.GetY()
	r.pdf.ImageOptions(name, margin+(contentW-w)/2, y, w, h, false, opt, 0, "")
	r.pdf.SetY(y + h + 1)
	r.pdf.SetFont("Helvetica", "I", 8.5)
	r.pdf.MultiCell(0, 4, r.tr(clean(f.Caption)), "", "L", false)
	r.pdf.Ln(3)
	if err := r.pdf.Error(); err != nil {
		r.err = fmt.Errorf("figure %s: %w", name, err)
	}
}

// rendering is the figures of a report being drawn as PNG, in order, by
// as many goroutines as there are cores.
type rendering struct {
	figs    map[string]*renderedFigure
	stopped atomic.Bool
	wg      sync.WaitGroup
}

type renderedFigure struct {
	done chan struct{}
	png  []byte
	err  error
}

func renderAll(figs []Figure, dpi int) *rendering {
	r := &rendering{figs: make(map[string]*renderedFigure, len(figs))}
	jobs := make([]*renderedFigure, len(figs))
	for i, f := range figs {
		jobs[i] = &renderedFigure{done: make(chan struct{})}
		r.figs[f.Name] = jobs[i]
	}
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(figs)) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(figs) {
					return
				}
				if !r.stopped.Load() {
					jobs[i].png, jobs[i].err = renderPNG(figs[i], dpi)
				} else {
					jobs[i].err = fmt.Errorf("figure %s: not drawn, the report was abandoned", figs[i].Name)
				}
				close(jobs[i].done)
			}
		}()
	}
	return r
}

// get waits for the named figure.
func (r *rendering) get(name string) ([]byte, error) {
	f, ok := r.figs[name]
	if !ok {
		return nil, fmt.Errorf("figure %s: not made", name)
	}
	<-f.done
	return f.png, f.err
}

// stop draws no more figures and waits for those being drawn.
func (r *rendering) stop() {
	r.stopped.Store(true)
	r.wg.Wait()
}

func renderPNG(f Figure, dpi int) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(dpi))
	f.Plot.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("figure %s: %w", f.Name, err)
	}
	return buf.Bytes(), nil
}

// table is a table whose cells wrap within their column; a row never
// runs past the page: long cells are cut to a page's worth of lines.
type table struct {
	headers []string
	widths  []float64 // millimetres, summing to at most contentW
	align   string    // one of L, R, C per column
	rows    [][]string
	mono    bool
}

const (
	cellFont   = 8.0
	cellLine   = 3.8
	cellPad    = 1.0
	maxRowLine = 40
)

func (r *renderer) table(t table) {
	if len(t.rows) == 0 {
		r.para("(none)")
		return
	}
	header := func() {
		r.pdf.SetFont("Helvetica", "B", cellFont)
		r.pdf.SetFillColor(225, 230, 240)
		r.row(t, t.headers)
	}
	r.pdf.SetDrawColor(190, 190, 190)
	r.ensure(3 * (cellLine + 2*cellPad))
	header()
	for i, row := range t.rows {
		font := "Helvetica"
		if t.mono {
			font = "Courier"
		}
		r.pdf.SetFont(font, "", cellFont)
		h := r.rowHeight(t, row)
		if r.pdf.GetY()+h > bottom {
			r.pdf.AddPage()
			header()
			r.pdf.SetFont(font, "", cellFont)
		}
		if i%2 == 1 {
			r.pdf.SetFillColor(245, 245, 245)
		} else {
			r.pdf.SetFillColor(255, 255, 255)
		}
		r.row(t, row)
	}
	r.pdf.Ln(3)
}

func (r *renderer) cellLines(text string, w float64) []string {
	lines := r.pdf.SplitText(clean(text), w)
	if len(lines) == 0 {
		lines = []string{""}
	}
	if len(lines) > maxRowLine {
		lines = append(lines[:maxRowLine-1], "... (cut)")
	}
	return lines
}

func (r *renderer) rowHeight(t table, row []string) float64 {
	n := 1
	for i, text := range row {
		if i < len(t.widths) {
			n = max(n, len(r.cellLines(text, t.widths[i])))
		}
	}
	return float64(n)*cellLine + 2*cellPad
}

func (r *renderer) row(t table, row []string) {
	h := r.rowHeight(t, row)
	x0, y0 := margin, r.pdf.GetY()
	x := x0
	for i, w := range t.widths {
		text := ""
		if i < len(row) {
			text = row[i]
		}
		r.pdf.Rect(x, y0, w, h, "FD")
		align := "L"
		if i < len(t.align) {
			align = string(t.align[i])
		}
		for j, line := range r.cellLines(text, w) {
			r.pdf.SetXY(x, y0+cellPad+float64(j)*cellLine)
			r.pdf.CellFormat(w, cellLine, r.tr(line), "", 0, align, false, 0, "")
		}
		x += w
	}
	r.pdf.SetXY(x0, y0+h)
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// capitalise starts a sentence with a capital, spelling the OCI runtime
// as its specification does ("OCI", not "Oci").
func capitalise(s string) string {
	if s == "" {
		return s
	}
	if rest, ok := strings.CutPrefix(s, "oci"); ok && (rest == "" || rest[0] == ' ') {
		return "OCI" + rest
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// WriteFile writes the report to path, replacing it only once the whole
// report is written. A missing folder is told as such (wrapping
// outfile.ErrNoFolder), not as the temporary file's failure.
func WriteFile(path string, a *results.Analysis, opt Options) error {
	if err := outfile.CheckFolder(path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hpcbench-report-*.pdf")
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := Write(tmp, a, opt); err != nil {
		tmp.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
