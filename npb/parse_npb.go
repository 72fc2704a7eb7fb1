package npb

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// NPB output, as printed by NPB 3.3 and 3.4 (MPI), Fortran and C:
//
//	 NAS Parallel Benchmarks 3.4 -- CG Benchmark        banner
//	 ...                                                progress, warnings
//	 CG Benchmark Completed.                            "." in Fortran, none in C (IS, DT)
//	 Class           =                        S
//	 Size            =                     1400         or "  12x  12x  12" (grid)
//	 Iterations      =                       15
//	 Time in seconds =                     0.22
//	 Total processes =                        2
//	 Active procs    =                        2         3.4.3; 3.4.2 "Active processes=", 3.3 "Compiled procs  ="
//	 Mop/s total     =                   299.89
//	 Mop/s/process   =                   149.95
//	 Operation type  =           floating point
//	 Verification    =               SUCCESSFUL         or UNSUCCESSFUL
//	 Version         =                      3.4
//	 Compile date    =              29 Nov 2026
//
//	 Compile options:
//	    MPIFC        = mpif90.mpich
//	 ...
//	 Please send feedbacks and/or the results of this run to:

var (
	// npbBannerRe matches " NAS Parallel Benchmarks 3.4 -- CG Benchmark"
	// and the OpenMP form "NAS Parallel Benchmarks (NPB3.3-OMP) - FT Benchmark".
	npbBannerRe = regexp.MustCompile(`NAS Parallel Benchmarks\s*(?:\(NPB([0-9][0-9.]*)[^)]*\)|([0-9][0-9.]*))?\s*-+\s*([A-Z]{2,3})\s+Benchmark`)
	// npbCompletedRe matches the first line of the summary block.
	npbCompletedRe = regexp.MustCompile(`^\s*([A-Z]{2,3})\s+Benchmark Completed\.?\s*$`)
	npbClassRe     = regexp.MustCompile(`\(class\s+([A-Z])\)`)
	npbProcsRe     = regexp.MustCompile(`^\s*(?:Total n|N)umber of processes:\s*([0-9]+)`)
	npbActiveRe    = regexp.MustCompile(`(?i)(?:\(([0-9]+) active\)|active processes\s*[:=]\s*([0-9]+))`)
	npbWarningRe   = regexp.MustCompile(`(?i)^\s*WARNING\b`)
	// npbFailureRe matches what NPB prints when it refuses a process count
	// or gives up on verification.
	npbFailureRe = regexp.MustCompile(`(?i)(not a power of two|could not determine proper proc_grid|\*\*\* ?ERROR|^\s*ERROR\b|Expecting a .* number of processes|Will not verify|Problem size too big|must be a (?:square|power)|too (?:many|few) (?:nodes|processes|processors))`)
	// npbFailureWords are cheap tests that a line may match npbFailureRe.
	npbFailureWords = []string{"power of two", "proc_grid", "error", "expecting", "verify", "too big", "must be", "too many", "too few"}
)

// isNPBCompletedLine reports whether l starts an NPB summary block.
func isNPBCompletedLine(l string) bool {
	return strings.Contains(l, "Benchmark Completed") && npbCompletedRe.MatchString(l)
}

// isNPBFailureLine reports whether l is NPB refusing its process count or
// giving up on verification.
func isNPBFailureLine(l string) bool {
	low := strings.ToLower(l)
	for _, w := range npbFailureWords {
		if strings.Contains(low, w) {
			return npbFailureRe.MatchString(l)
		}
	}
	return false
}

// ParseNPB parses the output of an NPB benchmark (3.3 or 3.4, any kernel
// or pseudo-application): one Result per summary block, normally one.
// expectRanks is the number of ranks launched (0: not checked). When the
// output has a banner but no summary block, it returns one invalid Result
// and an error wrapping ErrNoSummary.
func ParseNPB(r io.Reader, expectRanks int) ([]Result, error) {
	data, err := readOutput(r)
	if err != nil {
		return nil, err
	}
	return parseNPB(data, expectRanks)
}

// npbHeader is what NPB prints before it runs: enough to describe a run
// that never printed its summary.
type npbHeader struct {
	name, class, version string
	procs, active        int
	warnings, failures   []string
}

func parseNPB(data []byte, expectRanks int) ([]Result, error) {
	lines := splitLines(data)
	var h npbHeader
	var blocks []int
	for i, l := range lines {
		if !strings.Contains(l, "Benchmark") && !strings.Contains(l, "(class") && !strings.Contains(l, "rocesses") &&
			!strings.Contains(l, "ARNING") && !isNPBFailureLine(l) {
			continue
		}
		if m := npbBannerRe.FindStringSubmatch(l); m != nil && h.name == "" {
			h.name = m[3]
			h.version = m[1] + m[2]
		}
		if m := npbClassRe.FindStringSubmatch(l); m != nil && h.class == "" {
			h.class = m[1]
		}
		if m := npbProcsRe.FindStringSubmatch(l); m != nil && h.procs == 0 {
			h.procs, _ = parseInt(m[1])
		}
		if npbWarningRe.MatchString(l) {
			h.warnings = append(h.warnings, strings.TrimSpace(l))
			if m := npbActiveRe.FindStringSubmatch(l); m != nil {
				h.active, _ = parseInt(m[1] + m[2])
			}
		}
		if isNPBFailureLine(l) {
			h.failures = append(h.failures, strings.TrimSpace(l))
		}
		if isNPBCompletedLine(l) {
			blocks = append(blocks, i)
		}
	}
	if len(blocks) == 0 {
		if h.name == "" {
			return nil, fmt.Errorf("%w: no NPB banner (\"NAS Parallel Benchmarks ... Benchmark\") and no \"Benchmark Completed\" summary", ErrUnknownFormat)
		}
		reason := "no NPB summary block (crash or timeout?)"
		if len(h.failures) > 0 {
			reason += ": " + h.failures[0]
		}
		res := Result{
			Kind: KindNPB, Benchmark: strings.ToLower(h.name), Class: h.class, Version: h.version,
			TotalProcesses: h.procs, ActiveProcesses: h.active,
			Warnings: append(h.warnings, h.failures...), InvalidReason: reason,
		}
		return []Result{res}, fmt.Errorf("%w: %s: %s", ErrNoSummary, strings.TrimSpace(h.name+" "+h.class), reason)
	}
	var out []Result
	for _, start := range blocks {
		out = append(out, parseNPBBlock(lines, start, h, expectRanks))
	}
	return out, nil
}

