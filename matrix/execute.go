package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hpcbench/hpcbench/configs"
	"github.com/hpcbench/hpcbench/internal/leftover"
	"github.com/hpcbench/hpcbench/inventory"
	"github.com/hpcbench/hpcbench/mpibuild"
	"github.com/hpcbench/hpcbench/npb"
	"github.com/hpcbench/hpcbench/pmi"
	"github.com/hpcbench/hpcbench/results"
	"github.com/hpcbench/hpcbench/runtimes"
)

// outputLimit bounds the output kept per run; a runaway rank printing in a
// loop must not fill the store or memory.
const outputLimit = 16 << 20

// nodeGrace is how much longer than a per-node launch's own time limit the
// container around it may take to start and stop.
const nodeGrace = 30 * time.Second

type executor struct {
	local *Local
	inv   *inventory.Inventory
	host  results.Host
	study string
	seed  int64

	self     string
	workRoot string
	// runtimes is the plan's: each runtime detected and each image
	// prepared once per study, not once per run.
	runtimes *Resolver
	// blas caches which BLAS each binary loads (per image): once per
	// study, not once per run.
	blas map[string]string
	// maxRanks is the plan's ceiling on ranks per launch, which its cells
	// were checked against; 0 leaves pmi's default.
	maxRanks int
	// cma caches, per container set-up, whether cross-memory attach
	// worked between two ranks (runtimes.ProbeCMA): once per study.
	cma map[string]string
}

func (ex *executor) init() error {
	ex.self = ex.local.Self
	if ex.self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("matrix: cannot find the hpcbench executable for per-node runs: %w", err)
		}
		ex.self = self
	}
	ex.workRoot = ex.local.WorkRoot
	if ex.workRoot == "" {
		ex.workRoot = os.TempDir()
	}
	// The root's name carries this process: a study killed with SIGKILL
	// leaves its root to the next study's sweep, and a live one's root is
	// never swept.
	SweepWorkFolders(ex.workRoot)
	dir, err := leftover.MkdirTemp(ex.workRoot, workPrefix, SafeName(ex.study))
	if err != nil {
		return fmt.Errorf("matrix: working folder: %w", err)
	}
	ex.workRoot = dir
	return nil
}

// workPrefix starts the name of a study's working folder in Local.WorkRoot:
// workPrefix, the owning process (internal/leftover), the study, random
// characters. Working folders kept for inspection (Local.KeepWork) end up
// in one named keptPrefix, the study and random characters, which no
// sweep removes.
const (
	workPrefix = "hpcbench-work-"
	keptPrefix = "hpcbench-kept-"
)

// SweepWorkFolders removes the working folders that studies of a killed
// hpcbench left in dir (Local.WorkRoot; "" is the system's temporary
// folder) and returns their paths; those of studies still running stay.
func SweepWorkFolders(dir string) []string { return leftover.Sweep(dir, workPrefix) }

// close removes the study's working folder, which holds nothing by now
// but the folders of failed runs kept for inspection; with those it is
// renamed so that no sweep takes it for a killed study's.
func (ex *executor) close() {
	err := os.Remove(ex.workRoot)
	if err == nil || errors.Is(err, os.ErrNotExist) || !ex.local.KeepWork {
		return // what a run could not remove goes with the next sweep
	}
	// The random end of the name stays: the root's was unique, and a kept
	// folder of the same name is refused (os.Rename does not replace a
	// folder).
	base := filepath.Base(ex.workRoot)
	kept := filepath.Join(filepath.Dir(ex.workRoot), keptPrefix+SafeName(ex.study)+base[strings.LastIndexByte(base, '-'):])
	if err := os.Rename(ex.workRoot, kept); err != nil {
		kept = ex.workRoot // its next sweep removes it
	}
	if ex.local.Log != nil {
		fmt.Fprintf(ex.local.Log, "the working folders of the runs that did not succeed are in %s\n", kept)
	}
}

