/*
 * pingpong: point-to-point latency and bandwidth between ranks 0 and 1,
 * used to compare MPI runtimes and launch modes. Each sample is one
 * round trip (rank 0 sends, rank 1 sends the message back); the one-way
 * time is half of it. Medians over many samples damp scheduler noise.
 * Other ranks, if any, only wait. Output is "key = value" lines.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_BYTES 8
#define LARGE_BYTES (1 << 20)
#define SMALL_SAMPLES 2000
#define LARGE_SAMPLES 200
#define WARMUP 50

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* one_way_median returns the median one-way time in seconds for
 * messages of bytes bytes (meaningful on rank 0). */
static double one_way_median(int rank, char *buf, int bytes, int samples)
{
    double *t = malloc(sizeof(double) * (size_t)samples);
    if (t == NULL) {
        fprintf(stderr, "pingpong: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int i = -WARMUP; i < samples; i++) {
        double start = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(buf, bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Recv(buf, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
        if (i >= 0)
            t[i] = (MPI_Wtime() - start) / 2.0;
    }
    double m = median(t, samples);
    free(t);
    return m;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, nprocs;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    if (nprocs < 2) {
        if (rank == 0)
            fprintf(stderr, "pingpong: needs at least 2 processes (got %d); ranks 0 and 1 exchange messages\n",
                    nprocs);
        MPI_Finalize();
        return 1;
    }

    char *buf = malloc(LARGE_BYTES);
    if (buf == NULL) {
        fprintf(stderr, "pingpong: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(buf, rank, LARGE_BYTES);

    double small = 0.0, large = 0.0;
    if (rank < 2) {
        small = one_way_median(rank, buf, SMALL_BYTES, SMALL_SAMPLES);
        large = one_way_median(rank, buf, LARGE_BYTES, LARGE_SAMPLES);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    if (rank == 0) {
        char library[MPI_MAX_LIBRARY_VERSION_STRING];
        int len;
        MPI_Get_library_version(library, &len);
        char *newline = strchr(library, '\n');
        if (newline != NULL)
            *newline = '\0';
        for (char *c = library; *c != '\0'; c++)
            if (*c == '\t')
                *c = ' ';
        printf("processes = %d\n", nprocs);
        printf("mpi_library = %s\n", library);
        printf("latency_8B_samples = %d\n", SMALL_SAMPLES);
        printf("latency_8B_us = %.3f\n", small * 1.0e6);
        printf("bandwidth_1MiB_samples = %d\n", LARGE_SAMPLES);
        /* MB/s in units of 10^6 bytes, as MPI benchmarks usually report. */
        printf("bandwidth_1MiB_MBps = %.1f\n", (double)LARGE_BYTES / large / 1.0e6);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
