package runtimes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/images"
	"github.com/hpcbench/hpcbench/internal/launchstate"
	"github.com/hpcbench/hpcbench/pmi"
)

// Charliecloud runs each rank with "ch-run IMAGE -- program": ch-run makes
// an unprivileged user and mount namespace, pivots into a root filesystem
// folder and execs the program, so the rank is the process the launcher
// started (inherited fds, hence PMI_FD, pass through; there is no daemon).
// Network, pid and IPC namespaces stay the host's.
//
// Two ranks in sibling user namespaces cannot open each other's shared
// memory through /proc (UCX: "mm ep failed to connect to remote FIFO ...
// Shared memory error" in MPI_Init) nor read each other's memory (CMA), so
// per-rank ranks join one container per node: "--join-ct=N
// --join-tag=TAG", with a tag unique to the job. The first ch-run makes the
// namespaces, the others enter them; the namespaces end with the last
// rank.
//
// ch-run 0.31 mounts the image read-only and cannot create a missing bind
// destination in it, and its binds are all writable. So each job runs a
// copy of the image made of hard links (a few hundredths of a second;
// ch-run mounts it read-only, so the links cannot be written through),
// in which hpcbench makes the mount points of the writable folders (the
// working folder, the PMIx folders) and into which it links the folders
// that must stay read-only (the program's folder, the bind layout's MPI
// libraries) instead of binding them (an image of hpcbench's store keeps
// one such copy beside it, used by one job at a time and put back after
// each: chShared). The container's /tmp is a folder of
// the job's own (ch-run binds $TMPDIR there), not the host's /tmp. The
// copy, and the join's semaphore files in /dev/shm should a rank die
// before the others joined, are removed by Cleanup, and after a killed
// hpcbench by CleanupLeftovers.
type charliecloud struct {
	// command is the executable a config named; "" looks for ch-run.
	command string

	once sync.Once
	bin  string
}

func newCharliecloud(_, command string) Runtime { return &charliecloud{command: command} }

func init() {
	register("charliecloud", newCharliecloud)
	register("ch-run", newCharliecloud)
}

func (c *charliecloud) Name() string { return "charliecloud" }

func (c *charliecloud) binary() string {
	c.once.Do(func() {
		if c.command != "" {
			c.bin = c.command
			return
		}
		if p, err := exec.LookPath("ch-run"); err == nil {
			c.bin = p
			return
		}
		c.bin = "ch-run"
	})
	return c.bin
}

// Capabilities: ch-run passes inherited fds and needs no privilege; its
// job image copies and join semaphores can outlive a killed hpcbench.
func (c *charliecloud) Capabilities() Capabilities {
	return Capabilities{
		Programs: []string{"ch-run"}, TakesCommand: true,
		Layouts:   []Layout{PerRank, PerNode, Bind},
		PassesFDs: true, Rootless: true, Outlives: true, RunsRootfs: true,
	}
}

// chUser is the user name ch-run needs in $USER (it refuses to start
// without it).
func chUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// Fingerprint asks ch-run for its version (it prints it on stderr) and
// checks that user namespaces are open to it.
func (c *charliecloud) Fingerprint(ctx context.Context) Fingerprint {
	fp := Fingerprint{Runtime: "charliecloud", Program: c.binary(), Capabilities: c.Capabilities()}
	fp.Hint = installHint(fp.Program, "ch-run")
	path, err := exec.LookPath(fp.Program)
	if err != nil {
		fp.Err = fmt.Errorf("charliecloud: %w: %w (%s not found)", ErrUnavailable, ErrNotInstalled, fp.Program)
		return fp
	}
	fp.Found, fp.Path = true, path
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = append(os.Environ(), "USER="+chUser(), "LC_ALL=C")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%s --version: %w", path, ErrProbeTimedOut)
	} else if err != nil {
		err = fmt.Errorf("%s --version: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	if err != nil {
		fp.Err, fp.Detail = unavailable("charliecloud", err), err.Error()
		return fp
	}
	fp.Version = VersionNumber(firstLine(string(out)))
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		fp.Detail = "user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)"
		fp.Hint = "sysctl user.max_user_namespaces=15000"
		fp.Err = fmt.Errorf("charliecloud: %w: %s", ErrUnavailable, fp.Detail)
		return fp
	}
	fp.Usable, fp.Hint = true, ""
	fp.Provenance = "ch-run " + fp.Version
	if c.squashFS(ctx) {
		fp.Detail = "mounts SquashFS images"
	} else {
		fp.Detail = "runs folder images only (this ch-run was built without SquashFS support)"
	}
	return fp
}

