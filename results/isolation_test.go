package results

import "testing"

func TestIsolationLine(t *testing.T) {
	var p Provenance
	if got := p.IsolationLine(); got != "" {
		t.Errorf("no runs: %q, want none", got)
	}
	for _, r := range []*Run{
		{Cell: Cell{Runtime: "oci"}, Choices: map[string]string{"isolation": "host"}},
		{Cell: Cell{Runtime: "docker"}, Choices: map[string]string{"isolation": "private"}},
		{Cell: Cell{Runtime: "docker"}, Choices: map[string]string{"isolation": "host"}},
		{Cell: Cell{Runtime: "native"}},
		{Cell: Cell{Runtime: "podman"}}, // stored before isolation was recorded
	} {
		p.add(r)
	}
	if got, want := p.IsolationLine(), "docker host and private, oci host"; got != want {
		t.Errorf("IsolationLine = %q, want %q", got, want)
	}
}
