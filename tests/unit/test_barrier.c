/* Unit tests for the all-cores barrier's protocol: generations, a core's own
 * barrier, cores gone at shutdown, and, under contention from threads standing in for data cores,
 * exclusion, the order of requests sent before a barrier, and progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../dataplane/barrier.h"

static void own_barrier_parks_nobody(void **state)
{
    struct barrier b;
    uint64_t seen = 0;
    unsigned holder = 99;

    (void)state;
    memset(&b, 0, sizeof(b));
    assert_int_equal(barrier_try_take(&b, 0), 1);
    assert_int_equal(barrier_try_take(&b, 1), 0);   /* held */
    barrier_wait_parked(&b, 0);
    barrier_release(&b);
    /* The holder's next turn sees a new generation, already released. */
    assert_true(barrier_asked_since(&b, seen));
    assert_int_equal(barrier_pending(&b, &seen, &holder), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(holder, 99);
    assert_false(barrier_asked_since(&b, seen));
    assert_int_equal(barrier_try_take(&b, 1), 2);
    barrier_release(&b);
}

struct parker {
    struct barrier *b;
    uint64_t gen;
};

static void *park_thread(void *arg)
{
    struct parker *p = arg;

    barrier_park(p->b, p->gen);
    return NULL;
}

/* Core 1 held the barrier last, then core 0 took one: core 1 parks for core
 * 0's generation, and once that is released a late look (the generation it
 * parked for, or one older) finds nothing to park for. */
static void parks_once_per_generation(void **state)
{
    struct barrier b;
    struct parker p = { &b, 0 };
    pthread_t t;
    uint64_t seen1 = 0, seen_stale;
    unsigned holder = 99;

    (void)state;
    memset(&b, 0, sizeof(b));
    assert_int_equal(barrier_try_take(&b, 1), 1);
    barrier_release(&b);
    assert_int_equal(barrier_try_take(&b, 0), 2);
    p.gen = barrier_pending(&b, &seen1, &holder);
    assert_int_equal(p.gen, 2);
    assert_int_equal(holder, 0);
    assert_int_equal(pthread_create(&t, NULL, park_thread, &p), 0);
    barrier_wait_parked(&b, 1);
    assert_int_equal(atomic_load(&b.parked), 1);
    barrier_release(&b);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(atomic_load(&b.parked), 0);
    assert_int_equal(atomic_load(&b.holder), 0);
    assert_int_equal(barrier_pending(&b, &seen1, &holder), 0);
    seen_stale = 1;
    assert_int_equal(barrier_pending(&b, &seen_stale, &holder), 0);
    assert_int_equal(seen_stale, 2);
}

/* Shutdown: core 1 left its loop while core 0 took a barrier; core 0 must
 * not wait for it, then or later. Core 2 still parks as usual. */
static void a_core_gone_counts_as_parked(void **state)
{
    struct barrier b;
    struct parker p = { &b, 0 };
    pthread_t t;
    uint64_t seen2 = 0;
    unsigned holder = 99;

    (void)state;
    memset(&b, 0, sizeof(b));
    assert_int_equal(barrier_try_take(&b, 0), 1);
    barrier_leave(&b);
    p.gen = barrier_pending(&b, &seen2, &holder);
    assert_int_equal(p.gen, 1);
    assert_int_equal(pthread_create(&t, NULL, park_thread, &p), 0);
    barrier_wait_parked(&b, 2);
    barrier_release(&b);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(barrier_try_take(&b, 2), 2);
    barrier_leave(&b);
    barrier_wait_parked(&b, 2);
    barrier_release(&b);
    assert_int_equal(atomic_load(&b.parked), 0);
    assert_int_equal(atomic_load(&b.holder), 0);
}

/* Contention: NCORES threads run "turns" as data cores do. Each takes the
 * barrier now and then; before taking it, it sends every other core a
 * request (a counter), which that core must have run before it parks. The
 * holder checks, with every other core parked, that none is running and each
 * ran every request sent before the barrier. */
