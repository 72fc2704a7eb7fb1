package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcbench/hpcbench/cmd/hpcbench/internal/launchcli"
)

func TestParseVerb(t *testing.T) {
	td := filepath.Join("..", "..", "npb", "testdata")
	files := []string{
		filepath.Join(td, "npb-cg.S.2.mpich.txt"),
		filepath.Join(td, "constructed-npb3.4-cg.A.2-killed.txt"),
		filepath.Join(td, "constructed-hpl2.3-2x2.txt"),
		filepath.Join(td, "no-such-file.txt"),
	}
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	// Flags after the files, as users type them.
	args, err := launchcli.ReorderArgs(app, append(append([]string{"hpcbench", "parse"}, files...), "--ranks", "2"))
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(args)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 files could not be parsed") {
		t.Fatalf("err = %v, want 2 of 4 files failing", err)
	}
	for _, want := range []string{"constructed-npb3.4-cg.A.2-killed.txt: no benchmark result in output: CG A: no NPB summary block (crash or timeout?)",
		"no-such-file.txt: open "} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	var kinds, valid []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		kinds = append(kinds, m["kind"].(string)+"/"+m["benchmark"].(string))
		if m["valid"] == true {
			valid = append(valid, "y")
		} else {
			valid = append(valid, "n")
		}
	}
	// cg (valid), the killed cg (invalid, still printed), two HPL lines on
	// a 2x2 grid with 2 ranks launched (invalid).
	if got := strings.Join(kinds, " "); got != "npb/cg npb/cg hpl/hpl hpl/hpl" {
		t.Errorf("results %s", got)
	}
	if got := strings.Join(valid, ""); got != "ynnn" {
		t.Errorf("valid flags %s", got)
	}
}

func TestParseVerbUsage(t *testing.T) {
	app := newApp()
	app.Writer, app.ErrWriter = &bytes.Buffer{}, &bytes.Buffer{}
	err := app.Run([]string{"hpcbench", "parse"})
	var ee *exitError
	if err == nil || !strings.Contains(err.Error(), "no FILE given") {
		t.Fatalf("err = %v", err)
	}
	if e, ok := err.(*exitError); ok {
		ee = e
	}
	if ee == nil || ee.Code != 2 {
		t.Errorf("want a usage error (exit 2), got %#v", err)
	}
}
