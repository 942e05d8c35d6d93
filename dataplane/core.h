/* core — a data core: its thread and loop, its shard, its transport, its
 * cross-core rings, and the all-cores barrier.
 *
 * Loop turn: poll the transport (bounded batch), drain inbound rings (bounded),
 * flush client output, run timers on a cached clock. Cores talk only through
 * single-producer/single-consumer rte_rings of `struct xreq *`, one per ordered
 * pair; a full ring never blocks: the producer keeps a local backlog and retries
 * next turn, so no core ever waits on another except inside the barrier. */
#ifndef SLOTD_CORE_H
#define SLOTD_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "phase.h"
#include "../cluster/slotmap.h"
#include "../kv/cmd.h"
#include "barrier.h"
#include "keylock.h"
#include "resp_write.h"
#include "slice.h"
#include "slowlog.h"
#include "tsc.h"

#define CORE_MAX 64
#define CORE_RING_SIZE 4096   /* descriptors per ordered pair: 32 KiB, deep enough for 16-deep pipelines from 256 clients */

struct client;
struct shard;
struct config;
struct sock_transport;
struct dpdk_transport;
struct migrate_job;
struct dump_lzf;

/* A command handed to the core that owns its slot, and its reply coming back.
 * One allocation (argv bytes inline); ownership travels with the pointer: the
 * origin core allocates and frees it, the owner only fills `out`. */
enum xreq_kind {
    XREQ_CMD = 0,      /* run cmd on owner, then back to origin with the reply */
    XREQ_MONITOR,      /* a MONITOR line for the owner core's monitors */
    XREQ_UNWATCH,      /* WATCH nodes of the owner's shard to release (multi.c) */
};

/* xreq_new (client.c) sets every field: one added here is added there. */
struct xreq {
    struct client *client;        /* origin's; the owner never dereferences it */
    struct xreq *next;            /* origin client's in-order queue */
    struct xreq *xnext;           /* sender's backlog while a ring is full */
    const struct cmd_spec *cmd;
    unsigned origin, owner;
    unsigned db;
    uint8_t done;                 /* reply complete: set by the origin only */
    uint8_t executed;             /* set by the owner; read by the origin only after
                                     the ring hands the request back */
    uint8_t remote;
    uint8_t kind;                 /* enum xreq_kind */
    int argc;
    struct slice *argv;
    struct resp_out out;
    int64_t exec_us;              /* owner's execution time, for slowlog/stats */
    int cluster_slot;             /* see cmd_ctx.cluster_slot */
    uint8_t asking;
};

struct cmd_stats {
    uint64_t calls, ticks, rejected, failed;   /* ticks: tsc.h's, summed */
};

struct error_stat {
    char name[32];                /* error code: first word of the error */
    uint64_t count;
};

#define CORE_ERROR_KINDS 128      /* Redis caps errorstats at 128 kinds too */

struct core_stats {
    uint64_t connections_received, rejected_connections;
    uint64_t commands_processed;
    uint64_t net_input_bytes, net_output_bytes;
    uint64_t total_error_replies;
    uint64_t client_qbuf_limit_disconnections, client_obuf_limit_disconnections;
    uint64_t xcore_sent, xcore_backlog_peak;
    unsigned nerrors;
    struct error_stat errors[CORE_ERROR_KINDS];
};

struct slowlog_entry {
    uint64_t id;
    int64_t time_s;
    int64_t duration_us;
    int argc;                     /* as stored: at most 32, last may say "... (N more arguments)" */
    struct slice *argv;           /* one allocation with the entry */
    char peer[64];
    char name[64];
};

struct core {
    unsigned id;
    struct runtime *rt;
    struct shard *shard;
    pthread_t thread;
    struct sock_transport *sock;  /* dataplane socket */
    struct dpdk_transport *dpdk;  /* dataplane dpdk (then sock is NULL) */

    struct client *clients;       /* every client of this core */
    unsigned nclients;
    struct client *flush_list;    /* clients with output to write this turn */

    int64_t now_ms;               /* cached once per loop turn */
    int64_t next_cron_ms;

    /* rings: in[j] carries j→this core, out[j] is this core→j (== cores[j]->in[id]) */
    struct rte_ring *in[CORE_MAX];
    struct xreq *backlog_head[CORE_MAX], *backlog_tail[CORE_MAX];
    unsigned backlog_total;
    _Atomic int sleeping;         /* in epoll_wait: producers must wake it
                                     (never set by a DPDK core: it spins) */
    int wake_fd;

    struct cmd_stats *cmdstats;   /* indexed by cmd id */
    struct core_stats stats;

    struct slowlog_entry *slowlog;  /* ring of slowlog-max-len entries */
    unsigned slowlog_len, slowlog_head, slowlog_cap;

