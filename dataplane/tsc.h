/* tsc — elapsed time of a command from the CPU's time-stamp counter.
 *
 * Every command is timed (INFO commandstats, the slow log), as in Redis. Two
 * clock_gettime calls cost ~60 instructions per command through the vDSO
 * (callgrind, pipelined GET), a twentieth of a whole GET; two counter reads
 * and a multiply cost a handful of instructions, but a read still takes ~35
 * cycles (13 ns on the AMD EPYC this was measured on), so commands run back
 * to back share them (core_exec). The counter is used only when the kernel
 * trusts it as its own clocksource (invariant, synchronised across CPUs);
 * otherwise, and before tsc_init(), the same calls read CLOCK_MONOTONIC, so a
 * unit test or a VM with an unstable counter still gets correct durations.
 *
 * tsc_init() writes the module's one global, the scale, before any thread
 * starts; afterwards it is read-only. */
#ifndef SLOTD_TSC_H
#define SLOTD_TSC_H

#include <stdint.h>
#include <time.h>

struct tsc_scale {
    int counter;          /* 1: tsc_now() reads the time-stamp counter */
    uint64_t mult;        /* microseconds = ticks * mult >> TSC_SHIFT */
    uint64_t whole_per_us;  /* 2^TSC_SHIFT / mult, rounded down: tsc_surely_below */
};

#define TSC_SHIFT 32

extern struct tsc_scale tsc_scale;

/* Choose the source and calibrate the counter against CLOCK_MONOTONIC_RAW
 * (sleeps about 10 ms). Returns 1 if the counter is used, 0 if the clock is;
 * never fails: either way durations are right. */
int tsc_init(void);

/* A point in time, in ticks of the chosen source. */
static inline uint64_t tsc_now(void)
{
    struct timespec ts;

#if defined(__x86_64__) || defined(__i386__)
    if (tsc_scale.counter)
        return __builtin_ia32_rdtsc();
#endif
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A span of ticks in microseconds, truncated. */
static inline int64_t tsc_ticks_us(uint64_t d)
{
    unsigned s = 0;

    /* mult < 2^32, so the product fits 64 bits while d < 2^32 (over a second
     * of ticks); a longer span first drops low bits of d, which are far
     * below a microsecond. */
    while (d >> 32 >> s)
        s++;
    return (int64_t)(((d >> s) * tsc_scale.mult) >> (TSC_SHIFT - s));
}

/* 1 when a span of `ticks` surely converts to fewer than `us` microseconds;
 * 0 when it may not, for tsc_ticks_us to tell. A multiply where the
 * conversion is a loop and a multiply: every command's slow-log test. A
 * product past 2^64 wraps to a smaller bound, so a 1 is still right. */
static inline int tsc_surely_below(uint64_t ticks, uint64_t us)
{
    return ticks < us * tsc_scale.whole_per_us;
}

/* Ticks between two readings, 0 if end is before start. Sums of these
 * (INFO commandstats) keep the fractions of a microsecond that truncating
 * each command's duration would lose: a GET takes a fraction. */
static inline uint64_t tsc_elapsed(uint64_t start, uint64_t end)
{
    uint64_t d = end - start;

    return (int64_t)d < 0 ? 0 : d;
}

/* Microseconds between two tsc_now() readings, truncated; 0 if end is
 * before start (a counter read on another CPU a little behind). */
static inline int64_t tsc_elapsed_us(uint64_t start, uint64_t end)
{
    return tsc_ticks_us(tsc_elapsed(start, end));
}

/* A sum of ticks in microseconds, exact for any sum (cold paths). */
static inline uint64_t tsc_total_us(uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * tsc_scale.mult) >> TSC_SHIFT);
}

/* A counter rate of `hz` (above 1 MHz) as a multiplier for tsc_cycles_us:
 * the DPDK loops read their clock with the counter of rte_get_tsc_hz() on
 * every turn, where a division costs tens of cycles and a multiply a few.
 * 64 fraction bits, rounded up: off by under a µs for any count. */
static inline uint64_t tsc_us_mult(uint64_t hz)
{
    unsigned __int128 one_s = (unsigned __int128)1000000 << 64;

    return hz > 1000000 ? (uint64_t)((one_s + hz - 1) / hz) : UINT64_MAX;
}

/* Counter cycles (any count, a reading included) in µs, by tsc_us_mult's
 * multiplier: the high half of the product. */
static inline uint64_t tsc_cycles_us(uint64_t cycles, uint64_t mult)
{
    return (uint64_t)(((unsigned __int128)cycles * mult) >> 64);
}

#endif
