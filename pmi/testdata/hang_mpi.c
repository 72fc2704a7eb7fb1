/* hang_mpi: rank 0 sleeps forever after MPI_Init, so the others wait in a
 * barrier forever: only a timeout or an interrupt ends the job. Each rank
 * prints its pid so a test can check that none is left. */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	printf("rank %d started pid %d\n", rank, (int)getpid());
	fflush(stdout);
	if (rank == 0) {
		for (;;) pause();
	}
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}
