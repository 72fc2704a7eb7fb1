package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/results"
	"github.com/urfave/cli/v2"
)

var _ = extendMatrix([]cli.Flag{
	&cli.StringFlag{Name: "workdir", Usage: "make each run's working folder under `DIR` (must be visible at the same path in containers; default the system's temporary folder)"},
	&cli.BoolFlag{Name: "keep-work", Usage: "keep the working folders of runs that failed, for inspection"},
}, runMatrix)

// runMatrix runs the planned study: Ctrl-C stops it after killing the run
// in flight; what finished is stored and --resume continues.
func runMatrix(ctx context.Context, c *cli.Context, w io.Writer, opts matrixOptions, plan *matrixPlan) error {
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
