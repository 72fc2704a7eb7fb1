// Package report turns an analysed study (results.Analysis) into figures
// (gonum/plot) and a PDF report (fpdf).
package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/stats"
)

// Figure is one chart of a study.
type Figure struct {
	// Name is the file name without extension ("cg-relative").
	Name string
	// Benchmark is the benchmark the figure is about; "" for study-wide figures.
	Benchmark string
	// Caption says what the figure shows, for the report.
	Caption string
	Plot    *plot.Plot
	Width   vg.Length
	Height  vg.Length
}

// Render writes the figure in format ("png", "svg" or "pdf").
func (f Figure) Render(format string) ([]byte, error) {
	wt, err := f.Plot.WriterTo(f.Width, f.Height, format)
	if err != nil {
		return nil, fmt.Errorf("figure %s: %w", f.Name, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("figure %s: %w", f.Name, err)
	}
	return buf.Bytes(), nil
}

// Figures returns every figure the analysis supports, study-wide ones
// first, then per benchmark in name order. Figures without data are left out.
func Figures(a *results.Analysis) ([]Figure, error) {
	var figs []Figure
	add := func(f *Figure, err error) error {
		if err != nil {
			return err
		}
		if f != nil {
			figs = append(figs, *f)
		}
		return nil
	}
	if err := add(OverheadHeatMap(a)); err != nil {
		return nil, err
	}
	if err := add(WireUp(a)); err != nil {
		return nil, err
	}
	if err := add(PMIExchange(a)); err != nil {
		return nil, err
	}
	for _, b := range a.Benchmarks() {
		for _, fn := range []func(*results.Analysis, string) (*Figure, error){RelativePerformance, Scaling, Efficiency, Distribution} {
			if err := add(fn(a, b)); err != nil {
				return nil, err
			}
		}
	}
	return figs, nil
}

// WriteFigures renders figs into dir as NAME.FORMAT and returns the paths.
func WriteFigures(figs []Figure, dir, format string) ([]string, error) {
	switch format {
	case "png", "svg", "pdf":
	default:
		return nil, fmt.Errorf("figure format %q: want png, svg or pdf", format)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range figs {
		b, err := f.Render(format)
		if err != nil {
			return paths, err
		}
		p := filepath.Join(dir, f.Name+"."+format)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

var (
	defaultWidth  = 16 * vg.Centimeter
	defaultHeight = 10 * vg.Centimeter
)

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Title.TextStyle.Font.Size = 11
	p.Legend.TextStyle.Font.Size = 8
	p.Legend.Top = true
	return p
}

// relBars holds bar positions and their interval for error bars.
type relBars struct {
	xy     plotter.XYs
	lo, hi []float64
}

func (r relBars) Len() int                    { return len(r.xy) }
func (r relBars) XY(i int) (float64, float64) { return r.xy[i].X, r.xy[i].Y }
func (r relBars) XError(i int) (float64, float64) {
	return r.xy[i].X - r.lo[i], r.hi[i] - r.xy[i].X
}

// RelativePerformance draws, for one benchmark, each container cell's
// performance relative to native (horizontal bars, 95% whiskers, a line
// at 1.0).
func RelativePerformance(a *results.Analysis, benchmark string) (*Figure, error) {
	var cs []results.Comparison
	for _, c := range a.Comparisons {
		if c.Container.Cell.Benchmark == benchmark && !math.IsNaN(c.RelPerf) {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return nil, nil
	}
	classes := map[string]bool{}
	for _, c := range cs {
		classes[c.Container.Cell.Class] = true
	}
	// Bottom to top reads top to bottom in the sorted order.
	var labels []string
	vals := make(plotter.Values, len(cs))
	var colors []color.Color
	bars := relBars{}
	for i := range cs {
		c := cs[len(cs)-1-i]
		cell := c.Container.Cell
		l := fmt.Sprintf("%s x%d", cell.Label(), cell.Ranks)
		if len(classes) > 1 {
			l = cell.Class + " " + l
		}
		if cell.Oversubscribed {
			l += " (over)"
		}
		labels = append(labels, l)
		vals[i] = c.RelPerf
		col, ok := runtimeColors[cell.Runtime]
		if !ok {
			col = color.Gray{Y: 120}
		}
		colors = append(colors, col)
		bars.xy = append(bars.xy, plotter.XY{X: c.RelPerf, Y: float64(i)})
		bars.lo = append(bars.lo, c.RelLow)
		bars.hi = append(bars.hi, c.RelHigh)
	}
	p := newPlot(benchmark+": performance relative to native", "relative performance (native = 1; above 1 is faster)", "")
	eb, err := plotter.NewXErrorBars(bars)
	if err != nil {
		return nil, err
	}
	eb.CapWidth = vg.Points(5)
	lo, hi := 1.0, 1.0
	for i := range bars.lo {
		lo, hi = math.Min(lo, bars.lo[i]), math.Max(hi, bars.hi[i])
	}
	span := math.Max(hi-lo, 0.02)
	p.X.Min, p.X.Max = math.Max(0, lo-0.1*span), hi+0.1*span
	p.X.Tick.Marker = ratioTicks{}
	// Bars start at the axis minimum, not 0, so that differences of a few
	// percent stay visible.
	bc := &ratioBars{values: vals, from: p.X.Min, width: vg.Points(8), colors: colors}
	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.6}, {X: 1, Y: float64(len(cs)) - 0.4}})
	if err != nil {
		return nil, err
	}
	one.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	one.LineStyle.Color = color.RGBA{R: 200, A: 255}
	p.Add(plotter.NewGrid(), bc, eb, one)
	p.NominalY(labels...)
	p.Y.Tick.Label.Font.Size = 8
	h := vg.Length(math.Max(8, 3+0.55*float64(len(cs)))) * vg.Centimeter
	return &Figure{Name: sanitize(benchmark) + "-relative", Benchmark: benchmark, Plot: p, Width: defaultWidth, Height: h,
		Caption: "Performance of each container cell relative to the matching native cell (median ratio; whiskers: 95% bootstrap interval). Right of the dashed line is faster than native."}, nil
}

// ratioTicks labels a ratio axis with evenly spaced, fully written values
// (the default ticker rounds neighbouring labels to the same text when the
// range is a few percent wide).
type ratioTicks struct{}

func (ratioTicks) Ticks(min, max float64) []plot.Tick {
	step := 0.001
	for _, s := range []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5} {
		step = s
		if (max-min)/s <= 8 {
			break
		}
	}
	prec := int(math.Max(0, math.Ceil(-math.Log10(step)-1e-9)))
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+step*1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
	}
	return ticks
}

