// Command hpcbench measures what containers cost MPI benchmarks: it runs NPB
// and HPL natively and inside Docker, Podman and Apptainer under PMI-1,
// PMI-2 or PMIx, stores every result with its provenance and reports the
// overhead against native runs.
//
// This is the full program, installed as hpcbench-full: every verb. The
// front program users type (cmd/hpcbench/front, installed as hpcbench)
// runs launches under PMI-1 and PMI-2 itself, native or in a container,
// and hands everything else to this one; the launch verb, its runtimes'
// housekeeping, the version and the argument order are shared between
// them (internal/launchcli).
//
// This package is the CLI only: each verb is a cli.Command built by a
// function in its own file (matrix.go has matrixCommand, with every flag
// of "hpcbench matrix"); the verb parses its flags into the options of a
// package and calls it.
package main

import (
	"fmt"
	"os"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// verbs builds every verb afresh, sorted by name, so that no flag value
// of one app reaches another (tests run several apps in one process).
// The verbs that launch ranks here first sweep what a killed hpcbench
// left (sweep.go).
func verbs() []*cli.Command {
	return []*cli.Command{
		launching(calibrateCommand(), nil, false),
		cmaProbeCommand(),
		completionCommand(),
		doctorCommand(),
		imageCommand(),
		kernelsCommand(),
		launching(launchCommand(), nil, true),
		launching(matrixCommand(), func(c *cli.Context) bool {
			return c.Bool("dry-run") || c.String("executor") == "slurm"
		}, false),
		parseCommand(),
		plotCommand(),
		reportCommand(),
		resultsCommand(),
		slurmCommand(),
		launchcli.VersionCommand(),
	}
}

// exitError carries an exit status through urfave/cli to main.
type exitError = launchcli.ExitError

// usageError marks an error the user made on the command line or in a
// config file: hpcbench exits with status 2 for it.
func usageError(format string, a ...any) error { return launchcli.Usage(format, a...) }

func newApp() *cli.App {
	cmds := verbs()
	withCompletion(cmds)
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
		Version:         launchcli.Version(),
		Commands:        cmds,
		HideHelpCommand: true,
		// hpcbench completion prints the scripts that use it.
		EnableBashCompletion: true,
		Writer:               os.Stdout,
		ErrWriter:            os.Stderr,
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
	args, err := os.Args, error(nil)
	if n := len(os.Args); n < 2 || os.Args[n-1] != completionFlag {
		// A completion request is a partial command line: taken as typed.
		args, err = launchcli.ReorderArgs(app, os.Args)
	}
	if err == nil {
		err = app.Run(args)
	}
	return launchcli.ExitStatus(err)
}
