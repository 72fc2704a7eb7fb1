package pmi

// This file holds the fd loop: one goroutine that serves every rank's
// connection of a job (PMI_FD ones from the start, TCP ones once they
// named their rank) through epoll(7) over their raw, non-blocking
// descriptors, instead of a goroutine per connection on the runtime's
// poller.
//
// Per request the poller costs a read that finds nothing (EAGAIN) before
// each wait, parking the goroutine and waking it again; under load that
// is most of the server's time. The loop reads a connection once per
// readiness (level-triggered: what one read leaves in the socket is
// reported again), answers every whole message the read brought (a
// client may pipeline), and writes each reply at once. A reply the
// socket cannot take is kept and written when the client reads again;
// meanwhile the loop stops reading that client, as a blocked write did
// before, and a client that takes nothing for writeTimeout is cut off.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loopEvents is how many ready descriptors one epoll_wait returns at most.
const loopEvents = 256

// sweepEvery is how often at most the loop looks for clients that took no
// reply for writeTimeout.
const sweepEvery = 250 * time.Millisecond

// wakeSlot marks the loop's eventfd in an event's data (ranks are >= 0).
const wakeSlot = -1

type fdLoop struct {
	s    *simpleServer
	epfd int
	wake int // eventfd: close writes it to stop the loop
	// conns holds each rank's connection while it is open; the event's
	// data names the rank.
	conns []atomic.Pointer[conn]
	// attention counts connections holding unwritten replies or a
	// failed write: while it is above 0 the loop wakes at least every
	// second to cut off those that stalled for writeTimeout.
	attention atomic.Int32
	// mu guards done, set once the loop closed its descriptors: stop
	// must not write to a number the process may have reused since.
	mu   sync.Mutex
	done bool
}

func newFDLoop(s *simpleServer, ranks int) (*fdLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("PMI server: epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("PMI server: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake), Pad: wakeSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, fmt.Errorf("PMI server: epoll: %w", err)
	}
	return &fdLoop{s: s, epfd: epfd, wake: wake, conns: make([]atomic.Pointer[conn], ranks)}, nil
}

// addLocked makes a connection of rank r served by the loop on fd, the
// server's end of the rank's socketpair; s.mu is held. On success the loop
// owns fd.
func (lp *fdLoop) addLocked(fd, r int) (*conn, error) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.done {
		return nil, errors.New("the server's loop has ended")
	}
	if lp.conns[r].Load() != nil {
		return nil, fmt.Errorf("rank %d has a connection already", r)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	c := &conn{s: lp.s, rank: r, boundRank: true, frameSlack: -1, lp: lp, fd: fd,
		rd: &msgReader{fd: fd, buf: make([]byte, readBufStart), bufMax: readBufMax}}
	lp.conns[r].Store(c)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: int32(r)}
	if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		lp.conns[r].Store(nil)
		return nil, err
	}
	lp.s.conns[c] = struct{}{}
	return c, nil
}

// adopt moves c, a TCP connection of a named rank served by its own
// goroutine with nothing left unread, to the loop: its socket, duplicated
// and made non-blocking, is read by the loop from then on, and c's
// net.Conn is closed. It reports whether it did; the calling goroutine
// then leaves c to the loop. Replies other goroutines send meanwhile wait
// for c.wmu, so each goes through one path or the other.
func (lp *fdLoop) adopt(c *conn) bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	s := lp.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.done || lp.conns[c.rank].Load() != nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	fd := -1
	if cerr := raw.Control(func(orig uintptr) {
		fd, err = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil || err != nil {
		return false
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return false
	}
	// The loop sees c's new fields once it loads c from its slot.
	nc := c.nc
	c.lp, c.fd = lp, fd
	c.rd.nc, c.rd.fd = nil, fd
	lp.conns[c.rank].Store(c)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: int32(c.rank)}
	if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		lp.conns[c.rank].Store(nil)
		c.lp, c.fd = nil, 0
		c.rd.nc, c.rd.fd = nc, 0
		unix.Close(fd)
		return false
	}
	nc.Close() // the duplicate keeps the socket open
	return true
}

// stop asks the loop to end every connection and return.
func (lp *fdLoop) stop() {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.done {
		return
	}
	var one [8]byte
	one[0] = 1 // an eventfd counter in host order; any non-zero value wakes
	unix.Write(lp.wake, one[:])
}

