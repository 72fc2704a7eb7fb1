package runtimes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
)

// Apptainer runs each rank with "apptainer exec IMAGE.sif". Apptainer
// shares the host's network, IPC and pid namespaces, passes inherited fds
// and the environment, and binds /tmp by default (all of which
// --containall would undo, so it is not used): PMI uses PMI_FD as natively.
// There is no daemon, so nothing outlives the ranks. The same adapter drives
// SingularityCE's "singularity" binary, which takes the same flags.
type apptainer struct {
	// prefer is the binary tried first ("apptainer" or "singularity").
	prefer string
	// command is the executable a config named; "" looks for prefer.
	command string

	once sync.Once
	bin  string
}

func newApptainer(alias, command string) Runtime {
	if alias == "singularity" {
		return &apptainer{prefer: "singularity", command: command}
	}
	return &apptainer{prefer: "apptainer", command: command}
}

func init() {
	register("apptainer", newApptainer)
	register("singularity", newApptainer)
}

func (a *apptainer) Name() string { return "apptainer" }

// binary finds the program: the preferred name, else the other one.
func (a *apptainer) binary() string {
	a.once.Do(func() {
		if a.command != "" {
			a.bin = a.command
			return
		}
		names := []string{"apptainer", "singularity"}
		if a.prefer == "singularity" {
			names = []string{"singularity", "apptainer"}
		}
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				a.bin = p
				return
			}
		}
		a.bin = a.prefer
	})
	return a.bin
}

// Capabilities: Apptainer shares the host's namespaces and passes
// inherited fds; there is no daemon, so nothing outlives the ranks.
func (a *apptainer) Capabilities() Capabilities {
	programs := []string{"apptainer", "singularity"}
	if a.prefer == "singularity" {
		programs = []string{"singularity", "apptainer"}
	}
	return Capabilities{
		Programs: programs, TakesCommand: true,
		Layouts:   []Layout{PerRank, PerNode, Bind},
		PassesFDs: true, Rootless: true, ImportsImages: true,
	}
}

// Fingerprint asks the program for its version; there is no engine.
func (a *apptainer) Fingerprint(ctx context.Context) Fingerprint {
	fp := Fingerprint{Runtime: "apptainer", Program: a.binary(), Capabilities: a.Capabilities()}
	if _, ok := fp.probeProgram(ctx, nil, a.prefer, "--version"); !ok {
		return fp
	}
	fp.Usable, fp.Hint = true, ""
	fp.Provenance = fp.Version
	if filepath.Base(fp.Program) == "singularity" {
		fp.Provenance = "singularity " + fp.Version
	}
	return fp
}

// Detect returns the version: see Fingerprint.
func (a *apptainer) Detect(ctx context.Context) (string, error) {
	path, err := exec.LookPath(a.binary())
	if err != nil {
		return a.Fingerprint(ctx).detected()
	}
	return detectCached(ctx, programKey("apptainer", path, a.binary()), path, a.Fingerprint)
}

// Prepare accepts a SIF path, a sandbox folder (its digest is its content
// digest, see images.RootfsDigest) or the name of an image in hpcbench's
// store.
func (a *apptainer) Prepare(_ context.Context, image string) (ImageInfo, error) {
	path := image
	meta := map[string]string{}
	if _, err := os.Stat(path); err != nil {
		m, lerr := images.OpenStore("").Lookup(image)
		if lerr != nil || m.SIF == nil {
			return ImageInfo{}, fmt.Errorf("apptainer: %w: %q is neither a SIF file nor an image with a SIF in the store %s (build it with 'hpcbench image build --name %s --runtimes apptainer')",
				ErrImageNotFound, image, images.OpenStore("").Root, image)
		}
		path = m.SIF.Path
		storeMeta(m, meta)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return ImageInfo{}, err
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		// A sandbox: its content digest, as the store records a root
		// filesystem's (a pinned sandbox is checked against it).
		digest, err := images.RootfsDigest(abs)
		if err != nil {
			return ImageInfo{}, fmt.Errorf("apptainer: sandbox %s: %w", abs, err)
		}
		meta["sandbox"] = "folder"
		return ImageInfo{Ref: abs, Digest: digest, Meta: meta}, nil
	}
	digest, err := fileDigest(abs)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("apptainer: image %s: %w", abs, err)
	}
	for k, v := range images.SIFMetadata(abs) {
		meta[k] = v
	}
	return ImageInfo{Ref: abs, Digest: digest, Meta: meta}, nil
}

