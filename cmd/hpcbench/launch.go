package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/urfave/cli/v2"
)

// launchCommand is "hpcbench launch", its ranks natively or in any
// container runtime.
func launchCommand() *cli.Command { return launchcli.Command(launchRuntimeWrapper) }

// launchRuntimeWrapper builds the Wrapper --runtime, --image and --layout
// ask for; nil (no --runtime) runs the ranks natively. Where the runtime's
// Prepare asks an engine for the image's digest (runtimes.Locator) and
// the image is not pinned, it is prepared while the ranks start: prepared
// waits for it, prints the launch's description with the digest, and
// returns why the image could not be prepared, if it could not. Otherwise
// the image is prepared first and prepared is nil.
func launchRuntimeWrapper(c *cli.Context, build *mpibuild.Build) (pmi.Wrapper, func() error, error) {
	return runtimeWrapper(c, build)
}

func runtimeWrapper(c *cli.Context, build *mpibuild.Build) (runtimes.Wrapper, func() error, error) {
	name := c.String("runtime")
	var flags []string
	if l, ok := c.Generic("runtime-flag").(*launchcli.WordList); ok && l != nil {
		flags = *l
	}
	var passEnv []string
	if l, ok := c.Generic("pass-env").(*launchcli.WordList); ok && l != nil {
		passEnv = *l
	}
	if name == "" {
		if c.String("image") != "" || c.String("layout") != "" || c.String("runtime-command") != "" || len(flags) > 0 ||
			c.String("isolation") != "" || c.String("shm") != "" || len(passEnv) > 0 {
			return nil, nil, usageError("launch: --image, --layout, --runtime-command, --runtime-flag, --isolation, --shm and --pass-env need --runtime")
		}
		return nil, nil, nil
	}
	isolation, err := runtimes.ParseIsolation(c.String("isolation"))
	if err != nil {
		return nil, nil, usageError("launch: --isolation: %v", err)
	}
	if err := runtimes.CheckPassEnv(passEnv); err != nil {
		return nil, nil, usageError("launch: --pass-env: %v", err)
	}
	shm, err := runtimes.ParseShm(c.String("shm"))
	if err != nil {
		return nil, nil, usageError("launch: --shm: %v", err)
	}
	layout, err := runtimes.ParseLayout(c.String("layout"))
	if err != nil {
		return nil, nil, usageError("launch: --layout: %v", err)
	}
	if layout == runtimes.PerNode {
		return nil, nil, usageError("launch: --layout per-node runs hpcbench inside the container; use it through 'hpcbench matrix'")
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	resolver := matrix.NewResolver()
	command, image := c.String("runtime-command"), c.String("image")
	res := resolver.Runtime(ctx, name, command)
	if res.Runtime == nil {
		return nil, nil, usageError("launch: --runtime: %v", res.Err)
	}
	if res.Err != nil {
		return nil, nil, fmt.Errorf("launch: %w", res.Err)
	}
	var later chan matrix.Resolved
	if loc, ok := res.Runtime.(runtimes.Locator); ok && !pinnedImage(image) {
		res.Image, res.Err = loc.Locate(image)
		if res.Err == nil {
			later = make(chan matrix.Resolved, 1)
			go func() { later <- resolver.Image(ctx, name, command, image) }()
		}
	} else {
		res = resolver.Image(ctx, name, command, image)
	}
	if res.Err != nil {
		return nil, nil, fmt.Errorf("launch: %w", res.Err)
	}
	// Containers a killed hpcbench left behind go first: the sweep every
	// launch starts (sweep.go) asks the runtimes' own programs; a runtime
	// run by another program is asked here too.
	if lc, ok := res.Runtime.(runtimes.LeftoverCleaner); ok && c.String("runtime-command") != "" {
		if names, err := lc.CleanupLeftovers(ctx); err == nil && len(names) > 0 {
			fmt.Fprintf(c.App.ErrWriter, "hpcbench launch: removed %d leftover container(s): %s\n", len(names), strings.Join(names, ", "))
		}
	}
	w, err := res.Runtime.Wrapper(ctx, runtimes.Spec{Layout: layout, Image: res.Image, MPI: c.String("mpi"),
		Command: c.String("runtime-command"), Flags: flags, MPIBuild: build, Isolation: isolation, Shm: shm, PassEnv: passEnv})
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

// pinnedImage reports whether image names a digest (NAME@sha256:HEX),
// which must be checked before anything runs.
func pinnedImage(image string) bool {
	_, pinned, err := images.ParsePinned(image)
	return pinned || err != nil
}
