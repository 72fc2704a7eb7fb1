// Package matrix runs a study: it expands a config into cells, puts the
// runs in a seeded random order so that machine drift spreads over every
// cell, launches each run with a per-run time limit, parses what the
// benchmark printed and stores one row per run with its provenance.
//
//	configs.Expand ──> cells, skipped ──> schedule (warm-ups first, then the
//	measured runs, each group shuffled with the study's seed)
//	    │
//	    └─ for each run not yet in the store (--resume):
//	         launchRun: pmi.Launch natively or with a runtime's per-rank
//	                    wrapper, or one per-node container running
//	                    "hpcbench launch --report FILE"
//	         judge:     npb.ParseOutput -> status, reason, metric
//	         store:     results.AddRun, one transaction per run
//
// A failed, invalid or timed-out run is stored as such and the study goes
// on. An interrupted run is not stored, so --resume runs it again; every
// run already stored stays, and none is run twice.
package matrix

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/sentinel"
)

// Options describe one matrix run.
type Options struct {
	Config *configs.Config
	Store  *results.Store
	// Study names the study; empty derives "<config study name>-<date>"
	// (or, with Resume, picks the newest study of that config).
	Study  string
	Resume bool
	Filter configs.Filter
	// Inventory is what this node has; nil detects it.
	Inventory *inventory.Inventory
	// Progress receives the progress bar; nil shows none.
	Progress io.Writer
	// Log receives a line per failed or invalid run and the final summary;
	// nil discards them.
	Log io.Writer
	// Self is the hpcbench executable run inside per-node containers;
	// empty uses os.Executable().
	Self string
	// WorkRoot holds each run's fresh working folder (HPL.dat, hpccoutf.txt);
	// it must be visible at the same path inside containers. Empty uses the
	// system's temporary folder.
	WorkRoot string
	// KeepWork keeps the working folders of runs that did not succeed.
	KeepWork bool
	// Launcher starts the ranks instead of hpcbench's own launcher (srun
	// inside a Slurm allocation); nil uses hpcbench's. Per-node cells
	// always use hpcbench's, which runs inside their container.
	Launcher Launcher
}

// Summary counts what a matrix run did.
type Summary struct {
	Study   string
	Seed    int64
	Planned int // runs in the schedule, warm-ups included
	Resumed int // of those, already in the store
	Ran     int
	OK      int
	Invalid int
	Failed  int
	Timeout int
	Skipped int // impossible cells, stored with their reasons
}

func (s *Summary) String() string {
	return fmt.Sprintf("study %s: %d runs (%d ok, %d invalid, %d failed, %d timed out), %d already stored, %d cells skipped",
		s.Study, s.Ran, s.OK, s.Invalid, s.Failed, s.Timeout, s.Resumed, s.Skipped)
}

// ErrInterrupted is returned when the context was cancelled mid-study.
var ErrInterrupted = sentinel.ErrInterrupted

// Run runs the study the options describe.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	cfg := opts.Config
	if cfg == nil || opts.Store == nil {
		return nil, fmt.Errorf("matrix: a config and a store are required")
	}
	inv := opts.Inventory
	if inv == nil {
		inv = inventory.Detect(ctx, inventory.Options{NPBDirs: []string{cfg.Study.NPBDir}})
	}
	cells, skipped := configs.Expand(cfg, inv)
	if opts.Filter != nil {
		cells, skipped = opts.Filter.Apply(cells, skipped)
	}

	study, err := chooseStudy(ctx, opts)
	if err != nil {
		return nil, err
	}
	seed := studySeed(cfg)
	sum := &Summary{Study: study, Seed: seed, Planned: len(cells), Skipped: len(skipped)}
	if err := opts.Store.CreateStudy(ctx, results.Study{
		Name:    study,
		Seed:    seed,
		Config:  string(cfg.Source),
		Version: buildinfo.String(),
	}); err != nil {
		return nil, err
	}
	host := hostOf(inv)
	for _, s := range skipped {
		if err := opts.Store.AddSkip(ctx, results.Skip{Study: study, Host: host.Hostname, Cell: storeCell(s.Cell, inv, nil), Reason: s.Reason}); err != nil {
			return nil, err
		}
	}
	done, err := opts.Store.Done(ctx, study, host.Hostname)
	if err != nil {
		return nil, err
	}

	plan := schedule(cells, seed, cfg.Study.Order)
	var todo []scheduled
	for _, p := range plan {
		if done[results.DoneKey{CellKey: p.cell.Key(), Repetition: p.cell.Repetition, Warmup: p.cell.Warmup}] {
			sum.Resumed++
			continue
		}
		todo = append(todo, p)
	}

	if hasContainers(todo) {
		// Containers of an earlier hpcbench killed with SIGKILL would hold
		// cores and names; remove them before measuring anything.
		if removed, err := runtimes.CleanupLeftovers(ctx); err == nil && len(removed) > 0 && opts.Log != nil {
			fmt.Fprintf(opts.Log, "removed %d containers left by a killed hpcbench\n", len(removed))
		}
	}
	ex := &executor{opts: opts, inv: inv, host: host, study: study, seed: seed, images: map[string]imageResult{}}
	if err := ex.init(); err != nil {
		return nil, err
	}
	defer ex.close()
	bar := newProgress(opts.Progress, len(todo), sum)
	for _, p := range todo {
		if ctx.Err() != nil {
			break
		}
		run, err := ex.run(ctx, p)
		if ctx.Err() != nil {
			// The run in flight was killed by the interruption: not a
			// result, so it is not stored and --resume runs it again.
			break
		}
		if err != nil {
			return sum, err
		}
		if _, err := opts.Store.AddRun(ctx, run); err != nil {
			return sum, err
		}
		sum.Ran++
		switch run.Status {
		case results.StatusOK:
			sum.OK++
		case results.StatusInvalid:
			sum.Invalid++
		case results.StatusFailed:
			sum.Failed++
		case results.StatusTimeout:
			sum.Timeout++
		}
		if run.Status != results.StatusOK && opts.Log != nil {
			bar.clear()
			fmt.Fprintf(opts.Log, "%s %s: %s\n", run.Status, p.cell.RunID(), run.Reason)
		}
		bar.step()
	}
	bar.finish()
	if ctx.Err() != nil {
		return sum, fmt.Errorf("%w after %d of %d runs; the runs finished are stored; continue with: hpcbench matrix --resume --study %s %s",
			ErrInterrupted, sum.Ran, len(todo), study, cfg.File)
	}
	return sum, nil
}