func (lp *fdLoop) run() {
	defer lp.s.wg.Done()
	events := make([]unix.EpollEvent, loopEvents)
	var swept time.Time
	for {
		timeout := -1
		if lp.attention.Load() > 0 {
			timeout = 1000
		}
		n, err := unix.EpollWait(lp.epfd, events, timeout)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// Not expected with a valid descriptor; the job cannot
			// be served any more.
			lp.s.events.failed(-1, fmt.Errorf("epoll_wait: %w", err))
			lp.shutdown()
			return
		}
		for _, ev := range events[:n] {
			if ev.Pad == wakeSlot {
				lp.shutdown()
				return
			}
			c := lp.conns[ev.Pad].Load()
			if c == nil || c.ended {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				lp.flush(c)
			}
			if ev.Events&^unix.EPOLLOUT != 0 {
				lp.readable(c)
			}
		}
		// A write that failed also shut the socket down, so its read
		// ends the connection at once; the sweep is for the stalled,
		// and a few times a second is often enough.
		if lp.attention.Load() > 0 && time.Since(swept) > sweepEvery {
			lp.sweep()
			swept = time.Now()
		}
	}
}

// readable reads what the client sent with one read and answers every
// whole message in the buffer.
func (lp *fdLoop) readable(c *conn) {
	if err := c.rd.fill(); err != nil {
		if err == unix.EAGAIN {
			return
		}
		lp.finish(c, c.readFailed(c.rd.endErr(err)))
		return
	}
	for {
		msg, pmi2, ok, err := c.rd.buffered()
		if err != nil {
			lp.finish(c, c.readFailed(err))
			return
		}
		if !ok {
			return
		}
		if err := c.step(msg, pmi2); err != nil {
			lp.finish(c, err)
			return
		}
	}
}

// finish ends a connection of the loop, why being what ended it.
func (lp *fdLoop) finish(c *conn, why error) {
	c.end(why)
}

// release closes c's descriptor, once; c.end calls it from the loop.
func (lp *fdLoop) release(c *conn) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended {
		return
	}
	c.ended = true
	if len(c.pending) > 0 || c.broken {
		lp.attention.Add(-1)
	}
	c.pending = nil
	lp.conns[c.rank].CompareAndSwap(c, nil)
	unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
}

// write sends b to c's client, keeping what the socket does not take;
// c.wmu is held.
func (lp *fdLoop) write(c *conn, b []byte) {
	if c.ended || c.broken {
		return
	}
	if len(c.pending) > 0 {
		c.pending = append(c.pending, b...)
		return
	}
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			c.pending = append(c.pending[:0], b...)
			c.pendingSince = time.Now()
			lp.attention.Add(1)
			// Until the client takes its replies it is not read.
			lp.watch(c, unix.EPOLLOUT)
			return
		case err != nil:
			lp.breakLocked(c)
			return
		}
		b = b[n:]
	}
}

// flush writes c's kept replies as the socket takes them; once they are
// all out the client is read again.
func (lp *fdLoop) flush(c *conn) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended || c.broken || len(c.pending) == 0 {
		return
	}
	for len(c.pending) > 0 {
		n, err := unix.Write(c.fd, c.pending)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			// Still counted for attention: the sweep ends it.
			c.pending = c.pending[:0]
			c.broken = true
			unix.Shutdown(c.fd, unix.SHUT_RDWR)
			return
		}
		c.pending = c.pending[n:]
		c.pendingSince = time.Now()
	}
	c.pending = nil
	lp.attention.Add(-1)
	lp.watch(c, unix.EPOLLIN)
}

// breakLocked marks a connection whose write failed: the sweep ends it
// (and its reads now see the end); c.wmu is held.
func (lp *fdLoop) breakLocked(c *conn) {
	c.broken = true
	lp.attention.Add(1)
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
}

func (lp *fdLoop) watch(c *conn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd), Pad: int32(c.rank)}
	unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
}

// sweep ends the connections whose write failed and those whose client
// took none of its replies for writeTimeout.
func (lp *fdLoop) sweep() {
	now := time.Now()
	for i := range lp.conns {
		c := lp.conns[i].Load()
		if c == nil {
			continue
		}
		c.wmu.Lock()
		broken := c.broken
		stalled := len(c.pending) > 0 && now.Sub(c.pendingSince) > writeTimeout
		c.wmu.Unlock()
		switch {
		case broken:
			lp.finish(c, net.ErrClosed)
		case stalled:
			lp.finish(c, os.ErrDeadlineExceeded)
		}
	}
}

// shutdown ends every connection, as closing their sockets ends a
// goroutine's, and closes the loop's own descriptors.
func (lp *fdLoop) shutdown() {
	for i := range lp.conns {
		if c := lp.conns[i].Load(); c != nil {
			lp.finish(c, net.ErrClosed)
		}
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.done = true
	unix.Close(lp.wake)
	unix.Close(lp.epfd)
}
