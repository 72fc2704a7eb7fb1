package matrix

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hpcbench/hpcbench/runtimes"
)

// Resolver finds runtimes (runtimes.GetCommand, then Detect) and prepares
// images (Prepare) at most once each: a study asks for the same runtime
// and image for every run of every cell, and an engine's answer does not
// change within a study. The local executor, slurm's batch scripts and
// srun launcher, and "hpcbench launch --runtime" all resolve through one.
// It is safe for concurrent use.
type Resolver struct {
	// BuildImage, when set, builds a cell's missing image for its runtime
	// on first use (the built-in quick study, --build-images); the image
	// is then prepared again. It is called at most once per runtime and
	// image; nil leaves a missing image an error.
	BuildImage ImageBuilder

	mu       sync.Mutex
	runtimes map[string]Resolved // by runtime name and command
	images   map[string]Resolved // by runtime name, command and image
	built    map[string]bool     // the images BuildImage was asked for
}

// ImageBuilder builds the image cell c names (c.Image) for runtime, from
// the cell's MPI and binaries.
type ImageBuilder func(ctx context.Context, runtime string, c Cell) error

// Resolved is a runtime found on this host with its version and, when an
// image was asked for, the image prepared for it.
type Resolved struct {
	// Runtime is nil when the name or the command was refused
	// (runtimes.ErrUnknownRuntime, runtimes.ErrFlags); Err says why.
	Runtime runtimes.Runtime
	Version string
	Image   runtimes.ImageInfo
	// Err is why the runtime or the image cannot be used; nil when both can.
	Err error
}

// NewResolver returns an empty Resolver.
func NewResolver() *Resolver {
	return &Resolver{runtimes: map[string]Resolved{}, images: map[string]Resolved{}, built: map[string]bool{}}
}

// Runtime finds the runtime name running command ("" for the adapter's
// default) and detects its version.
func (r *Resolver) Runtime(ctx context.Context, name, command string) Resolved {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runtime(ctx, name, command)
}

func (r *Resolver) runtime(ctx context.Context, name, command string) Resolved {
	key := name + "\x00" + command
	if res, ok := r.runtimes[key]; ok {
		return res
	}
	var res Resolved
	res.Runtime, res.Err = runtimes.GetCommand(name, command)
	if res.Err == nil {
		res.Version, res.Err = res.Runtime.Detect(ctx)
	}
	r.runtimes[key] = res
	return res
}

// Image is Runtime, then prepares image for it.
func (r *Resolver) Image(ctx context.Context, name, command, image string) Resolved {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := name + "\x00" + command + "\x00" + image
	if res, ok := r.images[key]; ok {
		return res
	}
	res := r.runtime(ctx, name, command)
	if res.Err == nil {
		res.Image, res.Err = res.Runtime.Prepare(ctx, image)
	}
	r.images[key] = res
	return res
}

// Cell resolves what cell c runs in: its runtime, and its image unless it
// runs natively. A missing image is built on first use when BuildImage is
// set.
func (r *Resolver) Cell(ctx context.Context, c Cell) Resolved {
	if c.IsNative() {
		return r.Runtime(ctx, c.Runtime, c.RuntimeCommand)
	}
	res := r.Image(ctx, c.Runtime, c.RuntimeCommand, c.Image)
	if r.BuildImage == nil || res.Runtime == nil || !errors.Is(res.Err, runtimes.ErrImageNotFound) {
		return res
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := c.Runtime + "\x00" + c.RuntimeCommand + "\x00" + c.Image
	if r.built[key] {
		return r.images[key]
	}
	r.built[key] = true
	if err := r.BuildImage(ctx, c.Runtime, c); err != nil {
		res.Err = fmt.Errorf("%w; building it on first use failed: %w", res.Err, err)
	} else {
		res.Image, res.Err = res.Runtime.Prepare(ctx, c.Image)
	}
	r.images[key] = res
	return res
}
