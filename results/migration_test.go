package results

import (
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
)

// A file written before the wire-up was split (schema 1) opens, gains the
// container start and PMI exchange columns, and reads its runs back with
// them at 0 (not measured); new runs store them.
func TestOpenSchema1File(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateStudy(ctx, Study{Name: "old", Seed: 1, Config: "[matrix]\n"}); err != nil {
		t.Fatal(err)
	}
	cell := Cell{Benchmark: "ep", Kind: "kernel", Class: "S", MPI: "mpich", PMI: "pmi1", Runtime: "native", Layout: "per-rank", Ranks: 2}
	if _, err := st.AddRun(ctx, testRun("old", cell, 0, 1.5)); err != nil {
		t.Fatal(err)
	}
	// Make it the file an hpcbench of schema 1 wrote.
	for _, q := range []string{
		"ALTER TABLE runs DROP COLUMN container_start_s",
		"ALTER TABLE runs DROP COLUMN pmi_exchange_s",
		"ALTER TABLE runs DROP COLUMN image_verification",
		"DROP INDEX runs_by_study",
		"PRAGMA user_version = 1",
	} {
		if _, err := st.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	st.Close()

	st, err = Open(path)
	if err != nil {
		t.Fatalf("open a schema 1 file: %v", err)
	}
	defer st.Close()
	var v int
	st.db.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion || SchemaVersion < 2 {
		t.Errorf("user_version = %d after migration, want %d (at least 2)", v, SchemaVersion)
	}
	runs, err := st.Runs(ctx, "old", RunsOptions{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs of the old file: %d, %v", len(runs), err)
	}
	if runs[0].Cell.ImageVerification != "" {
		t.Errorf("old run: image verification %q, want \"\" (not recorded)", runs[0].Cell.ImageVerification)
	}
	if runs[0].ContainerStart != 0 || runs[0].PMIExchange != 0 || runs[0].WireUp == 0 {
		t.Errorf("old run: container start %v, PMI exchange %v (want 0), wire-up %v (want kept)",
			runs[0].ContainerStart, runs[0].PMIExchange, runs[0].WireUp)
	}
	if _, err := st.AddRun(ctx, testRun("old", cell, 1, 1.5)); err != nil {
		t.Fatal(err)
	}
	runs, _ = st.Runs(ctx, "old", RunsOptions{})
	if len(runs) != 2 || runs[1].ContainerStart == 0 || runs[1].PMIExchange == 0 {
		t.Errorf("a run added after the migration lost its container start or PMI exchange: %+v", runs)
	}
}

// CSV and JSON exports carry the container start and the PMI exchange.
func TestExportWireUpSplit(t *testing.T) {
	cell := Cell{Benchmark: "ep", Kind: "kernel", Class: "S", MPI: "mpich", PMI: "pmi1", Runtime: "native", Ranks: 2}
	runs := []Run{testRun("s", cell, 0, 1.5)}
	var csvOut, jsonOut strings.Builder
	if err := Export(&csvOut, runs, ExportCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(csvOut.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	col := map[string]string{}
	for i, h := range rows[0] {
		col[h] = rows[1][i]
	}
	if col["container_start_s"] != ftoa(0.008) || col["pmi_exchange_s"] != ftoa(0.005) {
		t.Errorf("CSV container_start_s %q, pmi_exchange_s %q; want %s and %s", col["container_start_s"], col["pmi_exchange_s"], ftoa(0.008), ftoa(0.005))
	}
	if err := Export(&jsonOut, runs, ExportJSON); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"container_start_ns":8000000`, `"pmi_exchange_ns":5000000`} {
		if !strings.Contains(jsonOut.String(), want) {
			t.Errorf("JSON export lacks %s: %s", want, jsonOut.String())
		}
	}
}
