/* tsc — choose and calibrate the source of command durations (see tsc.h).
 *
 * Written once by main before any thread starts, read-only afterwards. The
 * counter is trusted exactly when the kernel chose it as its clocksource:
 * the kernel has then checked that it is invariant and synchronised across
 * CPUs, which CPUID alone does not tell under a hypervisor. */
#include "tsc.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000ull
#define US_PER_S 1000000ull
/* Calibration span: 10 ms, with each end's clock and counter reads taken
 * within PAIR_MAX_NS of each other, pins the rate to 0.1% or better, and
 * start-up waits no longer than that. A pair that took longer was
 * interrupted (a busy machine, a preempted thread): it is read again. */
#define CALIBRATE_NS 10000000ull
#define PAIR_MAX_NS 5000ull
#define PAIR_TRIES 20
#define CLOCKSOURCE_PATH "/sys/devices/system/clocksource/clocksource0/current_clocksource"

/* The clock's ticks are nanoseconds. Rounded up, so exactly one microsecond
 * of ticks reads as 1, not 0. */
#define CLOCK_MULT (((1ull << TSC_SHIFT) + 999) / 1000)

struct tsc_scale tsc_scale = {
    .counter = 0,
    .mult = CLOCK_MULT,
    .whole_per_us = (1ull << TSC_SHIFT) / CLOCK_MULT,
};

static int kernel_uses_tsc(void)
{
    char name[32] = "";
    FILE *f = fopen(CLOCKSOURCE_PATH, "r");

    if (f == NULL)
        return 0;
    if (fgets(name, sizeof(name), f) == NULL)
        name[0] = '\0';
    fclose(f);
    return strcmp(name, "tsc\n") == 0;
}

static uint64_t raw_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
/* The counter and the clock at one instant: a counter read between two clock
 * reads close together. 0 when no try came close enough. */
static int read_pair(uint64_t *ns, uint64_t *ticks)
{
    for (int i = 0; i < PAIR_TRIES; i++) {
        uint64_t a = raw_ns(), t = __builtin_ia32_rdtsc(), b = raw_ns();

        if (b >= a && b - a <= PAIR_MAX_NS) {
            *ns = a + (b - a) / 2;
            *ticks = t;
            return 1;
        }
    }
    return 0;
}
#endif

int tsc_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
    struct timespec pause = { 0, (long)CALIBRATE_NS };
    uint64_t ns0, ns1, t0, t1, hz;

    if (!kernel_uses_tsc() || !read_pair(&ns0, &t0))
        return 0;
    nanosleep(&pause, NULL);
    if (!read_pair(&ns1, &t1) || ns1 <= ns0 || t1 <= t0)
        return 0;
    hz = (uint64_t)((long double)(t1 - t0) * NS_PER_S / (long double)(ns1 - ns0));
    /* at or below 1 MHz the scale would not stay under 2^TSC_SHIFT (tsc.h's
     * overflow bound): not a real counter */
    if (hz <= US_PER_S)
        return 0;
    tsc_scale.mult = ((US_PER_S << TSC_SHIFT) + hz - 1) / hz;
    tsc_scale.whole_per_us = (1ull << TSC_SHIFT) / tsc_scale.mult;
    tsc_scale.counter = 1;
    return 1;
#else
    return 0;
#endif
}
