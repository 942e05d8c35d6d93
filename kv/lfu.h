/* lfu — the per-key access clocks Redis 7.0 keeps in its 24-bit object "lru"
 * field, so OBJECT IDLETIME/FREQ and the eviction policies answer as Redis does.
 *
 * LRU: seconds since the epoch, modulo 2^24 (wraps every 194 days).
 * LFU: (last decrement time in minutes, modulo 2^16) << 8 | logarithmic counter.
 *
 * Pure functions of their arguments (the clock comes in as unix ms), so any
 * core may call them on its own entries. */
#ifndef SLOTD_LFU_H
#define SLOTD_LFU_H

#include <stdint.h>

#define LRU_CLOCK_BITS       24                        /* Redis server.h: LRU_BITS */
#define LRU_CLOCK_MAX        ((1u << LRU_CLOCK_BITS) - 1)  /* Redis server.h */
#define LRU_CLOCK_RESOLUTION 1000                      /* ms per tick, Redis server.h */
#define LFU_INIT_VAL         5                         /* Redis server.h: counter of a new key */

/* LRU clock at `now_ms`. */
static inline uint32_t lru_clock(int64_t now_ms)
{
    return (uint32_t)((uint64_t)(now_ms / LRU_CLOCK_RESOLUTION) & LRU_CLOCK_MAX);
}

/* Milliseconds since the access stamped `lru`, assuming the clock wrapped at
 * most once (as Redis estimates it). */
uint64_t lru_idle_ms(uint32_t lru, int64_t now_ms);

/* The 16-bit minute clock LFU stamps its decrements with. */
static inline uint32_t lfu_minutes(int64_t now_ms)
{
    return (uint32_t)((uint64_t)(now_ms / 60000) & 0xffff);
}

/* LFU field of a key created at `now_ms`. */
static inline uint32_t lfu_initial(int64_t now_ms)
{
    return lfu_minutes(now_ms) << 8 | LFU_INIT_VAL;
}

/* The counter after the decay due since its last decrement: one step per
 * `decay_minutes` elapsed (0 disables decay). Does not store anything; Redis
 * stores the decayed value only on a real access (lfu_touch). */
unsigned lfu_decayed(uint32_t lfu, int64_t now_ms, unsigned decay_minutes);

/* Logarithmic increment: the higher the counter above LFU_INIT_VAL, the less
 * likely a hit moves it (probability 1/((c-LFU_INIT_VAL)*log_factor+1));
 * saturates at 255. `rng` is the caller's xorshift64 state (non-zero). */
unsigned lfu_log_incr(unsigned counter, unsigned log_factor, uint64_t *rng);

/* New LFU field after one access: decay, then increment, stamped now. */
uint32_t lfu_touch(uint32_t lfu, int64_t now_ms, unsigned log_factor,
                   unsigned decay_minutes, uint64_t *rng);

#endif
