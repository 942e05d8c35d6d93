/* kvt — one keyspace table: chained hashing with incremental rehash, inline
 * key/value entries, reverse-binary SCAN and a dense index of volatile keys.
 *
 * Owner: one data core (or the core holding the all-cores barrier); no locks.
 *
 * Entry layout, one allocation per key (struct kv_entry, 32-byte header):
 *
 *   0  next    8   chain link
 *   8  expire  8   absolute unix ms or KV_NO_EXPIRE
 *  16  meta    4   lru:24 | enc:2 | type:4 | spare:2
 *  20  vidx    4   slot in the volatile index (valid only when expire is set)
 *  24  klen    4
 *  28  vlen    4
 *  32  key bytes, then value bytes (no terminator, no padding)
 *
 * A 16-byte key with a 16-byte value asks for exactly 64 bytes, jemalloc's
 * 64-byte class (measured: kv_mem == 64, see test_kvt.c). Lengths are 32-bit:
 * Redis caps strings at 512 MiB (proto-max-bulk-len), so 4 GiB is ample. The
 * hash is not stored: it would push the 16+16 case into the 80-byte class
 * (+25 %), and rehash recomputing XXH3 over short keys costs a few ns each.
 *
 * Buckets: two power-of-two arrays; ht[1] exists only while rehashing, when
 * ht[0] buckets below rehash_idx are empty and new keys go to ht[1]. Grow at
 * load 1, shrink under 10 % fill (min 4 buckets), Redis's dict thresholds.
 * Rehash work is bounded per call: n buckets and 10*n empty visits.
 *
 * Volatile index: entry pointers of every key with a TTL, packed in [0, vn),
 * each entry knowing its slot (vidx), so add/remove are O(1) (swap with the
 * last) and a uniform random pick is one index. Stored as a directory of
 * 4096-pointer chunks (the first chunk grows from 8 by doubling) so growing
 * never copies more than 32 KiB: a flat array would memcpy all n pointers at
 * each doubling (128 MiB at 16 M keys) inside one SET on the data core.
 *
 * Per-slot key index (tables made by kvt_create_slots: db 0 in cluster mode).
 * Each entry is preceded, in the same allocation, by a 16-byte link (struct
 * kv_slotlink: next entry of its slot, and the address of the pointer that
 * points at it, a head or the previous entry's next), so unlinking and
 * patching after a move need no slot lookup; a 256 KiB array holds the
 * 16384 heads, each beside its slot's count. Inserting writes the old first
 * entry's back link, a cache miss on a large table, which kvt_add starts
 * fetching before it allocates the new entry. Entry pointers stay the
 * header's address, so accessors and lookups are the same code in both
 * modes; a standalone table pays no byte per key and, on the write paths,
 * only t->pre (0) in the size arithmetic and a well-predicted test of
 * t->slots. The cost in cluster
 * mode is Redis 7.0's (16 bytes per key of dictEntry metadata): the 16+16
 * entry above goes from the 64- to the 80-byte class. Rejected: a dense
 * per-slot array of pointers with a position in the entry (the header has no
 * free 4 bytes: +16 B per key too, plus array slack and a copy on growth).
 * Lists are newest first, as Redis's; rehashing never moves an entry, only
 * chain links, so it leaves the index alone.
 *
 * Change hook (kvt_set_hook): WATCH's only cost on the write path is the
 * test of t->hook in each changing call, a field of the struct the call
 * already reads; the hook runs after the table is consistent again and, for
 * a removed key, before its entry is freed.
 *
 * Invariants: every entry is on exactly one chain; e->vidx is its slot iff
 * e->expire != KV_NO_EXPIRE; with the slot index, every entry is on exactly
 * the list of slot_of(its key), count[s] is that list's length, and its
 * meta has META_SLOTLINK set; used_bytes == sum of size classes of
 * everything allocated here, the struct kvt included. */
#include "kvt.h"

#include <errno.h>
#include <string.h>
/* XXH3 compiled in here rather than called in libxxhash: the library's entry
 * point goes through the PLT and a length dispatch, ~32 instructions for a
 * 16-byte key against ~17 inline (callgrind, pipelined GET). Same function,
 * same values. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "../dataplane/mem.h"
#include "kvt_entry.h"
#include "slot.h"

#define KVT_MIN_BUCKETS   4   /* Redis dict.h DICT_HT_INITIAL_SIZE */
#define KVT_MIN_FILL_PCT 10   /* Redis server.h HASHTABLE_MIN_FILL */
#define KVT_FORCE_RATIO   5   /* Redis dict.c dict_force_resize_ratio */
#define KVT_EMPTY_VISITS 10   /* empty buckets skipped per bucket of rehash work */

#define VOL_MIN      8u       /* first chunk's starting capacity */
#define VOL_CHUNK 4096u       /* 32 KiB of pointers: a whole jemalloc class */

#define META_ENC_SHIFT  24
#define META_ENC_MASK   0x3u
#define META_TYPE_SHIFT 26
#define META_TYPE_MASK  0xFu
#define META_SLOTLINK   (1u << 30)   /* allocation starts with a kv_slotlink */

/* struct kv_entry: kvt_entry.h */
_Static_assert(sizeof(struct kv_entry) == 32, "entry header must stay 32 bytes");

/* Sits just before the entry header when the table has the slot index. */
struct kv_slotlink {
    struct kv_entry *next;     /* next key of the same slot */
    struct kv_entry **pprev;   /* the head or previous link's next */
};

