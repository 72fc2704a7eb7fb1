package pmi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// Benchmarks print tables; run them with "make -C pmi bench" or
//
//	go test ./pmi -run '^$' -bench . -benchtime 1x -timeout 60m
//
// HPCBENCH_BENCH_REPS sets the repetitions per cell (default 10);
// HPCBENCH_BENCH_FULL=1 adds the load row of 8,192 clients with 256 of them
// getting every key (two million requests). For the load benchmark,
// HPCBENCH_LOAD_REPS sets the runs per row and HPCBENCH_LOAD_ROWS picks
// rows ("8192/fd,1024/tcp/256").

func benchReps() int {
	if n, err := strconv.Atoi(os.Getenv("HPCBENCH_BENCH_REPS")); err == nil && n > 0 {
		return n
	}
	return 10
}

func median(xs []time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }

var timingLine = regexp.MustCompile(`timing rank=(\d+) init_start=(\d+) init_end=(\d+) finalize_end=(\d+)`)

// helloTimes reads the ranks' HELLO_TIMING lines: the earliest MPI_Init
// start, the latest MPI_Init end and the latest MPI_Finalize end.
func helloTimes(out string, ranks int) (initStart, initEnd, finEnd time.Time, err error) {
	ms := timingLine.FindAllStringSubmatch(out, -1)
	if len(ms) != ranks {
		return initStart, initEnd, finEnd, fmt.Errorf("%d timing lines, want %d:\n%s", len(ms), ranks, out)
	}
	var lo, hiInit, hiFin int64
	for i, m := range ms {
		a, _ := strconv.ParseInt(m[2], 10, 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		c, _ := strconv.ParseInt(m[4], 10, 64)
		if i == 0 || a < lo {
			lo = a
		}
		hiInit = max(hiInit, b)
		hiFin = max(hiFin, c)
	}
	return time.Unix(0, lo), time.Unix(0, hiInit), time.Unix(0, hiFin), nil
}

// launchSample is one launch of the hello: its wall time, the time until
// every rank returned from MPI_Init (wire-up as the ranks see it), and the
// launcher's own share: wall minus the ranks' MPI_Init-to-Finalize span.
type launchSample struct {
	wall, initDone, own time.Duration
}

func sampleFrom(t0, end time.Time, out string, ranks int) (launchSample, error) {
	is, ie, fe, err := helloTimes(out, ranks)
	if err != nil {
		return launchSample{}, err
	}
	wall := end.Sub(t0)
	return launchSample{wall: wall, initDone: ie.Sub(t0), own: wall - fe.Sub(is)}, nil
}

func runProcessSample(argv []string, ranks int) (launchSample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(inheritedEnv(), "HELLO_TIMING=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	t0 := time.Now()
	err := cmd.Run()
	end := time.Now()
	if err != nil {
		return launchSample{}, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
	}
	return sampleFrom(t0, end, out.String(), ranks)
}

func runLaunchSample(hello string, ranks int) (launchSample, time.Duration, error) {
	var out syncBuffer
	t0 := time.Now()
	rep, err := Launch(context.Background(), Options{Ranks: ranks, Argv: []string{hello},
		Env: []string{"HELLO_TIMING=1"}, Stdout: &out, Stderr: &out, Timeout: 2 * time.Minute})
	end := time.Now()
	if err != nil {
		return launchSample{}, 0, err
	}
	if !rep.OK() {
		return launchSample{}, 0, fmt.Errorf("launch failed: %s\n%s", rep.Reason, out.String())
	}
	s, err := sampleFrom(t0, end, out.String(), ranks)
	return s, rep.WireUp, err
}

// BenchmarkLaunchVsHydra launches the MPICH hello at 1, 2, 4 and 8 ranks
// with MPICH's own mpiexec (Hydra), the hpcbench command and Launch called
// in-process, interleaved (the order rotates every repetition), and prints
// medians with the ratio hpcbench/Hydra.
func BenchmarkLaunchVsHydra(b *testing.B) {
	hello := program(b, "hello")
	testenv.LookPath(b, "mpiexec.mpich", "install mpich")
	bin := buildHpcbench(b)
	reps := benchReps()
	type cell struct {
		hydra, cmd, lib []launchSample
		wireUp          []time.Duration
	}
	rankCounts := []int{1, 2, 4, 8}
	cells := map[int]*cell{}
	for i := 0; i < b.N; i++ {
		for _, n := range rankCounts {
			c := &cell{}
			cells[n] = c
			runners := []func() error{
				func() error {
					s, err := runProcessSample([]string{"mpiexec.mpich", "-n", strconv.Itoa(n), hello}, n)
					c.hydra = append(c.hydra, s)
					return err
				},
				func() error {
					s, err := runProcessSample([]string{bin, "launch", "--quiet", "-n", strconv.Itoa(n), "--", hello}, n)
					c.cmd = append(c.cmd, s)
					return err
				},
				func() error {
					s, w, err := runLaunchSample(hello, n)
					c.lib = append(c.lib, s)
					c.wireUp = append(c.wireUp, w)
					return err
				},
			}
			// One warm-up of each, not counted.
			for _, run := range runners {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
			*c = cell{}
			for rep := 0; rep < reps; rep++ {
				for k := range runners {
					if err := runners[(rep+k)%len(runners)](); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	b.StopTimer()
	pick := func(ss []launchSample, f func(launchSample) time.Duration) time.Duration {
		var ds []time.Duration
		for _, s := range ss {
			ds = append(ds, f(s))
		}
		return median(ds)
	}
	wall := func(s launchSample) time.Duration { return s.wall }
	initDone := func(s launchSample) time.Duration { return s.initDone }
	own := func(s launchSample) time.Duration { return s.own }
	var tb strings.Builder
	fmt.Fprintf(&tb, "\nMPICH hello (init, allreduce, barrier, finalize), medians of %d interleaved runs, %d cores, times in ms\n", reps, runtime.NumCPU())
	fmt.Fprintf(&tb, "%-7s | %-11s | %-14s | %-7s | %-14s | %-7s | %-9s | %-9s | %-10s | %-8s | %-9s | %-9s\n",
		"ranks", "Hydra wall", "hpcbench cmd", "ratio", "Launch (lib)", "ratio", "Hydra MPI", "hpcb MPI", "hpcb wire", "Hydra", "hpcb cmd", "hpcb lib")
	fmt.Fprintf(&tb, "%-7s | %-11s | %-14s | %-7s | %-14s | %-7s | %-9s | %-9s | %-10s | %-8s | %-9s | %-9s\n",
		"", "", "wall", "cmd/Hy", "wall", "lib/Hy", "init done", "init done", "up (PMI)", "own", "own", "own")
	for _, n := range rankCounts {
		c := cells[n]
		hw, cw, lw := pick(c.hydra, wall), pick(c.cmd, wall), pick(c.lib, wall)
		label := strconv.Itoa(n)
		if n > runtime.NumCPU() {
			label += " (os)"
		}
		fmt.Fprintf(&tb, "%-7s | %-11s | %-14s | %-7.2f | %-14s | %-7.2f | %-9s | %-9s | %-10s | %-8s | %-9s | %-9s\n",
			label, ms(hw), ms(cw), float64(cw)/float64(hw), ms(lw), float64(lw)/float64(hw),
			ms(pick(c.hydra, initDone)), ms(pick(c.cmd, initDone)), ms(median(c.wireUp)),
			ms(pick(c.hydra, own)), ms(pick(c.cmd, own)), ms(pick(c.lib, own)))
		b.ReportMetric(float64(cw)/float64(hw), fmt.Sprintf("ratio-cmd/hydra-%dranks", n))
	}
	fmt.Fprintf(&tb, "(os) = oversubscribed: more ranks than cores. \"own\" = wall minus the ranks' earliest MPI_Init start to latest MPI_Finalize end.\n")
	fmt.Print(tb.String())
}

// The load test: many simulated PMI clients (goroutines in a separate
// process, so the server's memory is the test process's own) against one
// server over real TCP sockets.
const loadClientEnv = "HPCBENCH_PMI_LOAD_CLIENT"

func init() {
	// Runs before TestMain in the child: keep it out of the way there.
	if spec := os.Getenv(loadClientEnv); spec != "" {
		os.Exit(runLoadClients(spec))
	}
}

// runLoadClients is the client side: spec is
// "addr,clients,pmi1|pmi2,allGetters,tokens" where addr "fd" means client
// r uses the inherited fd 3+r (the socketpair channel), and tokens is a
// file with each TCP client's PMI_ID, one a line. It prints "wall_ns=N"
// once every client finished.
func runLoadClients(spec string) int {
	parts := strings.Split(spec, ",")
	if len(parts) != 5 {
		fmt.Fprintln(os.Stderr, "bad spec", spec)
		return 2
	}
	addr := parts[0]
	n, _ := strconv.Atoi(parts[1])
	pmi2 := parts[2] == "pmi2"
	allGetters, _ := strconv.Atoi(parts[3])
	ids := make([]int, n)
	for r := range ids {
		ids[r] = r
	}
	if parts[4] != "" {
		b, err := os.ReadFile(parts[4])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for r, line := range strings.Fields(string(b)) {
			if r < n {
				ids[r], _ = strconv.Atoi(line)
			}
		}
	}
	// Real ranks do not dial all at once; keeping under the kernel's
	// accept backlog avoids 1 s SYN retransmissions that would measure
	// the kernel, not the server.
	dialSlots := make(chan struct{}, 512)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			if err := loadClient(addr, r, ids[r], n, pmi2, r < allGetters, dialSlots); err != nil {
				errs <- fmt.Errorf("client %d: %w", r, err)
			}
		}(r)
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("wall_ns=%d\n", wall.Nanoseconds())
	return 0
}

// loadConn is a lean simulated client: it shares the two cores with the
// server, so it builds requests in one reused buffer, reads replies through
// a small buffer without allocating, and sets its deadline once instead of
// per reply. It speaks the same bytes as a real client.
type loadConn struct {
	nc  net.Conn
	rd  *bufio.Reader
	out []byte
	in  []byte
}

// frame sends the PMI-2 body in out[pmi2LengthField:] (the length field
// is filled in here) and returns the reply body.
func (lc *loadConn) frame() ([]byte, error) {
	n := len(lc.out) - pmi2LengthField
	copy(lc.out[:pmi2LengthField], "      ")
	strconv.AppendInt(lc.out[:0], int64(n), 10)
	if _, err := lc.nc.Write(lc.out); err != nil {
		return nil, err
	}
	var field [pmi2LengthField]byte
	if _, err := io.ReadFull(lc.rd, field[:]); err != nil {
		return nil, err
	}
	size, err := parseFrameLength(field[:])
	if err != nil {
		return nil, err
	}
	if cap(lc.in) < size {
		lc.in = make([]byte, size)
	}
	lc.in = lc.in[:size]
	_, err = io.ReadFull(lc.rd, lc.in)
	return lc.in, err
}

// line sends the PMI-1 line in out (the newline is added here) and returns
// the reply line without its newline.
func (lc *loadConn) line() ([]byte, error) {
	lc.out = append(lc.out, '\n')
	if _, err := lc.nc.Write(lc.out); err != nil {
		return nil, err
	}
	return lc.readLine()
}

func (lc *loadConn) readLine() ([]byte, error) {
	b, err := lc.rd.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}

// begin starts a request: PMI-2 leaves room for the length field.
func (lc *loadConn) begin(pmi2 bool, parts ...string) {
	lc.out = lc.out[:0]
	if pmi2 {
		lc.out = append(lc.out, "      "...)
	}
	for _, p := range parts {
		lc.out = append(lc.out, p...)
	}
}

func (lc *loadConn) int(n int) { lc.out = strconv.AppendInt(lc.out, int64(n), 10) }

func (lc *loadConn) str(s string) { lc.out = append(lc.out, s...) }

// loadClient is client r of n; id names it in fullinit or initack (over
// TCP its token).
func loadClient(addr string, r, id, n int, pmi2, getAll bool, dialSlots chan struct{}) error {
	var nc net.Conn
	if addr == "fd" {
		f := os.NewFile(uintptr(3+r), "pmi")
		var err error
		nc, err = net.FileConn(f)
		f.Close()
		if err != nil {
			return err
		}
	} else {
		dialSlots <- struct{}{}
		var err error
		for try := 0; try < 50; try++ {
			nc, err = net.Dial("tcp4", addr)
			if err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond) // a full accept backlog
		}
		<-dialSlots
		if err != nil {
			return err
		}
	}
	defer nc.Close()
	// One deadline for the whole conversation: a fence of thousands of
	// clients on a busy machine takes a while.
	nc.SetDeadline(time.Now().Add(5 * time.Minute))
	lc := &loadConn{nc: nc, rd: bufio.NewReaderSize(nc, 256), out: make([]byte, 0, 128)}
	peers := 16
	if getAll {
		peers = n
	}
	card := func() {
		lc.str("description#tcp-127.0.0.1:")
		lc.int(40000 + r)
		lc.str("$shm-host-")
		lc.int(r)
		lc.str("$ifname#lo$")
	}
	check := func(what string, resp []byte, err error, want string) error {
		if err != nil || !bytes.Contains(resp, []byte(want)) {
			return fmt.Errorf("%s: %q %v", what, resp, err)
		}
		return nil
	}
	if pmi2 {
		lc.begin(false, "cmd=init pmi_version=2 pmi_subversion=0")
		resp, err := lc.line()
		if err := check("init", resp, err, "rc=0"); err != nil {
			return err
		}
		lc.begin(true, "cmd=fullinit;pmirank=")
		lc.int(id)
		lc.str(";threaded=FALSE;")
		resp, err = lc.frame()
		if err := check("fullinit", resp, err, ";rc=0;"); err != nil {
			return err
		}
		lc.begin(true, "cmd=kvs-put;key=card-")
		lc.int(r)
		lc.str(";value=")
		card()
		lc.str(";")
		resp, err = lc.frame()
		if err := check("put", resp, err, "rc=0"); err != nil {
			return err
		}
		lc.begin(true, "cmd=kvs-fence;")
		resp, err = lc.frame()
		if err := check("fence", resp, err, "rc=0"); err != nil {
			return err
		}
		for i := 1; i <= peers; i++ {
			p := (r + i) % n
			lc.begin(true, "cmd=kvs-get;jobid=kvs_load;srcid=")
			lc.int(p)
			lc.str(";key=card-")
			lc.int(p)
			lc.str(";")
			resp, err := lc.frame()
			if err := check("get", resp, err, "found=TRUE"); err != nil {
				return err
			}
		}
		lc.begin(true, "cmd=finalize;")
		resp, err = lc.frame()
		return check("finalize", resp, err, "rc=0")
	}
	lc.begin(false, "cmd=initack pmiid=")
	lc.int(id)
	lc.out = append(lc.out, '\n')
	if _, err := nc.Write(lc.out); err != nil {
		return err
	}
	for i := 0; i < 4; i++ {
		if _, err := lc.readLine(); err != nil {
			return err
		}
	}
	lc.begin(false, "cmd=init pmi_version=1 pmi_subversion=1")
	resp, err := lc.line()
	if err := check("init", resp, err, "rc=0"); err != nil {
		return err
	}
	lc.begin(false, "cmd=put kvsname=kvs_load key=card-")
	lc.int(r)
	lc.str(" value=")
	card()
	resp, err = lc.line()
	if err := check("put", resp, err, "rc=0"); err != nil {
		return err
	}
	lc.begin(false, "cmd=barrier_in")
	resp, err = lc.line()
	if err := check("barrier", resp, err, "cmd=barrier_out"); err != nil {
		return err
	}
	for i := 1; i <= peers; i++ {
		p := (r + i) % n
		lc.begin(false, "cmd=get kvsname=kvs_load key=card-")
		lc.int(p)
		resp, err := lc.line()
		if err := check("get", resp, err, "rc=0"); err != nil {
			return err
		}
	}
	lc.begin(false, "cmd=finalize")
	resp, err = lc.line()
	return check("finalize", resp, err, "finalize_ack")
}

// procStatusKiB reads a "Name: N kB" field of /proc/self/status.
func procStatusKiB(name string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

type loadResult struct {
	wall time.Duration
	// serverCPU and clientCPU are user+system time of the server (this
	// process) and of the client process: what the load costs whatever
	// else the machine runs.
	serverCPU, clientCPU time.Duration
	peakKiB              int64 // growth of the server process's peak RSS
	heapKiB              int64 // Go heap + stacks in use at the end, before close
}

func runLoad(b *testing.B, self string, n int, pmi2 bool, allGetters int, channel Channel) loadResult {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset the peak RSS
	cpu0 := selfCPU()
	before := procStatusKiB("VmRSS")
	s, err := newSimpleServer(backendConfig{Job: Job{Ranks: n, Channel: channel}, KVS: "kvs_load", Events: nopSink{}})
	if err != nil {
		b.Fatal(err)
	}
	addr := s.addr()
	var files []*os.File
	var tokens strings.Builder
	for r := 0; r < n; r++ {
		setup, err := s.rankSetup(r)
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, setup.Files...)
		for _, kv := range setup.Env {
			if id, ok := strings.CutPrefix(kv, "PMI_ID="); ok {
				tokens.WriteString(id + "\n")
			}
		}
	}
	tokenFile := ""
	if channel == ChannelFD {
		addr = "fd"
	} else {
		tokenFile = filepath.Join(b.TempDir(), "tokens")
		if err := os.WriteFile(tokenFile, []byte(tokens.String()), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	proto := "pmi1"
	if pmi2 {
		proto = "pmi2"
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%s,%d,%s", loadClientEnv, addr, n, proto, allGetters, tokenFile))
	cmd.ExtraFiles = files
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Start()
	for r := range files {
		s.rankStarted(r)
	}
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		s.close()
		b.Fatalf("load clients: %v\n%s", err, out.String())
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak := procStatusKiB("VmHWM")
	serverCPU := selfCPU() - cpu0
	s.close()
	m := regexp.MustCompile(`wall_ns=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		b.Fatalf("no wall time from the clients:\n%s", out.String())
	}
	ns, _ := strconv.ParseInt(m[1], 10, 64)
	return loadResult{wall: time.Duration(ns), peakKiB: peak - before, heapKiB: int64(ms.HeapInuse+ms.StackInuse) / 1024,
		serverCPU: serverCPU, clientCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPMIServerLoad: 1,024 and 8,192 simulated clients each init,
// put a business card, fence once and get 16 peers' cards; then the same
// with 256 of them getting every card; PMI-2 against PMI-1.
func BenchmarkPMIServerLoad(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	reps := max(3, benchReps()/3)
	if n, err := strconv.Atoi(os.Getenv("HPCBENCH_LOAD_REPS")); err == nil && n > 0 {
		reps = n
	}
	// HPCBENCH_LOAD_ROWS picks rows, e.g. "8192/fd,1024/fd/256".
	only := map[string]bool{}
	for _, row := range strings.Split(os.Getenv("HPCBENCH_LOAD_ROWS"), ",") {
		if row != "" {
			only[row] = true
		}
	}
	var tb strings.Builder
	fmt.Fprintf(&tb, "\nPMI server load (fd: socketpairs, tcp: 127.0.0.1), medians of %d runs (1 for the get-all rows), clients in a separate process\n", reps)
	fmt.Fprintf(&tb, "%-7s | %-24s | %-8s | %-10s | %-10s | %-9s | %-9s | %-8s | %-10s | %-10s | %-9s | %-8s\n",
		"clients", "per client", "PMI-2 ms", "srv CPU ms", "cli CPU ms", "peak MiB", "heap MiB", "PMI-1 ms", "srv CPU ms", "cli CPU ms", "peak MiB", "2/1 time")
	for i := 0; i < b.N; i++ {
		for _, sc := range []struct {
			n, all  int
			channel Channel
		}{{1024, 0, ChannelFD}, {8192, 0, ChannelFD}, {1024, 0, ChannelTCP}, {8192, 0, ChannelTCP},
			{1024, 256, ChannelFD}, {1024, 256, ChannelTCP}, {8192, 256, ChannelTCP}} {
			row := fmt.Sprintf("%d/%s", sc.n, sc.channel)
			if sc.all > 0 {
				row += fmt.Sprintf("/%d", sc.all)
			}
			if len(only) > 0 && !only[row] {
				continue
			}
			if sc.n == 8192 && sc.all > 0 && os.Getenv("HPCBENCH_BENCH_FULL") == "" && !only[row] {
				continue // two million gets: minutes; HPCBENCH_BENCH_FULL=1 runs it
			}
			var w2, w1, s2, s1, c2, c1 []time.Duration
			var p2, p1, h2 int64
			runs := reps
			if sc.all > 0 {
				runs = 1 // millions of gets: one run says enough
			}
			for rep := 0; rep < runs; rep++ {
				r2 := runLoad(b, self, sc.n, true, sc.all, sc.channel)
				r1 := runLoad(b, self, sc.n, false, sc.all, sc.channel)
				w2, w1 = append(w2, r2.wall), append(w1, r1.wall)
				s2, s1 = append(s2, r2.serverCPU), append(s1, r1.serverCPU)
				c2, c1 = append(c2, r2.clientCPU), append(c1, r1.clientCPU)
				p2, p1, h2 = max(p2, r2.peakKiB), max(p1, r1.peakKiB), max(h2, r2.heapKiB)
			}
			what := string(sc.channel) + ": init,put,fence,16 gets"
			if sc.all > 0 {
				what = fmt.Sprintf("%s: + %d get all", sc.channel, sc.all)
			}
			m2, m1 := median(w2), median(w1)
			fmt.Fprintf(&tb, "%-7d | %-24s | %-8s | %-10s | %-10s | %-9.1f | %-9.1f | %-8s | %-10s | %-10s | %-9.1f | %-8.2f\n",
				sc.n, what, ms(m2), ms(median(s2)), ms(median(c2)), float64(p2)/1024, float64(h2)/1024,
				ms(m1), ms(median(s1)), ms(median(c1)), float64(p1)/1024, float64(m2)/float64(m1))
			// Print as we go: the get-all rows take minutes.
			fmt.Print(tb.String())
			tb.Reset()
			if sc.all == 0 {
				b.ReportMetric(float64(m2)/1e6, fmt.Sprintf("pmi2-%s-ms-%dclients", sc.channel, sc.n))
			}
		}
	}
	fmt.Fprintf(&tb, "peak = growth of the server process's peak RSS; heap = Go heap and stacks in use at the end (max over runs);\n")
	fmt.Fprintf(&tb, "CPU = user+system time of the server (this process) and of the client process (medians)\n")
	fmt.Print(tb.String())
}
