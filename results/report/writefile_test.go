package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/outfile"
	"github.com/hpcbench/hpcbench/results"
)

// TestWriteFileMissingFolder: a report into a folder that does not exist
// fails naming that folder, not the temporary file the report is first
// written to, and leaves nothing behind; into an existing one it writes
// the file and nothing else.
func TestWriteFileMissingFolder(t *testing.T) {
	a := results.Analyse(nil, results.AnalysisOptions{})
	a.Study = results.Study{Name: "empty"}
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-folder")
	err := WriteFile(filepath.Join(missing, "report.pdf"), a, Options{Generated: generated})
	if !errors.Is(err, outfile.ErrNoFolder) || !strings.Contains(err.Error(), missing+" does not exist") || strings.Contains(err.Error(), ".hpcbench-report") {
		t.Errorf("err = %v, want one naming the missing folder %s", err, missing)
	}
	path := filepath.Join(dir, "report.pdf")
	if err := WriteFile(path, a, Options{Generated: generated}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "report.pdf" {
		t.Errorf("folder holds %v, want report.pdf alone", entries)
	}
}
