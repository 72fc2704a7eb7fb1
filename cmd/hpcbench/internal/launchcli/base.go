package launchcli

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/internal/outfile"
	"github.com/urfave/cli/v2"
)

// ExitError carries an exit status through urfave/cli to main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitStatus says on standard error why a verb failed (err not nil) and
// returns the program's exit status: 0 without an error, an ExitError's
// code, a cli.ExitCoder's non-zero code, else 1.
func ExitStatus(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "hpcbench: %v\n", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var ce cli.ExitCoder
	if errors.As(err, &ce) && ce.ExitCode() != 0 {
		return ce.ExitCode()
	}
	return 1
}

// Usage marks an error the user made on the command line or in a config
// file: hpcbench exits with status 2 for it.
func Usage(format string, a ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, a...)}
}

// CheckOutputFlag fails verb at once, as a usage error, when the file its
// flag names could not be written because its folder is missing: not
// after the work that would fill it. An empty path writes nothing.
func CheckOutputFlag(verb, flag, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	if err := outfile.CheckFolder(path); err != nil {
		return Usage("%s: %s: %w", verb, flag, err)
	}
	return nil
}

// Version is the version both programs print.
func Version() string {
	return fmt.Sprintf("%s (%s, %s/%s)", buildinfo.String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// VersionCommand is "hpcbench version".
func VersionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print hpcbench's version",
		UsageText: "hpcbench version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "hpcbench %s\n", Version())
			return nil
		},
	}
}
