package results_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

func cellRuns(cell results.Cell, values ...float64) []results.Run {
	var out []results.Run
	cell.Key = cell.CanonicalKey()
	for i, v := range values {
		out = append(out, results.Run{Study: "s", Host: resultstest.Host, Cell: cell, Repetition: i, Status: results.StatusOK,
			Metric: results.Metric{Name: "time", Value: v, Unit: "s"}})
	}
	return out
}

func TestAnalyseVerdicts(t *testing.T) {
	base := results.Cell{Benchmark: "cg", Kind: "npb", Class: "S", MPI: "mpich", PMI: "pmi1", Ranks: 2, Runtime: "native"}
	docker, apptainer, podman, lonely := base, base, base, base
	docker.Runtime, docker.Layout = "docker", "per-rank"
	apptainer.Runtime, apptainer.Layout = "apptainer", "per-rank"
	podman.Runtime, podman.Layout = "podman", "per-rank"
	lonely.Runtime, lonely.Layout, lonely.PMI = "docker", "per-rank", "pmix"
	over := docker
	over.Oversubscribed = true

	var runs []results.Run
	runs = append(runs, cellRuns(base, 10.0, 10.1, 9.9, 10.05, 9.95)...)
	runs = append(runs, cellRuns(docker, 10.5, 10.6, 10.4, 10.55, 10.45)...)
	runs = append(runs, cellRuns(apptainer, 10.02, 9.93, 10.08, 9.97, 10.0)...)
	runs = append(runs, cellRuns(podman, 10.3, 10.2)...)
	runs = append(runs, cellRuns(lonely, 11, 12)...)
	runs = append(runs, cellRuns(over, 30, 31, 32, 33, 34)...)
	// A failed and a warm-up run must not enter the statistics.
	bad := cellRuns(docker, 1000)[0]
	bad.Repetition, bad.Status, bad.Reason = 9, results.StatusFailed, "rank 1 exited 137"
	warm := cellRuns(docker, 50)[0]
	warm.Warmup = true
	runs = append(runs, bad, warm)

	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	byRuntime := map[string]results.Comparison{}
	for _, c := range a.Comparisons {
		if c.Container.Cell.Oversubscribed {
			t.Errorf("oversubscribed cell compared with %s", c.Native.Label())
		}
		byRuntime[c.Container.Cell.Runtime] = c
	}
	d := byRuntime["docker"]
	// medians 10.0 native, 10.5 docker: relative performance 0.95238, 4.8% slower;
	// fully separated 5 vs 5 gives exact p = 2/252 = 0.0079 in the rank test.
	// Welch's t on the logs: means 0.04879 apart, SE 0.00488, so t = -9.99 on
	// 7.98 df and p = 8.7e-6; Holm with the apptainer comparison doubles it.
	if d.Kind != results.VerdictSlower || !strings.HasPrefix(d.Verdict, "slower by 4.8% (95% CI ") || !strings.HasSuffix(d.Verdict, "; p<0.001, Holm-adjusted p<0.001)") {
		t.Errorf("docker verdict %q (%s)", d.Verdict, d.Kind)
	}
	if math.Abs(d.Test.P-2.0/252) > 1e-12 || !(d.P < 0.001) || math.Abs(d.PAdjusted-2*d.P) > 1e-15 {
		t.Errorf("docker rank-test p %v, t-test p %v, adjusted %v", d.Test.P, d.P, d.PAdjusted)
	}
	if d.Container.N != 5 || d.Container.Failed != 1 || d.Container.Warmups != 1 || d.Container.Median != 10.5 {
		t.Errorf("docker cell: n=%d failed=%d warmups=%d median=%v", d.Container.N, d.Container.Failed, d.Container.Warmups, d.Container.Median)
	}
	if !(d.RelLow <= d.RelPerf && d.RelPerf <= d.RelHigh && d.RelHigh < 1) {
		t.Errorf("docker relative performance %v [%v, %v]", d.RelPerf, d.RelLow, d.RelHigh)
	}
	if ap := byRuntime["apptainer"]; ap.Kind != results.VerdictEquivalent || !strings.HasPrefix(ap.Verdict, "equivalent within ±2% (90% CI of relative performance 0.99") {
		t.Errorf("apptainer verdict %q", ap.Verdict)
	}
	if pm := byRuntime["podman"]; pm.Kind != results.VerdictTooFew || !strings.HasPrefix(pm.Verdict, "too few repetitions for a test (n=2 container, 5 native)") {
		t.Errorf("podman verdict %q", pm.Verdict)
	}
	if len(a.Unmatched) != 2 {
		t.Errorf("unmatched = %d cells, want 2 (pmix docker and oversubscribed docker have no native)", len(a.Unmatched))
	}
	if len(a.NotOK) != 1 || a.NotOK[0].Reason != "rank 1 exited 137" {
		t.Errorf("NotOK = %+v", a.NotOK)
	}
	findings := map[string]string{}
	for _, f := range a.Findings() {
		findings[f.Subject] = f.Text
	}
	if !strings.HasPrefix(findings["docker per-rank"], "slower by 4.8% on cg.S (95% CI ") {
		t.Errorf("docker finding %q", findings["docker per-rank"])
	}
	if findings["podman per-rank"] != "too few repetitions to test cg.S" {
		t.Errorf("podman finding %q", findings["podman per-rank"])
	}
	if f := findings["apptainer per-rank"]; !strings.Contains(f, "equivalent within ±2%") {
		t.Errorf("apptainer finding %q", f)
	}
}

