package main

import (
	"context"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/urfave/cli/v2"
)

// launching makes cmd a verb that launches ranks (launchcli.Launching)
// with the full program's housekeeping: the sweep of every runtime where
// the state folder says something may be left (runtimes.SweepIfNeeded,
// which HPCBENCH_SWEEP_CONTAINERS=0 turns off), and Docker's and
// Podman's pid namespace holders shared by the verb's jobs, one job at a
// time, removed before the launching record goes.
func launching(cmd *cli.Command, skip func(*cli.Context) bool, early bool) *cli.Command {
	return launchcli.Launching(cmd, skip, early, launchcli.Keeper{
		Sweep: sweepIfNeeded,
		Begin: runtimes.ReuseHolders,
		End:   func() error { return runtimes.ReleaseHolders(context.Background()) },
	})
}

// sweepIfNeeded removes the containers of every runtime whose hpcbench was
// killed, and the PMIx folders of killed processes, and says what it
// removed. A runtime that does not answer is no reason to stop: its
// leftovers wait for the next start or "hpcbench doctor --clean".
func sweepIfNeeded(c *cli.Context) func() {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	rec, containers, _, _ := runtimes.SweepIfNeeded(ctx)
	launchcli.Removed(c, containers)
	return rec.Done
}

// sweepCommand is the hidden verb the front program runs when its state
// folder says a sweep is needed: the sweep is launching's, the verb
// itself does nothing.
func sweepCommand() *cli.Command {
	return &cli.Command{
		Name:      "sweep",
		Hidden:    true,
		Usage:     "(run by hpcbench) remove what a killed hpcbench left, where the state folder says it may be left",
		UsageText: "hpcbench sweep",
		Action:    func(*cli.Context) error { return nil },
	}
}
