// Package runtimes places MPI ranks in a container runtime: native (none),
// Docker, Podman, Apptainer (also answering to "singularity"), a plain OCI
// runtime-spec bundle run by crun or runc, and Charliecloud's ch-run (also
// answering to "ch-run").
//
// The launcher (package pmi) spawns the ranks and serves PMI; a runtime only
// rewrites each rank's command line before it starts:
//
//	matrix cell ──Get(name)──> Runtime ──Fingerprint──> program, version, engine
//	                              │     answering, Capabilities; Detect: the
//	                              │     version, or ErrUnavailable
//	                              │ Prepare(ctx, image) ──> ImageInfo{Ref, Digest}
//	                              │
//	              layout per-rank │ Wrapper(ctx, spec) ──> pmi.Wrapper
//	                              │    WrapRank: argv "ep" becomes
//	                              │    "docker run --name hpcbench-<job>-<rank> ... ep"
//	                              │    Cleanup: remove the job's containers
//	                              │
//	              layout per-node │ WrapNode(ctx, spec, job, cmd): one container runs
//	                              │    "hpcbench launch ... --report FILE", which
//	                              │    spawns and serves the node's ranks inside
//
// Each adapter fingerprints itself and declares its Capabilities (layouts,
// fd passing, rootless, daemon, image import, ...): Detect and package
// inventory ("hpcbench doctor", config validation) both take their answer
// from Fingerprint, so they cannot disagree.
//
// How PMI crosses the container boundary is chosen per runtime and recorded
// in the wrapper's Choices: an inherited socket (PMI_FD) where the runtime
// passes file descriptors (native, Apptainer, Podman with --preserve-fds,
// OCI bundles, Charliecloud), TCP on loopback with the host network
// otherwise (Docker). Whether a job's per-rank containers share memory is
// the spec's Shm, recorded with CMA's availability (see Shm).
// PMIx ranks get every PMIX_* variable and the server's tmpdir at the same
// path. A rank that misses its PMI variables would run as a silent singleton,
// so WrapRank refuses such a command (ErrMissingPMI) instead of starting it.
//
// A config's runtime.command and runtime.flags travel in Spec.Command and
// Spec.Flags (GetCommand makes Detect, Prepare and Cleanup use the same
// executable): the flags go to the runtime's run command as they are
// (Docker/Podman: just before the image; Apptainer: after exec, before the
// image; OCI: after "crun run"), are recorded in Choices, and are refused
// with ErrFlags, never dropped, where they cannot apply (native, and
// flags that would detach the rank from the launcher).
//
// As an ordinary user, rootless Podman binds the host's /dev/shm where
// --ipc host cannot work (no /dev/mqueue), and unprivileged Apptainer runs
// every rank in one user namespace (--sharens) and unpacks the SIF when
// /dev/fuse is closed to the user (--unsquash).
//
// Optional capabilities are found by type assertion: PeakMemory (a rank's
// peak memory from its container's cgroup), LeftoverCleaner (removing
// containers an earlier, killed hpcbench left behind: every command that
// launches asks all of them first, SweepLeftovers) and Importer
// (importing a root filesystem built by package images into the runtime's
// own format: Docker's and Podman's storage, a SIF file). The runtimes
// import package images, never the reverse; building an image for every
// runtime is package imagebuild's, above both.
package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/internal/launchstate"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/sentinel"
)

// Errors a caller can tell apart with errors.Is.
var (
	// ErrUnavailable: the runtime is not installed, or its engine does not answer.
	ErrUnavailable = sentinel.ErrUnavailable
	// ErrUnknownRuntime: no adapter has that name.
	ErrUnknownRuntime = sentinel.ErrUnknownRuntime
	// ErrImageNotFound: the image is neither in hpcbench's store nor known to the runtime.
	ErrImageNotFound = sentinel.ErrImageNotFound
	// ErrLayout: the runtime does not support the layout asked for.
	ErrLayout = errors.New("layout not supported")
	// ErrMissingPMI: a rank's environment lacks the PMI variables it needs;
	// started anyway, MPI would run it as a singleton and exit 0.
	ErrMissingPMI = errors.New("rank environment lacks PMI variables")
)

