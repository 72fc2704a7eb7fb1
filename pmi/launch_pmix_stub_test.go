//go:build !cgo || nopmix

package pmi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/pmi/pmix"
)

// TestLaunchPMIxWithoutPMIx: a build without PMIx refuses a PMIx launch
// with ErrUnsupported and says why. `make lint` runs it with CGO_ENABLED=0.
func TestLaunchPMIxWithoutPMIx(t *testing.T) {
	_, err := pmi.Launch(context.Background(), pmi.Options{Ranks: 1, PMI: pmi.PMIx, Argv: []string{"true"}})
	if !errors.Is(err, pmi.ErrUnsupported) || !errors.Is(err, pmix.ErrNoPMIx) {
		t.Fatalf("Launch with PMIx in a build without it: %v, want ErrUnsupported and ErrNoPMIx", err)
	}
}
