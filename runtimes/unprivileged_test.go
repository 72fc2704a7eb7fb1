package runtimes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// TestUnprivileged runs "hpcbench launch" as an ordinary user through
// rootless Podman and unprivileged Apptainer, MPICH under PMI-1 and Open
// MPI under PMIx, and checks that both ranks saw a world of two. Run as
// root, it makes a throwaway user (useradd gives it subordinate IDs),
// imports the test images into that user's Podman storage, runs the
// launches with runuser, and removes the user and its processes at the
// end. Run as an ordinary user, the conformance suite already covers it.
func TestUnprivileged(t *testing.T) {
	testenv.SkipIfShort(t, "makes a user and imports images")
	if !isRoot() {
		testenv.Skipf(t, "root, to make a throwaway user (as an ordinary user the conformance suite covers this)")
	}
	for _, tool := range []string{"useradd", "userdel", "runuser"} {
		testenv.LookPath(t, tool, "needed to make a throwaway user; Debian's passwd and util-linux")
	}
	var rts []Runtime
	for _, name := range []string{"podman", "apptainer"} {
		rt, _ := Get(name)
		if _, err := rt.Detect(context.Background()); err != nil {
			testenv.Missingf(t, "%s not available here (CI installs it): %v", name, err)
			continue
		}
		rts = append(rts, rt)
	}
	if len(rts) == 0 {
		testenv.Skipf(t, "Podman or Apptainer")
	}
	self := hpcbenchBinary(t)
	name := fmt.Sprintf("hpcbt%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		testenv.Skipf(t, "a throwaway user: useradd %s: %v: %s", name, err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	t.Cleanup(func() { removeUser(t, name, uid) })
	as := func(ctx context.Context, dir string, env []string, argv ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, "runuser", append([]string{"-u", name, "--", "env", "HOME=" + u.HomeDir, "USER=" + name}, append(env, argv...)...)...)
		c.Dir = dir
		return c
	}

	for _, mpi := range []string{"mpich", "openmpi"} {
		m := testImage(t, mpi, false)
		prog := probe(t, mpi)
		for _, rt := range rts {
			t.Run(rt.Name()+"/"+mpi, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				if rt.Name() == "podman" {
					// The user's own storage: root's images are not visible.
					tar := exec.CommandContext(ctx, "tar", "-C", m.Rootfs, "-c", ".")
					ref := m.Engines["podman"].Ref
					if ref == "" {
						ref = m.Name
					}
					imp := as(ctx, "/", nil, "podman", "--runtime", "runc", "import", "-", ref)
					pipe, err := tar.StdoutPipe()
					if err != nil {
						t.Fatal(err)
					}
					imp.Stdin = pipe
					if err := tar.Start(); err != nil {
						t.Fatal(err)
					}
					if out, err := imp.CombinedOutput(); err != nil {
						t.Fatalf("rootless podman import: %v\n%s", err, out)
					}
					tar.Wait()
				}
				dir, err := os.MkdirTemp("", "hpcbench-unpriv-")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(dir)
				if err := os.Chown(dir, uid, gid); err != nil {
					t.Fatal(err)
				}
				argv := []string{self, "launch", "-n", "2", "--pmi", string(mpiFlavour[mpi]), "--timeout", "3m",
					"--runtime", rt.Name(), "--image", m.Name, "--", prog, "hello"}
				c := as(ctx, dir, []string{"HPCBENCH_IMAGES=" + filepath.Dir(m.Dir), "TMPDIR=/tmp"}, argv...)
				out, err := c.CombinedOutput()
				text := string(out)
				if err != nil {
					t.Fatalf("as %s: %s: %v\n%s", name, strings.Join(argv, " "), err, text)
				}
				for r := 0; r < 2; r++ {
					if !strings.Contains(text, fmt.Sprintf("rank %d of 2 sum 1", r)) {
						t.Errorf("rank %d did not see a world of 2:\n%s", r, text)
					}
				}
				if !strings.Contains(text, "negotiated "+string(mpiFlavour[mpi])+" x2") {
					t.Errorf("the ranks did not both negotiate %s:\n%s", mpiFlavour[mpi], text)
				}
				if rt.Name() == "podman" {
					ps, err := as(ctx, "/", nil, "podman", "--runtime", "runc", "ps", "-a", "-q", "--filter", "label="+LabelJob).Output()
					if err != nil || strings.TrimSpace(string(ps)) != "" {
						t.Errorf("rootless podman kept containers %q (%v)", ps, err)
					}
				}
				for _, line := range strings.Split(text, "\n") {
					if strings.HasPrefix(line, "hpcbench launch:") {
						t.Log(line)
					}
				}
			})
		}
	}
}

// removeUser ends the processes the throwaway user still runs (rootless
// Podman's pause process, conmon), each by its pid, then deletes the user
// with its home folder.
func removeUser(t *testing.T, name string, uid int) {
	for round := 0; round < 3; round++ {
		out, _ := exec.Command("ps", "-u", strconv.Itoa(uid), "-o", "pid=").Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
		t.Errorf("userdel %s: %v: %s", name, err, out)
	}
}