// Layout is how ranks are placed in containers.
type Layout string

const (
	// PerRank runs one container per rank, started by hpcbench on the host.
	PerRank Layout = "per-rank"
	// PerNode runs one container per node holding all of the node's ranks;
	// hpcbench itself runs inside it as the node's process manager.
	PerNode Layout = "per-node"
	// Bind is PerRank with the host's MPI libraries bind-mounted into the
	// container at the same paths (the image need not carry an MPI).
	Bind Layout = "bind"
)

// ParseLayout accepts a layout name as written in configs and flags.
func ParseLayout(s string) (Layout, error) {
	switch l := Layout(strings.ToLower(strings.TrimSpace(s))); l {
	case PerRank, PerNode, Bind:
		return l, nil
	case "":
		return PerRank, nil
	}
	return "", fmt.Errorf("layout %q: want per-rank, per-node or bind", s)
}

// ImageInfo is an image resolved by Prepare.
type ImageInfo struct {
	// Ref is what the runtime runs: an image name for Docker/Podman, a SIF
	// path for Apptainer, a root filesystem folder for OCI bundles.
	Ref string `json:"ref"`
	// Digest identifies the image's content: the engine's image ID for
	// Docker/Podman, "sha256:<hex>" of the SIF file, the root filesystem's
	// tar digest for OCI bundles.
	Digest string `json:"digest"`
	// Meta holds what else is known (SIF id and creation time, the store
	// entry it came from, ...), for provenance.
	Meta map[string]string `json:"meta,omitempty"`
}

// Spec says how a runtime should place a job's ranks.
type Spec struct {
	Layout Layout
	Image  ImageInfo // unused by the native runtime
	// MPI is "mpich" or "openmpi"; the bind layout mounts that library, and
	// Open MPI's shared-memory transport gets what it needs. Empty: guessed
	// from the PMI flavour (PMIx: openmpi, else mpich).
	MPI string
	// Binds are host paths mounted at the same path in the container, on
	// top of the ones every rank gets (its working folder, its binary's
	// folder, the PMIx tmpdir).
	Binds []string
	// Command is the runtime's executable for the ranks' command lines (a
	// config's runtime.command: a name looked up in PATH or a full path);
	// "" keeps the runtime's own (see GetCommand).
	Command string
	// Flags are a config's runtime.flags, passed as they are to the
	// runtime's run command: after hpcbench's own "docker run"/"podman
	// run" flags, just before the image; after "apptainer exec" and
	// hpcbench's flags, just before the image; after "crun run"/"runc
	// run" for OCI bundles, where the options hpcbench sets itself
	// (--bundle, --preserve-fds, --detach) are refused. The native
	// runtime runs no container and refuses any flag (ErrFlags). Flags
	// that would detach the container from its client are refused too:
	// the launcher would lose the rank.
	Flags []string
	// MPIBuild is the MPICH build the cell's PMI flavour chose (see package
	// mpibuild); nil runs the image's or host's MPI as it is. An adapter
	// makes the build's lib folder visible in the container and puts it
	// first on the ranks' loader path there.
	MPIBuild *mpibuild.Build
	// Isolation is how much of the host the containers share (a config's
	// runtime.isolation); "" is IsolationPrivate. See Isolation.
	Isolation Isolation
	// Shm is whether the per-rank containers share memory (a config's
	// runtime.shm); "" is ShmShared. See Shm.
	Shm Shm
	// PassEnv are glob patterns (path.Match) of further variables the
	// ranks get from the launching environment, beyond the allow-list
	// (forwardedEnv): a config's runtime.pass_env, and the names of the
	// variables the cell itself sets. Validate with CheckPassEnv.
	PassEnv []string
	// HostPID: each rank is started by a process of its own (an srun
	// task), so the ranks of a node cannot join one private pid namespace
	// held for the job; they keep the host's, with the cross-rank memory
	// access host isolation gives. The rest of private isolation (the
	// environment allow-list, read-only binds, devices, seccomp) holds.
	HostPID bool
}