func TestAnalysisWithin1Percent(t *testing.T) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 5, Ranks: []int{2}, Reps: 8, Noise: 0.001,
		Overhead: map[string]float64{"docker": 0.05, "podman": 0, "apptainer": 0}})
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	for _, f := range a.Findings() {
		t.Log(f)
		switch f.Subject {
		case "docker per-rank":
			// 5% more time is 4.8% less performance.
			if !strings.HasPrefix(f.Text, "slower on all 6 comparisons, by 4.") {
				t.Errorf("docker: %s", f)
			}
		default:
			if f.Text != "within 1% of native on all 6 comparisons; equivalent within ±2%" {
				t.Errorf("%s", f)
			}
		}
	}
}

func TestLoadLatestStudy(t *testing.T) {
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 2, Benchmarks: []string{"ep"}, Ranks: []int{2}})
	if err := resultstest.Store(st, study, runs, skips); err != nil {
		t.Fatal(err)
	}
	a, err := results.Load(context.Background(), st, "", results.AnalysisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Study.Name != "synthetic" || a.Runs != len(runs) || len(a.Skips) != 2 || len(a.Hosts) != 1 || len(a.Comparisons) != 6 {
		t.Errorf("study %q, %d runs, %d skips, %d hosts, %d comparisons", a.Study.Name, a.Runs, len(a.Skips), len(a.Hosts), len(a.Comparisons))
	}
}

func TestAnalyseRefusesDifferentMetrics(t *testing.T) {
	nat := results.Cell{Benchmark: "cg", Class: "S", PMI: "pmi1", Ranks: 2, Runtime: "native"}
	ctr := nat
	ctr.Runtime = "docker"
	runs := append(cellRuns(nat, 1, 1, 1, 1), cellRuns(ctr, 2, 2, 2, 2)...)
	for i := 4; i < 8; i++ {
		runs[i].Metric = results.Metric{Name: "mops_total", Value: 100, Unit: "Mop/s", HigherIsBetter: true}
	}
	a := results.Analyse(runs, results.AnalysisOptions{})
	if len(a.Comparisons) != 1 || a.Comparisons[0].Verdict != "not comparable: the container cell measured mops_total, the native cell time" {
		t.Errorf("comparisons %+v", a.Comparisons)
	}
}
