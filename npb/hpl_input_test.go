package npb

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestGrid(t *testing.T) {
	for _, tc := range []struct{ ranks, p, q int }{
		{1, 1, 1}, {2, 1, 2}, {3, 1, 3}, {4, 2, 2}, {6, 2, 3}, {8, 2, 4}, {9, 3, 3}, {12, 3, 4}, {16, 4, 4}, {7, 1, 7},
	} {
		p, q := Grid(tc.ranks)
		if p != tc.p || q != tc.q {
			t.Errorf("Grid(%d) = %dx%d, want %dx%d", tc.ranks, p, q, tc.p, tc.q)
		}
	}
}

func TestNFromMemory(t *testing.T) {
	// 8 N^2 <= 0.5 * 1 GiB  ->  N <= 8192
	if n := NFromMemory(1<<30, 0.5, 128); n != 8192 {
		t.Errorf("NFromMemory(1GiB, 0.5, 128) = %d, want 8192", n)
	}
	if n := NFromMemory(1<<30, 0.3, 100); n%100 != 0 || 8*n*n > (1<<30)*3/10 {
		t.Errorf("NFromMemory(1GiB, 0.3, 100) = %d: not a multiple of NB or too large", n)
	}
	if n := NFromMemory(10, 0.1, 64); n != 64 {
		t.Errorf("tiny memory gives N = %d, want one block (64)", n)
	}
}

func TestValidate(t *testing.T) {
	if err := (HPLInput{N: 1000, NB: 100, P: 1, Q: 2}).Validate(2); err != nil {
		t.Errorf("valid input rejected: %v", err)
	}
	if err := (HPLInput{N: 1000, NB: 100, P: 2, Q: 2}).Validate(2); err == nil || !strings.Contains(err.Error(), "2 x 2 needs 4 ranks") {
		t.Errorf("grid mismatch: got %v", err)
	}
	if err := (HPLInput{N: 0, NB: 100, P: 1, Q: 1}).Validate(1); err == nil {
		t.Error("N = 0 accepted")
	}
}

// HPL reads its input by line number: the value is the first field of each
// line. Check the lines it reads hold what we asked for.
func TestWriteHPCCInfLayout(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHPCCInf(&b, HPLInput{N: 2000, NB: 128, P: 1, Q: 2}); err != nil {
		t.Fatal(err)
	}
	var first []string
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			t.Fatalf("empty line %d", len(first)+1)
		}
		first = append(first, f[0])
	}
	want := map[int]string{5: "1", 6: "2000", 7: "1", 8: "128", 10: "1", 11: "1", 12: "2", 13: "16.0", 31: "8", 33: "0", 34: "2000", 35: "0", 36: "128"}
	for line, v := range want {
		if first[line-1] != v {
			t.Errorf("line %d starts with %q, want %q", line, first[line-1], v)
		}
	}
	if len(first) != 36 {
		t.Errorf("hpccinf.txt has %d lines, want 36", len(first))
	}
	if !strings.HasPrefix(first[31], "#####") {
		t.Errorf("line 32 should be the separator, got %q", first[31])
	}
}
