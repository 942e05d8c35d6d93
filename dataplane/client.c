/* client — a connection's life on its data core: bytes in, commands routed to
 * the core that owns their slot, replies out in request order.
 *
 * Call chain: transport → client_rx_done → process_input → resp_parse →
 * dispatch → core_exec (here) | core_send (owner core) | barrier.
 *
 * Reply order: while nothing is in flight, a command run here writes straight
 * into cl->out. Once a command has gone to another core, every later reply
 * takes a place in the in-order queue (pend_head..pend_tail) and leaves it only
 * when all replies before it are done. Owned by the connection's core; the
 * queue's xreqs are touched by an owner core only between its ring dequeue and
 * enqueue, and never through the client pointer. */
#include "client.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/slotmap.h"
#include "../kv/cmd.h"
#include "../kv/commands.h"
#include "../kv/evict.h"
#include "../kv/keyspace.h"
#include "../kv/kvt.h"
#include "../kv/slot.h"
#include "config.h"
#include "core.h"
#include "log.h"
#include "mem.h"
#include "monitor.h"
#include "multi.h"
#include "slowlog.h"
#include "tsc.h"

#define QBUF_INITIAL 16384            /* Redis PROTO_IOBUF_LEN */
#define PENDING_PAUSE 4096            /* replies in flight before we stop reading */
#define OUTPUT_PAUSE (64u << 20)      /* unsent bytes before we stop reading */
#define OUTPUT_SHRINK (1u << 20)      /* give back an idle output buffer above this */
#define ARG_ERR_PREVIEW 128           /* Redis quotes at most 128 bytes of args */

/* Redis 7.0 networking.c clientAcceptHandler, byte for byte as redis-server
 * 7.0.15 sends it (its "Setup a an" included). */
