package configs

import (
	"fmt"
	"time"

	"github.com/hpcbench/hpcbench/pmi"
)

// Config is a parsed and validated matrix config. Defaults are filled in
// (see README.md for every key); Load and Parse never return a Config that
// failed validation.
type Config struct {
	// File is the path the config was read from, or a name for one given
	// as text; errors and provenance use it.
	File string `toml:"-" json:"file"`
	// Source is the config's text, stored verbatim as provenance.
	Source []byte `toml:"-" json:"-"`

	Study      Study       `toml:"study" json:"study"`
	Matrix     Matrix      `toml:"matrix" json:"matrix"`
	Benchmarks []Benchmark `toml:"benchmark" json:"benchmarks"`
	Runtimes   []Runtime   `toml:"runtime" json:"runtimes"`
	// Slurm is set for a study run through Slurm across nodes.
	Slurm *Slurm `toml:"slurm" json:"slurm,omitempty"`

	lines *lineIndex
}

// Study holds the settings of the whole study.
type Study struct {
	Name        string `toml:"name" json:"name"`
	Description string `toml:"description" json:"description,omitempty"`
	// Seed makes the randomised order of runs reproducible; 0 (or absent)
	// derives one from Name.
	Seed int64 `toml:"seed" json:"seed"`
	// Repetitions are measured runs per cell (default 5); with
	// repetitions = "auto" (AutoRepetitions) the measured runs every cell
	// starts with, MinRepetitions. Warmup runs per cell come first and are
	// not counted (default 1).
	Repetitions int `toml:"-" json:"repetitions"`
	Warmup      int `toml:"warmup" json:"warmup"`
	// RepetitionsKey is the repetitions key as written: a count or "auto".
	RepetitionsKey RepetitionsSetting `toml:"repetitions" json:"-"`
	// AutoRepetitions (repetitions = "auto") lets the executor add
	// interleaved rounds of runs, after MinRepetitions, to the cells whose
	// comparisons are still undecided or whose ratio's 95% interval is
	// wider than +-TargetCI, until every one is decided, MaxRepetitions is
	// reached or the study's runs have taken Budget.
	AutoRepetitions bool `toml:"-" json:"auto_repetitions,omitempty"`
	// MinRepetitions (default 5, at least 3) and MaxRepetitions (default
	// 30) bound the measured runs per cell of an adaptive study.
	MinRepetitions int `toml:"min_repetitions" json:"min_repetitions,omitempty"`
	MaxRepetitions int `toml:"max_repetitions" json:"max_repetitions,omitempty"`
	// TargetCI is the half-width of the relative performance's 95%
	// interval, as a fraction of the ratio, that an adaptive study aims
	// for (default 0.01, 0 < t < 0.5).
	TargetCI float64 `toml:"target_ci" json:"target_ci,omitempty"`
	// Budget caps the wall time of an adaptive study's runs (warm-ups
	// included, summed over every session of a resumed study): no round is
	// started once it is spent. 0 (or absent) sets no cap.
	Budget Duration `toml:"budget" json:"budget,omitempty"`
	// Timeout bounds one run of one cell (default 10m).
	Timeout Duration `toml:"timeout" json:"timeout"`
	// Order is "random" (default: interleave cells in an order drawn from
	// Seed, to spread drift) or "sequential" (file order).
	Order string `toml:"order" json:"order"`
	// Oversubscribe allows more ranks than cores; such cells are marked.
	Oversubscribe bool `toml:"oversubscribe" json:"oversubscribe"`
	// Bind is "none" (default) or "core" (rank r pinned to core r mod cores).
	Bind string `toml:"bind" json:"bind"`
	// Env is added to every rank's environment.
	Env map[string]string `toml:"env" json:"env,omitempty"`
	// BLASThreads is the number of BLAS threads per rank of HPL and HPCC
	// cells (OPENBLAS_NUM_THREADS and OMP_NUM_THREADS, over any env key
	// setting them); 0 (or absent) keeps what env says, else 1.
	BLASThreads int `toml:"blas_threads" json:"blas_threads,omitempty"`
	// Margin is the practical margin m of the verdicts (default 0.02,
	// 0 < m < 0.5): a container is called slower or faster only beyond
	// 1 -+ m relative performance, and equivalent when its interval lies
	// within it. "hpcbench results" reads it back from the stored config.
	Margin float64 `toml:"margin" json:"margin"`
	// MinRunTime is the benchmark time under which a run is flagged as
	// measuring launch noise rather than the benchmark (default 1s).
	MinRunTime Duration `toml:"min_run_time" json:"min_run_time"`
	// NPBDir is the folder {dir} stands for in NPB binary templates
	// (default "npb/kernels/build", the project's own kernels). Relative
	// paths are relative to the folder hpcbench runs in.
	NPBDir string `toml:"npb_dir" json:"npb_dir"`
	// Keyring is an OpenPGP public keyring file (armored or binary): the
	// verify of every apptainer runtime that names none. Relative paths
	// are relative to the folder hpcbench runs in.
	Keyring string `toml:"keyring" json:"keyring,omitempty"`
	// RequireSigned runs no image that is not checked: an Apptainer SIF
	// must verify against its runtime's keyring (verify, else Keyring,
	// one of which is then required), and a Docker, Podman or OCI image
	// must be pinned to its digest (NAME@sha256:HEX). The cells of any
	// other image are skipped with the reason.
	RequireSigned bool `toml:"require_signed" json:"require_signed,omitempty"`
}

