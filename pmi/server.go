package pmi

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// maxStoreBytes bounds what all ranks together may put (keys and values of
// the KVS and node attributes), so a runaway client fails its job instead
// of the machine.
const maxStoreBytes = 256 << 20

// writeTimeout bounds one reply; a client that stops reading its socket
// for that long is cut off rather than stalling a fence for everyone. A
// variable for the tests.
var writeTimeout = 10 * time.Second

// simpleServer serves PMI-1 and PMI-2 over the simple wire protocol to the
// ranks of one job. It holds the job's KVS, node attributes and fence
// rounds. One epoll loop (loop.go) reads and answers every rank's
// requests; a TCP connection has a goroutine of its own until it named its
// rank (admit.go), and is then handed to the loop.
type simpleServer struct {
	cfg     backendConfig
	size    int
	kvsName string
	channel Channel
	events  eventSink

	ln        net.Listener // ChannelTCP only
	childEnds []*os.File   // ChannelFD: the rank's end, until started
	loop      *fdLoop      // serves every rank's connection (TCP: once named)

	// processMapping and sizeText are the job attributes, made once.
	processMapping string
	sizeText       string

	// kvsMu guards kvs; after a fence nearly every request is a get, and
	// gets share the read lock.
	kvsMu sync.RWMutex
	kvs   map[string]string

	mu          sync.Mutex
	closed      bool
	conns       map[*conn]struct{}
	claimed     []bool
	nodeAttrs   map[string]string
	nodeWaiters map[string][]waiter
	storeBytes  int // guarded by kvsMu
	inFence     []bool
	fenceQueue  []waiter
	fences      int

	// ChannelTCP only, guarded by mu (admit.go): tokens maps each
	// started rank's token (its PMI_ID) to the rank; unnamed counts the
	// ranks that have not named themselves yet; strangers queues the
	// connections that have not named a rank, oldest first (with some
	// that have since, skipped lazily), and strangerCount counts them;
	// wrongTokens counts connections that named a token of no rank.
	tokens        map[int]int
	unnamed       int
	strangers     []*conn
	strangerCount int
	wrongTokens   int

	wg sync.WaitGroup
}

func newSimpleBackend(cfg backendConfig) (backend, error) {
	return newSimpleServer(cfg)
}

func init() {
	registerBackend(PMI1, newSimpleBackend)
	registerBackend(PMI2, newSimpleBackend)
}

func newSimpleServer(cfg backendConfig) (*simpleServer, error) {
	n := cfg.Job.Ranks
	if n < 1 {
		return nil, fmt.Errorf("PMI server: %d ranks, need at least 1", n)
	}
	s := &simpleServer{
		cfg:            cfg,
		size:           n,
		kvsName:        cfg.KVS,
		channel:        cfg.Job.Channel,
		events:         cfg.Events,
		conns:          map[*conn]struct{}{},
		processMapping: fmt.Sprintf("(vector,(0,1,%d))", n),
		sizeText:       strconv.Itoa(n),
		claimed:        make([]bool, n),
		kvs:            map[string]string{},
		nodeAttrs:      map[string]string{},
		nodeWaiters:    map[string][]waiter{},
		inFence:        make([]bool, n),
	}
	if s.events == nil {
		s.events = nopSink{}
	}
	switch s.channel {
	case ChannelTCP:
		s.tokens = make(map[int]int, n)
		s.unnamed = n
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("PMI server: listen on 127.0.0.1: %w", err)
		}
		s.ln = ln
		if err := s.startLoop(); err != nil {
			ln.Close()
			return nil, err
		}
		s.wg.Add(1)
		go s.acceptLoop()
	case ChannelFD:
		s.childEnds = make([]*os.File, n)
		if err := s.startLoop(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: PMI channel %q (want fd or tcp)", ErrUnsupported, s.channel)
	}
	return s, nil
}

func (s *simpleServer) startLoop() error {
	lp, err := newFDLoop(s, s.size)
	if err != nil {
		return err
	}
	s.loop = lp
	s.wg.Add(1)
	go lp.run()
	return nil
}

// addr is the TCP address ranks connect to (ChannelTCP).
func (s *simpleServer) addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

func (s *simpleServer) rankSetup(r int) (rankSetup, error) {
	env := []string{
		"PMI_RANK=" + strconv.Itoa(r),
		"PMI_SIZE=" + strconv.Itoa(s.size),
		"PMI_JOBID=" + s.kvsName,
	}
	if s.channel == ChannelTCP {
		// The token exists from the moment its rank is about to start:
		// only the rank's environment holds it (and the PMI-1 client
		// sends it as a C int).
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return rankSetup{}, errors.New("PMI server: closed")
		}
		token := s.newTokenLocked(r)
		s.mu.Unlock()
		env = append(env, "PMI_PORT="+s.addr(), "PMI_ID="+strconv.Itoa(token))
		return rankSetup{Env: env}, nil
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return rankSetup{}, fmt.Errorf("PMI server: socketpair for rank %d: %w", r, err)
	}
	childEnd := os.NewFile(uintptr(fds[1]), fmt.Sprintf("pmi-rank-%d", r))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		syscall.Close(fds[0])
		childEnd.Close()
		return rankSetup{}, errors.New("PMI server: closed")
	}
	if _, err := s.loop.addLocked(fds[0], r); err != nil {
		s.mu.Unlock()
		syscall.Close(fds[0])
		childEnd.Close()
		return rankSetup{}, fmt.Errorf("PMI server: socket for rank %d: %w", r, err)
	}
	s.claimed[r] = true
	s.childEnds[r] = childEnd
	s.mu.Unlock()
	// The child end becomes fd 3 (the first extra file).
	env = append(env, "PMI_FD=3")
	return rankSetup{Env: env, Files: []*os.File{childEnd}}, nil
}

// tokenRank returns the rank whose token text is (ChannelTCP).
func (s *simpleServer) tokenRank(text []byte) (int, bool) {
	tok, err := strconv.Atoi(string(text))
	if err != nil {
		return -1, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.tokens[tok]
	return r, ok
}

func (s *simpleServer) rankStarted(r int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.childEnds != nil && s.childEnds[r] != nil {
		s.childEnds[r].Close()
		s.childEnds[r] = nil
	}
}

func (s *simpleServer) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		if c.lp == nil {
			c.nc.Close()
		}
	}
	for i, f := range s.childEnds {
		if f != nil {
			f.Close()
			s.childEnds[i] = nil
		}
	}
	s.mu.Unlock()
	if s.loop != nil {
		s.loop.stop()
	}
	s.wg.Wait()
	return nil
}

// nopSink drops events (a server used without a launcher).
type nopSink struct{}

func (nopSink) spoke(int, time.Time)     {}
func (nopSink) initialised(int, string)  {}
func (nopSink) fenceCompleted()          {}
func (nopSink) finalized(int)            {}
func (nopSink) disconnected(int)         {}
func (nopSink) aborted(int, int, string) {}
func (nopSink) failed(int, error)        {}
func (nopSink) refused(string)           {}
