package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/internal/outfile"
	"github.com/hpcbench/hpcbench/results/report"
	"github.com/urfave/cli/v2"
)

// reportCommand is "hpcbench report".
func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write a study's PDF report: findings, tables, figures, failures and provenance",
		UsageText: "hpcbench report [--db FILE] [--study NAME] [--baseline STUDY] [-o report.pdf]",
		Flags: []cli.Flag{dbFlag(), studyFlag(),
			&cli.StringFlag{Name: "baseline", Usage: "add a section comparing the study with baseline study `NAME` cell by cell (regressions first)"},
			&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Value: "report.pdf", Usage: "PDF `FILE` to write"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("report: unexpected argument %q (usage: %s)", c.Args().First(), c.Command.UsageText)
			}
			return writeStudyReport(c.Context, c.App.Writer, c.String("db"), c.String("study"), c.String("baseline"), c.String("o"))
		},
	}
}

func writeStudyReport(ctx context.Context, w io.Writer, db, study, baseline, out string) error {
	// Before the analysis, which can take a while on a large store.
	if err := checkOutputFlag("report", "-o", out); err != nil {
		return err
	}
	a, err := loadAnalysis(ctx, db, study)
	if err != nil {
		return err
	}
	opt := report.Options{Version: buildinfo.String()}
	if baseline != "" {
		if opt.Baseline, err = loadBaseline(ctx, db, baseline, a.Study.Name); err != nil {
			return err
		}
	}
	if err := report.WriteFile(out, a, opt); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (study %s, %d runs)\n", out, a.Study.Name, a.Runs)
	return nil
}

// checkOutputFlag fails verb at once, as a usage error, when the file its
// flag names could not be written because its folder is missing: not
// after the work that would fill it. An empty path writes nothing.
func checkOutputFlag(verb, flag, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	if err := outfile.CheckFolder(path); err != nil {
		return usageError("%s: %s: %w", verb, flag, err)
	}
	return nil
}
