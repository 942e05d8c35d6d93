/* keyspace — a data core's shard and the key operations commands use: lookups
 * with lazy expiry and LRU/LFU touch, string sets with Redis's encodings,
 * deletes, TTLs, and the cron work (active expiry, incremental rehash).
 *
 * Owner: the shard's core, or the core holding the all-cores barrier while the
 * others are parked; no locks. The view in cmd_ctx picks the shard of a key.
 *
 * Expiry follows Redis 7.0 exactly at the boundary: a key is logically expired
 * when now > expire (a key whose time is now still answers, with PTTL 0), while
 * EXPIRE/SET-style writes of a time <= now delete at once (checkAlreadyExpired).
 * Invariant: no lookup here ever returns a logically expired entry. */
#include "keyspace.h"

#include <errno.h>
#include <time.h>

#include "../cluster/slotmap.h"
#include "../dataplane/mem.h"
#include "evict.h"
#include "kvt_entry.h"
#include "lfu.h"
#include "slot.h"
#include "watch.h"

/* Redis expire.c activeExpireCycle parameters (7.0). */
#define EXPIRE_KEYS_PER_LOOP     20   /* ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP */
#define EXPIRE_ACCEPTABLE_STALE  10   /* ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE, % */
#define EXPIRE_DBS_PER_CALL      16   /* server.h CRON_DBS_PER_CALL */
/* Clock checks are every 16 sampling loops (Redis: iteration & 0xf): one loop
 * is ~20 lookups, so the overshoot past the budget is a few µs. */
#define EXPIRE_CLOCK_EVERY       16

/* Buckets each table moves per cron step: at ~10 ns a bucket, 100 buckets
 * cost about 1 µs per table, negligible beside a loop turn. */
#define KS_REHASH_STEP          100

#define OBJ_ENCODING_EMBSTR_SIZE_LIMIT 44   /* Redis object.c */
#define OBJ_INT_MAX_LEN                20   /* Redis object.c: len <= 20 for string2l */

/* ---- shard ---- */

struct shard *shard_create(unsigned core, unsigned ndbs, uint64_t seed)
{
    return shard_create_ex(core, ndbs, seed, 0);
}

struct shard *shard_create_ex(unsigned core, unsigned ndbs, uint64_t seed, int cluster)
{
    struct shard *s;

    if (ndbs == 0 || ndbs > KS_MAX_DBS)
        return NULL;
    s = mem_calloc(sizeof(*s));
    if (!s)
        return NULL;
    s->core = core;
    s->ndbs = ndbs;
    s->rng = seed ? seed : 0x853c49e6748fea9bull;
    for (unsigned i = 0; i < ndbs; i++) {
        /* Distinct keys per table: the same key in two dbs then lands in
         * unrelated buckets, so one db's collisions say nothing of another's. */
        uint64_t dseed = seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
        /* Cluster mode serves db 0 only (Redis refuses SELECT there). */
        s->db[i] = cluster && i == 0 ? kvt_create_slots(dseed) : kvt_create(dseed);
        if (!s->db[i])
            goto fail;
    }
    s->evpool = evict_pool_create();
    if (!s->evpool)
        goto fail;
    s->watch = watch_table_create(s->db, ndbs, s->rng ^ 0x5851f42d4c957f2dull);
    if (!s->watch)
        goto fail;
    return s;
fail:
    shard_destroy(s);
    return NULL;
}

void shard_destroy(struct shard *s)
{
    if (!s)
        return;
    /* before the tables: it takes its hooks off them */
    watch_table_destroy(s->watch);
    for (unsigned i = 0; i < s->ndbs; i++)
        if (s->db[i])
            kvt_destroy(s->db[i]);
    evict_pool_destroy(s->evpool);
    mem_free(s);
}