// squashFS reports whether this ch-run mounts SquashFS images itself
// ("ch-run --feature=squash"; Debian's is built without squashfuse).
func (c *charliecloud) squashFS(ctx context.Context) bool {
	cmd := exec.CommandContext(ctx, c.binary(), "--feature=squash")
	cmd.Env = append(os.Environ(), "USER="+chUser())
	return cmd.Run() == nil
}

// Detect returns "ch-run <version>": see Fingerprint.
func (c *charliecloud) Detect(ctx context.Context) (string, error) {
	path, err := exec.LookPath(c.binary())
	if err != nil {
		return c.Fingerprint(ctx).detected()
	}
	userns, _ := os.ReadFile("/proc/sys/user/max_user_namespaces")
	return detectCached(ctx, programKey("charliecloud", path, strings.TrimSpace(string(userns))), path, c.Fingerprint)
}

// Prepare accepts the name of an image in hpcbench's store (its root
// filesystem folder, which ch-run runs as it is) or a root filesystem
// folder (its digest is its content digest). A SquashFS file is refused:
// each job needs mount points added to a folder (see the type's comment);
// unpack it with unsquashfs and give the folder.
func (c *charliecloud) Prepare(ctx context.Context, image string) (ImageInfo, error) {
	if fi, err := os.Stat(image); err == nil {
		abs, err := filepath.Abs(image)
		if err != nil {
			return ImageInfo{}, err
		}
		if !fi.IsDir() {
			why := "this ch-run cannot mount SquashFS images ('ch-run --feature=squash' fails: built without squashfuse)"
			if c.squashFS(ctx) {
				why = "hpcbench adds each job's mount points to a folder, which a SquashFS file cannot take"
			}
			return ImageInfo{}, fmt.Errorf("charliecloud: %w: %s is a file: %s; unpack it (unsquashfs -d DIR %s) and give the folder, or name an image of the store",
				ErrImageNotFound, abs, why, abs)
		}
		if st, err := os.Stat(filepath.Join(abs, "rootfs")); err == nil && st.IsDir() {
			abs = filepath.Join(abs, "rootfs")
		}
		digest, err := images.RootfsDigest(abs)
		if err != nil {
			return ImageInfo{}, fmt.Errorf("charliecloud: image folder %s: %w", abs, err)
		}
		return ImageInfo{Ref: abs, Digest: digest, Meta: map[string]string{"rootfs": "folder"}}, nil
	}
	m, err := images.OpenStore("").Lookup(image)
	if err != nil || m.Rootfs == "" {
		return ImageInfo{}, fmt.Errorf("charliecloud: %w: %q is neither a folder nor an image in the store %s (build it with 'hpcbench image build --name %s')",
			ErrImageNotFound, image, images.OpenStore("").Root, image)
	}
	if _, err := os.Stat(m.Rootfs); err != nil {
		return ImageInfo{}, fmt.Errorf("charliecloud: %w: image %s: its root filesystem is gone: %v (rebuild it)", ErrImageNotFound, image, err)
	}
	meta := map[string]string{}
	storeMeta(m, meta)
	return ImageInfo{Ref: m.Rootfs, Digest: m.RootfsDigest, Meta: meta}, nil
}