// ErrFlags: a runtime cannot take the flags a config gives it.
var ErrFlags = errors.New("runtime flags not accepted")

// Wrapper is a pmi.Wrapper that also says how it placed the ranks.
type Wrapper interface {
	pmi.Wrapper
	// Choices are the decisions that matter for comparing runs, e.g.
	// runtime=docker layout=per-rank network=host ipc=host pmi_channel=tcp.
	Choices() map[string]string
}

// Runtime is one container runtime.
type Runtime interface {
	// Name is the canonical name ("docker", "apptainer", ...).
	Name() string
	// Capabilities are what the adapter can do, as it declares them.
	Capabilities() Capabilities
	// Fingerprint finds out whether the runtime can run containers here:
	// its program (the configured command, else the adapter's own), its
	// version, whether its engine answers. It is the one source of that
	// answer: Detect and package inventory both ask it. ctx bounds it.
	Fingerprint(ctx context.Context) Fingerprint
	// Detect returns the runtime's version as results record it
	// (Fingerprint's Provenance), or an error wrapping ErrUnavailable (and
	// ErrNotInstalled or ErrEngineNotRunning) when it cannot run
	// containers here.
	Detect(ctx context.Context) (string, error)
	// Prepare resolves an image reference: a name built by "hpcbench image
	// build", or an image the runtime already has (a SIF path, a local
	// Docker/Podman image, a root filesystem folder).
	Prepare(ctx context.Context, image string) (ImageInfo, error)
	// Wrapper returns the per-rank wrapper for spec (layouts per-rank and
	// bind). ctx bounds the commands the wrapper runs for the job (the
	// bind layout's ldd walk, removing containers); it must outlive the
	// job's ranks.
	Wrapper(ctx context.Context, spec Spec) (Wrapper, error)
	// WrapNode rewrites cmd, a whole "hpcbench launch ... --report FILE"
	// command line, to run inside one container holding all of job's
	// ranks (layout per-node).
	WrapNode(ctx context.Context, spec Spec, job pmi.Job, cmd *pmi.RankCommand) error
	// Cleanup removes whatever job left in this runtime (its per-rank or
	// per-node containers), after its processes ended or were killed. It
	// is safe to call twice, and still removes the containers when ctx is
	// already cancelled (an interrupted run): only ctx's values are kept,
	// under a time limit of its own.
	Cleanup(ctx context.Context, job pmi.Job) error
}

// PeakMemory is implemented by wrappers that can tell a rank's peak memory
// (from its container's cgroup), which the launcher's rusage cannot see
// when the process it spawned is a container client.
type PeakMemory interface {
	// PeakMemory returns rank's peak memory in bytes; ok is false when it
	// could not be read.
	PeakMemory(job pmi.Job, rank int) (bytes int64, ok bool)
}

// LeftoverCleaner is implemented by runtimes whose containers can outlive a
// killed hpcbench (daemon-managed ones).
type LeftoverCleaner interface {
	// CleanupLeftovers removes every container hpcbench labelled whose
	// launching process is gone, and returns their names.
	CleanupLeftovers(ctx context.Context) ([]string, error)
}

// Locator is implemented by runtimes whose Prepare asks an engine for the
// image's digest (Docker, Podman): Locate resolves what the containers
// run without asking it, so that a caller may start them while Prepare
// runs, and check its answer before it trusts the run. Their containers
// never pull an image: one the engine lacks fails to start.
type Locator interface {
	Locate(image string) (ImageInfo, error)
}

// constructor builds a runtime; alias is the name it was asked for,
// command its executable ("" for the default).
type constructor func(alias, command string) Runtime

var registry = map[string]constructor{}

// register makes a runtime known under name.
func register(name string, c constructor) {
	if _, dup := registry[name]; dup {
		panic("runtimes: " + name + " registered twice")
	}
	registry[name] = c
}

// Get returns the runtime called name ("native", "docker", "podman",
// "apptainer" or "singularity", "oci", "charliecloud" or "ch-run").
func Get(name string) (Runtime, error) { return GetCommand(name, "") }

