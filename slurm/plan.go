package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/buildinfo"
	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/matrix"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
)

// Errors a caller can tell apart.
var (
	// ErrNoRuns: after skips and filters, nothing is left to submit.
	ErrNoRuns = errors.New("no runs to submit")
	// ErrNotSlurm: the config has no [slurm] section and none was implied.
	ErrNotSlurm = errors.New("not a Slurm study")
)

// Group says how runs are split into batch jobs.
type Group string

const (
	// GroupRanks makes one job per rank count (--ntasks is the rank count).
	GroupRanks Group = "ranks"
	// GroupBenchmark makes one job per benchmark (--ntasks is the largest
	// rank count of its runs).
	GroupBenchmark Group = "benchmark"
)

// GenOptions describe the batch scripts to write for a matrix.Plan.
type GenOptions struct {
	// Dir receives the scripts; it must be visible at the same path on the
	// compute nodes (a shared file system).
	Dir string
	// Self is the hpcbench executable the jobs run (slurm task, slurm
	// record); empty uses this one. It must exist on the compute nodes.
	Self string
	// Partition, Account, Time and Nodes override [slurm] when set.
	Partition string
	Account   string
	Time      string
	Nodes     int
	// Group splits the runs into jobs (default GroupRanks).
	Group Group
	// Log receives a line per script written; nil discards them.
	Log io.Writer
}

// Plan is what Generate wrote.
type Plan struct {
	Dir   string
	Study string
	Seed  int64
	Jobs  []*Job
	// Skipped are the cells that will not run, with reasons: the config's
	// own (Expand) and those Slurm cannot run (per-node layout).
	Skipped []matrix.Skipped
	// Host is the submitting host, recorded on runs that left no result.
	Host results.Host
}

// Runs counts the runs of every job.
func (p *Plan) Runs() int {
	n := 0
	for _, j := range p.Jobs {
		n += len(j.Runs)
	}
	return n
}

// Job is one batch script and the runs in it. It is also the manifest
// DIR/<Name>.runs.json that "hpcbench slurm record" reads in the job.
type Job struct {
	Name     string `json:"name"`
	Study    string `json:"study"`
	Seed     int64  `json:"seed"`
	Config   string `json:"config"`
	Version  string `json:"hpcbench_version"`
	Script   string `json:"script"`
	Manifest string `json:"manifest"`
	// Dir holds the job's output/, results/ and work/ folders and its
	// exit-status file.
	Dir    string `json:"dir"`
	Nodes  int    `json:"nodes"`
	NTasks int    `json:"ntasks"`
	Time   string `json:"time"`
	Runs   []Run  `json:"runs"`
}

// ExitStatusFile is where the job writes its exit status when it ends.
func (j *Job) ExitStatusFile() string { return filepath.Join(j.Dir, "exit-status") }

// Run is one repetition of one cell inside a job.
type Run struct {
	// ID numbers the run within its job ("007"); files are named by it.
	ID    string      `json:"id"`
	RunID string      `json:"run_id"`
	Order int         `json:"order"`
	Cell  matrix.Cell `json:"cell"`
	// Stored is the cell as the store records it (versions, image digest
	// as resolved on the submitting host).
	Stored results.Cell `json:"stored_cell"`
	// MPIPlugin is srun's --mpi: pmi2 (PMI-1 and PMI-2 cells) or pmix.
	MPIPlugin string `json:"srun_mpi"`
	// Srun is the run's whole srun command line.
	Srun []string `json:"srun"`
	// Env is what hpcbench adds to the ranks' environment ("K=V").
	Env     []string          `json:"env,omitempty"`
	Choices map[string]string `json:"choices"`
	Work    string            `json:"work"`
	Output  string            `json:"output"`
	Result  string            `json:"result"`
}

// MPIPlugin is srun's --mpi value for a PMI flavour, the one the cell's
// ranks speak: Slurm's pmi2 plugin serves PMI-2 clients and answers PMI-1
// clients too (Debian's MPICH, hpcbench's PMI-1 build), pmix serves PMIx
// (Open MPI, hpcbench's PMIx build of MPICH).
func MPIPlugin(f pmi.Flavour) string {
	if f == pmi.PMIx {
		return "pmix"
	}
	return "pmi2"
}

