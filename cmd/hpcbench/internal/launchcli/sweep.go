package launchcli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/urfave/cli/v2"
)

// Launching makes cmd, a verb that launches ranks, first remove what a
// killed hpcbench left behind (Sweep), unless skip says this
// invocation launches nothing (a dry run). Containers hold cores and
// names, so they must go before anything is measured, whichever runtime
// the verb is about to use.
func Launching(cmd *cli.Command, skip func(*cli.Context) bool) *cli.Command {
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if skip == nil || !skip(c) {
			Sweep(c)
		}
		return action(c)
	}
	return cmd
}

// Sweep removes the containers of every runtime whose hpcbench
// was killed (runtimes.SweepLeftovers, which HPCBENCH_SWEEP_CONTAINERS=0
// turns off) and the PMIx folders of killed processes, and says what it
// removed. A runtime that does not answer is no reason to stop: its
// leftovers wait for the next start or "hpcbench doctor --clean".
func Sweep(c *cli.Context) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	containers, _ := runtimes.SweepLeftovers(ctx)
	if len(containers) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "hpcbench %s: removed %d container(s) left by a killed hpcbench: %s\n",
			c.Command.Name, len(containers), strings.Join(containers, ", "))
	}
	if folders := pmi.SweepLeftovers(); len(folders) > 0 {
		names := make([]string, len(folders))
		for i, f := range folders {
			names[i] = filepath.Base(f)
		}
		fmt.Fprintf(c.App.ErrWriter, "hpcbench %s: removed %d folder(s) left by a killed hpcbench: %s\n",
			c.Command.Name, len(folders), strings.Join(names, ", "))
	}
}
