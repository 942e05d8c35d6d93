/* core — a data core's thread: the loop, cross-core rings, command execution
 * and the all-cores barrier.
 *
 * Loop turn (core_loop): read the clock once; park if another core holds the
 * barrier; poll the transport (it parses and runs commands of ready clients);
 * drain inbound rings (requests to run here, replies coming home); retry the
 * backlogs of full rings; resume clients waiting for the barrier; flush client
 * output; run the cron when due; on the DPDK transport, end with the stack's
 * flush (segments out, timers). Everything here belongs to this core, except
 * what the barrier holder reads while this core is parked. A socket core may
 * sleep in epoll_wait when idle; a DPDK core spins and never sleeps.
 *
 * The barrier (barrier.h): a core that needs every shard (DBSIZE, KEYS, MSET
 * over several cores, CONFIG SET) takes it; each other core notices at the top
 * of its next turn, first runs every request already queued to it (so the
 * barrier command stays behind the requests its own client sent earlier),
 * then parks until the holder releases it. It costs a few microseconds per
 * use and is never taken by single-key commands. */
#include "core.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <rte_launch.h>
#include <rte_ring.h>

#include "../cluster/slotmap.h"
#include "../kv/evict.h"
#include "../kv/keyspace.h"
#include "../cluster/migrate_out.h"
#include "../cluster/dump.h"
#include "../kv/commands.h"
#include "../kv/slotkeys.h"
#include "client.h"
#include "config.h"
#include "dpdk_transport.h"
#include "log.h"
#include "mem.h"
#include "monitor.h"
#include "multi.h"
#include "slowlog.h"
#include "sock.h"
#include "tsc.h"

#define RING_DRAIN_BURST 64     /* descriptors per dequeue call */
#define RING_DRAIN_MAX   1024   /* per ring per turn: bounds a turn's work */
#define CORE_SPIN_TURNS 64       /* empty polls after work before sleeping: ~30 µs */
#define CORE_MAX_SLEEP_MS 100    /* the cron interval at Redis's default hz 10 */
#define CRON_EXPIRE_BUDGET_PCT 25 /* Redis: ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC */

