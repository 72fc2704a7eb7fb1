#include "npbcommon.h"

#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NPB_MPICC
#define NPB_MPICC "mpicc"
#endif
#ifndef NPB_CFLAGS
#define NPB_CFLAGS "(unknown)"
#endif

/* The problem definitions followed are those of NPB 3.4; the suffix
 * tells these kernels apart from NASA's own programs in stored results. */
#define NPB_KERNELS_VERSION "3.4-hpcbench"

uint64_t npb_rand_pow(uint64_t mult, uint64_t n)
{
    uint64_t result = 1;
    uint64_t square = mult & NPB_RAND_MASK;
    while (n != 0) {
        if (n & 1)
            result = npb_rand_mul(result, square);
        square = npb_rand_mul(square, square);
        n >>= 1;
    }
    return result;
}

void npb_rand_fill(uint64_t *state, uint64_t mult, double *out, long count)
{
    uint64_t x = *state;
    for (long i = 0; i < count; i++) {
        x = npb_rand_mul(x, mult);
        out[i] = (double)x * NPB_RAND_SCALE;
    }
    *state = x;
}

/* EXTRA_WORK_MAX bounds HPCBENCH_KERNEL_EXTRA: more than ten times the work
 * is a typo, not a calibration. */
#define EXTRA_WORK_MAX 10.0

/* extra_work returns HPCBENCH_KERNEL_EXTRA as a fraction (0 when unset or
 * empty), or -1 after printing why on rank 0 when it is not a number in
 * [0, EXTRA_WORK_MAX]. */
static double extra_work(int rank)
{
    const char *text = getenv("HPCBENCH_KERNEL_EXTRA");
    if (text == NULL || *text == '\0')
        return 0;
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(x) || x < 0 || x > EXTRA_WORK_MAX) {
        if (rank == 0)
            fprintf(stderr, "HPCBENCH_KERNEL_EXTRA=\"%s\": want a fraction between 0 and %g (0.05 makes the timed section 5%% longer)\n",
                    text, EXTRA_WORK_MAX);
        return -1;
    }
    return x;
}

double npb_stop_timer(double start, int rank)
{
    double now = MPI_Wtime();
    double extra = extra_work(rank);
    if (extra < 0)
        exit(2);
    if (extra == 0)
        return now - start;
    /* Spin rather than sleep: the added time keeps the core busy as the
     * benchmark's own work does, and no sleep's wake-up latency is added
     * on top. The end is checked against the clock, so the section lasts
     * (1 + extra) times its own length up to one MPI_Wtime call. */
    double target = start + (1.0 + extra) * (now - start);
    while (now < target)
        now = MPI_Wtime();
    return now - start;
}

char npb_class_arg(int argc, char **argv, const char *allowed, int rank, const char *prog)
{
    if (argc < 2)
        return 'S';
    const char *arg = argv[1];
    if (strlen(arg) == 1) {
        char c = arg[0];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (strchr(allowed, c) != NULL)
            return c;
    }
    if (rank == 0)
        fprintf(stderr, "%s: unknown problem class \"%s\"; use one of %s (default S)\n",
                prog, arg, allowed);
    return 0;
}

int npb_require_power_of_two(int nprocs, int rank, const char *name)
{
    if (nprocs > 0 && (nprocs & (nprocs - 1)) == 0)
        return 0;
    if (rank == 0)
        fprintf(stderr,
                "%s: the number of processes (%d) is not a power of two; "
                "run with 1, 2, 4, 8, ... processes\n",
                name, nprocs);
    return 1;
}

void npb_fortran_e(char *buf, int bufsize, double v, int digits)
{
    char tmp[64];
    if (v == 0.0) {
        snprintf(buf, (size_t)bufsize, "0.%0*dE+00", digits, 0);
        return;
    }
    /* d.ddddE+xx with digits significant digits, then shift the point. */
    snprintf(tmp, sizeof tmp, "%.*E", digits - 1, v);
    const char *p = tmp;
    int negative = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    char mantissa[40];
    int m = 0;
    for (; *p != 'E'; p++)
        if (*p != '.')
            mantissa[m++] = *p;
    mantissa[m] = '\0';
    int exponent = atoi(p + 1) + 1;
    snprintf(buf, (size_t)bufsize, "%s0.%sE%c%02d", negative ? "-" : "", mantissa,
             exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
}

void npb_fortran_1pd(char *buf, int bufsize, double v, int decimals)
{
    snprintf(buf, (size_t)bufsize, "%.*E", decimals, v);
    char *e = strchr(buf, 'E');
    if (e != NULL)
        *e = 'D';
}

/* compile_date renders __DATE__ ("Nov 29 2026") as NPB does ("29 Nov 2026"). */
static void compile_date(char *buf, size_t size)
{
    const char *d = __DATE__;
    int day = atoi(d + 4);
    snprintf(buf, size, "%02d %.3s %s", day, d, d + 7);
}

void npb_print_summary(const struct npb_summary *s)
{
    char date[32];
    compile_date(date, sizeof date);
    int active = s->active_procs > 0 ? s->active_procs : 1;

    printf("\n\n %s Benchmark Completed%s\n", s->name, s->period ? "." : "");
    printf(" %-16s= %24c\n", "Class", s->class_letter);
    printf(" %-16s= %24s\n", "Size", s->size);
    printf(" %-16s= %24d\n", "Iterations", s->iterations);
    printf(" %-16s= %24.2f\n", "Time in seconds", s->seconds);
    printf(" %-16s= %24d\n", "Total processes", s->total_procs);
    printf(" %-16s= %24d\n", "Active procs", s->active_procs);
    printf(" %-16s= %24.2f\n", "Mop/s total", s->mops_total);
    printf(" %-16s= %24.2f\n", "Mop/s/process", s->mops_total / active);
    printf(" %-16s= %24s\n", "Operation type", s->operation);
    printf(" %-16s= %24s\n", "Verification", s->verified ? "SUCCESSFUL" : "UNSUCCESSFUL");
    printf(" %-16s= %24s\n", "Version", NPB_KERNELS_VERSION);
    printf(" %-16s= %24s\n", "Compile date", date);
    printf("\n Compile options:\n");
    printf("    %-13s= %s\n", "MPICC", NPB_MPICC);
    printf("    %-13s= %s\n", "CLINK", "$(MPICC)");
    printf("    %-13s= %s\n", "CFLAGS", NPB_CFLAGS);
    printf("\n\n");
    fflush(stdout);
}
