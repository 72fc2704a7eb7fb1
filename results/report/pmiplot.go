package report

import (
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/stats"
)

// PMIExchange draws the median PMI exchange time (every rank speaking PMI
// until the first fence completed) per runtime and PMI flavour. With one
// rank count it is a bar chart, runtimes along the axis and one bar per
// flavour; with several, one line per runtime and flavour against the
// rank count. nil when no run measured the exchange.
func PMIExchange(a *results.Analysis) (*Figure, error) {
	type key struct {
		runtime, pmi string
		ranks        int
	}
	vals := map[key][]float64{}
	var runtimes, pmis []string
	rankSet := map[int]bool{}
	for _, c := range a.Cells {
		if c.PMIExchangeS <= 0 {
			continue
		}
		rt := orNative(c.Cell.Runtime)
		if c.Cell.Layout != "" && !c.Cell.IsNative() {
			rt += " " + c.Cell.Layout
		}
		runtimes = addName(runtimes, rt)
		pmis = addName(pmis, c.Cell.PMI)
		rankSet[c.Cell.Ranks] = true
		k := key{rt, c.Cell.PMI, c.Cell.Ranks}
		vals[k] = append(vals[k], 1000*c.PMIExchangeS)
	}
	if len(vals) == 0 {
		return nil, nil
	}
	sort.Slice(runtimes, func(i, j int) bool { return runtimeLess(runtimes[i], runtimes[j]) })
	sort.Strings(pmis)
	caption := "Time from the moment every rank had sent its first PMI message until the first fence completed for all ranks, median over the cells of each runtime and PMI flavour."
	if len(rankSet) == 1 {
		var ranks int
		for r := range rankSet {
			ranks = r
		}
		p, err := flavourBars("PMI exchange time", "median PMI exchange (ms)", runtimes, pmis, func(rt, f string) float64 {
			if v := vals[key{rt, f, ranks}]; len(v) > 0 {
				return stats.Median(v)
			}
			return 0
		})
		if err != nil {
			return nil, err
		}
		return &Figure{Name: "pmi-exchange", Plot: p, Width: defaultWidth, Height: defaultHeight,
			Caption: caption + " All cells ran " + plural1(ranks) + "."}, nil
	}
	var names []string
	pts := map[string]plotter.XYs{}
	byRanks := map[string][]*results.CellStats{}
	var keys []key
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ranks < keys[j].ranks })
	for _, k := range keys {
		s := k.runtime + " " + k.pmi
		names = addName(names, s)
		pts[s] = append(pts[s], plotter.XY{X: float64(k.ranks), Y: stats.Median(vals[k])})
		byRanks[s] = append(byRanks[s], &results.CellStats{Cell: results.Cell{Ranks: k.ranks}})
	}
	sort.Strings(names)
	p := newPlot("PMI exchange time", "ranks", "median PMI exchange (ms)")
	if err := addSeries(p, names, pts); err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	p.Legend.Left = true
	rankTicks(p, byRanks)
	return &Figure{Name: "pmi-exchange", Plot: p, Width: defaultWidth, Height: defaultHeight, Caption: caption}, nil
}

func addName(xs []string, s string) []string {
	for _, x := range xs {
		if x == s {
			return xs
		}
	}
	return append(xs, s)
}

func plural1(ranks int) string {
	if ranks == 1 {
		return "1 rank"
	}
	return strconv.Itoa(ranks) + " ranks"
}

// flavourBars is a bar chart of one value per runtime (along the axis) and
// PMI flavour (one bar each, side by side); a missing value is 0.
func flavourBars(title, ylabel string, runtimes, pmis []string, value func(runtime, pmi string) float64) (*plot.Plot, error) {
	p := newPlot(title, "", ylabel)
	w := vg.Points(min(24, 120/float64(len(pmis))))
	tallest := 0.0
	for i, f := range pmis {
		heights := make(plotter.Values, len(runtimes))
		for j, rt := range runtimes {
			heights[j] = value(rt, f)
			tallest = max(tallest, heights[j])
		}
		bars, err := plotter.NewBarChart(heights, w)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = vg.Length(0)
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(pmis)-1)/2)
		p.Add(bars)
		p.Legend.Add(f, bars)
	}
	p.NominalX(runtimes...)
	p.Add(plotter.NewGrid())
	// Room above the tallest bar for the legend.
	p.Y.Min, p.Y.Max = 0, 1.25*tallest
	p.Legend.Left = true
	return p, nil
}

// runtimeLess orders runtime labels native first, then by name.
func runtimeLess(a, b string) bool {
	if na, nb := a == "native", b == "native"; na != nb {
		return na
	}
	return a < b
}