// chRefusedFlags are the ch-run options hpcbench sets itself, or that
// would undo what it guarantees.
var chRefusedFlags = map[string]string{
	"-j":            "hpcbench joins each node's ranks in one container itself (shm)",
	"--join":        "hpcbench joins each node's ranks in one container itself (shm)",
	"--join-ct":     "hpcbench joins each node's ranks in one container itself (shm)",
	"--join-tag":    "hpcbench joins each node's ranks in one container itself (shm)",
	"--join-pid":    "hpcbench joins each node's ranks in one container itself (shm)",
	"-w":            "the image stays read-only: its files are hard links to the store's",
	"--write":       "the image stays read-only: its files are hard links to the store's",
	"-s":            "hpcbench runs folder images; there is no storage to choose",
	"--storage":     "hpcbench runs folder images; there is no storage to choose",
	"--unsafe":      "not for runs hpcbench records",
	"-c":            "hpcbench sets the rank's working folder itself",
	"--cd":          "hpcbench sets the rank's working folder itself",
	"-t":            "the container's /tmp is already the job's own folder",
	"--home":        "the host's home folder stays out of the container",
	"--help":        "not a run option",
	"--version":     "not a run option",
	"--feature":     "not a run option",
	"--ch-ssh":      "not for runs hpcbench records",
	"--private-tmp": "the container's /tmp is already the job's own folder",
}

func (c *charliecloud) Wrapper(ctx context.Context, spec Spec) (Wrapper, error) {
	spec, err := perRankSpec("charliecloud", spec)
	if err != nil {
		return nil, err
	}
	if spec.Image.Ref == "" {
		return nil, fmt.Errorf("charliecloud: %w: the spec names no image (call Prepare first)", ErrImageNotFound)
	}
	if err := checkFlags("charliecloud", spec.Flags, chRefusedFlags); err != nil {
		return nil, err
	}
	if _, err := buildSource("charliecloud", spec); err != nil {
		return nil, err
	}
	if spec.HostPID && shmOf(spec) == ShmShared {
		// Ranks started by tasks of their own (srun) are jobs of their
		// own here: they would not join one container, and in sibling
		// containers MPICH fails in MPI_Init (UCX: "Shared memory error").
		return nil, fmt.Errorf("charliecloud: %w: ranks started one per task (Slurm) cannot join one container per node, so they cannot share memory: use shm = \"isolated\"", ErrLayout)
	}
	return &chWrapper{c: c, bin: orDefault(spec.Command, c.binary()), spec: spec, libs: hostLibBinds{ctx: ctx}, jobs: map[string]*chJob{}}, nil
}

// chJobID is what a job ID may be: it names the job's folder and its join
// tag (a file name in /dev/shm); at most 128 characters (validJobID).
var chJobID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validJobID says whether jobID may name a job's folder and join tag. The
// length is checked apart: a counted repetition makes the expression
// costly to compile for every hpcbench start.
func validJobID(jobID string) bool { return len(jobID) <= 128 && chJobID.MatchString(jobID) }

// chJobDirPrefix starts the folders of this process's jobs in $TMPDIR:
// "hpcbench-charliecloud-<pid>-<job>".
func chJobDirPrefix(pid int) string {
	return tempPrefix("charliecloud") + strconv.Itoa(pid) + "-"
}

// chJoinTag is the join tag of job: unique to the job and to this
// hpcbench, whose pid it carries (CleanupLeftovers reads it back).
func chJoinTag(jobID string) string {
	return "hpcbench-" + strconv.Itoa(os.Getpid()) + "-" + jobID
}

// chJob is one job's container on this node: its image copy, its /tmp,
// and the mount points made in them.
type chJob struct {
	dir   string // $TMPDIR/hpcbench-charliecloud-<pid>-<job>
	root  string // dir/root: the image's copy
	tmp   string // dir/tmp: the container's /tmp
	mu    sync.Mutex
	ready map[string]bool // the folders placed in it
	// binds are the -b arguments every rank of the job gets (ch-run uses
	// the first rank's only: they must all be the same).
	binds []string
	// shared is the store image's shared copy the job runs (root is its
	// root), nil for a copy of the job's own.
	shared *chShared
}

