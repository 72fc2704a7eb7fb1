package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/npb"
)

// TestOutputFolderMissing: "report -o" and "launch --report" into a
// folder that does not exist fail at once, as usage errors naming the
// folder: the report before any analysis (not naming a hidden temporary
// file), the launch before the job runs.
func TestOutputFolderMissing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	cg := filepath.Join("..", "..", "npb", "testdata", "npb-cg.S.2.mpich.txt")
	if _, err := runApp(t, "results", "import", cg, "--db", db, "--study", "s", "--cell", "mpi=mpich,pmi=pmi1"); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-folder")
	_, err := runApp(t, "report", "--db", db, "--study", "s", "-o", filepath.Join(missing, "r.pdf"))
	if exitCode(err) != 2 || !strings.Contains(err.Error(), missing+" does not exist") || strings.Contains(err.Error(), ".hpcbench-report") {
		t.Errorf("report -o into a missing folder: exit %d, %v", exitCode(err), err)
	}

	mark := filepath.Join(dir, "ran")
	_, _, err = runLaunchVerb(t, "-n", "1", "--report", filepath.Join(missing, "launch.json"), "--", "sh", "-c", "touch "+mark)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), missing+" does not exist") {
		t.Errorf("launch --report into a missing folder: exit %d, %v", exitCode(err), err)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Errorf("launch ran the job before refusing its --report")
	}
}

// TestParseIsBounded: parse stops reading at npb.MaxOutputSize (endless
// input: /dev/zero) and does not read a regular file known to be longer.
func TestParseIsBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	start := time.Now()
	out, err := runApp(t, "parse", "/dev/zero")
	if err == nil || !strings.Contains(out, "output too large") {
		t.Errorf("parse /dev/zero: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("parse /dev/zero took %v", d)
	}
	// A sparse file longer than the limit: refused without being read.
	big := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := parseFile(big, 0); !errors.Is(err, npb.ErrTooLarge) || !strings.Contains(err.Error(), "209715200 bytes") {
		t.Errorf("parse of a 200 MB file: %v", err)
	}
}

// TestStudySizeRefusedBeforeExpansion: a dry run of a config asking for a
// million repetitions is refused at once, naming the key and line,
// instead of expanding the matrix.
func TestStudySizeRefusedBeforeExpansion(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "big.toml")
	text := "[study]\nname = \"big\"\nrepetitions = 1000000\n[matrix]\nranks = [1]\n[[benchmark]]\nkind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := runApp(t, "matrix", "--dry-run", "--quiet", cfg)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), cfg+":3: study.repetitions: 1000000: more than the 10000 runs a cell may have") {
		t.Errorf("dry run of repetitions = 1000000: exit %d, %v", exitCode(err), err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v", d)
	}
}

// TestSlurmGenRefusesUnsafeOverrides: the study name and batch settings
// given on the command line follow the config's rules: a study named
// ../../../x or a partition with a line break is a usage error, and no
// script is written.
func TestSlurmGenRefusesUnsafeOverrides(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "s.toml")
	text := "[study]\nname = \"s\"\nrepetitions = 1\nwarmup = 0\n[matrix]\nmpi = [\"mpich\"]\npmi = [\"pmi1\"]\nranks = [1]\n" +
		"[[benchmark]]\nkind = \"command\"\nname = \"prog\"\nargv = [\"/bin/true\"]\ncheck_binary = false\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, args := range [][]string{
		{"--study", "../../../x"},
		{"--study", "s\necho injected"},
		{"--partition", "debug\necho injected"},
		{"--account", "a b"},
		{"--time", "10\necho injected"},
	} {
		_, err := runApp(t, append([]string{"slurm", "gen", "-o", out, cfg}, args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("slurm gen %q: exit %d, %v; want a usage error naming %s", args, exitCode(err), err, args[0])
		}
		if entries, _ := os.ReadDir(out); len(entries) > 0 {
			t.Errorf("slurm gen %q wrote %v", args, entries)
		}
	}
}
