// Package launchcli is what both hpcbench programs share: "hpcbench
// launch" (the process manager's verb, natively or in a container
// runtime, and its runtimes' housekeeping), the version, the argument
// order and the exit statuses. The front program (cmd/hpcbench/front)
// runs launches under PMI-1 and PMI-2 with it and nothing else, so that
// the process manager starts without the initialisers of the store, the
// plots, the signatures and the PMIx library; the full program
// (cmd/hpcbench) runs every verb.
package launchcli

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// WrapperFunc builds the pmi.Wrapper a launch's --runtime, --image and
// --layout ask for (nil: the ranks run natively). prepared, if not nil,
// is called once the ranks ended: it waits for what was prepared while
// they started (an image's digest) and returns why that failed, which
// then is the launch's error.
type WrapperFunc func(c *cli.Context, build *mpibuild.Build) (w pmi.Wrapper, prepared func() error, err error)

// Command is "hpcbench launch"; wrap builds its ranks' container wrapper
// (nil: a launch that asks for a runtime is refused).
func Command(wrap WrapperFunc) *cli.Command {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "n", Aliases: []string{"ranks"}, Usage: "number of ranks", Required: true},
		&cli.StringFlag{Name: "pmi", Value: string(pmi.PMI1), Usage: "PMI flavour served to the ranks: pmi1, pmi2 or pmix"},
		&cli.StringFlag{Name: "channel", Usage: "how PMI-1/PMI-2 ranks reach the server: fd (inherited socket) or tcp (127.0.0.1); default fd, or what the runtime needs"},
		&cli.IntFlag{Name: "max-ranks", Usage: "refuse more than `N` ranks",
			DefaultText: fmt.Sprintf("%d per core, %d here", pmi.MaxRanksPerCore, pmi.DefaultMaxRanks())},
		&cli.DurationFlag{Name: "timeout", Value: pmi.DefaultTimeout, Usage: "kill every rank after this long (e.g. 30s, 2h); 0 for none"},
		&cli.BoolFlag{Name: "no-pmi", Usage: "PROG is not an MPI program (e.g. hostname): its ranks need not speak PMI"},
		&cli.StringFlag{Name: "bind", Value: "none", Usage: "none, or core: pin rank r to core r mod cores"},
		&cli.BoolFlag{Name: "tag-output", Usage: "prefix every output line with [rank]"},
		&cli.StringFlag{Name: "report", Usage: "write the launch report as JSON to `FILE`"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no summary line on stderr"},
		&cli.StringFlag{Name: "mpi-build", Value: "auto", Usage: "the MPICH build the ranks load: auto (hpcbench's build for --pmi when PROG is linked against Debian's MPICH), none, or a build's `PREFIX`"},
		// The ranks run in a container runtime (per-rank or bind; per-node
		// goes through the matrix executor, which runs "hpcbench launch"
		// itself inside the container).
		&cli.StringFlag{Name: "runtime", Usage: "run each rank in native, docker, podman, apptainer (singularity), oci or charliecloud (ch-run)"},
		&cli.StringFlag{Name: "image", Usage: "the image: a name from 'hpcbench image build', a SIF path, a local Docker/Podman image, a root filesystem folder"},
		&cli.StringFlag{Name: "layout", Usage: "per-rank (default) or bind (the host's MPI bind-mounted)"},
		&cli.StringFlag{Name: "mpi", Usage: "the program's MPI, mpich or openmpi, for --layout bind (default: from --pmi)"},
		&cli.StringFlag{Name: "runtime-command", Usage: "the runtime's `EXECUTABLE` (default: docker, podman, apptainer, crun or runc from PATH)"},
		&cli.GenericFlag{Name: "runtime-flag", Value: &WordList{}, Usage: "one `WORD` for the runtime's run command, as it is (repeat for more; commas are kept)"},
		&cli.StringFlag{Name: "isolation", Usage: "private (default: the job's own pid namespace, no needless capabilities) or host (the host's pid namespace and devices)"},
		&cli.StringFlag{Name: "shm", Usage: "shared (default: the ranks' containers share memory) or isolated (no shared memory between them: the MPI uses its network path)"},
		&cli.GenericFlag{Name: "pass-env", Value: &WordList{}, Usage: "a `PATTERN` (glob) of host variables the container ranks get beyond the allow-list (PMI, MPI, UCX, OpenMP, ...); repeat for more"},
	}
	return &cli.Command{
		Name:      "launch",
		Usage:     "run an MPI program on this node with hpcbench as its process manager",
		UsageText: "hpcbench launch -n N [--pmi pmi1|pmi2|pmix] [--mpi-build auto|none|PREFIX] [--channel fd|tcp] [--timeout DUR] [--max-ranks N] [--no-pmi] [--bind none|core] [--tag-output] [--report FILE] -- PROG ARGS...",
		Description: `Spawns N ranks of PROG, serves them PMI (PMI-1 or PMI-2 over the simple
wire protocol, or PMIx), streams their output and measures the launch: wall
time, wire-up time (until every rank finished PMI init), time to the first
fence, and the PMI version each rank negotiated.

Debian's MPICH speaks PMI-1 only; a rank speaking another PMI version than
--pmi asked for fails the launch, and so do N > 1 ranks that exit 0 while
some or all never spoke PMI (each ran as a world of its own, as MPICH does
under --pmi pmix without a PMIx build); --no-pmi declares PROG no MPI
program (hostname, a script) and skips that check.

When hpcbench's MPICH builds are installed (scripts/build-mpich.sh: one
per PMI flavour under /opt/hpcbench) and PROG is linked against Debian's
MPICH (libmpich.so.12), the build for --pmi goes first on the ranks'
LD_LIBRARY_PATH, so the same binary speaks PMI-1, PMI-2 or PMIx
(--mpi-build auto, the default; none keeps the library PROG finds itself;
PREFIX names a build).

With --channel tcp each rank names itself to the PMI server by a random
token (PMI_ID); other connections to the port are dropped and counted.

At most --max-ranks ranks are started (default 64 per core). On an abort,
a rank's death, the timeout (default 10m, as a study's runs) or Ctrl-C,
also while ranks are still being started, every rank's process group is
killed. The exit status is the failing rank's exit status, or 1 with the
reason.`,
		Flags:  flags,
		Action: func(c *cli.Context) error { return run(c, wrap) },
	}
}

