//go:build !cgo || nopmix

package pmix

import (
	"errors"
	"testing"
)

// Run with: go test -tags nopmix ./pmi/pmix (or CGO_ENABLED=0).
func TestEveryEntryPointSaysNoPMIx(t *testing.T) {
	if err := Available(); !errors.Is(err, ErrNoPMIx) {
		t.Errorf("Available() = %v", err)
	}
	if _, err := NewJob("hpcbench-stub", 2, Events{}); !errors.Is(err, ErrNoPMIx) {
		t.Errorf("NewJob() = %v", err)
	}
	if err := Shutdown(); !errors.Is(err, ErrNoPMIx) {
		t.Errorf("Shutdown() = %v", err)
	}
	if v := Version(); v != "" {
		t.Errorf("Version() = %q", v)
	}
	if ErrNoPMIx.Error() != "hpcbench was built without PMIx support" {
		t.Errorf("ErrNoPMIx reads %q", ErrNoPMIx)
	}
}
