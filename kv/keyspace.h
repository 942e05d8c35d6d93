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
#include "cmd.h"
#include "kvt.h"

#define KS_MAX_DBS 256

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
    unsigned expire_db_cursor;       /* active expiry resumes here */
};

struct shard *shard_create(unsigned core, unsigned ndbs, uint64_t seed);
void shard_destroy(struct shard *s);
size_t shard_used_bytes(const struct shard *s);

/* Shard that holds `key` in this view. */
struct shard *ks_shard_for(struct cmd_ctx *c, const struct slice *key);
/* Table of db c->db that holds `key`. */
struct kvt *ks_table(struct cmd_ctx *c, const struct slice *key);

/* Lookup for a read: expired keys are deleted first (lazy expiry); hit/miss
 * counted; LRU/LFU touched. NULL if absent. */
struct kv_entry *ks_lookup_read(struct cmd_ctx *c, const struct slice *key);
/* Lookup before a write: lazy expiry, no hit/miss stats, LRU touched. */
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

/* Set an absolute expiry in unix ms on an existing entry; a time already past
 * deletes the key (as Redis does for EXPIRE in the past) and returns 1, else 0. */
int ks_set_expire(struct cmd_ctx *c, const struct slice *key, struct kv_entry *e,
                  int64_t when_ms);

/* Count a change for INFO (rdb_changes_since_last_save). */
void ks_dirty(struct cmd_ctx *c, unsigned n);

/* Active expiry, called by the data core once per cron tick: sample volatile
 * keys of each db, delete the expired, repeat while more than a quarter of a
 * sample was expired, within `budget_us`. Redis's ACTIVE_EXPIRE_CYCLE_* rules. */
void shard_active_expire(struct shard *s, int64_t now_ms, uint64_t budget_us);

/* Bounded rehash work for every table of the shard (a few buckets each). */
void shard_rehash_step(struct shard *s);

#endif