_Static_assert(sizeof(struct kv_slotlink) == 16, "keeps entries 16-byte aligned");

/* A slot's list head beside its count: one cache line per insert or
 * delete, not one in each of two 128 KiB arrays. */
struct kvt_slot {
    struct kv_entry *head;
    size_t count;
};

struct kvt_slots {
    struct kvt_slot s[SLOT_COUNT];
};

struct kvt_ht {
    struct kv_entry **b;   /* NULL for ht[1] outside a rehash */
    size_t size;           /* power of two, or 0 */
    size_t used;
};

struct kvt {
    struct kvt_ht ht[2];
    size_t rehash_idx;     /* next ht[0] bucket to move, while ht[1].b != NULL */
    uint64_t seed;
    size_t used_bytes;
    int resize_allowed;
    int rehash_paused;     /* set during a SCAN callback */
    struct kv_entry ***vdir;
    size_t vn;
    uint32_t vchunks, vdircap, vcap0;
    size_t pre;                /* bytes before each entry: the slot link, or 0 */
    struct kvt_slots *slots;   /* NULL unless made by kvt_create_slots */
    kvt_hook_fn *hook;         /* NULL unless a key of this db is WATCHed */
    void *hook_arg;
};

/* Report a changed key to the hook: one load and a branch that predicts
 * "no hook" on every write while nothing is watched. */
static inline void changed(const struct kvt *t, const char *key, size_t klen, int present)
{
    if (t->hook)
        t->hook(t->hook_arg, key, klen, present);
}

/* ---- accessors ---- */

const char *kv_key(const struct kv_entry *e) { return e->data; }
size_t kv_klen(const struct kv_entry *e) { return e->klen; }
char *kv_val(struct kv_entry *e) { return e->data + e->klen; }
size_t kv_vlen(const struct kv_entry *e) { return e->vlen; }
int64_t kv_expire(const struct kv_entry *e) { return kve_expire(e); }
uint32_t kv_lru(const struct kv_entry *e) { return kve_lru(e); }

enum kv_enc kv_enc(const struct kv_entry *e)
{
    return (enum kv_enc)((e->meta >> META_ENC_SHIFT) & META_ENC_MASK);
}

/* For this file's own calls: an exported function is called, not inlined,
 * in a position-independent build. */
static inline void set_enc(struct kv_entry *e, enum kv_enc enc)
{
    e->meta = (e->meta & ~(META_ENC_MASK << META_ENC_SHIFT)) |
              (((uint32_t)enc & META_ENC_MASK) << META_ENC_SHIFT);
}

void kv_set_enc(struct kv_entry *e, enum kv_enc enc)
{
    set_enc(e, enc);
}

/* memmove for a value written over the old one (val may point into it):
 * 8 to 16 bytes are loaded whole before anything is stored, so overlap is
 * harmless, without a call into libc. */
static inline void move_value(char *dst, const void *val, size_t n)
{
    const char *src = val;

    if (n >= 8 && n <= 16) {
        uint64_t a, b;

        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n > 0) {
        memmove(dst, src, n);
    }
}

enum kv_type kv_type(const struct kv_entry *e)
{
    return (enum kv_type)((e->meta >> META_TYPE_SHIFT) & META_TYPE_MASK);
}

void kv_set_lru(struct kv_entry *e, uint32_t v)
{
    kve_set_lru(e, v);
}

static inline size_t entry_req(size_t klen, size_t vlen)
{
    return sizeof(struct kv_entry) + klen + vlen;
}

size_t kv_mem(const struct kv_entry *e)
{
    size_t pre = (e->meta & META_SLOTLINK) ? sizeof(struct kv_slotlink) : 0;
    return mem_size_class(pre + entry_req(e->klen, e->vlen));
}

/* ---- counted allocation ---- */

static void *acct_alloc(struct kvt *t, size_t n)
{
    void *p = mem_alloc(n);
    if (p)
        t->used_bytes += mem_size_class(n);
    return p;
}

static void *acct_calloc(struct kvt *t, size_t n)
{
    void *p = mem_calloc(n);
    if (p)
        t->used_bytes += mem_size_class(n);
    return p;
}

static void *acct_realloc(struct kvt *t, void *p, size_t old, size_t n)
{
    void *q = mem_realloc(p, n);
    if (q)
        t->used_bytes = t->used_bytes - mem_size_class(old) + mem_size_class(n);
    return q;
}

/* `n` may differ from the original request as long as it maps to the same
 * size class (in-place value updates rely on this, as jemalloc's sdallocx
 * only looks at the class). */
static void acct_free(struct kvt *t, void *p, size_t n)
{
    t->used_bytes -= mem_size_class(n);
    mem_free_sized(p, n);
}

/* Entry allocations: `n` is what entry_bytes gives, the link included. */
static inline size_t entry_bytes(const struct kvt *t, size_t klen, size_t vlen)
{
    return t->pre + entry_req(klen, vlen);
}

static struct kv_entry *entry_alloc(struct kvt *t, size_t n)
{
    char *p = acct_alloc(t, n);
    return p ? (struct kv_entry *)(p + t->pre) : NULL;
}

static struct kv_entry *entry_realloc(struct kvt *t, struct kv_entry *e,
                                      size_t old, size_t n)
{
    char *p = acct_realloc(t, (char *)e - t->pre, old, n);
    return p ? (struct kv_entry *)(p + t->pre) : NULL;
}

static void entry_free_n(struct kvt *t, struct kv_entry *e, size_t n)
{
    acct_free(t, (char *)e - t->pre, n);
}

