package matrix

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// withBuilds is fakeNode with hpcbench's three MPICH builds under root.
func withBuilds(root string) *inventory.Inventory {
	inv := fakeNode()
	for _, f := range []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx} {
		prefix := filepath.Join(root, "mpich-"+string(f))
		inv.MPICHBuilds = append(inv.MPICHBuilds, inventory.MPICHBuild{
			Build: mpibuild.Build{Flavour: string(f), Prefix: prefix, LibDir: filepath.Join(prefix, "lib"),
				Version: "4.0.2", ConfigureFlags: "--flags-" + string(f)},
			PMI: []pmi.Flavour{f}, Usable: true,
		})
	}
	inv.MPI[0].PMI = []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx}
	return inv
}

// TestExpandChoosesMPIBuild: with the builds, each mpich cell runs on the
// build of its PMI flavour and none is skipped for its PMI; Open MPI cells
// get no build; without them, mpich stays Debian's (PMI-1 only).
func TestExpandChoosesMPIBuild(t *testing.T) {
	dir := t.TempDir()
	exe(t, filepath.Join(dir, "mpich", "ep"))
	exe(t, filepath.Join(dir, "openmpi", "ep"))
	cfg := parse(t, "[study]\nnpb_dir = \""+dir+"\"\nrepetitions = 1\nwarmup = 0\n\n[matrix]\nmpi = [\"mpich\", \"openmpi\"]\npmi = [\"pmi1\", \"pmi2\", \"pmix\"]\nranks = [2]\n\n[[benchmark]]\nkind = \"npb\"\nname = \"ep\"\nclasses = [\"S\"]\n")
	cells, skipped := Expand(cfg, withBuilds("/b"))
	var got []string
	for _, c := range cells {
		s := c.MPI + "/" + string(c.PMI)
		if c.MPIBuild != nil {
			s += "@" + c.MPIBuild.Prefix
		}
		got = append(got, s)
	}
	want := []string{"mpich/pmi1@/b/mpich-pmi1", "mpich/pmi2@/b/mpich-pmi2", "mpich/pmix@/b/mpich-pmix", "openmpi/pmix"}
	if !slices.Equal(got, want) {
		t.Errorf("cells = %q, want %q", got, want)
	}
	for _, s := range skipped {
		if s.Cell.MPI == "mpich" {
			t.Errorf("mpich cell skipped with the builds present: %s: %s", s.Cell.Key(), s.Reason)
		}
	}

	cells, skipped = Expand(cfg, fakeNode())
	for _, c := range cells {
		if c.MPIBuild != nil || (c.MPI == "mpich" && c.PMI != pmi.PMI1) {
			t.Errorf("without builds: cell %s with build %v", c.Key(), c.MPIBuild)
		}
	}
	if len(skipped) != 4 { // mpich pmi2, pmix; openmpi pmi1, pmi2
		t.Errorf("without builds: %d skipped, want 4", len(skipped))
	}
}

// TestNativeBuildEnv: the build's lib folder goes first on the native
// ranks' loader path, before what the config or hpcbench's own environment
// had; container cells are left to the runtime adapter.
func TestNativeBuildEnv(t *testing.T) {
	b := &mpibuild.Build{Flavour: "pmi2", Prefix: "/b/mpich-pmi2", LibDir: "/b/mpich-pmi2/lib", ConfigureFlags: "--with-pmi=pmi2/simple"}
	native := Cell{Runtime: "native", MPI: "mpich", PMI: pmi.PMI2, MPIBuild: b}
	if got := NativeBuildEnv(native, []string{"A=1"}, "/usr/local/lib"); !slices.Equal(got, []string{"A=1", "LD_LIBRARY_PATH=/b/mpich-pmi2/lib:/usr/local/lib"}) {
		t.Errorf("native = %q", got)
	}
	if got := NativeBuildEnv(native, []string{"LD_LIBRARY_PATH=/cfg"}, "/usr/local/lib"); !slices.Equal(got, []string{"LD_LIBRARY_PATH=/b/mpich-pmi2/lib:/cfg"}) {
		t.Errorf("native with the config's path = %q", got)
	}
	docker := native
	docker.Runtime = "docker"
	if got := NativeBuildEnv(docker, []string{"A=1"}, "/x"); !slices.Equal(got, []string{"A=1"}) {
		t.Errorf("docker = %q, want it unchanged", got)
	}
	ch := BuildChoices(b)
	if ch["mpi_build"] != "/b/mpich-pmi2" || ch["mpi_build_flavour"] != "pmi2" || !strings.Contains(ch["mpi_build_configure"], "pmi2/simple") {
		t.Errorf("BuildChoices = %v", ch)
	}
	recorded := map[string]string{}
	recordBuildEnv(recorded, native, NativeBuildEnv(native, nil, ""))
	if recorded["LD_LIBRARY_PATH"] != "/b/mpich-pmi2/lib" {
		t.Errorf("recorded env = %v", recorded)
	}
	if sc := storeCell(native, fakeNode(), nil); sc.MPIVersion != "4.0.2" {
		t.Errorf("stored MPI version = %q", sc.MPIVersion)
	}
}
