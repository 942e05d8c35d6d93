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
/* Calibration span: the clock reads around it are ~1 µs apart at worst, so
 * 10 ms pins the rate to ~0.01%, and start-up waits no longer than that. */
#define CALIBRATE_NS 10000000ull
#define CLOCKSOURCE_PATH "/sys/devices/system/clocksource/clocksource0/current_clocksource"

/* Rounded up, so exactly one microsecond of ticks reads as 1, not 0. */
struct tsc_scale tsc_scale = {
    .counter = 0,
    .mult = ((1ull << TSC_SHIFT) + 999) / 1000,
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

int tsc_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
    struct timespec pause = { 0, (long)CALIBRATE_NS };
    uint64_t ns0, ns1, t0, t1, hz;

    if (!kernel_uses_tsc())
        return 0;
    ns0 = raw_ns();
    t0 = __builtin_ia32_rdtsc();
    nanosleep(&pause, NULL);
    ns1 = raw_ns();
    t1 = __builtin_ia32_rdtsc();
    if (ns1 <= ns0 || t1 <= t0)
        return 0;
    hz = (uint64_t)((long double)(t1 - t0) * NS_PER_S / (long double)(ns1 - ns0));
    /* below 1 MHz the scale would not fit TSC_SHIFT: not a real counter */
    if (hz < US_PER_S)
        return 0;
    tsc_scale.mult = ((US_PER_S << TSC_SHIFT) + hz - 1) / hz;
    tsc_scale.counter = 1;
    return 1;
#else
    return 0;
#endif
}
