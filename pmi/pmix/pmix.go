package pmix

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/hpcbench/hpcbench/internal/leftover"
)

// ErrNoPMIx is returned by every entry point of a build without PMIx
// support (CGO_ENABLED=0, or the nopmix build tag).
var ErrNoPMIx = errors.New("hpcbench was built without PMIx support")

// ErrServerShutDown is returned by NewJob after Shutdown: libpmix 4.2 cannot
// start a second server in a process that finalized one (it aborts).
var ErrServerShutDown = errors.New("the PMIx server of this process was shut down; libpmix cannot start another in the same process")

// ErrJobClosed is returned by a Job's methods after Close.
var ErrJobClosed = errors.New("PMIx job is closed")

// closeDrain bounds how long Close waits for queued events to be delivered.
const closeDrain = time.Second

// maxNspaceLen is PMIX_MAX_NSLEN: a namespace is at most 255 bytes.
const maxNspaceLen = 255

// Events are the job's callbacks; nil fields are skipped. They are called
// one at a time, in the order libpmix reported them, on a goroutine of the
// job's own (never on libpmix's progress thread), so a callback may block
// briefly or kill processes. Close delivers the events already queued
// before it returns; a callback that calls Close itself makes Close wait
// for it a while (closeDrain) instead.
type Events struct {
	// Connected: rank finished its connection handshake with the server;
	// its PMIx_Init is under way and returns once it has its job's data.
	Connected func(rank int)
	// Finalized: rank called PMIx_Finalize, or its connection closed
	// without one (a crash); libpmix does not tell the two apart.
	Finalized func(rank int)
	// Aborted: rank called PMIx_Abort (Open MPI's MPI_Abort). The caller is
	// expected to end the whole job: Open MPI otherwise leaves the other
	// ranks running until their own timeouts.
	Aborted func(rank, status int, msg string)
	// FenceDone: a fence of the job completed (all ranks contributed and the
	// collected data went back). Called once per fence.
	FenceDone func()
}

// Available reports whether this build can serve PMIx: nil, or ErrNoPMIx.
func Available() error { return libAvailable() }

// Version is the version string of the linked libpmix ("" without PMIx).
func Version() string { return libVersion() }

// The process-wide PMIx server. libpmix allows one server per process, so
// every job of a run (a matrix runs many, one after another or side by
// side) shares it; it is started by the first NewJob.
var server struct {
	// lifecycle serialises start, job registration and Shutdown.
	lifecycle sync.Mutex
	running   bool
	finalized bool
	tmpdir    string

	// mu guards jobs only. It is never held while waiting on libpmix,
	// because libpmix's progress thread takes it in every up-call.
	mu   sync.Mutex
	jobs map[string]*Job
}

// start brings the server up once; server.lifecycle is held.
func start() error {
	if server.running {
		return nil
	}
	if server.finalized {
		return ErrServerShutDown
	}
	if err := libAvailable(); err != nil {
		return err
	}
	// A private folder (0700): libpmix keeps its rendezvous files and the
	// job's shared-memory key-value store here. Its name carries this
	// process, so that the folders of servers whose process was killed
	// can go first.
	SweepTmpdirs()
	tmpdir, err := leftover.MkdirTemp("", TmpdirPrefix, "")
	if err != nil {
		return fmt.Errorf("PMIx server: creating its tmpdir: %w", err)
	}
	if err := libInit(tmpdir, "hpcbench-"+strconv.Itoa(os.Getpid())); err != nil {
		os.RemoveAll(tmpdir)
		return fmt.Errorf("starting the PMIx server: %w", err)
	}
	server.running = true
	server.tmpdir = tmpdir
	if server.jobs == nil {
		server.jobs = map[string]*Job{}
	}
	return nil
}

// TmpdirPrefix starts the name of the PMIx server's folder in the system's
// temporary folder: TmpdirPrefix, the owning process (see package
// internal/leftover), random characters.
const TmpdirPrefix = "hpcbench-pmix-"

// SweepTmpdirs removes the folders of PMIx servers whose process is gone
// (killed before Shutdown) and returns their paths. It needs no libpmix.
func SweepTmpdirs() []string { return leftover.Sweep("", TmpdirPrefix) }

// Shutdown finalizes the process's PMIx server and removes its tmpdir. Every
// job must be closed first. It is for the end of the process: afterwards
// NewJob returns ErrServerShutDown, whether or not a server ran: a server
// started after the end would be left behind with its tmpdir.
func Shutdown() error {
	if err := libAvailable(); err != nil {
		return err
	}
	server.lifecycle.Lock()
	defer server.lifecycle.Unlock()
	if !server.running {
		server.finalized = true
		return nil
	}
	server.mu.Lock()
	open := len(server.jobs)
	server.mu.Unlock()
	if open > 0 {
		return fmt.Errorf("PMIx server: %d job(s) still open; close them before Shutdown", open)
	}
	err := libFinalize()
	server.running = false
	server.finalized = true
	if rmErr := os.RemoveAll(server.tmpdir); err == nil && rmErr != nil {
		err = fmt.Errorf("PMIx server: removing its tmpdir: %w", rmErr)
	}
	server.tmpdir = ""
	return err
}

// Job is one MPI job registered with the PMIx server: a namespace and its
// ranks, all on this node.
type Job struct {
	nspace   string
	ranks    int
	tmpdir   string
	settings map[string]string
	ev       Events

	closeOnce sync.Once
	closeErr  error

	qmu        sync.Mutex
	qcond      *sync.Cond
	dispatched chan struct{} // closed when dispatch returns
	queue      []event
	stopping   bool
	closed     bool
}

