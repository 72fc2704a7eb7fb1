package images

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// UCX opens its transport modules with dlopen, so no ldd walk finds them.
// An image without them has no cross-memory (cma) transport: ranks on one
// node then move large messages over loopback TCP, and MPICH's
// MPI_Finalize can hang in the UCX endpoint close.
func TestMinimalImageCarriesUCXModules(t *testing.T) {
	cma := filepath.Join(ucxModules, "libuct_cma.so.0")
	for _, mpi := range []string{"mpich", "openmpi"} {
		t.Run(mpi, func(t *testing.T) {
			layout, err := mpiFiles(mpi)
			if err != nil {
				t.Fatal(err)
			}
			if !fileExists(layout.libs[0]) || !fileExists(cma) {
				testenv.Skipf(t, "%s or %s not installed here (CI installs %s with UCX)", layout.libs[0], cma, mpi)
			}
			root := t.TempDir()
			if err := buildMinimal(context.Background(), root, BuildOptions{MPI: mpi}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, cma)); err != nil {
				t.Errorf("minimal %s image lacks UCX's cma module: %v", mpi, err)
			}
			binds, err := HostMPIBinds(context.Background(), mpi)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, b := range binds {
				found = found || b == ucxModules
				if insideAny(b, []string{ucxModules}) {
					t.Errorf("bind layout mounts %s on its own, inside the bound folder %s", b, ucxModules)
				}
			}
			if !found {
				t.Errorf("bind layout for %s does not mount %s: %q", mpi, ucxModules, binds)
			}
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
