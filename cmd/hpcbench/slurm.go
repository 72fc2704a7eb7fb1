package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/slurm"
	"github.com/urfave/cli/v2"
)

// "hpcbench matrix" gets --executor slurm (submit through Slurm) and
// --launcher srun (inside an allocation, srun starts the ranks).
var _ = extendMatrix([]cli.Flag{
	&cli.StringFlag{Name: "executor", Value: "local", Usage: "local (this node, hpcbench's own launcher) or slurm (batch jobs, as 'hpcbench slurm submit')"},
	&cli.StringFlag{Name: "launcher", Value: "hpcbench", Usage: "local executor: hpcbench (its own process manager), srun (inside a Slurm allocation), or auto (srun when SLURM_JOB_ID is set)"},
	&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Usage: "executor slurm: how often to look at the jobs"},
	&cli.StringFlag{Name: "slurm-dir", Usage: "executor slurm: folder for the batch scripts and the jobs' results, on a file system the nodes share (default hpcbench-slurm/STUDY)"},
}, nil)

// slurmGenFlags are the flags gen and submit share.
func slurmGenFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "partition", Usage: "sbatch --partition (overrides [slurm] partition)"},
		&cli.StringFlag{Name: "account", Usage: "sbatch --account (overrides [slurm] account)"},
		&cli.StringFlag{Name: "time", Usage: "sbatch --time per job, in Slurm's format (overrides [slurm] time)"},
		&cli.IntFlag{Name: "nodes", Usage: "nodes per job (overrides [slurm] nodes)"},
		&cli.StringFlag{Name: "group", Value: string(slurm.GroupRanks), Usage: "one job per rank count (ranks) or per benchmark (benchmark)"},
		&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "only cells matching `KEY=VALUE[,KEY=VALUE...]` (as in hpcbench matrix)"},
		&cli.StringFlag{Name: "study", Usage: "store the runs under `NAME` (default: the config's [study] name and the date)"},
		&cli.StringFlag{Name: "hpcbench", Usage: "the hpcbench `PATH` the jobs run on the nodes (default: this executable)"},
	}
}

func init() {
	gen := &cli.Command{
		Name:      "gen",
		Usage:     "write one batch script per group of cells",
		UsageText: "hpcbench slurm gen -o DIR [--partition P] [--account A] [--time T] [--nodes N] [--group ranks|benchmark] [--filter ...] CONFIG",
		Description: `Writes DIR/<job>.sbatch (one job per rank count, or per benchmark), with
DIR/<job>.runs.json describing its runs and DIR/<job>/ for their output,
working folders and results. Each run is one srun line: --mpi=pmi2 for
PMI-1/PMI-2 cells, --mpi=pmix for PMIx cells, natively or through
"hpcbench slurm task" for container cells. DIR must be on a file system
the compute nodes share, at the same path.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Usage: "`DIR` for the scripts", Required: true},
		}, slurmGenFlags()...),
		Action: runSlurmGen,
	}
	submit := &cli.Command{
		Name:      "submit",
		Usage:     "generate, submit, watch and import a study",
		UsageText: "hpcbench slurm submit [--db FILE] [--study NAME] [--poll DUR] [-o DIR] [gen flags] CONFIG",
		Description: `Generates the scripts (see "hpcbench slurm gen"), submits each with
"sbatch --parsable", polls squeue, scontrol and the jobs' exit-status files
every --poll, and imports each job's results into the store as it ends,
with the Slurm job id. Runs a job did not reach (cancelled, timed out,
vanished from the queue) are stored as failed with the reason. Ctrl-C stops
watching, not the jobs: "hpcbench slurm collect" imports them later.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "db", Value: "hpcbench.db", Usage: "SQLite `FILE` the results go to"},
			&cli.DurationFlag{Name: "poll", Value: 5 * time.Second, Usage: "how often to look at the jobs"},
			&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Usage: "`DIR` for the scripts (default hpcbench-slurm/STUDY)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
		}, slurmGenFlags()...),
		Action: runSlurmSubmit,
	}
	collect := &cli.Command{
		Name:      "collect",
		Usage:     "import the results of jobs written by gen (submitted by hand or by an interrupted submit)",
		UsageText: "hpcbench slurm collect [--db FILE] [--study NAME] DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: "hpcbench.db", Usage: "SQLite `FILE` the results go to"},
			&cli.StringFlag{Name: "study", Usage: "store the runs under `NAME` instead of the one gen chose"},
		},
		Action: runSlurmCollect,
	}
	record := &cli.Command{
		Name:      "record",
		Usage:     "(inside a job) judge one run's output and write its result as JSON",
		UsageText: "hpcbench slurm record --runs MANIFEST --id ID --exit-status N --start T0 --end T1 [--output FILE]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "runs", Usage: "the job's `MANIFEST` (DIR/<job>.runs.json)", Required: true},
			&cli.StringFlag{Name: "id", Usage: "the run's `ID` in the manifest", Required: true},
			&cli.IntFlag{Name: "exit-status", Usage: "srun's exit status"},
			&cli.StringFlag{Name: "start", Usage: "start time, Unix seconds (date +%s.%N)", Required: true},
			&cli.StringFlag{Name: "end", Usage: "end time, Unix seconds (date +%s.%N)", Required: true},
			&cli.StringFlag{Name: "output", Usage: "the run's output `FILE` (default the manifest's)"},
		},
		Action: runSlurmRecord,
	}
	task := &cli.Command{
		Name:      "task",
		Usage:     "(run by srun, once per task) run one rank in a container runtime with Slurm's PMI",
		UsageText: "hpcbench slurm task --runtime R --image REF [--layout per-rank|bind] --mpi M --pmi pmi1|pmi2|pmix -- PROG ARGS...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "runtime", Usage: "docker, podman, apptainer, singularity or oci", Required: true},
			&cli.StringFlag{Name: "image", Usage: "the image `REF` as resolved by gen", Required: true},
			&cli.StringFlag{Name: "layout", Value: string(runtimes.PerRank), Usage: "per-rank or bind"},
			&cli.StringFlag{Name: "mpi", Usage: "mpich or openmpi"},
			&cli.StringFlag{Name: "pmi", Value: string(pmi.PMI1), Usage: "pmi1, pmi2 or pmix"},
			&cli.StringFlag{Name: "runtime-command", Usage: "the runtime's executable (the config's runtime.command)"},
			&cli.StringFlag{Name: "runtime-flags", Usage: "the config's runtime.flags as a JSON list of strings"},
		},
		Action: runSlurmTask,
	}
	register(&cli.Command{
		Name:      "slurm",
		Usage:     "run a study across nodes through Slurm: batch scripts, submission, import",
		UsageText: "hpcbench slurm gen|submit|collect|record|task [flags] ARGS",
		Description: `Slurm's own PMI plugins serve the ranks (srun --mpi=pmi2 for MPICH's
PMI-1, --mpi=pmix for Open MPI); each job writes its runs as JSON files and
the submitting host imports them (SQLite never lives on the shared file
system). Settings come from the config's [slurm] section or the flags.`,
		Subcommands: []*cli.Command{gen, submit, collect, record, task},
	})
}

