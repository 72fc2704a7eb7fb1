package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/launchstate"
	"github.com/hpcbench/hpcbench/pmi"
)

// engine is what Docker and Podman share: a command-line client that runs
// named, labelled containers ("docker run" and "podman run" take the same
// flags for everything hpcbench needs).
type engine struct {
	name string // "docker" or "podman"
	// bin is the client program.
	bin string
	// globalArgs go before the verb (Podman's --runtime).
	globalArgs []string
	// env is the client's extra environment (Podman's CONTAINERS_CONF).
	env []string
	// passFD: the engine can hand inherited fds to the container
	// (Podman's --preserve-fds), so PMI can use PMI_FD.
	passFD bool
	// rootlessUserns is the user namespace flag for a non-root user.
	rootlessUserns []string
}

func (e *engine) command(args ...string) []string {
	return append(append([]string{e.bin}, e.globalArgs...), args...)
}

func (e *engine) tool(ctx context.Context, args ...string) (string, error) {
	var env []string
	if len(e.env) > 0 {
		env = append(os.Environ(), e.env...)
	}
	return runTool(ctx, env, e.bin, append(append([]string(nil), e.globalArgs...), args...)...)
}

func (e *engine) Name() string { return e.name }

// engineHints say how to make an engine answer.
var engineHints = map[string]string{
	"docker": "start the engine (systemctl start docker, or dockerd & as root)",
	"podman": "podman info fails: fix what it says (storage, OCI runtime, containers.conf)",
}

// Capabilities: Docker and Podman place ranks in every layout. Docker's
// daemon starts the containers, so no fd reaches them; Podman's client
// does, and hands them over with --preserve-fds.
func (e *engine) Capabilities() Capabilities {
	return Capabilities{
		Programs: []string{e.name}, TakesCommand: true,
		Layouts:   []Layout{PerRank, PerNode, Bind},
		PassesFDs: e.passFD, Rootless: e.name == "podman", Daemon: e.name == "docker",
		Outlives: true, ImportsImages: true, PeakMemory: true,
	}
}

// Fingerprint asks the client for its version, then the engine for its
// own: Docker's daemon ("docker version"), Podman's storage and OCI
// runtime ("podman info"). Only an engine that answers makes the runtime
// usable.
func (e *engine) Fingerprint(ctx context.Context) Fingerprint {
	fp := Fingerprint{Runtime: e.name, Program: e.bin, Capabilities: e.Capabilities()}
	if _, ok := fp.probeProgram(ctx, e.env, e.name, "--version"); !ok {
		return fp
	}
	fp.Hint = ""
	var ask []string
	if e.name == "docker" {
		ask = []string{"version", "--format", "{{.Server.Version}}"}
	} else {
		ask = []string{"info", "--format", "{{.Version.Version}}"}
	}
	out, err := probeTool(ctx, e.env, fp.Path, append(append([]string(nil), e.globalArgs...), ask...)...)
	v := strings.TrimSpace(out)
	if err == nil && v == "" {
		err = errors.New("the engine reported no version")
	}
	if err != nil {
		fp.engineDown(err, engineHints[e.name])
		return fp
	}
	fp.Usable, fp.EngineAnswers, fp.Engine, fp.Provenance = true, true, v, v
	if fp.Capabilities.Daemon {
		fp.Detail = "engine " + v + " answers"
	}
	return fp
}

// Detect returns the engine's version, as Fingerprint would, at the
// least cost: from the version cache while the client's program (and,
// for Docker, the daemon's socket and program) are the files the answer
// came from; else Docker asks its daemon (whose version is the one
// results record), and Podman, whose client is its engine, answers
// "--version" without opening its storage ("podman info" took 0.2 to
// 0.9 s here). "hpcbench doctor" still asks Podman's storage, through
// Fingerprint.
func (e *engine) Detect(ctx context.Context) (string, error) {
	path, err := exec.LookPath(e.bin)
	if err != nil {
		return e.Fingerprint(ctx).detected()
	}
	probe := e.Fingerprint
	if e.name == "podman" {
		probe = e.versionOnly
	}
	return detectCached(ctx, e.versionKey(path), path, probe)
}

