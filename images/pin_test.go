package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePinned(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		ref    string
		pinned bool
		bad    bool
		name   string
	}{
		{"hpcbench-mpich", false, false, ""},
		{"hpcbench-mpich@sha256:" + hex, true, false, "hpcbench-mpich"},
		{"/srv/images/a.sif@sha256:" + hex, true, false, "/srv/images/a.sif"},
		{"/home/u@site/a.sif", false, false, ""},
		{"x@sha256:abc", false, true, ""},
		{"x@md5:" + hex, false, true, ""},
		{"@sha256:" + hex, false, true, ""},
		{"x@sha256:" + strings.ToUpper(hex), false, true, ""},
	} {
		p, ok, err := ParsePinned(tt.ref)
		if ok != tt.pinned || (err != nil) != tt.bad || p.Name != tt.name {
			t.Errorf("ParsePinned(%q) = %+v, %v, %v", tt.ref, p, ok, err)
		}
		if ok && p.String() != tt.ref {
			t.Errorf("String() = %q, want %q", p.String(), tt.ref)
		}
	}
}

// TestRootfsDigestChanges: the recomputed digest of a root filesystem is
// stable, and changes with one byte of one file.
func TestRootfsDigestChanges(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	f := filepath.Join(root, "bin", "prog")
	os.WriteFile(f, []byte("hello"), 0o755)
	d1, err := RootfsDigest(root)
	if err != nil || !strings.HasPrefix(d1, "sha256:") {
		t.Fatalf("RootfsDigest = %q, %v", d1, err)
	}
	if d2, _ := RootfsDigest(root); d2 != d1 {
		t.Errorf("digest not stable: %s then %s", d1, d2)
	}
	os.WriteFile(f, []byte("hellO"), 0o755)
	if d3, _ := RootfsDigest(root); d3 == d1 {
		t.Error("digest unchanged after a file changed")
	}
	if _, err := RootfsDigest(filepath.Join(root, "missing")); err == nil {
		t.Error("no error for a missing folder")
	}
}

// TestImageNameForm: a local image name is lower-case letters, digits,
// '.', '_' and '-', starting with a letter or digit, at most 128
// characters.
func TestImageNameForm(t *testing.T) {
	for name, ok := range map[string]bool{
		"hpcbench-mpich":         true,
		"a":                      true,
		strings.Repeat("a", 128): true,
		strings.Repeat("a", 129): false,
		"":                       false,
		"-x":                     false,
		"Upper":                  false,
		"a/b":                    false,
		"a b":                    false,
	} {
		if err := checkImageName(name); (err == nil) != ok {
			t.Errorf("checkImageName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
