/* test_kvt — unit tests for kv/kvt.c (cmocka).
 *
 * Black-box through kvt.h. Every test checks that the table's used_bytes is
 * exactly what it took through mem.h (mem_used delta) and that mem_used is
 * back to its starting value after kvt_destroy. Stale entry pointers (a moved
 * entry still referenced by a chain or the volatile index) show up as
 * use-after-free when built with -fsanitize=address. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../kv/kvt.h"
#include "../../kv/slot.h"
#include "../../dataplane/mem.h"

#define SEED 0x5107D5EEDull

/* ---- helpers ---- */

static int64_t mem_base;

static struct kvt *mk(void)
{
    mem_base = mem_used();
    struct kvt *t = kvt_create(SEED);
    assert_non_null(t);
    return t;
}

static void check_used(const struct kvt *t)
{
    assert_int_equal((int64_t)kvt_used_bytes(t), mem_used() - mem_base);
}

static void rm(struct kvt *t)
{
    check_used(t);
    kvt_destroy(t);
    assert_int_equal(mem_used(), mem_base);
}

static size_t mkkey(char *buf, const char *prefix, unsigned id)
{
    return (size_t)sprintf(buf, "%s%u", prefix, id);
}

/* Id of a key made by mkkey with a one-character prefix. */
static unsigned key_id(const struct kv_entry *e)
{
    const char *k = kv_key(e);
    unsigned id = 0;
    for (size_t i = 1; i < kv_klen(e); i++)
        id = id * 10 + (unsigned)(k[i] - '0');
    return id;
}

/* Value derived from the id so a lookup can be checked without a model. */
static size_t mkval(char *buf, unsigned id)
{
    size_t n = id % 40;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (id + i) % 26);
    return n;
}

static struct kv_entry *add_id(struct kvt *t, unsigned id)
{
    char k[32], v[64];
    struct kv_entry *e;
    size_t kl = mkkey(k, "k", id), vl = mkval(v, id);
    assert_int_equal(kvt_add(t, k, kl, v, vl, KV_ENC_RAW, &e), 0);
    return e;
}

static struct kv_entry *find_id(struct kvt *t, unsigned id)
{
    char k[32];
    size_t kl = mkkey(k, "k", id);
    return kvt_find(t, k, kl);
}

static void check_id(struct kvt *t, unsigned id)
{
    char v[64];
    struct kv_entry *e = find_id(t, id);
    assert_non_null(e);
    assert_int_equal(key_id(e), id);
    size_t vl = mkval(v, id);
    assert_int_equal(kv_vlen(e), vl);
    assert_memory_equal(kv_val(e), v, vl);
}

static int del_id(struct kvt *t, unsigned id)
{
    char k[32];
    size_t kl = mkkey(k, "k", id);
    return kvt_delete(t, k, kl);
}

static void finish_rehash(struct kvt *t)
{
    while (kvt_rehash_step(t, 100))
        ;
    assert_false(kvt_is_rehashing(t));
}

/* Keys "k0".. until the table is in the middle of a rehash: their count. */
static unsigned fill_into_rehash(struct kvt *t)
{
    unsigned n = 0;

    while (n < 4096)
        add_id(t, n++);
    finish_rehash(t);
    while (!kvt_is_rehashing(t))
        add_id(t, n++);
    return n;
}

static int is_pow2(size_t n) { return n && !(n & (n - 1)); }

/* ---- boundaries first ---- */

static void count_visit(struct kv_entry *e, void *arg)
{
    (void)e;
    (*(size_t *)arg)++;
}