// versionKey is the version cache's key for the engine's client at path:
// what else can change the answer goes in it, and a Docker daemon that
// may be remote gets none ("").
func (e *engine) versionKey(path string) string {
	extra := append(append([]string(nil), e.globalArgs...), e.env...)
	if e.name != "docker" {
		return programKey(e.name, path, extra...)
	}
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		rest, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			return ""
		}
		sock = rest
	}
	if os.Getenv("DOCKER_CONTEXT") != "" {
		return ""
	}
	config := os.Getenv("DOCKER_CONFIG")
	if config == "" {
		home, _ := os.UserHomeDir()
		config = filepath.Join(home, ".docker")
	}
	extra = append(extra, fileStamp(sock), fileStamp(filepath.Join(config, "config.json")))
	if d, err := exec.LookPath("dockerd"); err == nil {
		extra = append(extra, fileStamp(d))
	}
	return programKey(e.name, path, extra...)
}

// versionOnly is Podman's Fingerprint without its storage: the client's
// version is the engine's.
func (e *engine) versionOnly(ctx context.Context) Fingerprint {
	fp := Fingerprint{Runtime: e.name, Program: e.bin, Capabilities: e.Capabilities()}
	if _, ok := fp.probeProgram(ctx, e.env, e.name, "--version"); !ok {
		return fp
	}
	if fp.Version == "" {
		fp.Err = fmt.Errorf("%s: %w: %s --version printed no version", e.name, ErrUnavailable, fp.Path)
		return fp
	}
	fp.Hint = ""
	fp.Usable, fp.Engine, fp.Provenance = true, fp.Version, fp.Version
	return fp
}

// Locate is Prepare without asking the engine: the reference the
// containers run (the store's copy of a store image, else the name as
// given) and what the store says of it, but no digest.
func (e *engine) Locate(image string) (ImageInfo, error) {
	if image == "" {
		return ImageInfo{}, fmt.Errorf("%s: %w: no image given (build one with 'hpcbench image build --name NAME')", e.name, ErrImageNotFound)
	}
	ref := image
	meta := map[string]string{}
	if m, err := images.OpenStore("").Lookup(image); err == nil {
		if r := m.Engines[e.name]; r.Ref != "" {
			ref = r.Ref
			storeMeta(m, meta)
		}
	}
	return ImageInfo{Ref: ref, Meta: meta}, nil
}

func (e *engine) Prepare(ctx context.Context, image string) (ImageInfo, error) {
	info, err := e.Locate(image)
	if err != nil {
		return ImageInfo{}, err
	}
	ref, meta := info.Ref, info.Meta
	if sock := e.dockerAPISocket(); sock != "" {
		if id, err := dockerAPIImageID(ctx, sock, ref); err == nil {
			return ImageInfo{Ref: ref, Digest: id, Meta: meta}, nil
		}
		// Whatever the daemon said, the client says it as users know it.
	}
	// Podman's image IDs hold while its storage's list of images is the
	// file it was (Podman rewrites it whenever an image or a name is added
	// or removed): inspecting an image took a Podman process of 35 ms.
	var index, indexKey string
	if e.name == "podman" {
		index = e.imageIndex(ctx)
		if k := fileKey(index); k != "" {
			indexKey = k + "\x00" + strings.Join(e.command(), " ") + "\x00" + ref
			if id, ok := cached("digests", indexKey); ok {
				return ImageInfo{Ref: ref, Digest: id, Meta: meta}, nil
			}
		}
	}
	out, err := e.tool(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("%s: %w: %q (build it with 'hpcbench image build --name %s --runtimes %s', or load it into %s): %v",
			e.name, ErrImageNotFound, image, image, e.name, e.name, err)
	}
	id := strings.TrimSpace(out)
	if id != "" && !strings.Contains(id, ":") {
		id = "sha256:" + id // Podman prints the bare hex
	}
	if indexKey != "" && fileKey(index)+"\x00"+strings.Join(e.command(), " ")+"\x00"+ref == indexKey {
		store("digests", indexKey, index, id)
	}
	return ImageInfo{Ref: ref, Digest: id, Meta: meta}, nil
}

