/* kvt — one keyspace table (one db on one data core): a chained hash table of
 * compact entries, key and value stored inline in a single allocation, with
 * incremental rehashing, a reverse-binary SCAN cursor, a dense index of the
 * keys that carry a TTL (for sampling by active expiry and volatile-* eviction)
 * and, in tables made for cluster mode, a list of the keys of each hash slot.
 *
 * Owned by one data core; never locked. All memory is counted in t->used_bytes
 * (jemalloc size classes), which the shard sums for maxmemory.
 *
 * Entries may MOVE: every call documented "may move" can return a different
 * pointer for the same key; the old one is then invalid. */
#ifndef SLOTD_KVT_H
#define SLOTD_KVT_H

#include <stddef.h>
#include <stdint.h>

/* Redis object encodings, kept only so OBJECT ENCODING answers as Redis 7.0 does
 * (int / embstr / raw follow Redis's own transitions). */
enum kv_enc { KV_ENC_RAW = 0, KV_ENC_INT = 1, KV_ENC_EMBSTR = 2 };
enum kv_type { KV_TYPE_STRING = 0 };

struct kv_entry;   /* opaque layout; use the accessors */
struct kvt;

#define KV_NO_EXPIRE INT64_MIN

/* Accessors (inline-able cost; defined in kvt.c) */
const char *kv_key(const struct kv_entry *e);
size_t      kv_klen(const struct kv_entry *e);
char       *kv_val(struct kv_entry *e);           /* writable in place (then kvt_value_written) */
size_t      kv_vlen(const struct kv_entry *e);
enum kv_enc kv_enc(const struct kv_entry *e);
void        kv_set_enc(struct kv_entry *e, enum kv_enc enc);
enum kv_type kv_type(const struct kv_entry *e);
int64_t     kv_expire(const struct kv_entry *e);   /* absolute unix ms, or KV_NO_EXPIRE */
uint32_t    kv_lru(const struct kv_entry *e);      /* 24-bit LRU clock or LFU (ldt<<8|counter) */
void        kv_set_lru(struct kv_entry *e, uint32_t v);
/* Bytes this entry occupies (its size class), for MEMORY USAGE. */
size_t      kv_mem(const struct kv_entry *e);

/* Returns NULL on allocation failure. `seed` keys the hash (random per process
 * so a client cannot choose colliding keys). */
struct kvt *kvt_create(uint64_t seed);
/* As kvt_create, with the per-slot key index (cluster mode's db 0): every
 * key is also on the list of its hash slot (slot.h: slot_init must have run),
 * for 16 more bytes per key and 256 KiB per table. Fixed for the table's
 * life. */
struct kvt *kvt_create_slots(uint64_t seed);
void kvt_destroy(struct kvt *t);
/* Remove every key; keeps the table usable. */
void kvt_clear(struct kvt *t);
/* Exchange the contents of two tables (SWAPDB). Each table's change hook
 * stays where it was: it belongs to the place (db number), not the keys. */
void kvt_swap(struct kvt *a, struct kvt *b);

/* Change hook (WATCH, kv/watch.c). While set, every call below that changes
 * a key (kvt_add, kvt_set_value, kvt_resize_value, kvt_set_expire,
 * kvt_delete, kvt_delete_entry, kvt_rename) calls fn(arg, key, klen, present)
 * once per key it changed, `present` saying whether the key is in the table
 * afterwards (0 for a delete and for a rename's old name; the key bytes may
 * live in an entry about to be freed: copy them to keep them). kvt_clear and
 * kvt_swap do not call it: whole-table changes are their caller's to report.
 * The hook must not call into this table. NULL (the default) costs one test
 * of a pointer per change. */
typedef void kvt_hook_fn(void *arg, const char *key, size_t klen, int present);
void kvt_set_hook(struct kvt *t, kvt_hook_fn *fn, void *arg);
/* The caller changed the bytes of e's value in place (through kv_val): the
 * hook hears of it like any other change. */
void kvt_value_written(struct kvt *t, struct kv_entry *e);

size_t kvt_count(const struct kvt *t);
size_t kvt_volatile_count(const struct kvt *t);
size_t kvt_used_bytes(const struct kvt *t);
size_t kvt_buckets(const struct kvt *t);   /* both tables while rehashing */
int    kvt_is_rehashing(const struct kvt *t);

struct kv_entry *kvt_find(struct kvt *t, const void *key, size_t klen);

/* Cache warming for a find a few commands from now (pipelined input,
 * client.c): once the table outgrows the caches a find is two dependent
 * misses, the bucket and the entry. kvt_prefetch_bucket hashes the key into
 * *hint and asks for its bucket; kvt_prefetch_entry, a command or so later
 * when the bucket has arrived, asks for the entry it points to. Hints only:
 * nothing changes, nothing faults. kvt_find_hinted then skips hashing the
 * key again. A hint holds the seed it was hashed with, so it is good for any
 * table of that seed whatever happened in between (SWAPDB moves seeds with
 * the contents) and is ignored by any other. */
