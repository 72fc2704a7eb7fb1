package pmi

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// A backend serves one PMI flavour to the ranks of one job. The launcher
// creates one per launch through the factory registered for the flavour,
// asks it what each rank needs before starting the rank, and listens to
// what it reports through the eventSink it was given. The pure-Go PMI-1 and
// PMI-2 server (simpleBackend) is one; PMIx plugs in as another by
// registering its factory from an init function:
//
//	func init() { registerBackend(PMIx, newPMIxBackend) }
type backend interface {
	// rankSetup returns what rank r needs to reach the server. It is called
	// once per rank, in rank order, before the rank is started.
	rankSetup(r int) (rankSetup, error)
	// rankStarted is called once the rank's process was started, or failed
	// to start, so the backend can close its copies of the rank's files.
	rankStarted(r int)
	// close stops serving: it closes listeners and connections and returns
	// once nothing of the backend runs any more. Safe to call twice.
	close() error
}

// sharedTmpdirBackend is a backend whose ranks reach the server through
// files in a folder of the server's (PMIx: its rendezvous files and
// shared-memory store). A rank in a container must see that folder at the
// same path, so the launcher hands it to Wrappers as Job.PMIxTmpdir.
// Backends without such a folder (PMI-1, PMI-2) do not implement it.
type sharedTmpdirBackend interface {
	backend
	// serverTmpdir is the folder's path on this host.
	serverTmpdir() string
}

// rankSetup is what one rank needs from its backend.
type rankSetup struct {
	// Env holds NAME=value entries added to the rank's environment.
	Env []string
	// Files become the rank's fds 3, 4, ... in this order, before any
	// file a Wrapper adds; Env may name them by those numbers.
	Files []*os.File
	// Settings are environment settings that change the measurement and
	// belong in Report.Settings (the same for every rank).
	Settings map[string]string
}

// backendConfig is what a backend factory gets.
type backendConfig struct {
	Job    Job
	KVS    string // the job's KVS name (PMI_JOBID, PMI-1 kvsname, PMI-2 jobid)
	Events eventSink
}

// eventSink receives what a backend observes. Calls may come from any
// goroutine and must not block for long; the launcher records them under a
// lock.
type eventSink interface {
	// spoke: rank r's first PMI message reached the server at the given
	// time (PMI-1/PMI-2: its first request; PMIx: its connection
	// handshake). Called once per rank, before initialised.
	spoke(r int, at time.Time)
	// initialised: rank r finished PMI init speaking version ("pmi1", ...).
	initialised(r int, version string)
	// fenceCompleted: a fence or barrier completed for all ranks.
	fenceCompleted()
	// finalized: rank r called PMI finalize.
	finalized(r int)
	// disconnected: rank r's PMI connection ended; every request it sent
	// has been handled (so no abort of r is still on its way).
	disconnected(r int)
	// aborted: rank r asked to abort the job with code and message.
	aborted(r int, code int, msg string)
	// failed: the backend cannot go on serving; r is the rank at fault, or
	// -1 when unknown (a connection that never named its rank).
	failed(r int, err error)
	// refused: a connection to the server's TCP port ended without
	// naming a rank of the job (a stranger, see admit.go), for the reason
	// given; it used no rank's slot and does not fail the job.
	refused(why string)
}

type backendFactory func(cfg backendConfig) (backend, error)

var (
	backendsMu sync.Mutex
	backends   = map[Flavour]backendFactory{}
)

// registerBackend makes flavour available to Launch.
func registerBackend(f Flavour, factory backendFactory) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[f] = factory
}

func lookupBackend(f Flavour) (backendFactory, error) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if factory, ok := backends[f]; ok {
		return factory, nil
	}
	if f == PMIx {
		return nil, fmt.Errorf("%w: PMIx is not available yet in this build (use --pmi pmi1 or pmi2)", ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: unknown PMI flavour %q (want pmi1, pmi2 or pmix)", ErrUnsupported, f)
}
