package results

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// The flat decoders give what encoding/json gives, value and error alike,
// for the forms encodeRun writes and for those it does not.
func TestFlatDecodersMatchEncodingJSON(t *testing.T) {
	texts := []string{
		`[]`, `{}`, `["pmi1","pmi1"]`, `["a"]`, `[""]`, `["é ü"]`, `["x\"y"]`, `["\u003c"]`, `["a",1]`, `[1,2]`,
		`[0,-1,137]`, `[-0]`, `[01]`, `[+1]`, `[1.5]`, `[1e3]`, `[9223372036854775808]`, `[10240,10300]`,
		`{"network":"host","channel":"fd"}`, `{"a":"1","a":"2"}`, `{"k":1}`, `{"OMPI_MCA_btl":"self,vader"}`,
		`{"time_s":1.5,"mops_total":666.6666666666666,"valid":true,"n":null,"class":"S","bad":false}`,
		`{"x":-0.0,"y":1e-7,"z":2E+10,"w":123456789012345678901234567890}`,
		`{"x":01}`, `{"x":1.}`, `{"x":.5}`, `{"x":-}`, `{"x":1e}`, `{"x":[1]}`, `{"x":{"y":1}}`,
		`{"x":truex}`, `{"x":nul}`, `{"x":1,}`, `[1,]`, `[,]`, `{"x":1}x`, ` {"x":1}`, `{"x" : 1}`,
		`["a`, `[`, `{`, `"a"`, `null`, `{"a":"b\tc"}`, "{\"a\":\"b\tc\"}", "[\"\xff\"]", `{"":""}`,
	}
	for _, s := range texts {
		var gs, ws []string
		check(t, s, "[]string", decodeStrings(s, &gs), json.Unmarshal([]byte(s), &ws), gs, ws)
		var gi, wi []int
		check(t, s, "[]int", decodeInts(s, &gi), json.Unmarshal([]byte(s), &wi), gi, wi)
		var g64, w64 []int64
		check(t, s, "[]int64", decodeInts(s, &g64), json.Unmarshal([]byte(s), &w64), g64, w64)
		var gm, wm map[string]string
		check(t, s, "map[string]string", decodeStringMap(s, &gm), json.Unmarshal([]byte(s), &wm), gm, wm)
		var ga, wa map[string]any
		check(t, s, "map[string]any", decodeAnyMap(s, &ga), json.Unmarshal([]byte(s), &wa), ga, wa)
	}
	// What encodeRun writes for a full run reads back through both paths alike.
	r := testRun("s", Cell{Benchmark: "cg"}, 3, 1.25)
	r.Metrics["inf"] = math.Inf(1)
	r.Env["PATH"] = "/usr/bin:/bin"
	r.Argv = append(r.Argv, "--flag=<x>&y")
	enc, err := encodeRun(&r)
	if err != nil {
		t.Fatal(err)
	}
	var js [7]string
	copy(js[:], []string{enc[24].(string), enc[28].(string), enc[29].(string), enc[30].(string), enc[31].(string), enc[32].(string), enc[33].(string)})
	var fast, slow Run
	if err := decodeJSONColumns(&fast, &js); err != nil {
		t.Fatal(err)
	}
	for i, dst := range []any{&slow.Metrics, &slow.NegotiatedPMI, &slow.ExitCodes, &slow.PeakRSSKiB, &slow.Choices, &slow.Env, &slow.Argv} {
		if err := json.Unmarshal([]byte(js[i]), dst); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("columns %q:\nflat decoders %+v\nencoding/json %+v", js, fast, slow)
	}
}

func check(t *testing.T, s, typ string, gotErr, wantErr error, got, want any) {
	t.Helper()
	if (gotErr != nil) != (wantErr != nil) {
		t.Errorf("%s into %s: error %v, encoding/json's %v", s, typ, gotErr, wantErr)
		return
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Errorf("%s into %s: %#v, encoding/json gives %#v", s, typ, got, want)
	}
}
