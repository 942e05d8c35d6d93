/* watch — a shard's WATCHed keys: which clients watch which (db, key) of this
 * shard, and for each of them whether the key changed since (Redis 7.0
 * multi.c: watchForKey, touchWatchedKey, touchAllWatchedKeysInDb,
 * isWatchedKeyExpired).
 *
 * A table belongs to its shard and follows the shard's rule: touched by the
 * shard's core, or by the all-cores barrier holder while the others are
 * parked. One node is one client's watch of one key; the table owns it (it is
 * freed only by watch_release or with the table), the client keeps its
 * address. A node's dirty flag is the one field another core may read at any
 * time (CLIENT INFO on the client's own core): it is atomic.
 *
 * While a db of the shard has a watched key, its kvt carries a change hook
 * (kvt_set_hook) that lands in watch_touch; with no watched key there is no
 * hook, so the write path pays one test of a NULL pointer. */
#ifndef SLOTD_WATCH_H
#define SLOTD_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct kvt;
struct watch_table;
struct watch_node;

/* `dbs` is the shard's array of `ndbs` tables (it must outlive the watch
 * table; the tables' places, not their contents, are what is watched: see
 * kvt_swap). `seed` keys the hash of watched keys. NULL on allocation
 * failure. */
struct watch_table *watch_table_create(struct kvt *const *dbs, unsigned ndbs, uint64_t seed);
/* Frees every node still in the table (their clients must be gone or must
 * not release them any more) and removes the kvt hooks. NULL is fine. */
void watch_table_destroy(struct watch_table *w);
/* Memory held, in jemalloc size classes (for INFO / maxmemory). */
size_t watch_table_bytes(const struct watch_table *w);
/* Distinct (db, key) pairs watched, and nodes (client watches) in all. */
size_t watch_table_keys(const struct watch_table *w);
size_t watch_table_nodes(const struct watch_table *w);

/* A client starts watching `key` of db `db` (copied). The node remembers
 * whether the key was logically expired at this moment (`now_ms`), as 7.0's
 * watchedKey.expired does. Returns the node, or NULL when memory ran out
 * (nothing changed). The caller keeps one node per (db, key) per client. */
struct watch_node *watch_add(struct watch_table *w, unsigned db, const void *key,
                             size_t klen, int64_t now_ms);
/* Drop a node of this table (UNWATCH, EXEC, DISCARD, the client gone). */
void watch_release(struct watch_table *w, struct watch_node *n);

/* Whether node `n` watches `key` of db `db`. */
int watch_node_is(const struct watch_node *n, unsigned db, const void *key, size_t klen);
/* Whether the watched key was changed since WATCH (Redis CLIENT_DIRTY_CAS,
 * CLIENT LIST flag d). Any core may ask while the node lives. */
int watch_node_dirty(const struct watch_node *n);
/* What EXEC asks: dirty, or the key was alive at WATCH and is logically
 * expired now (7.0 isWatchedKeyExpired). Owner or barrier holder only. */
int watch_node_changed(const struct watch_table *w, const struct watch_node *n,
                       int64_t now_ms);

/* `key` of db `db` changed; `present`: it is in the table afterwards
 * (7.0 touchWatchedKey). The kvt hook calls it; exposed for tests. */
void watch_touch(struct watch_table *w, unsigned db, const void *key, size_t klen,
                 int present);
/* Db `db` is about to be emptied (FLUSHDB, FLUSHALL): call before the table
 * is cleared (7.0 touchAllWatchedKeysInDb(db, NULL)). */
void watch_flushing(struct watch_table *w, unsigned db);
/* Dbs `a` and `b` are about to exchange their contents (SWAPDB): call before
 * the swap; `now_ms` decides which keys are logically expired (7.0
 * touchAllWatchedKeysInDb(a, b) then (b, a)). */
void watch_swapping(struct watch_table *w, unsigned a, unsigned b, int64_t now_ms);

#endif
