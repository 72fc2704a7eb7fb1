package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
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
// ask for; nil (no --runtime) runs the ranks natively.
func launchRuntimeWrapper(c *cli.Context, build *mpibuild.Build) (pmi.Wrapper, error) {
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
			return nil, usageError("launch: --image, --layout, --runtime-command, --runtime-flag, --isolation, --shm and --pass-env need --runtime")
		}
		return nil, nil
	}
	isolation, err := runtimes.ParseIsolation(c.String("isolation"))
	if err != nil {
		return nil, usageError("launch: --isolation: %v", err)
	}
	if err := runtimes.CheckPassEnv(passEnv); err != nil {
		return nil, usageError("launch: --pass-env: %v", err)
	}
	shm, err := runtimes.ParseShm(c.String("shm"))
	if err != nil {
		return nil, usageError("launch: --shm: %v", err)
	}
	layout, err := runtimes.ParseLayout(c.String("layout"))
	if err != nil {
		return nil, usageError("launch: --layout: %v", err)
	}
	if layout == runtimes.PerNode {
		return nil, usageError("launch: --layout per-node runs hpcbench inside the container; use it through 'hpcbench matrix'")
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	res := matrix.NewResolver().Image(ctx, name, c.String("runtime-command"), c.String("image"))
	if res.Runtime == nil {
		return nil, usageError("launch: --runtime: %v", res.Err)
	}
	if res.Err != nil {
		return nil, fmt.Errorf("launch: %w", res.Err)
	}
	// Containers a killed hpcbench left behind go first.
	if lc, ok := res.Runtime.(runtimes.LeftoverCleaner); ok {
		if names, err := lc.CleanupLeftovers(ctx); err == nil && len(names) > 0 {
			fmt.Fprintf(c.App.ErrWriter, "hpcbench launch: removed %d leftover container(s): %s\n", len(names), strings.Join(names, ", "))
		}
	}
	w, err := res.Runtime.Wrapper(ctx, runtimes.Spec{Layout: layout, Image: res.Image, MPI: c.String("mpi"),
		Command: c.String("runtime-command"), Flags: flags, MPIBuild: build, Isolation: isolation, Shm: shm, PassEnv: passEnv})
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	if !c.Bool("quiet") {
		fmt.Fprintf(c.App.ErrWriter, "hpcbench launch: %s, image %s (%s)\n", runtimes.Describe(w.Choices()), res.Image.Ref, res.Image.Digest)
	}
	return w, nil
}