static void entry_free(struct kvt *t, struct kv_entry *e)
{
    entry_free_n(t, e, entry_bytes(t, e->klen, e->vlen));
}

/* ---- per-slot index (only with t->slots) ---- */

static inline struct kv_slotlink *slink(const struct kv_entry *e)
{
    return (struct kv_slotlink *)e - 1;
}

/* Push front: newest first, Redis's order. */
static void slot_link(struct kvt *t, struct kv_entry *e, unsigned slot)
{
    struct kv_slotlink *l = slink(e);
    struct kv_entry **head = &t->slots->s[slot].head;

    l->next = *head;
    l->pprev = head;
    if (*head)
        slink(*head)->pprev = &l->next;
    *head = e;
    t->slots->s[slot].count++;
}

static void slot_unlink(struct kvt *t, struct kv_entry *e, unsigned slot)
{
    struct kv_slotlink *l = slink(e);

    *l->pprev = l->next;
    if (l->next)
        slink(l->next)->pprev = l->pprev;
    t->slots->s[slot].count--;
}

/* `to` is a moved copy of an entry, its link copied with it: point the
 * neighbours at it. */
static void slot_moved(struct kv_entry *to)
{
    struct kv_slotlink *l = slink(to);

    *l->pprev = to;
    if (l->next)
        slink(l->next)->pprev = &l->next;
}

/* ---- small helpers ---- */

static inline uint64_t key_hash(const struct kvt *t, const void *key, size_t klen)
{
    return XXH3_64bits_withSeed(key, klen, t->seed);
}

static inline int rehashing(const struct kvt *t)
{
    return t->ht[1].b != NULL;
}

/* Keys up to 16 bytes are compared as two overlapping words (or bytes)
 * instead of calling memcmp, ~20 instructions with its call (callgrind); the
 * fixed-size memcpy calls compile to plain loads. */
