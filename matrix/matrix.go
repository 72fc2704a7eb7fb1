// Package matrix turns a loaded config into a study and runs it: NewPlan
// makes the one Plan every executor runs, Local runs it on this node (the
// Slurm executor is package slurm's), and Schedule puts the runs in a
// seeded random order so that machine drift spreads over every cell.
//
//	configs.Load ──> Config
//	    │
//	NewPlan(ctx, cfg, Overrides{Study, BLASThreads, Filter}):
//	    inventory.Detect once ──> Expand ──> cells, skipped (with reasons)
//	    ──> Filter; Plan.Runtimes resolves each runtime and image once,
//	    for whichever executor asks
//	    │
//	Executor.Run(ctx, plan, store)
//	    ├─ Local: Schedule (warm-ups first, then the measured runs, each
//	    │         group shuffled with the study's seed); for each run not
//	    │         yet in the store (--resume):
//	    │           launchRun: pmi.Launch natively or with a runtime's
//	    │                      per-rank wrapper, or one per-node container
//	    │                      running "hpcbench launch --report FILE"
//	    │           judge:     npb.ParseOutput -> status, reason, metric
//	    │           store:     results.AddRun, one transaction per run
//	    │         then, for repetitions = "auto", adaptive rounds (adaptive.go):
//	    │           one more run of each cell of every undecided comparison,
//	    │           until decided, max_repetitions or [study] budget
//	    └─ slurm.Executor: batch scripts, sbatch, import of the jobs' results
//
// WritePlan prints a plan without running it (hpcbench matrix --dry-run).
// A failed, invalid or timed-out run is stored as such and the study goes
// on. An interrupted run is not stored, so --resume runs it again; every
// run already stored stays, and none is run twice. A run deferred because
// detection timed out (ErrSkipUnknown) is not stored either: the study
// ends incomplete (ErrIncomplete) and --resume runs it. A study killed
// before it was recorded is started by --resume.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/sentinel"
)

// Local runs a plan's cells on this node, one run at a time, in the
// order Schedule gives, and stores each run as it ends.
type Local struct {
	// Resume skips the runs the store already holds for this study and
	// host; without Plan.StudyGiven it continues the newest study of the
	// config, or starts the plan's when the store holds none.
	Resume bool
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
	// Deferred counts the runs left for a later --resume without being
	// stored or recorded as skipped: of cells whose detection could not
	// tell (a probe timed out), of cells that cannot run now though runs
	// of them are stored, and of runs whose runtime's detection timed out
	// when they came up. The study is not complete while any are left.
	Deferred int
	// Started says a --resume found no study of the config and started
	// one (a first run was killed before it recorded its study).
	Started bool
	// Rounds counts the rounds an adaptive study (repetitions = "auto")
	// added after its planned runs; their runs are in Planned too.
	Rounds int
}

func (s *Summary) String() string {
	text := fmt.Sprintf("study %s: %d runs (%d ok, %d invalid, %d failed, %d timed out), %d already stored, %d cells skipped",
		s.Study, s.Ran, s.OK, s.Invalid, s.Failed, s.Timeout, s.Resumed, s.Skipped)
	if s.Deferred > 0 {
		text += fmt.Sprintf(", %d runs deferred (--resume runs them)", s.Deferred)
	}
	if s.Rounds > 0 {
		text += fmt.Sprintf(", %d adaptive rounds", s.Rounds)
	}
	return text
}

// StudyName is the name the runs were stored under.
func (s *Summary) StudyName() string { return s.Study }

// ErrInterrupted is returned when the context was cancelled mid-study.
var ErrInterrupted = sentinel.ErrInterrupted

// ErrIncomplete is returned when a study ended with runs deferred
// (Summary.Deferred): every run that could be decided ran and is stored,
// and --resume runs the rest once detection can tell.
var ErrIncomplete = errors.New("study incomplete")

// Run is RunStudy as an Executor.
func (l *Local) Run(ctx context.Context, plan *Plan, store *results.Store) (StudyResult, error) {
	sum, err := l.RunStudy(ctx, plan, store)
	if sum == nil {
		return nil, err
	}
	return sum, err
}

