/* cmd_migrate — moving keys between nodes as Redis 7.0 does (cluster.c):
 * DUMP, RESTORE, RESTORE-ASKING and MIGRATE, byte-compatible with
 * redis-server 7.0 in both directions so `redis-cli --cluster reshard` can
 * move slots between slotd and real nodes.
 *
 * Threads: DUMP and RESTORE run on their key's owner core. MIGRATE runs on
 * the core that owns all its keys (or on the barrier holder when they span
 * cores) and blocks that core while it talks to the target, with poll()
 * timeouts, as Redis blocks its whole server: no other command can touch the
 * keys between serializing them and deleting them. Its connections live in
 * the core's own cache (kv/migrate_link.h).
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

#include "commands.h"
#include "evict.h"
#include "keyspace.h"
#include "lfu.h"
#include "migrate_link.h"
#include "../cluster/dump.h"
#include "../cluster/slotmap.h"
#include "../dataplane/core.h"
#include "../dataplane/mem.h"

#define MIGRATE_DEFAULT_TIMEOUT 1000   /* cluster.c: a timeout <= 0 means 1000 ms */
#define MIGRATE_FIRST_OPTION    6      /* MIGRATE host port key db timeout [options] */
#define MIGRATE_REPLY_MAX       1024   /* cluster.c reads each reply line into 1024 bytes */
#define LFU_FREQ_MAX            255    /* RESTORE FREQ range, cluster.c */

/* Options compare as Redis compares them: strcasecmp over C strings. */
static int opt_eq(const struct slice *s, const char *lit)
{
    const char *z = memchr(s->p, '\0', s->len);
    struct slice name = { s->p, z ? (size_t)(z - s->p) : s->len };

    return slice_eq_nocase(&name, lit);
}

static struct dump_lzf *core_lzf(struct cmd_ctx *c)
{
    struct mlink_cache *mc = mlink_core_cache(c->core->id);

