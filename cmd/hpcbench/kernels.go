package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hpcbench/hpcbench/npb/kernels"
	"github.com/urfave/cli/v2"
)

// kernelsCommand is "hpcbench kernels": the project's kernels, carried as
// C sources inside hpcbench and built into a cache on first use.
func kernelsCommand() *cli.Command {
	cacheFlag := &cli.StringFlag{Name: "cache", Usage: "kernels cache `DIR` (default $" + kernels.CacheEnv + ", else /var/lib/hpcbench/kernels for root, else $XDG_CACHE_HOME/hpcbench/kernels)"}
	return &cli.Command{
		Name:  "kernels",
		Usage: "build the project's MPI kernels (EP, IS, CG, MG, ping-pong) into the cache, and list the cache",
		Description: `hpcbench carries its kernels' C sources and builds them with each MPI's
compiler wrapper (mpicc.mpich, mpicc.openmpi) the first time a study needs
them outside the source tree, into <cache>/<key>/<mpi>/. The key digests the
sources, the flags and the wrapper (its file and what it says of its
compiler and MPI): a changed MPI or source is built anew, an unchanged one
is reused. "kernels build" does it ahead of time; "doctor --clean" removes
the cache. Programs built with Debian's mpicc.mpich also run on hpcbench's
MPICH builds under /opt/hpcbench (the same ABI).`,
		Subcommands: []*cli.Command{
			{
				Name:      "build",
				Usage:     "build the kernels for each MPI whose compiler wrapper is installed (skipped when the cache has them)",
				UsageText: "hpcbench kernels build [--mpi mpich,openmpi] [--cache DIR]",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "mpi", Usage: "only these MPI libraries (mpich, openmpi; repeatable or comma-separated)"},
					cacheFlag,
				},
				Action: runKernelsBuild,
			},
			{
				Name:      "list",
				Usage:     "list the builds in the kernels cache",
				UsageText: "hpcbench kernels list [--cache DIR]",
				Flags:     []cli.Flag{cacheFlag},
				Action:    runKernelsList,
			},
		},
	}
}

func runKernelsBuild(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("kernels build: unexpected argument %q", c.Args().First())
	}
	var mpis []string
	for _, v := range c.StringSlice("mpi") {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m == "" {
				continue
			}
			if _, ok := kernels.Wrappers[m]; !ok {
				return usageError("kernels build: --mpi %q: want mpich or openmpi", m)
			}
			mpis = append(mpis, m)
		}
	}
	explicit := len(mpis) > 0
	if !explicit {
		for m := range kernels.Wrappers {
			mpis = append(mpis, m)
		}
		slices.Sort(mpis)
	}
	cache := &kernels.Cache{Root: c.String("cache"), Log: c.App.ErrWriter}
	var built int
	for _, mpi := range mpis {
		e, _, err := cache.Ensure(c.Context, mpi)
		if errors.Is(err, kernels.ErrNoWrapper) && !explicit {
			fmt.Fprintf(c.App.ErrWriter, "%v; skipped\n", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("kernels build: %w", err)
		}
		built++
		fmt.Fprintf(c.App.Writer, "%s\t%s/%s\n", mpi, e.Dir, mpi)
	}
	if built == 0 {
		return fmt.Errorf("kernels build: %w: install mpich or openmpi with its development package (libmpich-dev, libopenmpi-dev)", kernels.ErrNoWrapper)
	}
	return nil
}

func runKernelsList(c *cli.Context) error {
	cache := &kernels.Cache{Root: c.String("cache")}
	list, err := cache.List()
	if err != nil {
		return fmt.Errorf("kernels list: %w", err)
	}
	if len(list) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "no kernels in %s (they are built on first use, or by 'hpcbench kernels build')\n", kernels.DefaultCacheRootOr(c.String("cache")))
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "MPI\tKEY\tPROGRAMS\tBUILT\tFOLDER")
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.MPI, e.Key, strings.Join(e.Programs, ","),
			e.Built.Local().Format("2006-01-02 15:04"), e.Dir)
	}
	return tw.Flush()
}
