package main

import (
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/pmi"
)

// TestLaunchMPIBuildFlag: none keeps the program's own library, a prefix
// that is not a build is a usage error, and a program not linked against
// MPICH gets no build.
func TestLaunchMPIBuildFlag(t *testing.T) {
	if b, err := launchcli.ChooseMPIBuild("none", pmi.PMI2, "true"); b != nil || err != nil {
		t.Errorf("none: %v, %v", b, err)
	}
	if b, err := launchcli.ChooseMPIBuild("auto", pmi.PMI2, "true"); b != nil || err != nil {
		t.Errorf("auto for a program without MPI: %v, %v", b, err)
	}
	_, _, err := runLaunchVerb(t, "-n", "1", "--mpi-build", t.TempDir(), "--", "true")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--mpi-build") {
		t.Errorf("--mpi-build of a folder without a build: %v, want a usage error", err)
	}
}
