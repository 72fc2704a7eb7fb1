// Command testsummary reads the event stream of `go test -json` on stdin and
// writes what a person needs from it: one ok/FAIL line per package as it
// finishes, the full output of every failed test, the skipped tests with
// their reasons, and a closing line
//
//	N passed, N failed, N skipped
//
// It exits 1 when a test or a package (a build error, a panic outside a
// test, a timeout) failed, when the stream held no package result at all,
// and, in require mode (HPCBENCH_REQUIRE_ALL=1, set by .ci/run), when a test
// was skipped: there every tool is installed, so a skip hides a broken
// setup. `make test` pipes go test into it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hpcbench/hpcbench/internal/testenv"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail events
}

// testKey names one test (or subtest) of one package.
type testKey struct{ pkg, test string }

// tally collects the stream's results while it is read.
type tally struct {
	out io.Writer

	passed, failed, skipped int
	packages                int // packages that reported pass or fail

	output     map[testKey][]string // each running test's output so far
	failedIn   map[string]int       // failed tests per package
	skips      []string             // "pkg Test: reason" lines
	failedPkgs []string             // packages that failed outside any test
}

func newTally(out io.Writer) *tally {
	return &tally{out: out, output: map[testKey][]string{}, failedIn: map[string]int{}}
}

// line takes one line of the stream. Lines that are not JSON (go test
// prints some errors as plain text) are passed through.
func (s *tally) line(raw []byte) {
	var e event
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &e) != nil {
		fmt.Fprintf(s.out, "%s\n", raw)
		return
	}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Test != "":
		s.testEvent(e)
	default:
		s.packageEvent(e)
	}
}

func (s *tally) testEvent(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "output":
		s.output[k] = append(s.output[k], e.Output)
	case "pass":
		s.passed++
		delete(s.output, k)
	case "skip":
		s.skipped++
		s.skips = append(s.skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(s.output[k])))
		delete(s.output, k)
	case "fail":
		s.failed++
		s.failedIn[e.Package]++
		fmt.Fprintf(s.out, "--- FAIL: %s %s\n", e.Package, e.Test)
		for _, l := range s.output[k] {
			fmt.Fprint(s.out, "    ", l)
		}
		delete(s.output, k)
	}
}

// packageEvent prints the package's own lines (ok, FAIL, panics, timeouts,
// "no test files") and counts a package that failed with no failed test.
func (s *tally) packageEvent(e event) {
	switch e.Action {
	case "output":
		if t := strings.TrimSpace(e.Output); t != "PASS" && t != "FAIL" && !strings.HasPrefix(t, "=== ") {
			fmt.Fprint(s.out, e.Output)
		}
	case "pass":
		s.packages++
	case "fail":
		s.packages++
		if s.failedIn[e.Package] == 0 {
			s.failedPkgs = append(s.failedPkgs, e.Package)
		}
	}
}

// skipReason picks the message of t.Skip out of a skipped test's output:
// the lines after "--- SKIP", without the file:line prefix.
func skipReason(lines []string) string {
	var reason []string
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "--- SKIP") {
			for _, r := range lines[i+1:] {
				r = strings.TrimSpace(r)
				if _, msg, ok := strings.Cut(r, ": "); ok && strings.Contains(r[:len(r)-len(msg)], ".go:") {
					r = msg
				}
				reason = append(reason, r)
			}
			break
		}
	}
	if len(reason) == 0 {
		return "(no reason given)"
	}
	return strings.Join(reason, " ")
}

// finish prints the skips, the failed packages and the closing line and
// says whether the run is a success.
func (s *tally) finish(requireAll bool) bool {
	ok := true
	if len(s.skips) > 0 {
		sort.Strings(s.skips)
		if requireAll {
			fmt.Fprintf(s.out, "\nskipped tests, not allowed with %s=1:\n", testenv.RequireAllEnv)
			ok = false
		} else {
			fmt.Fprintln(s.out, "\nskipped tests:")
		}
		for _, l := range s.skips {
			fmt.Fprintln(s.out, "  "+l)
		}
	}
	if len(s.failedPkgs) > 0 {
		fmt.Fprintln(s.out, "\npackages that failed outside a test (build error, panic, timeout; see above):")
		for _, p := range s.failedPkgs {
			fmt.Fprintln(s.out, "  "+p)
		}
		ok = false
	}
	if s.packages == 0 {
		fmt.Fprintln(s.out, "\nno package reported a result: did go test run?")
		ok = false
	}
	if s.failed > 0 {
		ok = false
	}
	fmt.Fprintf(s.out, "\n%d passed, %d failed, %d skipped\n", s.passed, s.failed+len(s.failedPkgs), s.skipped)
	return ok
}

func main() {
	s := newTally(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for in.Scan() {
		s.line(in.Bytes())
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: reading go test -json from stdin: %v\n", err)
		os.Exit(1)
	}
	if !s.finish(testenv.RequireAll()) {
		os.Exit(1)
	}
}