// newChJob makes job's folder and links image into it, or, with share,
// takes the store image's shared copy where it is free (chShared).
func newChJob(info ImageInfo, jobID string, share bool) (*chJob, error) {
	image := info.Ref
	if !validJobID(jobID) {
		return nil, fmt.Errorf("charliecloud: job ID %q: want letters, digits, '.', '_' or '-'", jobID)
	}
	dir := filepath.Join(os.TempDir(), chJobDirPrefix(os.Getpid())+jobID)
	_ = os.RemoveAll(dir) // a folder of an earlier run with this ID
	j := &chJob{dir: dir, root: filepath.Join(dir, "root"), tmp: filepath.Join(dir, "tmp"), ready: map[string]bool{}}
	if err := os.MkdirAll(j.tmp, 0o1777); err != nil {
		return nil, fmt.Errorf("charliecloud: job folder: %w", err)
	}
	if err := os.Chmod(j.tmp, 0o1777); err != nil {
		return nil, err
	}
	if share {
		if sh := openChShared(info); sh != nil {
			j.shared, j.root = sh, sh.root
			return j, nil
		}
	}
	if err := linkTree(image, j.root); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("charliecloud: copying image %s for job %s: %w", image, jobID, err)
	}
	// ch-run binds files of its own over /etc/passwd and /etc/group and
	// fails where the image has none (a bare busybox folder): give it
	// mount points.
	if err := chMountPoints(j.root); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return j, nil
}

// underTmp returns p's path relative to /tmp, and whether p lies under
// it: the container's /tmp is the job's own folder (ch-run binds the
// $TMPDIR it is given there), so host paths under /tmp are placed in that
// folder rather than in the image. Paths under a host $TMPDIR elsewhere
// keep their own place in the image.
func underTmp(p string) (string, bool) {
	if rel, ok := strings.CutPrefix(p, "/tmp/"); ok {
		return rel, true
	}
	return "", p == "/tmp"
}

// place puts the rank's folders in the job's container: read-only ones
// are linked into the image copy (ch-run mounts it read-only) or copied
// into the job's /tmp; writable ones get a mount point there and a bind.
func (j *chJob) place(binds []string, ro map[string]bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, b := range binds {
		if j.ready[b] {
			continue
		}
		rel, inTmp := underTmp(b)
		base, sub := j.root, strings.TrimPrefix(b, "/")
		if inTmp {
			base, sub = j.tmp, rel
		}
		shared := j.shared != nil && base == j.root
		if shared {
			if err := j.shared.change(filepath.Join(base, sub)); err != nil {
				return err
			}
		}
		if ro[b] {
			dst, err := resolveIn(base, sub)
			if err != nil {
				return err
			}
			if shared {
				if err := j.shared.change(dst); err != nil {
					return err
				}
			}
			_ = os.RemoveAll(dst) // the image's own copy: the host's replaces it, as a bind would
			if inTmp {
				err = copyTree(b, dst)
			} else {
				err = linkTree(b, dst)
			}
			if err != nil {
				return fmt.Errorf("charliecloud: placing %s read-only: %w", b, err)
			}
		} else {
			if err := mountPoint(base, sub, b); err != nil {
				return err
			}
			j.binds = append(j.binds, "--bind="+b)
		}
		j.ready[b] = true
	}
	return nil
}

