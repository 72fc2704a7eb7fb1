// The conformance cells on hpcbench's three MPICH builds, which setup makes
// (scripts/build-mpich.sh).

package runtimes

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// TestConformanceMPIBuilds: the project's EP kernel, one unchanged binary
// linked with Debian's MPICH, runs under hpcbench's PMI-2 and PMIx builds
// of MPICH in every runtime and layout: the build is in the image (per-rank,
// per-node) or bind-mounted (bind), the rank's loader path picks it, and
// the ranks negotiate the build's flavour over the same channel as PMI-1.
func TestConformanceMPIBuilds(t *testing.T) {
	for _, name := range conformanceRuntimes(t) {
		t.Run(name, func(t *testing.T) {
			rt := available(t, name)
			for _, flavour := range []pmi.Flavour{pmi.PMI2, pmi.PMIx} {
				for _, layout := range buildLayouts(rt) {
					t.Run(string(flavour)+"/"+string(layout), func(t *testing.T) {
						runBuildCell(t, rt, mpiBuild(t, flavour), layout)
					})
				}
			}
		})
	}
}

// mpiBuild returns hpcbench's MPICH build speaking flavour, or skips (fails
// in CI) when scripts/build-mpich.sh has not installed it.
func mpiBuild(t testing.TB, flavour pmi.Flavour) *mpibuild.Build {
	t.Helper()
	b, ok := mpibuild.ForFlavour("", string(flavour))
	var err error
	if !ok {
		err = fmt.Errorf("no complete build under $%s or %s", mpibuild.RootEnv, mpibuild.DefaultRoot)
	}
	testenv.Require(t, "the MPICH "+string(flavour)+" build (scripts/build-mpich.sh)", err)
	return &b
}

// buildLayouts are the layouts in which the MPICH builds run in rt.
func buildLayouts(rt Runtime) []Layout {
	return append(perRankLayouts(rt), PerNode)
}

// checkEP asserts that an EP run verified with 2 processes and that every
// rank spoke flavour (a PMI-2 cell whose ranks fell back to PMI-1, or ran
// as singletons, fails).
func checkEP(t *testing.T, rep *pmi.Report, out string, flavour pmi.Flavour) {
	t.Helper()
	if got := epValue(out, "Total processes"); got != "2" {
		t.Errorf("Total processes = %q, want 2 (output:\n%s)", got, out)
	}
	if got := epValue(out, "Verification"); got != "SUCCESSFUL" {
		t.Errorf("Verification = %q\n%s", got, out)
	}
	if err := pmi.RequireWorld(rep, ""); err != nil {
		t.Error(err)
	}
	if len(rep.Negotiated) != 2 {
		t.Errorf("%d ranks negotiated a PMI version (%v), want 2", len(rep.Negotiated), rep.Negotiated)
	}
	for r, v := range rep.Negotiated {
		if v != string(flavour) {
			t.Errorf("rank %d negotiated %q, want %q", r, v, flavour)
		}
	}
}

// runBuildCell runs EP class S at 2 ranks in rt and layout with the MPICH
// build, and checks the run and the choices that record the build.
func runBuildCell(t *testing.T, rt Runtime, build *mpibuild.Build, layout Layout) {
	t.Helper()
	flavour := pmi.Flavour(build.Flavour)
	ep := kernel(t, "mpich", "ep")
	spec := specFor(t, rt, "mpich", layout)
	spec.MPIBuild = build
	wantSource := map[Layout]string{PerRank: buildFromImage, PerNode: buildFromImage, Bind: buildBound}[layout]
	if rt.Name() == "native" {
		wantSource = buildFromHost
	}
	var rep *pmi.Report
	var out string
	var choices map[string]string
	if layout == PerNode {
		rep, out = launchNode(t, rt, spec, flavour, []string{ep, "S"})
		choices = NodeChoices(rt, spec)
	} else {
		w, err := rt.Wrapper(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		res := launchJob(t, w, flavour, 2, []string{ep, "S"}, 5*time.Minute)
		requireNoLeftovers(t, rt, res.jobID)
		if res.err != nil || !res.rep.OK() {
			t.Fatalf("EP failed: %v %v\n%s\n%s", res.err, res.rep.Reason, res.stdout, res.stderr)
		}
		rep, out, choices = res.rep, res.stdout, w.Choices()
	}
	checkEP(t, rep, out, flavour)
	if choices["mpi_build_flavour"] != string(flavour) || choices["mpi_build"] != build.Prefix || choices["mpi_build_source"] != wantSource {
		t.Errorf("choices %v: want mpi_build %s from %s", choices, flavour, wantSource)
	}
	t.Logf("%s, MPICH %s build from %s: wall %v, wire-up %v", Describe(choices), flavour, choices["mpi_build_source"],
		rep.Wall.Round(time.Millisecond), rep.WireUp.Round(time.Millisecond))
}

// launchNode runs "hpcbench launch" of a 2-rank job of argv in one
// per-node container of rt and returns its report and output.
func launchNode(t *testing.T, rt Runtime, spec Spec, flavour pmi.Flavour, argv []string) (*pmi.Report, string) {
	t.Helper()
	self := hpcbenchBinary(t)
	dir := workDir(t)
	report := filepath.Join(dir, "report.json")
	job := pmi.Job{ID: newJobID(t), Ranks: 2, PMI: flavour}
	cmd := &pmi.RankCommand{Argv: append([]string{self, "launch", "-n", "2", "--pmi", string(flavour),
		"--report", report, "--timeout", "5m", "--"}, argv...), Env: os.Environ(), Dir: dir, CPU: -1}
	if err := rt.WrapNode(context.Background(), spec, job, cmd); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(cmd.Argv[0], cmd.Argv[1:]...)
	c.Env, c.Dir = cmd.Env, cmd.Dir
	out, err := c.CombinedOutput()
	if cerr := rt.Cleanup(context.Background(), job); cerr != nil {
		t.Error(cerr)
	}
	requireNoLeftovers(t, rt, job.ID)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Argv, " "), err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("no report from the per-node launch: %v\n%s", err, out)
	}
	var rep pmi.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep, string(out)
}
