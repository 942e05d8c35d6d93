/* Unit tests for the load generator's latency histogram (dataplane/load/histo.c).
 *
 * Plain structs, no EAL. Boundary cases first: the exact range's edge, every
 * power of two, the overflow bucket, 0 and UINT64_MAX; then percentiles
 * against a sorted reference, and merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/load/histo.h"

static int setup(void **state)
{
    struct histo *h = calloc(2, sizeof(*h));

    assert_non_null(h);
    histo_reset(&h[0]);
    histo_reset(&h[1]);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void test_exact_range(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 2 * HISTO_SUB; v++) {
        unsigned i = histo_index(v);

        assert_int_equal(histo_bucket_lo(i), v);
        assert_int_equal(histo_bucket_hi(i), v);
    }
    /* the first inexact bucket holds two values */
    assert_int_equal(histo_index(2 * HISTO_SUB), histo_index(2 * HISTO_SUB + 1));
    assert_int_not_equal(histo_index(2 * HISTO_SUB + 1), histo_index(2 * HISTO_SUB + 2));
}

/* Every value maps to a bucket whose bounds hold it, buckets are contiguous
 * and ordered, and a bucket is never wider than 1/HISTO_SUB of its values. */
static void test_bounds_every_power(void **state)
{
    (void)state;
    for (unsigned e = 0; e < HISTO_MAX_BITS; e++) {
        uint64_t p = (uint64_t)1 << e;
        uint64_t vs[] = { p - 1, p, p + 1, p + p / 2, 2 * p - 1 };

        for (unsigned k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
            unsigned i = histo_index(vs[k]);

            assert_true(i < HISTO_NBUCKETS);
            assert_true(histo_bucket_lo(i) <= vs[k]);
            assert_true(vs[k] <= histo_bucket_hi(i));
            if (i < HISTO_NBUCKETS - 1)     /* the overflow bucket is open */
                assert_true((histo_bucket_hi(i) - histo_bucket_lo(i)) * HISTO_SUB <= vs[k]);
        }
    }
    for (unsigned i = 1; i < HISTO_NBUCKETS - 1; i++)
        assert_int_equal(histo_bucket_lo(i), histo_bucket_hi(i - 1) + 1);
}

static void test_overflow_bucket(void **state)
{
    struct histo *h = *state;
    uint64_t top = ((uint64_t)1 << HISTO_MAX_BITS) - 1;

    assert_int_equal(histo_index(top), HISTO_NBUCKETS - 1);
    assert_int_equal(histo_index((uint64_t)1 << HISTO_MAX_BITS), HISTO_NBUCKETS - 1);
    assert_int_equal(histo_index(UINT64_MAX), HISTO_NBUCKETS - 1);
    assert_int_equal(histo_bucket_hi(HISTO_NBUCKETS - 1), UINT64_MAX);
    histo_record(h, UINT64_MAX - 5);
    histo_record(h, 0);
    assert_int_equal(h->count, 2);
    assert_int_equal(h->min, 0);
    assert_int_equal(h->max, UINT64_MAX - 5);
    assert_int_equal(histo_percentile(h, 100), UINT64_MAX - 5);
    assert_int_equal(histo_percentile(h, 99.9), UINT64_MAX - 5);
    assert_int_equal(histo_percentile(h, 50), 0);
    assert_int_equal(histo_percentile(h, 0), 0);
}

static void test_empty(void **state)
{
    struct histo *h = *state;

    assert_int_equal(histo_percentile(h, 0), 0);
    assert_int_equal(histo_percentile(h, 50), 0);
    assert_int_equal(histo_percentile(h, 100), 0);
    assert_true(histo_mean(h) == 0.0);
    histo_record_n(h, 1234, 0);
    assert_int_equal(h->count, 0);
    assert_int_equal(h->min, 0);
}

static void test_single_value(void **state)
{
    struct histo *h = *state;

    histo_record_n(h, 1000003, 10);
    /* clamped to the exact min/max, not the bucket's edge */
    assert_int_equal(histo_percentile(h, 0.1), 1000003);
    assert_int_equal(histo_percentile(h, 50), 1000003);
    assert_int_equal(histo_percentile(h, 100), 1000003);
    assert_true(histo_mean(h) == 1000003.0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Percentiles within one bucket's width of the sorted reference. */
static void test_percentiles_vs_reference(void **state)
{
    struct histo *h = *state;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    uint64_t x = 88172645463325252ull, sum = 0;
    double ps[] = { 1, 10, 50, 90, 99, 99.9, 99.99 };

    assert_non_null(v);
    for (unsigned i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* log-uniform over 2^0..2^30 */
        v[i] = (x >> 34) >> (x & 31);
        histo_record(h, v[i]);
        sum += v[i];
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    for (unsigned k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        uint64_t rank = (uint64_t)(ps[k] / 100.0 * N + 0.999999);
        uint64_t ref = v[rank - 1], got = histo_percentile(h, ps[k]);

        assert_true(got >= ref);
        assert_true(got - ref <= ref / HISTO_SUB);
    }
    assert_int_equal(histo_percentile(h, 100), v[N - 1]);
    assert_int_equal(histo_percentile(h, 0), v[0]);
    assert_int_equal(h->sum, sum);
    free(v);
}

static void test_merge(void **state)
{
    struct histo *h = *state, *a = &h[0], *b = &h[1];

    histo_merge(a, b);                  /* empty into empty */
    assert_int_equal(a->count, 0);
    for (uint64_t v = 1; v <= 100; v++)
        histo_record(v <= 50 ? a : b, v * 1000);
    histo_merge(a, b);
    assert_int_equal(a->count, 100);
    assert_int_equal(a->min, 1000);
    assert_int_equal(a->max, 100000);
    assert_int_equal(a->sum, 5050 * 1000);
    assert_true(histo_percentile(a, 50) >= 50000);
    assert_true(histo_percentile(a, 50) < 51000);
    histo_reset(b);
    histo_record(b, 7);
    histo_merge(a, b);                  /* a smaller min comes across */
    assert_int_equal(a->min, 7);
    histo_reset(b);
    histo_merge(b, a);                  /* into an empty one */
    assert_memory_equal(a, b, sizeof(*a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_range),
        cmocka_unit_test(test_bounds_every_power),
        cmocka_unit_test_setup_teardown(test_overflow_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_percentiles_vs_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
