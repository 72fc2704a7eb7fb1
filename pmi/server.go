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

	// processMapping and sizeText are the job attributes, made once.
	processMapping string
	sizeText       string

	// kvsMu guards kvs; after a fence nearly every request is a get, and
	// gets share the read lock.
	kvsMu sync.RWMutex
	kvs   map[string]string

	mu          sync.Mutex
	closed      bool
	accepted    int
	conns       map[*conn]struct{}
	claimed     []bool
	nodeAttrs   map[string]string
	nodeWaiters map[string][]waiter
	storeBytes  int // guarded by kvsMu
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
	c := &conn{s: s, nc: nc, rd: newMsgReader(nc, readBufStart), rank: rank, boundRank: rank >= 0}
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
		if err == nil {
			if pmi2 {
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

func (c *conn) handlePMI1(q *request) error {
	s := c.s
	switch string(q.cmd) {
	case "initack":
		v, _ := q.value("pmiid")
		id, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("%w: initack with pmiid %q", ErrProtocol, v)
		}
		if err := c.claim(id); err != nil {
			c.sendErr("initack", "rank_refused", false)
			return err
		}
		c.sendRaw(fmt.Appendf(nil, "cmd=initack\ncmd=set size=%d\ncmd=set rank=%d\ncmd=set debug=0\n", s.size, c.rank))
		return nil
	case "init":
		if c.version != 0 {
			c.sendErr("response_to_init", "init_twice", false)
			return nil
		}
		v, _ := q.value("pmi_version")
		switch string(v) {
		case "1":
			if c.rank < 0 {
				c.sendErr("response_to_init", "rank_unknown_set_PMI_ID", false)
				return fmt.Errorf("%w: PMI-1 init on a connection that never named its rank (PMI_ID unset?)", ErrProtocol)
			}
			c.version = 1
			c.begin("response_to_init", false).add("pmi_version", "1").add("pmi_subversion", "1").add("rc", "0")
			c.finish()
			s.events.initialised(c.rank, string(PMI1))
		case "2":
			// The rest of the conversation is PMI-2 frames; the
			// rank is known once fullinit names it.
			c.version = 2
			c.begin("response_to_init", false).add("pmi_version", "2").add("pmi_subversion", "0").add("rc", "0")
			c.finish()
		default:
			c.begin("response_to_init", false).add("pmi_version", "1").add("pmi_subversion", "1").add("rc", "-1")
			c.finish()
		}
		return nil
	}
	if c.version != 1 {
		c.sendErr(string(q.cmd)+"_result", "init_first", false)
		return nil
	}
	if c.finalized {
		c.sendErr(string(q.cmd)+"_result", "already_finalized", false)
		return nil
	}
	switch string(q.cmd) {
	case "get_maxes":
		c.begin("maxes", false).addInt("kvsname_max", kvsNameMax).addInt("keylen_max", keyLenMax).addInt("vallen_max", valLenMax)
		c.finish()
	case "get_appnum":
		c.begin("appnum", false).add("appnum", "0")
		c.finish()
	case "get_my_kvsname":
		c.begin("my_kvsname", false).add("kvsname", s.kvsName)
		c.finish()
	case "get_universe_size":
		c.begin("universe_size", false).add("size", s.sizeText)
		c.finish()
	case "put":
		key, _ := q.value("key")
		val, _ := q.value("value")
		if msg := s.checkKVS(q, key); msg != "" {
			c.sendErr("put_result", msg, false)
			return nil
		}
		if !s.put(key, val) {
			c.sendErr("put_result", "store_full", false)
			return fmt.Errorf("%s put more than %d bytes into the KVS", c.who(), maxStoreBytes)
		}
		c.begin("put_result", false).add("rc", "0").add("msg", "success")
		c.finish()
	case "get":
		key, _ := q.value("key")
		if msg := s.checkKVS(q, key); msg != "" {
			c.sendErr("get_result", msg, false)
			return nil
		}
		if v, ok := s.get(key); ok {
			c.begin("get_result", false).add("rc", "0").add("msg", "success").add("value", v)
			c.finish()
		} else {
			c.sendErr("get_result", "key_"+string(key)+"_not_found", false)
		}
	case "barrier_in":
		return s.enterFence(c, false)
	case "finalize":
		c.finalized = true
		s.events.finalized(c.rank)
		c.begin("finalize_ack", false)
		c.finish()
	case "abort":
		s.events.aborted(c.rank, exitCode(q), q.str("msg"))
	default:
		c.sendErr(string(q.cmd)+"_result", "unsupported_command", false)
	}
	return nil
}

func (c *conn) handlePMI2(q *request) error {
	s := c.s
	cmd := pmi2Command(q.cmd)
	resp := cmd + "-response"
	if c.version != 2 {
		c.sendErr(resp, "send cmd=init pmi_version=2 first", true)
		return nil
	}
	if cmd == "fullinit" {
		if c.fullInit {
			c.sendErr(resp, "fullinit sent twice", true)
			return nil
		}
		idText, ok := q.value("pmirank")
		if !ok {
			idText, ok = q.value("srcid")
		}
		if !ok && c.rank < 0 {
			c.sendErr(resp, "fullinit names no rank (pmirank or srcid)", true)
			return fmt.Errorf("%w: PMI-2 fullinit without pmirank or srcid", ErrProtocol)
		}
		if ok {
			id, err := strconv.Atoi(string(idText))
			if err != nil {
				c.sendErr(resp, "bad rank", true)
				return fmt.Errorf("%w: PMI-2 fullinit with rank %q", ErrProtocol, idText)
			}
			if err := c.claim(id); err != nil {
				c.sendErr(resp, "rank refused", true)
				return err
			}
		}
		c.fullInit = true
		c.begin(resp, true).add("rc", "0").add("pmi-version", "2").add("pmi-subversion", "0").
			addInt("rank", c.rank).add("size", s.sizeText).add("appnum", "0").
			add("debugged", "FALSE").add("pmiverbose", "FALSE")
		c.finish()
		s.events.initialised(c.rank, string(PMI2))
		return nil
	}
	if !c.fullInit {
		c.sendErr(resp, "send fullinit first", true)
		return nil
	}
	if c.finalized {
		c.sendErr(resp, "already finalized", true)
		return nil
	}
	switch cmd {
	case "job-getid":
		c.begin(resp, true).add("rc", "0").add("jobid", s.kvsName)
		c.finish()
	case "info-getjobattr":
		key, _ := q.value("key")
		if v, ok := s.jobAttr(key); ok {
			c.begin(resp, true).add("rc", "0").add("found", "TRUE").add("value", v)
		} else {
			c.begin(resp, true).add("rc", "0").add("found", "FALSE")
		}
		c.finish()
	case "info-putnodeattr":
		key, _ := q.value("key")
		if len(key) == 0 {
			c.sendErr(resp, "no key", true)
			return nil
		}
		val := q.str("value")
		waiters, ok := s.putNodeAttr(string(key), val)
		if !ok {
			c.sendErr(resp, "store full", true)
			return fmt.Errorf("%s put more than %d bytes into the node attributes", c.who(), maxStoreBytes)
		}
		c.begin(resp, true).add("rc", "0")
		c.finish()
		for _, w := range waiters {
			w.c.begin("info-getnodeattr-response", w.pmi2).add("rc", "0").add("found", "TRUE").add("value", val)
			w.c.finish()
		}
	case "info-getnodeattr":
		key, _ := q.value("key")
		wait := q.is("wait", "TRUE")
		v, found := s.getNodeAttr(key, c, wait)
		switch {
		case found:
			c.begin(resp, true).add("rc", "0").add("found", "TRUE").add("value", v)
			c.finish()
		case wait:
			// Held until some rank puts the key.
		default:
			c.begin(resp, true).add("rc", "0").add("found", "FALSE")
			c.finish()
		}
	case "kvs-put":
		key, _ := q.value("key")
		if len(key) == 0 {
			c.sendErr(resp, "no key", true)
			return nil
		}
		val, _ := q.value("value")
		if !s.put(key, val) {
			c.sendErr(resp, "store full", true)
			return fmt.Errorf("%s put more than %d bytes into the KVS", c.who(), maxStoreBytes)
		}
		c.begin(resp, true).add("rc", "0")
		c.finish()
	case "kvs-get":
		if j, ok := q.value("jobid"); ok && len(j) != 0 && string(j) != s.kvsName {
			c.sendErr(resp, "unknown jobid "+string(j), true)
			return nil
		}
		key, _ := q.value("key")
		if v, ok := s.get(key); ok {
			c.begin(resp, true).add("rc", "0").add("found", "TRUE").add("value", v)
		} else {
			c.begin(resp, true).add("rc", "0").add("found", "FALSE")
		}
		c.finish()
	case "kvs-fence":
		return s.enterFence(c, true)
	case "finalize":
		c.finalized = true
		s.events.finalized(c.rank)
		c.begin(resp, true).add("rc", "0")
		c.finish()
	case "abort":
		s.events.aborted(c.rank, exitCode(q), q.str("msg"))
	default:
		c.sendErr(resp, "unsupported command "+cmd, true)
	}
	return nil
}

// pmi2Command returns the PMI-2 command as a string without allocating for
// the commands the server knows (the compiler turns the switch on a
// converted byte slice into comparisons); another command is copied.
func pmi2Command(cmd []byte) string {
	switch string(cmd) {
	case "fullinit":
		return "fullinit"
	case "job-getid":
		return "job-getid"
	case "info-getjobattr":
		return "info-getjobattr"
	case "info-putnodeattr":
		return "info-putnodeattr"
	case "info-getnodeattr":
		return "info-getnodeattr"
	case "kvs-put":
		return "kvs-put"
	case "kvs-get":
		return "kvs-get"
	case "kvs-fence":
		return "kvs-fence"
	case "finalize":
		return "finalize"
	case "abort":
		return "abort"
	}
	return string(cmd)
}

func exitCode(q *request) int {
	if v, ok := q.value("exitcode"); ok {
		if n, err := strconv.Atoi(string(v)); err == nil {
			return n
		}
	}
	return 1
}

// checkKVS validates a PMI-1 kvsname and key, returning an error text.
func (s *simpleServer) checkKVS(q *request, key []byte) string {
	kvsName, _ := q.value("kvsname")
	switch {
	case len(kvsName) != 0 && string(kvsName) != s.kvsName:
		return "unknown_kvsname"
	case len(key) == 0:
		return "no_key"
	}
	return ""
}

func (s *simpleServer) put(key, val []byte) bool {
	s.kvsMu.Lock()
	defer s.kvsMu.Unlock()
	old, had := s.kvs[string(key)]
	grow := len(key) + len(val)
	if had {
		grow = len(val) - len(old)
	}
	if s.storeBytes+grow > maxStoreBytes {
		return false
	}
	s.storeBytes += grow
	if had && old == string(val) {
		return true
	}
	s.kvs[string(key)] = string(val)
	return true
}

func (s *simpleServer) get(key []byte) (string, bool) {
	s.kvsMu.RLock()
	v, ok := s.kvs[string(key)]
	s.kvsMu.RUnlock()
	if ok {
		return v, true
	}
	// MPICH's PMI-1 reads job attributes as KVS keys.
	return s.jobAttr(key)
}

// jobAttr answers the job-level attributes: every rank is on this node.
func (s *simpleServer) jobAttr(key []byte) (string, bool) {
	switch string(key) {
	case "PMI_process_mapping":
		return s.processMapping, true
	case "universeSize":
		return s.sizeText, true
	}
	return "", false
}

func (s *simpleServer) putNodeAttr(key, val string) ([]waiter, bool) {
	// storeBytes is kvsMu's, the node attributes are mu's.
	s.kvsMu.Lock()
	defer s.kvsMu.Unlock()
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

func (s *simpleServer) getNodeAttr(key []byte, c *conn, wait bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.nodeAttrs[string(key)]; ok {
		return v, true
	}
	if wait {
		k := string(key)
		s.nodeWaiters[k] = append(s.nodeWaiters[k], waiter{c, true})
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
