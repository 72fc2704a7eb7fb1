/*
 * MG: the NPB multigrid kernel, written from the specification. A few
 * V-cycles approximate the solution of the discrete Poisson problem
 * A u = v on a periodic N^3 grid, where v is zero except +1 at the ten
 * points holding the largest and -1 at the ten holding the smallest of
 * N^3 numbers from the shared generator (seed 314159265, grid points in
 * x-fastest order). Each iteration applies one V-cycle and recomputes
 * the residual r = v - A u; the L2 norm of r at the end is verified
 * against the specification's value.
 *
 * Operators (27-point stencils; coefficients for the centre, the 6 face,
 * 12 edge and 8 corner neighbours):
 *   A (residual)           -8/3,  0,     1/6,   1/12
 *   S (smoother, S, W, A)  -3/8,  1/32, -1/64,  0
 *   P (restriction)         1/2,  1/4,   1/8,   1/16 around fine 2j+1
 *   Q (prolongation)        trilinear: fine 2j+1 takes coarse j, fine 2j
 *                           the mean of coarse j-1 and j, per dimension.
 *
 * Levels k = 1..log2 N have 2^k points per dimension. A level with at
 * least one z plane per rank is split in z slabs with one ghost plane on
 * each side (MPI_Sendrecv with the neighbouring ranks); coarser levels
 * are small and computed in full on every rank.
 */
#include "npbcommon.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MG_SEED 314159265.0
#define MG_TOLERANCE 1.0e-8
#define MG_CHARGES 10

struct mg_class {
    char letter;
    int log2_n, iterations;
    double norm;
};

static const struct mg_class mg_classes[] = {
    {'S', 5, 4, 0.5307707005734e-04},
    {'W', 7, 4, 0.6467329375339e-05},
    {'A', 8, 4, 0.2433365309069e-05},
};

static const double coef_a[4] = {-8.0 / 3.0, 0.0, 1.0 / 6.0, 1.0 / 12.0};
static const double coef_s[4] = {-3.0 / 8.0, 1.0 / 32.0, -1.0 / 64.0, 0.0};

struct level {
    int n;           /* points per dimension */
    int nz, z0;      /* z planes held here and the first one's global index */
    int distributed; /* split in z slabs; otherwise held in full */
    size_t plane;    /* (n+2)^2 */
    double *u, *r;
};

static int my_rank, nprocs;

