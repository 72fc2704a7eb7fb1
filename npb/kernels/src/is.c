/*
 * IS: the NPB integer sort kernel, written from the specification.
 * N keys in [0, MAX_KEY) are made from the shared generator (seed
 * 314159265): each key is the integer part of MAX_KEY/4 times the sum of
 * four consecutive numbers. Ten times, two keys are changed and every
 * key's rank (its position in sorted order) is computed; the ranks of
 * five test keys are checked each time against the specification's
 * values, and at the end the keys are put in rank order and checked to
 * be sorted.
 *
 * Ranking is bucket based: keys are counted in buckets by their high
 * bits, the buckets are split into contiguous ranges of about N/P keys,
 * one range per rank, and every key is sent to the rank that owns its
 * bucket (MPI_Alltoall for the counts, MPI_Alltoallv for the keys).
 * Each rank then ranks its own range of key values with a counting
 * pass, offset by the number of keys held by lower ranks.
 */
#include "npbcommon.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IS_SEED 314159265.0
#define IS_ITERATIONS 10
#define IS_TEST_KEYS 5

struct is_class {
    char letter;
    int log2_keys, log2_max_key, log2_buckets;
    long test_index[IS_TEST_KEYS];
    long test_rank[IS_TEST_KEYS];
};

static const struct is_class is_classes[] = {
    {'S', 16, 11, 9, {48427, 17148, 23627, 62548, 4431}, {0, 18, 346, 64917, 65463}},
    {'W', 20, 16, 10, {357773, 934767, 875723, 898999, 404505}, {1249, 11698, 1039987, 1043896, 1048018}},
    {'A', 23, 19, 10, {2112377, 662041, 5336171, 3642833, 4250760}, {104, 17523, 123928, 8288932, 8388264}},
};

/* expected_rank is the rank test key t must have in iteration it. The
 * two keys changed per iteration move the test keys' ranks by a known
 * amount; the specification's table gives that amount per class. */
static long expected_rank(const struct is_class *c, int t, int it)
{
    long base = c->test_rank[t];
    switch (c->letter) {
    case 'S':
        return t <= 2 ? base + it : base - it;
    case 'W':
        return t < 2 ? base + (it - 2) : base - it;
    default: /* A */
        return t <= 2 ? base + (it - 1) : base - (it - 1);
    }
}

struct is_state {
    const struct is_class *cls;
    int rank, nprocs;
    long total_keys, local_keys, max_key, buckets;
    int shift;                 /* key >> shift is its bucket */
    int *keys;                 /* this rank's slice of the key array */
    int *send_buf, *recv_buf;  /* keys in bucket order, keys received */
    long recv_capacity, received;
    long *local_bucket, *global_bucket, *bucket_pos;
    int *send_counts, *send_displs, *recv_counts, *recv_displs;
    int *first_bucket;         /* rank r owns buckets [first_bucket[r], first_bucket[r+1]) */
    long *value_count;         /* cumulative counts over this rank's key values */
    long low_key, high_key;    /* this rank's key values: [low_key, high_key) */
    long lesser;               /* keys held by lower ranks */
    int passed;                /* partial verifications passed on this rank */
};

static void *checked_alloc(size_t bytes, int rank)
{
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "is: rank %d: out of memory (%zu bytes)\n", rank, bytes);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

static void generate_keys(struct is_state *s)
{
    long first = s->local_keys * s->rank;
    uint64_t state = npb_rand_mul(npb_seed(IS_SEED), npb_rand_pow(NPB_RAND_MULT, 4 * (uint64_t)first));
    double scale = (double)(s->max_key / 4);
    for (long i = 0; i < s->local_keys; i++) {
        double sum = npb_rand_next(&state, NPB_RAND_MULT);
        sum += npb_rand_next(&state, NPB_RAND_MULT);
        sum += npb_rand_next(&state, NPB_RAND_MULT);
        sum += npb_rand_next(&state, NPB_RAND_MULT);
        s->keys[i] = (int)(scale * sum);
    }
}

/* rank_keys performs one ranking pass; verify says whether the test keys
 * are checked (not in the untimed warm-up pass). */