    unsigned waiting_barrier;     /* clients of this core waiting for the barrier */
    uint64_t seen_barrier;        /* generation barrier_pending saw last */
    unsigned spin_left;           /* empty polls left before the core may sleep */

    /* version of the slot map this core last used: the quiescent point after
     * which the control plane may free older maps */
    _Atomic uint64_t map_seen;
    /* cluster: slots this core served under map served_version (bit j of
     * byte j/8), to find the ones a newer map gave away */
    uint8_t served[16384 / 8];
    uint64_t served_version;

    /* Asynchronous MIGRATE: keys serialized and not yet acknowledged, the
     * requests waiting for them (linked by xnext, in arrival order), and
     * finished jobs set aside while a synchronous MIGRATE waited for its own. */
    struct keylock_set locks;
    struct xreq *deferred_head, *deferred_tail;
    struct migrate_job *mig_stash;
    struct migrate_task *mig_suspended;   /* MIGRATEs out with their keys locked */
    struct dump_lzf *lzf;         /* DUMP/MIGRATE scratch, created on first use */

    /* copies of stats counters the control plane may read (stored each cron) */
    _Atomic uint64_t pub_commands, pub_net_in, pub_net_out;
};

struct dpdk_port;
struct exc_path;

struct runtime {
    unsigned ncores;
    /* dataplane dpdk: set by main before the cores are created */
    struct dpdk_port *port;               /* data core i uses queue pair i */
    struct exc_path *exc;                 /* NULL: exception frames are dropped */
    unsigned lcore[CORE_MAX];             /* EAL worker lcore of data core i */
    uint32_t dp_ip, dp_mask, dp_gateway;  /* node address, host byte order */
    struct core *cores[CORE_MAX];
    struct shard *shards[CORE_MAX];
    struct config *cfg;
    int64_t start_ms;
    uint64_t run_id_seed;
    char run_id[41];

    _Atomic int shutdown;                 /* 1: stop loops; set by signal, SHUTDOWN */
    _Atomic uint64_t next_client_id;
    _Atomic unsigned nclients;            /* all cores, for maxclients */
    _Atomic uint64_t slowlog_next_id;
    _Atomic unsigned monitors;

    /* computed by the control plane for INFO (Redis trackInstantaneousMetric) */
    _Atomic int64_t mem_peak;
    _Atomic uint64_t inst_ops_per_sec;
    _Atomic uint64_t inst_in_bytes_per_sec, inst_out_bytes_per_sec;

    struct barrier barrier;               /* the all-cores barrier */
    _Atomic unsigned keylocks;            /* keys locked by MIGRATEs on every core */
};

/* Two phases, so every core's rings exist before any core can send: create
 * all cores (NULL on failure, logged), then launch each (0 or -errno). */
struct core *core_create(struct runtime *rt, unsigned id);
int  core_launch(struct core *c);
void core_join(struct core *c);
/* One loop turn (what the core's thread repeats until shutdown); exposed so
 * tests can drive a core without its thread. may_sleep=0 never waits. */
PHASE_ROOT void core_turn(struct core *self, int may_sleep);
/* After every core has stopped, and for every core before any is destroyed:
 * drop what is still in flight between cores (descriptors in a ring can
 * belong to a client of another core). */
void core_drain_at_exit(struct core *c);
void core_destroy(struct core *c);

/* The shards a command run by core `c` may touch: its own, or with `all`
 * (under the barrier) every core's. */
static inline struct ks_view core_view(const struct core *c, int all)
{
    return (struct ks_view){ .shards = c->rt->shards, .nshards = c->rt->ncores,
                             .self = c->id, .all = all };
}

/* Every field of a command's context, for core `self` to run `cmd`: callers
 * then set what differs (client, slot, hint, req). Field by field, not an
 * initializer: that would have the compiler clear the whole struct first, a
 * `rep stos` whose start-up costs more cycles than the stores it saves, on
 * every command. */
static inline void core_ctx_init(struct cmd_ctx *ctx, struct core *self,
                                 const struct cmd_spec *cmd, int argc,
                                 const struct slice *argv, unsigned db,
                                 struct resp_out *out, int all)
{
    ctx->cmd = cmd;
    ctx->argc = argc;
    ctx->argv = argv;
    ctx->db = db;
    ctx->out = out;
    ctx->view = core_view(self, all);
    ctx->client = NULL;
    ctx->core = self;
    ctx->now_ms = self->now_ms;
    ctx->cluster_slot = -1;
    ctx->asking = 0;
    ctx->hinted_key = NULL;
    ctx->hint = NULL;
    ctx->req = NULL;
    ctx->suspended = 0;
}

/* Run a request (from another core, or this core's own) here, or defer it
 * while a MIGRATE holds one of its keys. Its reply then goes home. */
void core_run_request(struct core *self, struct xreq *r);
/* A CMD_ASYNC command that suspended has written its reply into r->out from
 * `reply_start`: count it (errors, slowlog time since started_us) and send
 * the request home. */
