/* cmd_migrate — moving keys between nodes as Redis 7.0 does (cluster.c):
 * DUMP, RESTORE, RESTORE-ASKING and MIGRATE, byte-compatible with
 * redis-server 7.0 in both directions so `redis-cli --cluster reshard` can
 * move slots between slotd and real nodes.
 *
 * Threads: DUMP and RESTORE run on their key's owner core. MIGRATE runs on
 * the core that owns its keys: it serializes them, locks them (writes to
 * them wait, see dataplane/keylock.h) and hands the network part to the
 * control plane (cluster/migrate_out.h), so the core keeps serving its
 * other clients; when the job comes back the core deletes what the target
 * acknowledged and replies. No other command can change the keys between
 * serializing and deleting them, the atomicity Redis gets by blocking its
 * whole server. Inside EXEC, or when the keys span cores (under the
 * barrier), the reply cannot wait and the core waits for the job instead.
 *
 * Invariants: a source key is deleted only after the target answered its
 * RESTORE with a non-error line, so a failed or timed-out MIGRATE never loses
 * a key; RESTORE decodes the whole payload before it touches the keyspace, so
 * a bad payload never half-writes. slotd stores strings only: a valid payload
 * of another type is refused with
 *   "ERR Bad data format: slotd stores strings only, not a <type> value"
 * (7.0 would accept it; the "Bad data format" prefix keeps tools that match
 * 7.0's wording on the right track, the rest says what is missing). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "evict.h"
#include "keyspace.h"
#include "lfu.h"
#include "../cluster/dump.h"
#include "../cluster/migrate_out.h"
#include "../cluster/slotmap.h"
#include "../dataplane/core.h"
#include "../dataplane/mem.h"

#define MIGRATE_DEFAULT_TIMEOUT 1000   /* cluster.c: a timeout <= 0 means 1000 ms */
#define MIGRATE_FIRST_OPTION    6      /* MIGRATE host port key db timeout [options] */
#define LFU_FREQ_MAX            255    /* RESTORE FREQ range, cluster.c */

/* Options compare as Redis compares them: strcasecmp over C strings. */
static int opt_eq(const struct slice *s, const char *lit)
{
    const char *z = memchr(s->p, '\0', s->len);
    struct slice name = { s->p, z ? (size_t)(z - s->p) : s->len };

    return slice_eq_nocase(&name, lit);
}

/* The core's LZF scratch, created on first use; NULL when memory ran out
 * (the encoder then allocates its own). */
static struct dump_lzf *core_lzf(struct cmd_ctx *c)
{
    if (!c->core->lzf)
        c->core->lzf = dump_lzf_new();
    return c->core->lzf;
}

/* ---- DUMP ---- */

void cmd_dump(struct cmd_ctx *c)
{
    struct kv_entry *e = ks_lookup_read(c, &c->argv[1]);
    uint8_t *p;
    size_t n;

    if (!e) {
        resp_add_null(c->out);
        return;
    }
    if (dump_encode_string(core_lzf(c), kv_val(e), kv_vlen(e), &p, &n) < 0) {
        c->out->oom = 1;
        return;
    }
    resp_add_bulk(c->out, p, n);
    mem_free(p);
}

/* ---- RESTORE ---- */

/* Redis's type names for the RDB type bytes 7.0 loads. */
static const char *rdb_type_name(unsigned t)
{
    switch (t) {
    case DUMP_TYPE_LIST: case DUMP_TYPE_LIST_ZIPLIST:
    case DUMP_TYPE_LIST_QUICKLIST: case DUMP_TYPE_LIST_QUICKLIST_2:
        return "list";
    case DUMP_TYPE_SET: case DUMP_TYPE_SET_INTSET:
        return "set";
    case DUMP_TYPE_ZSET: case DUMP_TYPE_ZSET_2: case DUMP_TYPE_ZSET_ZIPLIST:
    case DUMP_TYPE_ZSET_LISTPACK:
        return "zset";
    case DUMP_TYPE_HASH: case DUMP_TYPE_HASH_ZIPMAP: case DUMP_TYPE_HASH_ZIPLIST:
    case DUMP_TYPE_HASH_LISTPACK:
        return "hash";
    case DUMP_TYPE_STREAM_LISTPACKS: case DUMP_TYPE_STREAM_LISTPACKS_2:
        return "stream";
    case DUMP_TYPE_MODULE: case DUMP_TYPE_MODULE_2:
        return "module";
    }
    return "unknown";
}