// ErrPerNode is the reason per-node cells are skipped under Slurm.
var ErrPerNode = errors.New("the per-node layout is not run under Slurm: its container holds hpcbench as the node's process manager, so ranks on different nodes would not share Slurm's PMI job; measure per-rank or bind")

// Generate writes one batch script per group of the study's runs, with the
// manifests and working folders the jobs use, and returns what it wrote.
// The study's cells are as matrix.NewPlan expanded them on this host (the
// submitting one: cells it lacks the runtime, MPI or binary of are
// skipped, as in a local study); its runtimes and images are resolved
// here, through study.Runtimes.
func Generate(ctx context.Context, study *matrix.Plan, opts GenOptions) (*Plan, error) {
	if study == nil || study.Config == nil {
		return nil, fmt.Errorf("slurm: no study")
	}
	cfg, inv := study.Config, study.Inventory
	if opts.Dir == "" {
		return nil, fmt.Errorf("slurm: no output folder (-o DIR)")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	self := opts.Self
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("slurm: cannot find the hpcbench executable the jobs run: %w", err)
		}
	}
	if self, err = filepath.Abs(self); err != nil {
		return nil, err
	}
	sc := configs.Slurm{Nodes: 1}
	if cfg.Slurm != nil {
		sc = *cfg.Slurm
	}
	if opts.Partition != "" {
		sc.Partition = opts.Partition
	}
	if opts.Account != "" {
		sc.Account = opts.Account
	}
	if opts.Time != "" {
		sc.Time = opts.Time
	}
	if opts.Nodes > 0 {
		sc.Nodes = opts.Nodes
	}
	if sc.Nodes < 1 {
		sc.Nodes = 1
	}
	group := opts.Group
	if group == "" {
		group = GroupRanks
	}
	if group != GroupRanks && group != GroupBenchmark {
		return nil, fmt.Errorf("slurm: group %q: want ranks or benchmark", group)
	}
	if err := checkBatchSettings(study.Study, sc, opts, cfg.File); err != nil {
		return nil, err
	}
	if _, err := sbatchPath(dir); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}

	// A cell whose detection timed out on this host is neither runnable
	// nor a skip to record; a batch cannot defer it as a local study does,
	// so generation stops and says which probe to wait for.
	for _, s := range study.Skipped {
		if s.Retry() {
			return nil, fmt.Errorf("slurm: cell %s: %w (%s); generate the batch again when detection answers", s.Cell.Key(), matrix.ErrSkipUnknown, s.Reason)
		}
	}
	skipped := append([]matrix.Skipped(nil), study.Skipped...)
	var runnable []matrix.Cell
	perNode := map[string]bool{}
	for _, c := range study.Cells {
		if c.Layout == configs.LayoutPerNode {
			if !perNode[c.Key()] {
				perNode[c.Key()] = true
				s := c
				s.Repetition, s.Warmup = 0, false
				skipped = append(skipped, matrix.Skipped{Cell: s, Reason: ErrPerNode.Error(), Err: ErrPerNode})
			}
			continue
		}
		runnable = append(runnable, c)
	}
	ordered, seed := matrix.Schedule(cfg, runnable)
	plan := &Plan{Dir: dir, Study: study.Study, Seed: seed, Skipped: skipped, Host: results.ThisHost()}
	if len(ordered) == 0 {
		return plan, fmt.Errorf("slurm: %w: every cell of %s was skipped or filtered out (see hpcbench matrix --dry-run)", ErrNoRuns, cfg.File)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("slurm: output folder: %w", err)
	}

	images := newCellImages(study.Runtimes)
	jobs := map[string]*Job{}
	var names []string
	for order, c := range ordered {
		name := fmt.Sprintf("ranks-%d", c.Ranks)
		if group == GroupBenchmark {
			name = matrix.SafeName(c.Benchmark)
		}
		j := jobs[name]
		if j == nil {
			jobDir, err := jobFolder(dir, name)
			if err != nil {
				return nil, fmt.Errorf("slurm: benchmark %q: %w", c.Benchmark, err)
			}
			j = &Job{Name: name, Study: study.Study, Seed: seed, Config: cfg.File, Version: buildinfo.String(),
				Script: filepath.Join(dir, name+".sbatch"), Manifest: filepath.Join(dir, name+".runs.json"),
				Dir: jobDir}
			jobs[name] = j
			names = append(names, name)
		}
		ir := images.resolve(ctx, c)
		r := Run{ID: fmt.Sprintf("%03d", len(j.Runs)+1), RunID: c.RunID(), Order: order, Cell: c, MPIPlugin: MPIPlugin(c.PMI)}
		r.Stored = matrix.StoreCell(c, inv)
		if ir.err != nil {
			// Known on the submitting host already: skip the cell rather
			// than submit runs that cannot start.
			if !perNode["img:"+c.Key()] {
				perNode["img:"+c.Key()] = true
				s := c
				s.Repetition, s.Warmup = 0, false
				plan.Skipped = append(plan.Skipped, matrix.Skipped{Cell: s, Reason: ir.err.Error(), Err: ir.err})
			}
			continue
		}
		r.Stored.RuntimeVersion = ir.version
		if ir.info.Ref != "" {
			r.Stored.Image, r.Stored.ImageDigest = ir.info.Ref, ir.info.Digest
		}
		r.Stored.ImageVerification = ir.integrity
		j.Runs = append(j.Runs, r)
	}
	sort.Strings(names)
	for _, name := range names {
		j := jobs[name]
		if len(j.Runs) == 0 {
			continue
		}
		if err := os.RemoveAll(j.Dir); err != nil {
			return nil, fmt.Errorf("slurm: clearing %s: %w", j.Dir, err)
		}
		for _, sub := range []string{"output", "results", "work"} {
			if err := os.MkdirAll(filepath.Join(j.Dir, sub), 0o755); err != nil {
				return nil, fmt.Errorf("slurm: %w", err)
			}
		}
		for _, r := range j.Runs {
			j.NTasks = max(j.NTasks, r.Cell.Ranks)
		}
		j.Nodes = min(sc.Nodes, j.NTasks)
		j.Time = sc.Time
		if j.Time == "" {
			j.Time = defaultTime(j.Runs)
		}
		for i := range j.Runs {
			r := &j.Runs[i]
			r.Work = filepath.Join(j.Dir, "work", r.ID)
			r.Output = filepath.Join(j.Dir, "output", r.ID+".out")
			r.Result = filepath.Join(j.Dir, "results", r.ID+".json")
			if err := os.MkdirAll(r.Work, 0o755); err != nil {
				return nil, fmt.Errorf("slurm: %w", err)
			}
			env, err := matrix.PrepareRun(r.Cell, r.Work, int64(inv.Host.MemoryBytes))
			if err != nil {
				return nil, fmt.Errorf("slurm: run %s of job %s (%s): %w", r.ID, j.Name, r.RunID, err)
			}
			r.Env = env
			ir := images.resolve(ctx, r.Cell)
			r.Srun, r.Choices = srunLine(r.Cell, srunPlacement{nodes: min(j.Nodes, r.Cell.Ranks), cpuBind: sc.CPUBind, work: r.Work, env: env, self: self, image: ir.info.Ref})
			for k, v := range matrix.BuildChoices(r.Cell.MPIBuild) {
				r.Choices[k] = v
			}
			if !r.Cell.IsNative() {
				for k, v := range ir.choices {
					if _, set := r.Choices[k]; !set {
						r.Choices[k] = v
					}
				}
			}
		}
		if err := writeJSON(j.Manifest, j); err != nil {
			return nil, err
		}
		script, err := renderScript(j, sc, self)
		if err != nil {
			return nil, fmt.Errorf("slurm: job %s: %w", j.Name, err)
		}
		if err := os.WriteFile(j.Script, []byte(script), 0o755); err != nil {
			return nil, fmt.Errorf("slurm: %w", err)
		}
		plan.Jobs = append(plan.Jobs, j)
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "%s: %d runs, %d tasks on %d node(s)\n", j.Script, len(j.Runs), j.NTasks, j.Nodes)
		}
	}
	if len(plan.Jobs) == 0 {
		return plan, fmt.Errorf("slurm: %w: no cell's image could be resolved on this host", ErrNoRuns)
	}
	return plan, nil
}

