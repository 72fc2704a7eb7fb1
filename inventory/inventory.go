// Package inventory finds out what this node has for running MPI benchmarks:
// the host itself, the MPI libraries and the PMI flavours each one speaks,
// the PMI client and server libraries, the container runtimes (and whether
// their engines answer), Slurm, and the benchmark binaries.
//
// The container runtimes are not probed here: each runtime adapter
// fingerprints itself (package runtimes), and the inventory lists the
// answers for every program a registered adapter may run. Planning,
// doctor and the run itself thus agree on what is usable.
//
// Detect runs every probe concurrently, each under its own timeout, so a
// hung docker engine or an unreachable Slurm controller costs seconds, not
// minutes. Nothing missing is an error: a missing component is reported as
// not found, with a hint saying how to get it. A probe that runs out of
// time proves nothing: its component is Unknown (never "not installed"),
// for an MPI probed once more with a longer limit, and if still unknown
// left for a later detection to decide (a resumed study runs its cells
// then). The Inventory is what "hpcbench doctor" prints, what config
// validation consults to skip impossible cells, and part of every
// result's provenance (it is JSON-serialisable).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/sentinel"
)

// DefaultTimeout bounds each probe when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options tune Detect.
type Options struct {
	// NPBDirs are folders searched for NPB binaries besides PATH, together
	// with their immediate subfolders (so a build folder holding mpich/ and
	// openmpi/ is found). In these folders plain names such as "cg" count;
	// on PATH only NPB-style names such as "cg.A.x" or "cg.A.4" do.
	NPBDirs []string
	// Timeout bounds each probe; 0 means DefaultTimeout.
	Timeout time.Duration
	// MPICHRoot is where hpcbench's MPICH builds are looked for; "" is
	// mpibuild's default (/opt/hpcbench, or $HPCBENCH_MPICH_ROOT).
	MPICHRoot string
}

// Component is one thing the node may or may not have.
type Component struct {
	Name    string `json:"name"`
	Found   bool   `json:"found"`
	Version string `json:"version,omitempty"`
	// Path is the executable or library file that was found.
	Path string `json:"path,omitempty"`
	// Detail holds further facts or why something found is not usable.
	Detail string `json:"detail,omitempty"`
	// Hint says how to get the component, or how to make it usable.
	Hint string `json:"hint,omitempty"`
	// Unknown: a probe timed out before it could tell whether the
	// component is there (a busy machine); Found is false but means
	// nothing. Detect again (see UnknownError) rather than take it for
	// missing.
	Unknown bool `json:"unknown,omitempty"`

	// probeErr is the probe's error that left it Unknown; not serialised.
	probeErr error
}

// UnknownError is why c could not be decided: an error wrapping
// ErrProbeTimedOut, with the probe's own message; nil when c is not
// Unknown.
func (c *Component) UnknownError() error {
	switch {
	case c == nil || !c.Unknown:
		return nil
	case c.probeErr != nil && errors.Is(c.probeErr, ErrProbeTimedOut):
		return fmt.Errorf("%s: unknown, detect again: %w", c.Name, c.probeErr)
	default: // read back from JSON
		return fmt.Errorf("%s: unknown, detect again: %w (%s)", c.Name, ErrProbeTimedOut, c.Detail)
	}
}

// unknownHint is what to do about a component whose probe timed out.
const unknownHint = "its probe timed out (a busy machine?): detect again later (hpcbench doctor --timeout 30s), or resume the study then"

// Host describes the machine.
type Host struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os,omitempty"`
	Kernel      string `json:"kernel"`
	Arch        string `json:"arch"`
	CPUModel    string `json:"cpu_model"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memory_bytes"`
}

// MPI is one MPI library with its tools and the PMI flavours it speaks.
type MPI struct {
	// Component's Name is "mpich" or "openmpi"; Path is the version tool
	// that answered (mpichversion, ompi_info).
	Component
	// Library is the shared library ranks load (libmpich.so.12, libmpi.so.40).
	Library  string    `json:"library,omitempty"`
	Compiler Component `json:"compiler"` // mpicc.mpich, mpicc.openmpi
	Launcher Component `json:"launcher"` // mpiexec.mpich, mpirun.openmpi
	// PMI lists the flavours the library speaks, as detected; empty when
	// detection could not tell (see PMIEvidence).
	PMI []pmi.Flavour `json:"pmi"`
	// PMIEvidence says how PMI was decided ("no fullinit in libmpich.so.12:
	// PMI-1 only", "ompi_info: MCA pmix ext3x").
	PMIEvidence string `json:"pmi_evidence,omitempty"`
	// FlavourEvidence is, where detection tells the flavours apart, the
	// evidence for each one alone ("no PMIx_Init in libmpich.so.12"): a
	// cell of one flavour is skipped citing its own evidence, not another
	// flavour's.
	FlavourEvidence map[pmi.Flavour]string `json:"pmi_flavour_evidence,omitempty"`
}

