package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/npb/kernels"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/slurm"
	"github.com/urfave/cli/v2"
)

// matrixCommand is "hpcbench matrix".
func matrixCommand() *cli.Command {
	return &cli.Command{
		Name:      "matrix",
		Usage:     "run a study: every cell of a config's matrix, repeated, results to the store",
		UsageText: "hpcbench matrix [--dry-run] [--filter KEY=VALUE,...] [--db FILE] [--study NAME] [--resume] [--quiet|--verbose] [CONFIG]",
		Description: `Loads CONFIG (a TOML matrix; without one, the built-in configs/quick.toml),
validates it (unknown keys and bad values are errors naming the line and key;
exit status 2), crosses benchmarks, classes, runtimes, layouts, MPI
libraries, PMI flavours and rank counts, and repeats each cell. Cells this
node cannot run (an MPI with a PMI flavour it does not speak, a rank count
the benchmark cannot use, a runtime or MPI not installed, more ranks than
cores, more ranks than one launch may start: --max-ranks, by default 64 per
core) are skipped with the reason, never silently. See configs/README.md
for the keys.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: "hpcbench.db", Usage: "SQLite `FILE` the results go to"},
			&cli.StringFlag{Name: "study", Usage: "store the runs under `NAME` instead of the config's [study] name"},
			&cli.BoolFlag{Name: "resume", Usage: "skip the runs the store already holds for this study and host"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the cells and the skipped ones with reasons; run nothing"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "only cells matching `KEY=VALUE[,KEY=VALUE...]` (keys: benchmark, class, mpi, pmi, runtime, layout, ranks; repeatable; one key given twice matches either value)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the counts"},
			verboseFlag(),
			&cli.StringFlag{Name: "executor", Value: "local", Usage: "local (this node, hpcbench's own launcher) or slurm (batch jobs, as 'hpcbench slurm submit')"},
			&cli.StringFlag{Name: "launcher", Value: "hpcbench", Usage: "local executor: hpcbench (its own process manager), srun (inside a Slurm allocation), or auto (srun when SLURM_JOB_ID is set)"},
			&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Usage: "executor slurm: how often to look at the jobs"},
			&cli.StringFlag{Name: "slurm-dir", Usage: "executor slurm: folder for the batch scripts and the jobs' results, on a file system the nodes share (default hpcbench-slurm/STUDY)"},
			&cli.StringFlag{Name: "workdir", Usage: "make each run's working folder under `DIR` (must be visible at the same path in containers; default the system's temporary folder)"},
			&cli.BoolFlag{Name: "keep-work", Usage: "keep the working folders of runs that failed, for inspection"},
			&cli.BoolFlag{Name: "build-images", Usage: "build a container image the study names but this machine lacks when first needed, from the cell's MPI and programs (default: on for the built-in quick study)"},
			&cli.IntFlag{Name: "max-ranks", Usage: "skip local cells of more than `N` ranks, as more than one launch may start",
				DefaultText: fmt.Sprintf("%d per core of this node", pmi.MaxRanksPerCore)},
			&cli.IntFlag{Name: "blas-threads", Usage: "run HPL and HPCC ranks with `N` BLAS threads each (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS; overrides [study] blas_threads; default 1)"},
		},
		Action: runMatrix,
	}
}

// runMatrix plans the study (config, overrides, cells), then prints the
// plan (--dry-run) or hands it to the executor --executor names. Ctrl-C
// stops a local study after killing the run in flight; what finished is
// stored and --resume continues.
func runMatrix(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageError("matrix: one CONFIG at most (got %d arguments)", c.NArg())
	}
	filter, err := matrix.ParseFilter(c.StringSlice("filter")...)
	if err != nil {
		return usageError("matrix: --filter: %v", err)
	}
	o := matrix.Overrides{Study: c.String("study"), Filter: filter, MaxRanks: c.Int("max-ranks")}
	if o.MaxRanks < 0 {
		return usageError("matrix: --max-ranks %d: must not be negative", o.MaxRanks)
	}
	if c.IsSet("blas-threads") {
		// 0 would mean "keep the config's"; given on the command line it
		// is a mistake.
		if o.BLASThreads = c.Int("blas-threads"); o.BLASThreads < 1 {
			return usageError("matrix: --blas-threads %d: want 1 or more threads per rank", o.BLASThreads)
		}
	}
	cfg, err := loadStudyConfig("matrix", c.Args().First())
	if err != nil {
		return err
	}
	plan, err := newStudyPlan(c, "matrix", cfg, o)
	if err != nil {
		return err
	}
	if c.Bool("dry-run") {
		return matrix.WritePlan(c.App.Writer, plan.Config, plan.Cells, plan.Skipped, matrix.PlanOptions{Quiet: c.Bool("quiet"), Verbose: c.Bool("verbose")})
	}
	if len(plan.Skipped) > 0 && !c.Bool("quiet") {
		fmt.Fprintf(c.App.ErrWriter, "%d cells skipped:\n", len(plan.Skipped))
		if err := matrix.WriteSkipped(c.App.ErrWriter, plan.Skipped, c.Bool("verbose"), "  "); err != nil {
			return err
		}
	}
	if c.Bool("build-images") || (!c.IsSet("build-images") && c.Args().First() == "") {
		plan.Runtimes.BuildImage = firstUseImages(c.App.ErrWriter)
	}
	ex, err := matrixExecutor(c, plan)
	if err != nil {
		return err
	}
	return executeStudy(c, ex, plan, c.String("db"))
}

// matrixExecutor is the executor --executor names, set up from the flags;
// a launcher other than hpcbench's resolves through the plan's runtimes.
func matrixExecutor(c *cli.Context, plan *matrix.Plan) (matrix.Executor, error) {
	switch c.String("executor") {
	case "", "local":
		launcher, err := matrixLauncher(c, plan.Runtimes)
		if err != nil {
			return nil, err
		}
		local := &matrix.Local{Resume: c.Bool("resume"), Log: c.App.ErrWriter,
			WorkRoot: c.String("workdir"), KeepWork: c.Bool("keep-work"), Launcher: launcher}
		if !c.Bool("quiet") {
			local.Progress = c.App.ErrWriter
		}
		return local, nil
	case "slurm":
		if c.Bool("resume") {
			return nil, usageError("matrix --executor slurm: --resume is not supported; import what jobs left with hpcbench slurm collect")
		}
		return slurmExecutor(c, slurm.GenOptions{Dir: c.String("slurm-dir")}, c.Duration("poll"), c.Bool("quiet")), nil
	}
	return nil, usageError("matrix: --executor %q: %v", c.String("executor"), errExecutor)
}

// errExecutor names the executors.
var errExecutor = errors.New("want local or slurm")

// matrixLauncher is the launcher --launcher asks for; nil is hpcbench's own.
func matrixLauncher(c *cli.Context, rs *matrix.Resolver) (matrix.Launcher, error) {
	switch c.String("launcher") {
	case "", "hpcbench":
		return nil, nil
	case "srun":
		if !slurm.InAllocation() {
			return nil, usageError("matrix --launcher srun: %v", slurm.ErrNoAllocation)
		}
		return &slurm.Srun{Runtimes: rs}, nil
	case "auto":
		if slurm.InAllocation() {
			return &slurm.Srun{Runtimes: rs}, nil
		}
		return nil, nil
	}
	return nil, usageError("matrix: --launcher %q: want hpcbench, srun or auto", c.String("launcher"))
}

// loadStudyConfig loads the config at path ("" for the built-in quick
// study); every problem in it is a usage error (exit 2).
func loadStudyConfig(verb, path string) (*configs.Config, error) {
	var cfg *configs.Config
	var err error
	if path == "" {
		cfg, err = configs.Quick()
	} else {
		cfg, err = configs.Load(path)
	}
	if err != nil {
		var cerrs configs.Errors
		if errors.As(err, &cerrs) {
			return nil, usageError("%s: the config is not valid (nothing was run):\n%v", verb, err)
		}
		return nil, usageError("%s: %v", verb, err)
	}
	return cfg, nil
}

// newStudyPlan plans the study for verb; an override the config refuses
// and a filter that matches nothing are usage errors.
func newStudyPlan(c *cli.Context, verb string, cfg *configs.Config, o matrix.Overrides) (*matrix.Plan, error) {
	if cfg.Study.AutoRepetitions && (strings.HasPrefix(verb, "slurm") || c.String("executor") == "slurm") {
		// Batch jobs run a fixed list of runs; the rounds of an adaptive
		// study are decided between runs, from the store.
		return nil, usageError("%s: %s: repetitions = \"auto\" needs the local executor; give a study run through Slurm a number of repetitions", verb, cfg.File)
	}
	if o.Kernels == nil {
		// Outside the source tree the project's kernels come from the
		// cache, built there the first time (with a line on stderr).
		o.Kernels = &kernels.Cache{Log: c.App.ErrWriter}
	}
	plan, err := matrix.NewPlan(c.Context, cfg, o)
	if errors.Is(err, matrix.ErrOverride) || errors.Is(err, matrix.ErrNoCell) {
		return nil, usageError("%s: %w", verb, err)
	}
	return plan, err
}

// executeStudy runs plan with ex into the store db: Ctrl-C or SIGTERM
// stops it (a local study after killing the run in flight, a Slurm one
// by leaving its jobs to "hpcbench slurm collect").
func executeStudy(c *cli.Context, ex matrix.Executor, plan *matrix.Plan, db string) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := results.Open(db)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := ex.Run(ctx, plan, st)
	if sum != nil && sum.StudyName() != "" {
		fmt.Fprintf(c.App.Writer, "%s\nresults in %s; see: hpcbench results show --db %s --study %s\n", sum, db, db, sum.StudyName())
	}
	return err
}
