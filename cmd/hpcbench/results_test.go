package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
)

func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	full, err := launchcli.ReorderArgs(app, append([]string{"hpcbench"}, args...))
	if err != nil {
		return "", err
	}
	err = app.Run(full)
	return out.String() + errOut.String(), err
}

// The results verbs end to end on the real NPB and HPL sample logs: raw
// logs imported through the npb parser, then listed, shown, exported,
// reported and plotted, with flags typed after the arguments.
func TestResultsVerbs(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	samples := filepath.Join("..", "..", "npb", "testdata")
	cg := filepath.Join(samples, "npb-cg.S.2.mpich.txt")
	if _, err := os.Stat(cg); err != nil {
		t.Fatalf("sample log of the repository: %v", err)
	}
	if _, err := runApp(t, "results", "list", "--db", db); err == nil || !strings.Contains(err.Error(), "no results file") {
		t.Errorf("list of a missing file: %v", err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("listing created %s", db)
	}
	for i := 0; i < 2; i++ {
		out, err := runApp(t, "results", "import", cg, "--db", db, "--study", "s", "--cell", "mpi=mpich,pmi=pmi1")
		if err != nil || !strings.Contains(out, "imported 1 runs") {
			t.Fatalf("import: %q %v", out, err)
		}
	}
	out, err := runApp(t, "results", "import", cg, "--db", db, "--study", "s", "--cell", "runtime=docker,layout=per-rank,mpi=mpich,pmi=pmi1")
	if err != nil {
		t.Fatalf("import: %q %v", out, err)
	}
	out, err = runApp(t, "results", "list", "--db", db)
	if err != nil || !strings.Contains(out, "s ") || !strings.Contains(out, "  3  ") {
		t.Errorf("list: %q %v", out, err)
	}
	out, err = runApp(t, "results", "show", "--db", db)
	if err != nil || !strings.Contains(out, "cg.S docker per-rank mpich pmi1 x2") || !strings.Contains(out, "too few repetitions for a test (n=1 container, 2 native)") {
		t.Errorf("show: %q %v", out, err)
	}
	csvPath := filepath.Join(dir, "runs.csv")
	if _, err := runApp(t, "results", "export", "--db", db, "--csv", "-o", csvPath); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(csvPath)
	if n := strings.Count(string(b), "\n"); n != 4 {
		t.Errorf("CSV has %d lines, want header and 3 runs", n)
	}
	if _, err := runApp(t, "results", "export", "--db", db); err == nil {
		t.Errorf("export without a format accepted")
	}
	pdf := filepath.Join(dir, "r.pdf")
	if out, err := runApp(t, "report", "--db", db, "-o", pdf); err != nil || !strings.Contains(out, "wrote ") {
		t.Errorf("report: %q %v", out, err)
	}
	if b, _ := os.ReadFile(pdf); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("report is not a PDF")
	}
	figs := filepath.Join(dir, "figs")
	if out, err := runApp(t, "plot", "--db", db, "--format", "svg", "-o", figs); err != nil || !strings.Contains(out, "cg-relative.svg") {
		t.Errorf("plot: %q %v", out, err)
	}
	if _, err := runApp(t, "plot", "--db", db, "--format", "gif"); err == nil {
		t.Errorf("plot --format gif accepted")
	}
	if _, err := runApp(t, "results", "show", "--db", db, "--study", "nope"); err == nil || !strings.Contains(err.Error(), `study "nope"`) {
		t.Errorf("show of an unknown study: %v", err)
	}
}
