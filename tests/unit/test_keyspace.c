/* test_keyspace — unit tests for kv/keyspace.c, kv/lfu.c and kv/cmd_object.c
 * (cmocka).
 *
 * Each test builds shards on a fresh live config and a clock the test moves by
 * hand (cmd_ctx.now_ms), and checks that mem_used() is back to its starting
 * value after the shards are destroyed. Boundaries first: the encoding limits,
 * the expiry instant (now == expire is still alive), clock wraparound. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../cluster/slotmap.h"
#include "../../dataplane/config.h"
#include "../../dataplane/mem.h"
#include "../../kv/commands.h"
#include "../../kv/evict.h"
#include "../../kv/keyspace.h"
#include "../../kv/lfu.h"
#include "../../kv/slot.h"

#define T0 1700000000000ll   /* a fixed "now" in unix ms */

/* ---- fixture ---- */

struct fx {
    struct config *cfg;
    struct shard *sh[2];
    unsigned nsh;
    struct resp_out out;
    struct cmd_ctx c;
    int64_t mem0;
};

static int setup_n(void **state, unsigned nsh)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->cfg = config_new();
    assert_non_null(f->cfg);
    config_set_live(f->cfg);
    f->mem0 = mem_used();
    f->nsh = nsh;
    for (unsigned i = 0; i < nsh; i++) {
        f->sh[i] = shard_create(i, 16, 0x1234567ull + i);
        assert_non_null(f->sh[i]);
    }
    resp_out_init(&f->out, 2);
    f->c.out = &f->out;
    f->c.view.shards = f->sh;
    f->c.view.nshards = nsh;
    f->c.view.self = 0;
    f->c.now_ms = T0;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_n(state, 1); }
static int setup2(void **state) { return setup_n(state, 2); }

static int teardown(void **state)
{
    struct fx *f = *state;

    resp_out_free(&f->out);
    for (unsigned i = 0; i < f->nsh; i++)
        shard_destroy(f->sh[i]);
    assert_int_equal(mem_used(), f->mem0);
    config_set_live(NULL);
    config_free(f->cfg);
    free(f);
    return 0;
}

static struct slice S(const char *s)
{
    struct slice x = { s, strlen(s) };
    return x;
}

static struct kv_entry *set(struct fx *f, const char *k, const char *v)
{
    struct slice key = S(k);
    struct kv_entry *e = ks_set_string(&f->c, &key, v, strlen(v), 0);

    assert_non_null(e);
    return e;
}

static struct kv_entry *get(struct fx *f, const char *k)
{
    struct slice key = S(k);
    return ks_lookup_read(&f->c, &key);
}

static size_t keys_in(struct shard *s)
{
    size_t n = 0;
    for (unsigned i = 0; i < s->ndbs; i++)
        n += kvt_count(s->db[i]);
    return n;
}

/* Run a command handler with argv from words; returns the reply as a string
 * (valid until the next call). */
static const char *run(struct fx *f, cmd_fn *fn, int argc, const char **words)
{
    static struct slice argv[8];

    assert_true(argc <= 8);
    for (int i = 0; i < argc; i++)
        argv[i] = S(words[i]);
    resp_out_reset(&f->out);
    f->c.argc = argc;
    f->c.argv = argv;
    fn(&f->c);
    assert_true(resp_out_reserve(&f->out, 1) == 0);
    f->out.buf[f->out.len] = '\0';
    return f->out.buf;
}

/* ---- encodings (boundaries of Redis's int / embstr / raw) ---- */