// EvidenceFor is the evidence for flavour f: its own where detection gave
// one, else PMIEvidence.
func (m *MPI) EvidenceFor(f pmi.Flavour) string {
	if ev, ok := m.FlavourEvidence[f]; ok {
		return ev
	}
	return m.PMIEvidence
}

// Speaks reports whether the library speaks flavour f, as detected.
func (m *MPI) Speaks(f pmi.Flavour) bool {
	for _, g := range m.PMI {
		if g == f {
			return true
		}
	}
	return false
}

// PMILibraries are the PMI libraries other than those inside an MPI.
type PMILibraries struct {
	// PMIx is OpenPMIx (libpmix), which the PMIx server links against.
	PMIx Component `json:"pmix"`
	// SlurmPMI2 is Slurm's PMI-2 client library (libpmi2), a PMI-2 peer.
	SlurmPMI2 Component `json:"slurm_pmi2"`
}

// Runtime is a container runtime (or an OCI runtime such as crun).
type Runtime struct {
	// Component's Version is the client's.
	Component
	// Usable is whether a container can be started now: found, and for
	// Docker the engine answered.
	Usable bool `json:"usable"`
	// Engine is the Docker engine's version when it answered.
	Engine string `json:"engine,omitempty"`

	// reason is why the adapter found it unusable (its fingerprint's Err);
	// not serialised.
	reason error
}

// Slurm is the Slurm client and whether a controller answers.
type Slurm struct {
	Client Component `json:"client"` // srun
	// Controller is whether "scontrol ping" found a controller up.
	Controller       bool   `json:"controller"`
	ControllerDetail string `json:"controller_detail,omitempty"`
	ControllerHint   string `json:"controller_hint,omitempty"`
	// MPIPlugins are the --mpi plugin types srun offers (pmi2, pmix, ...).
	MPIPlugins []string `json:"mpi_plugins,omitempty"`
}

// NPBBinary is one NPB executable found.
type NPBBinary struct {
	Name  string `json:"name"`            // "cg"
	Class string `json:"class,omitempty"` // "A"; "" when the name does not say
	// Ranks is the rank count an NPB 3.3 binary was compiled for (cg.A.4);
	// 0 when any count is chosen at run time.
	Ranks int `json:"ranks,omitempty"`
	// MPI is the library the binary was built for when its folder says so
	// (".../mpich/cg").
	MPI  string `json:"mpi,omitempty"`
	Path string `json:"path"`
}

// Benchmarks are the benchmark programs found.
type Benchmarks struct {
	NPB []NPBBinary `json:"npb"`
	// NPBDirs are the folders searched besides PATH.
	NPBDirs []string  `json:"npb_dirs,omitempty"`
	NPBHint string    `json:"npb_hint,omitempty"`
	HPL     Component `json:"hpl"`  // xhpl
	HPCC    Component `json:"hpcc"` // hpcc
}

// Inventory is everything Detect found.
type Inventory struct {
	Taken time.Time     `json:"taken"`
	Took  time.Duration `json:"took_ns"`
	Host  Host          `json:"host"`
	MPI   []MPI         `json:"mpi"` // always mpich, then openmpi
	// MPICHBuilds are hpcbench's MPICH builds, one per PMI flavour; when
	// any is usable, the mpich entry speaks their flavours (MPIBuild).
	MPICHBuilds []MPICHBuild `json:"mpich_builds,omitempty"`
	// MPICHRoot is the folder searched for them (Options.MPICHRoot).
	MPICHRoot  string       `json:"mpich_root,omitempty"`
	PMI        PMILibraries `json:"pmi"`      //
	Runtimes   []Runtime    `json:"runtimes"` // docker, podman, apptainer, singularity, crun, runc
	Slurm      Slurm        `json:"slurm"`
	Benchmarks Benchmarks   `json:"benchmarks"`

	// probed caches the fingerprints of configured runtime commands
	// (RuntimeStatusCommand); nil in an Inventory Detect did not make.
	probed *commandProbes
}

