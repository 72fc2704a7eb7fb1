package launchcli

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/launchstate"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/urfave/cli/v2"
)

// Resolved is a runtime found, and the image prepared for it, or why not.
// Runtime is nil where the runtime's name is unknown (a usage error).
type Resolved struct {
	Runtime runtimes.Runtime
	Image   runtimes.ImageInfo
	Err     error
}

// Resolver finds a launch's runtime (and its version) and prepares its
// image. The full program's checks a pinned image's digest (and what a
// study's policy asks) with the matrix's resolver; the front's is
// Direct.
type Resolver interface {
	Runtime(ctx context.Context, name, command string) Resolved
	Image(ctx context.Context, name, command, image string) Resolved
}

// Direct resolves with the runtimes alone: it prepares an image that is
// not pinned (NAME@sha256:HEX), for which it gives what the full
// program's resolver gives; a pinned image, whose digest must be checked
// first, is refused (the front program hands such a launch to the full
// one: PinnedImage). Like the full program's resolver it finds and
// detects each runtime once: Image after Runtime does not ask again.
type Direct struct {
	mu    sync.Mutex
	found map[string]Resolved // by runtime name and command
}

// Runtime finds the runtime name running command and detects its version.
func (d *Direct) Runtime(ctx context.Context, name, command string) Resolved {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := name + "\x00" + command
	if res, ok := d.found[key]; ok {
		return res
	}
	var res Resolved
	res.Runtime, res.Err = runtimes.GetCommand(name, command)
	if res.Err == nil {
		_, res.Err = res.Runtime.Detect(ctx)
	}
	if d.found == nil {
		d.found = map[string]Resolved{}
	}
	d.found[key] = res
	return res
}

// Image is Runtime, then prepares image for it.
func (d *Direct) Image(ctx context.Context, name, command, image string) Resolved {
	res := d.Runtime(ctx, name, command)
	if res.Err != nil {
		return res
	}
	if PinnedImage(image) {
		res.Err = fmt.Errorf("image %s is pinned to a digest, which only the full program checks", image)
		return res
	}
	res.Image, res.Err = res.Runtime.Prepare(ctx, image)
	return res
}

// PinnedImage reports whether image names a digest (NAME@sha256:HEX),
// which must be checked before anything runs, or is malformed.
func PinnedImage(image string) bool {
	_, pinned, err := images.ParsePinned(image)
	return pinned || err != nil
}

// RuntimeWrapper returns the WrapperFunc of a launch whose runtime and
// image r resolves: the Wrapper --runtime, --image and --layout ask for;
// nil (no --runtime) runs the ranks natively. Where the runtime's Prepare
// asks an engine for the image's digest (runtimes.Locator) and the image
// is not pinned, it is prepared while the ranks start: prepared waits for
// it, prints the launch's description with the digest, and returns why
// the image could not be prepared, if it could not. Otherwise the image
// is prepared first and prepared is nil.
func RuntimeWrapper(r Resolver) WrapperFunc {
	return func(c *cli.Context, build *mpibuild.Build) (pmi.Wrapper, func() error, error) {
		return runtimeWrapper(c, build, r)
	}
}

