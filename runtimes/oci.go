package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/launchstate"
	"github.com/hpcbench/hpcbench/pmi"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCI runs each rank as a runtime-spec bundle: hpcbench writes config.json
// itself and runs it with crun (or runc). Only a mount namespace is created,
// so the rank shares the host's network, IPC and pid namespaces; the root
// filesystem is an image's unpacked folder, shared read-only by all ranks.
// process.rlimits is left out: raising limits needs CAP_SYS_RESOURCE, which
// root lacks on some hosts. The OCI runtime passes inherited fds with
// --preserve-fds, so PMI uses PMI_FD. Containers are named like Docker's and
// deleted by Cleanup; a killed hpcbench leaves them to CleanupLeftovers,
// which recognises its bundles by their folder name.
type ociRuntime struct {
	// command is the executable a config named; "" chooses (see binary).
	command string

	once sync.Once
	bin  string
}

func newOCI(_, command string) Runtime { return &ociRuntime{command: command} }

func init() { register("oci", newOCI) }

func (o *ociRuntime) Name() string { return "oci" }

// binary picks $HPCBENCH_OCI_RUNTIME, else crun, else runc; on hosts with
// cgroups v1 or hybrid, runc first (crun refuses: "cgroups in hybrid mode
// not supported").
func (o *ociRuntime) binary() string {
	o.once.Do(func() {
		if o.command != "" {
			o.bin = o.command
			return
		}
		if b := os.Getenv("HPCBENCH_OCI_RUNTIME"); b != "" {
			o.bin = b
			return
		}
		for _, n := range ociPrograms() {
			if p, err := exec.LookPath(n); err == nil {
				o.bin = p
				return
			}
		}
		o.bin = "crun"
	})
	return o.bin
}

// ociPrograms are the OCI runtimes tried, in order: crun, else runc; on
// hosts with cgroups v1 or hybrid, runc first (crun refuses: "cgroups in
// hybrid mode not supported").
func ociPrograms() []string {
	if !unifiedCgroups() {
		return []string{"runc", "crun"}
	}
	return []string{"crun", "runc"}
}

// Capabilities: bundles run the image store's root filesystem as it is,
// pass inherited fds (--preserve-fds), and run as root only.
func (o *ociRuntime) Capabilities() Capabilities {
	return Capabilities{
		Programs: ociPrograms(), TakesCommand: true,
		Layouts:   []Layout{PerRank, PerNode, Bind},
		PassesFDs: true, Outlives: true, RunsRootfs: true,
	}
}

// Fingerprint asks the OCI runtime for its version; bundles need root.
func (o *ociRuntime) Fingerprint(ctx context.Context) Fingerprint {
	fp := Fingerprint{Runtime: "oci", Program: o.binary(), Capabilities: o.Capabilities()}
	line, ok := fp.probeProgram(ctx, nil, "crun", "--version")
	if !ok {
		return fp
	}
	fp.Hint, fp.Provenance = "", line
	if !isRoot() {
		fp.Detail = "bundles are run as root only (a rootless bundle needs a user namespace mapping hpcbench does not write)"
		fp.Hint = "run hpcbench as root"
		fp.Err = fmt.Errorf("oci: %w: %s", ErrUnavailable, fp.Detail)
		return fp
	}
	fp.Usable = true
	return fp
}

// Detect returns the OCI runtime's version line: see Fingerprint.
func (o *ociRuntime) Detect(ctx context.Context) (string, error) {
	path, err := exec.LookPath(o.binary())
	if err != nil || !isRoot() {
		return o.Fingerprint(ctx).detected()
	}
	return detectCached(ctx, programKey("oci", path), path, o.Fingerprint)
}

