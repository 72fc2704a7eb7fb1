package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

// TestReportImageVerification: the provenance appendix lists each image's
// digest with its verification outcome, and the report says plainly, in
// the executive summary too, that the study ran unverified images.
func TestReportImageVerification(t *testing.T) {
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: []int{2}, Reps: 3})
	for i := range runs {
		switch runs[i].Cell.Runtime {
		case "apptainer":
			runs[i].Cell.ImageVerification = "verified 0123456789ABCDEF (Center <c@example.org>)"
		case "docker":
			runs[i].Cell.ImageVerification = "pinned digest matched"
		case "podman":
			runs[i].Cell.ImageVerification = "unverified"
		}
	}
	a := results.Analyse(runs, results.AnalysisOptions{Seed: 1})
	a.Study, a.Hosts, a.Skips = study, []results.Host{resultstest.Host}, skips
	var buf bytes.Buffer
	if err := Write(&buf, a, Options{Version: "test", Generated: generated, DPI: 72}); err != nil {
		t.Fatal(err)
	}
	flat := regexp.MustCompile(`\s+`).ReplaceAllString(pdfText(t, buf.Bytes()), " ")
	for _, want := range []string{
		"Images, digests and verification",
		"-> verified 0123456789ABCDEF (Center <c@example.org>)",
		"-> pinned digest matched",
		"-> unverified",
		"UNVERIFIED (neither a verified signature nor a pinned digest): podman hpcbench/npb-",
		"Appendix A lists each image's digest and verification outcome",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("report text lacks %q", want)
		}
	}
	if n := strings.Count(flat, "UNVERIFIED"); n < 2 {
		t.Errorf("UNVERIFIED said %d times, want in the summary and the appendix", n)
	}
}
