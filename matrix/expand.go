package matrix

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/pmi"
)

// Cell is one launch of one benchmark: a point of the matrix plus the
// repetition, with every option resolved.
type Cell struct {
	// Benchmark is the benchmark's label, unique in the study (by default
	// its name: "ep", "hpl", a command's name).
	Benchmark string `json:"benchmark"`
	// Name is what runs: the NPB benchmark ("ep"), "hpl", "hpcc", or the
	// command's name. Parsers choose on Kind and Name.
	Name  string       `json:"name"`
	Kind  configs.Kind `json:"kind"`
	Class string       `json:"class,omitempty"` // NPB class; "" otherwise
	// MPI is "mpich", "openmpi", or "none" for a command that speaks PMI
	// without an MPI library.
	MPI string      `json:"mpi"`
	PMI pmi.Flavour `json:"pmi"`
	// MPIBuild is the MPICH build whose PMI layer is the cell's flavour
	// (hpcbench's builds, inventory.MPIBuild): its lib folder goes first on
	// the ranks' loader path, so one binary linked against Debian's MPICH
	// runs on it. nil runs the MPI library as installed.
	MPIBuild *mpibuild.Build `json:"mpi_build,omitempty"`
	// Runtime is native, docker, podman, apptainer, singularity or oci;
	// RuntimeLabel the [[runtime]] entry's label (by default the same).
	Runtime      string `json:"runtime"`
	RuntimeLabel string `json:"runtime_label"`
	// RuntimeCommand is the runtime's executable when the config names
	// one ("" means the adapter's default).
	RuntimeCommand string   `json:"runtime_command,omitempty"`
	RuntimeFlags   []string `json:"runtime_flags,omitempty"`
	// Isolation is the runtime entry's isolation ("private", "host"; ""
	// for native) and PassEnv its pass_env patterns.
	Isolation string   `json:"isolation,omitempty"`
	PassEnv   []string `json:"pass_env,omitempty"`
	// Shm is the shared-memory mode of the cell's containers ("shared",
	// "isolated"; "" for native): runtime.shm, an axis. Isolated cells'
	// RuntimeLabel is the entry's label plus "+isolated" (configs.ShmLabel).
	Shm string `json:"shm,omitempty"`
	// Image is the runtime entry's image, {mpi} filled in; NAME@sha256:HEX
	// pins it to a digest (see Resolver).
	Image string `json:"image,omitempty"`
	// Verify is the keyring file the image's SIF signature is verified
	// against (the runtime's verify, else study.keyring; Apptainer only),
	// and RequireSigned is study.require_signed: see Resolver.
	Verify        string         `json:"verify,omitempty"`
	RequireSigned bool           `json:"require_signed,omitempty"`
	Layout        configs.Layout `json:"layout,omitempty"` // "" for native
	Ranks         int            `json:"ranks"`
	// Repetition counts from 1 among the warm-up runs (Warmup true) and
	// again from 1 among the measured runs.
	Repetition int  `json:"repetition"`
	Warmup     bool `json:"warmup,omitempty"`

	// Binary is the resolved executable (relative to the working folder,
	// or a name looked up in PATH); Argv is Binary plus its arguments.
	Binary string   `json:"binary"`
	Argv   []string `json:"argv"`
	// Env is study env, then benchmark env, then runtime env (later wins).
	Env     map[string]string `json:"env,omitempty"`
	Timeout time.Duration     `json:"timeout_ns"`
	Bind    string            `json:"bind"`
	// Oversubscribed is set when the cell has more ranks than the node
	// has cores (allowed by study.oversubscribe); such results are marked.
	Oversubscribed bool `json:"oversubscribed,omitempty"`
	// HPL is the HPL or HPCC problem (N, NB, P x Q). N is 0 when it is to
	// be derived from HPLMemFraction and the inventory knew no memory size.
	HPL            *npb.HPLInput `json:"hpl,omitempty"`
	HPLMemFraction float64       `json:"hpl_mem_fraction,omitempty"`
	// BLASThreads is study.blas_threads for HPL and HPCC cells (0: not
	// set); the executor turns it into OPENBLAS_NUM_THREADS and
	// OMP_NUM_THREADS.
	BLASThreads int `json:"blas_threads,omitempty"`
}

