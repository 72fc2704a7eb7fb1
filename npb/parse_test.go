package npb

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parsers' output")

// goldenCases lists every output in testdata with the ranks it was
// launched on. Files named constructed-* were written by hand from the
// print formats of NPB, HPL and HPCC (see testdata/README.md); the others
// are real output kept verbatim.
var goldenCases = []struct {
	file    string
	ranks   int
	wantErr error
	valid   []bool // per result
}{
	{"npb-ep.S.2.mpich.txt", 2, nil, []bool{true}},
	{"npb-cg.S.2.mpich.txt", 2, nil, []bool{true}},
	{"npb-is.S.2.mpich.txt", 2, nil, []bool{true}},
	{"hpl-2000-1x2.txt", 2, nil, []bool{true}},
	{"hpccoutf.txt", 2, nil, []bool{true}},
	{"constructed-npb3.3-bt.A.4.txt", 4, nil, []bool{true}},
	{"constructed-npb3.3-is.A.4.txt", 4, nil, []bool{true}},
	{"constructed-npb3.3-ft.S.2-unsuccessful.txt", 2, nil, []bool{false}},
	{"constructed-npb3.3-sp.W.4-on-9.txt", 9, nil, []bool{false}},
	{"constructed-npb3.4-sp.S.2.txt", 2, nil, []bool{false}},
	{"constructed-npb3.4.2-bt.S.4.txt", 4, nil, []bool{true}},
	{"constructed-npb3.4-mg.S.3.txt", 3, nil, []bool{false}},
	{"constructed-npb3.4-ft.S.3.txt", 3, nil, []bool{false}},
	{"constructed-npb3.4-lu.S.3.txt", 3, ErrNoSummary, []bool{false}},
	{"constructed-npb3.4-lu.W.4-tagged.txt", 4, nil, []bool{true}},
	{"constructed-npb3.4-cg.A.2-killed.txt", 2, ErrNoSummary, []bool{false}},
	{"constructed-hpl2.3-2x2.txt", 4, nil, []bool{true, true}},
	{"constructed-hpl2.0-failed.txt", 4, nil, []bool{true, false}},
	{"constructed-hpl2.1-1x2-on-4.txt", 4, nil, []bool{false}},
	{"constructed-hpl1.0a-three-residuals.txt", 2, nil, []bool{true, false}},
	{"constructed-hpl2.3-killed.txt", 4, ErrNoSummary, []bool{false}},
	{"constructed-hpl2.3-bad-grid.txt", 4, ErrNoSummary, []bool{false}},
	{"constructed-hpcc1.4.1-2x2.txt", 4, nil, []bool{true}},
	{"constructed-hpcc1.5-failed.txt", 4, nil, []bool{false}},
	{"constructed-hpcc1.5-appended.txt", 4, nil, []bool{true, false}},
	{"constructed-hpcc1.5-killed.txt", 4, ErrNoSummary, []bool{false}},
	// One per phrase of NPB and HPL refusing to run (see failures_test.go).
	{"constructed-npb3.4-is.S.3-compiled-for-4.txt", 3, ErrNoSummary, []bool{false}},
	{"constructed-npb3.3-cg.S.3-expecting.txt", 3, ErrNoSummary, []bool{false}},
	{"constructed-npb3.4-mg.S.6-not-power-of-two.txt", 6, ErrNoSummary, []bool{false}},
	{"constructed-npb3.4-mg.A.64-too-big.txt", 64, ErrNoSummary, []bool{false}},
	{"constructed-npb3.3-bt.S.2-square.txt", 2, ErrNoSummary, []bool{false}},
	{"constructed-npb3.4-ep.S.2048-too-many.txt", 2048, ErrNoSummary, []bool{false}},
	{"constructed-hpl2.3-need-more.txt", 2, ErrNoSummary, []bool{false}},
}

// goldenDoc is what a .golden file holds: the results as JSON and the
// error text, so a change in either shows up in review.
type goldenDoc struct {
	Ranks   int      `json:"ranks"`
	Results []Result `json:"results"`
	Error   string   `json:"error,omitempty"`
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			results, err := ParseOutput(bytes.NewReader(data), tc.ranks)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("ParseOutput: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseOutput error = %v, want %v", err, tc.wantErr)
			}
			if len(results) != len(tc.valid) {
				t.Fatalf("got %d results, want %d", len(results), len(tc.valid))
			}
			for i, r := range results {
				if r.Valid != tc.valid[i] {
					t.Errorf("result %d: Valid = %v, want %v (reason %q)", i, r.Valid, tc.valid[i], r.InvalidReason)
				}
				if r.Valid != (r.InvalidReason == "") {
					t.Errorf("result %d: Valid = %v with reason %q", i, r.Valid, r.InvalidReason)
				}
			}
			doc := goldenDoc{Ranks: tc.ranks, Results: results}
			if err != nil {
				doc.Error = err.Error()
			}
			got, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, ".txt")+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run 'go test ./npb -run TestGolden -update' to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the parser's output (if the change is intended, rerun with -update):\ngot:\n%s", golden, got)
			}
		})
	}
}

