package matrix

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hpcbench/hpcbench/configs"
)

// FilterKeys are the keys a Filter may test.
var FilterKeys = []string{"benchmark", "class", "mpi", "pmi", "runtime", "layout", "ranks"}

// Filter selects cells: every key it names must match, and a key given
// several times matches any of its values. Benchmark matches a label or
// a name, runtime a label or a runtime name, layout "native" (or "none")
// the native cells.
type Filter map[string][]string

// ParseFilter parses "key=value[,key=value...]"; several specs (one per
// --filter flag) are combined.
func ParseFilter(specs ...string) (Filter, error) {
	f := Filter{}
	for _, spec := range specs {
		for _, part := range strings.Split(spec, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			k, val, ok := strings.Cut(part, "=")
			k, val = strings.TrimSpace(k), strings.TrimSpace(val)
			if !ok || val == "" {
				return nil, fmt.Errorf("filter %q: want key=value (keys: %s)", part, strings.Join(FilterKeys, ", "))
			}
			if !slices.Contains(FilterKeys, k) {
				return nil, fmt.Errorf("filter %q: unknown key %q (keys: %s)", part, k, strings.Join(FilterKeys, ", "))
			}
			if k == "ranks" {
				if n, err := strconv.Atoi(val); err != nil || n < 1 {
					return nil, fmt.Errorf("filter %q: ranks must be a positive number", part)
				}
			}
			f[k] = append(f[k], val)
		}
	}
	return f, nil
}

// Match reports whether c passes the filter.
func (f Filter) Match(c Cell) bool {
	for k, vals := range f {
		var have []string
		switch k {
		case "benchmark":
			have = []string{c.Benchmark, c.Name}
		case "class":
			have = []string{c.Class}
		case "mpi":
			have = []string{c.MPI}
		case "pmi":
			have = []string{string(c.PMI)}
		case "runtime":
			have = []string{c.RuntimeLabel, c.Runtime}
		case "layout":
			have = []string{string(c.Layout)}
			if c.Layout == configs.LayoutNone {
				have = []string{"native", "none", ""}
			}
		case "ranks":
			have = []string{strconv.Itoa(c.Ranks)}
		}
		match := false
		for _, v := range vals {
			for _, h := range have {
				if strings.EqualFold(v, h) {
					match = true
				}
			}
		}
		if !match {
			return false
		}
	}
	return true
}

// Apply keeps the cells and skipped cells that match.
func (f Filter) Apply(cells []Cell, skipped []Skipped) ([]Cell, []Skipped) {
	if len(f) == 0 {
		return cells, skipped
	}
	var c2 []Cell
	for _, c := range cells {
		if f.Match(c) {
			c2 = append(c2, c)
		}
	}
	var s2 []Skipped
	for _, s := range skipped {
		if f.Match(s.Cell) {
			s2 = append(s2, s)
		}
	}
	return c2, s2
}

// String writes the filter back as key=value pairs, sorted.
func (f Filter) String() string {
	var parts []string
	for k, vals := range f {
		for _, v := range vals {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
