package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorKeyrings: doctor --config lists each keyring a config names
// with its keys, and names an unreadable one with the reason; --key checks
// a signing key the same way.
func TestDoctorKeyrings(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("APPTAINER_KEYSDIR", filepath.Join(dir, "no-apptainer-keys"))
	if out, err := runApp(t, "image", "keygen", "--name", "doctor", "--algorithm", "ed25519", "-o", dir); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	pub, priv := filepath.Join(dir, "doctor.pub.asc"), filepath.Join(dir, "doctor.priv.asc")
	missing := filepath.Join(dir, "missing.asc")
	cfg := filepath.Join(dir, "signed.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[study]
name = "signed"
keyring = %q
require_signed = true
[matrix]
ranks = [2]
[[benchmark]]
kind = "npb"
name = "ep"
classes = ["S"]
[[runtime]]
name = "apptainer"
image = "a.sif"
[[runtime]]
name = "apptainer"
label = "other"
image = "b.sif"
verify = %q
`, pub, missing)), 0o644)

	checks, bad, err := checkSigningFiles([]string{cfg}, []string{priv, pub})
	if err != nil {
		t.Fatal(err)
	}
	if bad != 2 || len(checks) != 4 {
		t.Fatalf("bad = %d, checks = %+v; want the missing keyring and the public file given as --key", bad, checks)
	}
	var buf bytes.Buffer
	writeKeyChecks(&buf, checks)
	out := buf.String()
	for _, want := range []string{
		"ok       study.keyring in " + cfg + ": " + pub + ", 1 key(s)",
		"(doctor)",
		"UNUSABLE runtime[1].verify (other) in " + cfg + ": keyring " + missing,
		"ok       --key (signing key): " + priv,
		"UNUSABLE --key (signing key): signing key " + pub + " holds public keys only",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := checkSigningFiles([]string{filepath.Join(dir, "none.toml")}, nil); err == nil {
		t.Error("a missing config is not an error")
	}
}
