package pmi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Limits of the simple wire protocol as served here. They bound what one
// client can make the server hold, and are what get_maxes announces.
const (
	kvsNameMax = 256
	keyLenMax  = 64
	valLenMax  = 1024
	// maxMessage bounds one PMI-1 line or PMI-2 frame. PMI-2's length field
	// allows 999,999 bytes; no client needs more than a few KiB.
	maxMessage = 64 << 10
	// pmi2LengthField is the width of PMI-2's decimal length prefix.
	pmi2LengthField = 6
)

// ErrProtocol marks a message that breaks the simple wire protocol's
// framing or grammar; the server closes that connection and fails the job.
var ErrProtocol = errors.New("PMI protocol error")

// message is one parsed PMI-1 line or PMI-2 frame: a command and its
// key=value pairs, in the order they came. Keys repeat rarely (PMI-2 spawn
// does); lookups take the first.
type message struct {
	cmd  string
	keys []string
	vals []string
}

func (m *message) add(key, val string) *message {
	m.keys = append(m.keys, key)
	m.vals = append(m.vals, val)
	return m
}

// request is one parsed PMI-1 line or PMI-2 frame whose command, keys and
// values are views into the bytes it was parsed from (the connection's read
// buffer): valid until the next message is read. The server parses every
// request into one reused request, so a request costs no allocation; what
// it keeps (a put's key and value, an abort's message) it copies.
type request struct {
	cmd  []byte
	keys [][]byte
	vals [][]byte
}

func (q *request) reset() {
	q.cmd = nil
	q.keys = q.keys[:0]
	q.vals = q.vals[:0]
}

func (q *request) value(key string) ([]byte, bool) {
	for i, k := range q.keys {
		if string(k) == key {
			return q.vals[i], true
		}
	}
	return nil, false
}

// str returns key's value as a new string ("" when absent).
func (q *request) str(key string) string {
	v, _ := q.value(key)
	return string(v)
}

func (q *request) is(key, want string) bool {
	v, ok := q.value(key)
	return ok && string(v) == want
}

// message converts q into strings it owns.
func (q *request) message() *message {
	m := &message{cmd: string(q.cmd)}
	for i, k := range q.keys {
		m.add(string(k), string(q.vals[i]))
	}
	return m
}

// parseLine parses a PMI-1 line without its trailing newline:
// "cmd=NAME key=value key=value". Values run to the next space.
func parseLine(line []byte) (*message, error) {
	var q request
	if err := parseLineInto(&q, line); err != nil {
		return nil, err
	}
	return q.message(), nil
}

// parseLineInto parses a PMI-1 line into q, whose fields then point into
// line.
func parseLineInto(q *request, line []byte) error {
	q.reset()
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return fmt.Errorf("%w: empty PMI-1 line", ErrProtocol)
	}
	for field := range bytes.FieldsSeq(line) {
		k, v, ok := bytes.Cut(field, []byte("="))
		if !ok || len(k) == 0 {
			return fmt.Errorf("%w: PMI-1 field %q is not key=value", ErrProtocol, truncate(field))
		}
		if q.cmd == nil && len(q.keys) == 0 {
			if string(k) != "cmd" && string(k) != "mcmd" {
				return fmt.Errorf("%w: PMI-1 line does not start with cmd=: %q", ErrProtocol, truncate(line))
			}
			if len(v) == 0 {
				return fmt.Errorf("%w: PMI-1 line has an empty cmd", ErrProtocol)
			}
			q.cmd = v
			continue
		}
		q.keys = append(q.keys, k)
		q.vals = append(q.vals, v)
	}
	if q.cmd == nil {
		return fmt.Errorf("%w: PMI-1 line without cmd", ErrProtocol)
	}
	return nil
}

// formatLine writes m as a PMI-1 line with its newline. PMI-1 has no
// escaping: a value must not contain a space or newline, so the server only
// ever sends values it made itself or that came in as one PMI-1 field.
func formatLine(m *message) []byte {
	var b replyBuf
	b.begin(m.cmd, false)
	for i, k := range m.keys {
		b.add(k, m.vals[i])
	}
	return b.end()
}