// logTicks125 labels a log axis at 1, 2 and 5 times the powers of ten.
type logTicks125 struct{}

func (logTicks125) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= 0 {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= min*0.999 && v <= max*1.001 {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
			}
		}
	}
	return ticks
}

// ratioBars draws horizontal bars from from to each value.
type ratioBars struct {
	values plotter.Values
	from   float64
	width  vg.Length
	colors []color.Color
}

func (s *ratioBars) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	for i, v := range s.values {
		y := trY(float64(i))
		x0, x1 := trX(s.from), trX(v)
		half := s.width / 2
		pts := []vg.Point{{X: x0, Y: y - half}, {X: x1, Y: y - half}, {X: x1, Y: y + half}, {X: x0, Y: y + half}}
		c.FillPolygon(s.colors[i], c.ClipPolygonXY(pts))
	}
}

func (s *ratioBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = s.from, s.from
	for _, v := range s.values {
		xmax = math.Max(xmax, v)
	}
	return xmin, xmax, -0.5, float64(len(s.values)) - 0.5
}

func (s *ratioBars) GlyphBoxes(*plot.Plot) []plot.GlyphBox { return nil }

// series groups cells of one benchmark by runtime, layout and PMI.
func series(a *results.Analysis, benchmark string) (names []string, by map[string][]*results.CellStats) {
	by = map[string][]*results.CellStats{}
	for _, cs := range a.Cells {
		if cs.Cell.Benchmark != benchmark || cs.N == 0 {
			continue
		}
		name := cs.Cell.Label()
		if _, ok := by[name]; !ok {
			names = append(names, name)
		}
		by[name] = append(by[name], cs)
	}
	sort.Strings(names)
	for _, n := range names {
		sort.Slice(by[n], func(i, j int) bool { return by[n][i].Cell.Ranks < by[n][j].Cell.Ranks })
	}
	return names, by
}