static void test_empty_table(void **state)
{
    (void)state;
    struct kvt *t = mk();
    uint64_t rng = 1;
    size_t n = 0;

    assert_int_equal(kvt_count(t), 0);
    assert_int_equal(kvt_buckets(t), 4);
    assert_false(kvt_is_rehashing(t));
    assert_null(kvt_find(t, "x", 1));
    assert_int_equal(kvt_delete(t, "x", 1), 0);
    assert_null(kvt_random(t, &rng));
    assert_null(kvt_random_volatile(t, &rng));
    assert_int_equal(kvt_scan(t, 0, count_visit, &n), 0);
    assert_int_equal(kvt_scan(t, UINT64_MAX, count_visit, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kvt_rehash_step(t, 1), 0);
    assert_int_equal(kvt_buckets(t), 4);   /* never shrinks below 4 */
    rm(t);
}

static void test_entry_basics(void **state)
{
    (void)state;
    struct kvt *t = mk();
    struct kv_entry *e, *dup;

    /* Empty key and empty value are legal (SET "" ""). */
    assert_int_equal(kvt_add(t, "", 0, NULL, 0, KV_ENC_EMBSTR, &e), 0);
    assert_ptr_equal(kvt_find(t, "", 0), e);
    assert_int_equal(kv_klen(e), 0);
    assert_int_equal(kv_vlen(e), 0);
    assert_int_equal(kv_mem(e), 32);
    assert_int_equal(kv_enc(e), KV_ENC_EMBSTR);
    assert_int_equal(kv_type(e), KV_TYPE_STRING);
    assert_int_equal(kv_expire(e), KV_NO_EXPIRE);
    assert_int_equal(kv_lru(e), 0);

    /* LRU is 24 bits; enc and lru do not disturb each other. */
    kv_set_lru(e, 0xFFFFFFFFu);
    assert_int_equal(kv_lru(e), 0xFFFFFF);
    assert_int_equal(kv_enc(e), KV_ENC_EMBSTR);
    kv_set_enc(e, KV_ENC_INT);
    assert_int_equal(kv_enc(e), KV_ENC_INT);
    assert_int_equal(kv_lru(e), 0xFFFFFF);
    kv_set_lru(e, 0x123456);
    assert_int_equal(kv_lru(e), 0x123456);
    assert_int_equal(kv_enc(e), KV_ENC_INT);
    assert_int_equal(kv_type(e), KV_TYPE_STRING);

    /* Keys that differ only in length or trailing byte are distinct. */
    assert_int_equal(kvt_add(t, "a", 1, "1", 1, KV_ENC_RAW, NULL), 0);
    assert_int_equal(kvt_add(t, "a\0", 2, "2", 1, KV_ENC_RAW, NULL), 0);
    assert_int_equal(kvt_add(t, "a", 1, "3", 1, KV_ENC_RAW, &dup), -EEXIST);
    assert_ptr_equal(dup, kvt_find(t, "a", 1));
    assert_memory_equal(kv_val(dup), "1", 1);
    assert_memory_equal(kv_val(kvt_find(t, "a\0", 2)), "2", 1);
    assert_int_equal(kvt_count(t), 3);

    /* TTL boundaries: 0 and INT64_MAX are TTLs; only KV_NO_EXPIRE clears. */
    assert_int_equal(kvt_set_expire(t, e, 0), 0);
    assert_int_equal(kv_expire(e), 0);
    assert_int_equal(kvt_volatile_count(t), 1);
    assert_int_equal(kvt_set_expire(t, e, INT64_MAX), 0);
    assert_int_equal(kvt_volatile_count(t), 1);
    assert_int_equal(kvt_set_expire(t, e, KV_NO_EXPIRE), 0);
    assert_int_equal(kvt_volatile_count(t), 0);
    assert_int_equal(kvt_set_expire(t, e, KV_NO_EXPIRE), 0);
    assert_int_equal(kvt_volatile_count(t), 0);

    check_used(t);
    kvt_delete_entry(t, e);
    assert_null(kvt_find(t, "", 0));
    assert_int_equal(kvt_count(t), 2);
    rm(t);
}

static void test_size_class(void **state)
{
    (void)state;
    struct kvt *t = mk();
    struct kv_entry *e;

    assert_int_equal(kvt_add(t, "0123456789abcdef", 16, "0123456789ABCDEF", 16,
                             KV_ENC_EMBSTR, &e), 0);
    assert_int_equal(kv_mem(e), 64);
    assert_int_equal(kvt_add(t, "0123456789abcdeg", 16, "0123456789ABCDEFG", 17,
                             KV_ENC_EMBSTR, &e), 0);
    assert_true(kv_mem(e) > 64);
    rm(t);
}

/* Cursor bits above the table's mask (left from a larger table) must not
 * break the walk: UINT64_MAX visits the last bucket and wraps to 0. */
static void test_scan_cursor_wrap(void **state)
{
    (void)state;
    struct kvt *t = mk();
    size_t n = 0;

    for (unsigned i = 0; i < 3; i++)
        add_id(t, i);
    assert_int_equal(kvt_buckets(t), 4);
    assert_int_equal(kvt_scan(t, UINT64_MAX, count_visit, &n), 0);
    /* A full scan from 0 takes exactly 4 calls on 4 buckets. */
    uint64_t c = 0;
    unsigned calls = 0;
    n = 0;
    do {
        c = kvt_scan(t, c, count_visit, &n);
        calls++;
    } while (c);
    assert_int_equal(calls, 4);
    assert_int_equal(n, 3);
    rm(t);
}

/* ---- bulk ---- */

static void test_add_find_delete_100k(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 100000;

    for (unsigned i = 0; i < N; i++)
        add_id(t, i);
    assert_int_equal(kvt_count(t), N);
    for (unsigned i = 0; i < N; i++)
        check_id(t, i);
    assert_null(find_id(t, N));
    check_used(t);

    /* Re-adding any key fails with the existing entry. */
    for (unsigned i = 0; i < N; i += 997) {
        char k[32];
        struct kv_entry *old;
        size_t kl = mkkey(k, "k", i);
        assert_int_equal(kvt_add(t, k, kl, "z", 1, KV_ENC_RAW, &old), -EEXIST);
        assert_ptr_equal(old, find_id(t, i));
    }
    assert_int_equal(kvt_count(t), N);

    for (unsigned i = 0; i < N; i += 2)
        assert_int_equal(del_id(t, i), 1);
    assert_int_equal(kvt_count(t), N / 2);
    for (unsigned i = 0; i < N; i++) {
        if (i % 2)
            check_id(t, i);
        else
            assert_null(find_id(t, i));
    }
    for (unsigned i = 0; i < N; i += 2)
        assert_int_equal(del_id(t, i), 0);
    for (unsigned i = 1; i < N; i += 2)
        assert_int_equal(del_id(t, i), 1);
    assert_int_equal(kvt_count(t), 0);
    check_used(t);
    rm(t);
}

static void test_grow_shrink_interleaved(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 50000;
    unsigned seen_rehash = 0;
    size_t max_buckets = 0;

    for (unsigned i = 0; i < N; i++) {
        add_id(t, i);
        if (i % 7 == 0)
            kvt_rehash_step(t, 1);
        if (kvt_is_rehashing(t)) {
            seen_rehash++;
            if (i % 13 == 0)   /* lookups while split over two tables */
                check_id(t, i / 2);
        }
        if (kvt_buckets(t) > max_buckets)
            max_buckets = kvt_buckets(t);
        if (!kvt_is_rehashing(t)) {
            assert_true(is_pow2(kvt_buckets(t)));
            assert_true(kvt_count(t) <= kvt_buckets(t));
        }
    }
    assert_true(seen_rehash > 100);
    for (unsigned i = 0; i < N; i++)
        check_id(t, i);
    finish_rehash(t);
    assert_int_equal(kvt_buckets(t), 65536);   /* 50000 keys at load <= 1 */
    check_used(t);

    /* Delete all but every 500th key, with finds and steps in between. */
    unsigned shrinking = 0;
    for (unsigned i = 0; i < N; i++) {
        if (i % 500 == 0)
            continue;
        assert_int_equal(del_id(t, i), 1);
        if (i % 5 == 0)
            kvt_rehash_step(t, 1);
        if (kvt_is_rehashing(t)) {
            shrinking++;
            check_id(t, (i / 500) * 500);
        }
    }
    assert_true(shrinking > 0);
    finish_rehash(t);
    assert_int_equal(kvt_count(t), 100);
    /* Fill is back above 10 %. */
    assert_true(kvt_buckets(t) <= 1000);
    assert_true(kvt_buckets(t) >= 128);
    for (unsigned i = 0; i < N; i++) {
        if (i % 500 == 0)
            check_id(t, i);
        else
            assert_null(find_id(t, i));
    }
    (void)max_buckets;
    check_used(t);
    rm(t);
}

/* 20000 volatile keys span five 4096-slot chunks of the volatile index;
 * deleting in a scattered order swaps entries across chunks and frees them
 * one by one. */
static void test_used_bytes_back_to_empty(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 30000, STRIDE = 7919;   /* prime, coprime with N */
    size_t empty = kvt_used_bytes(t), nvol = 0;
    uint64_t rng = 99;

    for (unsigned i = 0; i < N; i++) {
        struct kv_entry *e = add_id(t, i);
        if (i % 3 != 0) {
            assert_int_equal(kvt_set_expire(t, e, 1000 + i), 0);
            nvol++;
        }
    }
    assert_int_equal(kvt_volatile_count(t), nvol);
    assert_true(kvt_used_bytes(t) > empty);
    check_used(t);
    for (unsigned k = 0; k < N; k++) {
        unsigned id = (unsigned)(((uint64_t)k * STRIDE) % N);
        assert_int_equal(del_id(t, id), 1);
        if (id % 3 != 0)
            nvol--;
        if (k % 1000 == 0) {
            assert_int_equal(kvt_volatile_count(t), nvol);
            check_used(t);
            for (unsigned d = 0; d < 100 && nvol; d++) {
                struct kv_entry *e = kvt_random_volatile(t, &rng);
                assert_int_equal(kv_expire(e), 1000 + key_id(e));
                assert_ptr_equal(find_id(t, key_id(e)), e);
            }
        }
    }
    finish_rehash(t);
    assert_int_equal(kvt_count(t), 0);
    assert_int_equal(kvt_volatile_count(t), 0);
    assert_int_equal(kvt_buckets(t), 4);
    assert_int_equal(kvt_used_bytes(t), empty);
    check_used(t);
    rm(t);
}

/* ---- SCAN ---- */

struct seen {
    unsigned char *hit;
    unsigned cap;
    size_t calls_rehashing;
};

static void mark_visit(struct kv_entry *e, void *arg)
{
    struct seen *s = arg;
    unsigned id = key_id(e);
    assert_true(id < s->cap);
    if (s->hit[id] < 255)
        s->hit[id]++;
}

static void test_scan_stable_exactly_once(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 5000;
    struct seen s = { calloc(N, 1), N, 0 };

    for (unsigned i = 0; i < N; i++)
        add_id(t, i);
    finish_rehash(t);
    uint64_t c = 0;
    do {
        c = kvt_scan(t, c, mark_visit, &s);
    } while (c);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(s.hit[i], 1);
    free(s.hit);
    rm(t);
}

static void test_scan_during_growth(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned KEEP = 1000, CAP = 400000;
    struct seen s = { calloc(CAP, 1), CAP, 0 };
    unsigned next = KEEP;

    for (unsigned i = 0; i < KEEP; i++)
        add_id(t, i);
    size_t start_buckets = kvt_buckets(t);
    uint64_t c = 0;
    do {
        if (kvt_is_rehashing(t))
            s.calls_rehashing++;
        c = kvt_scan(t, c, mark_visit, &s);
        for (unsigned k = 0; k < 40 && next < CAP; k++)
            add_id(t, next++);
        kvt_rehash_step(t, 1);
    } while (c);
    for (unsigned i = 0; i < KEEP; i++)
        assert_true(s.hit[i] >= 1);
    /* The scan really ran across several doublings and rehashes. */
    assert_true(kvt_buckets(t) >= start_buckets * 64);
    assert_true(s.calls_rehashing > 10);
    free(s.hit);
    rm(t);
}

static void test_scan_during_shrink(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 100000;
    struct seen s = { calloc(N, 1), N, 0 };
    unsigned next_del = 0;

    for (unsigned i = 0; i < N; i++)
        add_id(t, i);
    finish_rehash(t);
    size_t start_buckets = kvt_buckets(t);
    uint64_t c = 0;
    do {
        if (kvt_is_rehashing(t))
            s.calls_rehashing++;
        c = kvt_scan(t, c, mark_visit, &s);
        for (unsigned k = 0; k < 300 && next_del < N; next_del++) {
            if (next_del % 100 == 0)   /* kept for the whole scan */
                continue;
            assert_int_equal(del_id(t, next_del), 1);
            k++;
        }
        kvt_rehash_step(t, 1);
    } while (c);
    for (unsigned i = 0; i < N; i += 100)
        assert_true(s.hit[i] >= 1);
    /* Several halvings happened under the scan (it ends mid-shrink). */
    assert_true(kvt_buckets(t) * 4 <= start_buckets);
    assert_true(s.calls_rehashing > 10);
    free(s.hit);
    rm(t);
}

/* Grow and shrink back and forth while one scan runs. */
static void test_scan_grow_then_shrink(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned KEEP = 500, CAP = 200000;
    struct seen s = { calloc(CAP, 1), CAP, 0 };
    unsigned hi = KEEP, lo = KEEP, calls = 0;

    for (unsigned i = 0; i < KEEP; i++)
        add_id(t, i);
    uint64_t c = 0;
    do {
        c = kvt_scan(t, c, mark_visit, &s);
        calls++;
        if ((calls / 300) % 2 == 0) {   /* phases of growth ... */
            for (unsigned k = 0; k < 100 && hi < CAP; k++)
                add_id(t, hi++);
        } else {                         /* ... and of shrinking */
            for (unsigned k = 0; k < 150 && lo < hi; k++)
                assert_int_equal(del_id(t, lo++), 1);
        }
        kvt_rehash_step(t, 1);
    } while (c);
    for (unsigned i = 0; i < KEEP; i++)
        assert_true(s.hit[i] >= 1);
    free(s.hit);
    rm(t);
}

/* ---- volatile index across moves ---- */

struct model {
    char name[32];
    size_t nlen;
    int live;
    int64_t expire;
    size_t vlen;
    unsigned char fill;   /* value bytes [0, flen) are fill, the rest 0 */
    size_t flen;
};

static void check_model(struct kvt *t, struct model *m, unsigned n, uint64_t *rng)
{
    size_t nvol = 0, nlive = 0;
    for (unsigned i = 0; i < n; i++) {
        struct kv_entry *e = kvt_find(t, m[i].name, m[i].nlen);
        if (!m[i].live) {
            assert_null(e);
            continue;
        }
        nlive++;
        assert_non_null(e);
        assert_int_equal(kv_expire(e), m[i].expire);
        assert_int_equal(kv_vlen(e), m[i].vlen);
        for (size_t b = 0; b < m[i].vlen; b++)
            assert_int_equal((unsigned char)kv_val(e)[b], b < m[i].flen ? m[i].fill : 0);
        if (m[i].expire != KV_NO_EXPIRE)
            nvol++;
    }
    assert_int_equal(kvt_count(t), nlive);
    assert_int_equal(kvt_volatile_count(t), nvol);

    /* Every drawn entry is live (ASan would flag a stale slot) and volatile;
     * every volatile key comes up. */
    unsigned char *hit = calloc(n, 1);
    size_t distinct = 0;
    for (size_t d = 0; d < nvol * 40; d++) {
        struct kv_entry *e = kvt_random_volatile(t, rng);
        assert_non_null(e);
        assert_true(kv_expire(e) != KV_NO_EXPIRE);
        assert_ptr_equal(kvt_find(t, kv_key(e), kv_klen(e)), e);
        unsigned id = (unsigned)kv_lru(e);   /* the test stores the model index there */
        assert_true(id < n);
        if (!hit[id]++)
            distinct++;
    }
    assert_int_equal(distinct, nvol);
    free(hit);
    check_used(t);
}

static void test_volatile_across_moves(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 3000;
    struct model *m = calloc(N, sizeof *m);
    uint64_t rng = 42;
    char buf[5000];

    for (unsigned i = 0; i < N; i++) {
        struct kv_entry *e;
        m[i].nlen = mkkey(m[i].name, "k", i);
        m[i].vlen = m[i].flen = 16;
        m[i].fill = 'a';
        memset(buf, 'a', m[i].vlen);
        assert_int_equal(kvt_add(t, m[i].name, m[i].nlen, buf, m[i].vlen,
                                 KV_ENC_RAW, &e), 0);
        kv_set_lru(e, i);
        m[i].live = 1;
        m[i].expire = KV_NO_EXPIRE;
        if (i % 3 == 0) {
            m[i].expire = 1000 + i;
            assert_int_equal(kvt_set_expire(t, e, m[i].expire), 0);
        }
    }
    check_model(t, m, N, &rng);

    static const size_t sizes[] = { 0, 1, 16, 17, 33, 100, 700, 4000, 8, 16 };
    for (unsigned round = 0; round < 12; round++) {
        for (unsigned i = round % 5; i < N; i += 5) {
            if (!m[i].live)
                continue;
            struct kv_entry *e = kvt_find(t, m[i].name, m[i].nlen);
            size_t nv = sizes[(i + round) % 10];
            switch ((i / 5 + round) % 6) {
            case 0:   /* replace: in place or moved */
                memset(buf, 'A' + round, nv);
                e = kvt_set_value(t, e, buf, nv, KV_ENC_RAW);
                assert_non_null(e);
                m[i].vlen = m[i].flen = nv;
                m[i].fill = (unsigned char)('A' + round);
                break;
            case 1:   /* resize: keeps the prefix, zero-fills the rest */
                e = kvt_resize_value(t, e, nv);
                assert_non_null(e);
                if (nv < m[i].flen)
                    m[i].flen = nv;
                m[i].vlen = nv;
                break;
            case 2: { /* rename: to a longer or shorter name */
                char nn[32];
                size_t nl = (size_t)sprintf(nn, "%c%u", round % 2 ? 'r' : 'R', i);
                if (round % 3 == 0)
                    nl = (size_t)sprintf(nn, "renamed-long-name-%u-%u", round, i);
                e = kvt_rename(t, e, nn, nl);
                assert_non_null(e);
                memcpy(m[i].name, nn, nl + 1);
                m[i].nlen = nl;
                break;
            }
            case 3:   /* toggle the TTL */
                m[i].expire = m[i].expire == KV_NO_EXPIRE ? 5000 + round : KV_NO_EXPIRE;
                assert_int_equal(kvt_set_expire(t, e, m[i].expire), 0);
                break;
            case 4:   /* delete some, volatile ones included */
                if (i % 7 == 0) {
                    kvt_delete_entry(t, e);
                    m[i].live = 0;
                    e = NULL;
                }
                break;
            default:  /* change the TTL value: no index change */
                if (m[i].expire != KV_NO_EXPIRE) {
                    m[i].expire += 1;
                    assert_int_equal(kvt_set_expire(t, e, m[i].expire), 0);
                }
                break;
            }
            if (e)
                assert_int_equal(kv_lru(e), i);   /* LRU survives moves */
        }
        check_model(t, m, N, &rng);
    }
    free(m);
    rm(t);
}

static void test_value_ops(void **state)
{
    (void)state;
    struct kvt *t = mk();
    struct kv_entry *e, *o;
    char big[300];

    assert_int_equal(kvt_add(t, "key", 3, "hello", 5, KV_ENC_EMBSTR, &e), 0);
    kv_set_lru(e, 77);
    assert_int_equal(kvt_set_expire(t, e, 123), 0);

    /* Same size class: updated in place. */
    o = e;
    e = kvt_set_value(t, e, "HELLO!", 6, KV_ENC_RAW);
    assert_ptr_equal(e, o);
    assert_int_equal(kv_vlen(e), 6);
    assert_memory_equal(kv_val(e), "HELLO!", 6);
    assert_int_equal(kv_enc(e), KV_ENC_RAW);

    /* Value taken from the entry's own bytes. */
    e = kvt_set_value(t, e, kv_val(e) + 1, 4, KV_ENC_EMBSTR);
    assert_memory_equal(kv_val(e), "ELLO", 4);

    /* Larger class: moves, keeps key, TTL, LRU. */
    memset(big, 'x', sizeof big);
    e = kvt_set_value(t, e, big, sizeof big, KV_ENC_RAW);
    assert_non_null(e);
    assert_ptr_equal(kvt_find(t, "key", 3), e);
    assert_int_equal(kv_expire(e), 123);
    assert_int_equal(kv_lru(e), 77);
    assert_int_equal(kv_mem(e), 384);   /* 32 + 3 + 300 = 335 -> 384 class */
    assert_ptr_equal(kvt_random_volatile(t, &(uint64_t){ 9 }), e);

    /* Resize: prefix kept, growth zero-filled, down to 0 and back. */
    e = kvt_resize_value(t, e, 2);
    assert_memory_equal(kv_val(e), "xx", 2);
    e = kvt_resize_value(t, e, 1000);
    assert_int_equal(kv_vlen(e), 1000);
    assert_memory_equal(kv_val(e), "xx", 2);
    for (size_t i = 2; i < 1000; i++)
        assert_int_equal(kv_val(e)[i], 0);
    e = kvt_resize_value(t, e, 0);
    assert_int_equal(kv_vlen(e), 0);
    e = kvt_resize_value(t, e, 3);
    assert_memory_equal(kv_val(e), "\0\0\0", 3);
    assert_ptr_equal(kvt_random_volatile(t, &(uint64_t){ 9 }), e);
    assert_int_equal(kv_expire(e), 123);
    assert_int_equal(kv_lru(e), 77);
    check_used(t);
    rm(t);
}

/* Keys of every length up to 40 (the short compares cover 0..16 by size
 * class), each present, and a probe differing in one byte at every position,
 * or one byte longer or shorter, must miss; binary bytes included. */
static void test_find_key_lengths(void **state)
{
    (void)state;
    struct kvt *t = mk();
    char k[41], probe[42];

    for (size_t n = 0; n <= 40; n++) {
        struct kv_entry *e;

        for (size_t i = 0; i < n; i++)
            k[i] = (char)(i * 37 + n);   /* NULs and high bytes too */
        assert_int_equal(kvt_add(t, k, n, "v", 1, KV_ENC_RAW, &e), 0);
    }
    for (size_t n = 0; n <= 40; n++) {
        struct kv_entry *e;

        for (size_t i = 0; i < n; i++)
            k[i] = (char)(i * 37 + n);
        e = kvt_find(t, k, n);
        assert_non_null(e);
        assert_int_equal(kv_klen(e), n);
        assert_memory_equal(kv_key(e), k, n);
        for (size_t i = 0; i < n; i++) {
            memcpy(probe, k, n);
            probe[i] ^= 0x40;
            assert_null(kvt_find(t, probe, n));
            probe[i] ^= 0x40 ^ 0x01;
            assert_null(kvt_find(t, probe, n));
        }
        /* the same bytes as a longer key that exists only at n + 1's pattern */
        memcpy(probe, k, n);
        probe[n] = 'z';
        assert_null(kvt_find(t, probe, n + 1));
    }
    check_used(t);
    rm(t);
}

/* Same-length overwrites stay in place, also when the new value is a slice
 * of the old one shifted by one byte either way (8..16 bytes are moved as
 * two words loaded before any store). */
static void test_set_value_same_length_overlap(void **state)
{
    (void)state;
    struct kvt *t = mk();
    struct kv_entry *e, *o;
    char v[64], want[64];

    for (size_t n = 1; n <= 24; n++) {
        for (size_t i = 0; i < n + 1; i++)
            v[i] = (char)('a' + i);
        assert_int_equal(kvt_add(t, "k", 1, v, n + 1, KV_ENC_RAW, &e), 0);
        /* shrink by one to n, source one byte in: a forward overlap */
        memcpy(want, kv_val(e) + 1, n);
        e = kvt_set_value(t, e, kv_val(e) + 1, n, KV_ENC_RAW);
        assert_memory_equal(kv_val(e), want, n);
        /* same length n, the same bytes: in place */
        o = e;
        memcpy(want, kv_val(e), n);
        e = kvt_set_value(t, e, kv_val(e), n, KV_ENC_EMBSTR);
        assert_ptr_equal(e, o);
        assert_int_equal(kv_enc(e), KV_ENC_EMBSTR);
        assert_memory_equal(kv_val(e), want, n);
        /* same length from a fresh buffer */
        for (size_t i = 0; i < n; i++)
            v[i] = (char)('A' + i);
        e = kvt_set_value(t, e, v, n, KV_ENC_RAW);
        assert_ptr_equal(e, o);
        assert_int_equal(kv_vlen(e), n);
        assert_memory_equal(kv_val(e), v, n);
        assert_int_equal(kvt_delete(t, "k", 1), 1);
    }
    check_used(t);
    rm(t);
}

static void test_rename(void **state)
{
    (void)state;
    struct kvt *t = mk();
    struct kv_entry *a, *b, *r;

    assert_int_equal(kvt_add(t, "a", 1, "va", 2, KV_ENC_RAW, &a), 0);
    assert_int_equal(kvt_add(t, "b", 1, "vb", 2, KV_ENC_RAW, &b), 0);
    assert_int_equal(kvt_set_expire(t, a, 55), 0);
    kv_set_lru(a, 5);
    size_t used = kvt_used_bytes(t);

    /* Destination exists: refused, nothing changed. */
    assert_null(kvt_rename(t, a, "b", 1));
    assert_ptr_equal(kvt_find(t, "a", 1), a);
    assert_ptr_equal(kvt_find(t, "b", 1), b);
    assert_int_equal(kvt_used_bytes(t), used);

    /* Onto itself: a no-op. */
    assert_ptr_equal(kvt_rename(t, a, "a", 1), a);

    /* Same class, different length: in place. */
    r = kvt_rename(t, a, "aaaa", 4);
    assert_ptr_equal(r, a);
    assert_null(kvt_find(t, "a", 1));
    assert_ptr_equal(kvt_find(t, "aaaa", 4), r);
    assert_memory_equal(kv_val(r), "va", 2);

    /* Larger class: moves, TTL/LRU/volatile slot follow. */
    char longname[100];
    memset(longname, 'n', sizeof longname);
    r = kvt_rename(t, r, longname, sizeof longname);
    assert_non_null(r);
    assert_null(kvt_find(t, "aaaa", 4));
    assert_ptr_equal(kvt_find(t, longname, sizeof longname), r);
    assert_memory_equal(kv_val(r), "va", 2);
    assert_int_equal(kv_expire(r), 55);
    assert_int_equal(kv_lru(r), 5);
    assert_ptr_equal(kvt_random_volatile(t, &(uint64_t){ 3 }), r);

    /* Empty name both ways. */
    r = kvt_rename(t, r, "", 0);
    assert_ptr_equal(kvt_find(t, "", 0), r);
    r = kvt_rename(t, r, "z", 1);
    assert_ptr_equal(kvt_find(t, "z", 1), r);
    assert_int_equal(kvt_count(t), 2);
    assert_int_equal(kvt_volatile_count(t), 1);
    rm(t);
}

/* Renames during a rehash land in the table new keys go to. */
static void test_rename_while_rehashing(void **state)
{
    (void)state;
    struct kvt *t = mk();
    char k[40];

    unsigned n = fill_into_rehash(t);
    unsigned renamed = 0;
    for (unsigned i = 0; i < n && kvt_is_rehashing(t); i += 3) {
        struct kv_entry *e = find_id(t, i);
        assert_non_null(e);
        size_t kl = mkkey(k, i % 2 ? "x" : "long-renamed-key-", i);
        assert_non_null(kvt_rename(t, e, k, kl));
        renamed++;
    }
    assert_true(renamed > 10);
    finish_rehash(t);
    assert_int_equal(kvt_count(t), n);
    check_used(t);
    rm(t);
}

/* ---- cache warming ---- */

/* A hint finds what kvt_find finds, across growth and a rehash in progress;
 * a hint from a table of another seed (SWAPDB moves seeds) is ignored, not
 * trusted; prefetching (every step) an empty table or a missing key is
 * harmless (the sanitizer build runs this too). */
static void test_prefetch_hints(void **state)
{
    (void)state;
    struct kvt *t = mk();
    struct kvt *other = kvt_create(SEED + 1);
    struct kvt_hint h, ho;
    char k[32];
    size_t kl = mkkey(k, "k", 7);

    assert_non_null(other);
    kvt_prefetch_bucket(t, k, kl, &h);
    kvt_prefetch_entry(t, &h);
    kvt_prefetch_next(t, &h, k, kl);
    assert_null(kvt_find_hinted(t, k, kl, &h));
    unsigned n = fill_into_rehash(t);
    for (unsigned i = 0; i < n + 100; i++) {
        kl = mkkey(k, "k", i);
        kvt_prefetch_bucket(t, k, kl, &h);
        kvt_prefetch_entry(t, &h);
        kvt_prefetch_next(t, &h, k, kl);   /* chains of both tables, keys first or not */
        kvt_prefetch_bucket(other, k, kl, &ho);
        kvt_prefetch_next(other, &ho, k, kl);
        assert_ptr_equal(kvt_find_hinted(t, k, kl, &h), kvt_find(t, k, kl));
        assert_ptr_equal(kvt_find_hinted(t, k, kl, &ho), kvt_find(t, k, kl));
        if (i < n)
            assert_non_null(kvt_find_hinted(t, k, kl, &ho));
    }
    /* after a swap the old hint belongs to the other table's seed */
    kl = mkkey(k, "k", 3);
    kvt_prefetch_bucket(t, k, kl, &h);
    kvt_swap(t, other);
    assert_null(kvt_find_hinted(t, k, kl, &h));
    assert_non_null(kvt_find_hinted(other, k, kl, &h));
    kvt_swap(t, other);
    kvt_destroy(other);
    rm(t);
}

/* ---- sampling ---- */

static void test_random_coverage(void **state)
{
    (void)state;
    struct kvt *t = mk();
    const unsigned N = 1000;
    unsigned char hit[1000] = { 0 }, vhit[1000] = { 0 };
    uint64_t rng = 7;

    for (unsigned i = 0; i < N; i++) {
        struct kv_entry *e = add_id(t, i);
        if (i % 4 == 0)
            assert_int_equal(kvt_set_expire(t, e, i), 0);
    }
    finish_rehash(t);
    unsigned distinct = 0, vdistinct = 0;
    for (unsigned d = 0; d < 200000; d++) {
        struct kv_entry *e = kvt_random(t, &rng);
        assert_non_null(e);
        unsigned id = key_id(e);
        assert_true(id < N);
        if (!hit[id]++)
            distinct++;
        if (hit[id] == 255)
            hit[id] = 254;
        e = kvt_random_volatile(t, &rng);
        assert_non_null(e);
        id = key_id(e);
        assert_int_equal(id % 4, 0);
        if (!vhit[id]++)
            vdistinct++;
        if (vhit[id] == 255)
            vhit[id] = 254;
    }
    assert_int_equal(distinct, N);
    assert_int_equal(vdistinct, N / 4);

    /* While rehashing, draws come from both tables and are live. */
    for (unsigned i = N; i < 2 * N; i++)
        add_id(t, i);
    finish_rehash(t);
    for (unsigned i = 2 * N; !kvt_is_rehashing(t); i++)
        add_id(t, i);
    assert_true(kvt_is_rehashing(t));
    for (unsigned d = 0; d < 50 && kvt_is_rehashing(t); d++) {
        struct kv_entry *e = kvt_random(t, &rng);
        assert_ptr_equal(find_id(t, key_id(e)), e);
    }
    /* A zero rng state must not get stuck. */
    rng = 0;
    assert_non_null(kvt_random(t, &rng));
    assert_true(rng != 0);
    rm(t);
}

/* ---- whole-table operations ---- */

static void test_clear_and_swap(void **state)
{
    (void)state;
    struct kvt *a = mk();
    int64_t base = mem_base;
    struct kvt *b = kvt_create(SEED + 1);   /* another seed: swap must carry it */
    assert_non_null(b);
    size_t empty = kvt_used_bytes(a);
    assert_int_equal(kvt_used_bytes(b), empty);

    for (unsigned i = 0; i < 3000; i++) {
        struct kv_entry *e = add_id(a, i);
        if (i % 10 == 0)
            kvt_set_expire(a, e, i);
    }
    for (unsigned i = 0; i < 10; i++)
        add_id(b, 100000 + i);
    size_t ua = kvt_used_bytes(a), ub = kvt_used_bytes(b);
    assert_int_equal((int64_t)(ua + ub), mem_used() - base);

    kvt_swap(a, b);
    assert_int_equal(kvt_count(a), 10);
    assert_int_equal(kvt_count(b), 3000);
    assert_int_equal(kvt_volatile_count(b), 300);
    assert_int_equal(kvt_used_bytes(a), ub);
    assert_int_equal(kvt_used_bytes(b), ua);
    for (unsigned i = 0; i < 3000; i++)
        check_id(b, i);
    for (unsigned i = 0; i < 10; i++)
        check_id(a, 100000 + i);

    /* Clear in the middle of a rehash; the table stays usable. */
    for (unsigned i = 3000; !kvt_is_rehashing(b); i++)
        add_id(b, i);
    assert_true(kvt_is_rehashing(b));
    kvt_clear(b);
    assert_int_equal(kvt_count(b), 0);
    assert_int_equal(kvt_volatile_count(b), 0);
    assert_int_equal(kvt_buckets(b), 4);
    assert_false(kvt_is_rehashing(b));
    assert_int_equal(kvt_used_bytes(b), empty);
    assert_null(find_id(b, 5));
    add_id(b, 5);
    check_id(b, 5);
    kvt_clear(b);
    kvt_clear(b);
    assert_int_equal(kvt_used_bytes(b), empty);
    assert_int_equal((int64_t)(kvt_used_bytes(a) + kvt_used_bytes(b)), mem_used() - base);

    kvt_destroy(b);
    kvt_destroy(a);
    kvt_destroy(NULL);
    assert_int_equal(mem_used(), base);
}

static void test_resize_disallowed(void **state)
{
    (void)state;
    struct kvt *t = mk();

    kvt_set_resize_allowed(t, 0);
    /* Only past 5 keys per bucket (Redis's forced-resize ratio) does it grow. */
    for (unsigned i = 0; i < 24; i++)
        add_id(t, i);
    assert_int_equal(kvt_buckets(t), 4);
    assert_false(kvt_is_rehashing(t));
    add_id(t, 24);
    assert_true(kvt_buckets(t) > 4);
    finish_rehash(t);
    for (unsigned i = 0; i < 25; i++)
        check_id(t, i);

    /* No shrink either, from deletes or the cron. */
    size_t nb = kvt_buckets(t);
    for (unsigned i = 1; i < 25; i++)
        assert_int_equal(del_id(t, i), 1);
    assert_int_equal(kvt_rehash_step(t, 10), 0);
    assert_int_equal(kvt_buckets(t), nb);

    kvt_set_resize_allowed(t, 1);
    kvt_rehash_step(t, 10);
    finish_rehash(t);
    assert_int_equal(kvt_buckets(t), 4);
    check_id(t, 0);
    rm(t);
}

/* ---- per-slot index (kvt_create_slots) ---- */

static struct kvt *mk_slots(void)
{
    mem_base = mem_used();
    struct kvt *t = kvt_create_slots(SEED);
    assert_non_null(t);
    return t;
}

/* Keys for the index tests: a third share 17 hash tags so some slots hold
 * long lists; the id follows the last 'k'. */
static size_t skey(char *buf, unsigned id)
{
    if (id % 3 == 0)
        return (size_t)sprintf(buf, "{g%u}k%u", id % 17, id);
    return (size_t)sprintf(buf, "k%u", id);
}

static unsigned skey_id(const struct kv_entry *e)
{
    const char *k = kv_key(e);
    size_t i = kv_klen(e);
    unsigned id = 0, mul = 1;

    while (i > 0 && k[i - 1] != 'k') {
        id += (unsigned)(k[i - 1] - '0') * mul;
        mul *= 10;
        i--;
    }
    return id;
}

static unsigned eslot(const struct kv_entry *e)
{
    return slot_of(kv_key(e), kv_klen(e));
}

/* Brute force against a model (present[id] for ids < n): each slot's list
 * holds exactly the model's keys of that slot, once each, as the pointers
 * the table finds now; counts are the lists' lengths. */
static void check_slots_model(struct kvt *t, const unsigned char *present, unsigned n)
{
    static size_t want[SLOT_COUNT];
    unsigned char *seen = calloc(n ? n : 1, 1);
    size_t total = 0;
    char k[48];

    assert_non_null(seen);
    memset(want, 0, sizeof(want));
    for (unsigned id = 0; id < n; id++)
        if (present[id]) {
            size_t kl = skey(k, id);
            want[slot_of(k, kl)]++;
            total++;
        }
    assert_int_equal(kvt_count(t), total);
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        size_t len = 0;
        assert_int_equal(kvt_slot_count(t, s), want[s]);
        for (struct kv_entry *e = kvt_slot_first(t, s); e; e = kvt_slot_next(e)) {
            unsigned id = skey_id(e);
            assert_true(++len <= want[s]);
            assert_int_equal(eslot(e), s);
            assert_true(id < n && present[id] && !seen[id]);
            seen[id] = 1;
            assert_ptr_equal(kvt_find(t, kv_key(e), kv_klen(e)), e);
        }
        assert_int_equal(len, want[s]);
    }
    free(seen);
}

