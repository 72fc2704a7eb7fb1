package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hpcbench/hpcbench/results/report"
	"github.com/urfave/cli/v2"
)

// plotCommand is "hpcbench plot".
func plotCommand() *cli.Command {
	return &cli.Command{
		Name:      "plot",
		Usage:     "write a study's figures (relative performance, scaling, wire-up, overhead, distributions)",
		UsageText: "hpcbench plot [--db FILE] [--study NAME] [--format png|svg|pdf] [-o DIR]",
		Flags: []cli.Flag{dbFlag(), studyFlag(),
			&cli.StringFlag{Name: "format", Value: "png", Usage: "png, svg or pdf"},
			&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Value: "plots", Usage: "`DIR` to write the figures to (created if needed)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("plot: unexpected argument %q (usage: %s)", c.Args().First(), c.Command.UsageText)
			}
			switch f := c.String("format"); f {
			case "png", "svg", "pdf":
			default:
				return usageError("plot: --format %q: want png, svg or pdf", f)
			}
			return writePlots(c.Context, c.App.Writer, c.String("db"), c.String("study"), c.String("format"), c.String("o"))
		},
	}
}

func writePlots(ctx context.Context, w io.Writer, db, study, format, dir string) error {
	a, err := loadAnalysis(ctx, db, study)
	if err != nil {
		return err
	}
	figs, err := report.Figures(a)
	if err != nil {
		return err
	}
	if len(figs) == 0 {
		fmt.Fprintf(w, "study %s has no valid runs to plot\n", a.Study.Name)
		return nil
	}
	paths, err := report.WriteFigures(figs, dir, format)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(w, p)
	}
	return nil
}