// execFlags are the flags every "apptainer exec" gets for spec. The
// environment is cleaned (--cleanenv) and the allow-listed variables go in
// through APPTAINERENV_ (see passEnv). Private isolation leaves out the
// host's home folder, and as root drops every capability and privilege
// (--no-privs: Apptainer would otherwise keep nearly all of root's, and a
// rank could reach the host through /proc/<pid>/root). Host isolation
// keeps Apptainer's default capabilities; where root lacks
// CAP_SYS_RESOURCE, that one cannot be granted and is dropped.
func (a *apptainer) execFlags(spec Spec) []string {
	args := []string{"exec", "--cleanenv"}
	switch {
	case isolationOf(spec) == IsolationPrivate:
		args = append(args, "--no-mount", "home")
		if isRoot() {
			args = append(args, "--no-privs")
		}
	case isRoot() && !hasCapability(capSysResource):
		args = append(args, "--drop-caps", "CAP_SYS_RESOURCE")
	}
	if unsquash() {
		args = append(args, "--unsquash")
	}
	if shmOf(spec) == ShmIsolated && spec.Layout != PerNode {
		args = append(args, "--ipc")
	}
	if a.sharens() {
		args = append(args, "--sharens")
	}
	return args
}

// sharens reports whether the ranks' containers must share one user
// namespace: unprivileged, each "apptainer exec" makes its own, and ranks
// in sibling user namespaces cannot open each other's shared memory (UCX:
// "open(/proc/PID/fd/N) failed: Permission denied", then "Shared memory
// error" in MPI_Init). Apptainer's --sharens (1.3 and later) puts every
// container started by the same process (hpcbench) in one namespace, and
// unpacks the image once. SingularityCE has no such flag.
func (a *apptainer) sharens() bool {
	return !isRoot() && filepath.Base(a.binary()) != "singularity"
}

// unsquash reports whether SIF images must be unpacked to a temporary
// sandbox rather than mounted: an unprivileged Apptainer mounts a SIF with
// squashfuse, which needs /dev/fuse ("fuse: failed to open /dev/fuse:
// Permission denied" where only root may open it). Unpacking costs a few
// seconds per container and the image's size in temporary space.
func unsquash() bool {
	if isRoot() {
		return false
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return true
	}
	f.Close()
	return false
}

func bindFlag(binds []string, ro map[string]bool) []string {
	if len(binds) == 0 {
		return nil
	}
	specs := make([]string, len(binds))
	for i, b := range binds {
		specs[i] = b + ":" + b
		if ro[b] {
			specs[i] += ":ro"
		}
	}
	return []string{"--bind", strings.Join(specs, ",")}
}

func (a *apptainer) Wrapper(ctx context.Context, spec Spec) (Wrapper, error) {
	spec, err := perRankSpec("apptainer", spec)
	if err != nil {
		return nil, err
	}
	if spec.Image.Ref == "" {
		return nil, fmt.Errorf("apptainer: %w: the spec names no image (call Prepare first)", ErrImageNotFound)
	}
	if _, err := buildSource("apptainer", spec); err != nil {
		return nil, err
	}
	return &apptainerWrapper{a: a, spec: spec, libs: hostLibBinds{ctx: ctx}}, nil
}