int64_t clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void core_wake(struct core *target)
{
    uint64_t one = 1;

    /* Pairs with the fence in core_loop before the target sleeps: either the
     * target sees our enqueue when it rechecks, or we see it sleeping here. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&target->sleeping, memory_order_relaxed)) {
        if (write(target->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_errno(LL_WARNING, "write", "cannot wake core %u", target->id);
    }
}

static void backlog_push(struct core *self, unsigned to, struct xreq *r)
{
    r->xnext = NULL;
    if (self->backlog_tail[to])
        self->backlog_tail[to]->xnext = r;
    else
        self->backlog_head[to] = r;
    self->backlog_tail[to] = r;
    self->backlog_total++;
    if (self->backlog_total > self->stats.xcore_backlog_peak)
        self->stats.xcore_backlog_peak = self->backlog_total;
}

/* Send `r` to core `to` over our ring to it, behind any backlog so order holds. */
static void xsend(struct core *self, unsigned to, struct xreq *r)
{
    struct core *dst = self->rt->cores[to];
    struct rte_ring *ring = dst->in[self->id];

    if (self->backlog_head[to] || rte_ring_sp_enqueue(ring, r) != 0)
        backlog_push(self, to, r);
    self->stats.xcore_sent++;
    core_wake(dst);
}

void core_send(struct core *self, struct xreq *r)
{
    xsend(self, r->owner, r);
}

static void backlog_flush(struct core *self)
{
    for (unsigned to = 0; to < self->rt->ncores && self->backlog_total; to++) {
        struct xreq *r;
        struct core *dst = self->rt->cores[to];
        int sent = 0;

        while ((r = self->backlog_head[to]) != NULL) {
            if (rte_ring_sp_enqueue(dst->in[self->id], r) != 0)
                break;
            self->backlog_head[to] = r->xnext;
            if (!self->backlog_head[to])
                self->backlog_tail[to] = NULL;
            self->backlog_total--;
            sent = 1;
        }
        if (sent)
            core_wake(dst);
    }
}

/* Count an error reply under its code (the first word), as INFO errorstats. */
void core_count_error(struct core *self, const char *line, size_t len)
{
    struct core_stats *st = &self->stats;
    size_t n = 0;

    if (len && line[0] == '-') {
        line++;
        len--;
    }
    while (n < len && n < sizeof(st->errors[0].name) - 1 && line[n] != ' ' && line[n] != '\r')
        n++;
    st->total_error_replies++;
    for (unsigned i = 0; i < st->nerrors; i++) {
        if (strlen(st->errors[i].name) == n && memcmp(st->errors[i].name, line, n) == 0) {
            st->errors[i].count++;
            return;
        }
    }
    if (st->nerrors < CORE_ERROR_KINDS) {
        memcpy(st->errors[st->nerrors].name, line, n);
        st->errors[st->nerrors].name[n] = '\0';
        st->errors[st->nerrors].count = 1;
        st->nerrors++;
    }
}

/* CONFIG SET port / bind: every core listens again, or none changes. Runs on
 * the barrier holder while the other cores are parked. */
static int rebind_all(struct config *cfg, void *arg, const char **err)
{
    struct runtime *rt = arg;
    unsigned i;

    (void)cfg;
    for (i = 0; i < rt->ncores; i++) {
        if (sock_rebind_prepare(rt->cores[i]->sock) != 0) {
            while (i-- > 0)
                sock_rebind_abort(rt->cores[i]->sock);
            *err = "Unable to listen on this port. Check server logs.";
            return -EADDRINUSE;
        }
    }
    for (i = 0; i < rt->ncores; i++)
        sock_rebind_commit(rt->cores[i]->sock);
    return 0;
}

int core_register_config_hooks(struct runtime *rt)
{
    /* dataplane dpdk: the client port lives in every core's stack, which
     * cannot stop listening, and bind addresses mean nothing there (the node
     * answers on dpdk-ip). Without a hook CONFIG SET port/bind is refused as
     * for any immutable directive. */
    if (rt->cfg && rt->cfg->dataplane == DATAPLANE_DPDK)
        return 0;
    if (config_on_apply("port", rebind_all, rt) != 0 ||
        config_on_apply("bind", rebind_all, rt) != 0)
        return -ENOENT;
    return 0;
}

void server_reset_stats(struct cmd_ctx *c)
{
    struct runtime *rt = c->core->rt;

    for (unsigned i = 0; i < rt->ncores; i++) {
        struct core *core = rt->cores[i];
        memset(core->cmdstats, 0, cmd_count_ids() * sizeof(*core->cmdstats));
        memset(&core->stats, 0, sizeof(core->stats));
        shard_stats_reset(core->shard);
    }
}

/* Cluster mode, on the core holding the keys, with the map current here
 * (the client's core decided with the map of its turn, and a SETSLOT NODE
 * may have moved the slot since): a slot no longer ours redirects, so no
 * write is acknowledged for a slot another node serves; a slot being
 * migrated out sends absent keys on with ASK; a slot being imported serves
 * an ASKING client only if it has all the keys (Redis 7.0 getNodeByQuery).
 * Returns 1 after writing the redirection. */
static int migration_redirect_slow(struct cmd_ctx *ctx, const struct slotmap *map, unsigned s)
{
    int first, last, step, missing = 0, present = 0;
    unsigned owner = map->node_of[s];

    if (owner != map->self &&
        !(map->importing_from[s] != SLOTMAP_NONE && ctx->asking)) {
        if (owner == SLOTMAP_NONE)
            resp_add_error(ctx->out, "CLUSTERDOWN Hash slot not served");
        else
            resp_add_errorf(ctx->out, "MOVED %u %s", s, map->nodes[owner].endpoint);
        return 1;
    }
    if (map->migrating_to[s] == SLOTMAP_NONE && map->importing_from[s] == SLOTMAP_NONE)
        return 0;
    if (!cmd_key_range(ctx->cmd, ctx->argc, ctx->argv, &first, &last, &step))
        return 0;
    for (int i = first; i <= last; i += step) {
        if (ks_exists(ctx, &ctx->argv[i]))
            present++;
        else
            missing++;
    }
    if (map->migrating_to[s] != SLOTMAP_NONE && missing) {
        if (present)
            resp_add_error(ctx->out, "TRYAGAIN Multiple keys request during rehashing of slot");
        else
            resp_add_errorf(ctx->out, "ASK %u %s", s, map->nodes[map->migrating_to[s]].endpoint);
        return 1;
    }
    if (map->importing_from[s] != SLOTMAP_NONE && map->node_of[s] != map->self &&
        missing && present + missing > 1) {
        resp_add_error(ctx->out, "TRYAGAIN Multiple keys request during rehashing of slot");
        return 1;
    }
    return 0;
}

/* The common case first: a slot that is direct[] in the current map (ours,
 * stable, state ok) redirects nothing, so the recheck costs one byte. */
static inline int migration_redirect(struct cmd_ctx *ctx)
{
    const struct slotmap *map = slotmap_current();
    unsigned s = (unsigned)ctx->cluster_slot;

    if (map->direct[s])
        return 0;
    return migration_redirect_slow(ctx, map, s);
}

void core_account(struct core *self, const struct cmd_ctx *ctx, size_t start, uint64_t ticks)
{
    core_account_inline(self, ctx, start, ticks);
}

int core_exec_refuses(struct core *self, struct cmd_ctx *ctx)
{
    struct cmd_stats *cs = &self->cmdstats[ctx->cmd->id];
    size_t start = ctx->out->len;

    if (ctx->cluster_slot >= 0 && migration_redirect(ctx)) {
        cs->rejected++;
        core_count_error(self, ctx->out->buf + start, ctx->out->len - start);
        return 1;
    }
    if ((ctx->cmd->flags & CMD_DENYOOM) && config_live()->maxmemory &&
        evict_before_write(ctx) != 0) {
        resp_add_error(ctx->out, ERR_OOM);
        cs->rejected++;
        core_count_error(self, ctx->out->buf + start, ctx->out->len - start);
        return 1;
    }
    return 0;
}


/* Whether `client` has a request held here ahead of `upto`: one deferred
 * before it (upto NULL: a request not deferred yet, behind all of them), or
 * a MIGRATE of its own still out. Pointers are compared, never followed:
 * the client belongs to its own core. */
static int client_held(const struct core *self, const struct client *client,
                       const struct xreq *upto)
{
    /* A client pipelining behind a held key is nearly always the last one
     * deferred: one test, not a walk of the list, per request it sends. */
    if (upto == NULL && self->deferred_tail && self->deferred_tail->client == client)
        return 1;
    for (const struct xreq *d = self->deferred_head; d && d != upto; d = d->xnext)
        if (d->client == client)
            return 1;
    return migrate_holds_client(self, client);
}

/* Whether request r must wait for a MIGRATE of this core: a write to a key
 * whose value is on its way to another node would be lost when MIGRATE
 * deletes it; a read behind a waiting request must not overtake it
 * (`ahead`: requests are already waiting); and a client's requests take
 * effect in its order, as on Redis's one thread, so none overtakes its own
 * MIGRATE or its own deferred request (a GET pipelined after MIGRATE finds
 * the key gone). */
static int must_wait(struct core *self, const struct xreq *r, int ahead)
{
    int first, last, step, write = (r->cmd->flags & CMD_WRITE) != 0;

    if (keylock_count(&self->locks) == 0)
        return 0;
    /* run_deferred asks for the head of the list, run_request for a new one */
    if (client_held(self, r->client, r == self->deferred_head ? r : NULL))
        return 1;
    if (!write && !ahead)
        return 0;
    if (!cmd_key_range(r->cmd, r->argc, r->argv, &first, &last, &step))
        return write;
    for (int i = first; i <= last; i += step)
        if (keylock_held(&self->locks, r->db, r->argv[i].p, r->argv[i].len))
            return 1;
    return 0;
}

/* The reply is complete: hand the request back to its origin. */
static void send_home(struct core *self, struct xreq *r)
{
    /* Not `done`: the origin walks its reply queue reading `done` while this
     * request may still be ours, so only the origin may set it. */
    r->executed = 1;
    if (r->origin == self->id)
        client_reply_ready(r->client, r);
    else
        xsend(self, r->origin, r);
}

/* *tick as core_exec's: requests drained together share clock reads. */
static void execute(struct core *self, struct xreq *r, uint64_t *tick)
{
    struct cmd_ctx ctx;

    core_ctx_init(&ctx, self, r->cmd, r->argc, r->argv, r->db, &r->out, 0);
    ctx.cluster_slot = r->cluster_slot;
    ctx.asking = r->asking;
    ctx.req = r;

    r->exec_us = tsc_ticks_us(core_exec(self, &ctx, tick));
    if (!ctx.suspended)
        send_home(self, r);
}

static void run_request(struct core *self, struct xreq *r, uint64_t *tick)
{
    if (must_wait(self, r, self->deferred_head != NULL)) {
        r->xnext = NULL;
        if (self->deferred_tail)
            self->deferred_tail->xnext = r;
        else
            self->deferred_head = r;
        self->deferred_tail = r;
        return;
    }
    execute(self, r, tick);
}

void core_run_request(struct core *self, struct xreq *r)
{
    uint64_t tick = 0;

    run_request(self, r, &tick);
}

/* Keys were unlocked: run the waiting requests in arrival order, up to the
 * first that must still wait. */
static void run_deferred(struct core *self)
{
    struct xreq *r;
    uint64_t tick = 0;

    while ((r = self->deferred_head) != NULL && !must_wait(self, r, 0)) {
        self->deferred_head = r->xnext;
        if (!self->deferred_head)
            self->deferred_tail = NULL;
        execute(self, r, &tick);
    }
}

void core_finish_async(struct core *self, struct xreq *r, size_t reply_start,
                       int64_t started_us)
{
    r->exec_us = clock_us() - started_us;
    core_count_failure(self, r->cmd->id, &r->out, reply_start);
    send_home(self, r);
}

/* MIGRATEs the control plane finished (and any a synchronous MIGRATE set
 * aside), then the requests their keys held back. */
static void finish_migrations(struct core *self)
{
    struct migrate_job *j;

    while ((j = self->mig_stash) != NULL) {
        self->mig_stash = j->next;
        migrate_finish(self, j);
    }
    while ((j = migrate_out_done(self->id)) != NULL)
        migrate_finish(self, j);
    if (self->deferred_head)
        run_deferred(self);
}

/* Drain inbound rings. `only_from` >= 0 drains that ring completely (parking). */
static unsigned drain_rings(struct core *self, int only_from)
{
    void *burst[RING_DRAIN_BURST];
    unsigned total = 0;
    uint64_t tick = 0;   /* requests run one after another share clock reads */

    for (unsigned from = 0; from < self->rt->ncores; from++) {
        struct rte_ring *ring = self->in[from];
        unsigned budget = only_from >= 0 ? UINT32_MAX : RING_DRAIN_MAX;

        if (!ring || (only_from >= 0 && (unsigned)only_from != from))
            continue;
        while (budget) {
            unsigned n = rte_ring_sc_dequeue_burst(ring, burst,
                             budget < RING_DRAIN_BURST ? budget : RING_DRAIN_BURST, NULL);
            if (n == 0)
                break;
            for (unsigned i = 0; i < n; i++) {
                struct xreq *r = burst[i];
                if (i + 1 < n)
                    __builtin_prefetch(burst[i + 1]);
                if (r->executed || r->kind != XREQ_CMD)
                    tick = 0;   /* not a command: the next one reads afresh */
                if (r->kind == XREQ_MONITOR)
                    monitor_deliver(self, r);
                else if (r->kind == XREQ_UNWATCH)
                    multi_unwatch_deliver(self, r);
                else if (!r->executed)
                    run_request(self, r, &tick);
                else
                    client_reply_ready(r->client, r);
            }
            budget -= n;
            total += n;
        }
    }
    return total;
}

static int rings_pending(struct core *self)
{
    if (migrate_out_pending(self->id))
        return 1;
    for (unsigned from = 0; from < self->rt->ncores; from++)
        if (self->in[from] && !rte_ring_empty(self->in[from]))
            return 1;
    return 0;
}

int core_barrier_try_acquire(struct core *self)
{
    struct runtime *rt = self->rt;

    if (rt->ncores == 1)
        return 1;
    /* Requests we still hold in a backlog would run after the barrier command
     * on their core and break reply order; send them first. */
    backlog_flush(self);
    if (self->backlog_total)
        return 0;
    if (!barrier_try_take(&rt->barrier, self->id))
        return 0;
    for (unsigned i = 0; i < rt->ncores; i++)
        if (i != self->id)
            core_wake(rt->cores[i]);
    barrier_wait_parked(&rt->barrier, rt->ncores - 1);
    return 1;
}

void core_barrier_release(struct core *self)
{
    if (self->rt->ncores > 1)
        barrier_release(&self->rt->barrier);
}

static void flush_clients(struct core *self)
{
    struct client *cl = self->flush_list;

    self->flush_list = NULL;
    while (cl) {
        struct client *next = cl->flush_next;
        cl->flush_next = NULL;
        cl->on_flush_list = 0;
        client_flush(cl);
        cl = next;
    }
}

static void resume_waiting_clients(struct core *self)
{
    struct client *cl, *next;

    for (cl = self->clients; cl && self->waiting_barrier; cl = next) {
        next = cl->next;
        if (cl->flags & CLIENT_WAIT_BARRIER)
            client_resume(cl);
    }
}

static PHASE_ROOT void cron(struct core *self)
{
    const struct config *cfg = config_live();
    int hz = cfg->hz > 0 ? cfg->hz : 10;
    uint64_t budget_us = 1000000ull / (unsigned)hz * CRON_EXPIRE_BUDGET_PCT / 100;
    struct client *cl, *next;

    atomic_store_explicit(&self->pub_commands, self->stats.commands_processed, memory_order_relaxed);
    atomic_store_explicit(&self->pub_net_in, self->stats.net_input_bytes, memory_order_relaxed);
    atomic_store_explicit(&self->pub_net_out, self->stats.net_output_bytes, memory_order_relaxed);
    shard_active_expire(self->shard, self->now_ms, budget_us);
    shard_rehash_step(self->shard);
    for (cl = self->clients; cl; cl = next) {
        next = cl->next;
        client_cron(cl, self->now_ms);
    }
    self->next_cron_ms = self->now_ms + 1000 / hz;
}

/* Cluster mode: a slot this core served that a newer map gives to another
 * node loses its keys here, as Redis deletes the keys of slots taken from it
 * by an UPDATE or a claim with a newer epoch. The normal hand-over (SETSLOT
 * NODE after MIGRATE) refuses while keys remain, so this finds keys only
 * after such a conflict; a slot merely unassigned (DELSLOTS) keeps them. */
static void track_served_slots(struct core *self, const struct slotmap *m)
{
    uint8_t lost[SLOT_COUNT / 8];
    int any = 0;

    memset(lost, 0, sizeof(lost));
    for (unsigned j = 0; j < SLOT_COUNT; j++) {
        uint8_t bit = (uint8_t)(1u << (j & 7));
        int serve = m->cluster && m->core_of[j] == self->id && m->node_of[j] == m->self;

        if (!serve && (self->served[j >> 3] & bit) && m->cluster &&
            m->node_of[j] != SLOTMAP_NONE) {
            lost[j >> 3] |= bit;
            any = 1;
        }
        self->served[j >> 3] = (uint8_t)(serve ? self->served[j >> 3] | bit
                                               : self->served[j >> 3] & ~bit);
    }
    self->served_version = m->version;
    if (any) {
        struct cmd_ctx ctx = {
            .view = core_view(self, 0),
            .core = self, .now_ms = self->now_ms, .cluster_slot = -1,
        };
        long n = ks_slots_purge(&ctx, lost);

        if (n > 0)
            log_msg(LL_WARNING, "core %u: deleted %ld keys of slots now served by other nodes",
                    self->id, n);
        else if (n < 0)
            log_msg(LL_WARNING, "core %u: out of memory deleting keys of lost slots", self->id);
    }
}

void core_turn(struct core *self, int may_sleep)
{
    const struct slotmap *map;
    struct runtime *rt = self->rt;
    unsigned work, holder;
    uint64_t gen;
    int timeout;

    /* a DPDK core's is read by its poll, less often (dpdk_transport_poll) */
    if (!self->dpdk)
        self->now_ms = clock_ms();
    /* Another core holds the barrier: run what it sent us first, so its
     * command comes after its client's earlier requests, then wait. */
    gen = barrier_pending(&rt->barrier, &self->seen_barrier, &holder);
    if (gen) {
        drain_rings(self, (int)holder);
        barrier_park(&rt->barrier, gen);
    }

    if (self->dpdk) {
        /* A poll-mode core never sleeps, so `sleeping` stays 0 and core_wake
         * costs other cores nothing but the fence. */
        dpdk_transport_poll(self->dpdk);
    } else {
        timeout = may_sleep ? (int)(self->next_cron_ms - self->now_ms) : 0;
        /* Work of our own that no ring or descriptor would wake us for:
         * backlogs, clients waiting for the barrier, MIGRATE jobs a
         * synchronous MIGRATE set aside (finished on the next turn). */
        if (timeout < 0 || self->backlog_total || self->waiting_barrier || self->mig_stash)
            timeout = 0;
        /* now_ms is wall-clock time (Redis's, for expiry): a step back of
         * the clock must not turn the wait for the cron into a long sleep. */
        if (timeout > CORE_MAX_SLEEP_MS)
            timeout = CORE_MAX_SLEEP_MS;
        /* Busy for a while after work: polling without sleeping spares the
         * sleep/wake-up round trip through the scheduler on every request of a
         * request-reply load, and costs nothing once the spin budget is spent. */
        if (timeout > 0 && self->spin_left > 0) {
            self->spin_left--;
            timeout = 0;
        }
        if (timeout > 0) {
            atomic_store_explicit(&self->sleeping, 1, memory_order_relaxed);
            atomic_thread_fence(memory_order_seq_cst);
            if (rings_pending(self) ||
                barrier_asked_since(&rt->barrier, self->seen_barrier) ||
                atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
                timeout = 0;
        }
        if (sock_poll(self->sock, timeout) > 0)
            self->spin_left = CORE_SPIN_TURNS;
        atomic_store_explicit(&self->sleeping, 0, memory_order_relaxed);
        self->now_ms = clock_ms();
    }

    work = drain_rings(self, -1);
    if (self->mig_stash || migrate_out_pending(self->id))
        finish_migrations(self);
    if (self->backlog_total)
        backlog_flush(self);
    if (self->waiting_barrier)
        resume_waiting_clients(self);
    flush_clients(self);
    if (self->now_ms >= self->next_cron_ms)
        cron(self);
    /* Replies and closes of this turn leave as segments now. */
    if (self->dpdk)
        dpdk_transport_flush(self->dpdk, work);
    map = slotmap_current();
    if (map->version != self->served_version)
        track_served_slots(self, map);
    /* End of turn: nothing of this turn still points into an older map. */
    atomic_store_explicit(&self->map_seen, map->version, memory_order_release);
}

/* Pin the calling data core to one CPU of those the process may use. With
 * more CPUs than data cores the first allowed CPU is left to the control
 * plane and the kernel (the default of cores minus one data core). */
static void pin_to_cpu(struct core *self)
{
    cpu_set_t allowed, one;
    int cpus[CPU_SETSIZE], n = 0, cpu;

    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            cpus[n++] = c;
    if (n == 0)
        return;
    cpu = n > (int)self->rt->ncores ? cpus[(self->id + 1) % (unsigned)n]
                                    : cpus[self->id % (unsigned)n];
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0)
        log_msg(LL_WARNING, "core %u: could not pin to CPU %d", self->id, cpu);
    else
        log_msg(LL_VERBOSE, "data core %u pinned to CPU %d", self->id, cpu);
}

static void *core_loop(void *arg)
{
    struct core *self = arg;
    char name[16];

    snprintf(name, sizeof(name), "slotd-core%u", self->id);
    pthread_setname_np(pthread_self(), name);
    /* An EAL worker lcore is already pinned where -l/--lcores put it. */
    if (!self->dpdk)
        pin_to_cpu(self);
    if (mem_thread_init(self->id + 1) != 0)
        log_msg(LL_WARNING, "core %u: no jemalloc arena of its own", self->id);
    while (!atomic_load_explicit(&self->rt->shutdown, memory_order_acquire))
        core_turn(self, 1);
    barrier_leave(&self->rt->barrier);
    return NULL;
}

struct core *core_create(struct runtime *rt, unsigned id)
{
    struct core *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->id = id;
    c->rt = rt;
    c->wake_fd = -1;
    c->cmdstats = calloc(cmd_count_ids(), sizeof(*c->cmdstats));
    if (!c->cmdstats)
        goto fail;
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0) {
        log_errno(LL_WARNING, "eventfd", "core %u: no wake-up descriptor", id);
        goto fail;
    }
    for (unsigned from = 0; from < rt->ncores; from++) {
        ssize_t sz;
        if (from == id)
            continue;
        sz = rte_ring_get_memsize(CORE_RING_SIZE);
        if (sz < 0)
            goto fail;
        c->in[from] = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
        if (!c->in[from] ||
            rte_ring_init(c->in[from], "xcore", CORE_RING_SIZE,
                          RING_F_SP_ENQ | RING_F_SC_DEQ) != 0)
            goto fail;
    }
    /* Cluster mode indexes keys by slot (GETKEYSINSLOT, COUNTKEYSINSLOT). */
    c->shard = shard_create_ex(id, (unsigned)config_live()->databases,
                               rt->run_id_seed ^ (id * 0x9E3779B97F4A7C15ull),
                               config_live()->cluster_enabled);
    if (!c->shard)
        goto fail;
    rt->shards[id] = c->shard;
    if (rt->cfg && rt->cfg->dataplane == DATAPLANE_DPDK) {
        c->dpdk = dpdk_transport_create(c);
        if (!c->dpdk)
            goto fail;
    } else {
        c->sock = sock_create(c);
        if (!c->sock)
            goto fail;
    }
    c->now_ms = clock_ms();
    c->next_cron_ms = c->now_ms;
    rt->cores[id] = c;
    return c;
fail:
    rt->shards[id] = NULL;
    core_destroy(c);
    return NULL;
}