static const char PROTECTED_DENIED[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled "
    "and no password is set for the default user. In this mode connections are only "
    "accepted from the loopback interface. If you want to connect from external "
    "computers to Redis you may adopt one of the following solutions: 1) Just disable "
    "protected mode sending the command 'CONFIG SET protected-mode no' from the "
    "loopback interface by connecting to Redis from the same host the server is "
    "running, however MAKE SURE Redis is not publicly accessible from internet if you "
    "do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can "
    "just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If "
    "you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Setup a an authentication password for the "
    "default user. NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.\r\n";

void client_schedule_flush(struct client *cl)
{
    struct core *core = cl->core;

    if (cl->on_flush_list || (cl->flags & CLIENT_CLOSED))
        return;
    cl->on_flush_list = 1;
    cl->flush_next = core->flush_list;
    core->flush_list = cl;
}

static void refresh_limits(struct client *cl)
{
    const struct config *cfg = config_live();

    cl->limits.proto_max_bulk_len = cfg->proto_max_bulk_len;
    cl->limits.auth_required = cfg->requirepass && !cl->authenticated;
}

/* Redis 7.0 treats only these two peer addresses as loopback (other 127/8
 * sources are refused too, checked against redis-server 7.0.15). The peer
 * is "ip:port" with IPv6 unbracketed, so the address ends at the last ':'. */
static int peer_is_loopback(const char *peer)
{
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

    return (n == 9 && memcmp(peer, "127.0.0.1", 9) == 0) ||
           (n == 3 && memcmp(peer, "::1", 3) == 0);
}

/* Refuse the connection with Redis's error line; a best-effort write, as in
 * Redis: the transport closes once it went out. Counted as rejected, not as
 * received (total_connections_received), as Redis 7.0 does. */
static struct client *refuse(struct core *core, struct conn *conn, const char *msg, size_t len)
{
    conn->ops->send(conn, msg, len);
    core->stats.rejected_connections++;
    return NULL;
}

struct client *client_open(struct core *core, struct conn *conn)
{
    const struct config *cfg = config_live();
    struct runtime *rt = core->rt;
    struct client *cl;

    if (atomic_load_explicit(&rt->nclients, memory_order_relaxed) >= (unsigned)cfg->maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        return refuse(core, conn, msg, sizeof(msg) - 1);
    }
    /* protected-mode: the default user has no password (no requirepass) and
     * the peer is not loopback. Neither the bind addresses nor the transport
     * matter; DPDK peers are never loopback, so all of them are refused. */
    if (cfg->protected_mode && cfg->requirepass == NULL && !peer_is_loopback(conn->peer))
        return refuse(core, conn, PROTECTED_DENIED, sizeof(PROTECTED_DENIED) - 1);
    core->stats.connections_received++;
    cl = mem_calloc(sizeof(*cl));
    if (!cl)
        return NULL;
    cl->id = atomic_fetch_add_explicit(&rt->next_client_id, 1, memory_order_relaxed);
    cl->conn = conn;
    cl->core = core;
    cl->proto = 2;
    resp_parser_init(&cl->parser);
    resp_out_init(&cl->out, 2);
    cl->ctime_ms = cl->last_ms = core->now_ms;
    cl->authenticated = cfg->requirepass == NULL;
    refresh_limits(cl);
    cl->next = core->clients;
    if (core->clients)
        core->clients->prev = cl;
    core->clients = cl;
    core->nclients++;
    atomic_fetch_add_explicit(&rt->nclients, 1, memory_order_relaxed);
    return cl;
}

void client_free(struct client *cl)
{
    struct core *core = cl->core;
    struct xreq *r;

    if (cl->conn) {
        cl->conn->client = NULL;
        cl->conn->ops->close(cl->conn);
        cl->conn = NULL;
    }
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        core->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    core->nclients--;
    atomic_fetch_sub_explicit(&core->rt->nclients, 1, memory_order_relaxed);
    if (cl->flags & CLIENT_MONITOR)
        atomic_fetch_sub_explicit(&core->rt->monitors, 1, memory_order_relaxed);
    if (cl->flags & CLIENT_WAIT_BARRIER)
        core->waiting_barrier--;
    if (cl->on_flush_list) {
        struct client **pp = &core->flush_list;
        while (*pp && *pp != cl)
            pp = &(*pp)->flush_next;
        if (*pp)
            *pp = cl->flush_next;
    }
    /* Done or local entries only: a client with requests in flight is freed
     * by the last reply (client_reply_ready). */
    while ((r = cl->pend_head) != NULL) {
        cl->pend_head = r->next;
        resp_out_free(&r->out);
        mem_free(r);
    }
    multi_discard(cl);
    resp_parser_free(&cl->parser);
    resp_out_free(&cl->out);
    mem_free(cl->qbuf);
    mem_free(cl->name);
    mem_free(cl->lib_name);
    mem_free(cl->lib_ver);
    mem_free(cl);
}

/* The connection is gone. Keep the struct while owner cores still hold our
 * requests; they come back to client_reply_ready, which frees it. */
void client_closed(struct client *cl)
{
    cl->conn = NULL;
    cl->flags |= CLIENT_CLOSED;
    if (cl->inflight == 0)
        client_free(cl);
}

static void close_now(struct client *cl)
{
    if (cl->conn && !(cl->flags & CLIENT_CLOSED))
        cl->conn->ops->close(cl->conn);
}

static size_t output_pending(const struct client *cl)
{
    return cl->out.len - cl->out_sent;
}

static void update_input_pause(struct client *cl)
{
    int pause = cl->inflight >= PENDING_PAUSE || output_pending(cl) >= OUTPUT_PAUSE;

    if (!cl->conn || pause == !!(cl->flags & CLIENT_INPUT_PAUSED))
        return;
    if (pause)
        cl->flags |= CLIENT_INPUT_PAUSED;
    else
        cl->flags &= ~(uint32_t)CLIENT_INPUT_PAUSED;
    cl->conn->ops->pause_input(cl->conn, pause);
}

/* Append a finished reply to the output; take the buffer whole when ours is
 * empty (large values then cross cores without a copy). */
static void output_take(struct client *cl, struct resp_out *o)
{
    if (o->oom) {
        cl->out.oom = 1;
        return;
    }
    if (output_pending(cl) == 0 && o->len > 4096) {
        struct resp_out tmp = cl->out;
        cl->out = *o;
        cl->out.proto = tmp.proto;
        cl->out_sent = 0;
        *o = tmp;
        o->len = 0;
        return;
    }
    resp_add_raw(&cl->out, o->buf, o->len);
}

void client_reply_ready(struct client *cl, struct xreq *back)
{
    struct xreq *r;

    back->done = 1;
    cl->inflight--;
    if (!(back->cmd->flags & CMD_SKIP_SLOWLOG))
        slowlog_push(cl->core, cl, back->argv, back->argc, back->exec_us);
    if (cl->flags & CLIENT_CLOSED) {
        if (cl->inflight == 0)
            client_free(cl);
        return;
    }
    while ((r = cl->pend_head) != NULL && r->done) {
        cl->pend_head = r->next;
        if (!cl->pend_head)
            cl->pend_tail = NULL;
        output_take(cl, &r->out);
        resp_out_free(&r->out);
        mem_free(r);
    }
    client_schedule_flush(cl);
    update_input_pause(cl);
}

static struct xreq *xreq_new(struct client *cl, const struct cmd_spec *cmd,
                             int argc, const struct slice *argv)
{
    size_t bytes = sizeof(struct xreq) + (size_t)argc * sizeof(struct slice);
    struct xreq *r;
    char *p;

    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    r = mem_alloc(bytes);
    if (!r)
        return NULL;
    /* Every field, one by one: a memset of the struct compiles to a `rep
     * stos`, whose start-up cost a command more than its stores (see
     * core_ctx_init); a request is made for every command sent to another
     * core. */
    r->client = cl;
    r->next = NULL;
    r->xnext = NULL;
    r->cmd = cmd;
    r->origin = cl->core->id;
    r->owner = cl->core->id;
    r->db = cl->db;
    r->done = 0;
    r->executed = 0;
    r->remote = 0;
    r->kind = XREQ_CMD;
    r->exec_us = 0;
    r->cluster_slot = 0;
    r->asking = 0;
    r->argc = argc;
    r->argv = (struct slice *)(r + 1);
    p = (char *)(r->argv + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].p, argv[i].len);
        r->argv[i].p = p;
        r->argv[i].len = argv[i].len;
        p += argv[i].len;
    }
    resp_out_init(&r->out, cl->proto);
    return r;
}

static void queue_append(struct client *cl, struct xreq *r)
{
    r->next = NULL;
    if (cl->pend_tail)
        cl->pend_tail->next = r;
    else
        cl->pend_head = r;
    cl->pend_tail = r;
}

/* A one-line reply written here and now, in request order: an error (counted
 * for INFO errorstats) or a status line. */
static void reply_line(struct client *cl, const char *msg, int error)
{
    struct resp_out *o = &cl->out;
    struct xreq *r = NULL;
    size_t start;

    if (cl->pend_head) {
        r = xreq_new(cl, NULL, 0, NULL);
        if (!r) {
            cl->out.oom = 1;
            return;
        }
        o = &r->out;
    }
    start = o->len;
    if (error) {
        resp_add_error(o, msg);
        core_count_error(cl->core, o->buf + start, o->len - start);
    } else {
        resp_add_simple(o, msg);
    }
    if (r) {
        r->done = 1;
        queue_append(cl, r);
    }
}

