package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/npb/kernels"
)

// fakeKernelsCache is a cache folder holding one complete entry.
func fakeKernelsCache(t *testing.T) *kernels.Cache {
	t.Helper()
	root := filepath.Join(t.TempDir(), "kernels")
	entry := filepath.Join(root, "0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(entry, "mpich"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(entry, kernels.InfoName), []byte("mpi mpich\nprograms ep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &kernels.Cache{Root: root}
}

// The kernels cache goes only on a yes, typed or given as --yes.
func TestCleanKernelsCache(t *testing.T) {
	for _, tt := range []struct {
		answer  string
		yes     bool
		removed bool
	}{
		{"n\n", false, false},
		{"\n", false, false},
		{"yes\n", false, true},
		{"", true, true},
	} {
		cache := fakeKernelsCache(t)
		var out bytes.Buffer
		if err := cleanKernelsCache(&out, strings.NewReader(tt.answer), tt.yes, cache); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(cache.Root)
		if gone := os.IsNotExist(err); gone != tt.removed {
			t.Errorf("answer %q, --yes %v: removed %v, want %v\n%s", tt.answer, tt.yes, gone, tt.removed, out.String())
		}
	}
}