// run executes one scheduled run and returns what to store. An error is
// returned when the study cannot go on (no working folder), and one
// wrapping ErrSkipUnknown when the run cannot be decided now (its
// runtime's detection timed out): neither is a result to store.
func (ex *executor) run(ctx context.Context, p scheduled) (stored results.Run, _ error) {
	c := p.cell
	ir := ex.runtimes.Cell(ctx, c)
	if errors.Is(ir.Err, runtimes.ErrProbeTimedOut) {
		return results.Run{}, fmt.Errorf("%w: %w", ErrSkipUnknown, ir.Err)
	}
	run := results.Run{
		Study:      ex.study,
		Host:       ex.host,
		Cell:       storeCell(c, ex.inv, &ir),
		Repetition: c.Repetition,
		Warmup:     c.Warmup,
		Order:      p.order,
		Seed:       ex.seed,
		Started:    time.Now(),
		Choices:    BuildChoices(c.MPIBuild),
	}
	// Set on the returned copy: every return hands run over by value.
	defer func() { stored.Finished = time.Now() }()

	work, err := os.MkdirTemp(ex.workRoot, "run-")
	if err != nil {
		return run, fmt.Errorf("matrix: working folder for %s: %w", c.RunID(), err)
	}
	keep := false
	defer func() {
		if !keep || !ex.local.KeepWork {
			os.RemoveAll(work)
		}
	}()

	argv := absoluteArgv(c.Argv)
	env, err := PrepareRun(c, work, ex.host.MemoryBytes)
	env = NativeBuildEnv(c, env, os.Getenv(mpibuild.LibraryPathVar))
	run.Argv = argv
	run.Env = results.FilterEnv(append(os.Environ(), env...))
	recordBuildEnv(run.Env, c, env)
	if c.Kind == configs.KindHPL || c.Kind == configs.KindHPCC {
		run.Env[EnvBLASLibrary] = ex.blasOf(ctx, c, &ir)
	}
	if err != nil {
		run.Status, run.Reason = results.StatusFailed, err.Error()
		return run, nil
	}
	if ir.Err != nil {
		run.Status, run.Reason = results.StatusFailed, ir.Err.Error()
		return run, nil
	}

	out := &limitedBuffer{limit: outputLimit}
	spec := runtimes.Spec{Layout: runtimes.Layout(c.Layout), Image: ir.Image, MPI: c.MPI, Binds: []string{work},
		Command: c.RuntimeCommand, Flags: c.RuntimeFlags, MPIBuild: c.MPIBuild,
		Isolation: runtimes.Isolation(c.Isolation), Shm: runtimes.Shm(c.Shm), PassEnv: ContainerPassEnv(c.PassEnv, env)}
	var rep *pmi.Report
	var choices map[string]string
	switch {
	case ex.local.Launcher != nil && c.Layout != configs.LayoutPerNode:
		ex.launchExternal(ctx, &run, c, argv, env, work, out)
		keep = run.Status != results.StatusOK
		return run, nil
	case c.Layout == configs.LayoutPerNode:
		rep, choices, err = ex.launchNode(ctx, ir.Runtime, spec, c, argv, env, work, out)
	default:
		lo := pmi.Options{
			Ranks: c.Ranks, PMI: c.PMI, Timeout: c.Timeout, Bind: c.Bind, MaxRanks: ex.maxRanks,
			Argv: argv, Env: env, Dir: work, Stdout: out, Stderr: out,
		}
		if !c.IsNative() {
			w, werr := ir.Runtime.Wrapper(ctx, spec)
			if werr != nil {
				run.Status, run.Reason = results.StatusFailed, werr.Error()
				return run, nil
			}
			lo.Wrapper = w
			choices = w.Choices()
			ex.probeCMA(ctx, c, w, work, choices)
		}
		rep, err = pmi.Launch(ctx, lo)
	}
	run.Output = out.Bytes()
	run.Choices = mergeChoices(run.Choices, choices)
	if rep != nil {
		run.Wall, run.WireUp, run.FirstFence = rep.Wall, rep.WireUp, rep.FirstFence
		run.ContainerStart, run.PMIExchange = rep.ContainerStart, rep.PMIExchange
		run.NegotiatedPMI, run.ExitCodes, run.PeakRSSKiB = rep.Negotiated, rep.ExitCodes, rep.PeakRSSKiB
		for k, v := range rep.Settings {
			run.Env[k] = v
		}
		if run.Choices == nil {
			run.Choices = map[string]string{}
		}
		if rep.Channel != "" && c.PMI != pmi.PMIx {
			run.Choices["pmi_channel"] = string(rep.Channel)
		}
	}
	ex.judge(&run, c, rep, err, work)
	keep = run.Status != results.StatusOK
	return run, nil
}