func (c *charliecloud) WrapNode(ctx context.Context, spec Spec, job pmi.Job, cmd *pmi.RankCommand) error {
	if spec.Image.Ref == "" {
		return fmt.Errorf("charliecloud: %w: the spec names no image (call Prepare first)", ErrImageNotFound)
	}
	if err := checkFlags("charliecloud", spec.Flags, chRefusedFlags); err != nil {
		return err
	}
	p, err := placeNode(job, spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := nodeBuildBinds(ctx, "charliecloud", spec, p)
	if err != nil {
		return err
	}
	j, err := newChJob(spec.Image, job.ID, false)
	if err != nil {
		return err
	}
	if err := j.place(binds, ro); err != nil {
		os.RemoveAll(j.dir)
		return err
	}
	env, unset := chEnv(withBuildEnv(cmd.Env, spec.MPIBuild), spec.PassEnv, j.tmp)
	args := []string{orDefault(spec.Command, c.binary())}
	args = append(args, j.binds...)
	args = append(args, "--cd="+p.dir)
	args = append(args, unset...)
	args = append(args, spec.Flags...)
	args = append(args, j.root, "--")
	cmd.Argv = append(args, p.argv...)
	cmd.Env = env
	cmd.ExtraFiles = nil
	return nil
}

// chEnv is the environment ch-run runs with, which it passes on to the
// container: the allow-listed variables (forwardedEnv), $USER (ch-run
// needs it; unset inside unless allow-listed) and $TMPDIR, the job's /tmp
// folder (ch-run binds it at /tmp and unsets it inside). unset are the
// ch-run flags that unset the variables only ch-run needs.
func chEnv(env, passEnv []string, tmp string) (out []string, unset []string) {
	for _, kv := range containerEnv(env, passEnv) {
		if !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "USER=") {
			out = append(out, kv)
		}
	}
	out = append(out, "TMPDIR="+tmp)
	if v, ok := envLookup(env, "USER"); ok && envAllowed("USER", passEnv) {
		out = append(out, "USER="+v)
	} else {
		out = append(out, "USER="+chUser())
		unset = append(unset, "--unset-env=USER")
	}
	return out, unset
}

// Cleanup removes job's folder and its join files: the container itself
// is the ranks, which the launcher reaped.
func (c *charliecloud) Cleanup(_ context.Context, job pmi.Job) error {
	return chCleanup(os.Getpid(), job.ID)
}

// chCleanup removes the folder and join files of pid's job jobID.
func chCleanup(pid int, jobID string) error {
	if !validJobID(jobID) {
		return nil // nothing was made for it
	}
	var errs []error
	tag := "hpcbench-" + strconv.Itoa(pid) + "-" + jobID
	for _, f := range chJoinFiles(tag) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(os.TempDir(), chJobDirPrefix(pid)+jobID)); err != nil {
		errs = append(errs, err)
	}
	return launchstate.CleanupFailed(errors.Join(errs...))
}

// chJoinFiles are the POSIX shared memory and semaphore files ch-run
// makes in /dev/shm for a join tag (left when a peer never joined).
func chJoinFiles(tag string) []string {
	return []string{"/dev/shm/ch-run_shm-" + tag, "/dev/shm/sem.ch-run_sem-" + tag}
}

// CleanupLeftovers removes the job folders and join files of hpcbench
// processes that are gone, and returns the join tags and folders removed.
func (c *charliecloud) CleanupLeftovers(context.Context) ([]string, error) {
	var removed []string
	var errs []error
	for _, pattern := range []string{"/dev/shm/ch-run_shm-hpcbench-*", "/dev/shm/sem.ch-run_sem-hpcbench-*"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			_, rest, _ := strings.Cut(filepath.Base(f), "-hpcbench-")
			if pid := ownerPid(rest, ""); pid <= 0 || processAlive(pid) {
				continue
			}
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, filepath.Base(f))
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix("charliecloud")+"*"))
	for _, d := range dirs {
		if pid := ownerPid(filepath.Base(d), tempPrefix("charliecloud")); pid <= 0 || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, filepath.Base(d))
	}
	return removed, errors.Join(errs...)
}

type chWrapper struct {
	c *charliecloud
	// bin is the ch-run the ranks run under (spec.Command, else c's).
	bin  string
	spec Spec

	libs hostLibBinds

	mu   sync.Mutex
	jobs map[string]*chJob
}

func (w *chWrapper) Channel() pmi.Channel { return pmi.ChannelFD }