/* Reply written before the command could run (unknown, arity, NOAUTH,
 * redirection). Inside MULTI it also dooms the transaction (Redis
 * rejectCommand → flagTransaction). */
static void reject(struct client *cl, const char *msg)
{
    multi_flag_dirty(cl);
    reply_line(cl, msg, 1);
}

/* EXEC itself refused (arity, NOAUTH): 7.0 drops the transaction and names
 * the reason (multi.c execCommandAbort), "ERR " left out. */
static void reject_exec(struct client *cl, const char *msg)
{
    char line[256];

    if (strncmp(msg, "ERR ", 4) == 0)
        msg += 4;
    multi_discard(cl);
    cl->flags &= ~(uint32_t)CLIENT_ASKING;
    snprintf(line, sizeof(line), "EXECABORT Transaction discarded because of: %s", msg);
    reply_line(cl, line, 1);
}

static void reject_unknown(struct client *cl, int argc, const struct slice *argv,
                           const struct cmd_spec *parent)
{
    char msg[1024], args[ARG_ERR_PREVIEW + 8];
    size_t used = 0;

    if (parent) {
        char up[64];
        size_t n = strlen(parent->name);
        if (n >= sizeof(up))
            n = sizeof(up) - 1;
        for (size_t i = 0; i < n; i++)
            up[i] = (char)(parent->name[i] >= 'a' && parent->name[i] <= 'z'
                           ? parent->name[i] - 32 : parent->name[i]);
        up[n] = '\0';
        snprintf(msg, sizeof(msg), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                 (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].p, up);
        reject(cl, msg);
        return;
    }
    /* Redis quotes arguments until 128 bytes of them are shown. */
    args[0] = '\0';
    for (int i = 1; i < argc && used < ARG_ERR_PREVIEW; i++) {
        int room = (int)(ARG_ERR_PREVIEW - used);
        int n = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                         (int)(argv[i].len < (size_t)room ? argv[i].len : (size_t)room),
                         argv[i].p);
        if (n < 0)
            break;
        used += (size_t)n;
        if (used >= sizeof(args))
            used = sizeof(args) - 1;
    }
    snprintf(msg, sizeof(msg), "ERR unknown command '%.*s', with args beginning with: %s",
             (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].p, args);
    reject(cl, msg);
}

