package main

// Tests of "hpcbench launch" against hostile and careless use: strangers
// on the PMI port, a launch of 100,000 ranks, a long start interrupted,
// and ranks that never speak the PMI asked for.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/testenv"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/urfave/cli/v2"
)

// kernel returns the path of one of the project's MPICH kernels, built by
// make kernels.
func kernel(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "npb", "kernels", "build", "mpich", name))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(path)
	testenv.Require(t, path+" (make kernels)", err)
	return path
}

func readReport(t *testing.T, path string) pmi.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep pmi.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// strangerReply is what the server sent a stranger until it closed the
// connection (a reset after an oversize message counts as closed).
func strangerReply(t *testing.T, nc net.Conn) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the server kept a stranger's connection open: %v (got %q)", err, b)
	}
	return string(b)
}

// TestLaunchHostilePMIClients: while the ranks of a real MPICH job (the
// EP kernel) are about to start over TCP, another process on the machine
// claims rank 0 first (PMI-1 and PMI-2), holds more idle connections than
// there are ranks, and sends an oversize line and garbage. Before PMI
// tokens the first claim took rank 0 (size, rank and kvsname, and the
// report credited it) and the idle connections locked the ranks out for
// good. Now every stranger is refused, the job runs as one world of two
// ranks that negotiated the flavour asked for, and the report counts the
// strangers.
func TestLaunchHostilePMIClients(t *testing.T) {
	ep := kernel(t, "ep")
	for _, flavour := range []pmi.Flavour{pmi.PMI1, pmi.PMI2} {
		t.Run(string(flavour), func(t *testing.T) {
			buildFlag := "none" // Debian's MPICH speaks PMI-1
			if flavour == pmi.PMI2 {
				b, ok := mpibuild.ForFlavour("", string(flavour))
				if !ok {
					testenv.Require(t, "hpcbench's MPICH build for pmi2 (scripts/build-mpich.sh)", errors.New("not installed"))
				}
				buildFlag = b.Prefix
			}
			dir := t.TempDir()
			report := filepath.Join(dir, "report.json")
			// Each rank tells where the port is (a stranger finds it in
			// /proc/net/tcp; never PMI_ID) and waits for the strangers.
			script := `echo "$PMI_PORT" > "$1/port.$PMI_RANK"
while [ ! -e "$1/go" ]; do sleep 0.01; done
exec "$2" S`
			type result struct {
				out, errOut string
				err         error
			}
			done := make(chan result, 1)
			go func() {
				out, errOut, err := runLaunchVerb(t, "-n", "2", "--pmi", string(flavour), "--channel", "tcp",
					"--mpi-build", buildFlag, "--timeout", "2m", "--report", report, "--",
					"sh", "-c", script, "sh", dir, ep)
				done <- result{out, errOut, err}
			}()
			var port string
			for deadline := time.Now().Add(time.Minute); port == ""; time.Sleep(10 * time.Millisecond) {
				b, _ := os.ReadFile(filepath.Join(dir, "port.0"))
				port = strings.TrimSpace(string(b))
				if port == "" && time.Now().After(deadline) {
					os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
					r := <-done
					t.Fatalf("rank 0 never said the port: %v\n%s", r.err, r.errOut)
				}
			}
			dial := func() net.Conn {
				nc, err := net.Dial("tcp4", port)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { nc.Close() })
				return nc
			}
			frame := func(body string) string { return fmt.Sprintf("%-6d%s", len(body), body) }
			hostile := []struct {
				name, send, reply string
			}{
				{"claim rank 0 (PMI-1)", "cmd=initack pmiid=0\n", "cmd=initack rc=-1 msg=rank_refused\n"},
				{"claim rank 0 (PMI-2)", "cmd=init pmi_version=2 pmi_subversion=0\n" + frame("cmd=fullinit;pmirank=0;threaded=FALSE;"),
					"cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0\n" + frame("cmd=fullinit-response;rc=-1;errmsg=rank refused;")},
				{"oversize line", "cmd=put kvsname=x key=k value=" + strings.Repeat("x", 100<<10) + "\n", ""},
				{"garbage", "\x00\xff\x13 not PMI at all\n", ""},
			}
			for _, h := range hostile {
				nc := dial()
				io.WriteString(nc, h.send)
				if got := strangerReply(t, nc); got != h.reply {
					t.Errorf("%s: the server answered %q, want %q", h.name, got, h.reply)
				}
			}
			const idle = 10 // more than the ranks
			var idles []net.Conn
			for i := 0; i < idle; i++ {
				idles = append(idles, dial())
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(3 * time.Minute):
				t.Fatal("the launch did not end")
			}
			if r.err != nil {
				t.Fatalf("launch: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.out, r.errOut)
			}
			if !containsField(r.out, "Total processes", "2") || !containsField(r.out, "Verification", "SUCCESSFUL") {
				t.Errorf("EP did not verify as one world of 2 ranks:\n%s", r.out)
			}
			rep := readReport(t, report)
			if len(rep.Negotiated) != 2 || rep.Negotiated[0] != string(flavour) || rep.Negotiated[1] != string(flavour) {
				t.Errorf("negotiated %v, want %s x2", rep.Negotiated, flavour)
			}
			if want := len(hostile) + idle; rep.Refused != want {
				t.Errorf("report: %d refused connections, want %d (first: %s)", rep.Refused, want, rep.RefusedWhy)
			}
			if !strings.Contains(r.errOut, fmt.Sprintf("refused %d stranger connection(s)", len(hostile)+idle)) {
				t.Errorf("summary does not count the strangers:\n%s", r.errOut)
			}
			for _, nc := range idles {
				if got := strangerReply(t, nc); got != "" {
					t.Errorf("an idle stranger got %q", got)
				}
			}
		})
	}
}

