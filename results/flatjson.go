package results

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The JSON columns of a run (metrics, negotiated PMIs, exit codes, peak
// RSS, choices, environment, command line) are flat: an array or an
// object of plain scalars, as encodeRun wrote them. Reading 100,000 runs
// decoded 700,000 of them through encoding/json's reflection; the decoders
// here read the flat forms directly and hand anything else (an escape in
// a string, a nested value) to encoding/json, with the same result.

// flatValue is a scalar of a flat JSON array or object.
type flatValue struct {
	kind byte // 's' string, 'n' number, 't' true, 'f' false, '0' null
	text string
}

// parseFlat reads s as a flat JSON array (open '[') or object (open '{')
// of scalars whose strings hold no escape; ok is false for anything else.
// keys are nil for an array.
func parseFlat(s string, open byte) (keys []string, vals []flatValue, ok bool) {
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	if len(s) < 2 || s[0] != open || s[len(s)-1] != closer {
		return nil, nil, false
	}
	if strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) {
		return nil, nil, false
	}
	i := 1
	if s[i] == closer && i == len(s)-1 {
		return nil, nil, true
	}
	str := func() (string, bool) {
		if i >= len(s) || s[i] != '"' {
			return "", false
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 {
			return "", false
		}
		v := s[i+1 : i+1+end]
		for j := 0; j < len(v); j++ {
			if v[j] < 0x20 {
				return "", false
			}
		}
		i += end + 2
		return v, true
	}
	for {
		if open == '{' {
			k, ok := str()
			if !ok || i >= len(s) || s[i] != ':' {
				return nil, nil, false
			}
			i++
			keys = append(keys, k)
		}
		if i >= len(s) {
			return nil, nil, false
		}
		var v flatValue
		switch c := s[i]; {
		case c == '"':
			t, ok := str()
			if !ok {
				return nil, nil, false
			}
			v = flatValue{'s', t}
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(s) && strings.IndexByte("0123456789+-.eE", s[j]) >= 0 {
				j++
			}
			v = flatValue{'n', s[i:j]}
			i = j
		case strings.HasPrefix(s[i:], "true"):
			v, i = flatValue{'t', ""}, i+4
		case strings.HasPrefix(s[i:], "false"):
			v, i = flatValue{'f', ""}, i+5
		case strings.HasPrefix(s[i:], "null"):
			v, i = flatValue{'0', ""}, i+4
		default:
			return nil, nil, false
		}
		vals = append(vals, v)
		if i >= len(s) {
			return nil, nil, false
		}
		switch s[i] {
		case ',':
			i++
		case closer:
			return keys, vals, i == len(s)-1
		default:
			return nil, nil, false
		}
	}
}

// decodeStrings decodes a JSON array of strings into *dst.
func decodeStrings(s string, dst *[]string) error {
	if _, vals, ok := parseFlat(s, '['); ok {
		out := make([]string, len(vals))
		for i, v := range vals {
			if v.kind != 's' {
				return json.Unmarshal([]byte(s), dst)
			}
			out[i] = v.text
		}
		*dst = out
		return nil
	}
	return json.Unmarshal([]byte(s), dst)
}

// decodeInts decodes a JSON array of integers into *dst.
func decodeInts[T int | int64](s string, dst *[]T) error {
	if _, vals, ok := parseFlat(s, '['); ok {
		out := make([]T, len(vals))
		for i, v := range vals {
			n, err := strconv.ParseInt(v.text, 10, 64)
			if v.kind != 'n' || err != nil || !jsonNumber(v.text) || int64(T(n)) != n {
				return json.Unmarshal([]byte(s), dst)
			}
			out[i] = T(n)
		}
		*dst = out
		return nil
	}
	return json.Unmarshal([]byte(s), dst)
}

// decodeStringMap decodes a JSON object of strings into *dst.
func decodeStringMap(s string, dst *map[string]string) error {
	if keys, vals, ok := parseFlat(s, '{'); ok {
		out := make(map[string]string, len(vals))
		for i, v := range vals {
			if v.kind != 's' {
				return json.Unmarshal([]byte(s), dst)
			}
			out[keys[i]] = v.text
		}
		*dst = out
		return nil
	}
	return json.Unmarshal([]byte(s), dst)
}

// decodeAnyMap decodes a JSON object into *dst as encoding/json does
// (numbers as float64).
func decodeAnyMap(s string, dst *map[string]any) error {
	if keys, vals, ok := parseFlat(s, '{'); ok {
		out := make(map[string]any, len(vals))
		for i, v := range vals {
			switch v.kind {
			case 's':
				out[keys[i]] = v.text
			case 'n':
				f, err := strconv.ParseFloat(v.text, 64)
				if err != nil || !jsonNumber(v.text) {
					return json.Unmarshal([]byte(s), dst)
				}
				out[keys[i]] = f
			case 't', 'f':
				out[keys[i]] = v.kind == 't'
			default:
				out[keys[i]] = nil
			}
		}
		*dst = out
		return nil
	}
	return json.Unmarshal([]byte(s), dst)
}

// jsonNumber reports whether s is a number as JSON writes one:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func jsonNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
