package runtimes

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Isolation is how much of the host a container rank shares. Whatever
// the isolation, a rank sees only the allow-listed environment (see
// forwardedEnv) and only its working folder (and hpcbench's PMIx folder)
// writable; the isolation decides the namespaces, capabilities and
// devices:
//
//	private (default)  Docker/Podman per-rank: the job's ranks share one pid
//	                   namespace of their own (held by a pause container),
//	                   SYS_PTRACE for the MPIs' single-copy transfers
//	                   between the job's ranks; Apptainer as root: no
//	                   capabilities (--no-privs), no host home; OCI
//	                   bundles: the job's own pid namespace, a seccomp
//	                   filter (letting the single-copy calls through), a
//	                   minimal /dev. Ranks started by srun tasks keep the
//	                   host's pid namespace (Spec.HostPID).
//	host               the host's pid namespace and SYS_PTRACE for every
//	                   rank, Apptainer's default capabilities, the host's
//	                   /dev and no seccomp filter for OCI bundles: the flags
//	                   hpcbench used before isolation was a choice.
//
// Both keep the host's network (PMI over loopback, MPI's TCP) and IPC
// namespace with /dev/shm (shared memory between the ranks' containers,
// which MPICH and Open MPI need).
type Isolation string

const (
	// IsolationPrivate keeps the ranks out of the host's processes.
	IsolationPrivate Isolation = "private"
	// IsolationHost shares the host's pid namespace, devices and the
	// runtime's default capabilities.
	IsolationHost Isolation = "host"
)

// Isolations are the isolation names a config may give.
var Isolations = []Isolation{IsolationPrivate, IsolationHost}

// ErrIsolation: an isolation name or pass_env pattern is not valid.
var ErrIsolation = errors.New("invalid isolation setting")

// ParseIsolation accepts an isolation as written in configs and flags; ""
// is the default, private.
func ParseIsolation(s string) (Isolation, error) {
	switch i := Isolation(strings.ToLower(strings.TrimSpace(s))); i {
	case "":
		return IsolationPrivate, nil
	case IsolationPrivate, IsolationHost:
		return i, nil
	}
	return "", fmt.Errorf("%w: isolation %q: want private or host", ErrIsolation, s)
}

// isolationOf is spec's isolation, private when unset.
func isolationOf(spec Spec) Isolation {
	if spec.Isolation == "" {
		return IsolationPrivate
	}
	return spec.Isolation
}

// CheckPassEnv validates pass_env patterns: each is a variable name or a
// glob of one ("MYAPP_*", "FOO_?"), in path.Match syntax.
func CheckPassEnv(patterns []string) error {
	for _, p := range patterns {
		if p == "" || strings.ContainsAny(p, "=/ \t\n") {
			return fmt.Errorf("%w: pass_env %q: want a variable name or a glob such as \"MYAPP_*\"", ErrIsolation, p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%w: pass_env %q: %v", ErrIsolation, p, err)
		}
	}
	return nil
}

// allowedEnv are the variables every container rank gets: what the
// launcher sets (PMI_*, PMIX_*), what MPI libraries, their transports and
// the kernels read, and the basic paths and locale.
var allowedEnv = map[string]bool{
	"PATH": true, "LD_LIBRARY_PATH": true, "TMPDIR": true, "LANG": true, "TZ": true,
	// The kernels' extra iterations (npb/kernels/src/npbcommon.c).
	"HPCBENCH_KERNEL_EXTRA": true,
}

// allowedEnvPrefixes: PMI and PMIx (the launcher's own, PMI_ID tokens
// included), MPICH, Open MPI and its layers, UCX, libfabric, OpenBLAS,
// OpenMP, locale.
var allowedEnvPrefixes = []string{
	"PMI_", "PMIX_",
	"MPICH_", "MPIR_CVAR_",
	"OMPI_", "OPAL_", "PRTE_",
	"UCX_", "FI_", "OPENBLAS_", "OMP_", "GOMP_", "LC_",
}

// envAllowed says whether variable name may cross into a container, given
// the extra patterns of the config (pass_env, and the cell's own env).
func envAllowed(name string, passEnv []string) bool {
	if allowedEnv[name] {
		return true
	}
	for _, p := range allowedEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, p := range passEnv {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// forwardedEnv returns the names of the variables of env a container rank
// gets, sorted: those of the allow-list (allowedEnv, allowedEnvPrefixes)
// and those matching passEnv. The rest of the launching process's
// environment (tokens, keys, the session's settings) stays on the host.
func forwardedEnv(env []string, passEnv []string) []string {
	seen := map[string]bool{}
	var names []string
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || seen[k] || !envAllowed(k, passEnv) {
			continue
		}
		seen[k] = true
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// isolationChoice records spec's isolation and the environment policy
// among a wrapper's choices.
func isolationChoice(c map[string]string, spec Spec) {
	c["isolation"] = string(isolationOf(spec))
	c["env"] = "allow-list (PMI, PMIx, MPI, UCX, libfabric, OpenBLAS, OpenMP, the cell's env)"
	if len(spec.PassEnv) > 0 {
		c["pass_env"] = strings.Join(spec.PassEnv, " ")
	}
}

// bindSet merges the folders a container binds: writable ones (the
// run's working folder, hpcbench's PMIx folder, a report's folder) and
// read-only ones (the program's folder, MPI libraries). A read-only folder
// inside a writable one is covered by it; a writable one inside a
// read-only one is bound on its own, after it. It returns the binds in
// mount order and the read-only set.
func bindSet(readOnly, writable []string) ([]string, map[string]bool) {
	rw := normalizeBinds(writable)
	inside := func(p string, set []string) bool {
		for _, s := range set {
			if p == s || strings.HasPrefix(p, s+"/") {
				return true
			}
		}
		return false
	}
	ro := map[string]bool{}
	var binds []string
	for _, p := range normalizeBinds(readOnly) {
		if !inside(p, rw) {
			ro[p] = true
			binds = append(binds, p)
		}
	}
	binds = append(binds, rw...)
	// Sorted, a folder comes before every folder inside it.
	sort.Strings(binds)
	return binds, ro
}
