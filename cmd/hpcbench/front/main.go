// Command hpcbench, the front program, is what users type: it runs
// "hpcbench launch" (natively under PMI-1 or PMI-2, or in a container
// runtime) and "hpcbench version" itself, and hands every other command
// line to the full program, hpcbench-full, installed beside it, by exec
// (the same process, pid and signals; the full program's own start is the
// only cost). The process manager's path thus starts as a small static
// program: without the package initialisers of the store (SQLite), the
// plots and PDF, the signatures, Docker's HTTP client and the PMIx
// library, which cost the full program 6 ms before its first rank is
// spawned. A launch under PMIx, or of an image pinned to its digest
// (whose check is the signatures' code), goes to the full program, which
// runs every verb (cmd/hpcbench).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// FullName is the file name of the full program, beside this one.
const FullName = "hpcbench-full"

func main() {
	if !ownsCommandLine(os.Args) {
		handOff()
	}
	os.Exit(run())
}

// ownsCommandLine says whether this program runs args itself: "version",
// "--version", and "launch" (whose own flags decide later, in run);
// the rest, help and completion requests included, belong to the full
// program, which knows every verb.
func ownsCommandLine(args []string) bool {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		return false
	}
	switch args[1] {
	case "launch", "version", "--version", "-v":
		return true
	}
	return false
}

// run runs this program's verbs and returns the exit status.
func run() int {
	launch := launchcli.Launching(launchcli.Command(launchcli.RuntimeWrapper(&launchcli.Direct{})), nil, true, launchcli.RuntimesKeeper())
	own := launch.Action
	launch.Action = func(c *cli.Context) error {
		if !runsLaunch(c) {
			handOff()
		}
		return own(c)
	}
	app := &cli.App{
		Name:            "hpcbench",
		Usage:           "what do containers cost MPI benchmarks? ('hpcbench --help' lists every verb)",
		Version:         launchcli.Version(),
		Commands:        []*cli.Command{launch, launchcli.VersionCommand()},
		HideHelpCommand: true,
		Writer:          os.Stdout,
		ErrWriter:       os.Stderr,
		ExitErrHandler:  func(*cli.Context, error) {},
	}
	args, err := launchcli.ReorderArgs(app, os.Args)
	if err == nil {
		err = app.Run(args)
	}
	return launchcli.ExitStatus(err)
}

// runsLaunch says whether this program runs the launch c asks for: all
// but one under PMIx (the PMIx library is cgo, the full program's) and
// one of an image pinned to its digest (checked by the full program's
// resolver). The hand-off comes before the sweep of leftovers: the full
// program sweeps itself.
func runsLaunch(c *cli.Context) bool {
	if strings.EqualFold(c.String("pmi"), string(pmi.PMIx)) {
		return false
	}
	return c.String("runtime") == "" || c.String("image") == "" || !launchcli.PinnedImage(c.String("image"))
}

// handOff replaces this process with the full program, given the same
// command line and environment; it returns only by exiting with an
// error that names the missing program.
func handOff() {
	full, err := fullProgram()
	if err == nil {
		err = syscall.Exec(full, os.Args, os.Environ())
	}
	verb := "this command"
	if len(os.Args) > 1 {
		verb = "'hpcbench " + os.Args[1] + "'"
	}
	fmt.Fprintf(os.Stderr, "hpcbench: %s is run by %s, the full program: %v (make build, and make install, put it beside hpcbench)\n",
		verb, FullName, err)
	os.Exit(1)
}

// fullProgram is the path of hpcbench-full beside this program's own file
// (links resolved, as the kernel knows it).
func fullProgram() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	full := filepath.Join(filepath.Dir(self), FullName)
	if _, err := os.Stat(full); err != nil {
		return full, err
	}
	return full, nil
}
