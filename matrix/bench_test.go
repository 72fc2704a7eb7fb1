package matrix

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
)

// BenchmarkMatrixOverhead measures what hpcbench's matrix adds to each run
// (working folder, output capture and parsing, one SQLite transaction,
// scheduling) over launching the same MPI program alone with the same
// launcher. Blocks of matrix runs and direct launches alternate so drift
// hits both; the table gives medians per run and their ratio.
//
//	go test -run '^$' -bench MatrixOverhead -benchtime 1x ./matrix/
func BenchmarkMatrixOverhead(b *testing.B) {
	testenv.LookPath(b, "mpicc.mpich", "apt-get install libmpich-dev")
	tmp := b.TempDir()
	hello := filepath.Join(tmp, "hello")
	src := filepath.Join(repoRoot(b), "pmi", "testdata", "hello_mpi.c")
	if out, err := exec.Command("mpicc.mpich", "-O2", "-o", hello, src).CombinedOutput(); err != nil {
		b.Fatalf("mpicc.mpich: %v\n%s", err, out)
	}
	const perBlock, blocks, ranks = 10, 5, 2
	cfg, err := configs.Parse("overhead.toml", []byte(fmt.Sprintf(`
[study]
name = "overhead"
repetitions = %d
warmup = 0
timeout = "60s"
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [%d]
[[benchmark]]
kind = "command"
name = "hello"
argv = [%q]
[[runtime]]
name = "native"
`, perBlock, ranks, hello)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	inv := inventory.Detect(ctx, inventory.Options{})
	st, err := results.Open(filepath.Join(tmp, "overhead.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	var inMatrix, alone []float64
	for blk := 0; blk < blocks; blk++ {
		t0 := time.Now()
		plan, err := NewPlan(ctx, cfg, Overrides{Study: fmt.Sprintf("overhead-%d", blk), Inventory: inv})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := (&Local{WorkRoot: tmp}).RunStudy(ctx, plan, st)
		if err != nil {
			b.Fatal(err)
		}
		if sum.OK != perBlock {
			b.Fatalf("block %d: %s", blk, sum)
		}
		inMatrix = append(inMatrix, time.Since(t0).Seconds()/perBlock)

		t0 = time.Now()
		for i := 0; i < perBlock; i++ {
			rep, err := pmi.Launch(ctx, pmi.Options{Ranks: ranks, PMI: pmi.PMI1, Argv: []string{hello}, Dir: tmp, Stdout: io.Discard, Stderr: io.Discard})
			if err != nil || !rep.OK() {
				b.Fatalf("direct launch: %v %v", err, rep)
			}
		}
		alone = append(alone, time.Since(t0).Seconds()/perBlock)
	}
	m, a := median(inMatrix), median(alone)
	b.ReportMetric(m*1e3, "ms/run-in-matrix")
	b.ReportMetric(a*1e3, "ms/run-alone")
	b.ReportMetric(m/a, "ratio")
	fmt.Fprintf(os.Stdout, "\nmatrix overhead, MPICH hello on %d ranks, %d blocks of %d runs (medians of block means):\n", ranks, blocks, perBlock)
	fmt.Fprintf(os.Stdout, "  %-34s %8.1f ms/run\n  %-34s %8.1f ms/run\n  %-34s %8.3f (%+.1f%%)\n",
		"hpcbench matrix (store, parse, ...)", m*1e3, "hpcbench launch alone", a*1e3, "ratio matrix/alone", m/a, (m/a-1)*100)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
