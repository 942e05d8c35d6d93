/* cmd_keys — the generic key commands (Redis db.c and expire.c semantics,
 * 7.0 replies): DEL, EXISTS, TYPE, the EXPIRE and TTL families, RENAME, MOVE,
 * and the whole-keyspace commands KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB,
 * FLUSHALL, SWAPDB.
 *
 * Threads: single-key commands run on the key's owner core. Multi-key ones
 * (DEL, EXISTS, RENAME, ...) may run under the all-cores barrier: every key
 * is resolved through ks_* on its own, and RENAME copies between tables when
 * its two keys live on different cores. Whole-keyspace commands run under
 * the barrier and cover shards [0, nshards) when c->view.all, else only
 * c->view.self.
 *
 * SCAN cursor layout (our own, clients treat it as opaque): bits 63..56 hold
 * the shard index, bits 55..0 the kvt cursor inside that shard's table (a
 * reverse-binary bucket cursor, so it never exceeds the bucket mask; 2^56
 * buckets is far past any table). The shard part only moves forward, and each
 * table's cursor keeps Redis's guarantee across resizes, so the whole scan
 * does too. 0 starts and 0 ends, as in Redis. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "commands.h"
#include "glob.h"
#include "keyspace.h"
#include "../dataplane/config.h"
#include "../dataplane/mem.h"

#define SCAN_SHARD_SHIFT 56
#define SCAN_KVT_MASK ((UINT64_C(1) << SCAN_SHARD_SHIFT) - 1)
#define SCAN_DEFAULT_COUNT 10     /* Redis db.c scanGenericCommand */
#define SCAN_ITER_PER_KEY  10     /* Redis: at most COUNT*10 buckets per call */

/* Length up to the first NUL: Redis reads some arguments as C strings. */
static size_t cstr_len(const struct slice *s)
{
    const char *z = memchr(s->p, '\0', s->len);

    return z ? (size_t)(z - s->p) : s->len;
}

/* Option names compare as Redis compares them, as C strings (strcasecmp). */
static int opt_eq(const struct slice *s, const char *lit)
{
    struct slice name = { s->p, cstr_len(s) };

    return slice_eq_nocase(&name, lit);
}

/* The shards a whole-keyspace command covers. */
static void shard_range(const struct cmd_ctx *c, unsigned *lo, unsigned *hi)
{
    if (c->view.all) {
        *lo = 0;
        *hi = c->view.nshards;
    } else {
        *lo = c->view.self;
        *hi = c->view.self + 1;
    }
}

static inline int logically_expired(const struct kv_entry *e, int64_t now_ms)
{
    int64_t when = kv_expire(e);

    /* Redis keyIsExpired: still alive at exactly its time */
    return when != KV_NO_EXPIRE && now_ms > when;
}

static const char *type_name(const struct kv_entry *e)
{
    if (!e)
        return "none";
    switch (kv_type(e)) {
    case KV_TYPE_STRING:
        return "string";
    }
    return "none";
}

/* Redis getIntFromObjectOrReply: a long long that must also fit an int. With
 * msg, every failure answers msg; without, the two Redis texts. */
