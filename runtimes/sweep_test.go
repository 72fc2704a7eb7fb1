package runtimes

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// goneAndLive returns the pid of a process that has ended and this
// process's, as strings.
func goneAndLive(t *testing.T) (gone, live string) {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if processAlive(cmd.Process.Pid) {
		t.Skipf("pid %d was reused at once", cmd.Process.Pid)
	}
	return strconv.Itoa(cmd.Process.Pid), strconv.Itoa(os.Getpid())
}

// fakeTool writes a stand-in for a runtime's program: it prints list for
// the listing verb and appends every other command line to calls.
func fakeTool(t *testing.T, dir, name, listVerb, list, calls string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	script := "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in " + listVerb + ") cat <<'EOF'\n" + list + "EOF\nexit 0;; esac; done\necho \"$@\" >> " + calls + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSweepLeftoversOfEveryRuntime: one sweep removes, in Docker, Podman
// and OCI alike, the containers whose hpcbench is gone, and only those,
// and the folders such an hpcbench left; the runtime a command is about
// to use plays no part. The runtimes' programs are stand-ins: no real
// container is listed or removed.
func TestSweepLeftoversOfEveryRuntime(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	gone, live := goneAndLive(t)
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")

	engineList := "c1 hpcbench-j1-0 " + gone + "\nc2 hpcbench-j2-0 " + live + "\nc3 hpcbench-j3-node\n"
	docker := fakeTool(t, bin, "docker", "ps", engineList, calls)
	podman := fakeTool(t, bin, "podman", "ps", strings.ReplaceAll(engineList, "hpcbench-j", "hpcbench-p"), calls)

	goneBundles := filepath.Join(tmp, "hpcbench-oci-"+gone+"-a")
	liveBundles := filepath.Join(tmp, "hpcbench-oci-"+live+"-b")
	emptyBundles := filepath.Join(tmp, "hpcbench-oci-"+gone+"-c") // its container is gone too
	ociList := "NAME PID STATUS BUNDLE CREATED OWNER\n" +
		"hpcbench-o1-0 0 running " + filepath.Join(goneBundles, "hpcbench-o1-0") + " 2026 root\n" +
		"hpcbench-o2-0 0 running " + filepath.Join(liveBundles, "hpcbench-o2-0") + " 2026 root\n" +
		"other 0 running /var/lib/other 2026 root\n"
	crun := fakeTool(t, bin, "crun", "list", ociList, calls)
	goneJobDir := filepath.Join(tmp, tempPrefix("docker")+gone+"-x")
	for _, d := range []string{filepath.Join(goneBundles, "hpcbench-o1-0"), filepath.Join(liveBundles, "hpcbench-o2-0"), emptyBundles, goneJobDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	var rts []Runtime
	for name, prog := range map[string]string{"docker": docker, "podman": podman, "oci": crun} {
		rt, err := GetCommand(name, prog)
		if err != nil {
			t.Fatal(err)
		}
		rts = append(rts, rt)
	}
	removed, err := sweepLeftovers(context.Background(), rts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hpcbench-j1-0", "hpcbench-j3-node", "hpcbench-o1-0", "hpcbench-p1-0", "hpcbench-p3-node"}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v; want %v (the containers of a gone or unknown owner)", removed, want)
	}
	b, _ := os.ReadFile(calls)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, c := range got {
		// Podman's global flags on hosts with cgroups v1 or hybrid.
		if rest, ok := strings.CutPrefix(c, "--runtime "); ok {
			_, got[i], _ = strings.Cut(rest, " ")
		}
	}
	slices.Sort(got)
	wantCalls := []string{"delete --force hpcbench-o1-0", "rm -f -t 0 c1 c3", "rm -f c1 c3"} // podman kills at once with -t 0
	if !slices.Equal(got, wantCalls) {
		t.Errorf("commands run: %q; want %q", got, wantCalls)
	}
	for _, d := range []string{goneBundles, emptyBundles, goneJobDir} {
		if fileExists(d) {
			t.Errorf("%s, of a gone hpcbench, is still there", d)
		}
	}
	if !fileExists(filepath.Join(liveBundles, "hpcbench-o2-0")) {
		t.Errorf("the bundle of a live hpcbench was removed")
	}

	// Turned off, it asks no runtime at all.
	os.Remove(calls)
	t.Setenv(SweepEnv, "0")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if removed, err := SweepLeftovers(context.Background()); removed != nil || err != nil {
		t.Errorf("SweepLeftovers with %s=0 = %v, %v", SweepEnv, removed, err)
	}
	if fileExists(calls) {
		t.Errorf("SweepLeftovers with %s=0 ran a runtime's program", SweepEnv)
	}
}