// parseFrameLength parses PMI-2's 6-character length field: a decimal
// number padded with spaces on either side.
func parseFrameLength(field []byte) (int, error) {
	if n, ok := frameLengthFast(field); ok {
		return n, nil
	}
	s := strings.TrimSpace(string(field))
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%w: PMI-2 length field %q is not a positive number", ErrProtocol, field)
	}
	if n > maxMessage {
		return 0, fmt.Errorf("%w: PMI-2 message of %d bytes exceeds the limit of %d", ErrProtocol, n, maxMessage)
	}
	return n, nil
}

// frameLengthFast reads the usual length field, spaces, digits, spaces,
// without allocating; anything else (and every error) takes the general
// path.
func frameLengthFast(field []byte) (int, bool) {
	i := 0
	for i < len(field) && field[i] == ' ' {
		i++
	}
	n, digits := 0, 0
	for ; i < len(field) && field[i] >= '0' && field[i] <= '9'; i++ {
		n = n*10 + int(field[i]-'0')
		digits++
	}
	for ; i < len(field); i++ {
		if field[i] != ' ' {
			return 0, false
		}
	}
	if digits == 0 || digits > 7 || n <= 0 || n > maxMessage {
		return 0, false
	}
	return n, true
}

// parseFrame parses the body of a PMI-2 frame (after the length field):
// "cmd=NAME;key=value;...;" where ";;" is a literal semicolon.
func parseFrame(body []byte) (*message, error) {
	var q request
	if err := parseFrameInto(&q, bytes.Clone(body)); err != nil {
		return nil, err
	}
	return q.message(), nil
}

// parseFrameInto parses a PMI-2 frame body into q, whose fields then point
// into body. It unescapes ";;" in place, so it overwrites body: the bytes
// are written at or before where they were read.
func parseFrameInto(q *request, body []byte) error {
	q.reset()
	var key []byte
	start, wp := 0, 0 // the current segment is body[start:wp]
	inKey := true
	first := true
	flush := func() error {
		cur := body[start:wp]
		if inKey {
			if len(cur) == 0 {
				return nil // tolerate an empty segment
			}
			return fmt.Errorf("%w: PMI-2 segment %q has no '='", ErrProtocol, truncate(cur))
		}
		if first {
			if string(key) != "cmd" {
				return fmt.Errorf("%w: PMI-2 message does not start with cmd=", ErrProtocol)
			}
			if len(cur) == 0 {
				return fmt.Errorf("%w: PMI-2 message has an empty cmd", ErrProtocol)
			}
			q.cmd = cur
			first = false
		} else {
			q.keys = append(q.keys, key)
			q.vals = append(q.vals, cur)
		}
		start = wp
		inKey = true
		return nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == ';' && i+1 < len(body) && body[i+1] == ';' && !inKey:
			body[wp] = ';'
			wp++
			i++
		case c == ';':
			if err := flush(); err != nil {
				return err
			}
		case c == '=' && inKey:
			if wp == start {
				return fmt.Errorf("%w: PMI-2 message has an empty key", ErrProtocol)
			}
			key = body[start:wp]
			start = wp
			inKey = false
		default:
			body[wp] = c
			wp++
		}
	}
	if !inKey || wp > start {
		// The last pair lacks its ';'. Slurm's client always ends with
		// one; accept its absence as other clients may not.
		if err := flush(); err != nil {
			return err
		}
	}
	if q.cmd == nil {
		return fmt.Errorf("%w: PMI-2 message without cmd", ErrProtocol)
	}
	return nil
}

// formatFrame writes m as a PMI-2 frame: the length field, then the body
// with every ';' in a value doubled.
func formatFrame(m *message) []byte {
	var b replyBuf
	b.begin(m.cmd, true)
	for i, k := range m.keys {
		b.add(k, m.vals[i])
	}
	return b.end()
}

// replyBuf builds one PMI-1 line or PMI-2 frame in a buffer that is reused
// from reply to reply:
//
//	b.begin("kvs-get-response", true).add("rc", "0").add("value", v)
//	write(b.end())
type replyBuf struct {
	b    []byte
	pmi2 bool
}

