package inventory

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// MPICHBuild is one of hpcbench's MPICH builds (mpibuild), with the PMI
// flavour its library was found to speak and, after VerifyMPICHBuilds, the
// flavour a real rank negotiated with hpcbench's own PMI server.
type MPICHBuild struct {
	mpibuild.Build
	// Library is the build's libmpich.so.12.
	Library string `json:"library"`
	// PMI is what the library speaks, from its symbols (PMI_Init: PMI-1,
	// PMI2_Init: PMI-2, a call to PMIx_Init: PMIx), else its strings.
	PMI         []pmi.Flavour `json:"pmi"`
	PMIEvidence string        `json:"pmi_evidence,omitempty"`
	// Usable is whether the library speaks exactly the flavour the build
	// is made for; a build that does not is never chosen for a cell.
	Usable bool `json:"usable"`
	// Verified is what a one-rank run negotiated ("pmi2"), empty when no
	// run was made; VerifyError says why a run failed.
	Verified    string        `json:"verified,omitempty"`
	VerifyError string        `json:"verify_error,omitempty"`
	VerifyTook  time.Duration `json:"verify_took_ns,omitempty"`
}

// mpichBuilds lists the builds under root ("" = mpibuild's default) and
// checks each library's PMI.
func mpichBuilds(root string) []MPICHBuild {
	var out []MPICHBuild
	for _, b := range mpibuild.Find(root) {
		lib := filepath.Join(b.LibDir, "libmpich.so.12")
		mb := MPICHBuild{Build: b, Library: lib}
		mb.PMI, mb.PMIEvidence = libraryPMI(lib)
		mb.Usable = len(mb.PMI) == 1 && string(mb.PMI[0]) == b.Flavour
		if !mb.Usable && len(mb.PMI) > 0 {
			mb.PMIEvidence += fmt.Sprintf("; the build is made for %s: not used", b.Flavour)
		}
		out = append(out, mb)
	}
	return out
}

// libraryPMI decides the PMI flavours an MPICH library speaks from its
// symbols: its built-in PMI-1 or PMI-2 client defines PMI_Init or
// PMI2_Init (hidden symbols, so the full symbol table is read), and a
// library that is a PMIx client calls PMIx_Init in libpmix. A stripped
// library is read for the client's strings instead (mpichPMI).
func libraryPMI(lib string) ([]pmi.Flavour, string) {
	f, err := elf.Open(lib)
	if err != nil {
		return nil, "cannot read " + lib + ": " + err.Error()
	}
	defer f.Close()
	defined := map[string]bool{}
	syms, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return mpichPMI(lib)
	}
	if err != nil {
		return nil, "cannot read the symbols of " + lib + ": " + err.Error()
	}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF {
			defined[s.Name] = true
		}
	}
	calls := map[string]bool{}
	if dyn, err := f.DynamicSymbols(); err == nil {
		for _, s := range dyn {
			calls[s.Name] = true
		}
	}
	var fl []pmi.Flavour
	var ev []string
	if defined["PMI_Init"] {
		fl = append(fl, pmi.PMI1)
		ev = append(ev, "defines PMI_Init")
	}
	if defined["PMI2_Init"] {
		fl = append(fl, pmi.PMI2)
		ev = append(ev, "defines PMI2_Init")
	}
	if calls["PMIx_Init"] || defined["PMIx_Init"] {
		fl = append(fl, pmi.PMIx)
		ev = append(ev, "calls PMIx_Init")
	}
	if len(fl) == 0 {
		return nil, filepath.Base(lib) + " has no PMI_Init, PMI2_Init or PMIx_Init"
	}
	return fl, filepath.Base(lib) + " " + strings.Join(ev, ", ")
}

// MPIBuild returns the build a cell of MPI library mpi under PMI flavour f
// runs on, or nil for the library as installed: only "mpich" has builds,
// and only a usable build whose flavour is f is chosen.
func (inv *Inventory) MPIBuild(mpi string, f pmi.Flavour) *mpibuild.Build {
	if inv == nil || mpi != "mpich" {
		return nil
	}
	for i := range inv.MPICHBuilds {
		b := &inv.MPICHBuilds[i]
		if b.Usable && b.Flavour == string(f) {
			build := b.Build
			return &build
		}
	}
	return nil
}

// applyMPICHBuilds makes the mpich entry speak what the usable builds
// speak: with hpcbench's builds installed, "mpich" means the MPICH ABI,
// and a cell's PMI flavour chooses the build.
func (inv *Inventory) applyMPICHBuilds() {
	m := inv.FindMPI("mpich")
	if m == nil {
		return
	}
	var fl []pmi.Flavour
	var names []string
	for _, b := range inv.MPICHBuilds {
		if b.Usable && !slices.Contains(fl, pmi.Flavour(b.Flavour)) {
			fl = append(fl, pmi.Flavour(b.Flavour))
			names = append(names, b.Flavour+" ("+filepath.Base(b.Prefix)+")")
		}
	}
	if len(fl) == 0 {
		return
	}
	slices.Sort(fl)
	ev := "hpcbench's MPICH builds: " + strings.Join(names, ", ")
	if m.PMIEvidence != "" {
		ev += "; Debian's library: " + m.PMIEvidence
	}
	// A flavour no build speaks is missing for two reasons: no build of
	// it, and Debian's library (its own evidence) does not speak it.
	byFlavour := map[pmi.Flavour]string{}
	for _, f := range []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx} {
		if slices.Contains(fl, f) {
			continue
		}
		e := fmt.Sprintf("no usable hpcbench MPICH build for %s (builds: %s)", f, strings.Join(names, ", "))
		if d := m.EvidenceFor(f); d != "" {
			e += "; Debian's library: " + d
		}
		byFlavour[f] = e
	}
	m.PMI, m.PMIEvidence, m.FlavourEvidence = fl, ev, byFlavour
}

// VerifyMPICHBuilds runs argv (a small MPICH program, such as the
// project's EP kernel) as one rank on every build, under hpcbench's own
// PMI server and the build's flavour, and records what the rank
// negotiated: the proof that the build speaks what it says. Each run is
// bounded by timeout. A build whose run fails is marked unusable.
func VerifyMPICHBuilds(ctx context.Context, inv *Inventory, argv []string, timeout time.Duration) {
	for i := range inv.MPICHBuilds {
		b := &inv.MPICHBuilds[i]
		start := time.Now()
		rep, err := pmi.Launch(ctx, pmi.Options{
			Ranks: 1, PMI: pmi.Flavour(b.Flavour), Timeout: timeout, Argv: argv,
			Env:    b.EnvOver(os.Getenv(mpibuild.LibraryPathVar)),
			Stdout: discard{}, Stderr: discard{},
		})
		b.VerifyTook = time.Since(start).Round(time.Millisecond)
		switch {
		case err != nil:
			b.VerifyError = err.Error()
		case !rep.OK():
			b.VerifyError = rep.Reason
		default:
			if err := pmi.RequireWorld(rep, pmi.Flavour(b.Flavour)); err != nil {
				b.VerifyError = err.Error()
			}
		}
		if rep != nil && len(rep.Negotiated) > 0 {
			b.Verified = rep.Negotiated[0]
		}
		if b.VerifyError != "" {
			b.Usable = false
		}
	}
	inv.applyMPICHBuilds()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
