package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/runtimes"
)

// TestImageBuildMakesSIF builds a minimal MPICH image for Apptainer only,
// for real: the store holds NAME/NAME.sif, "image list" shows it, and the
// apptainer runtime's Prepare reads the file's sha256 and its SIF header.
func TestImageBuildMakesSIF(t *testing.T) {
	rt, _ := runtimes.Get("apptainer")
	_, err := rt.Detect(context.Background())
	testenv.Require(t, "apptainer (CI installs it)", err)
	testenv.LookPath(t, "mpichversion", "apt-get install mpich: the MPI to put in the image")
	store := t.TempDir()
	const name = "hpcbench-clitest"
	out, err := runApp(t, "image", "build", "--mpi", "mpich", "--name", name, "--minimal", "--runtimes", "apptainer", "--store", store)
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, out)
	}
	sif := filepath.Join(store, name, name+".sif")
	if !strings.Contains(out, "apptainer  "+sif+"  sha256:") {
		t.Errorf("image build does not report %s with its digest:\n%s", sif, out)
	}
	b, err := os.ReadFile(sif)
	if err != nil {
		t.Fatalf("no SIF: %v\n%s", err, out)
	}
	sum := sha256.Sum256(b)
	want := "sha256:" + hex.EncodeToString(sum[:])

	list, err := runApp(t, "image", "list", "--store", store)
	if err != nil || !strings.Contains(list, name) || !strings.Contains(list, "apptainer") {
		t.Errorf("image list: %v\n%s", err, list)
	}

	t.Setenv("HPCBENCH_IMAGES", store)
	info, err := rt.Prepare(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Ref != sif || info.Digest != want {
		t.Errorf("Prepare(%s) = %s %s, want %s %s", name, info.Ref, info.Digest, sif, want)
	}
	if info.Meta["sif_id"] == "" || info.Meta["sif_rootfs"] != "Squashfs" || info.Meta["sif_arch"] != "amd64" || info.Meta["sif_created"] == "" {
		t.Errorf("Prepare did not read the SIF header: %v", info.Meta)
	}
	// The same file named by its path.
	byPath, err := rt.Prepare(context.Background(), sif)
	if err != nil || byPath.Digest != want || byPath.Meta["sif_id"] != info.Meta["sif_id"] {
		t.Errorf("Prepare(%s) = %+v, %v", sif, byPath, err)
	}
}

// TestLaunchRuntimeOptions: --runtime-command and --runtime-flag reach the
// runtime, or are refused with the reason; never dropped.
func TestLaunchRuntimeOptions(t *testing.T) {
	_, err := runApp(t, "launch", "-n", "1", "--runtime", "native", "--runtime-flag", "--env=A=1,2", "--", "true")
	if !errors.Is(err, runtimes.ErrFlags) || !strings.Contains(err.Error(), "--env=A=1,2") {
		t.Errorf("native with a runtime flag: %v, want ErrFlags naming the whole flag", err)
	}
	// The configured executable is the one probed.
	_, err = runApp(t, "launch", "-n", "1", "--runtime", "docker", "--runtime-command", "/nonexistent/docker", "--image", "x", "--", "true")
	if !errors.Is(err, runtimes.ErrUnavailable) || !strings.Contains(err.Error(), "/nonexistent/docker") {
		t.Errorf("docker with a missing --runtime-command: %v, want ErrUnavailable naming it", err)
	}
	if _, err := runApp(t, "launch", "-n", "1", "--runtime-flag", "-x", "--", "true"); err == nil || !strings.Contains(err.Error(), "need --runtime") {
		t.Errorf("--runtime-flag without --runtime: %v", err)
	}
	// A flag given once is not carried into the next launch.
	if _, err := runApp(t, "launch", "-n", "1", "--runtime", "native", "--", "true"); err != nil {
		t.Errorf("a plain native launch after one with flags: %v", err)
	}
}
