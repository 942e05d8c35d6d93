/* watch — a shard's WATCHed keys and whether each changed since WATCH.
 *
 * Owner: the shard's core, or the all-cores barrier holder (WATCH and EXEC
 * run under the barrier, so they reach every shard's table); no locks. Only a
 * node's `dirty` byte is read from elsewhere (CLIENT INFO on the watching
 * client's core), hence atomic with relaxed order: it is a flag, nothing is
 * published through it.
 *
 * Layout: a chained hash of watched keys (struct wkey: db, key bytes, the
 * list of its nodes), power-of-two buckets, empty (no array at all) when
 * nothing is watched. Each node sits on its key's doubly linked list, so a
 * release is O(1) and a touch walks only that key's watchers.
 *
 * Why a flag per node rather than a modification counter per key: 7.0's rule
 * for a key that was already expired at WATCH (watchedKey.expired) depends on
 * what each change did to that watcher: a deletion of the expired key is "no
 * logical change" and clears the flag, anything else dirties. A counter
 * would lose which change came first; a flag set at the touch keeps Redis's
 * answer exactly, at the same cost (one walk of the key's watchers).
 *
 * Growth doubles the bucket array and rehashes at once: watched keys number a
 * few per waiting transaction, so the whole table is small and the copy is
 * amortised O(1) per WATCH; it shrinks back (to nothing when empty) as keys
 * are released, so an idle shard holds no memory here.
 *
 * Invariants: every wkey has at least one node and is on exactly one chain;
 * dbs[d].nkeys counts the wkeys of db d, and the kvt of db d carries our
 * hook iff nkeys > 0; bytes is the sum of the size classes of everything
 * allocated here. */
#include "watch.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <xxhash.h>

#include "../dataplane/mem.h"
#include "kvt.h"

#define MIN_BUCKETS 8      /* first array: 64 bytes, one cache line */

struct wkey;

struct watch_node {
    struct wkey *wk;
    struct watch_node *next, *prev;   /* the key's watchers */
    uint8_t expired;                  /* logically expired at WATCH, not yet deleted */
    _Atomic uint8_t dirty;            /* changed since WATCH: EXEC fails */
};

struct wkey {
    struct wkey *next;                /* bucket chain */
    struct watch_node *nodes;
    uint64_t hash;
    unsigned db;
    uint32_t klen;
    char key[];
};

/* Per db: the hook argument, and how many keys of that db are watched. */
struct watch_db {
    struct watch_table *w;
    unsigned db;
    size_t nkeys;
};

struct watch_table {
    struct wkey **b;                  /* NULL when nothing is watched */
    size_t size, nkeys, nnodes;
    size_t bytes;
    uint64_t seed;
    struct kvt *const *dbs;
    unsigned ndbs;
    struct watch_db *perdb;
};

static void *acct_alloc(struct watch_table *w, size_t n)
{
    void *p = mem_alloc(n);

    if (p)
        w->bytes += mem_size_class(n);
    return p;
}

static void acct_free(struct watch_table *w, void *p, size_t n)
{
    w->bytes -= mem_size_class(n);
    mem_free_sized(p, n);
}

static uint64_t key_hash(const struct watch_table *w, unsigned db, const void *key,
                         size_t klen)
{
    /* The db mixed in afterwards: one key watched in two dbs lands apart. */
    return XXH3_64bits_withSeed(key, klen, w->seed) ^ (0x9e3779b97f4a7c15ull * (db + 1));
}

static inline int is_expired(const struct kv_entry *e, int64_t now_ms)
{
    int64_t when = kv_expire(e);

    /* Redis keyIsExpired: alive at exactly its time */
    return when != KV_NO_EXPIRE && now_ms > when;
}

static int same_key(const struct wkey *k, uint64_t h, unsigned db, const void *key,
                    size_t klen)
{
    return k->hash == h && k->db == db && k->klen == klen && memcmp(k->key, key, klen) == 0;
}

static struct wkey *find(const struct watch_table *w, unsigned db, const void *key,
                         size_t klen)
{
    uint64_t h;

    if (!w->nkeys)
        return NULL;
    h = key_hash(w, db, key, klen);
    for (struct wkey *k = w->b[h & (w->size - 1)]; k; k = k->next)
        if (same_key(k, h, db, key, klen))
            return k;
    return NULL;
}

/* Rebuild the chains in an array of `size` buckets (0: none at all). On
 * allocation failure the old array stays: a too-full or too-empty table is
 * still a correct one. */
