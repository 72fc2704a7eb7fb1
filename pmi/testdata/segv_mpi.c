/* segv_mpi: rank 1 dies of SIGSEGV after MPI_Init while the others wait in
 * a barrier; the launcher must notice the death and kill them. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>

int main(int argc, char **argv) {
	MPI_Init(&argc, &argv);
	int rank;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (rank == 1) {
		volatile int *nowhere = NULL;
		*nowhere = 1;
		raise(SIGSEGV); /* in case the store was optimised away */
	}
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}
