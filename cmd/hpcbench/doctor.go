package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/progress"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/npb/kernels"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/urfave/cli/v2"
)

// doctorCommand is "hpcbench doctor".
func doctorCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print the inventory as JSON"},
		&cli.StringSliceFlag{Name: "npb-dir", Usage: "also look for NPB binaries in `DIR` and its subfolders (repeatable); " + configs.DefaultNPBDir + " is searched when present"},
		&cli.DurationFlag{Name: "timeout", Value: inventory.DefaultTimeout, Usage: "time limit of each probe"},
		&cli.BoolFlag{Name: "verify", Usage: "also run one rank of a small MPICH program on each of hpcbench's MPICH builds, under hpcbench's PMI server and the build's flavour, and show what it negotiated"},
		&cli.StringFlag{Name: "verify-with", Value: filepath.Join(configs.DefaultNPBDir, "mpich", "ep") + " S", Usage: "the `COMMAND` --verify runs (a program linked against Debian's MPICH, and its arguments)"},
		&cli.BoolFlag{Name: "clean", Usage: "remove containers left behind by an hpcbench that was killed (labelled hpcbench.job; a live run's containers are kept), and its PMIx and working folders in the temporary folder, and (after a confirmation, or with --yes) the kernels cache, then exit"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "with --clean: remove the kernels cache without asking"},
	}
	return &cli.Command{
		Name:      "doctor",
		Usage:     "show what this node has: MPI libraries and the PMI each speaks, runtimes, Slurm, benchmarks",
		UsageText: "hpcbench doctor [--json] [--verify [--verify-with COMMAND]] [--npb-dir DIR]... [--timeout DUR] | --clean [--yes]",
		Description: `Probes the node, every probe at once and each under its own time limit:
the host (CPU, cores, memory, kernel), MPICH and Open MPI with their
compiler wrappers and launchers, which PMI flavours each speaks (from the
library's symbols or strings and ompi_info), hpcbench's MPICH builds (one
per PMI flavour, with the flavour each library speaks; with them "mpich"
speaks every flavour a build does), libpmix and Slurm's libpmi2, Docker
(and whether its engine answers), Podman, Apptainer/Singularity, crun and
runc, Slurm (and whether a controller answers), and the NPB, HPL and HPCC
binaries. What is missing is listed with a hint on how to get it; nothing
missing is an error. The matrix uses the same inventory to skip cells this
node cannot run.

--verify also runs one rank of --verify-with (the project's EP kernel,
class S) on every MPICH build under hpcbench's own PMI server and reports
the flavour it negotiated: the proof that the build speaks what it says.
It takes about a second per build, so it is not done by default.`,
		Flags:  flags,
		Action: runDoctor,
	}
}

func runDoctor(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("doctor: takes no arguments (got %q)", c.Args().First())
	}
	if c.Bool("clean") {
		return cleanLeftovers(c)
	}
	if c.Duration("timeout") <= 0 {
		return usageError("doctor: --timeout %s: must be positive", c.Duration("timeout"))
	}
	opts := inventory.Options{NPBDirs: c.StringSlice("npb-dir"), Timeout: c.Duration("timeout")}
	if st, err := os.Stat(configs.DefaultNPBDir); err == nil && st.IsDir() {
		opts.NPBDirs = append(opts.NPBDirs, configs.DefaultNPBDir)
	}
	inv := inventory.Detect(c.Context, opts)
	if c.Bool("verify") && len(inv.MPICHBuilds) > 0 {
		argv := strings.Fields(c.String("verify-with"))
		if len(argv) == 0 {
			return usageError("doctor: --verify-with: no command")
		}
		if abs, err := filepath.Abs(argv[0]); err == nil && strings.ContainsRune(argv[0], '/') {
			argv[0] = abs
		}
		inventory.VerifyMPICHBuilds(c.Context, inv, argv, 30*time.Second)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	return inventory.WriteReport(c.App.Writer, inv)
}

// cleanLeftovers is "doctor --clean": it removes the containers a killed
// hpcbench left behind, and the folders (PMIx servers', studies' working
// folders) it left in the temporary folder.
func cleanLeftovers(c *cli.Context) error {
	removed, err := runtimes.CleanupLeftovers(c.Context)
	for _, name := range removed {
		fmt.Fprintf(c.App.Writer, "removed %s\n", name)
	}
	for _, dir := range append(pmi.SweepLeftovers(), matrix.SweepWorkFolders("")...) {
		fmt.Fprintf(c.App.Writer, "removed %s\n", dir)
	}
	if err == nil {
		fmt.Fprintf(c.App.Writer, "%d leftover containers removed\n", len(removed))
	}
	if cerr := cleanKernelsCache(c.App.Writer, os.Stdin, c.Bool("yes"), &kernels.Cache{}); err == nil {
		err = cerr
	}
	return err
}

// cleanKernelsCache removes the kernels cache after asking on in (a "y"
// or "yes" answer), or at once with yes. Without a terminal to ask on and
// without yes, it is kept. The kernels are rebuilt on the next study that
// needs them.
func cleanKernelsCache(w io.Writer, in io.Reader, yes bool, cache *kernels.Cache) error {
	list, err := cache.List()
	if err != nil {
		return err
	}
	root := kernels.DefaultCacheRootOr(cache.Root)
	if len(list) == 0 {
		return nil
	}
	if !yes {
		if f, ok := in.(*os.File); ok && !progress.IsTerminal(f) {
			fmt.Fprintf(w, "kept the kernels cache %s (%d builds): confirm with --yes\n", root, len(list))
			return nil
		}
		fmt.Fprintf(w, "remove the kernels cache %s (%d builds, rebuilt when a study needs them)? [y/N] ", root, len(list))
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintf(w, "kept %s\n", root)
			return nil
		}
	}
	removed, err := cache.Clean()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "removed %s\n", removed)
	return nil
}
