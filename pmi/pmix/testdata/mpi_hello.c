/* An Open MPI rank: init, allreduce, barrier, finalize. It prints
 * "rank R of N sum S" and, for the launch benchmark, the wall-clock span
 * from main() to the end of MPI_Finalize ("span_ns START END", CLOCK_REALTIME).
 * Exit status 1 if the allreduce is wrong. */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long long start = now_ns();
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int mine = rank + 1, sum = 0;
    MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    printf("rank %d of %d sum %d\n", rank, size, sum);
    fflush(stdout);
    MPI_Finalize();
    printf("span_ns %lld %lld\n", start, now_ns());
    return sum == size * (size + 1) / 2 ? 0 : 1;
}