func (r *replyBuf) begin(cmd string, pmi2 bool) *replyBuf {
	r.pmi2 = pmi2
	r.b = r.b[:0]
	if pmi2 {
		r.b = append(r.b, "      cmd="...)
		r.b = appendEscaped(r.b, cmd)
		r.b = append(r.b, ';')
		return r
	}
	r.b = append(r.b, "cmd="...)
	r.b = append(r.b, cmd...)
	return r
}

func (r *replyBuf) add(key, val string) *replyBuf {
	if r.pmi2 {
		r.b = append(r.b, key...)
		r.b = append(r.b, '=')
		r.b = appendEscaped(r.b, val)
		r.b = append(r.b, ';')
		return r
	}
	r.b = append(r.b, ' ')
	r.b = append(r.b, key...)
	r.b = append(r.b, '=')
	r.b = append(r.b, val...)
	return r
}

func (r *replyBuf) addInt(key string, val int) *replyBuf {
	var digits [20]byte
	return r.add(key, string(strconv.AppendInt(digits[:0], int64(val), 10)))
}

// end finishes the message (PMI-2: fills in the length field; PMI-1: adds
// the newline) and returns it; it stays valid until the next begin.
func (r *replyBuf) end() []byte {
	if !r.pmi2 {
		r.b = append(r.b, '\n')
		return r.b
	}
	n := len(r.b) - pmi2LengthField
	if n < 1000000 {
		var digits [20]byte
		d := strconv.AppendInt(digits[:0], int64(n), 10)
		copy(r.b, d)
		return r.b
	}
	// A body too long for the field (the fuzz round trip can build one; the
	// server never sends one): the length still leads, unpadded.
	out := fmt.Appendf(nil, "%-6d", n)
	return append(out, r.b[pmi2LengthField:]...)
}

func appendEscaped(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, ';')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i+1]...)
		b = append(b, ';')
		s = s[i+1:]
	}
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// msgReader reads PMI-1 lines and PMI-2 frames from one connection into a
// buffer it owns and hands them out without copying. It tells the framings
// apart per message: a PMI-1 line starts with "cmd=" or "mcmd=", a PMI-2
// frame with its length field.
//
// (Skipping the read that finds nothing, EAGAIN, before each wait would
// save a system call per request, but the runtime clears a pending
// readiness event at the start of every read of a net.Conn, raw or not,
// so a request that came in the meantime would never be seen.)
type msgReader struct {
	nc net.Conn
	// fd is the raw, non-blocking descriptor read instead of nc where nc
	// is nil (a connection of the fd loop).
	fd   int
	buf  []byte
	r, w int // unread bytes are buf[r:w]
	// bufMax is what buf may grow to: readBufMax for a rank, less for a
	// TCP connection that has not named its rank yet (identifyBufMax).
	bufMax int
}

// Reads start with a small buffer, grown up to the largest message.
const (
	readBufStart = 512
	readBufMax   = pmi2LengthField + maxMessage
)

func newMsgReader(nc net.Conn, size int) *msgReader {
	return &msgReader{nc: nc, buf: make([]byte, size), bufMax: readBufMax}
}

// next returns the next message: a PMI-1 line without its newline
// (pmi2 false) or a PMI-2 frame body (pmi2 true). The bytes stay valid
// until the next call. A message longer than maxMessage, a broken length
// field, a connection closed inside a message and bytes that start neither
// framing are errors wrapping ErrProtocol; a connection closed between
// messages is io.EOF.
func (mr *msgReader) next() (msg []byte, pmi2 bool, err error) {
	for {
		msg, pmi2, ok, err := mr.buffered()
		if err != nil || ok {
			return msg, pmi2, err
		}
		if err := mr.fill(); err != nil {
			return nil, false, mr.endErr(err)
		}
	}
}