/* EAL's launch signature around the same loop. */
static int core_lcore_main(void *arg)
{
    core_loop(arg);
    return 0;
}

/* dataplane dpdk: data core i runs on EAL worker lcore rt->lcore[i], which
 * EAL already pinned; otherwise an ordinary thread. */
int core_launch(struct core *c)
{
    if (c->rt->cfg && c->rt->cfg->dataplane == DATAPLANE_DPDK)
        return rte_eal_remote_launch(core_lcore_main, c, c->rt->lcore[c->id]);
    return -pthread_create(&c->thread, NULL, core_loop, c);
}

void core_join(struct core *c)
{
    if (c->rt->cfg && c->rt->cfg->dataplane == DATAPLANE_DPDK)
        rte_eal_wait_lcore(c->rt->lcore[c->id]);
    else
        pthread_join(c->thread, NULL);
}

/* Free a descriptor left in a ring or backlog at exit. A command belongs to
 * its client's reply queue (freed with the client); only MONITOR lines and
 * UNWATCH lists are owned by the descriptor itself (the nodes an UNWATCH
 * names go with their shard's watch table). */
static void drop_at_exit(struct xreq *r)
{
    if (r->kind == XREQ_MONITOR) {
        resp_out_free(&r->out);
        mem_free(r);
    } else if (r->kind == XREQ_UNWATCH) {
        mem_free(r);
    }
}

