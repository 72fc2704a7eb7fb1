package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hpcbench/hpcbench/calibrate"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
	"github.com/urfave/cli/v2"
)

// calibrateCommand is "hpcbench calibrate".
func calibrateCommand() *cli.Command {
	return &cli.Command{
		Name:      "calibrate",
		Usage:     "check the statistics against known answers: a kernel natively vs the same kernel with injected overheads",
		UsageText: "hpcbench calibrate [--overheads 0,1,2,5] [--repetitions N|auto] [--max-repetitions N] [--target-ci F] [--budget D] [--seed S] [--db FILE] [--json] [--benchmark ep] [--class S]",
		Description: `Runs one of the project's kernels natively and, as separate cells, with each
overhead injected (HPCBENCH_KERNEL_EXTRA makes its timed section exactly that
much longer), through the same planning, interleaved schedule, store and
statistics as a container study: each injected cell is compared with the
native one as a container cell would be. Prints one row per overhead: the
overhead injected, the one measured with its 95% interval, the verdict and
the valid runs (injected/native). A sound setup calls 0% equivalent (or
inconclusive), never slower, and finds the larger overheads slower with
intervals that hold the injected value. Needs the kernels (make kernels).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "overheads", Value: "0,1,2,5", Usage: "injected overheads in `PERCENT`, comma-separated"},
			&cli.StringFlag{Name: "repetitions", Value: "auto", Usage: "measured runs per cell: `N`, or auto (adaptive: from 5 up to 30 runs until each comparison is decided and its 95% interval within ±1%)"},
			&cli.IntFlag{Name: "max-repetitions", Usage: "with --repetitions auto: at most `N` measured runs per cell (default 30)"},
			&cli.Float64Flag{Name: "target-ci", Usage: "with --repetitions auto: the half-width of the 95% interval aimed for, as a `FRACTION` (default 0.01)"},
			&cli.DurationFlag{Name: "budget", Usage: "with --repetitions auto: start no round once the runs have taken `DURATION` (e.g. 30m)"},
			&cli.Int64Flag{Name: "seed", Usage: "seed of the run order and the bootstrap (default: from the study's name)"},
			&cli.StringFlag{Name: "db", Value: "hpcbench.db", Usage: "SQLite `FILE` the runs go to"},
			&cli.StringFlag{Name: "study", Usage: "store the runs under `NAME` (default calibrate- and the date and time)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per overhead (injected, measured, ci_low, ci_high in percent; verdict; runs)"},
			&cli.StringFlag{Name: "benchmark", Value: "ep", Usage: "the kernel: ep, is, cg or mg"},
			&cli.StringFlag{Name: "class", Value: "S", Usage: "its problem class: S, W or A"},
			&cli.StringFlag{Name: "mpi", Value: "mpich", Usage: "mpich (under PMI-1) or openmpi (under PMIx)"},
			&cli.IntFlag{Name: "ranks", Value: 1, Usage: "ranks per run"},
			&cli.StringFlag{Name: "kernels", Usage: "folder of the built kernels (default npb/kernels/build)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
		},
		Action: runCalibrate,
	}
}

func runCalibrate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("calibrate: no arguments expected (got %q)", c.Args().Slice())
	}
	o := calibrate.Options{Seed: c.Int64("seed"), Study: c.String("study"), Benchmark: c.String("benchmark"),
		Class: c.String("class"), MPI: c.String("mpi"), Ranks: c.Int("ranks"), KernelDir: c.String("kernels")}
	for _, f := range strings.Split(c.String("overheads"), ",") {
		x, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(f), "%"), 64)
		if err != nil {
			return usageError("calibrate: --overheads %q: %q is not a number of percent", c.String("overheads"), f)
		}
		o.Overheads = append(o.Overheads, x)
	}
	if r := c.String("repetitions"); r != "auto" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			return usageError("calibrate: --repetitions %q: want a number of runs (at least 1) or auto", r)
		}
		o.Repetitions = n
		for _, f := range []string{"max-repetitions", "target-ci", "budget"} {
			if c.IsSet(f) {
				return usageError("calibrate: --%s is for --repetitions auto only", f)
			}
		}
	}
	o.MaxRepetitions, o.TargetCI, o.Budget = c.Int("max-repetitions"), c.Float64("target-ci"), c.Duration("budget")
	if o.Ranks < 1 {
		return usageError("calibrate: --ranks %d: want at least 1", o.Ranks)
	}
	if _, err := calibrate.Config(o); err != nil {
		if errors.Is(err, calibrate.ErrOptions) {
			return usageError("%v", err)
		}
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := results.Open(c.String("db"))
	if err != nil {
		return err
	}
	defer st.Close()
	local := &matrix.Local{Log: c.App.ErrWriter}
	if !c.Bool("quiet") && !c.Bool("json") {
		local.Progress = c.App.ErrWriter
	}
	res, err := calibrate.Run(ctx, o, local, st)
	if errors.Is(err, calibrate.ErrOptions) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return calibrate.WriteJSON(c.App.Writer, res.Rows)
	}
	fmt.Fprintf(c.App.Writer, "%s\n\n", res.Summary)
	if err := calibrate.WriteTable(c.App.Writer, res.Rows); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "\nmeasured: how much longer the injected runs took (ratio of medians); runs: valid runs injected/native\nsee: hpcbench results show --db %s --study %s\n", c.String("db"), res.Study)
	return nil
}
