package inventory

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
)

// fakeBuild makes root/mpich-<name> with a manifest saying flavour and a
// libmpich.so.12 compiled from src, as the build script leaves them.
func fakeBuild(t *testing.T, cc, root, name, flavour, src string) {
	t.Helper()
	lib := filepath.Join(root, "mpich-"+name, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(t.TempDir(), "pmi.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", filepath.Join(lib, "libmpich.so.12"), c).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	manifest := "flavour=" + flavour + "\nmpich_version=4.0.2\nconfigure_flags=--with-" + name + "\nlibraries=libmpich.so.12\n"
	if err := os.WriteFile(filepath.Join(root, "mpich-"+name, "hpcbench-build.txt"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMPICHBuilds: each build's flavour is read from its library's
// symbols, a build whose library speaks another flavour is not used, and
// the mpich entry then speaks what the usable builds speak.
func TestMPICHBuilds(t *testing.T) {
	cc := testenv.LookPath(t, "cc", "apt-get install gcc")
	root := t.TempDir()
	hidden := `__attribute__((visibility("hidden"))) `
	fakeBuild(t, cc, root, "pmi1", "pmi1", hidden+"int PMI_Init(int *s) { return 0; }\n")
	fakeBuild(t, cc, root, "pmi2", "pmi2", hidden+"int PMI2_Init(int *s) { return 0; }\n")
	fakeBuild(t, cc, root, "pmix", "pmix", "extern int PMIx_Init(void *, void *, int);\nint MPI_Init(void) { return PMIx_Init(0, 0, 0); }\n")
	// Labelled PMI-2, but its library is a PMI-1 client.
	fakeBuild(t, cc, root, "odd", "pmi2x", hidden+"int PMI_Init(int *s) { return 0; }\n")

	builds := mpichBuilds(root)
	var got []string
	for _, b := range builds {
		got = append(got, b.Flavour+":"+flavourList(b.PMI)+":"+map[bool]string{true: "usable", false: "unusable"}[b.Usable])
	}
	want := []string{"pmi1:pmi1:usable", "pmi2:pmi2:usable", "pmix:pmix:usable", "pmi2x:pmi1:unusable"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("builds = %q, want %q", got, want)
	}

	inv := &Inventory{MPI: []MPI{
		{Component: Component{Name: "mpich", Found: true}, PMI: []pmi.Flavour{pmi.PMI1}, PMIEvidence: "PMI-1 only"},
		{Component: Component{Name: "openmpi", Found: true}, PMI: []pmi.Flavour{pmi.PMIx}},
	}, MPICHBuilds: builds}
	inv.applyMPICHBuilds()
	if fl, detected := inv.PMIOf("mpich"); !detected || !reflect.DeepEqual(fl, []pmi.Flavour{pmi.PMI1, pmi.PMI2, pmi.PMIx}) {
		t.Errorf("mpich with builds speaks %v (detected %v), want pmi1, pmi2, pmix", fl, detected)
	}
	if b := inv.MPIBuild("mpich", pmi.PMI2); b == nil || b.Prefix != filepath.Join(root, "mpich-pmi2") {
		t.Errorf("MPIBuild(mpich, pmi2) = %+v, want the pmi2 build", b)
	}
	if b := inv.MPIBuild("openmpi", pmi.PMIx); b != nil {
		t.Errorf("MPIBuild(openmpi, pmix) = %+v, want none: builds are MPICH's", b)
	}
	var report strings.Builder
	if err := WriteReport(&report, inv); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"mpich-pmi2", "defines PMI2_Init", "calls PMIx_Init", "unusable"} {
		if !strings.Contains(report.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, report.String())
		}
	}
}

// flavourList is the flavours as one word ("pmi1+pmix").
func flavourList(fl []pmi.Flavour) string {
	s := make([]string, len(fl))
	for i, f := range fl {
		s[i] = string(f)
	}
	return strings.Join(s, "+")
}
