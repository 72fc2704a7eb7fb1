/* hello_mpi: every rank says who it is and checks an allreduce.
 *
 * Prints "rank R of N sum S" where S is the sum of all ranks (N*(N-1)/2).
 * With HELLO_TIMING set, also prints
 * "timing rank=R init_start=NS init_end=NS finalize_end=NS" in
 * CLOCK_REALTIME nanoseconds, so a launcher can tell its own share of the
 * wall time from the ranks' time inside MPI. Builds with MPICH's and
 * Open MPI's mpicc. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long long init_start = now_ns();
	MPI_Init(&argc, &argv);
	long long init_end = now_ns();
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	long mine = rank, sum = 0;
	MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	printf("rank %d of %d sum %ld\n", rank, size, sum);
	fflush(stdout);
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	long long fin_end = now_ns();
	if (getenv("HELLO_TIMING") != NULL) {
		printf("timing rank=%d init_start=%lld init_end=%lld finalize_end=%lld\n",
		       rank, init_start, init_end, fin_end);
	}
	return 0;
}
