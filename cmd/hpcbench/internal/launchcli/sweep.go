package launchcli

import (
	"context"
	"errors"
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
// the verb is about to use. "hpcbench launch" (early) lets the sweep run
// while it resolves its runtime and image, and waits for it
// (AwaitSweep) before it starts a rank; the other verbs wait before they
// begin. The verb's clean end removes its launching record (see
// runtimes.SweepIfNeeded), so that the next start need not sweep.
func Launching(cmd *cli.Command, skip func(*cli.Context) bool, early bool) *cli.Command {
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if skip != nil && skip(c) {
			return action(c)
		}
		s := startSweep(c)
		if !early {
			s.wait()
		}
		// The verb's jobs share Docker's and Podman's pid namespace
		// holders, one job at a time; they go before the record does.
		runtimes.ReuseHolders()
		err := action(c)
		herr := runtimes.ReleaseHolders(context.Background())
		rec := s.wait()
		if cleanEnd(err) && herr == nil {
			rec.Done()
		}
		return err
	}
	return cmd
}

// cleanEnd reports whether a verb that returned err ended as it meant to:
// it returned nothing, or an exit status (of ranks that failed, which
// runtimes.Launching.Done weighs further).
func cleanEnd(err error) bool {
	if err == nil {
		return true
	}
	var ee *ExitError
	return errors.As(err, &ee)
}

// sweep is a sweep under way in the background.
type sweep struct {
	c    *cli.Context
	done chan struct{}
	rec  *runtimes.Launching
}

// sweepKey is where the app's metadata holds the sweep of the verb that
// runs, for AwaitSweep (tests run several apps in one process).
const sweepKey = "sweep"

// startSweep starts Sweep in the background.
func startSweep(c *cli.Context) *sweep {
	s := &sweep{c: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.rec = Sweep(c)
	}()
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[sweepKey] = s
	return s
}

// wait waits until the sweep is over, and returns the launching record.
func (s *sweep) wait() *runtimes.Launching {
	<-s.done
	return s.rec
}

// AwaitSweep waits for the running verb's sweep, if any: a launch calls it
// before it starts a container.
func AwaitSweep(c *cli.Context) {
	if s, ok := c.App.Metadata[sweepKey].(*sweep); ok {
		s.wait()
	}
}

// Sweep removes the containers of every runtime whose hpcbench
// was killed (runtimes.SweepIfNeeded, which skips it when the state
// folder shows that no such hpcbench ran since the last sweep, and which
// HPCBENCH_SWEEP_CONTAINERS=0 turns off) and the PMIx folders of killed
// processes, and says what it removed. A runtime that does not answer is
// no reason to stop: its leftovers wait for the next start or "hpcbench
// doctor --clean".
func Sweep(c *cli.Context) *runtimes.Launching {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	rec, containers, _, _ := runtimes.SweepIfNeeded(ctx)
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
	return rec
}
