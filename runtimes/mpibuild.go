package runtimes

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/mpibuild"
)

// How the adapters honour Spec.MPIBuild: inside the container the rank's
// LD_LIBRARY_PATH starts with the build's lib folder; the build comes from
// the image where the image carries it (per-rank, per-node), and is
// bind-mounted read-only at its host path in the bind layout and for
// images from outside hpcbench's store. A store image without the build is
// refused (ErrMPIBuildMissing). Choices record the build and where it came
// from (mpi_build: the prefix, mpi_build_flavour, mpi_build_version,
// mpi_build_configure, mpi_build_source).

// ErrMPIBuildMissing: the spec asks for one of hpcbench's MPICH builds
// (Spec.MPIBuild), and the image, built by "hpcbench image build", does not
// carry it. Running the image's own MPICH instead would change the MPI
// between cells that must differ only in their PMI flavour.
var ErrMPIBuildMissing = errors.New("image does not carry the MPICH build")

// metaMPIBuilds is the ImageInfo.Meta key under which Prepare records the
// MPICH builds a store image carries ("pmi1=/opt/hpcbench/mpich-pmi1,...",
// or "none"); an image from outside the store has no such key.
const metaMPIBuilds = "mpi_builds"

// Where a rank's MPICH build comes from (Choices' "mpi_build_source").
const (
	buildFromHost  = "host"
	buildFromImage = "image"
	buildBound     = "bind-mounted read-only"
)

// storeMeta records in meta what the store's manifest m says about its
// image that the wrappers need: the store folder and the builds it carries.
func storeMeta(m *images.Manifest, meta map[string]string) {
	meta["store"] = m.Dir
	meta[metaMPIBuilds] = describeBuilds(m.MPIBuilds)
}

func describeBuilds(builds []images.MPIBuildRecord) string {
	if len(builds) == 0 {
		return "none"
	}
	parts := make([]string, len(builds))
	for i, b := range builds {
		parts[i] = b.Flavour + "=" + b.Prefix
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// imageCarries reports whether the image's Meta (filled by Prepare) lists
// build; known is false for an image from outside the store.
func imageCarries(info ImageInfo, build *mpibuild.Build) (carries, known bool) {
	list, known := info.Meta[metaMPIBuilds]
	if !known {
		return false, false
	}
	want := build.Flavour + "=" + filepath.Clean(build.Prefix)
	for _, entry := range strings.Split(list, ",") {
		if entry == want {
			return true, true
		}
	}
	return false, true
}

// buildSource says where spec's ranks get spec.MPIBuild: from the image
// when it carries the build (layouts per-rank and per-node), bind-mounted
// read-only from the host in the bind layout and for images from outside
// the store, which say nothing of what they carry. A store image without
// the build is refused (ErrMPIBuildMissing). "" when spec names no build.
func buildSource(runtime string, spec Spec) (string, error) {
	b := spec.MPIBuild
	switch {
	case b == nil:
		return "", nil
	case runtime == "native":
		return buildFromHost, nil
	case spec.Layout == Bind:
		return buildBound, nil
	}
	carries, known := imageCarries(spec.Image, b)
	switch {
	case carries:
		return buildFromImage, nil
	case !known:
		return buildBound, nil
	}
	return "", fmt.Errorf("%s: %w: image %s carries %s, not the %s build %s (rebuild it with 'hpcbench image build --mpi mpich' on a machine where the build is installed)",
		runtime, ErrMPIBuildMissing, spec.Image.Ref, spec.Image.Meta[metaMPIBuilds], b.Flavour, b.Prefix)
}

// buildChoices records which build the ranks load and from where.
func buildChoices(c map[string]string, spec Spec, source string) {
	b := spec.MPIBuild
	if b == nil {
		return
	}
	// The same keys and values as the run's own record of its build
	// (package matrix), so that merging the two changes nothing.
	c["mpi_build"] = b.Prefix
	c["mpi_build_flavour"] = b.Flavour
	if b.Version != "" {
		c["mpi_build_version"] = b.Version
	}
	if b.ConfigureFlags != "" {
		c["mpi_build_configure"] = b.ConfigureFlags
	}
	if source != "" {
		c["mpi_build_source"] = source
	}
}

// withBuildEnv returns env with the build's lib folder first on
// LD_LIBRARY_PATH (kept as it is when it already starts there), so that the
// rank's loader picks the build's libmpich.so.12 over any other.
func withBuildEnv(env []string, b *mpibuild.Build) []string {
	if b == nil {
		return env
	}
	return mpibuild.PrependLibraryPath(env, b.LibDir)
}
