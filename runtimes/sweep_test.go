package runtimes

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
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

	// A container whose runtime was killed while creating it: a state
	// folder without its state file, and cgroups named after it.
	stateBase, cgroups := t.TempDir(), t.TempDir()
	defer func(s, c string) { ociRootStateBase, cgroupRoot = s, c }(ociRootStateBase, cgroupRoot)
	ociRootStateBase, cgroupRoot = stateBase, cgroups
	aborted := "hpcbench-" + gone + "-ab-0"
	liveAborted := "hpcbench-" + live + "-ab-0" // still being created
	goneCgroup := "hpcbench-" + gone + "-cg-0"  // its state folder is gone already
	for _, d := range []string{
		filepath.Join(cgroups, "cpu", goneCgroup), filepath.Join(cgroups, goneCgroup),
		filepath.Join(stateBase, "crun", aborted), filepath.Join(stateBase, "crun", liveAborted),
		filepath.Join(cgroups, "pids", aborted), filepath.Join(cgroups, "pids", liveAborted), filepath.Join(cgroups, aborted),
	} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	isRootNow := isRoot()

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
	wantCalls := []string{"delete --force hpcbench-o1-0", "rm -f -t 0 c1 c3", "rm -f c1 c3"} // podman kills at once with -t 0
	if isRootNow {
		// The stand-in leaves the state folder: it stays, and so do the
		// cgroups of a container the runtime still knows.
		want = append(want, aborted)
		wantCalls = append(wantCalls, "delete --force "+aborted)
		slices.Sort(want)
		slices.Sort(wantCalls)
	}
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
	if !slices.Equal(got, wantCalls) {
		t.Errorf("commands run: %q; want %q", got, wantCalls)
	}
	for _, d := range []string{goneBundles, emptyBundles, goneJobDir} {
		if fileExists(d) {
			t.Errorf("%s, of a gone hpcbench, is still there", d)
		}
	}
	for _, cg := range []string{filepath.Join(cgroups, "cpu", goneCgroup), filepath.Join(cgroups, goneCgroup)} {
		if fileExists(cg) {
			t.Errorf("cgroup %s, of a gone hpcbench's container the runtime no longer knows, is still there", cg)
		}
	}
	for _, cg := range []string{filepath.Join(cgroups, "pids", liveAborted), filepath.Join(cgroups, "pids", aborted)} {
		if !fileExists(cg) {
			t.Errorf("cgroup %s was removed: its owner is alive, or its runtime still knows the container", cg)
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

// TestOCIAbortedCreate: the leftover of a real runc killed while it
// created a container (as a rank's runtime is when its hpcbench is
// SIGKILLed): a state folder with no state file, which "runc list" does
// not show, and the container's cgroups. A hook that blocks holds runc
// in that window; the sweep then removes both for a gone hpcbench, and
// leaves those of a live one.
func TestOCIAbortedCreate(t *testing.T) {
	if !isRoot() {
		testenv.Skipf(t, "needs root: runc's state and cgroups of root")
	}
	rt := available(t, "oci")
	bin := rt.(*ociRuntime).binary()
	if filepath.Base(bin) != "runc" {
		testenv.Skipf(t, "the aborted state is runc's; the OCI runtime here is %s", bin)
	}
	gone, live := goneAndLive(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	goneID, liveID := "hpcbench-"+gone+"-ab"+suffix+"-0", "hpcbench-"+live+"-ab"+suffix+"-0"
	root := ociStateRoot(bin)
	for _, id := range []string{goneID, liveID} {
		abortCreate(t, bin, id)
	}
	defer func() { // the live one, and anything a failure left
		for _, id := range []string{goneID, liveID} {
			exec.Command(bin, "delete", "--force", id).Run()
			for _, cg := range containerCgroups(id) {
				os.Remove(cg)
			}
		}
	}()
	removed, err := rt.(LeftoverCleaner).CleanupLeftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(removed, liveID) {
		t.Errorf("removed %v, %s of a live hpcbench among them", removed, liveID)
	}
	if !slices.Contains(removed, goneID) {
		// Another hpcbench's start (a test beside this one) may have swept it.
		t.Logf("removed %v, without %s", removed, goneID)
	}
	if fileExists(filepath.Join(root, goneID)) {
		t.Errorf("the state folder of %s, of a gone hpcbench, is still there", goneID)
	}
	if left := containerCgroups(goneID); len(left) > 0 {
		t.Errorf("cgroups of %s left: %v", goneID, left)
	}
	if !fileExists(filepath.Join(root, liveID)) || len(containerCgroups(liveID)) == 0 {
		t.Errorf("the unfinished container %s of a live hpcbench was removed", liveID)
	}
}

// abortCreate starts "runc run" for a container named id whose
// createRuntime hook blocks, and SIGKILLs runc once the hook runs: the
// state folder and cgroups exist then, the state file does not.
func abortCreate(t *testing.T, bin, id string) {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("%s spec: %v\n%s", bin, err, out)
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	hookPid := filepath.Join(bundle, "hook.pid")
	cfg["process"].(map[string]any)["terminal"] = false
	cfg["hooks"] = map[string]any{"createRuntime": []any{map[string]any{
		"path": "/bin/sh", "args": []string{"sh", "-c", "echo $$ > " + hookPid + "; exec sleep 60"}}}}
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(bin, "run", "--bundle", bundle, id)
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !fileExists(hookPid) {
		if time.Now().After(deadline) {
			run.Process.Kill()
			run.Wait()
			t.Fatalf("%s run %s: its hook never ran", bin, id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.Process.Kill()
	run.Wait()
	time.Sleep(50 * time.Millisecond) // the pid file is written before the exec
	if pidText, err := os.ReadFile(hookPid); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(pidText))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if fileExists(filepath.Join(ociStateRoot(bin), id, "state.json")) || len(containerCgroups(id)) == 0 {
		t.Fatalf("killing %s run did not leave the state of an unfinished container", bin)
	}
}

// containerCgroups lists the cgroups named after container id.
func containerCgroups(id string) []string {
	v1, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", id))
	v2, _ := filepath.Glob(filepath.Join(cgroupRoot, id))
	return append(v1, v2...)
}