/* Slot index without a model: lists against a count of the SCAN walk. */
static size_t scan_slots[SLOT_COUNT];

static void scan_slot_visit(struct kv_entry *e, void *arg)
{
    (void)arg;
    scan_slots[eslot(e)]++;
}

static void check_slots_scan(struct kvt *t)
{
    uint64_t cursor = 0;
    size_t total = 0;

    memset(scan_slots, 0, sizeof(scan_slots));
    finish_rehash(t);   /* a stable table: SCAN visits each key once */
    do
        cursor = kvt_scan(t, cursor, scan_slot_visit, NULL);
    while (cursor != 0);
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        size_t len = 0;
        for (struct kv_entry *e = kvt_slot_first(t, s); e; e = kvt_slot_next(e)) {
            assert_int_equal(eslot(e), s);
            assert_true(++len <= scan_slots[s]);
        }
        assert_int_equal(len, scan_slots[s]);
        assert_int_equal(kvt_slot_count(t, s), len);
        total += len;
    }
    assert_int_equal(total, kvt_count(t));
}

static struct kv_entry *sadd(struct kvt *t, const char *k, size_t vlen)
{
    char v[512];
    struct kv_entry *e;

    assert_true(vlen <= sizeof(v));
    memset(v, 'v', vlen);
    assert_int_equal(kvt_add(t, k, strlen(k), v, vlen, KV_ENC_RAW, &e), 0);
    return e;
}

