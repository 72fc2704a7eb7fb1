package signing

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/internal/siftest"
)

// apptainer runs the real apptainer with the test's own keyring folder.
func apptainer(t *testing.T, keys string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(siftest.Apptainer(t), args...)
	cmd.Env = siftest.Env(t, keys)
	cmd.Stdin = strings.NewReader("0\n") // "key export" asks which key: the only one
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// TestApptainerVerifiesOurSignature: a SIF built by apptainer and signed
// here with a default (RSA 4096) key verifies with "apptainer verify";
// after one byte of its root filesystem changes, both refuse it.
func TestApptainerVerifiesOurSignature(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	img := siftest.Build(t, dir, "signed")
	e, err := GenerateKey("hpcbench test", "test@example.org", "", RSA4096)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := WriteKeyPair(e, dir, "center")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ReadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignSIF(img, key); err != nil {
		t.Fatal(err)
	}
	if out, err := apptainer(t, keys, "key", "import", pub); err != nil {
		t.Fatalf("apptainer key import: %v\n%s", err, out)
	}
	out, err := apptainer(t, keys, "verify", "--local", img)
	if err != nil {
		t.Fatalf("apptainer verify of a SIF signed by hpcbench: %v\n%s", err, out)
	}
	if !strings.Contains(out, Fingerprint(key)) {
		t.Errorf("apptainer verify output lacks the fingerprint %s:\n%s", Fingerprint(key), out)
	}

	kr, err := ReadKeyRing(pub)
	if err != nil {
		t.Fatal(err)
	}
	if o := VerifySIF(img, kr, pub); o.Status != Verified {
		t.Fatalf("VerifySIF = %v, want verified", o)
	}
	// Change one byte of the root filesystem (the last data object before
	// the signature: the FS partition).
	tamper(t, img, fsObject(t, img))
	if out, err := apptainer(t, keys, "verify", "--local", img); err == nil {
		t.Errorf("apptainer verify accepted the altered SIF:\n%s", out)
	}
	o := VerifySIF(img, kr, pub)
	if o.Status != Altered || !strings.Contains(o.Reason, "altered after it was signed") {
		t.Errorf("VerifySIF of the altered SIF = %v, want altered", o)
	}
}

// TestWeVerifyApptainerSignature: a SIF signed by "apptainer sign" with a
// key made by "apptainer key newpair" verifies here against Apptainer's
// own (binary) public keyring, and against the key it exports; a keyring
// without that key refuses it.
func TestWeVerifyApptainerSignature(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	img := siftest.Build(t, dir, "apptainer-signed")
	if out, err := apptainer(t, keys, "key", "newpair", "--name", "apptainer test", "--email", "app@example.org",
		"--comment", "test", "--password", "", "--bit-length", "2048", "--push=false"); err != nil {
		t.Fatalf("apptainer key newpair: %v\n%s", err, out)
	}
	if out, err := apptainer(t, keys, "sign", img); err != nil {
		t.Fatalf("apptainer sign: %v\n%s", err, out)
	}
	exported := filepath.Join(dir, "exported.asc")
	if out, err := apptainer(t, keys, "key", "export", "--armor", exported); err != nil {
		t.Fatalf("apptainer key export: %v\n%s", err, out)
	}
	for _, ring := range []string{filepath.Join(keys, "pgp-public"), exported} {
		kr, err := ReadKeyRing(ring)
		if err != nil {
			t.Fatal(err)
		}
		o := VerifySIF(img, kr, ring)
		if o.Status != Verified || len(o.Signers) != 1 || o.Signers[0] != Fingerprint(kr[0]) {
			t.Errorf("VerifySIF with %s = %+v, want verified by %s", ring, o, Fingerprint(kr[0]))
		}
		if !strings.Contains(o.Identity, "apptainer test") {
			t.Errorf("identity %q, want the key's name", o.Identity)
		}
	}
	otherPub, _ := keyPair(t, dir, "other")
	kr, _ := ReadKeyRing(otherPub)
	if o := VerifySIF(img, kr, otherPub); o.Status != UnknownSigner || !strings.Contains(o.Reason, otherPub) {
		t.Errorf("VerifySIF with a wrong keyring = %+v, want unknown signer naming %s", o, otherPub)
	}
}

// fsObject returns the id of the SIF's root filesystem partition.
func fsObject(t *testing.T, path string) uint32 {
	t.Helper()
	out, err := exec.Command(siftest.Apptainer(t), "sif", "list", path).CombinedOutput()
	if err != nil {
		t.Fatalf("apptainer sif list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) >= 5 && strings.HasPrefix(strings.TrimSpace(f[4]), "FS") {
			var id uint32
			for _, c := range strings.TrimSpace(f[0]) {
				id = id*10 + uint32(c-'0')
			}
			return id
		}
	}
	t.Fatalf("no FS object in %s:\n%s", path, out)
	return 0
}