// runtimeColors gives each runtime one colour in every figure.
var runtimeColors = map[string]color.Color{
	"native":       color.RGBA{A: 255},
	"docker":       color.RGBA{R: 31, G: 119, B: 180, A: 255},
	"podman":       color.RGBA{R: 148, G: 103, B: 189, A: 255},
	"apptainer":    color.RGBA{R: 44, G: 160, B: 44, A: 255},
	"singularity":  color.RGBA{R: 44, G: 160, B: 44, A: 255},
	"oci":          color.RGBA{R: 214, G: 39, B: 40, A: 255},
	"charliecloud": color.RGBA{R: 255, G: 127, B: 14, A: 255},
	"ch-run":       color.RGBA{R: 255, G: 127, B: 14, A: 255},
}

// pmiDashes draws each PMI flavour with its own dash pattern.
var pmiDashes = map[string][]vg.Length{
	"pmi1": nil,
	"pmi2": {vg.Points(6), vg.Points(3)},
	"pmix": {vg.Points(2), vg.Points(2)},
}

// addSeries adds one line with points per name; a name starts with the
// runtime and contains the PMI flavour, which pick colour and dashes.
func addSeries(p *plot.Plot, names []string, pts map[string]plotter.XYs) error {
	for i, n := range names {
		if len(pts[n]) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts[n])
		if err != nil {
			return err
		}
		// "docker+isolated" (a runtime's isolated shm cells): docker's colour.
		rt, _, _ := strings.Cut(strings.Fields(n)[0], "+")
		col, ok := runtimeColors[rt]
		if !ok {
			col = plotutil.Color(i)
		}
		l.Color, sc.Color = col, col
		l.Width = vg.Points(1.2)
		for _, f := range strings.Fields(n) {
			if d, ok := pmiDashes[f]; ok {
				l.Dashes = d
			}
		}
		sc.Shape = plotutil.Shape(i)
		sc.Radius = vg.Points(2.5)
		p.Add(l, sc)
		p.Legend.Add(n, l, sc)
	}
	return nil
}

func multipleRanks(by map[string][]*results.CellStats) bool {
	ranks := map[int]bool{}
	for _, cells := range by {
		for _, c := range cells {
			ranks[c.Cell.Ranks] = true
		}
	}
	return len(ranks) > 1
}

