package images

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hpcbench/hpcbench/mpibuild"
)

// pmixFolder holds Debian's libpmix and the plugins it opens at run time
// (ldd names only the library): the PMIx build of MPICH needs both.
const pmixFolder = multiarchLib + "/pmix2"

// recordBuilds describes the builds an image carries, for its manifest
// and its inputs digest.
func recordBuilds(builds []mpibuild.Build) ([]MPIBuildRecord, error) {
	var out []MPIBuildRecord
	for _, b := range builds {
		sum, err := FileSHA256(filepath.Join(b.Prefix, mpibuild.ManifestName))
		if err != nil {
			return nil, fmt.Errorf("MPICH build %s (%s): %w", b.Flavour, b.Prefix, err)
		}
		out = append(out, MPIBuildRecord{Flavour: b.Flavour, Prefix: b.Prefix, Version: b.Version, ConfigureFlags: b.ConfigureFlags, Manifest: sum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Flavour < out[j].Flavour })
	return out, nil
}

// addMPIBuilds copies each build's prefix whole into the image, with the
// libraries its shared objects need that are not in the image yet.
func addMPIBuilds(ctx context.Context, b *rootfsBuilder, builds []mpibuild.Build) error {
	for _, build := range builds {
		objs, err := b.addTree(build.Prefix, nil)
		if err != nil {
			return fmt.Errorf("MPICH build %s: %w", build.Prefix, err)
		}
		deps, err := buildClosure(ctx, build, objs)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if d == pmixFolder {
				more, err := b.addTree(d, skipHeaders)
				if err != nil {
					return fmt.Errorf("MPICH build %s: %s: %w", build.Prefix, d, err)
				}
				extra, err := lddClosure(ctx, more)
				if err != nil {
					return fmt.Errorf("MPICH build %s: %w", build.Prefix, err)
				}
				for _, e := range extra {
					if err := b.add(e); err != nil {
						return fmt.Errorf("library %s: %w", e, err)
					}
				}
				continue
			}
			if err := b.add(d); err != nil {
				return fmt.Errorf("MPICH build %s: library %s: %w", build.Prefix, d, err)
			}
		}
	}
	return nil
}

// buildClosure returns the libraries the build's shared objects need
// outside its prefix (the loader searching the build's lib folder first,
// as a rank does), and Debian's PMIx folder when libpmix is among them.
func buildClosure(ctx context.Context, build mpibuild.Build, objs []string) ([]string, error) {
	deps, err := lddClosureEnv(ctx, objs, build.Env())
	if err != nil {
		return nil, fmt.Errorf("MPICH build %s: %w", build.Prefix, err)
	}
	var out []string
	pmix := false
	for _, d := range deps {
		if d == build.Prefix || strings.HasPrefix(d, build.Prefix+"/") {
			continue
		}
		// Debian's libpmix.so.2 is a link into the PMIx folder.
		if real, err := filepath.EvalSymlinks(d); err == nil && strings.HasPrefix(real, pmixFolder+"/") {
			pmix = true
		}
		out = append(out, d)
	}
	if pmix {
		out = append(out, pmixFolder)
	}
	return out, nil
}

// MPIBuildBinds returns the host paths the bind layout mounts for build:
// its prefix, the libraries its shared objects need outside it except the
// C library, and, for a build that needs libpmix, Debian's PMIx folder.
func MPIBuildBinds(ctx context.Context, build mpibuild.Build) ([]string, error) {
	objs, err := sharedObjects(build.Prefix)
	if err != nil {
		return nil, fmt.Errorf("bind layout for MPICH build %s: %w", build.Prefix, err)
	}
	deps, err := buildClosure(ctx, build, objs)
	if err != nil {
		return nil, fmt.Errorf("bind layout: %w", err)
	}
	set := map[string]bool{build.Prefix: true}
	dirs := []string{build.Prefix}
	for _, d := range deps {
		if d == pmixFolder {
			set[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, d := range deps {
		if d == pmixFolder || isGlibc(d) {
			continue
		}
		if l := CanonicalLibPath(d); !insideAny(l, dirs) {
			set[l] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}
