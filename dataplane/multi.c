/* multi — a client's transaction: the queue MULTI opens, and EXEC running it
 * whole under the all-cores barrier.
 *
 * Layout: one growable array of queued commands; each command's argv slices
 * and bytes share one allocation. Owned by the client's core. While EXEC runs,
 * the transaction is detached from the client (cl->multi is NULL again), so a
 * queued command sees the client as Redis shows it after EXEC.
 *
 * What EXEC does, in Redis 7.0's order (multi.c execCommand, server.c
 * processCommand, cluster.c getNodeByQuery): no MULTI → error; a refused
 * command while queueing → EXECABORT and the transaction is gone; cluster mode:
 * every key of every queued command in one slot served here (CROSSSLOT,
 * CLUSTERDOWN, MOVED, ASK, TRYAGAIN end the transaction with that error); over
 * maxmemory with a denyoom command queued → EXECABORT naming the OOM, the
 * transaction gone; else one array of the queued commands' replies. The
 * queued commands are not checked for OOM or migration again one by one, as
 * in Redis: the checks above stand for them all.
 *
 * WATCH: each watched key is a node in the watch table of the shard that
 * owns the key (kv/watch.h), which the shard's writes mark dirty; the client
 * keeps (core, node) pairs. WATCH runs under the all-cores barrier so it can
 * add nodes to any shard, and EXEC, under the barrier too, asks each node
 * whether its key changed (7.0: touched, or alive at WATCH and logically
 * expired now). Releasing nodes (UNWATCH, EXEC, DISCARD, RESET, the client
 * gone) is direct for the client's own shard or under the barrier; a node of
 * another core's shard otherwise goes back to that core in an XREQ_UNWATCH
 * request, which the receiver owns and frees, since client_free cannot wait
 * for the barrier. Until it arrives the node only costs memory: no client
 * reads it any more. At shutdown the shards free what is left.
 *
 * Deliberate simplification: a key watched by the same client twice keeps
 * one node, found by a walk of the client's nodes, as 7.0's list walk. */
#include "multi.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../cluster/slotmap.h"
#include "../kv/commands.h"
#include "../kv/evict.h"
#include "../kv/keyspace.h"
#include "../kv/slot.h"
#include "../kv/watch.h"
#include "client.h"
#include "config.h"
#include "core.h"
#include "mem.h"
#include "monitor.h"
#include "slowlog.h"
#include "tsc.h"

/* Redis 7.0 error replies (multi.c, monitorCommand) */
#define ERR_NESTED    "ERR MULTI calls can not be nested"
#define ERR_EXEC      "ERR EXEC without MULTI"
#define ERR_DISCARD   "ERR DISCARD without MULTI"
#define ERR_EXECABORT "EXECABORT Transaction discarded because of previous errors."
#define ERR_MONITOR   "ERR MONITOR isn't allowed for DENY BLOCKING client"

#define ERR_WATCH     "ERR WATCH inside MULTI is not allowed"

#define QUEUE_INITIAL 8
#define WATCH_INITIAL 4

struct multi_cmd {
    const struct cmd_spec *cmd;
    int argc;
    struct slice *argv;            /* one allocation with the argument bytes */
};

struct multi_state {
    struct multi_cmd *cmds;
    unsigned n, cap;
    uint32_t flags;                /* union of the queued commands' flags */
    size_t argv_mem;               /* 7.0 mstate.argv_len_sums (multi-mem=) */
    uint8_t dirty;                 /* a command was refused: EXEC aborts */
};

/* One WATCHed key: a node of the watch table of core `core`'s shard. */
struct watch_ref {
    struct watch_node *node;
    unsigned core;
};

struct watched_keys {
    struct watch_ref *refs;
    unsigned n, cap;
};

/* XREQ_UNWATCH: the nodes follow the descriptor in the same allocation. */
struct unwatch_msg {
    struct xreq r;                 /* r.argc = number of nodes */
    struct watch_node *nodes[];
};