// joined says whether the job's ranks share one container: in shared
// mode (Wrapper refuses it where each rank is a job of its own,
// Spec.HostPID: one srun task per rank, with no peers to join).
func (w *chWrapper) joined() bool { return !w.spec.HostPID && shmOf(w.spec) == ShmShared }

func (w *chWrapper) Choices() map[string]string {
	c := baseChoices("charliecloud", w.spec, pmi.ChannelFD)
	c["network"], c["pid"] = "host", "host"
	c["ipc"] = "host"
	isolationChoice(c, w.spec)
	if w.joined() {
		c["container"] = "one per node: each rank's ch-run joins it (--join-ct, --join-tag unique to the job)"
		c["userns"] = "one user and mount namespace for the node's ranks"
	} else {
		c["container"] = "one per rank"
		c["userns"] = "one per rank (no shared memory through /proc, no CMA between ranks)"
	}
	if w.joined() {
		shmChoices(c, w.spec, "--join: the node's ranks in one user and mount namespace", "available (one user namespace for the node's ranks)")
	} else {
		shmChoices(c, w.spec, "a container per rank: sibling user namespaces cannot open each other's shared memory", "unavailable (sibling user namespaces)")
	}
	c["image_mount"] = "read-only copy of hard links: a store image's, kept beside it and used by one job at a time (put back after each), else made per job"
	c["env_passing"] = "ch-run's environment: allowed variables only"
	c["pmix"] = "PMIX_* passed, server tmpdir bound at the same path"
	c["binds"] = "binary folder linked into the read-only image (copied where under $TMPDIR); working folder, PMIx tmpdir bound writable; /tmp the job's own folder"
	c["mpi_source"] = "image"
	if w.spec.Layout == Bind {
		c["mpi_source"] = "host libraries linked read-only into the image"
	}
	return c
}

// job returns job's container folder, made on first use.
func (w *chWrapper) job(job pmi.Job) (*chJob, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if j := w.jobs[job.ID]; j != nil {
		return j, nil
	}
	j, err := newChJob(w.spec.Image, job.ID, true)
	if err != nil {
		return nil, err
	}
	w.jobs[job.ID] = j
	return j, nil
}

func (w *chWrapper) WrapRank(job pmi.Job, cmd *pmi.RankCommand) error {
	if err := checkPMI(job, cmd); err != nil {
		return err
	}
	p, err := placeRank(job, w.spec, cmd)
	if err != nil {
		return err
	}
	binds, ro, err := w.libs.add("charliecloud", w.spec, job, p)
	if err != nil {
		return err
	}
	j, err := w.job(job)
	if err != nil {
		return err
	}
	if err := j.place(binds, ro); err != nil {
		return fmt.Errorf("charliecloud: rank %d: %w", cmd.Rank, err)
	}
	env, unset := chEnv(withBuildEnv(withShmEnv(cmd.Env, w.spec, job), w.spec.MPIBuild), w.spec.PassEnv, j.tmp)
	args := []string{w.bin}
	if w.joined() {
		args = append(args, "--join-ct="+strconv.Itoa(job.Ranks), "--join-tag="+chJoinTag(job.ID))
	}
	j.mu.Lock()
	args = append(args, j.binds...)
	j.mu.Unlock()
	args = append(args, "--cd="+p.dir)
	args = append(args, unset...)
	args = append(args, w.spec.Flags...)
	args = append(args, j.root, "--")
	cmd.Argv = append(args, p.argv...)
	cmd.Env = env
	return nil
}

// Cleanup removes the job's image copy and join files: the ranks were the
// container, and the namespaces ended with the last of them.
func (w *chWrapper) Cleanup(job pmi.Job) error {
	w.mu.Lock()
	j := w.jobs[job.ID]
	delete(w.jobs, job.ID)
	w.mu.Unlock()
	var err error
	if j != nil && j.shared != nil {
		// The ranks are gone: the shared copy goes back to the image's.
		err = launchstate.CleanupFailed(j.shared.restore())
	}
	return errors.Join(err, chCleanup(os.Getpid(), job.ID))
}