static int arity_ok(const struct cmd_spec *cmd, int argc)
{
    return cmd->arity >= 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* Owner core of the command's keys: a core id, -1 if it has no key, -2 if its
 * keys live on several cores. `cslot` >= 0 is their slot, known already in
 * cluster mode (every key in it, or CROSSSLOT): no second hash. */
static int keys_owner(const struct core *core, const struct cmd_spec *cmd, int argc,
                      const struct slice *argv, int cslot)
{
    const struct slotmap *map;
    int first, last, step;
    int owner = -1;

    if (cslot >= 0)
        return core->rt->ncores == 1 ? 0 : (int)slotmap_core(slotmap_current(), (unsigned)cslot);
    if (!cmd_key_range(cmd, argc, argv, &first, &last, &step))
        return -1;
    /* One core owns every slot: no hashing on the hot path. */
    if (core->rt->ncores == 1)
        return 0;
    map = slotmap_current();
    for (int i = first; i <= last; i += step) {
        int core = (int)slotmap_core(map, slot_of(argv[i].p, argv[i].len));
        if (owner == -1)
            owner = core;
        else if (owner != core)
            return -2;
    }
    return owner;
}

/* Inline in dispatch: every command of a pipeline comes through here, and a
 * call layer more cost ~25 instructions a command (callgrind). */
static inline __attribute__((always_inline)) void
exec_here(struct client *cl, const struct cmd_spec *cmd, int argc, const struct slice *argv,
          int all, int cslot, int asking, const struct kvt_hint *hint, uint64_t *tick)
{
    struct core *core = cl->core;
    struct xreq *r = NULL;
    struct cmd_ctx ctx;

    core_ctx_init(&ctx, core, cmd, argc, argv, cl->db, &cl->out, all);
    ctx.client = cl;
    ctx.cluster_slot = cslot;
    ctx.asking = (uint8_t)asking;
    if (hint) {
        ctx.hinted_key = &argv[1];
        ctx.hint = hint;
    }
    if (cl->pend_head) {
        r = xreq_new(cl, cmd, 0, NULL);
        if (!r) {
            cl->out.oom = 1;
            return;
        }
        ctx.out = &r->out;
    }
    core_exec(core, &ctx, tick);
    if (r) {
        r->done = 1;
        queue_append(cl, r);
    }
}

/* cluster_redirect for a slot that is not direct[]: down, not ours, or in
 * migration. Kept apart so the common case stays a few instructions. */
static const char *cluster_redirect_slot(const struct client *cl, const struct slotmap *map,
                                         const struct cmd_spec *cmd, int s, int *slot,
                                         char *buf, size_t cap)
{
    unsigned owner = map->node_of[s];

    if (owner == SLOTMAP_NONE)
        return "CLUSTERDOWN Hash slot not served";
    if (!map->state_ok) {
        if (!config_live()->cluster_allow_reads_when_down)
            return "CLUSTERDOWN The cluster is down";
        if (cmd->flags & CMD_WRITE)
            return "CLUSTERDOWN The cluster is down and only accepts read commands";
    }
    /* MIGRATE runs here whenever its slot is open on this node, skipping the
     * owner core's ASK / TRYAGAIN check too; RESTORE-ASKING carries 7.0's
     * "asking" command flag (7.0 getNodeByQuery). */
    if (cmd->fn == cmd_migrate &&
        (map->importing_from[s] != SLOTMAP_NONE ||
         (owner == map->self && map->migrating_to[s] != SLOTMAP_NONE)))
        return NULL;
    if (owner == map->self ||
        (map->importing_from[s] != SLOTMAP_NONE &&
         ((cl->flags & CLIENT_ASKING) || cmd->fn == cmd_restore_asking))) {
        *slot = s;
        return NULL;
    }
    snprintf(buf, cap, "MOVED %d %s", s, map->nodes[owner].endpoint);
    return buf;
}

/* Cluster mode, on the client's core: the redirections that the slot map
 * alone decides (Redis 7.0 getNodeByQuery, in its order). `s` is the keys'
 * slot when the caller hashed the command's one key already (redirected),
 * else -1. Returns NULL when the command may run here, with *slot set for
 * the owner core's migration check (ASK / TRYAGAIN need to know which keys
 * exist), else the error line (in `buf` or static). The slot is hashed
 * once per command. */
static const char *cluster_redirect(const struct client *cl, const struct slotmap *map,
                                    const struct cmd_spec *cmd, int argc,
                                    const struct slice *argv, int s, int *slot, char *buf,
                                    size_t cap)
{
    int first, last, step;

    *slot = -1;
    if (s < 0) {
        if (!cmd_key_range(cmd, argc, argv, &first, &last, &step))
            return NULL;
        s = (int)slot_of(argv[first].p, argv[first].len);
        for (int i = first + step; i <= last; i += step)
            if ((int)slot_of(argv[i].p, argv[i].len) != s)
                return "CROSSSLOT Keys in request don't hash to the same slot";
    }
    if (map->direct[s]) {
        *slot = s;
        return NULL;
    }
    return cluster_redirect_slot(cl, map, cmd, s, slot, buf, cap);
}

enum dispatch_result { DISPATCH_DONE, DISPATCH_WAIT };

/* The all-cores barrier for `cmd`, or 0 to try again next turn. A write
 * (or EXEC, whose commands are not known here) waits while any MIGRATE
 * holds keys: it may touch them on any core. So does any command of a
 * client with requests out: one may be deferred behind a MIGRATE, and the
 * client's commands take effect in its order. The lock count is checked
 * again once every other core is parked, since one may have locked keys
 * in between. */
static int barrier_for(struct client *cl, const struct cmd_spec *cmd)
{
    struct core *core = cl->core;
    int careful = (cmd->flags & CMD_WRITE) || cmd->fn == cmd_exec || cl->inflight;
    _Atomic unsigned *locks = &core->rt->keylocks;

    if (careful && atomic_load_explicit(locks, memory_order_relaxed))
        return 0;
    if (!core_barrier_try_acquire(core))
        return 0;
    if (careful && atomic_load_explicit(locks, memory_order_relaxed)) {
        core_barrier_release(core);
        return 0;
    }
    return 1;
}

/* Inside MULTI, over maxmemory: queueing would grow memory without bound, so
 * 7.0 refuses every command there (reads and a nested MULTI too) but EXEC,
 * DISCARD, QUIT and RESET. Returns 1 after refusing. */
static int refuse_oom_in_multi(struct client *cl, const struct cmd_spec *cmd)
{
    struct core *core = cl->core;
    struct cmd_ctx ctx = {
        .cmd = cmd,
        .view = core_view(core, 0),
        .now_ms = core->now_ms,
    };

    if (!config_live()->maxmemory || multi_oom_exempt(cmd) || evict_before_write(&ctx) == 0)
        return 0;
    core->cmdstats[cmd->id].rejected++;
    reject(cl, ERR_OOM);
    return 1;
}

/* Inside MULTI: the queue-time checks Redis 7.0 makes after the slot map's
 * (keys of a migrating / importing slot, then OOM), then +QUEUED. Looking at
 * the keys of a slot in migration that live on another core needs the
 * barrier. */
static enum dispatch_result queue_in_multi(struct client *cl, const struct slotmap *map,
                                           const struct cmd_spec *cmd, int argc,
                                           const struct slice *argv, int cslot, int asking)
{
    struct core *core = cl->core;

    if (cslot >= 0 && (map->migrating_to[cslot] != SLOTMAP_NONE ||
                       map->importing_from[cslot] != SLOTMAP_NONE)) {
        char buf[SLOTMAP_ENDPOINT_LEN + 32];
        const char *err;
        int all = slotmap_core(map, (unsigned)cslot) != core->id;
        struct cmd_ctx ctx = {
            .cmd = cmd,
            .argc = argc,
            .argv = argv,
            .db = cl->db,
            .view = core_view(core, all),
            .client = cl,
            .core = core,
            .now_ms = core->now_ms,
            .cluster_slot = -1,
        };

        if (all && !core_barrier_try_acquire(core))
            return DISPATCH_WAIT;
        err = multi_keys_redirect(&ctx, map, asking, cmd, argc, argv, buf, sizeof(buf));
        if (all)
            core_barrier_release(core);
        if (err) {
            core->cmdstats[cmd->id].rejected++;
            reject(cl, err);
            return DISPATCH_DONE;
        }
    }
    if (refuse_oom_in_multi(cl, cmd))
        return DISPATCH_DONE;
    if (multi_queue(cl, cmd, argc, argv) != 0) {
        cl->out.oom = 1;
        return DISPATCH_DONE;
    }
    reply_line(cl, "QUEUED", 0);
    return DISPATCH_DONE;
}

/* What nearly every command finds, in one test: an authenticated client
 * outside MULTI and without ASKING, nobody MONITORing, a command that needs
 * neither the barrier nor the asynchronous path. Then each check of
 * dispatch but the slot's and the owner core's would pass and change
 * nothing. Bitwise: one branch, not seven. */
static inline int runs_plainly(const struct client *cl, const struct cmd_spec *cmd)
{
    return cl->authenticated & !cl->multi & !(cl->flags & CLIENT_ASKING) &
           !(cmd->flags & (CMD_ALLCORES | CMD_ASYNC)) & (cmd->fn != cmd_restore_asking) &
           (atomic_load_explicit(&cl->core->rt->monitors, memory_order_relaxed) == 0);
}

/* redirected's general case: cluster_redirect (s as its), and its error
 * reply. A redirected command also spends an ASKING outside MULTI. */
static __attribute__((noinline)) int
redirected_general(struct client *cl, const struct slotmap *map, const struct cmd_spec *cmd,
                   int argc, const struct slice *argv, int s, int *cslot)
{
    char moved[SLOTMAP_ENDPOINT_LEN + 32];
    const char *err = cluster_redirect(cl, map, cmd, argc, argv, s, cslot, moved,
                                       sizeof(moved));

    if (!err)
        return 0;
    reject(cl, err);
    if (!cl->multi)
        cl->flags &= ~(uint32_t)CLIENT_ASKING;
    return 1;
}

/* Cluster mode: 1 when the command was answered with a redirection, else 0
 * with *cslot set. Inline for what nearly every request is, one key at a
 * fixed place (GET, SET...) in a slot served here: its slot and one byte of
 * the map; cmd_key_range's general arithmetic is for the others. */
static inline int redirected(struct client *cl, const struct slotmap *map,
                             const struct cmd_spec *cmd, int argc, const struct slice *argv,
                             int *cslot)
{
    int k = cmd->first_key, s = -1;

    if (k > 0 && k < argc && k == cmd->last_key && !cmd->getkeys) {
        s = (int)slot_of(argv[k].p, argv[k].len);
        if (map->direct[s]) {
            *cslot = s;
            return 0;
        }
    }
    return redirected_general(cl, map, cmd, argc, argv, s, cslot);
}

/* dispatch's owner core until the plain case or the general path knows it */
#define OWNER_UNKNOWN INT_MIN

static enum dispatch_result dispatch(struct client *cl, int argc, const struct slice *argv,
                                     const struct kvt_hint *hint, uint64_t *tick)
{
    const struct cmd_spec *parent = NULL, *cmd;
    const struct slotmap *map;
    struct core *core = cl->core;
    int owner = OWNER_UNKNOWN, cslot = -1, asking;

    cmd = cmd_lookup_memo(&cl->cmd_memo, &argv[0], argc > 1 ? &argv[1] : NULL, &parent);
    if (!cmd) {
        /* 7.0 forgets the last command too: CLIENT LIST then says cmd=NULL */
        cl->last_cmd_id = CMD_ID_NONE;
        reject_unknown(cl, argc, argv, parent);
        return DISPATCH_DONE;
    }
    cl->last_cmd_id = cmd->id;
    if (!arity_ok(cmd, argc)) {
        char msg[160], name[96];
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command",
                 cmd_fullname(cmd, name, sizeof(name)));
        core->cmdstats[cmd->id].rejected++;
        (cmd->fn == cmd_exec ? reject_exec : reject)(cl, msg);
        return DISPATCH_DONE;
    }
    map = slotmap_current();
    if (runs_plainly(cl, cmd)) {
        if (map->cluster && redirected(cl, map, cmd, argc, argv, &cslot))
            return DISPATCH_DONE;
        /* the general path's owner rule without its ALLCORES and ASYNC
         * tests, which runs_plainly made (a shared function cost ~10
         * instructions a GET, callgrind) */
        owner = core->rt->ncores == 1 && !keylock_count(&core->locks)
                    ? -1 : keys_owner(core, cmd, argc, argv, cslot);
        if (owner == -1 || ((unsigned)owner == core->id && !keylock_count(&core->locks))) {
            exec_here(cl, cmd, argc, argv, 0, cslot, 0, hint, tick);
            return DISPATCH_DONE;
        }
        /* another core's keys, or one a MIGRATE holds: the general path,
         * slot and owner known */
    }
    if (!cl->authenticated && !(cmd->flags & CMD_NO_AUTH)) {
        core->cmdstats[cmd->id].rejected++;
        (cmd->fn == cmd_exec ? reject_exec : reject)(cl, "NOAUTH Authentication required.");
        return DISPATCH_DONE;
    }
    if (cl->multi && (cmd->flags & CMD_NO_MULTI)) {
        core->cmdstats[cmd->id].rejected++;
        reject(cl, "ERR Command not allowed inside a transaction");
        return DISPATCH_DONE;
    }

    if (map->cluster && owner == OWNER_UNKNOWN && redirected(cl, map, cmd, argc, argv, &cslot))
        return DISPATCH_DONE;
    if (cl->multi && !multi_runs_now(cmd))
        return queue_in_multi(cl, map, cmd, argc, argv, cslot,
                              (cl->flags & CLIENT_ASKING) != 0);
    if (cl->multi && refuse_oom_in_multi(cl, cmd))
        return DISPATCH_DONE;
    asking = (cl->flags & CLIENT_ASKING) != 0 || cmd->fn == cmd_restore_asking;

    if (owner == OWNER_UNKNOWN) {
        if (cmd->flags & CMD_ALLCORES)
            owner = -2;
        else if (core->rt->ncores == 1 && !(cmd->flags & CMD_ASYNC) &&
                 !keylock_count(&core->locks))
            owner = -1;   /* one core and nothing to wait for: it runs here, keys or not */
        else
            owner = keys_owner(core, cmd, argc, argv, cslot);
    }
    if (owner == -2 && !barrier_for(cl, cmd))
        return DISPATCH_WAIT;
    /* ASKING is good for the one command after it, or for a whole
     * transaction: Redis resetClient keeps it while in MULTI, and EXEC or
     * DISCARD drop it. The ASKING command sets the flag again when it runs. */
    if (!cl->multi && cmd->fn != cmd_multi)
        cl->flags &= ~(uint32_t)CLIENT_ASKING;
    if (cl->multi && cmd->fn == cmd_reset)
        multi_discard(cl);
    /* EXEC feeds MONITOR itself, after the commands it ran; SELECT and RESET
     * once they ran, so that their line shows the database they chose (7.0
     * feeds a command when it is done; the rest are fed here, before they
     * may go to another core, which keeps the lines in the client's order). */
    if (!(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN)) && cmd->fn != cmd_exec &&
        cmd->fn != cmd_select && cmd->fn != cmd_reset)
        monitor_feed(cl, argc, argv);

    if (owner == -2) {
        exec_here(cl, cmd, argc, argv, 1, cslot, asking, hint, tick);
        core_barrier_release(core);
    } else if (owner < 0 || ((unsigned)owner == core->id && !(cmd->flags & CMD_ASYNC) &&
                             !keylock_count(&core->locks))) {
        exec_here(cl, cmd, argc, argv, 0, cslot, asking, hint, tick);
        /* keyless: they always run here */
        if (cmd->fn == cmd_select || cmd->fn == cmd_reset)
            monitor_feed(cl, argc, argv);
    } else {
        struct xreq *r = xreq_new(cl, cmd, argc, argv);
        if (!r) {
            cl->out.oom = 1;
            return DISPATCH_DONE;
        }
        r->cluster_slot = cslot;
        r->asking = (uint8_t)asking;
        r->owner = (unsigned)owner;
        r->remote = 1;
        queue_append(cl, r);
        cl->inflight++;
        *tick = 0;   /* the next command here starts its own clock */
        /* Here too as a request: the reply of a command that finishes
         * later (MIGRATE), or one a MIGRATE makes wait, needs a home. */
        if (r->owner == core->id)
            core_run_request(core, r);
        else
            core_send(core, r);
    }
    return DISPATCH_DONE;
}