static void resize(struct watch_table *w, size_t size)
{
    struct wkey **nb = NULL;

    if (size) {
        nb = mem_calloc(size * sizeof(*nb));
        if (!nb)
            return;
        w->bytes += mem_size_class(size * sizeof(*nb));
    }
    for (size_t i = 0; i < w->size; i++) {
        struct wkey *k = w->b[i];

        while (k) {
            struct wkey *next = k->next;

            k->next = nb[k->hash & (size - 1)];
            nb[k->hash & (size - 1)] = k;
            k = next;
        }
    }
    if (w->b)
        acct_free(w, w->b, w->size * sizeof(*w->b));
    w->b = nb;
    w->size = size;
}

/* ---- the kvt hook ---- */

static void on_change(void *arg, const char *key, size_t klen, int present)
{
    struct watch_db *d = arg;

    watch_touch(d->w, d->db, key, klen, present);
}

/* ---- table ---- */

struct watch_table *watch_table_create(struct kvt *const *dbs, unsigned ndbs, uint64_t seed)
{
    struct watch_table *w = mem_calloc(sizeof(*w));

    if (!w)
        return NULL;
    w->bytes = mem_size_class(sizeof(*w));
    w->seed = seed;
    w->dbs = dbs;
    w->ndbs = ndbs;
    w->perdb = mem_calloc(ndbs * sizeof(*w->perdb));
    if (!w->perdb)
        goto fail;
    w->bytes += mem_size_class(ndbs * sizeof(*w->perdb));
    for (unsigned i = 0; i < ndbs; i++) {
        w->perdb[i].w = w;
        w->perdb[i].db = i;
    }
    return w;
fail:
    mem_free(w);
    return NULL;
}

void watch_table_destroy(struct watch_table *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->size; i++) {
        struct wkey *k = w->b[i];

        while (k) {
            struct wkey *next = k->next;
            struct watch_node *n = k->nodes;

            while (n) {
                struct watch_node *nn = n->next;

                mem_free(n);
                n = nn;
            }
            mem_free(k);
            k = next;
        }
    }
    for (unsigned d = 0; d < w->ndbs; d++)
        if (w->perdb[d].nkeys && w->dbs[d])
            kvt_set_hook(w->dbs[d], NULL, NULL);
    mem_free(w->b);
    mem_free(w->perdb);
    mem_free(w);
}

size_t watch_table_bytes(const struct watch_table *w) { return w->bytes; }
size_t watch_table_keys(const struct watch_table *w) { return w->nkeys; }
size_t watch_table_nodes(const struct watch_table *w) { return w->nnodes; }

/* ---- watch / release ---- */

struct watch_node *watch_add(struct watch_table *w, unsigned db, const void *key,
                             size_t klen, int64_t now_ms)
{
    struct kv_entry *e;
    struct watch_node *n;
    struct wkey *k;

    if (db >= w->ndbs || klen > UINT32_MAX)
        return NULL;
    n = acct_alloc(w, sizeof(*n));
    if (!n)
        return NULL;
    k = find(w, db, key, klen);
    if (!k) {
        if (!w->b) {
            resize(w, MIN_BUCKETS);
            if (!w->b)
                goto fail;
        }
        k = acct_alloc(w, sizeof(*k) + klen);
        if (!k)
            goto fail;
        k->hash = key_hash(w, db, key, klen);
        k->db = db;
        k->klen = (uint32_t)klen;
        k->nodes = NULL;
        if (klen)
            memcpy(k->key, key, klen);
        k->next = w->b[k->hash & (w->size - 1)];
        w->b[k->hash & (w->size - 1)] = k;
        w->nkeys++;
        if (w->perdb[db].nkeys++ == 0)
            kvt_set_hook(w->dbs[db], on_change, &w->perdb[db]);
        if (w->nkeys > w->size)
            resize(w, w->size * 2);
    }
    e = kvt_find(w->dbs[db], key, klen);
    n->wk = k;
    n->expired = e && is_expired(e, now_ms);
    atomic_store_explicit(&n->dirty, 0, memory_order_relaxed);
    n->prev = NULL;
    n->next = k->nodes;
    if (k->nodes)
        k->nodes->prev = n;
    k->nodes = n;
    w->nnodes++;
    return n;
fail:
    acct_free(w, n, sizeof(*n));
    return NULL;
}

