package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/hpcbench/hpcbench/imagebuild"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/signing"
	"github.com/urfave/cli/v2"
)

// imageCommand is "hpcbench image".
func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "build container images for the benchmarks without a registry, list them, and sign and verify them",
		Subcommands: append([]*cli.Command{
			{
				Name:      "build",
				Usage:     "build an image from this machine's MPI and the benchmark binaries, and import it into Docker, Podman and Apptainer",
				UsageText: "hpcbench image build --mpi mpich|openmpi --name NAME [--minimal [--without-mpi]] [--binaries PATH]... [--runtimes docker,podman,apptainer] [--store DIR] [--force] [--sign-with KEY]",
				Description: `A full image is a Debian minbase made by debootstrap (as root) from the
mirror this machine's apt sources name, with the MPI's run-time packages; a
minimal one (--minimal) holds only the shared libraries the binaries and the
MPI need (their ldd closure, and Open MPI's plugin folders) plus busybox.
Binaries keep their host paths inside the image; hpcbench itself is always
added (the per-node layout runs it inside the container). --without-mpi
leaves the MPI out: such an image runs only in the bind layout, which mounts
the host's MPI.

An MPICH image (--mpi mpich, with its MPI) also carries hpcbench's own MPICH
builds, one per PMI layer (/opt/hpcbench/mpich-pmi1, mpich-pmi2, mpich-pmix,
made by scripts/build-mpich.sh; $HPCBENCH_MPICH_ROOT moves them), each
folder whole at the same path, with what its libraries need (libpmix and its
plugins for the PMIx one): the same image NAME then runs a cell of any PMI
flavour, which picks its build inside the container by the loader path, as
natively. Only builds complete on this machine go in (a prefix with its
hpcbench-build.txt); the manifest lists them, and a rebuilt build makes the
image rebuild. Without the builds the image holds Debian's MPICH only, as
before. The bind layout mounts the build from the host instead.

The root filesystem is kept in the store ($HPCBENCH_IMAGES, default
/var/lib/hpcbench/images for root) for OCI bundles, imported into Docker and
Podman under NAME, and built into NAME.sif for Apptainer. Each image's digest
is recorded. A build whose inputs (binaries, MPI, package versions, options)
are unchanged is skipped; --force rebuilds.

--sign-with FILE signs NAME.sif with the private key in FILE, as "image
sign" does, and records the signed file's digest: a study whose runtime
says verify = "KEYRING" then runs it. A SIF that was kept unchanged and is
already signed by the key is not signed twice. Docker, Podman and OCI
copies are not signed: pin them by digest (NAME@sha256:HEX, see "image
list").`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "mpi", Usage: "mpich or openmpi", Required: true},
					&cli.StringFlag{Name: "name", Usage: "image name (lower case)", Required: true},
					&cli.BoolFlag{Name: "minimal", Usage: "only the libraries the binaries and the MPI need, plus busybox"},
					&cli.BoolFlag{Name: "without-mpi", Usage: "with --minimal: leave the MPI out (for the bind layout)"},
					&cli.StringSliceFlag{Name: "binaries", Usage: "programs to copy in at their host paths (repeat, or separate with commas)"},
					&cli.StringFlag{Name: "runtimes", Usage: "where to import it: docker,podman,apptainer (default: every one installed)"},
					&cli.StringFlag{Name: "store", Usage: "image store `DIR` (default $HPCBENCH_IMAGES or /var/lib/hpcbench/images)"},
					&cli.BoolFlag{Name: "force", Usage: "rebuild even when nothing changed"},
					&cli.StringFlag{Name: "sign-with", Usage: "sign the SIF with the private key `FILE` (see 'image keygen'; needs the apptainer runtime)"},
				},
				Action: runImageBuild,
			},
			{
				Name:      "list",
				Usage:     "list the images in the store with their digests",
				UsageText: "hpcbench image list [--store DIR] [--digests]",
				Description: `--digests prints, under each image, what a config's image = pins it to in
each runtime: NAME@sha256:HEX with Docker's and Podman's image IDs, the
root filesystem's content digest for OCI bundles, and the SIF file's
sha256 (with the fingerprint of the key that signed it, if hpcbench did).`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "store", Usage: "image store `DIR`"},
					&cli.BoolFlag{Name: "digests", Usage: "print each runtime's pinned reference (NAME@sha256:HEX) under each image"},
				},
				Action: runImageList,
			},
		}, imageSigningCommands()...),
	}
}

