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

	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/pmi"
)

// TestCharliecloudArgv: a per-rank rank joins its node's container under
// a tag of its job, gets the allow-listed environment plus what ch-run
// needs, its writable folders as binds over mount points made in the
// job's image copy, and its program's folder linked read-only into it.
func TestCharliecloudArgv(t *testing.T) {
	image := t.TempDir()
	for _, d := range []string{"bin", "etc", "usr/lib"} {
		os.MkdirAll(filepath.Join(image, d), 0o755)
	}
	os.WriteFile(filepath.Join(image, "bin", "sh"), []byte("sh"), 0o755)
	os.Symlink("usr/lib", filepath.Join(image, "lib"))
	progDir := filepath.Join(t.TempDir(), "bench")
	os.MkdirAll(progDir, 0o755)
	prog := filepath.Join(progDir, "ep")
	os.WriteFile(prog, []byte("ep"), 0o755)
	work := t.TempDir()
	t.Setenv("HPCBENCH_SECRET", "x")

	rt, _ := Get("ch-run")
	if rt.Name() != "charliecloud" {
		t.Fatalf("ch-run answers as %q", rt.Name())
	}
	spec := Spec{Layout: PerRank, Image: ImageInfo{Ref: image, Digest: "sha256:abc"}, Flags: []string{"--set-env=X=1"}, Command: "ch-run"}
	w, err := rt.Wrapper(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	socket, _ := os.Open(os.DevNull)
	defer socket.Close()
	job := pmi.Job{ID: "cc1", Ranks: 2, PMI: pmi.PMI1, Channel: w.Channel()}
	defer w.Cleanup(job)
	cmd := &pmi.RankCommand{Rank: 1, Argv: []string{prog, "S"}, Dir: work, CPU: -1, ExtraFiles: []*os.File{socket},
		Env: append(os.Environ(), "PMI_FD=3", "PMI_RANK=1", "PMI_SIZE=2")}
	if err := w.WrapRank(job, cmd); err != nil {
		t.Fatal(err)
	}
	argv := cmd.Argv
	sep := slices.Index(argv, "--")
	if argv[0] != "ch-run" || sep < 2 || !slices.Equal(argv[sep+1:], []string{prog, "S"}) {
		t.Fatalf("argv %q", argv)
	}
	root := argv[sep-1]
	if argv[sep-2] != "--set-env=X=1" {
		t.Errorf("runtime.flags not right before the image: %q", argv)
	}
	tag := chJoinTag(job.ID)
	for _, want := range []string{"--join-ct=2", "--join-tag=" + tag, "--cd=" + work, "--unset-env=USER"} {
		if !slices.Contains(argv, want) {
			t.Errorf("argv lacks %s: %q", want, argv)
		}
	}
	if !strings.Contains(tag, strconv.Itoa(os.Getpid())) {
		t.Errorf("join tag %q does not carry the owner's pid", tag)
	}
	// The working folder is bound writable over a mount point; the
	// program's folder is not bound but linked into the read-only image.
	wantBind := "--bind=" + work
	if !slices.Contains(argv, wantBind) || slices.Contains(argv, "--bind="+progDir) {
		t.Errorf("binds in %q: want %s and not the program's folder", argv, wantBind)
	}
	mp, inTmp := underTmp(work)
	base := root
	if inTmp {
		base = filepath.Join(filepath.Dir(root), "tmp")
	} else {
		mp = strings.TrimPrefix(work, "/")
	}
	if fi, err := os.Stat(filepath.Join(base, mp)); err != nil || !fi.IsDir() {
		t.Errorf("no mount point for %s in the job's container: %v", work, err)
	}
	progRel, progInTmp := underTmp(prog)
	progBase := root
	if progInTmp {
		progBase = filepath.Join(filepath.Dir(root), "tmp")
	} else {
		progRel = strings.TrimPrefix(prog, "/")
	}
	if b, err := os.ReadFile(filepath.Join(progBase, progRel)); err != nil || string(b) != "ep" {
		t.Errorf("the program is not in the job's container: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc", "passwd")); err != nil || fi.Size() != 0 {
		t.Errorf("no /etc/passwd mount point in the image copy: %v", err)
	}
	// Nothing of the host's environment beyond the allow-list.
	if _, leaked := envLookup(cmd.Env, "HPCBENCH_SECRET"); leaked {
		t.Error("a variable outside the allow-list reached ch-run's environment")
	}
	if v, _ := envLookup(cmd.Env, "TMPDIR"); v != filepath.Join(filepath.Dir(root), "tmp") {
		t.Errorf("TMPDIR for ch-run = %q, want the job's /tmp folder", v)
	}
	if v, _ := envLookup(cmd.Env, "USER"); v == "" {
		t.Error("ch-run gets no $USER")
	}
	c := w.Choices()
	if c["runtime"] != "charliecloud" || c["pmi_channel"] != "fd" || !strings.Contains(c["container"], "one per node") {
		t.Errorf("choices %v", c)
	}
	// Cleanup removes the job's folder.
	dir := filepath.Dir(root)
	if err := w.Cleanup(job); err != nil {
		t.Fatal(err)
	}
	if fileExists(dir) {
		t.Errorf("Cleanup left %s", dir)
	}
}

// TestCharliecloudRefusesFlags: ch-run options hpcbench sets itself, or
// that would make the image writable, are refused with the reason.
func TestCharliecloudRefusesFlags(t *testing.T) {
	rt, _ := Get("charliecloud")
	for _, f := range []string{"--join-tag=x", "-w", "--write", "--cd=/", "--home", "--private-tmp"} {
		_, err := rt.Wrapper(context.Background(), Spec{Layout: PerRank, Image: ImageInfo{Ref: t.TempDir()}, Flags: []string{f}})
		if !errors.Is(err, ErrFlags) {
			t.Errorf("flag %s: %v, want ErrFlags", f, err)
		}
	}
}

// TestResolveInStaysInside: the image's symbolic links are followed as
// the container sees them, never out of the image.
func TestResolveInStaysInside(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr", "lib"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/usr", filepath.Join(root, "abs"))
	os.Symlink("../../../../../../etc", filepath.Join(root, "up"))
	for rel, want := range map[string]string{
		"lib/x/libm.so": "usr/lib/x/libm.so",
		"abs/lib/a":     "usr/lib/a",
		"up/passwd":     "etc/passwd",
	} {
		got, err := resolveIn(root, rel)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if got != filepath.Join(root, want) {
			t.Errorf("resolveIn(%s) = %s, want %s inside the image", rel, got, want)
		}
	}
	// A bind's mount point is never made through a link ch-run would
	// follow from the host's root.
	if err := mountPoint(root, "abs/x", t.TempDir()); err == nil {
		t.Error("a mount point through a symbolic link was made")
	}
}