func rankTicks(p *plot.Plot, by map[string][]*results.CellStats) {
	seen := map[int]bool{}
	var ticks []plot.Tick
	for _, cells := range by {
		for _, c := range cells {
			if !seen[c.Cell.Ranks] {
				seen[c.Cell.Ranks] = true
				ticks = append(ticks, plot.Tick{Value: float64(c.Cell.Ranks), Label: fmt.Sprint(c.Cell.Ranks)})
			}
		}
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
}

// Scaling draws the benchmark's median metric against the rank count,
// one line per runtime, layout and PMI.
func Scaling(a *results.Analysis, benchmark string) (*Figure, error) {
	names, by := series(a, benchmark)
	if !multipleRanks(by) {
		return nil, nil
	}
	m := by[names[0]][0].Metric
	p := newPlot(benchmark+": scaling with rank count", "ranks", fmt.Sprintf("median %s (%s)", m.Name, m.Unit))
	pts := map[string]plotter.XYs{}
	for _, n := range names {
		for _, c := range by[n] {
			pts[n] = append(pts[n], plotter.XY{X: float64(c.Cell.Ranks), Y: c.Median})
		}
	}
	if err := addSeries(p, names, pts); err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid())
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = logTicks125{}
	p.Y.Label.Text += ", log scale"
	rankTicks(p, by)
	p.Legend.Left = m.HigherIsBetter
	return &Figure{Name: sanitize(benchmark) + "-scaling", Benchmark: benchmark, Plot: p, Width: defaultWidth, Height: defaultHeight,
		Caption: "Median of the repetitions against the number of ranks, per runtime, layout and PMI flavour. Oversubscribed cells (more ranks than cores) are included and marked in the tables."}, nil
}

// Efficiency draws parallel efficiency against the rank count: the speed-up
// over the series' smallest rank count divided by the growth in ranks.
func Efficiency(a *results.Analysis, benchmark string) (*Figure, error) {
	names, by := series(a, benchmark)
	if !multipleRanks(by) {
		return nil, nil
	}
	p := newPlot(benchmark+": parallel efficiency", "ranks", "efficiency (1 = perfect scaling)")
	pts := map[string]plotter.XYs{}
	for _, n := range names {
		cells := by[n]
		base := cells[0]
		for _, c := range cells {
			speedup := base.Median / c.Median
			if c.Metric.HigherIsBetter {
				speedup = c.Median / base.Median
			}
			eff := speedup * float64(base.Cell.Ranks) / float64(c.Cell.Ranks)
			pts[n] = append(pts[n], plotter.XY{X: float64(c.Cell.Ranks), Y: eff})
		}
	}
	if err := addSeries(p, names, pts); err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	p.X.Scale = plot.LogScale{}
	rankTicks(p, by)
	p.Legend.Top = false
	p.Legend.Left = true
	return &Figure{Name: sanitize(benchmark) + "-efficiency", Benchmark: benchmark, Plot: p, Width: defaultWidth, Height: defaultHeight,
		Caption: "Parallel efficiency relative to each series' smallest rank count."}, nil
}

// WireUp draws the median PMI wire-up time (from the first spawn until
// every rank finished PMI initialisation) against the rank count, one
// line per PMI flavour and runtime.
func WireUp(a *results.Analysis) (*Figure, error) {
	type key struct {
		series string
		ranks  int
	}
	vals := map[key][]float64{}
	var names []string
	seen := map[string]bool{}
	byRuntime := map[[2]string][]float64{}
	var runtimes, pmis []string
	rankSet := map[int]bool{}
	for _, c := range a.Cells {
		if c.WireUpS <= 0 {
			continue
		}
		s := orNative(c.Cell.Runtime) + " " + c.Cell.PMI
		if !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
		k := key{s, c.Cell.Ranks}
		vals[k] = append(vals[k], c.WireUpS*1000)
		rk := [2]string{orNative(c.Cell.Runtime), c.Cell.PMI}
		byRuntime[rk] = append(byRuntime[rk], c.WireUpS*1000)
		runtimes, pmis = addName(runtimes, rk[0]), addName(pmis, rk[1])
		rankSet[c.Cell.Ranks] = true
	}
	if len(names) == 0 {
		return nil, nil
	}
	if len(rankSet) == 1 {
		// One rank count: a line per series would be a single column of
		// points; bars per runtime and flavour read better.
		sort.Slice(runtimes, func(i, j int) bool { return runtimeLess(runtimes[i], runtimes[j]) })
		sort.Strings(pmis)
		p, err := flavourBars("PMI wire-up time", "median wire-up (ms)", runtimes, pmis, func(rt, f string) float64 {
			if v := byRuntime[[2]string{rt, f}]; len(v) > 0 {
				return stats.Median(v)
			}
			return 0
		})
		if err != nil {
			return nil, err
		}
		return &Figure{Name: "wireup", Plot: p, Width: defaultWidth, Height: defaultHeight,
			Caption: "Time from the first rank's spawn until every rank finished PMI initialisation, median over the cells of each PMI flavour and runtime."}, nil
	}
	sort.Strings(names)
	pts := map[string]plotter.XYs{}
	var keys []key
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ranks < keys[j].ranks })
	byRanks := map[string][]*results.CellStats{}
	for _, k := range keys {
		pts[k.series] = append(pts[k.series], plotter.XY{X: float64(k.ranks), Y: stats.Median(vals[k])})
		byRanks[k.series] = append(byRanks[k.series], &results.CellStats{Cell: results.Cell{Ranks: k.ranks}})
	}
	p := newPlot("PMI wire-up time", "ranks", "median wire-up (ms)")
	if err := addSeries(p, names, pts); err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	p.Legend.Left = true
	rankTicks(p, byRanks)
	return &Figure{Name: "wireup", Plot: p, Width: defaultWidth, Height: defaultHeight,
		Caption: "Time from the first rank's spawn until every rank finished PMI initialisation, median over the cells of each PMI flavour and runtime."}, nil
}

