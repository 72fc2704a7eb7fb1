package pmi

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

func (m *message) get(key string) (string, bool) {
	for i, k := range m.keys {
		if k == key {
			return m.vals[i], true
		}
	}
	return "", false
}

func (m *message) add(key, val string) *message {
	m.keys = append(m.keys, key)
	m.vals = append(m.vals, val)
	return m
}

// parseLine parses a PMI-1 line without its trailing newline:
// "cmd=NAME key=value key=value". Values run to the next space.
func parseLine(line []byte) (*message, error) {
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return nil, fmt.Errorf("%w: empty PMI-1 line", ErrProtocol)
	}
	m := &message{}
	for _, field := range bytes.Fields(line) {
		k, v, ok := bytes.Cut(field, []byte("="))
		if !ok || len(k) == 0 {
			return nil, fmt.Errorf("%w: PMI-1 field %q is not key=value", ErrProtocol, truncate(field))
		}
		if m.cmd == "" && len(m.keys) == 0 {
			if string(k) != "cmd" && string(k) != "mcmd" {
				return nil, fmt.Errorf("%w: PMI-1 line does not start with cmd=: %q", ErrProtocol, truncate(line))
			}
			if len(v) == 0 {
				return nil, fmt.Errorf("%w: PMI-1 line has an empty cmd", ErrProtocol)
			}
			m.cmd = string(v)
			continue
		}
		m.add(string(k), string(v))
	}
	if m.cmd == "" {
		return nil, fmt.Errorf("%w: PMI-1 line without cmd", ErrProtocol)
	}
	return m, nil
}

// formatLine writes m as a PMI-1 line with its newline. PMI-1 has no
// escaping: a value must not contain a space or newline, so the server only
// ever sends values it made itself or that came in as one PMI-1 field.
func formatLine(m *message) []byte {
	var b bytes.Buffer
	b.WriteString("cmd=")
	b.WriteString(m.cmd)
	for i, k := range m.keys {
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m.vals[i])
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// parseFrameLength parses PMI-2's 6-character length field: a decimal
// number padded with spaces on either side.
func parseFrameLength(field []byte) (int, error) {
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

// parseFrame parses the body of a PMI-2 frame (after the length field):
// "cmd=NAME;key=value;...;" where ";;" is a literal semicolon.
func parseFrame(body []byte) (*message, error) {
	m := &message{}
	var key string
	var cur []byte
	inKey := true
	first := true
	flush := func() error {
		if inKey {
			if len(cur) == 0 {
				return nil // tolerate an empty segment
			}
			return fmt.Errorf("%w: PMI-2 segment %q has no '='", ErrProtocol, truncate(cur))
		}
		if first {
			if key != "cmd" {
				return fmt.Errorf("%w: PMI-2 message does not start with cmd=", ErrProtocol)
			}
			if len(cur) == 0 {
				return fmt.Errorf("%w: PMI-2 message has an empty cmd", ErrProtocol)
			}
			m.cmd = string(cur)
			first = false
		} else {
			m.add(key, string(cur))
		}
		cur = cur[:0]
		inKey = true
		return nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == ';' && i+1 < len(body) && body[i+1] == ';' && !inKey:
			cur = append(cur, ';')
			i++
		case c == ';':
			if err := flush(); err != nil {
				return nil, err
			}
		case c == '=' && inKey:
			if len(cur) == 0 {
				return nil, fmt.Errorf("%w: PMI-2 message has an empty key", ErrProtocol)
			}
			key = string(cur)
			cur = cur[:0]
			inKey = false
		default:
			cur = append(cur, c)
		}
	}
	if !inKey || len(cur) > 0 {
		// The last pair lacks its ';'. Slurm's client always ends with
		// one; accept its absence as other clients may not.
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if m.cmd == "" {
		return nil, fmt.Errorf("%w: PMI-2 message without cmd", ErrProtocol)
	}
	return m, nil
}

// formatFrame writes m as a PMI-2 frame: the length field, then the body
// with every ';' in a value doubled.
func formatFrame(m *message) []byte {
	var body bytes.Buffer
	body.WriteString("cmd=")
	body.WriteString(strings.ReplaceAll(m.cmd, ";", ";;"))
	body.WriteByte(';')
	for i, k := range m.keys {
		body.WriteString(k)
		body.WriteByte('=')
		body.WriteString(strings.ReplaceAll(m.vals[i], ";", ";;"))
		body.WriteByte(';')
	}
	out := make([]byte, 0, pmi2LengthField+body.Len())
	out = fmt.Appendf(out, "%-6d", body.Len())
	return append(out, body.Bytes()...)
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
