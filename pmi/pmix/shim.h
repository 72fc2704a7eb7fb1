// C side of the PMIx server binding: the host module's up-calls and the
// wrappers around libpmix's asynchronous calls. Go reaches this file only
// through server_cgo.go and callbacks_cgo.go.

#ifndef HPCBENCH_PMIX_SHIM_H
#define HPCBENCH_PMIX_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <pmix.h>
#include <pmix_server.h>

// hb_server_init starts the PMIx server library with the host module below.
// It listens on loopback TCP only and keeps its rendezvous and shared-memory
// files under tmpdir.
pmix_status_t hb_server_init(const char *tmpdir, const char *server_nspace);

// hb_register_nspace registers a one-node job of nranks ranks on host.
// Completion is reported through goOpDone(status, handle).
pmix_status_t hb_register_nspace(const char *nspace, int nranks, const char *host,
                                 uintptr_t handle);

// hb_register_client registers one rank; completion through goOpDone.
pmix_status_t hb_register_client(const char *nspace, int rank, uintptr_t handle);

// hb_setup_fork returns a NULL-terminated, malloc'd array of "KEY=VALUE"
// strings the rank needs; free it with hb_free_env.
pmix_status_t hb_setup_fork(const char *nspace, int rank, char ***env);
void hb_free_env(char **env);

// hb_deregister_nspace always completes through goOpDone(status, handle).
void hb_deregister_nspace(const char *nspace, uintptr_t handle);

// hb_complete_op releases a client held in an up-call (finalize, abort).
void hb_complete_op(pmix_op_cbfunc_t cbfunc, void *cbdata, pmix_status_t status);

// hb_complete_fence hands the fence's collected data (a malloc'd copy made by
// the fence up-call) back to libpmix, which frees it through a release call.
void hb_complete_fence(pmix_modex_cbfunc_t cbfunc, void *cbdata, char *data, size_t ndata);

#endif
