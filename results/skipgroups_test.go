package results

import (
	"bytes"
	"strings"
	"testing"
)

// quickSkips are the skips of the quick study on a node with Debian's
// MPICH only: PMI-2 and PMIx cells of MPICH, with their own evidence, and
// one missing binary.
func quickSkips() []Skip {
	var skips []Skip
	for _, b := range []string{"ep", "cg"} {
		for _, rt := range []string{"native", "docker", "podman", "apptainer", "oci"} {
			if b == "cg" && rt != "native" {
				continue
			}
			for _, f := range []string{"pmi2", "pmix"} {
				ev := map[string]string{"pmi2": `no "fullinit" in libmpich.so.12`, "pmix": `no "PMIx_Init" in libmpich.so.12`}[f]
				c := Cell{Benchmark: b, Class: "S", MPI: "mpich", PMI: f, Runtime: rt, Ranks: 2}
				c.Key = c.CanonicalKey()
				skips = append(skips, Skip{Host: "h", Cell: c,
					Reason: "MPI does not speak the PMI flavour: mpich speaks pmi1 only, not " + f + " (" + ev + ")"})
			}
		}
	}
	c := Cell{Benchmark: "ep", Class: "S", MPI: "openmpi", PMI: "pmix", Runtime: "native", Ranks: 2}
	c.Key = c.CanonicalKey()
	skips = append(skips, Skip{Host: "h", Cell: c,
		Reason: "binary not found: /x/openmpi/ep is not an executable file (check binary and npb_dir)"})
	return skips
}

func TestGroupSkips(t *testing.T) {
	skips := quickSkips()
	groups := GroupSkips(skips)
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2: %+v", len(groups), groups)
	}
	g := groups[0]
	if len(g.Skips) != 12 || g.Cause != "MPI does not speak the PMI flavour: mpich speaks pmi1 only" || len(g.Reasons) != 2 {
		t.Errorf("first group: %d cells, cause %q, %d reasons", len(g.Skips), g.Cause, len(g.Reasons))
	}
	if axes := g.Axes(skips); axes != "ep, cg x mpich x pmi2, pmix x 5 runtimes" {
		t.Errorf("axes %q", axes)
	}
	if c := groups[1].Cause; c != "binary not found: the binary is not an executable file (check binary and npb_dir)" {
		t.Errorf("binary cause %q", c)
	}
}

func TestWriteSkipGroups(t *testing.T) {
	skips := quickSkips()
	var buf bytes.Buffer
	describe := func(k Skip) string { return k.Cell.Key }
	if err := WriteSkipGroups(&buf, skips, false, "  ", describe); err != nil {
		t.Fatal(err)
	}
	want := `  12 cells: MPI does not speak the PMI flavour: mpich speaks pmi1 only (ep, cg x mpich x pmi2, pmix x 5 runtimes)
      6 cells: mpich speaks pmi1 only, not pmi2 (no "fullinit" in libmpich.so.12)
      6 cells: mpich speaks pmi1 only, not pmix (no "PMIx_Init" in libmpich.so.12)
  1 cell: binary not found: the binary is not an executable file (check binary and npb_dir) (ep x openmpi x pmix x native)
      1 cell: /x/openmpi/ep is not an executable file (check binary and npb_dir)
`
	if buf.String() != want {
		t.Errorf("grouped:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := WriteSkipGroups(&buf, skips, true, "", describe); err != nil {
		t.Fatal(err)
	}
	for _, k := range skips {
		if !strings.Contains(buf.String(), k.Cell.Key) {
			t.Errorf("verbose lacks %s:\n%s", k.Cell.Key, buf.String())
		}
	}
}

func TestWriteSummaryGroupsSkips(t *testing.T) {
	a := &Analysis{Study: Study{Name: "s"}, Skips: quickSkips()}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, a); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "12 cells: MPI does not speak the PMI flavour: mpich speaks pmi1 only") ||
		strings.Count(out, "mpich speaks pmi1 only, not pmix") != 1 {
		t.Errorf("results show does not group the skips:\n%s", out)
	}
	buf.Reset()
	if err := WriteSummaryWith(&buf, a, SummaryOptions{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "benchmark="); n != len(a.Skips) {
		t.Errorf("verbose lists %d cells, want %d:\n%s", n, len(a.Skips), buf.String())
	}
}
