package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/urfave/cli/v2"
)

// matrixOptions is what "hpcbench matrix" was asked to do.
type matrixOptions struct {
	ConfigPath string // "" for the built-in quick study
	DB         string
	Study      string // overrides [study] name when set
	Resume     bool
	DryRun     bool
	Filters    []string
	Quiet      bool
}

// matrixPlan is a loaded, validated and expanded study.
type matrixPlan struct {
	Config    *configs.Config
	Inventory *inventory.Inventory
	Cells     []matrix.Cell // after --filter
	Skipped   []matrix.Skipped
	Filter    matrix.Filter
}

// matrixExtraFlags and matrixRunner let the file that runs studies add its
// flags and the run itself without touching this one:
//
//	var _ = extendMatrix([]cli.Flag{...}, func(ctx context.Context, c *cli.Context, w io.Writer, opts matrixOptions, plan *matrixPlan) error {...})
var (
	matrixExtraFlags []cli.Flag
	matrixRunner     func(ctx context.Context, c *cli.Context, w io.Writer, opts matrixOptions, plan *matrixPlan) error
)

func extendMatrix(flags []cli.Flag, runner func(ctx context.Context, c *cli.Context, w io.Writer, opts matrixOptions, plan *matrixPlan) error) bool {
	matrixExtraFlags = append(matrixExtraFlags, flags...)
	if runner != nil {
		matrixRunner = runner
	}
	return true
}

func init() {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "db", Value: "hpcbench.db", Usage: "SQLite `FILE` the results go to"},
		&cli.StringFlag{Name: "study", Usage: "store the runs under `NAME` instead of the config's [study] name"},
		&cli.BoolFlag{Name: "resume", Usage: "skip the runs the store already holds for this study and host"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the cells and the skipped ones with reasons; run nothing"},
		&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "only cells matching `KEY=VALUE[,KEY=VALUE...]` (keys: benchmark, class, mpi, pmi, runtime, layout, ranks; repeatable; one key given twice matches either value)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the counts"},
	}
	register(&cli.Command{
		Name:      "matrix",
		Usage:     "run a study: every cell of a config's matrix, repeated, results to the store",
		UsageText: "hpcbench matrix [--dry-run] [--filter KEY=VALUE,...] [--db FILE] [--study NAME] [--resume] [--quiet] [CONFIG]",
		Description: `Loads CONFIG (a TOML matrix; without one, the built-in configs/quick.toml),
validates it (unknown keys and bad values are errors naming the line and key;
exit status 2), crosses benchmarks, classes, runtimes, layouts, MPI
libraries, PMI flavours and rank counts, and repeats each cell. Cells this
node cannot run (an MPI with a PMI flavour it does not speak, a rank count
the benchmark cannot use, a runtime or MPI not installed, more ranks than
cores) are skipped with the reason, never silently. See configs/README.md
for the keys.`,
		Flags:  append(flags, matrixExtraFlags...),
		Action: runMatrixCommand,
	})
}

func runMatrixCommand(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageError("matrix: one CONFIG at most (got %d arguments)", c.NArg())
	}
	opts := matrixOptions{
		ConfigPath: c.Args().First(),
		DB:         c.String("db"),
		Study:      c.String("study"),
		Resume:     c.Bool("resume"),
		DryRun:     c.Bool("dry-run"),
		Filters:    c.StringSlice("filter"),
		Quiet:      c.Bool("quiet"),
	}
	plan, err := planMatrix(c.Context, opts)
	if err != nil {
		return err
	}
	if opts.DryRun {
		return matrix.WritePlan(c.App.Writer, plan.Config, plan.Cells, plan.Skipped, matrix.PlanOptions{Quiet: opts.Quiet})
	}
	return matrixRunner(c.Context, c, c.App.Writer, opts, plan)
}

// planMatrix loads the config, takes the node's inventory and expands the
// matrix. Errors in the config or the filter are usage errors (exit 2).
func planMatrix(ctx context.Context, opts matrixOptions) (*matrixPlan, error) {
	filter, err := matrix.ParseFilter(opts.Filters...)
	if err != nil {
		return nil, usageError("matrix: --filter: %v", err)
	}
	var cfg *configs.Config
	if opts.ConfigPath == "" {
		cfg, err = configs.Quick()
	} else {
		cfg, err = configs.Load(opts.ConfigPath)
	}
	if err != nil {
		var cerrs configs.Errors
		if errors.As(err, &cerrs) {
			return nil, usageError("matrix: the config is not valid (nothing was run):\n%v", err)
		}
		return nil, usageError("matrix: %v", err)
	}
	if opts.Study != "" {
		cfg.Study.Name = opts.Study
	}
	inv := inventory.Detect(ctx, inventory.Options{NPBDirs: []string{cfg.Study.NPBDir}})
	cells, skipped := matrix.Expand(cfg, inv)
	cells, skipped = filter.Apply(cells, skipped)
	if len(cells) == 0 && len(skipped) == 0 && len(filter) > 0 {
		return nil, usageError("matrix: --filter %s matches no cell", fmt.Sprint(filter))
	}
	return &matrixPlan{Config: cfg, Inventory: inv, Cells: cells, Skipped: skipped, Filter: filter}, nil
}