// parseNPBBlock reads the summary block whose "Benchmark Completed" line
// is lines[start] and judges it.
func parseNPBBlock(lines []string, start int, h npbHeader, expectRanks int) Result {
	name := npbCompletedRe.FindStringSubmatch(lines[start])[1]
	r := Result{Kind: KindNPB, Benchmark: strings.ToLower(name), Version: h.version}
	var problems []string
	seen := map[string]bool{}
	inOptions := false
	for _, l := range lines[start+1:] {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "Please send") || isNPBCompletedLine(t) {
			break
		}
		if t == "" {
			if inOptions && len(r.CompileOptions) > 0 {
				break
			}
			continue
		}
		if strings.HasPrefix(t, "Compile options") {
			inOptions = true
			continue
		}
		key, value, ok := strings.Cut(t, "=")
		if !ok {
			if len(seen) > 0 && !inOptions {
				break // the block ended without the usual footer
			}
			continue
		}
		key = strings.Join(strings.Fields(key), " ")
		value = strings.TrimSpace(value)
		if inOptions {
			if r.CompileOptions == nil {
				r.CompileOptions = map[string]string{}
			}
			r.CompileOptions[key] = value
			continue
		}
		lk := strings.ToLower(key)
		seen[lk] = true
		var err error
		switch lk {
		case "class":
			r.Class = value
		case "size":
			r.Size = strings.Join(strings.Fields(value), "")
		case "iterations":
			r.Iterations, err = parseInt(value)
		case "time in seconds":
			r.TimeSeconds, err = parseFloat(value)
		case "total processes":
			r.TotalProcesses, err = parseInt(value)
		case "active procs", "active processes":
			r.ActiveProcesses, err = parseInt(value)
		case "compiled procs":
			r.CompiledProcesses, err = parseInt(value)
			r.ActiveProcesses = r.CompiledProcesses
		case "mop/s total":
			r.MopsTotal, err = parseFloat(value)
		case "mop/s/process":
			r.MopsPerProcess, err = parseFloat(value)
		case "operation type":
			r.OperationType = value
		case "verification":
			r.Verification = value
		case "version":
			r.Version = value
		case "compile date":
			r.CompileDate = value
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("unreadable %q line: %v", key, err))
		}
	}
	if r.ActiveProcesses == 0 && h.active > 0 {
		r.ActiveProcesses = h.active
	}
	r.Warnings = append(append([]string(nil), h.warnings...), h.failures...)
	for _, k := range []string{"class", "time in seconds", "mop/s total", "verification"} {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("summary block lacks its %q line (truncated output?)", k))
		}
	}
	r.InvalidReason = joinReasons(append(problems, npbInvalidReasons(r, h, expectRanks)...))
	r.Valid = r.InvalidReason == ""
	return r
}

// npbInvalidReasons says why a parsed NPB result must not be compared:
// failed verification, or a process count other than the one launched.
func npbInvalidReasons(r Result, h npbHeader, expectRanks int) []string {
	var rs []string
	if r.Verification != "" && r.Verification != "SUCCESSFUL" {
		s := "verification " + r.Verification
		for _, f := range h.failures {
			s += ": " + f
			break
		}
		rs = append(rs, s)
	}
	if expectRanks > 0 && r.TotalProcesses > 0 && r.TotalProcesses != expectRanks {
		rs = append(rs, fmt.Sprintf("NPB reports %d processes but %d ranks were launched", r.TotalProcesses, expectRanks))
	}
	// The active count is compared with the processes NPB saw; a
	// difference from the ranks launched is reported above.
	want := r.TotalProcesses
	if want == 0 {
		want = expectRanks
	}
	switch {
	case r.CompiledProcesses > 0 && want > 0 && r.CompiledProcesses != want:
		rs = append(rs, fmt.Sprintf("binary compiled for %d processes, run on %d (NPB 3.3 fixes the count at build time)", r.CompiledProcesses, want))
	case r.CompiledProcesses == 0 && r.ActiveProcesses > 0 && want > 0 && r.ActiveProcesses != want:
		rs = append(rs, fmt.Sprintf("%d of %d processes active%s", r.ActiveProcesses, want, npbCountHint(r.Benchmark)))
	}
	return rs
}

// npbCountHint says which process counts a benchmark runs on.
func npbCountHint(bench string) string {
	switch bench {
	case "bt", "sp":
		return " (SP/BT run on a square count)"
	case "lu":
		return " (LU runs on a 2-D grid it can build: 1, 2, 4, 8, ...)"
	case "cg", "is", "mg", "ft":
		return fmt.Sprintf(" (%s runs on a power-of-two count)", strings.ToUpper(bench))
	}
	return ""
}
