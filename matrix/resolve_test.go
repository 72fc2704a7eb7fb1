package matrix

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/runtimes"
)

// TestResolverBuildsOnce: a missing image is handed to BuildImage once per
// runtime and image; a failed build leaves the image's error with the
// build's reason, and is not tried again.
func TestResolverBuildsOnce(t *testing.T) {
	testenv.LookPath(t, "runc", "install runc (Debian: runc) for OCI bundles")
	t.Setenv("HPCBENCH_IMAGES", t.TempDir())
	r := NewResolver()
	var asked []string
	r.BuildImage = func(_ context.Context, runtime string, c Cell) error {
		asked = append(asked, runtime+" "+c.Image)
		return errors.New("no debootstrap here")
	}
	c := Cell{Runtime: "oci", Image: "missing-image", MPI: "mpich"}
	for i := 0; i < 2; i++ {
		res := r.Cell(context.Background(), c)
		if !errors.Is(res.Err, runtimes.ErrImageNotFound) || !strings.Contains(res.Err.Error(), "no debootstrap here") {
			t.Errorf("call %d: err = %v, want the missing image and the build's reason", i+1, res.Err)
		}
	}
	if len(asked) != 1 || asked[0] != "oci missing-image" {
		t.Errorf("builds asked for: %q, want one for oci missing-image", asked)
	}
	// Without a builder the image is simply missing.
	if res := NewResolver().Cell(context.Background(), c); !errors.Is(res.Err, runtimes.ErrImageNotFound) || strings.Contains(res.Err.Error(), "building") {
		t.Errorf("no builder: err = %v", res.Err)
	}
}
