package pmi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingSink keeps what a server reports.
type recordingSink struct {
	mu       sync.Mutex
	inits    map[int]string
	spoken   map[int]time.Time
	fences   int
	finals   []int
	aborts   []string
	failures []string
	refusals []string
	gone     map[int]bool  // ranks whose connection ended
	changed  chan struct{} // closed at the next event (see waitFor)
}

// eventLocked wakes waitFor; s.mu is held.
func (s *recordingSink) eventLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// waitFor returns, with s.mu held, once cond (called with s.mu held) is
// true, checking after each event; it fails the test after 5 seconds.
func (s *recordingSink) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		if cond() {
			return
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		next := s.changed
		s.mu.Unlock()
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("no %s after 5s", what)
		}
	}
}

func (s *recordingSink) spoke(r int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spoken == nil {
		s.spoken = map[int]time.Time{}
	}
	s.spoken[r] = at
	s.eventLocked()
}
func (s *recordingSink) initialised(r int, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inits == nil {
		s.inits = map[int]string{}
	}
	s.inits[r] = v
	s.eventLocked()
}
func (s *recordingSink) fenceCompleted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fences++
	s.eventLocked()
}
func (s *recordingSink) finalized(r int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finals = append(s.finals, r)
	s.eventLocked()
}
func (s *recordingSink) disconnected(r int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone == nil {
		s.gone = map[int]bool{}
	}
	s.gone[r] = true
	s.eventLocked()
}
func (s *recordingSink) aborted(r, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborts = append(s.aborts, fmt.Sprintf("%d:%d:%s", r, code, msg))
	s.eventLocked()
}
func (s *recordingSink) failed(r int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf("%d: %v", r, err))
	s.eventLocked()
}

func (s *recordingSink) refused(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusals = append(s.refusals, why)
	s.eventLocked()
}

func (s *recordingSink) failuresNow() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failures...)
}

