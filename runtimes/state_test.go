package runtimes

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/launchstate"
)

// TestSweepAfterKilledLaunch: with a real Docker and real hpcbench
// processes, a launch after clean ones does not sweep (a container
// planted with a dead owner stays), and a launch after a SIGKILLed one
// does: the killed one's container and the planted one are removed.
func TestSweepAfterKilledLaunch(t *testing.T) {
	available(t, "docker")
	m := testImage(t, "mpich", false)
	ref := m.Engines["docker"].Ref
	if ref == "" {
		t.Fatalf("test image %s has no Docker copy", m.Name)
	}
	bin := hpcbenchBinary(t)
	state := t.TempDir()
	env := append(os.Environ(), launchstate.Env+"="+state)
	hpcbench := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"launch", "-q", "-n", "1", "--no-pmi", "--runtime", "docker", "--image", m.Name, "--"}, args...)...)
		cmd.Env = env
		return cmd
	}
	ps := func(label string) []string {
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+label).CombinedOutput()
		if err != nil {
			t.Fatalf("docker ps: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	records := func() []string {
		entries, _ := os.ReadDir(filepath.Join(state, "live"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}

	if out, err := hpcbench("/bin/true").CombinedOutput(); err != nil {
		t.Fatalf("first launch: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(state, "swept")); err != nil {
		t.Fatalf("the first launch swept, but the state does not say so: %v", err)
	}
	if r := records(); len(r) > 0 {
		t.Fatalf("records left by a clean launch: %q", r)
	}

	// A container as a killed hpcbench that left no record would leave it.
	gone, _ := goneAndLive(t)
	planted := "hpcbench-plant-" + strconv.Itoa(os.Getpid())
	out, err := exec.Command("docker", "run", "-d", "--rm", "--name", planted, "--label", LabelJob+"=plant", "--label", LabelOwner+"="+gone,
		"--network", "none", ref, "sleep", "300").CombinedOutput()
	if err != nil {
		t.Fatalf("planting a container: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", planted).Run() })
	if out, err := hpcbench("/bin/true").CombinedOutput(); err != nil {
		t.Fatalf("launch after a clean one: %v\n%s", err, out)
	}
	if len(ps(LabelJob+"=plant")) == 0 {
		t.Errorf("a launch after clean ones swept (the planted container is gone): the state should have spared it the sweep")
	}

	// A launch SIGKILLed while its rank runs: its container outlives it.
	killed := hpcbench("sleep", "300")
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	owner := LabelOwner + "=" + strconv.Itoa(killed.Process.Pid)
	deadline := time.Now().Add(60 * time.Second)
	for len(ps(owner)) == 0 {
		if time.Now().After(deadline) {
			killed.Process.Kill()
			killed.Wait()
			t.Fatal("the launch's container did not appear in 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	t.Cleanup(func() {
		if ids := ps(owner); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
	if len(ps(owner)) == 0 {
		t.Fatal("the killed launch's container went with it: nothing for the sweep to prove")
	}
	if r := records(); len(r) != 1 || !strings.HasPrefix(r[0], strconv.Itoa(killed.Process.Pid)+"-") {
		t.Errorf("records after the kill: %q, want the killed launch's", r)
	}

	out, err = hpcbench("/bin/true").CombinedOutput()
	if err != nil {
		t.Fatalf("launch after the kill: %v\n%s", err, out)
	}
	if ids := ps(owner); len(ids) > 0 {
		t.Errorf("the killed launch's container %q outlived the next launch\n%s", ids, out)
	}
	if ids := ps(LabelJob + "=plant"); len(ids) > 0 {
		t.Errorf("the planted container %q outlived the sweep after the kill", ids)
	}
	if r := records(); len(r) > 0 {
		t.Errorf("records after the sweep: %q", r)
	}
}

// TestDockerAPIListsAsTheClient: the daemon, asked on its socket, lists
// the containers of a label as "docker ps -a -q --filter" does, a stopped
// one included.
func TestDockerAPIListsAsTheClient(t *testing.T) {
	rt := available(t, "docker")
	e := rt.(*engine)
	sock := e.dockerAPISocket()
	if sock == "" {
		t.Skip("the docker client here does not ask a local daemon socket")
	}
	m := testImage(t, "mpich", false)
	label := LabelJob + "=apitest-" + strconv.Itoa(os.Getpid())
	names := []string{"hpcbench-apitest-" + strconv.Itoa(os.Getpid()) + "-a", "hpcbench-apitest-" + strconv.Itoa(os.Getpid()) + "-b"}
	t.Cleanup(func() { exec.Command("docker", append([]string{"rm", "-f"}, names...)...).Run() })
	if ids, err := dockerAPIContainers(t.Context(), sock, label); err != nil || len(ids) != 0 {
		t.Fatalf("before any container: %q, %v", ids, err)
	}
	for i, n := range names {
		args := []string{"run", "-d", "--name", n, "--label", label, "--network", "none", m.Engines["docker"].Ref}
		if i == 0 {
			args = append(args, "sleep", "300")
		} else {
			args = append(args, "true") // exits, and stays (no --rm)
		}
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %q: %v\n%s", args, err, out)
		}
	}
	ids, err := dockerAPIContainers(t.Context(), sock, label)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "ps", "-a", "-q", "--no-trunc", "--filter", "label="+label).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v\n%s", err, out)
	}
	want := strings.Fields(string(out))
	slices.Sort(ids)
	slices.Sort(want)
	if len(want) != 2 || !slices.Equal(ids, want) {
		t.Errorf("the daemon listed %q, the client %q (want the same two)", ids, want)
	}
}

// TestDockerAPIImageIDAsTheClient: the daemon, asked on its socket, gives
// an image's ID as "docker image inspect" does, and no ID for an image it
// lacks.
func TestDockerAPIImageIDAsTheClient(t *testing.T) {
	rt := available(t, "docker")
	sock := rt.(*engine).dockerAPISocket()
	if sock == "" {
		t.Skip("the docker client here does not ask a local daemon socket")
	}
	ref := testImage(t, "mpich", false).Engines["docker"].Ref
	id, err := dockerAPIImageID(t.Context(), sock, ref)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput()
	if err != nil {
		t.Fatalf("docker image inspect: %v\n%s", err, out)
	}
	if want := strings.TrimSpace(string(out)); id != want {
		t.Errorf("the daemon says %s is %q, the client %q", ref, id, want)
	}
	if id, err := dockerAPIImageID(t.Context(), sock, "hpcbench-no-such-image-"+strconv.Itoa(os.Getpid())); err == nil {
		t.Errorf("an image the daemon lacks has ID %q", id)
	}
	info, err := rt.Prepare(t.Context(), ref)
	if err != nil || info.Digest != id {
		t.Errorf("Prepare(%s) = %+v, %v; want digest %s", ref, info, err, id)
	}
}

// TestPodmanImageIDFollowsItsStorage: Podman's image IDs come from the
// state folder while its storage's list of images is unchanged, and a
// name moved to another image is seen at once.
func TestPodmanImageIDFollowsItsStorage(t *testing.T) {
	t.Setenv(launchstate.Env, t.TempDir())
	rt := available(t, "podman")
	e := rt.(*engine)
	ref := testImage(t, "mpich", false).Engines["podman"].Ref
	inspect := func(name string) string {
		t.Helper()
		out, err := exec.Command(e.command("image", "inspect", "--format", "{{.Id}}", name)[0], e.command("image", "inspect", "--format", "{{.Id}}", name)[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman image inspect %s: %v\n%s", name, err, out)
		}
		return "sha256:" + strings.TrimSpace(string(out))
	}
	podman := func(args ...string) {
		t.Helper()
		argv := e.command(args...)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", argv, err, out)
		}
	}
	alias := "localhost/hpcbench-idtest-" + strconv.Itoa(os.Getpid())
	ctr := "hpcbench-idtest-" + strconv.Itoa(os.Getpid())
	podman("tag", ref, alias)
	t.Cleanup(func() {
		argv := e.command("rm", "-f", ctr)
		exec.Command(argv[0], argv[1:]...).Run()
		argv = e.command("rmi", alias)
		exec.Command(argv[0], argv[1:]...).Run()
	})
	first := inspect(alias)
	for i := 0; i < 2; i++ { // asked, then kept
		if info, err := rt.Prepare(t.Context(), alias); err != nil || info.Digest != first {
			t.Fatalf("Prepare(%s) #%d = %+v, %v; want %s", alias, i, info, err, first)
		}
	}
	if e.imageIndex(t.Context()) == "" {
		t.Fatal("no image list found in Podman's storage: nothing is kept")
	}
	// The name moves to a new image (a commit of a container of it).
	podman("create", "--name", ctr, "--label", "hpcbench.idtest=1", ref, "true")
	podman("commit", "-q", ctr, alias)
	moved := inspect(alias)
	if moved == first {
		t.Fatal("the commit did not make a new image")
	}
	if info, err := rt.Prepare(t.Context(), alias); err != nil || info.Digest != moved {
		t.Errorf("after the name moved: Prepare(%s) = %+v, %v; want %s", alias, info, err, moved)
	}
}

// TestDetectCachedFollowsTheProgram: a runtime's version comes from the
// state folder only while its program is the file it was; Podman's comes
// from "--version" without asking its storage. The programs are
// stand-ins that count their calls.
func TestDetectCachedFollowsTheProgram(t *testing.T) {
	t.Setenv(launchstate.Env, t.TempDir())
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		script := "#!/bin/sh\necho \"$*\" >> " + calls + "\n" + body
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	count := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "\n")
	}
	docker := write("docker", "case \"$1\" in --version) echo 'Docker version 27.0.1, build x';; version) echo 27.0.1;; esac\n")
	rt, _ := GetCommand("docker", docker)
	for i := 0; i < 2; i++ {
		if v, err := rt.Detect(t.Context()); err != nil || v != "27.0.1" {
			t.Fatalf("Detect #%d = %q, %v", i, v, err)
		}
	}
	if n := count(); n != 2 {
		t.Errorf("the stand-in ran %d times for two Detects, want 2 (the first Detect's two questions, none for the second)", n)
	}
	// A new program at the same path (an upgrade): asked again.
	time.Sleep(10 * time.Millisecond)
	write("docker", "case \"$1\" in --version) echo 'Docker version 28.1.0, build y';; version) echo 28.1.0;; esac\n")
	if v, err := rt.Detect(t.Context()); err != nil || v != "28.1.0" {
		t.Errorf("Detect after the program changed = %q, %v; want 28.1.0", v, err)
	}

	// Podman: "--version" answers; "info", which opens the storage, is
	// never asked (here it would fail).
	os.Remove(calls)
	podman := write("podman", "case \"$*\" in *--version*) echo 'podman version 4.3.1';; *info*) echo 'storage is broken' >&2; exit 1;; esac\n")
	rt, _ = GetCommand("podman", podman)
	if v, err := rt.Detect(t.Context()); err != nil || v != "4.3.1" {
		t.Errorf("podman Detect = %q, %v; want 4.3.1 from --version", v, err)
	}
	if b, _ := os.ReadFile(calls); strings.Contains(string(b), "info") {
		t.Errorf("podman Detect asked its storage:\n%s", b)
	}
}

// TestFileDigestFollowsTheFile: a SIF's digest comes from the state
// folder only while the file is unchanged.
func TestFileDigestFollowsTheFile(t *testing.T) {
	t.Setenv(launchstate.Env, t.TempDir())
	p := filepath.Join(t.TempDir(), "x.sif")
	os.WriteFile(p, []byte("one"), 0o644)
	first, err := fileDigest(p)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := fileDigest(p); again != first {
		t.Fatalf("digest changed with the file unchanged: %s, %s", first, again)
	}
	os.WriteFile(p, []byte("two"), 0o644) // same size
	want, _ := images.FileSHA256(p)
	if got, err := fileDigest(p); err != nil || got != want || got == first {
		t.Errorf("after the file changed: %s, %v; want %s", got, err, want)
	}
}
