package pmi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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
	"golang.org/x/sys/unix"
)

// Benchmarks print tables; run them with "make -C pmi bench" or
//
//	go test ./pmi -run '^$' -bench . -benchtime 1x -timeout 60m
//
// HPCBENCH_BENCH_REPS sets the repetitions per cell (default 10);
// HPCBENCH_BENCH_FULL=1 adds the load row of 8,192 clients with 256 of them
// getting every key (two million requests). For the load benchmark,
// HPCBENCH_LOAD_REPS sets the runs per row and HPCBENCH_LOAD_ROWS picks
// rows ("8192/fd,1024/tcp/256"); HPCBENCH_LOAD_CLIENTS=goroutines runs the
// fd rows' clients as a goroutine each instead of one epoll loop.

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

func runProcessSample(argv []string, ranks int, env ...string) (launchSample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(inheritedEnv(), "HELLO_TIMING=1"), env...)
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
// with MPICH's own mpiexec (Hydra), the hpcbench command (as is, and
// without its start-up container sweep) and Launch called in-process,
// interleaved (the order rotates every repetition), and prints medians
// with the ratio hpcbench/Hydra.
func BenchmarkLaunchVsHydra(b *testing.B) {
	hello := program(b, "hello")
	testenv.LookPath(b, "mpiexec.mpich", "install mpich")
	bin := buildHpcbench(b)
	reps := benchReps()
	type cell struct {
		hydra, cmd, bare, lib []launchSample
		wireUp                []time.Duration
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
					// The command without its start-up sweep of
					// containers left by a killed hpcbench.
					s, err := runProcessSample([]string{bin, "launch", "--quiet", "-n", strconv.Itoa(n), "--", hello}, n, "HPCBENCH_SWEEP_CONTAINERS=0")
					c.bare = append(c.bare, s)
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
	fmt.Fprintf(&tb, "%-7s | %-11s | %-14s | %-7s | %-14s | %-7s | %-14s | %-7s | %-9s | %-9s | %-10s | %-8s | %-9s | %-9s | %-9s\n",
		"ranks", "Hydra wall", "hpcbench cmd", "ratio", "cmd, no sweep", "ratio", "Launch (lib)", "ratio", "Hydra MPI", "hpcb MPI", "hpcb wire", "Hydra", "hpcb cmd", "no sweep", "hpcb lib")
	fmt.Fprintf(&tb, "%-7s | %-11s | %-14s | %-7s | %-14s | %-7s | %-14s | %-7s | %-9s | %-9s | %-10s | %-8s | %-9s | %-9s | %-9s\n",
		"", "", "wall", "cmd/Hy", "wall", "bare/Hy", "wall", "lib/Hy", "init done", "init done", "up (PMI)", "own", "own", "own", "own")
	for _, n := range rankCounts {
		c := cells[n]
		hw, cw, bw, lw := pick(c.hydra, wall), pick(c.cmd, wall), pick(c.bare, wall), pick(c.lib, wall)
		label := strconv.Itoa(n)
		if n > runtime.NumCPU() {
			label += " (os)"
		}
		fmt.Fprintf(&tb, "%-7s | %-11s | %-14s | %-7.2f | %-14s | %-7.2f | %-14s | %-7.2f | %-9s | %-9s | %-10s | %-8s | %-9s | %-9s | %-9s\n",
			label, ms(hw), ms(cw), float64(cw)/float64(hw), ms(bw), float64(bw)/float64(hw), ms(lw), float64(lw)/float64(hw),
			ms(pick(c.hydra, initDone)), ms(pick(c.cmd, initDone)), ms(median(c.wireUp)),
			ms(pick(c.hydra, own)), ms(pick(c.cmd, own)), ms(pick(c.bare, own)), ms(pick(c.lib, own)))
		b.ReportMetric(float64(cw)/float64(hw), fmt.Sprintf("ratio-cmd/hydra-%dranks", n))
		b.ReportMetric(float64(pick(c.lib, own))/1e6, fmt.Sprintf("lib-own-ms-%dranks", n))
	}
	fmt.Fprintf(&tb, "(os) = oversubscribed: more ranks than cores. \"own\" = wall minus the ranks' earliest MPI_Init start to latest MPI_Finalize end.\n")
	fmt.Fprintf(&tb, "\"no sweep\" = the command with HPCBENCH_SWEEP_CONTAINERS=0: without its start-up check for containers left by a killed hpcbench.\n")
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
// "addr,clients,pmi1|pmi2,allGetters,tokens,first,count": this process
// runs clients first..first+count-1 of the job's clients. addr "fd" means
// client first+i uses the inherited fd 3+i (the socketpair channel), all
// of them driven by one epoll loop ("fdpoll": a goroutine each); tokens is
// a file with each TCP client's PMI_ID, one a line. It prints when the
// clients started and when the last one finished, as Unix nanoseconds
// ("start_ns=N end_ns=N").
func runLoadClients(spec string) int {
	parts := strings.Split(spec, ",")
	if len(parts) != 7 {
		fmt.Fprintln(os.Stderr, "bad spec", spec)
		return 2
	}
	addr := parts[0]
	n, _ := strconv.Atoi(parts[1])
	pmi2 := parts[2] == "pmi2"
	allGetters, _ := strconv.Atoi(parts[3])
	first, _ := strconv.Atoi(parts[5])
	count, _ := strconv.Atoi(parts[6])
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
	start := time.Now()
	done := func() int {
		fmt.Printf("start_ns=%d end_ns=%d\n", start.UnixNano(), time.Now().UnixNano())
		return 0
	}
	if addr == "fd" {
		if err := runFDClients(n, first, count, pmi2, allGetters); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return done()
	}
	// Real ranks do not dial all at once; keeping under the kernel's
	// accept backlog avoids 1 s SYN retransmissions that would measure
	// the kernel, not the server.
	dialSlots := make(chan struct{}, 512)
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(r, fd int) {
			defer wg.Done()
			if err := loadClient(addr, r, fd, ids[r], n, pmi2, r < allGetters, dialSlots); err != nil {
				errs <- fmt.Errorf("client %d: %w", r, err)
			}
		}(first+i, 3+i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return done()
}

// loadConn is a lean simulated client: it shares the two cores with the
// server, so it builds requests in one reused buffer and reads replies
// without allocating. It speaks the same bytes as a real client.
type loadConn struct {
	out []byte
	in  []byte
}

// replyKind is the shape of the reply a load request expects.
type replyKind int

const (
	replyLine    replyKind = iota // one PMI-1 line
	replyInitack                  // PMI-1 initack: four lines
	replyFrame                    // one PMI-2 frame
)

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

// seal ends the request: a PMI-2 frame gets its length field, a PMI-1
// line its newline.
func (lc *loadConn) seal(kind replyKind) {
	if kind != replyFrame {
		lc.out = append(lc.out, '\n')
		return
	}
	copy(lc.out[:pmi2LengthField], "      ")
	strconv.AppendInt(lc.out[:0], int64(len(lc.out)-pmi2LengthField), 10)
}

// card is client r's business card, as MPICH's ch3 puts it.
func (lc *loadConn) card(r int) {
	lc.str("description#tcp-127.0.0.1:")
	lc.int(40000 + r)
	lc.str("$shm-host-")
	lc.int(r)
	lc.str("$ifname#lo$")
}

// step builds request number i of client r of n (id names it in fullinit
// or initack; over TCP its token) in lc.out, ready to send, and returns
// the reply it expects and what that reply must contain; done once the
// conversation is over. Each client inits, puts its card, fences, gets 16
// peers' cards (every card with getAll) and finalizes.
func (lc *loadConn) step(i, r, id, n int, pmi2, getAll bool) (kind replyKind, want string, done bool) {
	peers := 16
	if getAll {
		peers = n
	}
	kind, want = replyLine, "rc=0"
	if pmi2 && i > 0 {
		kind = replyFrame
	}
	switch {
	case i == 0 && pmi2:
		lc.begin(false, "cmd=init pmi_version=2 pmi_subversion=0")
	case i == 0:
		lc.begin(false, "cmd=initack pmiid=")
		lc.int(id)
		kind, want = replyInitack, "cmd=initack"
	case i == 1 && pmi2:
		lc.begin(true, "cmd=fullinit;pmirank=")
		lc.int(id)
		lc.str(";threaded=FALSE;")
		want = ";rc=0;"
	case i == 1:
		lc.begin(false, "cmd=init pmi_version=1 pmi_subversion=1")
	case i == 2 && pmi2:
		lc.begin(true, "cmd=kvs-put;key=card-")
		lc.int(r)
		lc.str(";value=")
		lc.card(r)
		lc.str(";")
	case i == 2:
		lc.begin(false, "cmd=put kvsname=kvs_load key=card-")
		lc.int(r)
		lc.str(" value=")
		lc.card(r)
	case i == 3 && pmi2:
		lc.begin(true, "cmd=kvs-fence;")
	case i == 3:
		lc.begin(false, "cmd=barrier_in")
		want = "cmd=barrier_out"
	case i < 4+peers:
		p := (r + i - 3) % n
		if pmi2 {
			lc.begin(true, "cmd=kvs-get;jobid=kvs_load;srcid=")
			lc.int(p)
			lc.str(";key=card-")
			lc.int(p)
			lc.str(";")
			want = "found=TRUE"
		} else {
			lc.begin(false, "cmd=get kvsname=kvs_load key=card-")
			lc.int(p)
		}
	case i == 4+peers && pmi2:
		lc.begin(true, "cmd=finalize;")
	case i == 4+peers:
		lc.begin(false, "cmd=finalize")
		want = "finalize_ack"
	default:
		return 0, "", true
	}
	lc.seal(kind)
	return kind, want, false
}

// reply returns the length of the whole reply of the given kind at the
// start of lc.in, 0 while it is incomplete.
func (lc *loadConn) reply(kind replyKind) (int, error) {
	switch kind {
	case replyFrame:
		if len(lc.in) < pmi2LengthField {
			return 0, nil
		}
		size, err := parseFrameLength(lc.in[:pmi2LengthField])
		if err != nil || len(lc.in) < pmi2LengthField+size {
			return 0, err
		}
		return pmi2LengthField + size, nil
	case replyInitack:
		end := 0
		for k := 0; k < 4; k++ {
			i := bytes.IndexByte(lc.in[end:], '\n')
			if i < 0 {
				return 0, nil
			}
			end += i + 1
		}
		return end, nil
	}
	if i := bytes.IndexByte(lc.in, '\n'); i >= 0 {
		return i + 1, nil
	}
	return 0, nil
}

// loadClient is client r of n over a connection of its own, read through
// the runtime's poller: the TCP rows use it, and the fd rows with
// HPCBENCH_LOAD_CLIENTS=goroutines (addr "fdpoll": the inherited fd).
func loadClient(addr string, r, fd, id, n int, pmi2, getAll bool, dialSlots chan struct{}) error {
	var nc net.Conn
	var err error
	if addr == "fdpoll" {
		f := os.NewFile(uintptr(fd), "pmi")
		nc, err = net.FileConn(f)
		f.Close()
	} else {
		dialSlots <- struct{}{}
		for try := 0; try < 50; try++ {
			nc, err = net.Dial("tcp4", addr)
			if err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond) // a full accept backlog
		}
		<-dialSlots
	}
	if err != nil {
		return err
	}
	defer nc.Close()
	// One deadline for the whole conversation: a fence of thousands of
	// clients on a busy machine takes a while.
	nc.SetDeadline(time.Now().Add(5 * time.Minute))
	lc := &loadConn{out: make([]byte, 0, 128)}
	var buf [256]byte
	for i := 0; ; i++ {
		kind, want, done := lc.step(i, r, id, n, pmi2, getAll)
		if done {
			return nil
		}
		if _, err := nc.Write(lc.out); err != nil {
			return err
		}
		lc.in = lc.in[:0]
		for {
			size, err := lc.reply(kind)
			if err != nil {
				return err
			}
			if size > 0 {
				if !bytes.Contains(lc.in[:size], []byte(want)) {
					return fmt.Errorf("request %d %q: reply %q", i, lc.out, lc.in[:size])
				}
				break
			}
			k, err := nc.Read(buf[:])
			if err != nil {
				return fmt.Errorf("request %d %q: %w", i, lc.out, err)
			}
			lc.in = append(lc.in, buf[:k]...)
		}
	}
}

// runFDClients drives the n clients on the inherited fds 3..3+n-1 from one
// goroutine over epoll, as the server's fd loop serves them: each client
// still sends one request at a time and waits for its reply, but costs
// one read and one write per request, not the poller's read that finds
// nothing, park and wake-up per client goroutine. A real rank blocks in
// read(2) on its own core; here thousands share two cores with the server.
func runFDClients(n, first, count int, pmi2 bool, allGetters int) error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(epfd)
	type client struct {
		lc   loadConn
		i    int
		kind replyKind
		want string
	}
	clients := make([]client, count)
	// Client i is rank first+i on fd 3+i.
	send := func(i int) (bool, error) {
		c := &clients[i]
		r := first + i
		kind, want, done := c.lc.step(c.i, r, r, n, pmi2, r < allGetters)
		if done {
			return true, nil
		}
		c.kind, c.want = kind, want
		k, err := unix.Write(3+i, c.lc.out)
		if err == nil && k < len(c.lc.out) {
			err = fmt.Errorf("short write")
		}
		return false, err
	}
	for i := range clients {
		fd := 3 + i
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("client %d: epoll: %w", first+i, err)
		}
		clients[i].lc.out = make([]byte, 0, 128)
		if _, err := send(i); err != nil {
			return fmt.Errorf("client %d: %w", first+i, err)
		}
	}
	events := make([]unix.EpollEvent, 256)
	var buf [512]byte
	for live := count; live > 0; {
		k, err := unix.EpollWait(epfd, events, int((5 * time.Minute).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if k == 0 {
			return fmt.Errorf("%d clients got no reply for 5 minutes", live)
		}
		for _, ev := range events[:k] {
			i := int(ev.Pad)
			r := first + i
			c := &clients[i]
			got, err := unix.Read(3+i, buf[:])
			if err != nil || got <= 0 {
				return fmt.Errorf("client %d, request %d %q: read %d: %v", r, c.i, c.lc.out, got, err)
			}
			c.lc.in = append(c.lc.in, buf[:got]...)
			size, err := c.lc.reply(c.kind)
			if err != nil {
				return fmt.Errorf("client %d: %w", r, err)
			}
			if size == 0 {
				continue
			}
			if size != len(c.lc.in) || !bytes.Contains(c.lc.in, []byte(c.want)) {
				return fmt.Errorf("client %d, request %d %q: reply %q", r, c.i, c.lc.out, c.lc.in)
			}
			c.lc.in = c.lc.in[:0]
			c.i++
			done, err := send(i)
			if err != nil {
				return fmt.Errorf("client %d: %w", r, err)
			}
			if done {
				unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, 3+i, nil)
				unix.Close(3 + i)
				live--
			}
		}
	}
	return nil
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
	processes            int   // client processes
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
	proto := "pmi1"
	if pmi2 {
		proto = "pmi2"
	}
	// Over fd the server holds both ends of a socketpair until the
	// client process that takes one started: where the open-file limit
	// cannot hold both for every client, the clients are split over
	// several processes, started one after the other.
	perProcess := n
	tokenFile := ""
	if channel == ChannelFD {
		addr = "fd"
		if os.Getenv("HPCBENCH_LOAD_CLIENTS") == "goroutines" {
			addr = "fdpoll"
		}
		perProcess = min(n, fileBudget(b, 2*n+256)-n-256)
		if perProcess < 1 {
			b.Skipf("%d clients over fd need more open files than this process may have", n)
		}
	}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	var tokens strings.Builder
	fail := func(err error) {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		s.close()
		var all strings.Builder
		for _, o := range outs {
			all.Write(o.Bytes())
		}
		b.Fatalf("load clients: %v\n%s", err, all.String())
	}
	for first := 0; first < n; first += perProcess {
		count := min(perProcess, n-first)
		var files []*os.File
		for r := first; r < first+count; r++ {
			setup, err := s.rankSetup(r)
			if err != nil {
				fail(err)
			}
			files = append(files, setup.Files...)
			for _, kv := range setup.Env {
				if id, ok := strings.CutPrefix(kv, "PMI_ID="); ok {
					tokens.WriteString(id + "\n")
				}
			}
		}
		if channel == ChannelTCP {
			tokenFile = filepath.Join(b.TempDir(), "tokens")
			if err := os.WriteFile(tokenFile, []byte(tokens.String()), 0o600); err != nil {
				fail(err)
			}
		}
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%s,%d,%s,%d,%d", loadClientEnv, addr, n, proto, allGetters, tokenFile, first, count))
		cmd.ExtraFiles = files
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		err := cmd.Start()
		for r := first; r < first+count; r++ {
			s.rankStarted(r)
		}
		if err != nil {
			fail(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	var clientCPU time.Duration
	var start, end int64
	span := regexp.MustCompile(`start_ns=(\d+) end_ns=(\d+)`)
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			cmds = cmds[i+1:]
			fail(err)
		}
		clientCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		m := span.FindStringSubmatch(outs[i].String())
		if m == nil {
			cmds = cmds[i+1:]
			fail(fmt.Errorf("no times from the clients"))
		}
		a, _ := strconv.ParseInt(m[1], 10, 64)
		z, _ := strconv.ParseInt(m[2], 10, 64)
		if i == 0 || a < start {
			start = a
		}
		end = max(end, z)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak := procStatusKiB("VmHWM")
	serverCPU := selfCPU() - cpu0
	s.close()
	return loadResult{wall: time.Duration(end - start), peakKiB: peak - before, heapKiB: int64(ms.HeapInuse+ms.StackInuse) / 1024,
		serverCPU: serverCPU, clientCPU: clientCPU, processes: len(cmds)}
}

// fileBudget raises this process's open-file limit towards want (as far
// as the hard limit goes; the client processes inherit it) and returns
// the limit.
func fileBudget(b *testing.B, want int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < uint64(want) && lim.Cur < lim.Max {
		lim.Cur = min(uint64(want), lim.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Fatal(err)
		}
	}
	return int(lim.Cur)
}

// fdClients says how the fd rows' clients run.
func fdClients() string {
	if os.Getenv("HPCBENCH_LOAD_CLIENTS") == "goroutines" {
		return "a goroutine each"
	}
	return "one epoll loop per client process, more processes where the open-file limit needs it"
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPMIServerLoad: 1,024, 8,192 and (over fd) 16,384 simulated
// clients each init, put a business card, fence once and get 16 peers'
// cards; then the same with 256 of them getting every card; PMI-2 against
// PMI-1.
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
	var tb, floor strings.Builder
	var notes []string
	fmt.Fprintf(&floor, "\nPMI-2 over fd against the socket floor (the same clients and requests, each answered at once with a canned reply), same runs\n")
	fmt.Fprintf(&floor, "%-7s | %-10s | %-10s | %-10s | %-10s | %-10s | %-10s | %-9s | %-9s\n",
		"clients", "floor ms", "srv CPU ms", "cli CPU ms", "PMI-2 ms", "srv CPU ms", "cli CPU ms", "wall x", "srv CPU x")
	fmt.Fprintf(&tb, "\nPMI server load (fd: socketpairs, tcp: 127.0.0.1), medians of %d runs (1 for the get-all rows), clients in a separate process\n", reps)
	fmt.Fprintf(&tb, "%-7s | %-24s | %-8s | %-10s | %-10s | %-9s | %-9s | %-8s | %-10s | %-10s | %-9s | %-8s\n",
		"clients", "per client", "PMI-2 ms", "srv CPU ms", "cli CPU ms", "peak MiB", "heap MiB", "PMI-1 ms", "srv CPU ms", "cli CPU ms", "peak MiB", "2/1 time")
	for i := 0; i < b.N; i++ {
		for _, sc := range []struct {
			n, all  int
			channel Channel
		}{{1024, 0, ChannelFD}, {8192, 0, ChannelFD}, {16384, 0, ChannelFD}, {1024, 0, ChannelTCP}, {8192, 0, ChannelTCP},
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
			procs := 1
			runs := reps
			if sc.all > 0 {
				runs = 1 // millions of gets: one run says enough
			}
			withFloor := sc.channel == ChannelFD && sc.all == 0
			var fw, fs, fc []time.Duration
			for rep := 0; rep < runs; rep++ {
				if withFloor {
					f := runFloor(b, self, sc.n, true)
					fw, fs, fc = append(fw, f.wall), append(fs, f.serverCPU), append(fc, f.clientCPU)
				}
				r2 := runLoad(b, self, sc.n, true, sc.all, sc.channel)
				r1 := runLoad(b, self, sc.n, false, sc.all, sc.channel)
				w2, w1 = append(w2, r2.wall), append(w1, r1.wall)
				s2, s1 = append(s2, r2.serverCPU), append(s1, r1.serverCPU)
				c2, c1 = append(c2, r2.clientCPU), append(c1, r1.clientCPU)
				p2, p1, h2 = max(p2, r2.peakKiB), max(p1, r1.peakKiB), max(h2, r2.heapKiB)
				procs = max(procs, r2.processes, r1.processes)
			}
			if withFloor {
				fmt.Fprintf(&floor, "%-7d | %-10s | %-10s | %-10s | %-10s | %-10s | %-10s | %-9.2f | %-9.2f\n",
					sc.n, ms(median(fw)), ms(median(fs)), ms(median(fc)), ms(median(w2)), ms(median(s2)), ms(median(c2)),
					float64(median(w2))/float64(median(fw)), float64(median(s2))/float64(median(fs)))
			}
			if procs > 1 {
				notes = append(notes, fmt.Sprintf("%s: the clients ran in %d processes (open-file limit)", row, procs))
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
	fmt.Fprintf(&tb, "CPU = user+system time of the server (this process) and of the client processes (medians); fd clients: %s\n", fdClients())
	for _, note := range notes {
		fmt.Fprintln(&tb, note)
	}
	fmt.Print(tb.String())
	fmt.Print(floor.String())
}

// runFloor measures the socket floor of a load row over fd: the same
// client processes send the same requests over the same socketpairs, but
// the other ends are served by a loop that only finds where each message
// ends and answers a canned reply the client accepts, at once (no KVS, no
// fence held). What the PMI server costs beyond that is its own.
func runFloor(b *testing.B, self string, n int, pmi2 bool) loadResult {
	cpu0 := selfCPU()
	perProcess := min(n, fileBudget(b, 2*n+256)-n-256)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(epfd)
	fds := make([]int, n)
	proto := "pmi1"
	if pmi2 {
		proto = "pmi2"
	}
	addr := "fd"
	if os.Getenv("HPCBENCH_LOAD_CLIENTS") == "goroutines" {
		addr = "fdpoll"
	}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for first := 0; first < n; first += perProcess {
		count := min(perProcess, n-first)
		var files []*os.File
		for r := first; r < first+count; r++ {
			pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			fds[r] = pair[0]
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(pair[0]), Pad: int32(r)}
			if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, pair[0], &ev); err != nil {
				b.Fatal(err)
			}
			files = append(files, os.NewFile(uintptr(pair[1]), "floor"))
		}
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%s,0,,%d,%d", loadClientEnv, addr, n, proto, first, count))
		cmd.ExtraFiles = files
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			f.Close()
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	served := make(chan error, 1)
	go func() { served <- serveFloor(epfd, fds, pmi2) }()
	var res loadResult
	var start, end int64
	span := regexp.MustCompile(`start_ns=(\d+) end_ns=(\d+)`)
	for i, cmd := range cmds {
		err := cmd.Wait()
		m := span.FindStringSubmatch(outs[i].String())
		if err != nil || m == nil {
			b.Fatalf("floor clients: %v\n%s", err, outs[i].String())
		}
		res.clientCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		a, _ := strconv.ParseInt(m[1], 10, 64)
		z, _ := strconv.ParseInt(m[2], 10, 64)
		if i == 0 || a < start {
			start = a
		}
		end = max(end, z)
	}
	if err := <-served; err != nil {
		b.Fatal(err)
	}
	res.wall = time.Duration(end - start)
	res.serverCPU = selfCPU() - cpu0
	res.processes = len(cmds)
	return res
}

// serveFloor answers every message on fds with a canned reply until every
// client closed: one read per readiness, one write per message.
func serveFloor(epfd int, fds []int, pmi2 bool) error {
	line := []byte("cmd=floor rc=0 found=TRUE cmd=barrier_out finalize_ack\n")
	initack := []byte("cmd=initack\ncmd=set size=1\ncmd=set rank=0\ncmd=set debug=0\n")
	body := "cmd=floor;rc=0;found=TRUE;"
	frame := []byte(fmt.Sprintf("%-6d%s", len(body), body))
	type peer struct {
		in   []byte
		seen int
	}
	peers := make([]peer, len(fds))
	events := make([]unix.EpollEvent, 256)
	var buf [4096]byte
	for live := len(fds); live > 0; {
		k, err := unix.EpollWait(epfd, events, 60000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || k == 0 {
			return fmt.Errorf("floor: epoll_wait: %d events, %v", k, err)
		}
		for _, ev := range events[:k] {
			r := int(ev.Pad)
			p := &peers[r]
			got, err := unix.Read(fds[r], buf[:])
			if got <= 0 || err != nil {
				unix.Close(fds[r])
				live--
				continue
			}
			p.in = append(p.in, buf[:got]...)
			for len(p.in) > 0 {
				size := 0
				if p.in[0] == 'c' {
					if i := bytes.IndexByte(p.in, '\n'); i >= 0 {
						size = i + 1
					}
				} else if len(p.in) >= pmi2LengthField {
					n, err := parseFrameLength(p.in[:pmi2LengthField])
					if err != nil {
						return err
					}
					if len(p.in) >= pmi2LengthField+n {
						size = pmi2LengthField + n
					}
				}
				if size == 0 {
					break
				}
				reply := line
				switch {
				case p.seen == 0 && !pmi2:
					reply = initack
				case p.seen > 0 && pmi2:
					reply = frame
				}
				if _, err := unix.Write(fds[r], reply); err != nil {
					return err
				}
				p.seen++
				p.in = p.in[size:]
			}
		}
	}
	return nil
}
