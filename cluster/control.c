/* control — control-plane loop on the main thread.
 *
 * Owns: signal delivery (signalfd), the shutdown decision, and the periodic
 * jobs that must not run on a data core (jemalloc statistics take locks). It
 * reads the runtime's atomics and never a shard. In cluster mode it also
 * drives the cluster bus (cluster.h): its sockets' readiness and a tick
 * every CONTROL_TICK_MS. It runs the network side of MIGRATE too
 * (migrate_out.h): data cores hand it jobs and get them back finished.
 *
 * Slot maps are published by this thread, and by a data core running a
 * CLUSTER command (under the cluster lock, so one publisher at a time); the
 * retired list is therefore guarded by retired_lock, which the data path
 * never takes. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../dataplane/core.h"
#include "../dataplane/exception.h"
#include "../dataplane/log.h"
#include "../dataplane/mem.h"
#include "cluster.h"
#include "migrate_out.h"
#include "slotmap.h"

#define CONTROL_TICK_MS 100   /* shutdown requests by SHUTDOWN are seen within this */
#define METRIC_SAMPLES 16     /* Redis STATS_METRIC_SAMPLES: rates average 1.6 s */

enum { METRIC_OPS, METRIC_IN, METRIC_OUT, METRIC_COUNT };

/* Maps replaced but perhaps still read by a data core, oldest first. Only the
 * control-plane thread touches this list. */
struct retired_map {
    struct slotmap *map;
    uint64_t replaced_by;        /* version of the map published after it */
    struct retired_map *next;
};
static struct retired_map *retired_head, **retired_tail = &retired_head;
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;

int control_publish_slotmap(struct runtime *rt, struct slotmap *m)
{
    struct retired_map *r = malloc(sizeof(*r));
    struct slotmap *old;

    (void)rt;
    pthread_mutex_lock(&retired_lock);
    old = slotmap_publish(m);
    if (!old || !r) {
        pthread_mutex_unlock(&retired_lock);
        free(r);
        return old ? -ENOMEM : 0;
    }
    r->map = old;
    r->replaced_by = m->version;
    r->next = NULL;
    *retired_tail = r;
    retired_tail = &r->next;
    pthread_mutex_unlock(&retired_lock);
    return 0;
}

void control_reclaim_slotmaps(struct runtime *rt)
{
    uint64_t min_seen = UINT64_MAX;

    for (unsigned i = 0; i < rt->ncores; i++) {
        uint64_t v = atomic_load_explicit(&rt->cores[i]->map_seen, memory_order_acquire);
        if (v < min_seen)
            min_seen = v;
    }
    pthread_mutex_lock(&retired_lock);
    while (retired_head && retired_head->replaced_by <= min_seen) {
        struct retired_map *r = retired_head;
        retired_head = r->next;
        if (!retired_head)
            retired_tail = &retired_head;
        slotmap_free(r->map);
        free(r);
    }
    pthread_mutex_unlock(&retired_lock);
}

void control_free_slotmaps(void)
{
    while (retired_head) {
        struct retired_map *r = retired_head;
        retired_head = r->next;
        slotmap_free(r->map);
        free(r);
    }
    retired_tail = &retired_head;
}

/* Rates over the last METRIC_SAMPLES ticks, from counters the cores publish. */
struct metrics {
    int64_t last_ms;
    uint64_t last[METRIC_COUNT];
    uint64_t samples[METRIC_COUNT][METRIC_SAMPLES];
    unsigned idx;
};

