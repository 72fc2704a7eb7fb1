package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
	"github.com/urfave/cli/v2"
)

var _ = extendMatrix([]cli.Flag{
	&cli.StringFlag{Name: "workdir", Usage: "make each run's working folder under `DIR` (must be visible at the same path in containers; default the system's temporary folder)"},
	&cli.BoolFlag{Name: "keep-work", Usage: "keep the working folders of runs that failed, for inspection"},
	&cli.IntFlag{Name: "blas-threads", Usage: "run HPL and HPCC ranks with `N` BLAS threads each (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS; overrides [study] blas_threads; default 1)"},
}, runMatrix)

// applyBLASThreads puts --blas-threads into the config and its cells, so
// that the local executor and Slurm job scripts both use it.
func applyBLASThreads(c *cli.Context, plan *matrixPlan) error {
	if !c.IsSet("blas-threads") {
		return nil
	}
	n := c.Int("blas-threads")
	if n < 1 {
		return usageError("matrix: --blas-threads %d: want 1 or more threads per rank", n)
	}
	if n > 1 && plan.Config.Study.Bind == "core" {
		return usageError("matrix: --blas-threads %d with bind = \"core\" in %s: each rank is pinned to one core, so its BLAS threads would share it; set bind = \"none\"", n, plan.Config.File)
	}
	plan.Config.Study.BLASThreads = n
	for i := range plan.Cells {
		if k := plan.Cells[i].Kind; k == configs.KindHPL || k == configs.KindHPCC {
			plan.Cells[i].BLASThreads = n
		}
	}
	return nil
}

// runMatrix runs the planned study: Ctrl-C stops it after killing the run
// in flight; what finished is stored and --resume continues.
func runMatrix(ctx context.Context, c *cli.Context, w io.Writer, opts matrixOptions, plan *matrixPlan) error {
	if err := applyBLASThreads(c, plan); err != nil {
		return err
	}
	switch c.String("executor") {
	case "", "local":
	case "slurm":
		return matrixOnSlurm(ctx, c, opts, plan)
	default:
		return usageError("matrix: --executor %q: %v", c.String("executor"), errExecutor)
	}
	launcher, err := matrixLauncher(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := results.Open(opts.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	mo := matrix.Options{
		Config:    plan.Config,
		Store:     st,
		Study:     opts.Study,
		Resume:    opts.Resume,
		Filter:    plan.Filter,
		Inventory: plan.Inventory,
		Log:       c.App.ErrWriter,
		WorkRoot:  c.String("workdir"),
		KeepWork:  c.Bool("keep-work"),
		Launcher:  launcher,
	}
	if !opts.Quiet {
		mo.Progress = c.App.ErrWriter
	}
	sum, err := matrix.Run(ctx, mo)
	if sum != nil {
		fmt.Fprintf(w, "%s\nresults in %s; see: hpcbench results show --db %s --study %s\n", sum, opts.DB, opts.DB, sum.Study)
	}
	return err
}
