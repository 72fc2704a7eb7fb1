package results_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/results/resultstest"
)

func openStore(t testing.TB) *results.Store {
	t.Helper()
	st, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC) }

// testdata/parsed.jsonl is "hpcbench parse --ranks 2" of the real NPB CG
// and EP, HPL and HPCC outputs in the shared samples.
func TestImportParsedJSON(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	data, err := os.ReadFile("testdata/parsed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	opt := results.ImportOptions{Study: "imp", Host: resultstest.Host, Now: fixedNow,
		Cell: results.Cell{Runtime: "docker", Layout: "per-rank", MPI: "mpich", PMI: "pmi1"}}
	is, err := results.Import(ctx, st, "parsed.jsonl", data, opt)
	if err != nil || is.Added != 4 {
		t.Fatalf("import: %+v, %v", is, err)
	}
	// Importing again numbers the repetitions on.
	if _, err := results.Import(ctx, st, "parsed.jsonl", data, opt); err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(ctx, "imp", results.RunsOptions{})
	if err != nil || len(runs) != 8 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	cg := runs[0]
	if cg.Cell.Benchmark != "cg" || cg.Cell.Class != "S" || cg.Cell.Ranks != 2 || cg.Cell.Runtime != "docker" || cg.Status != results.StatusOK ||
		cg.Metric.Name != "mops_total" || cg.Metric.Value != 299.89 || !cg.Metric.HigherIsBetter || cg.Metrics["time_s"] != 0.22 {
		t.Errorf("cg run: %+v", cg)
	}
	hpl := runs[2]
	if hpl.Cell.Benchmark != "hpl" || hpl.Cell.Class != "N2000" || hpl.Cell.Ranks != 2 || hpl.Metric.Name != "gflops" || hpl.Metric.Value != 4.0084 {
		t.Errorf("hpl run: cell %+v metric %+v", hpl.Cell, hpl.Metric)
	}
	hpcc := runs[3]
	if hpcc.Cell.Benchmark != "hpcc" || hpcc.Metric.Name != "gflops" || hpcc.Metric.Value < 1.84 || hpcc.Metric.Value > 1.85 || hpcc.Cell.Ranks != 2 {
		t.Errorf("hpcc run: cell %+v metric %+v", hpcc.Cell, hpcc.Metric)
	}
	if runs[4].Repetition != 1 || runs[0].Repetition != 0 {
		t.Errorf("repetitions %d, %d; want 0, 1", runs[0].Repetition, runs[4].Repetition)
	}
	invalid := []byte(`{"kind":"npb","benchmark":"ft","class":"S","time_s":1.0,"mops_total":5,"valid":false,"invalid_reason":"verification UNSUCCESSFUL"}` + "\n")
	results.Import(ctx, st, "ft.jsonl", invalid, opt)
	runs, _ = st.Runs(ctx, "imp", results.RunsOptions{})
	if last := runs[len(runs)-1]; last.Status != results.StatusInvalid || last.Reason != "verification UNSUCCESSFUL" {
		t.Errorf("invalid result imported as %s %q", last.Status, last.Reason)
	}
}

func TestImportRawNeedsParser(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	log := []byte(" CG Benchmark Completed.\n Time in seconds = 0.5\n")
	if _, err := results.Import(ctx, st, "cg.log", log, results.ImportOptions{}); !errors.Is(err, results.ErrNotJSONLines) {
		t.Errorf("raw log without a parser: %v", err)
	}
	var gotRanks int
	parse := func(name string, data []byte, ranks int) ([]results.Record, error) {
		gotRanks = ranks
		return []results.Record{{"kind": "npb", "benchmark": "cg", "class": "S", "time_s": 0.5, "mops_total": 130.0, "valid": true}}, nil
	}
	is, err := results.Import(ctx, st, "cg.log", log, results.ImportOptions{Study: "raw", Host: resultstest.Host, ParseRaw: parse, Cell: results.Cell{Ranks: 4}})
	if err != nil || is.Added != 1 || gotRanks != 4 {
		t.Fatalf("%+v %v ranks=%d", is, err, gotRanks)
	}
	runs, _ := st.Runs(ctx, "raw", results.RunsOptions{WithOutput: true})
	if string(runs[0].Output) != string(log) || runs[0].Cell.Ranks != 4 {
		t.Errorf("raw log not kept as output, or ranks lost: %+v", runs[0])
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openStore(t)
	study, runs, skips := resultstest.Study(resultstest.Options{Seed: 3, Benchmarks: []string{"ep"}, Ranks: []int{2}, Reps: 3})
	if err := resultstest.Store(src, study, runs, skips); err != nil {
		t.Fatal(err)
	}
	stored, _ := src.Runs(ctx, study.Name, results.RunsOptions{})
	var js bytes.Buffer
	if err := results.Export(&js, stored, results.ExportJSON); err != nil {
		t.Fatal(err)
	}
	dst := openStore(t)
	is, err := results.Import(ctx, dst, "export.jsonl", js.Bytes(), results.ImportOptions{})
	if err != nil || is.Added != len(stored) {
		t.Fatalf("import of export: %+v, %v (want %d added)", is, err, len(stored))
	}
	is, _ = results.Import(ctx, dst, "export.jsonl", js.Bytes(), results.ImportOptions{})
	if is.Duplicates != len(stored) || is.Added != 0 {
		t.Errorf("second import: %+v, want all duplicates", is)
	}
	back, _ := dst.Runs(ctx, study.Name, results.RunsOptions{})
	for i := range back {
		if back[i].Cell != stored[i].Cell || back[i].Metric != stored[i].Metric || back[i].Status != stored[i].Status || !back[i].Started.Equal(stored[i].Started) {
			t.Fatalf("run %d differs after export and import:\n%+v\n%+v", i, back[i], stored[i])
		}
	}
	var cb bytes.Buffer
	if err := results.Export(&cb, stored, results.ExportCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil || len(rows) != len(stored)+1 {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	if rows[0][0] != "id" || !strings.Contains(strings.Join(rows[0], ","), "wireup_s") || rows[1][8] != "ep" {
		t.Errorf("CSV header %v, first row %v", rows[0], rows[1])
	}
}
