package pmi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// interruptedJobs counts this process's launches that killed ranks (a
// failure, the timeout, an interruption) or could not start them all.
var interruptedJobs atomic.Int64

// InterruptedJobs is how many of this process's launches killed ranks or
// failed to start one: a runtime may then keep what a client killed while
// it was creating a container left (which its own listing may not show),
// for the next start's sweep.
func InterruptedJobs() int64 { return interruptedJobs.Load() }

var (
	// ErrUnsupported marks a PMI flavour or channel this build cannot serve.
	ErrUnsupported = errors.New("unsupported")
	// ErrOptions marks launch options that cannot work.
	ErrOptions = errors.New("invalid launch options")
	// ErrStart marks a rank that could not be started.
	ErrStart = errors.New("cannot start rank")
	// ErrTooManyRanks marks a launch of more ranks than Options.MaxRanks
	// allows; it also wraps ErrOptions.
	ErrTooManyRanks = errors.New("more ranks than a launch may start")
)

// MaxRanksPerCore sets the default ceiling on ranks per launch: that many
// per core hpcbench may run on. It leaves room for any oversubscription
// worth measuring, while a slip of the keyboard (-n 100000) is refused
// instead of filling the machine's process table.
const MaxRanksPerCore = 64

// DefaultTimeout is a run's time limit when none is given: a study's runs
// (configs) and "hpcbench launch" alike.
const DefaultTimeout = 10 * time.Minute

// DefaultMaxRanks is the ceiling on ranks per launch when Options.MaxRanks
// is 0: MaxRanksPerCore per core this process may run on.
func DefaultMaxRanks() int { return MaxRanksPerCore * runtime.NumCPU() }

// killGrace is how long a rank's process group gets between SIGTERM and
// SIGKILL once the job is being torn down.
const killGrace = 500 * time.Millisecond

// abortSettle is how long after a rank's non-zero exit an abort request
// from that rank still counts as the cause: the rank may exit before the
// server has read the abort message it sent just before.
const abortSettle = 250 * time.Millisecond

// outputDrain bounds the wait for the ranks' output after the last one was
// reaped (a grandchild that escaped the process group may hold a pipe).
const outputDrain = 2 * time.Second