func runtimeWrapper(c *cli.Context, build *mpibuild.Build, r Resolver) (runtimes.Wrapper, func() error, error) {
	name := c.String("runtime")
	var flags []string
	if l, ok := c.Generic("runtime-flag").(*WordList); ok && l != nil {
		flags = *l
	}
	var passEnv []string
	if l, ok := c.Generic("pass-env").(*WordList); ok && l != nil {
		passEnv = *l
	}
	if name == "" {
		if c.String("image") != "" || c.String("layout") != "" || c.String("runtime-command") != "" || len(flags) > 0 ||
			c.String("isolation") != "" || c.String("shm") != "" || len(passEnv) > 0 {
			return nil, nil, Usage("launch: --image, --layout, --runtime-command, --runtime-flag, --isolation, --shm and --pass-env need --runtime")
		}
		return nil, nil, nil
	}
	isolation, err := runtimes.ParseIsolation(c.String("isolation"))
	if err != nil {
		return nil, nil, Usage("launch: --isolation: %v", err)
	}
	if err := runtimes.CheckPassEnv(passEnv); err != nil {
		return nil, nil, Usage("launch: --pass-env: %v", err)
	}
	shm, err := runtimes.ParseShm(c.String("shm"))
	if err != nil {
		return nil, nil, Usage("launch: --shm: %v", err)
	}
	layout, err := runtimes.ParseLayout(c.String("layout"))
	if err != nil {
		return nil, nil, Usage("launch: --layout: %v", err)
	}
	if layout == runtimes.PerNode {
		return nil, nil, Usage("launch: --layout per-node runs hpcbench inside the container; use it through 'hpcbench matrix'")
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	command, image := c.String("runtime-command"), c.String("image")
	res := r.Runtime(ctx, name, command)
	if res.Runtime == nil {
		return nil, nil, Usage("launch: --runtime: %v", res.Err)
	}
	if res.Err != nil {
		return nil, nil, fmt.Errorf("launch: %w", res.Err)
	}
	var later chan Resolved
	if loc, ok := res.Runtime.(runtimes.Locator); ok && !PinnedImage(image) {
		res.Image, res.Err = loc.Locate(image)
		if res.Err == nil {
			later = make(chan Resolved, 1)
			go func() { later <- r.Image(ctx, name, command, image) }()
		}
	} else {
		res = r.Image(ctx, name, command, image)
	}
	if res.Err != nil {
		return nil, nil, fmt.Errorf("launch: %w", res.Err)
	}
	// Containers a killed hpcbench left behind go first: the sweep every
	// launch starts (RuntimesKeeper) asks the runtimes' own programs; a
	// runtime run by another program is asked here too.
	if lc, ok := res.Runtime.(runtimes.LeftoverCleaner); ok && command != "" {
		if names, err := lc.CleanupLeftovers(ctx); err == nil && len(names) > 0 {
			fmt.Fprintf(c.App.ErrWriter, "hpcbench launch: removed %d leftover container(s): %s\n", len(names), strings.Join(names, ", "))
		}
	}
	w, err := res.Runtime.Wrapper(ctx, runtimes.Spec{Layout: layout, Image: res.Image, MPI: c.String("mpi"),
		Command: command, Flags: flags, MPIBuild: build, Isolation: isolation, Shm: shm, PassEnv: passEnv})
	if err != nil {
		return nil, nil, fmt.Errorf("launch: %w", err)
	}
	describe := func(info runtimes.ImageInfo) {
		if !c.Bool("quiet") {
			fmt.Fprintf(c.App.ErrWriter, "hpcbench launch: %s, image %s (%s)\n", runtimes.Describe(w.Choices()), info.Ref, info.Digest)
		}
	}
	if later == nil {
		describe(res.Image)
		return w, nil, nil
	}
	return w, func() error {
		full := <-later
		if full.Err != nil {
			return fmt.Errorf("launch: %w", full.Err)
		}
		describe(full.Image)
		return nil
	}, nil
}

// RuntimesKeeper is the housekeeping of a verb that launches ranks, the
// same in both programs: the sweep of every runtime where the state
// folder says something may be left (runtimes.SweepIfNeeded, which
// HPCBENCH_SWEEP_CONTAINERS=0 turns off), and Docker's and Podman's pid
// namespace holders shared by the verb's jobs, one job at a time, removed
// before the launching record goes.
func RuntimesKeeper() Keeper {
	return Keeper{
		Sweep: sweepRuntimes,
		Begin: runtimes.ReuseHolders,
		End:   func() error { return runtimes.ReleaseHolders(context.Background()) },
	}
}

// sweepRuntimes removes the containers of every runtime whose hpcbench
// was killed, and the PMIx folders of killed processes, and says what it
// removed, where the state folder says something may be left (with the
// sweep of containers turned off, the PMIx folders are looked for at
// every start, as the state folder then keeps nothing). A runtime that
// does not answer is no reason to stop: its leftovers wait for the next
// start or "hpcbench doctor --clean".
func sweepRuntimes(c *cli.Context) func() {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	rec, containers, swept, _ := runtimes.SweepIfNeeded(ctx)
	if swept || launchstate.Disabled() {
		Removed(c, containers)
	}
	return rec.Done
}
