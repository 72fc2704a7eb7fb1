package configs

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Sentinels the errors of Load and Parse wrap.
var (
	ErrSyntax     = errors.New("TOML syntax error")
	ErrUnknownKey = errors.New("unknown key")
	ErrInvalid    = errors.New("invalid value")
	ErrMissing    = errors.New("missing key")
)

// Error is one problem in a config file: where it is and what is wrong.
type Error struct {
	File string // the config's path, or a name for one given as text
	Line int    // 1-based; 0 when unknown
	// Key is the dotted key with array-of-table indexes, counted from 0 in
	// file order: "study.timeout", "benchmark[2].classes", "runtime[0]".
	Key string
	Msg string
	Err error // ErrSyntax, ErrUnknownKey, ErrInvalid or ErrMissing
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errors are all the problems found in one config, ordered by line.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is and errors.As see each Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		li, lj := es[i].Line, es[j].Line
		if li == 0 {
			li = 1 << 30
		}
		if lj == 0 {
			lj = 1 << 30
		}
		return li < lj
	})
	return es
}

// typeErrRe matches the position BurntSushi/toml puts in the text of a
// type mismatch, which is not a ParseError: `toml: line 7 (last key "x"): ...`.
var typeErrRe = regexp.MustCompile(`^toml: (?:line (\d+) )?(?:\(last key "([^"]*)"\): )?(.*)$`)

// decodeError turns an error of toml.Decode into an *Error that keeps the
// position BurntSushi/toml found. syntax says whether the text failed to
// parse at all, rather than a value failing to decode into the schema.
func decodeError(file string, err error, lines *lineIndex, syntax bool) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e := &Error{File: file, Line: pe.Position.Line, Key: lines.indexed(pe.LastKey, pe.Position.Line), Msg: pe.Message, Err: ErrInvalid}
		if syntax {
			e.Err = ErrSyntax
		}
		return e
	}
	if m := typeErrRe.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg := strings.Replace(m[3], "incompatible types: ", "wrong type: ", 1)
		return &Error{File: file, Line: line, Key: lines.indexed(m[2], line), Msg: msg, Err: ErrInvalid}
	}
	return &Error{File: file, Msg: err.Error(), Err: ErrSyntax}
}