// TestEveryTestdataFileHasAGoldenCase keeps new outputs from being
// dropped into testdata without being checked.
func TestEveryTestdataFileHasAGoldenCase(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, tc := range goldenCases {
		known[tc.file] = true
	}
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("%s has no entry in goldenCases", f)
		}
	}
}

// TestSamplesAreVerbatim checks the real outputs in testdata against the
// SHA-256 sums recorded in testdata/samples.sha256 when they were copied
// from the runs that produced them, so that no edit slips into them.
func TestSamplesAreVerbatim(t *testing.T) {
	sums, err := os.ReadFile(filepath.Join("testdata", "samples.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		want, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("testdata/samples.sha256: %q is not \"SUM  FILE\"", line)
		}
		listed[name] = true
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != want {
			t.Errorf("testdata/%s is no longer the verbatim sample: sha256 %s, recorded %s", name, got, want)
		}
	}
	for _, tc := range goldenCases {
		if !strings.HasPrefix(tc.file, "constructed-") && !listed[tc.file] {
			t.Errorf("testdata/%s is a real output but has no sum in testdata/samples.sha256", tc.file)
		}
	}
}

func TestNPBSampleFields(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "npb-cg.S.2.mpich.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseNPB(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	want := Result{Kind: KindNPB, Benchmark: "cg", Class: "S", Size: "1400", Iterations: 15,
		TimeSeconds: 0.22, TotalProcesses: 2, ActiveProcesses: 2, MopsTotal: 299.89, MopsPerProcess: 149.95,
		Verification: "SUCCESSFUL", Version: "3.4", Valid: true}
	if r.Kind != want.Kind || r.Benchmark != want.Benchmark || r.Class != want.Class || r.Size != want.Size ||
		r.Iterations != want.Iterations || r.TimeSeconds != want.TimeSeconds || r.TotalProcesses != want.TotalProcesses ||
		r.ActiveProcesses != want.ActiveProcesses || r.MopsTotal != want.MopsTotal || r.MopsPerProcess != want.MopsPerProcess ||
		r.Verification != want.Verification || r.Version != want.Version || r.Valid != want.Valid {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	if r.OperationType != "floating point" || r.CompileDate != "29 Nov 2026" {
		t.Errorf("operation type %q, compile date %q", r.OperationType, r.CompileDate)
	}
	if r.CompileOptions["FFLAGS"] != "-O3 -fallow-argument-mismatch" || r.CompileOptions["FLINK"] != "$(MPIFC)" || len(r.CompileOptions) != 7 {
		t.Errorf("compile options %v", r.CompileOptions)
	}
	name, v, higher := r.Metric()
	if name != "mops_total" || v != 299.89 || !higher {
		t.Errorf("Metric() = %s %v %v", name, v, higher)
	}
}

// npbBlock builds an NPB summary block in the 3.4 layout for table tests.
func npbBlock(name, procsLine, verification string, total int) string {
	return "\n\n " + name + " Benchmark Completed.\n" +
		" Class           =                        S\n" +
		" Size            =             12x  12x  12\n" +
		" Iterations      =                      100\n" +
		" Time in seconds =                     0.09\n" +
		" Total processes = " + pad(total) + "\n" +
		procsLine +
		" Mop/s total     =                   960.66\n" +
		" Mop/s/process   =                   480.33\n" +
		" Operation type  =           floating point\n" +
		" Verification    =             " + verification + "\n" +
		" Version         =                      3.4\n"
}

func pad(n int) string {
	b, _ := json.Marshal(n)
	return strings.Repeat(" ", 24-len(b)) + string(b)
}

