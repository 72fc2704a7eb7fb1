package matrix

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/imagebuild"
	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
	"github.com/hpcbench/hpcbench/signing"
)

// copyFile copies src to dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStudyImageIntegrity runs a real study with require_signed = true:
// an MPI hello world in a minimal MPICH image, built here for Apptainer,
// Docker and Podman. The SIF signed by the study's keyring runs, and so do
// the Docker and Podman images pinned to their image IDs; the cells of an
// unsigned copy of the SIF, of a signed copy altered after signing (one
// byte of its root filesystem), of the signed SIF checked against another
// keyring or an unreadable one, of the images pinned to a wrong digest,
// and of the unpinned Docker image are skipped, each with its reason.
// Every run records its outcome, and the summary lists each image's
// digest and outcome.
func TestStudyImageIntegrity(t *testing.T) {
	testenv.SkipIfShort(t, "builds an image and runs a real study in Apptainer and Docker")
	mpicc := testenv.LookPath(t, "mpicc.mpich", "apt-get install libmpich-dev")
	ctx := context.Background()
	app, _ := runtimes.Get("apptainer")
	_, err := app.Detect(ctx)
	testenv.Require(t, "apptainer (CI installs it)", err)
	rts := []string{"apptainer"}
	dk, _ := runtimes.Get("docker")
	withDocker := true
	if _, err := dk.Detect(ctx); err != nil {
		testenv.Missingf(t, "docker not available here (CI installs it): %v; its pinned-digest cells are left out", err)
		withDocker = false
	} else {
		rts = append(rts, "docker")
	}

	pd, _ := runtimes.Get("podman")
	withPodman := true
	if _, err := pd.Detect(ctx); err != nil {
		testenv.Missingf(t, "podman not available here (CI installs it): %v; its pinned-digest cells are left out", err)
		withPodman = false
	} else {
		rts = append(rts, "podman")
	}

	tmp := t.TempDir()
	store := filepath.Join(tmp, "store")
	t.Setenv("HPCBENCH_IMAGES", store)
	t.Setenv("HPCBENCH_MPICH_ROOT", filepath.Join(tmp, "no-builds"))
	hello := filepath.Join(tmp, "hello")
	if out, err := exec.Command(mpicc, "-O2", "-o", hello, filepath.Join("..", "pmi", "testdata", "hello_mpi.c")).CombinedOutput(); err != nil {
		t.Fatalf("mpicc: %v\n%s", err, out)
	}
	name := fmt.Sprintf("hpcbench-integrity-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if withDocker {
		t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", name).Run() })
	}
	if withPodman {
		t.Cleanup(func() { exec.Command("podman", "image", "rm", "-f", name).Run() })
	}
	m, err := imagebuild.Build(ctx, images.BuildOptions{Name: name, MPI: "mpich", Minimal: true,
		Binaries: []string{hello}, Store: images.OpenStore(store)}, rts)
	if err != nil {
		t.Fatalf("image build: %v", err)
	}

	// Keys, and the SIFs: unsigned (a copy made before signing), signed,
	// and altered after signing.
	center, err := signing.GenerateKey("integrity test", "", "", signing.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := signing.WriteKeyPair(center, tmp, "center")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := signing.GenerateKey("another center", "", "", signing.Ed25519)
	otherPub, _, err := signing.WriteKeyPair(other, tmp, "other")
	if err != nil {
		t.Fatal(err)
	}
	unsigned := filepath.Join(tmp, "unsigned.sif")
	copyFile(t, m.SIF.Path, unsigned)
	if signed, err := imagebuild.SignSIF(images.OpenStore(store), m, center); err != nil || !signed {
		t.Fatalf("sign: %v %v", signed, err)
	}
	altered := filepath.Join(tmp, "altered.sif")
	copyFile(t, m.SIF.Path, altered)
	fi, _ := os.Stat(altered)
	f, _ := os.OpenFile(altered, os.O_RDWR, 0)
	b := make([]byte, 1)
	f.ReadAt(b, fi.Size()/2)
	b[0] ^= 0xff
	f.WriteAt(b, fi.Size()/2)
	f.Close()

	var rt strings.Builder
	fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"apptainer\"\nlabel = \"signed\"\nimage = %q\n", name)
	fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"apptainer\"\nlabel = \"unsigned\"\nimage = %q\n", unsigned)
	fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"apptainer\"\nlabel = \"altered\"\nimage = %q\n", altered)
	fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"apptainer\"\nlabel = \"otherkey\"\nimage = %q\nverify = %q\n", name, otherPub)
	missingRing := filepath.Join(tmp, "missing.pub.asc")
	fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"apptainer\"\nlabel = \"nokeyring\"\nimage = %q\nverify = %q\n", name, missingRing)
	dockerID := ""
	wrong := "sha256:" + strings.Repeat("0", 64)
	if withDocker {
		dockerID = m.Engines["docker"].ID
		fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"docker\"\nlabel = \"pinned\"\nimage = %q\n", name+"@"+dockerID)
		fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"docker\"\nlabel = \"wrongpin\"\nimage = %q\n", name+"@"+wrong)
		fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"docker\"\nlabel = \"unpinned\"\nimage = %q\n", name)
	}
	podmanID := ""
	if withPodman {
		podmanID = m.Engines["podman"].ID
		fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"podman\"\nlabel = \"podpinned\"\nimage = %q\n", name+"@"+podmanID)
		fmt.Fprintf(&rt, "\n[[runtime]]\nname = \"podman\"\nlabel = \"podwrongpin\"\nimage = %q\n", name+"@"+wrong)
	}
	cfg, err := configs.Parse("integrity.toml", []byte(fmt.Sprintf(`
[study]
name = "integrity"
repetitions = 1
warmup = 0
timeout = "60s"
keyring = %q
require_signed = true
[matrix]
mpi = ["mpich"]
pmi = ["pmi1"]
ranks = [2]
[[benchmark]]
kind = "command"
name = "hello"
argv = [%q]
%s`, pub, hello, rt.String())))
	if err != nil {
		t.Fatal(err)
	}
	st, err := results.Open(filepath.Join(tmp, "integrity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan, err := NewPlan(ctx, cfg, Overrides{Inventory: inventory.Detect(ctx, inventory.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := (&Local{WorkRoot: tmp}).RunStudy(ctx, plan, st)
	if err != nil {
		t.Fatalf("study: %v (%v)", err, sum)
	}
	runs, err := st.Runs(ctx, sum.Study, results.RunsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]results.Run{}
	for _, r := range runs {
		ran[r.Cell.Runtime] = r
	}
	want := map[string]string{"signed": "verified " + signing.Fingerprint(center)}
	if withDocker {
		want["pinned"] = "pinned digest matched"
	}
	if withPodman {
		want["podpinned"] = "pinned digest matched"
	}
	for label, outcome := range want {
		r, ok := ran[label]
		if !ok {
			t.Errorf("no run of %s", label)
			continue
		}
		if r.Status != results.StatusOK || !strings.HasPrefix(r.Cell.ImageVerification, outcome) || r.Cell.ImageDigest == "" {
			t.Errorf("run of %s: %s %s, digest %q, verification %q; want ok and %q", label, r.Status, r.Reason, r.Cell.ImageDigest, r.Cell.ImageVerification, outcome)
		}
	}
	if len(runs) != len(want) {
		t.Errorf("%d runs, want %d (one per image that passed)", len(runs), len(want))
	}

	skips, err := st.Skips(ctx, sum.Study)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range skips {
		reasons[s.Cell.Runtime] = s.Reason
		t.Logf("skipped %s: %s", s.Cell.Runtime, s.Reason)
	}
	for _, r := range runs {
		t.Logf("ran %s: %s, %s, %s", r.Cell.Runtime, r.Status, r.Cell.ImageDigest, r.Cell.ImageVerification)
	}
	wantSkip := map[string][]string{
		"unsigned":  {"image refused", "unsigned", unsigned},
		"altered":   {"image refused", "altered after it was signed"},
		"otherkey":  {"image refused", "unknown signer", signing.Fingerprint(center), otherPub},
		"nokeyring": {"image refused", "keyring " + missingRing, "no such file"},
	}
	if withDocker {
		wantSkip["wrongpin"] = []string{"image refused", "pinned to " + wrong, "its digest is " + dockerID}
		wantSkip["unpinned"] = []string{"image refused", "require_signed", "pin it", dockerID}
	}
	if withPodman {
		wantSkip["podwrongpin"] = []string{"image refused", "podman image", "pinned to " + wrong, "its digest is " + podmanID}
	}
	for label, parts := range wantSkip {
		reason, ok := reasons[label]
		if !ok {
			t.Errorf("%s was not skipped (skips: %v)", label, reasons)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(reason, p) {
				t.Errorf("skip reason of %s lacks %q: %s", label, p, reason)
			}
		}
	}

	var buf bytes.Buffer
	a := results.Analyse(runs, results.AnalysisOptions{})
	if err := results.WriteSummary(&buf, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), m.SIF.Digest+": verified "+signing.Fingerprint(center)) {
		t.Errorf("summary lacks the signed SIF's digest %s and outcome:\n%s", m.SIF.Digest, buf.String())
	}
}