static void test_string_enc(void **state)
{
    (void)state;
    static const struct { const char *s; enum kv_enc enc; } cases[] = {
        { "0", KV_ENC_INT },
        { "-1", KV_ENC_INT },
        { "9223372036854775807", KV_ENC_INT },
        { "-9223372036854775808", KV_ENC_INT },       /* 20 bytes */
        { "9223372036854775808", KV_ENC_EMBSTR },     /* overflow */
        { "-9223372036854775809", KV_ENC_EMBSTR },
        { "12345678901234567890", KV_ENC_EMBSTR },    /* 20 digits, too big */
        { "-0", KV_ENC_EMBSTR },
        { "012", KV_ENC_EMBSTR },
        { "+1", KV_ENC_EMBSTR },
        { " 1", KV_ENC_EMBSTR },
        { "1 ", KV_ENC_EMBSTR },
        { "-", KV_ENC_EMBSTR },
        { "", KV_ENC_EMBSTR },
        { "hello", KV_ENC_EMBSTR },
    };
    char buf[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(ks_string_enc(cases[i].s, strlen(cases[i].s)), cases[i].enc);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(ks_string_enc(buf, 44), KV_ENC_EMBSTR);
    assert_int_equal(ks_string_enc(buf, 45), KV_ENC_RAW);
    memset(buf, '1', sizeof(buf));
    assert_int_equal(ks_string_enc(buf, 21), KV_ENC_EMBSTR);   /* digits, over 20 */
    /* Every first byte, alone and before a digit: int exactly when
     * str_to_ll takes it (the first-byte shortcut must not differ). */
    for (int c = 0; c < 256; c++) {
        buf[0] = (char)c;
        buf[1] = '5';
        assert_int_equal(ks_string_enc(buf, 1),
                         str_to_ll(buf, 1, NULL) ? KV_ENC_INT : KV_ENC_EMBSTR);
        assert_int_equal(ks_string_enc(buf, 2),
                         str_to_ll(buf, 2, NULL) ? KV_ENC_INT : KV_ENC_EMBSTR);
    }
}

/* ---- LRU clock and LFU counter ---- */

static void test_lru_clock_wrap(void **state)
{
    (void)state;
    int64_t wrap_ms = (int64_t)(LRU_CLOCK_MAX + 1) * LRU_CLOCK_RESOLUTION;

    assert_int_equal(lru_clock(0), 0);
    assert_int_equal(lru_clock(999), 0);
    assert_int_equal(lru_clock(1000), 1);
    assert_int_equal(lru_clock(wrap_ms - 1), LRU_CLOCK_MAX);
    assert_int_equal(lru_clock(wrap_ms), 0);
    assert_int_equal(lru_idle_ms(lru_clock(T0), T0), 0);
    assert_int_equal(lru_idle_ms(lru_clock(T0), T0 + 5999), 5000);
    /* stamped just before the wrap, read just after: Redis's formula counts
     * LRU_CLOCK_MAX - lru + now ticks */
    assert_int_equal(lru_idle_ms(LRU_CLOCK_MAX, wrap_ms + 2000), 2000);
    assert_int_equal(lru_idle_ms(LRU_CLOCK_MAX - 10, wrap_ms + 5000), 15000);
}

static void test_lfu_counter(void **state)
{
    (void)state;
    uint64_t rng = 42;
    int64_t m = 60000;

    assert_int_equal(lfu_initial(T0) & 0xff, LFU_INIT_VAL);
    assert_int_equal(lfu_initial(T0) >> 8, lfu_minutes(T0));
    /* at or below LFU_INIT_VAL every hit counts */
    for (unsigned c = 0; c <= LFU_INIT_VAL; c++)
        assert_int_equal(lfu_log_incr(c, 10, &rng), c + 1);
    assert_int_equal(lfu_log_incr(255, 0, &rng), 255);
    assert_int_equal(lfu_log_incr(254, 0, &rng), 255);   /* factor 0: always */

    /* decay: one step per decay period, not below 0, 0 disables */
    uint32_t v = lfu_minutes(T0) << 8 | 10;
    assert_int_equal(lfu_decayed(v, T0, 1), 10);
    assert_int_equal(lfu_decayed(v, T0 + 3 * m, 1), 7);
    assert_int_equal(lfu_decayed(v, T0 + 3 * m, 2), 9);
    assert_int_equal(lfu_decayed(v, T0 + 30 * m, 1), 0);
    assert_int_equal(lfu_decayed(v, T0 + 30 * m, 0), 10);
    /* minute clock wraparound: stamped at minute 65535, read at minute 2;
     * Redis counts 65535 - ldt + now = 2 */
    uint32_t w = 0xffffu << 8 | 10;
    int64_t at2 = (int64_t)65536 * m * 1000 + 2 * m;   /* minute % 65536 == 2 */
    assert_int_equal(lfu_minutes(at2), 2);
    assert_int_equal(lfu_decayed(w, at2, 1), 8);

    /* a touch restamps the time and counts the hit after decaying */
    uint32_t t = lfu_touch(v, T0 + 3 * m, 10, 1, &rng);
    assert_int_equal(t >> 8, lfu_minutes(T0 + 3 * m));
    assert_true((t & 0xff) == 7 || (t & 0xff) == 8);

    /* logarithmic: 10000 hits from 5 stay far from 255 at factor 10 */
    unsigned cnt = LFU_INIT_VAL;
    for (int i = 0; i < 10000; i++)
        cnt = lfu_log_incr(cnt, 10, &rng);
    assert_true(cnt > 35 && cnt < 70);   /* ~5 + sqrt(2n/factor) */
}

/* ---- lookups and lazy expiry ---- */

static void test_lazy_expiry_boundary(void **state)
{
    struct fx *f = *state;
    struct slice k = S("k");
    struct kv_entry *e = set(f, "k", "v");

    assert_int_equal(ks_set_expire(&f->c, &k, e, T0 + 10), 0);
    assert_int_equal(kv_expire(e), T0 + 10);

    /* now == expire: still there (Redis: expired only when now > when) */
    f->c.now_ms = T0 + 10;
    assert_non_null(get(f, "k"));
    assert_int_equal(f->sh[0]->keyspace_hits, 1);
    assert_int_equal(f->sh[0]->expired_keys, 0);

    f->c.now_ms = T0 + 11;
    assert_null(get(f, "k"));
    assert_int_equal(f->sh[0]->keyspace_misses, 1);
    assert_int_equal(f->sh[0]->expired_keys, 1);
    assert_int_equal(kvt_count(f->sh[0]->db[0]), 0);
    /* gone for good: a second miss does not count another expiry */
    assert_null(get(f, "k"));
    assert_int_equal(f->sh[0]->expired_keys, 1);
    assert_int_equal(f->sh[0]->keyspace_misses, 2);
}

static void test_lazy_expiry_write_and_delete(void **state)
{
    struct fx *f = *state;
    struct slice a = S("a"), b = S("b"), c = S("c");

    ks_set_expire(&f->c, &a, set(f, "a", "1"), T0 + 1);
    ks_set_expire(&f->c, &b, set(f, "b", "1"), T0 + 1);
    ks_set_expire(&f->c, &c, set(f, "c", "1"), T0 + 1);
    f->c.now_ms = T0 + 2;

    /* write lookups expire without hit/miss stats */
    assert_null(ks_lookup_write(&f->c, &a));
    assert_int_equal(f->sh[0]->expired_keys, 1);
    assert_int_equal(f->sh[0]->keyspace_misses, 0);
    /* DEL of an expired key: counted expired, reports absent */
    assert_int_equal(ks_delete(&f->c, &b), 0);
    assert_int_equal(f->sh[0]->expired_keys, 2);
    /* SET over an expired key creates a fresh one without its TTL */
    struct kv_entry *e = set(f, "c", "2");
    assert_int_equal(kv_expire(e), KV_NO_EXPIRE);
    assert_int_equal(f->sh[0]->expired_keys, 3);
    assert_int_equal(ks_delete(&f->c, &c), 1);
    assert_int_equal(ks_delete(&f->c, &c), 0);
    assert_int_equal(kvt_volatile_count(f->sh[0]->db[0]), 0);
}

static void test_set_expire_past_deletes(void **state)
{
    struct fx *f = *state;
    struct slice k = S("k");

    /* when == now counts as past for EXPIRE (checkAlreadyExpired: <=) */
    assert_int_equal(ks_set_expire(&f->c, &k, set(f, "k", "v"), T0), 1);
    assert_null(get(f, "k"));
    assert_int_equal(ks_set_expire(&f->c, &k, set(f, "k", "v"), -5), 1);
    assert_null(get(f, "k"));
    /* Redis 7.0 does not count these as expired keys */
    assert_int_equal(f->sh[0]->expired_keys, 0);
    assert_int_equal(ks_set_expire(&f->c, &k, set(f, "k", "v"), T0 + 1), 0);
    assert_int_equal(kvt_volatile_count(f->sh[0]->db[0]), 1);
}

static void test_set_string_overwrite(void **state)
{
    struct fx *f = *state;
    struct slice k = S("k");
    struct kv_entry *e = set(f, "k", "123");

    assert_int_equal(kv_enc(e), KV_ENC_INT);
    ks_set_expire(&f->c, &k, e, T0 + 100000);
    e = ks_set_string(&f->c, &k, "hello", 5, /* keep_ttl */ 1);
    assert_non_null(e);
    assert_int_equal(kv_enc(e), KV_ENC_EMBSTR);
    assert_int_equal(kv_expire(e), T0 + 100000);
    assert_memory_equal(kv_val(e), "hello", 5);

    char big[100];
    memset(big, 'z', sizeof(big));
    e = ks_set_string(&f->c, &k, big, sizeof(big), /* keep_ttl */ 0);
    assert_non_null(e);
    assert_int_equal(kv_enc(e), KV_ENC_RAW);
    assert_int_equal(kv_expire(e), KV_NO_EXPIRE);
    assert_int_equal(kvt_volatile_count(f->sh[0]->db[0]), 0);
    assert_int_equal(kvt_count(f->sh[0]->db[0]), 1);

    /* other dbs are separate tables */
    f->c.db = 3;
    assert_null(get(f, "k"));
    set(f, "k", "x");
    assert_int_equal(kvt_count(f->sh[0]->db[3]), 1);
    f->c.db = 0;
}

static void test_lru_touch(void **state)
{
    struct fx *f = *state;
    struct slice k = S("k");
    struct kv_entry *e = set(f, "k", "v");

    /* new keys carry the clock (kvt_add alone would leave 0) */
    assert_int_equal(kv_lru(e), lru_clock(T0));
    f->c.now_ms = T0 + 7000;
    e = ks_lookup_notouch(&f->c, &k);
    assert_int_equal(kv_lru(e), lru_clock(T0));
    assert_int_equal(f->sh[0]->keyspace_hits, 1);
    e = get(f, "k");
    assert_int_equal(kv_lru(e), lru_clock(T0 + 7000));
    f->c.now_ms = T0 + 9000;
    e = ks_lookup_write(&f->c, &k);
    assert_int_equal(kv_lru(e), lru_clock(T0 + 9000));
    assert_int_equal(f->sh[0]->keyspace_hits, 2);
}

static void test_lfu_touch(void **state)
{
    struct fx *f = *state;
    struct slice k = S("k");

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LFU;
    struct kv_entry *e = set(f, "k", "v");
    assert_int_equal(kv_lru(e), lfu_initial(T0));
    e = get(f, "k");
    assert_int_equal(kv_lru(e) & 0xff, LFU_INIT_VAL + 1);
    e = ks_lookup_notouch(&f->c, &k);
    assert_int_equal(kv_lru(e) & 0xff, LFU_INIT_VAL + 1);
    /* overwrite keeps the counter, touched once more (6 -> 7 with p 1/11),
     * as Redis's lookupKeyWrite + dbOverwrite */
    e = set(f, "k", "w");
    assert_true((kv_lru(e) & 0xff) == LFU_INIT_VAL + 1 || (kv_lru(e) & 0xff) == LFU_INIT_VAL + 2);
}

/* ---- the view picks the shard by slot under the barrier ---- */

static void test_shard_for_view(void **state)
{
    struct fx *f = *state;
    struct slotmap *m = slotmap_new_even(2);
    char k0[32] = "", k1[32] = "";

    assert_non_null(m);
    slotmap_free(slotmap_publish(m));
    for (unsigned i = 0; !k0[0] || !k1[0]; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "key:%u", i);
        if (slot_of(buf, strlen(buf)) < SLOT_COUNT / 2)
            strcpy(k0, buf);
        else
            strcpy(k1, buf);
    }
    struct slice s0 = S(k0), s1 = S(k1);

    /* own shard only, whatever the slot */
    f->c.view.self = 1;
    assert_ptr_equal(ks_shard_for(&f->c, &s0), f->sh[1]);
    assert_ptr_equal(ks_shard_for(&f->c, &s1), f->sh[1]);
    /* barrier: by slot */
    f->c.view.all = 1;
    assert_ptr_equal(ks_shard_for(&f->c, &s0), f->sh[0]);
    assert_ptr_equal(ks_shard_for(&f->c, &s1), f->sh[1]);
    assert_ptr_equal(ks_table(&f->c, &s1), f->sh[1]->db[0]);
    set(f, k0, "a");
    set(f, k1, "b");
    assert_int_equal(keys_in(f->sh[0]), 1);
    assert_int_equal(keys_in(f->sh[1]), 1);
    assert_non_null(get(f, k0));
    assert_int_equal(f->sh[0]->keyspace_hits, 1);
    ks_dirty(&f->c, 2);
    assert_int_equal(f->sh[1]->dirty, 2);
    slotmap_free(slotmap_publish(NULL));
}

