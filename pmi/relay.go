package pmi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
)

// initackPrefix opens the first line of a PMI-1 client that was given
// PMI_ID: it names its rank before anything else.
const initackPrefix = "cmd=initack"

// initackReply is the answer to a PMI-1 initack: the job's size and the
// rank the connection belongs to.
func initackReply(size, rank int) []byte {
	return fmt.Appendf(nil, "cmd=initack\ncmd=set size=%d\ncmd=set rank=%d\ncmd=set debug=0\n", size, rank)
}

// Relay bridges a rank that can reach PMI-1/PMI-2 only over TCP (PMI_PORT
// and PMI_ID: a Docker container cannot inherit an fd) to an outer process
// manager's PMI_FD socket (a Slurm step's). A PMI-1 client given PMI_ID
// opens with "cmd=initack pmiid=N", which a server on an fd does not
// expect: the relay answers it itself, with the rank and size it was
// given, and then copies bytes both ways. Anything else (a PMI-1 init, a
// PMI-2 frame) goes upstream untouched. It relays one connection, as a rank
// opens one.
type Relay struct {
	ln         net.Listener
	upstream   *os.File
	rank, size int

	closeOnce sync.Once
	closeErr  error
}

// NewRelay listens on 127.0.0.1 for rank's connection, to relay it to
// upstream, the outer PMI_FD socket; size is the job's number of ranks.
// The relay owns upstream from then on: Close closes it.
func NewRelay(upstream *os.File, rank, size int) (*Relay, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("PMI relay for rank %d: listen on 127.0.0.1: %w", rank, err)
	}
	return &Relay{ln: ln, upstream: upstream, rank: rank, size: size}, nil
}

// Addr is the TCP address the rank connects to (its PMI_PORT).
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Env is what the rank needs in its environment to reach the relay:
// PMI_PORT and PMI_ID.
func (r *Relay) Env() []string {
	return []string{"PMI_PORT=" + r.Addr(), "PMI_ID=" + strconv.Itoa(r.rank)}
}

// Serve accepts the rank's connection and relays it until either side
// ends. It returns nil when the relay was closed before the rank
// connected, or when the connection ended normally.
func (r *Relay) Serve() error {
	conn, err := r.ln.Accept()
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("PMI relay for rank %d: %w", r.rank, err)
	}
	r.ln.Close() // one connection per rank
	defer conn.Close()
	br := bufio.NewReader(conn)
	// Every first request is at least as long as the prefix (a PMI-2
	// frame's length header alone is 6 bytes, then "cmd="), so peeking
	// does not wait for bytes a client would never send.
	head, err := br.Peek(len(initackPrefix))
	if err != nil {
		return relayEnd(r.rank, err)
	}
	if string(head) == initackPrefix {
		if _, err := br.ReadString('\n'); err != nil {
			return relayEnd(r.rank, err)
		}
		if _, err := conn.Write(initackReply(r.size, r.rank)); err != nil {
			return relayEnd(r.rank, err)
		}
	}
	done := make(chan error, 2)
	go func() { _, err := io.Copy(r.upstream, br); done <- err }()
	go func() { _, err := io.Copy(conn, r.upstream); done <- err }()
	return relayEnd(r.rank, <-done)
}

// relayEnd is Serve's result for how the connection ended: an end of file
// or a closed relay is the normal end.
func relayEnd(rank int, err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	return fmt.Errorf("PMI relay for rank %d: %w", rank, err)
}

// Close stops listening and closes the upstream socket, which ends a
// relayed connection. It is safe to call twice.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		lnErr := r.ln.Close()
		if errors.Is(lnErr, net.ErrClosed) {
			lnErr = nil // Serve closed it on accepting
		}
		r.closeErr = errors.Join(lnErr, r.upstream.Close())
	})
	return r.closeErr
}
