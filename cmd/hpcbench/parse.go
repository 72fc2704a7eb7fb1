package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hpcbench/hpcbench/npb"
	"github.com/urfave/cli/v2"
)

// parseCommand is "hpcbench parse".
func parseCommand() *cli.Command {
	return &cli.Command{
		Name:      "parse",
		Usage:     "parse NPB, HPL or HPCC output files into JSON results, one per line",
		UsageText: "hpcbench parse [--ranks N] FILE...",
		Description: `Recognises each file's kind (NPB summary block, HPL result lines, HPCC
hpccoutf.txt) and prints one JSON object per result. A result is
"valid": false with an "invalid_reason" when verification failed or the
process count differs from --ranks. A file that cannot be parsed is
reported by name; the other files are still parsed and the exit status
is 1. "-" reads standard input.`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "ranks", Usage: "number of MPI ranks the runs were launched with (0: do not check)"},
		},
		Action: func(c *cli.Context) error {
			opts := parseOptions{files: c.Args().Slice(), ranks: c.Int("ranks")}
			if len(opts.files) == 0 {
				return usageError("parse: no FILE given (usage: %s)", c.Command.UsageText)
			}
			if opts.ranks < 0 {
				return usageError("parse: --ranks must be 0 (unknown) or a positive number of ranks, not %d", opts.ranks)
			}
			return runParse(c.App.Writer, c.App.ErrWriter, opts)
		},
	}
}

type parseOptions struct {
	files []string
	ranks int
}

// runParse parses every file, writes its results as JSON lines to out and
// its problems to errOut; it fails when any file could not be parsed.
func runParse(out, errOut io.Writer, opts parseOptions) error {
	enc := json.NewEncoder(out)
	failed := 0
	for _, name := range opts.files {
		results, err := parseFile(name, opts.ranks)
		for _, r := range results {
			if werr := enc.Encode(r); werr != nil {
				return fmt.Errorf("parse: writing result of %s: %w", name, werr)
			}
		}
		if err != nil {
			failed++
			fmt.Fprintf(errOut, "hpcbench parse: %s: %v\n", name, err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("parse: %d of %d files could not be parsed (see above)", failed, len(opts.files))
	}
	return nil
}

func parseFile(name string, ranks int) ([]npb.Result, error) {
	if name == "-" {
		return npb.ParseOutput(os.Stdin, ranks)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The parser reads at most npb.MaxOutputSize bytes of anything (a
	// pipe, /dev/zero); a file known to be longer is not read at all.
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > npb.MaxOutputSize {
		return nil, fmt.Errorf("%w: %d bytes, longer than %d MiB, more than any benchmark prints (a log of several runs? split it)",
			npb.ErrTooLarge, st.Size(), npb.MaxOutputSize>>20)
	}
	return npb.ParseOutput(f, ranks)
}
