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
// placed by spec.
func (h *hostLibBinds) add(spec Spec, job pmi.Job, binds []string) ([]string, map[string]bool, error) {
	ro := map[string]bool{}
	if spec.Layout != Bind {
		return binds, ro, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.libs == nil {
		ctx := h.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		libs, err := images.HostMPIBinds(ctx, mpiOf(spec, job))
		if err != nil {
			return nil, nil, err
		}
		h.libs = libs
	}
	for _, l := range h.libs {
		ro[l] = true
	}
	return normalizeBinds(append(append([]string(nil), binds...), h.libs...)), ro, nil
}