// imageIndex is the file in which Podman's storage lists its images
// (<graph root>/<driver>-images/images.json), "" where unknown. Where the
// storage lies is asked once ("podman info") and kept in the state folder
// under the program's key.
func (e *engine) imageIndex(ctx context.Context) string {
	path, err := exec.LookPath(e.bin)
	if err != nil {
		return ""
	}
	key := e.versionKey(path)
	if key == "" {
		return ""
	}
	if idx, ok := cached("stores", key); ok {
		return idx
	}
	out, err := e.tool(ctx, "info", "--format", "{{.Store.GraphRoot}} {{.Store.GraphDriverName}}")
	f := strings.Fields(out)
	if err != nil || len(f) != 2 {
		return ""
	}
	idx := filepath.Join(f[0], f[1]+"-images", "images.json")
	if fileKey(idx) == "" {
		return ""
	}
	store("stores", key, path, idx)
	return idx
}

// runFlags are the flags every container of a job gets, and the choices
// they stand for.
func (e *engine) runFlags(job pmi.Job, rank int, isolation [][2]string) []string {
	args := []string{"run", "--rm", "--pull", "never",
		"--name", ContainerName(job.ID, rank),
		"--label", LabelJob + "=" + job.ID,
		"--label", LabelOwner + "=" + strconv.Itoa(os.Getpid()),
	}
	if rank >= 0 {
		args = append(args, "--label", LabelRank+"="+strconv.Itoa(rank))
	} else {
		args = append(args, "--label", LabelRank+"=node")
	}
	for _, f := range isolation {
		args = append(args, f[0], f[1])
	}
	if !isRoot() {
		if e.name == "docker" {
			args = append(args, "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
		} else {
			args = append(args, e.rootlessUserns...)
		}
	}
	return args
}

// perRankIsolation are the namespace settings one container per rank
// needs, for isolation iso, an MPI and the container holding the job's
// pid namespace: the host network (PMI over loopback, MPI's TCP) and the
// host IPC namespace (MPICH's and Open MPI's shared memory) in either.
// Private: the pid namespace of the job's holder container, shared by its
// ranks only, and SYS_PTRACE for MPICH (UCX's cma transport) and Open MPI
// (vader's single-copy), whose large transfers call process_vm_readv on
// another rank, which Docker's seccomp profile allows only with that
// capability. Within the job's own pid namespace the capability reaches
// the job's ranks and its sleeping holder, nothing of the host's. Without
// it MPICH fell back to copies through shared memory: 1 MiB bandwidth 0.75x
// and 8-byte latency 3.7x host isolation's (BenchmarkIsolationTable). Host, or hostPID
// (ranks started by separate processes, see Spec.HostPID): the host's pid
// namespace and SYS_PTRACE for every rank. An empty holder is a job of one
// rank: the pid namespace of its own container (the engine's default)
// holds the job's one rank and nothing else, which is what a holder would
// give it, without starting one.
func perRankIsolation(iso Isolation, mpi, holder string, hostPID bool) [][2]string {
	flags := [][2]string{{"--network", "host"}, {"--ipc", "host"}}
	if iso == IsolationHost || hostPID {
		return append(flags, [2]string{"--pid", "host"}, [2]string{"--cap-add", "SYS_PTRACE"})
	}
	if holder != "" {
		flags = append(flags, [2]string{"--pid", "container:" + holder})
	}
	if crossMemory(mpi) {
		flags = append(flags, [2]string{"--cap-add", "SYS_PTRACE"})
	}
	return flags
}

// shmFlags gives isolated ranks (Spec.Shm) an IPC namespace, and with it
// a /dev/shm, of their own instead of the host's.
func shmFlags(flags [][2]string, spec Spec) [][2]string {
	if shmOf(spec) != ShmIsolated {
		return flags
	}
	out := make([][2]string, 0, len(flags))
	for _, f := range flags {
		if f == [2]string{"--ipc", "host"} {
			f = [2]string{"--ipc", "private"}
		}
		out = append(out, f)
	}
	return out
}

// engineShmChoices records the shm mode of Docker's and Podman's ranks and
// whether CMA is open to them: Docker's seccomp profile allows
// process_vm_readv only with SYS_PTRACE, which Open MPI's ranks and host
// isolation get; Podman's allows it (measured: see ProbeCMA).
func engineShmChoices(c map[string]string, engine string, spec Spec) {
	how := "--ipc host"
	if shmOf(spec) == ShmIsolated {
		how = "--ipc private: an IPC namespace and /dev/shm per container"
	} else if strings.HasPrefix(c["ipc"], "host /dev/shm") {
		how = "the host's /dev/shm bound"
	}
	cma := "unavailable (the engine's seccomp profile refuses process_vm_readv without SYS_PTRACE)"
	switch {
	case c["cap_add"] == "SYS_PTRACE":
		cma = "available (SYS_PTRACE, one pid namespace for the job's ranks)"
	case engine == "podman":
		cma = "available (Podman's seccomp profile allows process_vm_readv; one pid namespace for the job's ranks)"
	}
	shmChoices(c, spec, how, cma)
}

// pidOf is the --pid value among flags, "" if none.
func pidOf(flags [][2]string) string {
	for _, f := range flags {
		if f[0] == "--pid" {
			return f[1]
		}
	}
	return ""
}

// pidHolderName names the container that holds job's pid namespace.
func pidHolderName(jobID string) string { return "hpcbench-" + jobID + "-pid" }

// nodeIsolation: the node's ranks share one container, so only the network
// (PMI and MPI's TCP over loopback) and shared memory size matter. In
// Docker the container also gets SYS_PTRACE for the MPIs' single-copy
// transfers (see crossMemory), which Docker's seccomp profile allows only
// with it (without it MPICH's 1 MiB bandwidth was 0.23x native, with it
// 0.99x); in the container's own pid namespace it reaches only the node's
// ranks. Podman's profile lets the transfers through without it.
func (e *engine) nodeIsolation(mpi string) [][2]string {
	flags := [][2]string{{"--network", "host"}, {"--ipc", "host"}}
	if e.name == "docker" && crossMemory(mpi) {
		flags = append(flags, [2]string{"--cap-add", "SYS_PTRACE"})
	}
	return flags
}

// hostShm binds the host's /dev/shm, where MPICH's and Open MPI's shared
// memory segments live, in place of --ipc host.
var hostShm = [2]string{"-v", "/dev/shm:/dev/shm"}

// isolation adapts flags to this engine and user: rootless Podman with
// --ipc host bind-mounts the host's /dev/mqueue and fails where none is
// mounted ("statfs /dev/mqueue: no such file or directory"); there the
// host's /dev/shm is bound instead, which is what MPI's shared memory
// needs (System V IPC stays private).
//
// Rootless, each Podman container has a user namespace of its own, and a
// pid namespace owned by another's cannot be joined (mounting /proc
// fails): the ranks keep the host's pid namespace, where as an ordinary
// user they reach no more of the host than that user may.
func (e *engine) isolation(flags [][2]string) [][2]string {
	if e.name != "podman" || isRoot() {
		return flags
	}
	for i, f := range flags {
		if f[0] == "--pid" && strings.HasPrefix(f[1], "container:") {
			flags = append(append([][2]string(nil), flags[:i]...), flags[i+1:]...)
			flags = append(flags, [2]string{"--pid", "host"})
			break
		}
	}
	if _, err := os.Stat("/dev/mqueue"); err == nil {
		return flags
	}
	out := make([][2]string, 0, len(flags))
	for _, f := range flags {
		if f == [2]string{"--ipc", "host"} {
			f = hostShm
		}
		out = append(out, f)
	}
	return out
}

func isolationChoices(c map[string]string, flags [][2]string) {
	for _, f := range flags {
		switch f[0] {
		case "--network":
			c["network"] = f[1]
		case "--ipc":
			c["ipc"] = f[1]
		case "--pid":
			c["pid"] = f[1]
			if strings.HasPrefix(f[1], "container:") {
				c["pid"] = "private"
				c["pid_namespace"] = "one per job, held by a sleeping container, shared by its ranks (a job of one rank: its own container's)"
			}
		case "--cap-add":
			c["cap_add"] = f[1]
		case "-v":
			if f == hostShm {
				c["ipc"] = "host /dev/shm (no /dev/mqueue for rootless --ipc host)"
			}
		}
	}
}

// mountArgs turns bind paths into -v flags (read-only for ro).
func mountArgs(binds []string, ro map[string]bool) []string {
	var args []string
	for _, b := range binds {
		spec := b + ":" + b
		if ro[b] {
			spec += ":ro"
		}
		args = append(args, "-v", spec)
	}
	return args
}

func envArgs(names []string) []string {
	args := make([]string, 0, 2*len(names))
	for _, n := range names {
		// "-e NAME" takes the value from the client's environment: the
		// values stay out of the command line (and out of ps).
		args = append(args, "-e", n)
	}
	return args
}

func (e *engine) Wrapper(ctx context.Context, spec Spec) (Wrapper, error) {
	spec, err := perRankSpec(e.name, spec)
	if err != nil {
		return nil, err
	}
	if spec.Image.Ref == "" {
		return nil, fmt.Errorf("%s: %w: the spec names no image (call Prepare first)", e.name, ErrImageNotFound)
	}
	if err := checkFlags(e.name, spec.Flags, detachFlags); err != nil {
		return nil, err
	}
	if _, err := buildSource(e.name, spec); err != nil {
		return nil, err
	}
	w := &engineWrapper{e: e.withCommand(spec.Command), spec: spec, ctx: ctx, jobDirs: map[string]string{}, peaks: map[int]*peakWatch{},
		libs: hostLibBinds{ctx: ctx}, holders: map[string]string{}}
	return w, nil
}

// pidHolder makes sure job's pid namespace holder runs (private
// isolation), and returns its name: the first rank starts it (or takes
// one the process keeps for reuse, see ReuseHolders), the others wait
// for it.
func (w *engineWrapper) pidHolder(job pmi.Job) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if name := w.holders[job.ID]; name != "" {
		return name, nil
	}
	name, label := pidHolderName(job.ID), job.ID
	if holderReuse.enabled.Load() {
		if idle, ok := holderReuse.take(w.holderKey()); ok {
			w.holders[job.ID] = idle
			return idle, nil
		}
		name, label = holderReuse.newName()
	}
	if err := startEngineHolder(w, job, name, label); err != nil {
		return "", err
	}
	w.holders[job.ID] = name
	return name, nil
}

