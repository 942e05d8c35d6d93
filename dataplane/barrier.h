/* barrier — the all-cores barrier: one data core runs a command that needs
 * every shard (DBSIZE, KEYS, MSET over several cores, CONFIG SET) while every
 * other data core is parked between two loop turns.
 *
 * Each barrier has a generation, counted from 1. The holder takes the barrier
 * (a compare-and-swap on `holder`) and asks for the next generation; every
 * other core notices at the top of a turn (barrier_pending), runs what the
 * holder already sent it, and parks until that generation is released. A core
 * parks only for a generation not yet released, so it can neither wait for a
 * barrier that has ended nor count as parked for the next one: the holder's
 * wait for `parked` counts exactly the cores that parked for its generation,
 * after running its earlier requests. Only the holder parks others, and a
 * parked core waits for nothing but the holder, so it cannot deadlock.
 *
 * Shared by the data cores of one runtime; every field is atomic, and a
 * zeroed struct is a free barrier. Each core keeps the generation it saw
 * last (`seen`, 0 at start). */
#ifndef SLOTD_BARRIER_H
#define SLOTD_BARRIER_H

#include <stdatomic.h>
#include <stdint.h>

struct barrier {
    _Atomic unsigned holder;      /* core id + 1, or 0 when free */
    _Atomic unsigned parked;      /* cores parked for the current generation */
    _Atomic unsigned gone;        /* cores that left their loop for good */
    _Atomic uint64_t asked;       /* generation of the latest barrier taken */
    _Atomic uint64_t released;    /* generation of the latest barrier released */
};

/* Take the barrier for core `self` when it is free: returns the new
 * generation, or 0 when another core holds it. The other cores are not
 * parked yet: wake any that sleep, then barrier_wait_parked. */
uint64_t barrier_try_take(struct barrier *b, unsigned self);

/* The holder: spin until the `others` other cores are parked (or gone). */
void barrier_wait_parked(struct barrier *b, unsigned others);

/* The holder: let the parked cores go, and free the barrier once every one
 * has left its park loop. */
void barrier_release(struct barrier *b);

/* At the top of a turn: the generation this core must park for now (its
 * holder in *holder, a core id), or 0. `*seen` is updated. */
uint64_t barrier_pending(struct barrier *b, uint64_t *seen, unsigned *holder);

/* Whether a generation after `seen` was asked for: a core about to sleep
 * must take another turn instead. */
int barrier_asked_since(struct barrier *b, uint64_t seen);

/* Count this core parked for generation `gen` (from barrier_pending) and
 * wait until it is released. Every wait here spins ~40 µs, then yields the
 * CPU between polls: a barrier lasts microseconds unless its holder waits on
 * something slow or shares its CPU with another data core. */
void barrier_park(struct barrier *b, uint64_t gen);

/* A core leaves its loop for good (shutdown), at the end of a turn: it
 * counts as parked for every later barrier, so a holder that took one as
 * shutdown began does not wait for it forever. */
void barrier_leave(struct barrier *b);

#endif
