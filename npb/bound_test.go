package npb

import (
	"errors"
	"strings"
	"testing"
)

// endless is an endless output that counts what was read of it.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestParseReadsAtMostMaxOutputSize: every parser stops reading an
// endless output just past MaxOutputSize and says why.
func TestParseReadsAtMostMaxOutputSize(t *testing.T) {
	for name, parse := range map[string]func(*endless) ([]Result, error){
		"ParseOutput": func(e *endless) ([]Result, error) { return ParseOutput(e, 0) },
		"ParseNPB":    func(e *endless) ([]Result, error) { return ParseNPB(e, 0) },
		"ParseHPL":    func(e *endless) ([]Result, error) { return ParseHPL(e, 0) },
		"ParseHPCC":   func(e *endless) ([]Result, error) { return ParseHPCC(e, 0) },
	} {
		e := &endless{}
		_, err := parse(e)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "32 MiB") {
			t.Errorf("%s: err = %v, want ErrTooLarge", name, err)
		}
		if e.read > MaxOutputSize+1<<20 {
			t.Errorf("%s read %d bytes, want at most about %d", name, e.read, MaxOutputSize)
		}
	}
}
