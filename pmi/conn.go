package pmi

// This file holds the server's connections: accepting them, reading
// requests, framing replies and binding a connection to its rank.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// waiter is a connection waiting for a reply that another rank's request
// completes (a fence, a node attribute), with the framing it asked in.
type waiter struct {
	c    *conn
	pmi2 bool
}

// conn is one client connection.
type conn struct {
	s   *simpleServer
	nc  net.Conn // nil for a connection of the fd loop
	rd  *msgReader
	req request // the request being handled, parsed in place
	// wmu guards out and the write deadline: replies come from the
	// connection's own goroutine (or the fd loop) and from whoever
	// completes a fence or puts a node attribute it waits for.
	wmu sync.Mutex
	out replyBuf
	// deadlineRenew is when the write deadline must be pushed out again;
	// it is set writeTimeout ahead and renewed after half of that, so
	// every write may take between writeTimeout/2 and writeTimeout.
	deadlineRenew time.Time
	rank          int // -1 until known (TCP: initack or fullinit)
	// boundRank is set when the channel itself says the rank (PMI_FD).
	boundRank bool
	// stranger is set while a TCP connection has not named its rank
	// (admit.go); evicted when it was dropped to make room for newer
	// ones. Both are guarded by s.mu.
	stranger  bool
	evicted   bool
	version   int // 0 before init, 1 or 2 after
	fullInit  bool
	finalized bool
	// firstMessage is when the connection's first request arrived; it is
	// reported as the rank's first PMI message once the rank is known
	// (at once over PMI_FD, after initack or fullinit over TCP).
	firstMessage time.Time
	spokeSent    bool
	// frameSlack is how many bytes end each PMI-2 frame past the message
	// (see frameSlack); -1 until the client's first frame.
	frameSlack int

	// lp is the fd loop that serves the connection through its raw
	// descriptor fd (loop.go); nil for a connection served by a
	// goroutine of its own through nc.
	lp *fdLoop
	fd int
	// pending holds the replies the client has not taken yet (the
	// socket's buffer was full), stalled since pendingSince; broken is
	// set once a write failed. All three are guarded by wmu.
	pending      []byte
	pendingSince time.Time
	broken       bool
	// ended is set once the loop closed the connection (the loop's own).
	ended bool
}

func (s *simpleServer) newConnLocked(nc net.Conn, rank int) *conn {
	c := &conn{s: s, nc: nc, rd: newMsgReader(nc, readBufStart), rank: rank, boundRank: rank >= 0, frameSlack: -1}
	s.conns[c] = struct{}{}
	return c
}

// serve reads and answers requests until the client closes, a framing
// error, or the server closes. A TCP connection that has not named its
// rank is a stranger: whatever ends it (garbage, an oversize message,
// silence, a token of no rank) drops it without failing the job.
//
// A TCP connection that named its rank is handed to the server's loop
// (loop.go) once it has nothing left unread, and its goroutine ends.
func (c *conn) serve() {
	defer c.s.wg.Done()
	var ended error
	adopted := false
	defer func() {
		if !adopted {
			c.end(ended)
		}
	}()
	for {
		msg, pmi2, err := c.rd.next()
		if err != nil {
			ended = c.readFailed(err)
			return
		}
		if err := c.step(msg, pmi2); err != nil {
			ended = err
			return
		}
		if c.rank >= 0 && c.s.loop != nil && c.rd.r == c.rd.w && c.s.loop.adopt(c) {
			adopted = true
			return
		}
	}
}

// readFailed reports the error that ended reading (a rank's protocol
// error fails the job) and returns it.
func (c *conn) readFailed(err error) error {
	if errors.Is(err, ErrProtocol) && c.rank >= 0 {
		c.fail(err)
		c.rd.drain()
	}
	return err
}

// step parses and answers one message read off the connection; an error
// ends the connection (and, but for a stranger's, fails the job).
func (c *conn) step(msg []byte, pmi2 bool) error {
	if c.firstMessage.IsZero() {
		c.firstMessage = time.Now()
	}
	var err error
	if pmi2 {
		if c.frameSlack < 0 {
			c.frameSlack = frameSlack(msg)
		}
		if len(msg) > c.frameSlack {
			msg = msg[:len(msg)-c.frameSlack]
		}
		err = parseFrameInto(&c.req, msg)
	} else {
		err = parseLineInto(&c.req, msg)
	}
	if err != nil {
		return c.readFailed(err)
	}
	if err := c.handle(&c.req, pmi2); err != nil {
		if !errors.Is(err, errStranger) {
			c.fail(err)
		}
		return err
	}
	if !c.spokeSent && c.rank >= 0 {
		c.spokeSent = true
		c.s.events.spoke(c.rank, c.firstMessage)
	}
	return nil
}

// end closes the connection and reports how it ended: a rank's as
// disconnected, a stranger's as refused, with why.
func (c *conn) end(why error) {
	s := c.s
	s.mu.Lock()
	delete(s.conns, c)
	if c.stranger {
		c.stranger = false
		s.strangerCount--
	}
	closed, everyone, evicted := s.closed, s.unnamed == 0, c.evicted
	s.mu.Unlock()
	c.closeTransport()
	if c.rank >= 0 {
		s.events.disconnected(c.rank)
		return
	}
	var ne net.Error
	var detail string
	switch {
	case evicted:
		detail = fmt.Sprintf("dropped for newer connections (more than %d had not named a rank)", strangerSlack)
	case closed:
		detail = "the job ended before it named a rank"
	case everyone && (why == nil || errors.Is(why, net.ErrClosed)):
		detail = "every rank had named itself before it did"
	case errors.As(why, &ne) && ne.Timeout():
		detail = fmt.Sprintf("named no rank within %v", identifyTimeout)
	case why == nil || errors.Is(why, io.EOF):
		detail = "closed without naming a rank"
	default:
		detail = why.Error()
	}
	s.events.refused(detail)
}