// loadSlurmConfig loads CONFIG as "hpcbench matrix" does.
func loadSlurmConfig(c *cli.Context, verb string) (*configs.Config, matrix.Filter, error) {
	if c.NArg() != 1 {
		return nil, nil, usageError("slurm %s: one CONFIG expected (got %d arguments)", verb, c.NArg())
	}
	filter, err := matrix.ParseFilter(c.StringSlice("filter")...)
	if err != nil {
		return nil, nil, usageError("slurm %s: --filter: %v", verb, err)
	}
	cfg, err := configs.Load(c.Args().First())
	if err != nil {
		return nil, nil, usageError("slurm %s: %v", verb, err)
	}
	return cfg, filter, nil
}

func genOptions(c *cli.Context, cfg *configs.Config, filter matrix.Filter) (slurm.GenOptions, error) {
	g := slurm.Group(c.String("group"))
	if g != slurm.GroupRanks && g != slurm.GroupBenchmark {
		return slurm.GenOptions{}, usageError("slurm: --group %q: want ranks or benchmark", g)
	}
	return slurm.GenOptions{
		Config: cfg, Filter: filter, Dir: c.String("o"), Study: c.String("study"), Self: c.String("hpcbench"),
		Partition: c.String("partition"), Account: c.String("account"), Time: c.String("time"), Nodes: c.Int("nodes"),
		Group: g,
	}, nil
}

func runSlurmGen(c *cli.Context) error {
	cfg, filter, err := loadSlurmConfig(c, "gen")
	if err != nil {
		return err
	}
	opts, err := genOptions(c, cfg, filter)
	if err != nil {
		return err
	}
	opts.Log = c.App.Writer
	plan, err := slurm.Generate(c.Context, opts)
	if err != nil {
		return err
	}
	writeSlurmSkips(c.App.ErrWriter, plan.Skipped)
	fmt.Fprintf(c.App.Writer, "%d jobs, %d runs for study %s; submit each with sbatch, then: hpcbench slurm collect %s\n",
		len(plan.Jobs), plan.Runs(), plan.Study, plan.Dir)
	return nil
}

func writeSlurmSkips(w io.Writer, skipped []matrix.Skipped) {
	for _, s := range skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Cell.Key(), s.Reason)
	}
}

func runSlurmSubmit(c *cli.Context) error {
	cfg, filter, err := loadSlurmConfig(c, "submit")
	if err != nil {
		return err
	}
	opts, err := genOptions(c, cfg, filter)
	if err != nil {
		return err
	}
	return submitStudy(c, opts, c.String("db"), c.Duration("poll"), c.Bool("quiet"))
}

