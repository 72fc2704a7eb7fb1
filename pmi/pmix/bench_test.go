//go:build cgo && !nopmix

package pmix_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
)

var (
	launchReps  = flag.Int("launch-reps", 12, "repetitions per side and rank count in BenchmarkLaunchVsMpirun")
	launchRanks = flag.String("launch-ranks", "1,2,4,8", "rank counts of BenchmarkLaunchVsMpirun, comma-separated")
)

// benchMCA is the Open MPI configuration of both sides: the same transport
// settings, given to both through the environment.
var benchMCA = []string{"OMPI_MCA_pml=ob1", "OMPI_MCA_btl=self,vader"}

// launchSample is one launch of the hello program.
type launchSample struct {
	wall     time.Duration // launch command start to its return
	initDone time.Duration // launch start to the last rank leaving MPI_Init
	span     time.Duration // first rank's main() to last rank's MPI_Finalize end
	wireUp   time.Duration // hpcbench only: every PMIx client connected
	fence    time.Duration // hpcbench only: first fence completed
	// outside is hpcbench only: the part of wall outside Report.Wall (first
	// spawn to last reap), i.e. job registration, deregistration, output.
	outside time.Duration
}

// own is the launcher's share of the wall time: what is left once the
// ranks' own time from main() to the end of MPI_Finalize is taken out.
func (s launchSample) own() time.Duration { return s.wall - s.span }

