package results_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// A study that ran MPICH under three flavours: each flavour is compared
// with PMI-2, the reference; the benchmark does not care about the
// flavour, the exchange does (PMIx takes 1.6/1.2 of PMI-2's time).
func TestPMIComparisons(t *testing.T) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: []int{2},
		PMIs: []string{"pmi1", "pmi2", "pmix"}, MPI: "mpich", SplitWireUp: true})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	// native and three runtimes, two flavours against the reference each.
	if len(a.PMIComparisons) != 8 {
		t.Fatalf("%d PMI comparisons, want 8 (4 runtimes x {pmi1, pmix} vs pmi2)", len(a.PMIComparisons))
	}
	for _, p := range a.PMIComparisons {
		if p.Reference != "pmi2" || p.Metric.Native.Cell.PMI != "pmi2" || p.Metric.Container.Cell.PMI != p.Flavour {
			t.Errorf("%s: reference %s, cells %s vs %s", p.Subject(), p.Reference, p.Metric.Container.Cell.PMI, p.Metric.Native.Cell.PMI)
		}
		if p.Metric.Container.Cell.Runtime != p.Metric.Native.Cell.Runtime || p.Metric.Container.Cell.MPI != "mpich" {
			t.Errorf("%s: compares %s with %s", p.Subject(), p.Metric.Container.Label(), p.Metric.Native.Label())
		}
		if p.Metric.Kind == results.VerdictSlower || p.Metric.Kind == results.VerdictFaster {
			t.Errorf("%s: the benchmark does not depend on the flavour, got %s", p.Subject(), p.Metric.Verdict)
		}
		if !p.Exchange.Tested || p.Exchange.PAdjusted < p.Exchange.P {
			t.Errorf("%s: exchange not tested or p not adjusted: %+v", p.Subject(), p.Exchange)
		}
		want, kind := 1.2/1.0, results.VerdictFaster // pmi1's exchange is shorter
		if p.Flavour == "pmix" {
			want, kind = 1.2/1.6, results.VerdictSlower
		}
		if math.Abs(p.Exchange.RelPerf-want) > 0.05 || p.Exchange.Kind != kind {
			t.Errorf("%s: exchange ratio %.3f (%s), want about %.3f, %s", p.Subject(), p.Exchange.RelPerf, p.Exchange.Verdict, want, kind)
		}
	}
	var out bytes.Buffer
	if err := results.WriteSummary(&out, a); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"Does the PMI flavour matter?", "ep.S native mpich x2: pmix vs pmi2", "PMI exchange: ratio 0.7",
		"Wire-up split", "docker per-rank pmix"} {
		if !strings.Contains(text, want) {
			t.Errorf("results show lacks %q:\n%s", want, text)
		}
	}
}

// Cells that ran one flavour each, or with different MPI libraries, are
// not compared across flavours; runs without an exchange time leave the
// exchange untested.
func TestPMIComparisonsNeedSameCell(t *testing.T) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: []int{2}})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	if len(a.PMIComparisons) != 0 {
		t.Errorf("MPICH pmi1 and Open MPI pmix cells compared as PMI flavours: %d", len(a.PMIComparisons))
	}
	if len(a.Startups()) != 0 {
		t.Errorf("wire-up split shown for runs that did not measure it: %+v", a.Startups())
	}
	_, runs, _ = resultstest.Study(resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: []int{2}, PMIs: []string{"pmi1", "pmix"}, MPI: "mpich"})
	a = results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	if len(a.PMIComparisons) != 4 {
		t.Fatalf("%d PMI comparisons, want 4", len(a.PMIComparisons))
	}
	p := a.PMIComparisons[0]
	if p.Reference != "pmi1" || p.Exchange.Kind != results.VerdictTooFew || p.Exchange.Tested || !strings.Contains(p.Exchange.Verdict, "not measured") {
		t.Errorf("without PMI-2 the reference is PMI-1 and an unmeasured exchange is not tested: %+v", p)
	}
}

func TestStartups(t *testing.T) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 5, Benchmarks: []string{"ep", "cg"}, Ranks: []int{2}, SplitWireUp: true})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	rows := a.Startups()
	if len(rows) != 8 || rows[0].Runtime != "native" || rows[0].Layout != "" {
		t.Fatalf("rows %+v, want 8 (4 runtimes x 2 flavours), native first", rows)
	}
	for _, s := range rows {
		if s.Cells != 2 || s.ContainerStartS <= 0 || s.PMIExchangeS <= 0 || s.WireUpS <= 0 {
			t.Errorf("%s: %+v", s.Label(), s)
		}
		if s.Runtime != "native" && s.ContainerStartS < 4*rows[0].ContainerStartS {
			t.Errorf("%s: start %.4f s, want well above native's %.4f s", s.Label(), s.ContainerStartS, rows[0].ContainerStartS)
		}
	}
}

// Two studies, the second after a "runtime upgrade" that made Docker
// slower: Docker's cells regress, the others stay equivalent.
func TestCompareStudies(t *testing.T) {
	opts := resultstest.Options{Seed: 7, Benchmarks: []string{"ep"}, Ranks: []int{2}, Name: "before"}
	baseStudy, baseRuns, _ := resultstest.Study(opts)
	opts.Name, opts.Seed = "after", 8
	opts.Overhead = map[string]float64{"docker": 0.12, "podman": 0.02, "apptainer": 0}
	curStudy, curRuns, _ := resultstest.Study(opts)
	base := results.Analyse(baseRuns, results.AnalysisOptions{Seed: 1})
	base.Study = baseStudy
	cur := results.Analyse(curRuns, results.AnalysisOptions{Seed: 1})
	cur.Study = curStudy
	b := results.CompareStudies(base, cur, results.AnalysisOptions{})
	if b.Baseline != "before" || b.Study != "after" || len(b.Comparisons) != 8 || len(b.OnlyInStudy)+len(b.OnlyInBaseline) != 0 {
		t.Fatalf("baseline %s, study %s, %d comparisons, %d/%d unmatched", b.Baseline, b.Study, len(b.Comparisons), len(b.OnlyInStudy), len(b.OnlyInBaseline))
	}
	for _, c := range b.Comparisons {
		want := results.VerdictEquivalent
		if c.Container.Cell.Runtime == "docker" {
			want = results.VerdictSlower
		}
		if c.Container.Cell.CanonicalKey() != c.Native.Cell.CanonicalKey() {
			t.Errorf("%s compared with %s", c.Container.Label(), c.Native.Label())
		}
		if c.Kind != want {
			t.Errorf("%s: %s, want %s", c.Container.Label(), c.Verdict, want)
		}
	}
	if n := len(b.Regressions()); n != 2 {
		t.Errorf("%d regressions, want 2 (docker pmi1 and pmix)", n)
	}
	var out bytes.Buffer
	if err := results.WriteBaseline(&out, b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Study after against baseline before", "8 matching cells compared: 2 slower, 6 equivalent within ±2%", "docker per-rank mpich pmi1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("compare output lacks %q:\n%s", want, out.String())
		}
	}
}