// Prepare accepts the name of an image in hpcbench's store (its unpacked
// root filesystem), a root filesystem folder, or a bundle folder.
func (o *ociRuntime) Prepare(_ context.Context, image string) (ImageInfo, error) {
	if fi, err := os.Stat(image); err == nil && fi.IsDir() {
		root, _ := filepath.Abs(image)
		if st, err := os.Stat(filepath.Join(root, "rootfs")); err == nil && st.IsDir() {
			root = filepath.Join(root, "rootfs")
		}
		return ImageInfo{Ref: root, Meta: map[string]string{"rootfs": "folder (not content-addressed)"}}, nil
	}
	m, err := images.OpenStore("").Lookup(image)
	if err != nil || m.Rootfs == "" {
		return ImageInfo{}, fmt.Errorf("oci: %w: %q is neither a folder nor an image in the store %s (build it with 'hpcbench image build --name %s')",
			ErrImageNotFound, image, images.OpenStore("").Root, image)
	}
	if _, err := os.Stat(m.Rootfs); err != nil {
		return ImageInfo{}, fmt.Errorf("oci: %w: image %s: its root filesystem is gone: %v (rebuild it)", ErrImageNotFound, image, err)
	}
	meta := map[string]string{}
	storeMeta(m, meta)
	return ImageInfo{Ref: m.Rootfs, Digest: m.RootfsDigest, Meta: meta}, nil
}

func (o *ociRuntime) Wrapper(ctx context.Context, spec Spec) (Wrapper, error) {
	spec, err := perRankSpec("oci", spec)
	if err != nil {
		return nil, err
	}
	if spec.Image.Ref == "" {
		return nil, fmt.Errorf("oci: %w: the spec names no image (call Prepare first)", ErrImageNotFound)
	}
	if err := checkFlags("oci", spec.Flags, ociRefusedFlags); err != nil {
		return nil, err
	}
	if _, err := buildSource("oci", spec); err != nil {
		return nil, err
	}
	dir, err := ociBundleDir()
	if err != nil {
		return nil, err
	}
	return &ociWrapper{o: o, bin: orDefault(spec.Command, o.binary()), spec: spec, bundles: dir, ctx: ctx, libs: hostLibBinds{ctx: ctx},
		holders: map[string]*pidHolder{}}, nil
}

// ociRefusedFlags are the "crun run"/"runc run" options hpcbench sets
// itself, or that would let the runtime return before the rank ends.
var ociRefusedFlags = map[string]string{
	"-b":             "hpcbench writes each rank's bundle and passes it itself",
	"--bundle":       "hpcbench writes each rank's bundle and passes it itself",
	"--preserve-fds": "hpcbench passes the rank's inherited fds (the PMI socket) itself",
	"-d":             "a detached container leaves the runtime at once, and the launcher would take the rank for finished",
	"--detach":       "a detached container leaves the runtime at once, and the launcher would take the rank for finished",
}

// ociBundleDir makes the folder holding this process's bundles; its name
// carries the pid so that CleanupLeftovers can tell whose they are.
func ociBundleDir() (string, error) {
	return os.MkdirTemp("", "hpcbench-oci-"+strconv.Itoa(os.Getpid())+"-")
}

// ociSpecVersion is the runtime-spec version config.json declares: the
// module describes 1.3, but the crun and runc of stable distributions
// (crun 1.8, runc 1.1) refuse versions newer than they know, and nothing
// written here needs more than 1.0.
const ociSpecVersion = "1.0.2"

// ociCapabilities is Docker's default set; ociCapabilitiesFor adds
// SYS_PTRACE where it is needed.
var ociCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// ociPtrace says whether a bundle's rank gets SYS_PTRACE: in host
// isolation only, as before isolation was a choice. Private ranks need
// no capability for Open MPI's single-copy (CMA) transfers: the kernel
// lets a process read another of the same user whose capabilities are no
// more than its own, which holds between ranks, and not from a rank to a
// host process (the pid namespace holder included), which has more.
func ociPtrace(iso Isolation) bool { return iso == IsolationHost }

// ociCrossMemory says whether a private bundle's seccomp filter lets
// process_vm_readv and process_vm_writev through: for the single-copy
// transfers of both MPIs (see crossMemory).
func ociCrossMemory(mpi string) bool { return crossMemory(mpi) }

// crossMemory says whether ranks of mpi read each other's memory
// (process_vm_readv: cross-memory attach, CMA) for large messages:
// MPICH through UCX's cma transport and Open MPI through vader's
// single-copy. Blocked, MPICH falls back to copies through shared memory
// (1 MiB bandwidth 0.63x, 8-byte latency 3.2x in OCI bundles,
// BenchmarkIsolationTable); Open MPI's vader must then be told not to
// use it (btl_vader_single_copy_mechanism=none).
func crossMemory(mpi string) bool { return mpi == "openmpi" || mpi == "mpich" }

