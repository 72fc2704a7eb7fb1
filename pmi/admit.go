package pmi

// This file decides who becomes a rank over TCP. The port is open to every
// process on the machine, so a connection is a stranger until it names a
// rank by that rank's token, a random number only the rank's environment
// holds (PMI_ID). Strangers use no rank's slot: they are dropped when they
// say anything else, when they stay silent past identifyTimeout, or to make
// room for newer connections, and they never fail the job, except when so
// many guess tokens that one guess might come true.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// identifyTimeout is how long a TCP connection may take to name its rank.
// A real rank names it in its first message, right after connecting (PMI-1
// initack; PMI-2 init and fullinit, one round trip apart); the bound frees
// what a silent stranger holds. A variable for the tests.
var identifyTimeout = 5 * time.Second

// identifyBufMax bounds what a connection may send before naming its rank:
// the naming messages are under 200 bytes, and a stranger must not make
// the server hold a full-size message buffer.
const identifyBufMax = readBufStart

// strangerSlack is how many unidentified connections the server holds
// beyond one per rank still to connect; past that the oldest is dropped.
// A real rank names itself at once, so the oldest is a stranger's
// (typically an idle connection meant to crowd the ranks out).
const strangerSlack = 64

// maxWrongTokens is how many connections may name a token no rank has
// before the job is failed: a token is one of 2^31 numbers, so after
// that many wrong guesses among n ranks the chance that one came true is
// below maxWrongTokens*n/2^31 (3e-5 at 1,000 ranks); guessing on beyond
// that would make the job's results the guesser's.
const maxWrongTokens = 64

// minToken keeps tokens clear of rank numbers: a connection that claims
// "pmiid=0", as a rank did before tokens, names no rank.
const minToken = 1 << 20

var (
	// errStranger marks a TCP connection that did not name a rank of the
	// job: it is dropped, and the job goes on.
	errStranger = errors.New("named no rank of the job")
	// ErrWrongTokens fails a job whose TCP port got more than
	// maxWrongTokens connections naming tokens of no rank.
	ErrWrongTokens = errors.New("connections named PMI tokens of no rank (someone is guessing)")
)

// newTokenLocked makes rank r's token, unique in the job; s.mu is held.
func (s *simpleServer) newTokenLocked(r int) int {
	for {
		var b [4]byte
		rand.Read(b[:]) // never fails (crypto/rand)
		t := int(binary.LittleEndian.Uint32(b[:]) &^ (1 << 31))
		if _, used := s.tokens[t]; t >= minToken && !used {
			s.tokens[t] = r
			return t
		}
	}
}

// acceptLoop accepts TCP connections until every rank has named itself or
// the server closes. Each connection starts as a stranger with
// identifyTimeout to name its rank.
func (s *simpleServer) acceptLoop() {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, or another passing condition
			// (a crowd of strangers): a rank still to come must not be
			// locked out for good, so wait and go on.
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		nc.SetReadDeadline(time.Now().Add(identifyTimeout))
		s.mu.Lock()
		if s.closed || s.unnamed == 0 {
			// Accepted by the kernel as the listener closed.
			s.mu.Unlock()
			nc.Close()
			s.events.refused("connected as the port closed (every rank had named itself, or the job ended)")
			continue
		}
		c := s.newConnLocked(nc, -1)
		c.rd.bufMax = identifyBufMax
		s.holdStrangerLocked(c)
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// holdStrangerLocked queues c among the unidentified connections and drops
// the oldest beyond the bound; s.mu is held.
func (s *simpleServer) holdStrangerLocked(c *conn) {
	if len(s.strangers) > 2*s.strangerCount+strangerSlack {
		// Most of the queue named a rank or ended since: keep it from
		// growing with every connection ever made.
		kept := s.strangers[:0]
		for _, o := range s.strangers {
			if o.stranger {
				kept = append(kept, o)
			}
		}
		clear(s.strangers[len(kept):])
		s.strangers = kept
	}
	c.stranger = true
	s.strangers = append(s.strangers, c)
	s.strangerCount++
	for s.strangerCount > s.unnamed+strangerSlack {
		old := s.strangers[0]
		s.strangers = s.strangers[1:]
		if !old.stranger {
			continue // named its rank or ended since
		}
		old.stranger = false
		old.evicted = true
		s.strangerCount--
		old.nc.Close() // its serve goroutine ends on the read error
	}
}

// claimToken binds a stranger to the rank whose token text is (key says
// which request field held it). A token of no rank returns an
// errStranger error, and the maxWrongTokens-th one more fails the job
// too; a token whose rank is already connected is a protocol error.
func (c *conn) claimToken(key string, text []byte) error {
	s := c.s
	tok, err := strconv.Atoi(string(text))
	s.mu.Lock()
	r, known := s.tokens[tok]
	if err != nil || !known {
		s.wrongTokens++
		tooMany := s.wrongTokens == maxWrongTokens+1
		s.mu.Unlock()
		if tooMany {
			c.fail(fmt.Errorf("%w: %d of them", ErrWrongTokens, maxWrongTokens+1))
		}
		return fmt.Errorf("%w: %s %q is no rank's token", errStranger, key, truncate(text))
	}
	if s.claimed[r] {
		s.mu.Unlock()
		return fmt.Errorf("%w: rank %d claimed by a second connection", ErrProtocol, r)
	}
	s.claimed[r] = true
	c.rank = r
	c.stranger = false
	s.strangerCount--
	s.unnamed--
	var strangers []*conn
	if s.unnamed == 0 {
		// Every rank is here: no one else may connect, and the
		// strangers still waiting are dropped.
		s.ln.Close()
		for _, o := range s.strangers {
			if o.stranger {
				o.stranger = false
				s.strangerCount--
				strangers = append(strangers, o)
			}
		}
		s.strangers = nil
	}
	s.mu.Unlock()
	for _, o := range strangers {
		o.nc.Close()
	}
	c.rd.bufMax = readBufMax
	c.nc.SetReadDeadline(time.Time{})
	return nil
}