// TestCharliecloudLeftovers: the job folders and join files of a killed
// hpcbench go; those of a live one stay.
func TestCharliecloudLeftovers(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid
	var deadFiles, liveFiles []string
	for _, c := range []struct {
		pid   int
		files *[]string
	}{{deadPID, &deadFiles}, {os.Getpid(), &liveFiles}} {
		dir := filepath.Join(os.TempDir(), chJobDirPrefix(c.pid)+"j1")
		if err := os.MkdirAll(filepath.Join(dir, "root"), 0o755); err != nil {
			t.Fatal(err)
		}
		*c.files = append(*c.files, dir)
		for _, f := range chJoinFiles("hpcbench-" + strconv.Itoa(c.pid) + "-j1t" + strconv.Itoa(os.Getpid())) {
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				testenv.Skipf(t, "cannot write in /dev/shm: %v", err)
			}
			*c.files = append(*c.files, f)
		}
	}
	defer func() {
		for _, f := range append(deadFiles, liveFiles...) {
			os.RemoveAll(f)
		}
	}()
	rt, _ := Get("charliecloud")
	removed, err := rt.(LeftoverCleaner).CleanupLeftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range deadFiles {
		if fileExists(f) {
			t.Errorf("%s of a dead hpcbench survived (removed %v)", f, removed)
		}
	}
	for _, f := range liveFiles {
		if !fileExists(f) {
			t.Errorf("%s of a live hpcbench was removed", f)
		}
	}
}