func run(c *cli.Context, wrap WrapperFunc) error {
	argv := c.Args().Slice()
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return Usage("launch: no program given (hpcbench launch -n N -- PROG ARGS...)")
	}
	if c.Int("n") < 1 {
		return Usage("launch: -n %d: need at least 1 rank", c.Int("n"))
	}
	maxRanks := c.Int("max-ranks")
	if maxRanks < 0 {
		return Usage("launch: --max-ranks %d: must not be negative", maxRanks)
	}
	if ceiling := cmp.Or(maxRanks, pmi.DefaultMaxRanks()); c.Int("n") > ceiling {
		how := fmt.Sprintf("--max-ranks %d", ceiling)
		if maxRanks == 0 {
			how = fmt.Sprintf("%d per core on %d cores", pmi.MaxRanksPerCore, runtime.NumCPU())
		}
		return Usage("launch: -n %d: more ranks than one launch may start (%s); pass --max-ranks %d to start them anyway",
			c.Int("n"), how, c.Int("n"))
	}
	flavour := pmi.Flavour(strings.ToLower(c.String("pmi")))
	switch flavour {
	case pmi.PMI1, pmi.PMI2, pmi.PMIx:
	default:
		return Usage("launch: --pmi %q: want pmi1, pmi2 or pmix", c.String("pmi"))
	}
	channel := pmi.Channel(strings.ToLower(c.String("channel")))
	switch channel {
	case "", pmi.ChannelFD, pmi.ChannelTCP:
	default:
		return Usage("launch: --channel %q: want fd or tcp", c.String("channel"))
	}
	switch c.String("bind") {
	case "none", "core":
	default:
		return Usage("launch: --bind %q: want none or core", c.String("bind"))
	}
	if c.Duration("timeout") < 0 {
		return Usage("launch: --timeout %v: must not be negative", c.Duration("timeout"))
	}
	if err := CheckOutputFlag("launch", "--report", c.String("report")); err != nil {
		return err
	}
	build, err := ChooseMPIBuild(c.String("mpi-build"), flavour, argv[0])
	if err != nil {
		return err
	}
	var buildEnv []string
	if build != nil {
		if c.String("runtime") == "" {
			buildEnv = build.EnvOver(os.Getenv(mpibuild.LibraryPathVar))
		}
		if !c.Bool("quiet") {
			note := fmt.Sprintf("hpcbench launch: MPICH build %s for %s", build, flavour)
			if build.Flavour != string(flavour) {
				note += fmt.Sprintf(" (it is the %s build: its ranks will not speak %s)", build.Flavour, flavour)
			}
			if len(buildEnv) > 0 {
				note += ": " + buildEnv[0]
			}
			fmt.Fprintln(c.App.ErrWriter, note)
		}
	}
	opts := pmi.Options{
		Ranks:     c.Int("n"),
		Env:       buildEnv,
		PMI:       flavour,
		Channel:   channel,
		Timeout:   c.Duration("timeout"),
		MaxRanks:  maxRanks,
		Bind:      c.String("bind"),
		TagOutput: c.Bool("tag-output"),
		Argv:      argv,
		Stdout:    c.App.Writer,
		Stderr:    c.App.ErrWriter,
	}
	var prepared func() error
	if wrap == nil {
		if c.String("runtime") != "" {
			return Usage("launch: --runtime: this program runs native launches only")
		}
	} else {
		w, p, err := wrap(c, build)
		if err != nil {
			return err
		}
		opts.Wrapper, prepared = w, p
	}
	// What a killed hpcbench left goes before the first rank starts.
	AwaitSweep(c)

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the launcher tears the job down; a
		// second one ends hpcbench at once (its ranks die with it).
		<-ctx.Done()
		stop()
	}()
	rep, err := pmi.Launch(ctx, opts)
	if prepared != nil {
		if perr := prepared(); perr != nil {
			// The image the ranks ran could not be prepared (it is
			// missing, or the engine could not say what it is): that is
			// the reason, whatever the ranks did.
			return perr
		}
	}
	if err == nil && !c.Bool("no-pmi") && opts.Ranks > 1 {
		// The matrix's world-size guard: ranks that exited 0 without
		// speaking PMI ran as singletons, and measured nothing of a job.
		pmi.GuardWorld(rep, flavour)
	}
	if rep != nil && len(buildEnv) > 0 {
		// The loader path is a setting hpcbench added: it is part of the run.
		if rep.Settings == nil {
			rep.Settings = map[string]string{}
		}
		name, value, _ := strings.Cut(buildEnv[0], "=")
		rep.Settings[name] = value
	}
	if rep != nil {
		if path := c.String("report"); path != "" {
			if werr := writeReport(path, rep); werr != nil && err == nil {
				err = werr
			}
		}
		if !c.Bool("quiet") {
			printSummary(c.App.ErrWriter, rep)
		}
	}
	if err != nil {
		if errors.Is(err, pmi.ErrOptions) || errors.Is(err, pmi.ErrUnsupported) {
			return Usage("launch: %w", err)
		}
		return fmt.Errorf("launch: %w", err)
	}
	if !rep.OK() {
		code := rep.ExitStatus
		if code == 0 {
			code = 1
		}
		reason := rep.Reason
		if rep.Failure == pmi.FailureSingleton {
			reason += " (if PROG is no MPI program, pass --no-pmi)"
		}
		return &ExitError{Code: code, Err: fmt.Errorf("launch failed: %s", reason)}
	}
	return nil
}