int multi_runs_now(const struct cmd_spec *cmd)
{
    return cmd->fn == cmd_exec || cmd->fn == cmd_discard || cmd->fn == cmd_multi ||
           cmd->fn == cmd_watch || cmd->fn == cmd_quit || cmd->fn == cmd_reset;
}

int multi_oom_exempt(const struct cmd_spec *cmd)
{
    return cmd->fn == cmd_exec || cmd->fn == cmd_discard || cmd->fn == cmd_quit ||
           cmd->fn == cmd_reset;
}

static void state_free(struct multi_state *m)
{
    for (unsigned i = 0; i < m->n; i++)
        mem_free(m->cmds[i].argv);
    mem_free(m->cmds);
    mem_free(m);
}

int multi_queue(struct client *cl, const struct cmd_spec *cmd, int argc,
                const struct slice *argv)
{
    struct multi_state *m = cl->multi;
    struct multi_cmd *q;
    size_t bytes = (size_t)argc * sizeof(struct slice);
    char *p;

    /* 7.0 queueMultiCommand: a doomed transaction keeps nothing more, be it
     * refused commands or a changed watched key (the command is still
     * answered +QUEUED). */
    if (m->dirty || multi_info_dirty(cl))
        return 0;
    if (m->n == m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : QUEUE_INITIAL;
        struct multi_cmd *nc = mem_realloc(m->cmds, cap * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        m->cmds = nc;
        m->cap = cap;
    }
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    q = &m->cmds[m->n];
    q->argv = mem_alloc(bytes);
    if (!q->argv)
        return -ENOMEM;
    p = (char *)(q->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        q->argv[i].p = p;
        q->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
    q->cmd = cmd;
    q->argc = argc;
    m->flags |= cmd->flags;
    /* Redis counts the argument bytes and an robj pointer per argument */
    m->argv_mem += bytes - (size_t)argc * sizeof(struct slice) + (size_t)argc * sizeof(void *);
    m->n++;
    return 0;
}

void multi_flag_dirty(struct client *cl)
{
    if (cl->multi)
        cl->multi->dirty = 1;
}

/* ---- WATCH bookkeeping on the client's side ---- */

/* Stop watching everything. `barrier`: the caller holds the all-cores
 * barrier (or is the only core), so every shard's nodes are released here. */
static void unwatch_all(struct client *cl, int barrier)
{
    struct watched_keys *wk = cl->watched;
    struct core *core = cl->core;
    struct runtime *rt = core->rt;
    unsigned left = 0;

    if (!wk)
        return;
    cl->watched = NULL;
    for (unsigned i = 0; i < wk->n; i++) {
        struct watch_ref *ref = &wk->refs[i];

        if (barrier || ref->core == core->id) {
            watch_release(rt->shards[ref->core]->watch, ref->node);
            ref->node = NULL;
        } else {
            left++;
        }
    }
    /* At shutdown the rings are being torn down and the other shards may
     * already be gone: their tables free the nodes themselves. */
    if (left && !atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
        for (unsigned to = 0; to < rt->ncores && left; to++) {
            struct unwatch_msg *msg;
            unsigned cnt = 0, j = 0;

            for (unsigned i = 0; i < wk->n; i++)
                cnt += wk->refs[i].node && wk->refs[i].core == to;
            if (!cnt)
                continue;
            left -= cnt;
            /* Without memory the nodes stay behind, watched by nobody:
             * they cost their bytes and a touch walk until shutdown. */
            msg = mem_alloc(sizeof(*msg) + cnt * sizeof(msg->nodes[0]));
            if (!msg)
                continue;
            memset(&msg->r, 0, sizeof(msg->r));
            msg->r.kind = XREQ_UNWATCH;
            msg->r.origin = core->id;
            msg->r.owner = to;
            msg->r.done = 1;
            msg->r.argc = (int)cnt;
            for (unsigned i = 0; i < wk->n; i++)
                if (wk->refs[i].node && wk->refs[i].core == to)
                    msg->nodes[j++] = wk->refs[i].node;
            core_send(core, &msg->r);
        }
    }
    mem_free(wk->refs);
    mem_free(wk);
}

void multi_unwatch_deliver(struct core *self, struct xreq *r)
{
    struct unwatch_msg *msg = (struct unwatch_msg *)r;

    for (int i = 0; i < r->argc; i++)
        watch_release(self->shard->watch, msg->nodes[i]);
    mem_free(msg);
}

/* Whether any watched key changed, as EXEC sees it (barrier held). */
static int watched_changed(struct cmd_ctx *c)
{
    struct watched_keys *wk = c->client->watched;

    if (!wk)
        return 0;
    for (unsigned i = 0; i < wk->n; i++) {
        struct shard *s = c->view.shards[wk->refs[i].core];

        if (watch_node_changed(s->watch, wk->refs[i].node, c->now_ms))
            return 1;
    }
    return 0;
}

/* 7.0 discardTransaction: the queue, the flags and every WATCH. */
static void discard(struct client *cl, int barrier)
{
    unwatch_all(cl, barrier);
    if (!cl->multi)
        return;
    state_free(cl->multi);
    cl->multi = NULL;
}

void multi_discard(struct client *cl)
{
    discard(cl, 0);
}

int multi_info_count(const struct client *cl)
{
    return cl->multi ? (int)cl->multi->n : -1;
}

size_t multi_info_mem(const struct client *cl)
{
    return cl->multi ? cl->multi->argv_mem : 0;
}

int multi_info_dirty(const struct client *cl)
{
    const struct watched_keys *wk = cl->watched;

    for (unsigned i = 0; wk && i < wk->n; i++)
        if (watch_node_dirty(wk->refs[i].node))
            return 1;
    return 0;
}

static int slice_same(const struct slice *a, const struct slice *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Redis 7.0 getNodeByQuery over the keys of `n` commands, as EXEC sees its
 * queue (a single command at queue time). `check_down`: apply the cluster
 * down rule here (EXEC; at queue time the slot-map check did). */
static const char *keys_redirect(struct cmd_ctx *c, const struct slotmap *map, int asking,
                                 const struct multi_cmd *q, unsigned n, int check_down,
                                 char *buf, size_t cap)
{
    const struct slice *first = NULL;
    int s = -1, migrating = 0, importing = 0, multiple = 0;
    unsigned owner = SLOTMAP_NONE, missing = 0, present = 0;

    for (unsigned i = 0; i < n; i++) {
        int lo, hi, step;

        if (!cmd_key_range(q[i].cmd, q[i].argc, q[i].argv, &lo, &hi, &step))
            continue;
        for (int k = lo; k <= hi; k += step) {
            const struct slice *key = &q[i].argv[k];
            int ks = (int)slot_of(key->p, key->len);

            if (!first) {
                first = key;
                s = ks;
                owner = map->node_of[s];
                if (owner == SLOTMAP_NONE)
                    return "CLUSTERDOWN Hash slot not served";
                migrating = owner == map->self && map->migrating_to[s] != SLOTMAP_NONE;
                importing = !migrating && map->importing_from[s] != SLOTMAP_NONE;
            } else if (ks != s) {
                return "CROSSSLOT Keys in request don't hash to the same slot";
            } else if (!slice_same(key, first)) {
                multiple = 1;
            }
            if (migrating || importing) {
                if (ks_exists(c, key))
                    present++;
                else
                    missing++;
            }
        }
    }
    if (!first)
        return NULL;
    /* 7.0 tests the write flag of EXEC itself here, which has none: with
     * cluster-allow-reads-when-down a transaction of writes still runs. */
    if (check_down && !map->state_ok && !config_live()->cluster_allow_reads_when_down)
        return "CLUSTERDOWN The cluster is down";
    if (migrating && missing) {
        if (present)
            return "TRYAGAIN Multiple keys request during rehashing of slot";
        snprintf(buf, cap, "ASK %d %s", s, map->nodes[map->migrating_to[s]].endpoint);
        return buf;
    }
    if (importing && asking) {
        if (multiple && missing)
            return "TRYAGAIN Multiple keys request during rehashing of slot";
        return NULL;
    }
    if (owner != map->self) {
        snprintf(buf, cap, "MOVED %d %s", s, map->nodes[owner].endpoint);
        return buf;
    }
    return NULL;
}

const char *multi_keys_redirect(struct cmd_ctx *c, const struct slotmap *map, int asking,
                                const struct cmd_spec *cmd, int argc,
                                const struct slice *argv, char *buf, size_t cap)
{
    struct multi_cmd one = { .cmd = cmd, .argc = argc, .argv = (struct slice *)argv };

    /* RESTORE-ASKING carries 7.0's "asking" command flag. */
    if (cmd->fn == cmd_restore_asking)
        asking = 1;
    return keys_redirect(c, map, asking, &one, 1, 0, buf, cap);
}

void cmd_multi(struct cmd_ctx *c)
{
    struct client *cl = c->client;
    struct multi_state *m;

    if (cl->multi) {
        resp_add_error(c->out, ERR_NESTED);
        return;
    }
    m = mem_calloc(sizeof(*m));
    if (!m) {
        c->out->oom = 1;
        return;
    }
    cl->multi = m;
    resp_add_ok(c->out);
}

void cmd_discard(struct cmd_ctx *c)
{
    struct client *cl = c->client;

    if (!cl->multi) {
        resp_add_error(c->out, ERR_DISCARD);
        return;
    }
    multi_discard(cl);
    /* ASKING held through MULTI ends with it (Redis resetClient). */
    cl->flags &= ~(uint32_t)CLIENT_ASKING;
    resp_add_ok(c->out);
}

/* One queued command inside EXEC: Redis's call() bookkeeping (command stats,
 * error stats, slowlog, MONITOR after the command) without processCommand's
 * checks, which EXEC made for the whole queue. */
static void run_queued(struct cmd_ctx *exec, const struct multi_cmd *q)
{
    struct client *cl = exec->client;
    struct core *core = exec->core;
    struct cmd_ctx ctx = {
        .cmd = q->cmd,
        .argc = q->argc,
        .argv = q->argv,
        .db = cl->db,                  /* a queued SELECT moves the ones after it */
        .out = exec->out,
        .view = exec->view,
        .client = cl,
        .core = core,
        .now_ms = exec->now_ms,
        .cluster_slot = -1,
        .asking = (cl->flags & CLIENT_ASKING) != 0,
    };
    size_t start = ctx.out->len;
    uint64_t t0 = tsc_now();

    if (q->cmd->fn == cmd_monitor)
        resp_add_error(ctx.out, ERR_MONITOR);   /* a transaction may not block */
    else
        q->cmd->fn(&ctx);
    core_account(core, &ctx, start, tsc_elapsed(t0, tsc_now()));
    if (!(q->cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN)))
        monitor_feed(cl, q->argc, q->argv);
}

/* Drop the transaction with an error, before anything of it ran. */
static void abort_with(struct cmd_ctx *c, const char *err)
{
    discard(c->client, c->view.all);
    c->client->flags &= ~(uint32_t)CLIENT_ASKING;
    resp_add_error(c->out, err);
}

/* EXEC's own admission, as processCommand makes it: the cluster redirection
 * for the whole queue, then OOM when a denyoom command is queued. Returns 0
 * after refusing (the transaction is then gone). */
static int exec_admitted(struct cmd_ctx *c, struct multi_state *m)
{
    const struct slotmap *map = slotmap_current();

    if (map->cluster) {
        char buf[SLOTMAP_ENDPOINT_LEN + 32];
        const char *err = keys_redirect(c, map, c->asking, m->cmds, m->n, 1,
                                        buf, sizeof(buf));
        if (err) {
            abort_with(c, err);
            return 0;
        }
    }
    if ((m->flags & CMD_DENYOOM) && config_live()->maxmemory && evict_before_write(c) != 0) {
        /* refused like any command, which for EXEC ends the transaction
         * (7.0 rejectCommand → execCommandAbort) */
        abort_with(c, "EXECABORT Transaction discarded because of: " ERR_OOM);
        return 0;
    }
    return 1;
}

void cmd_exec(struct cmd_ctx *c)
{
    struct client *cl = c->client;
    struct multi_state *m = cl->multi;

    if (!m) {
        resp_add_error(c->out, ERR_EXEC);
    } else if (m->dirty) {
        abort_with(c, ERR_EXECABORT);
    } else if (!exec_admitted(c, m)) {
        return;                /* refused, not run: 7.0 feeds MONITOR nothing */
    } else if (watched_changed(c)) {
        /* 7.0: a null array, not an error; the transaction is gone */
        discard(cl, c->view.all);
        cl->flags &= ~(uint32_t)CLIENT_ASKING;
        resp_add_null_array(c->out);
    } else {
        /* before the queued commands run: their own writes do not count */
        unwatch_all(cl, c->view.all);
        cl->multi = NULL;
        resp_add_array(c->out, m->n);
        for (unsigned i = 0; i < m->n; i++)
            run_queued(c, &m->cmds[i]);
        state_free(m);
        cl->flags &= ~(uint32_t)CLIENT_ASKING;
    }
    /* EXEC shows in MONITOR after the commands it ran (7.0 call() feeds
     * monitors once a command is done). */
    monitor_feed(cl, c->argc, c->argv);
}

/* WATCH key [key ...]: runs under the barrier (CMD_ALLCORES), so every key's
 * shard is at hand. */
void cmd_watch(struct cmd_ctx *c)
{
    struct client *cl = c->client;
    struct watched_keys *wk = cl->watched;

    if (cl->multi) {
        resp_add_error(c->out, ERR_WATCH);
        return;
    }
    /* 7.0: no point in watching more once a watched key changed */
    if (multi_info_dirty(cl)) {
        resp_add_ok(c->out);
        return;
    }
    for (int j = 1; j < c->argc; j++) {
        const struct slice *key = &c->argv[j];
        struct shard *s = ks_shard_for(c, key);
        struct watch_node *node;
        unsigned i;

        for (i = 0; wk && i < wk->n; i++)
            if (watch_node_is(wk->refs[i].node, c->db, key->p, key->len))
                break;
        if (wk && i < wk->n)
            continue;
        if (!wk) {
            wk = mem_calloc(sizeof(*wk));
            if (!wk)
                goto oom;
            cl->watched = wk;
        }
        if (wk->n == wk->cap) {
            unsigned cap = wk->cap ? wk->cap * 2 : WATCH_INITIAL;
            struct watch_ref *nr = mem_realloc(wk->refs, cap * sizeof(*nr));

            if (!nr)
                goto oom;
            wk->refs = nr;
            wk->cap = cap;
        }
        node = watch_add(s->watch, c->db, key->p, key->len, c->now_ms);
        if (!node)
            goto oom;
        wk->refs[wk->n].node = node;
        wk->refs[wk->n].core = s->core;
        wk->n++;
    }
    resp_add_ok(c->out);
    return;
oom:
    /* the keys watched so far stay watched: the client is closed anyway */
    c->out->oom = 1;
}

void cmd_unwatch(struct cmd_ctx *c)
{
    /* inside EXEC (queued) the barrier is held: release directly */
    unwatch_all(c->client, c->view.all);
    resp_add_ok(c->out);
}