// Launch runs one job: it starts the PMI backend for opts.PMI, spawns
// opts.Ranks ranks of opts.Argv, each in its own session and process group, serves them
// until every rank has exited, and reports what it measured.
//
// A job that ran and failed (non-zero exit, abort, timeout, interruption,
// a PMI protocol error, a rank speaking another PMI version than asked)
// returns a Report whose Reason says why and a nil error. A launch that
// could not happen (bad options, a flavour this build lacks, a rank that
// cannot be started) returns an error wrapping ErrOptions, ErrUnsupported or
// ErrStart, with a Report when ranks had already been started.
func Launch(ctx context.Context, opts Options) (*Report, error) {
	if opts.Ranks < 1 {
		return nil, fmt.Errorf("%w: %d ranks, need at least 1", ErrOptions, opts.Ranks)
	}
	limit := opts.MaxRanks
	if limit <= 0 {
		limit = DefaultMaxRanks()
	}
	if opts.Ranks > limit {
		// Refused before anything is allocated per rank.
		return nil, fmt.Errorf("%w: %w: %d ranks, the ceiling is %d", ErrOptions, ErrTooManyRanks, opts.Ranks, limit)
	}
	if len(opts.Argv) == 0 || opts.Argv[0] == "" {
		return nil, fmt.Errorf("%w: no program to run", ErrOptions)
	}
	if opts.PMI == "" {
		opts.PMI = PMI1
	}
	if opts.Channel == "" {
		opts.Channel = ChannelFD
		if opts.Wrapper != nil {
			opts.Channel = opts.Wrapper.Channel()
		}
	}
	if opts.Channel != ChannelFD && opts.Channel != ChannelTCP {
		return nil, fmt.Errorf("%w: channel %q (want fd or tcp)", ErrOptions, opts.Channel)
	}
	cpus, err := bindPlan(opts.Bind, opts.Ranks)
	if err != nil {
		return nil, err
	}
	if opts.JobID == "" {
		opts.JobID = fmt.Sprintf("%d-%08x", os.Getpid(), rand.Uint32())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	factory, err := lookupBackend(opts.PMI)
	if err != nil {
		return nil, err
	}
	l := &launch{
		opts: opts,
		cpus: cpus,
		job: Job{
			ID:      opts.JobID,
			Ranks:   opts.Ranks,
			PMI:     opts.PMI,
			Channel: opts.Channel,
		},
		wake:           make(chan struct{}, 1),
		negotiated:     make([]string, opts.Ranks),
		finalizedRanks: make([]bool, opts.Ranks),
		gone:           make([]bool, opts.Ranks),
		spawned:        make([]time.Time, opts.Ranks),
		firstMessage:   make([]time.Time, opts.Ranks),
	}
	be, err := factory(backendConfig{Job: l.job, KVS: "kvs_" + opts.JobID, Events: l})
	if err != nil {
		return nil, err
	}
	if t, ok := be.(sharedTmpdirBackend); ok {
		l.job.PMIxTmpdir = t.serverTmpdir()
	}
	return l.run(ctx, be)
}

// launch is one running job; it is the eventSink of its backend.
type launch struct {
	opts Options
	job  Job
	cpus []int // per rank, -1 for no binding

	start time.Time
	wake  chan struct{}

	mu             sync.Mutex
	negotiated     []string
	inited         int
	finalizedRanks []bool
	gone           []bool // the rank's PMI connection ended
	wireUp         time.Duration
	firstFence     time.Duration
	failure        *failure
	// refusedCount and refusedWhy count the connections the server
	// dropped as strangers (see Report.Refused).
	refusedCount int
	refusedWhy   string
	// spawned is when each rank's process was about to be started and
	// firstMessage when its first PMI message reached the server (zero
	// until then); fencedAt is when the first fence completed.
	spawned      []time.Time
	firstMessage []time.Time
	fencedAt     time.Time
}

// failure is why a job failed; the first one wins, except that a rank's
// abort request replaces that same rank's non-zero exit seen just before.
type failure struct {
	rank     int
	kind     FailureKind
	reason   string
	status   int
	fromExit time.Time // zero unless caused by a rank's exit
}

func (l *launch) notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *launch) setFailure(f *failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setFailureLocked(f)
}

func (l *launch) setFailureLocked(f *failure) {
	if l.failure == nil {
		l.failure = f
	}
	l.notify()
}

func (l *launch) initialised(r int, version string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r < 0 || r >= len(l.negotiated) {
		return
	}
	if l.spawned[r].IsZero() {
		// Only a rank hpcbench started counts: whoever spoke for one
		// that is not running yet is not the job's.
		l.setFailureLocked(&failure{rank: r, kind: FailureProtocol, status: 1,
			reason: fmt.Sprintf("PMI server: rank %d initialised before hpcbench started it", r)})
		return
	}
	if l.negotiated[r] == "" {
		l.inited++
		if l.inited == len(l.negotiated) {
			l.wireUp = time.Since(l.start)
		}
	}
	l.negotiated[r] = version
	if version != string(l.opts.PMI) {
		l.setFailureLocked(&failure{rank: r, kind: FailurePMIMismatch, status: 1,
			reason: fmt.Sprintf("rank %d negotiated %s, not %s", r, version, l.opts.PMI)})
	}
}

func (l *launch) spoke(r int, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r >= 0 && r < len(l.firstMessage) && l.firstMessage[r].IsZero() {
		l.firstMessage[r] = at
	}
}

func (l *launch) fenceCompleted() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.firstFence == 0 {
		l.fencedAt = time.Now()
		l.firstFence = l.fencedAt.Sub(l.start)
	}
}