size_t shard_used_bytes(const struct shard *s)
{
    size_t n = mem_size_class(sizeof(*s));

    for (unsigned i = 0; i < s->ndbs; i++)
        n += kvt_used_bytes(s->db[i]);
    if (s->evpool)
        n += evict_pool_bytes(s->evpool);
    if (s->watch)
        n += watch_table_bytes(s->watch);
    return n;
}

void shard_stats_reset(struct shard *s)
{
    /* The counters CONFIG RESETSTAT clears in Redis (resetServerStats);
     * dirty is not one of them. */
    s->keyspace_hits = 0;
    s->keyspace_misses = 0;
    s->expired_keys = 0;
    s->evicted_keys = 0;
    s->expired_stale_perc_x100 = 0;
    s->active_expire_cycles = 0;
    s->expired_time_cap_reached_count = 0;
    s->expire_cycle_time_used_us = 0;
}

/* ---- picking the shard and table ---- */

/* Inline for this file's lookups: a call to the exported function is not
 * inlined in a position-independent build (interposition), ~10 instructions
 * a GET for a two-load answer (callgrind). */
static inline struct shard *shard_for(struct cmd_ctx *c, const struct slice *key)
{
    unsigned core;

    if (!c->view.all)
        return c->view.shards[c->view.self];
    core = slotmap_core(slotmap_current(), slot_of(key->p, key->len));
    /* A map naming a core we do not have would be a control-plane bug; the
     * caller's own shard is the safe answer rather than a wild pointer. */
    if (core >= c->view.nshards)
        core = c->view.self;
    return c->view.shards[core];
}

struct shard *ks_shard_for(struct cmd_ctx *c, const struct slice *key)
{
    return shard_for(c, key);
}

struct kvt *ks_table(struct cmd_ctx *c, const struct slice *key)
{
    return shard_for(c, key)->db[c->db];
}

const struct kvt *ks_prefetch(struct cmd_ctx *c, const struct slice *key, struct kvt_hint *hint)
{
    const struct kvt *t = shard_for(c, key)->db[c->db];

    if (!kvt_worth_warming(t))
        return NULL;
    kvt_prefetch_bucket(t, key->p, key->len, hint);
    return t;
}

/* ---- lookups ---- */

static inline int is_expired(const struct kv_entry *e, int64_t now_ms)
{
    int64_t when = kve_expire(e);

    return when != KV_NO_EXPIRE && now_ms > when;
}

/* Find without returning an expired entry: one that is past its time is
 * deleted here and counted, as Redis's expireIfNeeded does. */
static struct kv_entry *find_live(const struct cmd_ctx *c, struct shard *s, struct kvt *t,
                                  const struct slice *key)
{
    struct kv_entry *e = key == c->hinted_key ? kvt_find_hinted(t, key->p, key->len, c->hint)
                                              : kvt_find(t, key->p, key->len);
    int64_t now_ms = c->now_ms;

    if (e && is_expired(e, now_ms)) {
        kvt_delete_entry(t, e);
        s->expired_keys++;
        return NULL;
    }
    return e;
}

/* Record an access: LFU counter under an LFU policy, else the LRU clock
 * (Redis keeps the LRU clock under every non-LFU policy, noeviction too, so
 * OBJECT IDLETIME works without maxmemory). */
static void touch(struct shard *s, struct kv_entry *e, int64_t now_ms)
{
    if (evict_policy_lfu(evict_cfg_policy()))
        kve_set_lru(e, lfu_touch(kve_lru(e), now_ms, evict_cfg_lfu_log_factor(),
                                 evict_cfg_lfu_decay_time(), &s->rng));
    else
        kve_set_lru(e, lru_clock(now_ms));
}

static struct kv_entry *lookup_read(struct cmd_ctx *c, const struct slice *key, int do_touch)
{
    struct shard *s = shard_for(c, key);
    struct kv_entry *e = find_live(c, s, s->db[c->db], key);