static inline int key_eq(const struct kv_entry *e, const void *key, size_t klen)
{
    const char *a = e->data, *b = key;

    if (e->klen != klen)
        return 0;
    if (klen >= 8 && klen <= 16) {
        uint64_t a0, a1, b0, b1;

        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + klen - 8, 8);
        memcpy(&b1, b + klen - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (klen >= 4 && klen < 8) {
        uint32_t a0, a1, b0, b1;

        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + klen - 4, 4);
        memcpy(&b1, b + klen - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (klen < 4) {
        for (size_t i = 0; i < klen; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    return memcmp(a, b, klen) == 0;
}

/* Uniform in [0, n) from xorshift64* on the caller's state (a zero state
 * would stick at zero). Multiply-shift takes the high bits: xorshift's low
 * bits are linear, and drawing bucket and chain position from them left a
 * fifth of 1000 keys never sampled in 200k draws. */
static size_t rng_below(uint64_t *s, size_t n)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return (size_t)(((unsigned __int128)(x * 0x2545F4914F6CDD1Dull) * n) >> 64);
}

static size_t pow2_at_least(size_t n)
{
    size_t s = KVT_MIN_BUCKETS;
    while (s < n && s <= (SIZE_MAX >> 1))
        s <<= 1;
    return s;
}

/* ---- volatile index ---- */

static inline struct kv_entry **vol_slot(const struct kvt *t, size_t i)
{
    return &t->vdir[i / VOL_CHUNK][i % VOL_CHUNK];
}

static size_t vol_cap(const struct kvt *t)
{
    return t->vchunks ? (size_t)(t->vchunks - 1) * VOL_CHUNK + t->vcap0 : 0;
}

static void vol_free(struct kvt *t)
{
    if (t->vchunks == 0)
        return;
    acct_free(t, t->vdir[0], (size_t)t->vcap0 * sizeof(struct kv_entry *));
    for (uint32_t i = 1; i < t->vchunks; i++)
        acct_free(t, t->vdir[i], VOL_CHUNK * sizeof(struct kv_entry *));
    acct_free(t, t->vdir, (size_t)t->vdircap * sizeof(struct kv_entry **));
    t->vdir = NULL;
    t->vn = 0;
    t->vchunks = t->vdircap = t->vcap0 = 0;
}

static int vol_grow(struct kvt *t)
{
    const size_t ps = sizeof(struct kv_entry *);

    if (t->vchunks == 0) {
        struct kv_entry ***dir = acct_alloc(t, sizeof *dir);
        if (!dir)
            return -ENOMEM;
        dir[0] = acct_alloc(t, VOL_MIN * ps);
        if (!dir[0]) {
            acct_free(t, dir, sizeof *dir);
            return -ENOMEM;
        }
        t->vdir = dir;
        t->vdircap = t->vchunks = 1;
        t->vcap0 = VOL_MIN;
        return 0;
    }
    if (t->vchunks == 1 && t->vcap0 < VOL_CHUNK) {
        struct kv_entry **c = acct_realloc(t, t->vdir[0], (size_t)t->vcap0 * ps,
                                           (size_t)t->vcap0 * 2 * ps);
        if (!c)
            return -ENOMEM;
        t->vdir[0] = c;
        t->vcap0 *= 2;
        return 0;
    }
    if (t->vchunks == t->vdircap) {
        /* The directory is 1/4096 of the index: copying it is cheap. */
        struct kv_entry ***dir = acct_realloc(t, t->vdir,
                                              (size_t)t->vdircap * sizeof *dir,
                                              (size_t)t->vdircap * 2 * sizeof *dir);
        if (!dir)
            return -ENOMEM;
        t->vdir = dir;
        t->vdircap *= 2;
    }
    struct kv_entry **c = acct_alloc(t, VOL_CHUNK * ps);
    if (!c)
        return -ENOMEM;
    t->vdir[t->vchunks++] = c;
    return 0;
}

static int vol_add(struct kvt *t, struct kv_entry *e)
{
    if (t->vn >= UINT32_MAX)   /* vidx is 32-bit */
        return -ENOMEM;
    if (t->vn == vol_cap(t)) {
        int r = vol_grow(t);
        if (r)
            return r;
    }
    e->vidx = (uint32_t)t->vn;
    *vol_slot(t, t->vn++) = e;
    return 0;
}

/* Give memory back with hysteresis, so a key toggling its TTL at a boundary
 * does not allocate and free each time: a trailing chunk goes once half of
 * the one before it is free too; the first chunk halves at a quarter full. */
static void vol_shrink(struct kvt *t)
{
    const size_t ps = sizeof(struct kv_entry *);

    if (t->vn == 0) {
        vol_free(t);
        return;
    }
    if (t->vchunks >= 2) {
        if (t->vn + VOL_CHUNK / 2 <= (size_t)(t->vchunks - 1) * VOL_CHUNK)
            acct_free(t, t->vdir[--t->vchunks], VOL_CHUNK * ps);
        return;
    }
    if (t->vcap0 > VOL_MIN && t->vn <= t->vcap0 / 4) {
        struct kv_entry **c = acct_realloc(t, t->vdir[0], (size_t)t->vcap0 * ps,
                                           (size_t)t->vcap0 / 2 * ps);
        if (c) {   /* failing to shrink is harmless */
            t->vdir[0] = c;
            t->vcap0 /= 2;
        }
    }
}

static void vol_remove(struct kvt *t, struct kv_entry *e)
{
    size_t i = e->vidx, last = --t->vn;
    if (i != last) {
        struct kv_entry *m = *vol_slot(t, last);
        *vol_slot(t, i) = m;
        m->vidx = (uint32_t)i;
    }
    vol_shrink(t);
}

/* ---- rehash ---- */

static void rehash_finish(struct kvt *t)
{
    acct_free(t, t->ht[0].b, t->ht[0].size * sizeof(struct kv_entry *));
    t->ht[0] = t->ht[1];
    t->ht[1] = (struct kvt_ht){ 0 };
    t->rehash_idx = 0;
}

static void move_bucket(struct kvt *t, size_t i)
{
    struct kvt_ht *from = &t->ht[0], *to = &t->ht[1];
    size_t mask = to->size - 1;
    /* Shrinking keeps the low bits, so the target is known without hashing. */
    int shrink = to->size < from->size;
    struct kv_entry *e = from->b[i];

    while (e) {
        struct kv_entry *next = e->next;
        size_t j = shrink ? (i & mask) : (key_hash(t, e->data, e->klen) & mask);
        e->next = to->b[j];
        to->b[j] = e;
        from->used--;
        to->used++;
        e = next;
    }
    from->b[i] = NULL;
}

/* Move up to n buckets; returns 1 while the rehash is unfinished. */
static int rehash(struct kvt *t, int n)
{
    if (!rehashing(t))
        return 0;
    if (n <= 0 || t->rehash_paused)
        return 1;
    size_t empty = (size_t)n * KVT_EMPTY_VISITS;
    while (n-- > 0 && t->ht[0].used != 0) {
        /* used != 0 guarantees a non-empty bucket at or after rehash_idx */
        while (t->ht[0].b[t->rehash_idx] == NULL) {
            t->rehash_idx++;
            if (--empty == 0)
                return 1;
        }
        move_bucket(t, t->rehash_idx++);
    }
    if (t->ht[0].used != 0)
        return 1;
    rehash_finish(t);
    return 0;
}

/* Start moving to a table of `size` buckets. Failure to allocate only means
 * chains stay longer, so callers may ignore the result. */
static int resize_start(struct kvt *t, size_t size)
{
    if (rehashing(t) || size == t->ht[0].size)
        return 0;
    if (size > SIZE_MAX / sizeof(struct kv_entry *))
        return -ENOMEM;
    struct kv_entry **b = acct_calloc(t, size * sizeof *b);
    if (!b)
        return -ENOMEM;
    t->ht[1] = (struct kvt_ht){ .b = b, .size = size, .used = 0 };
    t->rehash_idx = 0;
    if (t->ht[0].used == 0)
        rehash_finish(t);
    return 0;
}

static void grow_if_needed(struct kvt *t)
{
    const struct kvt_ht *h = &t->ht[0];
    if (rehashing(t) || h->used < h->size)
        return;
    if (t->resize_allowed || h->used / h->size > KVT_FORCE_RATIO)
        resize_start(t, pow2_at_least(h->used + 1));
}

static void shrink_if_needed(struct kvt *t)
{
    const struct kvt_ht *h = &t->ht[0];
    if (rehashing(t) || !t->resize_allowed || h->size <= KVT_MIN_BUCKETS)
        return;
    if (h->used * 100 < h->size * KVT_MIN_FILL_PCT)
        resize_start(t, pow2_at_least(h->used));
}

int kvt_rehash_step(struct kvt *t, int n)
{
    grow_if_needed(t);
    shrink_if_needed(t);
    if (rehash(t, n))
        return 1;
    /* Keys added or deleted during the rehash may already call for the next
     * resize (deleting everything mid-grow, say). */
    grow_if_needed(t);
    shrink_if_needed(t);
    return rehashing(t);
}

void kvt_set_resize_allowed(struct kvt *t, int allowed)
{
    t->resize_allowed = !!allowed;
}

/* ---- lookup ---- */

/* Link (bucket slot or previous entry's next) that holds `key`, or NULL;
 * *which gets the table it is in. */
static struct kv_entry **find_link(struct kvt *t, const void *key, size_t klen,
                                   uint64_t h, int *which)
{
    for (int k = 0; k < 2; k++) {
        struct kvt_ht *ht = &t->ht[k];
        if (!ht->b)
            break;
        size_t i = h & (ht->size - 1);
        if (k == 0 && rehashing(t) && i < t->rehash_idx)
            continue;
        for (struct kv_entry **pp = &ht->b[i]; *pp; pp = &(*pp)->next) {
            if (key_eq(*pp, key, klen)) {
                *which = k;
                return pp;
            }
        }
    }
    return NULL;
}

/* Link that points at entry e (which must belong to t). */
static struct kv_entry **entry_link(struct kvt *t, const struct kv_entry *e, int *which)
{
    uint64_t h = key_hash(t, e->data, e->klen);
    for (int k = 0; k < 2; k++) {
        struct kvt_ht *ht = &t->ht[k];
        if (!ht->b)
            break;
        size_t i = h & (ht->size - 1);
        if (k == 0 && rehashing(t) && i < t->rehash_idx)
            continue;
        for (struct kv_entry **pp = &ht->b[i]; *pp; pp = &(*pp)->next) {
            if (*pp == e) {
                *which = k;
                return pp;
            }
        }
    }
    return NULL;
}

static void link_new(struct kvt *t, struct kv_entry *e, uint64_t h)
{
    struct kvt_ht *ht = &t->ht[rehashing(t) ? 1 : 0];
    size_t i = h & (ht->size - 1);
    e->next = ht->b[i];
    ht->b[i] = e;
    ht->used++;
}

/* Point the chain and the volatile index at the moved copy `to` of `from`.
 * `pp` is the link to `from`, found before `from` was freed or reallocated. */
static void relink_moved(struct kvt *t, struct kv_entry **pp, struct kv_entry *to)
{
    *pp = to;
    if (to->expire != KV_NO_EXPIRE)
        *vol_slot(t, to->vidx) = to;
    if (t->slots)
        slot_moved(to);
}

/* While rehashing: a step of the rehash, then both tables. */
static __attribute__((noinline)) struct kv_entry *find_rehashing(struct kvt *t, const void *key,
                                                                 size_t klen)
{
    int which = 0;
    struct kv_entry **pp;

    rehash(t, 1);
    pp = find_link(t, key, klen, key_hash(t, key, klen), &which);
    return pp ? *pp : NULL;
}

/* The read path of every GET: outside a rehash there is one table and one
 * chain to walk, with no link bookkeeping (find_link's general loop cost ~57
 * instructions a lookup, callgrind). */
static inline struct kv_entry *find_hashed(struct kvt *t, const void *key, size_t klen,
                                           uint64_t hash)
{
    const struct kvt_ht *ht = &t->ht[0];
    struct kv_entry *e;

    if (rehashing(t) || ht->b == NULL)
        return rehashing(t) ? find_rehashing(t, key, klen) : NULL;
    for (e = ht->b[hash & (ht->size - 1)]; e != NULL; e = e->next)
        if (key_eq(e, key, klen))
            return e;
    return NULL;
}

struct kv_entry *kvt_find(struct kvt *t, const void *key, size_t klen)
{
    return find_hashed(t, key, klen, key_hash(t, key, klen));
}

struct kv_entry *kvt_find_hinted(struct kvt *t, const void *key, size_t klen,
                                 const struct kvt_hint *hint)
{
    return find_hashed(t, key, klen,
                       hint->seed == t->seed ? hint->hash : key_hash(t, key, klen));
}

/* ---- cache warming ---- */

void kvt_prefetch_bucket(const struct kvt *t, const void *key, size_t klen,
                         struct kvt_hint *hint)
{
    hint->seed = t->seed;
    hint->hash = key_hash(t, key, klen);
    for (int k = 0; k < 2; k++)
        if (t->ht[k].b != NULL)
            __builtin_prefetch(&t->ht[k].b[hint->hash & (t->ht[k].size - 1)]);
}

int kvt_worth_warming(const struct kvt *t)
{
    return t->used_bytes >= (1u << 20);
}

/* The first entry of the hint's chain in table k (NULL: none). */
static inline const struct kv_entry *chain_head(const struct kvt *t, int k,
                                                const struct kvt_hint *hint)
{
    return t->ht[k].b ? t->ht[k].b[hint->hash & (t->ht[k].size - 1)] : NULL;
}

/* An entry's header, key and a short value: two lines at most. */
static inline void prefetch_entry_lines(const struct kv_entry *e)
{
    __builtin_prefetch(e, 1);
    __builtin_prefetch((const char *)e + 64, 1);
}

void kvt_prefetch_entry(const struct kvt *t, const struct kvt_hint *hint)
{
    for (int k = 0; k < 2; k++) {
        const struct kv_entry *e = chain_head(t, k, hint);

        if (e != NULL)
            prefetch_entry_lines(e);
    }
}

void kvt_prefetch_next(const struct kvt *t, const struct kvt_hint *hint, const void *key,
                       size_t klen)
{
    for (int k = 0; k < 2; k++) {
        const struct kv_entry *e = chain_head(t, k, hint);

        if (e != NULL && e->next != NULL && !key_eq(e, key, klen))
            prefetch_entry_lines(e->next);
    }
}

/* ---- create / destroy ---- */

struct kvt *kvt_create(uint64_t seed)
{
    struct kvt *t = mem_calloc(sizeof *t);
    if (!t)
        return NULL;
    t->used_bytes = mem_size_class(sizeof *t);
    t->seed = seed;
    t->resize_allowed = 1;
    t->ht[0].b = acct_calloc(t, KVT_MIN_BUCKETS * sizeof(struct kv_entry *));
    if (!t->ht[0].b)
        goto fail;
    t->ht[0].size = KVT_MIN_BUCKETS;
    return t;
fail:
    mem_free_sized(t, sizeof *t);
    return NULL;
}

struct kvt *kvt_create_slots(uint64_t seed)
{
    struct kvt *t = kvt_create(seed);
    if (!t)
        return NULL;
    t->slots = acct_calloc(t, sizeof *t->slots);
    if (!t->slots)
        goto fail;
    t->pre = sizeof(struct kv_slotlink);
    return t;
fail:
    kvt_destroy(t);
    return NULL;
}

/* Free every entry and the volatile index; bucket arrays are left allocated
 * (and dangling). Iterative: chains can be long when resizing is off. */
static void free_entries(struct kvt *t)
{
    for (int k = 0; k < 2; k++) {
        struct kvt_ht *ht = &t->ht[k];
        for (size_t i = 0; ht->b && i < ht->size; i++) {
            struct kv_entry *e = ht->b[i];
            while (e) {
                struct kv_entry *next = e->next;
                entry_free(t, e);
                e = next;
            }
        }
        ht->used = 0;
    }
    vol_free(t);
}

void kvt_destroy(struct kvt *t)
{
    if (!t)
        return;
    free_entries(t);
    for (int k = 0; k < 2; k++)
        if (t->ht[k].b)
            acct_free(t, t->ht[k].b, t->ht[k].size * sizeof(struct kv_entry *));
    if (t->slots)
        acct_free(t, t->slots, sizeof *t->slots);
    mem_free_sized(t, sizeof *t);
}

void kvt_clear(struct kvt *t)
{
    const size_t minb = KVT_MIN_BUCKETS * sizeof(struct kv_entry *);

    free_entries(t);
    if (t->slots)
        memset(t->slots, 0, sizeof *t->slots);
    if (t->ht[1].b)
        acct_free(t, t->ht[1].b, t->ht[1].size * sizeof(struct kv_entry *));
    t->ht[1] = (struct kvt_ht){ 0 };
    t->rehash_idx = 0;
    struct kv_entry **b = t->ht[0].size == KVT_MIN_BUCKETS ? NULL : acct_calloc(t, minb);
    if (b) {
        acct_free(t, t->ht[0].b, t->ht[0].size * sizeof(struct kv_entry *));
        t->ht[0].b = b;
        t->ht[0].size = KVT_MIN_BUCKETS;
    } else {
        /* Already minimal, or no memory for a small array: reuse the old one,
         * which stays a valid (if oversized) table. */
        memset(t->ht[0].b, 0, t->ht[0].size * sizeof(struct kv_entry *));
    }
}

void kvt_swap(struct kvt *a, struct kvt *b)
{
    /* Nothing points back into struct kvt (the slot lists' first links point
     * into the separately allocated slot array), so exchanging the structs
     * moves each db whole: its seed, which its chains were hashed with, and
     * its slot index and entry prefix with it. */
    struct kvt tmp = *a;
    *a = *b;
    *b = tmp;
    /* ... but not the hooks, which watch db numbers */
    b->hook = a->hook;
    b->hook_arg = a->hook_arg;
    a->hook = tmp.hook;
    a->hook_arg = tmp.hook_arg;
}

void kvt_set_hook(struct kvt *t, kvt_hook_fn *fn, void *arg)
{
    t->hook = fn;
    t->hook_arg = fn ? arg : NULL;
}

void kvt_value_written(struct kvt *t, struct kv_entry *e)
{
    changed(t, e->data, e->klen, 1);
}

/* ---- counters ---- */

size_t kvt_count(const struct kvt *t) { return t->ht[0].used + t->ht[1].used; }
size_t kvt_volatile_count(const struct kvt *t) { return t->vn; }
size_t kvt_used_bytes(const struct kvt *t) { return t->used_bytes; }
size_t kvt_buckets(const struct kvt *t) { return t->ht[0].size + t->ht[1].size; }
int kvt_is_rehashing(const struct kvt *t) { return rehashing(t); }

/* ---- per-slot index: public face ---- */

int kvt_has_slots(const struct kvt *t) { return t->slots != NULL; }

size_t kvt_slot_count(const struct kvt *t, unsigned slot)
{
    return t->slots && slot < SLOT_COUNT ? t->slots->s[slot].count : 0;
}

struct kv_entry *kvt_slot_first(const struct kvt *t, unsigned slot)
{
    return t->slots && slot < SLOT_COUNT ? t->slots->s[slot].head : NULL;
}

struct kv_entry *kvt_slot_next(const struct kv_entry *e)
{
    return slink(e)->next;
}

/* ---- insert / update / delete ---- */

int kvt_add(struct kvt *t, const void *key, size_t klen,
            const void *val, size_t vlen, enum kv_enc enc, struct kv_entry **out)
{
    int which = 0;

    if (out)
        *out = NULL;
    if (klen > UINT32_MAX || vlen > UINT32_MAX)
        return -ENOMEM;
    rehash(t, 1);
    grow_if_needed(t);

    uint64_t h = key_hash(t, key, klen);
    struct kv_entry **pp = find_link(t, key, klen, h, &which);
    if (pp) {
        if (out)
            *out = *pp;
        return -EEXIST;
    }
    unsigned slot = 0;
    if (t->slots) {
        struct kv_entry *first;

        slot = slot_of(key, klen);
        /* The new key goes first on its slot's list, which writes the back
         * link of the entry first until now: an old entry, rarely cached.
         * Fetch it while the new entry is allocated and filled. */
        first = t->slots->s[slot].head;
        if (first)
            __builtin_prefetch(slink(first), 1);
    }
    struct kv_entry *e = entry_alloc(t, entry_bytes(t, klen, vlen));
    if (!e)
        return -ENOMEM;
    e->expire = KV_NO_EXPIRE;
    e->meta = t->slots ? META_SLOTLINK : 0;
    set_enc(e, enc);
    e->vidx = 0;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    if (klen)
        memcpy(e->data, key, klen);
    if (vlen)
        memcpy(e->data + klen, val, vlen);
    link_new(t, e, h);
    if (t->slots)
        slot_link(t, e, slot);
    if (out)
        *out = e;
    changed(t, e->data, klen, 1);
    return 0;
}

struct kv_entry *kvt_set_value(struct kvt *t, struct kv_entry *e,
                               const void *val, size_t vlen, enum kv_enc enc)
{
    int which = 0;

    if (vlen > UINT32_MAX)
        return NULL;
    size_t old = entry_bytes(t, e->klen, e->vlen), req = entry_bytes(t, e->klen, vlen);
    /* Same length, same size class: skips two nallocx calls (~80
     * instructions a SET overwriting a value of the same length, callgrind). */
    if (old == req || mem_size_class(old) == mem_size_class(req)) {
        move_value(e->data + e->klen, val, vlen);
        e->vlen = (uint32_t)vlen;
        set_enc(e, enc);
        changed(t, e->data, e->klen, 1);
        return e;
    }
    /* A fresh block rather than realloc: realloc would copy the old value only
     * for it to be overwritten. */
    struct kv_entry *ne = entry_alloc(t, req);
    if (!ne)
        return NULL;
    /* From the allocation's start: the slot link moves with the entry. */
    memcpy((char *)ne - t->pre, (char *)e - t->pre, t->pre + sizeof *ne + e->klen);
    if (vlen)
        memcpy(ne->data + ne->klen, val, vlen);
    ne->vlen = (uint32_t)vlen;
    set_enc(ne, enc);
    relink_moved(t, entry_link(t, e, &which), ne);
    entry_free_n(t, e, old);
    changed(t, ne->data, ne->klen, 1);
    return ne;
}

struct kv_entry *kvt_resize_value(struct kvt *t, struct kv_entry *e, size_t vlen)
{
    int which = 0;

    if (vlen > UINT32_MAX)
        return NULL;
    size_t oldv = e->vlen;
    size_t old = entry_bytes(t, e->klen, oldv), req = entry_bytes(t, e->klen, vlen);
    if (mem_size_class(old) != mem_size_class(req)) {
        /* The link lives in a bucket array or another entry, never in e, so
         * it stays valid across the realloc; so do the slot neighbours'. */
        struct kv_entry **pp = entry_link(t, e, &which);
        struct kv_entry *ne = entry_realloc(t, e, old, req);
        if (!ne)
            return NULL;
        relink_moved(t, pp, ne);
        e = ne;
    }
    if (vlen > oldv)
        memset(e->data + e->klen + oldv, 0, vlen - oldv);
    e->vlen = (uint32_t)vlen;
    changed(t, e->data, e->klen, 1);
    return e;
}

int kvt_set_expire(struct kvt *t, struct kv_entry *e, int64_t ms)
{
    int had = e->expire != KV_NO_EXPIRE;

    if (ms == KV_NO_EXPIRE) {
        if (had)
            vol_remove(t, e);
    } else if (!had) {
        int r = vol_add(t, e);
        if (r)
            return r;
    }
    e->expire = ms;
    changed(t, e->data, e->klen, 1);
    return 0;
}

static void unlink_free(struct kvt *t, struct kv_entry **pp, int which)
{
    struct kv_entry *e = *pp;
    *pp = e->next;
    t->ht[which].used--;
    if (e->expire != KV_NO_EXPIRE)
        vol_remove(t, e);
    if (t->slots)
        slot_unlink(t, e, slot_of(e->data, e->klen));
    changed(t, e->data, e->klen, 0);
    entry_free(t, e);
    /* Shrinking here, not only from the cron, bounds memory and keeps
     * kvt_random's empty-bucket probing short even when no cron runs. */
    shrink_if_needed(t);
}

int kvt_delete(struct kvt *t, const void *key, size_t klen)
{
    int which = 0;
    rehash(t, 1);
    struct kv_entry **pp = find_link(t, key, klen, key_hash(t, key, klen), &which);
    if (!pp)
        return 0;
    unlink_free(t, pp, which);
    return 1;
}

void kvt_delete_entry(struct kvt *t, struct kv_entry *e)
{
    int which = 0;
    rehash(t, 1);
    struct kv_entry **pp = entry_link(t, e, &which);
    if (pp)
        unlink_free(t, pp, which);
}

/* newkey must not point into e. */
struct kv_entry *kvt_rename(struct kvt *t, struct kv_entry *e,
                            const void *newkey, size_t newklen)
{
    int which = 0, wdst = 0;

    if (newklen > UINT32_MAX)
        return NULL;
    if (key_eq(e, newkey, newklen))
        return e;
    uint64_t h = key_hash(t, newkey, newklen);
    if (find_link(t, newkey, newklen, h, &wdst))
        return NULL;

    size_t vlen = e->vlen;
    size_t old = entry_bytes(t, e->klen, vlen), req = entry_bytes(t, newklen, vlen);
    struct kv_entry **pp = entry_link(t, e, &which);
    struct kv_entry *ne;
    /* The key may change slot (outside cluster mode's same-slot rule, or a
     * caller's own use): leave the old slot's list, join the new one. */
    unsigned oslot = t->slots ? slot_of(e->data, e->klen) : 0;

    if (mem_size_class(old) == mem_size_class(req)) {
        *pp = e->next;
        t->ht[which].used--;
        if (t->slots)
            slot_unlink(t, e, oslot);
        changed(t, e->data, e->klen, 0);
        if (vlen)
            memmove(e->data + newklen, e->data + e->klen, vlen);
        ne = e;
    } else {
        ne = entry_alloc(t, req);
        if (!ne)
            return NULL;
        memcpy(ne, e, sizeof *ne);
        if (vlen)
            memcpy(ne->data + newklen, e->data + e->klen, vlen);
        *pp = e->next;
        t->ht[which].used--;
        if (ne->expire != KV_NO_EXPIRE)
            *vol_slot(t, ne->vidx) = ne;
        if (t->slots)
            slot_unlink(t, e, oslot);
        changed(t, e->data, e->klen, 0);
        entry_free_n(t, e, old);
    }
    if (newklen)
        memcpy(ne->data, newkey, newklen);
    ne->klen = (uint32_t)newklen;
    link_new(t, ne, h);
    if (t->slots)
        slot_link(t, ne, slot_of(newkey, newklen));
    changed(t, ne->data, ne->klen, 1);
    return ne;
}

/* ---- sampling ---- */

struct kv_entry *kvt_random(struct kvt *t, uint64_t *rng)
{
    struct kv_entry *head;

    if (kvt_count(t) == 0)
        return NULL;
    rehash(t, 1);
    /* Expected probes: buckets / keys, at most 10 while shrinking is allowed. */
    do {
        if (rehashing(t)) {
            /* ht[0] below rehash_idx is empty: draw from the rest of ht[0]
             * and all of ht[1]. */
            size_t s0 = t->ht[0].size;
            size_t span = s0 - t->rehash_idx + t->ht[1].size;
            size_t i = t->rehash_idx + rng_below(rng, span);
            head = i < s0 ? t->ht[0].b[i] : t->ht[1].b[i - s0];
        } else {
            head = t->ht[0].b[rng_below(rng, t->ht[0].size)];
        }
    } while (!head);

    size_t len = 0;
    for (struct kv_entry *e = head; e; e = e->next)
        len++;
    for (size_t k = rng_below(rng, len); k; k--)
        head = head->next;
    return head;
}

struct kv_entry *kvt_random_volatile(struct kvt *t, uint64_t *rng)
{
    if (t->vn == 0)
        return NULL;
    return *vol_slot(t, rng_below(rng, t->vn));
}

/* ---- SCAN ----
 *
 * The cursor is a bucket index counted with its bits reversed: incrementing
 * from the top bit down means that, for any two table sizes, the buckets a
 * small table's index expands to in a large table (same low bits, every
 * value of the high bits) are consecutive in cursor order. So cursors already
 * returned cover the same keys whichever size the table has next: growing
 * never skips, shrinking may repeat a few buckets but never skips. While
 * rehashing, a key is in the small or the large table; we visit the small
 * table's bucket and then every large-table bucket it expands to. */

static uint64_t bitrev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    return __builtin_bswap64(v);
}

/* Next cursor for a table with this mask: bits above it are forced to 1 so
 * the carry of the reversed increment runs through them and clears them. */
static uint64_t cursor_next(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    return bitrev64(bitrev64(v) + 1);
}

static void visit_chain(struct kv_entry *e, kvt_visit_fn *fn, void *arg)
{
    while (e) {
        struct kv_entry *next = e->next;
        fn(e, arg);
        e = next;
    }
}

uint64_t kvt_scan(struct kvt *t, uint64_t cursor, kvt_visit_fn *fn, void *arg)
{
    if (kvt_count(t) == 0)
        return 0;
    /* A callback that looks keys up must not move chains under us. */
    t->rehash_paused++;
    if (!rehashing(t)) {
        uint64_t m = t->ht[0].size - 1;
        visit_chain(t->ht[0].b[cursor & m], fn, arg);
        cursor = cursor_next(cursor, m);
    } else {
        const struct kvt_ht *s = &t->ht[0], *l = &t->ht[1];
        if (s->size > l->size) {
            s = &t->ht[1];
            l = &t->ht[0];
        }
        uint64_t ms = s->size - 1, ml = l->size - 1;
        visit_chain(s->b[cursor & ms], fn, arg);
        /* The bits in ml but not ms pick the expansion; stop when they wrap,
         * which has carried into (advanced) the small table's cursor. */
        do {
            visit_chain(l->b[cursor & ml], fn, arg);
            cursor = cursor_next(cursor, ml);
        } while (cursor & (ms ^ ml));
    }
    t->rehash_paused--;
    return cursor;
}
