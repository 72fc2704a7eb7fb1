package npb

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// HPCC (1.4 and 1.5) writes hpccoutf.txt: a banner, each test's section
// (HPL's own output among them), then
//
//	Begin of Summary section.
//	VersionMajor=1
//	...
//	Success=1
//	CommWorldProcs=2
//	HPL_Tflops=0.0018469
//	...
//	End of Summary section.
//
// hpcc appends to an existing hpccoutf.txt, so one file may hold several
// runs: each summary section is one Result, judged with the HPL output
// printed since the previous section.

const (
	hpccBegin = "Begin of Summary section."
	hpccEnd   = "End of Summary section."
)

// ParseHPCC parses HPCC's hpccoutf.txt: one Result per summary section.
// expectRanks is the number of ranks launched (0: not checked);
// CommWorldProcs must equal it. When the output has no summary section it
// returns one invalid Result and an error wrapping ErrNoSummary.
func ParseHPCC(r io.Reader, expectRanks int) ([]Result, error) {
	data, err := readOutput(r)
	if err != nil {
		return nil, err
	}
	return parseHPCC(data, expectRanks)
}

func parseHPCC(data []byte, expectRanks int) ([]Result, error) {
	lines := splitLines(data)
	var out []Result
	segStart := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != hpccBegin {
			continue
		}
		r := Result{Kind: KindHPCC, Benchmark: "hpcc"}
		index := map[string]int{}
		terminated := false
		j := i + 1
		for ; j < len(lines); j++ {
			t := strings.TrimSpace(lines[j])
			if t == hpccEnd {
				terminated = true
				break
			}
			if t == hpccBegin {
				j-- // a new run started before this one's summary ended
				break
			}
			key, value, ok := strings.Cut(t, "=")
			key = strings.TrimSpace(key)
			if !ok || key == "" {
				continue
			}
			f := SummaryField{Key: key, Value: hpccValue(strings.TrimSpace(value))}
			if k, dup := index[key]; dup {
				r.Summary[k] = f
				continue
			}
			index[key] = len(r.Summary)
			r.Summary = append(r.Summary, f)
		}
		if v, ok := r.SummaryValue("VersionMajor"); ok {
			r.Version = hpccVersion(r, v)
		}
		_, hpl, _, _ := scanHPL(lines[segStart:i])
		judgeHPCC(&r, hpl, terminated, expectRanks)
		out = append(out, r)
		segStart = j + 1
		i = j
	}
	if len(out) == 0 {
		reason := "no HPCC summary section (crash or timeout?)"
		res := Result{Kind: KindHPCC, Benchmark: "hpcc", InvalidReason: reason}
		return []Result{res}, fmt.Errorf("%w: %s (no %q line)", ErrNoSummary, reason, hpccBegin)
	}
	return out, nil
}

// hpccValue keeps a summary value as a number when it is a finite
// decimal number and as the text printed otherwise ("f", "C", "nan").
func hpccValue(s string) any {
	if f, err := parseFloat(s); err == nil && !math.IsInf(f, 0) && !strings.ContainsAny(s, "dD") {
		return f
	}
	return s
}

// hpccVersion builds "1.5.0" from VersionMajor, VersionMinor, VersionMicro.
func hpccVersion(r Result, major any) string {
	part := func(v any) string {
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case string:
			return x
		}
		return "?"
	}
	s := part(major)
	for _, k := range []string{"VersionMinor", "VersionMicro"} {
		if v, ok := r.SummaryValue(k); ok {
			s += "." + part(v)
		}
	}
	return s
}

// judgeHPCC sets Valid and InvalidReason of one HPCC summary: Success
// must be 1, HPL's residual check must have passed and CommWorldProcs
// must be the number of ranks launched.
func judgeHPCC(r *Result, hpl []Result, terminated bool, expectRanks int) {
	var rs []string
	if !terminated {
		rs = append(rs, fmt.Sprintf("summary section has no %q line (crash or timeout?)", hpccEnd))
	}
	switch v, ok := r.SummaryValue("Success"); {
	case !ok:
		rs = append(rs, "summary lacks the Success key")
	case v != float64(1):
		rs = append(rs, fmt.Sprintf("HPCC reports Success=%v (a test failed its check)", v))
	}
	if failed := hplFailures(hpl); failed != "" {
		rs = append(rs, failed)
	} else if len(hpl) == 0 {
		if res, ok := hpccHPLResidual(*r); ok && !(res < hplThreshold) {
			rs = append(rs, fmt.Sprintf("HPL residual check FAILED (scaled residual %s from the summary's norms)", formatResidual(res)))
		}
	}
	if expectRanks > 0 {
		switch p, ok := r.SummaryFloat("CommWorldProcs"); {
		case !ok:
			rs = append(rs, "summary lacks CommWorldProcs, so the rank count cannot be checked")
		case int(p) != expectRanks:
			rs = append(rs, fmt.Sprintf("HPCC ran on %d processes (CommWorldProcs) but %d ranks were launched", int(p), expectRanks))
		}
	}
	r.InvalidReason = joinReasons(rs)
	r.Valid = r.InvalidReason == ""
}

// hplFailures describes the HPL results among HPCC's output that failed.
func hplFailures(hpl []Result) string {
	for _, h := range hpl {
		if !h.Passed {
			if h.InvalidReason != "" {
				return "HPL: " + h.InvalidReason
			}
			return fmt.Sprintf("HPL residual check FAILED (scaled residual %s)", formatResidual(h.Residual))
		}
	}
	return ""
}

// hpccHPLResidual recomputes HPL's scaled residual from the summary:
// ||Ax-b||_oo / (eps * (||A||_oo * ||x||_oo + ||b||_oo) * N).
func hpccHPLResidual(r Result) (float64, bool) {
	var v [5]float64
	for i, k := range []string{"HPL_RnormI", "HPL_eps", "HPL_AnormI", "HPL_XnormI", "HPL_BnormI"} {
		f, ok := r.SummaryFloat(k)
		if !ok {
			return 0, false
		}
		v[i] = f
	}
	n, ok := r.SummaryFloat("HPL_N")
	if !ok || n <= 0 {
		return 0, false
	}
	den := v[1] * (v[2]*v[3] + v[4]) * n
	if den <= 0 {
		return 0, false
	}
	return v[0] / den, true
}