    if (!e) {
        s->keyspace_misses++;
        return NULL;
    }
    s->keyspace_hits++;
    if (do_touch)
        touch(s, e, c->now_ms);
    return e;
}

struct kv_entry *ks_lookup_read(struct cmd_ctx *c, const struct slice *key)
{
    return lookup_read(c, key, /* touch */ 1);
}

struct kv_entry *ks_lookup_notouch(struct cmd_ctx *c, const struct slice *key)
{
    return lookup_read(c, key, /* touch */ 0);
}

int ks_exists(struct cmd_ctx *c, const struct slice *key)
{
    struct kvt *t = shard_for(c, key)->db[c->db];
    struct kv_entry *e = kvt_find(t, key->p, key->len);

    return e && !is_expired(e, c->now_ms);
}

struct kv_entry *ks_lookup_write(struct cmd_ctx *c, const struct slice *key)
{
    struct shard *s = shard_for(c, key);
    struct kv_entry *e = find_live(c, s, s->db[c->db], key);

    if (e)
        touch(s, e, c->now_ms);
    return e;
}

/* ---- strings ---- */


/* Inline for ks_set_string (an exported function is called, not inlined,
 * in a position-independent build). Only a value starting with a digit or
 * '-' can be a number: the common text value then skips the call into
 * strconv.c (~20 instructions a SET, callgrind). */
static inline enum kv_enc string_enc(const void *val, size_t vlen)
{
    const char *p = val;

    if (vlen > 0 && vlen <= OBJ_INT_MAX_LEN && ((p[0] >= '0' && p[0] <= '9') || p[0] == '-') &&
        str_to_ll(val, vlen, NULL))
        return KV_ENC_INT;
    if (vlen <= OBJ_ENCODING_EMBSTR_SIZE_LIMIT)
        return KV_ENC_EMBSTR;
    return KV_ENC_RAW;
}

enum kv_enc ks_string_enc(const void *val, size_t vlen)
{
    return string_enc(val, vlen);
}

struct kv_entry *ks_set_string(struct cmd_ctx *c, const struct slice *key,
                               const void *val, size_t vlen, int keep_ttl)
{
    struct shard *s = shard_for(c, key);
    struct kvt *t = s->db[c->db];
    enum kv_enc enc = string_enc(val, vlen);
    enum maxmemory_policy pol = evict_cfg_policy();
    struct kv_entry *e = find_live(c, s, t, key);

    if (e) {
        /* Redis looks the key up for writing first (one LFU hit for the old
         * value), then the new object inherits that LFU field; under LRU the
         * new object carries a fresh clock, which is the same stamp. */
        touch(s, e, c->now_ms);
        e = kvt_set_value(t, e, val, vlen, enc);
        if (!e)
            return NULL;
        /* Clearing a TTL only shrinks the volatile index: it cannot fail. */
        if (!keep_ttl && kve_expire(e) != KV_NO_EXPIRE)
            (void)kvt_set_expire(t, e, KV_NO_EXPIRE);
        return e;
    }
    if (kvt_add(t, key->p, key->len, val, vlen, enc, &e) < 0)
        return NULL;
    kv_set_lru(e, evict_policy_lfu(pol) ? lfu_initial(c->now_ms) : lru_clock(c->now_ms));
    return e;
}

/* ---- delete and TTL ---- */

int ks_delete(struct cmd_ctx *c, const struct slice *key)
{
    struct shard *s = shard_for(c, key);
    struct kvt *t = s->db[c->db];
    struct kv_entry *e = find_live(c, s, t, key);

    if (!e)
        return 0;
    kvt_delete_entry(t, e);
    return 1;
}

int ks_set_expire(struct cmd_ctx *c, const struct slice *key, struct kv_entry *e,
                  int64_t when_ms)
{
    struct kvt *t = shard_for(c, key)->db[c->db];

    /* Redis 7.0 checkAlreadyExpired: when <= now deletes without counting an
     * expired key (measured on 7.0.15: EXPIRE k -1 leaves expired_keys at 0). */
    if (when_ms <= c->now_ms) {
        kvt_delete_entry(t, e);
        return 1;
    }
    return kvt_set_expire(t, e, when_ms);
}