// Matrix holds the axes every benchmark is crossed with, unless a
// benchmark overrides them.
type Matrix struct {
	MPI   []string      `toml:"mpi" json:"mpi"`     // default ["mpich", "openmpi"]
	PMI   []pmi.Flavour `toml:"pmi" json:"pmi"`     // default ["pmi1", "pmi2", "pmix"]
	Ranks []int         `toml:"ranks" json:"ranks"` // required
}

// Kind is what sort of program a benchmark is.
type Kind string

const (
	KindNPB     Kind = "npb"     // an NAS Parallel Benchmark
	KindHPL     Kind = "hpl"     // HPL's xhpl, given an HPL.dat
	KindHPCC    Kind = "hpcc"    // the HPC Challenge suite (Debian's hpcc), given an hpccinf.txt
	KindCommand Kind = "command" // any MPI program, given as an argv
)

// Benchmark is one [[benchmark]] entry. NPB entries with several names are
// split into one entry per name when loaded.
type Benchmark struct {
	Kind Kind `toml:"kind" json:"kind"`
	// Name is the NPB benchmark (ep, is, cg, mg, ft, lu, sp, bt), the
	// command's name; for hpl and hpcc it defaults to the kind.
	Name string `toml:"name" json:"name"`
	// Names lists several NPB benchmarks sharing the other settings.
	Names []string `toml:"names" json:"-"`
	// Label names the benchmark in results; it defaults to Name and must
	// be unique in the study.
	Label string `toml:"label" json:"label"`
	// Classes are NPB classes (S, W, A, B, C, D, E, F).
	Classes []string `toml:"classes" json:"classes,omitempty"`
	// Binary is the executable, a template with {dir}, {mpi}, {name},
	// {class} and {ranks}. Defaults: npb "{dir}/{mpi}/{name}", hpl
	// "xhpl", hpcc "hpcc". A name without a slash is looked up in PATH.
	Binary string `toml:"binary" json:"binary"`
	// Dir overrides Study.NPBDir for {dir}.
	Dir string `toml:"dir" json:"dir,omitempty"`
	// Args follow the binary (templates like Binary).
	Args []string `toml:"args" json:"args,omitempty"`
	// Argv is a command's full command line (templates like Binary).
	Argv []string `toml:"argv" json:"argv,omitempty"`
	// CheckBinary (default true) skips cells whose binary is not on this
	// host; set false for a binary that exists only inside the image.
	CheckBinary *bool `toml:"check_binary" json:"check_binary,omitempty"`

	// HPL and HPCC problem: N, or MemFraction of the memory for the
	// matrix (8 N^2 bytes); NB (default 128); P x Q grid (default the most
	// square grid with P <= Q for each rank count).
	N           int     `toml:"n" json:"n,omitempty"`
	MemFraction float64 `toml:"mem_fraction" json:"mem_fraction,omitempty"`
	NB          int     `toml:"nb" json:"nb,omitempty"`
	P           int     `toml:"p" json:"p,omitempty"`
	Q           int     `toml:"q" json:"q,omitempty"`

	// Overrides of the matrix axes and study settings for this benchmark.
	MPI         []string          `toml:"mpi" json:"mpi,omitempty"`
	PMI         []pmi.Flavour     `toml:"pmi" json:"pmi,omitempty"`
	Ranks       []int             `toml:"ranks" json:"ranks,omitempty"`
	Runtimes    []string          `toml:"runtimes" json:"runtimes,omitempty"` // runtime labels
	Env         map[string]string `toml:"env" json:"env,omitempty"`
	Timeout     Duration          `toml:"timeout" json:"timeout,omitempty"`
	Repetitions *int              `toml:"repetitions" json:"repetitions,omitempty"`
	Warmup      *int              `toml:"warmup" json:"warmup,omitempty"`

	// source is the index of the [[benchmark]] entry this came from.
	source int
}

// Layout is how ranks are placed in containers.
type Layout string

const (
	LayoutNone    Layout = ""         // native: no container
	LayoutPerRank Layout = "per-rank" // one container per rank, launched by hpcbench on the host
	LayoutPerNode Layout = "per-node" // one container per node holding all its ranks, hpcbench inside it
	LayoutBind    Layout = "bind"     // per-rank, with the host's MPI libraries bind-mounted in
)