// bundleIsolation is how a bundle is isolated: its isolation, whether it
// gets SYS_PTRACE, whether its seccomp filter allows reading other
// processes' memory, and in private isolation the pid namespace it joins
// (a /proc/<pid>/ns/pid path; "" makes a new one).
type bundleIsolation struct {
	iso         Isolation
	ptrace      bool
	crossMemory bool
	pidNS       string
	// hostPID keeps the host's pid namespace (Spec.HostPID).
	hostPID bool
	// shmIsolated gives the bundle an IPC namespace and a /dev/shm of
	// its own (Spec.Shm).
	shmIsolated bool
}

// newBundleIsolation is the isolation of spec's bundles for job. Spec.HostPID
// concerns ranks started one by one; a node's container keeps a pid
// namespace of its own.
func newBundleIsolation(spec Spec, job pmi.Job) bundleIsolation {
	iso := isolationOf(spec)
	bi := bundleIsolation{iso: iso, ptrace: ociPtrace(iso), crossMemory: ociCrossMemory(mpiOf(spec, job))}
	if iso == IsolationPrivate && spec.HostPID && spec.Layout != PerNode {
		bi.hostPID, bi.ptrace, bi.crossMemory = true, true, true
	}
	bi.shmIsolated = shmOf(spec) == ShmIsolated && spec.Layout != PerNode
	return bi
}

// bundleConfig is the config.json of one rank (or one node's container).
func bundleConfig(rootfs string, argv, env []string, dir string, binds []string, ro map[string]bool, jobID, label string, bi bundleIsolation) *specs.Spec {
	caps := append([]string(nil), ociCapabilities...)
	if bi.ptrace {
		caps = append(caps, "CAP_SYS_PTRACE")
	}
	s := &specs.Spec{
		Version: ociSpecVersion,
		Root:    &specs.Root{Path: rootfs, Readonly: true},
		Process: &specs.Process{
			User: specs.User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())},
			Args: argv,
			Env:  env,
			Cwd:  dir,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
		},
		Annotations: map[string]string{LabelJob: jobID, LabelRank: label, LabelOwner: strconv.Itoa(os.Getpid())},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}},
		},
	}
	if bi.iso == IsolationHost {
		// The host's /dev, with its /dev/shm: shared memory between ranks.
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind", "nosuid"}})
	} else {
		// A /dev of its own: the runtime creates null, zero, full,
		// random, urandom, tty and ptmx in it; the host's /dev/shm is
		// bound for the shared memory between ranks.
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "nosuid", "nodev"}},
		)
		if !bi.hostPID {
			pidNS := specs.LinuxNamespace{Type: specs.PIDNamespace, Path: bi.pidNS}
			s.Linux.Namespaces = append(s.Linux.Namespaces, pidNS)
		}
		s.Linux.Seccomp = ociSeccomp(bi.crossMemory)
		s.Linux.MaskedPaths = ociMaskedPaths
		s.Linux.ReadonlyPaths = ociReadonlyPaths
		s.Process.NoNewPrivileges = true
	}
	if bi.shmIsolated {
		// A /dev/shm of its own over the host's, in an IPC namespace
		// of its own.
		for i := len(s.Mounts) - 1; i >= 0; i-- {
			if s.Mounts[i].Destination == "/dev/shm" {
				s.Mounts = append(s.Mounts[:i], s.Mounts[i+1:]...)
			}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=65536k"}})
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "ro", "nosuid", "noexec", "nodev"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
	)
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		if _, err := os.Stat(f); err == nil {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: f, Type: "bind", Source: f, Options: []string{"bind", "ro"}})
		}
	}
	for _, b := range binds {
		opts := []string{"rbind"}
		if ro[b] {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: b, Type: "bind", Source: b, Options: opts})
	}
	return s
}