// BenchmarkLaunchVsMpirun launches Open MPI's hello (init, allreduce,
// barrier, finalize) at 1, 2, 4 and 8 ranks with hpcbench's launcher (PMIx
// served by this package) and with mpirun.openmpi, interleaved (the order
// alternates every repetition), and prints medians:
//
//	go test ./pmi/pmix -run '^$' -bench LaunchVsMpirun -launch-reps 12
//
// Both sides get the same MCA settings through the environment; mpirun is
// given --bind-to none because hpcbench does not bind by default, and both
// set mpi_yield_when_idle when oversubscribed (mpirun by itself, hpcbench
// through its rank settings).
func BenchmarkLaunchVsMpirun(b *testing.B) {
	mpirun := testenv.LookPath(b, "mpirun.openmpi", "install openmpi-bin")
	testenv.LookPath(b, "mpicc.openmpi", "install libopenmpi-dev")
	hello := filepath.Join(b.TempDir(), "hello_mpi")
	if out, err := exec.Command("mpicc.openmpi", "-O1", "-o", hello, "../testdata/hello_mpi.c").CombinedOutput(); err != nil {
		b.Fatalf("building hello_mpi: %v\n%s", err, out)
	}
	ourSide := func(n int) (launchSample, error) { return launchHpcbench(hello, n) }
	theirSide := func(n int) (launchSample, error) { return launchMpirun(mpirun, hello, n) }
	// Warm both up (page cache, the PMIx server's one-time start).
	for _, side := range []func(int) (launchSample, error){ourSide, theirSide} {
		if _, err := side(2); err != nil {
			b.Fatal(err)
		}
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\nOpen MPI hello, %d launches per cell, medians (interquartile range); MCA %s via env on both sides\n",
		*launchReps, strings.Join(benchMCA, " "))
	fmt.Fprintf(&table, "| ranks | hpcbench wall | mpirun wall | ratio | hpcbench all-in-MPI_Init | mpirun all-in-MPI_Init | hpcbench own share | mpirun own share | hpcbench outside spawn-to-reap | PMIx wire-up | first fence |\n")
	fmt.Fprintf(&table, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, field := range strings.Split(*launchRanks, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 1 {
			b.Fatalf("-launch-ranks: %q is not a rank count", field)
		}
		var ours, theirs []launchSample
		for i := range *launchReps {
			order := []bool{true, false}
			if i%2 == 1 {
				order = []bool{false, true}
			}
			for _, isOurs := range order {
				if isOurs {
					s, err := ourSide(n)
					if err != nil {
						b.Fatal(err)
					}
					ours = append(ours, s)
				} else {
					s, err := theirSide(n)
					if err != nil {
						b.Fatal(err)
					}
					theirs = append(theirs, s)
				}
			}
		}
		pick := func(ss []launchSample, f func(launchSample) time.Duration) []time.Duration {
			out := make([]time.Duration, len(ss))
			for i, s := range ss {
				out[i] = f(s)
			}
			return out
		}
		wall := func(s launchSample) time.Duration { return s.wall }
		initDone := func(s launchSample) time.Duration { return s.initDone }
		own := launchSample.own
		ourWall, theirWall := median(pick(ours, wall)), median(pick(theirs, wall))
		fmt.Fprintf(&table, "| %d | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", n,
			quart(pick(ours, wall)), quart(pick(theirs, wall)),
			float64(ourWall)/float64(theirWall),
			quart(pick(ours, initDone)), quart(pick(theirs, initDone)),
			quart(pick(ours, own)), quart(pick(theirs, own)),
			quart(pick(ours, func(s launchSample) time.Duration { return s.outside })),
			quart(pick(ours, func(s launchSample) time.Duration { return s.wireUp })),
			quart(pick(ours, func(s launchSample) time.Duration { return s.fence })))
		b.ReportMetric(float64(ourWall)/float64(theirWall), fmt.Sprintf("ratio@%d", n))
		b.ReportMetric(float64(median(pick(ours, own)))/1e6, fmt.Sprintf("own-ms@%d", n))
	}
	fmt.Fprint(os.Stdout, table.String())
}

func launchHpcbench(hello string, n int) (launchSample, error) {
	var stdout, stderr bytes.Buffer
	start := time.Now()
	rep, err := pmi.Launch(context.Background(), pmi.Options{
		Ranks: n, PMI: pmi.PMIx, Argv: []string{hello},
		Env:    append([]string{"HELLO_TIMING=1"}, benchMCA...),
		Stdout: &stdout, Stderr: &stderr, Timeout: time.Minute,
	})
	wall := time.Since(start)
	if err != nil {
		return launchSample{}, fmt.Errorf("hpcbench launch of %d ranks: %w", n, err)
	}
	if !rep.OK() {
		return launchSample{}, fmt.Errorf("hpcbench launch of %d ranks: %s\n%s", n, rep.Reason, stderr.String())
	}
	s, err := rankTimes(stdout.String(), n, start, wall)
	s.wireUp, s.fence, s.outside = rep.WireUp, rep.FirstFence, wall-rep.Wall
	return s, err
}

func launchMpirun(mpirun, hello string, n int) (launchSample, error) {
	cmd := exec.Command(mpirun, "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
		"-np", strconv.Itoa(n), "-x", "HELLO_TIMING", hello)
	cmd.Env = append(append(os.Environ(), "HELLO_TIMING=1"), benchMCA...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return launchSample{}, fmt.Errorf("mpirun of %d ranks: %v\n%s", n, err, stderr.String())
	}
	return rankTimes(stdout.String(), n, start, wall)
}

// rankTimes reads hello_mpi's "timing rank=R init_start=NS init_end=NS
// finalize_end=NS" lines (CLOCK_REALTIME).
func rankTimes(out string, n int, start time.Time, wall time.Duration) (launchSample, error) {
	var first, lastInit, lastFin int64
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, "timing ")
		if !ok {
			continue
		}
		v := map[string]int64{}
		for _, f := range strings.Fields(rest) {
			k, val, _ := strings.Cut(f, "=")
			v[k], _ = strconv.ParseInt(val, 10, 64)
		}
		if seen == 0 || v["init_start"] < first {
			first = v["init_start"]
		}
		lastInit = max(lastInit, v["init_end"])
		lastFin = max(lastFin, v["finalize_end"])
		seen++
	}
	if seen != n {
		return launchSample{}, fmt.Errorf("%d of %d ranks printed timing lines:\n%s", seen, n, out)
	}
	return launchSample{
		wall:     wall,
		initDone: time.Duration(lastInit - start.UnixNano()),
		span:     time.Duration(lastFin - first),
	}, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// quart formats the median and the interquartile range in milliseconds.
func quart(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return fmt.Sprintf("%.1f ms (%.1f-%.1f)", ms(s[len(s)/2]), ms(s[len(s)/4]), ms(s[(3*len(s))/4]))
}
