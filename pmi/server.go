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
	"syscall"
	"time"
)

// maxStoreBytes bounds what all ranks together may put (keys and values of
// the KVS and node attributes), so a runaway client fails its job instead
// of the machine.
const maxStoreBytes = 256 << 20

// writeTimeout bounds one reply; a client that stops reading its socket
// for that long is cut off rather than stalling a fence for everyone.
const writeTimeout = 10 * time.Second

// simpleServer serves PMI-1 and PMI-2 over the simple wire protocol to the
// ranks of one job. It holds the job's KVS, node attributes and fence
// rounds; one goroutine per connection reads requests and answers them.
type simpleServer struct {
	cfg     backendConfig
	size    int
	kvsName string
	channel Channel
	events  eventSink

	ln        net.Listener // ChannelTCP only
	childEnds []*os.File   // ChannelFD: the rank's end, until started

	mu          sync.Mutex
	closed      bool
	accepted    int
	conns       map[*conn]struct{}
	claimed     []bool
	kvs         map[string]string
	nodeAttrs   map[string]string
	nodeWaiters map[string][]waiter
	storeBytes  int
	inFence     []bool
	fenceQueue  []waiter
	fences      int

	wg sync.WaitGroup
}

// waiter is a connection waiting for a reply that another rank's request
// completes (a fence, a node attribute), with the framing it asked in.
type waiter struct {
	c    *conn
	pmi2 bool
}

// conn is one client connection.
type conn struct {
	s    *simpleServer
	nc   net.Conn
	rd   *bufio.Reader
	wmu  sync.Mutex
	rank int // -1 until known (TCP: initack or fullinit)
	// boundRank is set when the channel itself says the rank (PMI_FD).
	boundRank bool
	version   int // 0 before init, 1 or 2 after
	fullInit  bool
	finalized bool
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
		cfg:         cfg,
		size:        n,
		kvsName:     cfg.KVS,
		channel:     cfg.Job.Channel,
		events:      cfg.Events,
		conns:       map[*conn]struct{}{},
		claimed:     make([]bool, n),
		kvs:         map[string]string{},
		nodeAttrs:   map[string]string{},
		nodeWaiters: map[string][]waiter{},
		inFence:     make([]bool, n),
	}
	if s.events == nil {
		s.events = nopSink{}
	}
	switch s.channel {
	case ChannelTCP:
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("PMI server: listen on 127.0.0.1: %w", err)
		}
		s.ln = ln
		s.wg.Add(1)
		go s.acceptLoop()
	case ChannelFD:
		s.childEnds = make([]*os.File, n)
	default:
		return nil, fmt.Errorf("%w: PMI channel %q (want fd or tcp)", ErrUnsupported, s.channel)
	}
	return s, nil
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
		env = append(env, "PMI_PORT="+s.addr(), "PMI_ID="+strconv.Itoa(r))
		return rankSetup{Env: env}, nil
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return rankSetup{}, fmt.Errorf("PMI server: socketpair for rank %d: %w", r, err)
	}
	serverEnd := os.NewFile(uintptr(fds[0]), fmt.Sprintf("pmi-server-%d", r))
	childEnd := os.NewFile(uintptr(fds[1]), fmt.Sprintf("pmi-rank-%d", r))
	nc, err := net.FileConn(serverEnd)
	serverEnd.Close()
	if err != nil {
		childEnd.Close()
		return rankSetup{}, fmt.Errorf("PMI server: socket for rank %d: %w", r, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		childEnd.Close()
		return rankSetup{}, errors.New("PMI server: closed")
	}
	s.claimed[r] = true
	c := s.newConnLocked(nc, r)
	s.childEnds[r] = childEnd
	s.mu.Unlock()
	s.wg.Add(1)
	go c.serve()
	// The child end becomes fd 3 (the first extra file).
	env = append(env, "PMI_FD=3")
	return rankSetup{Env: env, Files: []*os.File{childEnd}}, nil
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
		c.nc.Close()
	}
	for i, f := range s.childEnds {
		if f != nil {
			f.Close()
			s.childEnds[i] = nil
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
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
	c := &conn{s: s, nc: nc, rd: bufio.NewReaderSize(nc, 1024), rank: rank, boundRank: rank >= 0}
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
		m, pmi2, err := c.readMessage()
		if err != nil {
			if errors.Is(err, ErrProtocol) {
				c.fail(err)
			}
			return
		}
		if err := c.handle(m, pmi2); err != nil {
			c.fail(err)
			return
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

// readMessage reads one request, telling PMI-1 lines (which start with
// "cmd=" or "mcmd=") from PMI-2 frames (which start with a length field).
func (c *conn) readMessage() (*message, bool, error) {
	first, err := c.rd.Peek(1)
	if err != nil {
		return nil, false, err
	}
	switch first[0] {
	case 'c', 'm':
		line, err := c.readLine()
		if err != nil {
			return nil, false, err
		}
		m, err := parseLine(line)
		return m, false, err
	case ' ', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		field := make([]byte, pmi2LengthField)
		if _, err := io.ReadFull(c.rd, field); err != nil {
			return nil, false, truncatedErr(err)
		}
		n, err := parseFrameLength(field)
		if err != nil {
			return nil, false, err
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(c.rd, body); err != nil {
			return nil, false, truncatedErr(err)
		}
		m, err := parseFrame(body)
		return m, true, err
	default:
		return nil, false, fmt.Errorf("%w: message starts with byte %#02x, neither a PMI-1 line nor a PMI-2 length field", ErrProtocol, first[0])
	}
}

func truncatedErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: connection closed inside a PMI-2 message", ErrProtocol)
	}
	return err
}

func (c *conn) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := c.rd.ReadSlice('\n')
		if len(line)+len(chunk) > maxMessage {
			return nil, fmt.Errorf("%w: PMI-1 line longer than %d bytes", ErrProtocol, maxMessage)
		}
		switch {
		case err == nil:
			if line == nil {
				return chunk[:len(chunk)-1], nil
			}
			line = append(line, chunk...)
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
		case errors.Is(err, io.EOF) && len(line)+len(chunk) > 0:
			return nil, fmt.Errorf("%w: connection closed inside a PMI-1 line", ErrProtocol)
		default:
			return nil, err
		}
	}
}