static void test_stats_reset(void **state)
{
    struct fx *f = *state;
    struct shard *s = f->sh[0];

    s->keyspace_hits = s->keyspace_misses = 3;
    s->expired_keys = s->evicted_keys = s->expired_stale_perc_x100 = 4;
    s->active_expire_cycles = 5;
    s->expired_time_cap_reached_count = s->expire_cycle_time_used_us = 7;
    s->dirty = 6;
    shard_stats_reset(s);
    assert_int_equal(s->keyspace_hits + s->keyspace_misses + s->expired_keys +
                     s->evicted_keys + s->expired_stale_perc_x100 + s->active_expire_cycles +
                     s->expired_time_cap_reached_count + s->expire_cycle_time_used_us, 0);
    assert_int_equal(s->dirty, 6);
}

/* ---- active expiry ---- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void fill_volatile(struct fx *f, const char *prefix, unsigned n, int64_t when)
{
    char k[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "%s%u", prefix, i);
        struct slice key = S(k);
        assert_int_equal(ks_set_expire(&f->c, &key, set(f, k, "v"), when), 0);
    }
}

static void test_active_expire_bulk(void **state)
{
    struct fx *f = *state;
    struct shard *s = f->sh[0];
    struct kvt *t = s->db[0];
    const uint64_t budget = 1000;
    int cycles = 0;

    fill_volatile(f, "dead:", 10000, T0 + 1);         /* 1 ms TTLs */
    fill_volatile(f, "live:", 1000, T0 + 3600000);
    for (unsigned i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "perm:%u", i);
        set(f, k, "v");
    }
    assert_int_equal(kvt_count(t), 12000);

    /* a cycle before anything expired deletes nothing */
    shard_active_expire(s, T0 + 1, budget);
    assert_int_equal(kvt_count(t), 12000);
    assert_int_equal(s->expired_keys, 0);

    /* a zero budget stops at the first clock check: 16 loops of 20 samples */
    shard_active_expire(s, T0 + 2, 0);
    assert_int_equal(s->expired_time_cap_reached_count, 1);
    assert_true(s->expired_keys > 0 && s->expired_keys <= 16 * 20);
    assert_true(s->expire_cycle_time_used_us > 0);

    while (kvt_count(t) > 2000 + 500 && cycles < 200) {   /* > 95 % of dead gone */
        uint64_t t0 = now_us();
        shard_active_expire(s, T0 + 2, budget);
        uint64_t took = now_us() - t0;
        cycles++;
        /* clock read every 16 loops of 20 samples: overshoot is small; the
         * slack covers sanitizer builds and a busy machine */
        assert_true(took < budget + 20000);
    }
    assert_true(kvt_count(t) <= 2500);
    assert_true(cycles < 200);   /* natively 2 cycles; valgrind needs dozens */
    assert_int_equal(s->expired_keys, 12000 - kvt_count(t));
    assert_true(s->expired_stale_perc_x100 > 0);

    /* nothing that is not yet expired was touched */
    for (unsigned i = 0; i < 1000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "live:%u", i);
        assert_non_null(kvt_find(t, k, strlen(k)));
        snprintf(k, sizeof(k), "perm:%u", i);
        assert_non_null(kvt_find(t, k, strlen(k)));
    }
    /* the stale estimate decays once cycles find nothing */
    uint64_t before = s->expired_stale_perc_x100;
    for (int i = 0; i < 200; i++)
        shard_active_expire(s, T0 + 2, budget);
    assert_true(s->expired_stale_perc_x100 < before);
    assert_true(s->active_expire_cycles >= (uint64_t)cycles + 201);
}

