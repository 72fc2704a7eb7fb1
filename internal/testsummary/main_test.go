package main

import (
	"bufio"
	"strings"
	"testing"
)

// stream is a shortened `go test -json` run: one package with a pass, a
// skip and a failed subtest, one package that does not build.
const stream = `{"Action":"start","Package":"example/a"}
{"Action":"run","Package":"example/a","Test":"TestPass"}
{"Action":"output","Package":"example/a","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"pass","Package":"example/a","Test":"TestPass","Elapsed":0}
{"Action":"run","Package":"example/a","Test":"TestSkip"}
{"Action":"output","Package":"example/a","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"output","Package":"example/a","Test":"TestSkip","Output":"    a_test.go:9: mpicc not found (install libmpich-dev)\n"}
{"Action":"skip","Package":"example/a","Test":"TestSkip","Elapsed":0}
{"Action":"run","Package":"example/a","Test":"TestParent"}
{"Action":"run","Package":"example/a","Test":"TestParent/child"}
{"Action":"output","Package":"example/a","Test":"TestParent/child","Output":"    a_test.go:20: got 1, want 2\n"}
{"Action":"fail","Package":"example/a","Test":"TestParent/child","Elapsed":0}
{"Action":"fail","Package":"example/a","Test":"TestParent","Elapsed":0}
{"Action":"output","Package":"example/a","Output":"FAIL\n"}
{"Action":"output","Package":"example/a","Output":"FAIL\texample/a\t0.01s\n"}
{"Action":"fail","Package":"example/a","Elapsed":0.01}
{"ImportPath":"example/b","Action":"build-output","Output":"b/b.go:3:1: syntax error\n"}
{"ImportPath":"example/b","Action":"build-fail"}
{"Action":"output","Package":"example/b","Output":"FAIL\texample/b [build failed]\n"}
{"Action":"fail","Package":"example/b","Elapsed":0,"FailedBuild":"example/b"}
`

func run(t *testing.T, input string, requireAll bool) (string, bool) {
	t.Helper()
	var out strings.Builder
	s := newTally(&out)
	sc := bufio.NewScanner(strings.NewReader(input))
	for sc.Scan() {
		s.line(sc.Bytes())
	}
	ok := s.finish(requireAll)
	return out.String(), ok
}

func TestSummary(t *testing.T) {
	out, ok := run(t, stream, false)
	if ok {
		t.Error("a stream with failures was reported a success")
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 3 failed, 1 skipped" {
		t.Errorf("closing line %q, want %q\n%s", last, "1 passed, 3 failed, 1 skipped", out)
	}
	for _, want := range []string{
		"--- FAIL: example/a TestParent/child\n        a_test.go:20: got 1, want 2\n",
		"FAIL\texample/a\t0.01s\n",
		"b/b.go:3:1: syntax error\n",
		"example/a TestSkip: mpicc not found (install libmpich-dev)\n",
		"packages that failed outside a test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRequireModeFailsOnSkip(t *testing.T) {
	var passAndSkip strings.Builder
	for _, l := range strings.SplitAfter(stream, "\n") {
		if strings.Contains(l, `"TestPass"`) || strings.Contains(l, `"TestSkip"`) {
			passAndSkip.WriteString(l)
		}
	}
	passAndSkip.WriteString(`{"Action":"pass","Package":"example/a","Elapsed":0.01}` + "\n")
	if out, ok := run(t, passAndSkip.String(), false); !ok || !strings.HasSuffix(out, "\n1 passed, 0 failed, 1 skipped\n") {
		t.Errorf("without require mode: ok = %v, want true; output:\n%s", ok, out)
	}
	out, ok := run(t, passAndSkip.String(), true)
	if ok || !strings.Contains(out, "not allowed with HPCBENCH_REQUIRE_ALL=1") || !strings.Contains(out, "example/a TestSkip") {
		t.Errorf("in require mode: ok = %v, want false with the skipped test named; output:\n%s", ok, out)
	}
}

func TestEmptyStreamFails(t *testing.T) {
	if out, ok := run(t, "", false); ok {
		t.Errorf("an empty stream was reported a success:\n%s", out)
	}
}
