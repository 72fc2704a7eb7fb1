// Package mpibuild finds hpcbench's own MPICH builds: MPICH built three
// times from the same source with the same flags except the PMI layer
// (scripts/build-mpich.sh), installed as <root>/mpich-pmi1, mpich-pmi2 and
// mpich-pmix. Each prefix holds lib/libmpich.so.12, the library name
// binaries linked with Debian's MPICH ask for, so one unchanged binary runs
// under any build by putting the build's lib folder first on the loader's
// path: the PMI flavour is then the only difference between runs.
//
// A prefix counts only once its hpcbench-build.txt exists (key=value lines,
// written last by the build script): a build still being installed, or one
// that failed half-way, is not offered.
//
// The package is the bottom layer: it imports nothing from hpcbench.
package mpibuild

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultRoot is where scripts/build-mpich.sh installs the builds.
const DefaultRoot = "/opt/hpcbench"

// RootEnv overrides DefaultRoot when Find or ForFlavour get root "" (tests
// point it at a folder of fake builds).
const RootEnv = "HPCBENCH_MPICH_ROOT"

// ManifestFile is the file in each prefix that describes the build; its
// presence marks the build complete.
const ManifestFile = "hpcbench-build.txt"

// Build is one installed MPICH build.
type Build struct {
	// Flavour is the PMI flavour its library speaks: "pmi1", "pmi2" or "pmix".
	Flavour string
	// Prefix is the install folder; LibDir its lib folder, the one that
	// goes first on a rank's LD_LIBRARY_PATH.
	Prefix, LibDir string
	// Version is MPICH's version; ConfigureFlags the configure line it
	// was built with.
	Version, ConfigureFlags string
	// Libraries are the shared library files the build installed in
	// LibDir (libmpich.so.12.x.y, ...).
	Libraries []string
}

// Find returns the complete builds under root ("" is $HPCBENCH_MPICH_ROOT,
// else DefaultRoot), sorted by flavour. A root without builds yields none.
func Find(root string) []Build {
	if root == "" {
		root = os.Getenv(RootEnv)
	}
	if root == "" {
		root = DefaultRoot
	}
	manifests, _ := filepath.Glob(filepath.Join(root, "mpich-*", ManifestFile))
	var builds []Build
	for _, m := range manifests {
		if b, ok := read(m); ok {
			builds = append(builds, b)
		}
	}
	sort.Slice(builds, func(i, j int) bool { return builds[i].Flavour < builds[j].Flavour })
	return builds
}

// ForFlavour returns the build under root ("" as for Find) whose library
// speaks flavour ("pmi1", "pmi2", "pmix").
func ForFlavour(root, flavour string) (Build, bool) {
	for _, b := range Find(root) {
		if b.Flavour == flavour {
			return b, true
		}
	}
	return Build{}, false
}

// Env is what a rank needs to load this build instead of the system's
// MPICH: LD_LIBRARY_PATH=<LibDir>. The caller prepends LibDir to any value
// the rank already has.
func (b Build) Env() []string { return []string{"LD_LIBRARY_PATH=" + b.LibDir} }

// read parses one build's manifest. The flavour comes from the file, else
// from the folder's name (mpich-<flavour>).
func read(manifest string) (Build, bool) {
	f, err := os.Open(manifest)
	if err != nil {
		return Build{}, false
	}
	defer f.Close()
	prefix := filepath.Dir(manifest)
	b := Build{Prefix: prefix, LibDir: filepath.Join(prefix, "lib")}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "flavour":
			b.Flavour = val
		case "version", "mpich_version":
			if b.Version == "" || key == "version" {
				b.Version = val
			}
		case "configure_flags":
			b.ConfigureFlags = val
		case "libraries":
			b.Libraries = strings.Fields(val)
		}
	}
	if sc.Err() != nil {
		return Build{}, false
	}
	if b.Flavour == "" {
		b.Flavour = strings.TrimPrefix(filepath.Base(prefix), "mpich-")
	}
	return b, true
}
