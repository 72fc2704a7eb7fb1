// Package pmi is hpcbench's process manager: it spawns the ranks of one MPI
// job, serves them PMI (PMI-1 and PMI-2 over the simple wire protocol in pure
// Go; PMIx through the cgo server in pmi/pmix), streams their output and
// measures the launch.
//
// # Who calls what
//
// The matrix executor and "hpcbench launch" call Launch with Options; the
// runtime adapters implement Wrapper (launch.go holds the contract). Launch
// picks a backend for Options.PMI, asks it per rank for the environment and
// inherited files that reach the server, lets the Wrapper rewrite the rank's
// command, starts every rank in its own session and process group and waits:
//
//	Launch ──► (stop if interrupted, timed out or failed) ──► backend.rankSetup(r)
//	       ──► Wrapper.WrapRank ──► start rank r (setsid)
//	   │            ▲ events: spoke(r, at), initialised(r, version), fenceCompleted(),
//	   │            │         finalized(r), aborted(r, code, msg), failed(r, err),
//	   │            │         refused(why)
//	   ▼            │
//	wait for: every rank reaped | abort | rank died | protocol error | timeout | ctx
//	   │
//	   └─► on failure: SIGTERM every rank's group, SIGKILL after 500 ms,
//	       backend.close(), Wrapper.Cleanup, Report{Reason, Failure, FailedRank}
//
// A backend is an internal interface (backend.go); the PMI-1/PMI-2 server
// is one (server.go, with conn.go for its connections, loop.go for the
// one epoll loop that serves every rank's connection, admit.go for who
// may connect over TCP, each TCP connection with a goroutine of its own
// until it named its rank, pmi1.go and pmi2.go for the two command sets,
// kvs.go for the store and fences), PMIx plugs
// in as another with registerBackend (launch_pmix.go). The PMIx server
// outlives its jobs: the process calls Shutdown once at its end.
//
// Around a launch the package also owns what other parts need of the
// protocol: RequireWorld, the guard that every rank of a successful
// launch spoke PMI (a rank that did not ran as a singleton), GuardWorld,
// which records the guard's verdict in the launch's report, and Relay,
// which carries a TCP-only rank's PMI connection to an outer process
// manager's PMI_FD (a Docker rank in a Slurm step).
//
// # Reaching the server
//
// With ChannelFD each rank inherits one end of a socketpair as fd 3:
//
//	PMI_FD=3 PMI_RANK=r PMI_SIZE=n PMI_JOBID=kvs_<job>
//
// With ChannelTCP the server listens on 127.0.0.1 only, where any process
// of the machine can connect. So a connection is a stranger until it names
// a rank by that rank's token: a random number below 2^31 made as the rank
// is about to start, which only the rank's environment holds (PMI_ID; a
// PMI-1 client sends it in initack, a PMI-2 client in fullinit as pmirank
// or srcid). A stranger that says anything else, stays silent for 5 s or
// is the oldest of too many is dropped, without taking a rank's place or
// failing the job (Report.Refused counts them); after 64 wrong tokens the
// job fails, as someone is guessing. Once every rank has named itself the
// listener closes. A rank's token used twice fails the job:
//
//	PMI_PORT=127.0.0.1:<port> PMI_ID=<token> PMI_RANK=r PMI_SIZE=n PMI_JOBID=kvs_<job>
//
// The inherited fd stays the channel of choice: a socketpair has no
// strangers. TCP is for ranks that cannot inherit one (a Docker container).
//
// # PMI-1 wire messages
//
// Lines of space-separated key=value pairs, the first always cmd=, ending in
// a newline; values cannot hold spaces. Client requests on the left:
//
//	client                                        server
//	cmd=initack pmiid=<token>         ──►                          (TCP only)
//	                                  ◄──  cmd=initack
//	                                  ◄──  cmd=set size=2
//	                                  ◄──  cmd=set rank=1
//	                                  ◄──  cmd=set debug=0
//	cmd=init pmi_version=1 pmi_subversion=1 ──►
//	                                  ◄──  cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0
//	cmd=get_maxes                     ──►
//	                                  ◄──  cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024
//	cmd=get_appnum                    ──►  ◄── cmd=appnum appnum=0
//	cmd=get_my_kvsname                ──►  ◄── cmd=my_kvsname kvsname=kvs_<job>
//	cmd=get_universe_size             ──►  ◄── cmd=universe_size size=2
//	cmd=put kvsname=K key=k value=v   ──►  ◄── cmd=put_result rc=0 msg=success
//	cmd=get kvsname=K key=k           ──►  ◄── cmd=get_result rc=0 msg=success value=v
//	cmd=barrier_in                    ──►  ◄── cmd=barrier_out   (to every rank, once all are in)
//	cmd=finalize                      ──►  ◄── cmd=finalize_ack
//	cmd=abort exitcode=7              ──►      (no reply; the job is torn down)
//
// A get of PMI_process_mapping answers (vector,(0,1,n)): all n ranks on
// one node, which tells MPICH to use shared memory. A failed request is
// answered with rc=-1 and a msg; the connection stays.
//
// # PMI-2 wire messages
//
// The client opens with the PMI-1 line "cmd=init pmi_version=2
// pmi_subversion=0" (answered as a PMI-1 line); after it every message is a
// frame: a 6-character decimal length, space padded, then the body of
// semicolon-terminated key=value pairs. A ';' inside a value is doubled:
//
//	┌──────┬──────────────────────────────────────────────────────────┐
//	│53    │cmd=fullinit;pmijobid=kvs_1;pmirank=0;threaded=FALSE;     │
//	└──────┴──────────────────────────────────────────────────────────┘
//	 length  body (53 bytes)
//
//	cmd=fullinit;pmirank=0; (over TCP: pmirank=<token>; or srcid=<token>;) ──►
//	      ◄── cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;rank=0;size=2;appnum=0;debugged=FALSE;pmiverbose=FALSE;
//	cmd=job-getid;                        ──►  ◄── cmd=job-getid-response;rc=0;jobid=kvs_1;
//	cmd=info-getjobattr;key=universeSize; ──►  ◄── cmd=info-getjobattr-response;rc=0;found=TRUE;value=2;
//	cmd=info-getnodeattr;key=k;wait=TRUE; ──►      (held until some rank puts k)
//	cmd=info-putnodeattr;key=k;value=a;;b;──►  ◄── cmd=info-putnodeattr-response;rc=0;
//	                                           ◄── cmd=info-getnodeattr-response;rc=0;found=TRUE;value=a;;b;  (to the waiter)
//	cmd=kvs-put;key=k;value=v;            ──►  ◄── cmd=kvs-put-response;rc=0;
//	cmd=kvs-fence;                        ──►  ◄── cmd=kvs-fence-response;rc=0;  (to every rank, once all are in)
//	cmd=kvs-get;jobid=kvs_1;srcid=0;key=k;──►  ◄── cmd=kvs-get-response;rc=0;found=TRUE;value=v;
//	cmd=finalize;                         ──►  ◄── cmd=finalize-response;rc=0;
//	cmd=abort;isworld=TRUE;msg=why;       ──►      (no reply; the job is torn down)
//
// Every PMI-2 reply carries rc=; a failed request gets rc=-1 and errmsg=.
//
// # Safety
//
// The framing is told apart per message (a PMI-1 line starts with "cmd=",
// a PMI-2 frame with its length field). From a rank, a message longer than
// 64 KiB, a broken frame, bytes that are neither, a rank claimed twice or
// out of range, or a rank entering the same fence twice closes that
// connection and fails the job with a reason naming the rank; from a
// stranger, any of them (or a message over 506 bytes) only drops it. The
// server never panics on input (see the fuzz targets). All ranks' puts
// together are bounded.
//
// # Bounds of a launch
//
// A launch starts at most Options.MaxRanks ranks (by default
// MaxRanksPerCore per core), and checks between two ranks whether it was
// interrupted, timed out or failed, so that a long start of thousands of
// ranks stops at once and kills what it started.
package pmi
