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
        cmocka_unit_test(test_calibrated_agrees_with_clock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
