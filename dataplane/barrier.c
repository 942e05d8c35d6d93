/* barrier — the all-cores barrier's protocol (see barrier.h).
 *
 * Orders: the holder's ring enqueues happen before its take (program order)
 * and the take's increment of `asked` is a release, so a core that reads the
 * new generation (acquire) finds those requests in its ring when it drains
 * it before parking. `released` is stored with release and read with acquire,
 * so what the holder wrote is visible to a core leaving its park loop.
 *
 * Why generations rather than "the holder is set": a core that sees
 * `holder` set can be looking at a barrier already released (between the
 * last parked core leaving and the holder clearing the field) and would park
 * for nothing, stuck until some later barrier, and counted as parked for
 * that one before running the requests sent ahead of it. */
#include "barrier.h"

#include <sched.h>

#define BARRIER_SPINS 4096   /* busy polls before a wait yields: ~40 µs */

/* Spin briefly, then give the CPU away: whoever ends the wait may be a
 * thread on this CPU (more data cores than CPUs), or the holder may be
 * waiting on something slow (a MIGRATE inside EXEC, an fsync of nodes.conf). */
static inline void backoff(unsigned spins)
{
    if (spins < BARRIER_SPINS) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

uint64_t barrier_try_take(struct barrier *b, unsigned self)
{
    unsigned expected = 0;

    if (!atomic_compare_exchange_strong_explicit(&b->holder, &expected, self + 1,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return 0;
    return atomic_fetch_add_explicit(&b->asked, 1, memory_order_acq_rel) + 1;
}

void barrier_wait_parked(struct barrier *b, unsigned others)
{
    /* Each count only grows while we wait, and no core is in both: a core
     * leaves its loop only between turns, never while parked. */
    for (unsigned spins = 0;
         atomic_load_explicit(&b->parked, memory_order_acquire) +
             atomic_load_explicit(&b->gone, memory_order_acquire) != others;
         spins++)
        backoff(spins);
}

void barrier_release(struct barrier *b)
{
    uint64_t gen = atomic_load_explicit(&b->asked, memory_order_relaxed);

    atomic_store_explicit(&b->released, gen, memory_order_release);
    /* The next holder must start from a parked count of zero. */
    for (unsigned spins = 0; atomic_load_explicit(&b->parked, memory_order_acquire) != 0; spins++)
        backoff(spins);
    atomic_store_explicit(&b->holder, 0, memory_order_release);
}

uint64_t barrier_pending(struct barrier *b, uint64_t *seen, unsigned *holder)
{
    uint64_t gen = atomic_load_explicit(&b->asked, memory_order_acquire);

    if (gen == *seen)
        return 0;
    *seen = gen;
    /* Released already: this core's own (no other can end without it). */
    if (atomic_load_explicit(&b->released, memory_order_acquire) >= gen)
        return 0;
    /* Set before `asked` moved and kept until every parked core has left:
     * generation gen's holder. */
    *holder = atomic_load_explicit(&b->holder, memory_order_acquire) - 1;
    return gen;
}

int barrier_asked_since(struct barrier *b, uint64_t seen)
{
    return atomic_load_explicit(&b->asked, memory_order_relaxed) != seen;
}

void barrier_park(struct barrier *b, uint64_t gen)
{
    atomic_fetch_add_explicit(&b->parked, 1, memory_order_acq_rel);
    for (unsigned spins = 0; atomic_load_explicit(&b->released, memory_order_acquire) < gen;
         spins++)
        backoff(spins);
    atomic_fetch_sub_explicit(&b->parked, 1, memory_order_acq_rel);
}

void barrier_leave(struct barrier *b)
{
    atomic_fetch_add_explicit(&b->gone, 1, memory_order_acq_rel);
}
