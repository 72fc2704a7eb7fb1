// These tests run real jobs on hpcbench's three MPICH builds, which setup
// makes (scripts/build-mpich.sh). Without them the tests skip, and fail
// under HPCBENCH_REQUIRE_ALL=1 (CI).

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// requireBuilds fails (under HPCBENCH_REQUIRE_ALL=1) or skips the test
// without hpcbench's three MPICH builds.
func requireBuilds(t *testing.T) {
	t.Helper()
	for _, f := range []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx} {
		var err error
		if _, ok := mpibuild.ForFlavour("", string(f)); !ok {
			err = fmt.Errorf("no complete build for %s under %s", f, mpibuild.Root(""))
		}
		testenv.Require(t, "hpcbench's MPICH build for "+string(f)+" (scripts/build-mpich.sh)", err)
	}
}

// launchOnBuilds runs argv with "hpcbench launch" at 1, 2 and 4 ranks under
// each PMI flavour, on the build --mpi-build auto picks, and checks that
// the job was one world of that size (the program prints "Total processes
// = N" and verifies) and that every rank negotiated the flavour asked for.
func launchOnBuilds(t *testing.T, argv ...string) {
	for _, f := range []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx} {
		build, _ := mpibuild.ForFlavour("", string(f))
		for _, n := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/%d", f, n), func(t *testing.T) {
				report := filepath.Join(t.TempDir(), "report.json")
				args := append([]string{"-n", fmt.Sprint(n), "--pmi", string(f), "--timeout", "2m", "--report", report, "--"}, argv...)
				out, errOut, err := runLaunchVerb(t, args...)
				if err != nil {
					t.Fatalf("launch %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
				}
				if want := "MPICH build " + build.String() + " for " + string(f); !strings.Contains(errOut, want) {
					t.Errorf("stderr does not say %q:\n%s", want, errOut)
				}
				if want := fmt.Sprintf("negotiated %s x%d", f, n); !strings.Contains(errOut, want) {
					t.Errorf("summary does not say %q:\n%s", want, errOut)
				}
				if !containsField(out, "Total processes", fmt.Sprint(n)) || !containsField(out, "Verification", "SUCCESSFUL") {
					t.Errorf("the program did not verify as one world of %d ranks:\n%s", n, out)
				}
				b, err := os.ReadFile(report)
				if err != nil {
					t.Fatal(err)
				}
				var rep pmi.Report
				if err := json.Unmarshal(b, &rep); err != nil {
					t.Fatal(err)
				}
				if err := pmi.RequireWorld(&rep, f); err != nil || len(rep.Negotiated) != n {
					t.Errorf("report: %v (negotiated %v)", err, rep.Negotiated)
				}
				if got := rep.Settings[mpibuild.LibraryPathVar]; !strings.HasPrefix(got, build.LibDir) {
					t.Errorf("report settings %v: LD_LIBRARY_PATH does not start with %s", rep.Settings, build.LibDir)
				}
				t.Logf("%s", lastLine(errOut))
			})
		}
	}
}

// containsField reports whether out has a line "key = value" (spaces
// around the = as the NPB format pads them).
func containsField(out, key, value string) bool {
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key && strings.TrimSpace(v) == value {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// TestLaunchKernelOnEachBuild: the project's EP kernel, linked once
// against Debian's MPICH, runs on each build and its ranks speak that
// build's PMI flavour.
func TestLaunchKernelOnEachBuild(t *testing.T) {
	requireBuilds(t)
	ep, err := filepath.Abs("../../npb/kernels/build/mpich/ep")
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(ep)
	testenv.Require(t, ep+" (make kernels)", err)
	launchOnBuilds(t, ep, "S")
}

// TestLaunchFortranOnEachBuild: a Fortran program of our own, built here
// by Debian's mpif90.mpich (libmpichfort.so.12), runs on each build.
func TestLaunchFortranOnEachBuild(t *testing.T) {
	requireBuilds(t)
	fc := testenv.LookPath(t, "mpif90.mpich", "apt-get install libmpich-dev gfortran")
	src, err := filepath.Abs("testdata/ranksum.f90")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "ranksum")
	build := exec.Command(fc, "-O1", "-o", prog, src)
	build.Dir = dir // any object or module file lands in the test's folder
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", fc, err, out)
	}
	if links, err := mpibuild.LinksMPICH(prog); err != nil || !links {
		t.Fatalf("%s is not linked against Debian's MPICH (%v)", prog, err)
	}
	launchOnBuilds(t, prog)
}

// TestDoctorVerify: "doctor --verify" lists each build with the flavour its
// library speaks and what one rank of the EP kernel negotiated on it.
func TestDoctorVerify(t *testing.T) {
	requireBuilds(t)
	ep, err := filepath.Abs("../../npb/kernels/build/mpich/ep")
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(ep)
	testenv.Require(t, ep+" (make kernels)", err)
	app := newApp()
	var out, errOut strings.Builder
	app.Writer, app.ErrWriter = &out, &errOut
	if err := app.Run([]string{"hpcbench", "doctor", "--json", "--verify", "--verify-with", ep + " S"}); err != nil {
		t.Fatalf("doctor --verify: %v\n%s", err, errOut.String())
	}
	var inv struct {
		MPI []struct {
			Name string   `json:"name"`
			PMI  []string `json:"pmi"`
		} `json:"mpi"`
		Builds []struct {
			Flavour     string   `json:"flavour"`
			PMI         []string `json:"pmi"`
			Usable      bool     `json:"usable"`
			Verified    string   `json:"verified"`
			VerifyError string   `json:"verify_error"`
		} `json:"mpich_builds"`
	}
	if err := json.Unmarshal([]byte(out.String()), &inv); err != nil {
		t.Fatal(err)
	}
	for _, b := range inv.Builds {
		if !b.Usable || len(b.PMI) != 1 || b.PMI[0] != b.Flavour || b.Verified != b.Flavour {
			t.Errorf("build %s: library speaks %v, usable %v, one rank negotiated %q (%s)", b.Flavour, b.PMI, b.Usable, b.Verified, b.VerifyError)
		}
	}
	if len(inv.MPI) == 0 || inv.MPI[0].Name != "mpich" || strings.Join(inv.MPI[0].PMI, ",") != "pmi1,pmi2,pmix" {
		t.Errorf("mpich speaks %+v, want pmi1, pmi2 and pmix with the builds", inv.MPI)
	}
}
