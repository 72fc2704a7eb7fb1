// Package mpibuild finds the MPICH builds hpcbench's setup installs, one per
// PMI flavour, so that a PMI comparison holds the MPI library constant.
//
// Each build lives in its own prefix under a root folder (/opt/hpcbench by
// default): mpich-pmi1, mpich-pmi2 and mpich-pmix, built from the same
// MPICH source with the same configure flags except the PMI layer. Each
// holds lib/libmpich.so.12 and lib/libmpichfort.so.12, the names a binary
// linked by Debian's mpicc.mpich or mpif90.mpich asks for, so one unchanged
// binary runs on any build when the build's lib folder comes first on the
// loader's path. A prefix is complete only once it holds hpcbench-build.txt
// (key=value lines, written last by the build script); a prefix without it
// is ignored.
//
// The package is the bottom layer: it imports nothing from the project, so
// every other package (planning, launching, container adapters, Slurm) may
// use it.
package mpibuild

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultRoot is where the builds are installed.
const DefaultRoot = "/opt/hpcbench"

// RootEnv names the environment variable that replaces DefaultRoot when
// Find is given no root (tests point it at a fake folder).
const RootEnv = "HPCBENCH_MPICH_ROOT"

// ManifestName is the file that marks a prefix complete and describes it.
const ManifestName = "hpcbench-build.txt"

// LibraryPathVar is the loader's search path variable Env sets.
const LibraryPathVar = "LD_LIBRARY_PATH"

// Build is one installed MPICH build.
type Build struct {
	// Flavour is the PMI flavour the build's ranks speak: "pmi1", "pmi2"
	// or "pmix".
	Flavour string `json:"flavour"`
	// Prefix is the installation folder; LibDir its lib folder, the one
	// that goes first on the loader's path.
	Prefix string `json:"prefix"`
	LibDir string `json:"lib_dir"`
	// Version is the MPICH version the build was made from ("4.0.2").
	Version string `json:"version,omitempty"`
	// ConfigureFlags is the configure command line the build used.
	ConfigureFlags string `json:"configure_flags,omitempty"`
	// Libraries are the shared library files the build installed
	// (libmpich.so.12, libmpichfort.so.12, ...).
	Libraries []string `json:"libraries,omitempty"`
}

// flavourOrder sorts builds as the PMI flavours are usually listed.
var flavourOrder = map[string]int{"pmi1": 0, "pmi2": 1, "pmix": 2}

// Root returns the folder Find searches for root: root itself when not
// empty, else $HPCBENCH_MPICH_ROOT when set, else DefaultRoot.
func Root(root string) string {
	if root != "" {
		return root
	}
	if env := os.Getenv(RootEnv); env != "" {
		return env
	}
	return DefaultRoot
}

// Find returns the complete builds under root (see Root for ""): every
// root/mpich-*/ folder holding a readable hpcbench-build.txt, ordered pmi1,
// pmi2, pmix, then by flavour name. A missing root gives none.
func Find(root string) []Build {
	dirs, _ := filepath.Glob(filepath.Join(Root(root), "mpich-*"))
	var builds []Build
	seen := map[string]bool{}
	for _, dir := range dirs {
		b, ok := read(dir)
		if !ok || seen[b.Flavour] {
			continue
		}
		seen[b.Flavour] = true
		builds = append(builds, b)
	}
	sort.SliceStable(builds, func(i, j int) bool {
		oi, iKnown := flavourOrder[builds[i].Flavour]
		oj, jKnown := flavourOrder[builds[j].Flavour]
		switch {
		case iKnown && jKnown:
			return oi < oj
		case iKnown != jKnown:
			return iKnown
		}
		return builds[i].Flavour < builds[j].Flavour
	})
	return builds
}

// ForFlavour returns the build under root (see Root for "") whose ranks
// speak flavour, and whether there is one.
func ForFlavour(root, flavour string) (Build, bool) {
	for _, b := range Find(root) {
		if b.Flavour == flavour {
			return b, true
		}
	}
	return Build{}, false
}

// Env is what a rank's environment needs to load this build:
// LD_LIBRARY_PATH=<LibDir>. The caller puts it before any value the
// environment already has (see PrependLibraryPath).
func (b Build) Env() []string {
	return []string{LibraryPathVar + "=" + b.LibDir}
}

// EnvOver is Env for an environment whose LD_LIBRARY_PATH is current
// (as os.Getenv gives it): the build's lib folder first, then current's
// folders.
func (b Build) EnvOver(current string) []string {
	return []string{LibraryPathVar + "=" + joinPath(b.LibDir, current)}
}

// PrependLibraryPath returns environ ("K=V" entries) with dir first on
// LD_LIBRARY_PATH, keeping the folders already listed after it; the input
// is not modified. Later duplicates of the variable are dropped, since the
// first one is the one a process sees.
func PrependLibraryPath(environ []string, dir string) []string {
	out := make([]string, 0, len(environ)+1)
	set := false
	for _, kv := range environ {
		old, ok := strings.CutPrefix(kv, LibraryPathVar+"=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if set {
			continue
		}
		set = true
		out = append(out, LibraryPathVar+"="+joinPath(dir, old))
	}
	if !set {
		out = append(out, LibraryPathVar+"="+dir)
	}
	return out
}

// joinPath puts dir before the folders of list, leaving out dir where
// list already has it.
func joinPath(dir, list string) string {
	parts := []string{dir}
	for _, p := range filepath.SplitList(list) {
		if p != "" && p != dir {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, string(filepath.ListSeparator))
}

// String names the build for people: "mpich-pmi2 4.0.2 (/opt/hpcbench/mpich-pmi2)".
func (b Build) String() string {
	s := "mpich-" + b.Flavour
	if b.Version != "" {
		s += " " + b.Version
	}
	return s + " (" + b.Prefix + ")"
}

// read loads the manifest of the prefix dir; ok is false when the prefix
// is incomplete (no manifest, or no flavour in it or its name).
func read(dir string) (Build, bool) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return Build{}, false
	}
	defer f.Close()
	b := Build{Prefix: dir, LibDir: filepath.Join(dir, "lib")}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.TrimSpace(key) {
		case "flavour":
			b.Flavour = value
		case "version", "mpich_version":
			if b.Version == "" || key == "version" {
				b.Version = value
			}
		case "configure_flags":
			b.ConfigureFlags = value
		case "libraries":
			b.Libraries = strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
		}
	}
	if sc.Err() != nil {
		return Build{}, false
	}
	if b.Flavour == "" {
		// A manifest without the key still names its build by its folder.
		b.Flavour = strings.TrimPrefix(filepath.Base(dir), "mpich-")
	}
	return b, b.Flavour != ""
}