func (c *conn) send(m *message, pmi2 bool) {
	var b []byte
	if pmi2 {
		b = formatFrame(m)
	} else {
		b = formatLine(m)
	}
	c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
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

// handle answers one request. A returned error is fatal for the job; a
// request that is merely wrong gets an error reply and the client decides.
func (c *conn) handle(m *message, pmi2 bool) error {
	if pmi2 {
		return c.handlePMI2(m)
	}
	return c.handlePMI1(m)
}

func (c *conn) handlePMI1(m *message) error {
	s := c.s
	switch m.cmd {
	case "initack":
		id, err := strconv.Atoi(valueOf(m, "pmiid"))
		if err != nil {
			return fmt.Errorf("%w: initack with pmiid %q", ErrProtocol, valueOf(m, "pmiid"))
		}
		if err := c.claim(id); err != nil {
			c.send(errReply("initack", "rank_refused", false), false)
			return err
		}
		c.sendRaw(fmt.Appendf(nil, "cmd=initack\ncmd=set size=%d\ncmd=set rank=%d\ncmd=set debug=0\n", s.size, c.rank))
		return nil
	case "init":
		if c.version != 0 {
			c.send(errReply("response_to_init", "init_twice", false), false)
			return nil
		}
		switch v := valueOf(m, "pmi_version"); v {
		case "1":
			if c.rank < 0 {
				c.send(errReply("response_to_init", "rank_unknown_set_PMI_ID", false), false)
				return fmt.Errorf("%w: PMI-1 init on a connection that never named its rank (PMI_ID unset?)", ErrProtocol)
			}
			c.version = 1
			c.send(reply("response_to_init").add("pmi_version", "1").add("pmi_subversion", "1").add("rc", "0"), false)
			s.events.initialised(c.rank, string(PMI1))
		case "2":
			// The rest of the conversation is PMI-2 frames; the
			// rank is known once fullinit names it.
			c.version = 2
			c.send(reply("response_to_init").add("pmi_version", "2").add("pmi_subversion", "0").add("rc", "0"), false)
		default:
			c.send(reply("response_to_init").add("pmi_version", "1").add("pmi_subversion", "1").add("rc", "-1"), false)
		}
		return nil
	}
	if c.version != 1 {
		c.send(errReply(m.cmd+"_result", "init_first", false), false)
		return nil
	}
	if c.finalized {
		c.send(errReply(m.cmd+"_result", "already_finalized", false), false)
		return nil
	}
	switch m.cmd {
	case "get_maxes":
		c.send(reply("maxes").add("kvsname_max", strconv.Itoa(kvsNameMax)).
			add("keylen_max", strconv.Itoa(keyLenMax)).add("vallen_max", strconv.Itoa(valLenMax)), false)
	case "get_appnum":
		c.send(reply("appnum").add("appnum", "0"), false)
	case "get_my_kvsname":
		c.send(reply("my_kvsname").add("kvsname", s.kvsName), false)
	case "get_universe_size":
		c.send(reply("universe_size").add("size", strconv.Itoa(s.size)), false)
	case "put":
		key, val := valueOf(m, "key"), valueOf(m, "value")
		if msg := s.checkKVS(valueOf(m, "kvsname"), key); msg != "" {
			c.send(errReply("put_result", msg, false), false)
			return nil
		}
		if !s.put(key, val) {
			c.send(errReply("put_result", "store_full", false), false)
			return fmt.Errorf("%s put more than %d bytes into the KVS", c.who(), maxStoreBytes)
		}
		c.send(reply("put_result").add("rc", "0").add("msg", "success"), false)
	case "get":
		key := valueOf(m, "key")
		if msg := s.checkKVS(valueOf(m, "kvsname"), key); msg != "" {
			c.send(errReply("get_result", msg, false), false)
			return nil
		}
		if v, ok := s.get(key); ok {
			c.send(reply("get_result").add("rc", "0").add("msg", "success").add("value", v), false)
		} else {
			c.send(errReply("get_result", "key_"+key+"_not_found", false), false)
		}
	case "barrier_in":
		return s.enterFence(c, false)
	case "finalize":
		c.finalized = true
		s.events.finalized(c.rank)
		c.send(reply("finalize_ack"), false)
	case "abort":
		code := 1
		if v, ok := m.get("exitcode"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				code = n
			}
		}
		s.events.aborted(c.rank, code, valueOf(m, "msg"))
	default:
		c.send(errReply(m.cmd+"_result", "unsupported_command", false), false)
	}
	return nil
}

