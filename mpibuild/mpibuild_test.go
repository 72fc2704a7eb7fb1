package mpibuild

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeBuild(t *testing.T, root, flavour, manifest string) {
	t.Helper()
	dir := filepath.Join(root, "mpich-"+flavour)
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFind: complete builds are found with their manifest's values; a
// prefix without its manifest (still being installed) is not.
func TestFind(t *testing.T) {
	root := t.TempDir()
	writeBuild(t, root, "pmi2", "flavour=pmi2\nmpich_version=4.0.2\nconfigure_flags=--with-pmi=pmi2/simple --prefix=x\nlibraries=libmpich.so.12.2.2 libmpichfort.so.12.2.2\n")
	writeBuild(t, root, "pmi1", "flavour=pmi1\nversion=4.0.2\n")
	writeBuild(t, root, "pmix", "")
	got := Find(root)
	if len(got) != 2 || got[0].Flavour != "pmi1" || got[1].Flavour != "pmi2" {
		t.Fatalf("Find = %+v, want pmi1 and pmi2", got)
	}
	want := Build{Flavour: "pmi2", Prefix: filepath.Join(root, "mpich-pmi2"), LibDir: filepath.Join(root, "mpich-pmi2", "lib"),
		Version: "4.0.2", ConfigureFlags: "--with-pmi=pmi2/simple --prefix=x", Libraries: []string{"libmpich.so.12.2.2", "libmpichfort.so.12.2.2"}}
	if !reflect.DeepEqual(got[1], want) {
		t.Errorf("pmi2 build = %+v, want %+v", got[1], want)
	}
	if _, ok := ForFlavour(root, "pmix"); ok {
		t.Error("ForFlavour found an incomplete build")
	}
	if b, ok := ForFlavour(root, "pmi1"); !ok || b.Version != "4.0.2" {
		t.Errorf("ForFlavour(pmi1) = %+v, %v", b, ok)
	}
	if env := want.Env(); !reflect.DeepEqual(env, []string{"LD_LIBRARY_PATH=" + want.LibDir}) {
		t.Errorf("Env = %q", env)
	}
	t.Setenv(RootEnv, root)
	if len(Find("")) != 2 {
		t.Errorf("Find(\"\") ignores %s", RootEnv)
	}
}
