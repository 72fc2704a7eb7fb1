package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// launchExtraFlags and launchWrapper let other files give "hpcbench
// launch" a container runtime (--runtime, --image, --layout) without
// touching this one. Set them from a package-level variable initialiser,
// which Go runs before any init function, through extendLaunch:
//
//	var _ = extendLaunch([]cli.Flag{...}, func(c *cli.Context) (pmi.Wrapper, error) {...})
var (
	launchExtraFlags []cli.Flag
	// launchWrapper builds the Wrapper for the ranks from the flags; nil,
	// or a nil Wrapper, runs them natively.
	launchWrapper func(c *cli.Context) (pmi.Wrapper, error)
)

// extendLaunch adds flags to "hpcbench launch" and sets the function that
// turns them into a Wrapper. It returns true so it can initialise a var.
func extendLaunch(flags []cli.Flag, wrapper func(c *cli.Context) (pmi.Wrapper, error)) bool {
	launchExtraFlags = append(launchExtraFlags, flags...)
	if wrapper != nil {
		launchWrapper = wrapper
	}
	return true
}

func init() {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "n", Aliases: []string{"ranks"}, Usage: "number of ranks", Required: true},
		&cli.StringFlag{Name: "pmi", Value: string(pmi.PMI1), Usage: "PMI flavour served to the ranks: pmi1, pmi2 or pmix"},
		&cli.StringFlag{Name: "channel", Usage: "how PMI-1/PMI-2 ranks reach the server: fd (inherited socket) or tcp (127.0.0.1); default fd, or what the runtime needs"},
		&cli.DurationFlag{Name: "timeout", Usage: "kill every rank after this long (e.g. 30s, 10m); 0 for none"},
		&cli.StringFlag{Name: "bind", Value: "none", Usage: "none, or core: pin rank r to core r mod cores"},
		&cli.BoolFlag{Name: "tag-output", Usage: "prefix every output line with [rank]"},
		&cli.StringFlag{Name: "report", Usage: "write the launch report as JSON to `FILE`"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no summary line on stderr"},
	}
	register(&cli.Command{
		Name:      "launch",
		Usage:     "run an MPI program on this node with hpcbench as its process manager",
		UsageText: "hpcbench launch -n N [--pmi pmi1|pmi2|pmix] [--channel fd|tcp] [--timeout DUR] [--bind none|core] [--tag-output] [--report FILE] -- PROG ARGS...",
		Description: `Spawns N ranks of PROG, serves them PMI (PMI-1 or PMI-2 over the simple
wire protocol, or PMIx), streams their output and measures the launch: wall
time, wire-up time (until every rank finished PMI init), time to the first
fence, and the PMI version each rank negotiated.

Debian's MPICH speaks PMI-1 only; a rank speaking another PMI version than
--pmi asked for fails the launch. On an abort, a rank's death, the timeout or
Ctrl-C every rank's process group is killed. The exit status is the failing
rank's exit status, or 1 with the reason.`,
		Flags:  append(flags, launchExtraFlags...),
		Action: runLaunch,
	})
}

func runLaunch(c *cli.Context) error {
	argv := c.Args().Slice()
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usageError("launch: no program given (hpcbench launch -n N -- PROG ARGS...)")
	}
	if c.Int("n") < 1 {
		return usageError("launch: -n %d: need at least 1 rank", c.Int("n"))
	}
	flavour := pmi.Flavour(strings.ToLower(c.String("pmi")))
	switch flavour {
	case pmi.PMI1, pmi.PMI2, pmi.PMIx:
	default:
		return usageError("launch: --pmi %q: want pmi1, pmi2 or pmix", c.String("pmi"))
	}
	channel := pmi.Channel(strings.ToLower(c.String("channel")))
	switch channel {
	case "", pmi.ChannelFD, pmi.ChannelTCP:
	default:
		return usageError("launch: --channel %q: want fd or tcp", c.String("channel"))
	}
	switch c.String("bind") {
	case "none", "core":
	default:
		return usageError("launch: --bind %q: want none or core", c.String("bind"))
	}
	if c.Duration("timeout") < 0 {
		return usageError("launch: --timeout %v: must not be negative", c.Duration("timeout"))
	}
	opts := pmi.Options{
		Ranks:     c.Int("n"),
		PMI:       flavour,
		Channel:   channel,
		Timeout:   c.Duration("timeout"),
		Bind:      c.String("bind"),
		TagOutput: c.Bool("tag-output"),
		Argv:      argv,
		Stdout:    c.App.Writer,
		Stderr:    c.App.ErrWriter,
	}
	if launchWrapper != nil {
		w, err := launchWrapper(c)
		if err != nil {
			return err
		}
		opts.Wrapper = w
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the launcher tears the job down; a
		// second one ends hpcbench at once (its ranks die with it).
		<-ctx.Done()
		stop()
	}()
	rep, err := pmi.Launch(ctx, opts)
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
			return usageError("launch: %w", err)
		}
		return fmt.Errorf("launch: %w", err)
	}
	if !rep.OK() {
		code := rep.ExitStatus
		if code == 0 {
			code = 1
		}
		return &exitError{code: code, err: fmt.Errorf("launch failed: %s", rep.Reason)}
	}
	return nil
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
	line := fmt.Sprintf("hpcbench launch: %d ranks, %s", rep.Ranks, rep.PMI)
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
	line += ", negotiated " + summariseNegotiated(rep.Negotiated)
	if !rep.OK() {
		line += ", FAILED: " + rep.Reason
	}
	fmt.Fprintln(w, line)
}

// summariseNegotiated writes "pmi1 x4" when every rank agrees, else the
// list ("-" for a rank that never spoke PMI).
func summariseNegotiated(versions []string) string {
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
