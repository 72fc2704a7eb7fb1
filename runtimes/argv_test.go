package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/pmi"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Unit tests of the command lines each adapter writes; they need no
// runtime installed.

func pmi1Env(channel pmi.Channel, rank string) []string {
	env := []string{"PATH=/usr/bin:/bin", "HOSTNAME=host", "SSH_AUTH_SOCK=/x", "OMPI_MCA_pml=ob1", "PMI_RANK=" + rank, "PMI_SIZE=2"}
	if channel == pmi.ChannelTCP {
		return append(env, "PMI_PORT=127.0.0.1:4000", "PMI_ID="+rank)
	}
	return append(env, "PMI_FD=3")
}

func pmixEnv(tmp string) []string {
	return []string{"PATH=/usr/bin:/bin", "PMIX_NAMESPACE=ns", "PMIX_RANK=1",
		"PMIX_SERVER_URI4=ns.0;tcp4://127.0.0.1:5000", "PMIX_SERVER_TMPDIR=" + tmp,
		"PMIX_SYSTEM_TMPDIR=/tmp", "OMPI_MCA_schizo=^orte"}
}

// flagValue returns the value after the first occurrence of flag.
func flagValues(argv []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag {
			out = append(out, argv[i+1])
		}
	}
	return out
}

func TestEngineArgv(t *testing.T) {
	holders := stubPIDHolders(t)
	work := t.TempDir()
	progDir := t.TempDir()
	prog := filepath.Join(progDir, "ep")
	pmixTmp := filepath.Join(t.TempDir(), "pmix")
	image := ImageInfo{Ref: "img", Digest: "sha256:abc"}
	socket, _ := os.Open(os.DevNull)
	defer socket.Close()

	cases := []struct {
		name      string
		rt        string
		isolation Isolation
		hostPID   bool
		job       pmi.Job
		env       []string
		files     []*os.File
		cpu       int
		want      [][2]string // flag, value pairs that must be there
		noFlags   [][2]string // flag, value pairs that must not be there
		wantEnv   []string    // names passed with -e
		noEnv     []string    // names that must not be passed
		wantBinds []string
		wantFiles int
		wantErr   error
	}{
		{
			name: "docker pmi1 over tcp", rt: "docker",
			job: pmi.Job{ID: "j1", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelTCP},
			env: pmi1Env(pmi.ChannelTCP, "1"), files: []*os.File{socket}, cpu: 1,
			want: [][2]string{{"--name", "hpcbench-j1-1"}, {"--label", "hpcbench.job=j1"}, {"--label", "hpcbench.rank=1"},
				{"--network", "host"}, {"--ipc", "host"}, {"--pid", "container:hpcbench-j1-pid"}, {"-w", work}, {"--cpuset-cpus", "1"},
				// MPICH's UCX single-copy (CMA) between the job's ranks.
				{"--cap-add", "SYS_PTRACE"}},
			noFlags: [][2]string{{"--pid", "host"}},
			wantEnv: []string{"PATH", "PMI_ID", "PMI_PORT", "OMPI_MCA_pml"}, noEnv: []string{"HOSTNAME", "SSH_AUTH_SOCK"},
			wantBinds: []string{progDir + ":" + progDir + ":ro", work + ":" + work}, wantFiles: 0,
		},
		{
			name: "docker host isolation", rt: "docker", isolation: IsolationHost,
			job: pmi.Job{ID: "j1h", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelTCP},
			env: pmi1Env(pmi.ChannelTCP, "1"), files: []*os.File{socket}, cpu: 1,
			want: [][2]string{{"--name", "hpcbench-j1h-1"}, {"--label", "hpcbench.job=j1h"}, {"--label", "hpcbench.rank=1"},
				{"--network", "host"}, {"--ipc", "host"}, {"--pid", "host"}, {"--cap-add", "SYS_PTRACE"}, {"-w", work}, {"--cpuset-cpus", "1"}},
			wantEnv: []string{"PATH", "PMI_ID", "PMI_PORT", "OMPI_MCA_pml"}, noEnv: []string{"HOSTNAME", "SSH_AUTH_SOCK"},
			wantBinds: []string{progDir + ":" + progDir + ":ro", work + ":" + work}, wantFiles: 0,
		},
		{
			// A job of one rank: its container's own pid namespace holds
			// it alone, as a holder's would; no holder is started.
			name: "docker private, a job of one rank", rt: "docker",
			job: pmi.Job{ID: "j1o", Ranks: 1, PMI: pmi.PMI1, Channel: pmi.ChannelTCP},
			env: pmi1Env(pmi.ChannelTCP, "0"), files: []*os.File{socket}, cpu: -1,
			want:    [][2]string{{"--network", "host"}, {"--ipc", "host"}, {"--cap-add", "SYS_PTRACE"}},
			noFlags: [][2]string{{"--pid", "container:hpcbench-j1o-pid"}, {"--pid", "host"}},
			wantEnv: []string{"PMI_ID", "PMI_PORT"},
		},
		{
			// An srun task starts each rank: no shared private pid
			// namespace, the rest of private isolation stays.
			name: "docker private, rank started by an srun task", rt: "docker", hostPID: true,
			job: pmi.Job{ID: "j1s", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelTCP},
			env: pmi1Env(pmi.ChannelTCP, "1"), files: []*os.File{socket}, cpu: -1,
			want:    [][2]string{{"--pid", "host"}, {"--cap-add", "SYS_PTRACE"}, {"--network", "host"}},
			noFlags: [][2]string{{"--pid", "container:hpcbench-j1s-pid"}},
			wantEnv: []string{"PMI_ID", "PMI_PORT"}, noEnv: []string{"HOSTNAME", "SSH_AUTH_SOCK"},
			wantBinds: []string{progDir + ":" + progDir + ":ro", work + ":" + work},
		},
		{
			name: "docker refuses PMI_FD", rt: "docker",
			job: pmi.Job{ID: "j2", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD},
			env: pmi1Env(pmi.ChannelFD, "0"), files: []*os.File{socket}, cpu: -1,
			wantErr: errors.New("PMI_FD cannot cross"),
		},
		{
			name: "docker without PMI variables", rt: "docker",
			job: pmi.Job{ID: "j3", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelTCP},
			env: []string{"PATH=/bin"}, cpu: -1, wantErr: ErrMissingPMI,
		},
		{
			name: "podman passes the PMI socket", rt: "podman",
			job: pmi.Job{ID: "j4", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD},
			env: pmi1Env(pmi.ChannelFD, "0"), files: []*os.File{socket}, cpu: -1,
			want:    [][2]string{{"--preserve-fds", "1"}, {"--name", "hpcbench-j4-0"}, {"--ipc", "host"}},
			wantEnv: []string{"PMI_FD", "PMI_RANK", "PMI_SIZE"}, wantFiles: 1,
		},
		{
			name: "podman PMI_FD beyond the inherited fds", rt: "podman",
			job: pmi.Job{ID: "j5", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD},
			env: append(pmi1Env(pmi.ChannelFD, "0"), "PMI_FD=4"), files: []*os.File{socket}, cpu: -1,
			wantErr: ErrMissingPMI,
		},
		{
			name: "docker pmix binds the server tmpdir", rt: "docker",
			job: pmi.Job{ID: "j6", Ranks: 2, PMI: pmi.PMIx, Channel: pmi.ChannelTCP, PMIxTmpdir: pmixTmp},
			env: pmixEnv(pmixTmp), cpu: -1,
			want:      [][2]string{{"--network", "host"}},
			wantEnv:   []string{"PMIX_NAMESPACE", "PMIX_RANK", "PMIX_SERVER_URI4", "PMIX_SERVER_TMPDIR", "OMPI_MCA_schizo"},
			wantBinds: []string{pmixTmp + ":" + pmixTmp},
		},
		{
			name: "pmix without a server URI", rt: "podman",
			job: pmi.Job{ID: "j7", Ranks: 2, PMI: pmi.PMIx, PMIxTmpdir: pmixTmp},
			env: []string{"PMIX_NAMESPACE=ns", "PMIX_RANK=0"}, cpu: -1, wantErr: ErrMissingPMI,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := Get(tc.rt)
			w, err := rt.Wrapper(context.Background(), Spec{Layout: PerRank, Image: image, Isolation: tc.isolation, HostPID: tc.hostPID})
			if err != nil {
				t.Fatal(err)
			}
			rank := 0
			if v, ok := envLookup(tc.env, "PMI_RANK"); ok && v == "1" {
				rank = 1
			}
			cmd := &pmi.RankCommand{Rank: rank, Argv: []string{prog, "S"}, Env: tc.env, Dir: work, ExtraFiles: tc.files, CPU: tc.cpu}
			// Nothing runs, but the wrapper made the job's folder.
			defer w.Cleanup(tc.job)
			err = w.WrapRank(tc.job, cmd)
			if tc.wantErr != nil {
				if err == nil || (!errors.Is(err, tc.wantErr) && !strings.Contains(err.Error(), tc.wantErr.Error())) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			argv := cmd.Argv
			if filepath.Base(argv[0]) != tc.rt || !slices.Contains(argv, "run") || !slices.Contains(argv, "--rm") {
				t.Errorf("argv %q: want %s run --rm", argv, tc.rt)
			}
			// The image comes right before the program and its arguments.
			if n := len(argv); argv[n-3] != "img" || argv[n-2] != prog || argv[n-1] != "S" {
				t.Errorf("argv ends %q, want img %s S", argv[len(argv)-3:], prog)
			}
			for _, fv := range tc.want {
				if !slices.Contains(flagValues(argv, fv[0]), fv[1]) {
					t.Errorf("argv lacks %s %s: %q", fv[0], fv[1], argv)
				}
			}
			for _, fv := range tc.noFlags {
				if slices.Contains(flagValues(argv, fv[0]), fv[1]) {
					t.Errorf("argv has %s %s: %q", fv[0], fv[1], argv)
				}
			}
			private := tc.isolation != IsolationHost && !tc.hostPID
			if want := private && tc.job.Ranks > 1; want != slices.Contains(*holders, tc.job.ID) {
				t.Errorf("pid namespace holder asked for: %v, want %v (isolation %q, host pid %v, %d ranks)", !want, want, tc.isolation, tc.hostPID, tc.job.Ranks)
			}
			if pid := flagValues(argv, "--pid"); private && tc.job.Ranks == 1 && len(pid) > 0 {
				t.Errorf("a job of one rank got --pid %q: its container's own namespace holds it", pid)
			}
			if got := w.Choices()["pid"]; private && got != "private" {
				t.Errorf("choices pid = %q, want private", got)
			}
			if got := w.Choices()["isolation"]; got != string(isolationOf(Spec{Isolation: tc.isolation})) {
				t.Errorf("choices isolation = %q", got)
			}
			envs := flagValues(argv, "-e")
			for _, n := range tc.wantEnv {
				if !slices.Contains(envs, n) {
					t.Errorf("-e %s missing: %q", n, envs)
				}
			}
			for _, n := range tc.noEnv {
				if slices.Contains(envs, n) {
					t.Errorf("-e %s passed, but it describes the host", n)
				}
			}
			for _, e := range envs {
				if strings.Contains(e, "=") {
					t.Errorf("-e %s puts a value on the command line", e)
				}
			}
			vols := flagValues(argv, "-v")
			for _, b := range tc.wantBinds {
				if !slices.Contains(vols, b) {
					t.Errorf("-v %s missing: %q", b, vols)
				}
			}
			if len(cmd.ExtraFiles) != tc.wantFiles {
				t.Errorf("%d inherited files, want %d", len(cmd.ExtraFiles), tc.wantFiles)
			}
			if tc.cpu < 0 && slices.Contains(argv, "--cpuset-cpus") {
				t.Errorf("unpinned rank got --cpuset-cpus: %q", argv)
			}
		})
	}
}

