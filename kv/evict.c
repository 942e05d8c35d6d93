/* evict — maxmemory policies (Redis 7.0 performEvictions, our own code).
 *
 * Owner: the executing data core; a shard's pool is touched only with its
 * shard (own core, or the barrier holder).
 *
 * Pool: each shard keeps the EVICT_POOL_SIZE best candidates seen so far,
 * sorted by score ascending (score = idle ms for LRU, 255 - counter for LFU,
 * UINT64_MAX - expire for volatile-ttl), packed in [0, n). Entries hold a copy
 * of the key bytes, never an entry pointer: entries move and die between
 * calls, so each pick is looked up again and a ghost is simply dropped. Each
 * slot owns its key buffer; shifting moves buffers with their slots, so a
 * steady state allocates nothing.
 *
 * Several cores: mem_used() is the process total, and a core evicts only from
 * the shards its view allows. A core whose shard is empty answers -ENOMEM even
 * if another core's shard could still give memory back; commands spanning
 * cores (the barrier) evict from every shard. */
#include "evict.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "../dataplane/mem.h"
#include "keyspace.h"
#include "lfu.h"

#define EVICT_POOL_SIZE   16    /* Redis evict.c EVPOOL_SIZE */
#define EVICT_KEY_KEEP   255    /* Redis evict.c EVPOOL_CACHED_SDS_SIZE: longer key buffers are freed after use */
#define EVICT_CHECK_EVERY 16    /* keys between clock reads, as Redis performEvictions */
#define EVICT_MAX_SAMPLES 64    /* maxmemory-samples upper bound (Redis config.c allows 1..64) */
/* Per-call cap on the tenacity time limit: Redis may block for minutes at
 * tenacity 99-100, but a data core serves other clients; 10 ms is reached at
 * tenacity ~31, and the next write resumes the work. */
#define EVICT_MAX_CALL_US 10000u
/* Rounds of (populate, pick) before giving up on a pool that keeps yielding
 * ghosts; each round refills the pool from live keys, so one is normally
 * enough and this only guards against a table that reports keys but cannot
 * sample them. */
#define EVICT_MAX_ROUNDS  32

struct pool_ent {
    uint64_t score;
    char *key;
    uint32_t klen, cap;
    unsigned db;
};

struct evict_pool {
    struct pool_ent e[EVICT_POOL_SIZE];
    unsigned n;             /* live candidates in e[0..n) */
    unsigned next_db;       /* random policies rotate over dbs */
    unsigned next_shard;    /* and over shards under the barrier */
};

struct evict_pool *evict_pool_create(void)
{
    return mem_calloc(sizeof(struct evict_pool));
}

void evict_pool_destroy(struct evict_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < EVICT_POOL_SIZE; i++)
        mem_free(p->e[i].key);
    mem_free(p);
}

size_t evict_pool_bytes(const struct evict_pool *p)
{
    size_t n = mem_size_class(sizeof(*p));

    for (unsigned i = 0; i < EVICT_POOL_SIZE; i++)
        if (p->e[i].key)
            n += mem_size_class(p->e[i].cap);
    return n;
}

/* ---- pool ---- */

static int ent_reserve(struct pool_ent *pe, size_t klen)
{
    char *k;

    if (pe->key && pe->cap >= klen)
        return 0;
    k = mem_realloc(pe->key, klen ? klen : 1);
    if (!k)
        return -ENOMEM;
    pe->key = k;
    pe->cap = (uint32_t)(klen ? klen : 1);
    return 0;
}

static int pool_has(const struct evict_pool *p, unsigned db, const char *key, size_t klen)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->e[i].db == db && p->e[i].klen == klen && memcmp(p->e[i].key, key, klen) == 0)
            return 1;
    return 0;
}