// WordList is a repeatable flag whose values are kept whole (a
// StringSliceFlag would split them at commas). Each app builds its verbs
// afresh, so one launch's words never reach the next.
type WordList []string

func (l *WordList) Set(v string) error { *l = append(*l, v); return nil }
func (l *WordList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, " ")
}

// ChooseMPIBuild decides --mpi-build for a launch of program under
// flavour: nil runs the MPI library the program finds by itself.
//
//   - "none": nil.
//   - "auto": hpcbench's build for flavour, when one is installed and the
//     program (found on PATH like the launcher finds it) is an ELF file
//     linked against Debian's MPICH sonames; otherwise nil, as without
//     builds.
//   - a prefix: that build, whatever the program; a build of another
//     flavour is allowed (the ranks will then fail the flavour check,
//     which is how the check itself is shown to work).
func ChooseMPIBuild(mode string, flavour pmi.Flavour, program string) (*mpibuild.Build, error) {
	switch mode {
	case "none":
		return nil, nil
	case "", "auto":
		// The program first: most launches of a program that is no
		// MPICH program then read no build.
		path, err := exec.LookPath(program)
		if err != nil {
			return nil, nil // the launch itself says the program is missing
		}
		if links, _ := mpibuild.LinksMPICH(path); !links {
			return nil, nil
		}
		b, ok := mpibuild.ForFlavour("", string(flavour))
		if !ok {
			return nil, nil
		}
		return &b, nil
	default:
		b, err := mpibuild.Load(mode)
		if err != nil {
			return nil, Usage("launch: --mpi-build: %v (want auto, none or a build's prefix)", err)
		}
		return &b, nil
	}
}