func orNative(rt string) string {
	if rt == "" {
		return "native"
	}
	return rt
}

// overheadGrid is benchmark (columns) x runtime and layout (rows) of the
// median slowdown in percent.
type overheadGrid struct {
	cols, rows []string
	z          [][]float64 // [col][row]
}

func (g overheadGrid) Dims() (c, r int)   { return len(g.cols), len(g.rows) }
func (g overheadGrid) Z(c, r int) float64 { return g.z[c][r] }
func (g overheadGrid) X(c int) float64    { return float64(c) }
func (g overheadGrid) Y(r int) float64    { return float64(r) }

// OverheadHeatMap draws the slowdown against native, in percent, over
// benchmark x runtime (median over the PMI flavours and rank counts compared).
func OverheadHeatMap(a *results.Analysis) (*Figure, error) {
	vals := map[[2]string][]float64{}
	var cols, rows []string
	for _, c := range a.Comparisons {
		if math.IsNaN(c.RelPerf) || c.Container.Cell.Oversubscribed {
			continue
		}
		col := c.Container.Cell.Benchmark
		row := orNative(c.Container.Cell.Runtime)
		if c.Container.Cell.Layout != "" {
			row += " " + c.Container.Cell.Layout
		}
		cols, rows = addUnique(cols, col), addUnique(rows, row)
		vals[[2]string{col, row}] = append(vals[[2]string{col, row}], 100*(1-c.RelPerf))
	}
	if len(cols) == 0 {
		return nil, nil
	}
	sort.Strings(cols)
	sort.Sort(sort.Reverse(sort.StringSlice(rows)))
	g := overheadGrid{cols: cols, rows: rows, z: make([][]float64, len(cols))}
	maxAbs := 1.0
	var labels plotter.XYLabels
	for ci, col := range cols {
		g.z[ci] = make([]float64, len(rows))
		for ri, row := range rows {
			v := math.NaN()
			if vs := vals[[2]string{col, row}]; len(vs) > 0 {
				v = stats.Median(vs)
				maxAbs = math.Max(maxAbs, math.Abs(v))
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(ci), Y: float64(ri)})
				labels.Labels = append(labels.Labels, fmt.Sprintf("%+.1f%%", v))
			}
			g.z[ci][ri] = v
		}
	}
	cm := moreland.SmoothBlueRed()
	cm.SetMin(-maxAbs)
	cm.SetMax(maxAbs)
	hm := plotter.NewHeatMap(g, cm.Palette(101))
	hm.Min, hm.Max = -maxAbs, maxAbs
	hm.NaN = color.RGBA{R: 230, G: 230, B: 230, A: 255}
	p := newPlot("Slowdown against native (%; red: slower, blue: faster)", "", "")
	p.Add(hm)
	if len(labels.XYs) > 0 {
		lp, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range lp.TextStyle {
			if v := g.z[int(labels.XYs[i].X)][int(labels.XYs[i].Y)]; math.Abs(v) > 0.6*maxAbs {
				lp.TextStyle[i].Color = color.White
			}
			lp.TextStyle[i].XAlign = draw.XCenter
			lp.TextStyle[i].YAlign = draw.YCenter
			lp.TextStyle[i].Font.Size = 9
		}
		p.Add(lp)
	}
	p.NominalX(cols...)
	p.NominalY(rows...)
	h := vg.Length(math.Max(6, 2.5+1.2*float64(len(rows)))) * vg.Centimeter
	return &Figure{Name: "overhead", Plot: p, Width: defaultWidth, Height: h,
		Caption: "Median slowdown of each runtime and layout against native per benchmark, in percent of native performance (over PMI flavours and rank counts; oversubscribed cells left out). Grey: not measured."}, nil
}