static void *checked_calloc(size_t count, size_t size)
{
    void *p = calloc(count > 0 ? count : 1, size);
    if (p == NULL) {
        fprintf(stderr, "mg: rank %d: out of memory (%zu bytes)\n", my_rank, count * size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

/* Arrays carry one ghost layer per side: indices 0..n+1 in x and y,
 * 0..nz+1 in z; interior point (i,j,k) is at array index (i+1,j+1,k+1). */
#define AT(l, a, k, j, i) (a)[((size_t)(k) * (size_t)((l)->n + 2) + (size_t)(j)) * (size_t)((l)->n + 2) + (size_t)(i)]

static size_t level_size(const struct level *l) { return (size_t)(l->nz + 2) * l->plane; }

/* fill_ghosts makes the ghost layers copies of the periodic images,
 * exchanging boundary planes with the neighbouring ranks when split. */
static void fill_ghosts(const struct level *l, double *a)
{
    int n = l->n;
    for (int k = 1; k <= l->nz; k++) {
        for (int j = 1; j <= n; j++) {
            AT(l, a, k, j, 0) = AT(l, a, k, j, n);
            AT(l, a, k, j, n + 1) = AT(l, a, k, j, 1);
        }
        memcpy(&AT(l, a, k, 0, 0), &AT(l, a, k, n, 0), sizeof(double) * (size_t)(n + 2));
        memcpy(&AT(l, a, k, n + 1, 0), &AT(l, a, k, 1, 0), sizeof(double) * (size_t)(n + 2));
    }
    if (!l->distributed || nprocs == 1) {
        memcpy(&AT(l, a, 0, 0, 0), &AT(l, a, l->nz, 0, 0), sizeof(double) * l->plane);
        memcpy(&AT(l, a, l->nz + 1, 0, 0), &AT(l, a, 1, 0, 0), sizeof(double) * l->plane);
        return;
    }
    int up = (my_rank + 1) % nprocs, down = (my_rank + nprocs - 1) % nprocs;
    MPI_Sendrecv(&AT(l, a, 1, 0, 0), (int)l->plane, MPI_DOUBLE, down, 1, &AT(l, a, l->nz + 1, 0, 0),
                 (int)l->plane, MPI_DOUBLE, up, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&AT(l, a, l->nz, 0, 0), (int)l->plane, MPI_DOUBLE, up, 2, &AT(l, a, 0, 0, 0), (int)l->plane,
                 MPI_DOUBLE, down, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

/* stencil adds c[0]*centre + c[1]*faces + c[2]*edges + c[3]*corners of
 * in, times sign, to out (whose ghosts are then refreshed). The y-z
 * neighbour sums of a line are formed once and shared along x. */
static void stencil(const struct level *l, const double *in, double *out, const double c[4], double sign,
                    const double *base)
{
    int n = l->n;
    double *yz_faces = checked_calloc((size_t)n + 2, sizeof(double));
    double *yz_corners = checked_calloc((size_t)n + 2, sizeof(double));
    for (int k = 1; k <= l->nz; k++) {
        for (int j = 1; j <= n; j++) {
            for (int i = 0; i <= n + 1; i++) {
                yz_faces[i] = AT(l, in, k, j - 1, i) + AT(l, in, k, j + 1, i) + AT(l, in, k - 1, j, i) +
                              AT(l, in, k + 1, j, i);
                yz_corners[i] = AT(l, in, k - 1, j - 1, i) + AT(l, in, k - 1, j + 1, i) +
                                AT(l, in, k + 1, j - 1, i) + AT(l, in, k + 1, j + 1, i);
            }
            for (int i = 1; i <= n; i++) {
                double faces = AT(l, in, k, j, i - 1) + AT(l, in, k, j, i + 1) + yz_faces[i];
                double edges = yz_corners[i] + yz_faces[i - 1] + yz_faces[i + 1];
                double corners = yz_corners[i - 1] + yz_corners[i + 1];
                double value = c[0] * AT(l, in, k, j, i) + c[1] * faces + c[2] * edges + c[3] * corners;
                AT(l, out, k, j, i) = (base != NULL ? AT(l, base, k, j, i) : AT(l, out, k, j, i)) + sign * value;
            }
        }
    }
    free(yz_faces);
    free(yz_corners);
    fill_ghosts(l, out);
}

/* resid: r = v - A u (r may be v). */
static void resid(const struct level *l, const double *u, const double *v, double *r)
{
    stencil(l, u, r, coef_a, -1.0, v);
}

/* psinv: u = u + S r. */
static void psinv(const struct level *l, const double *r, double *u) { stencil(l, r, u, coef_s, 1.0, NULL); }

/* restrict_residual: coarse r = P fine r. A split fine level feeding a
 * level held in full is gathered first. */
static void restrict_residual(const struct level *fine, const struct level *coarse)
{
    const double *src = fine->r;
    struct level whole = *fine;
    double *gathered = NULL;
    if (fine->distributed && !coarse->distributed && nprocs > 1) {
        whole.nz = fine->n;
        whole.z0 = 0;
        whole.distributed = 0;
        gathered = checked_calloc(level_size(&whole), sizeof(double));
        MPI_Allgather(&AT(fine, fine->r, 1, 0, 0), (int)(fine->nz * fine->plane), MPI_DOUBLE,
                      &AT(&whole, gathered, 1, 0, 0), (int)(fine->nz * fine->plane), MPI_DOUBLE, MPI_COMM_WORLD);
        fill_ghosts(&whole, gathered);
        src = gathered;
    }
    const struct level *f = gathered != NULL ? &whole : fine;
    const double w[4] = {0.5, 0.25, 0.125, 0.0625};
    for (int kc = 1; kc <= coarse->nz; kc++) {
        /* Coarse global plane z maps to fine plane 2z+1. */
        int kf = 2 * (coarse->z0 + kc - 1) + 1 - f->z0 + 1;
        for (int jc = 1; jc <= coarse->n; jc++) {
            int jf = 2 * jc;
            for (int ic = 1; ic <= coarse->n; ic++) {
                int i = 2 * ic;
                double sum[4] = {0, 0, 0, 0};
                for (int dk = -1; dk <= 1; dk++)
                    for (int dj = -1; dj <= 1; dj++)
                        for (int di = -1; di <= 1; di++)
                            sum[abs(dk) + abs(dj) + abs(di)] += AT(f, src, kf + dk, jf + dj, i + di);
                AT(coarse, coarse->r, kc, jc, ic) = w[0] * sum[0] + w[1] * sum[1] + w[2] * sum[2] + w[3] * sum[3];
            }
        }
    }
    free(gathered);
    fill_ghosts(coarse, coarse->r);
}

/* Per dimension, fine global point f takes coarse (f-1)/2 when odd and
 * the mean of coarse f/2-1 and f/2 when even; offsets are array indices
 * into the coarse array whose first held plane is coarse_z0. */
struct taps {
    int count;
    int index[2];
    double weight[2];
};

static struct taps taps_for(int f, int coarse_z0)
{
    struct taps t;
    if (f % 2 == 1) {
        t.count = 1;
        t.index[0] = (f - 1) / 2 - coarse_z0 + 1;
        t.weight[0] = 1.0;
    } else {
        t.count = 2;
        t.index[0] = f / 2 - 1 - coarse_z0 + 1;
        t.index[1] = f / 2 - coarse_z0 + 1;
        t.weight[0] = t.weight[1] = 0.5;
    }
    return t;
}

/* interpolate_add: fine u = fine u + Q coarse u. */
static void interpolate_add(const struct level *coarse, const struct level *fine)
{
    int n = fine->n;
    struct taps *xy = checked_calloc((size_t)n + 1, sizeof(struct taps));
    for (int f = 0; f < n; f++)
        xy[f + 1] = taps_for(f, 0);
    for (int k = 1; k <= fine->nz; k++) {
        struct taps tz = taps_for(fine->z0 + k - 1, coarse->z0);
        for (int j = 1; j <= n; j++) {
            const struct taps *ty = &xy[j];
            for (int i = 1; i <= n; i++) {
                const struct taps *tx = &xy[i];
                double sum = 0.0;
                for (int a = 0; a < tz.count; a++)
                    for (int b = 0; b < ty->count; b++)
                        for (int c = 0; c < tx->count; c++)
                            sum += tz.weight[a] * ty->weight[b] * tx->weight[c] *
                                   AT(coarse, coarse->u, tz.index[a], ty->index[b], tx->index[c]);
                AT(fine, fine->u, k, j, i) += sum;
            }
        }
    }
    free(xy);
    fill_ghosts(fine, fine->u);
}

/* v_cycle: one multigrid V-cycle on levels[1..top]; v is the top level's
 * right-hand side, levels[top].r its residual on entry. */
static void v_cycle(struct level *levels, int top, const double *v)
{
    for (int k = top; k > 1; k--)
        restrict_residual(&levels[k], &levels[k - 1]);
    struct level *l = &levels[1];
    memset(l->u, 0, sizeof(double) * level_size(l));
    psinv(l, l->r, l->u);
    for (int k = 2; k < top; k++) {
        l = &levels[k];
        memset(l->u, 0, sizeof(double) * level_size(l));
        interpolate_add(&levels[k - 1], l);
        resid(l, l->u, l->r, l->r);
        psinv(l, l->r, l->u);
    }
    l = &levels[top];
    interpolate_add(&levels[top - 1], l);
    resid(l, l->u, v, l->r);
    psinv(l, l->r, l->u);
}

static double l2_norm(const struct level *l, const double *a)
{
    double local = 0.0, global;
    for (int k = 1; k <= l->nz; k++)
        for (int j = 1; j <= l->n; j++)
            for (int i = 1; i <= l->n; i++)
                local += AT(l, a, k, j, i) * AT(l, a, k, j, i);
    if (l->distributed)
        MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    else
        global = local;
    double points = (double)l->n * l->n * l->n;
    return sqrt(global / points);
}

struct charge {
    double value;
    double index; /* global x-fastest point index, exact in a double */
};

/* keep_extreme inserts c into best (sorted, most extreme first) if it
 * belongs among the MG_CHARGES most extreme; larger says which end. */
static void keep_extreme(struct charge *best, int *count, struct charge c, int larger)
{
    int pos = *count;
    while (pos > 0 && (larger ? c.value > best[pos - 1].value : c.value < best[pos - 1].value))
        pos--;
    if (pos >= MG_CHARGES)
        return;
    int last = *count < MG_CHARGES ? *count : MG_CHARGES - 1;
    for (int m = last; m > pos; m--)
        best[m] = best[m - 1];
    best[pos] = c;
    if (*count < MG_CHARGES)
        (*count)++;
}

/* make_rhs builds v: +1 at the ten largest numbers, -1 at the ten smallest. */
static void make_rhs(const struct level *l, double *v)
{
    int n = l->n;
    uint64_t state = npb_rand_mul(npb_seed(MG_SEED), npb_rand_pow(NPB_RAND_MULT, (uint64_t)n * n * l->z0));
    struct charge high[MG_CHARGES], low[MG_CHARGES];
    int nhigh = 0, nlow = 0;
    for (int k = 0; k < l->nz; k++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                double x = npb_rand_next(&state, NPB_RAND_MULT);
                struct charge c = {x, (double)(((long)(l->z0 + k) * n + j) * n + i)};
                keep_extreme(high, &nhigh, c, 1);
                keep_extreme(low, &nlow, c, 0);
            }

    struct charge mine[2 * MG_CHARGES];
    memcpy(mine, high, sizeof high);
    memcpy(mine + MG_CHARGES, low, sizeof low);
    int sources = l->distributed ? nprocs : 1;
    struct charge *all = checked_calloc((size_t)sources * 2 * MG_CHARGES, sizeof(struct charge));
    if (l->distributed)
        MPI_Allgather(mine, 4 * MG_CHARGES, MPI_DOUBLE, all, 4 * MG_CHARGES, MPI_DOUBLE, MPI_COMM_WORLD);
    else
        memcpy(all, mine, sizeof mine);
    nhigh = nlow = 0;
    for (int s = 0; s < sources; s++)
        for (int m = 0; m < MG_CHARGES; m++) {
            keep_extreme(high, &nhigh, all[s * 2 * MG_CHARGES + m], 1);
            keep_extreme(low, &nlow, all[s * 2 * MG_CHARGES + MG_CHARGES + m], 0);
        }
    free(all);

    memset(v, 0, sizeof(double) * level_size(l));
    for (int m = 0; m < MG_CHARGES; m++) {
        for (int side = 0; side < 2; side++) {
            long idx = (long)(side == 0 ? high[m].index : low[m].index);
            int i = (int)(idx % n), j = (int)(idx / n % n), k = (int)(idx / n / n) - l->z0;
            if (k >= 0 && k < l->nz)
                AT(l, v, k + 1, j + 1, i + 1) = side == 0 ? 1.0 : -1.0;
        }
    }
    fill_ghosts(l, v);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);

    char letter = npb_class_arg(argc, argv, "SWA", my_rank, "mg");
    if (letter == 0) {
        MPI_Finalize();
        return 2;
    }
    if (npb_require_power_of_two(nprocs, my_rank, "mg")) {
        MPI_Finalize();
        return 1;
    }
    const struct mg_class *c = NULL;
    for (size_t i = 0; i < sizeof mg_classes / sizeof mg_classes[0]; i++)
        if (mg_classes[i].letter == letter)
            c = &mg_classes[i];
    int top = c->log2_n, n = 1 << top;
    if (nprocs > n) {
        if (my_rank == 0)
            fprintf(stderr, "mg: class %c has %d planes; use at most %d processes\n", letter, n, n);
        MPI_Finalize();
        return 1;
    }

    struct level *levels = checked_calloc((size_t)top + 1, sizeof(struct level));
    for (int k = 1; k <= top; k++) {
        struct level *l = &levels[k];
        l->n = 1 << k;
        l->distributed = l->n >= nprocs;
        l->nz = l->distributed ? l->n / nprocs : l->n;
        l->z0 = l->distributed ? my_rank * l->nz : 0;
        l->plane = (size_t)(l->n + 2) * (size_t)(l->n + 2);
        l->u = checked_calloc(level_size(l), sizeof(double));
        l->r = checked_calloc(level_size(l), sizeof(double));
    }
    struct level *fine = &levels[top];
    double *v = checked_calloc(level_size(fine), sizeof(double));

    if (my_rank == 0) {
        printf("\n\n NAS Parallel Benchmarks (hpcbench kernels, NPB 3.4 problems) -- MG Benchmark\n\n");
        printf(" Size: %4dx%4dx%4d  (class %c)\n", n, n, n, letter);
        printf(" Iterations: %3d\n", c->iterations);
        printf(" Number of processes: %6d\n\n", nprocs);
        fflush(stdout);
    }

    /* One untimed iteration touches all code and data, then the problem
     * is set up again. */
    make_rhs(fine, v);
    resid(fine, fine->u, v, fine->r);
    v_cycle(levels, top, v);
    resid(fine, fine->u, v, fine->r);
    memset(fine->u, 0, sizeof(double) * level_size(fine));
    make_rhs(fine, v);

    MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime();
    resid(fine, fine->u, v, fine->r);
    for (int it = 1; it <= c->iterations; it++) {
        if (my_rank == 0 && letter != 'S')
            printf("  iter %3d\n", it);
        v_cycle(levels, top, v);
        resid(fine, fine->u, v, fine->r);
    }
    double norm = l2_norm(fine, fine->r);
    double elapsed = npb_stop_timer(start, my_rank);
    double slowest;
    MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    int status = 0;
    if (my_rank == 0) {
        double err = fabs(norm - c->norm) / c->norm;
        int verified = err <= MG_TOLERANCE;
        char got[40], want[40], e[40];
        npb_fortran_e(got, sizeof got, norm, 13);
        npb_fortran_e(want, sizeof want, c->norm, 13);
        npb_fortran_e(e, sizeof e, err, 13);
        printf(" Benchmark completed\n");
        if (verified)
            printf(" VERIFICATION SUCCESSFUL\n L2 Norm is  %20s\n Error is    %20s\n", got, e);
        else
            printf(" VERIFICATION FAILED\n L2 Norm is             %20s\n The correct L2 Norm is %20s\n", got, want);
        char size[32];
        snprintf(size, sizeof size, "%4dx%4dx%4d", n, n, n);
        struct npb_summary s = {
            .name = "MG",
            .period = 1,
            .class_letter = letter,
            .size = size,
            .iterations = c->iterations,
            .seconds = slowest,
            .total_procs = nprocs,
            .active_procs = nprocs,
            .mops_total = 58.0 * c->iterations * (double)n * n * n / slowest / 1.0e6,
            .operation = "floating point",
            .verified = verified,
        };
        npb_print_summary(&s);
        status = verified ? 0 : 1;
    }
    MPI_Finalize();
    return status;
}