/* Insert a candidate if it beats the worst one kept (or there is room). */
static void pool_insert(struct evict_pool *p, unsigned db, const char *key, size_t klen,
                        uint64_t score)
{
    unsigned pos = 0, spare;
    struct pool_ent tmp;

    if (klen > UINT32_MAX || pool_has(p, db, key, klen))
        return;
    while (pos < p->n && p->e[pos].score < score)
        pos++;
    if (p->n == EVICT_POOL_SIZE && pos == 0)
        return;   /* full, and worse than everything kept */
    spare = p->n < EVICT_POOL_SIZE ? p->n : 0;
    if (ent_reserve(&p->e[spare], klen) < 0)
        return;   /* skip the sample: the pool stays as it was */
    tmp = p->e[spare];
    if (p->n < EVICT_POOL_SIZE) {
        memmove(&p->e[pos + 1], &p->e[pos], (p->n - pos) * sizeof(p->e[0]));
        p->n++;
    } else {
        /* Drop the weakest (slot 0) and slide the lower part down. */
        pos--;
        memmove(&p->e[0], &p->e[1], pos * sizeof(p->e[0]));
    }
    p->e[pos] = tmp;
    memcpy(p->e[pos].key, key, klen);
    p->e[pos].klen = (uint32_t)klen;
    p->e[pos].db = db;
    p->e[pos].score = score;
}

/* Forget the best candidate (the last), keeping its buffer for reuse. */
static void pool_pop(struct evict_pool *p)
{
    struct pool_ent *pe = &p->e[p->n - 1];

    if (pe->cap > EVICT_KEY_KEEP) {
        mem_free(pe->key);
        pe->key = NULL;
        pe->cap = 0;
    }
    pe->klen = 0;
    p->n--;
}

static uint64_t score_of(enum maxmemory_policy pol, struct kv_entry *e, int64_t now_ms)
{
    if (evict_policy_lru(pol))
        return lru_idle_ms(kv_lru(e), now_ms);
    if (evict_policy_lfu(pol))
        return 255u - lfu_decayed(kv_lru(e), now_ms, evict_cfg_lfu_decay_time());
    /* volatile-ttl: the sooner the expiry, the better the candidate */
    return UINT64_MAX - (uint64_t)kv_expire(e);
}

/* Sample every db of the shard into its pool; returns the number of keys the
 * policy could evict there (0: nothing to evict in this shard). */
static size_t pool_populate(struct shard *s, enum maxmemory_policy pol, int64_t now_ms)
{
    int all = evict_policy_allkeys(pol);
    unsigned samples = evict_cfg_samples();
    size_t total = 0;

    if (samples == 0)
        samples = 1;
    if (samples > EVICT_MAX_SAMPLES)
        samples = EVICT_MAX_SAMPLES;
    for (unsigned db = 0; db < s->ndbs; db++) {
        struct kvt *t = s->db[db];
        size_t n = all ? kvt_count(t) : kvt_volatile_count(t);

        if (n == 0)
            continue;
        total += n;
        for (unsigned k = 0; k < samples; k++) {
            struct kv_entry *e = all ? kvt_random(t, &s->rng) : kvt_random_volatile(t, &s->rng);

            if (!e)
                break;
            pool_insert(s->evpool, db, kv_key(e), kv_klen(e), score_of(pol, e, now_ms));
        }
    }
    return total;
}

/* ---- picking a victim ---- */

struct victim {
    struct shard *s;
    struct kvt *t;
    struct kv_entry *e;
};

/* Best pool candidate over the view's shards, re-validated. 0 or -ENOENT. */
static int pick_pooled(struct cmd_ctx *c, enum maxmemory_policy pol, struct victim *v)
{
    struct evict_pool *cursor = c->view.shards[c->view.self]->evpool;
    unsigned nsh = c->view.all ? c->view.nshards : 1;
    int all = evict_policy_allkeys(pol);

    for (int round = 0; round < EVICT_MAX_ROUNDS; round++) {
        struct shard *best = NULL;
        size_t total = 0;

        /* Equal scores are common (keys written in the same second): start
         * at a rotating shard so ties do not always drain the same one. */
        if (c->view.all)
            cursor->next_shard = (cursor->next_shard + 1) % nsh;
        for (unsigned i = 0; i < nsh; i++) {
            unsigned si = c->view.all ? (cursor->next_shard + i) % nsh : c->view.self;
            struct shard *s = c->view.shards[si];
            struct evict_pool *p = s->evpool;

            total += pool_populate(s, pol, c->now_ms);
            if (p->n && (!best || p->e[p->n - 1].score > best->evpool->e[best->evpool->n - 1].score))
                best = s;
        }
        if (total == 0 || !best)
            return -ENOENT;

        struct evict_pool *p = best->evpool;
        while (p->n) {
            struct pool_ent *pe = &p->e[p->n - 1];
            struct kvt *t = best->db[pe->db];
            struct kv_entry *e = kvt_find(t, pe->key, pe->klen);

            pool_pop(p);
            /* Deleted, or (volatile-*) persisted since sampling: a ghost. */
            if (e && (all || kv_expire(e) != KV_NO_EXPIRE)) {
                v->s = best;
                v->t = t;
                v->e = e;
                return 0;
            }
        }
    }
    return -ENOENT;
}