static struct kv_entry *sfind(struct kvt *t, const char *k)
{
    return kvt_find(t, k, strlen(k));
}

/* List of a slot as entry pointers, newest first; returns the length. */
static size_t slot_list(struct kvt *t, unsigned s, struct kv_entry **out, size_t max)
{
    size_t n = 0;
    for (struct kv_entry *e = kvt_slot_first(t, s); e && n < max; e = kvt_slot_next(e))
        out[n++] = e;
    return n;
}

/* Boundaries: slots 0 and 16383, out-of-range slots, a plain table, the
 * 16-byte link in the size class (64 -> 80 for the 16+16 entry). */
static void test_slots_boundaries(void **state)
{
    (void)state;
    struct kvt *plain = mk();
    int64_t base = mem_base;
    struct kvt *t = kvt_create_slots(SEED);
    struct kv_entry *e;

    assert_non_null(t);
    assert_false(kvt_has_slots(plain));
    assert_true(kvt_has_slots(t));
    assert_int_equal(kvt_slot_count(plain, 0), 0);
    assert_null(kvt_slot_first(plain, 0));
    assert_int_equal(kvt_slot_count(t, SLOT_COUNT), 0);
    assert_null(kvt_slot_first(t, SLOT_COUNT));
    assert_null(kvt_slot_first(t, 0));

    /* "" is slot 0 (CRC 0); "{}" too... pick keys by computed slot instead. */
    char k0[32] = "", klast[32] = "";
    for (unsigned i = 0; !k0[0] || !klast[0]; i++) {
        char k[32];
        sprintf(k, "b%u", i);
        unsigned s = slot_of(k, strlen(k));
        if (s == 0 && !k0[0])
            strcpy(k0, k);
        if (s == SLOT_COUNT - 1 && !klast[0])
            strcpy(klast, k);
    }
    sadd(t, k0, 3);
    sadd(t, klast, 3);
    assert_int_equal(kvt_slot_count(t, 0), 1);
    assert_int_equal(kvt_slot_count(t, SLOT_COUNT - 1), 1);
    assert_ptr_equal(kvt_slot_first(t, 0), sfind(t, k0));
    assert_ptr_equal(kvt_slot_first(t, SLOT_COUNT - 1), sfind(t, klast));
    assert_null(kvt_slot_next(kvt_slot_first(t, 0)));

    /* The empty key is slot 0 too. */
    assert_int_equal(kvt_add(t, "", 0, "x", 1, KV_ENC_RAW, &e), 0);
    assert_int_equal(kvt_slot_count(t, 0), 2);
    assert_ptr_equal(kvt_slot_first(t, 0), e);
    assert_int_equal(kvt_delete(t, "", 0), 1);

    /* 16-byte key, 16-byte value: 64 B standalone, 80 B with the link. */
    size_t u0 = kvt_used_bytes(plain), u1 = kvt_used_bytes(t);
    assert_int_equal(kvt_add(plain, "0123456789abcdef", 16, "0123456789abcdef", 16,
                             KV_ENC_EMBSTR, &e), 0);
    assert_int_equal(kv_mem(e), 64);
    assert_int_equal(kvt_used_bytes(plain) - u0, 64);
    assert_int_equal(kvt_add(t, "0123456789abcdef", 16, "0123456789abcdef", 16,
                             KV_ENC_EMBSTR, &e), 0);
    assert_int_equal(kv_mem(e), 80);
    assert_int_equal(kvt_used_bytes(t) - u1, 80);
    assert_int_equal((int64_t)(kvt_used_bytes(plain) + kvt_used_bytes(t)), mem_used() - base);

    kvt_destroy(t);
    kvt_destroy(plain);
    assert_int_equal(mem_used(), base);
}

