package npb

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
)

// HPL output (2.0 to 2.3; also 1.0a's residual checks):
//
//	HPLinpack 2.3  --  High-Performance Linpack benchmark  --   December 2, 2018
//	...
//	T/V                N    NB     P     Q               Time                 Gflops
//	--------------------------------------------------------------------------------
//	WR11C2R4        2000   128     1     2               1.33             4.0084e+00
//	HPL_pdgesv() start time ...                           2.1 and later
//	--------------------------------------------------------------------------------
//	||Ax-b||_oo/(eps*(||A||_oo*||x||_oo+||b||_oo)*N)=   3.40262780e-03 ...... PASSED
//
// Gflops is "%19.4e" in 2.3, "%19.3e" in 2.0 and "%19.5e" in 2.1; 2.0
// prints the residual as "%16.7f". HPL 1.0a printed three residual lines
// ("||Ax-b||_oo / ( eps * ||A||_1  * N        ) = ..."), all of which must
// pass. A failed check is followed by the norms it used.

var (
	hplVersionRe = regexp.MustCompile(`HPLinpack\s+([0-9][0-9.]*[a-z]?)`)
	// hplResultRe matches a result line: T/V (W, then R or C for row- or
	// column-major mapping, then the encoded variant), N, NB, P, Q, Time,
	// Gflops.
	hplResultRe   = regexp.MustCompile(`^\s*(W[RC][0-9A-Z]{2,})\s+([0-9]+)\s+([0-9]+)\s+([0-9]+)\s+([0-9]+)\s+(\S+)\s+(\S+)\s*$`)
	hplResidualRe = regexp.MustCompile(`^\s*\|\|Ax-b\|\|_oo.*=\s*(\S+)\s+\.+\s+(PASSED|FAILED)\s*$`)
	// hplErrorRe matches HPL's complaints about its input or the grid.
	hplErrorRe = regexp.MustCompile(`(?i)(HPL ERROR|\billegal\b|Need at least|not enough|>>>)`)
)

// isHPLResultLine reports whether l is an HPL result line.
func isHPLResultLine(l string) bool {
	t := strings.TrimLeft(l, " \t")
	return strings.HasPrefix(t, "W") && hplResultRe.MatchString(t)
}

// isHPLErrorLine reports whether l is HPL complaining about its input.
func isHPLErrorLine(l string) bool {
	low := strings.ToLower(l)
	if !strings.Contains(low, "error") && !strings.Contains(low, "illegal") && !strings.Contains(low, "need at least") &&
		!strings.Contains(low, "not enough") && !strings.Contains(l, ">>>") {
		return false
	}
	return hplErrorRe.MatchString(l) && !hplSkippedRe.MatchString(l)
}

// hplSkippedRe is the summary line about illegal input counts; not an error.
var hplSkippedRe = regexp.MustCompile(`skipped because of illegal input`)

// hplThreshold is what HPL compares scaled residuals with by default; it
// is read from the output when printed.
const hplThreshold = 16.0

var hplThresholdRe = regexp.MustCompile(`scaled residuals are less than\s+(\S+)`)

// ParseHPL parses HPL output: one Result per result line, with the
// residual check that follows it. expectRanks is the number of ranks
// launched (0: not checked); P x Q must equal it. When the output has
// HPL's banner but no result line, it returns one invalid Result and an
// error wrapping ErrNoSummary.
func ParseHPL(r io.Reader, expectRanks int) ([]Result, error) {
	data, err := readOutput(r)
	if err != nil {
		return nil, err
	}
	return parseHPL(data, expectRanks)
}

func parseHPL(data []byte, expectRanks int) ([]Result, error) {
	lines := splitLines(data)
	version, results, errs, sawHPL := scanHPL(lines)
	if len(results) == 0 {
		if !sawHPL {
			return nil, fmt.Errorf("%w: no HPLinpack banner and no HPL result line", ErrUnknownFormat)
		}
		reason := "no HPL result line (crash or timeout?)"
		if len(errs) > 0 {
			first := errs[0]
			// "HPL ERROR from process # 0, ...:" is followed by what is wrong.
			if strings.HasSuffix(first, ":") && len(errs) > 1 {
				first += " " + errs[1]
			}
			reason += ": " + first
		}
		res := Result{Kind: KindHPL, Benchmark: "hpl", Version: version, InvalidReason: reason, Warnings: errs}
		return []Result{res}, fmt.Errorf("%w: %s", ErrNoSummary, reason)
	}
	for i := range results {
		judgeHPL(&results[i], expectRanks)
	}
	return results, nil
}