// Detect probes the node. It never fails: what cannot be found is
// reported as missing. ctx cancels all probes.
func Detect(ctx context.Context, opts Options) *Inventory {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	start := time.Now()
	inv := &Inventory{Taken: start.UTC().Truncate(time.Second), probed: &commandProbes{timeout: opts.Timeout}}
	inv.MPI = make([]MPI, 2)
	inv.MPICHRoot = mpibuild.Root(opts.MPICHRoot)
	rows := runtimeRows()
	inv.Runtimes = make([]Runtime, len(rows))
	probes := []probe{
		{run: func(p *prober) { inv.Host = p.host(ctx) }},
		{run: func(p *prober) { inv.MPI[0] = p.mpich(ctx) }, unknown: func() bool { return inv.MPI[0].Unknown }},
		{run: func(*prober) { inv.MPICHBuilds = mpichBuilds(opts.MPICHRoot) }},
		{run: func(p *prober) { inv.MPI[1] = p.openMPI(ctx) }, unknown: func() bool { return inv.MPI[1].Unknown }},
		{run: func(p *prober) { inv.PMI.PMIx = p.pmix(ctx) }},
		{run: func(p *prober) { inv.PMI.SlurmPMI2 = p.slurmPMI2() }},
		{run: func(p *prober) { inv.Slurm = p.slurm(ctx) }},
		{run: func(p *prober) { inv.Benchmarks = p.benchmarks(opts.NPBDirs) }},
	}
	// A runtime's probe is not tried again: an engine that did not answer
	// in two limits is likely hung, and waiting longer for it would cost
	// every command that detects. Its cells wait for a later detection.
	for i, row := range rows {
		probes = append(probes, probe{run: func(p *prober) { inv.Runtimes[i] = p.runtime(ctx, row) }})
	}
	runProbes(&prober{timeout: opts.Timeout}, probes)
	// An MPI probe that ran out of time gets one more try with a longer
	// limit: a version tool on a machine busy with other work answers late,
	// not never.
	var again []probe
	for _, pr := range probes {
		if pr.unknown != nil && pr.unknown() {
			again = append(again, pr)
		}
	}
	if len(again) > 0 && ctx.Err() == nil {
		runProbes(&prober{timeout: retryFactor * opts.Timeout}, again)
	}
	inv.applyMPICHBuilds()
	inv.Took = time.Since(start).Round(time.Millisecond)
	return inv
}

// retryFactor is how much longer than the first the second try of a
// probe that timed out may take.
const retryFactor = 3

// probe is one of Detect's probes: run fills its part of the inventory
// with p's timeout; unknown, when set, says whether that part came back
// Unknown (a timed-out probe worth retrying).
type probe struct {
	run     func(p *prober)
	unknown func() bool
}

// runProbes runs probes concurrently with p and waits for them all.
func runProbes(p *prober, probes []probe) {
	var wg sync.WaitGroup
	for _, pr := range probes {
		wg.Add(1)
		go func() { defer wg.Done(); pr.run(p) }()
	}
	wg.Wait()
}

// Unknown lists the components whose probes timed out, by name: what
// this inventory cannot tell.
func (inv *Inventory) Unknown() []string {
	if inv == nil {
		return nil
	}
	var names []string
	for _, m := range inv.MPI {
		if m.Unknown {
			names = append(names, m.Name)
		}
	}
	for _, rt := range inv.Runtimes {
		if rt.Unknown {
			names = append(names, rt.Name)
		}
	}
	return names
}

// FindMPI returns the entry for an MPI library ("mpich", "openmpi"), or
// nil when the name is not one hpcbench knows.
func (inv *Inventory) FindMPI(name string) *MPI {
	if inv == nil {
		return nil
	}
	for i := range inv.MPI {
		if inv.MPI[i].Name == name {
			return &inv.MPI[i]
		}
	}
	return nil
}

// FindRuntime returns the entry for a runtime binary ("docker", "crun",
// ...), or nil.
func (inv *Inventory) FindRuntime(name string) *Runtime {
	if inv == nil {
		return nil
	}
	for i := range inv.Runtimes {
		if inv.Runtimes[i].Name == name {
			return &inv.Runtimes[i]
		}
	}
	return nil
}

// DebianPMI is what Debian 12's MPI packages speak: MPICH 4.0.2 PMI-1 only,
// Open MPI 4.1 PMIx only. It is the fallback when detection could not tell.
var DebianPMI = map[string][]pmi.Flavour{
	"mpich":   {pmi.PMI1},
	"openmpi": {pmi.PMIx},
}

// PMIOf returns the PMI flavours MPI library mpi speaks and whether that
// was detected on this node. When the library was not found, or detection
// could not tell, it falls back to DebianPMI (detected = false). A nil
// Inventory always gives the fallback.
func (inv *Inventory) PMIOf(mpi string) (flavours []pmi.Flavour, detected bool) {
	if m := inv.FindMPI(mpi); m != nil && m.Found && len(m.PMI) > 0 {
		return m.PMI, true
	}
	return DebianPMI[mpi], false
}

// Errors RuntimeStatus wraps.
var (
	ErrNotInstalled     = sentinel.ErrNotInstalled
	ErrEngineNotRunning = sentinel.ErrEngineNotRunning
	ErrUnknownRuntime   = sentinel.ErrUnknownRuntime
	// ErrProbeTimedOut: the probe of a runtime or an MPI ran out of time,
	// so whether it is usable is unknown (Component.Unknown).
	ErrProbeTimedOut = sentinel.ErrProbeTimedOut
)

