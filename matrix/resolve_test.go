package matrix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/signing"
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

// pinnedRootfs makes a tiny root filesystem for runtime (which must be
// installed: need says what) with one program, and returns its folder, the
// program's path and its content digest.
func pinnedRootfs(t *testing.T, runtime, need string) (root, prog, digest string) {
	t.Helper()
	rt, _ := runtimes.Get(runtime)
	_, err := rt.Detect(context.Background())
	testenv.Require(t, need, err)
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	prog = filepath.Join(root, "bin", "prog")
	if err := os.WriteFile(prog, []byte("hello"), 0o755); err != nil {
		t.Fatal(err)
	}
	digest, err = images.RootfsDigest(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, prog, digest
}

// TestResolverPinsOCIRootfs: an OCI root filesystem pinned to its content
// digest passes; once one byte of one file changes, a new study's
// resolver recomputes the digest and refuses it with both digests.
func TestResolverPinsOCIRootfs(t *testing.T) {
	root, prog, d := pinnedRootfs(t, "oci", "an OCI runtime (crun or runc)")
	c := Cell{Runtime: "oci", RuntimeLabel: "oci", Image: root + "@" + d, MPI: "mpich"}
	res := NewResolver().Cell(context.Background(), c)
	if res.Err != nil || res.Integrity.Status != signing.Pinned {
		t.Fatalf("pinned rootfs: %v, %v", res.Integrity, res.Err)
	}
	os.WriteFile(prog, []byte("hellO"), 0o755)
	res = NewResolver().Cell(context.Background(), c)
	if !errors.Is(res.Err, ErrImageRefused) || res.Integrity.Status != signing.Mismatch ||
		!strings.Contains(res.Err.Error(), "pinned to "+d) || !strings.Contains(res.Err.Error(), "its digest is sha256:") {
		t.Errorf("altered rootfs: %v, %v", res.Integrity, res.Err)
	}
	// Under require_signed, an unpinned image is refused.
	c.Image, c.RequireSigned = root, true
	if res := NewResolver().Cell(context.Background(), c); !errors.Is(res.Err, ErrImageRefused) || !strings.Contains(res.Err.Error(), "require_signed") {
		t.Errorf("unpinned under require_signed: %v", res.Err)
	}
}

// TestResolverPinsApptainerSandbox: an Apptainer sandbox folder pinned to
// its content digest passes, and is refused once a file in it changes.
func TestResolverPinsApptainerSandbox(t *testing.T) {
	root, prog, d := pinnedRootfs(t, "apptainer", "apptainer (CI installs it)")
	c := Cell{Runtime: "apptainer", RuntimeLabel: "apptainer", Image: root + "@" + d, MPI: "mpich"}
	if res := NewResolver().Cell(context.Background(), c); res.Err != nil || res.Integrity.Status != signing.Pinned || res.Image.Digest != d {
		t.Fatalf("pinned sandbox: %v, %v, digest %s", res.Integrity, res.Err, res.Image.Digest)
	}
	os.WriteFile(prog, []byte("hellO"), 0o755)
	res := NewResolver().Cell(context.Background(), c)
	if !errors.Is(res.Err, ErrImageRefused) || res.Integrity.Status != signing.Mismatch || !strings.Contains(res.Err.Error(), "pinned to "+d) {
		t.Errorf("altered sandbox: %v, %v", res.Integrity, res.Err)
	}
	// A keyring asks for a signature, which a sandbox cannot carry.
	e, _ := signing.GenerateKey("sandbox test", "", "", signing.Ed25519)
	pub, _, err := signing.WriteKeyPair(e, t.TempDir(), "k")
	if err != nil {
		t.Fatal(err)
	}
	c.Image, c.Verify = root, pub
	if res := NewResolver().Cell(context.Background(), c); !errors.Is(res.Err, ErrImageRefused) || !strings.Contains(res.Err.Error(), "is a folder (a sandbox)") {
		t.Errorf("sandbox with a keyring: %v", res.Err)
	}
}
