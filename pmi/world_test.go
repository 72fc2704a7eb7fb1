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

// GuardWorld records RequireWorld's verdict in the report of a launch
// that succeeded, and leaves failed launches alone.
func TestGuardWorld(t *testing.T) {
	silent := &Report{JobID: "x", Ranks: 3, Negotiated: []string{"pmi1", "", ""}, FailedRank: -1}
	if err := GuardWorld(silent, PMI1); !errors.Is(err, ErrSingleton) {
		t.Errorf("GuardWorld = %v", err)
	}
	if silent.OK() || silent.Failure != FailureSingleton || silent.FailedRank != 1 || silent.ExitStatus != 1 ||
		!strings.Contains(silent.Reason, "rank(s) 1, 2 of 3") {
		t.Errorf("report %+v", silent)
	}
	mixed := &Report{JobID: "x", Ranks: 2, Negotiated: []string{"pmi2", "pmi1"}, FailedRank: -1}
	if err := GuardWorld(mixed, PMI2); !errors.Is(err, ErrPMIMismatch) || mixed.Failure != FailurePMIMismatch || mixed.FailedRank != 1 {
		t.Errorf("GuardWorld = %v, report %+v", err, mixed)
	}
	failed := &Report{JobID: "x", Ranks: 2, Negotiated: []string{"", ""}, Reason: "rank 0 exited with code 3", Failure: FailureExit, ExitStatus: 3}
	if err := GuardWorld(failed, PMI1); err != nil || failed.Reason != "rank 0 exited with code 3" || failed.ExitStatus != 3 {
		t.Errorf("a failed launch: %v, report %+v", err, failed)
	}
	ok := &Report{JobID: "x", Ranks: 2, Negotiated: []string{"pmi1", "pmi1"}}
	if err := GuardWorld(ok, PMI1); err != nil || !ok.OK() {
		t.Errorf("a good launch: %v, report %+v", err, ok)
	}
}
