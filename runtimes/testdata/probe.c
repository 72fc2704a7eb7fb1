/* probe: an MPI program for the runtime conformance suite.
 *
 *   probe hello   every rank prints "rank R of N sum S" after an allreduce
 *                 (S = N*(N-1)/2) and "world R N" for the size check
 *   probe abort   rank 1 (or 0 alone) calls MPI_Abort with code 7
 *   probe sleep   every rank waits in a barrier-less sleep (for timeouts)
 *   probe true    MPI_Init and MPI_Finalize only (container start cost)
 *
 * Builds with MPICH's and Open MPI's mpicc. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char *mode = argc > 1 ? argv[1] : "hello";
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (strcmp(mode, "abort") == 0) {
		if (rank == (size > 1 ? 1 : 0)) {
			fprintf(stderr, "probe: rank %d aborting with 7\n", rank);
			MPI_Abort(MPI_COMM_WORLD, 7);
		}
		sleep(60);
	} else if (strcmp(mode, "sleep") == 0) {
		sleep(300);
	} else if (strcmp(mode, "hello") == 0) {
		long mine = rank, sum = 0;
		MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
		printf("rank %d of %d sum %ld\n", rank, size, sum);
		fflush(stdout);
	}
	MPI_Finalize();
	return 0;
}