void ks_dirty(struct cmd_ctx *c, unsigned n)
{
    /* INFO sums dirty over shards, so any shard of the view may hold it. */
    c->view.shards[c->view.self]->dirty += n;
}

/* ---- whole dbs ---- */

size_t shard_flush_db(struct shard *s, unsigned db)
{
    size_t n = kvt_count(s->db[db]);

    watch_flushing(s->watch, db);
    kvt_clear(s->db[db]);
    return n;
}

void shard_swap_dbs(struct shard *s, unsigned a, unsigned b, int64_t now_ms)
{
    watch_swapping(s->watch, a, b, now_ms);
    kvt_swap(s->db[a], s->db[b]);
}

/* ---- cron work ---- */

static uint64_t mono_us(void)
{
    struct timespec ts;

    /* vDSO: no kernel entry, ~20 ns */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void shard_active_expire(struct shard *s, int64_t now_ms, uint64_t budget_us)
{
    /* Effort 1..10 rescaled to 0..9, as Redis scales its parameters. */
    unsigned effort = evict_cfg_expire_effort();
    effort = effort >= 1 ? (effort > 10 ? 9 : effort - 1) : 0;
    unsigned keys_per_loop = EXPIRE_KEYS_PER_LOOP + EXPIRE_KEYS_PER_LOOP / 4 * effort;
    unsigned acceptable = EXPIRE_ACCEPTABLE_STALE - effort;
    unsigned dbs = s->ndbs < EXPIRE_DBS_PER_CALL ? s->ndbs : EXPIRE_DBS_PER_CALL;
    uint64_t start = mono_us();
    uint64_t total_sampled = 0, total_expired = 0;
    unsigned iteration = 0;
    int timeout = 0;

    s->active_expire_cycles++;
    for (unsigned j = 0; j < dbs && !timeout; j++) {
        /* Advance first, so a cycle cut short in this db starts with the
         * next one: time is spread evenly over the dbs. */
        struct kvt *t = s->db[s->expire_db_cursor % s->ndbs];
        unsigned sampled, expired;

        s->expire_db_cursor = (s->expire_db_cursor + 1) % s->ndbs;
        do {
            size_t num = kvt_volatile_count(t);

            iteration++;
            sampled = expired = 0;
            if (num == 0)
                break;
            if (num > keys_per_loop)
                num = keys_per_loop;
            for (size_t k = 0; k < num; k++) {
                struct kv_entry *e = kvt_random_volatile(t, &s->rng);

                if (!e)
                    break;
                sampled++;
                if (is_expired(e, now_ms)) {
                    kvt_delete_entry(t, e);
                    expired++;
                }
            }
            s->expired_keys += expired;
            total_sampled += sampled;
            total_expired += expired;
            if (iteration % EXPIRE_CLOCK_EVERY == 0 && mono_us() - start > budget_us) {
                timeout = 1;
                s->expired_time_cap_reached_count++;
                break;
            }
        } while (sampled && expired * 100 / sampled > acceptable);
    }

    s->expire_cycle_time_used_us += mono_us() - start;
    /* Running estimate of logically expired keys still stored, the current
     * sample weighing 5 % (Redis stat_expired_stale_perc), in 1/100 of a %. */
    uint64_t cur = total_sampled ? total_expired * 10000 / total_sampled : 0;
    s->expired_stale_perc_x100 = (cur * 5 + s->expired_stale_perc_x100 * 95) / 100;
}

void shard_rehash_step(struct shard *s)
{
    for (unsigned i = 0; i < s->ndbs; i++)
        kvt_rehash_step(s->db[i], KS_REHASH_STEP);
}