// RunStudy runs the plan's cells into store and says what it did.
func (l *Local) RunStudy(ctx context.Context, plan *Plan, store *results.Store) (*Summary, error) {
	if plan == nil || store == nil {
		return nil, fmt.Errorf("matrix: a plan and a store are required")
	}
	// Images whose runtime asks for a check (a keyring, a pinned digest,
	// require_signed) are checked before anything runs; refused ones
	// become skipped cells with the reason.
	plan.CheckImages(ctx)
	cfg, inv, cells, skipped := plan.Config, plan.Inventory, plan.Cells, plan.Skipped
	study, started, err := chooseStudy(ctx, plan, l.Resume, store)
	if err != nil {
		return nil, err
	}
	seed := plan.Seed
	sum := &Summary{Study: study, Seed: seed, Planned: len(cells), Started: started}
	if started && l.Log != nil {
		fmt.Fprintf(l.Log, "--resume: %s holds no study of %s yet (none ran, or one was stopped before it recorded itself): starting %s\n",
			store.Path(), StudyBase(cfg), study)
	}
	if err := store.CreateStudy(ctx, results.Study{
		Name:    study,
		Seed:    seed,
		Config:  string(cfg.Source),
		Version: buildinfo.String(),
	}); err != nil {
		return nil, err
	}
	host := hostOf(inv)
	done, err := store.Done(ctx, study, host.Hostname)
	if err != nil {
		return nil, err
	}
	// Skips an earlier run recorded for cells that have runs now (one
	// stored by an older hpcbench, or by a run killed in between) say
	// something false about the study.
	if err := store.DropSkipsWithRuns(ctx, study); err != nil {
		return nil, err
	}
	if err := l.recordSkips(ctx, store, study, host.Hostname, inv, skipped, done, sum); err != nil {
		return nil, err
	}

	runs := schedule(cells, seed, cfg.Study.Order)
	var todo []scheduled
	for _, p := range runs {
		if done[results.DoneKey{CellKey: p.cell.Key(), Repetition: p.cell.Repetition, Warmup: p.cell.Warmup}] {
			sum.Resumed++
			continue
		}
		todo = append(todo, p)
	}

	if hasContainers(todo) {
		// Containers of an earlier hpcbench killed with SIGKILL would hold
		// cores and names; remove them before measuring anything.
		// A runtime that does not answer keeps its leftovers for later.
		if removed, _ := runtimes.SweepLeftovers(ctx); len(removed) > 0 && l.Log != nil {
			fmt.Fprintf(l.Log, "removed %d containers left by a killed hpcbench\n", len(removed))
		}
	}
	ex := &executor{local: l, inv: inv, host: host, study: study, seed: seed, runtimes: plan.Runtimes, maxRanks: plan.MaxRanks}
	if err := ex.init(); err != nil {
		return nil, err
	}
	defer ex.close()
	bar := newProgress(l.Progress, len(todo), sum)
	// runOne runs p and stores it; false when the study was interrupted
	// (the run in flight was killed: not a result, so it is not stored and
	// --resume runs it again).
	runOne := func(p scheduled) (bool, error) {
		run, err := ex.run(ctx, p)
		if ctx.Err() != nil {
			return false, nil
		}
		if errors.Is(err, ErrSkipUnknown) {
			// Not a result: stored, it would be taken for done.
			sum.Deferred++
			if l.Log != nil {
				bar.clear()
				fmt.Fprintf(l.Log, "deferred %s: %v\n", p.cell.RunID(), err)
			}
			bar.step()
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if _, err := store.AddRun(ctx, run); err != nil {
			return false, err
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
		if run.Status != results.StatusOK && l.Log != nil {
			bar.clear()
			fmt.Fprintf(l.Log, "%s %s: %s\n", run.Status, p.cell.RunID(), run.Reason)
		}
		bar.step()
		return true, nil
	}
	for _, p := range todo {
		if ctx.Err() != nil {
			break
		}
		if ok, err := runOne(p); err != nil {
			return sum, err
		} else if !ok {
			break
		}
	}
	bar.finish()
	// Rounds are decided on the planned runs; with some deferred, they
	// wait for the --resume that runs those.
	if cfg.Study.AutoRepetitions && ctx.Err() == nil && sum.Deferred == 0 {
		newBar := func(runs int) *progress {
			bar = newProgress(l.Progress, runs, sum)
			return bar
		}
		if err := l.adaptiveRounds(ctx, plan, store, study, sum, runOne, newBar); err != nil {
			return sum, err
		}
	}
	if ctx.Err() != nil {
		progress := fmt.Sprintf("%d of %d runs", sum.Ran, len(todo))
		if sum.Ran > len(todo) {
			progress = fmt.Sprintf("%d runs (%d planned, the rest added by adaptive rounds)", sum.Ran, len(todo))
		}
		return sum, fmt.Errorf("%w after %s; the runs finished are stored; continue with: hpcbench matrix --resume --study %s %s",
			ErrInterrupted, progress, study, cfg.File)
	}
	if sum.Deferred > 0 {
		return sum, fmt.Errorf("%w: %d runs deferred, as said above (detection could not tell whether they can run, or they cannot run now though runs of their cells are stored); the runs finished are stored; continue later with: hpcbench matrix --resume --study %s %s",
			ErrIncomplete, sum.Deferred, study, cfg.File)
	}
	return sum, nil
}

// recordSkips stores the plan's skipped cells (sum.Skipped counts them),
// except those that are not skips to record, which it counts in
// sum.Deferred and logs: cells detection could not decide
// (Skipped.Retry), and cells with runs stored already (done), whose runs
// show they can run here; the latter defer only the runs they still miss.
func (l *Local) recordSkips(ctx context.Context, store *results.Store, study, host string, inv *inventory.Inventory,
	skipped []Skipped, done map[results.DoneKey]bool, sum *Summary) error {
	stored := map[string]int{}
	for k := range done {
		stored[k.CellKey]++
	}
	for _, s := range skipped {
		key := s.Cell.Key()
		have := stored[key]
		switch {
		case s.Retry() || have > 0:
			missing := max(s.Runs-have, 0)
			if s.Runs == 0 && have == 0 {
				missing = 1 // a cell of unknown size: at least one run
			}
			if missing == 0 {
				continue // every run of it is stored: nothing is missing
			}
			sum.Deferred += missing
			if l.Log != nil {
				why := s.Reason
				if have > 0 && !s.Retry() {
					why = fmt.Sprintf("%d runs of it are stored, but it cannot run now: %s", have, s.Reason)
				}
				fmt.Fprintf(l.Log, "deferred %s (%d runs): %s\n", key, missing, why)
			}
		default:
			if err := store.AddSkip(ctx, results.Skip{Study: study, Host: host, Cell: storeCell(s.Cell, inv, nil), Reason: s.Reason}); err != nil {
				return err
			}
			sum.Skipped++
		}
	}
	return nil
}

// chooseStudy names the study: the plan's, or when resuming a study the
// plan was not given a name for, the newest study of the config (named
// StudyBase, or StudyBase and a date). When there is none, the first run
// was stopped before it recorded its study, so there is nothing to mix
// up: the plan's study starts (started is true).
func chooseStudy(ctx context.Context, plan *Plan, resume bool, store *results.Store) (name string, started bool, _ error) {
	if plan.StudyGiven || !resume {
		return plan.Study, false, nil
	}
	base := StudyBase(plan.Config)
	infos, err := store.Studies(ctx)
	if err != nil {
		return "", false, err
	}
	var newest *results.StudyInfo
	for i := range infos {
		s := &infos[i]
		if (s.Name == base || strings.HasPrefix(s.Name, base+"-")) && (newest == nil || s.Created.After(newest.Created)) {
			newest = s
		}
	}
	if newest == nil {
		return plan.Study, true, nil
	}
	return newest.Name, false, nil
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
	cell  Cell
	order int
}

// schedule orders the runs: every warm-up first, then every measured run;
// within each group a random permutation drawn from seed (or the config's
// order for order = "sequential").
func schedule(cells []Cell, seed int64, order string) []scheduled {
	var warm, measured []Cell
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

// Local is an Executor.
var _ Executor = (*Local)(nil)
