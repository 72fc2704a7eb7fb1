// This file is the launcher contract other packages build on: the matrix
// executor calls Launch, the runtime adapters implement Wrapper. The
// package documentation is in doc.go.

package pmi

import (
	"io"
	"os"
	"time"
)

// Flavour is a PMI wire protocol.
type Flavour string

const (
	PMI1 Flavour = "pmi1" // simple wire protocol, version 1 (MPICH's default)
	PMI2 Flavour = "pmi2" // simple wire protocol, version 2 (Slurm's libpmi2, Intel MPI)
	PMIx Flavour = "pmix" // PMIx (Open MPI 4 and later), served through libpmix
)

// Channel is how a PMI-1/PMI-2 client reaches the server.
type Channel string

const (
	ChannelFD  Channel = "fd"  // PMI_FD: an inherited socketpair end
	ChannelTCP Channel = "tcp" // PMI_PORT=127.0.0.1:port plus PMI_ID
)

// RankCommand is the process the launcher is about to start for one rank.
// A Wrapper rewrites it to run the rank inside a container runtime.
type RankCommand struct {
	Rank int
	// Argv is the full command line; Argv[0] is looked up in PATH.
	Argv []string
	// Env is the complete environment of the rank, PMI variables included.
	Env []string
	Dir string
	// ExtraFiles become fd 3, 4, ... of the child (PMI_FD names one of them).
	ExtraFiles []*os.File
	// CPU is the core the rank is pinned to with Options.Bind "core", -1
	// for none. The launcher pins the process it starts; a Wrapper whose
	// rank runs elsewhere (a container) can pass it on (--cpuset-cpus).
	CPU int
}

// Job describes the job a Wrapper is wrapping ranks for.
type Job struct {
	ID      string // unique per launch; containers are named hpcbench-<ID>-<rank>
	Ranks   int
	PMI     Flavour
	Channel Channel // the PMI-1/PMI-2 channel in use
	// PMIxTmpdir is the PMIx server's tmpdir; ranks must see it at the same path.
	PMIxTmpdir string
}

// Wrapper places each rank in a runtime. The native launch has none.
type Wrapper interface {
	// Channel returns the PMI-1/PMI-2 channel that crosses this runtime
	// (fd where the runtime passes inherited fds, otherwise tcp).
	Channel() Channel
	// WrapRank rewrites cmd in place before the rank is started.
	WrapRank(job Job, cmd *RankCommand) error
	// Cleanup removes whatever the runtime left behind for job (containers),
	// after the ranks ended or were killed. It must be safe to call twice.
	Cleanup(job Job) error
}

// Options describe one launch.
type Options struct {
	Ranks   int
	PMI     Flavour       // default PMI1
	Channel Channel       // default: the Wrapper's, else fd
	Timeout time.Duration // 0: none
	Bind    string        // "none" (default) or "core": rank r pinned to core r mod cores
	// MaxRanks is the most ranks the launch may start: more fail it with
	// ErrTooManyRanks before anything is started. 0 is DefaultMaxRanks().
	MaxRanks int
	// TagOutput prefixes every output line with "[rank] ".
	TagOutput bool
	Argv      []string
	// Env is added to every rank's environment (on top of os.Environ()).
	Env    []string
	Dir    string
	Stdout io.Writer
	Stderr io.Writer
	// Wrapper runs the ranks in a container runtime; nil runs them natively.
	Wrapper Wrapper
	// JobID names the job; empty picks a unique one.
	JobID string
}

