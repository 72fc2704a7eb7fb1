// Package pmix is hpcbench's PMIx server: libpmix (OpenPMIx 4.2) hosted
// through cgo, serving the ranks of jobs that hpcbench launches on one node.
// It is the only cgo package of hpcbench.
//
// # Contract
//
// The launcher (package pmi, PMI flavour "pmix") calls, per job:
//
//	NewJob(nspace, ranks, events)   register the namespace and every rank
//	job.RankEnv(r), r = 0..n-1      environment of rank r; then spawn it
//	   ... events arrive: Connected(r), FenceDone(), Aborted(r, ...), Finalized(r)
//	job.Close()                     after every rank was reaped (or killed)
//
// and Shutdown once at the end of the process. One server serves the whole
// process (libpmix allows one), started lazily by the first NewJob and able
// to serve several jobs at once or one after another; libpmix 4.2 cannot
// start a second one after Shutdown.
//
// # What happens underneath
//
//	hpcbench (Go)             libpmix server            rank (PMIx client)
//	NewJob ----------------> register_nspace (node map, proc map, sizes)
//	       ----------------> register_client x n
//	RankEnv <--------------- setup_fork: PMIX_NAMESPACE, PMIX_RANK,
//	                          PMIX_SERVER_URI*=...;tcp4://127.0.0.1:PORT, ...
//	spawn rank ------------------------------------------> PMIx_Init
//	                         <------------- connect, handshake over TCP
//	Connected(r) <---------- client_connected2 up-call
//	                         <------------- PMIx_Put, PMIx_Commit, PMIx_Fence
//	                          (all local ranks in)
//	FenceDone() <----------- fence_nb up-call: data copied, handed straight
//	                          back (one node holds all the data there is)
//	                         -------------> fence released, data delivered
//	Aborted(r, code, msg) <- abort up-call (MPI_Abort); the caller kills
//	                          the job, as Open MPI leaves the others running
//	Finalized(r) <---------- client_finalized up-call (PMIx_Finalize or a
//	                          closed connection)
//	Close -----------------> deregister_nspace (drops ranks and data)
//
// Up-calls run on libpmix's progress thread. They copy what they need, queue
// an event for the job and return; events are delivered in order on a
// goroutine of the job's, and completions that release a blocked client run
// on goroutines. Asynchronous libpmix calls carry a runtime/cgo.Handle value
// (an integer, never a Go pointer) through their cbdata; the completion
// deletes it.
//
// # Settings
//
// The server listens on 127.0.0.1 only, so a rank in a container needs the
// host's network namespace, and keeps its files in a private tmpdir
// (Job.Tmpdir, passed to runtime adapters as Job.PMIxTmpdir), which such a
// rank should see at the same path.
// Two libpmix settings apply to the server: the node-local fence shortcut
// is off (so that hpcbench sees fences), and job data is kept in the hash
// store rather than shared memory (libpmix 4.2.2's shared-memory store now
// and then leaves a client's PMIx_Init hanging). Ranks get
// OMPI_MCA_schizo=^orte (without it Open MPI 4 takes every rank for a
// singleton), PMIX_MCA_gds=hash and, when there are more ranks than CPUs,
// OMPI_MCA_mpi_yield_when_idle=1, as mpirun does; Job.Settings lists them
// for the launch report.
//
// # Builds without PMIx
//
// With CGO_ENABLED=0 or the build tag nopmix, every entry point returns
// ErrNoPMIx ("hpcbench was built without PMIx support"), and the rest of
// hpcbench works with PMI-1 and PMI-2. A cgo build needs libpmix's headers
// and pkg-config (Debian: libpmix-dev, pkg-config); where those are missing,
// build with -tags nopmix.
package pmix
