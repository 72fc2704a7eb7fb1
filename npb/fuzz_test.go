package npb

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The parsers read whatever a crashed or interleaved run left behind, so
// they must never panic and must always return results that can be stored:
// marshalable, with Valid and InvalidReason agreeing. Seeds are the
// testdata outputs plus the committed corpora in testdata/fuzz/.

func addSeeds(f *testing.F, prefixes ...string) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		base := filepath.Base(name)
		keep := false
		for _, p := range prefixes {
			keep = keep || strings.Contains(base, p)
		}
		if !keep {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Coverage-guided fuzzing crawls on inputs of many kilobytes; the
		// end of an output holds the summary the parsers look for.
		if len(data) > maxSeedBytes {
			data = data[len(data)-maxSeedBytes:]
		}
		f.Add(data, 2)
	}
}

const maxSeedBytes = 4096

func checkResults(t *testing.T, rs []Result) {
	t.Helper()
	for i, r := range rs {
		if r.Valid != (r.InvalidReason == "") {
			t.Fatalf("result %d: Valid=%v with reason %q", i, r.Valid, r.InvalidReason)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("result %d: Marshal: %v", i, err)
		}
		var back Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("result %d: Unmarshal of %s: %v", i, b, err)
		}
		_, _, _ = r.Metric()
	}
}

func FuzzParseNPB(f *testing.F) {
	addSeeds(f, "npb")
	f.Fuzz(func(t *testing.T, data []byte, ranks int) {
		rs, _ := ParseNPB(bytes.NewReader(data), ranks)
		checkResults(t, rs)
	})
}

func FuzzParseHPL(f *testing.F) {
	addSeeds(f, "hpl")
	f.Fuzz(func(t *testing.T, data []byte, ranks int) {
		rs, _ := ParseHPL(bytes.NewReader(data), ranks)
		checkResults(t, rs)
	})
}

func FuzzParseHPCC(f *testing.F) {
	addSeeds(f, "hpcc")
	f.Fuzz(func(t *testing.T, data []byte, ranks int) {
		rs, _ := ParseHPCC(bytes.NewReader(data), ranks)
		checkResults(t, rs)
	})
}

func FuzzParseOutput(f *testing.F) {
	addSeeds(f, "npb", "hpl", "hpcc")
	f.Fuzz(func(t *testing.T, data []byte, ranks int) {
		rs, err := ParseOutput(bytes.NewReader(data), ranks)
		if err == nil && len(rs) == 0 {
			t.Fatal("no error and no result")
		}
		checkResults(t, rs)
	})
}
