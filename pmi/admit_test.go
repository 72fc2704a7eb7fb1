package pmi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Each rank over TCP gets its own token: a number below 2^31 (MPICH
// sends it as a C int) that is no rank number, unique in the job.
func TestTokens(t *testing.T) {
	const n = 1000
	s, _ := startTCPServer(t, n)
	seen := map[int]bool{}
	for r := 0; r < n; r++ {
		tok := token(t, s, r)
		if tok < minToken || tok >= 1<<31 || seen[tok] {
			t.Fatalf("rank %d: token %d (want unique, in %d..2^31-1)", r, tok, minToken)
		}
		seen[tok] = true
	}
	// The environment carries the token as PMI_ID, and PMI_RANK as before.
	s2, err := newSimpleServer(backendConfig{Job: Job{Ranks: 2, Channel: ChannelTCP}, KVS: "kvs_x", Events: nopSink{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.close()
	setup, err := s2.rankSetup(1)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(setup.Env, " ")
	if !strings.Contains(env, "PMI_RANK=1 ") || !strings.Contains(env, "PMI_PORT="+s2.addr()) ||
		!strings.Contains(env, fmt.Sprintf("PMI_ID=%d", token(t, s2, 1))) {
		t.Errorf("rank 1's environment: %s", env)
	}
}

// frame is a PMI-2 frame of body: its length field, then the body.
func frame(body string) string { return fmt.Sprintf("%-6d%s", len(body), body) }

// readToEnd returns what the server still sends on c until it closes the
// connection, failing the test if it stays open past wait.
func readToEnd(t *testing.T, c *testClient, wait time.Duration) string {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c.rd)
	if errors.Is(err, syscall.ECONNRESET) {
		// Closed with bytes of ours unread (an oversize message).
		err = nil
	}
	if err != nil {
		t.Fatalf("connection still open after %v (%v); got %q", wait, err, b)
	}
	return string(b)
}

// Strangers (connections that do not name a rank by its token) are
// dropped, whatever they send, and fail nothing: a hijacker claiming rank
// 0 first, idle connections more than the ranks, oversize and garbage
// messages. The ranks then connect and are served as if nothing happened.
func TestStrangers(t *testing.T) {
	old := identifyTimeout
	identifyTimeout = 500 * time.Millisecond
	defer func() { identifyTimeout = old }()
	s, sink := startTCPServer(t, 2)

	// Idle connections, more than there are ranks: before tokens they
	// took every rank's slot and locked the ranks out.
	var idle []*testClient
	for i := 0; i < 5; i++ {
		idle = append(idle, dial(t, s))
	}
	cases := []struct {
		name, send, reply string
	}{
		{"hijack pmi1", "cmd=initack pmiid=0\n", "cmd=initack rc=-1 msg=rank_refused\n"},
		{"hijack pmi1 rank 1", "cmd=initack pmiid=1\n", "cmd=initack rc=-1 msg=rank_refused\n"},
		{"hijack pmi2", "cmd=init pmi_version=2 pmi_subversion=0\n" + frame("cmd=fullinit;pmirank=0;"),
			"cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0\n" + frame("cmd=fullinit-response;rc=-1;errmsg=rank refused;")},
		{"hijack pmi2 srcid", "cmd=init pmi_version=2 pmi_subversion=0\n" + frame("cmd=fullinit;srcid=1;"),
			"cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0\n" + frame("cmd=fullinit-response;rc=-1;errmsg=rank refused;")},
		{"pmi2 fullinit without init", frame("cmd=fullinit;pmirank=0;"),
			frame("cmd=fullinit-response;rc=-1;errmsg=send cmd=init pmi_version=2 first;")},
		{"init without token", "cmd=init pmi_version=1 pmi_subversion=1\n", "cmd=response_to_init rc=-1 msg=rank_unknown_set_PMI_ID\n"},
		{"request before naming", "cmd=get kvsname=kvs_t key=PMI_process_mapping\n", ""},
		{"garbage", "\x00\x01 this is not PMI\n", ""},
		{"oversize line", "cmd=put key=k value=" + strings.Repeat("x", 100<<10), ""},
		{"oversize frame", "999999cmd=kvs-put;", ""},
		{"long frame", "600   cmd=kvs-put;key=k;value=" + strings.Repeat("x", 600), ""},
		{"not a number", "cmd=initack pmiid=rank0\n", "cmd=initack rc=-1 msg=rank_refused\n"},
	}
	for _, tc := range cases {
		c := dial(t, s)
		c.writeRaw(tc.send)
		if got := readToEnd(t, c, 5*time.Second); got != tc.reply {
			t.Errorf("%s: the server answered %q, want %q", tc.name, got, tc.reply)
		}
	}
	// The idle ones are dropped after identifyTimeout.
	for _, c := range idle {
		if got := readToEnd(t, c, 5*time.Second); got != "" {
			t.Errorf("idle connection got %q", got)
		}
	}
	if f := sink.failuresNow(); len(f) != 0 {
		t.Fatalf("strangers failed the job: %q", f)
	}
	// A refusal is reported just after the connection closed.
	sink.waitFor(t, "a refusal per stranger", func() bool { return len(sink.refusals) >= len(cases)+len(idle) })
	refusals := append([]string(nil), sink.refusals...)
	sink.mu.Unlock()
	if len(refusals) != len(cases)+len(idle) {
		t.Errorf("%d refusals, want %d: %q", len(refusals), len(cases)+len(idle), refusals)
	}
	for _, want := range []string{`pmiid "0" is no rank's token`, "named no rank within 500ms",
		"message longer than 506 bytes", "before naming its rank", "PMI_ID unset?", "neither a PMI-1 line"} {
		found := false
		for _, r := range refusals {
			found = found || strings.Contains(r, want)
		}
		if !found {
			t.Errorf("no refusal says %q: %q", want, refusals)
		}
	}

	// The real ranks, with their tokens, get their own places.
	a, b := dial(t, s), dial(t, s)
	if err := a.pmi1Init(token(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.pmi2Init(token(t, s, 1)); err != nil {
		t.Fatal(err)
	}
	a.writeRaw("cmd=barrier_in\n")
	expectFrame(t, b, "cmd=kvs-fence;", "cmd=kvs-fence-response;rc=0;")
	if got, err := a.readLine(); got != "cmd=barrier_out" {
		t.Fatalf("barrier: %q (%v)", got, err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.inits[0] != "pmi1" || sink.inits[1] != "pmi2" || len(sink.failures) != 0 {
		t.Errorf("events: %+v", sink)
	}
}

// Strangers beyond one per missing rank plus strangerSlack are dropped
// oldest first, so a crowd of idle connections cannot lock a rank out
// for identifyTimeout, let alone for good; once every rank has named
// itself the remaining strangers are dropped and the port closes.
func TestStrangerCrowd(t *testing.T) {
	s, sink := startTCPServer(t, 2)
	crowd := 2 + strangerSlack + 30
	var idle []*testClient
	for i := 0; i < crowd; i++ {
		idle = append(idle, dial(t, s))
		// Accepted in order, so that the oldest are the first ones.
		waitHeld(t, s, func() bool { return s.strangerCount+sink.refusedNow() >= i+1 })
	}
	waitHeld(t, s, func() bool { return s.strangerCount == 2+strangerSlack })
	for _, c := range idle[:crowd-2-strangerSlack] {
		if got := readToEnd(t, c, time.Second); got != "" {
			t.Errorf("evicted connection got %q", got)
		}
	}
	a, b := dial(t, s), dial(t, s)
	if err := a.pmi1Init(token(t, s, 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.pmi1Init(token(t, s, 1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range idle[crowd-2-strangerSlack:] {
		if got := readToEnd(t, c, time.Second); got != "" {
			t.Errorf("stranger got %q", got)
		}
	}
	if nc, err := net.DialTimeout("tcp4", s.addr(), time.Second); err == nil {
		nc.Close()
		t.Error("the port is still open after every rank named itself")
	}
	sink.waitFor(t, "every stranger refused", func() bool { return len(sink.refusals) == crowd })
	defer sink.mu.Unlock()
	evicted := 0
	for _, r := range sink.refusals {
		if strings.Contains(r, "dropped for newer connections") {
			evicted++
		}
	}
	// The two ranks were strangers too for a moment, and each pushed one
	// more of the crowd out.
	if evicted != crowd-strangerSlack || len(sink.failures) != 0 {
		t.Errorf("%d evicted, want %d; failures %q", evicted, crowd-strangerSlack, sink.failures)
	}
}

func (s *recordingSink) refusedNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refusals)
}

// Guessing tokens fails the job after maxWrongTokens wrong ones; the
// guesses before that fail nothing.
func TestWrongTokensFailTheJob(t *testing.T) {
	s, sink := startTCPServer(t, 2)
	for i := 0; i <= maxWrongTokens; i++ {
		c := dial(t, s)
		c.writeRaw("cmd=initack pmiid=" + strconv.Itoa(i) + "\n")
		readToEnd(t, c, 5*time.Second)
		if f := sink.failuresNow(); i < maxWrongTokens && len(f) != 0 {
			t.Fatalf("failed after %d wrong tokens: %q", i+1, f)
		}
	}
	f := sink.failuresNow()
	if len(f) != 1 || !strings.Contains(f[0], ErrWrongTokens.Error()) || !strings.HasPrefix(f[0], "-1: ") {
		t.Errorf("failures %q, want one for the guessing", f)
	}
}

// FuzzStrangerConnection feeds arbitrary bytes to a TCP connection that
// has not named its rank: the server must neither panic nor hang, nor
// let it become a rank without the token.
func FuzzStrangerConnection(f *testing.F) {
	f.Add([]byte("cmd=initack pmiid=0\ncmd=init pmi_version=1 pmi_subversion=1\n"))
	f.Add([]byte("cmd=init pmi_version=2 pmi_subversion=0\n    25cmd=fullinit;pmirank=0;"))
	f.Add([]byte("cmd=init pmi_version=2 pmi_subversion=0\n    23cmd=fullinit;srcid=0;"))
	f.Add([]byte("cmd=init pmi_version=1 pmi_subversion=1\ncmd=barrier_in\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sink := &recordingSink{}
		s, err := newSimpleServer(backendConfig{Job: Job{Ranks: 1, Channel: ChannelTCP}, KVS: "kvs_f", Events: sink})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.rankSetup(0); err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		s.mu.Lock()
		c := s.newConnLocked(server, -1)
		c.rd.bufMax = identifyBufMax
		s.holdStrangerLocked(c)
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		done := make(chan struct{})
		go func() { s.close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("server did not close")
		}
		client.Close()
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.inits) != 0 || len(sink.failures) != 0 {
			t.Errorf("a stranger initialised or failed the job: %+v", sink)
		}
	})
}

// hijackWrapper is another process on the machine: before the first rank
// starts it connects to the job's PMI port (it only needs the port, found
// in /proc/net/tcp), claims ranks by number, and holds idle connections
// (more than the ranks) until the job ends.
type hijackWrapper struct {
	t       *testing.T
	claims  []string
	replies []string
	idle    []net.Conn
}

func (w *hijackWrapper) Channel() Channel { return ChannelTCP }

func (w *hijackWrapper) WrapRank(job Job, cmd *RankCommand) error {
	if cmd.Rank != 0 {
		return nil
	}
	port := ""
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "PMI_PORT="); ok {
			port = v
		}
	}
	dial := func() net.Conn {
		nc, err := net.Dial("tcp4", port)
		if err != nil {
			w.t.Fatal(err)
		}
		return nc
	}
	for _, claim := range w.claims {
		nc := dial()
		io.WriteString(nc, claim)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(nc)
		nc.Close()
		w.replies = append(w.replies, string(b))
	}
	for i := 0; i < job.Ranks+5; i++ {
		w.idle = append(w.idle, dial())
	}
	return nil
}

func (w *hijackWrapper) Cleanup(Job) error { return nil }

// TestStrangersCannotHijack: a process that claims rank 0 (and 1) before
// the real ranks get nothing of the job (no size, rank or kvsname), and
// with idle connections it cannot lock the ranks out: the job runs and
// credits only its own ranks, over PMI-1 (MPICH) and PMI-2 (libpmi2).
func TestStrangersCannotHijack(t *testing.T) {
	claims := []string{
		"cmd=initack pmiid=0\n",
		"cmd=initack pmiid=1\n",
		"cmd=init pmi_version=2 pmi_subversion=0\n" + frame("cmd=fullinit;pmirank=0;threaded=FALSE;"),
		"cmd=init pmi_version=2 pmi_subversion=0\n" + frame("cmd=fullinit;srcid=0;threaded=FALSE;"),
	}
	for _, tc := range []struct {
		flavour Flavour
		prog    string
		want    string
	}{
		{PMI1, "hello", "rank %d of %d sum"},
		{PMI2, "pmi2client", "pmi2 rank %d of %d ok"},
	} {
		t.Run(string(tc.flavour), func(t *testing.T) {
			prog := program(t, tc.prog)
			w := &hijackWrapper{t: t, claims: claims}
			const n = 3
			rep, out, errOut := launchTest(t, Options{Ranks: n, PMI: tc.flavour, Wrapper: w, Argv: []string{prog}})
			if !rep.OK() {
				t.Fatalf("the strangers broke the job: %s\n%s%s", rep.Reason, out, errOut)
			}
			for r := 0; r < n; r++ {
				if want := fmt.Sprintf(tc.want, r, n); !strings.Contains(out, want) {
					t.Errorf("missing %q in\n%s", want, out)
				}
				if rep.Negotiated[r] != string(tc.flavour) {
					t.Errorf("rank %d negotiated %q", r, rep.Negotiated[r])
				}
			}
			for i, reply := range w.replies {
				if strings.Contains(reply, "rank=") || strings.Contains(reply, "size=") || strings.Contains(reply, "kvs") {
					t.Errorf("claim %q got the job's details: %q", claims[i], reply)
				}
				if !strings.Contains(reply, "rank_refused") && !strings.Contains(reply, "rank refused") {
					t.Errorf("claim %q: reply %q, want a refusal", claims[i], reply)
				}
			}
			if want := len(claims) + len(w.idle); rep.Refused != want {
				t.Errorf("%d refused connections, want %d (first: %s)", rep.Refused, want, rep.RefusedWhy)
			}
			for _, nc := range w.idle {
				nc.SetReadDeadline(time.Now().Add(time.Second))
				if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
					t.Errorf("idle stranger: read %q, %v; want it closed", b, err)
				}
				nc.Close()
			}
		})
	}
}