/* Random victim: visit dbs (and shards) in turn so no db is favoured. */
static int pick_random(struct cmd_ctx *c, enum maxmemory_policy pol, struct victim *v)
{
    struct evict_pool *cursor = c->view.shards[c->view.self]->evpool;
    unsigned nsh = c->view.all ? c->view.nshards : 1;
    int all = pol == MAXMEMORY_ALLKEYS_RANDOM;

    for (unsigned i = 0; i < nsh; i++) {
        unsigned si = c->view.all ? (cursor->next_shard + i) % nsh : c->view.self;
        struct shard *s = c->view.shards[si];

        for (unsigned j = 0; j < s->ndbs; j++) {
            unsigned db = (s->evpool->next_db + 1 + j) % s->ndbs;
            struct kvt *t = s->db[db];
            struct kv_entry *e;

            if ((all ? kvt_count(t) : kvt_volatile_count(t)) == 0)
                continue;
            e = all ? kvt_random(t, &s->rng) : kvt_random_volatile(t, &s->rng);
            if (!e)
                continue;
            s->evpool->next_db = db;
            if (c->view.all)
                cursor->next_shard = (si + 1) % nsh;
            v->s = s;
            v->t = t;
            v->e = e;
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- the loop ---- */

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);   /* vDSO, no kernel entry */
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Redis evictionTimeLimitUs: linear 0..500 µs up to tenacity 10, then +15 %
 * per step; capped here (see EVICT_MAX_CALL_US). */
static uint64_t time_limit_us(unsigned tenacity)
{
    double us;

    if (tenacity <= 10)
        return 50u * tenacity;
    if (tenacity >= 100)
        return EVICT_MAX_CALL_US;
    us = 500.0 * pow(1.15, (double)tenacity - 10.0);
    return us > EVICT_MAX_CALL_US ? EVICT_MAX_CALL_US : (uint64_t)us;
}

int evict_before_write(struct cmd_ctx *c)
{
    uint64_t maxmem = evict_cfg_maxmemory();
    enum maxmemory_policy pol;
    int64_t used, tofree, freed = 0;
    uint64_t start, limit;
    unsigned keys = 0;

    if (maxmem == 0)
        return 0;
    used = mem_used();
    if (used <= (int64_t)maxmem)
        return 0;
    pol = evict_cfg_policy();
    if (pol == MAXMEMORY_NO_EVICTION)
        return -ENOMEM;

    /* As Redis: aim at the amount over the limit measured once, counting
     * what each delete gives back, rather than re-reading the total (other
     * cores' allocations would make the target move under us). */
    tofree = used - (int64_t)maxmem;
    limit = time_limit_us(evict_cfg_tenacity());
    start = mono_us();
    while (freed < tofree) {
        struct victim v;
        int64_t before;
        int r = (pol == MAXMEMORY_ALLKEYS_RANDOM || pol == MAXMEMORY_VOLATILE_RANDOM)
                    ? pick_random(c, pol, &v) : pick_pooled(c, pol, &v);

        if (r < 0)
            /* Nothing left to evict: the write fails unless deletes already
             * brought the total under the limit. */
            return mem_used() <= (int64_t)maxmem ? 0 : -ENOMEM;
        before = mem_used();
        kvt_delete_entry(v.t, v.e);
        freed += before - mem_used();
        v.s->evicted_keys++;
        keys++;
        /* Out of time with keys freed: let the write through (Redis's
         * EVICT_RUNNING); the next write goes on evicting. */
        if (keys % EVICT_CHECK_EVERY == 0 && mono_us() - start > limit)
            return 0;
    }
    return 0;
}