// Report is what one launch measured. It is written as JSON by
// "hpcbench launch --report FILE", which is how a node-level launch inside a
// container hands its measurements back.
type Report struct {
	JobID   string  `json:"job_id"`
	Ranks   int     `json:"ranks"`
	PMI     Flavour `json:"pmi"`
	Channel Channel `json:"channel,omitempty"`
	// Wall is from the first spawn until the last rank was reaped.
	Wall time.Duration `json:"wall_ns"`
	// WireUp is from the first spawn until every rank finished PMI init
	// (PMI-1 init, PMI-2 fullinit, PMIx client connect). 0 if never.
	WireUp time.Duration `json:"wireup_ns"`
	// FirstFence is from the first spawn until the first fence/barrier
	// completed for all ranks. 0 if never.
	FirstFence time.Duration `json:"first_fence_ns"`
	// WireUp and FirstFence mix two costs: starting each rank (a process,
	// or a container and the process in it) and the PMI exchange itself.
	// RankStart, ContainerStart and PMIExchange tell them apart.
	//
	// RankStart is, per rank, from that rank's own spawn until its first
	// PMI message reached the server (PMI-1/PMI-2: its first request;
	// PMIx: its connection handshake); 0 for a rank that never spoke.
	RankStart []time.Duration `json:"rank_start_ns,omitempty"`
	// ContainerStart is the largest RankStart: the slowest rank gates
	// the job, as no fence completes before it speaks. The name says
	// what it measures in a container; natively it is the process start
	// and MPI's own set-up before PMI. For a per-node launch it is
	// measured inside the container, so it leaves out the container's
	// own start. 0 if no rank spoke.
	ContainerStart time.Duration `json:"container_start_ns,omitempty"`
	// PMIExchange is from the moment every rank had spoken PMI (the last
	// rank's first message) until the first fence/barrier completed for
	// all ranks: the PMI protocol's own time, without waiting for slow
	// starters. 0 if a rank never spoke or no fence completed.
	PMIExchange time.Duration `json:"pmi_exchange_ns,omitempty"`
	// Negotiated is the PMI version each rank actually spoke ("pmi1",
	// "pmi2", "pmix"; "" for a rank that never spoke PMI).
	Negotiated []string `json:"negotiated"`
	// Spawned is how many ranks were started: fewer than Ranks when the
	// launch was stopped (a failure, the timeout, an interruption) while
	// it was still starting them.
	Spawned int `json:"spawned"`
	// Refused counts the connections to the PMI server's TCP port that
	// named no rank of the job (another process on the machine, or a
	// rank that lost its PMI_ID): each was dropped without taking a
	// rank's place. RefusedWhy says why the first one was.
	Refused    int    `json:"refused_connections,omitempty"`
	RefusedWhy string `json:"refused_why,omitempty"`

	ExitCodes  []int   `json:"exit_codes"` // per rank; -signal for a signal death
	PeakRSSKiB []int64 `json:"peak_rss_kib"`
	// ExitStatus is what a launcher command exits with: 0 on success, the
	// failing rank's exit code, 128+signal for a rank killed by a signal,
	// the code a rank aborted with, 1 for any other failure.
	ExitStatus int `json:"exit_status"`
	// FailedRank is the rank that made the launch fail, -1 if none or unknown.
	FailedRank int `json:"failed_rank"`
	// Reason says why the launch failed ("rank 2 called abort with code 7",
	// "timeout after 30s", "interrupted", "rank 1 negotiated pmi1, not pmi2").
	Reason string `json:"reason,omitempty"`
	// Failure is the kind of failure Reason describes, for callers that
	// branch on it; FailureNone when the launch succeeded.
	Failure FailureKind `json:"failure,omitempty"`
	// Settings are the environment settings hpcbench itself added to the
	// ranks (e.g. OMPI_MCA_schizo=^orte); they are part of the cell.
	Settings map[string]string `json:"settings,omitempty"`
}

// OK reports whether the launch succeeded.
func (r *Report) OK() bool { return r.Reason == "" }

// FailureKind classifies why a launch failed. The launcher sets it where it
// decides the failure, next to Report.Reason, so that callers branch on the
// kind rather than on the text.
type FailureKind string

const (
	FailureNone FailureKind = ""
	// FailureExit: a rank exited with a non-zero code (or could not be waited for).
	FailureExit FailureKind = "exit"
	// FailureSignal: a rank was killed by a signal.
	FailureSignal FailureKind = "signal"
	// FailureAbort: a rank asked the process manager to abort the job.
	FailureAbort FailureKind = "abort"
	// FailureUnfinalized: a rank exited 0 after PMI init without PMI
	// finalize while other ranks still ran.
	FailureUnfinalized FailureKind = "unfinalized"
	// FailureTimeout: the job ran past Options.Timeout (or a caller's
	// equivalent limit) and was killed.
	FailureTimeout FailureKind = "timeout"
	// FailureInterrupted: the launch's context was cancelled or its
	// deadline passed.
	FailureInterrupted FailureKind = "interrupted"
	// FailurePMIMismatch: a rank negotiated another PMI version than asked.
	FailurePMIMismatch FailureKind = "pmi-mismatch"
	// FailureSingleton: every rank exited 0, but some never spoke PMI,
	// so they ran as worlds of their own (GuardWorld).
	FailureSingleton FailureKind = "singleton"
	// FailureProtocol: the PMI server failed (a protocol error, a
	// connection it could not serve, a failure closing it).
	FailureProtocol FailureKind = "protocol"
	// FailureStart: a rank could not be started.
	FailureStart FailureKind = "start"
	// FailureCleanup: the runtime could not clean up after the ranks.
	FailureCleanup FailureKind = "cleanup"
	// FailureNoReport: a launch run elsewhere (a per-node container) left
	// no report to read.
	FailureNoReport FailureKind = "no-report"
)
