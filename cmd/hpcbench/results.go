package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/results"
	"github.com/urfave/cli/v2"
)

// dbFlag and studyFlag are shared by every verb that reads results.
func dbFlag() cli.Flag {
	return &cli.StringFlag{Name: "db", Value: "hpcbench.db", Usage: "SQLite `FILE` holding the results"}
}

// verboseFlag lists every skipped cell instead of one line per cause.
func verboseFlag() cli.Flag {
	return &cli.BoolFlag{Name: "verbose", Usage: "list every skipped cell under its reason (by default they are grouped by cause, with counts)"}
}

func studyFlag() cli.Flag {
	return &cli.StringFlag{Name: "study", Usage: "study `NAME` (default: the most recent one)"}
}

// resultsCommand is "hpcbench results".
func resultsCommand() *cli.Command {
	cmd := &cli.Command{
		Name:      "results",
		Usage:     "list, show, export and import stored results",
		UsageText: "hpcbench results list|show|compare|export|import [flags] [FILE...]",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the studies in the results file with their run counts",
				UsageText: "hpcbench results list [--db FILE]",
				Flags:     []cli.Flag{dbFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return usageError("results list: unexpected argument %q (usage: %s)", c.Args().First(), c.Command.UsageText)
					}
					return resultsList(c.Context, c.App.Writer, c.String("db"))
				},
			},
			{
				Name:      "show",
				Usage:     "per-cell statistics, ratios to native with intervals, and verdicts",
				UsageText: "hpcbench results show [--db FILE] [--study NAME] [--verbose]",
				Flags:     []cli.Flag{dbFlag(), studyFlag(), verboseFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return usageError("results show: unexpected argument %q (usage: %s)", c.Args().First(), c.Command.UsageText)
					}
					return resultsShow(c.Context, c.App.Writer, c.String("db"), c.String("study"), c.Bool("verbose"))
				},
			},
			{
				Name:      "compare",
				Usage:     "compare a study with a baseline study cell by cell, with verdicts",
				UsageText: "hpcbench results compare [--db FILE] BASELINE STUDY",
				Description: `Each cell STUDY shares with BASELINE (same benchmark, class, MPI, PMI,
runtime, layout and ranks; versions may differ, as before and after a
runtime upgrade or on two hosts) is compared by the same rules as a
container against native: STUDY's performance over BASELINE's, with its
interval, a test adjusted by Holm over these comparisons and a verdict
(slower, faster, equivalent within STUDY's margin, or inconclusive).`,
				Flags: []cli.Flag{dbFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usageError("results compare: want BASELINE and STUDY, got %d argument(s) (usage: %s)", c.NArg(), c.Command.UsageText)
					}
					return resultsCompare(c.Context, c.App.Writer, c.String("db"), c.Args().Get(0), c.Args().Get(1))
				},
			},
			{
				Name:      "export",
				Usage:     "write a study's runs as CSV or JSON lines",
				UsageText: "hpcbench results export [--db FILE] [--study NAME] --csv|--json [--with-output] [-o FILE]",
				Description: `JSON lines hold one run per line with all its provenance and can be read
back with "hpcbench results import" (how results written inside Slurm jobs
reach the submitting host's store). CSV has one flat row per run.`,
				Flags: []cli.Flag{dbFlag(), studyFlag(),
					&cli.BoolFlag{Name: "csv", Usage: "write CSV"},
					&cli.BoolFlag{Name: "json", Usage: "write JSON lines"},
					&cli.BoolFlag{Name: "with-output", Usage: "include each run's raw benchmark output (JSON only)"},
					&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Usage: "write to `FILE` instead of standard output"},
				},
				Action: func(c *cli.Context) error {
					opts := exportOptions{db: c.String("db"), study: c.String("study"), out: c.String("o"), withOutput: c.Bool("with-output")}
					switch {
					case c.NArg() > 0:
						return usageError("results export: unexpected argument %q (usage: %s)", c.Args().First(), c.Command.UsageText)
					case c.Bool("csv") == c.Bool("json"):
						return usageError("results export: give exactly one of --csv or --json")
					case c.Bool("csv"):
						opts.format = results.ExportCSV
						if opts.withOutput {
							return usageError("results export: --with-output needs --json")
						}
					default:
						opts.format = results.ExportJSON
					}
					return resultsExport(c.Context, c.App.Writer, opts)
				},
			},
			{
				Name:      "import",
				Usage:     "add results from 'hpcbench parse' JSON lines, exported runs, or raw NPB/HPL/HPCC logs",
				UsageText: "hpcbench results import [--db FILE] [--study NAME] [--cell key=value,...] FILE...",
				Description: `Each FILE is JSON lines printed by "hpcbench parse", JSON lines written by
"hpcbench results export --json", or a raw benchmark log (NPB, HPL or
HPCC output), which is parsed here and kept as the run's output.
Parsed results say which benchmark ran but not how: --cell gives the rest,
e.g. --cell runtime=docker,layout=per-rank,mpi=mpich,pmi=pmi1,ranks=4.
Keys: benchmark, kind, class, mpi, mpi_version, pmi, runtime,
runtime_version, image, image_digest, image_verification (what checking the
image found, e.g. "pinned digest matched"), layout, ranks, bind,
oversubscribed, cell_key. The runtime defaults to native; each result becomes the next
repetition of its cell. The study (default "import") is created if needed.`,
				Flags: []cli.Flag{dbFlag(),
					&cli.StringFlag{Name: "study", Usage: "study `NAME` the results go to (default: \"import\"; exported runs keep their own)"},
					&cli.StringFlag{Name: "cell", Usage: "cell fields as `key=value,...`"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return usageError("results import: no FILE given (usage: %s)", c.Command.UsageText)
					}
					cell, err := results.ParseCellSpec(c.String("cell"))
					if err != nil {
						return usageError("results import: --cell: %v", err)
					}
					return resultsImport(c.Context, c.App.Writer, importOptions{db: c.String("db"), study: c.String("study"), cell: cell, files: c.Args().Slice()})
				},
			},
		},
	}
	// urfave/cli gives a verb that runs a "help" sub-verb, after which
	// reorderArgs would no longer move flags typed after the arguments.
	for _, sub := range cmd.Subcommands {
		sub.HideHelpCommand = true
	}
	return cmd
}

