/* keyspace — a data core's shard (its dbs, stats and expiry state) and the key
 * operations commands use: lookups with lazy expiry and LRU/LFU touch, sets with
 * Redis's string encodings, deletes, TTLs.
 *
 * A shard is touched only by its own core, or by the core that holds the
 * all-cores barrier while every other core is parked. The view in cmd_ctx picks
 * the shard for a key; command code never picks one itself. */
#ifndef SLOTD_KEYSPACE_H
#define SLOTD_KEYSPACE_H

#include <stdint.h>
#include "../dataplane/phase.h"
#include "cmd.h"
#include "kvt.h"

#define KS_MAX_DBS 256

struct evict_pool;
struct watch_table;

struct shard {
    unsigned core;
    unsigned ndbs;
    struct kvt *db[KS_MAX_DBS];
    uint64_t rng;
    /* INFO stats (this shard's part; INFO sums over shards) */
    uint64_t keyspace_hits, keyspace_misses;
    uint64_t expired_keys, evicted_keys, expired_stale_perc_x100;
    uint64_t dirty;                  /* changes since start (rdb_changes_since_last_save) */
    uint64_t active_expire_cycles;
    uint64_t expired_time_cap_reached_count;   /* cycles cut short by the budget */
    uint64_t expire_cycle_time_used_us;        /* INFO expire_cycle_cpu_milliseconds */
    unsigned expire_db_cursor;       /* active expiry resumes here */
    struct evict_pool *evpool;       /* eviction candidates kept across calls (evict.c) */
    struct watch_table *watch;       /* WATCHed keys of this shard (watch.h) */
};

struct shard *shard_create(unsigned core, unsigned ndbs, uint64_t seed);
/* As shard_create; with `cluster` (cluster-enabled yes, fixed for the shard's
 * life) db 0 keeps the per-slot key index (kvt_create_slots) that slotkeys.h
 * reads. shard_create is shard_create_ex(..., 0). */
struct shard *shard_create_ex(unsigned core, unsigned ndbs, uint64_t seed, int cluster);
void shard_destroy(struct shard *s);
size_t shard_used_bytes(const struct shard *s);
/* CONFIG RESETSTAT: zero the INFO counters Redis resets (not dirty). */
void shard_stats_reset(struct shard *s);

/* Shard that holds `key` in this view. */
struct shard *ks_shard_for(struct cmd_ctx *c, const struct slice *key);
/* Table of db c->db that holds `key`. */
struct kvt *ks_table(struct cmd_ctx *c, const struct slice *key);

/* Cache warming for a lookup of `key` a little later in this command
 * (MGET's keys): kvt_prefetch_bucket on its table, which is returned, or
 * NULL when that table is not worth warming (kvt_worth_warming). Then
 * kvt_prefetch_entry, and c->hinted_key/hint for the lookup. */
const struct kvt *ks_prefetch(struct cmd_ctx *c, const struct slice *key, struct kvt_hint *hint);

/* Lookup for a read: expired keys are deleted first (lazy expiry); hit/miss
 * counted; LRU/LFU touched. NULL if absent. */
struct kv_entry *ks_lookup_read(struct cmd_ctx *c, const struct slice *key);
/* Lookup as Redis's LOOKUP_NOTOUCH (OBJECT, TYPE, TTL, EXISTS): lazy expiry and
 * hit/miss counted, the access clock left alone. NULL if absent. */
struct kv_entry *ks_lookup_notouch(struct cmd_ctx *c, const struct slice *key);
/* Whether a live key exists, with no side effect at all: no lazy delete, no
 * stats, no touch (cluster redirection checks, Redis LOOKUP_NOEXPIRE|NOSTATS). */
int ks_exists(struct cmd_ctx *c, const struct slice *key);
/* Lookup before a write: lazy expiry, no hit/miss stats, LRU/LFU touched. */
struct kv_entry *ks_lookup_write(struct cmd_ctx *c, const struct slice *key);

/* Store a string value under key, creating or overwriting (any type). The
 * encoding follows Redis (int / embstr / raw). keep_ttl keeps an existing TTL,
 * otherwise it is cleared. Returns the entry, or NULL when memory ran out (the
 * old value is then intact). */
struct kv_entry *ks_set_string(struct cmd_ctx *c, const struct slice *key,
                               const void *val, size_t vlen, int keep_ttl);
/* Encoding Redis 7.0 gives a freshly set string of these bytes. */
enum kv_enc ks_string_enc(const void *val, size_t vlen);

/* Delete; 1 if it existed (expired keys count as absent). */
int ks_delete(struct cmd_ctx *c, const struct slice *key);

/* Set an absolute expiry in unix ms on an existing entry; a time <= now
 * deletes the key (as Redis does for EXPIRE in the past, without counting it
 * in expired_keys) and returns 1, else 0; -ENOMEM if the TTL index cannot
 * grow (nothing changed). A key is logically expired only once now > expire. */
int ks_set_expire(struct cmd_ctx *c, const struct slice *key, struct kv_entry *e,
                  int64_t when_ms);

/* Count a change for INFO (rdb_changes_since_last_save). */
void ks_dirty(struct cmd_ctx *c, unsigned n);

/* Empty db `db` of the shard (FLUSHDB, FLUSHALL), WATCH told first which
 * watched keys go. Returns the number of keys removed. */
size_t shard_flush_db(struct shard *s, unsigned db);
/* Exchange the contents of dbs a and b of the shard (SWAPDB), WATCH told
 * first (watchers keep their db number; `now_ms` decides which keys count as
 * expired). */
void shard_swap_dbs(struct shard *s, unsigned a, unsigned b, int64_t now_ms);

/* Active expiry, called by the data core once per cron tick: sample volatile
 * keys of each db (20 per loop, more with active-expire-effort), delete the
 * expired, repeat on a db while more than 10 % of a sample was expired (less
 * with effort), within `budget_us` (clock read every 16 loops). Resumes at the
 * next db. Redis 7.0's ACTIVE_EXPIRE_CYCLE_* rules. */
PHASE_ROOT void shard_active_expire(struct shard *s, int64_t now_ms, uint64_t budget_us);

/* Bounded rehash work for every table of the shard (a few buckets each). */
PHASE_ROOT void shard_rehash_step(struct shard *s);

#endif
