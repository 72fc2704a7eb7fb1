/*
 * Shared pieces of hpcbench's NAS Parallel Benchmark kernels: the
 * specification's linear congruential generator, problem-class parsing,
 * rank-count checks and NPB's end-of-run summary block.
 *
 * The kernels are written from the published NPB problem descriptions
 * (NAS reports RNR-94-007 and NAS-95-020); the summary block reproduces
 * the layout of NPB 3.4 so that the same parser reads both.
 */
#ifndef HPCBENCH_NPBCOMMON_H
#define HPCBENCH_NPBCOMMON_H

#include <stdint.h>

/* Generator: x(k+1) = a * x(k) mod 2^46 with a = 5^13. */
#define NPB_RAND_MULT UINT64_C(1220703125)
#define NPB_RAND_MASK ((UINT64_C(1) << 46) - 1)
#define NPB_RAND_SCALE (1.0 / 70368744177664.0) /* 2^-46 */

/* npb_rand_mul returns a*b mod 2^46, exactly. */
static inline uint64_t npb_rand_mul(uint64_t a, uint64_t b)
{
    /* The low 46 bits of a 92-bit product only depend on the low 64
     * bits, so wrap-around unsigned multiplication is exact here. */
    return (a * b) & NPB_RAND_MASK;
}

/* npb_rand_next advances *state by one step with multiplier mult and
 * returns the new value scaled into (0,1). */
static inline double npb_rand_next(uint64_t *state, uint64_t mult)
{
    *state = npb_rand_mul(*state, mult);
    return (double)*state * NPB_RAND_SCALE;
}

/* npb_rand_pow returns mult^n mod 2^46 by repeated squaring: the
 * multiplier that jumps a sequence n steps ahead at once. */
uint64_t npb_rand_pow(uint64_t mult, uint64_t n);

/* npb_rand_fill writes the next count values of the sequence into out. */
void npb_rand_fill(uint64_t *state, uint64_t mult, double *out, long count);

/* npb_seed_from_double converts a seed given as in the specification
 * (an integer-valued double such as 271828183.0) to generator state. */
static inline uint64_t npb_seed(double seed) { return (uint64_t)seed & NPB_RAND_MASK; }

/* npb_class_arg returns the problem class named by argv[1] ('S' when
 * absent), or 0 after printing an error on rank 0 when it is not one of
 * the classes in allowed. */
char npb_class_arg(int argc, char **argv, const char *allowed, int rank, const char *prog);

/* npb_require_power_of_two returns 0 when nprocs is a power of two;
 * otherwise rank 0 prints why the run cannot start and it returns 1. */
int npb_require_power_of_two(int nprocs, int rank, const char *name);

/* npb_fortran_e formats v like Fortran's Ew.d edit descriptor with
 * digits significant digits (0.dddE+xx) into buf. */
void npb_fortran_e(char *buf, int bufsize, double v, int digits);

/* npb_fortran_1pd formats v like Fortran's 1PDw.d descriptor
 * (-3.247834652034487D+03) into buf. */
void npb_fortran_1pd(char *buf, int bufsize, double v, int decimals);

/* npb_stop_timer ends a kernel's timed section that began at start (an
 * MPI_Wtime value) and returns its length in seconds. Without
 * HPCBENCH_KERNEL_EXTRA it is MPI_Wtime() - start. With
 * HPCBENCH_KERNEL_EXTRA=x (0 <= x <= 10) it first measures the section's
 * own length t, then busy-waits until (1 + x) * t have passed since start:
 * a known overhead of exactly x, for calibrating the statistics, that
 * leaves the computed results (and so the verification) untouched. An
 * invalid value prints why on rank 0 and exits with status 2. */
double npb_stop_timer(double start, int rank);

struct npb_summary {
    const char *name;      /* "EP" */
    int period;            /* 1: "EP Benchmark Completed." as the Fortran kernels print */
    char class_letter;
    const char *size;      /* preformatted, e.g. "65536" or "  32x  32x  32" */
    int iterations;
    double seconds;
    int total_procs;
    int active_procs;
    double mops_total;
    const char *operation; /* "floating point", "keys ranked", ... */
    int verified;          /* 1 SUCCESSFUL, 0 UNSUCCESSFUL */
};

/* npb_print_summary prints NPB's summary block to stdout. */
void npb_print_summary(const struct npb_summary *s);

#endif
