//go:build cgo && !nopmix

// Host side of the PMIx server: the up-calls libpmix makes into hpcbench and
// thin wrappers that keep pmix_info_t arrays alive until libpmix's
// asynchronous calls complete. Every up-call runs on libpmix's progress
// thread and must not block; the Go functions it calls only queue work.

#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "shim.h"
#include "_cgo_export.h"

// Up-calls. Each copies what it needs out of libpmix's memory before
// returning, because libpmix owns its arguments only for the call's duration.

static pmix_status_t hb_client_connected2(const pmix_proc_t *proc, void *server_object,
                                          pmix_info_t info[], size_t ninfo,
                                          pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)server_object; (void)info; (void)ninfo; (void)cbfunc; (void)cbdata;
    goClientConnected((char *)proc->nspace, proc->rank);
    // Done here and now: libpmix then releases the client itself (some 4.x
    // releases pass no cbfunc at all for this up-call).
    return PMIX_OPERATION_SUCCEEDED;
}

static pmix_status_t hb_client_finalized(const pmix_proc_t *proc, void *server_object,
                                         pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)server_object;
    goClientFinalized((char *)proc->nspace, proc->rank, cbfunc, cbdata);
    return PMIX_SUCCESS; // completed later through hb_complete_op
}

static pmix_status_t hb_abort(const pmix_proc_t *proc, void *server_object, int status,
                              const char msg[], pmix_proc_t procs[], size_t nprocs,
                              pmix_op_cbfunc_t cbfunc, void *cbdata)
{
    (void)server_object; (void)procs; (void)nprocs;
    // procs names who should die; hpcbench always ends the whole job, which
    // is what MPI_Abort on MPI_COMM_WORLD asks for and a superset otherwise.
    goAbort((char *)proc->nspace, proc->rank, status, (char *)msg, cbfunc, cbdata);
    return PMIX_SUCCESS; // completed later through hb_complete_op
}

static pmix_status_t hb_fence_nb(const pmix_proc_t procs[], size_t nprocs,
                                 const pmix_info_t info[], size_t ninfo,
                                 char *data, size_t ndata,
                                 pmix_modex_cbfunc_t cbfunc, void *cbdata)
{
    (void)info; (void)ninfo;
    // One node: the data collected from the local ranks is already all the
    // data there is, so it goes straight back. libpmix owns data only during
    // this call, hence the copy.
    char *copy = NULL;
    if (ndata > 0 && data != NULL) {
        copy = malloc(ndata);
        if (copy == NULL) {
            return PMIX_ERR_NOMEM;
        }
        memcpy(copy, data, ndata);
    }
    const char *nspace = nprocs > 0 ? procs[0].nspace : "";
    goFence((char *)nspace, copy, ndata, cbfunc, cbdata);
    return PMIX_SUCCESS;
}

static pmix_status_t hb_direct_modex(const pmix_proc_t *proc, const pmix_info_t info[],
                                     size_t ninfo, pmix_modex_cbfunc_t cbfunc, void *cbdata)
{
    (void)proc; (void)info; (void)ninfo; (void)cbfunc; (void)cbdata;
    // Every rank is local, so libpmix already holds whatever exists; there
    // is no other node to ask.
    return PMIX_ERR_NOT_FOUND;
}

static pmix_server_module_t hb_module;