void watch_release(struct watch_table *w, struct watch_node *n)
{
    struct wkey *k = n->wk;

    if (n->prev)
        n->prev->next = n->next;
    else
        k->nodes = n->next;
    if (n->next)
        n->next->prev = n->prev;
    acct_free(w, n, sizeof(*n));
    w->nnodes--;
    if (k->nodes)
        return;

    struct wkey **pp = &w->b[k->hash & (w->size - 1)];

    while (*pp != k)
        pp = &(*pp)->next;
    *pp = k->next;
    w->nkeys--;
    if (--w->perdb[k->db].nkeys == 0)
        kvt_set_hook(w->dbs[k->db], NULL, NULL);
    acct_free(w, k, sizeof(*k) + k->klen);
    if (w->nkeys == 0)
        resize(w, 0);
    else if (w->size > MIN_BUCKETS && w->nkeys * 8 < w->size)
        resize(w, w->size / 2);
}

/* ---- questions ---- */

int watch_node_is(const struct watch_node *n, unsigned db, const void *key, size_t klen)
{
    const struct wkey *k = n->wk;

    return k->db == db && k->klen == klen && memcmp(k->key, key, klen) == 0;
}

int watch_node_dirty(const struct watch_node *n)
{
    return atomic_load_explicit(&n->dirty, memory_order_relaxed) != 0;
}

int watch_node_changed(const struct watch_table *w, const struct watch_node *n,
                       int64_t now_ms)
{
    const struct wkey *k = n->wk;
    struct kv_entry *e;

    if (watch_node_dirty(n))
        return 1;
    /* A key already expired at WATCH stays "absent" until it is deleted
     * (touch clears the flag) or written. */
    if (n->expired)
        return 0;
    e = kvt_find(w->dbs[k->db], k->key, k->klen);
    return e && is_expired(e, now_ms);
}

/* ---- changes ---- */

static void set_dirty(struct watch_node *n)
{
    atomic_store_explicit(&n->dirty, 1, memory_order_relaxed);
}

void watch_touch(struct watch_table *w, unsigned db, const void *key, size_t klen,
                 int present)
{
    struct wkey *k = find(w, db, key, klen);

    if (!k)
        return;
    for (struct watch_node *n = k->nodes; n; n = n->next) {
        if (n->expired) {
            /* The expired key was deleted: logically nothing changed for
             * this watcher, which from now on watches an absent key. Still
             * present (a change that did not delete it first): 7.0 leaves
             * the watcher alone too. 7.0 also stops walking the watchers
             * there; every write path looks the key up first, which deletes
             * an expired key, so nothing observable depends on that. */
            if (!present)
                n->expired = 0;
            continue;
        }
        set_dirty(n);
    }
}

/* 7.0 touchAllWatchedKeysInDb(emptied, replaced_with): every watched key of
 * db `db` that exists (even logically expired) in it or in `with` (NULL for a
 * flush) is about to change. */
static void touch_all(struct watch_table *w, unsigned db, struct kvt *with, int64_t now_ms)
{
    struct kvt *t = w->dbs[db];

    if (!w->perdb[db].nkeys)
        return;
    for (size_t i = 0; i < w->size; i++) {
        for (struct wkey *k = w->b[i]; k; k = k->next) {
            struct kv_entry *e2;
            int in_emptied, in_with, with_expired;

            if (k->db != db)
                continue;
            in_emptied = kvt_find(t, k->key, k->klen) != NULL;
            e2 = with ? kvt_find(with, k->key, k->klen) : NULL;
            in_with = e2 != NULL;
            if (!in_emptied && !in_with)
                continue;
            with_expired = in_with && is_expired(e2, now_ms);
            for (struct watch_node *n = k->nodes; n; n = n->next) {
                if (n->expired) {
                    if (!in_with) {
                        n->expired = 0;      /* the expired key goes: no change */
                        continue;
                    }
                    if (with_expired)
                        continue;            /* expired before, expired after */
                } else if (!in_emptied && with_expired) {
                    n->expired = 1;          /* absent before, expired after */
                    continue;
                }
                set_dirty(n);
            }
        }
    }
}

void watch_flushing(struct watch_table *w, unsigned db)
{
    if (db < w->ndbs)
        touch_all(w, db, NULL, 0);
}

void watch_swapping(struct watch_table *w, unsigned a, unsigned b, int64_t now_ms)
{
    if (a >= w->ndbs || b >= w->ndbs || a == b)
        return;
    touch_all(w, a, w->dbs[b], now_ms);
    touch_all(w, b, w->dbs[a], now_ms);
}
