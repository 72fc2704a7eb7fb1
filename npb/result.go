// Package npb holds hpcbench's knowledge of its benchmarks: the NAS
// Parallel Benchmarks, HPL and HPCC. This file and parse_*.go turn a
// benchmark's printed output into Results the store keeps.
//
// A harness that trusts exit codes records wrong numbers: SP on 2 ranks
// quietly runs on 1, FT on 3 ranks prints UNSUCCESSFUL and exits 0, a
// crashed run prints no summary at all. So every Result says whether it is
// Valid and, when not, why (InvalidReason), judged against the number of
// ranks the harness launched.
//
//	output --ParseOutput(r, ranks)--> DetectKind --> ParseNPB  --> []Result (one per summary block)
//	                                             \-> ParseHPL  --> []Result (one per result line)
//	                                             \-> ParseHPCC --> []Result (one per summary section)
package npb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Sentinel errors of the parsers; match them with errors.Is.
var (
	// ErrUnknownFormat: the output is not recognisably NPB, HPL or HPCC.
	ErrUnknownFormat = errors.New("unknown benchmark output format")
	// ErrNoSummary: the output is recognisably from a benchmark but lacks
	// the result it prints at the end (it crashed, was killed, timed out or
	// refused its input). The parser still returns one invalid Result that
	// says what is known and why it is invalid.
	ErrNoSummary = errors.New("no benchmark result in output")
	// ErrTooLarge: the output is longer than MaxOutputSize; it was not
	// read past that.
	ErrTooLarge = errors.New("output too large")
)

// MaxOutputSize bounds what ParseOutput reads of one output. Benchmarks
// print kilobytes (an HPL sweep a few megabytes) and a study keeps at most
// 16 MiB of a run's output, so anything longer is not one benchmark's
// output; reading it whole (a 200 MB log, /dev/zero) would only fill
// memory.
const MaxOutputSize = 32 << 20

// OutputKind is the program that printed an output.
type OutputKind string

// The kinds of output the parsers read.
const (
	KindNPB  OutputKind = "npb"
	KindHPL  OutputKind = "hpl"
	KindHPCC OutputKind = "hpcc"
)

// Result is one benchmark result: an NPB summary block, an HPL result line
// with its residual check, or an HPCC summary section. Which fields are
// meaningful depends on Kind; MarshalJSON writes only those.
type Result struct {
	Kind      OutputKind
	Benchmark string // lower case: "ep", "cg", ..., "hpl", "hpcc"
	Version   string // "3.4", "3.3.1", "2.3"; for HPCC "1.5.0"

	// Valid is false when the number must not be compared with others;
	// InvalidReason then says why, for a person.
	Valid         bool
	InvalidReason string

	// NPB summary block.
	Class             string
	Size              string // "1400", "33554432" or a grid "12x12x12"
	Iterations        int
	TimeSeconds       float64 // NPB and HPL
	MopsTotal         float64
	MopsPerProcess    float64
	TotalProcesses    int
	ActiveProcesses   int // 0 when not printed; NPB 3.3's "Compiled procs" is reported here
	CompiledProcesses int // NPB 3.3 only ("Compiled procs"); not in JSON
	Verification      string
	OperationType     string            // not in JSON
	CompileDate       string            // not in JSON
	CompileOptions    map[string]string // not in JSON
	Warnings          []string          // lines the benchmark printed as warnings or errors; not in JSON

	// HPL result line and its residual check.
	Variant  string // T/V column, e.g. "WR11C2R4"
	N, NB    int
	P, Q     int
	Gflops   float64
	Residual float64 // the scaled residual; with HPL 1.x's three checks, the largest
	Passed   bool

	// HPCC summary section, in the order printed: values are float64 when
	// the text is a finite decimal number, string otherwise.
	Summary []SummaryField
}

// SummaryField is one key=value line of an HPCC summary section.
type SummaryField struct {
	Key   string
	Value any // float64 or string
}

