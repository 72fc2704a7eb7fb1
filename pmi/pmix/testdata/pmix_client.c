/* A bare PMIx client, for wire-up without an MPI library: PMIx_Init, Put
 * of one key, Commit, a Fence that collects data, Get of every peer's key,
 * Finalize. Prints "rank R of N ok" and exits 0 when every value matched. */
#include <pmix.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    pmix_proc_t me, wild;
    pmix_value_t val, *got = NULL;
    pmix_status_t rc = PMIx_Init(&me, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 2;
    }
    PMIX_LOAD_PROCID(&wild, me.nspace, PMIX_RANK_WILDCARD);
    rc = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &got);
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "rank %u: get job size: %s\n", me.rank, PMIx_Error_string(rc));
        return 3;
    }
    uint32_t size = got->data.uint32;
    PMIX_VALUE_RELEASE(got);

    char mine[64];
    snprintf(mine, sizeof mine, "card-of-rank-%u", me.rank);
    PMIX_VALUE_LOAD(&val, mine, PMIX_STRING);
    rc = PMIx_Put(PMIX_GLOBAL, "hpcbench.card", &val);
    PMIX_VALUE_DESTRUCT(&val);
    if (rc == PMIX_SUCCESS) {
        rc = PMIx_Commit();
    }
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "rank %u: put/commit: %s\n", me.rank, PMIx_Error_string(rc));
        return 4;
    }
    pmix_info_t collect;
    bool yes = true;
    PMIX_INFO_LOAD(&collect, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    rc = PMIx_Fence(&wild, 1, &collect, 1);
    PMIX_INFO_DESTRUCT(&collect);
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "rank %u: fence: %s\n", me.rank, PMIx_Error_string(rc));
        return 5;
    }
    int bad = 0;
    for (uint32_t r = 0; r < size; r++) {
        pmix_proc_t peer;
        PMIX_LOAD_PROCID(&peer, me.nspace, r);
        rc = PMIx_Get(&peer, "hpcbench.card", NULL, 0, &got);
        char want[64];
        snprintf(want, sizeof want, "card-of-rank-%u", r);
        if (rc != PMIX_SUCCESS || got->type != PMIX_STRING || strcmp(got->data.string, want) != 0) {
            fprintf(stderr, "rank %u: key of rank %u: %s\n", me.rank, r,
                    rc != PMIX_SUCCESS ? PMIx_Error_string(rc) : "wrong value");
            bad = 1;
        }
        if (rc == PMIX_SUCCESS) {
            PMIX_VALUE_RELEASE(got);
        }
    }
    rc = PMIx_Finalize(NULL, 0);
    if (rc != PMIX_SUCCESS) {
        fprintf(stderr, "rank %u: finalize: %s\n", me.rank, PMIx_Error_string(rc));
        return 6;
    }
    if (!bad) {
        printf("rank %u of %u ok\n", me.rank, size);
    }
    return bad;
}
