package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
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
	if err := launchcli.CheckOutputFlag("report", "-o", out); err != nil {
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