// scanHPL reads every HPL result line of lines and the residual checks
// that follow each. The Results are not judged yet.
func scanHPL(lines []string) (version string, results []Result, errs []string, sawHPL bool) {
	threshold := hplThreshold
	// checks counts the residual lines read for the latest result.
	checks := 0
	for _, l := range lines {
		hasNorm := strings.Contains(l, "||Ax-b||")
		if !hasNorm && !strings.Contains(l, "HPLinpack") && !strings.Contains(l, "scaled residuals") &&
			!strings.HasPrefix(strings.TrimLeft(l, " \t"), "W") && !isHPLErrorLine(l) {
			continue
		}
		if m := hplVersionRe.FindStringSubmatch(l); m != nil {
			sawHPL = true
			if version == "" {
				version = m[1]
			}
			continue
		}
		if m := hplThresholdRe.FindStringSubmatch(l); m != nil {
			if t, err := parseFloat(m[1]); err == nil && t > 0 {
				threshold = t
			}
			continue
		}
		if m := hplResultRe.FindStringSubmatch(l); m != nil {
			sawHPL = true
			r := Result{Kind: KindHPL, Benchmark: "hpl", Version: version, Variant: m[1]}
			var bad []string
			var err error
			if r.N, err = parseInt(m[2]); err != nil {
				bad = append(bad, "N")
			}
			if r.NB, err = parseInt(m[3]); err != nil {
				bad = append(bad, "NB")
			}
			if r.P, err = parseInt(m[4]); err != nil {
				bad = append(bad, "P")
			}
			if r.Q, err = parseInt(m[5]); err != nil {
				bad = append(bad, "Q")
			}
			if r.TimeSeconds, err = parseFloat(m[6]); err != nil {
				bad = append(bad, "Time")
			}
			if r.Gflops, err = parseFloat(m[7]); err != nil {
				bad = append(bad, "Gflops")
			}
			if len(bad) > 0 {
				r.InvalidReason = fmt.Sprintf("unreadable %s in result line %q", strings.Join(bad, ", "), strings.TrimSpace(l))
			}
			results = append(results, r)
			checks = 0
			continue
		}
		if !hasNorm {
			if isHPLErrorLine(l) {
				errs = append(errs, strings.TrimSpace(l))
			}
			continue
		}
		if m := hplResidualRe.FindStringSubmatch(l); m != nil && len(results) > 0 {
			r := &results[len(results)-1]
			v, err := parseFloat(m[1])
			if err != nil {
				v = math.Inf(1) // HPL prints nan or inf when the solve blew up
			}
			passed := m[2] == "PASSED" && v < threshold
			if checks == 0 {
				r.Residual, r.Passed = v, passed
			} else {
				r.Residual = math.Max(r.Residual, v)
				r.Passed = r.Passed && passed
			}
			checks++
			continue
		}
	}
	// A result line without any residual line after it: the check did not
	// run (crash during it, or a threshold <= 0 that disables it).
	return version, markUnchecked(results, lines), errs, sawHPL
}

// markUnchecked gives results without a residual check a reason; they
// have Residual 0 and Passed false, which scanHPL cannot tell apart from
// a check it has not reached yet, so the lines are walked again.
func markUnchecked(results []Result, lines []string) []Result {
	idx := -1
	checked := make([]bool, len(results))
	for _, l := range lines {
		if isHPLResultLine(l) {
			idx++
			continue
		}
		if idx >= 0 && idx < len(results) && strings.Contains(l, "||Ax-b||") && hplResidualRe.MatchString(l) {
			checked[idx] = true
		}
	}
	for i := range results {
		if !checked[i] {
			results[i].Residual = 0
			results[i].Passed = false
			results[i].InvalidReason = joinReasons(nonEmpty(results[i].InvalidReason, "no residual check after the result line (crash, or a disabled check?)"))
		}
	}
	return results
}

// judgeHPL sets Valid and InvalidReason of one HPL result.
func judgeHPL(r *Result, expectRanks int) {
	var rs []string
	if r.InvalidReason != "" {
		rs = append(rs, r.InvalidReason)
	} else if !r.Passed {
		rs = append(rs, fmt.Sprintf("residual check FAILED (scaled residual %s)", formatResidual(r.Residual)))
	}
	if expectRanks > 0 && r.P*r.Q != expectRanks {
		rs = append(rs, fmt.Sprintf("process grid P x Q = %dx%d = %d but %d ranks were launched", r.P, r.Q, r.P*r.Q, expectRanks))
	}
	r.InvalidReason = joinReasons(rs)
	r.Valid = r.InvalidReason == ""
}

func formatResidual(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return "not a number"
	}
	return fmt.Sprintf("%.4g", v)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