func (c *conn) handlePMI2(m *message) error {
	s := c.s
	resp := m.cmd + "-response"
	if c.version != 2 {
		c.send(errReply(resp, "send cmd=init pmi_version=2 first", true), true)
		return nil
	}
	if m.cmd == "fullinit" {
		if c.fullInit {
			c.send(errReply(resp, "fullinit sent twice", true), true)
			return nil
		}
		idText, ok := m.get("pmirank")
		if !ok {
			idText, ok = m.get("srcid")
		}
		if !ok && c.rank < 0 {
			c.send(errReply(resp, "fullinit names no rank (pmirank or srcid)", true), true)
			return fmt.Errorf("%w: PMI-2 fullinit without pmirank or srcid", ErrProtocol)
		}
		if ok {
			id, err := strconv.Atoi(idText)
			if err != nil {
				c.send(errReply(resp, "bad rank", true), true)
				return fmt.Errorf("%w: PMI-2 fullinit with rank %q", ErrProtocol, idText)
			}
			if err := c.claim(id); err != nil {
				c.send(errReply(resp, "rank refused", true), true)
				return err
			}
		}
		c.fullInit = true
		c.send(reply(resp).add("rc", "0").add("pmi-version", "2").add("pmi-subversion", "0").
			add("rank", strconv.Itoa(c.rank)).add("size", strconv.Itoa(s.size)).add("appnum", "0").
			add("debugged", "FALSE").add("pmiverbose", "FALSE"), true)
		s.events.initialised(c.rank, string(PMI2))
		return nil
	}
	if !c.fullInit {
		c.send(errReply(resp, "send fullinit first", true), true)
		return nil
	}
	if c.finalized {
		c.send(errReply(resp, "already finalized", true), true)
		return nil
	}
	switch m.cmd {
	case "job-getid":
		c.send(reply(resp).add("rc", "0").add("jobid", s.kvsName), true)
	case "info-getjobattr":
		if v, ok := s.jobAttr(valueOf(m, "key")); ok {
			c.send(reply(resp).add("rc", "0").add("found", "TRUE").add("value", v), true)
		} else {
			c.send(reply(resp).add("rc", "0").add("found", "FALSE"), true)
		}
	case "info-putnodeattr":
		key := valueOf(m, "key")
		if key == "" {
			c.send(errReply(resp, "no key", true), true)
			return nil
		}
		waiters, ok := s.putNodeAttr(key, valueOf(m, "value"))
		if !ok {
			c.send(errReply(resp, "store full", true), true)
			return fmt.Errorf("%s put more than %d bytes into the node attributes", c.who(), maxStoreBytes)
		}
		c.send(reply(resp).add("rc", "0"), true)
		val := valueOf(m, "value")
		for _, w := range waiters {
			w.c.send(reply("info-getnodeattr-response").add("rc", "0").add("found", "TRUE").add("value", val), w.pmi2)
		}
	case "info-getnodeattr":
		key := valueOf(m, "key")
		v, found := s.getNodeAttr(key, c, valueOf(m, "wait") == "TRUE")
		switch {
		case found:
			c.send(reply(resp).add("rc", "0").add("found", "TRUE").add("value", v), true)
		case valueOf(m, "wait") == "TRUE":
			// Held until some rank puts the key.
		default:
			c.send(reply(resp).add("rc", "0").add("found", "FALSE"), true)
		}
	case "kvs-put":
		key := valueOf(m, "key")
		if key == "" {
			c.send(errReply(resp, "no key", true), true)
			return nil
		}
		if !s.put(key, valueOf(m, "value")) {
			c.send(errReply(resp, "store full", true), true)
			return fmt.Errorf("%s put more than %d bytes into the KVS", c.who(), maxStoreBytes)
		}
		c.send(reply(resp).add("rc", "0"), true)
	case "kvs-get":
		if j, ok := m.get("jobid"); ok && j != "" && j != s.kvsName {
			c.send(errReply(resp, "unknown jobid "+j, true), true)
			return nil
		}
		if v, ok := s.get(valueOf(m, "key")); ok {
			c.send(reply(resp).add("rc", "0").add("found", "TRUE").add("value", v), true)
		} else {
			c.send(reply(resp).add("rc", "0").add("found", "FALSE"), true)
		}
	case "kvs-fence":
		return s.enterFence(c, true)
	case "finalize":
		c.finalized = true
		s.events.finalized(c.rank)
		c.send(reply(resp).add("rc", "0"), true)
	case "abort":
		code := 1
		if v, ok := m.get("exitcode"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				code = n
			}
		}
		s.events.aborted(c.rank, code, valueOf(m, "msg"))
	default:
		c.send(errReply(resp, "unsupported command "+m.cmd, true), true)
	}
	return nil
}

