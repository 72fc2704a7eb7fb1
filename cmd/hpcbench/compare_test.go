package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
)

// Two real native studies of the project's EP kernel (MPICH, PMI-1) in
// one store, run through the matrix; then "results compare" and
// "report --baseline". Each run measured its container start and PMI
// exchange.
func TestCompareTwoNativeStudies(t *testing.T) {
	testenv.SkipIfShort(t, "runs two real studies")
	wd, _ := os.Getwd()
	kernels := filepath.Join(filepath.Dir(filepath.Dir(wd)), "npb", "kernels", "build")
	_, err := os.Stat(filepath.Join(kernels, "mpich", "ep"))
	testenv.Require(t, "kernel "+kernels+"/mpich/ep (run make kernels)", err)
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"before", "after"} {
		text := fmt.Sprintf(`
[study]
name = "ep-native"
repetitions = 3
warmup = 0
timeout = "60s"
seed = 3
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]
[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
binary = "%s/{mpi}/{name}"
args = ["{class}"]
[[runtime]]
name = "native"
`, kernels)
		cfg, err := configs.Parse(name+".toml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := matrix.NewPlan(ctx, cfg, matrix.Overrides{Study: name})
		if err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		if _, err := (&matrix.Local{Log: &log, WorkRoot: dir}).RunStudy(ctx, plan, st); err != nil {
			t.Fatalf("study %s: %v\n%s", name, err, log.String())
		}
		runs, err := st.Runs(ctx, name, results.RunsOptions{})
		if err != nil || len(runs) != 3 {
			t.Fatalf("study %s: %d runs, %v\n%s", name, len(runs), err, log.String())
		}
		for _, r := range runs {
			if r.Status != results.StatusOK || r.ContainerStart <= 0 || r.PMIExchange <= 0 || r.ContainerStart+r.PMIExchange > r.FirstFence {
				t.Errorf("study %s run %d: %s %s, start %v, exchange %v, first fence %v",
					name, r.Repetition, r.Status, r.Reason, r.ContainerStart, r.PMIExchange, r.FirstFence)
			}
		}
	}
	st.Close()

	out, err := runApp(t, "results", "compare", "--db", db, "before", "after")
	if err != nil {
		t.Fatalf("results compare: %v\n%s", err, out)
	}
	for _, want := range []string{"Study after against baseline before", "1 matching cell compared", "ep.S native mpich pmi1 x2"} {
		if !strings.Contains(out, want) {
			t.Errorf("results compare output lacks %q:\n%s", want, out)
		}
	}
	out, err = runApp(t, "results", "show", "--db", db, "--study", "after")
	if err != nil || !strings.Contains(out, "Wire-up split") || !strings.Contains(out, "native pmi1") {
		t.Errorf("results show: %v, no wire-up split:\n%s", err, out)
	}
	pdf := filepath.Join(dir, "after.pdf")
	out, err = runApp(t, "report", "--db", db, "--study", "after", "--baseline", "before", "-o", pdf)
	if err != nil {
		t.Fatalf("report --baseline: %v\n%s", err, out)
	}
	pdftotext := testenv.LookPath(t, "pdftotext", "Debian package poppler-utils; reads the report back")
	text, err := exec.Command(pdftotext, pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", pdf, err)
	}
	flat := strings.Join(strings.Fields(string(text)), " ")
	for _, want := range []string{"Against baseline study before", "1 matching cell compared", "Container start and PMI exchange", "native pmi1"} {
		if !strings.Contains(flat, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := runApp(t, "results", "compare", "--db", db, "nosuch", "after"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("compare with a missing baseline: %v, want an error naming it", err)
	}
}
