// Package resultstest makes deterministic synthetic studies for tests,
// golden images and benchmarks of the results packages.
package resultstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hpcbench/hpcbench/results"
)

// Host is the synthetic studies' host.
var Host = results.Host{Hostname: "synth1", CPUModel: "Synthetic CPU 2.0GHz", Cores: 8, MemoryBytes: 32 << 30, Kernel: "6.1.0-synthetic"}

// Options shape a synthetic study.
type Options struct {
	Name       string
	Seed       uint64
	Benchmarks []string // default cg, ep, is
	Ranks      []int    // default 1, 2, 4, 8
	Reps       int      // default 5
	// Overhead is the true relative slowdown per runtime (0.04 = 4% slower);
	// default docker 4%, podman 2%, apptainer 0.
	Overhead map[string]float64
	// Noise is the relative standard deviation of a run; default 0.5%.
	Noise float64
	// PMIs are the PMI flavours every cell runs under; default pmi1
	// (with MPICH) and pmix (with Open MPI).
	PMIs []string
	// MPI, when set, is the MPI library of every flavour, so that the
	// study holds PMI comparisons.
	MPI string
	// SplitWireUp gives the runs a container start and a PMI exchange
	// (left 0 otherwise, as in runs stored before they were measured).
	SplitWireUp bool
}

type spec struct{ runtime, layout string }

