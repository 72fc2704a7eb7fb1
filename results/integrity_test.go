package results

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageVerificationStored: a run's image verification outcome is
// stored, read back, and exported in both formats.
func TestImageVerificationStored(t *testing.T) {
	ctx := context.Background()
	st, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateStudy(ctx, Study{Name: "s", Seed: 1, Config: "[matrix]\n"}); err != nil {
		t.Fatal(err)
	}
	const outcome = "verified 0123ABCD (Center <c@example.org>)"
	cell := Cell{Benchmark: "ep", Kind: "kernel", Class: "S", MPI: "mpich", PMI: "pmi1", Runtime: "apptainer", Layout: "per-rank", Ranks: 2,
		Image: "/x/a.sif", ImageDigest: "sha256:00", ImageVerification: outcome}
	if _, err := st.AddRun(ctx, testRun("s", cell, 0, 1.5)); err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(ctx, "s", RunsOptions{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %d, %v", len(runs), err)
	}
	if got := runs[0].Cell.ImageVerification; got != outcome {
		t.Errorf("read back %q, want %q", got, outcome)
	}
	var buf bytes.Buffer
	if err := Export(&buf, runs, ExportCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("CSV: %v, %d records", err, len(recs))
	}
	col := map[string]string{}
	for i, h := range recs[0] {
		col[h] = recs[1][i]
	}
	if col["image_verification"] != outcome || col["image_digest"] != "sha256:00" {
		t.Errorf("CSV image_verification %q, image_digest %q", col["image_verification"], col["image_digest"])
	}
	buf.Reset()
	if err := Export(&buf, runs, ExportJSON); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"image_verification":"verified 0123ABCD (Center \u003cc@example.org\u003e)"`) {
		t.Errorf("JSON export lacks the outcome:\n%s", buf.String())
	}
}

// TestVerificationLine: the summary lists each image with its digest and
// outcome, and says plainly when a study ran unverified images.
func TestVerificationLine(t *testing.T) {
	signed := Cell{Benchmark: "ep", Kind: "kernel", Class: "S", MPI: "mpich", PMI: "pmi1", Runtime: "apptainer", Layout: "per-rank", Ranks: 2,
		Image: "/x/a.sif", ImageDigest: "sha256:aa", ImageVerification: "verified 0123ABCD (Center <c@example.org>)"}
	pinned := signed
	pinned.Runtime, pinned.Image, pinned.ImageDigest, pinned.ImageVerification = "docker", "hpcbench-mpich", "sha256:bb", "pinned digest matched"
	plain := pinned
	plain.Runtime, plain.ImageVerification = "podman", "unverified"

	a := Analyse([]Run{testRun("s", signed, 1, 1), testRun("s", pinned, 1, 1)}, AnalysisOptions{})
	if un := a.Provenance.UnverifiedImages(); len(un) != 0 {
		t.Errorf("UnverifiedImages = %q, want none", un)
	}
	if l := a.Provenance.VerificationLine(); !strings.HasPrefix(l, "All 2 container images were verified") {
		t.Errorf("VerificationLine = %q", l)
	}
	a = Analyse([]Run{testRun("s", signed, 1, 1), testRun("s", plain, 1, 1)}, AnalysisOptions{})
	l := a.Provenance.VerificationLine()
	if !strings.Contains(l, "UNVERIFIED") || !strings.Contains(l, "podman hpcbench-mpich@sha256:bb") || strings.Contains(l, "a.sif") {
		t.Errorf("VerificationLine = %q, want the podman image named as unverified", l)
	}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apptainer /x/a.sif@sha256:aa: verified 0123ABCD", "podman hpcbench-mpich@sha256:bb: unverified", "UNVERIFIED"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}