// containerEnv resolves the forwarded variable names (forwardedEnv with
// the patterns of passEnv) to NAME=value pairs.
func containerEnv(env []string, passEnv []string) []string {
	names := forwardedEnv(env, passEnv)
	out := make([]string, 0, len(names)+1)
	hasPath := false
	for _, n := range names {
		v, _ := envLookup(env, n)
		out = append(out, n+"="+v)
		hasPath = hasPath || n == "PATH"
	}
	if !hasPath {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return out
}

func writeBundle(dir string, s *specs.Spec) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}

type ociWrapper struct {
	o *ociRuntime
	// bin is the OCI runtime the ranks run under (spec.Command, else o's).
	bin     string
	spec    Spec
	bundles string
	// ctx is the one the wrapper was made with; Cleanup runs under it.
	ctx context.Context

	libs hostLibBinds

	mu sync.Mutex
	// holders hold, per job, the pid namespace its ranks share (private
	// isolation).
	holders map[string]*pidHolder
}

func (w *ociWrapper) Channel() pmi.Channel { return pmi.ChannelFD }

func (w *ociWrapper) Choices() map[string]string {
	c := baseChoices("oci", w.spec, pmi.ChannelFD)
	c["oci_runtime"] = filepath.Base(w.bin)
	c["network"], c["ipc"], c["pid"] = "host", "host", "host"
	ociIsolationChoices(c, w.spec, true)
	how := "the host's /dev/shm bound"
	if isolationOf(w.spec) == IsolationHost {
		how = "the host's /dev"
	}
	if shmOf(w.spec) == ShmIsolated {
		how = "an IPC namespace and a /dev/shm tmpfs per container"
		c["ipc"] = "private"
	}
	cma := "unavailable (the seccomp filter refuses process_vm_readv)"
	if b := newBundleIsolation(w.spec, pmi.Job{}); b.iso == IsolationHost || b.crossMemory {
		cma = "available (process_vm_readv allowed, one pid namespace for the job's ranks)"
	}
	shmChoices(c, w.spec, how, cma)
	c["env_passing"] = "explicit (config.json)"
	c["rlimits"] = "none"
	c["pmix"] = "PMIX_* forwarded, server tmpdir bound at the same path"
	c["mpi_source"] = "image"
	if w.spec.Layout == Bind {
		c["mpi_source"] = "host libraries bind-mounted read-only"
	}
	return c
}

func (w *ociWrapper) WrapRank(job pmi.Job, cmd *pmi.RankCommand) error {
	if err := checkPMI(job, cmd); err != nil {
		return err
	}
	p, err := placeRank(job, w.spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := w.libs.add("oci", w.spec, job, p)
	if err != nil {
		return err
	}
	cmd.Env = withBuildEnv(withShmEnv(cmd.Env, w.spec, job), w.spec.MPIBuild)
	id := ContainerName(job.ID, cmd.Rank)
	bundle := filepath.Join(w.bundles, id)
	bi := newBundleIsolation(w.spec, job)
	// A job of one rank needs no holder: the bundle's own new pid
	// namespace holds it alone.
	if bi.iso == IsolationPrivate && !bi.hostPID && job.Ranks > 1 {
		h, err := w.pidHolder(job)
		if err != nil {
			return fmt.Errorf("oci: rank %d: %w", cmd.Rank, err)
		}
		bi.pidNS = fmt.Sprintf("/proc/%d/ns/pid", h.pid)
	}
	s := bundleConfig(w.spec.Image.Ref, p.argv, containerEnv(cmd.Env, w.spec.PassEnv), p.dir, binds, ro, job.ID, strconv.Itoa(cmd.Rank), bi)
	if err := writeBundle(bundle, s); err != nil {
		return fmt.Errorf("oci: rank %d: writing its bundle: %w", cmd.Rank, err)
	}
	argv := append([]string{w.bin, "run"}, w.spec.Flags...)
	argv = append(argv, "--bundle", bundle)
	if len(cmd.ExtraFiles) > 0 {
		argv = append(argv, "--preserve-fds", strconv.Itoa(len(cmd.ExtraFiles)))
	}
	cmd.Argv = append(argv, id)
	return nil
}

func (w *ociWrapper) Cleanup(job pmi.Job) error {
	err := ociCleanup(w.ctx, w.bin, job)
	w.mu.Lock()
	h := w.holders[job.ID]
	delete(w.holders, job.ID)
	w.mu.Unlock()
	if h != nil {
		// After the containers: the namespace, and whatever is left in
		// it, ends with its holder.
		h.stop()
	}
	return err
}

// pidHolder returns job's pid namespace holder, started on first use.
func (w *ociWrapper) pidHolder(job pmi.Job) (*pidHolder, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.holders[job.ID]; h != nil {
		return h, nil
	}
	h, err := startOCIHolder(job)
	if err != nil {
		return nil, err
	}
	w.holders[job.ID] = h
	return h, nil
}

// Cleanup deletes job's containers and this process's bundles of it.
func (o *ociRuntime) Cleanup(ctx context.Context, job pmi.Job) error {
	return ociCleanup(ctx, o.binary(), job)
}

// ociCleanup deletes job's containers known to the OCI runtime bin (each
// runtime keeps its own state) and this process's bundles of it.
func ociCleanup(ctx context.Context, bin string, job pmi.Job) error {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	var err error
	if ociMayHold(bin, "hpcbench-"+job.ID+"-") {
		_, err = ociDeleteMatching(ctx, bin, func(id, bundle string) bool {
			return strings.HasPrefix(id, "hpcbench-"+job.ID+"-")
		})
	}
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "hpcbench-oci-"+strconv.Itoa(os.Getpid())+"-*", "hpcbench-"+job.ID+"-*"))
	for _, m := range matches {
		_ = os.RemoveAll(m)
		_ = os.Remove(filepath.Dir(m)) // the folder, once empty
	}
	return launchstate.CleanupFailed(err)
}