func (a *apptainer) WrapNode(ctx context.Context, spec Spec, job pmi.Job, cmd *pmi.RankCommand) error {
	if spec.Image.Ref == "" {
		return fmt.Errorf("apptainer: %w: the spec names no image (call Prepare first)", ErrImageNotFound)
	}
	p, err := placeNode(job, spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := nodeBuildBinds(ctx, "apptainer", spec, p)
	if err != nil {
		return err
	}
	cmd.Env = a.passEnv(a.withBuildEnv(cmd.Env, spec.MPIBuild), spec.PassEnv)
	args := append([]string{orDefault(spec.Command, a.binary())}, a.execFlags(spec)...)
	args = append(args, bindFlag(binds, ro)...)
	args = append(args, "--pwd", p.dir)
	args = append(args, spec.Flags...)
	args = append(args, spec.Image.Ref)
	cmd.Argv = append(args, p.argv...)
	return nil
}

// Cleanup has nothing to do: without a daemon, the container is the
// process the launcher started and reaped.
func (a *apptainer) Cleanup(context.Context, pmi.Job) error { return nil }

type apptainerWrapper struct {
	a    *apptainer
	spec Spec

	libs hostLibBinds
}

func (w *apptainerWrapper) Channel() pmi.Channel { return pmi.ChannelFD }

func (w *apptainerWrapper) Choices() map[string]string {
	c := baseChoices("apptainer", w.spec, pmi.ChannelFD)
	c["network"], c["ipc"], c["pid"] = "host", "host", "host"
	isolationChoice(c, w.spec)
	c["env_passing"] = "--cleanenv, allowed variables as APPTAINERENV_*"
	c["pmix"] = "PMIX_* passed, server tmpdir bound at the same path"
	c["binds"] = "binary folder read-only; working folder, PMIx tmpdir writable; /tmp by default"
	if isolationOf(w.spec) == IsolationHost {
		c["binds"] += ", $HOME by default"
	}
	c["mpi_source"] = "image"
	if w.spec.Layout == Bind {
		c["mpi_source"] = "host libraries bind-mounted read-only"
	}
	apptainerPrivilegeChoices(c, w.spec)
	how := "the host's IPC namespace and /dev (Apptainer's default)"
	if shmOf(w.spec) == ShmIsolated {
		how = "--ipc: an IPC namespace per container (the host's /dev/shm stays mounted: the MPI is kept off it)"
	}
	shmChoices(c, w.spec, how, "available (same user, the host's pid namespace)")
	if w.a.sharens() {
		c["userns"] = "one user namespace for all ranks (--sharens)"
	}
	if unsquash() {
		c["image_mount"] = "unpacked to a temporary sandbox per container (--unsquash: /dev/fuse not usable by this user)"
	}
	return c
}

func (w *apptainerWrapper) WrapRank(job pmi.Job, cmd *pmi.RankCommand) error {
	if err := checkPMI(job, cmd); err != nil {
		return err
	}
	p, err := placeRank(job, w.spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := w.libs.add("apptainer", w.spec, job, p)
	if err != nil {
		return err
	}
	cmd.Env = w.a.passEnv(w.a.withBuildEnv(withShmEnv(cmd.Env, w.spec, job), w.spec.MPIBuild), w.spec.PassEnv)
	args := append([]string{orDefault(w.spec.Command, w.a.binary())}, w.a.execFlags(w.spec)...)
	args = append(args, bindFlag(binds, ro)...)
	args = append(args, "--pwd", p.dir)
	args = append(args, w.spec.Flags...)
	args = append(args, w.spec.Image.Ref)
	cmd.Argv = append(args, p.argv...)
	return nil
}

// Cleanup has nothing to do: Apptainer containers are the rank processes
// themselves, which the launcher reaps.
func (w *apptainerWrapper) Cleanup(pmi.Job) error { return nil }

// apptainerPrivilegeChoices records what execFlags does with root's
// privileges.
func apptainerPrivilegeChoices(c map[string]string, spec Spec) {
	switch {
	case isolationOf(spec) == IsolationPrivate:
		if isRoot() {
			c["privileges"] = "none (--no-privs: no capabilities, no new privileges)"
		}
	case isRoot() && !hasCapability(capSysResource):
		c["drop_caps"] = "CAP_SYS_RESOURCE"
	}
}

// envPrefix is the prefix of the variables Apptainer sets inside a
// container cleaned of the host's environment.
func (a *apptainer) envPrefix() string {
	if filepath.Base(a.binary()) == "singularity" {
		return "SINGULARITYENV_"
	}
	return "APPTAINERENV_"
}

// passEnv adds, for every allow-listed variable of env (forwardedEnv with
// patterns), its APPTAINERENV_ twin, which --cleanenv lets through: the
// container gets those and no other of the host's. PATH and
// LD_LIBRARY_PATH stay the container's own (withBuildEnv puts a build's
// folder on the latter).
func (a *apptainer) passEnv(env []string, patterns []string) []string {
	prefix := a.envPrefix()
	out := append([]string(nil), env...)
	for _, name := range forwardedEnv(env, patterns) {
		if name == "PATH" || name == "LD_LIBRARY_PATH" {
			continue
		}
		if _, set := envLookup(env, prefix+name); set {
			continue // set on purpose by the caller
		}
		v, _ := envLookup(env, name)
		out = append(out, prefix+name+"="+v)
	}
	return out
}

// withBuildEnv puts the build's lib folder first on the rank's
// LD_LIBRARY_PATH inside the container. Apptainer does not pass the host's
// LD_LIBRARY_PATH in (it sets its own, /.singularity.d/libs); it takes the
// value from APPTAINERENV_LD_LIBRARY_PATH (SINGULARITYENV_ for
// SingularityCE) and appends its own folder.
func (a *apptainer) withBuildEnv(env []string, b *mpibuild.Build) []string {
	if b == nil {
		return env
	}
	key := a.envPrefix() + "LD_LIBRARY_PATH"
	path := b.LibDir
	if old, ok := envLookup(env, key); ok && old != "" && old != b.LibDir && !strings.HasPrefix(old, b.LibDir+":") {
		path += ":" + old
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+path)
}