// A launch of 100,000 ranks is refused at once, naming the ceiling and
// the flag that raises it; it used to start thousands of processes.
func TestLaunchVerbTooManyRanks(t *testing.T) {
	start := time.Now()
	_, _, err := runLaunchVerb(t, "-n", "100000", "--", "true")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "-n 100000: more ranks than one launch may start") ||
		!strings.Contains(err.Error(), "pass --max-ranks 100000") {
		t.Errorf("err %v (exit %d), want a usage error about the ceiling", err, exitCode(err))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("refusing took %v", took)
	}
	_, _, err = runLaunchVerb(t, "-n", "3", "--max-ranks", "2", "--", "true")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "(--max-ranks 2)") {
		t.Errorf("-n 3 --max-ranks 2: %v", err)
	}
	_, _, err = runLaunchVerb(t, "-n", "1", "--max-ranks", "-1", "--", "true")
	if exitCode(err) != 2 {
		t.Errorf("--max-ranks -1: %v", err)
	}
}

// A launch allowed thousands of ranks (--max-ranks) stops starting them
// when --timeout passes: it ends promptly and leaves no rank behind.
func TestLaunchVerbTimeoutWhileSpawning(t *testing.T) {
	testenv.SkipIfShort(t, "starts a few hundred processes")
	marker := fmt.Sprintf("%d.%06d", 6000+os.Getpid()%1000, rand.IntN(1000000))
	report := filepath.Join(t.TempDir(), "r.json")
	start := time.Now()
	_, errOut, err := runLaunchVerb(t, "-n", "3000", "--max-ranks", "3000", "--no-pmi", "--timeout", "1s",
		"--report", report, "--", "sleep", marker)
	took := time.Since(start)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "timeout after 1s") {
		t.Errorf("err %v (exit %d), want the timeout\n%s", err, exitCode(err), errOut)
	}
	if took > 6*time.Second {
		t.Errorf("the launch ended %v after its start, its timeout being 1s", took)
	}
	rep := readReport(t, report)
	if rep.Spawned == 0 || rep.Spawned >= 3000 || !strings.Contains(errOut, fmt.Sprintf("started %d of 3000 ranks", rep.Spawned)) {
		t.Errorf("%d of 3000 ranks started; want the start cut short, and said:\n%s", rep.Spawned, errOut)
	}
	want := []byte("sleep\x00" + marker + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cmdline")); err == nil && bytes.Equal(b, want) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("rank process %d is still running", pid)
		}
	}
}

// The world-size guard of the matrix applies to launch: MPICH's EP under
// --pmi pmix, with no PMIx build to speak it, runs as 2 singletons that
// exit 0; the launch fails and says why. --no-pmi declares a program that
// is no MPI program, and one rank needs no guard.
func TestLaunchVerbWorldGuard(t *testing.T) {
	ep := kernel(t, "ep")
	report := filepath.Join(t.TempDir(), "r.json")
	_, errOut, err := runLaunchVerb(t, "-n", "2", "--pmi", "pmix", "--mpi-build", "none", "--report", report, "--", ep, "S")
	if errors.Is(err, pmi.ErrUnsupported) || strings.Contains(fmt.Sprint(err), "PMIx is not available") {
		testenv.Require(t, "a build of hpcbench with PMIx (cgo and libpmix)", err)
	}
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "rank never spoke PMI (it ran as a singleton): rank(s) 0, 1 of 2") ||
		!strings.Contains(err.Error(), "pass --no-pmi") {
		t.Errorf("err %v (exit %d), want the singleton guard\n%s", err, exitCode(err), errOut)
	}
	rep := readReport(t, report)
	if rep.OK() || rep.Failure != pmi.FailureSingleton || rep.FailedRank != 0 || rep.ExitStatus != 1 {
		t.Errorf("report %+v, want the singleton failure", rep)
	}
	if !strings.Contains(errOut, "FAILED: job ") {
		t.Errorf("summary:\n%s", errOut)
	}

	out, errOut, err := runLaunchVerb(t, "-n", "2", "--no-pmi", "--tag-output", "--", "hostname")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("--no-pmi hostname: %v\n%s%s", err, out, errOut)
	}
	if _, errOut, err := runLaunchVerb(t, "-n", "2", "--", "hostname"); exitCode(err) != 1 || !strings.Contains(errOut, "ran as a singleton") {
		t.Errorf("hostname without --no-pmi: %v, want the guard\n%s", err, errOut)
	}
	if _, errOut, err := runLaunchVerb(t, "-n", "1", "--", "hostname"); err != nil {
		t.Errorf("one rank of hostname: %v\n%s", err, errOut)
	}
}

// launch has a default overall timeout, the matrix's default for a run:
// a job whose ranks never connect no longer hangs forever.
func TestLaunchDefaultTimeout(t *testing.T) {
	for _, f := range launchCommand().Flags {
		if d, ok := f.(*cli.DurationFlag); ok && d.Name == "timeout" {
			if d.Value != configs.DefaultTimeout || d.Value <= 0 {
				t.Errorf("--timeout defaults to %v, want %v", d.Value, configs.DefaultTimeout)
			}
			return
		}
	}
	t.Fatal("launch has no --timeout")
}
