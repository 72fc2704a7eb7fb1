package npb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFailurePhrases: each phrase with which NPB or HPL refuses to run
// (npbFailureRe, hplErrorRe) has a constructed output in testdata, and
// the parse of each is one invalid result without a summary whose reason
// quotes the program's complaint.
func TestFailurePhrases(t *testing.T) {
	for _, tc := range []struct {
		file, phrase string
		ranks        int
	}{
		{"constructed-npb3.4-ft.S.3.txt", "Will not verify", 3},
		{"constructed-npb3.4-lu.S.3.txt", "ERROR: could not determine proper proc_grid", 3},
		{"constructed-npb3.4-is.S.3-compiled-for-4.txt", "*** ERROR: compiled for 4 processes", 3},
		{"constructed-npb3.3-cg.S.3-expecting.txt", "Expecting a power-of-two number of processes", 3},
		{"constructed-npb3.4-mg.S.6-not-power-of-two.txt", "is not a power of two", 6},
		{"constructed-npb3.4-mg.A.64-too-big.txt", "Problem size too big", 64},
		{"constructed-npb3.3-bt.S.2-square.txt", "must be a square number", 2},
		{"constructed-npb3.4-ep.S.2048-too-many.txt", "Too many processes", 2048},
		{"constructed-hpl2.3-need-more.txt", "Need at least 4 processes", 2},
		{"constructed-hpl2.3-bad-grid.txt", "Illegal input in file HPL.dat", 4},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rs, err := ParseOutput(f, tc.ranks)
			if tc.file == "constructed-npb3.4-ft.S.3.txt" {
				// FT says so and still prints its summary: a result,
				// invalid for that reason.
				if err != nil {
					t.Fatalf("ParseOutput: %v", err)
				}
			} else if !errors.Is(err, ErrNoSummary) {
				t.Fatalf("ParseOutput error = %v, want ErrNoSummary", err)
			}
			if len(rs) != 1 || rs[0].Valid || !strings.Contains(rs[0].InvalidReason+" "+strings.Join(rs[0].Warnings, " "), tc.phrase) {
				t.Fatalf("want one invalid result naming %q, got %+v", tc.phrase, rs)
			}
		})
	}
}