static void set_waiting(struct client *cl, int wait)
{
    if (wait == !!(cl->flags & CLIENT_WAIT_BARRIER))
        return;
    if (wait) {
        cl->flags |= CLIENT_WAIT_BARRIER;
        cl->core->waiting_barrier++;
    } else {
        cl->flags &= ~(uint32_t)CLIENT_WAIT_BARRIER;
        cl->core->waiting_barrier--;
    }
}

static void protocol_error(struct client *cl, const char *err)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "ERR %s", err);
    reject(cl, msg);
    cl->flags |= CLIENT_CLOSE_AFTER_REPLY;
    log_msg(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
            err, (unsigned long long)cl->id, cl->conn ? cl->conn->peer : "?");
}

/* Parsing ahead of a pipeline, to warm the cache. Once the keyspace
 * outgrows the caches a GET waits on two dependent misses, its bucket then
 * its entry, and nothing else it does costs as much. So the commands of a
 * pipeline are parsed a little ahead of running: while command i runs,
 * command i+3's bucket, command i+2's first entry of its chain (its bucket
 * asked for a command earlier) and, when that entry is another key's,
 * command i+1's next one (kvt_prefetch_next; three keys in ten are not
 * first in their chain) are on their way. Each step waits on the line the
 * one before asked for: one command apart it still stalled here (perf),
 * and the third step gained 3-5% at -P 16 with 100,000 keys (A/B rounds).
 * The parse is the one resp_parse would
 * do (its one-pass path), made once. Only keys of this core's own tables
 * are warmed: fetching another core's lines would steal them from their
 * owner, and only tables too big for the caches. A one-request packet has
 * nothing ahead and warms nothing (client_rx_peek serves it, earlier).
 * A command parsed ahead was held to the limits of that moment; within one
 * call they can only loosen (AUTH), refresh_limits running at its start. */