func startTCPServer(t testing.TB, ranks int) (*simpleServer, *recordingSink) {
	t.Helper()
	sink := &recordingSink{}
	s, err := newSimpleServer(backendConfig{
		Job:    Job{ID: "t", Ranks: ranks, PMI: PMI1, Channel: ChannelTCP},
		KVS:    "kvs_t",
		Events: sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	if !strings.HasPrefix(s.addr(), "127.0.0.1:") {
		t.Fatalf("server listens on %s, want 127.0.0.1 only", s.addr())
	}
	// Every rank is about to start: each gets its token.
	for r := 0; r < ranks; r++ {
		if _, err := s.rankSetup(r); err != nil {
			t.Fatal(err)
		}
	}
	return s, sink
}

// token is rank r's PMI_ID on s (ChannelTCP, after rankSetup).
func token(t testing.TB, s *simpleServer, r int) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, rank := range s.tokens {
		if rank == r {
			return tok
		}
	}
	t.Fatalf("rank %d has no token", r)
	return -1
}

// startFDServer starts a server whose ranks reach it over PMI_FD, and
// returns it with a client on each rank's inherited socket.
func startFDServer(t testing.TB, ranks int) (*simpleServer, *recordingSink, []*testClient) {
	t.Helper()
	sink := &recordingSink{}
	s, err := newSimpleServer(backendConfig{
		Job:    Job{ID: "t", Ranks: ranks, PMI: PMI1, Channel: ChannelFD},
		KVS:    "kvs_t",
		Events: sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	var clients []*testClient
	for r := 0; r < ranks; r++ {
		setup, err := s.rankSetup(r)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := net.FileConn(setup.Files[0])
		s.rankStarted(r) // closes the server's copy of the rank's end
		if err != nil {
			t.Fatal(err)
		}
		c := newTestClient(nc)
		t.Cleanup(c.close)
		clients = append(clients, c)
	}
	return s, sink, clients
}

func dial(t testing.TB, s *simpleServer) *testClient {
	t.Helper()
	c, err := dialTest(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func expect(t *testing.T, c *testClient, req, want string) {
	t.Helper()
	got, err := c.line(req)
	if err != nil || got != want {
		t.Fatalf("%s:\n got %q (%v)\nwant %q", req, got, err, want)
	}
}

func expectFrame(t *testing.T, c *testClient, req, want string) {
	t.Helper()
	got, err := c.frame(req)
	if err != nil || got != want {
		t.Fatalf("%s:\n got %q (%v)\nwant %q", req, got, err, want)
	}
}

// The PMI-1 conversation MPICH 4.0.2 has with its process manager,
// answered byte for byte as Hydra does.
func TestPMI1Transcript(t *testing.T) {
	s, sink := startTCPServer(t, 2)
	a, b := dial(t, s), dial(t, s)
	// Over TCP the rank is named by its token, PMI_ID.
	if err := a.writeRaw(fmt.Sprintf("cmd=initack pmiid=%d\n", token(t, s, 1))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmd=initack", "cmd=set size=2", "cmd=set rank=1", "cmd=set debug=0"} {
		if got, err := a.readLine(); got != want {
			t.Fatalf("initack: got %q (%v), want %q", got, err, want)
		}
	}
	expect(t, a, "cmd=init pmi_version=1 pmi_subversion=1", "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0")
	expect(t, a, "cmd=get_maxes", "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024")
	expect(t, a, "cmd=get_appnum", "cmd=appnum appnum=0")
	expect(t, a, "cmd=get_my_kvsname", "cmd=my_kvsname kvsname=kvs_t")
	expect(t, a, "cmd=get_universe_size", "cmd=universe_size size=2")
	expect(t, a, "cmd=get kvsname=kvs_t key=PMI_process_mapping", "cmd=get_result rc=0 msg=success value=(vector,(0,1,2))")
	expect(t, a, "cmd=put kvsname=kvs_t key=-bcast-1-0 value=2F6465762F73", "cmd=put_result rc=0 msg=success")
	expect(t, a, "cmd=get kvsname=kvs_t key=nothing", "cmd=get_result rc=-1 msg=key_nothing_not_found")
	expect(t, a, "cmd=get kvsname=other key=x", "cmd=get_result rc=-1 msg=unknown_kvsname")

	if err := b.pmi1Init(token(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	expect(t, b, "cmd=get kvsname=kvs_t key=-bcast-1-0", "cmd=get_result rc=0 msg=success value=2F6465762F73")
	// The barrier answers nobody until both ranks are in.
	a.writeRaw("cmd=barrier_in\n")
	a.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := a.rd.ReadByte(); err == nil {
		t.Fatal("barrier_out before every rank arrived")
	}
	expect(t, b, "cmd=barrier_in", "cmd=barrier_out")
	if got, err := a.readLine(); got != "cmd=barrier_out" {
		t.Fatalf("rank 1 barrier: %q (%v)", got, err)
	}
	expect(t, a, "cmd=finalize", "cmd=finalize_ack")
	expect(t, a, "cmd=get_maxes", "cmd=get_maxes_result rc=-1 msg=already_finalized")
	// A finalized rank's abort is refused; the reply says it was handled.
	expect(t, a, "cmd=abort exitcode=7", "cmd=abort_result rc=-1 msg=already_finalized")
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.inits[0] != "pmi1" || sink.inits[1] != "pmi1" || sink.fences != 1 || len(sink.finals) != 1 || len(sink.failures) != 0 {
		t.Errorf("events: %+v", sink)
	}
}

func TestPMI2Transcript(t *testing.T) {
	s, sink := startTCPServer(t, 2)
	a, b := dial(t, s), dial(t, s)
	expect(t, a, "cmd=init pmi_version=2 pmi_subversion=0", "cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0")
	// Slurm's libpmi2 sends PMI_ID, the token, as srcid; MPICH's as pmirank.
	expectFrame(t, a, fmt.Sprintf("cmd=fullinit;pmijobid=kvs_t;srcid=%d;threaded=FALSE;", token(t, s, 1)),
		"cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=1;size=2;appnum=0;debugged=FALSE;pmiverbose=FALSE;")
	expectFrame(t, a, "cmd=job-getid;", "cmd=job-getid-response;rc=0;jobid=kvs_t;")
	expectFrame(t, a, "cmd=info-getjobattr;key=PMI_process_mapping;", "cmd=info-getjobattr-response;rc=0;found=TRUE;value=(vector,(0,1,2));")
	expectFrame(t, a, "cmd=info-getjobattr;key=universeSize;", "cmd=info-getjobattr-response;rc=0;found=TRUE;value=2;")
	expectFrame(t, a, "cmd=info-getjobattr;key=nope;", "cmd=info-getjobattr-response;rc=0;found=FALSE;")
	expectFrame(t, a, "cmd=info-getnodeattr;key=shmseg;", "cmd=info-getnodeattr-response;rc=0;found=FALSE;")
	// wait=TRUE holds the reply until another rank puts the key.
	if err := a.sendFrame("cmd=info-getnodeattr;key=shmseg;wait=TRUE;"); err != nil {
		t.Fatal(err)
	}
	a.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := a.rd.ReadByte(); err == nil {
		t.Fatal("info-getnodeattr with wait=TRUE answered before the put")
	}
	expect(t, b, "cmd=init pmi_version=2 pmi_subversion=0", "cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0")
	expectFrame(t, b, fmt.Sprintf("cmd=fullinit;pmijobid=kvs_t;pmirank=%d;threaded=FALSE;", token(t, s, 0)),
		"cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=0;size=2;appnum=0;debugged=FALSE;pmiverbose=FALSE;")
	expectFrame(t, b, "cmd=info-putnodeattr;key=shmseg;value=/dev/shm/test;;with;;semicolons;", "cmd=info-putnodeattr-response;rc=0;")
	if got, err := a.readFrame(); got != "cmd=info-getnodeattr-response;rc=0;found=TRUE;value=/dev/shm/test;;with;;semicolons;" {
		t.Fatalf("held getnodeattr: %q (%v)", got, err)
	}
	expectFrame(t, a, "cmd=kvs-put;key=card-1;value=addr;;1;", "cmd=kvs-put-response;rc=0;")
	expectFrame(t, b, "cmd=kvs-put;key=card-0;value=addr;;0;", "cmd=kvs-put-response;rc=0;")
	a.sendFrame("cmd=kvs-fence;")
	expectFrame(t, b, "cmd=kvs-fence;", "cmd=kvs-fence-response;rc=0;")
	if got, _ := a.readFrame(); got != "cmd=kvs-fence-response;rc=0;" {
		t.Fatalf("fence: %q", got)
	}
	expectFrame(t, a, "cmd=kvs-get;jobid=kvs_t;srcid=0;key=card-0;", "cmd=kvs-get-response;rc=0;found=TRUE;value=addr;;0;")
	expectFrame(t, a, "cmd=kvs-get;jobid=kvs_t;srcid=0;key=card-9;", "cmd=kvs-get-response;rc=0;found=FALSE;")
	expectFrame(t, a, "cmd=name-publish;name=x;port=y;", "cmd=name-publish-response;rc=-1;errmsg=unsupported command name-publish;")
	expectFrame(t, a, "cmd=finalize;", "cmd=finalize-response;rc=0;")
	b.sendFrame("cmd=abort;isworld=TRUE;msg=giving up;; sorry;")
	sink.waitFor(t, "abort event", func() bool { return len(sink.aborts) == 1 })
	defer sink.mu.Unlock()
	if sink.inits[0] != "pmi2" || sink.inits[1] != "pmi2" || sink.fences != 1 ||
		len(sink.aborts) != 1 || sink.aborts[0] != "0:1:giving up; sorry" || len(sink.failures) != 0 {
		t.Errorf("events: %+v", sink)
	}
}

// Requests out of order get an error reply and the connection lives on
// (a rank's connection; a stranger's is dropped, see TestStrangers).
func TestOutOfOrderRequests(t *testing.T) {
	_, sink, clients := startFDServer(t, 1)
	c := clients[0]
	expect(t, c, "cmd=put kvsname=kvs_t key=a value=b", "cmd=put_result rc=-1 msg=init_first")
	expect(t, c, "cmd=barrier_in", "cmd=barrier_in_result rc=-1 msg=init_first")
	got, err := c.frame("cmd=kvs-fence;")
	if err != nil || got != "cmd=kvs-fence-response;rc=-1;errmsg=send cmd=init pmi_version=2 first;" {
		t.Fatalf("PMI-2 before init: %q (%v)", got, err)
	}
	expect(t, c, "cmd=init pmi_version=2 pmi_subversion=0", "cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0")
	expectFrame(t, c, "cmd=kvs-put;key=a;value=b;", "cmd=kvs-put-response;rc=-1;errmsg=send fullinit first;")
	expectFrame(t, c, "cmd=fullinit;pmirank=0;", "cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=0;size=1;appnum=0;debugged=FALSE;pmiverbose=FALSE;")
	expectFrame(t, c, "cmd=fullinit;pmirank=0;", "cmd=fullinit-response;rc=-1;errmsg=fullinit sent twice;")
	expect(t, c, "cmd=init pmi_version=1 pmi_subversion=1", "cmd=response_to_init rc=-1 msg=init_twice")
	if f := sink.failuresNow(); len(f) != 0 {
		t.Errorf("failures: %v", f)
	}
}

// A framing error closes that connection and reports the job failed; the
// server goes on answering the others until the launcher closes it. The
// bad connection is a rank's: over PMI_FD by the channel, over TCP once it
// named itself with its token (a stranger's errors fail nothing, see
// TestStrangers).
func TestMalformedMessages(t *testing.T) {
	cases := []struct {
		name, send, want string
		// only runs the case on one channel: ranks are named by number
		// only over PMI_FD, by token only over TCP.
		only Channel
	}{
		{"binary", "\x00\x01\x02\n", "neither a PMI-1 line nor a PMI-2 length field", ""},
		{"long line", "cmd=put key=k value=" + strings.Repeat("x", maxMessage) + "\n", "PMI-1 line longer than", ""},
		{"huge frame", "999999cmd=kvs-put;", "exceeds the limit", ""},
		{"bad length", "12a   cmd=x;", "not a positive number", ""},
		{"zero length", "0     ", "not a positive number", ""},
		{"no cmd", "cmd init\n", "is not key=value", ""},
		{"frame no cmd", "8     key=val;", "does not start with cmd=", ""},
		{"cut frame", "40    cmd=kvs-put;", "closed inside a PMI-2 message", ""},
		{"rank out of range", "cmd=initack pmiid=5\n", "claims rank 5, outside 0..1", ChannelFD},
		{"bad pmiid", "cmd=initack pmiid=x\n", "initack with pmiid", ChannelFD},
		{"another rank's token", "cmd=initack pmiid=%d\n", "rank 1 names itself again with pmiid", ChannelTCP},
	}
	for _, tc := range cases {
		for _, ch := range []Channel{ChannelFD, ChannelTCP} {
			if tc.only != "" && tc.only != ch {
				continue
			}
			t.Run(tc.name+"/"+string(ch), func(t *testing.T) {
				var sink *recordingSink
				var good, bad *testClient
				send := tc.send
				if ch == ChannelFD {
					var clients []*testClient
					_, sink, clients = startFDServer(t, 2)
					good, bad = clients[0], clients[1]
					if err := good.pmi1InitFD(); err != nil {
						t.Fatal(err)
					}
				} else {
					var s *simpleServer
					s, sink = startTCPServer(t, 2)
					good, bad = dial(t, s), dial(t, s)
					if err := good.pmi1Init(token(t, s, 0)); err != nil {
						t.Fatal(err)
					}
					if err := bad.pmi1Init(token(t, s, 1)); err != nil {
						t.Fatal(err)
					}
					if strings.Contains(send, "%d") {
						send = fmt.Sprintf(send, token(t, s, 0))
					}
				}
				bad.writeRaw(send)
				if strings.HasPrefix(tc.name, "cut") {
					bad.closeWrite()
				}
				// The bad connection ends (after an error reply, for some).
				bad.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadAll(bad.rd); err != nil {
					t.Fatalf("bad connection not closed: %v", err)
				}
				f := sink.failuresNow()
				if len(f) != 1 || !strings.Contains(f[0], tc.want) || !strings.Contains(f[0], ErrProtocol.Error()) {
					t.Fatalf("failures %q, want one with %q", f, tc.want)
				}
				if !strings.HasPrefix(f[0], "1: ") {
					t.Errorf("failure %q does not name rank 1", f[0])
				}
				expect(t, good, "cmd=get_appnum", "cmd=appnum appnum=0")
			})
		}
	}
}

// A rank's token used a second time (whoever read it from the rank's
// environment) fails the job.
func TestDuplicateRankRefused(t *testing.T) {
	s, sink := startTCPServer(t, 2)
	a, b := dial(t, s), dial(t, s)
	if err := a.pmi1Init(token(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	expect(t, b, fmt.Sprintf("cmd=initack pmiid=%d", token(t, s, 0)), "cmd=initack rc=-1 msg=rank_refused")
	if _, err := b.readLine(); !errors.Is(err, io.EOF) {
		t.Errorf("second claimant not disconnected: %v", err)
	}
	if f := sink.failuresNow(); len(f) != 1 || !strings.Contains(f[0], "rank 0 claimed by a second connection") {
		t.Errorf("failures %q", f)
	}
	expect(t, a, "cmd=get_appnum", "cmd=appnum appnum=0")
}

// The server takes exactly as many rank connections as there are ranks:
// once every rank has named itself, the port closes.
func TestNoMoreConnectionsThanRanks(t *testing.T) {
	s, _ := startTCPServer(t, 2)
	for r := 0; r < 2; r++ {
		if err := dial(t, s).pmi1Init(token(t, s, r)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp4", s.addr(), time.Second)
		if err != nil {
			break // refused: the listener is closed
		}
		// Accepted by the kernel before the listener closed: the
		// server must not serve it.
		nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		io.WriteString(nc, "cmd=initack pmiid=0\n")
		buf := make([]byte, 64)
		n, _ := nc.Read(buf)
		nc.Close()
		if n > 0 {
			t.Fatalf("a third connection was served: %q", buf[:n])
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener stays open after every rank named itself")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFenceTwiceIsAnError(t *testing.T) {
	s, sink := startTCPServer(t, 2)
	a := dial(t, s)
	if err := a.pmi1Init(token(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	a.writeRaw("cmd=barrier_in\ncmd=barrier_in\n")
	a.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(a.rd)
	if f := sink.failuresNow(); len(f) != 1 || !strings.Contains(f[0], "entered the same fence twice") {
		t.Errorf("failures %q", f)
	}
}

// Closing the server ends every connection, held requests included.
func TestCloseEndsEverything(t *testing.T) {
	s, sink := startTCPServer(t, 3)
	a, b := dial(t, s), dial(t, s)
	a.pmi1Init(token(t, s, 0))
	b.pmi2Init(token(t, s, 1))
	a.writeRaw("cmd=barrier_in\n")
	b.sendFrame("cmd=info-getnodeattr;key=never;wait=TRUE;")
	waitHeld(t, s, func() bool { return len(s.fenceQueue) == 1 && len(s.nodeWaiters["never"]) == 1 })
	done := make(chan struct{})
	go func() { s.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not return")
	}
	for _, c := range []*testClient{a, b} {
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := io.ReadAll(c.rd); err != nil {
			t.Errorf("connection not closed: %v", err)
		}
	}
	if _, err := net.DialTimeout("tcp4", s.addr(), time.Second); err == nil {
		t.Error("listener still open after close")
	}
	if f := sink.failuresNow(); len(f) != 0 {
		t.Errorf("closing reported failures: %q", f)
	}
	s.close() // twice is fine
}

// waitHeld waits until the server holds what cond (called with s.mu held)
// looks for. The server has no event for a request it holds, so this polls
// its state; it fails the test after 5 seconds.
func waitHeld(t *testing.T, s *simpleServer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		held := cond()
		s.mu.Unlock()
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not hold the requests within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMPICHPMI2Frames: MPICH 4.0.2's own PMI-2 client counts its 6-byte
// length field in the length it sends, so 6 bytes follow each message: NULs
// at first, then stale bytes of its buffer (frames as strace shows them).
// The server answers them as the messages they carry.
func TestMPICHPMI2Frames(t *testing.T) {
	s, sink := startTCPServer(t, 1)
	c := dial(t, s)
	mpich := func(body, stale string) (string, error) {
		if err := c.writeRaw(fmt.Sprintf("%-6d%s%s", len(body)+6, body, stale)); err != nil {
			return "", err
		}
		return c.readFrame()
	}
	if resp, err := c.line("cmd=init pmi_version=2 pmi_subversion=0"); err != nil || !strings.HasSuffix(resp, "rc=0") {
		t.Fatalf("init: %q %v", resp, err)
	}
	for _, step := range []struct{ body, stale, want string }{
		{fmt.Sprintf("cmd=fullinit;pmijobid=kvs_t;pmirank=%d;threaded=FALSE;", token(t, s, 0)), "\x00\x00\x00\x00\x00\x00", "cmd=fullinit-response;"},
		{"cmd=kvs-put;key=card-0;value=2F6465;", "}~{\xff\x7f\x00", "cmd=kvs-put-response;"},
		{"cmd=kvs-fence;", "\x0051389", "cmd=kvs-fence-response;"},
		{"cmd=kvs-get;jobid=kvs_t;srcid=0;key=card-0;", "\xa5\xb0\xfe\x7f\x00\x00", "value=2F6465;"},
	} {
		resp, err := mpich(step.body, step.stale)
		if err != nil || !strings.Contains(resp, step.want) || !strings.Contains(resp, "rc=0;") {
			t.Fatalf("%s: reply %q (%v), want %q and rc=0", step.body, resp, err, step.want)
		}
	}
	if f := sink.failuresNow(); len(f) != 0 {
		t.Errorf("failures %q", f)
	}
}