func TestApptainerArgv(t *testing.T) {
	work := t.TempDir()
	rt, _ := Get("singularity")
	if rt.Name() != "apptainer" {
		t.Fatalf("singularity answers as %q", rt.Name())
	}
	w, err := rt.Wrapper(context.Background(), Spec{Image: ImageInfo{Ref: "/images/x.sif"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Channel() != pmi.ChannelFD {
		t.Errorf("channel %s, want fd", w.Channel())
	}
	socket, _ := os.Open(os.DevNull)
	defer socket.Close()
	cmd := &pmi.RankCommand{Rank: 0, Argv: []string{"/opt/bench/ep", "S"}, Env: pmi1Env(pmi.ChannelFD, "0"), Dir: work, ExtraFiles: []*os.File{socket}, CPU: -1}
	if err := w.WrapRank(pmi.Job{ID: "a", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD}, cmd); err != nil {
		t.Fatal(err)
	}
	argv := cmd.Argv
	if argv[1] != "exec" || !slices.Contains(flagValues(argv, "--pwd"), work) {
		t.Errorf("argv %q: want exec --pwd %s", argv, work)
	}
	binds := strings.Join(flagValues(argv, "--bind"), ",")
	for _, b := range []string{"/opt/bench:/opt/bench", work + ":" + work} {
		if !strings.Contains(binds, b) {
			t.Errorf("--bind %q lacks %s", binds, b)
		}
	}
	if n := len(argv); argv[n-3] != "/images/x.sif" || argv[n-2] != "/opt/bench/ep" {
		t.Errorf("argv ends %q", argv[n-3:])
	}
	if len(cmd.ExtraFiles) != 1 || !slices.Contains(cmd.Env, "PMI_FD=3") {
		t.Error("the PMI socket and PMI_FD must pass through unchanged")
	}
	if slices.Contains(argv, "--containall") || slices.Contains(argv, "--contain") {
		t.Error("--contain(all) would cut the PMI socket, environment and /tmp")
	}
}

func TestOCIBundle(t *testing.T) {
	stubPIDHolders(t)
	work := t.TempDir()
	rt, _ := Get("oci")
	rootfs := t.TempDir()
	w, err := rt.Wrapper(context.Background(), Spec{Image: ImageInfo{Ref: rootfs}})
	if err != nil {
		t.Fatal(err)
	}
	socket, _ := os.Open(os.DevNull)
	defer socket.Close()
	job := pmi.Job{ID: "o1", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	cmd := &pmi.RankCommand{Rank: 1, Argv: []string{"/opt/bench/ep", "S"}, Env: pmi1Env(pmi.ChannelFD, "1"), Dir: work, ExtraFiles: []*os.File{socket}, CPU: -1}
	if err := w.WrapRank(job, cmd); err != nil {
		t.Fatal(err)
	}
	defer rt.Cleanup(context.Background(), job)
	argv := cmd.Argv
	if argv[1] != "run" || argv[len(argv)-1] != "hpcbench-o1-1" || !slices.Contains(flagValues(argv, "--preserve-fds"), "1") {
		t.Fatalf("argv %q", argv)
	}
	bundle := flagValues(argv, "--bundle")[0]
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Rlimits) != 0 || strings.Contains(string(b), "rlimits") {
		t.Error("config.json sets process.rlimits")
	}
	wantNS := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace, Path: fmt.Sprintf("/proc/%d/ns/pid", os.Getpid())}}
	if !slices.Equal(s.Linux.Namespaces, wantNS) {
		t.Errorf("namespaces %v: want a mount namespace and the job's pid namespace (host network, IPC)", s.Linux.Namespaces)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Errorf("seccomp %+v: want a default-allow filter that blocks some calls", s.Linux.Seccomp)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/dev" && m.Source == "/dev" {
			t.Errorf("the host's /dev is bound: %+v", m)
		}
	}
	if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_PTRACE") {
		t.Error("an MPICH rank got CAP_SYS_PTRACE")
	}
	if !s.Root.Readonly || s.Root.Path != rootfs {
		t.Errorf("root %+v", s.Root)
	}
	if s.Process.Cwd != work || !slices.Equal(s.Process.Args, []string{"/opt/bench/ep", "S"}) {
		t.Errorf("process %q in %s", s.Process.Args, s.Process.Cwd)
	}
	if !slices.Contains(s.Process.Env, "PMI_FD=3") || slices.Contains(s.Process.Env, "HOSTNAME=host") {
		t.Errorf("env %q", s.Process.Env)
	}
	if s.Annotations[LabelJob] != "o1" {
		t.Errorf("annotations %v", s.Annotations)
	}
}

