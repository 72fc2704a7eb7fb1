/* pmi2client: a PMI-2 conformance peer built on Slurm's libpmi2.
 *
 * Each rank: PMI2_Init, PMI2_Job_GetId, PMI2_Info_GetJobAttr
 * (PMI_process_mapping, universeSize), PMI2_KVS_Put of its card,
 * PMI2_KVS_Fence, PMI2_KVS_Get of every peer's card (checked), rank 0
 * PMI2_Info_PutNodeAttr of a value with semicolons while every other rank
 * waits for it with PMI2_Info_GetNodeAttr(wait), a second fence, and
 * PMI2_Finalize. Prints "pmi2 rank R of N ok" on success.
 * With PMI2CLIENT_ABORT_RANK=R, rank R calls PMI2_Abort after the first
 * fence. Exits non-zero on any failure, naming the call. */
#include <slurm/pmi2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_VALUE "/dev/shm/seg;with;;semicolons"

static void check(int rc, const char *what, int rank) {
	if (rc != PMI2_SUCCESS) {
		fprintf(stderr, "pmi2client rank %d: %s failed with %d\n", rank, what, rc);
		exit(3);
	}
}

int main(void) {
	int spawned, size, rank, appnum;
	check(PMI2_Init(&spawned, &size, &rank, &appnum), "PMI2_Init", -1);
	char jobid[256];
	check(PMI2_Job_GetId(jobid, sizeof jobid), "PMI2_Job_GetId", rank);

	char value[1024];
	int found = 0;
	check(PMI2_Info_GetJobAttr("PMI_process_mapping", value, sizeof value, &found),
	      "PMI2_Info_GetJobAttr(PMI_process_mapping)", rank);
	char want[64];
	snprintf(want, sizeof want, "(vector,(0,1,%d))", size);
	if (!found || strcmp(value, want) != 0) {
		fprintf(stderr, "pmi2client rank %d: PMI_process_mapping %s, want %s\n", rank, value, want);
		return 4;
	}
	check(PMI2_Info_GetJobAttr("universeSize", value, sizeof value, &found),
	      "PMI2_Info_GetJobAttr(universeSize)", rank);
	if (!found || atoi(value) != size) {
		fprintf(stderr, "pmi2client rank %d: universeSize %s, want %d\n", rank, value, size);
		return 4;
	}

	char key[64], card[128];
	snprintf(key, sizeof key, "card-%d", rank);
	snprintf(card, sizeof card, "addr-of-rank-%d;port=%d", rank, 1000 + rank);
	check(PMI2_KVS_Put(key, card), "PMI2_KVS_Put", rank);
	check(PMI2_KVS_Fence(), "PMI2_KVS_Fence", rank);

	const char *abort_rank = getenv("PMI2CLIENT_ABORT_RANK");
	if (abort_rank != NULL && atoi(abort_rank) == rank) {
		PMI2_Abort(1, "pmi2client abort on request");
		return 5; /* not reached if the library exits */
	}

	for (int peer = 0; peer < size; peer++) {
		int len = 0;
		snprintf(key, sizeof key, "card-%d", peer);
		snprintf(want, sizeof want, "addr-of-rank-%d;port=%d", peer, 1000 + peer);
		check(PMI2_KVS_Get(jobid, peer, key, value, sizeof value, &len), "PMI2_KVS_Get", rank);
		if (strcmp(value, want) != 0) {
			fprintf(stderr, "pmi2client rank %d: %s is %s, want %s\n", rank, key, value, want);
			return 4;
		}
	}

	if (rank == 0) {
		check(PMI2_Info_PutNodeAttr("shmseg", NODE_VALUE), "PMI2_Info_PutNodeAttr", rank);
	} else {
		check(PMI2_Info_GetNodeAttr("shmseg", value, sizeof value, &found, 1),
		      "PMI2_Info_GetNodeAttr(wait)", rank);
		if (!found || strcmp(value, NODE_VALUE) != 0) {
			fprintf(stderr, "pmi2client rank %d: node attribute shmseg %s, want %s\n",
			        rank, value, NODE_VALUE);
			return 4;
		}
	}
	check(PMI2_KVS_Fence(), "PMI2_KVS_Fence (second)", rank);
	check(PMI2_Finalize(), "PMI2_Finalize", rank);
	printf("pmi2 rank %d of %d ok\n", rank, size);
	return 0;
}
