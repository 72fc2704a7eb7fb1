package pmi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the launcher's output copiers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func launchTest(t *testing.T, opts Options) (*Report, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	opts.Stdout, opts.Stderr = &stdout, &stderr
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute // a hung test fails rather than hangs
	}
	rep, err := Launch(context.Background(), opts)
	if err != nil {
		t.Fatalf("Launch: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return rep, stdout.String(), stderr.String()
}

var helloLine = regexp.MustCompile(`(?m)^\[(\d+)\] rank (\d+) of (\d+) sum (\d+)$`)

func TestMPICHHello(t *testing.T) {
	hello := program(t, "hello")
	for _, ch := range []Channel{ChannelFD, ChannelTCP} {
		for _, n := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/%d", ch, n), func(t *testing.T) {
				rep, out, errOut := launchTest(t, Options{Ranks: n, Channel: ch, TagOutput: true, Argv: []string{hello}})
				if !rep.OK() {
					t.Fatalf("launch failed: %s\n%s%s", rep.Reason, out, errOut)
				}
				seen := map[int]bool{}
				for _, m := range helloLine.FindAllStringSubmatch(out, -1) {
					tag, _ := strconv.Atoi(m[1])
					rank, _ := strconv.Atoi(m[2])
					size, _ := strconv.Atoi(m[3])
					sum, _ := strconv.Atoi(m[4])
					if tag != rank || size != n || sum != n*(n-1)/2 {
						t.Errorf("line %q: want [r] rank r of %d sum %d", m[0], n, n*(n-1)/2)
					}
					seen[rank] = true
				}
				if len(seen) != n {
					t.Errorf("%d distinct ranks reported, want %d:\n%s", len(seen), n, out)
				}
				for r, v := range rep.Negotiated {
					if v != "pmi1" {
						t.Errorf("rank %d negotiated %q, want pmi1", r, v)
					}
				}
				if rep.WireUp <= 0 || rep.FirstFence < rep.WireUp || rep.Wall < rep.FirstFence {
					t.Errorf("times out of order: wire-up %v, first fence %v, wall %v", rep.WireUp, rep.FirstFence, rep.Wall)
				}
				checkWireUpSplit(t, rep)
				for r, rss := range rep.PeakRSSKiB {
					if rss <= 0 || rep.ExitCodes[r] != 0 {
						t.Errorf("rank %d: peak RSS %d KiB, exit %d", r, rss, rep.ExitCodes[r])
					}
				}
				if rep.ExitStatus != 0 || rep.FailedRank != -1 {
					t.Errorf("exit status %d, failed rank %d on success", rep.ExitStatus, rep.FailedRank)
				}
			})
		}
	}
}

func TestLibPMI2Client(t *testing.T) {
	client := program(t, "pmi2client")
	for _, ch := range []Channel{ChannelFD, ChannelTCP} {
		for _, n := range []int{2, 4} {
			t.Run(fmt.Sprintf("%s/%d", ch, n), func(t *testing.T) {
				rep, out, errOut := launchTest(t, Options{Ranks: n, PMI: PMI2, Channel: ch, Argv: []string{client}})
				if !rep.OK() {
					t.Fatalf("launch failed: %s\n%s%s", rep.Reason, out, errOut)
				}
				for r := 0; r < n; r++ {
					if want := fmt.Sprintf("pmi2 rank %d of %d ok\n", r, n); !strings.Contains(out, want) {
						t.Errorf("missing %q in\n%s%s", want, out, errOut)
					}
					if rep.Negotiated[r] != "pmi2" {
						t.Errorf("rank %d negotiated %q, want pmi2", r, rep.Negotiated[r])
					}
				}
				if rep.FirstFence <= 0 {
					t.Error("no fence measured")
				}
				checkWireUpSplit(t, rep)
			})
		}
	}
}

func TestLibPMI2Abort(t *testing.T) {
	client := program(t, "pmi2client")
	rep, out, errOut := launchTest(t, Options{Ranks: 3, PMI: PMI2, Argv: []string{client},
		Env: []string{"PMI2CLIENT_ABORT_RANK=2"}})
	if rep.OK() || rep.FailedRank != 2 || !strings.Contains(rep.Reason, "rank 2 called abort") ||
		!strings.Contains(rep.Reason, "pmi2client abort on request") {
		t.Fatalf("reason %q, failed rank %d; want rank 2's abort\n%s%s", rep.Reason, rep.FailedRank, out, errOut)
	}
}