static int arg_int(struct cmd_ctx *c, const struct slice *s, int *out, const char *msg)
{
    long long v;

    if (cmd_arg_ll_msg(c, s, &v, msg) < 0)
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        resp_add_error(c->out, msg ? msg
                       : "ERR value is out of range, value must between -2147483648 and 2147483647");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Move an entry to another table (RENAME across cores, MOVE across dbs):
 * value, encoding, TTL and access clock travel with it. The destination key
 * must be absent. Returns 0 or -ENOMEM (nothing changed). */
static int move_entry(struct kvt *from, struct kv_entry *e, struct kvt *to,
                      const struct slice *newkey)
{
    struct kv_entry *n;
    int r = kvt_add(to, newkey->p, newkey->len, kv_val(e), kv_vlen(e), kv_enc(e), &n);

    if (r < 0)
        return r;
    if (kv_expire(e) != KV_NO_EXPIRE && kvt_set_expire(to, n, kv_expire(e)) < 0) {
        kvt_delete_entry(to, n);
        return -ENOMEM;
    }
    kv_set_lru(n, kv_lru(e));
    kvt_delete_entry(from, e);
    return 0;
}

/* ---- DEL UNLINK EXISTS TOUCH TYPE ---- */

static void del_generic(struct cmd_ctx *c)
{
    long long n = 0;

    for (int j = 1; j < c->argc; j++)
        n += ks_delete(c, &c->argv[j]);
    if (n)
        ks_dirty(c, (unsigned)n);
    resp_add_int(c->out, n);
}

void cmd_del(struct cmd_ctx *c)
{
    del_generic(c);
}

/* UNLINK frees in the background in Redis; freeing here is the same to a
 * client, and an inline entry is a single free anyway. */
void cmd_unlink(struct cmd_ctx *c)
{
    del_generic(c);
}

void cmd_exists(struct cmd_ctx *c)
{
    long long n = 0;

    /* each repetition of a key counts, as in Redis */
    for (int j = 1; j < c->argc; j++)
        if (ks_lookup_notouch(c, &c->argv[j]))
            n++;
    resp_add_int(c->out, n);
}

void cmd_touch(struct cmd_ctx *c)
{
    long long n = 0;

    for (int j = 1; j < c->argc; j++)
        if (ks_lookup_read(c, &c->argv[j]))
            n++;
    resp_add_int(c->out, n);
}

void cmd_type(struct cmd_ctx *c)
{
    resp_add_simple(c->out, type_name(ks_lookup_notouch(c, &c->argv[1])));
}

/* ---- EXPIRE family ---- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* Redis expireGenericCommand: options first, then the time (scaled and offset
 * with overflow refused), then the key, then NX/XX/GT/LT against the current
 * TTL, where a key without TTL counts as an infinite one. */
static void expire_generic(struct cmd_ctx *c, int64_t base, int seconds)
{
    const struct slice *key = &c->argv[1];
    unsigned flags = 0;
    long long when;
    struct kv_entry *e;
    int64_t cur;
    int r;

    for (int j = 3; j < c->argc; j++) {
        const struct slice *o = &c->argv[j];

        if (opt_eq(o, "nx"))
            flags |= EXP_NX;
        else if (opt_eq(o, "xx"))
            flags |= EXP_XX;
        else if (opt_eq(o, "gt"))
            flags |= EXP_GT;
        else if (opt_eq(o, "lt"))
            flags |= EXP_LT;
        else {
            /* Redis prints the option as a C string: it ends at a NUL */
            resp_add_errorf(c->out, "ERR Unsupported option %.*s",
                            (int)cstr_len(o), o->p);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_add_error(c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        resp_add_error(c->out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    if (cmd_arg_ll(c, &c->argv[2], &when) < 0)
        return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
            goto bad_time;
        when *= 1000;
    }
    if (when > LLONG_MAX - base)
        goto bad_time;
    when += base;

    e = ks_lookup_write(c, key);
    if (!e) {
        resp_add_int(c->out, 0);
        return;
    }
    cur = kv_expire(e);
    if (((flags & EXP_NX) && cur != KV_NO_EXPIRE) ||
        ((flags & EXP_XX) && cur == KV_NO_EXPIRE) ||
        ((flags & EXP_GT) && (cur == KV_NO_EXPIRE || when <= cur)) ||
        ((flags & EXP_LT) && cur != KV_NO_EXPIRE && when >= cur)) {
        resp_add_int(c->out, 0);
        return;
    }
    r = ks_set_expire(c, key, e, when);
    if (r < 0) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    ks_dirty(c, 1);
    resp_add_int(c->out, 1);
    return;
bad_time:
    resp_add_errorf(c->out, "ERR invalid expire time in '%s' command", c->cmd->name);
}

void cmd_expire(struct cmd_ctx *c)
{
    expire_generic(c, c->now_ms, 1);
}

void cmd_pexpire(struct cmd_ctx *c)
{
    expire_generic(c, c->now_ms, 0);
}

void cmd_expireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, 1);
}

void cmd_pexpireat(struct cmd_ctx *c)
{
    expire_generic(c, 0, 0);
}

/* Redis ttlGenericCommand: -2 missing, -1 no TTL; seconds round to nearest. */
static void ttl_generic(struct cmd_ctx *c, int ms, int absolute)
{
    struct kv_entry *e = ks_lookup_notouch(c, &c->argv[1]);
    long long ttl;

    if (!e) {
        resp_add_int(c->out, -2);
        return;
    }
    if (kv_expire(e) == KV_NO_EXPIRE) {
        resp_add_int(c->out, -1);
        return;
    }
    ttl = absolute ? kv_expire(e) : kv_expire(e) - c->now_ms;
    if (ttl < 0)
        ttl = 0;
    resp_add_int(c->out, ms ? ttl : (ttl + 500) / 1000);
}

void cmd_ttl(struct cmd_ctx *c)
{
    ttl_generic(c, 0, 0);
}

void cmd_pttl(struct cmd_ctx *c)
{
    ttl_generic(c, 1, 0);
}

void cmd_expiretime(struct cmd_ctx *c)
{
    ttl_generic(c, 0, 1);
}

void cmd_pexpiretime(struct cmd_ctx *c)
{
    ttl_generic(c, 1, 1);
}

void cmd_persist(struct cmd_ctx *c)
{
    struct kv_entry *e = ks_lookup_write(c, &c->argv[1]);

    if (!e || kv_expire(e) == KV_NO_EXPIRE) {
        resp_add_int(c->out, 0);
        return;
    }
    (void)kvt_set_expire(ks_table(c, &c->argv[1]), e, KV_NO_EXPIRE);
    ks_dirty(c, 1);
    resp_add_int(c->out, 1);
}

/* ---- RENAME RENAMENX MOVE ---- */

/* Redis renameGenericCommand: the source must exist even when both names are
 * equal; an existing destination is overwritten (RENAME) or refused (NX). */
static void rename_generic(struct cmd_ctx *c, int nx)
{
    const struct slice *src = &c->argv[1], *dst = &c->argv[2];
    struct kvt *st = ks_table(c, src), *dt = ks_table(c, dst);
    struct kv_entry *e = ks_lookup_write(c, src), *d;
    int same = src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0;

    if (!e) {
        resp_add_error(c->out, ERR_NO_KEY);
        return;
    }
    if (same) {
        if (nx)
            resp_add_int(c->out, 0);
        else
            resp_add_ok(c->out);
        return;
    }
    d = ks_lookup_write(c, dst);
    if (d) {
        if (nx) {
            resp_add_int(c->out, 0);
            return;
        }
        /* entries never move on another entry's delete: e stays valid */
        kvt_delete_entry(dt, d);
    }
    if (st == dt) {
        if (!kvt_rename(st, e, dst->p, dst->len))
            goto oom;
    } else if (move_entry(st, e, dt, dst) < 0) {
        goto oom;
    }
    ks_dirty(c, 1);
    if (nx)
        resp_add_int(c->out, 1);
    else
        resp_add_ok(c->out);
    return;
oom:
    resp_add_error(c->out, ERR_OOM);
}

void cmd_rename(struct cmd_ctx *c)
{
    rename_generic(c, 0);
}

void cmd_renamenx(struct cmd_ctx *c)
{
    rename_generic(c, 1);
}

void cmd_move(struct cmd_ctx *c)
{
    const struct slice *key = &c->argv[1];
    struct shard *s = ks_shard_for(c, key);
    struct cmd_ctx dc;
    struct kv_entry *e;
    int dbid;

    if (config_live()->cluster_enabled) {
        resp_add_error(c->out, "ERR MOVE is not allowed in cluster mode");
        return;
    }
    if (arg_int(c, &c->argv[2], &dbid, NULL) < 0)
        return;
    if (dbid < 0 || (unsigned)dbid >= s->ndbs) {
        resp_add_error(c->out, ERR_DB_INDEX);
        return;
    }
    if ((unsigned)dbid == c->db) {
        resp_add_error(c->out, "ERR source and destination objects are the same");
        return;
    }
    e = ks_lookup_write(c, key);
    if (!e) {
        resp_add_int(c->out, 0);
        return;
    }
    /* the same key in another db: same slot, so the same shard */
    dc = *c;
    dc.db = (unsigned)dbid;
    if (ks_lookup_write(&dc, key)) {
        resp_add_int(c->out, 0);
        return;
    }
    if (move_entry(s->db[c->db], e, s->db[dbid], key) < 0) {
        resp_add_error(c->out, ERR_OOM);
        return;
    }
    ks_dirty(c, 1);
    resp_add_int(c->out, 1);
}

/* ---- KEYS ---- */

struct keys_walk {
    struct resp_out *out;
    const struct slice *pat;
    int allkeys;
    int64_t now_ms;
    long long n;
};

static void keys_visit(struct kv_entry *e, void *arg)
{
    struct keys_walk *w = arg;

    if (!w->allkeys && !glob_match(w->pat->p, w->pat->len, kv_key(e), kv_klen(e), 0))
        return;
    /* Redis 7.0 KEYS skips logically expired keys without deleting them */
    if (logically_expired(e, w->now_ms))
        return;
    resp_add_bulk(w->out, kv_key(e), kv_klen(e));
    w->n++;
}

void cmd_keys(struct cmd_ctx *c)
{
    struct keys_walk w = {
        .out = c->out,
        .pat = &c->argv[1],
        .allkeys = c->argv[1].len == 1 && c->argv[1].p[0] == '*',
        .now_ms = c->now_ms,
        .n = 0,
    };
    unsigned lo, hi;
    size_t handle = resp_add_deferred_array(c->out);

    shard_range(c, &lo, &hi);
    for (unsigned i = lo; i < hi; i++) {
        struct kvt *t = c->view.shards[i]->db[c->db];
        uint64_t cur = 0;

        /* Nothing changes the table during the walk, so every bucket is
         * visited once and every key reported once. */
        do
            cur = kvt_scan(t, cur, keys_visit, &w);
        while (cur);
    }
    resp_set_deferred_array(c->out, handle, w.n);
}

/* ---- SCAN ---- */

/* Redis parseScanCursorOrReply: strtoul over the argument up to its first NUL
 * — so an optional sign, "-1" wrapping to 2^64-1, leading zeros and the empty
 * string (cursor 0) pass, while a leading space, a trailing byte or a value
 * past 2^64-1 are "invalid cursor". */
static int parse_cursor(const struct slice *s, uint64_t *out)
{
    size_t n = cstr_len(s), i = 0;
    uint64_t v = 0;
    int neg = 0;

    if (n == 0) {
        *out = 0;
        return 0;
    }
    if (s->p[0] == '+' || s->p[0] == '-') {
        neg = s->p[0] == '-';
        i = 1;
    }
    if (i == n || s->p[i] < '0' || s->p[i] > '9')
        return -1;
    for (; i < n; i++) {
        unsigned d;

        if (s->p[i] < '0' || s->p[i] > '9')
            return -1;
        d = (unsigned)(s->p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? 0 - v : v;
    return 0;
}

/* A growable list of key copies: keys found expired during a SCAN, deleted
 * once the table walk is over (a kvt_scan callback may not modify). */
struct keylist {
    char *buf;
    size_t len, cap;
    int oom;
};

static void keylist_add(struct keylist *l, const char *k, size_t n)
{
    size_t need = l->len + sizeof(size_t) + n;

    if (l->oom)
        return;
    if (need > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char *nb;

        while (cap < need)
            cap *= 2;
        nb = mem_realloc(l->buf, cap);
        if (!nb) {
            /* they stay logically expired; lazy or active expiry gets them */
            l->oom = 1;
            return;
        }
        l->buf = nb;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, &n, sizeof(n));
    memcpy(l->buf + l->len + sizeof(n), k, n);
    l->len = need;
}

struct scan_walk {
    struct shard *shard;
    const struct slice *pat;     /* NULL: no MATCH filter */
    const struct slice *type;    /* NULL: no TYPE filter */
    int64_t now_ms;
    unsigned long long visited;  /* keys seen, before filtering (COUNT counts these) */
    long long n;
    struct resp_out keys;        /* bulk strings of the keys to return */
    struct keylist expired;
};

/* Redis scanGenericCommand's filter, in its order: MATCH, then TYPE (a read
 * lookup, so it counts a hit or a miss and sees an expired key as "none"),
 * then expiry. Quirk kept: with TYPE none, a key the TYPE lookup just expired
 * is returned, because the later expiry check no longer finds it. */
static void scan_visit(struct kv_entry *e, void *arg)
{
    struct scan_walk *w = arg;
    int expired = logically_expired(e, w->now_ms);

    w->visited++;
    if (w->pat && !glob_match(w->pat->p, w->pat->len, kv_key(e), kv_klen(e), 0))
        return;
    if (expired)
        keylist_add(&w->expired, kv_key(e), kv_klen(e));
    if (w->type) {
        const char *tn = expired ? "none" : type_name(e);

        if (expired)
            w->shard->keyspace_misses++;
        else
            w->shard->keyspace_hits++;
        if (!opt_eq(w->type, tn))
            return;
        if (expired) {
            resp_add_bulk(&w->keys, kv_key(e), kv_klen(e));
            w->n++;
            return;
        }
    }
    if (expired)
        return;
    resp_add_bulk(&w->keys, kv_key(e), kv_klen(e));
    w->n++;
}

void cmd_scan(struct cmd_ctx *c)
{
    struct scan_walk w = { 0 };
    uint64_t cursor, kcur, iters;
    long long count = SCAN_DEFAULT_COUNT;
    unsigned lo, hi, shard;
    char num[24];

    if (parse_cursor(&c->argv[1], &cursor) < 0) {
        resp_add_error(c->out, "ERR invalid cursor");
        return;
    }
    for (int i = 2; i < c->argc;) {
        const struct slice *o = &c->argv[i];
        int left = c->argc - i;

        if (left >= 2 && opt_eq(o, "count")) {
            if (cmd_arg_ll(c, &c->argv[i + 1], &count) < 0)
                return;
            if (count < 1) {
                resp_add_error(c->out, ERR_SYNTAX);
                return;
            }
        } else if (left >= 2 && opt_eq(o, "match")) {
            const struct slice *p = &c->argv[i + 1];

            w.pat = (p->len == 1 && p->p[0] == '*') ? NULL : p;
        } else if (left >= 2 && opt_eq(o, "type")) {
            w.type = &c->argv[i + 1];
        } else {
            resp_add_error(c->out, ERR_SYNTAX);
            return;
        }
        i += 2;
    }

    shard_range(c, &lo, &hi);
    shard = (unsigned)(cursor >> SCAN_SHARD_SHIFT);
    kcur = cursor & SCAN_KVT_MASK;
    if (shard < lo) {
        shard = lo;
        kcur = 0;
    }
    w.now_ms = c->now_ms;
    resp_out_init(&w.keys, c->out->proto);
    /* Redis: keep going while fewer than COUNT keys were collected, for at
     * most COUNT*10 more buckets, so sparse tables still end quickly. */
    iters = (unsigned long long)count > UINT64_MAX / SCAN_ITER_PER_KEY
            ? UINT64_MAX : (uint64_t)count * SCAN_ITER_PER_KEY;
    if (shard < hi) {
        do {
            w.shard = c->view.shards[shard];
            kcur = kvt_scan(w.shard->db[c->db], kcur, scan_visit, &w);
            if (kcur == 0 && ++shard >= hi)
                break;
        } while (iters-- && w.visited < (unsigned long long)count);
    }
    cursor = shard >= hi ? 0 : ((uint64_t)shard << SCAN_SHARD_SHIFT) | kcur;

    /* Expired keys seen are deleted now, as Redis's filter step does; a write
     * lookup expires and counts them. */
    for (size_t off = 0; off < w.expired.len;) {
        struct slice k;

        memcpy(&k.len, w.expired.buf + off, sizeof(k.len));
        k.p = w.expired.buf + off + sizeof(k.len);
        (void)ks_lookup_write(c, &k);
        off += sizeof(k.len) + k.len;
    }
    mem_free(w.expired.buf);

    if (w.keys.oom) {
        resp_add_error(c->out, ERR_OOM);
    } else {
        int n = 0;
        /* the cursor is unsigned: print it without a sign */
        do {
            num[sizeof(num) - 1 - n++] = (char)('0' + cursor % 10);
            cursor /= 10;
        } while (cursor);
        resp_add_array(c->out, 2);
        resp_add_bulk(c->out, num + sizeof(num) - n, (size_t)n);
        resp_add_array(c->out, w.n);
        resp_add_raw(c->out, w.keys.buf, w.keys.len);
    }
    resp_out_free(&w.keys);
}

/* ---- RANDOMKEY DBSIZE FLUSHDB FLUSHALL SWAPDB ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* (Vigna): plenty for picking a shard */
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(2685821657736338717);
}

/* Redis dbRandomKey: a random key; an expired pick is deleted and another
 * drawn. Each retry removes a key, so the loop ends within the key count. */
void cmd_randomkey(struct cmd_ctx *c)
{
    uint64_t *rng = &c->view.shards[c->view.self]->rng;
    unsigned lo, hi;
    size_t total = 0;

    shard_range(c, &lo, &hi);
    for (unsigned i = lo; i < hi; i++)
        total += kvt_count(c->view.shards[i]->db[c->db]);
    while (total > 0) {
        /* pick a shard weighted by its key count, then a key inside it */
        uint64_t r = rng_next(rng) % total;
        struct shard *s = NULL;
        struct kvt *t = NULL;
        struct kv_entry *e;

        for (unsigned i = lo; i < hi; i++) {
            size_t n = kvt_count(c->view.shards[i]->db[c->db]);

            if (r < n) {
                s = c->view.shards[i];
                t = s->db[c->db];
                break;
            }
            r -= n;
        }
        e = t ? kvt_random(t, rng) : NULL;
        if (!e)
            break;
        if (!logically_expired(e, c->now_ms)) {
            resp_add_bulk(c->out, kv_key(e), kv_klen(e));
            return;
        }
        kvt_delete_entry(t, e);
        s->expired_keys++;
        total--;
    }
    resp_add_null(c->out);
}

void cmd_dbsize(struct cmd_ctx *c)
{
    unsigned lo, hi;
    long long n = 0;

    shard_range(c, &lo, &hi);
    for (unsigned i = lo; i < hi; i++)
        n += (long long)kvt_count(c->view.shards[i]->db[c->db]);
    resp_add_int(c->out, n);
}

/* Redis getFlushCommandFlags: nothing, SYNC or ASYNC. Both free at once
 * here: a client cannot tell, apart from the time the call takes. */
static int flush_args(struct cmd_ctx *c)
{
    if (c->argc == 1)
        return 0;
    if (c->argc > 2 || (!opt_eq(&c->argv[1], "sync") &&
                        !opt_eq(&c->argv[1], "async"))) {
        resp_add_error(c->out, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

void cmd_flushdb(struct cmd_ctx *c)
{
    unsigned lo, hi;
    size_t n = 0;

    if (flush_args(c) < 0)
        return;
    shard_range(c, &lo, &hi);
    for (unsigned i = lo; i < hi; i++)
        n += shard_flush_db(c->view.shards[i], c->db);
    if (n)
        ks_dirty(c, (unsigned)n);
    resp_add_ok(c->out);
}

void cmd_flushall(struct cmd_ctx *c)
{
    unsigned lo, hi;
    size_t n = 0;

    if (flush_args(c) < 0)
        return;
    shard_range(c, &lo, &hi);
    for (unsigned i = lo; i < hi; i++) {
        struct shard *s = c->view.shards[i];

        for (unsigned d = 0; d < s->ndbs; d++)
            n += shard_flush_db(s, d);
    }
    /* dirty += keys removed, nothing for the command itself (7.0.15
     * measured: FLUSHALL of an empty keyspace leaves it unchanged) */
    if (n)
        ks_dirty(c, (unsigned)n);
    resp_add_ok(c->out);
}

void cmd_swapdb(struct cmd_ctx *c)
{
    unsigned lo, hi, ndbs = c->view.shards[c->view.self]->ndbs;
    int a, b;

    if (config_live()->cluster_enabled) {
        resp_add_error(c->out, "ERR SWAPDB is not allowed in cluster mode");
        return;
    }
    if (arg_int(c, &c->argv[1], &a, "ERR invalid first DB index") < 0 ||
        arg_int(c, &c->argv[2], &b, "ERR invalid second DB index") < 0)
        return;
    if (a < 0 || b < 0 || (unsigned)a >= ndbs || (unsigned)b >= ndbs) {
        resp_add_error(c->out, ERR_DB_INDEX);
        return;
    }
    if (a != b) {
        shard_range(c, &lo, &hi);
        for (unsigned i = lo; i < hi; i++)
            shard_swap_dbs(c->view.shards[i], (unsigned)a, (unsigned)b, c->now_ms);
    }
    ks_dirty(c, 1);
    resp_add_ok(c->out);
}