// Runtime is one [[runtime]] entry.
type Runtime struct {
	// Name is native, docker, podman, apptainer, singularity or oci (an
	// OCI runtime-spec bundle run by crun or runc).
	Name string `toml:"name" json:"name"`
	// Label names the entry in results (default Name); two entries of
	// one runtime (other images or flags) need different labels.
	Label string `toml:"label" json:"label"`
	// Image is what the runtime runs: an image reference (docker, podman),
	// a SIF file or docker-daemon:// reference (apptainer), a bundle or
	// rootfs folder (oci), or the name of an image "hpcbench image build"
	// made. {mpi} stands for the cell's MPI ("hpcbench-{mpi}"), since an
	// image holds one MPI library. Required except for native.
	Image string `toml:"image" json:"image,omitempty"`
	// Flags are passed to the runtime's run command as they are.
	Flags []string `toml:"flags" json:"flags,omitempty"`
	// Layouts to measure (default ["per-rank"]; native has none).
	Layouts []Layout `toml:"layouts" json:"layouts,omitempty"`
	// Command is the runtime's executable (default: docker, podman,
	// apptainer, singularity; for oci crun, else runc).
	Command string `toml:"command" json:"command,omitempty"`
	// Env is added to the ranks' environment in this runtime.
	Env map[string]string `toml:"env" json:"env,omitempty"`
	// Isolation is how much of the host the containers share: "private"
	// (the default for container runtimes) or "host".
	Isolation string `toml:"isolation" json:"isolation,omitempty"`
	// Shm are the shared-memory modes to measure, a matrix axis:
	// "shared" (the default: the ranks' containers share memory) and
	// "isolated" (none shared: the MPI uses its network path). Cells of
	// isolated ranks are labelled LABEL+isolated. Container runtimes
	// only.
	Shm []string `toml:"shm" json:"shm,omitempty"`
	// PassEnv are glob patterns of further host variables the container
	// ranks get, beyond the allow-list (PMI, MPI, UCX, ... and env).
	PassEnv []string `toml:"pass_env" json:"pass_env,omitempty"`
	// Verify is an OpenPGP public keyring file (apptainer and singularity
	// only): the SIF must carry a valid signature by one of its keys, or
	// its cells are skipped. Docker, Podman and OCI images are pinned by
	// digest in Image instead (NAME@sha256:HEX).
	Verify string `toml:"verify" json:"verify,omitempty"`
}

// Shared-memory modes of a container runtime (see runtimes.Shm).
const (
	ShmShared   = "shared"
	ShmIsolated = "isolated"
)

// ShmLabel is the runtime label of cells run in shm mode: the label
// itself for the default, shared, and LABEL+isolated otherwise, so that
// the two modes are compared side by side as runtimes.
func ShmLabel(label, shm string) string {
	if shm == "" || shm == ShmShared {
		return label
	}
	return label + "+" + shm
}

// Isolations of a container runtime (see runtimes.Isolation).
const (
	IsolationPrivate = "private"
	IsolationHost    = "host"
)

// Slurm holds the batch settings of a study run through Slurm.
type Slurm struct {
	Partition string `toml:"partition" json:"partition,omitempty"`
	Account   string `toml:"account" json:"account,omitempty"`
	// Nodes per job (default 1); a cell's ranks are spread evenly.
	Nodes int `toml:"nodes" json:"nodes"`
	// Time is the job's limit in Slurm's format ("30", "1:00:00", "1-12:00:00").
	Time string `toml:"time" json:"time,omitempty"`
	// Modules are loaded ("module load ...") before anything runs.
	Modules []string `toml:"modules" json:"modules,omitempty"`
	// Prologue is shell run in the job before the cells.
	Prologue string `toml:"prologue" json:"prologue,omitempty"`
	// CPUBind is srun's --cpu-bind (none, cores, threads, sockets, rank,
	// map_cpu:..., mask_cpu:...).
	CPUBind string `toml:"cpu_bind" json:"cpu_bind,omitempty"`
	// SbatchFlags are extra sbatch options, as they are.
	SbatchFlags []string `toml:"sbatch_flags" json:"sbatch_flags,omitempty"`
}

// Duration is a time.Duration written as a string ("90s", "10m", "1h30m").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// RepetitionsSetting is the [study] repetitions key: a count of measured
// runs, or the word "auto".
type RepetitionsSetting struct {
	Count int
	Auto  bool
}

// errRepetitionsValue is what a repetitions key of another type is told.
var errRepetitionsValue = fmt.Errorf("%w: want a number of runs or \"auto\"", ErrInvalid)

// UnmarshalTOML accepts an integer or "auto".
func (r *RepetitionsSetting) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		r.Count = int(x)
		return nil
	case string:
		if x == "auto" {
			r.Auto = true
			return nil
		}
		return fmt.Errorf("%q: %w", x, errRepetitionsValue)
	}
	return fmt.Errorf("%v: %w", v, errRepetitionsValue)
}
