package sentinel_test

import (
	"testing"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/sentinel"
	"github.com/hpcbench/hpcbench/slurm"
)

// TestOneValueEach: the packages' names for a shared error are the one
// value package sentinel holds, so errors.Is matches across packages.
func TestOneValueEach(t *testing.T) {
	for _, c := range []struct {
		name  string
		alias error
		want  error
	}{
		{"runtimes.ErrUnknownRuntime", runtimes.ErrUnknownRuntime, sentinel.ErrUnknownRuntime},
		{"inventory.ErrUnknownRuntime", inventory.ErrUnknownRuntime, sentinel.ErrUnknownRuntime},
		{"runtimes.ErrUnavailable", runtimes.ErrUnavailable, sentinel.ErrUnavailable},
		{"runtimes.ErrNotInstalled", runtimes.ErrNotInstalled, sentinel.ErrNotInstalled},
		{"inventory.ErrNotInstalled", inventory.ErrNotInstalled, sentinel.ErrNotInstalled},
		{"runtimes.ErrEngineNotRunning", runtimes.ErrEngineNotRunning, sentinel.ErrEngineNotRunning},
		{"inventory.ErrEngineNotRunning", inventory.ErrEngineNotRunning, sentinel.ErrEngineNotRunning},
		{"runtimes.ErrImageNotFound", runtimes.ErrImageNotFound, sentinel.ErrImageNotFound},
		{"images.ErrImageNotFound", images.ErrImageNotFound, sentinel.ErrImageNotFound},
		{"npb.ErrNoBinary", npb.ErrNoBinary, sentinel.ErrBinaryNotFound},
		{"matrix.ErrInterrupted", matrix.ErrInterrupted, sentinel.ErrInterrupted},
		{"runtimes.ErrProbeTimedOut", runtimes.ErrProbeTimedOut, sentinel.ErrProbeTimedOut},
		{"inventory.ErrProbeTimedOut", inventory.ErrProbeTimedOut, sentinel.ErrProbeTimedOut},
		{"slurm.ErrInterrupted", slurm.ErrInterrupted, sentinel.ErrInterrupted},
	} {
		if c.alias != c.want {
			t.Errorf("%s is a value of its own, not package sentinel's", c.name)
		}
	}
}
