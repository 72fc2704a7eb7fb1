package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

var generated = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// pdfText extracts a PDF's text with poppler's pdftotext.
func pdfText(t testing.TB, pdf []byte) string {
	t.Helper()
	bin := testenv.LookPath(t, "pdftotext", "Debian package poppler-utils; reads the report back")
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestReportText(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 11, Benchmarks: []string{"cg", "ep", "is"}})
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Version: "v9.9.9-test", Generated: generated, DPI: 72}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	// pdftotext -layout may break lines in tables; squeeze spaces to match phrases.
	flat := regexp.MustCompile(`\s+`).ReplaceAllString(text, " ")
	for _, want := range []string{
		"hpcbench report", "Study synthetic", "synth1", "v9.9.9-test", "2026-11-29 12:00 UTC",
		"1 Executive summary", "2 Summary of comparisons with native runs",
		"3 Benchmark cg", "4 Benchmark ep", "5 Benchmark is", "6 Failed, invalid and skipped cells",
		"Appendix A Provenance",
		"Apptainer per-rank: equivalent within ±2% on all 24 comparisons", "Podman per-rank: inconclusive on all 24 comparisons (",
		"Sensitivity on this host: the smallest overhead this study could detect with 80% power is ",
		"Launch noise dominates 56 cells: their median benchmark time is under 1s", // cg x4 and x8, ep x8, every is cell "Docker per-rank: slower on all 24 comparisons, by",
		"rank 1 exited 137", "verification UNSUCCESSFUL", "timeout after 10m0s",
		"IS needs a power-of-two rank count, not 3",
		"Synthetic CPU 2.0GHz", "hpcbench/npb-mpich:3.4.2@sha256:", "pmi1 -> (none)", "OMP_NUM_THREADS",
		"repetitions = 5", "page 1 of",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("report text lacks %q", want)
		}
	}
	// A number from the statistics: the first docker comparison's verdict.
	for _, c := range a.Comparisons {
		if c.Container.Cell.Runtime == "docker" {
			if v := strings.SplitN(c.Verdict, " (", 2)[0]; !strings.Contains(flat, v) {
				t.Errorf("report text lacks the verdict %q", c.Verdict)
			}
			if !strings.Contains(flat, relText(c)) {
				t.Errorf("report text lacks the ratio %q", relText(c))
			}
			break
		}
	}
	if t.Failed() {
		os.WriteFile(filepath.Join(os.TempDir(), "hpcbench-report-test.txt"), []byte(text), 0o644)
	}
}

func TestReportOnlyFailures(t *testing.T) {
	_, runs, _ := resultstest.Study(resultstest.Options{Seed: 1, Benchmarks: []string{"cg"}, Ranks: []int{2}, Reps: 2})
	for i := range runs {
		runs[i].Status, runs[i].Reason = results.StatusFailed, "mpiexec: cannot find cg.S.x"
	}
	a := results.Analyse(runs, results.AnalysisOptions{})
	a.Study = results.Study{Name: "broken"}
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Generated: generated}); err != nil {
		t.Fatal(err)
	}
	flat := regexp.MustCompile(`\s+`).ReplaceAllString(pdfText(t, buf.Bytes()), " ")
	for _, want := range []string{"No run in this study succeeded: all 24 runs 24 failed", "mpiexec: cannot find cg.S.x", "There are no comparisons"} {
		if !strings.Contains(flat, want) {
			t.Errorf("report lacks %q:\n%s", want, flat)
		}
	}
}

func TestReportEmptyStudy(t *testing.T) {
	a := results.Analyse(nil, results.AnalysisOptions{})
	a.Study = results.Study{Name: "empty"}
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Generated: generated}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(regexp.MustCompile(`\s+`).ReplaceAllString(pdfText(t, buf.Bytes()), " "), "This study holds no runs") {
		t.Errorf("empty study report does not say so")
	}
}

// Long unbroken text in a table cell must wrap inside the page.
func TestTableWrapsLongCells(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 1, Benchmarks: []string{"ep"}, Ranks: []int{2}, Reps: 2})
	a.Skips = append(a.Skips, results.Skip{Host: "synth1", Cell: results.Cell{Benchmark: "ep", Class: "S", Runtime: "docker", Ranks: 2},
		Reason: strings.Repeat("averyveryverylongwordwithoutspaces", 30) + " tail-of-the-reason"})
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Generated: generated, DPI: 72}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	if !strings.Contains(text, "tail-of-the-reason") {
		t.Errorf("the end of a long cell was lost")
	}
	for _, l := range strings.Split(text, "\n") {
		if len(l) > 220 {
			t.Errorf("a line of %d characters: text ran past the page? %q", len(l), l[:80])
			break
		}
	}
}

// An adaptive study's comparisons that stopped at max_repetitions still
// inconclusive are named in the executive summary.
func TestReportNamesComparisonsStoppedAtMax(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 11, Benchmarks: []string{"cg"}})
	a.MaxRepetitions = 30
	stopped := ""
	for i := range a.Comparisons {
		if a.Comparisons[i].Kind == results.VerdictInconclusive {
			a.Comparisons[i].StoppedAtMax = true
			stopped = a.Comparisons[i].Container.Label()
			break
		}
	}
	if stopped == "" {
		t.Fatal("the synthetic study has no inconclusive comparison to mark")
	}
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Version: "v9.9.9-test", Generated: generated, DPI: 72}); err != nil {
		t.Fatal(err)
	}
	flat := regexp.MustCompile(`\s+`).ReplaceAllString(pdfText(t, buf.Bytes()), " ")
	want := "1 comparison reached the most repetitions this adaptive study allows (30 a cell) still inconclusive: " + stopped
	if !strings.Contains(flat, want) {
		t.Errorf("report text lacks %q", want)
	}
}

// Skipped cells are listed by cause with their count, not one per cell.
func TestReportGroupsSkips(t *testing.T) {
	a := syntheticAnalysis(t, resultstest.Options{Seed: 1, Benchmarks: []string{"ep"}, Ranks: []int{2}, Reps: 2})
	a.Skips = nil
	for _, rt := range []string{"native", "docker", "podman", "apptainer", "oci"} {
		for _, f := range []string{"pmi2", "pmix"} {
			a.Skips = append(a.Skips, results.Skip{Host: "synth1", Cell: results.Cell{Benchmark: "ep", Class: "S", MPI: "mpich", PMI: f, Runtime: rt, Ranks: 2},
				Reason: "MPI does not speak the PMI flavour: mpich speaks pmi1 only, not " + f + " (evidence for " + f + ")"})
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Generated: generated}); err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\s+`).ReplaceAllString(pdfText(t, buf.Bytes()), " ")
	if !strings.Contains(text, "10 MPI does not speak the PMI flavour: mpich speaks pmi1 only") {
		t.Errorf("the report does not give the cause with its count:\n%s", text)
	}
	if n := strings.Count(text, "evidence for pmix"); n != 1 {
		t.Errorf("the PMIx reason is given %d times, want once (grouped)", n)
	}
}
