// Package results stores what hpcbench measured and reads it back: one
// SQLite file (pure-Go driver, WAL) holding studies, hosts, one row per
// repetition of every cell, and the cells that were skipped with their
// reasons. It also summarises runs per cell, compares container cells with
// their native counterparts, and imports and exports runs as JSON or CSV.
//
// The record types here are flat and deliberately independent of the
// config, launcher and parser packages: the matrix executor maps its cells,
// launch reports and parsed results onto them and calls
//
//	st, _ := results.Open("hpcbench.db")
//	st.CreateStudy(ctx, results.Study{Name: ..., Config: ..., Seed: ...})
//	done, _ := st.Done(ctx, study, hostname) // --resume: what to skip
//	st.AddRun(ctx, results.Run{...})          // one per repetition, committed at once
//	st.AddRuns(ctx, runs)                     // many, in one transaction
//	st.AddSkip(ctx, results.Skip{...})        // an impossible cell, with its reason
//
// A launcher report (pmi.Report) maps onto a Run as Wall, WireUp,
// FirstFence, ContainerStart, PMIExchange, NegotiatedPMI (Negotiated), ExitCodes and PeakRSSKiB, with
// its Settings merged into Env; a failed launch is StatusFailed (or
// StatusTimeout) with the report's Reason, and a run whose output the
// parser judged invalid is StatusInvalid with the parser's reason.
//
// Every write is its own short transaction, so a killed matrix loses only
// the run in flight, and two processes may write to one file at once. An
// imported file or a collected Slurm job, whose runs are on disk already,
// is stored in one transaction (Store.Batch, Store.AddRuns): whole, or
// not at all.
package results

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is how a run ended.
type Status string

const (
	StatusOK      Status = "ok"      // ran, exited 0 and verified
	StatusInvalid Status = "invalid" // ran to the end but its output is not a valid result (verification failed, wrong rank count)
	StatusFailed  Status = "failed"  // a rank failed or the launch could not start
	StatusTimeout Status = "timeout" // killed after the cell's time limit
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusOK, StatusInvalid, StatusFailed, StatusTimeout:
		return true
	}
	return false
}

// Study is one named matrix run: a config, its seed and the hpcbench that ran it.
type Study struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Seed    int64     `json:"seed"`
	// Config is the matrix config's text, stored verbatim for provenance.
	Config string `json:"config,omitempty"`
	// ConfigSHA256 is filled in by CreateStudy from Config.
	ConfigSHA256 string `json:"config_sha256,omitempty"`
	Version      string `json:"hpcbench_version"`
}