// Key identifies the cell within its study, without the repetition: the
// store matches it to resume. It is the same text as results.Cell's
// CanonicalKey for the same fields, with the benchmark's and runtime's
// labels: "benchmark=ep,class=S,runtime=docker,layout=per-rank,mpi=mpich,pmi=pmi1,ranks=2,kind=npb".
func (c Cell) Key() string {
	parts := []string{
		"benchmark=" + c.Benchmark,
		"class=" + c.Class,
		"runtime=" + c.RuntimeLabel,
	}
	if c.Layout != configs.LayoutNone {
		parts = append(parts, "layout="+string(c.Layout))
	}
	parts = append(parts, "mpi="+c.MPI, "pmi="+string(c.PMI), "ranks="+strconv.Itoa(c.Ranks))
	if c.Bind != "" && c.Bind != "none" {
		parts = append(parts, "bind="+c.Bind)
	}
	if c.Oversubscribed {
		parts = append(parts, "oversubscribed")
	}
	return strings.Join(append(parts, "kind="+string(c.Kind)), ",")
}

// RunID identifies one run: Key plus "warmup=N" or "rep=N".
func (c Cell) RunID() string {
	if c.Warmup {
		return c.Key() + ",warmup=" + strconv.Itoa(c.Repetition)
	}
	return c.Key() + ",rep=" + strconv.Itoa(c.Repetition)
}

// IsNative reports whether the cell runs without a container.
func (c Cell) IsNative() bool { return c.Runtime == "native" }

// Skipped is a combination of the matrix that cannot run, and why.
type Skipped struct {
	Cell   Cell   `json:"cell"` // Repetition 0
	Reason string `json:"reason"`
	// Err wraps one of the ErrSkip* sentinels.
	Err error `json:"-"`
	// Runs is how many runs the cell would have had, warm-ups included
	// (0 where not known): what a study misses without it.
	Runs int `json:"runs,omitempty"`
}

// Why a combination is skipped.
var (
	ErrSkipLayout = errors.New("layout not supported by the runtime")
	// ErrSkipShm: the per-node layout holds all of a node's ranks in one
	// container, whose memory they always share.
	ErrSkipShm   = errors.New("shm mode does not apply to the layout")
	ErrSkipPMI   = errors.New("MPI does not speak the PMI flavour")
	ErrSkipRanks = errors.New("benchmark cannot run on this rank count")
	ErrSkipCores = errors.New("more ranks than cores")
	// ErrSkipMaxRanks: more ranks than one launch may start on this node
	// (see MaxRanks).
	ErrSkipMaxRanks = errors.New("more ranks than a launch may start")
	ErrSkipRuntime  = errors.New("runtime unavailable")
	ErrSkipMPI      = errors.New("MPI not installed")
	ErrSkipBinary   = errors.New("binary not found")
	// ErrSkipUnknown: a probe the cell depends on timed out, so whether it
	// can run here is unknown (inventory.ErrProbeTimedOut). Such a cell
	// is not recorded as skipped: it is left for a later detection, and a
	// --resume runs it (Skipped.Retry).
	ErrSkipUnknown = errors.New("not decided")
)

// Retry reports whether the cell was left out only because detection
// could not tell (ErrSkipUnknown): it is not a skip to record, and the
// study is not complete without it.
func (s Skipped) Retry() bool { return errors.Is(s.Err, ErrSkipUnknown) }

// layoutsOf says which layouts each runtime supports.
func layoutsOf(runtime string) []configs.Layout {
	if runtime == "native" {
		return []configs.Layout{configs.LayoutNone}
	}
	return configs.Layouts
}

