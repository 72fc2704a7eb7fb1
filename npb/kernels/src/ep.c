/*
 * EP: the NPB "embarrassingly parallel" kernel, written from the
 * specification. 2^(M+1) uniform numbers from the shared generator
 * (seed 271828183) form 2^M pairs (x, y) in (-1,1)^2; pairs inside the
 * unit circle give two Gaussian deviates by the polar (Marsaglia)
 * method. The sums of the deviates are verified against the
 * specification's values, the counts per square annulus are reported.
 *
 * Each rank takes a contiguous slice of the pairs and jumps the
 * generator straight to the first number of its slice.
 */
#include "npbcommon.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define EP_SEED 271828183.0
#define EP_ANNULI 10
#define EP_BATCH_PAIRS (1L << 16) /* pairs generated per buffer fill */
#define EP_TOLERANCE 1.0e-8

struct ep_class {
    char letter;
    int m;
    double sum_x, sum_y;
};

static const struct ep_class ep_classes[] = {
    {'S', 24, -3.247834652034740e3, -6.958407078382297e3},
    {'W', 25, -2.863319731645753e3, -6.320053679109499e3},
    {'A', 28, -4.295875165629892e3, -1.580732573678431e4},
};

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, nprocs;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);

    char letter = npb_class_arg(argc, argv, "SWA", rank, "ep");
    if (letter == 0) {
        MPI_Finalize();
        return 2;
    }
    const struct ep_class *cls = NULL;
    for (size_t i = 0; i < sizeof ep_classes / sizeof ep_classes[0]; i++)
        if (ep_classes[i].letter == letter)
            cls = &ep_classes[i];

    long total_pairs = 1L << cls->m;
    long first = total_pairs / nprocs * rank + (rank < total_pairs % nprocs ? rank : total_pairs % nprocs);
    long mine = total_pairs / nprocs + (rank < total_pairs % nprocs ? 1 : 0);

    if (rank == 0) {
        printf("\n NAS Parallel Benchmarks (hpcbench kernels, NPB 3.4 problems) -- EP Benchmark\n\n");
        printf(" Number of random numbers generated: %15ld  (class %c)\n", 2 * total_pairs, letter);
        printf(" Total number of processes:          %15d\n", nprocs);
        fflush(stdout);
    }

    double *buffer = malloc(sizeof(double) * 2 * EP_BATCH_PAIRS);
    if (buffer == NULL) {
        fprintf(stderr, "ep: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime();

    /* The slice starts 2*first numbers into the sequence. */
    uint64_t state = npb_rand_mul(npb_seed(EP_SEED), npb_rand_pow(NPB_RAND_MULT, 2 * (uint64_t)first));
    double sx = 0.0, sy = 0.0;
    double counts[EP_ANNULI] = {0};
    for (long done = 0; done < mine; done += EP_BATCH_PAIRS) {
        long pairs = mine - done < EP_BATCH_PAIRS ? mine - done : EP_BATCH_PAIRS;
        npb_rand_fill(&state, NPB_RAND_MULT, buffer, 2 * pairs);
        for (long i = 0; i < pairs; i++) {
            double x = 2.0 * buffer[2 * i] - 1.0;
            double y = 2.0 * buffer[2 * i + 1] - 1.0;
            double t = x * x + y * y;
            if (t <= 1.0) {
                double f = sqrt(-2.0 * log(t) / t);
                double gx = x * f, gy = y * f;
                double ax = fabs(gx), ay = fabs(gy);
                int annulus = (int)(ax > ay ? ax : ay);
                counts[annulus] += 1.0;
                sx += gx;
                sy += gy;
            }
        }
    }

    double local[2 + EP_ANNULI], global[2 + EP_ANNULI];
    local[0] = sx;
    local[1] = sy;
    for (int i = 0; i < EP_ANNULI; i++)
        local[2 + i] = counts[i];
    MPI_Allreduce(local, global, 2 + EP_ANNULI, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double elapsed = npb_stop_timer(start, rank);
    double slowest;
    MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    if (rank == 0) {
        sx = global[0];
        sy = global[1];
        double gaussian_pairs = 0.0;
        for (int i = 0; i < EP_ANNULI; i++)
            gaussian_pairs += global[2 + i];
        double err_x = fabs((sx - cls->sum_x) / cls->sum_x);
        double err_y = fabs((sy - cls->sum_y) / cls->sum_y);
        int verified = err_x <= EP_TOLERANCE && err_y <= EP_TOLERANCE;

        char bx[40], by[40];
        npb_fortran_1pd(bx, sizeof bx, sx, 15);
        npb_fortran_1pd(by, sizeof by, sy, 15);
        printf("\nEP Benchmark Results:\n\n");
        printf("CPU Time = %9.4f\n", slowest);
        printf("N = 2^%5d\n", cls->m);
        printf("No. Gaussian Pairs = %13.0f.\n", gaussian_pairs);
        printf("Sums = %25s%25s\n", bx, by);
        printf("Counts:\n");
        for (int i = 0; i < EP_ANNULI; i++)
            printf("%3d %13.0f.\n", i, global[2 + i]);
        if (!verified)
            printf("\n Verification failed: relative errors %.3e (x) %.3e (y), tolerance %.0e\n",
                   err_x, err_y, EP_TOLERANCE);

        char size[32];
        snprintf(size, sizeof size, "%ld", 2 * total_pairs);
        struct npb_summary s = {
            .name = "EP",
            .period = 1,
            .class_letter = letter,
            .size = size,
            .iterations = 0,
            .seconds = slowest,
            .total_procs = nprocs,
            .active_procs = nprocs,
            .mops_total = (double)(2 * total_pairs) / slowest / 1.0e6,
            .operation = "Random numbers generated",
            .verified = verified,
        };
        npb_print_summary(&s);
        free(buffer);
        MPI_Finalize();
        return verified ? 0 : 1;
    }
    free(buffer);
    MPI_Finalize();
    return 0;
}