// holderKey says which holders a job of w may take: those of the same
// engine program and image.
func (w *engineWrapper) holderKey() string {
	return strings.Join(append(w.e.command(), w.e.env...), "\x00") + "\x00" + w.spec.Image.Ref
}

// startPIDHolder starts the container name whose pid namespace job's
// ranks join: a rank's own container cannot hold it, since the
// namespace, and every rank in it, ends with its first process. It sleeps
// in the job's image, labelled as the job's (label: Cleanup and the
// leftover sweep remove it) or, kept for reuse, as a job of its own,
// without network.
func (w *engineWrapper) startPIDHolder(job pmi.Job, name, label string) error {
	args := []string{"run", "-d", "--rm", "--pull", "never", "--name", name,
		"--label", LabelJob + "=" + label,
		"--label", LabelOwner + "=" + strconv.Itoa(os.Getpid()),
		"--label", LabelRank + "=pid",
		"--network", "none",
	}
	if !isRoot() {
		if w.e.name == "docker" {
			args = append(args, "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()))
		} else {
			args = append(args, w.e.rootlessUserns...)
		}
	}
	args = append(args, w.spec.Image.Ref, "sleep", "infinity")
	if _, err := w.e.tool(w.ctx, args...); err != nil {
		return fmt.Errorf("%s: job %s: starting the container that holds its pid namespace (it runs \"sleep infinity\" in %s; without sleep in the image, set isolation = \"host\"): %w",
			w.e.name, job.ID, w.spec.Image.Ref, err)
	}
	return nil
}

// withCommand is e running the executable command ("" keeps e's own).
func (e *engine) withCommand(command string) *engine {
	if command == "" || command == e.bin {
		return e
	}
	c := *e
	c.bin = command
	return &c
}

// engineWrapper wraps each rank in "docker run" / "podman run".
type engineWrapper struct {
	e    *engine
	spec Spec
	// ctx is the one the wrapper was made with; Cleanup runs under it.
	ctx context.Context

	mu sync.Mutex
	// jobDirs holds, per job, the temporary folder of its ranks' --cidfile
	// (from which a rank's cgroup is found); Cleanup removes it.
	jobDirs map[string]string
	peaks   map[int]*peakWatch
	libs    hostLibBinds
	// holders name, per job, the container holding its pid namespace.
	holders map[string]string
}

// startEngineHolder starts a job's pid namespace holder container; the
// unit tests, which run no engine, replace it.
var startEngineHolder = (*engineWrapper).startPIDHolder

// jobDir returns job's folder for per-rank files, made on first use. Its
// name carries this process's pid, so that CleanupLeftovers can remove the
// folders of a killed hpcbench.
func (w *engineWrapper) jobDir(jobID string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if d, ok := w.jobDirs[jobID]; ok {
		return d, nil
	}
	d, err := os.MkdirTemp("", tempPrefix(w.e.name)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("%s: job %s: folder for its container ID files: %w", w.e.name, jobID, err)
	}
	w.jobDirs[jobID] = d
	return d, nil
}

// tempPrefix starts the names of runtime's temporary folders:
// "hpcbench-<runtime>-<pid>-XXXX".
func tempPrefix(runtime string) string { return "hpcbench-" + runtime + "-" }

func (w *engineWrapper) Channel() pmi.Channel {
	if w.e.passFD {
		return pmi.ChannelFD
	}
	return pmi.ChannelTCP
}

func (w *engineWrapper) Choices() map[string]string {
	c := baseChoices(w.e.name, w.spec, w.Channel())
	isolationChoices(c, w.e.isolation(shmFlags(perRankIsolation(isolationOf(w.spec), mpiOf(w.spec, pmi.Job{}), pidHolderName("job"), w.spec.HostPID), w.spec)))
	isolationChoice(c, w.spec)
	engineShmChoices(c, w.e.name, w.spec)
	if w.spec.HostPID && isolationOf(w.spec) == IsolationPrivate {
		c["pid_namespace"] = "the host's: each rank is started by a task of its own (srun)"
	} else if c["pid"] == "private" && holderReuse.enabled.Load() {
		c["pid_namespace"] = "one per job at a time, held by a sleeping container that the process's later jobs of the image reuse once every container of the job is removed (a job of one rank: its own container's)"
	}
	c["env_passing"] = "explicit (-e NAME)"
	c["binds"] = "binary folder read-only; working folder, PMIx tmpdir writable"
	if w.spec.Layout == Bind {
		c["mpi_source"] = "host libraries bind-mounted read-only"
	} else {
		c["mpi_source"] = "image"
	}
	if w.e.passFD {
		c["pmi_fd"] = "--preserve-fds"
	}
	c["pmix"] = "PMIX_* forwarded, server tmpdir bound at the same path"
	for i := 0; i+1 < len(w.e.globalArgs); i++ {
		if w.e.globalArgs[i] == "--runtime" {
			c["oci_runtime"] = w.e.globalArgs[i+1]
		}
	}
	for _, kv := range w.e.env {
		if strings.HasPrefix(kv, "CONTAINERS_CONF=") {
			c["containers_conf"] = "no default ulimits (host lacks CAP_SYS_RESOURCE)"
		}
	}
	return c
}

func (w *engineWrapper) WrapRank(job pmi.Job, cmd *pmi.RankCommand) error {
	if job.PMI != pmi.PMIx && job.Channel == pmi.ChannelFD && !w.e.passFD {
		return fmt.Errorf("%s: rank %d: PMI_FD cannot cross into a %s container; use the tcp channel", w.e.name, cmd.Rank, w.e.name)
	}
	if err := checkPMI(job, cmd); err != nil {
		return err
	}
	p, err := placeRank(job, w.spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := w.libs.add(w.e.name, w.spec, job, p)
	if err != nil {
		return err
	}
	cmd.Env = withBuildEnv(cmd.Env, w.spec.MPIBuild)
	dir, err := w.jobDir(job.ID)
	if err != nil {
		return err
	}
	iso := isolationOf(w.spec)
	holder := pidHolderName(job.ID)
	if job.Ranks == 1 {
		holder = "" // its own container's namespace holds only it
	}
	flags := w.e.isolation(shmFlags(perRankIsolation(iso, mpiOf(w.spec, job), holder, w.spec.HostPID), w.spec))
	cmd.Env = withShmEnv(cmd.Env, w.spec, job)
	if strings.HasPrefix(pidOf(flags), "container:") {
		name, err := w.pidHolder(job)
		if err != nil {
			return fmt.Errorf("rank %d: %w", cmd.Rank, err)
		}
		for i, f := range flags {
			if f[0] == "--pid" {
				flags[i][1] = "container:" + name
			}
		}
	}
	cidfile := filepath.Join(dir, fmt.Sprintf("%s-%d.cid", job.ID, cmd.Rank))
	_ = os.Remove(cidfile)
	args := w.e.runFlags(job, cmd.Rank, flags)
	args = append(args, "--cidfile", cidfile)
	if cmd.CPU >= 0 {
		// The rank runs under the engine's shim, not under the pinned
		// client: pass the core on.
		args = append(args, "--cpuset-cpus", strconv.Itoa(cmd.CPU))
	}
	if w.e.passFD && len(cmd.ExtraFiles) > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(len(cmd.ExtraFiles)))
	}
	args = append(args, mountArgs(binds, ro)...)
	args = append(args, "-w", p.dir)
	args = append(args, envArgs(forwardedEnv(cmd.Env, w.spec.PassEnv))...)
	args = append(args, w.spec.Flags...)
	args = append(args, w.spec.Image.Ref)
	args = append(args, p.argv...)
	cmd.Argv = w.e.command(args...)
	cmd.Env = append(cmd.Env, w.e.env...)
	if !w.e.passFD {
		// Nothing reaches the container through fds; do not hand the
		// client sockets it would keep open.
		cmd.ExtraFiles = nil
	}
	w.watchPeak(cmd.Rank, cidfile)
	return nil
}

