// Command hpcbench measures what containers cost MPI benchmarks: it runs NPB
// and HPL natively and inside Docker, Podman and Apptainer under PMI-1,
// PMI-2 or PMIx, stores every result with its provenance and reports the
// overhead against native runs.
//
// This package is the CLI only: each verb is a cli.Command in its own file
// that registers itself with register() and calls into a package.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// commands holds every verb; each verb's file adds itself in init().
var commands []*cli.Command

func register(c *cli.Command) { commands = append(commands, c) }

// exitError carries an exit status through urfave/cli to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks an error the user made on the command line or in a
// config file: hpcbench exits with status 2 for it.
func usageError(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}

func newApp() *cli.App {
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
	return &cli.App{
		Name:  "hpcbench",
		Usage: "what do containers cost MPI benchmarks? (NPB and HPL, native vs Docker, Podman, Apptainer, under PMI-1, PMI-2 and PMIx)",
		Description: `hpcbench runs a matrix of MPI benchmark cells (runtime x benchmark x class
x MPI library x PMI flavour x layout x ranks x repetitions), stores every
result with its provenance in a SQLite file, and reports each container
runtime's overhead against native runs, with confidence intervals.

Typical session:
   hpcbench doctor                          what this node has
   hpcbench matrix --dry-run configs/quick.toml   the cells, and the skipped ones with reasons
   hpcbench matrix configs/quick.toml       run them, store in ./hpcbench.db
   hpcbench results show                    ratios to native with intervals and verdicts
   hpcbench report -o report.pdf            the PDF for your management

Flags may be given before or after the arguments.`,
		Version:         versionString(),
		Commands:        commands,
		HideHelpCommand: true,
		Writer:          os.Stdout,
		ErrWriter:       os.Stderr,
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func main() {
	code := run()
	// A launch's PMIx server lives as long as the process: finalise it and
	// remove its folder however the verb ended. The verbs that launch turn
	// SIGINT and SIGTERM into a cancelled context and return through here.
	if err := pmi.Shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "hpcbench: %v\n", err)
	}
	os.Exit(code)
}

// run runs the verb the command line names and returns the exit status.
func run() int {
	app := newApp()
	args, err := reorderArgs(app, os.Args)
	if err == nil {
		err = app.Run(args)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "hpcbench: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) && ce.ExitCode() != 0 {
		return ce.ExitCode()
	}
	return 1
}
