package pmi

import (
	"errors"
	"strings"
	"testing"
)

func TestRequireWorld(t *testing.T) {
	ok := &Report{JobID: "x", Ranks: 2, Negotiated: []string{"pmi1", "pmi1"}}
	if err := RequireWorld(ok, ""); err != nil {
		t.Error(err)
	}
	if err := RequireWorld(ok, PMI1); err != nil {
		t.Error(err)
	}
	if err := RequireWorld(nil, PMI1); err != nil {
		t.Errorf("nil report: %v", err)
	}
	bad := &Report{JobID: "x", Ranks: 3, Negotiated: []string{"pmi1", "", "pmi1"}}
	if err := RequireWorld(bad, ""); !errors.Is(err, ErrSingleton) || !strings.Contains(err.Error(), "rank(s) 1 of 3") {
		t.Errorf("RequireWorld with a silent rank = %v", err)
	}
	short := &Report{JobID: "x", Ranks: 2, Negotiated: []string{"pmi2"}}
	if err := RequireWorld(short, PMI2); !errors.Is(err, ErrSingleton) || !strings.Contains(err.Error(), "rank(s) 1 of 2") {
		t.Errorf("RequireWorld with a rank missing from Negotiated = %v", err)
	}
	mixed := &Report{JobID: "x", Ranks: 2, Negotiated: []string{"pmi2", "pmi1"}}
	if err := RequireWorld(mixed, PMI2); !errors.Is(err, ErrPMIMismatch) || !strings.Contains(err.Error(), "rank(s) 1 (pmi1) of 2") {
		t.Errorf("RequireWorld with a pmi1 rank in a pmi2 job = %v", err)
	}
}
