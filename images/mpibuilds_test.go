package images

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/mpibuild"
)

// fakeMPIBuild makes an MPICH build folder under root holding a copy of
// lib, named as the build's own library, and its manifest.
func fakeMPIBuild(t *testing.T, root, flavour, lib string) mpibuild.Build {
	t.Helper()
	prefix := filepath.Join(root, "mpich-"+flavour)
	if err := os.MkdirAll(filepath.Join(prefix, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prefix, "lib", "libmpich.so.12"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(prefix, mpibuild.ManifestName), []byte("flavour="+flavour+"\nmpich_version=4.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build, ok := mpibuild.ForFlavour(root, flavour)
	if !ok {
		t.Fatalf("fake build %s not found", prefix)
	}
	return build
}

// TestImageCarriesMPIBuilds: a minimal MPICH image carries every build
// whole at its host path, with libpmix's folder (its plugins) for a build
// that links libpmix; the manifest lists the builds, and a rebuilt build
// changes the image's inputs. The bind layout's mounts for a build are its
// prefix and what it needs, never the C library.
func TestImageCarriesMPIBuilds(t *testing.T) {
	libmpich := multiarchLib + "/libmpich.so.12"
	pmixUser := multiarchLib + "/openmpi/lib/openmpi3/mca_pmix_ext3x.so" // a library that links libpmix
	for _, need := range []string{libmpich, pmixUser, pmixFolder} {
		if !fileExists(need) {
			testenv.Skipf(t, "%s not installed here (CI installs MPICH, Open MPI and libpmix)", need)
		}
	}
	testenv.LookPath(t, "busybox", "install busybox-static")
	root := filepath.Join(t.TempDir(), "builds")
	builds := []mpibuild.Build{fakeMPIBuild(t, root, "pmi2", libmpich), fakeMPIBuild(t, root, "pmix", pmixUser)}
	store := OpenStore(filepath.Join(t.TempDir(), "store"))
	opts := BuildOptions{Name: "t", MPI: "mpich", Minimal: true, MPIBuilds: builds, Store: store}
	m, _, err := BuildRootfs(context.Background(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range builds {
		if _, ok := m.Carries(b.Flavour, b.Prefix); !ok {
			t.Errorf("manifest %+v does not list the %s build", m.MPIBuilds, b.Flavour)
		}
		for _, f := range []string{filepath.Join(b.LibDir, "libmpich.so.12"), filepath.Join(b.Prefix, mpibuild.ManifestName)} {
			if !fileExists(filepath.Join(m.Rootfs, f)) {
				t.Errorf("image lacks %s", f)
			}
		}
	}
	if !fileExists(filepath.Join(m.Rootfs, pmixFolder, "lib", "pmix")) {
		t.Errorf("image lacks libpmix's plugin folder %s/lib/pmix", pmixFolder)
	}

	binds, err := MPIBuildBinds(context.Background(), builds[1])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(binds, builds[1].Prefix) || !slices.Contains(binds, pmixFolder) {
		t.Errorf("bind layout for the PMIx build mounts %q: want its prefix and %s", binds, pmixFolder)
	}
	for _, b := range binds {
		if isGlibc(b) {
			t.Errorf("bind layout mounts the C library %s", b)
		}
	}

	// Rebuilding a build (a new manifest) makes the image's inputs change.
	if err := os.WriteFile(filepath.Join(builds[0].Prefix, mpibuild.ManifestName), []byte("flavour=pmi2\nbuilt_at=later\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again := BuildOptions{Name: "t", MPI: "mpich", Minimal: true, MPIBuilds: builds, Store: store}
	if _, rebuilt, err := BuildRootfs(context.Background(), &again); err != nil || !rebuilt {
		t.Errorf("a rebuilt MPICH build did not rebuild the image (rebuilt=%v, err=%v)", rebuilt, err)
	}
	// An image without MPI carries no build: the bind layout mounts it.
	bare := BuildOptions{Name: "u", MPI: "mpich", Minimal: true, WithoutMPI: true, MPIBuilds: builds, Store: store}
	if m, _, err := BuildRootfs(context.Background(), &bare); err != nil || len(m.MPIBuilds) != 0 {
		t.Errorf("an image without MPI: builds %+v, err %v; want none", m, err)
	}
}