// ociMayHold reports whether bin may hold a container whose ID starts with
// prefix: false only when its state folder shows none (a container that
// "runc run" deleted on its way out, as every rank that ends does, leaves
// nothing there), which spares a job's cleanup listing the containers.
func ociMayHold(bin, prefix string) bool {
	root := ociStateRoot(bin)
	if root == "" {
		return true
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			return true
		}
	}
	return false
}

// ociDeleteMatching deletes the containers of the OCI runtime bin for which
// match is true; ctx bounds it.
func ociDeleteMatching(ctx context.Context, bin string, match func(id, bundle string) bool) ([]string, error) {
	out, err := runTool(ctx, nil, bin, "list")
	if err != nil {
		return nil, fmt.Errorf("oci: listing containers: %w", err)
	}
	var deleted []string
	var errs []string
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 4 { // header
			continue
		}
		id, bundle := f[0], f[3]
		if !match(id, bundle) {
			continue
		}
		if _, err := runTool(ctx, nil, bin, "delete", "--force", id); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		deleted = append(deleted, id)
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("oci: deleting containers: %s", strings.Join(errs, "; "))
	}
	return deleted, nil
}

// CleanupLeftovers deletes hpcbench's containers whose hpcbench is gone,
// recognised by their bundle folder "hpcbench-oci-<pid>-...", then the
// bundle folders of every hpcbench that is gone.
func (o *ociRuntime) CleanupLeftovers(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	var bundles []string
	ids, err := ociDeleteMatching(ctx, o.binary(), func(id, bundle string) bool {
		if !strings.HasPrefix(id, "hpcbench-") {
			return false
		}
		owner := bundleOwner(bundle)
		if owner > 0 && processAlive(owner) {
			return false
		}
		bundles = append(bundles, bundle)
		return true
	})
	for _, b := range bundles {
		if strings.Contains(b, "hpcbench-oci-") {
			_ = os.RemoveAll(b)
		}
	}
	aborted, abortErr := ociAbortedLeftovers(ctx, o.binary())
	ids = append(ids, aborted...)
	if err == nil {
		// Bundles whose container is gone too (the rank had ended, or the
		// runtime never started it) are known only by their folder.
		removeStaleTempDirs("oci")
	}
	return ids, errors.Join(err, abortErr)
}