func TestNPBInvalid(t *testing.T) {
	cases := []struct {
		name       string
		out        string
		ranks      int
		wantValid  bool
		wantReason string
		active     int
	}{
		{"square count", npbBlock("SP", " Active procs    =                        1\n", "  SUCCESSFUL", 2), 2, false,
			"1 of 2 processes active (SP/BT run on a square count)", 1},
		{"3.4.2 label", npbBlock("BT", " Active processes=                        1\n", "  SUCCESSFUL", 2), 2, false,
			"1 of 2 processes active (SP/BT run on a square count)", 1},
		{"active from warning only", " WARNING: Number of processes is not a square number (1 active)\n" +
			npbBlock("BT", "", "  SUCCESSFUL", 2), 2, false, "1 of 2 processes active", 1},
		{"compiled for other count", npbBlock("LU", " Compiled procs  =                        4\n", "  SUCCESSFUL", 2), 2, false,
			"binary compiled for 4 processes, run on 2", 4},
		{"unsuccessful", npbBlock("FT", " Active procs    =                        2\n", "UNSUCCESSFUL", 2), 2, false,
			"verification UNSUCCESSFUL", 2},
		{"unsuccessful with cause", " Will not verify: not a power of two\n" + npbBlock("FT", "", "UNSUCCESSFUL", 3), 3, false,
			"verification UNSUCCESSFUL: Will not verify: not a power of two", 0},
		{"other rank count", npbBlock("SP", " Active procs    =                        4\n", "  SUCCESSFUL", 4), 9, false,
			"NPB reports 4 processes but 9 ranks were launched", 4},
		{"ranks unknown", npbBlock("SP", " Active procs    =                        4\n", "  SUCCESSFUL", 4), 0, true, "", 4},
		{"ranks unknown, fewer active", npbBlock("MG", " Active procs    =                        2\n", "  SUCCESSFUL", 3), 0, false,
			"2 of 3 processes active (MG runs on a power-of-two count)", 2},
		{"truncated block", "\n BT Benchmark Completed.\n Class           =                        S\n", 1, false,
			`summary block lacks its "time in seconds" line`, 0},
		{"unreadable number", strings.Replace(npbBlock("SP", "", "  SUCCESSFUL", 1), "960.66", "********", 1), 1, false,
			`unreadable "Mop/s total" line`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseNPB(strings.NewReader(tc.out), tc.ranks)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 {
				t.Fatalf("%d results", len(rs))
			}
			r := rs[0]
			if r.Valid != tc.wantValid || !strings.Contains(r.InvalidReason, tc.wantReason) {
				t.Errorf("Valid=%v reason %q, want %v containing %q", r.Valid, r.InvalidReason, tc.wantValid, tc.wantReason)
			}
			if r.ActiveProcesses != tc.active {
				t.Errorf("ActiveProcesses = %d, want %d", r.ActiveProcesses, tc.active)
			}
			if r.Size != "12x12x12" && r.Size != "" {
				t.Errorf("Size = %q, want the grid without padding", r.Size)
			}
		})
	}
}

func TestNPBNoSummary(t *testing.T) {
	out := "\n NAS Parallel Benchmarks 3.4 -- IS Benchmark\n\n Size:  65536  (class S)\n Iterations:   10\n" +
		" Number of processes:     3\n ERROR: number of processes 3 is not a power of two\n"
	rs, err := ParseNPB(strings.NewReader(out), 3)
	if !errors.Is(err, ErrNoSummary) {
		t.Fatalf("err = %v, want ErrNoSummary", err)
	}
	if len(rs) != 1 || rs[0].Valid || rs[0].Benchmark != "is" || rs[0].Class != "S" || rs[0].TotalProcesses != 3 {
		t.Fatalf("got %+v", rs)
	}
	want := "no NPB summary block (crash or timeout?): ERROR: number of processes 3 is not a power of two"
	if rs[0].InvalidReason != want {
		t.Errorf("reason %q, want %q", rs[0].InvalidReason, want)
	}
	if name, _, _ := rs[0].Metric(); name != "" {
		t.Errorf("a run without summary has metric %q", name)
	}
}