// SummaryValue returns the value of an HPCC summary key.
func (r Result) SummaryValue(key string) (any, bool) {
	for _, f := range r.Summary {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// SummaryFloat returns the numeric value of an HPCC summary key.
func (r Result) SummaryFloat(key string) (float64, bool) {
	v, ok := r.SummaryValue(key)
	if !ok {
		return 0, false
	}
	f, ok := v.(float64)
	return f, ok
}

// ResultMetric is one number of a Result the store keeps and compares.
type ResultMetric struct {
	Name           string // "mops_total", "time_s", "gflops", ...
	Unit           string // "Mop/s", "s", "Gflop/s"
	Value          float64
	HigherIsBetter bool
}

// Metric returns the primary number of a Result: Mop/s total for NPB,
// Gflop/s for HPL, and HPL_Tflops*1000 as Gflop/s for HPCC. name is ""
// when the Result has no such number (an HPCC summary without HPL_Tflops,
// an NPB run without a summary).
func (r Result) Metric() (name string, value float64, higherIsBetter bool) {
	ms := r.Metrics()
	if len(ms) == 0 {
		return "", 0, true
	}
	return ms[0].Name, ms[0].Value, ms[0].HigherIsBetter
}

// Metrics returns every number of a Result worth comparing, the primary
// one (see Metric) first. A Result without a summary has none.
func (r Result) Metrics() []ResultMetric {
	switch r.Kind {
	case KindNPB:
		if r.Verification == "" && r.TimeSeconds == 0 && r.MopsTotal == 0 {
			return nil
		}
		return []ResultMetric{
			{Name: "mops_total", Unit: "Mop/s", Value: r.MopsTotal, HigherIsBetter: true},
			{Name: "time_s", Unit: "s", Value: r.TimeSeconds, HigherIsBetter: false},
		}
	case KindHPL:
		if r.N == 0 {
			return nil
		}
		return []ResultMetric{
			{Name: "gflops", Unit: "Gflop/s", Value: r.Gflops, HigherIsBetter: true},
			{Name: "time_s", Unit: "s", Value: r.TimeSeconds, HigherIsBetter: false},
		}
	case KindHPCC:
		var ms []ResultMetric
		if tf, ok := r.SummaryFloat("HPL_Tflops"); ok {
			ms = append(ms, ResultMetric{Name: "gflops", Unit: "Gflop/s", Value: tf * 1000, HigherIsBetter: true})
		}
		for _, m := range hpccMetrics {
			if v, ok := r.SummaryFloat(m.key); ok {
				ms = append(ms, ResultMetric{Name: m.key, Unit: m.unit, Value: v, HigherIsBetter: m.higher})
			}
		}
		return ms
	}
	return nil
}

// hpccMetrics are the HPCC summary keys that measure the machine, beyond HPL.
var hpccMetrics = []struct {
	key, unit string
	higher    bool
}{
	{"StarDGEMM_Gflops", "Gflop/s", true},
	{"StarSTREAM_Triad", "GB/s", true},
	{"MPIRandomAccess_GUPs", "GUP/s", true},
	{"MPIFFT_Gflops", "Gflop/s", true},
	{"PTRANS_GBs", "GB/s", true},
	{"MaxPingPongLatency_usec", "us", false},
	{"MinPingPongBandwidth_GBytes", "GB/s", true},
}

// npbJSON and hplJSON fix the JSON field names other parts of hpcbench
// (the store, Slurm result files) rely on.
type npbJSON struct {
	Kind            OutputKind `json:"kind"`
	Benchmark       string     `json:"benchmark"`
	Class           string     `json:"class"`
	Size            string     `json:"size"`
	Iterations      int        `json:"iterations"`
	TimeSeconds     float64    `json:"time_s"`
	MopsTotal       float64    `json:"mops_total"`
	MopsPerProcess  float64    `json:"mops_per_process"`
	TotalProcesses  int        `json:"total_processes"`
	ActiveProcesses int        `json:"active_processes"`
	Verification    string     `json:"verification"`
	Version         string     `json:"version"`
	Valid           bool       `json:"valid"`
	InvalidReason   string     `json:"invalid_reason"`
}

type hplJSON struct {
	Kind          OutputKind `json:"kind"`
	Benchmark     string     `json:"benchmark"`
	Version       string     `json:"version"`
	Variant       string     `json:"variant"`
	N             int        `json:"n"`
	NB            int        `json:"nb"`
	P             int        `json:"p"`
	Q             int        `json:"q"`
	TimeSeconds   float64    `json:"time_s"`
	Gflops        float64    `json:"gflops"`
	Residual      float64    `json:"residual"`
	Passed        bool       `json:"passed"`
	Valid         bool       `json:"valid"`
	InvalidReason string     `json:"invalid_reason"`
}

// Keys written by MarshalJSON for HPCC besides the summary's own keys.
const (
	hpccKeyKind      = "kind"
	hpccKeyBenchmark = "benchmark"
	hpccKeyValid     = "valid"
	hpccKeyReason    = "invalid_reason"
)

// MarshalJSON writes the fields of r's kind. NPB: kind, benchmark, class,
// size, iterations, time_s, mops_total, mops_per_process, total_processes,
// active_processes, verification, version, valid, invalid_reason. HPL:
// kind, benchmark, version, variant, n, nb, p, q, time_s, gflops, residual,
// passed, valid, invalid_reason. HPCC: kind, benchmark, then every summary
// key as printed (numbers as JSON numbers), then valid, invalid_reason.
// Non-finite numbers are written as 0 (JSON has no NaN).
func (r Result) MarshalJSON() ([]byte, error) {
	switch r.Kind {
	case KindNPB:
		return json.Marshal(npbJSON{
			Kind: r.Kind, Benchmark: r.Benchmark, Class: r.Class, Size: r.Size,
			Iterations: r.Iterations, TimeSeconds: finite(r.TimeSeconds),
			MopsTotal: finite(r.MopsTotal), MopsPerProcess: finite(r.MopsPerProcess),
			TotalProcesses: r.TotalProcesses, ActiveProcesses: r.ActiveProcesses,
			Verification: r.Verification, Version: r.Version,
			Valid: r.Valid, InvalidReason: r.InvalidReason,
		})
	case KindHPL:
		return json.Marshal(hplJSON{
			Kind: r.Kind, Benchmark: r.Benchmark, Version: r.Version, Variant: r.Variant,
			N: r.N, NB: r.NB, P: r.P, Q: r.Q,
			TimeSeconds: finite(r.TimeSeconds), Gflops: finite(r.Gflops),
			Residual: finite(r.Residual), Passed: r.Passed,
			Valid: r.Valid, InvalidReason: r.InvalidReason,
		})
	case KindHPCC:
		var b bytes.Buffer
		b.WriteByte('{')
		put := func(k string, v any) error {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			kj, err := json.Marshal(k)
			if err != nil {
				return err
			}
			if f, ok := v.(float64); ok {
				v = finite(f)
			}
			vj, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("hpcc summary key %s: %w", k, err)
			}
			b.Write(kj)
			b.WriteByte(':')
			b.Write(vj)
			return nil
		}
		if err := put(hpccKeyKind, r.Kind); err != nil {
			return nil, err
		}
		if err := put(hpccKeyBenchmark, r.Benchmark); err != nil {
			return nil, err
		}
		for _, f := range r.Summary {
			if isHPCCReservedKey(f.Key) {
				continue
			}
			if err := put(f.Key, f.Value); err != nil {
				return nil, err
			}
		}
		if err := put(hpccKeyValid, r.Valid); err != nil {
			return nil, err
		}
		if err := put(hpccKeyReason, r.InvalidReason); err != nil {
			return nil, err
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("%w: cannot write a result of kind %q as JSON", ErrUnknownFormat, r.Kind)
}

func isHPCCReservedKey(k string) bool {
	return k == hpccKeyKind || k == hpccKeyBenchmark || k == hpccKeyValid || k == hpccKeyReason
}

// UnmarshalJSON reads what MarshalJSON wrote, so results written as JSON
// files (inside Slurm jobs) can be imported into the store.
func (r *Result) UnmarshalJSON(data []byte) error {
	var head struct {
		Kind OutputKind `json:"kind"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return err
	}
	switch head.Kind {
	case KindNPB:
		var j npbJSON
		if err := json.Unmarshal(data, &j); err != nil {
			return err
		}
		*r = Result{
			Kind: j.Kind, Benchmark: j.Benchmark, Class: j.Class, Size: j.Size,
			Iterations: j.Iterations, TimeSeconds: j.TimeSeconds, MopsTotal: j.MopsTotal,
			MopsPerProcess: j.MopsPerProcess, TotalProcesses: j.TotalProcesses,
			ActiveProcesses: j.ActiveProcesses, Verification: j.Verification,
			Version: j.Version, Valid: j.Valid, InvalidReason: j.InvalidReason,
		}
	case KindHPL:
		var j hplJSON
		if err := json.Unmarshal(data, &j); err != nil {
			return err
		}
		*r = Result{
			Kind: j.Kind, Benchmark: j.Benchmark, Version: j.Version, Variant: j.Variant,
			N: j.N, NB: j.NB, P: j.P, Q: j.Q, TimeSeconds: j.TimeSeconds, Gflops: j.Gflops,
			Residual: j.Residual, Passed: j.Passed, Valid: j.Valid, InvalidReason: j.InvalidReason,
		}
	case KindHPCC:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil { // '{'
			return err
		}
		out := Result{Kind: KindHPCC}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := t.(string)
			var v any
			if err := dec.Decode(&v); err != nil {
				return fmt.Errorf("hpcc key %s: %w", key, err)
			}
			switch key {
			case hpccKeyKind:
			case hpccKeyBenchmark:
				out.Benchmark, _ = v.(string)
			case hpccKeyValid:
				out.Valid, _ = v.(bool)
			case hpccKeyReason:
				out.InvalidReason, _ = v.(string)
			default:
				switch x := v.(type) {
				case json.Number:
					f, err := x.Float64()
					if err != nil {
						return fmt.Errorf("hpcc key %s: %w", key, err)
					}
					v = f
				case string:
				default:
					return fmt.Errorf("hpcc key %s: value is neither a number nor a string", key)
				}
				out.Summary = append(out.Summary, SummaryField{Key: key, Value: v})
			}
		}
		if v, ok := out.SummaryValue("VersionMajor"); ok {
			out.Version = hpccVersion(out, v)
		}
		*r = out
	default:
		return fmt.Errorf("%w: JSON result has kind %q (want npb, hpl or hpcc)", ErrUnknownFormat, head.Kind)
	}
	return nil
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// ParseOutput reads one benchmark's output, recognises which program
// printed it and returns its results. expectRanks is the number of MPI
// ranks the harness launched (0: unknown, not checked). On ErrNoSummary
// the returned slice still holds one invalid Result with what is known. It
// reads at most MaxOutputSize bytes, and fails with ErrTooLarge on more.
func ParseOutput(r io.Reader, expectRanks int) ([]Result, error) {
	data, err := readOutput(r)
	if err != nil {
		return nil, err
	}
	switch DetectKind(data) {
	case KindHPCC:
		return parseHPCC(data, expectRanks)
	case KindHPL:
		return parseHPL(data, expectRanks)
	case KindNPB:
		return parseNPB(data, expectRanks)
	}
	return nil, fmt.Errorf("%w: neither an NPB banner or summary, an HPL header or result line, nor an HPCC summary", ErrUnknownFormat)
}

// readOutput reads an output whole, up to MaxOutputSize bytes.
func readOutput(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxOutputSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxOutputSize {
		return nil, fmt.Errorf("%w: longer than %d MiB, more than any benchmark prints (a log of several runs? split it)", ErrTooLarge, MaxOutputSize>>20)
	}
	return data, nil
}

// DetectKind says which program printed an output, or "" when it cannot
// tell. HPCC is tested first because its output contains HPL's.
func DetectKind(data []byte) OutputKind {
	if bytes.Contains(data, []byte("HPC Challenge Benchmark")) || bytes.Contains(data, []byte(hpccBegin)) {
		return KindHPCC
	}
	if bytes.Contains(data, []byte("HPLinpack")) || bytes.Contains(data, []byte("||Ax-b||_oo")) {
		return KindHPL
	}
	if bytes.Contains(data, []byte("NAS Parallel Benchmarks")) {
		return KindNPB
	}
	// Without banners: a result line of either program.
	for _, l := range splitLines(data) {
		if isHPLResultLine(l) {
			return KindHPL
		}
		if isNPBCompletedLine(l) {
			return KindNPB
		}
	}
	return ""
}

// rankTagRe matches what MPI launchers put in front of a rank's lines:
// Open MPI's "[1,0]<stdout>:" and Hydra's "[0] ".
var rankTagRe = regexp.MustCompile(`^\[[0-9]+(?:,[0-9]+)?\](?:<std(?:out|err)>)?:? ?`)

// splitLines splits output into lines without line ends and rank tags.
func splitLines(data []byte) []string {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, "[") {
			l = rankTagRe.ReplaceAllString(l, "")
		}
		lines[i] = l
	}
	return lines
}

// parseFloat reads a number as C or Fortran prints it ("1.5D+03").
func parseFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	s = strings.Map(func(r rune) rune {
		if r == 'D' || r == 'd' {
			return 'e'
		}
		return r
	}, s)
	if !decimalRe.MatchString(s) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return strconv.ParseFloat(s, 64)
}

// decimalRe is what counts as a number: no hex, no "inf" or "nan".
var decimalRe = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

func parseInt(s string) (int, error) {
	return strconv.Atoi(strings.TrimSpace(s))
}

// joinReasons joins the reasons a result is invalid into one sentence.
func joinReasons(rs []string) string { return strings.Join(rs, "; ") }