// buffered returns the next whole message already in the buffer, as next
// does, without reading: ok is false when the buffer holds none yet.
func (mr *msgReader) buffered() (msg []byte, pmi2, ok bool, err error) {
	avail := mr.buf[mr.r:mr.w]
	if len(avail) == 0 {
		return nil, false, false, nil
	}
	switch first := avail[0]; first {
	case 'c', 'm':
		if i := bytes.IndexByte(avail, '\n'); i >= 0 {
			if i+1 > maxMessage {
				return nil, false, false, fmt.Errorf("%w: PMI-1 line longer than %d bytes", ErrProtocol, maxMessage)
			}
			mr.r += i + 1
			return avail[:i], false, true, nil
		}
		if len(avail) >= maxMessage {
			return nil, false, false, fmt.Errorf("%w: PMI-1 line longer than %d bytes", ErrProtocol, maxMessage)
		}
	case ' ', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if len(avail) >= pmi2LengthField {
			n, err := parseFrameLength(avail[:pmi2LengthField])
			if err != nil {
				return nil, false, false, err
			}
			if len(avail) >= pmi2LengthField+n {
				mr.r += pmi2LengthField + n
				return avail[pmi2LengthField : pmi2LengthField+n], true, true, nil
			}
		}
	default:
		return nil, false, false, fmt.Errorf("%w: message starts with byte %#02x, neither a PMI-1 line nor a PMI-2 length field", ErrProtocol, first)
	}
	return nil, false, false, nil
}

// endErr turns the error that ended reading into what next returns: a
// connection closed inside a message is a protocol error.
func (mr *msgReader) endErr(err error) error {
	if errors.Is(err, io.EOF) && mr.r < mr.w {
		if c := mr.buf[mr.r]; c == 'c' || c == 'm' {
			return fmt.Errorf("%w: connection closed inside a PMI-1 line", ErrProtocol)
		}
		return fmt.Errorf("%w: connection closed inside a PMI-2 message", ErrProtocol)
	}
	return err
}

// fill reads more bytes after the unread ones, moving them to the front
// and growing the buffer as needed.
func (mr *msgReader) fill() error {
	if mr.r > 0 {
		mr.w = copy(mr.buf, mr.buf[mr.r:mr.w])
		mr.r = 0
	}
	if mr.w == len(mr.buf) {
		if len(mr.buf) >= mr.bufMax {
			// With the full bound, next refuses a message this long
			// before asking for more; a lower bound ends here.
			return fmt.Errorf("%w: message longer than %d bytes", ErrProtocol, mr.bufMax-pmi2LengthField)
		}
		grown := make([]byte, min(2*len(mr.buf), mr.bufMax))
		copy(grown, mr.buf[:mr.w])
		mr.buf = grown
	}
	n, err := mr.read(mr.buf[mr.w:])
	if n > 0 {
		mr.w += n
		return nil
	}
	if err != nil {
		return err
	}
	return io.EOF
}

// read reads from the connection: through its net.Conn, or for a
// connection of the fd loop (loop.go) with one non-blocking read(2) of its
// raw descriptor, which returns unix.EAGAIN when nothing is there.
func (mr *msgReader) read(p []byte) (int, error) {
	if mr.nc != nil {
		return mr.nc.Read(p)
	}
	for {
		n, err := unix.Read(mr.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// drain reads and drops what the client has already sent, up to one more
// largest message and for a moment at most, before the server closes the
// connection after a protocol error: closing with unread bytes makes the
// kernel reset the connection, and the client could lose the error reply.
func (mr *msgReader) drain() {
	if mr.nc == nil {
		// A socketpair has nothing in flight: what the client sent
		// is in the socket's buffer already.
		for total := 0; total < readBufMax; {
			n, err := mr.read(mr.buf)
			total += n
			if err != nil {
				return
			}
		}
		return
	}
	mr.nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	for total := 0; total < readBufMax; {
		n, err := mr.nc.Read(mr.buf)
		total += n
		if err != nil {
			return
		}
	}
}

// frameSlack returns how many bytes at the end of a PMI-2 client's frames
// are not part of its messages, judged from its first frame: 0 for
// clients whose length field counts the message (Slurm's libpmi2), or
// pmi2LengthField for MPICH 4.0.2's own client (--with-pmi=pmi2/simple),
// whose length field counts the 6 bytes of the field itself, so that 6
// bytes follow each message: NULs in its first frames, stale bytes of its
// buffer later. Its messages end with ';'; so does its first frame 6
// bytes before the end, with at least one NUL after it.
func frameSlack(first []byte) int {
	n := len(first)
	if n <= pmi2LengthField || first[n-1] == ';' || first[n-1-pmi2LengthField] != ';' {
		return 0
	}
	if bytes.IndexByte(first[n-pmi2LengthField:], 0) < 0 {
		return 0
	}
	return pmi2LengthField
}