#define NCORES 3
#define TAKES_EACH 10000
#define DEADLINE_S 60

struct contention {
    struct barrier b;
    _Atomic uint64_t sent[NCORES][NCORES];   /* [from][to] */
    _Atomic uint64_t ran[NCORES][NCORES];
    _Atomic int running[NCORES];
    _Atomic unsigned finished;
    _Atomic int violations;
};

struct contender {
    struct contention *x;
    unsigned id;
    unsigned seed;
};

static void run_requests(struct contention *x, unsigned self, unsigned from)
{
    atomic_store(&x->ran[from][self], atomic_load(&x->sent[from][self]));
}

static void hold(struct contention *x, unsigned self)
{
    for (unsigned o = 0; o < NCORES; o++) {
        if (o == self)
            continue;
        if (atomic_load(&x->running[o]) ||
            atomic_load(&x->ran[self][o]) != atomic_load(&x->sent[self][o]))
            atomic_fetch_add(&x->violations, 1);
    }
}

static void *contend(void *arg)
{
    struct contender *c = arg;
    struct contention *x = c->x;
    uint64_t seen = 0;
    unsigned taken = 0, done = 0;

    atomic_store(&x->running[c->id], 1);
    while (atomic_load(&x->finished) < NCORES) {
        unsigned holder;
        uint64_t gen = barrier_pending(&x->b, &seen, &holder);

        if (gen) {
            if (holder == c->id || holder >= NCORES)
                atomic_fetch_add(&x->violations, 1);
            run_requests(x, c->id, holder);
            atomic_store(&x->running[c->id], 0);
            barrier_park(&x->b, gen);
            atomic_store(&x->running[c->id], 1);
        }
        if (taken < TAKES_EACH && rand_r(&c->seed) % 4 == 0) {
            for (unsigned o = 0; o < NCORES; o++)
                if (o != c->id)
                    atomic_fetch_add(&x->sent[c->id][o], 1);
            if (barrier_try_take(&x->b, c->id)) {
                barrier_wait_parked(&x->b, NCORES - 1);
                hold(x, c->id);
                barrier_release(&x->b);
                taken++;
            }
        }
        if (taken == TAKES_EACH && !done) {
            done = 1;
            atomic_fetch_add(&x->finished, 1);
        }
        if (rand_r(&c->seed) % 64 == 0)
            sched_yield();   /* more interleavings than 2 CPUs give alone */
    }
    return NULL;
}

static void contention_keeps_order_and_progress(void **state)
{
    static struct contention x;
    struct contender c[NCORES];
    pthread_t t[NCORES];
    struct timespec deadline;

    (void)state;
    memset(&x, 0, sizeof(x));
    for (unsigned i = 0; i < NCORES; i++) {
        c[i] = (struct contender){ &x, i, 7u + i };
        assert_int_equal(pthread_create(&t[i], NULL, contend, &c[i]), 0);
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += DEADLINE_S;
    for (unsigned i = 0; i < NCORES; i++) {
        int rc = pthread_timedjoin_np(t[i], NULL, &deadline);
        if (rc == ETIMEDOUT)
            fail_msg("core %u still running after %d s: the barrier stalled "
                     "(finished %u of %d, parked %u)", i, DEADLINE_S,
                     atomic_load(&x.finished), NCORES, atomic_load(&x.b.parked));
        assert_int_equal(rc, 0);
    }
    assert_int_equal(atomic_load(&x.violations), 0);
    assert_int_equal(atomic_load(&x.b.asked), atomic_load(&x.b.released));
    assert_int_equal(atomic_load(&x.b.parked), 0);
    assert_int_equal(atomic_load(&x.b.holder), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(own_barrier_parks_nobody),
        cmocka_unit_test(parks_once_per_generation),
        cmocka_unit_test(a_core_gone_counts_as_parked),
        cmocka_unit_test(contention_keeps_order_and_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
