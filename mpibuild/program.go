package mpibuild

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// Sonames are the library names a program linked by Debian's mpicc.mpich
// or mpif90.mpich asks the loader for, and every build provides.
var Sonames = []string{"libmpich.so.12", "libmpichfort.so.12"}

// LinksMPICH reports whether the ELF program at path asks the loader for
// one of Sonames (its DT_NEEDED entries), so that a build's lib folder
// first on LD_LIBRARY_PATH makes it run on that build. A script or a
// static program does not.
func LinksMPICH(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	for _, lib := range needed {
		for _, s := range Sonames {
			if lib == s {
				return true, nil
			}
		}
	}
	return false, nil
}

// Load reads the build installed at prefix (a folder holding
// hpcbench-build.txt).
func Load(prefix string) (Build, error) {
	abs, err := filepath.Abs(prefix)
	if err != nil {
		return Build{}, err
	}
	if _, err := os.Stat(filepath.Join(abs, ManifestName)); err != nil {
		return Build{}, fmt.Errorf("%s is not a complete MPICH build: %w", prefix, err)
	}
	b, ok := read(abs)
	if !ok {
		return Build{}, fmt.Errorf("%s: %s names no PMI flavour", prefix, ManifestName)
	}
	return b, nil
}
