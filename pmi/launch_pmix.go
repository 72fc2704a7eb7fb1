package pmi

import (
	"errors"
	"fmt"
	"time"

	"github.com/hpcbench/hpcbench/pmi/pmix"
)

// PMIx is served by the cgo server in pmi/pmix. A build without it
// (CGO_ENABLED=0 or the nopmix tag) still registers the flavour, so that a
// launch asking for PMIx fails with ErrUnsupported and pmix.ErrNoPMIx
// rather than "unknown flavour".
func init() { registerBackend(PMIx, newPMIxBackend) }

// pmixBackend is one job registered with the process's PMIx server.
type pmixBackend struct {
	job *pmix.Job
}

func newPMIxBackend(cfg backendConfig) (backend, error) {
	if err := pmix.Available(); err != nil {
		return nil, fmt.Errorf("%w: %w (use --pmi pmi1 or pmi2)", ErrUnsupported, err)
	}
	ev := cfg.Events
	job, err := pmix.NewJob("hpcbench-"+cfg.Job.ID, cfg.Job.Ranks, pmix.Events{
		// A PMIx client is initialised once its handshake with the server
		// completed; WireUp is therefore "every rank connected".
		// The handshake is also the first PMIx message the server sees of
		// the rank; it is stamped when delivered, one goroutine hop after
		// libpmix's up-call, as the fence completion is.
		Connected: func(r int) {
			ev.spoke(r, time.Now())
			ev.initialised(r, string(PMIx))
		},
		// libpmix reports a closed connection the same way as
		// PMIx_Finalize, so a rank that crashed also counts as finalized
		// here; its exit status still fails the job.
		Finalized: ev.finalized,
		Aborted:   ev.aborted,
		FenceDone: ev.fenceCompleted,
	})
	if errors.Is(err, pmix.ErrServerShutDown) {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if err != nil {
		return nil, err
	}
	return &pmixBackend{job: job}, nil
}

func (b *pmixBackend) rankSetup(r int) (rankSetup, error) {
	env, err := b.job.RankEnv(r)
	if err != nil {
		return rankSetup{}, err
	}
	return rankSetup{Env: env, Settings: b.job.Settings()}, nil
}

func (b *pmixBackend) rankStarted(int) {}

// pmixBackend is a sharedTmpdirBackend: a rank in a container needs the
// server's tmpdir at the same path.
var _ sharedTmpdirBackend = (*pmixBackend)(nil)

func (b *pmixBackend) serverTmpdir() string { return b.job.Tmpdir() }

func (b *pmixBackend) close() error { return b.job.Close() }

// Shutdown ends what PMI launches keep beyond their job for the rest of
// the process: it finalises the process's PMIx server, if a launch started
// one, and removes its folder (TMPDIR/hpcbench-pmix-*). Call it once when
// the process ends, after every Launch returned (a command interrupted by
// a signal returns through its launches first); a Launch asking for PMIx
// afterwards fails with ErrUnsupported. A build without PMIx, or a process
// that never served PMIx, has nothing to shut down.
func Shutdown() error {
	if pmix.Available() != nil {
		return nil
	}
	if err := pmix.Shutdown(); err != nil {
		return fmt.Errorf("PMI shutdown: %w", err)
	}
	return nil
}

// SweepLeftovers removes what the PMI launches of a killed hpcbench left
// in the system's temporary folder (the PMIx server's folder, which
// Shutdown would have removed) and returns the paths removed. Folders of
// a process that still runs stay.
func SweepLeftovers() []string { return pmix.SweepTmpdirs() }