// defaultTime is a job time limit when the config gives none: every run's
// own limit added up, plus five minutes, in minutes.
func defaultTime(runs []Run) string {
	var total time.Duration
	for _, r := range runs {
		t := r.Cell.Timeout
		if t <= 0 {
			t = 10 * time.Minute
		}
		total += t
	}
	return strconv.Itoa(minutes(total) + 5)
}

func minutes(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

// cellImages resolves container cells for srun lines: the runtime and
// image through a matrix.Resolver (the plan's, shared with every other
// user of it), then the choices the tasks' wrapper will make, which also
// proves the wrapper can be built for the cell's layout, MPI and flags.
type cellImages struct {
	runtimes *matrix.Resolver
	mu       sync.Mutex
	seen     map[string]resolvedImage
}

type resolvedImage struct {
	version   string
	info      runtimes.ImageInfo
	integrity string
	choices   map[string]string
	err       error
}

// newCellImages resolves through r; nil makes a Resolver of its own.
func newCellImages(r *matrix.Resolver) *cellImages {
	if r == nil {
		r = matrix.NewResolver()
	}
	return &cellImages{runtimes: r, seen: map[string]resolvedImage{}}
}

func (ci *cellImages) resolve(ctx context.Context, c matrix.Cell) resolvedImage {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	build := ""
	if c.MPIBuild != nil {
		build = c.MPIBuild.Prefix
	}
	key := build + "\x00" + c.Runtime + "\x00" + c.Image + "\x00" + string(c.Layout) + "\x00" + c.MPI + "\x00" + c.RuntimeCommand + "\x00" + strings.Join(c.RuntimeFlags, "\x00") +
		"\x00" + c.Isolation + "\x00" + c.Shm + "\x00" + strings.Join(c.PassEnv, "\x00") + "\x00" + c.Verify + "\x00" + strconv.FormatBool(c.RequireSigned)
	if r, ok := ci.seen[key]; ok {
		return r
	}
	res := ci.runtimes.Cell(ctx, c)
	r := resolvedImage{version: res.Version, info: res.Image, err: res.Err}
	if !c.IsNative() && res.Integrity.Status != "" {
		r.integrity = res.Integrity.String()
	}
	if r.err == nil && !c.IsNative() {
		spec := runtimes.Spec{Layout: runtimes.Layout(c.Layout), Image: r.info, MPI: c.MPI, Command: c.RuntimeCommand, Flags: c.RuntimeFlags, MPIBuild: c.MPIBuild,
			Isolation: runtimes.Isolation(c.Isolation), Shm: runtimes.Shm(c.Shm), PassEnv: c.PassEnv,
			// Per-rank cells run one srun task per rank (RunTask).
			HostPID: c.Layout != configs.LayoutPerNode}
		if _, r.err = res.Runtime.Wrapper(ctx, spec); r.err == nil {
			r.choices = wrapperChoices(ctx, res.Runtime, spec)
		}
	}
	ci.seen[key] = r
	return r
}

// wrapperChoices are the runtime wrapper's choices, as the tasks will make
// them.
func wrapperChoices(ctx context.Context, rt runtimes.Runtime, spec runtimes.Spec) map[string]string {
	w, err := rt.Wrapper(ctx, spec)
	if err != nil {
		return nil
	}
	c := w.Choices()
	if w.Channel() == pmi.ChannelTCP {
		c["pmi_channel"] = "tcp (hpcbench slurm task relays Slurm's PMI_FD to a loopback port)"
	}
	return c
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes through a temporary file and a rename, so a
// reader on another node never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadJob reads a job's manifest.
func LoadJob(path string) (*Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: not a job manifest written by hpcbench slurm gen: %w", path, err)
	}
	return &j, nil
}