// splitWireUpLocked fills the report's container start and PMI exchange
// from the per-rank times (see Report.ContainerStart and PMIExchange).
func (l *launch) splitWireUpLocked(rep *Report) {
	rep.RankStart = make([]time.Duration, len(l.firstMessage))
	var last time.Time
	all := true
	for r, at := range l.firstMessage {
		if at.IsZero() || l.spawned[r].IsZero() {
			all = false
			continue
		}
		d := max(at.Sub(l.spawned[r]), 0)
		rep.RankStart[r] = d
		rep.ContainerStart = max(rep.ContainerStart, d)
		if at.After(last) {
			last = at
		}
	}
	if all && !l.fencedAt.IsZero() && !last.IsZero() {
		rep.PMIExchange = max(l.fencedAt.Sub(last), 0)
	}
}

func (l *launch) finalized(r int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r >= 0 && r < len(l.finalizedRanks) {
		l.finalizedRanks[r] = true
	}
}

func (l *launch) disconnected(r int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r >= 0 && r < len(l.gone) {
		l.gone[r] = true
	}
	l.notify()
}

// settleAbort waits, before the backend is closed, for an abort request
// that the rank whose exit failed the job may have sent just before it
// exited: until its PMI connection is seen to end, at most abortSettle
// after the exit.
func (l *launch) settleAbort() {
	for {
		l.mu.Lock()
		f := l.failure
		pending := f != nil && !f.fromExit.IsZero() && f.rank >= 0 &&
			l.negotiated[f.rank] != "" && !l.gone[f.rank]
		var left time.Duration
		if pending {
			left = abortSettle - time.Since(f.fromExit)
		}
		l.mu.Unlock()
		if !pending || left <= 0 {
			return
		}
		select {
		case <-l.wake:
		case <-time.After(left):
		}
	}
}

func (l *launch) aborted(r int, code int, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	reason := abortReason(r, code, msg)
	status := code
	if status <= 0 || status > 255 {
		status = 1
	}
	f := &failure{rank: r, kind: FailureAbort, reason: reason, status: status}
	if old := l.failure; old != nil && old.rank == r && !old.fromExit.IsZero() && time.Since(old.fromExit) < abortSettle {
		l.failure = f
		l.notify()
		return
	}
	l.setFailureLocked(f)
}

// abortReason words rank r's abort. Open MPI's PMIx client sends "N/A"
// when MPI_Abort was given no message: that says nothing, so it is left
// out like an empty one.
func abortReason(r, code int, msg string) string {
	reason := fmt.Sprintf("rank %d called abort with code %d", r, code)
	if msg = strings.TrimSpace(msg); msg != "" && msg != "N/A" {
		reason += ": " + msg
	}
	return reason
}

func (l *launch) refused(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refusedCount++
	if l.refusedWhy == "" {
		l.refusedWhy = why
	}
}

func (l *launch) failed(r int, err error) {
	who := "PMI server"
	if r >= 0 {
		who = "rank " + strconv.Itoa(r)
	}
	l.setFailure(&failure{rank: r, kind: FailureProtocol, status: 1, reason: fmt.Sprintf("%s: %v", who, err)})
}

// rankProc is one started rank.
type rankProc struct {
	cmd    *exec.Cmd
	pgid   int
	exited bool
}

type rankExit struct {
	rank  int
	state *os.ProcessState
	err   error
}