static void rank_keys(struct is_state *s, int it, int verify)
{
    const struct is_class *c = s->cls;
    if (s->rank == 0) {
        s->keys[it] = it;
        s->keys[it + IS_ITERATIONS] = (int)(s->max_key - it);
    }

    /* The test keys' values travel with the bucket totals. */
    long nb = s->buckets;
    memset(s->local_bucket, 0, sizeof(long) * (size_t)(nb + IS_TEST_KEYS));
    long first = s->local_keys * s->rank;
    for (int t = 0; t < IS_TEST_KEYS; t++) {
        long idx = c->test_index[t] - first;
        if (idx >= 0 && idx < s->local_keys)
            s->local_bucket[nb + t] = s->keys[idx];
    }
    for (long i = 0; i < s->local_keys; i++)
        s->local_bucket[s->keys[i] >> s->shift]++;
    MPI_Allreduce(s->local_bucket, s->global_bucket, (int)(nb + IS_TEST_KEYS), MPI_LONG, MPI_SUM,
                  MPI_COMM_WORLD);

    /* Split the buckets into ranges of about N/P keys; every rank
     * computes the same split from the same totals. */
    long cumulative = 0;
    int owner = 0;
    s->first_bucket[0] = 0;
    for (long b = 0; b < nb; b++) {
        cumulative += s->global_bucket[b];
        while (owner < s->nprocs - 1 && cumulative >= s->total_keys / s->nprocs * (owner + 1)) {
            owner++;
            s->first_bucket[owner] = (int)(b + 1);
        }
    }
    for (int r = owner + 1; r <= s->nprocs; r++)
        s->first_bucket[r] = (int)nb;

    /* Order local keys by bucket; contiguous ranges make that the
     * order by destination rank too. */
    long pos = 0;
    for (long b = 0; b < nb; b++) {
        s->bucket_pos[b] = pos;
        pos += s->local_bucket[b];
    }
    for (long i = 0; i < s->local_keys; i++)
        s->send_buf[s->bucket_pos[s->keys[i] >> s->shift]++] = s->keys[i];
    for (int r = 0; r < s->nprocs; r++) {
        long n = 0;
        for (int b = s->first_bucket[r]; b < s->first_bucket[r + 1]; b++)
            n += s->local_bucket[b];
        s->send_counts[r] = (int)n;
    }
    s->send_displs[0] = 0;
    for (int r = 1; r < s->nprocs; r++)
        s->send_displs[r] = s->send_displs[r - 1] + s->send_counts[r - 1];
    MPI_Alltoall(s->send_counts, 1, MPI_INT, s->recv_counts, 1, MPI_INT, MPI_COMM_WORLD);
    long received = 0;
    for (int r = 0; r < s->nprocs; r++) {
        s->recv_displs[r] = (int)received;
        received += s->recv_counts[r];
    }
    if (received > s->recv_capacity) {
        free(s->recv_buf);
        s->recv_capacity = received;
        s->recv_buf = checked_alloc(sizeof(int) * (size_t)received, s->rank);
    }
    s->received = received;
    MPI_Alltoallv(s->send_buf, s->send_counts, s->send_displs, MPI_INT, s->recv_buf, s->recv_counts,
                  s->recv_displs, MPI_INT, MPI_COMM_WORLD);

    /* Rank this rank's key values. */
    s->low_key = (long)s->first_bucket[s->rank] << s->shift;
    s->high_key = (long)s->first_bucket[s->rank + 1] << s->shift;
    long span = s->high_key - s->low_key;
    memset(s->value_count, 0, sizeof(long) * (size_t)(span > 0 ? span : 1));
    for (long i = 0; i < received; i++)
        s->value_count[s->recv_buf[i] - s->low_key]++;
    for (long v = 1; v < span; v++)
        s->value_count[v] += s->value_count[v - 1];
    s->lesser = 0;
    for (int b = 0; b < s->first_bucket[s->rank]; b++)
        s->lesser += s->global_bucket[b];

    if (!verify)
        return;
    for (int t = 0; t < IS_TEST_KEYS; t++) {
        long k = s->global_bucket[nb + t];
        if (k < s->low_key || k >= s->high_key)
            continue;
        /* A key's rank is the number of keys smaller than it. */
        long key_rank = s->lesser + (k > s->low_key ? s->value_count[k - 1 - s->low_key] : 0);
        long want = expected_rank(c, t, it);
        if (key_rank == want)
            s->passed++;
        else
            printf(" Failed partial verification: iteration %d, test key %d: rank %ld, expected %ld\n",
                   it, t, key_rank, want);
    }
}

/* full_verify places the last pass's keys by their computed ranks and
 * checks that the result is sorted, across rank boundaries too. */
