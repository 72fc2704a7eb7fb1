package runtimes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
)

// ratio prints v/base with two decimals, "-" when either is missing.
func ratio(v, base float64) string {
	if v == 0 || base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v/base)
}

// benchSettings are the runtime tables' rounds and MPIs:
// HPCBENCH_BENCH_ROUNDS (default 5) and HPCBENCH_BENCH_MPI (default mpich;
// a comma-separated list).
func benchSettings() (rounds int, mpis []string) {
	rounds = 5
	if v, err := strconv.Atoi(os.Getenv("HPCBENCH_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	mpis = []string{"mpich"}
	if v := os.Getenv("HPCBENCH_BENCH_MPI"); v != "" {
		mpis = strings.Split(v, ",")
	}
	return rounds, mpis
}

// BenchmarkRuntimeTable compares the runtimes side by side: the cost of
// starting one rank in a container (a trivial MPI program: init and
// finalize), and the pingpong kernel's 8-byte latency and 1 MiB bandwidth
// per runtime and layout, each also as a ratio to native measured in the
// same run. Per-rank and bind layouts are compared with native ranks
// started by hpcbench's launcher; per-node with native "hpcbench launch"
// run as a process (the start then includes starting hpcbench). Cells are
// interleaved round by round, so that the drift of a shared machine
// spreads over all of them; medians are printed.
//
//	go test ./runtimes -run '^$' -bench RuntimeTable -benchtime 1x
//
// HPCBENCH_BENCH_ROUNDS (default 5) sets the rounds, HPCBENCH_BENCH_MPI
// (default mpich) the MPIs, e.g. "mpich,openmpi".
func BenchmarkRuntimeTable(b *testing.B) {
	rounds, mpis := benchSettings()
	type cell struct {
		rt     Runtime
		mpi    string
		layout Layout
		spec   Spec
		w      Wrapper
		start  []float64 // seconds, one rank of "probe true"
		lat    []float64 // microseconds
		bw     []float64 // MB/s
	}
	var cells []*cell
	for _, name := range conformanceRuntimes(b) {
		rt, err := Get(name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Detect(b.Context()); err != nil {
			testenv.Missingf(b, "%s not available here, left out: %v", name, err)
			continue
		}
		for _, mpi := range mpis {
			layouts := []Layout{PerRank, Bind, PerNode}
			if name == "native" {
				layouts = []Layout{PerRank, PerNode}
			}
			for _, layout := range layouts {
				c := &cell{rt: rt, mpi: mpi, layout: layout, spec: specFor(b, rt, mpi, layout)}
				if layout != PerNode {
					if c.w, err = rt.Wrapper(context.Background(), c.spec); err != nil {
						b.Fatal(err)
					}
				}
				cells = append(cells, c)
			}
		}
	}
	for round := 0; round < rounds; round++ {
		for _, c := range cells {
			flavour := mpiFlavour[c.mpi]
			if c.layout != PerNode {
				res := launchJob(b, c.w, flavour, 1, []string{probe(b, c.mpi), "true"}, benchTimeout)
				if res.err != nil {
					b.Fatalf("%s %s start: %v\n%s", c.rt.Name(), c.layout, res.err, res.stderr)
				}
				if res.rep.OK() {
					c.start = append(c.start, res.rep.Wall.Seconds())
				} else {
					b.Logf("%s %s round %d: start failed (sample left out): %s\n%s", c.rt.Name(), c.layout, round, res.rep.Reason, res.stderr)
				}
			} else if v := nodeStart(b, c.rt, c.spec, c.mpi); v > 0 {
				c.start = append(c.start, v)
			}
			out := pingpong(b, c.rt, c.spec, c.w, c.mpi)
			lat, _ := strconv.ParseFloat(epValue(out, "latency_8B_us"), 64)
			bw, _ := strconv.ParseFloat(epValue(out, "bandwidth_1MiB_MBps"), 64)
			if lat == 0 || bw == 0 {
				// A loaded machine can push a busy-polling pingpong past
				// its time limit: leave the sample out, say so.
				b.Logf("%s %s round %d: no pingpong figures:\n%s", c.rt.Name(), c.layout, round, out)
				continue
			}
			c.lat = append(c.lat, lat)
			c.bw = append(c.bw, bw)
		}
	}
	// The native baselines, per MPI: start per layout kind, pingpong
	// from native ranks.
	type baseline struct{ start, lat, bw float64 }
	native := map[string]*baseline{}
	for _, c := range cells {
		if c.rt.Name() != "native" {
			continue
		}
		key := c.mpi + "/" + string(c.layout)
		native[key] = &baseline{start: median(c.start), lat: median(c.lat), bw: median(c.bw)}
	}
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "runtime\tlayout\tmpi\tstart 1 rank (s)\tx native\t8 B latency (us)\tx native\t1 MiB bandwidth (MB/s)\tx native\tsamples start/pingpong\tPMI\t\n")
	for _, c := range cells {
		startBase, ppBase := native[c.mpi+"/"+string(PerRank)], native[c.mpi+"/"+string(PerRank)]
		if c.layout == PerNode {
			startBase = native[c.mpi+"/"+string(PerNode)]
		}
		if startBase == nil {
			startBase = &baseline{}
		}
		if ppBase == nil {
			ppBase = &baseline{}
		}
		start := "-"
		if len(c.start) > 0 {
			start = fmt.Sprintf("%.3f", median(c.start))
		}
		channel := "fd"
		if c.w != nil {
			channel = string(c.w.Channel())
		}
		if c.mpi == "openmpi" {
			channel = "pmix"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%.0f\t%s\t%d/%d\t%s\t\n", c.rt.Name(), c.layout, c.mpi,
			start, ratio(median(c.start), startBase.start),
			median(c.lat), ratio(median(c.lat), ppBase.lat),
			median(c.bw), ratio(median(c.bw), ppBase.bw),
			len(c.start), len(c.lat), channel)
	}
	tw.Flush()
	b.Logf("medians of %d interleaved rounds:\n%s", rounds, sb.String())
	fmt.Println(sb.String())
}

// pingpong runs the pingpong kernel on 2 ranks in cell's layout and returns
// its output.
func pingpong(b *testing.B, rt Runtime, spec Spec, w Wrapper, mpi string) string {
	b.Helper()
	pp := kernel(b, mpi, "pingpong")
	flavour := mpiFlavour[mpi]
	if spec.Layout != PerNode {
		res := launchJob(b, w, flavour, 2, []string{pp}, benchTimeout)
		if res.err != nil {
			b.Fatalf("%s %s pingpong: %v\n%s", rt.Name(), spec.Layout, res.err, res.stderr)
		}
		if !res.rep.OK() {
			return res.rep.Reason + "\n" + res.stderr
		}
		return res.stdout
	}
	dir := workDir(b)
	job := pmi.Job{ID: newJobID(b), Ranks: 2, PMI: flavour}
	cmd := &pmi.RankCommand{Argv: []string{hpcbenchBinary(b), "launch", "-n", "2", "--pmi", string(flavour), "-q",
		"--report", filepath.Join(dir, "report.json"), "--", pp}, Env: os.Environ(), Dir: dir, CPU: -1}
	if err := rt.WrapNode(context.Background(), spec, job, cmd); err != nil {
		b.Fatal(err)
	}
	defer rt.Cleanup(context.Background(), job)
	out, err := runNode(cmd)
	if err != nil {
		return fmt.Sprintf("per-node pingpong: %v\n%s", err, out)
	}
	return string(out)
}

// benchTimeout bounds one launch of the benchmark: a launch that hangs
// loses its sample rather than the whole table.
const benchTimeout = 2 * time.Minute

// runNode runs a per-node command line, killing its process group after
// benchTimeout.
func runNode(cmd *pmi.RankCommand) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Argv[0], cmd.Argv[1:]...)
	c.Env, c.Dir = cmd.Env, cmd.Dir
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	return c.CombinedOutput()
}