/* Moves keep each list's order and pointers: grow and shrink across size
 * classes with kvt_set_value and kvt_resize_value at the head, middle and
 * tail of one slot's list; expiry and delete on top. */
static void test_slots_moves(void **state)
{
    (void)state;
    struct kvt *t = mk_slots();
    const char *keys[] = { "{s}a", "{s}b", "{s}c", "{s}d" };
    struct kv_entry *l[8];
    unsigned s = slot_of("s", 1);

    for (int i = 0; i < 4; i++)
        sadd(t, keys[i], 1);
    assert_int_equal(kvt_slot_count(t, s), 4);
    assert_int_equal(slot_list(t, s, l, 8), 4);
    for (int i = 0; i < 4; i++)   /* newest first */
        assert_ptr_equal(l[i], sfind(t, keys[3 - i]));

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++) {
            size_t big = 100 + 150 * (size_t)round;
            struct kv_entry *e = sfind(t, keys[i]), *ne;
            char v[512];
            memset(v, 'a' + i, big);
            ne = kvt_set_value(t, e, v, big, KV_ENC_RAW);
            assert_non_null(ne);
            assert_true(ne != e || round > 0);
            ne = kvt_resize_value(t, ne, 3);       /* shrink: realloc */
            assert_non_null(ne);
            ne = kvt_resize_value(t, ne, big * 2);  /* grow: realloc */
            assert_non_null(ne);
            assert_ptr_equal(sfind(t, keys[i]), ne);
            assert_int_equal(slot_list(t, s, l, 8), 4);
            for (int j = 0; j < 4; j++)
                assert_ptr_equal(l[j], sfind(t, keys[3 - j]));
            check_slots_scan(t);
        }
    }

    /* TTL and deletes: middle, then head, then tail. */
    assert_int_equal(kvt_set_expire(t, sfind(t, keys[1]), 5), 0);
    kvt_delete_entry(t, sfind(t, keys[1]));
    assert_int_equal(kvt_volatile_count(t), 0);
    assert_int_equal(slot_list(t, s, l, 8), 3);
    assert_ptr_equal(l[0], sfind(t, keys[3]));
    assert_ptr_equal(l[1], sfind(t, keys[2]));
    assert_ptr_equal(l[2], sfind(t, keys[0]));
    assert_int_equal(kvt_delete(t, keys[3], 4), 1);
    assert_int_equal(kvt_delete(t, keys[0], 4), 1);
    assert_int_equal(slot_list(t, s, l, 8), 1);
    assert_ptr_equal(l[0], sfind(t, keys[2]));
    assert_int_equal(kvt_slot_count(t, s), 1);
    assert_int_equal(kvt_delete(t, keys[2], 4), 1);
    assert_int_equal(kvt_slot_count(t, s), 0);
    assert_null(kvt_slot_first(t, s));
    rm(t);
}