static void metrics_tick(struct runtime *rt, struct metrics *m)
{
    uint64_t now[METRIC_COUNT] = { 0, 0, 0 };
    int64_t t = clock_us() / 1000, used = mem_used();
    int64_t peak = atomic_load_explicit(&rt->mem_peak, memory_order_relaxed);

    if (used > peak)
        atomic_store_explicit(&rt->mem_peak, used, memory_order_relaxed);
    for (unsigned i = 0; i < rt->ncores; i++) {
        now[METRIC_OPS] += atomic_load_explicit(&rt->cores[i]->pub_commands, memory_order_relaxed);
        now[METRIC_IN] += atomic_load_explicit(&rt->cores[i]->pub_net_in, memory_order_relaxed);
        now[METRIC_OUT] += atomic_load_explicit(&rt->cores[i]->pub_net_out, memory_order_relaxed);
    }
    if (m->last_ms && t > m->last_ms) {
        uint64_t avg[METRIC_COUNT];
        for (int k = 0; k < METRIC_COUNT; k++) {
            /* CONFIG RESETSTAT can make a counter go back: count that as 0. */
            uint64_t d = now[k] >= m->last[k] ? now[k] - m->last[k] : 0;
            uint64_t sum = 0;
            m->samples[k][m->idx] = d * 1000 / (uint64_t)(t - m->last_ms);
            for (int j = 0; j < METRIC_SAMPLES; j++)
                sum += m->samples[k][j];
            avg[k] = sum / METRIC_SAMPLES;
        }
        m->idx = (m->idx + 1) % METRIC_SAMPLES;
        atomic_store_explicit(&rt->inst_ops_per_sec, avg[METRIC_OPS], memory_order_relaxed);
        atomic_store_explicit(&rt->inst_in_bytes_per_sec, avg[METRIC_IN], memory_order_relaxed);
        atomic_store_explicit(&rt->inst_out_bytes_per_sec, avg[METRIC_OUT], memory_order_relaxed);
    }
    memcpy(m->last, now, sizeof(now));
    m->last_ms = t;
}

int control_run(struct runtime *rt)
{
    struct metrics m;
    sigset_t set;
    int sfd;

    memset(&m, 0, sizeof(m));
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        log_errno(LL_WARNING, "signalfd", "cannot receive signals");
        return -errno;
    }
    while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
        /* p[2]: dataplane dpdk's exception path (frames to and from the TAP);
         * p[3]: MIGRATE jobs and their links */
        struct pollfd p[4] = { { .fd = sfd, .events = POLLIN },
                               { .fd = cluster_fd(), .events = POLLIN },
                               { .fd = rt->exc ? exc_fd(rt->exc) : -1, .events = POLLIN },
                               { .fd = migrate_out_fd(), .events = POLLIN } };
        struct signalfd_siginfo si;
        /* The tick runs on the monotonic clock: a step of the wall clock
         * must not stretch the wait (the cluster keeps Redis's wall-clock
         * times for its own bookkeeping). */
        int64_t now = clock_us() / 1000, wait, mig_wait;
        int n;

        if (now - m.last_ms >= CONTROL_TICK_MS) {
            metrics_tick(rt, &m);
            control_reclaim_slotmaps(rt);
            cluster_tick(rt, clock_ms());
            if (rt->exc)
                exc_poll(rt->exc);   /* a safety net only: the exception path wakes us itself */
            now = clock_us() / 1000;
        }
        /* Bus traffic wakes the loop often; the tick keeps its period. */
        wait = CONTROL_TICK_MS - (now - m.last_ms);
        mig_wait = migrate_out_next_wait(now);
        if (mig_wait >= 0 && mig_wait < wait)
            wait = mig_wait;
        if (wait < 0)
            wait = 0;
        /* poll() skips negative descriptors */
        n = poll(p, 4, (int)wait);
        /* time-outs and the idle sweep are due even when nothing is readable */
        migrate_out_run(clock_us() / 1000);
        if (n <= 0)
            continue;
        if (p[2].revents & POLLIN)
            exc_poll(rt->exc);
        if (p[1].fd >= 0 && (p[1].revents & POLLIN))
            cluster_events(rt);
        if (!(p[0].revents & POLLIN))
            continue;
        if (read(sfd, &si, sizeof(si)) != sizeof(si))
            continue;
        if (si.ssi_signo == SIGHUP) {
            log_reopen();
            continue;
        }
        log_msg(LL_WARNING, "Received %s scheduling shutdown...",
                si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        atomic_store_explicit(&rt->shutdown, 1, memory_order_release);
    }
    for (unsigned i = 0; i < rt->ncores; i++)
        if (rt->cores[i])
            core_wake(rt->cores[i]);
    close(sfd);
    return 0;
}
