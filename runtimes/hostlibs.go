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

// add returns binds, and the paths to mount read-only, for a rank of job
// placed by spec: in the bind layout the host's MPI libraries, and wherever
// spec's MPICH build is bind-mounted (buildSource), the build's prefix and
// the libraries it needs.
func (h *hostLibBinds) add(runtime string, spec Spec, job pmi.Job, binds []string) ([]string, map[string]bool, error) {
	ro := map[string]bool{}
	source, err := buildSource(runtime, spec)
	if err != nil {
		return nil, nil, err
	}
	if spec.Layout != Bind && source != buildBound {
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
	for _, l := range h.libs {
		ro[l] = true
	}
	return normalizeBinds(append(append([]string(nil), binds...), h.libs...)), ro, nil
}

// nodeBuildBinds returns binds, and the paths to mount read-only, for a
// per-node container: spec's MPICH build and what it needs, where the
// build is bind-mounted (buildSource).
func nodeBuildBinds(ctx context.Context, runtime string, spec Spec, binds []string) ([]string, map[string]bool, error) {
	ro := map[string]bool{}
	source, err := buildSource(runtime, spec)
	if err != nil || source != buildBound {
		return binds, ro, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	libs, err := images.MPIBuildBinds(ctx, *spec.MPIBuild)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range libs {
		ro[l] = true
	}
	return normalizeBinds(append(append([]string(nil), binds...), libs...)), ro, nil
}