#define AHEAD_DEPTH 4  /* commands parsed: the one to run and three ahead of it */
#define AHEAD_RING 4   /* a power of two, AHEAD_DEPTH or more: a mask, not a division */
#define AHEAD_ARGS 8   /* a command with more arguments ends the parse ahead */

struct ahead_cmd {
    int argc;
    size_t len;
    const struct kvt *table;   /* argv[1]'s table, its bucket asked for; NULL if not */
    struct kvt_hint hint;      /* argv[1]'s hash in it */
    struct slice argv[AHEAD_ARGS];
};

struct ahead {
    size_t end;        /* qbuf offset past the commands parsed ahead; AHEAD_STOP
                          after one the one-pass parse cannot take: the rest
                          is resp_parse's */
    unsigned head, n;  /* ring of parsed commands, [qpos, end) */
    struct ahead_cmd cmd[AHEAD_RING];
};

#define AHEAD_STOP SIZE_MAX

/* This core's table of the client's db, or NULL when it is not worth
 * warming. */
static const struct kvt *warm_table(const struct client *cl)
{
    const struct core *core = cl->core;
    const struct kvt *t = core->rt->shards[core->id]->db[cl->db];

    return kvt_worth_warming(t) ? t : NULL;
}

static int key_is_ours(const struct client *cl, const struct slice *key)
{
    const struct core *core = cl->core;

    return core->rt->ncores == 1 ||
           slotmap_core(slotmap_current(), slot_of(key->p, key->len)) == core->id;
}

