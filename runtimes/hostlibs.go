package runtimes

import (
	"context"
	"sync"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/pmi"
)

// hostLibBinds adds, for the bind layout, the host's MPI libraries to a
// rank's bind mounts (read-only). The ldd walk runs once per wrapper, not
// once per rank; a wrapper embeds one.
type hostLibBinds struct {
	// ctx bounds the ldd walk: the one the wrapper was made with.
	ctx  context.Context
	mu   sync.Mutex
	libs []string
}

// add returns the binds, and the paths to mount read-only, for a rank of
// job placed by spec at p: p's folders, and in the bind layout the host's
// MPI libraries, and wherever spec's MPICH build is bind-mounted
// (buildSource), the build's prefix and the libraries it needs (all
// read-only).
func (h *hostLibBinds) add(runtime string, spec Spec, job pmi.Job, p rankPlacement) ([]string, map[string]bool, error) {
	source, err := buildSource(runtime, spec)
	if err != nil {
		return nil, nil, err
	}
	if spec.Layout != Bind && source != buildBound {
		binds, ro := bindSet(p.readOnly, p.writable)
		return binds, ro, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.libs == nil {
		ctx := h.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		var libs []string
		if spec.Layout == Bind {
			host, err := images.HostMPIBinds(ctx, mpiOf(spec, job))
			if err != nil {
				return nil, nil, err
			}
			libs = host
		}
		if source == buildBound {
			build, err := images.MPIBuildBinds(ctx, *spec.MPIBuild)
			if err != nil {
				return nil, nil, err
			}
			libs = append(libs, build...)
		}
		h.libs = normalizeBinds(libs)
	}
	binds, ro := bindSet(append(append([]string(nil), p.readOnly...), h.libs...), p.writable)
	return binds, ro, nil
}

// nodeBuildBinds returns the binds, and the paths to mount read-only, for
// a per-node container placed at p: p's folders, and spec's MPICH build
// and what it needs (read-only), where the build is bind-mounted
// (buildSource).
func nodeBuildBinds(ctx context.Context, runtime string, spec Spec, p rankPlacement) ([]string, map[string]bool, error) {
	source, err := buildSource(runtime, spec)
	if err != nil {
		return nil, nil, err
	}
	if source != buildBound {
		binds, ro := bindSet(p.readOnly, p.writable)
		return binds, ro, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	libs, err := images.MPIBuildBinds(ctx, *spec.MPIBuild)
	if err != nil {
		return nil, nil, err
	}
	binds, ro := bindSet(append(append([]string(nil), p.readOnly...), libs...), p.writable)
	return binds, ro, nil
}