/* Rename leaves the old slot and joins the new one, in place and with a
 * move; renaming within a slot puts the key at the head. */
static void test_slots_rename(void **state)
{
    (void)state;
    struct kvt *t = mk_slots();
    struct kv_entry *l[4], *e;
    unsigned sa = slot_of("a", 1), sb = slot_of("b", 1);

    sadd(t, "{a}1", 10);
    sadd(t, "{a}2", 10);
    e = kvt_rename(t, sfind(t, "{a}1"), "{b}1", 4);   /* same size class */
    assert_non_null(e);
    assert_int_equal(kvt_slot_count(t, sa), 1);
    assert_int_equal(kvt_slot_count(t, sb), 1);
    assert_ptr_equal(kvt_slot_first(t, sb), e);
    /* A long name crosses the size class: a move. */
    char longk[200];
    memset(longk, 'x', sizeof(longk));
    memcpy(longk, "{a}", 3);
    e = kvt_rename(t, e, longk, sizeof(longk));
    assert_non_null(e);
    assert_int_equal(kvt_slot_count(t, sb), 0);
    assert_int_equal(kvt_slot_count(t, sa), 2);
    assert_int_equal(slot_list(t, sa, l, 4), 2);
    assert_ptr_equal(l[0], e);
    assert_ptr_equal(l[1], sfind(t, "{a}2"));
    /* Within the slot, back to a short name; the moved one rejoins at the head. */
    e = kvt_rename(t, sfind(t, "{a}2"), "{a}3", 4);
    assert_non_null(e);
    assert_int_equal(slot_list(t, sa, l, 4), 2);
    assert_ptr_equal(l[0], e);
    assert_ptr_equal(l[1], kvt_find(t, longk, sizeof(longk)));
    /* Onto an existing key: refused, nothing changed. */
    assert_null(kvt_rename(t, e, longk, sizeof(longk)));
    assert_int_equal(kvt_slot_count(t, sa), 2);
    check_slots_scan(t);
    rm(t);
}

