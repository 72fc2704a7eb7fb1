package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/siftest"
	"github.com/hpcbench/hpcbench/internal/testenv"
)

// flipByte changes one byte in the middle of the file's data, past the
// SIF header and descriptors (the root filesystem of a small SIF).
func flipByte(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := fi.Size() / 2
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestImageSignVerifyCLI: keygen, sign and verify through the command
// line on a real SIF built by apptainer; the signed SIF verifies with
// "apptainer verify" too; a wrong keyring, an unsigned SIF and an altered
// one are refused with exit status 1 and a reason.
func TestImageSignVerifyCLI(t *testing.T) {
	dir := t.TempDir()
	img := siftest.Build(t, dir, "cli")
	unsigned := siftest.Build(t, dir, "unsigned")
	keys := filepath.Join(dir, "keys")

	out, err := runApp(t, "image", "keygen", "--name", "HPC Center Bench", "--email", "bench@example.org", "--algorithm", "ed25519", "-o", filepath.Join(dir, "k"))
	if err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	pub, priv := filepath.Join(dir, "k", "hpc-center-bench.pub.asc"), filepath.Join(dir, "k", "hpc-center-bench.priv.asc")
	if !strings.Contains(out, pub) || !strings.Contains(out, priv) {
		t.Fatalf("keygen output names neither %s nor %s:\n%s", pub, priv, out)
	}
	if _, err := runApp(t, "image", "keygen", "--name", "HPC Center Bench", "-o", filepath.Join(dir, "k")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("keygen over existing files: %v, want 'already exists'", err)
	}
	if _, err := runApp(t, "image", "keygen", "--name", "other", "--algorithm", "ed25519", "-o", filepath.Join(dir, "k")); err != nil {
		t.Fatal(err)
	}
	otherPub := filepath.Join(dir, "k", "other.pub.asc")

	if out, err := runApp(t, "image", "sign", "--key", priv, img); err != nil || !strings.Contains(out, "signed by") {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	if out, err := runApp(t, "image", "sign", "--key", priv, img); err != nil || !strings.Contains(out, "already signed") {
		t.Errorf("second sign: %v\n%s", err, out)
	}
	if _, err := runApp(t, "image", "sign", "--key", pub, img); exitCode(err) != 2 || !strings.Contains(err.Error(), "public keys only") {
		t.Errorf("sign with a public key: %v, want a usage error", err)
	}
	out, err = runApp(t, "image", "verify", "--keyring", pub, img)
	if err != nil || !strings.Contains(out, "verified") || !strings.Contains(out, "HPC Center Bench <bench@example.org>") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = runApp(t, "image", "verify", "--json", "--keyring", pub, img)
	var rep map[string]any
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep["status"] != "verified" || !strings.HasPrefix(rep["digest"].(string), "sha256:") {
		t.Errorf("verify --json: %v\n%s", err, out)
	}

	// Apptainer trusts the exported public key.
	cmd := exec.Command(siftest.Apptainer(t), "key", "import", pub)
	cmd.Env = siftest.Env(t, keys)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apptainer key import: %v\n%s", err, b)
	}
	cmd = exec.Command(siftest.Apptainer(t), "verify", "--local", img)
	cmd.Env = siftest.Env(t, keys)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("apptainer verify of the SIF hpcbench signed: %v\n%s", err, b)
	}
	// Without --keyring, Apptainer's local keyring is used.
	t.Setenv("APPTAINER_KEYSDIR", keys)
	if out, err := runApp(t, "image", "verify", img); err != nil {
		t.Errorf("verify with Apptainer's keyring: %v\n%s", err, out)
	}

	for _, c := range []struct {
		name, keyring, image, want string
	}{
		{"wrong keyring", otherPub, img, "unknown signer"},
		{"unsigned", pub, unsigned, "unsigned"},
		{"not a SIF", pub, pub, "not a SIF"},
	} {
		_, err := runApp(t, "image", "verify", "--keyring", c.keyring, c.image)
		if exitCode(err) != 1 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: verify = %v, want exit 1 and %q", c.name, err, c.want)
		}
	}
	flipByte(t, img)
	_, err = runApp(t, "image", "verify", "--keyring", pub, img)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "altered after it was signed") {
		t.Errorf("altered SIF: verify = %v, want exit 1 and 'altered after it was signed'", err)
	}
	out, _ = runApp(t, "image", "verify", "--json", "--keyring", pub, img)
	if !strings.Contains(out, `"status": "altered"`) {
		t.Errorf("verify --json of the altered SIF:\n%s", out)
	}
}

