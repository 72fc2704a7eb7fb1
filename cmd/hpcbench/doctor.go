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
	"github.com/hpcbench/hpcbench/signing"
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
		&cli.StringSliceFlag{Name: "config", Usage: "also check that the keyrings config `FILE` names (study.keyring, a runtime's verify) are readable OpenPGP keyrings (repeatable)"},
		&cli.StringSliceFlag{Name: "key", Usage: "also check that the signing key `FILE` (image sign --key, image build --sign-with) is a usable private key (repeatable)"},
	}
	return &cli.Command{
		Name:      "doctor",
		Usage:     "show what this node has: MPI libraries and the PMI each speaks, runtimes, Slurm, benchmarks",
		UsageText: "hpcbench doctor [--json] [--verify [--verify-with COMMAND]] [--npb-dir DIR]... [--timeout DUR] [--config FILE]... [--key FILE]... | --clean [--yes]",
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
It takes about a second per build, so it is not done by default.

--config FILE checks the image signing setup of a config: every keyring it
names (study.keyring, a runtime's verify) must be a readable OpenPGP
keyring; each is listed with its keys' fingerprints and owners, or with why
it cannot be used (a study would skip those runtimes' cells). --key FILE
checks a signing key the same way. Either makes doctor exit with status 1
when something is unusable. Apptainer's local keyring (the default of
"image verify") is listed when it exists.`,
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
	keys, bad, err := checkSigningFiles(c.StringSlice("config"), c.StringSlice("key"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if len(keys) > 0 {
			if err := enc.Encode(struct {
				*inventory.Inventory
				Keys []keyCheck `json:"signing_keys"`
			}{inv, keys}); err != nil {
				return err
			}
		} else if err := enc.Encode(inv); err != nil {
			return err
		}
	} else {
		if err := inventory.WriteReport(c.App.Writer, inv); err != nil {
			return err
		}
		writeKeyChecks(c.App.Writer, keys)
	}
	if bad > 0 {
		return &exitError{Code: 1, Err: fmt.Errorf("doctor: %d of the keyrings and keys given cannot be used (see above)", bad)}
	}
	return nil
}

// keyCheck is one keyring or signing key, as doctor found it.
type keyCheck struct {
	// What names where it came from: "study.keyring in FILE",
	// "runtime[1].verify (label) in FILE", "--key", "Apptainer's local
	// keyring".
	What string `json:"what"`
	File string `json:"file"`
	// Keys are "FINGERPRINT (owner)", one per key in the file.
	Keys  []string `json:"keys,omitempty"`
	Error string   `json:"error,omitempty"`
}

// checkSigningFiles reads the keyrings the configs name and the signing
// keys, and Apptainer's local keyring when there are any; bad counts the
// unusable ones (Apptainer's keyring is not counted). An unreadable config
// is an error.
func checkSigningFiles(cfgFiles, keyFiles []string) (checks []keyCheck, bad int, _ error) {
	if len(cfgFiles) == 0 && len(keyFiles) == 0 {
		return nil, 0, nil
	}
	ring := func(what, file string) {
		k := keyCheck{What: what, File: file}
		if el, err := signing.ReadKeyRing(file); err != nil {
			k.Error = err.Error()
			bad++
		} else {
			for _, e := range el {
				k.Keys = append(k.Keys, signing.Fingerprint(e)+" ("+signing.Identity(e)+")")
			}
		}
		checks = append(checks, k)
	}
	for _, f := range cfgFiles {
		cfg, err := configs.Load(f)
		if err != nil {
			return nil, 0, usageError("doctor: --config: %v", err)
		}
		seen := map[string]bool{}
		if cfg.Study.Keyring != "" {
			seen[cfg.Study.Keyring] = true
			ring("study.keyring in "+f, cfg.Study.Keyring)
		}
		for i, rt := range cfg.Runtimes {
			if rt.Verify != "" && !seen[rt.Verify] {
				seen[rt.Verify] = true
				ring(fmt.Sprintf("runtime[%d].verify (%s) in %s", i, rt.Label, f), rt.Verify)
			}
		}
		if len(seen) == 0 {
			checks = append(checks, keyCheck{What: f + " names no keyring (its images are not verified by signature)"})
		}
	}
	for _, f := range keyFiles {
		k := keyCheck{What: "--key (signing key)", File: f}
		if e, err := signing.ReadSigningKey(f); err != nil {
			k.Error = err.Error()
			bad++
		} else {
			k.Keys = []string{signing.Fingerprint(e) + " (" + signing.Identity(e) + ")"}
		}
		checks = append(checks, k)
	}
	if p := signing.ApptainerKeyring(); p != "" {
		k := keyCheck{What: "Apptainer's local keyring (image verify's default)", File: p}
		if el, err := signing.ReadKeyRing(p); err != nil {
			k.Error = err.Error()
		} else {
			for _, e := range el {
				k.Keys = append(k.Keys, signing.Fingerprint(e)+" ("+signing.Identity(e)+")")
			}
		}
		checks = append(checks, k)
	}
	return checks, bad, nil
}

// writeKeyChecks is the "Image signing" part of doctor's report.
func writeKeyChecks(w io.Writer, checks []keyCheck) {
	if len(checks) == 0 {
		return
	}
	fmt.Fprintf(w, "\nImage signing keys and keyrings\n")
	for _, k := range checks {
		switch {
		case k.File == "":
			fmt.Fprintf(w, "  %s\n", k.What)
		case k.Error != "":
			fmt.Fprintf(w, "  UNUSABLE %s: %s\n", k.What, k.Error)
		default:
			fmt.Fprintf(w, "  ok       %s: %s, %d key(s)\n", k.What, k.File, len(k.Keys))
			for _, key := range k.Keys {
				fmt.Fprintf(w, "             %s\n", key)
			}
		}
	}
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
