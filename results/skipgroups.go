package results

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SkipGroup is the skipped cells that share a cause: a study of many
// cells often skips dozens for two or three reasons, and one line per
// reason (with its count and the axes its cells cover) reads better than
// one line per cell.
type SkipGroup struct {
	// Cause is the reason without what differs from cell to cell (the
	// flavour asked for and its evidence, a binary's path): "MPI does not
	// speak the PMI flavour: mpich speaks pmi1 only".
	Cause string
	// Reasons are the group's distinct full reasons, in first-seen order,
	// each with its cells' count.
	Reasons []ReasonCount
	Skips   []Skip
}

// ReasonCount is one full reason and how many cells it was given for.
type ReasonCount struct {
	Reason string
	Cells  int
}

// The parts of a reason that vary within one cause: the PMI flavour asked
// for with its evidence ("…, not pmix (no PMIx_Init in libmpich.so.12)"),
// and the path of a missing binary.
var (
	pmiCause    = regexp.MustCompile(`^(.*? speaks [^,]*), not \S+ \(.*\)$`)
	binaryCause = regexp.MustCompile(`^(binary not found): \S+ (is not (?:an executable file|in PATH))(.*)$`)
)

// SkipCause is a reason with the parts that differ between cells of the
// same cause left out; reasons of no known shape are their own cause.
func SkipCause(reason string) string {
	if m := pmiCause.FindStringSubmatch(reason); m != nil {
		return m[1]
	}
	if m := binaryCause.FindStringSubmatch(reason); m != nil {
		return m[1] + ": the binary " + m[2] + m[3]
	}
	return reason
}

// GroupSkips groups skips by SkipCause, the largest group first (ties in
// order of appearance).
func GroupSkips(skips []Skip) []SkipGroup {
	var groups []SkipGroup
	index := map[string]int{}
	for _, k := range skips {
		cause := SkipCause(k.Reason)
		i, ok := index[cause]
		if !ok {
			i = len(groups)
			index[cause] = i
			groups = append(groups, SkipGroup{Cause: cause})
		}
		g := &groups[i]
		g.Skips = append(g.Skips, k)
		if j := slices.IndexFunc(g.Reasons, func(r ReasonCount) bool { return r.Reason == k.Reason }); j >= 0 {
			g.Reasons[j].Cells++
		} else {
			g.Reasons = append(g.Reasons, ReasonCount{Reason: k.Reason, Cells: 1})
		}
	}
	slices.SortStableFunc(groups, func(a, b SkipGroup) int { return len(b.Skips) - len(a.Skips) })
	return groups
}

// skipAxes are the cell fields a group's extent is described by, with the
// plural a count of their values takes.
var skipAxes = []struct {
	plural string
	value  func(Cell) string
}{
	{"benchmarks", func(c Cell) string { return c.Benchmark }},
	{"classes", func(c Cell) string { return c.Class }},
	{"MPI libraries", func(c Cell) string { return c.MPI }},
	{"PMI flavours", func(c Cell) string { return c.PMI }},
	{"runtimes", func(c Cell) string { return orNative(c.Runtime) }},
	{"layouts", func(c Cell) string { return c.Layout }},
	{"rank counts", func(c Cell) string {
		if c.Ranks == 0 {
			return ""
		}
		return strconv.Itoa(c.Ranks) + " ranks"
	}},
}

// Axes describes the cells of g by the values they take on each axis
// where the group's cells differ, or where all skipped cells (all) do:
// "pmi2, pmix x 5 runtimes x ep, cg". An axis of more than three values
// is given as a count.
func (g SkipGroup) Axes(all []Skip) string {
	var parts []string
	for _, ax := range skipAxes {
		mine, every := values(g.Skips, ax.value), values(all, ax.value)
		if len(mine) == 0 || (len(mine) == 1 && len(every) <= 1) {
			continue
		}
		if len(mine) > 3 {
			parts = append(parts, fmt.Sprintf("%d %s", len(mine), ax.plural))
		} else {
			parts = append(parts, strings.Join(mine, ", "))
		}
	}
	return strings.Join(parts, " x ")
}

// values are the distinct non-empty values of one axis, in order of
// appearance.
func values(skips []Skip, value func(Cell) string) []string {
	var out []string
	for _, k := range skips {
		if v := value(k.Cell); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// maxReasonsShown is how many distinct reasons of one group are written
// under it without verbose.
const maxReasonsShown = 4

// WriteSkipGroups writes skips grouped by cause, each group as "N cells:
// cause (axes)" followed, when its cells were given different reasons, by
// those reasons with their counts; verbose then lists every cell (by
// describe) under its reason. indent prefixes every line.
func WriteSkipGroups(w io.Writer, skips []Skip, verbose bool, indent string, describe func(Skip) string) error {
	ew := &errWriter{w: w}
	for _, g := range GroupSkips(skips) {
		line := fmt.Sprintf("%s%d cell%s: %s", indent, len(g.Skips), plural(len(g.Skips)), g.Cause)
		if axes := g.Axes(skips); axes != "" {
			line += " (" + axes + ")"
		}
		ew.printf("%s\n", line)
		if len(g.Reasons) == 1 && g.Reasons[0].Reason == g.Cause {
			if verbose {
				for _, k := range g.Skips {
					ew.printf("%s    %s\n", indent, describe(k))
				}
			}
			continue
		}
		// The sub-lines leave out what the cause line said already (the
		// kind of skip before its first colon).
		var said string
		if i := strings.Index(g.Cause, ": "); i >= 0 {
			said = g.Cause[:i+2]
		}
		for i, r := range g.Reasons {
			if i == maxReasonsShown && !verbose {
				ew.printf("%s    ... %d more reasons (--verbose lists them)\n", indent, len(g.Reasons)-i)
				break
			}
			ew.printf("%s    %d cell%s: %s\n", indent, r.Cells, plural(r.Cells), strings.TrimPrefix(r.Reason, said))
			if verbose {
				for _, k := range g.Skips {
					if k.Reason == r.Reason {
						ew.printf("%s        %s\n", indent, describe(k))
					}
				}
			}
		}
	}
	return ew.err
}

// describeSkip names a stored skipped cell by its key, and its host where
// the skips come from more than one.
func describeSkip(skips []Skip) func(Skip) string {
	hosts := map[string]bool{}
	for _, k := range skips {
		hosts[k.Host] = true
	}
	return func(k Skip) string {
		key := k.Cell.Key
		if key == "" {
			key = k.Cell.CanonicalKey()
		}
		if len(hosts) > 1 {
			return key + " on " + k.Host
		}
		return key
	}
}