static void test_active_expire_stops_when_few_stale(void **state)
{
    struct fx *f = *state;
    struct shard *s = f->sh[0];

    fill_volatile(f, "live:", 5000, T0 + 3600000);
    fill_volatile(f, "dead:", 5, T0 + 1);
    /* one sampling loop sees < 10 % expired: the db is left after it */
    shard_active_expire(s, T0 + 2, 100000);
    assert_true(s->expired_keys <= 5);
    assert_int_equal(kvt_count(s->db[0]), 5005 - s->expired_keys);
}

static void test_active_expire_resumes_next_db(void **state)
{
    struct fx *f = *state;
    struct shard *s = f->sh[0];

    /* every db gets its turn: keys in db 15 are reached in one call */
    f->c.db = 15;
    fill_volatile(f, "d:", 100, T0 + 1);
    f->c.db = 0;
    for (int i = 0; i < 10 && kvt_count(s->db[15]); i++)
        shard_active_expire(s, T0 + 2, 100000);
    assert_int_equal(kvt_count(s->db[15]), 0);
    unsigned cur = s->expire_db_cursor;
    shard_active_expire(s, T0 + 2, 100000);
    assert_int_equal(s->expire_db_cursor, cur);   /* 16 dbs per call: full turn */
}

/* ---- rehash ---- */