func runImageBuild(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("image build: unexpected argument %q (binaries go in --binaries)", c.Args().First())
	}
	mpi := strings.ToLower(c.String("mpi"))
	if mpi != "mpich" && mpi != "openmpi" {
		return usageError("image build: --mpi %q: want mpich or openmpi", c.String("mpi"))
	}
	if c.Bool("without-mpi") && !c.Bool("minimal") {
		return usageError("image build: --without-mpi needs --minimal")
	}
	var bins []string
	for _, b := range c.StringSlice("binaries") {
		for _, p := range strings.Split(b, ",") {
			if p = strings.TrimSpace(p); p != "" {
				if _, err := os.Stat(p); err != nil {
					return usageError("image build: --binaries %s: %v", p, err)
				}
				bins = append(bins, p)
			}
		}
	}
	if self, err := os.Executable(); err == nil {
		bins = append(bins, self)
	}
	var rts []string
	if s := c.String("runtimes"); s != "" {
		rts = strings.Split(s, ",")
	}
	var key *openpgp.Entity
	if f := c.String("sign-with"); f != "" {
		var err error
		if key, err = signing.ReadSigningKey(f); err != nil {
			return usageError("image build: --sign-with: %v", err)
		}
	}
	opts := images.BuildOptions{
		Name: c.String("name"), MPI: mpi, Minimal: c.Bool("minimal"), WithoutMPI: c.Bool("without-mpi"),
		Binaries: bins, Store: images.OpenStore(c.String("store")),
		Force: c.Bool("force"), Log: c.App.ErrWriter,
	}
	m, err := imagebuild.Build(c.Context, opts, rts)
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	if key != nil {
		signed, err := imagebuild.SignSIF(opts.Store, m, key)
		if err != nil {
			return fmt.Errorf("image build: --sign-with: %w", err)
		}
		what := "signed by"
		if !signed {
			what = "already signed by"
		}
		fmt.Fprintf(c.App.ErrWriter, "apptainer: %s %s %s\n", m.SIF.Path, what, signing.Fingerprint(key))
	}
	printManifest(c.App.Writer, m)
	return nil
}

func printManifest(w interface{ Write([]byte) (int, error) }, m *images.Manifest) {
	kind := "full"
	if m.Minimal {
		kind = "minimal"
	}
	if m.WithoutMPI {
		kind += ", without MPI"
	}
	fmt.Fprintf(w, "%s (%s, %s, %.1f MB)\n", m.Name, m.MPI, kind, float64(m.RootfsBytes)/1e6)
	for _, b := range m.MPIBuilds {
		fmt.Fprintf(w, "  mpich %-4s %s  MPICH %s\n", b.Flavour, b.Prefix, b.Version)
	}
	fmt.Fprintf(w, "  oci        %s  %s\n", m.Rootfs, m.RootfsDigest)
	for _, e := range []string{"docker", "podman"} {
		if img, ok := m.Engines[e]; ok {
			fmt.Fprintf(w, "  %-10s %s  %s\n", e, img.Ref, img.ID)
		}
	}
	if m.SIF != nil {
		fmt.Fprintf(w, "  apptainer  %s  %s\n", m.SIF.Path, m.SIF.Digest)
	}
}

// pinnedRefs are the references that pin m in each runtime, as a
// config's image = takes them.
func pinnedRefs(m *images.Manifest) []string {
	var out []string
	for _, e := range []string{"docker", "podman"} {
		if img, ok := m.Engines[e]; ok && img.ID != "" {
			out = append(out, fmt.Sprintf("%-9s %s@%s", e, m.Name, img.ID))
		}
	}
	if m.RootfsDigest != "" {
		out = append(out, fmt.Sprintf("%-9s %s@%s", "oci", m.Name, m.RootfsDigest))
	}
	if m.SIF != nil && m.SIF.Digest != "" {
		line := fmt.Sprintf("%-9s %s@%s", "apptainer", m.Name, m.SIF.Digest)
		if fp := m.SIF.Meta["signed_by"]; fp != "" {
			line += "  (signed by " + fp + ")"
		}
		out = append(out, line)
	}
	return out
}

func runImageList(c *cli.Context) error {
	store := images.OpenStore(c.String("store"))
	list, err := store.List()
	if err != nil {
		return fmt.Errorf("image list: %w", err)
	}
	if len(list) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "no images in %s (build one with 'hpcbench image build')\n", store.Root)
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMPI\tKIND\tSIZE\tRUNTIMES\tCREATED")
	for _, m := range list {
		kind := "full"
		if m.Minimal {
			kind = "minimal"
		}
		if m.WithoutMPI {
			kind += "/no-mpi"
		}
		for _, b := range m.MPIBuilds {
			kind += "+" + b.Flavour
		}
		rts := []string{"oci"}
		for _, e := range []string{"docker", "podman"} {
			if _, ok := m.Engines[e]; ok {
				rts = append(rts, e)
			}
		}
		if m.SIF != nil {
			rts = append(rts, "apptainer")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f MB\t%s\t%s\n", m.Name, m.MPI, kind, float64(m.RootfsBytes)/1e6,
			strings.Join(rts, ","), m.Created.Local().Format("2006-01-02 15:04"))
		if c.Bool("digests") {
			for _, line := range pinnedRefs(m) {
				fmt.Fprintf(tw, "  %s\t\t\t\t\t\n", line)
			}
		}
	}
	return tw.Flush()
}
