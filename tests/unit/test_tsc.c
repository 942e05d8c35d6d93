/* test_tsc — durations from the time-stamp counter or the clock: rounding at
 * the microsecond, long spans without overflow, and agreement with
 * CLOCK_MONOTONIC after calibration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "../../dataplane/tsc.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Before tsc_init the source is the clock, in nanoseconds. */
static void test_clock_rounding(void **state)
{
    (void)state;
    assert_int_equal(tsc_scale.counter, 0);
    assert_int_equal(tsc_elapsed_us(0, 0), 0);
    assert_int_equal(tsc_elapsed_us(5, 5 + 999), 0);
    assert_int_equal(tsc_elapsed_us(5, 5 + 1000), 1);
    assert_int_equal(tsc_elapsed_us(0, 1999), 1);
    assert_int_equal(tsc_elapsed_us(0, 2000), 2);
    assert_int_equal(tsc_elapsed_us(0, 1000000000u), 1000000);
    /* wraparound of the tick count itself */
    assert_int_equal(tsc_elapsed_us(UINT64_MAX - 499, 500), 1);
}

/* Spans past 2^32 ticks take the shifted product: no overflow up to 2^63
 * ticks (centuries), and still within a microsecond per second or so. */
static void test_long_spans(void **state)
{
    uint64_t day_ns = 86400ull * 1000000000u;

    (void)state;
    /* the scale is rounded up (so 1000 ns is 1 µs): over long spans that
     * adds at most a microsecond per ~4 s */
    assert_true(tsc_elapsed_us(0, 1ull << 32) - (int64_t)((1ull << 32) / 1000) <= 1);
    assert_true(tsc_elapsed_us(0, 1ull << 32) >= (int64_t)((1ull << 32) / 1000));
    assert_true(llabs(tsc_elapsed_us(0, day_ns) - 86400ll * 1000000) <= 86400);
    assert_true(tsc_elapsed_us(0, INT64_MAX) > 0);
    assert_true(llabs(tsc_elapsed_us(0, INT64_MAX) - (int64_t)(INT64_MAX / 1000)) <=
                (int64_t)(INT64_MAX / 1000 / 1000000));
    /* an end read before the start (another CPU's counter a hair behind) */
    assert_int_equal(tsc_elapsed_us(1000, 999), 0);
    assert_int_equal(tsc_elapsed_us(5000000, 0), 0);
}

/* Sums of ticks (commandstats) keep what truncating each span would lose:
 * a thousand 600 ns commands took 600 µs, not 0. */
static void test_sums_keep_fractions(void **state)
{
    uint64_t sum = 0, t = 0;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        uint64_t end = t + 600;

        assert_int_equal(tsc_elapsed_us(t, end), 0);
        sum += tsc_elapsed(t, end);
        t = end;
    }
    assert_int_equal(tsc_total_us(sum), 600);
    assert_int_equal(tsc_elapsed(10, 9), 0);
    assert_int_equal(tsc_ticks_us(1999), 1);
    /* a sum past 2^32 x 2^32 / mult (years of CPU time) still converts */
    assert_true(tsc_total_us(UINT64_MAX) >= UINT64_MAX / 1000);
    assert_true(tsc_total_us(UINT64_MAX) - UINT64_MAX / 1000 <= UINT64_MAX / 1000 / 1000000);
}

/* The smallest span that converts to `us` microseconds or more. */
static uint64_t first_span_of(uint64_t us)
{
    uint64_t lo = 0, hi = UINT64_MAX >> 1;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;

        if ((uint64_t)tsc_ticks_us(mid) >= us)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* tsc_surely_below never says "below" of a span that converts to `us` or
 * more, and says it of nearly every span that does not (it is the slow
 * log's filter: a miss only costs the exact conversion). */
static void check_surely_below(void)
{
    static const uint64_t limits[] = { 0, 1, 2, 10, 999, 10000, 1000000, 3600000000ull };

    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        uint64_t us = limits[i], edge = first_span_of(us);

        for (uint64_t d = 0; d < 64; d++)
            assert_false(tsc_surely_below(edge + d, us));
        for (uint64_t d = 1; d <= 64 && d <= edge; d++)
            if (tsc_surely_below(edge - d, us))
                assert_true((uint64_t)tsc_ticks_us(edge - d) < us);
        if (us > 0)
            assert_true(tsc_surely_below(edge - edge / 100 - 1, us));
    }
    /* limits whose product wraps: a smaller product, never a wrong yes */
    for (uint64_t us = UINT64_MAX / 4096; us < UINT64_MAX / 2; us += UINT64_MAX / 64)
        for (uint64_t t = 1; t < UINT64_MAX / 4; t = t * 3 + 1)
            if (tsc_surely_below(t, us))
                assert_true((uint64_t)tsc_ticks_us(t) < us);
}

static void test_surely_below(void **state)
{
    (void)state;
    check_surely_below();   /* the clock's scale, before tsc_init */
    tsc_init();
    check_surely_below();   /* the counter's, where this machine trusts it */
}

/* The DPDK loops' clock: a multiply that agrees with the exact division to
 * within a microsecond over days of cycles, and never runs backwards. */
static void test_cycles_us(void **state)
{
    static const uint64_t rates[] = { 1000001, 2099999999ull, 2100000000ull, 3000000001ull,
                                      5000000000ull };

    (void)state;
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        uint64_t hz = rates[i], mult = tsc_us_mult(hz), prev = 0;

        for (uint64_t c = 0; c < hz * 86400 * 3; c = c * 5 / 4 + 12345) {
            uint64_t us = tsc_cycles_us(c, mult);
            uint64_t exact = (uint64_t)((unsigned __int128)c * 1000000 / hz);

            assert_true(us >= exact && us - exact <= 1);
            assert_true(us >= prev);
            prev = us;
        }
        assert_int_equal(tsc_cycles_us(hz, mult), 1000000);
    }
}

/* After calibration (counter or clock, whichever this machine trusts) a
 * sleep measures what CLOCK_MONOTONIC measures, within the calibration's
 * accuracy. */
static void test_calibrated_agrees_with_clock(void **state)
{
    struct timespec pause = { 0, 30 * 1000 * 1000 };
    uint64_t n0, n1, t0, t1;
    int64_t us, ref;

    (void)state;
    tsc_init();
    n0 = mono_ns();
    t0 = tsc_now();
    nanosleep(&pause, NULL);
    t1 = tsc_now();
    n1 = mono_ns();
    us = tsc_elapsed_us(t0, t1);
    ref = (int64_t)((n1 - n0) / 1000);
    /* The counter's span lies inside the clock's and holds the whole sleep:
     * whatever the scheduler does around the reads, a rate within 0.2%
     * keeps it between the two. */
    assert_true(us >= 30000 - 30000 / 500);
    assert_true(us <= ref + ref / 500 + 2);
    print_message("source: %s, %d us for a 30 ms sleep (clock: %d)\n",
                  tsc_scale.counter ? "counter" : "clock", (int)us, (int)ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_rounding),
        cmocka_unit_test(test_long_spans),
        cmocka_unit_test(test_sums_keep_fractions),
        cmocka_unit_test(test_surely_below),
        cmocka_unit_test(test_cycles_us),
        cmocka_unit_test(test_calibrated_agrees_with_clock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
