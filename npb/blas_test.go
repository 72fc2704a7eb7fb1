package npb

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

func TestIsBLASLibrary(t *testing.T) {
	for name, want := range map[string]bool{
		"/lib/x86_64-linux-gnu/libblas.so.3":       true,
		"libcblas.so.3":                            true,
		"libopenblas.so.0":                         true,
		"libopenblasp-r0.3.21.so":                  true,
		"libblis.so.4":                             true,
		"libtatlas.so.3":                           true,
		"libmkl_rt.so.2":                           true,
		"libflexiblas.so.3":                        true,
		"/lib/x86_64-linux-gnu/libmpi.so.40":       false,
		"/lib/x86_64-linux-gnu/liblapack.so.3":     false,
		"/lib/x86_64-linux-gnu/libgfortran.so.5":   false,
		"/usr/lib/x86_64-linux-gnu/libblasfoo.txt": false,
	} {
		if got := IsBLASLibrary(name); got != want {
			t.Errorf("IsBLASLibrary(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestResolveIn builds the alternatives chain Debian uses, inside a
// folder standing for an image's root, with an absolute link that would
// lead elsewhere if it were followed on the host.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu/openblas-pthread"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "etc/alternatives"), 0o755))
	must(os.Symlink("usr/lib", filepath.Join(root, "lib")))
	must(os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"), []byte("elf"), 0o644))
	must(os.Symlink("/etc/alternatives/libblas.so.3-x86_64-linux-gnu", filepath.Join(root, "usr/lib/x86_64-linux-gnu/libblas.so.3")))
	must(os.Symlink("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", filepath.Join(root, "etc/alternatives/libblas.so.3-x86_64-linux-gnu")))

	got, err := resolveIn(root, "/lib/x86_64-linux-gnu/libblas.so.3")
	if err != nil {
		t.Fatal(err)
	}
	if want := "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"; got != want {
		t.Errorf("resolved to %s, want %s", got, want)
	}
	if _, err := resolveIn(root, "/lib/x86_64-linux-gnu/liblapack.so.3"); err == nil {
		t.Error("a library missing from the image resolved")
	}
	must(os.Symlink("loop", filepath.Join(root, "loop")))
	if _, err := resolveIn(root, "/loop"); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("a symlink loop gave %v", err)
	}
}

func TestLddPaths(t *testing.T) {
	out := []byte(`	linux-vdso.so.1 (0x00007ffd)
	libblas.so.3 => /lib/x86_64-linux-gnu/libblas.so.3 (0x00007f07318af000)
	libmpi.so.40 => /lib/x86_64-linux-gnu/libmpi.so.40 (0x00007f0731690000)
	libgone.so.1 => not found
	/lib64/ld-linux-x86-64.so.2 (0x00007f07319bd000)
`)
	got := strings.Join(lddPaths(out), " ")
	if got != "/lib/x86_64-linux-gnu/libblas.so.3 /lib/x86_64-linux-gnu/libmpi.so.40" {
		t.Errorf("got %q", got)
	}
}

// TestDetectBLASOfHPCC asks which BLAS Debian's hpcc really loads here.
func TestDetectBLASOfHPCC(t *testing.T) {
	testenv.LookPath(t, "hpcc", "apt-get install hpcc")
	b, err := DetectBLAS(context.Background(), "hpcc")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Libraries) == 0 {
		t.Fatalf("no BLAS found for hpcc, which links libblas.so.3: %+v", b)
	}
	for _, l := range b.Libraries {
		fi, err := os.Lstat(l)
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			t.Errorf("%s is not a resolved file (%v)", l, err)
		}
	}
	if _, err := exec.LookPath("dpkg-query"); err == nil && len(b.Packages) == 0 {
		t.Errorf("dpkg is here but no package was named: %+v", b)
	}
	t.Logf("hpcc loads %s", b)

	// The host's own root gives the same answer through resolveIn.
	in, err := DetectBLASIn(context.Background(), "hpcc", "/")
	if err != nil {
		t.Fatal(err)
	}
	if in.String() != b.String() {
		t.Errorf("inside / : %s; on the host: %s", in, b)
	}
}

func TestDetectBLASMissingBinary(t *testing.T) {
	_, err := DetectBLAS(context.Background(), "/nonexistent/xhpl")
	if !errors.Is(err, ErrNoBinary) {
		t.Errorf("got %v, want ErrNoBinary", err)
	}
	b, err := DetectBLAS(context.Background(), "/bin/true")
	if err != nil || len(b.Libraries) != 0 {
		t.Errorf("/bin/true: %+v, %v; want no BLAS", b, err)
	}
}