// Host is the machine a run ran on.
type Host struct {
	Hostname    string `json:"hostname"`
	CPUModel    string `json:"cpu_model"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
}

// Cell is what one launch of one benchmark was: the matrix axes.
type Cell struct {
	// Key identifies the cell within its study (the executor's key; resume
	// matches on it). Statistics group on the fields, not on Key.
	Key            string `json:"cell_key"`
	Benchmark      string `json:"benchmark"` // "cg", "ep", "hpl", ...
	Kind           string `json:"kind"`      // "npb", "hpl", "hpcc", "kernel"
	Class          string `json:"class"`     // NPB class, or a size label for HPL
	MPI            string `json:"mpi"`
	MPIVersion     string `json:"mpi_version"`
	PMI            string `json:"pmi"` // the flavour the cell asked for
	Runtime        string `json:"runtime"`
	RuntimeVersion string `json:"runtime_version"`
	Image          string `json:"image"`
	ImageDigest    string `json:"image_digest"`
	// ImageVerification is what checking the image found before it ran:
	// "verified FINGERPRINT (Name <email>)", "pinned digest matched",
	// "unsigned", "signed, not verified (by FINGERPRINT)", "unverified"
	// (nothing was asked of it); "" for native runs and runs stored before
	// hpcbench recorded it.
	ImageVerification string `json:"image_verification,omitempty"`
	Layout            string `json:"layout"` // "per-rank", "per-node", "bind"; "" for native
	Ranks             int    `json:"ranks"`
	Bind              string `json:"bind"`
	Oversubscribed    bool   `json:"oversubscribed"`
}

// IsNative reports whether the cell ran without a container runtime.
func (c Cell) IsNative() bool { return c.Runtime == "" || c.Runtime == "native" }

// CanonicalKey is a readable key made from the fields that define a cell
// (not the versions and digests that describe it). Statistics group runs
// by it; the executor may use it as Key too.
func (c Cell) CanonicalKey() string {
	parts := []string{
		"benchmark=" + c.Benchmark,
		"class=" + c.Class,
		"runtime=" + orNative(c.Runtime),
	}
	if c.Layout != "" {
		parts = append(parts, "layout="+c.Layout)
	}
	parts = append(parts, "mpi="+c.MPI, "pmi="+c.PMI, "ranks="+strconv.Itoa(c.Ranks))
	if c.Bind != "" && c.Bind != "none" {
		parts = append(parts, "bind="+c.Bind)
	}
	if c.Oversubscribed {
		parts = append(parts, "oversubscribed")
	}
	if c.Kind != "" {
		parts = append(parts, "kind="+c.Kind)
	}
	return strings.Join(parts, ",")
}

// Label is a short human name of the cell's runtime side, e.g.
// "docker per-rank pmi1" or "native pmix".
func (c Cell) Label() string { return c.label(false) }

// label is Label, with withMPI the cell's MPI (unless it has none) before
// its PMI flavour: "docker per-rank mpich pmi1".
func (c Cell) label(withMPI bool) string {
	s := orNative(c.Runtime)
	if c.Layout != "" && !c.IsNative() {
		s += " " + c.Layout
	}
	if withMPI && c.MPI != "" && c.MPI != "none" {
		s += " " + c.MPI
	}
	if c.PMI != "" {
		s += " " + c.PMI
	}
	return s
}

func orNative(runtime string) string {
	if runtime == "" {
		return "native"
	}
	return runtime
}

// Metric is a run's headline number.
type Metric struct {
	Name           string  `json:"metric"`
	Value          float64 `json:"value"`
	Unit           string  `json:"unit"`
	HigherIsBetter bool    `json:"higher_is_better"`
}

// Run is one repetition of one cell: what it measured and where it came from.
type Run struct {
	ID         int64  `json:"id,omitempty"` // assigned by the store
	Study      string `json:"study"`
	Host       Host   `json:"host"`
	Cell       Cell   `json:"cell"`
	Repetition int    `json:"repetition"`
	Warmup     bool   `json:"warmup"`

	Status Status `json:"status"`
	// Reason says why a run is not ok ("verification UNSUCCESSFUL",
	// "rank 1 exited 137", "timeout after 10m0s").
	Reason string `json:"reason,omitempty"`

	Metric Metric `json:"metric"`
	// Metrics are all the numbers the parser found (time_s, mops_total, gflops, ...).
	Metrics map[string]any `json:"metrics,omitempty"`

	Wall       time.Duration `json:"wall_ns"`
	WireUp     time.Duration `json:"wireup_ns"`
	FirstFence time.Duration `json:"first_fence_ns"`
	// ContainerStart and PMIExchange split the wire-up (pmi.Report's
	// fields of the same names): the slowest rank's spawn to its first
	// PMI message, and every rank speaking to the first fence done. 0
	// when not measured (runs stored before they were, imported logs).
	ContainerStart time.Duration `json:"container_start_ns,omitempty"`
	PMIExchange    time.Duration `json:"pmi_exchange_ns,omitempty"`
	// NegotiatedPMI is the PMI version each rank spoke.
	NegotiatedPMI []string `json:"negotiated_pmi,omitempty"`
	ExitCodes     []int    `json:"exit_codes,omitempty"`
	PeakRSSKiB    []int64  `json:"peak_rss_kib,omitempty"`

	// Choices are what the runtime adapter chose (network, ipc, pid, pmi channel, ...).
	Choices map[string]string `json:"choices,omitempty"`
	// Env holds the environment that matters (OMPI_MCA_*, MPIR_CVAR_*,
	// UCX_*, FI_*, OPENBLAS_*, OMP_*) and the settings hpcbench added.
	Env  map[string]string `json:"env,omitempty"`
	Argv []string          `json:"argv,omitempty"`
	// Output is the raw benchmark output; stored gzip-compressed. Runs
	// read back without output have it nil.
	Output []byte `json:"output,omitempty"`

	Started    time.Time `json:"started"`
	Finished   time.Time `json:"finished"`
	SlurmJobID string    `json:"slurm_job_id,omitempty"`
	// Order is the run's position in the study's randomised schedule;
	// Seed the seed that produced the schedule.
	Order int   `json:"order"`
	Seed  int64 `json:"seed"`
}

// Skip is a cell that was not run, and why.
type Skip struct {
	Study  string `json:"study"`
	Host   string `json:"host"`
	Cell   Cell   `json:"cell"`
	Reason string `json:"reason"`
}

// DoneKey names a stored repetition: what --resume must not run again.
type DoneKey struct {
	CellKey    string
	Repetition int
	Warmup     bool
}

// StudyInfo is a study with counts of what it holds.
type StudyInfo struct {
	Study
	Runs    int
	OK      int
	Invalid int
	Failed  int
	Timeout int
	Skipped int
	Hosts   int
}

// EnvWorthKeeping reports whether an environment variable belongs in a
// run's provenance.
func EnvWorthKeeping(name string) bool {
	for _, p := range []string{"OMPI_MCA_", "MPIR_CVAR_", "UCX_", "FI_", "OPENBLAS_", "OMP_", "PMIX_MCA_", "HPCBENCH_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// FilterEnv keeps the environment entries ("K=V") worth recording.
func FilterEnv(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && EnvWorthKeeping(k) {
			out[k] = v
		}
	}
	return out
}

func (r *Run) validate() error {
	switch {
	case r.Study == "":
		return fmt.Errorf("run has no study")
	case r.Host.Hostname == "":
		return fmt.Errorf("run of cell %q has no host name", r.Cell.Key)
	case r.Cell.Key == "":
		return fmt.Errorf("run of %s has no cell key", r.Cell.CanonicalKey())
	case !r.Status.Valid():
		return fmt.Errorf("run of cell %q: unknown status %q (want ok, invalid, failed or timeout)", r.Cell.Key, r.Status)
	}
	return nil
}

// ParseCellSpec reads cell fields written as "key=value,key=value" (the
// --cell flag of "hpcbench results import"). Keys are the JSON names of
// Cell's fields: benchmark, kind, class, mpi, mpi_version, pmi, runtime,
// runtime_version, image, image_digest, image_verification, layout, ranks, bind,
// oversubscribed, cell_key.
func ParseCellSpec(spec string) (Cell, error) {
	var c Cell
	if strings.TrimSpace(spec) == "" {
		return c, nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return c, fmt.Errorf("cell spec %q: %q is not key=value", spec, kv)
		}
		v = strings.TrimSpace(v)
		var err error
		switch strings.TrimSpace(k) {
		case "benchmark":
			c.Benchmark = v
		case "kind":
			c.Kind = v
		case "class":
			c.Class = v
		case "mpi":
			c.MPI = v
		case "mpi_version":
			c.MPIVersion = v
		case "pmi":
			c.PMI = v
		case "runtime":
			c.Runtime = v
		case "runtime_version":
			c.RuntimeVersion = v
		case "image":
			c.Image = v
		case "image_digest":
			c.ImageDigest = v
		case "image_verification":
			c.ImageVerification = v
		case "layout":
			c.Layout = v
		case "bind":
			c.Bind = v
		case "cell_key", "key":
			c.Key = v
		case "ranks":
			c.Ranks, err = strconv.Atoi(v)
			if err == nil && c.Ranks < 1 {
				err = fmt.Errorf("must be at least 1")
			}
		case "oversubscribed":
			c.Oversubscribed, err = strconv.ParseBool(v)
		default:
			return c, fmt.Errorf("cell spec %q: unknown key %q (known: benchmark, kind, class, mpi, mpi_version, pmi, runtime, runtime_version, image, image_digest, image_verification, layout, ranks, bind, oversubscribed, cell_key)", spec, k)
		}
		if err != nil {
			return c, fmt.Errorf("cell spec %q: %s=%q: %w", spec, k, v, err)
		}
	}
	return c, nil
}