    return mc ? mlink_cache_lzf(mc) : NULL;
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

/* The whole pipeline for one attempt: [AUTH] [SELECT] RESTORE(-ASKING)...
 * Keys past their TTL by now are dropped from `keys` (7.0 skips them too).
 * Returns 0 or -ENOMEM. */
static int build_request(struct cmd_ctx *c, const struct migrate_args *a,
                         struct kv_entry **ents, const struct slice **keys, int *nkeys,
                         int do_select, struct resp_out *o)
{
    struct dump_lzf *z = core_lzf(c);
    int64_t now = clock_ms();
    char dbbuf[24], ttlbuf[24];
    int kept = 0;

    if (a->pass) {
        struct slice auth[3] = { { "AUTH", 4 } };
        int n = 1;
        if (a->user)
            auth[n++] = *a->user;
        auth[n++] = *a->pass;
        put_cmd(o, n, auth);
    }
    if (do_select) {
        struct slice sel[2] = { { "SELECT", 6 }, { dbbuf, 0 } };
        sel[1].len = (size_t)snprintf(dbbuf, sizeof(dbbuf), "%lld", a->db);
        put_cmd(o, 2, sel);
    }
    for (int j = 0; j < *nkeys; j++) {
        struct slice args[5] = {
            slotmap_current()->cluster ? (struct slice){ "RESTORE-ASKING", 14 }
                                       : (struct slice){ "RESTORE", 7 },
            *keys[j], { ttlbuf, 0 }, { NULL, 0 }, { "REPLACE", 7 },
        };
        int64_t exp = kv_expire(ents[j]), ttl = 0;
        uint8_t *payload;
        size_t plen;

        if (exp != KV_NO_EXPIRE) {
            ttl = exp - now;
            if (ttl < 0)
                continue;
            if (ttl < 1)
                ttl = 1;
        }
        if (dump_encode_string(z, kv_val(ents[j]), kv_vlen(ents[j]), &payload, &plen) < 0)
            return -ENOMEM;
        args[2].len = (size_t)snprintf(ttlbuf, sizeof(ttlbuf), "%lld", (long long)ttl);
        args[3].p = (const char *)payload;
        args[3].len = plen;
        put_cmd(o, a->replace ? 5 : 4, args);
        mem_free(payload);
        ents[kept] = ents[j];
        keys[kept] = keys[j];
        kept++;
    }
    *nkeys = kept;
    return o->oom ? -ENOMEM : 0;
}

void cmd_migrate(struct cmd_ctx *c)
{
    struct migrate_args a;
    struct kv_entry **ents = NULL;
    const struct slice **keys = NULL;
    struct mlink_cache *mc;
    struct resp_out req;
    char line_auth[MIGRATE_REPLY_MAX], line_sel[MIGRATE_REPLY_MAX], line[MIGRATE_REPLY_MAX];
    int nkeys = 0, may_retry = 1;

    if (migrate_parse(c, &a) < 0)
        return;
    if (a.nkeys > 0) {
        ents = mem_alloc((size_t)a.nkeys * sizeof(*ents));
        keys = mem_alloc((size_t)a.nkeys * sizeof(*keys));
        if (!ents || !keys) {
            c->out->oom = 1;
            goto out;
        }
    }
    for (int j = 0; j < a.nkeys; j++) {
        struct kv_entry *e = ks_lookup_read(c, &c->argv[a.first_key + j]);
        if (e) {
            ents[nkeys] = e;
            keys[nkeys] = &c->argv[a.first_key + j];
            nkeys++;
        }
    }
    if (nkeys == 0) {
        resp_add_simple(c->out, "NOKEY");
        goto out;
    }
    mc = mlink_core_cache(c->core->id);
    if (!mc) {
        c->out->oom = 1;
        goto out;
    }
    /* Links are also swept by the core's cron; sweeping here keeps a stale
     * one from being reused when the cron hook is absent. */
    mlink_sweep(mc, c->now_ms);
    resp_out_init(&req, 2);

    for (;;) {
        struct mlink *l;
        int do_select, error_from_target = 0, socket_error = 0, timed_out = 0, write_error = 0;
        int n = nkeys, j = 0, rc;
        long r;
        unsigned deleted = 0;

        rc = mlink_get(mc, a.host->p, a.host->len, a.port->p, a.port->len, a.timeout,
                       c->now_ms, &l);
        if (rc == -ENOMEM) {
            c->out->oom = 1;
            break;
        }
        if (rc < 0) {
            resp_add_error(c->out, "IOERR error or timeout connecting to the client");
            break;
        }
        do_select = mlink_last_db(l) != a.db;
        resp_out_reset(&req);
        if (build_request(c, &a, ents, keys, &n, do_select, &req) < 0) {
            c->out->oom = 1;
            break;
        }
        nkeys = n;

        rc = mlink_write(l, req.buf, req.len, a.timeout);
        if (rc < 0) {
            write_error = 1;
            timed_out = rc == -ETIMEDOUT;
            goto socket_err;
        }
        if (a.pass && (r = mlink_read_line(l, line_auth, sizeof(line_auth), a.timeout)) < 0) {
            timed_out = r == -ETIMEDOUT;
            goto socket_err;
        }
        if (do_select && (r = mlink_read_line(l, line_sel, sizeof(line_sel), a.timeout)) < 0) {
            timed_out = r == -ETIMEDOUT;
            goto socket_err;
        }
        for (j = 0; j < nkeys; j++) {
            r = mlink_read_line(l, line, sizeof(line), a.timeout);
            if (r < 0) {
                socket_error = 1;
                timed_out = r == -ETIMEDOUT;
                break;
            }
            if ((a.pass && line_auth[0] == '-') || (do_select && line_sel[0] == '-') ||
                line[0] == '-') {
                if (!error_from_target) {
                    const char *err = a.pass && line_auth[0] == '-' ? line_auth
                                    : do_select && line_sel[0] == '-' ? line_sel : line;
                    /* the SELECT state is unknown after any error */
                    mlink_set_last_db(l, MLINK_NO_DB);
                    error_from_target = 1;
                    resp_add_errorf(c->out, "ERR Target instance replied with error: %s",
                                    err + 1);
                }
            } else if (!a.copy) {
                deleted += (unsigned)ks_delete(c, keys[j]);
            }
        }
        if (deleted)
            ks_dirty(c, deleted);
        /* Nothing acknowledged and not a timeout: the cached link may have
         * gone stale, so 7.0 retries once on a fresh one. */
        if (!error_from_target && socket_error && j == 0 && may_retry && !timed_out)
            goto socket_err;
        if (socket_error)
            mlink_drop(mc, l);
        if (!error_from_target && socket_error) {
            resp_add_error(c->out, "IOERR error or timeout reading to target instance");
            break;
        }
        if (!error_from_target) {
            mlink_set_last_db(l, a.db);
            resp_add_ok(c->out);
        }
        break;
socket_err:
        mlink_drop(mc, l);
        if (!timed_out && may_retry) {
            may_retry = 0;
            continue;
        }
        resp_add_errorf(c->out, "IOERR error or timeout %s to target instance",
                        write_error ? "writing" : "reading");
        break;
    }
    resp_out_free(&req);
out:
    mem_free(ents);
    mem_free(keys);
}
