package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi/pmix"
	"github.com/hpcbench/hpcbench/runtimes"
)

// leftovers lists what hpcbench may leave in the folder tmp.
func leftovers(t *testing.T, tmp string) []string {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(tmp, "hpcbench-*"))
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// TestPMIxFolderGoneAfterKill: the PMIx server's folder of an hpcbench
// killed with SIGKILL (which no Shutdown can follow) is removed by the
// next hpcbench that launches, even one that serves another PMI; one
// that ends normally leaves none.
func TestPMIxFolderGoneAfterKill(t *testing.T) {
	testenv.Require(t, "PMIx", pmix.Available())
	bin := buildCLI(t)
	tmp := t.TempDir()
	// No container is asked about: only this test's folder matters here
	// (runtimes' own tests cover their sweep with stand-in programs).
	env := append(os.Environ(), "TMPDIR="+tmp, runtimes.SweepEnv+"=0")

	killed := exec.Command(bin, "launch", "--quiet", "-n", "1", "--pmi", "pmix", "--", "sleep", "60")
	killed.Env = env
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(leftovers(t, tmp)) == 0 {
		if time.Now().After(deadline) {
			killed.Process.Kill()
			killed.Wait()
			t.Fatal("no PMIx folder appeared in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	left := leftovers(t, tmp)
	if len(left) != 1 {
		t.Fatalf("after the kill: %q; want the PMIx folder", left)
	}

	next := exec.Command(bin, "launch", "--quiet", "-n", "1", "--pmi", "pmi1", "--", "true")
	next.Env = env
	out, _ := next.CombinedOutput() // whether "true" passes the launch's guards is not the point
	if left := leftovers(t, tmp); len(left) > 0 {
		t.Errorf("the next launch left %q behind\n%s", left, out)
	}

	// A launch that ends normally removes its own.
	ep := filepath.Join("..", "..", "npb", "kernels", "build", "openmpi", "ep")
	if _, err := os.Stat(ep); err != nil {
		testenv.Skipf(t, "kernel %s (run make kernels): %v", ep, err)
	}
	ok := exec.Command(bin, "launch", "--quiet", "-n", "2", "--pmi", "pmix", "--", ep, "S")
	ok.Env = append(env, "OMPI_MCA_pml=ob1", "OMPI_MCA_btl=self,vader")
	if out, err := ok.CombinedOutput(); err != nil {
		t.Fatalf("launch of %s under PMIx: %v\n%s", ep, err, out)
	}
	if left := leftovers(t, tmp); len(left) > 0 {
		t.Errorf("a launch that ended normally left %q behind", left)
	}
}