// Expand crosses every benchmark with its classes, runtimes, layouts, MPI
// libraries, PMI flavours and rank counts, and repeats each cell (warm-up
// runs first, then the measured ones). Combinations that cannot run
// become Skipped, once per cell, with the reason:
//
//   - a layout the runtime does not support (native has none);
//   - an MPI with a PMI flavour it does not speak (as detected, else
//     what Debian 12's packages speak: MPICH PMI-1, Open MPI PMIx);
//   - an NPB rank count the benchmark cannot use (npb.CheckRanks), an
//     HPL grid p x q that is not the rank count;
//   - more ranks than one launch may start (local studies; see MaxRanks);
//   - more ranks than cores without study.oversubscribe (local studies);
//   - a runtime, MPI or binary this node does not have;
//   - a runtime or MPI whose probe timed out (ErrSkipUnknown: not
//     decided, see Skipped.Retry).
//
// With a nil inventory the checks that need the node (cores, installed
// runtimes and MPI, binaries) are left out: the result is what the config
// means on a node that has everything.
//
// Cells come in config order: benchmark, class, runtime, layout, MPI,
// PMI, ranks, then repetition; shuffling is the scheduler's business.
func Expand(cfg *configs.Config, inv *inventory.Inventory) (cells []Cell, skipped []Skipped) {
	return expand(cfg, inv, MaxRanks(inv, 0), nil)
}

// MaxRanks is the ceiling on the ranks of one local launch that a plan
// checks its cells against: override when above 0 (hpcbench matrix
// --max-ranks), else pmi.MaxRanksPerCore per core of the node (inv; 0,
// no ceiling, without an inventory that knows the cores).
func MaxRanks(inv *inventory.Inventory, override int) int {
	switch {
	case override > 0:
		return override
	case inv != nil && inv.Host.Cores > 0:
		return pmi.MaxRanksPerCore * inv.Host.Cores
	}
	return 0
}