// NewJob registers a job of ranks ranks under namespace nspace (unique among
// open jobs, at most 255 bytes) with the process's PMIx server, starting the
// server on first use, and registers every rank as a client. Spawn the ranks
// with RankEnv afterwards; Close the job when they have ended.
func NewJob(nspace string, ranks int, ev Events) (*Job, error) {
	if err := libAvailable(); err != nil {
		return nil, err
	}
	if nspace == "" || len(nspace) > maxNspaceLen {
		return nil, fmt.Errorf("PMIx namespace %q: must be 1 to %d bytes", nspace, maxNspaceLen)
	}
	if ranks < 1 {
		return nil, fmt.Errorf("PMIx job %s: %d ranks; need at least 1", nspace, ranks)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("PMIx job %s: hostname: %w", nspace, err)
	}

	server.lifecycle.Lock()
	defer server.lifecycle.Unlock()
	if err := start(); err != nil {
		return nil, err
	}
	j := &Job{
		nspace:   nspace,
		ranks:    ranks,
		tmpdir:   server.tmpdir,
		settings: rankSettings(ranks),
		ev:       ev,
	}
	j.qcond = sync.NewCond(&j.qmu)
	j.dispatched = make(chan struct{})

	server.mu.Lock()
	if _, dup := server.jobs[nspace]; dup {
		server.mu.Unlock()
		return nil, fmt.Errorf("PMIx namespace %s is already in use by an open job", nspace)
	}
	server.jobs[nspace] = j
	server.mu.Unlock()

	if err := libRegisterJob(nspace, ranks, host); err != nil {
		// Undo whatever part of the registration happened.
		libDeregisterJob(nspace)
		j.forget()
		return nil, fmt.Errorf("PMIx job %s: registering %d ranks: %w", nspace, ranks, err)
	}
	go j.dispatch()
	return j, nil
}

// rankSettings are the environment settings hpcbench adds to every rank of
// a PMIx job; they are part of a cell's provenance.
func rankSettings(ranks int) map[string]string {
	s := map[string]string{
		// Open MPI 4's orte schizo component takes a rank without an
		// mpirun-provided environment for a singleton; without this every
		// rank thinks it is alone.
		"OMPI_MCA_schizo": "^orte",
	}
	// The server keeps job data in the hash store (see shim.c: the
	// shared-memory store hangs now and then in 4.2.2); clients are held to
	// the same, which libpmix requires of all ranks of a job.
	s["PMIX_MCA_gds"] = "hash"
	if ranks > runtime.NumCPU() {
		// What mpirun does when oversubscribed: ranks waiting in MPI give
		// their core away instead of spinning against one another.
		s["OMPI_MCA_mpi_yield_when_idle"] = "1"
	}
	return s
}

// Namespace is the job's PMIx namespace.
func (j *Job) Namespace() string { return j.nspace }

// Ranks is the number of ranks registered.
func (j *Job) Ranks() int { return j.ranks }

// Tmpdir is the server's tmpdir. A rank in a container must see it at the
// same path (bind mount), and reach the server over host-network loopback.
func (j *Job) Tmpdir() string { return j.tmpdir }

// Settings returns the environment settings hpcbench adds to every rank
// (e.g. OMPI_MCA_schizo=^orte), for the launch report. PMIx's own
// connection variables (PMIX_*) are not included.
func (j *Job) Settings() map[string]string {
	out := make(map[string]string, len(j.settings))
	for k, v := range j.settings {
		out[k] = v
	}
	return out
}

// RankEnv returns what rank needs in its environment, as KEY=VALUE: libpmix's
// connection variables (PMIX_NAMESPACE, PMIX_RANK, PMIX_SERVER_URI*, ...)
// followed by Settings. Place it after the inherited environment, so that a
// stale PMIX_* variable of an enclosing launcher is overridden.
func (j *Job) RankEnv(rank int) ([]string, error) {
	if rank < 0 || rank >= j.ranks {
		return nil, fmt.Errorf("PMIx job %s: rank %d out of range 0..%d", j.nspace, rank, j.ranks-1)
	}
	j.qmu.Lock()
	closed := j.closed
	j.qmu.Unlock()
	if closed {
		return nil, fmt.Errorf("PMIx job %s: %w", j.nspace, ErrJobClosed)
	}
	env, err := libSetupFork(j.nspace, rank)
	if err != nil {
		return nil, fmt.Errorf("PMIx job %s: environment of rank %d: %w", j.nspace, rank, err)
	}
	for _, k := range sortedKeys(j.settings) {
		env = append(env, k+"="+j.settings[k])
	}
	return env, nil
}

// Close deregisters the job from the server (libpmix then drops the job's
// ranks and data) and stops its events once those already
// queued were delivered. Call it after the ranks ended or were killed. It is
// safe to call twice.
func (j *Job) Close() error {
	j.closeOnce.Do(func() {
		j.qmu.Lock()
		j.closed = true
		j.qmu.Unlock()
		err := libDeregisterJob(j.nspace)
		j.forget()
		select {
		case <-j.dispatched:
		case <-time.After(closeDrain):
		}
		if err != nil {
			j.closeErr = fmt.Errorf("PMIx job %s: closing: %w", j.nspace, err)
		}
	})
	return j.closeErr
}

// forget removes the job from the server's table and ends its events.
func (j *Job) forget() {
	server.mu.Lock()
	if server.jobs[j.nspace] == j {
		delete(server.jobs, j.nspace)
	}
	server.mu.Unlock()
	j.qmu.Lock()
	j.closed = true
	j.stopping = true
	j.qcond.Broadcast()
	j.qmu.Unlock()
}
