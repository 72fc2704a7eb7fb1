package pmi

// This file holds the server's connections: accepting them, reading
// requests, framing replies and binding a connection to its rank.

import (
	"errors"
	"fmt"
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
	nc  net.Conn
	rd  *msgReader
	req request // the request being handled, parsed in place
	// wmu guards out and the write deadline: replies come from the
	// connection's own goroutine and from whoever completes a fence or
	// puts a node attribute it waits for.
	wmu sync.Mutex
	out replyBuf
	// deadlineRenew is when the write deadline must be pushed out again;
	// it is set writeTimeout ahead and renewed after half of that, so
	// every write may take between writeTimeout/2 and writeTimeout.
	deadlineRenew time.Time
	rank          int // -1 until known (TCP: initack or fullinit)
	// boundRank is set when the channel itself says the rank (PMI_FD).
	boundRank bool
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
}

func (s *simpleServer) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		c := s.newConnLocked(nc, -1)
		s.accepted++
		full := s.accepted >= s.size
		if full {
			// Every rank has its connection: take no more.
			s.ln.Close()
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
		if full {
			return
		}
	}
}

func (s *simpleServer) newConnLocked(nc net.Conn, rank int) *conn {
	c := &conn{s: s, nc: nc, rd: newMsgReader(nc, readBufStart), rank: rank, boundRank: rank >= 0, frameSlack: -1}
	s.conns[c] = struct{}{}
	return c
}

// serve reads and answers requests until the client closes, a framing
// error, or the server closes.
func (c *conn) serve() {
	defer c.s.wg.Done()
	defer func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.nc.Close()
		if c.rank >= 0 {
			c.s.events.disconnected(c.rank)
		}
	}()
	for {
		msg, pmi2, err := c.rd.next()
		if err == nil && c.firstMessage.IsZero() {
			c.firstMessage = time.Now()
		}
		if err == nil {
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
		}
		if err != nil {
			if errors.Is(err, ErrProtocol) {
				c.fail(err)
				c.rd.drain()
			}
			return
		}
		if err := c.handle(&c.req, pmi2); err != nil {
			c.fail(err)
			return
		}
		if !c.spokeSent && c.rank >= 0 {
			c.spokeSent = true
			c.s.events.spoke(c.rank, c.firstMessage)
		}
	}
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

// claim binds the connection to rank r, refusing a rank out of range or
// claimed by another connection.
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
func (c *conn) handle(q *request, pmi2 bool) error {
	if pmi2 {
		return c.handlePMI2(q)
	}
	return c.handlePMI1(q)
}

func exitCode(q *request) int {
	if v, ok := q.value("exitcode"); ok {
		if n, err := strconv.Atoi(string(v)); err == nil {
			return n
		}
	}
	return 1
}