/* Clear (also mid-rehash) empties every list; swap carries each index with
 * its table, a plain one included. */
static void test_slots_clear_swap(void **state)
{
    (void)state;
    struct kvt *a = mk_slots();
    int64_t base = mem_base;
    struct kvt *b = kvt_create_slots(SEED + 1);
    struct kvt *p = kvt_create(SEED + 2);
    size_t empty = kvt_used_bytes(a), pempty = kvt_used_bytes(p);
    char k[48];

    assert_non_null(b);
    assert_non_null(p);
    for (unsigned i = 0; i < 3000; i++) {
        sadd(a, (skey(k, i), k), i % 50);
        if (i < 100)
            sadd(b, (skey(k, 5000 + i), k), 2);
    }
    kvt_swap(a, b);
    assert_int_equal(kvt_count(a), 100);
    check_slots_scan(a);
    check_slots_scan(b);
    kvt_swap(a, p);
    assert_false(kvt_has_slots(a));
    assert_true(kvt_has_slots(p));
    check_slots_scan(p);
    sadd(a, "plain", 5);
    assert_int_equal(kvt_delete(a, "plain", 5), 1);
    assert_int_equal(kvt_delete(p, (skey(k, 5000), k), strlen(k)), 1);
    check_slots_scan(p);
    kvt_swap(a, p);

    for (unsigned i = 3000; !kvt_is_rehashing(b); i++)
        sadd(b, (skey(k, i), k), 1);
    kvt_clear(b);
    assert_int_equal(kvt_count(b), 0);
    assert_int_equal(kvt_used_bytes(b), empty);
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        assert_int_equal(kvt_slot_count(b, s), 0);
        assert_null(kvt_slot_first(b, s));
    }
    sadd(b, "{x}y", 1);
    assert_int_equal(kvt_slot_count(b, slot_of("x", 1)), 1);
    kvt_clear(b);
    assert_int_equal(kvt_used_bytes(b), empty);
    assert_int_equal(kvt_used_bytes(p), pempty);
    assert_int_equal((int64_t)(kvt_used_bytes(a) + kvt_used_bytes(b) + kvt_used_bytes(p)),
                     mem_used() - base);
    kvt_destroy(p);
    kvt_destroy(b);
    kvt_destroy(a);
    assert_int_equal(mem_used(), base);
}