/* Redis objectSetLRUOrLFU for IDLETIME: seconds scaled by 1000/1000 (the
 * multiplication wraps as 7.0's signed overflow does on x86-64, so even
 * absurd values land where 7.0 puts them), subtracted from the LRU clock,
 * one wrap corrected, kept to the clock's 24 bits. */
static uint32_t lru_for_idle(long long idle_s, int64_t now_ms)
{
    long long idle = (long long)((unsigned long long)idle_s * LRU_CLOCK_RESOLUTION) /
                     LRU_CLOCK_RESOLUTION;
    long long abs_clock = (long long)lru_clock(now_ms) - idle;

    if (abs_clock < 0)
        abs_clock += LRU_CLOCK_MAX;
    return (uint32_t)((unsigned long long)abs_clock & LRU_CLOCK_MAX);
}

static void restore_generic(struct cmd_ctx *c)
{
    const struct slice *key = &c->argv[1];
    long long ttl, idle = -1, freq = -1;
    int replace = 0, absttl = 0, deleted = 0, rc;
    struct dump_value v;
    struct kv_entry *e;

    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;

        if (opt_eq(&c->argv[j], "replace")) {
            replace = 1;
        } else if (opt_eq(&c->argv[j], "absttl")) {
            absttl = 1;
        } else if (opt_eq(&c->argv[j], "idletime") && more >= 1 && freq == -1) {
            if (cmd_arg_ll(c, &c->argv[j + 1], &idle) < 0)
                return;
            if (idle < 0) {
                resp_add_error(c->out, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (opt_eq(&c->argv[j], "freq") && more >= 1 && idle == -1) {
            if (cmd_arg_ll(c, &c->argv[j + 1], &freq) < 0)
                return;
            if (freq < 0 || freq > LFU_FREQ_MAX) {
                resp_add_error(c->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            resp_add_error(c->out, ERR_SYNTAX);
            return;
        }
    }
    if (!replace && ks_lookup_write(c, key)) {
        resp_add_error(c->out, "BUSYKEY Target key name already exists.");
        return;
    }
    if (cmd_arg_ll(c, &c->argv[2], &ttl) < 0)
        return;
    if (ttl < 0) {
        resp_add_error(c->out, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    rc = dump_decode(c->argv[3].p, c->argv[3].len, &v);
    switch (rc) {
    case 0:
        break;
    case -EBADMSG:
        resp_add_error(c->out, "ERR DUMP payload version or checksum are wrong");
        return;
    case -ENOTSUP:
        resp_add_errorf(c->out, "ERR Bad data format: slotd stores strings only, not a %s value",
                        rdb_type_name(v.type));
        return;
    case -ENOMEM:
        resp_add_error(c->out, ERR_OOM);
        return;
    default:
        resp_add_error(c->out, "ERR Bad data format");
        return;
    }

    /* A relative TTL becomes absolute with 7.0's wrapping addition: a TTL
     * near LLONG_MAX wraps into the past and the key is not created. */
    if (ttl && !absttl)
        ttl = (long long)((unsigned long long)ttl + (unsigned long long)c->now_ms);
    if (ttl && ttl <= c->now_ms) {
        /* Already expired: 7.0 answers OK without creating the key, and a
         * REPLACE still removes the old one. */
        if (replace && ks_delete(c, key))
            ks_dirty(c, 1);
        dump_value_free(&v);
        resp_add_ok(c->out);
        return;
    }
    /* Overwrite in place rather than delete-then-add, so that running out
     * of memory leaves the old value intact. */
    deleted = replace && ks_lookup_write(c, key) != NULL;
    e = ks_set_string(c, key, v.val, v.len, /* keep_ttl */ 0);
    dump_value_free(&v);
    if (!e) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    if (ttl && ks_set_expire(c, key, e, ttl) < 0) {
        ks_delete(c, key);
        ks_dirty(c, 1);
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    /* 7.0 deletes and adds a fresh object: a new access clock, not one
     * inherited from the replaced value. */
    if (evict_policy_lfu(evict_cfg_policy()))
        kv_set_lru(e, freq >= 0 ? lfu_minutes(c->now_ms) << 8 | (uint32_t)freq
                                : lfu_initial(c->now_ms));
    else if (idle >= 0)
        kv_set_lru(e, lru_for_idle(idle, c->now_ms));
    else if (deleted)
        kv_set_lru(e, lru_clock(c->now_ms));
    ks_dirty(c, 1);
    resp_add_ok(c->out);
}

void cmd_restore(struct cmd_ctx *c)
{
    restore_generic(c);
}

/* Same command; only the routing differs (client.c serves it on a node
 * importing the slot without a separate ASKING, 7.0's "asking" flag). */
void cmd_restore_asking(struct cmd_ctx *c)
{
    restore_generic(c);
}

/* ---- MIGRATE ---- */

int migrate_key_range(int argc, const struct slice *argv, int *first, int *last)
{
    *first = *last = 3;
    if (argc <= 3)
        return 0;
    if (argv[3].len != 0)
        return 1;
    for (int j = MIGRATE_FIRST_OPTION; j < argc; j++) {
        if (opt_eq(&argv[j], "auth")) {
            j++;
        } else if (opt_eq(&argv[j], "auth2")) {
            j += 2;
        } else if (opt_eq(&argv[j], "keys")) {
            *first = j + 1;
            *last = argc - 1;
            return *last >= *first;
        }
    }
    return 1;
}

struct migrate_args {
    const struct slice *host, *port;
    const struct slice *user, *pass;    /* pass NULL: no AUTH */
    int copy, replace;
    int first_key, nkeys;
    long long db, timeout;
};

/* Parse as 7.0 does: options first (their errors win), then timeout, then db. */
static int migrate_parse(struct cmd_ctx *c, struct migrate_args *a)
{
    memset(a, 0, sizeof(*a));
    a->host = &c->argv[1];
    a->port = &c->argv[2];
    a->first_key = 3;
    a->nkeys = 1;
    for (int j = MIGRATE_FIRST_OPTION; j < c->argc; j++) {
        int more = c->argc - 1 - j;

        if (opt_eq(&c->argv[j], "copy")) {
            a->copy = 1;
        } else if (opt_eq(&c->argv[j], "replace")) {
            a->replace = 1;
        } else if (opt_eq(&c->argv[j], "auth")) {
            if (more < 1)
                goto syntax;
            a->user = NULL;
            a->pass = &c->argv[++j];
        } else if (opt_eq(&c->argv[j], "auth2")) {
            if (more < 2)
                goto syntax;
            a->user = &c->argv[++j];
            a->pass = &c->argv[++j];
        } else if (opt_eq(&c->argv[j], "keys")) {
            if (c->argv[3].len != 0) {
                resp_add_error(c->out, "ERR When using MIGRATE KEYS option, the key "
                               "argument must be set to the empty string");
                return -1;
            }
            a->first_key = j + 1;
            a->nkeys = c->argc - j - 1;
            break;
        } else {
            goto syntax;
        }
    }
    if (cmd_arg_ll(c, &c->argv[5], &a->timeout) < 0 || cmd_arg_ll(c, &c->argv[4], &a->db) < 0)
        return -1;
    if (a->timeout <= 0)
        a->timeout = MIGRATE_DEFAULT_TIMEOUT;
    return 0;
syntax:
    resp_add_error(c->out, ERR_SYNTAX);
    return -1;
}

/* Append one command as a RESP array of bulk strings. */
static void put_cmd(struct resp_out *o, int n, const struct slice *args)
{
    resp_add_array(o, n);
    for (int i = 0; i < n; i++)
        resp_add_bulk(o, args[i].p, args[i].len);
}

/* A MIGRATE in flight: the job the control plane runs, and what the core
 * needs to finish it. One allocation with the key names after it. */
struct migrate_task {
    struct migrate_job job;
    struct xreq *req;             /* NULL: a synchronous MIGRATE waits for it */
    unsigned db;                  /* source database */
    uint8_t copy;
    uint8_t abandoned;            /* its waiter left at shutdown: free on return */
    int64_t started_us;
    struct resp_out cmds, auth;
    const char **keys;            /* job.nkeys names, copied */
    size_t *lens;
    /* while its keys are locked: the core's list of suspended MIGRATEs */
    struct migrate_task *susp_prev, *susp_next;
};

static void task_free(struct migrate_task *t)
{
    resp_out_free(&t->cmds);
    resp_out_free(&t->auth);
    mem_free(t);
}

/* The task for the keys of `a` that exist and have not expired, with their
 * RESTORE (or, in cluster mode, RESTORE-ASKING) commands serialized now:
 * the values that travel are the values the keys hold at this instant.
 * NULL with *none = 1 when no key qualifies; NULL with *none = 0 when
 * memory ran out. */
static struct migrate_task *task_new(struct cmd_ctx *c, const struct migrate_args *a, int *none)
{
    struct slice verb = slotmap_current()->cluster ? (struct slice){ "RESTORE-ASKING", 14 }
                                                   : (struct slice){ "RESTORE", 7 };
    size_t bytes = sizeof(struct migrate_task), key_bytes = 0;
    struct migrate_task *t;
    int64_t now = clock_ms();
    char ttlbuf[24], *p;
    unsigned n = 0;

    *none = 0;
    for (int j = 0; j < a->nkeys; j++)
        key_bytes += c->argv[a->first_key + j].len;
    bytes += (size_t)a->nkeys * (sizeof(char *) + sizeof(size_t) + 1) + key_bytes;
    t = mem_alloc(bytes);
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->keys = (const char **)(t + 1);
    t->lens = (size_t *)(t->keys + a->nkeys);
    t->job.acked = (uint8_t *)(t->lens + a->nkeys);
    p = (char *)(t->job.acked + a->nkeys);
    resp_out_init(&t->cmds, 2);
    resp_out_init(&t->auth, 2);

    for (int j = 0; j < a->nkeys; j++) {
        const struct slice *key = &c->argv[a->first_key + j];
        struct kv_entry *e = ks_lookup_read(c, key);
        struct slice args[5] = { verb, *key, { ttlbuf, 0 }, { NULL, 0 }, { "REPLACE", 7 } };
        int64_t exp, ttl = 0;
        uint8_t *payload;
        size_t plen;

        if (!e)
            continue;
        exp = kv_expire(e);
        if (exp != KV_NO_EXPIRE) {
            ttl = exp - now;
            if (ttl < 0)
                continue;      /* expired by now: 7.0 skips it too */
            if (ttl < 1)
                ttl = 1;
        }
        if (dump_encode_string(core_lzf(c), kv_val(e), kv_vlen(e), &payload, &plen) < 0)
            goto oom;
        args[2].len = (size_t)snprintf(ttlbuf, sizeof(ttlbuf), "%lld", (long long)ttl);
        args[3].p = (const char *)payload;
        args[3].len = plen;
        put_cmd(&t->cmds, a->replace ? 5 : 4, args);
        mem_free(payload);
        memcpy(p, key->p, key->len);
        t->keys[n] = p;
        t->lens[n] = key->len;
        p += key->len;
        n++;
    }
    if (n == 0) {
        *none = 1;
        task_free(t);
        return NULL;
    }
    if (a->pass) {
        struct slice auth[3] = { { "AUTH", 4 } };
        int k = 1;
        if (a->user)
            auth[k++] = *a->user;
        auth[k++] = *a->pass;
        put_cmd(&t->auth, k, auth);
    }
    if (t->cmds.oom || t->auth.oom)
        goto oom;
    t->job.nkeys = n;
    t->job.cmds = (const uint8_t *)t->cmds.buf;
    t->job.cmds_len = t->cmds.len;
    t->job.auth = a->pass ? (const uint8_t *)t->auth.buf : NULL;
    t->job.auth_len = a->pass ? t->auth.len : 0;
    t->job.core = c->core->id;
    t->job.owner_ctx = t;
    t->job.db = a->db;
    t->job.timeout_ms = a->timeout;
    t->db = c->db;
    t->copy = (uint8_t)a->copy;
    return t;
oom:
    task_free(t);
    return NULL;
}

/* Copy host and port as MIGRATE named them; 0, or -1 when either cannot be
 * an address (it then fails as a connection would). */
static int task_target(struct migrate_task *t, const struct migrate_args *a)
{
    if (a->host->len >= sizeof(t->job.host) || a->port->len >= sizeof(t->job.port) ||
        memchr(a->host->p, '\0', a->host->len) || memchr(a->port->p, '\0', a->port->len))
        return -1;
    memcpy(t->job.host, a->host->p, a->host->len);
    t->job.host[a->host->len] = '\0';
    memcpy(t->job.port, a->port->p, a->port->len);
    t->job.port[a->port->len] = '\0';
    return 0;
}

/* The outcome, as 7.0 reports it: keys the target acknowledged are deleted
 * (unless COPY) whatever happened to the others; a target's error reply
 * wins over a later I/O failure. */
static void task_apply(struct cmd_ctx *c, struct migrate_task *t)
{
    const struct migrate_job *j = &t->job;
    unsigned deleted = 0;

    if (!t->copy) {
        for (unsigned k = 0; k < j->nkeys; k++) {
            struct slice key = { t->keys[k], t->lens[k] };
            if (j->acked[k])
                deleted += (unsigned)ks_delete(c, &key);
        }
    }
    if (deleted)
        ks_dirty(c, deleted);
    if (j->io_error == MIGRATE_IO_NOMEM)
        c->out->oom = 1;
    else if (j->io_error == MIGRATE_IO_CONNECT)
        resp_add_error(c->out, "IOERR error or timeout connecting to the client");
    else if (j->error[0])
        resp_add_errorf(c->out, "ERR Target instance replied with error: %s", j->error);
    else if (j->io_error == MIGRATE_IO_WRITE)
        resp_add_error(c->out, "IOERR error or timeout writing to target instance");
    else if (j->io_error == MIGRATE_IO_READ)
        resp_add_error(c->out, "IOERR error or timeout reading to target instance");
    else
        resp_add_ok(c->out);
}

static int lock_keys(struct core *core, struct migrate_task *t)
{
    if (keylock_add(&core->locks, t->db, t->keys, t->lens, t->job.nkeys, t) < 0)
        return -ENOMEM;
    atomic_fetch_add_explicit(&core->rt->keylocks, t->job.nkeys, memory_order_relaxed);
    t->susp_prev = NULL;
    t->susp_next = core->mig_suspended;
    if (t->susp_next)
        t->susp_next->susp_prev = t;
    core->mig_suspended = t;
    return 0;
}

static void unlock_keys(struct core *core, struct migrate_task *t)
{
    unsigned n = keylock_release(&core->locks, t);

    atomic_fetch_sub_explicit(&core->rt->keylocks, n, memory_order_relaxed);
    if (t->susp_prev)
        t->susp_prev->susp_next = t->susp_next;
    else
        core->mig_suspended = t->susp_next;
    if (t->susp_next)
        t->susp_next->susp_prev = t->susp_prev;
}

void migrate_finish(struct core *self, struct migrate_job *j)
{
    struct migrate_task *t = j->owner_ctx;
    struct xreq *r = t->req;
    struct cmd_ctx ctx = {
        .db = t->db,
        .view = core_view(self, 0),
        .core = self,
        .now_ms = self->now_ms,
        .cluster_slot = -1,
    };
    size_t start;

    unlock_keys(self, t);
    if (t->abandoned || !r) {
        task_free(t);
        return;
    }
    ctx.out = &r->out;
    start = r->out.len;
    task_apply(&ctx, t);
    core_finish_async(self, r, start, t->started_us);
    task_free(t);
}

int migrate_holds_client(const struct core *self, const struct client *client)
{
    /* as many as MIGRATEs in flight on this core, a few */
    for (const struct migrate_task *t = self->mig_suspended; t; t = t->susp_next)
        if (t->req->client == client)
            return 1;
    return 0;
}

void migrate_discard(struct migrate_job *j)
{
    task_free(j->owner_ctx);
}

/* Inside EXEC or under the all-cores barrier the reply cannot wait: hand
 * the job over and wait for it here, blocking this core (and, under the
 * barrier, every core) as 7.0 blocks its server. Returns 1 when the job
 * came back, 0 when shutdown began first (the task is then left to the
 * core's exit, which frees it when the control plane hands it back). */
static int wait_for_job(struct core *core, struct migrate_task *t)
{
    const struct timespec pause = { 0, 20000 };

    for (;;) {
        struct migrate_job *j = migrate_out_done(core->id);

        if (j == &t->job)
            return 1;
        if (j) {
            /* another MIGRATE of this core: finished by the next turn */
            j->next = core->mig_stash;
            core->mig_stash = j;
            continue;
        }
        if (atomic_load_explicit(&core->rt->shutdown, memory_order_acquire)) {
            t->abandoned = 1;
            return 0;
        }
        nanosleep(&pause, NULL);
    }
}

void cmd_migrate(struct cmd_ctx *c)
{
    struct migrate_args a;
    struct migrate_task *t;
    int none, rc;

    if (migrate_parse(c, &a) < 0)
        return;
    t = task_new(c, &a, &none);
    if (!t) {
        if (none)
            resp_add_simple(c->out, "NOKEY");
        else
            c->out->oom = 1;
        return;
    }
    if (task_target(t, &a) < 0) {
        resp_add_error(c->out, "IOERR error or timeout connecting to the client");
        task_free(t);
        return;
    }
    t->started_us = clock_us();
    t->req = c->req && !c->view.all ? c->req : NULL;
    if (t->req) {
        if (lock_keys(c->core, t) < 0) {
            c->out->oom = 1;
            task_free(t);
            return;
        }
    }
    rc = migrate_out_submit(&t->job);
    if (rc < 0) {
        if (t->req)
            unlock_keys(c->core, t);
        resp_add_error(c->out, "ERR too many MIGRATE commands in flight, try again");
        task_free(t);
        return;
    }
    if (t->req) {
        c->suspended = 1;
        return;
    }
    if (!wait_for_job(c->core, t)) {
        resp_add_error(c->out, "IOERR error or timeout reading to target instance");
        return;
    }
    task_apply(c, t);
    task_free(t);
}
