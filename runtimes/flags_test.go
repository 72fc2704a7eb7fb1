package runtimes

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
)

// Config-given runtime flags and executables (runtime.flags,
// runtime.command) reach every adapter's command line, or are refused with
// a reason; none is dropped.

// wrapFor runs spec's per-rank wrapper (or, for PerNode, WrapNode) over a
// two-rank PMI-1 job and returns the command line, or the error.
func wrapFor(t *testing.T, runtime string, spec Spec) ([]string, map[string]string, error) {
	t.Helper()
	stubPIDHolders(t)
	rt, err := Get(runtime)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	socket, _ := os.Open(os.DevNull)
	t.Cleanup(func() { socket.Close() })
	job := pmi.Job{ID: "f" + strings.ReplaceAll(t.Name(), "/", "-"), Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	if spec.Layout == PerNode {
		self := filepath.Join(t.TempDir(), "hpcbench")
		cmd := &pmi.RankCommand{Argv: []string{self, "launch", "-n", "2", "--report", filepath.Join(work, "r.json"), "--", "/opt/bench/ep", "S"}, Dir: work, CPU: -1}
		if err := rt.WrapNode(context.Background(), spec, job, cmd); err != nil {
			return nil, nil, err
		}
		t.Cleanup(func() { _ = ociCleanupBundlesOnly(job) })
		return cmd.Argv, NodeChoices(rt, spec), nil
	}
	w, err := rt.Wrapper(context.Background(), spec)
	if err != nil {
		return nil, nil, err
	}
	if w.Channel() == pmi.ChannelTCP {
		job.Channel = pmi.ChannelTCP
	}
	cmd := &pmi.RankCommand{Rank: 0, Argv: []string{"/opt/bench/ep", "S"}, Env: pmi1Env(job.Channel, "0"), Dir: work, ExtraFiles: []*os.File{socket}, CPU: -1}
	if err := w.WrapRank(job, cmd); err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() {
		if ew, ok := w.(*engineWrapper); ok {
			// Only the folder: no engine is asked (none may be installed).
			ew.mu.Lock()
			os.RemoveAll(ew.jobDirs[job.ID])
			ew.mu.Unlock()
			return
		}
		_ = ociCleanupBundlesOnly(job)
	})
	return cmd.Argv, w.Choices(), nil
}

// ociCleanupBundlesOnly removes this process's bundle folders of job
// without asking an OCI runtime.
func ociCleanupBundlesOnly(job pmi.Job) error {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "hpcbench-oci-*", "hpcbench-"+job.ID+"-*"))
	for _, m := range matches {
		os.RemoveAll(m)
		os.Remove(filepath.Dir(m))
	}
	return nil
}

// between returns argv[i:j] where argv[i-1] == after and argv[j] == before
// (the first occurrences).
func between(argv []string, after, before string) []string {
	i := slices.Index(argv, after)
	j := slices.Index(argv, before)
	if i < 0 || j < 0 || j < i {
		return nil
	}
	return argv[i+1 : j]
}