func (w *engineWrapper) Cleanup(job pmi.Job) error {
	w.mu.Lock()
	for _, pw := range w.peaks {
		if strings.HasPrefix(filepath.Base(pw.cidfile), job.ID+"-") {
			pw.stop()
		}
	}
	dir := w.jobDirs[job.ID]
	delete(w.jobDirs, job.ID)
	holder := w.holders[job.ID] // removed with the job's containers below, unless kept for reuse
	delete(w.holders, job.ID)
	w.mu.Unlock()
	err := w.e.removeJob(w.ctx, job.ID)
	if holder != "" && holder != pidHolderName(job.ID) {
		// Kept for the process's next job, once nothing of this one is
		// left in its namespace; otherwise removed.
		if err == nil {
			holderReuse.give(w.ctx, w.holderKey(), holder, w.e)
		} else {
			holderReuse.drop(w.ctx, holder, w.e)
		}
	}
	if dir != "" {
		// After the containers are gone: a client still starting one may
		// write its cidfile until then.
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = launchstate.CleanupFailed(fmt.Errorf("%s: cleanup of job %s: %w", w.e.name, job.ID, rerr))
		}
	}
	return err
}

func (e *engine) Cleanup(ctx context.Context, job pmi.Job) error { return e.removeJob(ctx, job.ID) }