func valueOf(m *message, key string) string {
	v, _ := m.get(key)
	return v
}

// checkKVS validates a PMI-1 kvsname and key, returning an error text.
func (s *simpleServer) checkKVS(kvsName, key string) string {
	switch {
	case kvsName != "" && kvsName != s.kvsName:
		return "unknown_kvsname"
	case key == "":
		return "no_key"
	}
	return ""
}

func (s *simpleServer) put(key, val string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.kvs[key]
	grow := len(key) + len(val)
	if had {
		grow = len(val) - len(old)
	}
	if s.storeBytes+grow > maxStoreBytes {
		return false
	}
	s.storeBytes += grow
	s.kvs[key] = val
	return true
}

func (s *simpleServer) get(key string) (string, bool) {
	s.mu.Lock()
	v, ok := s.kvs[key]
	s.mu.Unlock()
	if ok {
		return v, true
	}
	// MPICH's PMI-1 reads job attributes as KVS keys.
	return s.jobAttr(key)
}

// jobAttr answers the job-level attributes: every rank is on this node.
func (s *simpleServer) jobAttr(key string) (string, bool) {
	switch key {
	case "PMI_process_mapping":
		return fmt.Sprintf("(vector,(0,1,%d))", s.size), true
	case "universeSize":
		return strconv.Itoa(s.size), true
	}
	return "", false
}

func (s *simpleServer) putNodeAttr(key, val string) ([]waiter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.nodeAttrs[key]
	grow := len(key) + len(val)
	if had {
		grow = len(val) - len(old)
	}
	if s.storeBytes+grow > maxStoreBytes {
		return nil, false
	}
	s.storeBytes += grow
	s.nodeAttrs[key] = val
	w := s.nodeWaiters[key]
	delete(s.nodeWaiters, key)
	return w, true
}

func (s *simpleServer) getNodeAttr(key string, c *conn, wait bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.nodeAttrs[key]; ok {
		return v, true
	}
	if wait {
		s.nodeWaiters[key] = append(s.nodeWaiters[key], waiter{c, true})
	}
	return "", false
}

// enterFence records c's arrival at the current fence round; the last
// arrival answers everyone.
func (s *simpleServer) enterFence(c *conn, pmi2 bool) error {
	s.mu.Lock()
	if s.inFence[c.rank] {
		s.mu.Unlock()
		return fmt.Errorf("%w: rank %d entered the same fence twice", ErrProtocol, c.rank)
	}
	s.inFence[c.rank] = true
	s.fenceQueue = append(s.fenceQueue, waiter{c, pmi2})
	if len(s.fenceQueue) < s.size {
		s.mu.Unlock()
		return nil
	}
	queue := s.fenceQueue
	s.fenceQueue = nil
	clear(s.inFence)
	s.fences++
	s.mu.Unlock()
	s.events.fenceCompleted()
	var line, frame []byte
	for _, w := range queue {
		if w.pmi2 {
			if frame == nil {
				frame = formatFrame(reply("kvs-fence-response").add("rc", "0"))
			}
			w.c.sendRaw(frame)
		} else {
			if line == nil {
				line = formatLine(reply("barrier_out"))
			}
			w.c.sendRaw(line)
		}
	}
	return nil
}

// nopSink drops events (a server used without a launcher).
type nopSink struct{}

func (nopSink) initialised(int, string)  {}
func (nopSink) fenceCompleted()          {}
func (nopSink) finalized(int)            {}
func (nopSink) disconnected(int)         {}
func (nopSink) aborted(int, int, string) {}
func (nopSink) failed(int, error)        {}