pmix_status_t hb_server_init(const char *tmpdir, const char *server_nspace)
{
    memset(&hb_module, 0, sizeof(hb_module));
    hb_module.client_connected2 = hb_client_connected2;
    hb_module.client_finalized = hb_client_finalized;
    hb_module.abort = hb_abort;
    hb_module.fence_nb = hb_fence_nb;
    hb_module.direct_modex = hb_direct_modex;

    bool no = false, yes = true;
    pmix_rank_t server_rank = 0;
    size_t ninfo = 9;
    pmix_info_t *info;
    PMIX_INFO_CREATE(info, ninfo);
    PMIX_INFO_LOAD(&info[0], PMIX_SERVER_TMPDIR, tmpdir, PMIX_STRING);
    PMIX_INFO_LOAD(&info[1], PMIX_SYSTEM_TMPDIR, tmpdir, PMIX_STRING);
    PMIX_INFO_LOAD(&info[2], PMIX_SERVER_NSPACE, server_nspace, PMIX_STRING);
    PMIX_INFO_LOAD(&info[3], PMIX_SERVER_RANK, &server_rank, PMIX_PROC_RANK);
    PMIX_INFO_LOAD(&info[4], PMIX_SERVER_REMOTE_CONNECTIONS, &no, PMIX_BOOL);
    PMIX_INFO_LOAD(&info[5], PMIX_TCP_IF_INCLUDE, "127.0.0.1/32", PMIX_STRING);
    PMIX_INFO_LOAD(&info[6], PMIX_TCP_DISABLE_IPV6, &yes, PMIX_BOOL);
    PMIX_INFO_LOAD(&info[7], PMIX_SERVER_TOOL_SUPPORT, &no, PMIX_BOOL);
    PMIX_INFO_LOAD(&info[8], PMIX_SERVER_SYSTEM_SUPPORT, &no, PMIX_BOOL);
    // Two library settings, read from the environment during init only, so
    // they are set for the call and removed again (the Go side never sees
    // them, and ranks do not inherit them); a value the user set is kept.
    // - libpmix completes a fence among local ranks by itself unless told
    //   otherwise; hpcbench wants the fence up-call, which is how it sees a
    //   job's first fence.
    // - The shared-memory job store (gds ds21) now and then leaves a
    //   client's PMIx_Init hanging with 4.2.2 (about one job in 50 here);
    //   the hash store, which sends job data over the socket, does not.
    static const char *vars[][2] = {
        {"PMIX_MCA_pmix_server_fence_localonly_opt", "0"},
        {"PMIX_MCA_gds", "hash"},
    };
    int set[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (getenv(vars[i][0]) == NULL) {
            setenv(vars[i][0], vars[i][1], 1);
            set[i] = 1;
        }
    }
    pmix_status_t rc = PMIx_server_init(&hb_module, info, ninfo);
    for (int i = 0; i < 2; i++) {
        if (set[i]) {
            unsetenv(vars[i][0]);
        }
    }
    PMIX_INFO_FREE(info, ninfo);
    return rc;
}

// An asynchronous registration: the info array must outlive the call.
typedef struct {
    pmix_info_t *info;
    size_t ninfo;
    uintptr_t handle;
} hb_reg_caddy_t;

static void hb_reg_done(pmix_status_t status, void *cbdata)
{
    hb_reg_caddy_t *cd = cbdata;
    if (cd->info != NULL) {
        PMIX_INFO_FREE(cd->info, cd->ninfo);
    }
    uintptr_t handle = cd->handle;
    free(cd);
    goOpDone(status, handle);
}