// Study returns a study with runs for native and three container runtimes,
// over benchmarks, rank counts and PMI flavours, plus a few failures,
// invalid runs, warm-ups and skipped cells. The same options give the same
// data.
func Study(o Options) (results.Study, []results.Run, []results.Skip) {
	if o.Name == "" {
		o.Name = "synthetic"
	}
	if o.Benchmarks == nil {
		o.Benchmarks = []string{"cg", "ep", "is"}
	}
	if o.Ranks == nil {
		o.Ranks = []int{1, 2, 4, 8}
	}
	if o.Reps == 0 {
		o.Reps = 5
	}
	if o.Overhead == nil {
		o.Overhead = map[string]float64{"docker": 0.04, "podman": 0.02, "apptainer": 0}
	}
	if o.Noise == 0 {
		o.Noise = 0.005
	}
	rng := rand.New(rand.NewPCG(o.Seed, 99))
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	study := results.Study{Name: o.Name, Created: t0, Seed: int64(o.Seed), Version: "v0.0.0-synthetic",
		Config: "[matrix]\nbenchmarks = [\"cg\", \"ep\", \"is\"]\nruntimes = [\"native\", \"docker\", \"podman\", \"apptainer\"]\nrepetitions = 5\n"}
	base := map[string]float64{"cg": 3.2, "ep": 5.0, "is": 0.8, "mg": 2.1, "ft": 4.4, "lu": 9.0, "hpl": 12.0}
	specs := []spec{{"native", ""}, {"docker", "per-rank"}, {"podman", "per-rank"}, {"apptainer", "per-rank"}}
	var runs []results.Run
	order := 0
	for _, b := range o.Benchmarks {
		t1, ok := base[b]
		if !ok {
			t1 = 1 + float64(len(b))
		}
		for _, ranks := range o.Ranks {
			pmis := o.PMIs
			if pmis == nil {
				pmis = []string{"pmi1", "pmix"}
			}
			for _, pmi := range pmis {
				mpi := map[string]string{"pmi1": "mpich", "pmi2": "mpich", "pmix": "openmpi"}[pmi]
				if o.MPI != "" {
					mpi = o.MPI
				}
				for _, sp := range specs {
					cell := results.Cell{Benchmark: b, Kind: "npb", Class: "S", MPI: mpi, MPIVersion: map[string]string{"mpich": "4.0.2", "openmpi": "4.1.4"}[mpi],
						PMI: pmi, Runtime: sp.runtime, Layout: sp.layout, Ranks: ranks, Bind: "core", Oversubscribed: ranks > Host.Cores}
					if sp.runtime != "native" {
						cell.RuntimeVersion = map[string]string{"docker": "20.10.24", "podman": "4.3.1", "apptainer": "1.3.4"}[sp.runtime]
						cell.Image = "hpcbench/npb-" + mpi + ":3.4.2"
						cell.ImageDigest = fmt.Sprintf("sha256:%064x", hash(cell.Image+sp.runtime))
					}
					cell.Key = cell.CanonicalKey()
					// Parallel efficiency falls off slowly with ranks.
					t := t1 / float64(ranks) * (1 + 0.05*float64(ranks-1))
					t *= 1 + o.Overhead[sp.runtime]
					wire := 0.004 * float64(ranks) * map[string]float64{"pmi1": 1, "pmi2": 1.2, "pmix": 1.6}[pmi]
					if sp.runtime != "native" {
						wire *= 3
					}
					for rep := -1; rep < o.Reps; rep++ {
						v := t * (1 + o.Noise*rng.NormFloat64())
						start := t0.Add(time.Duration(order) * time.Second)
						r := results.Run{Study: o.Name, Host: Host, Cell: cell, Repetition: rep, Warmup: rep < 0,
							Status: results.StatusOK, Metric: results.Metric{Name: "time", Value: v, Unit: "s"},
							Metrics: map[string]any{"time_s": v, "mops_total": 100 * t1 / v},
							Wall:    time.Duration((v + 0.2) * 1e9), WireUp: time.Duration(wire * (1 + 0.05*rng.NormFloat64()) * 1e9),
							FirstFence: time.Duration(wire * 1.3 * 1e9), ExitCodes: make([]int, ranks),
							Argv: []string{b + ".S.x"}, Env: map[string]string{"OMP_NUM_THREADS": "1"},
							Choices: map[string]string{"network": "host"}, Started: start, Finished: start.Add(time.Duration(v * 1e9)),
							Order: order, Seed: int64(o.Seed)}
						if o.SplitWireUp {
							// Containers start slower; the exchange follows the flavour.
							start := 0.002 * map[bool]float64{true: 1, false: 8}[sp.runtime == "native"]
							r.ContainerStart = time.Duration(start * (1 + 0.05*rng.NormFloat64()) * 1e9)
							r.PMIExchange = time.Duration(wire * 0.5 * (1 + 0.02*rng.NormFloat64()) * 1e9)
						}
						if rep < 0 {
							r.Repetition = 0
							r.Metric.Value *= 1.1
						}
						runs = append(runs, r)
						order++
					}
				}
			}
		}
	}
	// A few runs that went wrong, replacing ok ones so counts stay fixed.
	if len(runs) > 20 {
		runs[7].Status, runs[7].Reason = results.StatusFailed, "rank 1 exited 137"
		runs[13].Status, runs[13].Reason = results.StatusInvalid, "verification UNSUCCESSFUL"
		runs[19].Status, runs[19].Reason = results.StatusTimeout, "timeout after 10m0s"
	}
	skips := []results.Skip{
		{Study: o.Name, Host: Host.Hostname, Cell: results.Cell{Key: "cg-pmi2", Benchmark: "cg", Class: "S", PMI: "pmi2", MPI: "mpich", Runtime: "native", Ranks: 2},
			Reason: "no MPI on this host speaks pmi2 (Debian's MPICH speaks pmi1 only)"},
		{Study: o.Name, Host: Host.Hostname, Cell: results.Cell{Key: "is-3", Benchmark: "is", Class: "S", PMI: "pmi1", MPI: "mpich", Runtime: "docker", Layout: "per-rank", Ranks: 3},
			Reason: "IS needs a power-of-two rank count, not 3"},
	}
	return study, runs, skips
}

// Store writes a synthetic study into st, its runs in one transaction.
func Store(st *results.Store, study results.Study, runs []results.Run, skips []results.Skip) error {
	ctx := context.Background()
	if err := st.CreateStudy(ctx, study); err != nil {
		return err
	}
	if _, err := st.AddRuns(ctx, runs); err != nil {
		return err
	}
	for _, k := range skips {
		if err := st.AddSkip(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// StoreEach writes a synthetic study into st as a matrix does, each run
// in its own transaction.
func StoreEach(st *results.Store, study results.Study, runs []results.Run, skips []results.Skip) error {
	ctx := context.Background()
	if err := st.CreateStudy(ctx, study); err != nil {
		return err
	}
	for _, r := range runs {
		if _, err := st.AddRun(ctx, r); err != nil {
			return err
		}
	}
	for _, k := range skips {
		if err := st.AddSkip(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