// TestImageSignStoreImage: signing a store image by name records the
// signed file's new digest in its manifest.
func TestImageSignStoreImage(t *testing.T) {
	dir := t.TempDir()
	store := images.OpenStore(filepath.Join(dir, "store"))
	name := "signme"
	idir := filepath.Join(store.Root, name)
	os.MkdirAll(idir, 0o755)
	sif := siftest.Build(t, idir, name)
	d0, _ := images.FileSHA256(sif)
	m := &images.Manifest{Name: name, MPI: "mpich", Dir: idir, Created: time.Now(), SIF: &images.SIFImage{Path: sif, Digest: d0}}
	if err := store.Save(m); err != nil {
		t.Fatal(err)
	}
	if _, err := runApp(t, "image", "keygen", "--name", "s", "--algorithm", "ed25519", "-o", dir); err != nil {
		t.Fatal(err)
	}
	if out, err := runApp(t, "image", "sign", "--store", store.Root, "--key", filepath.Join(dir, "s.priv.asc"), name); err != nil {
		t.Fatalf("sign %s: %v\n%s", name, err, out)
	}
	m2, err := store.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := images.FileSHA256(sif)
	if d1 == d0 || m2.SIF.Digest != d1 || m2.SIF.Meta["signed_by"] == "" {
		t.Errorf("manifest after signing: digest %s (file %s, before %s), meta %v", m2.SIF.Digest, d1, d0, m2.SIF.Meta)
	}
	if out, err := runApp(t, "image", "verify", "--store", store.Root, "--keyring", filepath.Join(dir, "s.pub.asc"), name); err != nil {
		t.Errorf("verify %s: %v\n%s", name, err, out)
	}
}

// TestImageBuildSignWith: image build --sign-with signs the SIF it builds
// and records the signed file's digest; Apptainer verifies the signature;
// a second build of unchanged inputs keeps the SIF and does not sign it
// twice; image list --digests prints the pinned references.
func TestImageBuildSignWith(t *testing.T) {
	siftest.Apptainer(t)
	testenv.LookPath(t, "mpichversion", "apt-get install mpich: the MPI to put in the image")
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	t.Setenv("HPCBENCH_MPICH_ROOT", filepath.Join(dir, "no-builds"))
	if _, err := runApp(t, "image", "keygen", "--name", "builder", "--algorithm", "ed25519", "-o", dir); err != nil {
		t.Fatal(err)
	}
	pub, priv := filepath.Join(dir, "builder.pub.asc"), filepath.Join(dir, "builder.priv.asc")
	const name = "hpcbench-signtest"
	args := []string{"image", "build", "--mpi", "mpich", "--name", name, "--minimal", "--runtimes", "apptainer", "--store", store, "--sign-with", priv}
	out, err := runApp(t, args...)
	if err != nil {
		t.Fatalf("image build --sign-with: %v\n%s", err, out)
	}
	if !strings.Contains(out, "signed by") {
		t.Errorf("build output does not say it signed:\n%s", out)
	}
	m, err := images.OpenStore(store).Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := images.FileSHA256(m.SIF.Path)
	if m.SIF.Digest != d {
		t.Errorf("manifest digest %s, file %s: the signed file's digest is not recorded", m.SIF.Digest, d)
	}
	keys := filepath.Join(dir, "keys")
	for _, args := range [][]string{{"key", "import", pub}, {"verify", "--local", m.SIF.Path}} {
		cmd := exec.Command(siftest.Apptainer(t), args...)
		cmd.Env = siftest.Env(t, keys)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apptainer %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	out, err = runApp(t, args...)
	if err != nil || !strings.Contains(out, "already signed") {
		t.Errorf("second build: %v\n%s", err, out)
	}
	if d2, _ := images.FileSHA256(m.SIF.Path); d2 != d {
		t.Errorf("second build changed the SIF (%s -> %s)", d, d2)
	}
	list, err := runApp(t, "image", "list", "--store", store, "--digests")
	if err != nil || !strings.Contains(list, name+"@"+d) || !strings.Contains(list, "signed by") {
		t.Errorf("image list --digests: %v\n%s", err, list)
	}
}