// RuntimeStatus says whether runtime name (native, docker, podman,
// apptainer, singularity, oci, or any other registered adapter) can run
// containers here with its default program. It returns the program that
// provides it and its version; the error wraps ErrNotInstalled,
// ErrEngineNotRunning or ErrUnknownRuntime (or the adapter's reason, which
// wraps ErrUnavailable) and carries the hint; a runtime whose probe timed
// out wraps ErrProbeTimedOut instead. "native" is always
// available. The programs tried, in order, are the adapter's
// (Capabilities.Programs): apptainer and singularity answer for each
// other; oci is crun or else runc.
func (inv *Inventory) RuntimeStatus(name string) (binary, version string, err error) {
	return inv.RuntimeStatusCommand(name, "")
}

// RuntimeStatusCommand is RuntimeStatus for a runtime whose program a
// config names (runtime.command: a name looked up in PATH, or a path);
// "" is RuntimeStatus. A program the inventory lists is answered from
// it; another is fingerprinted by the adapter on first use and
// remembered.
func (inv *Inventory) RuntimeStatusCommand(name, command string) (binary, version string, err error) {
	rt, err := runtimes.GetCommand(name, command)
	if err != nil {
		if errors.Is(err, ErrUnknownRuntime) {
			return "", "", fmt.Errorf("%q: %w", name, ErrUnknownRuntime)
		}
		return "", "", err
	}
	caps := rt.Capabilities()
	if len(caps.Programs) == 0 {
		return "", "", nil // runs no program: native
	}
	command = strings.TrimSpace(command)
	if command == "" {
		return inv.statusOf(name, caps.Programs)
	}
	if listed := inv.findProgram(command); listed != nil {
		return inv.statusOf(name, []string{listed.Name})
	}
	entry := inv.probed.fingerprint(rt, command)
	return statusOf(name, &entry)
}

// statusOf answers for the first usable of programs, else for the first
// listed one.
func (inv *Inventory) statusOf(name string, programs []string) (binary, version string, err error) {
	var first *Runtime
	for _, b := range programs {
		rt := inv.FindRuntime(b)
		if rt == nil {
			continue
		}
		if first == nil {
			first = rt
		}
		if rt.Usable {
			return rt.Name, rt.Version, nil
		}
	}
	return statusOf(name, first)
}

// statusOf answers for one entry; nil is a program never looked for.
func statusOf(name string, rt *Runtime) (binary, version string, err error) {
	switch {
	case rt == nil:
		return "", "", fmt.Errorf("%s: %w", name, ErrNotInstalled)
	case rt.Unknown:
		return "", "", rt.UnknownError()
	case rt.Usable:
		return rt.Name, rt.Version, nil
	case !rt.Found:
		return "", "", fmt.Errorf("%s: %w (%s)", name, ErrNotInstalled, rt.Hint)
	case rt.reason != nil && !errors.Is(rt.reason, ErrEngineNotRunning):
		// Found, answering, and still unusable (OCI bundles as non-root).
		return "", "", fmt.Errorf("%w (%s)", rt.reason, rt.Hint)
	default:
		return "", "", fmt.Errorf("%s: %w (%s)", name, ErrEngineNotRunning, rt.Hint)
	}
}

// findProgram returns the entry whose program is command: by name
// ("podman") or by path ("/usr/bin/podman", or a name PATH resolves to
// the same file); nil when none is.
func (inv *Inventory) findProgram(command string) *Runtime {
	if inv == nil {
		return nil
	}
	path, _ := exec.LookPath(command)
	for i := range inv.Runtimes {
		rt := &inv.Runtimes[i]
		if rt.Name == command || (rt.Path != "" && (rt.Path == command || rt.Path == path)) {
			return rt
		}
	}
	return nil
}

// commandProbes remembers the fingerprints of configured runtime commands
// the inventory did not list, so that a study's many cells probe each once.
type commandProbes struct {
	timeout time.Duration
	mu      sync.Mutex
	seen    map[string]Runtime
}

// fingerprint returns rt's fingerprint of command as an inventory entry,
// probing it on first use. A nil c probes every time.
func (c *commandProbes) fingerprint(rt runtimes.Runtime, command string) Runtime {
	timeout := DefaultTimeout
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if e, ok := c.seen[rt.Name()+"\x00"+command]; ok {
			return e
		}
		if c.timeout > 0 {
			timeout = c.timeout
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout) // two commands, as in Detect
	defer cancel()
	e := fromFingerprint(command, rt.Fingerprint(ctx))
	if c != nil && !e.Unknown { // a timed-out probe is asked again next time
		if c.seen == nil {
			c.seen = map[string]Runtime{}
		}
		c.seen[rt.Name()+"\x00"+command] = e
	}
	return e
}
