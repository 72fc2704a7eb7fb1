package signing

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sylabs/sif/v2/pkg/sif"
)

// makeSIF writes a small SIF holding one data object in group 1, the way
// an image's root filesystem sits in one, and returns its path.
func makeSIF(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "test.sif")
	di, err := sif.NewDescriptorInput(sif.DataGeneric, bytes.NewReader(bytes.Repeat([]byte("hpcbench rootfs "), 256)),
		sif.OptGroupID(1), sif.OptObjectName("rootfs"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(di))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
	return path
}

// keyPair generates an Ed25519 key pair into dir and returns the paths of
// its public and private files.
func keyPair(t *testing.T, dir, name string) (pub, priv string) {
	t.Helper()
	e, err := GenerateKey(name, name+"@example.org", "", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err = WriteKeyPair(e, dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// tamper changes one byte in the middle of data object id of the SIF.
func tamper(t *testing.T, path string, id uint32) {
	t.Helper()
	f, err := sif.LoadContainerFromPath(path, sif.OptLoadWithFlag(os.O_RDONLY))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.GetDescriptor(sif.WithID(id))
	if err != nil {
		t.Fatal(err)
	}
	off := d.Offset() + d.Size()/2
	f.UnloadContainer()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := fh.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	img := makeSIF(t, dir)
	pub, priv := keyPair(t, dir, "center")
	if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key %s: mode %v, err %v; want 0600", priv, fi.Mode().Perm(), err)
	}
	key, err := ReadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if o := VerifySIF(img, nil, ""); o.Status != Unsigned {
		t.Fatalf("before signing: %v, want unsigned", o)
	}
	if err := SignSIF(img, key); err != nil {
		t.Fatal(err)
	}
	kr, err := ReadKeyRing(pub)
	if err != nil {
		t.Fatal(err)
	}
	o := VerifySIF(img, kr, pub)
	if o.Status != Verified || len(o.Signers) != 1 || o.Signers[0] != Fingerprint(key) {
		t.Fatalf("VerifySIF = %+v, want verified by %s", o, Fingerprint(key))
	}
	if !o.OK() || !strings.Contains(o.String(), Fingerprint(key)) || !strings.Contains(o.String(), "center <center@example.org>") {
		t.Errorf("outcome %q: want the fingerprint and the identity", o)
	}
	if o := VerifySIF(img, nil, ""); o.Status != SignedUnchecked || o.Signers[0] != Fingerprint(key) {
		t.Errorf("without keyring: %+v, want signed, not verified", o)
	}
}

func TestVerifyWrongKeyring(t *testing.T) {
	dir := t.TempDir()
	img := makeSIF(t, dir)
	_, priv := keyPair(t, dir, "signer")
	otherPub, _ := keyPair(t, dir, "other")
	key, err := ReadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignSIF(img, key); err != nil {
		t.Fatal(err)
	}
	kr, err := ReadKeyRing(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	o := VerifySIF(img, kr, otherPub)
	if o.Status != UnknownSigner || !o.Refused() {
		t.Fatalf("VerifySIF with another keyring = %+v, want unknown signer", o)
	}
	for _, want := range []string{Fingerprint(key), otherPub, "does not hold"} {
		if !strings.Contains(o.Reason, want) {
			t.Errorf("reason %q lacks %q", o.Reason, want)
		}
	}
}

func TestVerifyTampered(t *testing.T) {
	dir := t.TempDir()
	img := makeSIF(t, dir)
	pub, priv := keyPair(t, dir, "center")
	key, _ := ReadSigningKey(priv)
	if err := SignSIF(img, key); err != nil {
		t.Fatal(err)
	}
	tamper(t, img, 1)
	kr, _ := ReadKeyRing(pub)
	o := VerifySIF(img, kr, pub)
	if o.Status != Altered || !o.Refused() {
		t.Fatalf("VerifySIF after tampering = %+v, want altered", o)
	}
	if !strings.Contains(o.Reason, "altered after it was signed") || !strings.Contains(o.Reason, "data object 1") {
		t.Errorf("reason %q: want it to name the altered data object", o.Reason)
	}
	if o.Error(true) == nil {
		t.Error("Error(true) = nil for an altered image")
	}
}

func TestKeyFilesRefused(t *testing.T) {
	dir := t.TempDir()
	pub, priv := keyPair(t, dir, "k")
	empty := filepath.Join(dir, "empty")
	garbage := filepath.Join(dir, "garbage.asc")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(garbage, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n-----END PGP PUBLIC KEY BLOCK-----\n"), 0o644)
	for _, p := range []string{empty, garbage, filepath.Join(dir, "missing")} {
		if _, err := ReadKeyRing(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadKeyRing(%s) = %v, want an error naming the file", p, err)
		}
	}
	if _, err := ReadSigningKey(pub); err == nil || !strings.Contains(err.Error(), "public keys only") {
		t.Errorf("ReadSigningKey(public file) = %v, want 'public keys only'", err)
	}
	// The private file is a keyring too (its public part verifies).
	if kr, err := ReadKeyRing(priv); err != nil || len(kr) != 1 {
		t.Errorf("ReadKeyRing(private file) = %v, %v", kr, err)
	}
	if _, _, err := WriteKeyPair(nil, dir, "k"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("WriteKeyPair over existing files = %v, want 'already exists'", err)
	}
	if o := VerifySIF(garbage, nil, ""); o.Status != Failed || !strings.Contains(o.Reason, "not a SIF") {
		t.Errorf("VerifySIF(non-SIF) = %+v, want failed: not a SIF", o)
	}
	if _, err := GenerateKey("a <b>", "", "", Ed25519); err == nil {
		t.Error("GenerateKey accepted '<' in the name")
	}
	if _, err := ParseAlgorithm("dsa"); err == nil {
		t.Error("ParseAlgorithm(dsa) = nil error")
	}
}

func TestTwoKeyringFiles(t *testing.T) {
	// One armored file holding two keys (cat a.pub.asc b.pub.asc).
	dir := t.TempDir()
	a, _ := keyPair(t, dir, "a")
	b, bpriv := keyPair(t, dir, "b")
	ab, bb := mustRead(t, a), mustRead(t, b)
	both := filepath.Join(dir, "both.asc")
	os.WriteFile(both, append(ab, bb...), 0o644)
	kr, err := ReadKeyRing(both)
	if err != nil || len(kr) != 2 {
		t.Fatalf("ReadKeyRing(two keys) = %d keys, %v", len(kr), err)
	}
	img := makeSIF(t, dir)
	key, _ := ReadSigningKey(bpriv)
	if err := SignSIF(img, key); err != nil {
		t.Fatal(err)
	}
	if o := VerifySIF(img, kr, both); o.Status != Verified {
		t.Errorf("VerifySIF with a two-key keyring = %+v", o)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