// PrepareRun writes cell c's input files (HPL.dat, hpccinf.txt) into the
// folder work, the ranks' working folder, and returns the environment
// hpcbench adds to every rank ("K=V", sorted). memoryBytes sizes an HPL
// problem given as a fraction of memory.
func PrepareRun(c Cell, work string, memoryBytes int64) ([]string, error) {
	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	if c.Kind == configs.KindHPL || c.Kind == configs.KindHPCC {
		// One BLAS thread per rank unless the config says otherwise:
		// ranks x threads beyond the cores measures contention, not HPL.
		if c.BLASThreads > 0 {
			n := strconv.Itoa(c.BLASThreads)
			env["OPENBLAS_NUM_THREADS"], env["OMP_NUM_THREADS"] = n, n
		}
		setDefault(env, "OPENBLAS_NUM_THREADS", "1")
		setDefault(env, "OMP_NUM_THREADS", "1")
		in := *c.HPL
		if in.N == 0 {
			in.N = npb.NFromMemory(uint64(memoryBytes), c.HPLMemFraction, in.NB)
		}
		if err := in.Validate(c.Ranks); err != nil {
			return nil, err
		}
		name, write := "HPL.dat", npb.WriteHPLDat
		if c.Kind == configs.KindHPCC {
			name, write = "hpccinf.txt", npb.WriteHPCCInf
		}
		var b bytes.Buffer
		if err := write(&b, in); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(work, name), b.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	if c.Oversubscribed && c.MPI == "openmpi" {
		// Busy-polling ranks on shared cores starve each other.
		setDefault(env, "OMPI_MCA_mpi_yield_when_idle", "1")
	}
	list := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		list = append(list, k+"="+env[k])
	}
	return list, nil
}

// judge sets the run's status, reason and metrics from how the launch
// ended and what the benchmark printed.
func (ex *executor) judge(run *results.Run, c Cell, rep *pmi.Report, launchErr error, work string) {
	switch {
	case launchErr != nil:
		run.Status, run.Reason = results.StatusFailed, launchErr.Error()
		return
	case rep == nil:
		run.Status, run.Reason = results.StatusFailed, "the launch produced no report"
		return
	case !rep.OK():
		run.Status, run.Reason = results.StatusFailed, rep.Reason
		switch rep.Failure {
		case pmi.FailureTimeout:
			run.Status = results.StatusTimeout
		case pmi.FailureSingleton:
			// "hpcbench launch" inside a per-node container applies the
			// world-size guard itself: the same verdict as below.
			run.Status = results.StatusInvalid
		}
		return
	}
	if err := pmi.RequireWorld(rep, c.PMI); err != nil {
		run.Status, run.Reason = results.StatusInvalid, err.Error()
		return
	}
	judgeOutput(run, c, rep.Wall, work)
}

