package runtimes

import (
	"fmt"
	"strings"

	"github.com/hpcbench/hpcbench/pmi"
)

// Shm is whether a job's per-rank containers share memory with one
// another, a choice every container runtime offers and records (choice
// "shm"), so that a study can show what isolating the ranks costs:
//
//	shared (default)  the ranks reach each other's shared memory: Docker
//	                  and Podman --ipc host (or the host's /dev/shm), the
//	                  OCI bundles' host /dev/shm, Apptainer's default,
//	                  Charliecloud's --join (one container per node).
//	isolated          no shared memory between the ranks' containers: an
//	                  IPC namespace and /dev/shm of their own where the
//	                  runtime has them (Docker/Podman --ipc private, OCI
//	                  bundles, Apptainer --ipc), one container per rank for
//	                  Charliecloud, and the MPI told to use its network
//	                  path (MPICH: MPIR_CVAR_NOLOCAL=1 and UCX over TCP only;
//	                  Open MPI: the ob1 PML with the self and tcp BTLs).
//
// The per-node layout holds all of a node's ranks in one container, which
// always shares memory.
type Shm string

const (
	// ShmShared lets the ranks' containers share memory.
	ShmShared Shm = "shared"
	// ShmIsolated keeps them apart: the MPI falls back to its network path.
	ShmIsolated Shm = "isolated"
)

// Shms are the shm modes a config may give.
var Shms = []Shm{ShmShared, ShmIsolated}

// ParseShm accepts a shm mode as written in configs and flags; "" is the
// default, shared.
func ParseShm(s string) (Shm, error) {
	switch m := Shm(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ShmShared, nil
	case ShmShared, ShmIsolated:
		return m, nil
	}
	return "", fmt.Errorf("shm %q: want shared or isolated", s)
}

// shmOf is spec's shm mode, shared when unset.
func shmOf(spec Spec) Shm {
	if spec.Shm == "" {
		return ShmShared
	}
	return spec.Shm
}

// isolatedShmEnv are the variables that keep mpi's ranks off shared
// memory, so that isolated ranks talk over the network path instead of
// failing (MPICH would hang or fail in MPI_Init looking for its peers'
// segments).
func isolatedShmEnv(mpi string) []string {
	if mpi == "openmpi" {
		return []string{"OMPI_MCA_pml=ob1", "OMPI_MCA_btl=self,tcp"}
	}
	return []string{"MPIR_CVAR_NOLOCAL=1", "UCX_TLS=tcp"}
}

// withShmEnv adds, in isolated mode, isolatedShmEnv to a rank's
// environment (all of them cross into containers: see allowedEnvPrefixes).
func withShmEnv(env []string, spec Spec, job pmi.Job) []string {
	if shmOf(spec) != ShmIsolated {
		return env
	}
	return append(append([]string(nil), env...), isolatedShmEnv(mpiOf(spec, job))...)
}

// shmChoices records spec's shm mode, what enforces it, and whether
// cross-memory attach (CMA: process_vm_readv between ranks, Open MPI's
// single copy) is open to the ranks, as their namespaces and capabilities
// decide it: cma says which.
func shmChoices(c map[string]string, spec Spec, how, cma string) {
	c["shm"] = string(shmOf(spec))
	c["shm_how"] = how
	if shmOf(spec) == ShmIsolated {
		c["shm_transport"] = strings.Join(isolatedShmEnv(mpiOf(spec, pmi.Job{})), " ")
	}
	c["cma"] = cma
}