static void test_rehash_step(void **state)
{
    struct fx *f = *state;
    struct kvt *t = f->sh[0]->db[0];
    char k[32];

    for (unsigned i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "k%u", i);
        set(f, k, "v");
    }
    for (int i = 0; i < 1000 && kvt_is_rehashing(t); i++)
        shard_rehash_step(f->sh[0]);
    assert_false(kvt_is_rehashing(t));
    /* delete most keys: the step shrinks the table within a bounded number
     * of calls */
    for (unsigned i = 0; i < 4990; i++) {
        snprintf(k, sizeof(k), "k%u", i);
        struct slice key = S(k);
        assert_int_equal(ks_delete(&f->c, &key), 1);
    }
    for (int i = 0; i < 1000; i++)
        shard_rehash_step(f->sh[0]);
    assert_false(kvt_is_rehashing(t));
    assert_true(kvt_buckets(t) <= 64);
    assert_int_equal(kvt_count(t), 10);
}

/* ---- OBJECT / MEMORY ---- */

static void test_object_commands(void **state)
{
    struct fx *f = *state;

    set(f, "i", "123");
    set(f, "big", "10000");
    set(f, "neg", "-5");
    set(f, "s", "hello");
    char raw[60];
    memset(raw, 'r', sizeof(raw) - 1);
    raw[sizeof(raw) - 1] = '\0';
    set(f, "r", raw);

    const char *enc_i[] = { "object", "encoding", "i" };
    const char *enc_s[] = { "object", "encoding", "s" };
    const char *enc_r[] = { "object", "encoding", "r" };
    const char *enc_n[] = { "object", "encoding", "nokey" };
    assert_string_equal(run(f, cmd_object_encoding, 3, enc_i), "$3\r\nint\r\n");
    assert_string_equal(run(f, cmd_object_encoding, 3, enc_s), "$6\r\nembstr\r\n");
    assert_string_equal(run(f, cmd_object_encoding, 3, enc_r), "$3\r\nraw\r\n");
    assert_string_equal(run(f, cmd_object_encoding, 3, enc_n), "$-1\r\n");
    f->out.proto = 3;
    assert_string_equal(run(f, cmd_object_encoding, 3, enc_n), "_\r\n");
    f->out.proto = 2;

    /* shared integers 0..9999, unless maxmemory with an LRU/LFU policy */
    const char *rc_i[] = { "object", "refcount", "i" };
    const char *rc_big[] = { "object", "refcount", "big" };
    const char *rc_neg[] = { "object", "refcount", "neg" };
    const char *rc_s[] = { "object", "refcount", "s" };
    assert_string_equal(run(f, cmd_object_refcount, 3, rc_i), ":2147483647\r\n");
    assert_string_equal(run(f, cmd_object_refcount, 3, rc_big), ":1\r\n");
    assert_string_equal(run(f, cmd_object_refcount, 3, rc_neg), ":1\r\n");
    assert_string_equal(run(f, cmd_object_refcount, 3, rc_s), ":1\r\n");
    f->cfg->maxmemory = 1ull << 40;
    f->cfg->maxmemory_policy = MAXMEMORY_VOLATILE_TTL;
    assert_string_equal(run(f, cmd_object_refcount, 3, rc_i), ":2147483647\r\n");
    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    assert_string_equal(run(f, cmd_object_refcount, 3, rc_i), ":1\r\n");
    f->cfg->maxmemory = 0;

    /* IDLETIME under LRU, FREQ refused; null before the policy check */
    const char *idle_s[] = { "object", "idletime", "s" };
    const char *idle_n[] = { "object", "idletime", "nokey" };
    const char *freq_s[] = { "object", "freq", "s" };
    const char *freq_n[] = { "object", "freq", "nokey" };
    f->cfg->maxmemory_policy = MAXMEMORY_NO_EVICTION;
    f->c.now_ms = T0 + 42000;
    assert_string_equal(run(f, cmd_object_idletime, 3, idle_s), ":42\r\n");
    assert_string_equal(run(f, cmd_object_idletime, 3, idle_s), ":42\r\n");  /* no touch */
    assert_string_equal(run(f, cmd_object_freq, 3, freq_n), "$-1\r\n");
    assert_string_equal(run(f, cmd_object_freq, 3, freq_s),
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
        "Please note that when switching between policies at runtime LRU and LFU data "
        "will take some time to adjust.\r\n");
    f->cfg->maxmemory_policy = MAXMEMORY_VOLATILE_LFU;
    assert_string_equal(run(f, cmd_object_idletime, 3, idle_n), "$-1\r\n");
    assert_string_equal(run(f, cmd_object_idletime, 3, idle_s),
        "-ERR An LFU maxmemory policy is selected, idle time not tracked. "
        "Please note that when switching between policies at runtime LRU and LFU data "
        "will take some time to adjust.\r\n");
    set(f, "lfu", "x");
    const char *freq_l[] = { "object", "freq", "lfu" };
    assert_string_equal(run(f, cmd_object_freq, 3, freq_l), ":5\r\n");
    /* OBJECT counts hits and misses like a read */
    assert_int_equal(f->sh[0]->keyspace_misses, 4);

    const char *help[] = { "object", "help" };
    const char *r = run(f, cmd_object_help, 2, help);
    const char *head = "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. "
                       "Subcommands are:\r\n+ENCODING <key>\r\n";
    assert_memory_equal(r, head, strlen(head));
    assert_non_null(strstr(r, "+HELP\r\n+    Prints this help.\r\n"));
    const char *mhelp[] = { "memory", "help" };
    r = run(f, cmd_memory_help, 2, mhelp);
    assert_memory_equal(r, "*14\r\n+MEMORY ", 13);
    assert_non_null(strstr(r, "+USAGE <key> [SAMPLES <count>]\r\n"));
}