void core_finish_async(struct core *self, struct xreq *r, size_t reply_start,
                       int64_t started_us);

/* Hand a request to its owner core (enqueue or backlog, and wake it). */
void core_send(struct core *self, struct xreq *r);
/* Wake a core sleeping in its poll (cheap when it is awake). */
void core_wake(struct core *target);

/* Redis call()'s bookkeeping once ctx->cmd ran for `ticks` (tsc.h) with its
 * reply in ctx->out from `start`: calls and time, an error reply counted as
 * failed (per command and per error code), the slowlog when ctx->client is
 * set. core_exec does it; EXEC calls it for each queued command. */
void core_account(struct core *self, const struct cmd_ctx *ctx, size_t start, uint64_t ticks);

/* Count an error reply for INFO errorstats (first word of `line`). */
void core_count_error(struct core *self, const char *line, size_t len);

/* core_exec's checks before a command runs, made when they may refuse it
 * (a slot in migration, a write over maxmemory): 1 with the error reply
 * written and counted. */
int core_exec_refuses(struct core *self, struct cmd_ctx *ctx);

/* An error reply (from `start` of out) fails its command: Redis counts it
 * per command and per error code. */
static inline void core_count_failure(struct core *self, unsigned cmd_id,
                                      const struct resp_out *out, size_t start)
{
    if (out->len > start && out->buf[start] == '-') {
        self->cmdstats[cmd_id].failed++;
        core_count_error(self, out->buf + start, out->len - start);
    }
}

/* core_account's body, inline in core_exec. The slow log's test is made on
 * the ticks: their conversion to µs only for a command that may be slow. */
static inline __attribute__((always_inline)) void
core_account_inline(struct core *self, const struct cmd_ctx *ctx, size_t start, uint64_t ticks)
{
    const struct cmd_spec *cmd = ctx->cmd;
    struct cmd_stats *cs = &self->cmdstats[cmd->id];
    long long slower_than = config_live()->slowlog_log_slower_than;

    cs->calls++;
    cs->ticks += ticks;
    self->stats.commands_processed++;
    core_count_failure(self, cmd->id, ctx->out, start);
    if (ctx->client && !(cmd->flags & CMD_SKIP_SLOWLOG) && slower_than >= 0 &&
        !tsc_surely_below(ticks, (uint64_t)slower_than))
        slowlog_push(self, ctx->client, ctx->argv, ctx->argc, tsc_ticks_us(ticks));
}

/* Run ctx->cmd here and now on this core with ctx's view: stats, OOM check,
 * slowlog. The caller fills the whole ctx (cmd, core = self, client, now_ms
 * included). ctx->client is NULL for a request from another core; its origin
 * then logs it to the slowlog. *tick is a tsc_now() reading from before the
 * command and becomes the reading at its end: commands run back to back pass
 * it on and read the counter once each, not twice (a read costs ~35 cycles,
 * ~8% of a pipelined GET); 0 has it read afresh. Returns the execution
 * time in ticks. Inline: every command of a pipeline comes through here, and
 * a call costs ~20 instructions of a GET's ~850 (callgrind). */
static inline __attribute__((always_inline)) uint64_t
core_exec(struct core *self, struct cmd_ctx *ctx, uint64_t *tick)
{
    const struct cmd_spec *cmd = ctx->cmd;
    size_t start = ctx->out->len;
    uint64_t t0, ticks;

    if (((ctx->cluster_slot >= 0 && !slotmap_current()->direct[ctx->cluster_slot]) ||
         ((cmd->flags & CMD_DENYOOM) && config_live()->maxmemory)) &&
        core_exec_refuses(self, ctx))
        return 0;
    t0 = *tick ? *tick : tsc_now();
    cmd->fn(ctx);
    *tick = tsc_now();
    ticks = tsc_elapsed(t0, *tick);
    core_account_inline(self, ctx, start, ticks);
    return ticks;
}

/* All-cores barrier. try_acquire returns 1 when every other core is parked and
 * this core may touch every shard; 0 when another core holds it (try again next
 * turn). release lets the others run. */
int  core_barrier_try_acquire(struct core *self);
void core_barrier_release(struct core *self);

/* Attach the runtime's CONFIG SET hooks (port, bind); before threads start. */
int core_register_config_hooks(struct runtime *rt);

/* CONFIG RESETSTAT: zero every core's INFO stats, command stats and error
 * stats (Redis resetServerStats/resetCommandTableStats/resetErrorTableStats).
 * Runs under the all-cores barrier. */
void server_reset_stats(struct cmd_ctx *c);

/* Clock in ms (CLOCK_REALTIME) and µs (CLOCK_MONOTONIC). */
int64_t clock_ms(void);
int64_t clock_us(void);

#endif
