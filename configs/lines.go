package configs

import (
	"strconv"
	"strings"
)

// lineIndex knows on which line each key of a TOML document is defined.
// BurntSushi/toml reports positions only for syntax errors, and names keys
// inside arrays of tables without their index ("benchmark.classes"), so
// validation finds lines itself with this small scanner. It understands
// what matters for locating keys: table and array-of-table headers, bare,
// quoted and dotted keys, comments, and values that span lines
// (multi-line arrays, inline tables, multi-line strings).
type lineIndex struct {
	// line maps an indexed key ("benchmark[2].classes", "study") to the
	// line it is defined on.
	line map[string]int
	// order keeps the keys in file order.
	order []string
}

// lineOf returns the line of an indexed key, else of its closest parent
// that has one; 0 when none.
func (li *lineIndex) lineOf(key string) int {
	if li == nil {
		return 0
	}
	for key != "" {
		if n, ok := li.line[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// lookup returns every indexed key whose index-free form is plain, with
// its line, in file order ("benchmark.foo" -> benchmark[0].foo at 9,
// benchmark[3].foo at 31).
func (li *lineIndex) lookup(plain string) []string {
	if li == nil {
		return nil
	}
	var out []string
	for _, k := range li.order {
		if stripIndexes(k) == plain {
			out = append(out, k)
		}
	}
	return out
}

// indexed returns the indexed form of plain key defined on line, or plain.
func (li *lineIndex) indexed(plain string, line int) string {
	for _, k := range li.lookup(plain) {
		if li.line[k] == line {
			return k
		}
	}
	if ks := li.lookup(plain); len(ks) == 1 {
		return ks[0]
	}
	return plain
}

func stripIndexes(k string) string {
	var b strings.Builder
	depth := 0
	for _, r := range k {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// scanLines indexes the keys of a TOML document. It assumes the document
// parses; on one that does not it still returns what it found.
func scanLines(data []byte) *lineIndex {
	li := &lineIndex{line: map[string]int{}}
	record := func(key string, n int) {
		if _, ok := li.line[key]; !ok {
			li.line[key] = n
			li.order = append(li.order, key)
		}
	}
	arrayCount := map[string]int{} // indexed parent path + name -> entries so far
	prefix := ""
	var st valueState
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		if st.open() {
			st.scan(raw)
			continue
		}
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "[["):
			end := strings.Index(line, "]]")
			if end < 0 {
				continue
			}
			parent, last := resolveHeader(splitKey(line[2:end]), arrayCount)
			path := joinKey(parent, last)
			idx := arrayCount[path]
			arrayCount[path] = idx + 1
			prefix = path + "[" + strconv.Itoa(idx) + "]"
			record(prefix, n)
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				continue
			}
			parent, last := resolveHeader(splitKey(line[1:end]), arrayCount)
			prefix = joinKey(parent, last)
			record(prefix, n)
		default:
			eq := keyEnd(line)
			if eq < 0 {
				continue
			}
			parts := splitKey(line[:eq])
			for j := range parts {
				record(joinKey(prefix, strings.Join(parts[:j+1], ".")), n)
			}
			st.scan(line[eq+1:])
		}
	}
	return li
}

// resolveHeader turns a header's key parts into the indexed path of its
// parent and its own name: in [benchmark.hpl] after two [[benchmark]]
// entries the parent is benchmark[1].
func resolveHeader(parts []string, arrayCount map[string]int) (parent, last string) {
	if len(parts) == 0 {
		return "", ""
	}
	for _, p := range parts[:len(parts)-1] {
		parent = joinKey(parent, p)
		if c := arrayCount[parent]; c > 0 {
			parent += "[" + strconv.Itoa(c-1) + "]"
		}
	}
	return parent, parts[len(parts)-1]
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// keyEnd returns the index of the '=' that ends the key of a key/value
// line, skipping quoted parts; -1 if there is none.
func keyEnd(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		case c == '#':
			return -1
		}
	}
	return -1
}

// splitKey splits a (possibly dotted, possibly quoted) key into its parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// valueState follows a value across lines: open brackets of arrays and
// inline tables, and multi-line strings.
type valueState struct {
	depth int
	multi string // `"""` or `'''` while inside a multi-line string
}

func (st *valueState) open() bool { return st.depth > 0 || st.multi != "" }

func (st *valueState) scan(s string) {
	for i := 0; i < len(s); i++ {
		if st.multi != "" {
			if strings.HasPrefix(s[i:], st.multi) {
				i += 2
				st.multi = ""
			} else if s[i] == '\\' && st.multi == `"""` {
				i++
			}
			continue
		}
		c := s[i]
		switch c {
		case '#':
			return
		case '[', '{':
			st.depth++
		case ']', '}':
			if st.depth > 0 {
				st.depth--
			}
		case '"', '\'':
			q := string([]byte{c, c, c})
			if strings.HasPrefix(s[i:], q) {
				st.multi = q
				i += 2
				continue
			}
			// A one-line string: skip to its closing quote.
			for i++; i < len(s) && s[i] != c; i++ {
				if s[i] == '\\' && c == '"' {
					i++
				}
			}
		}
	}
}