// pingpongFigures reads the summary of the project's pingpong kernel
// (npb/kernels: "latency_8B_us = 0.61", "bandwidth_1MiB_MBps = 5900.2")
// from a command's output; ok is false when it printed none.
func pingpongFigures(out []byte) (latency, bandwidth float64, ok bool) {
	var haveLat, haveBW bool
	for _, line := range strings.Split(string(out), "\n") {
		k, v, found := strings.Cut(line, "=")
		if !found {
			continue
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || x <= 0 {
			continue
		}
		switch strings.TrimSpace(k) {
		case "latency_8B_us":
			latency, haveLat = x, true
		case "bandwidth_1MiB_MBps":
			bandwidth, haveBW = x, true
		}
	}
	return latency, bandwidth, haveLat && haveBW
}

// probeCMA records in choices whether cross-memory attach worked between
// two ranks in the containers w makes for c (choice "cma", what the
// runtime's set-up predicts, becomes the measured outcome; "cma_expected"
// keeps the prediction). The probe runs once per container set-up of the
// study; where it cannot run (hpcbench's executable does not run in the
// image), the prediction stays and "cma_probe" says why.
func (ex *executor) probeCMA(ctx context.Context, c Cell, w runtimes.Wrapper, work string, choices map[string]string) {
	if strings.HasSuffix(filepath.Base(ex.self), ".test") {
		// A Go test binary running a study in process is not hpcbench:
		// asked to probe, it would run its tests in the containers.
		return
	}
	key := strings.Join([]string{c.RuntimeLabel, string(c.Layout), c.Image, c.MPI, c.Isolation, c.Shm, c.RuntimeCommand, strings.Join(c.RuntimeFlags, "\x00")}, "\x00")
	if ex.cma == nil {
		ex.cma = map[string]string{}
	}
	got, ok := ex.cma[key]
	if !ok {
		res, err := runtimes.ProbeCMA(ctx, w, ex.self, work)
		if err != nil {
			got = "probe failed: " + err.Error()
		} else {
			got = res
		}
		ex.cma[key] = got
	}
	if strings.HasPrefix(got, "probe failed: ") {
		choices["cma_probe"] = strings.TrimPrefix(got, "probe failed: ")
		return
	}
	if v := choices["cma"]; v != "" {
		choices["cma_expected"] = v
	}
	choices["cma"] = got + " (measured: process_vm_readv between two ranks)"
}

// judgeOutput sets the status, reason and metrics of a run whose launch
// succeeded, from what the benchmark printed (run.Output, and hpccoutf.txt
// in work for HPCC). Every launcher shares it, so a run means the same
// whoever started its ranks.
func judgeOutput(run *results.Run, c Cell, wall time.Duration, work string) {
	if c.Kind == configs.KindCommand {
		run.Status = results.StatusOK
		run.Metric = results.Metric{Name: "wall_s", Value: wall.Seconds(), Unit: "s"}
		if lat, bw, ok := pingpongFigures(run.Output); ok {
			// The project's pingpong kernel: its latency is the figure
			// of merit, its bandwidth and the wall time go along.
			run.Metric = results.Metric{Name: "latency_8B_us", Value: lat, Unit: "us"}
			run.Metrics = map[string]any{"latency_8B_us": lat, "bandwidth_1MiB_MBps": bw, "wall_s": wall.Seconds()}
		}
		return
	}
	text := run.Output
	if c.Kind == configs.KindHPCC {
		b, err := os.ReadFile(filepath.Join(work, "hpccoutf.txt"))
		if err != nil {
			run.Status, run.Reason = results.StatusInvalid, "hpcc wrote no hpccoutf.txt: "+err.Error()
			return
		}
		text = b
		run.Output = append(append(run.Output, "\n==> hpccoutf.txt <==\n"...), b...)
	}
	rs, err := npb.ParseOutput(bytes.NewReader(text), c.Ranks)
	if len(rs) == 0 {
		run.Status, run.Reason = results.StatusInvalid, fmt.Sprintf("cannot read the %s output: %v", c.Name, err)
		return
	}
	r := rs[0]
	for _, x := range rs {
		if !x.Valid {
			r = x // one failed HPL result line makes the run invalid
			break
		}
	}
	name, value, higher := r.Metric()
	run.Metric = results.Metric{Name: name, Value: value, HigherIsBetter: higher}
	run.Metrics = map[string]any{}
	for _, m := range r.Metrics() {
		run.Metrics[m.Name] = m.Value
		if m.Name == name {
			run.Metric.Unit = m.Unit
		}
	}
	switch {
	case !r.Valid:
		run.Status, run.Reason = results.StatusInvalid, r.InvalidReason
	case c.Kind == configs.KindNPB && r.Benchmark != c.Name:
		run.Status, run.Reason = results.StatusInvalid, fmt.Sprintf("the output is %s's, not %s's: check the binary %s", strings.ToUpper(r.Benchmark), strings.ToUpper(c.Name), c.Binary)
	case c.Kind == configs.KindNPB && c.Class != "" && !strings.EqualFold(r.Class, c.Class):
		run.Status, run.Reason = results.StatusInvalid, fmt.Sprintf("the output is class %s, not %s: check the binary %s", r.Class, c.Class, c.Binary)
	default:
		run.Status = results.StatusOK
	}
}

// launchNode runs the per-node layout: one container holding every rank,
// with "hpcbench launch" inside it serving PMI and writing its report to
// the shared working folder.
func (ex *executor) launchNode(ctx context.Context, rt runtimes.Runtime, spec runtimes.Spec, c Cell, argv, env []string, work string, out *limitedBuffer) (*pmi.Report, map[string]string, error) {
	reportPath := filepath.Join(work, "launch-report.json")
	// The container's adapter makes the cell's MPI build the ranks' (Spec.MPIBuild);
	// the launch inside must not choose another one itself.
	inner := []string{ex.self, "launch", "-n", strconv.Itoa(c.Ranks), "--pmi", string(c.PMI), "--bind", orDefault(c.Bind, "none"),
		"--report", reportPath, "--quiet", "--mpi-build", "none"}
	if c.Timeout > 0 {
		inner = append(inner, "--timeout", c.Timeout.String())
	}
	if ex.maxRanks > 0 {
		// The plan checked the cell against the node's ceiling; the
		// container may see fewer cores.
		inner = append(inner, "--max-ranks", strconv.Itoa(ex.maxRanks))
	}
	inner = append(append(inner, "--"), argv...)
	job := pmi.Job{ID: fmt.Sprintf("%d-%s", os.Getpid(), filepath.Base(work)), Ranks: c.Ranks, PMI: c.PMI}
	cmd := &pmi.RankCommand{Argv: inner, Env: append(os.Environ(), env...), Dir: work}
	if err := rt.WrapNode(ctx, spec, job, cmd); err != nil {
		return nil, nil, err
	}
	choices := runtimes.NodeChoices(rt, spec)
	runCtx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.Timeout+nodeGrace)
		defer cancel()
	}
	x := exec.Command(cmd.Argv[0], cmd.Argv[1:]...)
	x.Env, x.Dir, x.Stdout, x.Stderr = cmd.Env, cmd.Dir, out, out
	x.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := x.Start(); err != nil {
		return nil, choices, fmt.Errorf("%w: %s: %v", pmi.ErrStart, cmd.Argv[0], err)
	}
	waited := make(chan error, 1)
	go func() { waited <- x.Wait() }()
	var waitErr error
	killed, killedKind := "", pmi.FailureNone
	select {
	case waitErr = <-waited:
	case <-runCtx.Done():
		syscall.Kill(-x.Process.Pid, syscall.SIGKILL)
		waitErr = <-waited
		killed, killedKind = "interrupted", pmi.FailureInterrupted
		if ctx.Err() == nil {
			killed = fmt.Sprintf("timeout after %s (the per-node container did not stop by itself)", c.Timeout+nodeGrace)
			killedKind = pmi.FailureTimeout
		}
	}
	rt.Cleanup(ctx, job)
	rep := &pmi.Report{}
	b, err := os.ReadFile(reportPath)
	if err == nil {
		err = json.Unmarshal(b, rep)
	}
	if err != nil {
		rep = &pmi.Report{JobID: job.ID, Ranks: c.Ranks, PMI: c.PMI, Wall: time.Since(start), FailedRank: -1,
			Reason:  fmt.Sprintf("the per-node launch left no report (%v; exit: %v)", err, waitErr),
			Failure: pmi.FailureNoReport}
	}
	if killed != "" {
		rep.Reason, rep.Failure = killed, killedKind
	}
	return rep, choices, nil
}