// chooseStudy names the study. Resuming without a name picks the newest
// study made from a config of the same study name.
func chooseStudy(ctx context.Context, opts Options) (string, error) {
	if opts.Study != "" {
		return opts.Study, nil
	}
	base := opts.Config.Study.Name
	if base == "" {
		base = strings.TrimSuffix(filepath.Base(opts.Config.File), filepath.Ext(opts.Config.File))
	}
	if opts.Resume {
		infos, err := opts.Store.Studies(ctx)
		if err != nil {
			return "", err
		}
		var newest *results.StudyInfo
		for i := range infos {
			s := &infos[i]
			if (s.Name == base || strings.HasPrefix(s.Name, base+"-")) && (newest == nil || s.Created.After(newest.Created)) {
				newest = s
			}
		}
		if newest == nil {
			return "", fmt.Errorf("--resume: no study named %s or %s-* in %s; start one without --resume", base, base, opts.Store.Path())
		}
		return newest.Name, nil
	}
	return base + "-" + time.Now().Format("20060102-150405"), nil
}

// studySeed is the config's seed, or one derived from the study's name so
// a config without a seed still runs in a reproducible order.
func studySeed(cfg *configs.Config) int64 {
	if cfg.Study.Seed != 0 {
		return cfg.Study.Seed
	}
	h := fnv.New64a()
	io.WriteString(h, cfg.Study.Name)
	return int64(h.Sum64() >> 1)
}

type scheduled struct {
	cell  configs.Cell
	order int
}

// schedule orders the runs: every warm-up first, then every measured run;
// within each group a random permutation drawn from seed (or the config's
// order for order = "sequential").
func schedule(cells []configs.Cell, seed int64, order string) []scheduled {
	var warm, measured []configs.Cell
	for _, c := range cells {
		if c.Warmup {
			warm = append(warm, c)
		} else {
			measured = append(measured, c)
		}
	}
	if order != "sequential" {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x68706362656e6368))
		rng.Shuffle(len(warm), func(i, j int) { warm[i], warm[j] = warm[j], warm[i] })
		rng.Shuffle(len(measured), func(i, j int) { measured[i], measured[j] = measured[j], measured[i] })
	}
	out := make([]scheduled, 0, len(cells))
	for i, c := range append(warm, measured...) {
		out = append(out, scheduled{cell: c, order: i})
	}
	return out
}

func hasContainers(runs []scheduled) bool {
	for _, p := range runs {
		if !p.cell.IsNative() {
			return true
		}
	}
	return false
}

func hostOf(inv *inventory.Inventory) results.Host {
	h := results.ThisHost()
	if inv != nil {
		if inv.Host.CPUModel != "" {
			h.CPUModel = inv.Host.CPUModel
		}
		if inv.Host.Cores > 0 {
			h.Cores = inv.Host.Cores
		}
		if inv.Host.MemoryBytes > 0 {
			h.MemoryBytes = int64(inv.Host.MemoryBytes)
		}
		if inv.Host.Kernel != "" {
			h.Kernel = inv.Host.Kernel
		}
	}
	return h
}
