package npb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hpcbench/hpcbench/sentinel"
)

// BLAS says which BLAS library a benchmark binary loads: HPL's speed is
// mostly the BLAS's, and on Debian the library behind libblas.so.3 is
// whatever the alternatives system points at (reference BLAS, OpenBLAS
// pthread or OpenMP, BLIS, ATLAS), so the binary's name says nothing.
type BLAS struct {
	// Libraries are the BLAS objects the dynamic loader picks, as real
	// paths with every symbolic link (alternatives included) resolved,
	// e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3.
	Libraries []string
	// Packages are the Debian packages owning them with their versions,
	// "libopenblas0-pthread:amd64 0.3.21+ds-4"; empty where dpkg does not
	// know the file (or for files of an image that differ from the host's).
	Packages []string
}

// String is one line for provenance.
func (b BLAS) String() string {
	if len(b.Libraries) == 0 {
		return "none loaded dynamically"
	}
	s := strings.Join(b.Libraries, ", ")
	if len(b.Packages) > 0 {
		s += " (" + strings.Join(b.Packages, ", ") + ")"
	}
	return s
}

// ErrNoBinary is returned when the binary whose BLAS is asked for is not
// on this host.
var ErrNoBinary = sentinel.ErrBinaryNotFound

// blasSoname matches the file names of the BLAS implementations HPL is
// linked with: the generic libblas/libcblas, OpenBLAS, BLIS, ATLAS, MKL,
// FlexiBLAS, ESSL and ArmPL.
var blasSoname = regexp.MustCompile(`^lib(c?blas|openblas[a-z0-9_.-]*|blis[a-z0-9_-]*|s?t?atlas|mkl_rt|mkl_core|flexiblas|essl|armpl[a-z0-9_]*)\.so`)

// IsBLASLibrary reports whether a shared object's file name is a BLAS.
func IsBLASLibrary(name string) bool { return blasSoname.MatchString(filepath.Base(name)) }

// DetectBLAS finds the BLAS libraries binary loads on this host: ldd lists
// what the loader picks, symbolic links are followed to the real file, and
// dpkg-query names the package and version when dpkg owns it. A binary
// without a dynamic BLAS (static, or none) gives an empty BLAS and no error.
func DetectBLAS(ctx context.Context, binary string) (BLAS, error) {
	return DetectBLASIn(ctx, binary, "")
}

// DetectBLASIn is DetectBLAS for a binary run inside a root filesystem
// (an image assembled from this host's files): the libraries ldd names on
// the host are resolved inside root, and a package version is given only
// where the image's file is the host's own.
func DetectBLASIn(ctx context.Context, binary, root string) (BLAS, error) {
	path, err := exec.LookPath(binary)
	if err != nil {
		return BLAS{}, fmt.Errorf("%w: %s: %v", ErrNoBinary, binary, err)
	}
	cmd := exec.CommandContext(ctx, "ldd", path)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			// "not a dynamic executable": nothing is loaded.
			return BLAS{}, nil
		}
		return BLAS{}, fmt.Errorf("ldd %s: %w", path, err)
	}
	var b BLAS
	seen := map[string]bool{}
	for _, lib := range lddPaths(out) {
		if !IsBLASLibrary(lib) {
			continue
		}
		hostReal, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return BLAS{}, fmt.Errorf("BLAS library %s of %s: %w", lib, path, err)
		}
		real := hostReal
		if root != "" {
			real, err = resolveIn(root, lib)
			if err != nil {
				return BLAS{}, fmt.Errorf("BLAS library %s of %s in the image %s: %w", lib, path, root, err)
			}
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		b.Libraries = append(b.Libraries, real)
		if root != "" && !sameContent(filepath.Join(root, real), hostReal) {
			continue
		}
		if pkg := dpkgOwner(ctx, hostReal); pkg != "" && !seen["pkg "+pkg] {
			seen["pkg "+pkg] = true
			b.Packages = append(b.Packages, pkg)
		}
	}
	return b, nil
}

// lddPaths returns the library paths in ldd's output, in its order.
func lddPaths(out []byte) []string {
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		_, after, ok := strings.Cut(line, "=> ")
		if !ok {
			continue
		}
		p, _, _ := strings.Cut(after, " (")
		if p = strings.TrimSpace(p); filepath.IsAbs(p) {
			paths = append(paths, p)
		}
	}
	return paths
}

// resolveIn follows the symbolic links of path as if root were "/",
// returning the real path inside root (without root's prefix).
func resolveIn(root, path string) (string, error) {
	parts := strings.Split(strings.Trim(filepath.Clean(path), "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		next := filepath.Join(cur, parts[0])
		parts = parts[1:]
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", path)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(cur, target)
		}
		parts = append(strings.Split(strings.Trim(filepath.Clean(target), "/"), "/"), parts...)
		cur = "/"
	}
	return cur, nil
}

// sameContent reports whether two files hold the same bytes (a hard link
// is the common case and needs no reading).
func sameContent(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return false
	}
	if os.SameFile(fa, fb) {
		return true
	}
	if fa.Size() != fb.Size() {
		return false
	}
	ha, err1 := fileDigest(a)
	hb, err2 := fileDigest(b)
	return err1 == nil && err2 == nil && bytes.Equal(ha, hb)
}

func fileDigest(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// dpkgOwner returns "package version" for the package owning file, or ""
// where dpkg is absent or does not know the file.
func dpkgOwner(ctx context.Context, file string) string {
	candidates := []string{file}
	// On merged-/usr systems dpkg may have registered the /lib spelling.
	if rest, ok := strings.CutPrefix(file, "/usr/lib/"); ok {
		candidates = append(candidates, "/lib/"+rest)
	}
	for _, f := range candidates {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-S", f).Output()
		if err != nil {
			continue
		}
		line, _, _ := strings.Cut(string(out), "\n")
		pkg, _, ok := strings.Cut(line, ": ")
		if !ok || strings.Contains(pkg, ",") {
			continue // diversions and files shared by packages name several
		}
		ver, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", pkg).Output()
		if err != nil || len(ver) == 0 {
			return pkg
		}
		return pkg + " " + strings.TrimSpace(string(ver))
	}
	return ""
}