// MPICH on Debian speaks PMI-1 only: asking for PMI-2 must fail the launch
// and say so, not run the ranks as singletons.
func TestVersionMismatchFails(t *testing.T) {
	hello := program(t, "hello")
	rep, _, _ := launchTest(t, Options{Ranks: 2, PMI: PMI2, Argv: []string{hello}})
	if rep.OK() || !strings.Contains(rep.Reason, "negotiated pmi1, not pmi2") {
		t.Fatalf("reason %q, want a pmi1-instead-of-pmi2 failure", rep.Reason)
	}
	if rep.Failure != FailurePMIMismatch {
		t.Errorf("failure kind %q, want %q", rep.Failure, FailurePMIMismatch)
	}
}

func TestMPIAbortKillsOthers(t *testing.T) {
	prog := program(t, "abort")
	rep, out, errOut := launchTest(t, Options{Ranks: 4, Argv: []string{prog}})
	if rep.OK() {
		t.Fatalf("abort went unnoticed\n%s%s", out, errOut)
	}
	if rep.FailedRank != 1 || rep.Reason != "rank 1 called abort with code 7" || rep.ExitStatus != 7 {
		t.Errorf("failed rank %d, reason %q, status %d; want rank 1, abort code 7", rep.FailedRank, rep.Reason, rep.ExitStatus)
	}
	if rep.Failure != FailureAbort {
		t.Errorf("failure kind %q, want %q", rep.Failure, FailureAbort)
	}
	// Every rank initialised (and fenced in MPI_Init) before rank 1
	// aborted; the others must be gone within a second of that.
	if after := rep.Wall - rep.FirstFence; after > time.Second {
		t.Errorf("ranks lived %v after the first fence, want < 1s", after)
	}
	for r, code := range rep.ExitCodes {
		if r != 1 && code != -int(syscall.SIGTERM) && code != -int(syscall.SIGKILL) {
			t.Errorf("rank %d ended with %d, want killed", r, code)
		}
	}
}

func TestSegfaultingRank(t *testing.T) {
	prog := program(t, "segv")
	rep, out, errOut := launchTest(t, Options{Ranks: 3, Argv: []string{prog}})
	if rep.FailedRank != 1 || !strings.HasPrefix(rep.Reason, "rank 1 killed by signal 11") {
		t.Fatalf("failed rank %d, reason %q; want rank 1 killed by signal 11\n%s%s", rep.FailedRank, rep.Reason, out, errOut)
	}
	if rep.Failure != FailureSignal {
		t.Errorf("failure kind %q, want %q", rep.Failure, FailureSignal)
	}
	if rep.ExitCodes[1] != -11 || rep.ExitStatus != 128+11 {
		t.Errorf("rank 1 exit %d, status %d; want -11 and 139", rep.ExitCodes[1], rep.ExitStatus)
	}
}

var startedLine = regexp.MustCompile(`rank (\d+) started pid (\d+)`)

func pidsIn(out string) []int {
	var pids []int
	for _, m := range startedLine.FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[2])
		pids = append(pids, pid)
	}
	return pids
}

// assertGone fails for every pid that still exists (a zombie counts:
// nobody reaped it).
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			status, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
			t.Errorf("rank process %d is still there:\n%s", pid, firstLines(string(status), 3))
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestTimeoutKillsHungJob(t *testing.T) {
	prog := program(t, "hang")
	rep, out, errOut := launchTest(t, Options{Ranks: 2, Timeout: 3 * time.Second, Argv: []string{prog}})
	if rep.Reason != "timeout after 3s" || rep.FailedRank != -1 || rep.ExitStatus != 1 {
		t.Fatalf("reason %q, failed rank %d, status %d; want a timeout\n%s%s", rep.Reason, rep.FailedRank, rep.ExitStatus, out, errOut)
	}
	if rep.Failure != FailureTimeout {
		t.Errorf("failure kind %q, want %q", rep.Failure, FailureTimeout)
	}
	pids := pidsIn(out)
	if len(pids) != 2 {
		t.Fatalf("want 2 started ranks, output:\n%s%s", out, errOut)
	}
	assertGone(t, pids)
}