static void test_memory_usage(void **state)
{
    struct fx *f = *state;
    struct slice k = S("k");
    struct kv_entry *e = set(f, "k", "hello");
    char want[32];

    size_t per_bucket = kvt_buckets(f->sh[0]->db[0]) * sizeof(void *);   /* one key */
    snprintf(want, sizeof(want), ":%zu\r\n", kv_mem(e) + per_bucket);
    const char *u[] = { "memory", "usage", "k" };
    assert_string_equal(run(f, cmd_memory_usage, 3, u), want);
    ks_set_expire(&f->c, &k, e, T0 + 1);
    snprintf(want, sizeof(want), ":%zu\r\n", kv_mem(e) + per_bucket + sizeof(void *));
    assert_string_equal(run(f, cmd_memory_usage, 3, u), want);
    /* logically expired: Redis reads the dict directly and still answers */
    f->c.now_ms = T0 + 5;
    assert_string_equal(run(f, cmd_memory_usage, 3, u), want);
    assert_int_equal(f->sh[0]->expired_keys, 0);

    const char *s0[] = { "memory", "usage", "k", "samples", "0" };
    const char *sneg[] = { "memory", "usage", "nokey", "SAMPLES", "-1" };
    const char *sbad[] = { "memory", "usage", "nokey", "samples", "x" };
    const char *smiss[] = { "memory", "usage", "k", "samples" };
    const char *sfoo[] = { "memory", "usage", "k", "foo", "1" };
    const char *nk[] = { "memory", "usage", "nokey" };
    assert_string_equal(run(f, cmd_memory_usage, 5, s0), want);
    assert_string_equal(run(f, cmd_memory_usage, 5, sneg), "-ERR syntax error\r\n");
    assert_string_equal(run(f, cmd_memory_usage, 5, sbad),
                        "-ERR value is not an integer or out of range\r\n");
    assert_string_equal(run(f, cmd_memory_usage, 4, smiss), "-ERR syntax error\r\n");
    assert_string_equal(run(f, cmd_memory_usage, 5, sfoo), "-ERR syntax error\r\n");
    assert_string_equal(run(f, cmd_memory_usage, 3, nk), "$-1\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_enc),
        cmocka_unit_test(test_lru_clock_wrap),
        cmocka_unit_test(test_lfu_counter),
        cmocka_unit_test_setup_teardown(test_lazy_expiry_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_expiry_write_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_expire_past_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_string_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lfu_touch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shard_for_view, setup2, teardown),
        cmocka_unit_test_setup_teardown(test_stats_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expire_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expire_stops_when_few_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_expire_resumes_next_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rehash_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_usage, setup, teardown),
    };

    slot_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