func addUnique(xs []string, s string) []string {
	for _, x := range xs {
		if x == s {
			return xs
		}
	}
	return append(xs, s)
}

// Distribution draws every repetition of the benchmark's cells at one rank
// count (the one with the most cells) as box plots with the points over them.
func Distribution(a *results.Analysis, benchmark string) (*Figure, error) {
	count := map[int]int{}
	for _, c := range a.Cells {
		if c.Cell.Benchmark == benchmark && c.N > 0 {
			count[c.Cell.Ranks]++
		}
	}
	best := -1
	for r, n := range count {
		if best < 0 || n > count[best] || (n == count[best] && r > best) {
			best = r
		}
	}
	if best < 0 {
		return nil, nil
	}
	var cells []*results.CellStats
	for _, c := range a.Cells {
		if c.Cell.Benchmark == benchmark && c.Cell.Ranks == best && c.N > 0 {
			cells = append(cells, c)
		}
	}
	m := cells[0].Metric
	p := newPlot(fmt.Sprintf("%s: repeated runs at %d ranks", benchmark, best), fmt.Sprintf("%s (%s)", m.Name, m.Unit), "")
	var labels []string
	for i := range cells {
		c := cells[len(cells)-1-i]
		l := c.Cell.Class + " " + c.Cell.Label()
		if c.Cell.Oversubscribed {
			l += " (over)"
		}
		labels = append(labels, fmt.Sprintf("%s (n=%d)", l, c.N))
		bp, err := plotter.NewBoxPlot(vg.Points(10), float64(i), plotter.Values(c.Values))
		if err != nil {
			return nil, err
		}
		bp.Horizontal = true
		bp.FillColor = color.RGBA{R: 210, G: 225, B: 245, A: 255}
		var pts plotter.XYs
		for j, v := range c.Values {
			// A deterministic jitter spreads equal values apart.
			pts = append(pts, plotter.XY{X: v, Y: float64(i) + 0.25*(float64(j%5)-2)/2})
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Radius = vg.Points(1.5)
		sc.GlyphStyle.Color = color.RGBA{R: 40, G: 40, B: 40, A: 200}
		p.Add(bp, sc)
	}
	p.NominalY(labels...)
	p.Y.Tick.Label.Font.Size = 8
	p.Add(plotter.NewGrid())
	h := vg.Length(math.Max(6, 2.5+0.8*float64(len(cells)))) * vg.Centimeter
	return &Figure{Name: sanitize(benchmark) + "-distribution", Benchmark: benchmark, Plot: p, Width: defaultWidth, Height: h,
		Caption: fmt.Sprintf("Every valid repetition at %d ranks (points) with box plots (median, quartiles, 1.5 IQR whiskers); outliers are shown, not removed.", best)}, nil
}

// sanitize keeps names file-friendly.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}
