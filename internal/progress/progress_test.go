package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLinesOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	ok, bad := 0, 0
	r := New(&buf, 100, "run", func() (int, int) { return ok, bad })
	if r.bar != nil {
		t.Fatal("a buffer is not a terminal, yet a bar was drawn")
	}
	clock := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return clock }
	r.start = clock
	for i := 1; i <= 100; i++ {
		clock = clock.Add(time.Second)
		if i == 37 {
			bad++
		} else {
			ok++
		}
		r.Add(1)
		r.Clear()
	}
	r.Finish()
	out := buf.String()
	if strings.ContainsRune(out, '\r') {
		t.Errorf("carriage return in the lines:\n%q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The first run, one every 10 s, and the last: 12 lines for 100 s.
	if len(lines) < 3 || len(lines) > 12 {
		t.Errorf("%d lines for 100 one-second runs:\n%s", len(lines), out)
	}
	if lines[0] != "run 1/100, 1 ok, 0 failed, ETA 1m39s" {
		t.Errorf("first line %q", lines[0])
	}
	if last := lines[len(lines)-1]; last != "run 100/100, 99 ok, 1 failed, took 1m40s" {
		t.Errorf("last line %q", last)
	}
}

func TestSilentWithoutWriter(t *testing.T) {
	r := New(nil, 10, "run", nil)
	r.Add(1)
	r.Clear()
	r.Finish()
}