// submitStudy runs a study through Slurm for "slurm submit" and "matrix
// --executor slurm".
func submitStudy(c *cli.Context, opts slurm.GenOptions, db string, poll time.Duration, quiet bool) error {
	if opts.Study == "" {
		opts.Study = opts.Config.Study.Name + "-" + time.Now().Format("20060102-150405")
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join("hpcbench-slurm", opts.Study)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := results.Open(db)
	if err != nil {
		return err
	}
	defer st.Close()
	so := slurm.SubmitOptions{Gen: opts, Store: st, Poll: poll, Log: c.App.ErrWriter}
	if !quiet {
		so.Progress = c.App.ErrWriter
	}
	sum, err := slurm.Submit(ctx, so)
	if sum != nil && sum.Study != "" {
		fmt.Fprintf(c.App.Writer, "%s\nresults in %s; see: hpcbench results show --db %s --study %s\n", sum, db, db, sum.Study)
	}
	return err
}

func runSlurmCollect(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("slurm collect: one DIR expected (got %d arguments)", c.NArg())
	}
	st, err := results.Open(c.String("db"))
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := slurm.Collect(c.Context, slurm.CollectOptions{Dir: c.Args().First(), Store: st, Study: c.String("study"), Log: c.App.ErrWriter})
	if sum != nil {
		fmt.Fprintf(c.App.Writer, "%s\n", sum)
	}
	return err
}

func runSlurmRecord(c *cli.Context) error {
	if c.NArg() != 0 {
		return usageError("slurm record: no arguments expected (got %q)", strings.Join(c.Args().Slice(), " "))
	}
	start, err := slurm.ParseUnixTime(c.String("start"))
	if err != nil {
		return usageError("slurm record: --start: %v", err)
	}
	end, err := slurm.ParseUnixTime(c.String("end"))
	if err != nil {
		return usageError("slurm record: --end: %v", err)
	}
	run, err := slurm.Record(slurm.RecordOptions{Manifest: c.String("runs"), ID: c.String("id"), ExitStatus: c.Int("exit-status"),
		Start: start, End: end, Output: c.String("output")})
	if err != nil {
		return err
	}
	if run.Status != results.StatusOK {
		fmt.Fprintf(c.App.ErrWriter, "run %s: %s: %s\n", c.String("id"), run.Status, run.Reason)
	}
	return nil
}

func runSlurmTask(c *cli.Context) error {
	argv := c.Args().Slice()
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usageError("slurm task: no program given (hpcbench slurm task [flags] -- PROG ARGS...)")
	}
	layout, err := runtimes.ParseLayout(c.String("layout"))
	if err != nil || layout == runtimes.PerNode {
		return usageError("slurm task: --layout %q: want per-rank or bind", c.String("layout"))
	}
	flavour := pmi.Flavour(strings.ToLower(c.String("pmi")))
	switch flavour {
	case pmi.PMI1, pmi.PMI2, pmi.PMIx:
	default:
		return usageError("slurm task: --pmi %q: want pmi1, pmi2 or pmix", c.String("pmi"))
	}
	var flags []string
	if s := c.String("runtime-flags"); s != "" {
		if err := json.Unmarshal([]byte(s), &flags); err != nil {
			return usageError("slurm task: --runtime-flags %q: want a JSON list of strings: %v", s, err)
		}
	}
	code, err := slurm.RunTask(c.Context, slurm.TaskOptions{Runtime: c.String("runtime"), Image: c.String("image"), Layout: layout,
		MPI: c.String("mpi"), PMI: flavour, Argv: argv, Command: c.String("runtime-command"), Flags: flags,
		Stdout: c.App.Writer, Stderr: c.App.ErrWriter})
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code, err: fmt.Errorf("rank exited with status %d", code)}
	}
	return nil
}

// matrixOnSlurm is "hpcbench matrix --executor slurm".
func matrixOnSlurm(ctx context.Context, c *cli.Context, opts matrixOptions, plan *matrixPlan) error {
	if opts.Resume {
		return usageError("matrix --executor slurm: --resume is not supported; import what jobs left with hpcbench slurm collect")
	}
	g := slurm.GenOptions{Config: plan.Config, Inventory: plan.Inventory, Filter: plan.Filter, Study: opts.Study, Dir: c.String("slurm-dir")}
	return submitStudy(c, g, opts.DB, c.Duration("poll"), opts.Quiet)
}

// matrixLauncher is the launcher --launcher asks for; nil is hpcbench's own.
func matrixLauncher(c *cli.Context) (matrix.Launcher, error) {
	switch c.String("launcher") {
	case "", "hpcbench":
		return nil, nil
	case "srun":
		if !slurm.InAllocation() {
			return nil, usageError("matrix --launcher srun: %v", slurm.ErrNoAllocation)
		}
		return &slurm.Srun{}, nil
	case "auto":
		if slurm.InAllocation() {
			return &slurm.Srun{}, nil
		}
		return nil, nil
	}
	return nil, usageError("matrix: --launcher %q: want hpcbench, srun or auto", c.String("launcher"))
}

// errExecutor names the executors.
var errExecutor = errors.New("want local or slurm")