// storeCell maps a config cell onto the store's record, with the versions
// and image digest that describe it.
func storeCell(c Cell, inv *inventory.Inventory, ir *Resolved) results.Cell {
	sc := results.Cell{
		Key:            c.Key(),
		Benchmark:      c.Benchmark,
		Kind:           string(c.Kind),
		Class:          c.Class,
		MPI:            c.MPI,
		PMI:            string(c.PMI),
		Runtime:        c.RuntimeLabel,
		Image:          c.Image,
		Layout:         string(c.Layout),
		Ranks:          c.Ranks,
		Bind:           c.Bind,
		Oversubscribed: c.Oversubscribed,
	}
	if c.HPL != nil && c.Class == "" {
		sc.Class = fmt.Sprintf("N=%d", c.HPL.N)
	}
	if m := inv.FindMPI(c.MPI); m != nil {
		sc.MPIVersion = m.Version
	}
	if c.MPIBuild != nil && c.MPIBuild.Version != "" {
		sc.MPIVersion = c.MPIBuild.Version
	}
	if ir != nil && ir.Err == nil {
		sc.RuntimeVersion = ir.Version
		if ir.Image.Ref != "" {
			sc.Image = ir.Image.Ref
		}
		sc.ImageDigest = ir.Image.Digest
	}
	if ir != nil && !c.IsNative() && ir.Integrity.Status != "" {
		sc.ImageVerification = ir.Integrity.String()
	}
	return sc
}