static int full_verify(struct is_state *s)
{
    long span = s->high_key - s->low_key;
    long *next = checked_alloc(sizeof(long) * (size_t)(span > 0 ? span : 1), s->rank);
    for (long v = 0; v < span; v++)
        next[v] = v > 0 ? s->value_count[v - 1] : 0;
    int *sorted = checked_alloc(sizeof(int) * (size_t)s->received, s->rank);
    for (long i = 0; i < s->received; i++)
        sorted[next[s->recv_buf[i] - s->low_key]++] = s->recv_buf[i];
    long out_of_order = 0;
    for (long i = 1; i < s->received; i++)
        if (sorted[i - 1] > sorted[i])
            out_of_order++;

    /* Neighbouring ranks: each rank's smallest key must not be below the
     * largest key of any lower rank. */
    long edge[3] = {s->received, s->received ? sorted[0] : 0, s->received ? sorted[s->received - 1] : 0};
    long *edges = checked_alloc(sizeof(long) * 3 * (size_t)s->nprocs, s->rank);
    MPI_Allgather(edge, 3, MPI_LONG, edges, 3, MPI_LONG, MPI_COMM_WORLD);
    long total = 0, largest = -1;
    for (int r = 0; r < s->nprocs; r++) {
        total += edges[3 * r];
        if (edges[3 * r] == 0)
            continue;
        if (s->rank == 0 && edges[3 * r + 1] < largest)
            out_of_order++;
        largest = edges[3 * r + 2];
    }
    long all_out_of_order;
    MPI_Allreduce(&out_of_order, &all_out_of_order, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    free(next);
    free(sorted);
    free(edges);
    if (s->rank == 0 && all_out_of_order != 0)
        printf(" Full verification failed: %ld keys out of order\n", all_out_of_order);
    if (s->rank == 0 && total != s->total_keys)
        printf(" Full verification failed: %ld keys ranked, expected %ld\n", total, s->total_keys);
    return all_out_of_order == 0 && total == s->total_keys;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    struct is_state s;
    memset(&s, 0, sizeof s);
    MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s.nprocs);

    char letter = npb_class_arg(argc, argv, "SWA", s.rank, "is");
    if (letter == 0) {
        MPI_Finalize();
        return 2;
    }
    if (npb_require_power_of_two(s.nprocs, s.rank, "is")) {
        MPI_Finalize();
        return 1;
    }
    for (size_t i = 0; i < sizeof is_classes / sizeof is_classes[0]; i++)
        if (is_classes[i].letter == letter)
            s.cls = &is_classes[i];
    const struct is_class *c = s.cls;
    s.total_keys = 1L << c->log2_keys;
    s.max_key = 1L << c->log2_max_key;
    s.buckets = 1L << c->log2_buckets;
    s.shift = c->log2_max_key - c->log2_buckets;
    s.local_keys = s.total_keys / s.nprocs;
    if (s.local_keys <= 2 * IS_ITERATIONS || s.nprocs > s.buckets) {
        if (s.rank == 0)
            fprintf(stderr, "is: class %c cannot be split over %d processes; use at most %ld\n", letter,
                    s.nprocs, s.buckets);
        MPI_Finalize();
        return 1;
    }

    if (s.rank == 0) {
        printf("\n\n NAS Parallel Benchmarks (hpcbench kernels, NPB 3.4 problems) -- IS Benchmark\n\n");
        printf(" Size:  %ld  (class %c)\n", s.total_keys, letter);
        printf(" Iterations:   %d\n", IS_ITERATIONS);
        printf(" Number of processes:     %d\n", s.nprocs);
        fflush(stdout);
    }

    int rank = s.rank;
    s.keys = checked_alloc(sizeof(int) * (size_t)s.local_keys, rank);
    s.send_buf = checked_alloc(sizeof(int) * (size_t)s.local_keys, rank);
    s.recv_capacity = 2 * s.local_keys;
    s.recv_buf = checked_alloc(sizeof(int) * (size_t)s.recv_capacity, rank);
    s.local_bucket = checked_alloc(sizeof(long) * (size_t)(s.buckets + IS_TEST_KEYS), rank);
    s.global_bucket = checked_alloc(sizeof(long) * (size_t)(s.buckets + IS_TEST_KEYS), rank);
    s.bucket_pos = checked_alloc(sizeof(long) * (size_t)s.buckets, rank);
    s.send_counts = checked_alloc(sizeof(int) * (size_t)s.nprocs, rank);
    s.send_displs = checked_alloc(sizeof(int) * (size_t)s.nprocs, rank);
    s.recv_counts = checked_alloc(sizeof(int) * (size_t)s.nprocs, rank);
    s.recv_displs = checked_alloc(sizeof(int) * (size_t)s.nprocs, rank);
    s.first_bucket = checked_alloc(sizeof(int) * (size_t)(s.nprocs + 1), rank);
    s.value_count = checked_alloc(sizeof(long) * (size_t)s.max_key, rank);

    generate_keys(&s);

    /* Untimed warm-up pass; it changes the keys exactly as iteration 1. */
    rank_keys(&s, 1, 0);

    MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime();
    for (int it = 1; it <= IS_ITERATIONS; it++) {
        if (s.rank == 0 && letter != 'S')
            printf("        %d\n", it);
        rank_keys(&s, it, 1);
    }
    double elapsed = npb_stop_timer(start, s.rank);
    double slowest;
    MPI_Allreduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    int passed = s.passed + full_verify(&s);
    int all_passed;
    MPI_Reduce(&passed, &all_passed, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);

    int status = 0;
    if (s.rank == 0) {
        int verified = all_passed == IS_TEST_KEYS * IS_ITERATIONS + s.nprocs;
        /* full_verify counts once per rank when it succeeds everywhere. */
        char size[32];
        snprintf(size, sizeof size, "%ld", s.total_keys);
        struct npb_summary sum = {
            .name = "IS",
            .period = 0,
            .class_letter = letter,
            .size = size,
            .iterations = IS_ITERATIONS,
            .seconds = slowest,
            .total_procs = s.nprocs,
            .active_procs = s.nprocs,
            .mops_total = (double)IS_ITERATIONS * (double)s.total_keys / slowest / 1.0e6,
            .operation = "keys ranked",
            .verified = verified,
        };
        npb_print_summary(&sum);
        status = verified ? 0 : 1;
    }
    MPI_Finalize();
    return status;
}