func TestHPLInvalid(t *testing.T) {
	head := "HPLinpack 2.3  --  High-Performance Linpack benchmark  --   December 2, 2018\n" +
		"T/V                N    NB     P     Q               Time                 Gflops\n"
	line := "WR11C2R4        2000   128     1     2               1.33             4.0084e+00\n"
	pass := "||Ax-b||_oo/(eps*(||A||_oo*||x||_oo+||b||_oo)*N)=   3.40262780e-03 ...... PASSED\n"
	fail := "||Ax-b||_oo/(eps*(||A||_oo*||x||_oo+||b||_oo)*N)=   2.50000000e+01 ...... FAILED\n"
	nan := "||Ax-b||_oo/(eps*(||A||_oo*||x||_oo+||b||_oo)*N)=              nan ...... FAILED\n"
	cases := []struct {
		name, out  string
		ranks      int
		wantValid  []bool
		wantReason string
	}{
		{"passed", head + line + pass, 2, []bool{true}, ""},
		{"grid smaller than ranks", head + line + pass, 4, []bool{false}, "process grid P x Q = 1x2 = 2 but 4 ranks were launched"},
		{"failed", head + line + fail, 2, []bool{false}, "residual check FAILED (scaled residual 25)"},
		{"nan residual", head + line + nan, 2, []bool{false}, "scaled residual not a number"},
		{"no check", head + line, 2, []bool{false}, "no residual check after the result line"},
		{"second unchecked", head + line + pass + line, 2, []bool{true, false}, "no residual check"},
		{"old gflops style", head + "WR01C2L8      102144   192     1     2             514.92            9.79690e+02\n" + pass, 2, []bool{true}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseHPL(strings.NewReader(tc.out), tc.ranks)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(tc.wantValid) {
				t.Fatalf("%d results, want %d", len(rs), len(tc.wantValid))
			}
			for i, r := range rs {
				if r.Valid != tc.wantValid[i] {
					t.Errorf("result %d: Valid=%v reason %q", i, r.Valid, r.InvalidReason)
				}
			}
			last := rs[len(rs)-1]
			if !strings.Contains(last.InvalidReason, tc.wantReason) {
				t.Errorf("reason %q, want it to contain %q", last.InvalidReason, tc.wantReason)
			}
			if _, err := json.Marshal(rs); err != nil {
				t.Errorf("JSON: %v", err)
			}
		})
	}
}

func TestHPLFields(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "constructed-hpl2.1-1x2-on-4.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseHPL(f, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.N != 4000 || r.NB != 128 || r.P != 1 || r.Q != 2 || r.TimeSeconds != 5.12 || r.Gflops != 8.34521 ||
		r.Residual != 0.0037252 || !r.Passed || !r.Valid || r.Version != "2.1" || r.Variant != "WR11C2R4" {
		t.Errorf("got %+v", r)
	}
	if name, v, higher := r.Metric(); name != "gflops" || v != 8.34521 || !higher {
		t.Errorf("Metric() = %s %v %v", name, v, higher)
	}
}

func TestHPCCInvalid(t *testing.T) {
	summary := func(lines ...string) string {
		return "This is the DARPA/DOE HPC Challenge Benchmark version 1.5.0 October 2012\n" +
			"Begin of Summary section.\n" + strings.Join(lines, "\n") + "\nEnd of Summary section.\n"
	}
	cases := []struct {
		name, out  string
		ranks      int
		wantValid  bool
		wantReason string
	}{
		{"fine", summary("Success=1", "CommWorldProcs=2", "HPL_Tflops=0.001"), 2, true, ""},
		{"success 0", summary("Success=0", "CommWorldProcs=2"), 2, false, "HPCC reports Success=0"},
		{"no success", summary("CommWorldProcs=2"), 2, false, "summary lacks the Success key"},
		{"procs differ", summary("Success=1", "CommWorldProcs=2"), 4, false, "HPCC ran on 2 processes (CommWorldProcs) but 4 ranks were launched"},
		{"ranks unknown", summary("Success=1"), 0, true, ""},
		{"residual from norms", summary("Success=1", "CommWorldProcs=1", "HPL_RnormI=1e-8", "HPL_eps=1.11022e-16",
			"HPL_AnormI=522.676", "HPL_XnormI=4.05224", "HPL_BnormI=0.49996", "HPL_N=2000"), 1, false, "HPL residual check FAILED"},
		{"unterminated", "Begin of Summary section.\nSuccess=1\nCommWorldProcs=2\n", 2, false, "summary section has no \"End of Summary section.\" line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseHPCC(strings.NewReader(tc.out), tc.ranks)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[0]
			if r.Valid != tc.wantValid || !strings.Contains(r.InvalidReason, tc.wantReason) {
				t.Errorf("Valid=%v reason %q, want %v containing %q", r.Valid, r.InvalidReason, tc.wantValid, tc.wantReason)
			}
		})
	}
}

func TestHPCCSampleJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "hpccoutf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseOutput(bytes.NewReader(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Kind != KindHPCC || rs[0].Version != "1.5.0" {
		t.Fatalf("got %+v", rs)
	}
	b, err := json.Marshal(rs[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"kind": "hpcc", "HPL_Tflops": 0.0018469, "HPL_N": 2000.0, "CommWorldProcs": 2.0,
		"Success": 1.0, "VersionRelease": "f", "HPL_cpfact": "R", "StarSTREAM_Triad": 13.6217, "valid": true} {
		if m[k] != want {
			t.Errorf("JSON %s = %#v, want %#v", k, m[k], want)
		}
	}
	if !bytes.HasPrefix(b, []byte(`{"kind":"hpcc","benchmark":"hpcc","VersionMajor":1,`)) {
		t.Errorf("summary keys not in printed order: %.80s", b)
	}
	name, v, higher := rs[0].Metric()
	if name != "gflops" || math.Abs(v-1.8469) > 1e-9 || !higher {
		t.Errorf("Metric() = %s %v %v, want gflops 1.8469 true", name, v, higher)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range goldenCases {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		rs, _ := ParseOutput(bytes.NewReader(data), tc.ranks)
		for i, r := range rs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("%s result %d: %v", tc.file, i, err)
			}
			var back Result
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("%s result %d: %v", tc.file, i, err)
			}
			b2, err := json.Marshal(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Errorf("%s result %d: JSON changed on the way back:\n%s\n%s", tc.file, i, b, b2)
			}
			if back.Kind == KindHPCC && back.Version != r.Version {
				t.Errorf("%s: HPCC version %q came back as %q", tc.file, r.Version, back.Version)
			}
		}
	}
}

func TestNPBJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(Result{Kind: KindNPB})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"kind", "benchmark", "class", "size", "iterations", "time_s", "mops_total", "mops_per_process",
		"total_processes", "active_processes", "verification", "version", "valid", "invalid_reason"}
	if len(m) != len(want) {
		t.Errorf("NPB JSON has %d fields, want %d: %s", len(m), len(want), b)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("NPB JSON lacks %q: %s", k, b)
		}
	}
	b, err = json.Marshal(Result{Kind: KindHPL})
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "n", "nb", "p", "q", "time_s", "gflops", "residual", "passed", "valid", "invalid_reason"} {
		if _, ok := m[k]; !ok {
			t.Errorf("HPL JSON lacks %q: %s", k, b)
		}
	}
}

func TestNonFiniteNumbersStillMarshal(t *testing.T) {
	r := Result{Kind: KindHPL, Residual: math.Inf(1), Gflops: math.NaN()}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("Marshal: %v", err)
	}
	h := Result{Kind: KindHPCC, Summary: []SummaryField{{"x", math.NaN()}}}
	if _, err := json.Marshal(h); err != nil {
		t.Errorf("Marshal: %v", err)
	}
}

func TestDetectAndUnknown(t *testing.T) {
	for in, want := range map[string]OutputKind{
		" NAS Parallel Benchmarks 3.4 -- EP Benchmark\n": KindNPB,
		" IS Benchmark Completed\n":                      KindNPB,
		"HPLinpack 2.3  --  High-Performance Linpack\n":  KindHPL,
		"Begin of Summary section.\nSuccess=1\n":         KindHPCC,
		"hello\n":                                        "",
	} {
		if got := DetectKind([]byte(in)); got != want {
			t.Errorf("DetectKind(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := ParseOutput(strings.NewReader("Segmentation fault (core dumped)\n"), 2)
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("err = %v, want ErrUnknownFormat", err)
	}
	for _, p := range []func() error{
		func() error { _, err := ParseNPB(strings.NewReader("x"), 0); return err },
		func() error { _, err := ParseHPL(strings.NewReader("x"), 0); return err },
	} {
		if err := p(); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("err = %v, want ErrUnknownFormat", err)
		}
	}
	if _, err := ParseHPCC(strings.NewReader("x"), 0); !errors.Is(err, ErrNoSummary) {
		t.Errorf("ParseHPCC of nothing: err = %v, want ErrNoSummary", err)
	}
}

func TestParseFloatFortran(t *testing.T) {
	for in, want := range map[string]float64{
		"-3.247834652034487D+03": -3247.834652034487,
		"0.5307707005734E-04":    0.5307707005734e-4,
		"  299.89 ":              299.89,
		"1.2d2":                  120,
	} {
		got, err := parseFloat(in)
		if err != nil || got != want {
			t.Errorf("parseFloat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"********", "nan", "inf", "0x1p3", ""} {
		if _, err := parseFloat(in); err == nil {
			t.Errorf("parseFloat(%q) accepted", in)
		}
	}
}

func BenchmarkParseOutput(b *testing.B) {
	for _, name := range []string{"npb-cg.S.2.mpich.txt", "hpl-2000-1x2.txt", "hpccoutf.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ParseOutput(bytes.NewReader(data), 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