func TestRuntimeFlagsArgv(t *testing.T) {
	image := ImageInfo{Ref: "/images/img.sif"}
	rootfs := t.TempDir()
	flags := []string{"--security-opt", "label=disable", "--env=X=a b"}
	cases := []struct {
		name    string
		rt      string
		spec    Spec
		wantBin string
		// The flags must come right before this word (the image), and
		// after this one (the verb).
		before, after string
		wantErr       error
		errText       string
	}{
		{name: "docker per-rank", rt: "docker", spec: Spec{Layout: PerRank, Image: image, Flags: flags},
			wantBin: "docker", after: "run", before: image.Ref},
		{name: "docker bind, own binary", rt: "docker", spec: Spec{Layout: PerRank, Image: image, Flags: flags, Command: "/opt/docker/bin/docker"},
			wantBin: "/opt/docker/bin/docker", after: "run", before: image.Ref},
		{name: "docker per-node", rt: "docker", spec: Spec{Layout: PerNode, Image: image, Flags: flags, Command: "docker2"},
			wantBin: "docker2", after: "run", before: image.Ref},
		{name: "docker refuses --detach", rt: "docker", spec: Spec{Layout: PerRank, Image: image, Flags: []string{"--detach"}},
			wantErr: ErrFlags, errText: "--detach"},
		{name: "podman refuses -d in per-node", rt: "podman", spec: Spec{Layout: PerNode, Image: image, Flags: []string{"-d"}},
			wantErr: ErrFlags, errText: `"-d"`},
		{name: "podman per-rank", rt: "podman", spec: Spec{Layout: PerRank, Image: image, Flags: flags, Command: "/usr/local/bin/podman"},
			wantBin: "/usr/local/bin/podman", after: "run", before: image.Ref},
		{name: "podman per-node", rt: "podman", spec: Spec{Layout: PerNode, Image: image, Flags: flags},
			wantBin: "podman", after: "run", before: image.Ref},
		{name: "apptainer per-rank", rt: "apptainer", spec: Spec{Layout: PerRank, Image: image, Flags: flags},
			after: "exec", before: image.Ref},
		{name: "singularity with its binary", rt: "singularity", spec: Spec{Layout: PerRank, Image: image, Flags: flags, Command: "singularity"},
			wantBin: "singularity", after: "exec", before: image.Ref},
		{name: "apptainer per-node", rt: "apptainer", spec: Spec{Layout: PerNode, Image: image, Flags: flags, Command: "/opt/apptainer/bin/apptainer"},
			wantBin: "/opt/apptainer/bin/apptainer", after: "exec", before: image.Ref},
		{name: "oci per-rank", rt: "oci", spec: Spec{Layout: PerRank, Image: ImageInfo{Ref: rootfs}, Flags: []string{"--no-new-keyring"}, Command: "/usr/sbin/runc"},
			wantBin: "/usr/sbin/runc", after: "run", before: "--bundle"},
		{name: "oci per-node", rt: "oci", spec: Spec{Layout: PerNode, Image: ImageInfo{Ref: rootfs}, Flags: []string{"--no-pivot"}, Command: "crun"},
			wantBin: "crun", after: "run", before: "--bundle"},
		{name: "oci refuses --bundle", rt: "oci", spec: Spec{Layout: PerRank, Image: ImageInfo{Ref: rootfs}, Flags: []string{"--bundle=/x"}},
			wantErr: ErrFlags, errText: "bundle"},
		{name: "oci refuses --preserve-fds", rt: "oci", spec: Spec{Layout: PerNode, Image: ImageInfo{Ref: rootfs}, Flags: []string{"--preserve-fds", "2"}},
			wantErr: ErrFlags, errText: "--preserve-fds"},
		{name: "native refuses flags", rt: "native", spec: Spec{Layout: PerRank, Flags: []string{"--x"}},
			wantErr: ErrFlags, errText: "runtime.flags"},
		{name: "native refuses flags per-node", rt: "native", spec: Spec{Layout: PerNode, Flags: []string{"--x"}},
			wantErr: ErrFlags, errText: "runtime.flags"},
		{name: "native refuses a command", rt: "native", spec: Spec{Layout: PerRank, Command: "/bin/sh"},
			wantErr: ErrFlags, errText: "runtime.command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			argv, choices, err := wrapFor(t, tc.rt, tc.spec)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v naming %s", err, tc.wantErr, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantBin != "" && argv[0] != tc.wantBin {
				t.Errorf("argv[0] = %q, want %q", argv[0], tc.wantBin)
			}
			if tc.rt == "oci" {
				if got := between(argv, tc.after, tc.before); !slices.Equal(got, tc.spec.Flags) {
					t.Errorf("between %s and %s: %q, want exactly the flags %q (argv %q)", tc.after, tc.before, got, tc.spec.Flags, argv)
				}
			} else {
				got := between(argv, tc.after, tc.before)
				if len(got) < len(tc.spec.Flags) || !slices.Equal(got[len(got)-len(tc.spec.Flags):], tc.spec.Flags) {
					t.Errorf("flags %q not right before %s: %q", tc.spec.Flags, tc.before, argv)
				}
			}
			if choices["runtime_flags"] != quoteArgs(tc.spec.Flags) {
				t.Errorf("choices runtime_flags = %q, want %q", choices["runtime_flags"], quoteArgs(tc.spec.Flags))
			}
			if choices["runtime_command"] != tc.spec.Command {
				t.Errorf("choices runtime_command = %q, want %q", choices["runtime_command"], tc.spec.Command)
			}
		})
	}
}

func TestQuoteArgs(t *testing.T) {
	got := quoteArgs([]string{"--security-opt", "label=disable", "--env=X=a b", "it's", ""})
	want := `--security-opt label=disable '--env=X=a b' 'it'\''s' ''`
	if got != want {
		t.Errorf("quoteArgs = %s, want %s", got, want)
	}
}