/* The next command to run, parsed here, or NULL: resp_parse's turn. */
static struct ahead_cmd *ahead_next(struct ahead *a, struct client *cl)
{
    const size_t qlen = cl->qlen;
    unsigned before = a->n;

    if (a->n == 0) {
        if (a->end == AHEAD_STOP || !resp_parser_between(&cl->parser))
            return NULL;
        a->end = cl->qpos;
    }
    while (a->n < AHEAD_DEPTH && a->end < qlen) {
        struct ahead_cmd *c = &a->cmd[(a->head + a->n) & (AHEAD_RING - 1)];

        c->len = resp_parse_plain(&cl->limits, cl->qbuf + a->end, qlen - a->end,
                                  c->argv, AHEAD_ARGS, &c->argc);
        if (c->len == 0) {
            a->end = AHEAD_STOP;
            break;
        }
        a->end += c->len;
        c->table = NULL;
        /* The command about to run gains nothing from a prefetch. */
        if (a->n > 0 && c->argc > 1 && c->argv[1].len > 0) {
            const struct kvt *t = warm_table(cl);

            if (t && key_is_ours(cl, &c->argv[1])) {
                c->table = t;
                kvt_prefetch_bucket(t, c->argv[1].p, c->argv[1].len, &c->hint);
            }
        }
        a->n++;
    }
    if (a->n == 0)
        return NULL;
    if (a->n > 2) {
        const struct ahead_cmd *c = &a->cmd[(a->head + 2) & (AHEAD_RING - 1)];
        if (c->table)
            kvt_prefetch_entry(c->table, &c->hint);
    }
    /* On a fresh parse the next command's bucket was only just asked for:
     * its first entry, not yet the one after. */
    if (a->n > 1) {
        const struct ahead_cmd *c = &a->cmd[(a->head + 1) & (AHEAD_RING - 1)];
        if (c->table && before > 0)
            kvt_prefetch_next(c->table, &c->hint, c->argv[1].p, c->argv[1].len);
        else if (c->table)
            kvt_prefetch_entry(c->table, &c->hint);
    }
    return &a->cmd[a->head];
}

static void ahead_pop(struct ahead *a)
{
    a->head = (a->head + 1) & (AHEAD_RING - 1);
    a->n--;
}

int client_rx_peek(struct client *cl, const void *p, size_t n)
{
    const struct kvt *t = warm_table(cl);
    struct slice key;

    cl->warm_table = NULL;
    if (t == NULL)
        return 0;
    /* Bytes behind input not yet parsed do not start a command. */
    if (cl->qpos != cl->qlen || !resp_parser_between(&cl->parser) ||
        (key.len = resp_peek_arg1(p, n, &key.p)) == 0 || !key_is_ours(cl, &key))
        return 1;
    cl->warm_table = t;
    kvt_prefetch_bucket(t, key.p, key.len, &cl->warm_hint);
    return 1;
}

void client_rx_peek_late(struct client *cl)
{
    if (cl->warm_table) {
        kvt_prefetch_entry(cl->warm_table, &cl->warm_hint);
        cl->warm_table = NULL;
    }
}

static void process_input(struct client *cl)
{
    const uint32_t stop = CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP | CLIENT_CLOSED;
    struct ahead ahead;
    /* The clock of the commands below: each runs from the end of the one
     * before it run here (core_exec), so a command's time includes its own
     * parse and dispatch, a few tens of nanoseconds. */
    uint64_t tick = tsc_now();

    ahead.n = ahead.head = 0;
    ahead.end = 0;
    set_waiting(cl, 0);
    /* CONFIG SET may have changed proto-max-bulk-len since the last read. */
    refresh_limits(cl);
    while (cl->qpos < cl->qlen && !(cl->flags & stop) && !cl->out.oom) {
        struct ahead_cmd *ac = ahead_next(&ahead, cl);
        const struct kvt_hint *hint = NULL;
        size_t used = 0;

        if (ac) {
            used = ac->len;
            cl->argc = ac->argc;
            cl->argv = ac->argv;
            if (ac->table)
                hint = &ac->hint;
        } else {
            enum resp_result rr = resp_parse(&cl->parser, &cl->limits, cl->qbuf + cl->qpos,
                                             cl->qlen - cl->qpos, &used);
            if (rr == RESP_INCOMPLETE)
                break;
            if (rr == RESP_ERROR) {
                protocol_error(cl, cl->parser.error ? cl->parser.error
                                                    : "Protocol error: out of memory");
                break;
            }
            cl->argc = rr == RESP_COMMAND ? cl->parser.argc : 0;
            cl->argv = cl->parser.argv;
        }
        if (cl->argc > 0) {
            if (dispatch(cl, cl->argc, cl->argv, hint, &tick) == DISPATCH_WAIT) {
                /* Leave the command unconsumed; it is parsed again next
                 * time. */
                cl->argc = 0;
                if (!ac) {
                    resp_parser_free(&cl->parser);
                    resp_parser_init(&cl->parser);
                }
                set_waiting(cl, 1);
                break;
            }
            cl->argc = 0;
            cl->commands++;
            if (cl->limits.auth_required && cl->authenticated)
                refresh_limits(cl);
        }
        if (ac)
            ahead_pop(&ahead);
        cl->qpos += used;
    }
    if (cl->qpos == cl->qlen)
        cl->qpos = cl->qlen = 0;
    if (cl->out.oom)
        cl->flags |= CLIENT_CLOSE_ASAP;
    client_schedule_flush(cl);
    update_input_pause(cl);
}