// nodeStart runs "hpcbench launch -n 1 -- probe true" in cell's per-node
// container and returns the whole command's wall time in seconds.
func nodeStart(b *testing.B, rt Runtime, spec Spec, mpi string) float64 {
	b.Helper()
	flavour := mpiFlavour[mpi]
	dir := workDir(b)
	job := pmi.Job{ID: newJobID(b), Ranks: 1, PMI: flavour}
	cmd := &pmi.RankCommand{Argv: []string{hpcbenchBinary(b), "launch", "-n", "1", "--pmi", string(flavour), "-q",
		"--report", filepath.Join(dir, "report.json"), "--", probe(b, mpi), "true"}, Env: os.Environ(), Dir: dir, CPU: -1}
	if err := rt.WrapNode(context.Background(), spec, job, cmd); err != nil {
		b.Fatal(err)
	}
	defer rt.Cleanup(context.Background(), job)
	start := time.Now()
	out, err := runNode(cmd)
	if err != nil {
		b.Logf("%s per-node start: %v (sample left out)\n%s", rt.Name(), err, out)
		return 0
	}
	return time.Since(start).Seconds()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkIsolationTable compares private isolation (the default) with
// host isolation per container runtime, per-rank layout: the start of one
// rank (a trivial MPI program) and the pingpong kernel's 8-byte latency
// and 1 MiB bandwidth, each private figure also as a ratio to its
// host-isolation peer measured in the same run. Cells are interleaved
// round by round; medians are printed.
//
//	go test ./runtimes -run '^$' -bench IsolationTable -benchtime 1x
//
// HPCBENCH_BENCH_ROUNDS (default 5) sets the rounds, HPCBENCH_BENCH_MPI
// (default mpich) the MPIs, e.g. "mpich,openmpi".
func BenchmarkIsolationTable(b *testing.B) {
	rounds, mpis := benchSettings()
	type cell struct {
		rt             Runtime
		mpi            string
		iso            Isolation
		w              Wrapper
		start, lat, bw []float64
	}
	var cells []*cell
	for _, name := range conformanceRuntimes(b) {
		if name == "native" {
			continue
		}
		rt, err := Get(name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.Detect(b.Context()); err != nil {
			testenv.Missingf(b, "%s not available here, left out: %v", name, err)
			continue
		}
		for _, mpi := range mpis {
			for _, iso := range []Isolation{IsolationHost, IsolationPrivate} {
				spec := specFor(b, rt, mpi, PerRank)
				spec.Isolation = iso
				w, err := rt.Wrapper(context.Background(), spec)
				if err != nil {
					b.Fatal(err)
				}
				cells = append(cells, &cell{rt: rt, mpi: mpi, iso: iso, w: w})
			}
		}
	}
	for round := 0; round < rounds; round++ {
		for _, c := range cells {
			res := launchJob(b, c.w, mpiFlavour[c.mpi], 1, []string{probe(b, c.mpi), "true"}, benchTimeout)
			if res.err != nil {
				b.Fatalf("%s %s start: %v\n%s", c.rt.Name(), c.iso, res.err, res.stderr)
			}
			if res.rep.OK() {
				c.start = append(c.start, res.rep.Wall.Seconds())
			} else {
				b.Logf("%s %s round %d: start failed (sample left out): %s\n%s", c.rt.Name(), c.iso, round, res.rep.Reason, res.stderr)
			}
			out := pingpong(b, c.rt, Spec{Layout: PerRank}, c.w, c.mpi)
			lat, _ := strconv.ParseFloat(epValue(out, "latency_8B_us"), 64)
			bw, _ := strconv.ParseFloat(epValue(out, "bandwidth_1MiB_MBps"), 64)
			if lat == 0 || bw == 0 {
				b.Logf("%s %s round %d: no pingpong figures:\n%s", c.rt.Name(), c.iso, round, out)
				continue
			}
			c.lat, c.bw = append(c.lat, lat), append(c.bw, bw)
		}
	}
	peer := map[string]*cell{}
	for _, c := range cells {
		if c.iso == IsolationHost {
			peer[c.rt.Name()+"/"+c.mpi] = c
		}
	}
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "runtime\tmpi\tisolation\tstart 1 rank (s)\tx host\t8 B latency (us)\tx host\t1 MiB bandwidth (MB/s)\tx host\tsamples start/pingpong\t\n")
	for _, c := range cells {
		h := peer[c.rt.Name()+"/"+c.mpi]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%.2f\t%s\t%.0f\t%s\t%d/%d\t\n", c.rt.Name(), c.mpi, c.iso,
			median(c.start), ratio(median(c.start), median(h.start)),
			median(c.lat), ratio(median(c.lat), median(h.lat)),
			median(c.bw), ratio(median(c.bw), median(h.bw)),
			len(c.start), len(c.lat))
	}
	tw.Flush()
	b.Logf("medians of %d interleaved rounds:\n%s", rounds, sb.String())
	fmt.Println(sb.String())
}