func TestInterruptedByContext(t *testing.T) {
	prog := program(t, "hang")
	var stdout syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(pidsIn(stdout.String())) < 2 {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
	}()
	rep, err := Launch(ctx, Options{Ranks: 2, Argv: []string{prog}, Stdout: &stdout, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reason != "interrupted" {
		t.Fatalf("reason %q, want interrupted", rep.Reason)
	}
	if rep.Failure != FailureInterrupted {
		t.Errorf("failure kind %q, want %q", rep.Failure, FailureInterrupted)
	}
	assertGone(t, pidsIn(stdout.String()))
}

// buildHpcbench builds the hpcbench command as make build does and
// returns the path of what users type: the front program (launches under
// PMI-1 and PMI-2 run by itself), with the full program beside it for
// everything else.
func buildHpcbench(t testing.TB) string { return testenv.BuildPrograms(t, "../cmd/hpcbench") }

// TestCtrlC runs the real command on a hanging job, sends it SIGINT as a
// terminal would, and checks that no rank is left.
func TestCtrlC(t *testing.T) {
	prog := program(t, "hang")
	testenv.SkipIfShort(t, "builds the hpcbench command")
	bin := buildHpcbench(t)
	cmd := exec.Command(bin, "launch", "-n", "3", "--timeout", "2m", "--", prog)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(stdout)
	for len(pids) < 3 && sc.Scan() {
		pids = append(pids, pidsIn(sc.Text())...)
	}
	if len(pids) < 3 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("ranks did not all start; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go func() { // drain, so no rank blocks on a full pipe
		for sc.Scan() {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("hpcbench did not end within 30s of SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1", err)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say interrupted:\n%s", stderr.String())
	}
	assertGone(t, pids)
}

// The fake ranks (this test binary, see fakeRank) break the protocol over
// real sockets; the launcher must fail the job, name the rank and the
// problem, and kill the rest.
func TestMisbehavingRanks(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mode    string
		flavour Flavour
		channel Channel
		rank    int
		reason  string
	}{
		{"garbage", PMI1, ChannelFD, 0, "rank 0: PMI protocol error: message starts with byte 0x00"},
		{"garbage", PMI1, ChannelTCP, 0, "rank 0: PMI protocol error: message starts with byte 0x00"},
		{"oversize", PMI2, ChannelFD, 0, "rank 0: PMI protocol error: PMI-2 message of 999999 bytes exceeds the limit"},
		{"oversize", PMI2, ChannelTCP, 0, "rank 0: PMI protocol error: PMI-2 message of 999999 bytes exceeds the limit"},
		{"nofinalize", PMI1, ChannelFD, 0, "rank 0 exited without calling PMI finalize"},
	}
	for _, tc := range cases {
		t.Run(tc.mode+"/"+string(tc.channel), func(t *testing.T) {
			start := time.Now()
			rep, out, errOut := launchTest(t, Options{Ranks: 3, PMI: tc.flavour, Channel: tc.channel,
				Argv: []string{self}, Env: []string{fakeRankEnv + "=" + tc.mode}, Timeout: time.Minute})
			if !strings.Contains(rep.Reason, tc.reason) || (tc.rank >= 0 && rep.FailedRank != tc.rank) {
				t.Fatalf("reason %q, failed rank %d; want %q from rank %d\n%s%s", rep.Reason, rep.FailedRank, tc.reason, tc.rank, out, errOut)
			}
			if elapsed := time.Since(start); elapsed > 30*time.Second {
				t.Errorf("took %v: the failure was not acted on", elapsed)
			}
		})
	}
}

func TestBindCore(t *testing.T) {
	rep, out, errOut := launchTest(t, Options{Ranks: 3, Bind: "core", TagOutput: true,
		Argv: []string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status"}})
	if !rep.OK() {
		t.Fatalf("%s\n%s", rep.Reason, errOut)
	}
	plan, err := bindPlan("core", 3)
	if err != nil {
		t.Fatal(err)
	}
	for r, cpu := range plan {
		want := fmt.Sprintf("[%d] Cpus_allowed_list:\t%d\n", r, cpu)
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if runtime.NumCPU() > 1 && plan[0] == plan[1] {
		t.Errorf("ranks 0 and 1 share core %d on %d cores", plan[0], runtime.NumCPU())
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want error
	}{
		{Options{Ranks: 0, Argv: []string{"true"}}, ErrOptions},
		{Options{Ranks: 1}, ErrOptions},
		{Options{Ranks: 1, Argv: []string{"true"}, Bind: "socket"}, ErrOptions},
		{Options{Ranks: 1, Argv: []string{"true"}, Channel: "shm"}, ErrOptions},
		{Options{Ranks: 1, Argv: []string{"true"}, PMI: "pmi3"}, ErrUnsupported},
	} {
		if _, err := Launch(context.Background(), tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%+v: error %v, want %v", tc.opts, err, tc.want)
		}
	}
	rep, err := Launch(context.Background(), Options{Ranks: 2, Argv: []string{"/nonexistent/prog"}})
	if !errors.Is(err, ErrStart) || rep == nil || rep.FailedRank != 0 {
		t.Errorf("missing program: error %v, report %+v; want ErrStart for rank 0", err, rep)
	}
}

// Output lines of different ranks never mix, and tags match their rank.
func TestTaggedOutputLines(t *testing.T) {
	script := `i=0; while [ $i -lt 200 ]; do echo "line $PMI_RANK $i abcdefghijklmnopqrstuvwxyz"; i=$((i+1)); done; printf "tail $PMI_RANK"`
	rep, out, _ := launchTest(t, Options{Ranks: 4, TagOutput: true, Argv: []string{"sh", "-c", script}})
	if !rep.OK() {
		t.Fatal(rep.Reason)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4*201 {
		t.Fatalf("%d lines, want %d", len(lines), 4*201)
	}
	re := regexp.MustCompile(`^\[(\d)\] (line (\d) \d+ abcdefghijklmnopqrstuvwxyz|tail (\d))$`)
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil || (m[1] != m[3] && m[1] != m[4]) {
			t.Fatalf("mixed or mistagged line %q", l)
		}
	}
}

// With the kernels built (make -C npb/kernels), each runs at 4 ranks under
// hpcbench, sees 4 processes and verifies.
func TestNPBKernels(t *testing.T) {
	for _, k := range []string{"ep", "is", "cg"} {
		t.Run(k, func(t *testing.T) {
			bin := filepath.Join("..", "npb", "kernels", "build", "mpich", k)
			_, err := os.Stat(bin)
			testenv.Require(t, bin+" (make -C npb/kernels)", err)
			if k == "cg" {
				testenv.SkipIfShort(t, "runs CG class S at 4 ranks, over a minute on 2 cores (MPICH polls)")
			}
			rep, out, errOut := launchTest(t, Options{Ranks: 4, Argv: []string{bin, "S"}, Timeout: 3 * time.Minute})
			if !rep.OK() {
				t.Fatalf("%s\n%s%s", rep.Reason, out, errOut)
			}
			if !regexp.MustCompile(`Total processes\s*=\s*4\b`).MatchString(out) {
				t.Errorf("no 'Total processes = 4' in\n%s", out)
			}
			if !regexp.MustCompile(`Verification\s*=\s*SUCCESSFUL`).MatchString(out) {
				t.Errorf("did not verify:\n%s", out)
			}
		})
	}
}

// recordingWrapper runs each rank through env(1) with a marker variable and
// counts Cleanup calls, standing in for a container runtime.
type recordingWrapper struct {
	mu       sync.Mutex
	wrapped  []int
	cleanups int
	job      Job
}

func (w *recordingWrapper) Channel() Channel { return ChannelTCP }

func (w *recordingWrapper) WrapRank(job Job, cmd *RankCommand) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wrapped = append(w.wrapped, cmd.Rank)
	w.job = job
	cmd.Argv = append([]string{"env", fmt.Sprintf("WRAPPED_RANK=%d", cmd.Rank)}, cmd.Argv...)
	return nil
}

func (w *recordingWrapper) Cleanup(Job) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cleanups++
	return nil
}

func TestWrapperAppliedAndCleanedUp(t *testing.T) {
	hello := program(t, "hello")
	w := &recordingWrapper{}
	rep, out, errOut := launchTest(t, Options{Ranks: 2, Wrapper: w, TagOutput: true, JobID: "wraptest",
		Argv: []string{"sh", "-c", `echo "wrapped $WRAPPED_RANK"; exec "$0"`, hello}})
	if !rep.OK() {
		t.Fatalf("%s\n%s%s", rep.Reason, out, errOut)
	}
	for r := 0; r < 2; r++ {
		if want := fmt.Sprintf("[%d] wrapped %d\n", r, r); !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if rep.Channel != ChannelTCP || w.job.Channel != ChannelTCP || w.job.ID != "wraptest" || w.job.Ranks != 2 {
		t.Errorf("report channel %s, wrapper saw %+v; want the wrapper's tcp", rep.Channel, w.job)
	}
	if w.cleanups != 1 || len(w.wrapped) != 2 {
		t.Errorf("wrapped %v, cleanups %d", w.wrapped, w.cleanups)
	}
	// A failing job is cleaned up too.
	w2 := &recordingWrapper{}
	rep, _, _ = launchTest(t, Options{Ranks: 2, Wrapper: w2, Argv: []string{"sh", "-c", "exit 4"}})
	if rep.OK() || w2.cleanups != 1 {
		t.Errorf("failed job: reason %q, cleanups %d", rep.Reason, w2.cleanups)
	}
}

// A rank that leaves a background process holding its stdout keeps the
// pipe open past the output drain; whatever that process writes later must
// not reach the caller's writer once Launch returned (the writer is then
// the caller's alone: a plain bytes.Buffer here, so that go test -race
// reports a late write).
func TestNoOutputAfterLaunchReturns(t *testing.T) {
	const late = outputDrain + time.Second
	script := fmt.Sprintf(`(sleep %g; echo late) & echo early`, late.Seconds())
	var stdout bytes.Buffer
	start := time.Now()
	rep, err := Launch(context.Background(), Options{Ranks: 1, Argv: []string{"sh", "-c", script}, Stdout: &stdout})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatal(rep.Reason)
	}
	atReturn := stdout.String()
	if atReturn != "early\n" {
		t.Fatalf("output at return %q, want %q", atReturn, "early\n")
	}
	// Past the moment the leftover process writes.
	time.Sleep(time.Until(start.Add(late + time.Second)))
	if got := stdout.String(); got != atReturn {
		t.Errorf("output changed after Launch returned: %q, then %q", atReturn, got)
	}
}

// checkWireUpSplit checks a successful launch's container start and PMI
// exchange: every rank spoke, the slowest start is ContainerStart, and
// start plus exchange fit within the first fence.
func checkWireUpSplit(t *testing.T, rep *Report) {
	t.Helper()
	if len(rep.RankStart) != rep.Ranks {
		t.Fatalf("%d per-rank starts for %d ranks", len(rep.RankStart), rep.Ranks)
	}
	var slowest time.Duration
	for r, d := range rep.RankStart {
		if d <= 0 {
			t.Errorf("rank %d: start %v, want > 0 (it spoke PMI)", r, d)
		}
		slowest = max(slowest, d)
	}
	if rep.ContainerStart != slowest {
		t.Errorf("container start %v, want the slowest rank's %v", rep.ContainerStart, slowest)
	}
	if rep.PMIExchange <= 0 || rep.ContainerStart+rep.PMIExchange > rep.FirstFence {
		t.Errorf("container start %v + PMI exchange %v, want both > 0 and within the first fence %v",
			rep.ContainerStart, rep.PMIExchange, rep.FirstFence)
	}
}

// Open MPI's PMIx client gives "N/A" as the message of an MPI_Abort,
// which has none: the reason must not end in ": N/A".
func TestAbortReason(t *testing.T) {
	for _, tc := range []struct {
		msg, want string
	}{
		{"", "rank 3 called abort with code 9"},
		{"N/A", "rank 3 called abort with code 9"},
		{" N/A\n", "rank 3 called abort with code 9"},
		{"out of memory", "rank 3 called abort with code 9: out of memory"},
	} {
		if got := abortReason(3, 9, tc.msg); got != tc.want {
			t.Errorf("abortReason(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