// ociAbortedLeftovers removes what an OCI runtime killed while it created
// a container (its hpcbench was killed, and the rank's runtime with it)
// leaves: a state folder without its state file, which "list" does not
// show and which "delete --force" removes by name, and the container's
// cgroups, which only the runtime's delete of a complete container would
// have removed. Both are named after the container, whose name begins
// with the pid of the hpcbench that made it (ContainerName, pmi's job
// IDs); those of a live hpcbench are left alone.
func ociAbortedLeftovers(ctx context.Context, bin string) ([]string, error) {
	var removed []string
	var errs []error
	root := ociStateRoot(bin)
	if root != "" {
		dirs, _ := filepath.Glob(filepath.Join(root, "hpcbench-*"))
		for _, d := range dirs {
			id := filepath.Base(d)
			if _, err := os.Stat(filepath.Join(d, "state.json")); err == nil || processAlive(containerOwner(id)) {
				continue // a complete container: ociDeleteMatching's
			}
			if _, err := runTool(ctx, nil, bin, "delete", "--force", id); err != nil {
				errs = append(errs, fmt.Errorf("oci: deleting the unfinished container %s: %w", id, err))
				continue
			}
			removed = append(removed, id)
		}
	}
	// A cgroup is removed only once no process is left in it (rmdir
	// fails otherwise), and only when its container is gone.
	cgroups, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", "hpcbench-*"))
	unified, _ := filepath.Glob(filepath.Join(cgroupRoot, "hpcbench-*"))
	for _, cg := range append(cgroups, unified...) {
		id := filepath.Base(cg)
		if owner := containerOwner(id); owner <= 0 || processAlive(owner) {
			continue
		}
		if root != "" {
			if _, err := os.Stat(filepath.Join(root, id)); err == nil {
				continue
			}
		}
		_ = os.Remove(cg)
	}
	return removed, errors.Join(errs...)
}

// ociRootStateBase is the folder under which runc and crun keep their
// state when run as root (a variable for the tests of the sweep).
var ociRootStateBase = "/run"

// ociStateRoot is the folder where the OCI runtime bin keeps its
// containers' state by default ("" for a runtime hpcbench does not know).
func ociStateRoot(bin string) string {
	name := filepath.Base(bin)
	if name != "runc" && name != "crun" {
		return ""
	}
	if isRoot() {
		return filepath.Join(ociRootStateBase, name)
	}
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
		return filepath.Join(xdg, name)
	}
	return ""
}

// containerOwner reads the pid of the hpcbench that named a container
// "hpcbench-<pid>-..." (0 when the name carries none).
func containerOwner(id string) int { return ownerPid(id, "hpcbench-") }

// bundleOwner reads the pid out of a bundle path ".../hpcbench-oci-<pid>-XXXX/...".
func bundleOwner(bundle string) int {
	for _, part := range strings.Split(bundle, "/") {
		if pid := ownerPid(part, "hpcbench-oci-"); pid > 0 {
			return pid
		}
	}
	return 0
}

func (o *ociRuntime) WrapNode(ctx context.Context, spec Spec, job pmi.Job, cmd *pmi.RankCommand) error {
	if spec.Image.Ref == "" {
		return fmt.Errorf("oci: %w: the spec names no image (call Prepare first)", ErrImageNotFound)
	}
	if err := checkFlags("oci", spec.Flags, ociRefusedFlags); err != nil {
		return err
	}
	p, err := placeNode(job, spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := nodeBuildBinds(ctx, "oci", spec, p)
	if err != nil {
		return err
	}
	dir, err := ociBundleDir()
	if err != nil {
		return err
	}
	id := ContainerName(job.ID, -1)
	bundle := filepath.Join(dir, id)
	// Private: the node's container gets a pid namespace of its own.
	bi := newBundleIsolation(spec, job)
	s := bundleConfig(spec.Image.Ref, p.argv, containerEnv(withBuildEnv(cmd.Env, spec.MPIBuild), spec.PassEnv), p.dir, binds, ro, job.ID, "node", bi)
	if err := writeBundle(bundle, s); err != nil {
		return fmt.Errorf("oci: per-node launch: writing its bundle: %w", err)
	}
	cmd.Argv = append([]string{orDefault(spec.Command, o.binary()), "run"}, spec.Flags...)
	cmd.Argv = append(cmd.Argv, "--bundle", bundle, id)
	cmd.ExtraFiles = nil
	return nil
}
