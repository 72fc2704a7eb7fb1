package launchcli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// Keeper is the housekeeping of a verb that launches ranks: the same in
// both programs (RuntimesKeeper); tests bring their own.
type Keeper struct {
	// Sweep removes what a killed hpcbench left behind, where something
	// may be left, and returns what the verb's clean end calls (nil for
	// nothing); it runs in the background.
	Sweep func(c *cli.Context) (done func())
	// Begin and End, where set, run before and after the verb's work:
	// End's error makes the end unclean.
	Begin func()
	End   func() error
}

// Launching makes cmd, a verb that launches ranks, first remove what a
// killed hpcbench left behind (k.Sweep), unless skip says this invocation
// launches nothing (a dry run). Containers hold cores and names, so they
// must go before anything is measured, whichever runtime the verb is
// about to use. "hpcbench launch" (early) lets the sweep run while it
// resolves its runtime and image, and waits for it (AwaitSweep) before it
// starts a rank; the other verbs wait before they begin. The verb's clean
// end calls what the sweep returned (removing the process's launching
// record: internal/launchstate), so that the next start need not sweep.
func Launching(cmd *cli.Command, skip func(*cli.Context) bool, early bool, k Keeper) *cli.Command {
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if skip != nil && skip(c) {
			return action(c)
		}
		s := startSweep(c, k.Sweep)
		if !early {
			s.wait()
		}
		if k.Begin != nil {
			k.Begin()
		}
		err := action(c)
		var endErr error
		if k.End != nil {
			endErr = k.End()
		}
		done := s.wait()
		if cleanEnd(err) && endErr == nil && done != nil {
			done()
		}
		return err
	}
	return cmd
}

// cleanEnd reports whether a verb that returned err ended as it meant to:
// it returned nothing, or an exit status (of ranks that failed, which the
// launching record weighs further).
func cleanEnd(err error) bool {
	if err == nil {
		return true
	}
	var ee *ExitError
	return errors.As(err, &ee)
}

// sweep is a sweep under way in the background.
type sweep struct {
	done chan struct{}
	end  func()
}

// sweepKey is where the app's metadata holds the sweep of the verb that
// runs, for AwaitSweep (tests run several apps in one process).
const sweepKey = "sweep"

// startSweep starts fn in the background.
func startSweep(c *cli.Context, fn func(*cli.Context) func()) *sweep {
	s := &sweep{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if fn != nil {
			s.end = fn(c)
		}
	}()
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[sweepKey] = s
	return s
}

// wait waits until the sweep is over, and returns what a clean end calls.
func (s *sweep) wait() func() {
	<-s.done
	return s.end
}

// AwaitSweep waits for the running verb's sweep, if any: a launch calls it
// before it starts a rank.
func AwaitSweep(c *cli.Context) {
	if s, ok := c.App.Metadata[sweepKey].(*sweep); ok {
		s.wait()
	}
}

// Removed says on the verb's error output what a sweep removed: the
// containers (named) and the PMIx folders of killed processes, which it
// removes itself (pmi.SweepLeftovers).
func Removed(c *cli.Context, containers []string) {
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