// TestOCIBundleHostPID: a rank started by an srun task keeps the host's
// pid namespace (no holder, no pid namespace in config.json) and the
// cross-rank memory access that goes with it; the rest stays private.
func TestOCIBundleHostPID(t *testing.T) {
	holders := stubPIDHolders(t)
	rt, _ := Get("oci")
	w, err := rt.Wrapper(context.Background(), Spec{Image: ImageInfo{Ref: t.TempDir()}, HostPID: true})
	if err != nil {
		t.Fatal(err)
	}
	socket, _ := os.Open(os.DevNull)
	defer socket.Close()
	job := pmi.Job{ID: "o2", Ranks: 2, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	cmd := &pmi.RankCommand{Rank: 1, Argv: []string{"/opt/bench/ep", "S"}, Env: pmi1Env(pmi.ChannelFD, "1"), Dir: t.TempDir(), ExtraFiles: []*os.File{socket}, CPU: -1}
	if err := w.WrapRank(job, cmd); err != nil {
		t.Fatal(err)
	}
	defer rt.Cleanup(context.Background(), job)
	b, err := os.ReadFile(filepath.Join(flagValues(cmd.Argv, "--bundle")[0], "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(*holders) != 0 {
		t.Errorf("pid namespace holders asked for: %v", *holders)
	}
	if want := []specs.LinuxNamespace{{Type: specs.MountNamespace}}; !slices.Equal(s.Linux.Namespaces, want) {
		t.Errorf("namespaces %v, want the mount namespace only", s.Linux.Namespaces)
	}
	if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_PTRACE") {
		t.Error("no CAP_SYS_PTRACE: ranks in the host's pid namespace need it for single-copy transfers")
	}
	if s.Linux.Seccomp == nil || !s.Process.NoNewPrivileges {
		t.Errorf("seccomp %v, no new privileges %v: the rest of private isolation must stay", s.Linux.Seccomp, s.Process.NoNewPrivileges)
	}
	if c := w.Choices(); c["pid"] != "host" || c["isolation"] != "private" {
		t.Errorf("choices pid %q isolation %q, want host, private", c["pid"], c["isolation"])
	}
}

func TestPlaceNode(t *testing.T) {
	work := t.TempDir()
	self := filepath.Join(t.TempDir(), "hpcbench")
	progDir := t.TempDir()
	cmd := &pmi.RankCommand{Argv: []string{self, "launch", "-n", "2", "--report", "out/r.json", "--", filepath.Join(progDir, "ep"), "S"}, Dir: work}
	p, err := placeNode(pmi.Job{ID: "n"}, Spec{}, cmd)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{self, progDir, work} {
		if !slices.Contains(p.binds, want) {
			t.Errorf("binds %q lack %s", p.binds, want)
		}
	}
	// The report folder is inside the working folder: one bind covers both.
	if slices.Contains(p.binds, filepath.Join(work, "out")) {
		t.Errorf("binds %q repeat a folder inside another", p.binds)
	}
}

func TestForwardedEnv(t *testing.T) {
	env := []string{"B=1", "PMI_FD=3", "HOSTNAME=h", "XDG_RUNTIME_DIR=/run", "A=2", "B=3", "PMIX_RANK=0", "DOCKER_HOST=x"}
	// Listed on purpose (pass_env, the cell's env), A and B go in; the
	// host session's variables never do.
	got := forwardedEnv(env, []string{"A", "B"})
	want := []string{"A", "B", "PMIX_RANK", "PMI_FD"}
	if !slices.Equal(got, want) {
		t.Errorf("forwardedEnv = %q, want %q", got, want)
	}
	// Not listed, they stay on the host.
	got = forwardedEnv(env, nil)
	want = []string{"PMIX_RANK", "PMI_FD"}
	if !slices.Equal(got, want) {
		t.Errorf("forwardedEnv without pass_env = %q, want %q", got, want)
	}
}

func TestNormalizeBinds(t *testing.T) {
	got := normalizeBinds([]string{"/a/b/", "/a", "/ab", "/a/b/c", "", "/x/../y"})
	want := []string{"/a", "/ab", "/y"}
	if !slices.Equal(got, want) {
		t.Errorf("normalizeBinds = %q, want %q", got, want)
	}
}

func TestRegistry(t *testing.T) {
	for _, name := range []string{"native", "docker", "podman", "apptainer", "singularity", "oci", "charliecloud", "ch-run", " Docker "} {
		if _, err := Get(name); err != nil {
			t.Errorf("Get(%q): %v", name, err)
		}
	}
	if _, err := Get("lxc"); !errors.Is(err, ErrUnknownRuntime) {
		t.Errorf("Get(lxc) = %v, want ErrUnknownRuntime", err)
	}
	rt, _ := Get("docker")
	if _, err := rt.Wrapper(context.Background(), Spec{Layout: PerNode, Image: ImageInfo{Ref: "x"}}); !errors.Is(err, ErrLayout) {
		t.Errorf("per-node wrapper: %v, want ErrLayout", err)
	}
	if _, err := rt.Wrapper(context.Background(), Spec{}); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("wrapper without an image: %v, want ErrImageNotFound", err)
	}
	nat, _ := Get("native")
	if _, err := nat.Wrapper(context.Background(), Spec{Layout: Bind}); !errors.Is(err, ErrLayout) {
		t.Errorf("native bind: %v, want ErrLayout", err)
	}
}

func TestUnavailableBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, name := range []string{"docker", "podman", "apptainer", "charliecloud"} {
		rt, _ := Get(name)
		if _, err := rt.Detect(t.Context()); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s without its binary: %v, want ErrUnavailable", name, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	got := Describe(map[string]string{"runtime": "docker", "layout": "per-rank", "network": "host", "ipc": "host", "pmi_channel": "tcp"})
	if got != "docker per-rank, host network, host IPC, PMI over tcp" {
		t.Errorf("Describe = %q", got)
	}
}

func TestParseLayout(t *testing.T) {
	for in, want := range map[string]Layout{"": PerRank, "per-rank": PerRank, "Per-Node": PerNode, "bind": Bind} {
		if got, err := ParseLayout(in); err != nil || got != want {
			t.Errorf("ParseLayout(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLayout("hybrid"); err == nil {
		t.Error("ParseLayout(hybrid) accepted")
	}
}

// TestSystemPaths: folders an image brings itself are not bound over it;
// hpcbench's own folders under /var/lib (root's kernels cache) are.
func TestSystemPaths(t *testing.T) {
	for p, want := range map[string]bool{
		"/usr/lib/x86_64-linux-gnu":            true,
		"/var/lib/dpkg":                        true,
		"/":                                    true,
		"/var/lib/hpcbench/kernels/0123/mpich": false,
		"/var/lib/hpcbenchx":                   true,
		"/home/user/npb/bin":                   false,
		"/tmp/hpcbench-work-1/run-2":           false,
	} {
		if got := isSystemPath(p); got != want {
			t.Errorf("isSystemPath(%q) = %v, want %v", p, got, want)
		}
	}
}
