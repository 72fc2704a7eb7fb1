package pmi

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// fakeRankEnv makes the test binary act as one rank of a job: a PMI client
// written here that misbehaves on purpose (see fakeRank).
const fakeRankEnv = "HPCBENCH_PMI_FAKE_RANK"

var programDir string

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeRankEnv); mode != "" {
		os.Exit(fakeRank(mode))
	}
	if prog := os.Getenv(PMIxProcessEnv); prog != "" {
		os.Exit(pmixProcess(prog))
	}
	dir, err := os.MkdirTemp("", "hpcbench-pmi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	programDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// PMIxProcessEnv makes the test binary a process that runs one PMIx job of
// the MPI program the variable names, at 2 ranks, and then ends as
// hpcbench's main does, with Shutdown (see TestPMIxProcessLeavesNoFolder).
const PMIxProcessEnv = "HPCBENCH_PMI_PMIX_PROCESS"

// pmixProcess is that process. It prints the ranks' output, the PMIx
// tmpdir the job had and whether it existed during the job.
func pmixProcess(prog string) int {
	w := &tmpdirWrapper{}
	var out bytes.Buffer
	rep, err := Launch(context.Background(), Options{Ranks: 2, PMI: PMIx, Argv: []string{prog},
		Timeout: 2 * time.Minute, Stdout: &out, Stderr: &out, Wrapper: w})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pmix process:", err)
		return 2
	}
	os.Stdout.Write(out.Bytes())
	if !rep.OK() {
		fmt.Fprintln(os.Stderr, "pmix process: launch failed:", rep.Reason)
		return 3
	}
	_, statErr := os.Stat(w.tmpdir)
	fmt.Printf("pmix tmpdir %s existed %v\n", w.tmpdir, statErr == nil)
	if err := Shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pmix process:", err)
		return 4
	}
	return 0
}

// tmpdirWrapper changes no rank and keeps the PMIx tmpdir of the job.
type tmpdirWrapper struct{ tmpdir string }

func (w *tmpdirWrapper) Channel() Channel { return ChannelFD }
func (w *tmpdirWrapper) WrapRank(job Job, _ *RankCommand) error {
	w.tmpdir = job.PMIxTmpdir // ranks are started one at a time
	return nil
}
func (w *tmpdirWrapper) Cleanup(Job) error { return nil }

// fakeRank runs one misbehaving rank. Rank 0 misbehaves as mode says;
// the other ranks init properly and wait in a barrier or fence for the
// launcher to kill them.
func fakeRank(mode string) int {
	rank, _ := strconv.Atoi(os.Getenv("PMI_RANK"))
	var nc net.Conn
	var err error
	if port := os.Getenv("PMI_PORT"); port != "" {
		nc, err = net.Dial("tcp4", port)
	} else {
		fd, _ := strconv.Atoi(os.Getenv("PMI_FD"))
		nc, err = net.FileConn(os.NewFile(uintptr(fd), "pmi"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake rank:", err)
		return 2
	}
	c := newTestClient(nc)
	wait := func() int {
		// Blocks until the launcher kills this rank.
		c.nc.SetReadDeadline(time.Time{})
		c.rd.ReadByte()
		time.Sleep(time.Hour)
		return 0
	}
	// The rank's name on the wire: over TCP its token, else its number.
	id := rank
	if v := os.Getenv("PMI_ID"); v != "" {
		id, _ = strconv.Atoi(v)
	}
	pmi1 := func() error {
		if os.Getenv("PMI_ID") != "" {
			return c.pmi1Init(id)
		}
		_, err := c.line("cmd=init pmi_version=1 pmi_subversion=1")
		return err
	}
	switch {
	case mode == "garbage" && rank == 0:
		// Over TCP a connection's garbage fails the job only once it
		// named its rank (before, it is a stranger's, and dropped).
		if os.Getenv("PMI_ID") != "" {
			c.pmi1Init(id)
		}
		c.writeRaw("\x00\x01 this is not PMI\n")
		return wait()
	case mode == "oversize" && rank == 0:
		c.pmi2Init(id)
		c.writeRaw("999999cmd=kvs-put;key=x;value=")
		return wait()
	case mode == "nofinalize" && rank == 0:
		pmi1()
		return 0
	case mode == "oversize":
		c.pmi2Init(id)
		c.sendFrame("cmd=kvs-fence;")
		return wait()
	}
	if err := pmi1(); err != nil {
		fmt.Fprintln(os.Stderr, "fake rank:", err)
		return 2
	}
	c.writeRaw("cmd=barrier_in\n")
	return wait()
}

var (
	buildMu   sync.Mutex
	buildErrs = map[string]error{}
)

// program builds testdata/NAME.c once per test binary with compiler
// (mpicc.mpich for MPI programs, gcc for the libpmi2 client) and returns
// the executable, skipping the test when the compiler or a library is
// missing.
func program(t testing.TB, name string) string {
	t.Helper()
	compiler, extra := "mpicc.mpich", []string(nil)
	if name == "pmi2client" {
		compiler, extra = "gcc", []string{"-lpmi2"}
	}
	testenv.LookPath(t, compiler, "install mpich, or gcc and libpmi2-0-dev")
	if name == "pmi2client" {
		_, err := os.Stat("/usr/include/slurm/pmi2.h")
		testenv.Require(t, "Slurm's libpmi2 headers (install libpmi2-0-dev)", err)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	out := filepath.Join(programDir, name)
	if err, done := buildErrs[name]; done {
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	src := filepath.Join("testdata", name+".c")
	if name != "pmi2client" {
		src = filepath.Join("testdata", name+"_mpi.c")
	}
	args := append([]string{"-O1", "-o", out, src}, extra...)
	msg, err := exec.Command(compiler, args...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("building %s with %s: %v\n%s", src, compiler, err, msg)
	}
	buildErrs[name] = err
	if err != nil {
		t.Fatal(err)
	}
	return out
}