/* 100k random operations (add, delete by key and by entry, value set and
 * resize across size classes, TTL set/clear, expiry-style deletes of random
 * volatile keys, renames across slots, rehash steps, resizing toggled),
 * cross-checked against the model every 2,000 operations. */
static void test_slots_random_100k(void **state)
{
    (void)state;
    enum { IDS = 3000, OPS = 100000 };
    struct kvt *t = mk_slots();
    static unsigned char present[IDS];
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    char k[48], k2[48], v[700];

    memset(present, 0, sizeof(present));
    memset(v, 'q', sizeof(v));
    for (unsigned op = 0; op < OPS; op++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned id = (unsigned)(rng % IDS), what = (unsigned)((rng >> 20) % 100);
        size_t vl = (size_t)((rng >> 32) % 600);
        size_t kl = skey(k, id);
        struct kv_entry *e = kvt_find(t, k, kl);

        assert_true((e != NULL) == present[id]);
        if (what < 30) {
            if (!e) {
                assert_int_equal(kvt_add(t, k, kl, v, vl, KV_ENC_RAW, NULL), 0);
                present[id] = 1;
            }
        } else if (what < 40) {
            assert_int_equal(kvt_delete(t, k, kl), present[id]);
            present[id] = 0;
        } else if (what < 45) {
            if (e) {
                kvt_delete_entry(t, e);
                present[id] = 0;
            }
        } else if (what < 60) {
            if (e)
                assert_non_null(kvt_set_value(t, e, v, vl, KV_ENC_RAW));
        } else if (what < 72) {
            if (e)
                assert_non_null(kvt_resize_value(t, e, vl));
        } else if (what < 80) {
            if (e)
                assert_int_equal(kvt_set_expire(t, e, (rng & 1) ? (int64_t)op : KV_NO_EXPIRE), 0);
        } else if (what < 85) {
            struct kv_entry *x = kvt_random_volatile(t, &rng);
            if (x) {
                unsigned xid = skey_id(x);
                kvt_delete_entry(t, x);
                present[xid] = 0;
            }
        } else if (what < 93) {
            unsigned to = (unsigned)((rng >> 40) % IDS);
            size_t kl2 = skey(k2, to);
            if (e && !present[to]) {
                assert_non_null(kvt_rename(t, e, k2, kl2));
                present[id] = 0;
                present[to] = 1;
            }
        } else if (what < 99) {
            kvt_rehash_step(t, 1);
        } else {
            kvt_set_resize_allowed(t, (rng >> 50) & 1);
        }
        if (op % 2000 == 0) {
            check_slots_model(t, present, IDS);
            check_used(t);
        }
    }
    kvt_set_resize_allowed(t, 1);
    check_slots_model(t, present, IDS);
    check_slots_scan(t);
    for (unsigned id = 0; id < IDS; id++)
        if (present[id]) {
            size_t kl = skey(k, id);
            assert_int_equal(kvt_delete(t, k, kl), 1);
            present[id] = 0;
        }
    check_slots_model(t, present, IDS);
    finish_rehash(t);
    rm(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_entry_basics),
        cmocka_unit_test(test_size_class),
        cmocka_unit_test(test_scan_cursor_wrap),
        cmocka_unit_test(test_add_find_delete_100k),
        cmocka_unit_test(test_grow_shrink_interleaved),
        cmocka_unit_test(test_used_bytes_back_to_empty),
        cmocka_unit_test(test_scan_stable_exactly_once),
        cmocka_unit_test(test_scan_during_growth),
        cmocka_unit_test(test_scan_during_shrink),
        cmocka_unit_test(test_scan_grow_then_shrink),
        cmocka_unit_test(test_volatile_across_moves),
        cmocka_unit_test(test_value_ops),
        cmocka_unit_test(test_find_key_lengths),
        cmocka_unit_test(test_set_value_same_length_overlap),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_rename_while_rehashing),
        cmocka_unit_test(test_prefetch_hints),
        cmocka_unit_test(test_random_coverage),
        cmocka_unit_test(test_clear_and_swap),
        cmocka_unit_test(test_resize_disallowed),
        cmocka_unit_test(test_slots_boundaries),
        cmocka_unit_test(test_slots_moves),
        cmocka_unit_test(test_slots_rename),
        cmocka_unit_test(test_slots_clear_swap),
        cmocka_unit_test(test_slots_random_100k),
    };
    slot_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
