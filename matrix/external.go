package matrix

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/results"
)

// Launcher starts a cell's ranks with a process manager other than
// hpcbench's own: srun inside a Slurm allocation, where Slurm's PMI plugins
// serve the ranks. hpcbench then sees only how the launch ended, not the
// ranks' PMI traffic, so wire-up times stay empty and the benchmark's own
// process count is the check that no rank ran as a singleton.
type Launcher interface {
	// Name is recorded in the run's choices as "launcher".
	Name() string
	// Launch runs argv (the benchmark and its arguments) as cell c's ranks,
	// with env ("K=V") added, in the folder work, writing the ranks' output
	// to out. An error means the launch could not start at all.
	Launch(ctx context.Context, c Cell, argv, env []string, work string, out io.Writer) (Outcome, error)
}

// Outcome is how a launch by another process manager ended.
type Outcome struct {
	// Argv is the whole command line that ran (srun and its flags).
	Argv       []string
	ExitStatus int
	Wall       time.Duration
	// TimedOut is set when the launch was stopped at the cell's time limit.
	TimedOut bool
	// Reason says why a launch that exited non-zero failed, when the
	// launcher knows better than "exited N" (e.g. the step was cancelled).
	Reason string
	// Choices are what the launcher decided (launcher, srun_mpi, runtime
	// choices, ...).
	Choices map[string]string
}

// JudgeOutcome sets run's status, reason, wall time and metrics from how a
// launch by another process manager ended and what the benchmark printed
// (run.Output; for HPCC also hpccoutf.txt in work). It is the same judging
// hpcbench's own launches get after their PMI checks.
func JudgeOutcome(run *results.Run, c Cell, o Outcome, work string) {
	run.Wall = o.Wall
	switch {
	case o.TimedOut:
		run.Status, run.Reason = results.StatusTimeout, o.Reason
		if run.Reason == "" {
			run.Reason = "timeout after " + c.Timeout.String()
		}
	case o.ExitStatus != 0:
		run.Status, run.Reason = results.StatusFailed, o.Reason
		if run.Reason == "" {
			run.Reason = "the launch exited with status " + strconv.Itoa(o.ExitStatus)
		}
	default:
		judgeOutput(run, c, o.Wall, work)
	}
}

// StoreCell maps a config cell onto the store's record, with the MPI
// version inv knows; the caller fills in the runtime version and image
// digest it resolved.
func StoreCell(c Cell, inv *inventory.Inventory) results.Cell {
	return storeCell(c, inv, nil)
}

// Schedule puts cells in the order the study runs them (warm-ups first,
// then the measured runs, each group shuffled with the study's seed unless
// [study] order is "sequential") and returns the seed used.
func Schedule(cfg *configs.Config, cells []Cell) ([]Cell, int64) {
	seed := studySeed(cfg)
	plan := schedule(append([]Cell(nil), cells...), seed, cfg.Study.Order)
	out := make([]Cell, len(plan))
	for i, p := range plan {
		out[i] = p.cell
	}
	return out, seed
}

// launchExternal runs one cell through opts.Launcher and judges it.
func (ex *executor) launchExternal(ctx context.Context, run *results.Run, c Cell, argv, env []string, work string, out *limitedBuffer) {
	o, err := ex.local.Launcher.Launch(ctx, c, argv, env, work, out)
	run.Output = out.Bytes()
	if len(o.Argv) > 0 {
		run.Argv = o.Argv
	}
	if run.Choices == nil {
		run.Choices = map[string]string{}
	}
	for k, v := range o.Choices {
		run.Choices[k] = v
	}
	run.Choices["launcher"] = ex.local.Launcher.Name()
	if err != nil {
		run.Status, run.Reason = results.StatusFailed, err.Error()
		return
	}
	JudgeOutcome(run, c, o, work)
}