void core_drain_at_exit(struct core *c)
{
    void *r;

    for (unsigned i = 0; i < CORE_MAX; i++) {
        struct xreq *b = c->backlog_head[i];
        while (b) {
            struct xreq *next = b->xnext;
            drop_at_exit(b);
            b = next;
        }
        c->backlog_head[i] = c->backlog_tail[i] = NULL;
        while (c->in[i] && rte_ring_sc_dequeue(c->in[i], &r) == 0)
            drop_at_exit(r);
    }
    c->backlog_total = 0;
}

void core_destroy(struct core *c)
{
    struct migrate_job *j;

    if (!c)
        return;
    /* Clients first: freeing one closes its connection, which the transport
     * then frees with itself. */
    while (c->clients)
        client_free(c->clients);
    if (c->sock)
        sock_destroy(c->sock);
    if (c->dpdk)
        dpdk_transport_destroy(c->dpdk);
    /* Jobs the control plane handed back at shutdown: their requests went
     * with the clients above. */
    while ((j = c->mig_stash) != NULL) {
        c->mig_stash = j->next;
        migrate_discard(j);
    }
    while ((j = migrate_out_done(c->id)) != NULL)
        migrate_discard(j);
    keylock_free(&c->locks);
    dump_lzf_free(c->lzf);
    if (c->shard)
        shard_destroy(c->shard);
    for (unsigned i = 0; i < CORE_MAX; i++)
        free(c->in[i]);
    slowlog_free(c);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    free(c->cmdstats);
    free(c);
}