long client_rx_space(struct client *cl, char **buf, size_t want)
{
    size_t need, bulk = resp_parse_want(&cl->parser, cl->qlen - cl->qpos);

    /* A large bulk in progress: make room for all of it at once so a 512 MB
     * value costs one allocation, not a doubling series. */
    if (bulk > want)
        want = bulk;
    if (cl->qpos > 0 && cl->qlen - cl->qpos + want > cl->qcap) {
        memmove(cl->qbuf, cl->qbuf + cl->qpos, cl->qlen - cl->qpos);
        cl->qlen -= cl->qpos;
        cl->qpos = 0;
    }
    need = cl->qlen + want;
    if (need > cl->qcap) {
        size_t cap = cl->qcap ? cl->qcap : QBUF_INITIAL;
        char *nb;
        while (cap < need)
            cap *= 2;
        nb = mem_realloc(cl->qbuf, cap);
        if (!nb)
            return -ENOMEM;
        cl->qbuf = nb;
        cl->qcap = cap;
    }
    *buf = cl->qbuf + cl->qlen;
    return (long)(cl->qcap - cl->qlen);
}

void client_rx_done(struct client *cl, size_t n)
{
    const struct config *cfg = config_live();

    cl->last_ms = cl->core->now_ms;
    cl->qlen += n;
    cl->core->stats.net_input_bytes += n;
    if (cl->qlen - cl->qpos > cl->qbuf_peak)
        cl->qbuf_peak = cl->qlen - cl->qpos;
    /* A client waiting for the barrier runs nothing until resumed, but
     * its input is still held to the limit. */
    if (!(cl->flags & CLIENT_WAIT_BARRIER))
        process_input(cl);
    if (cfg->client_query_buffer_limit &&
        cl->qlen - cl->qpos > cfg->client_query_buffer_limit) {
        log_msg(LL_WARNING, "Closing client that reached max query buffer length: id=%llu addr=%s (qbuf initial bytes: ...)",
                (unsigned long long)cl->id, cl->conn ? cl->conn->peer : "?");
        cl->core->stats.client_qbuf_limit_disconnections++;
        close_now(cl);
    }
}

void client_resume(struct client *cl)
{
    process_input(cl);
}

void client_writable(struct client *cl)
{
    client_flush(cl);
}

static int enforce_obuf_limit(struct client *cl, int64_t now_ms);

void client_flush(struct client *cl)
{
    if (cl->flags & CLIENT_CLOSED)
        return;
    if (cl->flags & CLIENT_CLOSE_ASAP) {
        close_now(cl);
        return;
    }
    while (output_pending(cl) > 0) {
        ssize_t n = cl->conn->ops->send(cl->conn, cl->out.buf + cl->out_sent,
                                        output_pending(cl));
        if (n < 0) {
            close_now(cl);
            return;
        }
        if (n == 0)
            break;
        cl->out_sent += (size_t)n;
        cl->core->stats.net_output_bytes += (uint64_t)n;
    }
    if (output_pending(cl) == 0) {
        cl->out_sent = 0;
        if (cl->out.cap > OUTPUT_SHRINK) {
            int proto = cl->out.proto;
            resp_out_free(&cl->out);
            resp_out_init(&cl->out, proto);
        } else {
            resp_out_reset(&cl->out);
        }
        if ((cl->flags & CLIENT_CLOSE_AFTER_REPLY) && !cl->pend_head) {
            close_now(cl);
            return;
        }
    } else if (enforce_obuf_limit(cl, cl->core->now_ms)) {
        return;
    }
    update_input_pause(cl);
}

/* client-output-buffer-limit normal: close past the hard limit at once, past
 * the soft limit once it has lasted soft_seconds (Redis checkClientOutputBufferLimits).
 * Returns 1 when the client was closed. */
static int enforce_obuf_limit(struct client *cl, int64_t now_ms)
{
    const struct obuf_limit *lim = &config_live()->obuf[OBUF_NORMAL];
    size_t pending = output_pending(cl);

    if (cl->flags & CLIENT_MONITOR)
        return 0;
    if (lim->hard && pending >= lim->hard)
        goto over;
    if (lim->soft && pending >= lim->soft) {
        if (!cl->obuf_soft_since_ms)
            cl->obuf_soft_since_ms = now_ms;
        else if (now_ms - cl->obuf_soft_since_ms >= lim->soft_seconds * 1000)
            goto over;
    } else {
        cl->obuf_soft_since_ms = 0;
    }
    return 0;
over:
    log_msg(LL_WARNING, "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output buffer limits.",
            (unsigned long long)cl->id, cl->conn ? cl->conn->peer : "?");
    cl->core->stats.client_obuf_limit_disconnections++;
    close_now(cl);
    return 1;
}

void client_cron(struct client *cl, int64_t now_ms)
{
    const struct config *cfg = config_live();

    if (cl->flags & CLIENT_CLOSED)
        return;
    if (cfg->timeout > 0 && !(cl->flags & CLIENT_MONITOR) && cl->inflight == 0 &&
        now_ms - cl->last_ms > (int64_t)cfg->timeout * 1000) {
        log_msg(LL_VERBOSE, "Closing idle client");
        close_now(cl);
        return;
    }
    enforce_obuf_limit(cl, now_ms);
}