func resultsList(ctx context.Context, w io.Writer, db string) error {
	st, err := results.OpenExisting(db)
	if err != nil {
		return err
	}
	defer st.Close()
	studies, err := st.Studies(ctx)
	if err != nil {
		return err
	}
	if len(studies) == 0 {
		fmt.Fprintf(w, "%s holds no study yet\n", db)
		return nil
	}
	return results.WriteStudies(w, studies)
}

func resultsShow(ctx context.Context, w io.Writer, db, study string, verbose bool) error {
	a, err := loadAnalysis(ctx, db, study)
	if err != nil {
		return err
	}
	return results.WriteSummaryWith(w, a, results.SummaryOptions{Verbose: verbose})
}

func resultsCompare(ctx context.Context, w io.Writer, db, baseline, study string) error {
	b, err := loadBaseline(ctx, db, baseline, study)
	if err != nil {
		return err
	}
	return results.WriteBaseline(w, b)
}

// loadBaseline compares study with baseline from an existing store.
func loadBaseline(ctx context.Context, db, baseline, study string) (*results.Baseline, error) {
	st, err := results.OpenExisting(db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return results.LoadBaseline(ctx, st, baseline, study, results.AnalysisOptions{})
}

// loadAnalysis reads a study ("" for the most recent) from an existing
// store and summarises it: what show, report and plot start from.
func loadAnalysis(ctx context.Context, db, study string) (*results.Analysis, error) {
	st, err := results.OpenExisting(db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return results.Load(ctx, st, study, results.AnalysisOptions{})
}

type exportOptions struct {
	db, study, out string
	format         results.ExportFormat
	withOutput     bool
}

func resultsExport(ctx context.Context, w io.Writer, o exportOptions) (err error) {
	st, err := results.OpenExisting(o.db)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.Study(ctx, o.study)
	if err != nil {
		return err
	}
	runs, err := st.Runs(ctx, s.Name, results.RunsOptions{WithOutput: o.withOutput})
	if err != nil {
		return err
	}
	if o.out != "" && o.out != "-" {
		f, err := os.Create(o.out)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		w = f
	}
	return results.Export(w, runs, o.format)
}

type importOptions struct {
	db, study string
	cell      results.Cell
	files     []string
}

func resultsImport(ctx context.Context, w io.Writer, o importOptions) error {
	st, err := results.Open(o.db)
	if err != nil {
		return err
	}
	defer st.Close()
	opt := results.ImportOptions{Study: o.study, Host: results.ThisHost(), Cell: o.cell, Version: buildinfo.String(), ParseRaw: parseRawLog}
	var total results.ImportStats
	for _, name := range o.files {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		is, err := results.Import(ctx, st, name, data, opt)
		total.Added += is.Added
		total.Duplicates += is.Duplicates
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "imported %d runs into %s", total.Added, o.db)
	if total.Duplicates > 0 {
		fmt.Fprintf(w, " (%d already there, skipped)", total.Duplicates)
	}
	fmt.Fprintln(w)
	return nil
}

// parseRawLog parses an NPB, HPL or HPCC log with the npb parsers. A log
// without a result still yields the invalid result the parser describes.
func parseRawLog(name string, data []byte, ranks int) ([]results.Record, error) {
	res, err := npb.ParseOutput(bytes.NewReader(data), ranks)
	if err != nil && !(errors.Is(err, npb.ErrNoSummary) && len(res) > 0) {
		return nil, err
	}
	recs := make([]results.Record, 0, len(res))
	for _, r := range res {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		var rec results.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
