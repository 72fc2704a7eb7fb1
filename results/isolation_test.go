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

func TestSharedMemoryLine(t *testing.T) {
	var p Provenance
	for _, r := range []*Run{
		{Cell: Cell{Runtime: "charliecloud", MPI: "mpich"}, Choices: map[string]string{"shm": "shared", "cma": "available (measured: process_vm_readv between two ranks)"}},
		{Cell: Cell{Runtime: "charliecloud+isolated", MPI: "mpich"}, Choices: map[string]string{"shm": "isolated", "cma": "unavailable: process_vm_readv: operation not permitted"}},
		{Cell: Cell{Runtime: "native", MPI: "mpich"}},
		{Cell: Cell{Runtime: "docker", MPI: "mpich"}}, // stored before shm was recorded
	} {
		p.add(r)
	}
	want := "charliecloud mpich: shared, CMA available; charliecloud+isolated mpich: isolated, CMA unavailable"
	if got := p.SharedMemoryLine(); got != want {
		t.Errorf("SharedMemoryLine = %q, want %q", got, want)
	}
}