// TestCharliecloudSquashFS: a SquashFS file made with mksquashfs is
// refused with the reason (this ch-run cannot mount it, or hpcbench needs
// a folder), never run wrongly.
func TestCharliecloudSquashFS(t *testing.T) {
	mksquashfs := testenv.LookPath(t, "mksquashfs", "apt-get install squashfs-tools")
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	sqfs := filepath.Join(t.TempDir(), "img.sqfs")
	if out, err := exec.Command(mksquashfs, src, sqfs, "-quiet", "-noappend").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, out)
	}
	rt := available(t, "charliecloud")
	_, err := rt.Prepare(context.Background(), sqfs)
	if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), "SquashFS") || !strings.Contains(err.Error(), "unsquashfs") {
		t.Errorf("Prepare(%s) = %v, want a refusal saying why", sqfs, err)
	}
	info, err := rt.Prepare(context.Background(), src)
	if err != nil || info.Ref != src || !strings.HasPrefix(info.Digest, "sha256:") {
		t.Errorf("Prepare(folder) = %+v, %v", info, err)
	}
}

// TestCharliecloudSlurmNeedsIsolated: ranks started one per srun task
// cannot join one container, so shared memory is refused with the way
// out, and isolated ranks run one container each.
func TestCharliecloudSlurmNeedsIsolated(t *testing.T) {
	rt, _ := Get("charliecloud")
	spec := Spec{Layout: PerRank, Image: ImageInfo{Ref: t.TempDir()}, HostPID: true}
	if _, err := rt.Wrapper(context.Background(), spec); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "isolated") {
		t.Errorf("shared memory under Slurm: %v, want ErrLayout naming isolated", err)
	}
	spec.Shm = ShmIsolated
	w, err := rt.Wrapper(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Choices(); c["container"] != "one per rank" || c["shm"] != "isolated" {
		t.Errorf("choices %v", c)
	}
}

