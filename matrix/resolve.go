package matrix

import (
	"context"
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
	mu       sync.Mutex
	runtimes map[string]Resolved // by runtime name and command
	images   map[string]Resolved // by runtime name, command and image
}

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
	return &Resolver{runtimes: map[string]Resolved{}, images: map[string]Resolved{}}
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
// runs natively.
func (r *Resolver) Cell(ctx context.Context, c Cell) Resolved {
	if c.IsNative() {
		return r.Runtime(ctx, c.Runtime, c.RuntimeCommand)
	}
	return r.Image(ctx, c.Runtime, c.RuntimeCommand, c.Image)
}