func TestGetCommand(t *testing.T) {
	for _, name := range []string{"docker", "podman", "apptainer", "singularity", "oci", "charliecloud"} {
		rt, err := GetCommand(name, "/nonexistent/"+name+"-bin")
		if err != nil {
			t.Fatal(err)
		}
		// Detect runs the configured program, which does not exist: the
		// runtime is unavailable (the default one may well be installed).
		if _, err := rt.Detect(t.Context()); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "/nonexistent/"+name+"-bin") {
			t.Errorf("%s: Detect with a missing configured binary: %v, want ErrUnavailable naming it", name, err)
		}
	}
	if _, err := GetCommand("native", "/bin/true"); !errors.Is(err, ErrFlags) {
		t.Errorf("native with a command: %v, want ErrFlags", err)
	}
}

// TestEngineWrapperRemovesItsFolder: the per-job folder of container ID
// files is made when a rank is wrapped and removed by Cleanup; a wrapper
// that wraps nothing leaves nothing. The engine is a stand-in script
// (runtime.command), which also shows Cleanup runs the configured binary.
func TestEngineWrapperRemovesItsFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	bin := filepath.Join(t.TempDir(), "fake-engine")
	calls := filepath.Join(t.TempDir(), "calls")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"docker", "podman"} {
		rt, _ := Get(name)
		for i := 0; i < 5; i++ {
			if _, err := rt.Wrapper(context.Background(), Spec{Image: ImageInfo{Ref: "img"}, Command: bin}); err != nil {
				t.Fatal(err)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(tmp, "hpcbench-*")); len(left) != 0 {
			t.Fatalf("%s: wrappers that wrapped nothing left %d folder(s): %q", name, len(left), left)
		}
		w, err := rt.Wrapper(context.Background(), Spec{Image: ImageInfo{Ref: "img"}, Command: bin})
		if err != nil {
			t.Fatal(err)
		}
		jobs := []pmi.Job{{ID: "ja", Ranks: 2, PMI: pmi.PMI1, Channel: w.Channel()}, {ID: "jb", Ranks: 2, PMI: pmi.PMI1, Channel: w.Channel()}}
		socket, _ := os.Open(os.DevNull)
		for _, job := range jobs {
			for r := 0; r < 2; r++ {
				cmd := &pmi.RankCommand{Rank: r, Argv: []string{"/opt/bench/ep"}, Env: pmi1Env(job.Channel, "0"), Dir: t.TempDir(), ExtraFiles: []*os.File{socket}, CPU: -1}
				if err := w.WrapRank(job, cmd); err != nil {
					t.Fatal(err)
				}
				cid := flagValues(cmd.Argv, "--cidfile")[0]
				// What the engine would write when it creates the container.
				if err := os.WriteFile(cid, []byte("0123abcd\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		socket.Close()
		if left, _ := filepath.Glob(filepath.Join(tmp, "hpcbench-"+name+"-*")); len(left) != 2 {
			t.Errorf("%s: %d folders for 2 running jobs: %q", name, len(left), left)
		}
		for i, job := range jobs {
			if err := w.Cleanup(job); err != nil {
				t.Fatal(err)
			}
			if err := w.Cleanup(job); err != nil {
				t.Fatalf("second Cleanup: %v", err)
			}
			left, _ := filepath.Glob(filepath.Join(tmp, "hpcbench-"+name+"-*"))
			if len(left) != len(jobs)-1-i {
				t.Errorf("%s: after cleaning up %d of %d jobs, %d folder(s) left: %q", name, i+1, len(jobs), len(left), left)
			}
		}
		b, _ := os.ReadFile(calls)
		if !strings.Contains(string(b), "ps -a -q --filter label="+LabelJob+"=ja") {
			t.Errorf("%s: Cleanup did not ask the configured binary for the job's containers; it ran:\n%s", name, b)
		}
		os.Remove(calls)
	}
}

// TestStaleTempDirsRemoved: folders of a killed hpcbench (a pid that is
// gone) are removed; those of a live one stay.
func TestStaleTempDirsRemoved(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(gone.Process.Pid)
	stale := filepath.Join(tmp, tempPrefix("docker")+dead+"-123")
	live := filepath.Join(tmp, tempPrefix("docker")+strconv.Itoa(os.Getpid())+"-456")
	for _, d := range []string{stale, live} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "j-0.cid"), []byte("x"), 0o644)
	}
	removeStaleTempDirs("docker")
	if fileExists(stale) {
		t.Error("the folder of a dead hpcbench survived")
	}
	if !fileExists(live) {
		t.Error("the folder of a live hpcbench was removed")
	}
}
