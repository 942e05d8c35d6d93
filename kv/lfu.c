/* lfu — LRU idle time and the LFU logarithmic counter with decay (Redis 7.0
 * semantics, see lfu.h). No state of its own: the entry's 24-bit field and the
 * caller's random state come in as arguments, so every core uses it on its own
 * shard without sharing anything. */
#include "lfu.h"

uint64_t lru_idle_ms(uint32_t lru, int64_t now_ms)
{
    uint32_t now = lru_clock(now_ms);

    lru &= LRU_CLOCK_MAX;
    if (now >= lru)
        return (uint64_t)(now - lru) * LRU_CLOCK_RESOLUTION;
    /* Wrapped once; Redis's formula is one tick short of the true distance
     * (LRU_CLOCK_MAX, not 2^24), and we keep it so idle times match. */
    return (uint64_t)(now + (LRU_CLOCK_MAX - lru)) * LRU_CLOCK_RESOLUTION;
}

/* Minutes since `ldt`, wrapping at most once. 65535 (not 65536) in the
 * wrapped case follows Redis so decays happen on the same minute. */
static unsigned minutes_since(unsigned ldt, int64_t now_ms)
{
    unsigned now = lfu_minutes(now_ms);

    if (now >= ldt)
        return now - ldt;
    return 65535 - ldt + now;
}

unsigned lfu_decayed(uint32_t lfu, int64_t now_ms, unsigned decay_minutes)
{
    unsigned ldt = (lfu >> 8) & 0xffff;
    unsigned counter = lfu & 0xff;
    unsigned periods;

    if (decay_minutes == 0)
        return counter;
    periods = minutes_since(ldt, now_ms) / decay_minutes;
    return periods >= counter ? 0 : counter - periods;
}

/* xorshift64*: a few cycles, statistically plenty for a coin flip. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

unsigned lfu_log_incr(unsigned counter, unsigned log_factor, uint64_t *rng)
{
    double base, p, r;

    if (counter >= 255)
        return 255;
    base = counter > LFU_INIT_VAL ? (double)(counter - LFU_INIT_VAL) : 0.0;
    p = 1.0 / (base * log_factor + 1.0);
    /* 53 random bits -> uniform double in [0, 1) */
    r = (double)(next_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
    return r < p ? counter + 1 : counter;
}

uint32_t lfu_touch(uint32_t lfu, int64_t now_ms, unsigned log_factor,
                   unsigned decay_minutes, uint64_t *rng)
{
    unsigned counter = lfu_decayed(lfu, now_ms, decay_minutes);

    counter = lfu_log_incr(counter, log_factor, rng);
    return lfu_minutes(now_ms) << 8 | counter;
}
