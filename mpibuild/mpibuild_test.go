package mpibuild

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fakeRoot makes a root folder with a prefix per manifest (flavour folder
// name -> manifest text; "" leaves the manifest out: an incomplete build).
func fakeRoot(t *testing.T, manifests map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range manifests {
		lib := filepath.Join(root, name, "lib")
		if err := os.MkdirAll(lib, 0o755); err != nil {
			t.Fatal(err)
		}
		if text == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(root, name, ManifestName), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFind(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"mpich-pmix": "flavour=pmix\nmpich_version=4.0.2\nconfigure_flags=--with-pmix=/usr --prefix=/x\nlibraries=libmpich.so.12 libmpichfort.so.12\nmake_s=300\n",
		"mpich-pmi2": "flavour=pmi2\nmpich_version=4.0.2\nconfigure_flags=--with-pmi=pmi2/simple\n",
		"mpich-pmi1": "", // still building: no manifest
		"other":      "flavour=pmi1\n",
	})
	got := Find(root)
	want := []Build{
		{Flavour: "pmi2", Prefix: filepath.Join(root, "mpich-pmi2"), LibDir: filepath.Join(root, "mpich-pmi2", "lib"),
			Version: "4.0.2", ConfigureFlags: "--with-pmi=pmi2/simple"},
		{Flavour: "pmix", Prefix: filepath.Join(root, "mpich-pmix"), LibDir: filepath.Join(root, "mpich-pmix", "lib"),
			Version: "4.0.2", ConfigureFlags: "--with-pmix=/usr --prefix=/x", Libraries: []string{"libmpich.so.12", "libmpichfort.so.12"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Find = %+v\nwant %+v", got, want)
	}
	if b, ok := ForFlavour(root, "pmix"); !ok || b.Flavour != "pmix" {
		t.Errorf("ForFlavour(pmix) = %+v, %v", b, ok)
	}
	if _, ok := ForFlavour(root, "pmi1"); ok {
		t.Error("ForFlavour(pmi1) found a build without its manifest")
	}
}

func TestFindRootFromEnvironment(t *testing.T) {
	root := fakeRoot(t, map[string]string{"mpich-pmi1": "version=4.0.2\n"})
	t.Setenv(RootEnv, root)
	got := Find("")
	if len(got) != 1 || got[0].Flavour != "pmi1" || got[0].Version != "4.0.2" {
		t.Fatalf("Find(\"\") with %s=%s = %+v, want the pmi1 build named by its folder", RootEnv, root, got)
	}
	if Find(filepath.Join(root, "absent")) != nil {
		t.Error("a missing root gave builds")
	}
}

func TestEnvAndPrepend(t *testing.T) {
	b := Build{Flavour: "pmi2", Prefix: "/p", LibDir: "/p/lib"}
	if got := b.Env(); !reflect.DeepEqual(got, []string{"LD_LIBRARY_PATH=/p/lib"}) {
		t.Errorf("Env = %q", got)
	}
	if got := b.EnvOver("/x:/p/lib"); !reflect.DeepEqual(got, []string{"LD_LIBRARY_PATH=/p/lib:/x"}) {
		t.Errorf("EnvOver = %q", got)
	}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"A=1"}, []string{"A=1", "LD_LIBRARY_PATH=/p/lib"}},
		{[]string{"LD_LIBRARY_PATH=/x:/p/lib:/y", "B=2"}, []string{"LD_LIBRARY_PATH=/p/lib:/x:/y", "B=2"}},
		{[]string{"LD_LIBRARY_PATH=", "LD_LIBRARY_PATH=/z"}, []string{"LD_LIBRARY_PATH=/p/lib"}},
	} {
		if got := PrependLibraryPath(tc.in, b.LibDir); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PrependLibraryPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLoadAndLinksMPICH(t *testing.T) {
	root := fakeRoot(t, map[string]string{"mpich-pmi2": "flavour=pmi2\n", "mpich-pmi1": ""})
	if b, err := Load(filepath.Join(root, "mpich-pmi2")); err != nil || b.Flavour != "pmi2" {
		t.Errorf("Load(pmi2) = %+v, %v", b, err)
	}
	if _, err := Load(filepath.Join(root, "mpich-pmi1")); err == nil {
		t.Error("Load of a prefix without its manifest succeeded")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if links, err := LinksMPICH(self); err != nil || links {
		t.Errorf("LinksMPICH(test binary) = %v, %v; want false", links, err)
	}
	if _, err := LinksMPICH(filepath.Join(root, "mpich-pmi2", ManifestName)); err == nil {
		t.Error("LinksMPICH of a text file gave no error")
	}
}