func (l *launch) run(ctx context.Context, be backend) (rep *Report, err error) {
	opts := l.opts
	n := opts.Ranks
	rep = &Report{
		JobID:      opts.JobID,
		Ranks:      n,
		PMI:        opts.PMI,
		Channel:    opts.Channel,
		ExitCodes:  make([]int, n),
		PeakRSSKiB: make([]int64, n),
		FailedRank: -1,
	}
	out := newOutput(opts)
	procs := make([]*rankProc, n)
	exits := make(chan rankExit, n)

	l.mu.Lock()
	l.start = time.Now()
	l.mu.Unlock()
	var deadline time.Time
	if opts.Timeout > 0 {
		deadline = l.start.Add(opts.Timeout)
	}
	var startErr error
	for r := 0; r < n; r++ {
		// Starting thousands of ranks takes a while: an interruption, the
		// timeout or a failure stops it between two ranks.
		if l.stopSpawning(ctx, deadline) {
			break
		}
		p, err := l.startRank(r, be, out, rep)
		be.rankStarted(r)
		if err != nil {
			startErr = err
			l.setFailure(&failure{rank: r, kind: FailureStart, status: 1, reason: err.Error()})
			break
		}
		procs[r] = p
		go func(r int, cmd *exec.Cmd) {
			err := cmd.Wait()
			exits <- rankExit{r, cmd.ProcessState, err}
		}(r, p.cmd)
	}

	running := 0
	for _, p := range procs {
		if p != nil {
			running++
		}
	}
	rep.Spawned = running
	var timeout <-chan time.Time
	if opts.Timeout > 0 {
		t := time.NewTimer(opts.Timeout - time.Since(l.start))
		defer t.Stop()
		timeout = t.C
	}
	killing := false
	var escalate <-chan time.Time
	killAll := func(sig syscall.Signal) {
		for _, p := range procs {
			if p != nil && !p.exited {
				syscall.Kill(-p.pgid, sig)
			}
		}
	}
	startKilling := func() {
		if killing {
			return
		}
		killing = true
		killAll(syscall.SIGTERM)
		escalate = time.After(killGrace)
	}
	checkFailure := func() {
		l.mu.Lock()
		failed := l.failure != nil
		l.mu.Unlock()
		if failed {
			startKilling()
		}
	}
	checkFailure()
	done := ctx.Done()
	for running > 0 {
		select {
		case e := <-exits:
			running--
			p := procs[e.rank]
			p.exited = true
			l.recordExit(rep, e, running > 0)
			if killing {
				// Take down whatever the rank left in its group.
				syscall.Kill(-p.pgid, syscall.SIGKILL)
			}
			checkFailure()
		case <-l.wake:
			checkFailure()
		case <-timeout:
			timeout = nil
			l.setFailure(timedOut(opts.Timeout))
			startKilling()
		case <-done:
			done = nil
			l.setFailure(interrupted(ctx))
			startKilling()
		case <-escalate:
			escalate = nil
			killAll(syscall.SIGKILL)
		}
	}
	rep.Wall = time.Since(l.start)
	if killing || startErr != nil {
		interruptedJobs.Add(1)
	}
	if killing {
		// Leftovers of groups whose leader already exited.
		killAll(syscall.SIGKILL)
		for _, p := range procs {
			if p != nil {
				syscall.Kill(-p.pgid, syscall.SIGKILL)
			}
		}
	}
	l.settleAbort()
	if cerr := be.close(); cerr != nil {
		// Something of the server could not be taken down (libpmix did not
		// deregister the job): the next job on it may not be clean either.
		l.setFailure(&failure{rank: -1, kind: FailureProtocol, status: 1, reason: "PMI server: closing: " + cerr.Error()})
	}
	// After this no copier writes to opts.Stdout or opts.Stderr: they are
	// the caller's again once Launch returns.
	out.stop(outputDrain)
	if opts.Wrapper != nil {
		if cerr := opts.Wrapper.Cleanup(l.job); cerr != nil {
			// The ranks are gone but the runtime kept something of
			// them: the job cannot count as clean.
			l.setFailure(&failure{rank: -1, kind: FailureCleanup, status: 1, reason: "runtime cleanup: " + cerr.Error()})
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	rep.WireUp = l.wireUp
	rep.FirstFence = l.firstFence
	l.splitWireUpLocked(rep)
	rep.Negotiated = append([]string(nil), l.negotiated...)
	rep.Refused, rep.RefusedWhy = l.refusedCount, l.refusedWhy
	if f := l.failure; f != nil {
		rep.FailedRank = f.rank
		rep.Reason = f.reason
		rep.ExitStatus = f.status
		rep.Failure = f.kind
	}
	if startErr != nil {
		return rep, startErr
	}
	return rep, nil
}

// stopSpawning reports whether the launch must start no more ranks: its
// context is done, its deadline (zero: none) has passed, or it failed.
// It records the first two as the failure.
func (l *launch) stopSpawning(ctx context.Context, deadline time.Time) bool {
	if ctx.Err() != nil {
		l.setFailure(interrupted(ctx))
		return true
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		l.setFailure(timedOut(l.opts.Timeout))
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failure != nil
}

func interrupted(ctx context.Context) *failure {
	reason := "interrupted"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = "deadline exceeded"
	}
	return &failure{rank: -1, kind: FailureInterrupted, status: 1, reason: reason}
}

func timedOut(limit time.Duration) *failure {
	return &failure{rank: -1, kind: FailureTimeout, status: 1, reason: "timeout after " + limit.String()}
}

// recordExit stores a reaped rank's exit and decides whether it fails the
// job: a non-zero exit or a signal always does; an exit after PMI init
// without PMI finalize does while other ranks still run (they would wait
// for it forever).
func (l *launch) recordExit(rep *Report, e rankExit, othersRunning bool) {
	r := e.rank
	st := e.state
	if st == nil {
		rep.ExitCodes[r] = -1
		l.setFailure(&failure{rank: r, kind: FailureExit, status: 1, reason: fmt.Sprintf("rank %d: wait: %v", r, e.err)})
		return
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru != nil {
		rep.PeakRSSKiB[r] = ru.Maxrss
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		sig := ws.Signal()
		rep.ExitCodes[r] = -int(sig)
		l.setFailure(&failure{rank: r, kind: FailureSignal, status: 128 + int(sig), fromExit: time.Now(),
			reason: fmt.Sprintf("rank %d killed by signal %d (%v)", r, int(sig), sig)})
	case ws.ExitStatus() != 0:
		code := ws.ExitStatus()
		rep.ExitCodes[r] = code
		l.setFailure(&failure{rank: r, kind: FailureExit, status: code, fromExit: time.Now(),
			reason: fmt.Sprintf("rank %d exited with code %d", r, code)})
	default:
		l.mu.Lock()
		unfinished := l.negotiated[r] != "" && !l.finalizedRanks[r]
		l.mu.Unlock()
		if unfinished && othersRunning {
			l.setFailure(&failure{rank: r, kind: FailureUnfinalized, status: 1,
				reason: fmt.Sprintf("rank %d exited without calling PMI finalize while other ranks ran", r)})
		}
	}
}

// startRank builds rank r's command, lets the Wrapper rewrite it and starts
// it in its own session and process group.
func (l *launch) startRank(r int, be backend, out *output, rep *Report) (*rankProc, error) {
	opts := l.opts
	setup, err := be.rankSetup(r)
	if err != nil {
		return nil, fmt.Errorf("%w %d: %w", ErrStart, r, err)
	}
	if len(setup.Settings) > 0 {
		if rep.Settings == nil {
			rep.Settings = map[string]string{}
		}
		for k, v := range setup.Settings {
			rep.Settings[k] = v
		}
	}
	env := inheritedEnv()
	env = append(env, opts.Env...)
	env = append(env, setup.Env...)
	rc := &RankCommand{
		Rank:       r,
		Argv:       append([]string(nil), opts.Argv...),
		Env:        env,
		Dir:        opts.Dir,
		ExtraFiles: append([]*os.File(nil), setup.Files...),
		CPU:        l.cpus[r],
	}
	if opts.Wrapper != nil {
		if err := opts.Wrapper.WrapRank(l.job, rc); err != nil {
			return nil, fmt.Errorf("%w %d: runtime: %w", ErrStart, r, err)
		}
	}
	if len(rc.Argv) == 0 {
		return nil, fmt.Errorf("%w %d: the runtime left no command", ErrStart, r)
	}
	cmd := exec.Command(rc.Argv[0], rc.Argv[1:]...)
	if cmd.Err != nil {
		return nil, fmt.Errorf("%w %d: %w", ErrStart, r, cmd.Err)
	}
	cmd.Env = rc.Env
	cmd.Dir = rc.Dir
	cmd.ExtraFiles = rc.ExtraFiles
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own session, hence its own process group to kill as a
		// whole, as Hydra does: with the kernel's autogroup scheduling
		// each session gets its own CPU share, so on a shared machine
		// ranks are not squeezed into the launcher's one share.
		Setsid: true,
		// If hpcbench itself is killed, its ranks do not outlive it.
		Pdeathsig: syscall.SIGKILL,
	}
	closeAfter, err := out.attach(cmd, r)
	if err != nil {
		return nil, fmt.Errorf("%w %d: output: %w", ErrStart, r, err)
	}
	l.mu.Lock()
	l.spawned[r] = time.Now()
	l.mu.Unlock()
	err = startPinned(cmd, rc.CPU)
	for _, f := range closeAfter {
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w %d: %s: %w", ErrStart, r, rc.Argv[0], err)
	}
	return &rankProc{cmd: cmd, pgid: cmd.Process.Pid}, nil
}

// inheritedEnv is hpcbench's environment without PMI variables of an outer
// process manager (a Slurm step's PMI_FD would otherwise win over ours).
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PMI_") || strings.HasPrefix(kv, "PMIX_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// output copies the ranks' stdout and stderr line by line, so lines of
// different ranks never interleave, optionally prefixed with "[rank] ".
// Once stopped it writes nothing more, even where a process that escaped
// the rank's group still holds a pipe open.
type output struct {
	stdout io.Writer
	stderr io.Writer
	tag    bool
	wg     sync.WaitGroup

	// mu serialises writes to stdout and stderr and guards the rest.
	mu       sync.Mutex
	stopped  bool
	readEnds []*os.File // the pipes the copiers read
}

func newOutput(opts Options) *output {
	return &output{stdout: opts.Stdout, stderr: opts.Stderr, tag: opts.TagOutput}
}

// attach gives cmd a pipe per wanted stream and starts its copier; it
// returns the parent's copies of the write ends, to close after Start.
func (o *output) attach(cmd *exec.Cmd, r int) ([]*os.File, error) {
	var closeAfter []*os.File
	streams := []struct {
		dst io.Writer
		set func(*os.File)
	}{
		{o.stdout, func(f *os.File) { cmd.Stdout = f }},
		{o.stderr, func(f *os.File) { cmd.Stderr = f }},
	}
	for _, st := range streams {
		if st.dst == nil {
			continue // the child gets /dev/null
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			for _, f := range closeAfter {
				f.Close()
			}
			return nil, err
		}
		st.set(pw)
		closeAfter = append(closeAfter, pw)
		o.mu.Lock()
		o.readEnds = append(o.readEnds, pr)
		o.mu.Unlock()
		o.wg.Add(1)
		go o.copyLines(pr, st.dst, r)
	}
	return closeAfter, nil
}

const outputLineMax = 64 << 10

func (o *output) copyLines(pr *os.File, dst io.Writer, r int) {
	defer o.wg.Done()
	defer pr.Close()
	var prefix []byte
	if o.tag {
		prefix = []byte("[" + strconv.Itoa(r) + "] ")
	}
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 32<<10)
	lineStart := true
	for {
		k, err := pr.Read(chunk)
		data := chunk[:k]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				buf = append(buf, data...)
				data = nil
				if len(buf) >= outputLineMax {
					// An overlong line goes out in pieces.
					o.emit(dst, prefix, buf, lineStart)
					lineStart = false
					buf = buf[:0]
				}
				break
			}
			buf = append(buf, data[:i+1]...)
			data = data[i+1:]
			o.emit(dst, prefix, buf, lineStart)
			lineStart = true
			buf = buf[:0]
		}
		if err != nil {
			if len(buf) > 0 {
				if o.tag {
					buf = append(buf, '\n')
				}
				o.emit(dst, prefix, buf, lineStart)
			}
			return
		}
	}
}

func (o *output) emit(dst io.Writer, prefix, line []byte, lineStart bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return // Launch returned: the writers are the caller's again
	}
	if lineStart && prefix != nil {
		out := make([]byte, 0, len(prefix)+len(line))
		out = append(append(out, prefix...), line...)
		dst.Write(out)
		return
	}
	dst.Write(line)
}

// stop waits for the copiers to see the end of every pipe, at most d, and
// then stops them: nothing is written after it returns, and copiers still
// blocked on a pipe that a leftover process holds open end as their pipe
// is closed under them.
func (o *output) stop(d time.Duration) {
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopped = true
	for _, pr := range o.readEnds {
		pr.Close() // a copier that already closed it gets an error here, and that is fine
	}
	o.readEnds = nil
}