// closeTransport closes the connection's socket. The fd loop closes a
// raw descriptor itself (it is the only reader of it), so a descriptor
// number is never reused under a read.
func (c *conn) closeTransport() {
	if c.lp != nil {
		c.lp.release(c)
		return
	}
	c.nc.Close()
}

// fail reports a connection's fatal error to the launcher, once the server
// is not already closing.
func (c *conn) fail(err error) {
	c.s.mu.Lock()
	closed := c.s.closed
	c.s.mu.Unlock()
	if !closed {
		c.s.events.failed(c.rank, err)
	}
}

// send answers with m: for the rare replies (errors); the frequent ones are
// built in place with begin and finish.
func (c *conn) send(m *message, pmi2 bool) {
	r := c.begin(m.cmd, pmi2)
	for i, k := range m.keys {
		r.add(k, m.vals[i])
	}
	c.finish()
}

// begin starts a reply in the connection's reply buffer, holding the write
// lock until finish sends it.
func (c *conn) begin(cmd string, pmi2 bool) *replyBuf {
	c.wmu.Lock()
	return c.out.begin(cmd, pmi2)
}

func (c *conn) finish() {
	c.writeLocked(c.out.end())
	c.wmu.Unlock()
}

func (c *conn) sendRaw(b []byte) {
	c.wmu.Lock()
	c.writeLocked(b)
	c.wmu.Unlock()
}

func (c *conn) writeLocked(b []byte) {
	if c.lp != nil {
		c.lp.write(c, b)
		return
	}
	if now := time.Now(); now.After(c.deadlineRenew) {
		c.nc.SetWriteDeadline(now.Add(writeTimeout))
		c.deadlineRenew = now.Add(writeTimeout / 2)
	}
	if _, err := c.nc.Write(b); err != nil {
		// The reader notices the closed connection and ends.
		c.nc.Close()
	}
}

func (c *conn) who() string {
	if c.rank < 0 {
		return "a PMI connection that has not named its rank"
	}
	return "rank " + strconv.Itoa(c.rank)
}

// claim binds a connection the channel already bound (PMI_FD) to rank r,
// as its initack or fullinit names it, refusing a rank out of range or
// another than the channel's.
func (c *conn) claim(r int) error {
	if r < 0 || r >= c.s.size {
		return fmt.Errorf("%w: %s claims rank %d, outside 0..%d", ErrProtocol, c.who(), r, c.s.size-1)
	}
	if c.rank >= 0 {
		if c.rank != r {
			return fmt.Errorf("%w: rank %d claims to be rank %d", ErrProtocol, c.rank, r)
		}
		return nil
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.claimed[r] {
		return fmt.Errorf("%w: rank %d claimed by a second connection", ErrProtocol, r)
	}
	c.s.claimed[r] = true
	c.rank = r
	return nil
}

// nameRank binds the connection to the rank that id names, key being the
// request field it came in: over PMI_FD a rank number, which must be the
// channel's; over TCP the rank's token (PMI_ID), see admit.go. notNumber
// is the error for an id over PMI_FD that is no number.
func (c *conn) nameRank(key string, id []byte, notNumber error) error {
	if c.boundRank {
		r, err := strconv.Atoi(string(id))
		if err != nil {
			return notNumber
		}
		return c.claim(r)
	}
	if c.rank >= 0 {
		// Named already (initack, then a PMI-2 fullinit): it must name
		// the same rank again.
		if r, ok := c.s.tokenRank(id); ok && r == c.rank {
			return nil
		}
		return fmt.Errorf("%w: rank %d names itself again with %s %q, not its token", ErrProtocol, c.rank, key, truncate(id))
	}
	return c.claimToken(key, id)
}

func reply(cmd string) *message { return &message{cmd: cmd} }

func errReply(cmd, text string, pmi2 bool) *message {
	if pmi2 {
		return reply(cmd).add("rc", "-1").add("errmsg", text)
	}
	return reply(cmd).add("rc", "-1").add("msg", text)
}

// sendErr answers a failed request: rc=-1 with errmsg (PMI-2) or msg.
func (c *conn) sendErr(cmd, text string, pmi2 bool) {
	c.send(errReply(cmd, text, pmi2), pmi2)
}

// handle answers one request. A returned error is fatal for the job; a
// request that is merely wrong gets an error reply and the client decides.
// q's bytes belong to the read buffer: what outlives the request is copied.
// A stranger (a TCP connection that has not named its rank) may only name
// it: anything else drops it (an errStranger error).
func (c *conn) handle(q *request, pmi2 bool) error {
	if c.rank < 0 && !namesRank(q, pmi2) {
		return fmt.Errorf("%w: it sent %q before naming its rank", errStranger, truncate(q.cmd))
	}
	if pmi2 {
		return c.handlePMI2(q)
	}
	return c.handlePMI1(q)
}

// namesRank reports whether q is one of the requests that open a
// conversation and name the rank: PMI-1 initack, the init line (which
// for PMI-1 tells a client that forgot PMI_ID so, and for PMI-2 comes
// before fullinit), and PMI-2 fullinit.
func namesRank(q *request, pmi2 bool) bool {
	if pmi2 {
		return string(q.cmd) == "fullinit"
	}
	return string(q.cmd) == "initack" || string(q.cmd) == "init"
}

func exitCode(q *request) int {
	if v, ok := q.value("exitcode"); ok {
		if n, err := strconv.Atoi(string(v)); err == nil {
			return n
		}
	}
	return 1
}
