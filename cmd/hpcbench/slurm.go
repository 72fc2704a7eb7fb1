package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/slurm"
	"github.com/urfave/cli/v2"
)

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

// slurmCommand is "hpcbench slurm".
func slurmCommand() *cli.Command {
	gen := &cli.Command{
		Name:      "gen",
		Usage:     "write one batch script per group of cells",
		UsageText: "hpcbench slurm gen -o DIR [--partition P] [--account A] [--time T] [--nodes N] [--group ranks|benchmark] [--filter ...] CONFIG",
		Description: `Writes DIR/<job>.sbatch (one job per rank count, or per benchmark), with
DIR/<job>.runs.json describing its runs and DIR/<job>/ for their output,
working folders and results. Each run is one srun line: --mpi=pmi2 for
PMI-1/PMI-2 cells, --mpi=pmix for PMIx cells, natively (an MPICH cell with
its build's lib folder first on LD_LIBRARY_PATH) or through
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
			&cli.StringFlag{Name: "isolation", Usage: "private (default) or host (the config's runtime.isolation)"},
			&cli.StringFlag{Name: "shm", Usage: "shared (default) or isolated (the cell's runtime.shm mode)"},
			&cli.StringFlag{Name: "pass-env", Usage: "variables the ranks get beyond the allow-list, as a JSON list of glob patterns"},
			&cli.StringFlag{Name: "mpi-build", Usage: "the `PREFIX` of the MPICH build the cell's PMI flavour chose"},
		},
		Action: runSlurmTask,
	}
	return &cli.Command{
		Name:      "slurm",
		Usage:     "run a study across nodes through Slurm: batch scripts, submission, import",
		UsageText: "hpcbench slurm gen|submit|collect|record|task [flags] ARGS",
		Description: `Slurm's own PMI plugins serve the ranks: the cell's PMI flavour names what
the ranks speak and the plugin follows (srun --mpi=pmi2 for PMI-1 and PMI-2
cells, --mpi=pmix for PMIx cells); an MPICH cell's step runs on hpcbench's
MPICH build of its flavour when the builds are installed. Each job writes its runs as JSON files and
the submitting host imports them (SQLite never lives on the shared file
system). Settings come from the config's [slurm] section or the flags.`,
		Subcommands: []*cli.Command{gen, submit, collect, record, task},
	}
}

// planSlurmStudy loads CONFIG and plans its study as "hpcbench matrix"
// does, with --study and --filter.
func planSlurmStudy(c *cli.Context, verb string) (*matrix.Plan, error) {
	if c.NArg() != 1 {
		return nil, usageError("slurm %s: one CONFIG expected (got %d arguments)", verb, c.NArg())
	}
	filter, err := matrix.ParseFilter(c.StringSlice("filter")...)
	if err != nil {
		return nil, usageError("slurm %s: --filter: %v", verb, err)
	}
	cfg, err := configs.Load(c.Args().First())
	if err != nil {
		return nil, usageError("slurm %s: %v", verb, err)
	}
	return newStudyPlan(c, "slurm "+verb, cfg, matrix.Overrides{Study: c.String("study"), Filter: filter})
}

// genOptions are the batch settings the gen and submit flags give.
func genOptions(c *cli.Context) (slurm.GenOptions, error) {
	g := slurm.Group(c.String("group"))
	if g != slurm.GroupRanks && g != slurm.GroupBenchmark {
		return slurm.GenOptions{}, usageError("slurm: --group %q: want ranks or benchmark", g)
	}
	return slurm.GenOptions{
		Dir: c.String("o"), Self: c.String("hpcbench"),
		Partition: c.String("partition"), Account: c.String("account"), Time: c.String("time"), Nodes: c.Int("nodes"),
		Group: g,
	}, nil
}

func runSlurmGen(c *cli.Context) error {
	opts, err := genOptions(c)
	if err != nil {
		return err
	}
	plan, err := planSlurmStudy(c, "gen")
	if err != nil {
		return err
	}
	opts.Log = c.App.Writer
	batch, err := slurm.Generate(c.Context, plan, opts)
	if errors.Is(err, slurm.ErrUnsafe) {
		return usageError("slurm gen: %w", err)
	}
	if err != nil {
		return err
	}
	writeSlurmSkips(c.App.ErrWriter, batch.Skipped)
	fmt.Fprintf(c.App.Writer, "%d jobs, %d runs for study %s; submit each with sbatch, then: hpcbench slurm collect %s\n",
		len(batch.Jobs), batch.Runs(), batch.Study, batch.Dir)
	return nil
}

// writeSlurmSkips writes the cells no job runs, grouped by cause.
func writeSlurmSkips(w io.Writer, skipped []matrix.Skipped) {
	if len(skipped) == 0 {
		return
	}
	fmt.Fprintf(w, "%d cells skipped:\n", len(skipped))
	_ = matrix.WriteSkipped(w, skipped, false, "  ")
}

func runSlurmSubmit(c *cli.Context) error {
	opts, err := genOptions(c)
	if err != nil {
		return err
	}
	plan, err := planSlurmStudy(c, "submit")
	if err != nil {
		return err
	}
	return executeStudy(c, slurmExecutor(c, opts, c.Duration("poll"), c.Bool("quiet")), plan, c.String("db"))
}

// slurmExecutor runs a study through Slurm for "slurm submit" and "matrix
// --executor slurm".
func slurmExecutor(c *cli.Context, gen slurm.GenOptions, poll time.Duration, quiet bool) *slurm.Executor {
	ex := &slurm.Executor{SubmitOptions: slurm.SubmitOptions{Gen: gen, Poll: poll, Log: c.App.ErrWriter}}
	if !quiet {
		ex.Progress = c.App.ErrWriter
	}
	return ex
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
	isolation, err := runtimes.ParseIsolation(c.String("isolation"))
	if err != nil {
		return usageError("slurm task: --isolation: %v", err)
	}
	shm, err := runtimes.ParseShm(c.String("shm"))
	if err != nil {
		return usageError("slurm task: --shm: %v", err)
	}
	var passEnv []string
	if s := c.String("pass-env"); s != "" {
		if err := json.Unmarshal([]byte(s), &passEnv); err != nil {
			return usageError("slurm task: --pass-env %q: want a JSON list of strings: %v", s, err)
		}
		if err := runtimes.CheckPassEnv(passEnv); err != nil {
			return usageError("slurm task: --pass-env: %v", err)
		}
	}
	var build *mpibuild.Build
	if prefix := c.String("mpi-build"); prefix != "" {
		b, err := mpibuild.Load(prefix)
		if err != nil {
			return fmt.Errorf("slurm task: --mpi-build: %w", err)
		}
		build = &b
	}
	code, err := slurm.RunTask(c.Context, slurm.TaskOptions{Runtime: c.String("runtime"), Image: c.String("image"), Layout: layout,
		MPI: c.String("mpi"), PMI: flavour, MPIBuild: build, Argv: argv, Command: c.String("runtime-command"), Flags: flags,
		Isolation: isolation, Shm: shm, PassEnv: passEnv,
		Stdout: c.App.Writer, Stderr: c.App.ErrWriter})
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{Code: code, Err: fmt.Errorf("rank exited with status %d", code)}
	}
	return nil
}