// absoluteArgv makes a relative program path absolute, since ranks run in
// their own working folder.
func absoluteArgv(argv []string) []string {
	out := append([]string(nil), argv...)
	if len(out) > 0 {
		out[0] = AbsoluteProgram(out[0])
	}
	return out
}

// AbsoluteProgram is a cell's program as its runs start it: a path
// relative to the folder hpcbench runs in (it holds a '/') made absolute;
// a bare name (looked up in PATH) and an absolute path as they are.
func AbsoluteProgram(p string) string {
	if strings.ContainsRune(p, '/') && !filepath.IsAbs(p) {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return p
}

// limitedBuffer keeps the first limit bytes written to it and counts the
// rest. It is safe for concurrent use: the ranks' output copiers write to
// it while the run is being judged and stored.
type limitedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped int64
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - b.buf.Len()
	if room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		b.dropped += int64(len(p) - max(room, 0))
		return len(p), nil
	}
	return b.buf.Write(p)
}

// Bytes returns a copy of what was kept, with a note of what was dropped.
func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := bytes.Clone(b.buf.Bytes())
	if b.dropped > 0 {
		out = append(out, fmt.Sprintf("\n[hpcbench: %d more bytes of output dropped]\n", b.dropped)...)
	}
	return out
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		if env, ok := os.LookupEnv(k); ok {
			v = env
		}
		m[k] = v
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// NativeBuildEnv returns env (what hpcbench adds to the ranks' environment,
// "K=V") with cell c's MPI build first on LD_LIBRARY_PATH, for a cell whose
// ranks run natively; other cells get env unchanged (in a container the
// runtime adapter places the build, runtimes.Spec.MPIBuild). The folders
// already on the path stay after the build's: those env sets, else
// current (the value hpcbench runs with).
func NativeBuildEnv(c Cell, env []string, current string) []string {
	if c.MPIBuild == nil || !c.IsNative() {
		return env
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, mpibuild.LibraryPathVar+"=") {
			return mpibuild.PrependLibraryPath(env, c.MPIBuild.LibDir)
		}
	}
	return append(append([]string(nil), env...), c.MPIBuild.EnvOver(current)...)
}

// ContainerPassEnv is what a container cell's ranks get from the
// environment beyond the runtimes' allow-list: the runtime entry's
// pass_env patterns and the variables hpcbench sets for the cell (env:
// its configured env and the defaults PrepareRun adds, "K=V"), each by
// its exact name.
func ContainerPassEnv(passEnv []string, env []string) []string {
	out := append([]string(nil), passEnv...)
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			out = append(out, k)
		}
	}
	return out
}

// BuildChoices is how a run records the MPI build it ran on, among its
// choices: mpi_build (the prefix), mpi_build_flavour, mpi_build_version and
// mpi_build_configure (the configure flags). nil gives an empty map.
func BuildChoices(b *mpibuild.Build) map[string]string {
	if b == nil {
		return nil
	}
	m := map[string]string{"mpi_build": b.Prefix, "mpi_build_flavour": b.Flavour}
	if b.Version != "" {
		m["mpi_build_version"] = b.Version
	}
	if b.ConfigureFlags != "" {
		m["mpi_build_configure"] = b.ConfigureFlags
	}
	return m
}

// recordBuildEnv adds the loader path hpcbench set for the cell's build to
// a run's recorded environment (which keeps only the variables that
// matter, and LD_LIBRARY_PATH is not one of them otherwise).
func recordBuildEnv(recorded map[string]string, c Cell, env []string) {
	if c.MPIBuild == nil {
		return
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, mpibuild.LibraryPathVar+"="); ok {
			recorded[mpibuild.LibraryPathVar] = v
		}
	}
}

// mergeChoices adds more to base (more wins) and returns it; either may
// be nil.
func mergeChoices(base, more map[string]string) map[string]string {
	if len(more) == 0 {
		return base
	}
	if base == nil {
		base = map[string]string{}
	}
	for k, v := range more {
		base[k] = v
	}
	return base
}