// expand is Expand with the ceiling on ranks per launch (0: none) and the
// folders of the project's kernels by MPI (kernelDirs), which replace the
// default npb_dir for that MPI's cells.
func expand(cfg *configs.Config, inv *inventory.Inventory, maxRanks int, kernelDirs map[string]string) (cells []Cell, skipped []Skipped) {
	s := cfg.Study
	for _, b := range cfg.Benchmarks {
		classes := b.Classes
		if len(classes) == 0 {
			classes = []string{""}
		}
		mpis, pmis, ranks := or(b.MPI, cfg.Matrix.MPI), or(b.PMI, cfg.Matrix.PMI), or(b.Ranks, cfg.Matrix.Ranks)
		reps, warm := s.Repetitions, s.Warmup
		if b.Repetitions != nil {
			reps = *b.Repetitions
		}
		if b.Warmup != nil {
			warm = *b.Warmup
		}
		timeout := s.Timeout.Duration
		if b.Timeout.Duration > 0 {
			timeout = b.Timeout.Duration
		}
		dir := s.NPBDir
		if b.Dir != "" {
			dir = b.Dir
		}
		for _, class := range classes {
			for _, rt := range cfg.Runtimes {
				if len(b.Runtimes) > 0 && !slices.Contains(b.Runtimes, rt.Label) {
					continue
				}
				shms := rt.Shm
				if len(shms) == 0 {
					shms = []string{""}
				}
				for _, layout := range rt.Layouts {
					for _, shm := range shms {
						for _, mpi := range mpis {
							dir := dir
							if kd, ok := kernelDirs[mpi]; ok && b.Dir == "" && b.Kind == configs.KindNPB {
								dir = kd
							}
							for _, flavour := range pmis {
								for _, n := range ranks {
									c := Cell{
										Benchmark: b.Label, Name: b.Name, Kind: b.Kind, Class: class,
										MPI: mpi, PMI: flavour, MPIBuild: inv.MPIBuild(mpi, flavour),
										Runtime: rt.Name, RuntimeLabel: configs.ShmLabel(rt.Label, shm), RuntimeCommand: rt.Command,
										RuntimeFlags: rt.Flags, Image: strings.ReplaceAll(rt.Image, "{mpi}", mpi), Layout: layout,
										Isolation: rt.Isolation, PassEnv: rt.PassEnv, Shm: shm,
										Verify: rt.Verify, RequireSigned: s.RequireSigned && rt.Name != "native",
										Ranks: n, Timeout: timeout, Bind: s.Bind,
										Env: mergeEnv(s.Env, b.Env, rt.Env),
									}
									fill := func(t string) string {
										return strings.NewReplacer("{dir}", dir, "{mpi}", mpi, "{name}", b.Name,
											"{class}", class, "{ranks}", strconv.Itoa(n)).Replace(t)
									}
									c.Binary = fill(b.Binary)
									c.Argv = []string{c.Binary}
									for _, a := range b.Args {
										c.Argv = append(c.Argv, fill(a))
									}
									if b.Kind == configs.KindHPL || b.Kind == configs.KindHPCC {
										c.HPL, c.HPLMemFraction = hplProblem(b, n, inv)
										c.BLASThreads = s.BLASThreads
									}
									if err := check(cfg, b, &c, inv, maxRanks); err != nil {
										skipped = append(skipped, Skipped{Cell: c, Reason: err.Error(), Err: err, Runs: warm + reps})
										continue
									}
									for r := 1; r <= warm; r++ {
										w := c
										w.Repetition, w.Warmup = r, true
										cells = append(cells, w)
									}
									for r := 1; r <= reps; r++ {
										m := c
										m.Repetition = r
										cells = append(cells, m)
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return cells, skipped
}

func or[T any](override, base []T) []T {
	if override != nil {
		return override
	}
	return base
}

func mergeEnv(envs ...map[string]string) map[string]string {
	var out map[string]string
	for _, e := range envs {
		for k, v := range e {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func hplProblem(b configs.Benchmark, ranks int, inv *inventory.Inventory) (*npb.HPLInput, float64) {
	in := &npb.HPLInput{N: b.N, NB: b.NB, P: b.P, Q: b.Q}
	if in.P == 0 {
		in.P, in.Q = npb.Grid(ranks)
	}
	if b.MemFraction > 0 {
		if inv != nil && inv.Host.MemoryBytes > 0 {
			in.N = npb.NFromMemory(inv.Host.MemoryBytes, b.MemFraction, in.NB)
		}
		return in, b.MemFraction
	}
	return in, 0
}

// check returns why cell c cannot run, or nil. The order puts what no node
// could run before what this node lacks.
func check(cfg *configs.Config, b configs.Benchmark, c *Cell, inv *inventory.Inventory, maxRanks int) error {
	if err := undecided(c, inv); err != nil {
		// Before the PMI check, which for an MPI not found falls back to
		// what Debian's package speaks.
		return err
	}
	if c.Shm == configs.ShmIsolated && c.Layout == configs.LayoutPerNode {
		return fmt.Errorf("%w: per-node runs the node's ranks in one container, which always shares memory", ErrSkipShm)
	}
	if !slices.Contains(layoutsOf(c.Runtime), c.Layout) {
		if c.Runtime == "native" {
			return fmt.Errorf("%w: native runs no container, so layout %s does not apply", ErrSkipLayout, c.Layout)
		}
		return fmt.Errorf("%w: %s does not support layout %s", ErrSkipLayout, c.Runtime, c.Layout)
	}
	if c.MPI != configs.MPINone {
		flavours, detected := inv.PMIOf(c.MPI)
		if !slices.Contains(flavours, c.PMI) {
			how := "as detected on this node"
			if m := inv.FindMPI(c.MPI); detected && m != nil && m.EvidenceFor(c.PMI) != "" {
				// The evidence for the flavour asked for, not for another.
				how = m.EvidenceFor(c.PMI)
			} else if !detected {
				how = "as Debian 12's package does; not detected here"
			}
			return fmt.Errorf("%w: %s speaks %s, not %s (%s)", ErrSkipPMI, c.MPI, flavourList(flavours), c.PMI, how)
		}
	}
	switch b.Kind {
	case configs.KindNPB:
		if err := npb.CheckRanks(c.Name, c.Ranks); err != nil {
			return fmt.Errorf("%w: %v", ErrSkipRanks, err)
		}
	case configs.KindHPL, configs.KindHPCC:
		if c.HPL.P*c.HPL.Q != c.Ranks {
			return fmt.Errorf("%w: HPL grid p x q = %d x %d needs %d ranks, not %d", ErrSkipRanks, c.HPL.P, c.HPL.Q, c.HPL.P*c.HPL.Q, c.Ranks)
		}
	}
	if cfg.Slurm == nil && maxRanks > 0 && c.Ranks > maxRanks {
		// Even oversubscribed: this many processes at once would fill the
		// node rather than measure it. Slurm starts its own ranks.
		return fmt.Errorf("%w: %d ranks, more than the %d one launch may start on this node (%d per core; hpcbench matrix --max-ranks raises it)",
			ErrSkipMaxRanks, c.Ranks, maxRanks, pmi.MaxRanksPerCore)
	}
	if inv == nil {
		return nil
	}
	if cores := inv.Host.Cores; cfg.Slurm == nil && cores > 0 && c.Ranks > cores {
		if !cfg.Study.Oversubscribe {
			return fmt.Errorf("%w: %d ranks on %d cores (set oversubscribe = true in [study] to run it anyway, marked as oversubscribed)", ErrSkipCores, c.Ranks, cores)
		}
		c.Oversubscribed = true
	}
	if _, _, err := inv.RuntimeStatusCommand(c.Runtime, c.RuntimeCommand); err != nil {
		if errors.Is(err, inventory.ErrProbeTimedOut) {
			return fmt.Errorf("%w: %w", ErrSkipUnknown, err)
		}
		return fmt.Errorf("%w: %v", ErrSkipRuntime, err)
	}
	if c.MPI != configs.MPINone {
		if m := inv.FindMPI(c.MPI); m == nil || !m.Found {
			hint := ""
			if m != nil && m.Hint != "" {
				hint = " (" + m.Hint + ")"
			}
			return fmt.Errorf("%w: %s is not installed on this node%s", ErrSkipMPI, c.MPI, hint)
		}
	}
	if b.CheckBinary == nil || *b.CheckBinary {
		if err := binaryExists(c.Binary); err != nil {
			return fmt.Errorf("%w: %v", ErrSkipBinary, err)
		}
	}
	return nil
}

// undecided returns an error wrapping ErrSkipUnknown when the probe of
// cell c's MPI timed out, nil otherwise (and always without an inventory).
func undecided(c *Cell, inv *inventory.Inventory) error {
	if c.MPI == configs.MPINone {
		return nil
	}
	if m := inv.FindMPI(c.MPI); m != nil {
		if err := m.UnknownError(); err != nil {
			return fmt.Errorf("%w: %w", ErrSkipUnknown, err)
		}
	}
	return nil
}

func flavourList(fl []pmi.Flavour) string {
	if len(fl) == 0 {
		return "no PMI hpcbench knows"
	}
	s := make([]string, len(fl))
	for i, f := range fl {
		s[i] = string(f)
	}
	if len(s) == 1 {
		return s[0] + " only"
	}
	return strings.Join(s, " and ")
}

func binaryExists(bin string) error {
	if !strings.Contains(bin, "/") {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not in PATH", bin)
		}
		return nil
	}
	st, err := os.Stat(bin)
	if err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		hint := "check binary and npb_dir, or set check_binary = false if it exists only in the image"
		if strings.Contains(filepath.ToSlash(bin), configs.DefaultNPBDir+"/") {
			hint = "run make setup (or make -C npb/kernels) to build the project's kernels"
		}
		return fmt.Errorf("%s is not an executable file (%s)", bin, hint)
	}
	return nil
}
