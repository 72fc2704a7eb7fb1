package images

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// MPI library locations of Debian's packages (x86_64).
const multiarchLib = "/usr/lib/x86_64-linux-gnu"

// mpiLayout says where an MPI's run-time files live on the host.
type mpiLayout struct {
	// libs are the MPI libraries programs link against.
	libs []string
	// dirs are plugin and data folders the library opens at run time.
	dirs []string
}

// ucxModules is UCX's folder of transport modules, which libucs opens with
// dlopen (so ldd never names them). Without it UCX loses its cross-memory
// transport (cma) and moves large messages between ranks on one node over
// TCP on loopback, where MPICH's MPI_Finalize can hang: one rank waits in
// the UCX endpoint close for a peer that already sits in the PMI barrier.
const ucxModules = multiarchLib + "/ucx"

func mpiFiles(mpi string) (mpiLayout, error) {
	switch mpi {
	case "mpich":
		return mpiLayout{libs: []string{multiarchLib + "/libmpich.so.12"}, dirs: []string{ucxModules}}, nil
	case "openmpi":
		return mpiLayout{
			libs: []string{multiarchLib + "/libmpi.so.40"},
			dirs: []string{multiarchLib + "/openmpi", multiarchLib + "/pmix2", ucxModules, "/usr/share/openmpi", "/etc/openmpi"},
		}, nil
	}
	return mpiLayout{}, fmt.Errorf("MPI %q: want mpich or openmpi", mpi)
}

// glibcLibs are the C library's own objects; the image must bring a
// compatible one, and binding the host's over it would break its programs.
var glibcLibs = []string{"ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "libresolv.so", "libutil.so", "libmvec.so"}

func isGlibc(path string) bool {
	base := filepath.Base(path)
	for _, g := range glibcLibs {
		if strings.HasPrefix(base, g) {
			return true
		}
	}
	return false
}

// lddClosure returns the shared objects files need (not files themselves),
// as the paths the loader found them at, sorted. Static binaries and
// non-ELF files contribute nothing.
func lddClosure(ctx context.Context, files []string) ([]string, error) {
	return lddClosureEnv(ctx, files, nil)
}

// lddClosureEnv is lddClosure with env added to ldd's environment (a
// build's LD_LIBRARY_PATH, so that its own libraries are found first).
func lddClosureEnv(ctx context.Context, files []string, env []string) ([]string, error) {
	found := map[string]bool{}
	const batch = 64
	for i := 0; i < len(files); i += batch {
		chunk := files[i:min(i+batch, len(files))]
		cmd := exec.CommandContext(ctx, "ldd", chunk...)
		cmd.Env = append(append(os.Environ(), "LC_ALL=C"), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		// ldd exits 1 when any file is not dynamic; its output for the
		// others is still complete.
		if err != nil && len(out) == 0 {
			if _, isExit := err.(*exec.ExitError); !isExit {
				return nil, fmt.Errorf("ldd: %w", err)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.Contains(line, "not found") {
				return nil, fmt.Errorf("ldd: a library is missing on the host: %s", line)
			}
			var path string
			if _, after, ok := strings.Cut(line, "=> "); ok {
				path, _, _ = strings.Cut(after, " (")
			} else if strings.HasPrefix(line, "/") {
				path, _, _ = strings.Cut(line, " (")
			}
			path = strings.TrimSpace(path)
			if filepath.IsAbs(path) && !strings.HasSuffix(path, ":") {
				found[path] = true
			}
		}
	}
	out := make([]string, 0, len(found))
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// sharedObjects lists the ELF shared objects under dir.
func sharedObjects(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.Contains(d.Name(), ".so") {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// CanonicalLibPath rewrites a library path through the host's folder
// symlinks (/lib -> usr/lib on merged-/usr systems) while keeping its file
// name, so that a bind mount lands on the path an image's loader searches.
func CanonicalLibPath(p string) string {
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return p
	}
	return filepath.Join(dir, filepath.Base(p))
}

// HostMPIBinds returns the host paths the bind layout mounts for mpi: the
// MPI libraries, the libraries they and their plugins need except the C
// library, and the plugin folders.
func HostMPIBinds(ctx context.Context, mpi string) ([]string, error) {
	layout, err := mpiFiles(mpi)
	if err != nil {
		return nil, err
	}
	inputs := append([]string(nil), layout.libs...)
	for _, d := range layout.dirs {
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("bind layout for %s: %w (is %s installed on the host?)", mpi, err, mpi)
		}
		objs, err := sharedObjects(d)
		if err != nil {
			return nil, fmt.Errorf("bind layout for %s: %w", mpi, err)
		}
		inputs = append(inputs, objs...)
	}
	for _, l := range layout.libs {
		if _, err := os.Stat(l); err != nil {
			return nil, fmt.Errorf("bind layout for %s: %w (is %s installed on the host?)", mpi, err, mpi)
		}
	}
	deps, err := lddClosure(ctx, inputs)
	if err != nil {
		return nil, fmt.Errorf("bind layout for %s: %w", mpi, err)
	}
	set := map[string]bool{}
	for _, l := range append(layout.libs, deps...) {
		if isGlibc(l) {
			continue
		}
		l = CanonicalLibPath(l)
		if insideAny(l, layout.dirs) {
			continue // inside a bound folder
		}
		set[l] = true
	}
	for _, d := range layout.dirs {
		set[d] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// insideAny says whether path p lies inside one of dirs.
func insideAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