// TestCMAProbe: cross-memory attach works between two native ranks and
// between Charliecloud ranks joined in one container, and not between
// ranks in sibling containers (shm = isolated).
func TestCMAProbe(t *testing.T) {
	self := hpcbenchBinary(t)
	got, err := ProbeCMA(context.Background(), nil, self, workDir(t))
	if err != nil || got != "available" {
		t.Errorf("native: %q, %v; want available", got, err)
	}
	rt := available(t, "charliecloud")
	for shm, want := range map[Shm]string{ShmShared: "available", ShmIsolated: "unavailable"} {
		spec := specFor(t, rt, "mpich", PerRank)
		spec.Shm = shm
		w, err := rt.Wrapper(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ProbeCMA(context.Background(), w, self, workDir(t))
		if err != nil || !strings.HasPrefix(got, want) {
			t.Errorf("charliecloud shm=%s: %q, %v; want %s", shm, got, err, want)
		}
		if !strings.HasPrefix(w.Choices()["cma"], want) {
			t.Errorf("charliecloud shm=%s predicts cma %q, measured %q", shm, w.Choices()["cma"], got)
		}
	}
}

// TestCharliecloudSharedCopy: a store image's jobs run one copy kept
// beside the image, one job at a time: a job's changes (a mount point,
// its program linked in) are put back by its cleanup, a job that finds
// the copy in use links its own, and a copy left changed by a killed
// job (its marker) is made anew.
func TestCharliecloudSharedCopy(t *testing.T) {
	store := filepath.Join(t.TempDir(), "img")
	image := filepath.Join(store, "rootfs")
	for _, d := range []string{"usr/bin", "etc", "var/lib"} {
		os.MkdirAll(filepath.Join(image, d), 0o755)
	}
	os.WriteFile(filepath.Join(image, "usr", "bin", "sh"), []byte("sh"), 0o755)
	os.Symlink("usr/bin", filepath.Join(image, "bin"))
	info := ImageInfo{Ref: image, Digest: "sha256:abc", Meta: map[string]string{"store": store}}
	// The program and the working folder lie outside /tmp, so they are
	// placed in the image copy itself.
	outside, err := os.MkdirTemp("/var/tmp", "hpcbench-chshared-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outside)
	progDir := filepath.Join(outside, "bench")
	work := filepath.Join(outside, "work")
	os.MkdirAll(progDir, 0o755)
	os.MkdirAll(work, 0o755)
	prog := filepath.Join(progDir, "ep")
	os.WriteFile(prog, []byte("ep"), 0o755)

	rt, _ := Get("charliecloud")
	wrapper := func() Wrapper {
		w, err := rt.Wrapper(context.Background(), Spec{Layout: PerRank, Image: info, Command: "ch-run"})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	wrap := func(w Wrapper, job pmi.Job) string {
		t.Helper()
		cmd := &pmi.RankCommand{Rank: 0, Argv: []string{prog, "S"}, Dir: work, CPU: -1,
			Env: append(os.Environ(), "PMI_FD=3", "PMI_RANK=0", "PMI_SIZE=1")}
		socket, _ := os.Open(os.DevNull)
		defer socket.Close()
		cmd.ExtraFiles = []*os.File{socket}
		if err := w.WrapRank(job, cmd); err != nil {
			t.Fatal(err)
		}
		return cmd.Argv[slices.Index(cmd.Argv, "--")-1]
	}
	shared := filepath.Join(store, "charliecloud", "root")
	dirty := filepath.Join(store, "charliecloud", "dirty")
	inode := func(p string) uint64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return inode(fi)
	}

	w1 := wrapper()
	job1 := pmi.Job{ID: "sh1", Ranks: 1, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	root := wrap(w1, job1)
	if root != shared {
		t.Fatalf("the job runs %s, want the store image's copy %s", root, shared)
	}
	first := inode(shared)
	if b, err := os.ReadFile(filepath.Join(root, strings.TrimPrefix(prog, "/"))); err != nil || string(b) != "ep" {
		t.Errorf("the program is not in the copy: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(root, strings.TrimPrefix(work, "/"))); err != nil || !fi.IsDir() {
		t.Errorf("no mount point for the working folder in the copy: %v", err)
	}
	if !fileExists(dirty) {
		t.Error("the copy is changed, but no marker says so")
	}

	// Another job meanwhile: the copy is in use, it links its own.
	w2 := wrapper()
	job2 := pmi.Job{ID: "sh2", Ranks: 1, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	if other := wrap(w2, job2); other == shared {
		t.Error("a second job at once got the copy in use")
	}
	if err := w2.Cleanup(job2); err != nil {
		t.Fatal(err)
	}

	if err := w1.Cleanup(job1); err != nil {
		t.Fatal(err)
	}
	if fileExists(dirty) {
		t.Error("the marker outlived the cleanup that put the copy back")
	}
	if fileExists(filepath.Join(shared, strings.TrimPrefix(outside, "/"))) {
		t.Errorf("the job's folders outlived its cleanup in the copy")
	}
	if to, err := os.Readlink(filepath.Join(shared, "bin")); err != nil || to != "usr/bin" {
		t.Errorf("/bin in the copy: %q %v, want the image's link to usr/bin", to, err)
	}
	if !fileExists(filepath.Join(shared, "var", "lib")) {
		t.Error("the image's /var/lib is gone from the copy")
	}

	// The next job takes the same copy, as it is.
	job3 := pmi.Job{ID: "sh3", Ranks: 1, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	if wrap(w1, job3) != shared || inode(shared) != first {
		t.Error("the next job did not reuse the copy")
	}
	w1.Cleanup(job3)

	// A job killed with the copy changed leaves the marker: the next job
	// makes the copy anew.
	os.MkdirAll(filepath.Join(shared, "junk"), 0o755)
	os.WriteFile(dirty, nil, 0o644)
	job4 := pmi.Job{ID: "sh4", Ranks: 1, PMI: pmi.PMI1, Channel: pmi.ChannelFD}
	if wrap(w1, job4) != shared {
		t.Error("the job after a killed one did not get the copy")
	}
	if fileExists(filepath.Join(shared, "junk")) {
		t.Error("what a killed job left in the copy is still there")
	}
	w1.Cleanup(job4)
}

// TestCharliecloudJobIDForm: a job ID names a folder and a file in
// /dev/shm: letters, digits, '.', '_' and '-', at most 128 characters.
func TestCharliecloudJobIDForm(t *testing.T) {
	for id, ok := range map[string]bool{
		"123-abcdef01":           true,
		strings.Repeat("a", 128): true,
		strings.Repeat("a", 129): false,
		"":                       false,
		".hidden":                false,
		"a/../b":                 false,
	} {
		if validJobID(id) != ok {
			t.Errorf("validJobID(%q) = %v, want %v", id, !ok, ok)
		}
	}
}