// removeStaleTempDirs removes runtime's temporary folders
// ("hpcbench-<runtime>-<pid>-XXXX") whose hpcbench is gone.
func removeStaleTempDirs(runtime string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix(runtime)+"*"))
	for _, d := range dirs {
		if pid := ownerPid(filepath.Base(d), tempPrefix(runtime)); pid <= 0 || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// ownerPid reads the pid of the hpcbench that named something
// "<prefix><pid>-..." (a container, a folder, a join file): 0 when name
// does not start with prefix or carries no pid there.
func ownerPid(name, prefix string) int {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0
	}
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return 0
	}
	return pid
}

// removeJob removes every container labelled with jobID. A container whose
// client was killed while it was being created can appear a moment later,
// so a removal is followed by one more look.
func (e *engine) removeJob(ctx context.Context, jobID string) error {
	return launchstate.CleanupFailed(e.removeJobOnce(ctx, jobID))
}

func (e *engine) removeJobOnce(ctx context.Context, jobID string) error {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	for round := 0; round < 3; round++ {
		ids, err := e.listContainers(ctx, LabelJob+"="+jobID)
		if err != nil {
			return fmt.Errorf("%s: cleanup of job %s: %w", e.name, jobID, err)
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := e.tool(ctx, e.forceRemove(ids)...); err != nil {
			return fmt.Errorf("%s: cleanup of job %s: %w", e.name, jobID, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// forceRemove is the command line that kills and removes the containers
// ids at once. Podman's "rm -f" first waits for a stop timeout (10 s by
// default) that a rank or the pid namespace holder ("sleep infinity"
// ignores SIGTERM) always runs out: "-t 0" kills at once, as Docker's
// "rm -f" does. It cost the quick study 10 s per Podman run.
func (e *engine) forceRemove(ids []string) []string {
	args := []string{"rm", "-f"}
	if e.name == "podman" {
		args = append(args, "-t", "0")
	}
	return append(args, ids...)
}

// listContainers returns the IDs of all containers (running or not) that
// carry the label filter.
func (e *engine) listContainers(ctx context.Context, label string) ([]string, error) {
	if sock := e.dockerAPISocket(); sock != "" {
		if ids, err := dockerAPIContainers(ctx, sock, label); err == nil {
			return ids, nil
		}
	}
	out, err := e.tool(ctx, "ps", "-a", "-q", "--filter", "label="+label)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

func (e *engine) CleanupLeftovers(ctx context.Context) ([]string, error) {
	ownerField := `{{.Label "` + LabelOwner + `"}}`
	if e.name == "podman" {
		ownerField = `{{index .Labels "` + LabelOwner + `"}}`
	}
	out, err := e.tool(ctx, "ps", "-a", "--filter", "label="+LabelJob, "--format", "{{.ID}} {{.Names}} "+ownerField)
	if err != nil {
		return nil, fmt.Errorf("%s: listing leftover containers: %w", e.name, err)
	}
	var ids, names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		owner := 0
		if len(f) >= 3 {
			owner, _ = strconv.Atoi(f[2])
		}
		if processAlive(owner) {
			continue // its hpcbench still runs and will clean up itself
		}
		ids = append(ids, f[0])
		names = append(names, f[1])
	}
	removeStaleTempDirs(e.name)
	if len(ids) == 0 {
		return nil, nil
	}
	if _, err := e.tool(ctx, e.forceRemove(ids)...); err != nil {
		return nil, fmt.Errorf("%s: removing leftover containers %s: %w", e.name, strings.Join(names, ", "), err)
	}
	return names, nil
}

func (e *engine) WrapNode(ctx context.Context, spec Spec, job pmi.Job, cmd *pmi.RankCommand) error {
	if spec.Image.Ref == "" {
		return fmt.Errorf("%s: %w: the spec names no image (call Prepare first)", e.name, ErrImageNotFound)
	}
	if err := checkFlags(e.name, spec.Flags, detachFlags); err != nil {
		return err
	}
	p, err := placeNode(job, spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := nodeBuildBinds(ctx, e.name, spec, p)
	if err != nil {
		return err
	}
	cmd.Env = withBuildEnv(cmd.Env, spec.MPIBuild)
	e = e.withCommand(spec.Command)
	args := e.runFlags(job, -1, e.isolation(e.nodeIsolation(mpiOf(spec, job))))
	args = append(args, mountArgs(binds, ro)...)
	args = append(args, "-w", p.dir)
	args = append(args, envArgs(forwardedEnv(cmd.Env, spec.PassEnv))...)
	args = append(args, spec.Flags...)
	args = append(args, spec.Image.Ref)
	args = append(args, p.argv...)
	cmd.Argv = e.command(args...)
	cmd.Env = append(cmd.Env, e.env...)
	cmd.ExtraFiles = nil
	return nil
}

// NodeChoices are the choices of a per-node launch through WrapNode.
func NodeChoices(rt Runtime, spec Spec) map[string]string {
	spec.Layout = PerNode
	c := baseChoices(rt.Name(), spec, pmi.ChannelFD)
	c["pmi_server"] = "hpcbench inside the container"
	if rt.Name() != "native" {
		c["shm"] = string(ShmShared)
		c["shm_how"] = "one container holds the node's ranks"
	}
	if rt.Name() != "native" {
		isolationChoice(c, spec)
	}
	switch rt.Name() {
	case "docker", "podman":
		if e, ok := rt.(*engine); ok {
			isolationChoices(c, e.isolation(e.nodeIsolation(mpiOf(spec, pmi.Job{}))))
		}
	case "apptainer", "native":
		c["network"], c["ipc"], c["pid"] = "host", "host", "host"
		if a, ok := rt.(*apptainer); ok {
			apptainerPrivilegeChoices(c, spec)
			if unsquash() {
				c["image_mount"] = "unpacked to a temporary sandbox (--unsquash: /dev/fuse not usable by this user)"
			}
			if a.sharens() {
				c["userns"] = "shared (--sharens)"
			}
		}
	case "oci":
		c["network"], c["ipc"], c["pid"] = "host", "host", "host"
		ociIsolationChoices(c, spec, false)
	}
	return c
}