pmix_status_t hb_register_nspace(const char *nspace, int nranks, const char *host,
                                 uintptr_t handle)
{
    char *node_map = NULL, *proc_map = NULL;
    pmix_status_t rc = PMIx_generate_regex(host, &node_map);
    if (rc != PMIX_SUCCESS) {
        return rc;
    }
    // "0,1,...,n-1": every rank on the one node.
    size_t len = (size_t)nranks * 12 + 1;
    char *ranks = malloc(len);
    if (ranks == NULL) {
        free(node_map);
        return PMIX_ERR_NOMEM;
    }
    size_t off = 0;
    ranks[0] = '\0';
    for (int r = 0; r < nranks; r++) {
        off += (size_t)snprintf(ranks + off, len - off, r == 0 ? "%d" : ",%d", r);
    }
    rc = PMIx_generate_ppn(ranks, &proc_map);
    free(ranks);
    if (rc != PMIX_SUCCESS) {
        free(node_map);
        return rc;
    }

    uint32_t size = (uint32_t)nranks, nodes = 1;
    hb_reg_caddy_t *cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        free(node_map);
        free(proc_map);
        return PMIX_ERR_NOMEM;
    }
    cd->handle = handle;
    cd->ninfo = 7;
    PMIX_INFO_CREATE(cd->info, cd->ninfo);
    PMIX_INFO_LOAD(&cd->info[0], PMIX_UNIV_SIZE, &size, PMIX_UINT32);
    PMIX_INFO_LOAD(&cd->info[1], PMIX_JOB_SIZE, &size, PMIX_UINT32);
    PMIX_INFO_LOAD(&cd->info[2], PMIX_MAX_PROCS, &size, PMIX_UINT32);
    PMIX_INFO_LOAD(&cd->info[3], PMIX_JOBID, nspace, PMIX_STRING);
    PMIX_INFO_LOAD(&cd->info[4], PMIX_NUM_NODES, &nodes, PMIX_UINT32);
    PMIX_INFO_LOAD(&cd->info[5], PMIX_NODE_MAP, node_map, PMIX_STRING);
    PMIX_INFO_LOAD(&cd->info[6], PMIX_PROC_MAP, proc_map, PMIX_STRING);
    free(node_map);
    free(proc_map);

    pmix_nspace_t ns;
    PMIX_LOAD_NSPACE(ns, nspace);
    rc = PMIx_server_register_nspace(ns, nranks, cd->info, cd->ninfo, hb_reg_done, cd);
    if (rc != PMIX_SUCCESS) {
        // The callback will not run: release here, and let Go drop its handle.
        PMIX_INFO_FREE(cd->info, cd->ninfo);
        free(cd);
    }
    return rc;
}

pmix_status_t hb_register_client(const char *nspace, int rank, uintptr_t handle)
{
    hb_reg_caddy_t *cd = calloc(1, sizeof(*cd));
    if (cd == NULL) {
        return PMIX_ERR_NOMEM;
    }
    cd->handle = handle;
    pmix_proc_t proc;
    PMIX_LOAD_PROCID(&proc, nspace, (pmix_rank_t)rank);
    pmix_status_t rc = PMIx_server_register_client(&proc, getuid(), getgid(), NULL,
                                                   hb_reg_done, cd);
    if (rc != PMIX_SUCCESS) {
        free(cd);
    }
    return rc;
}

pmix_status_t hb_setup_fork(const char *nspace, int rank, char ***env)
{
    pmix_proc_t proc;
    PMIX_LOAD_PROCID(&proc, nspace, (pmix_rank_t)rank);
    char **e = calloc(1, sizeof(char *));
    if (e == NULL) {
        return PMIX_ERR_NOMEM;
    }
    pmix_status_t rc = PMIx_server_setup_fork(&proc, &e);
    *env = e;
    return rc;
}

void hb_free_env(char **env)
{
    if (env == NULL) {
        return;
    }
    for (char **p = env; *p != NULL; p++) {
        free(*p);
    }
    free(env);
}

static void hb_op_done(pmix_status_t status, void *cbdata)
{
    goOpDone(status, (uintptr_t)cbdata);
}

void hb_deregister_nspace(const char *nspace, uintptr_t handle)
{
    pmix_nspace_t ns;
    PMIX_LOAD_NSPACE(ns, nspace);
    PMIx_server_deregister_nspace(ns, hb_op_done, (void *)handle);
}

void hb_complete_op(pmix_op_cbfunc_t cbfunc, void *cbdata, pmix_status_t status)
{
    if (cbfunc != NULL) {
        cbfunc(status, cbdata);
    }
}

static void hb_release_fence_data(void *cbdata)
{
    free(cbdata);
}

void hb_complete_fence(pmix_modex_cbfunc_t cbfunc, void *cbdata, char *data, size_t ndata)
{
    if (cbfunc == NULL) {
        free(data);
        return;
    }
    cbfunc(PMIX_SUCCESS, data, ndata, cbdata, hb_release_fence_data, data);
}
