package inventory

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/hpcbench/hpcbench/mpibuild"
)

// WriteReport writes inv as a readable table grouped Host, MPI, PMI,
// Runtimes, Slurm and Benchmarks: each component found or missing, its
// version and path, and for what is missing or unusable a hint.
func WriteReport(w io.Writer, inv *Inventory) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := func(name string) { fmt.Fprintf(tw, "%s\n", name) }
	kv := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	row := func(c Component, usable bool) {
		status := "ok"
		switch {
		case c.Unknown:
			status = "unknown"
		case !c.Found:
			status = "missing"
		case !usable:
			status = "unusable"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Name, status, orDash(c.Version), orDash(c.Path), c.Detail)
		if c.Hint != "" && (status != "ok" || c.Detail != "") {
			fmt.Fprintf(tw, "  \t\t\t\t-> %s\n", c.Hint)
		}
	}

	h := inv.Host
	section("Host")
	kv("hostname", h.Hostname)
	if h.OS != "" {
		kv("os", h.OS)
	}
	kv("kernel", h.Kernel+" ("+h.Arch+")")
	kv("cpu", fmt.Sprintf("%s, %d cores", orDash(h.CPUModel), h.Cores))
	kv("memory", fmt.Sprintf("%.1f GiB", float64(h.MemoryBytes)/(1<<30)))

	section("\nMPI")
	for _, m := range inv.MPI {
		row(m.Component, true)
		if m.Found {
			if m.Library != "" {
				fmt.Fprintf(tw, "    library\t\t\t%s\t\n", m.Library)
			}
			for _, t := range []Component{m.Compiler, m.Launcher} {
				if t.Found {
					fmt.Fprintf(tw, "    %s\tok\t\t%s\t\n", t.Name, t.Path)
				} else {
					fmt.Fprintf(tw, "    %s\tmissing\t\t\t-> %s\n", t.Name, t.Hint)
				}
			}
		}
	}

	section("\nPMI")
	for _, m := range inv.MPI {
		fl, detected := inv.PMIOf(m.Name)
		names := make([]string, len(fl))
		for i, f := range fl {
			names[i] = string(f)
		}
		how := m.PMIEvidence
		if !detected {
			how = "assumed from Debian 12's package"
			if m.PMIEvidence != "" {
				how += " (" + m.PMIEvidence + ")"
			}
		}
		fmt.Fprintf(tw, "  %s speaks\t%s\t\t\t%s\n", m.Name, strings.Join(names, ", "), how)
	}
	row(inv.PMI.PMIx, true)
	row(inv.PMI.SlurmPMI2, true)

	section("\nMPICH builds (" + mpibuild.Root(inv.MPICHRoot) + ")")
	if len(inv.MPICHBuilds) == 0 {
		fmt.Fprintf(tw, "  none\t\t\t\tmpich is Debian's library alone (PMI-1)\n")
		fmt.Fprintf(tw, "  \t\t\t\t-> scripts/build-mpich.sh builds one per PMI flavour\n")
	}
	for _, b := range inv.MPICHBuilds {
		status := "ok"
		if !b.Usable {
			status = "unusable"
		}
		names := make([]string, len(b.PMI))
		for i, f := range b.PMI {
			names[i] = string(f)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\tspeaks %s (%s)\n", "mpich-"+b.Flavour, status, orDash(b.Version), b.Prefix, orDash(strings.Join(names, ", ")), b.PMIEvidence)
		switch {
		case b.VerifyError != "":
			fmt.Fprintf(tw, "  \t\t\t\tone-rank run FAILED: %s\n", b.VerifyError)
		case b.Verified != "":
			fmt.Fprintf(tw, "  \t\t\t\tone-rank run negotiated %s (%s)\n", b.Verified, b.VerifyTook)
		}
	}

	section("\nRuntimes")
	fmt.Fprintf(tw, "  native\tok\t\t\t\n")
	for _, rt := range inv.Runtimes {
		row(rt.Component, rt.Usable)
	}

	section("\nSlurm")
	s := inv.Slurm
	row(s.Client, true)
	if s.Client.Found {
		status := "down"
		if s.Controller {
			status = "up"
		}
		fmt.Fprintf(tw, "  controller\t%s\t\t\t%s\n", status, s.ControllerDetail)
		if !s.Controller && s.ControllerHint != "" {
			fmt.Fprintf(tw, "  \t\t\t\t-> %s\n", s.ControllerHint)
		}
		if len(s.MPIPlugins) > 0 {
			fmt.Fprintf(tw, "  --mpi plugins\t%s\t\t\t\n", strings.Join(s.MPIPlugins, ", "))
		}
	}

	section("\nBenchmarks")
	b := inv.Benchmarks
	if len(b.NPB) == 0 {
		where := "PATH"
		if len(b.NPBDirs) > 0 {
			where += ", " + strings.Join(b.NPBDirs, ", ")
		}
		fmt.Fprintf(tw, "  npb\tmissing\t\t\tsearched %s\n", where)
		fmt.Fprintf(tw, "  \t\t\t\t-> %s\n", b.NPBHint)
	} else {
		byDir := map[string][]string{}
		for _, bin := range b.NPB {
			dir := bin.Path[:strings.LastIndexByte(bin.Path, '/')+1]
			byDir[dir] = append(byDir[dir], bin.Path[len(dir):])
		}
		dirs := make([]string, 0, len(byDir))
		for d := range byDir {
			dirs = append(dirs, d)
		}
		sort.Strings(dirs)
		for _, d := range dirs {
			fmt.Fprintf(tw, "  npb\tok\t\t%s\t%s\n", d, strings.Join(byDir[d], " "))
		}
	}
	row(b.HPL, true)
	row(b.HPCC, true)

	fmt.Fprintf(tw, "\n(probed in %s)\n", inv.Took)
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