struct kvt_hint {
    uint64_t seed, hash;
};
void kvt_prefetch_bucket(const struct kvt *t, const void *key, size_t klen,
                         struct kvt_hint *hint);
/* Whether warming pays: a table under 1 MiB mostly sits in a core's L2
 * already, and the prefetches would only cost instructions. */
int kvt_worth_warming(const struct kvt *t);
void kvt_prefetch_entry(const struct kvt *t, const struct kvt_hint *hint);
/* The third step, once the chain's first entry has arrived: when it is
 * another key's, ask for the next one. At the load factor of up to 1 three
 * keys in ten are not first in their chain, and missed whatever the
 * warming. */
void kvt_prefetch_next(const struct kvt *t, const struct kvt_hint *hint, const void *key,
                       size_t klen);
struct kv_entry *kvt_find_hinted(struct kvt *t, const void *key, size_t klen,
                                 const struct kvt_hint *hint);

/* Insert a new key with a copy of key and value. -EEXIST if present (then *out is
 * the existing entry), -ENOMEM. The new entry has no TTL, LRU 0. */
int kvt_add(struct kvt *t, const void *key, size_t klen,
            const void *val, size_t vlen, enum kv_enc enc, struct kv_entry **out);

/* Replace the value of an existing entry (copy of val), keeping key, TTL and LRU.
 * May move. NULL on allocation failure (entry unchanged). */
struct kv_entry *kvt_set_value(struct kvt *t, struct kv_entry *e,
                               const void *val, size_t vlen, enum kv_enc enc);

/* Change the value length, keeping the first min(old,new) bytes; new bytes are
 * zero. May move. NULL on allocation failure (entry unchanged). */
struct kv_entry *kvt_resize_value(struct kvt *t, struct kv_entry *e, size_t vlen);

/* Set (ms >= 0) or clear (KV_NO_EXPIRE) the TTL. Never moves. 0 or -ENOMEM. */
int kvt_set_expire(struct kvt *t, struct kv_entry *e, int64_t ms);

/* Delete: 1 if the key existed, 0 if not. kvt_delete_entry takes an entry
 * returned by this table. */
int  kvt_delete(struct kvt *t, const void *key, size_t klen);
void kvt_delete_entry(struct kvt *t, struct kv_entry *e);

/* Rename within the table: moves the entry (value, TTL, LRU kept) to a new key;
 * the destination must not exist. May move. NULL on failure (nothing changed). */
struct kv_entry *kvt_rename(struct kvt *t, struct kv_entry *e,
                            const void *newkey, size_t newklen);

/* Per-slot index. Without it (kvt_create): has_slots is 0, counts are 0 and
 * lists empty. Counts include logically expired keys not yet deleted, as
 * Redis's. Lists are newest first; a key that is renamed or whose value moves
 * keeps its place, except that a rename rejoins at the head. kvt_slot_next
 * takes an entry of a table with the index; a walk must not hold an entry
 * across a call that may move or delete it (take the next one first to
 * delete while walking). O(1) each. */
int kvt_has_slots(const struct kvt *t);
size_t kvt_slot_count(const struct kvt *t, unsigned slot);
struct kv_entry *kvt_slot_first(const struct kvt *t, unsigned slot);
struct kv_entry *kvt_slot_next(const struct kv_entry *e);

/* Uniform-ish random entry (bucket sampling like Redis), NULL if empty.
 * `rng` is the caller's xorshift state. */
struct kv_entry *kvt_random(struct kvt *t, uint64_t *rng);
/* Random entry among those with a TTL, uniform, NULL if none. */
struct kv_entry *kvt_random_volatile(struct kvt *t, uint64_t *rng);

/* SCAN: visit every entry in the bucket(s) named by cursor, return the next
 * cursor (0 when done). Guarantee as Redis: a key present for the whole scan is
 * visited at least once, across grows, shrinks and rehashing. The callback must
 * not modify the table. */
typedef void kvt_visit_fn(struct kv_entry *e, void *arg);
uint64_t kvt_scan(struct kvt *t, uint64_t cursor, kvt_visit_fn *fn, void *arg);

/* Bounded background work: move up to `n` buckets from the old table to the new
 * one (visiting at most 10*n empty buckets), and start a grow or a shrink when the
 * fill calls for it. Returns 1 if more work remains. */
int kvt_rehash_step(struct kvt *t, int n);

/* Whether the table may start a resize by itself on insert (off while a
 * fork-like snapshot is running; always on here). Exposed for tests. */
void kvt_set_resize_allowed(struct kvt *t, int allowed);

#endif