// GetCommand is Get for a runtime whose executable a config names
// (runtime.command): a program name looked up in PATH, or a path. Detect,
// Prepare, the wrappers and Cleanup then all run that program. "" is the
// adapter's default; native, which runs no program, refuses any other.
func GetCommand(name, command string) (Runtime, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	c, ok := registry[key]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownRuntime, name, strings.Join(Names(), ", "))
	}
	command = strings.TrimSpace(command)
	if key == "native" && command != "" {
		return nil, fmt.Errorf("native: %w: runs no container, so it takes no command (got %q): remove runtime.command", ErrFlags, command)
	}
	return c(key, command), nil
}

// Names lists every name Get answers to, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CleanupLeftovers asks every available runtime that can outlive hpcbench to
// remove the containers a killed hpcbench left behind. It returns the names
// removed; runtimes that are not available are skipped.
func CleanupLeftovers(ctx context.Context) ([]string, error) {
	var removed []string
	var errs []error
	for _, name := range Names() {
		rt, _ := Get(name)
		lc, ok := rt.(LeftoverCleaner)
		if !ok || rt.Name() != name {
			continue
		}
		if _, err := rt.Detect(ctx); err != nil {
			continue
		}
		r, err := lc.CleanupLeftovers(ctx)
		removed = append(removed, r...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return removed, errors.Join(errs...)
}

// SweepEnv is the environment variable that turns SweepLeftovers off
// (launchstate.SweepEnv).
const SweepEnv = launchstate.SweepEnv

// sweepTimeout bounds SweepLeftovers: an engine that does not answer by
// then keeps its leftovers until a later start.
const sweepTimeout = 20 * time.Second

// SweepLeftovers is what an hpcbench command that launches does first: it
// asks every runtime whose containers can outlive hpcbench
// (LeftoverCleaner), and whose program is on this machine, to remove the
// containers (and folders) of killed hpcbench processes, whichever
// runtime the command is about to use. The runtimes are asked at once,
// without detecting them first, within a time limit; a runtime that does
// not answer is left for a later start, its error joined into the one
// returned. It returns the names removed; SweepEnv turns it off.
func SweepLeftovers(ctx context.Context) ([]string, error) {
	if launchstate.Disabled() {
		return nil, nil
	}
	var rts []Runtime
	for _, name := range Names() {
		rt, err := Get(name)
		if err != nil || rt.Name() != name { // an alias: its runtime is asked once
			continue
		}
		if _, ok := rt.(LeftoverCleaner); !ok {
			continue
		}
		for _, prog := range rt.Capabilities().Programs {
			if _, err := exec.LookPath(prog); err == nil {
				rts = append(rts, rt)
				break
			}
		}
	}
	return sweepLeftovers(ctx, rts)
}

// sweepLeftovers asks each of rts (LeftoverCleaners) at once to remove
// its leftovers, within sweepTimeout, and returns the names removed,
// sorted.
func sweepLeftovers(ctx context.Context, rts []Runtime) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	var (
		mu      sync.Mutex
		removed []string
		errs    []error
		wg      sync.WaitGroup
	)
	for _, rt := range rts {
		lc, ok := rt.(LeftoverCleaner)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			names, err := lc.CleanupLeftovers(ctx)
			mu.Lock()
			defer mu.Unlock()
			removed = append(removed, names...)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", rt.Name(), err))
			}
		}()
	}
	wg.Wait()
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}

// Describe turns a wrapper's choices into the phrase a report uses, such as
// "docker per-rank, host network, host IPC, PMI over tcp".
func Describe(choices map[string]string) string {
	parts := []string{strings.TrimSpace(choices["runtime"] + " " + choices["layout"])}
	for _, ns := range []string{"network", "ipc", "pid"} {
		if v := choices[ns]; v != "" {
			label := ns
			if ns != "network" {
				label = strings.ToUpper(ns)
			}
			parts = append(parts, v+" "+label)
		}
	}
	if v := choices["pmi_channel"]; v != "" {
		parts = append(parts, "PMI over "+v)
	}
	return strings.Join(parts, ", ")
}
