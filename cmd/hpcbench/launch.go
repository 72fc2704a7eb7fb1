package main

import (
	"context"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/urfave/cli/v2"
)

// launchCommand is "hpcbench launch", its ranks natively or in any
// container runtime. The full program resolves the runtime and image with
// the matrix's resolver, which checks a pinned image's digest; the front
// program runs the same verb with launchcli.Direct for every other image.
func launchCommand() *cli.Command {
	return launchcli.Command(launchcli.RuntimeWrapper(matrixResolver{matrix.NewResolver()}))
}

// matrixResolver resolves a launch's runtime and image as a study's cells
// are resolved.
type matrixResolver struct{ r *matrix.Resolver }

func (m matrixResolver) Runtime(ctx context.Context, name, command string) launchcli.Resolved {
	res := m.r.Runtime(ctx, name, command)
	return launchcli.Resolved{Runtime: res.Runtime, Image: res.Image, Err: res.Err}
}

func (m matrixResolver) Image(ctx context.Context, name, command, image string) launchcli.Resolved {
	res := m.r.Image(ctx, name, command, image)
	return launchcli.Resolved{Runtime: res.Runtime, Image: res.Image, Err: res.Err}
}