func writeReport(path string, rep *pmi.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("launch: --report: %w", err)
	}
	return nil
}

func printSummary(w io.Writer, rep *pmi.Report) {
	ms := func(d interface{ Seconds() float64 }) string { return fmt.Sprintf("%.1f ms", d.Seconds()*1000) }
	noun := "ranks"
	if rep.Ranks == 1 {
		noun = "rank"
	}
	line := fmt.Sprintf("hpcbench launch: %d %s, %s", rep.Ranks, noun, rep.PMI)
	if rep.Channel != "" && rep.PMI != pmi.PMIx {
		line += " over " + string(rep.Channel)
	}
	line += ", wall " + ms(rep.Wall)
	if rep.WireUp > 0 {
		line += ", wire-up " + ms(rep.WireUp)
	}
	if rep.FirstFence > 0 {
		line += ", first fence " + ms(rep.FirstFence)
	}
	if rep.ContainerStart > 0 && rep.PMIExchange > 0 {
		line += " (slowest rank start " + ms(rep.ContainerStart) + ", PMI exchange " + ms(rep.PMIExchange) + ")"
	}
	line += ", negotiated " + SummariseNegotiated(rep.Negotiated)
	if rep.Refused > 0 {
		line += fmt.Sprintf(", refused %d stranger connection(s) to the PMI port (first: %s)", rep.Refused, rep.RefusedWhy)
	}
	if rep.Spawned < rep.Ranks {
		line += fmt.Sprintf(", started %d of %d ranks", rep.Spawned, rep.Ranks)
	}
	if !rep.OK() {
		line += ", FAILED: " + rep.Reason
	}
	fmt.Fprintln(w, line)
}

// SummariseNegotiated writes "pmi1 x4" when every rank agrees, else the
// list ("-" for a rank that never spoke PMI).
func SummariseNegotiated(versions []string) string {
	if len(versions) == 0 {
		return "-"
	}
	same := true
	for _, v := range versions {
		same = same && v == versions[0]
	}
	name := func(v string) string {
		if v == "" {
			return "-"
		}
		return v
	}
	if same {
		return fmt.Sprintf("%s x%d", name(versions[0]), len(versions))
	}
	parts := make([]string, len(versions))
	for i, v := range versions {
		parts[i] = name(v)
	}
	return strings.Join(parts, ",")
}
