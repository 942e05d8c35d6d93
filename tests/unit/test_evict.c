/* test_evict — unit tests for kv/evict.c (cmocka).
 *
 * Each test fills a shard through the keyspace API with maxmemory off, then
 * sets maxmemory below mem_used() and calls evict_before_write as a write
 * command would, and checks which population was evicted. Statistical checks
 * use margins far from what a wrong policy gives (random eviction keeps ~50 %
 * of a hot set where LRU/LFU keep > 90 %). mem_used() returns to its starting
 * value at teardown. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cluster/slotmap.h"
#include "../../dataplane/config.h"
#include "../../dataplane/mem.h"
#include "../../kv/evict.h"
#include "../../kv/keyspace.h"
#include "../../kv/slot.h"

#define T0 1700000000000ll
#define NKEYS 4000
#define VAL_LEN 100

struct fx {
    struct config *cfg;
    struct shard *sh[2];
    unsigned nsh;
    struct cmd_ctx c;
    int64_t mem0;
};

static int setup_n(void **state, unsigned nsh)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->cfg = config_new();
    assert_non_null(f->cfg);
    f->cfg->maxmemory = 0;
    f->cfg->maxmemory_eviction_tenacity = 100;   /* whole job in one call */
    config_set_live(f->cfg);
    f->mem0 = mem_used();
    f->nsh = nsh;
    for (unsigned i = 0; i < nsh; i++) {
        f->sh[i] = shard_create(i, 16, 0xabcdefull + i);
        assert_non_null(f->sh[i]);
    }
    f->c.view.shards = f->sh;
    f->c.view.nshards = nsh;
    f->c.now_ms = T0;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_n(state, 1); }
static int setup2(void **state) { return setup_n(state, 2); }

static int teardown(void **state)
{
    struct fx *f = *state;

    for (unsigned i = 0; i < f->nsh; i++)
        shard_destroy(f->sh[i]);
    assert_int_equal(mem_used(), f->mem0);
    config_set_live(NULL);
    config_free(f->cfg);
    free(f);
    return 0;
}

static struct slice key_of(char *buf, size_t cap, unsigned i)
{
    struct slice s = { buf, (size_t)snprintf(buf, cap, "key:%u", i) };
    return s;
}

/* Key i, with a TTL of ttl_ms from T0 when ttl_ms > 0. */
static void put(struct fx *f, unsigned i, int64_t ttl_ms)
{
    char k[32], v[VAL_LEN];
    struct slice key = key_of(k, sizeof(k), i);
    struct kv_entry *e;

    memset(v, 'a' + (int)(i % 26), sizeof(v));
    e = ks_set_string(&f->c, &key, v, sizeof(v), 0);
    assert_non_null(e);
    if (ttl_ms > 0)
        assert_int_equal(ks_set_expire(&f->c, &key, e, T0 + ttl_ms), 0);
}

static int exists(struct fx *f, unsigned i)
{
    char k[32];
    struct slice key = key_of(k, sizeof(k), i);
    return kvt_find(ks_table(&f->c, &key), key.p, key.len) != NULL;
}

static size_t total_keys(struct fx *f)
{
    size_t n = 0;
    for (unsigned s = 0; s < f->nsh; s++)
        for (unsigned d = 0; d < f->sh[s]->ndbs; d++)
            n += kvt_count(f->sh[s]->db[d]);
    return n;
}

static uint64_t evicted(struct fx *f)
{
    uint64_t n = 0;
    for (unsigned s = 0; s < f->nsh; s++)
        n += f->sh[s]->evicted_keys;
    return n;
}

/* Ask for `frac_pct` % of the bytes the keys use to be given back. */
static void limit_to_free(struct fx *f, unsigned frac_pct)
{
    int64_t data = mem_used() - f->mem0;
    f->cfg->maxmemory = (unsigned long long)(mem_used() - data * frac_pct / 100);
}

/* Evict as consecutive write commands would, until under the limit. */
static int evict_until_under(struct fx *f)
{
    for (int i = 0; i < 10000; i++) {
        int r = evict_before_write(&f->c);
        if (r < 0)
            return r;
        if (mem_used() <= (int64_t)f->cfg->maxmemory)
            return 0;
    }
    return -ETIMEDOUT;
}

/* ---- boundaries ---- */

static void test_no_limit_and_under_limit(void **state)
{
    struct fx *f = *state;

    for (unsigned i = 0; i < 100; i++)
        put(f, i, 0);
    f->cfg->maxmemory_policy = MAXMEMORY_NO_EVICTION;
    f->cfg->maxmemory = 0;
    assert_int_equal(evict_before_write(&f->c), 0);
    f->cfg->maxmemory = (unsigned long long)mem_used();   /* exactly at: fine */
    assert_int_equal(evict_before_write(&f->c), 0);
    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    assert_int_equal(evict_before_write(&f->c), 0);
    assert_int_equal(total_keys(f), 100);
    assert_int_equal(evicted(f), 0);
}

static void test_noeviction(void **state)
{
    struct fx *f = *state;

    for (unsigned i = 0; i < 100; i++)
        put(f, i, 0);
    f->cfg->maxmemory_policy = MAXMEMORY_NO_EVICTION;
    f->cfg->maxmemory = (unsigned long long)mem_used() - 1;
    assert_int_equal(evict_before_write(&f->c), -ENOMEM);
    assert_int_equal(total_keys(f), 100);
    assert_int_equal(evicted(f), 0);
}

static void test_volatile_without_volatile_keys(void **state)
{
    struct fx *f = *state;
    static const enum maxmemory_policy pols[] = {
        MAXMEMORY_VOLATILE_LRU, MAXMEMORY_VOLATILE_LFU,
        MAXMEMORY_VOLATILE_RANDOM, MAXMEMORY_VOLATILE_TTL,
    };

    for (unsigned i = 0; i < 100; i++)
        put(f, i, 0);
    limit_to_free(f, 10);
    for (size_t p = 0; p < sizeof(pols) / sizeof(pols[0]); p++) {
        f->cfg->maxmemory_policy = pols[p];
        assert_int_equal(evict_before_write(&f->c), -ENOMEM);
    }
    assert_int_equal(total_keys(f), 100);
}

static void test_everything_evicted_then_enomem(void **state)
{
    struct fx *f = *state;

    for (unsigned i = 0; i < 50; i++)
        put(f, i, 0);
    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    f->cfg->maxmemory = 1;   /* unreachable: the tables themselves take more */
    /* a slow machine may hit the per-call time bound first (then 0) */
    assert_int_equal(evict_until_under(f), -ENOMEM);
    assert_int_equal(total_keys(f), 0);
    assert_int_equal(evicted(f), 50);
}

static void test_tenacity_bounds_one_call(void **state)
{
    struct fx *f = *state;

    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, 0);
    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_RANDOM;
    f->cfg->maxmemory_eviction_tenacity = 0;   /* 0 µs: stop at the first check */
    limit_to_free(f, 50);
    /* the write proceeds once something was freed, still over the limit */
    assert_int_equal(evict_before_write(&f->c), 0);
    /* the clock is read every 16 keys; a first read may still show 0 µs */
    assert_true(evicted(f) % 16 == 0 && evicted(f) >= 16 && evicted(f) <= 64);
    assert_true(mem_used() > (int64_t)f->cfg->maxmemory);
    assert_int_equal(evict_until_under(f), 0);
    assert_true(evicted(f) > NKEYS / 3);
}

/* ---- policies ---- */

static void test_allkeys_random(void **state)
{
    struct fx *f = *state;

    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, 0);
    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_RANDOM;
    limit_to_free(f, 30);
    assert_int_equal(evict_until_under(f), 0);
    assert_int_equal(total_keys(f) + evicted(f), NKEYS);
    assert_true(evicted(f) > NKEYS / 5 && evicted(f) < NKEYS / 2);
}

/* Half the keys volatile: a volatile-* policy must leave the others alone. */
static void check_volatile_only(struct fx *f, enum maxmemory_policy pol)
{
    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, i % 2 ? 3600000 + i : 0);
    f->cfg->maxmemory_policy = pol;
    limit_to_free(f, 25);
    assert_int_equal(evict_until_under(f), 0);
    assert_true(evicted(f) > NKEYS / 8);
    for (unsigned i = 0; i < NKEYS; i += 2)
        assert_true(exists(f, i));
    assert_int_equal(total_keys(f) + evicted(f), NKEYS);
}

static void test_volatile_random(void **state) { check_volatile_only(*state, MAXMEMORY_VOLATILE_RANDOM); }
static void test_volatile_lru(void **state) { check_volatile_only(*state, MAXMEMORY_VOLATILE_LRU); }
static void test_volatile_lfu(void **state) { check_volatile_only(*state, MAXMEMORY_VOLATILE_LFU); }
static void test_volatile_ttl_only(void **state) { check_volatile_only(*state, MAXMEMORY_VOLATILE_TTL); }

static void test_volatile_ttl_shortest_first(void **state)
{
    struct fx *f = *state;
    uint64_t sum = 0, n = 0;

    /* key i expires after i seconds */
    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, 1000 * (int64_t)(i + 1));
    f->cfg->maxmemory_policy = MAXMEMORY_VOLATILE_TTL;
    limit_to_free(f, 25);
    assert_int_equal(evict_until_under(f), 0);
    for (unsigned i = 0; i < NKEYS; i++)
        if (!exists(f, i)) {
            sum += i;
            n++;
        }
    assert_true(n > NKEYS / 8);
    /* random choice would average NKEYS/2; the pool keeps the soonest */
    assert_true(sum / n < NKEYS / 4);
}

/* Keys created at T0; every 10th read 100 s later. */
static void test_allkeys_lru_keeps_recent(void **state)
{
    struct fx *f = *state;
    unsigned hot = 0, kept = 0;

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, 0);
    f->c.now_ms = T0 + 100000;
    for (unsigned i = 0; i < NKEYS; i += 10) {
        char k[32];
        struct slice key = key_of(k, sizeof(k), i);
        assert_non_null(ks_lookup_read(&f->c, &key));
    }
    f->c.now_ms = T0 + 101000;
    limit_to_free(f, 50);
    assert_int_equal(evict_until_under(f), 0);
    for (unsigned i = 0; i < NKEYS; i += 10) {
        hot++;
        kept += (unsigned)exists(f, i);
    }
    assert_true(kept * 100 >= hot * 90);
    assert_true(evicted(f) > NKEYS / 3);
}

/* Every 10th key read 20 times; all keys equally old. */
static void test_allkeys_lfu_keeps_frequent(void **state)
{
    struct fx *f = *state;
    unsigned hot = 0, kept = 0;

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LFU;
    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, 0);
    for (int r = 0; r < 20; r++)
        for (unsigned i = 0; i < NKEYS; i += 10) {
            char k[32];
            struct slice key = key_of(k, sizeof(k), i);
            assert_non_null(ks_lookup_read(&f->c, &key));
        }
    limit_to_free(f, 50);
    assert_int_equal(evict_until_under(f), 0);
    for (unsigned i = 0; i < NKEYS; i += 10) {
        hot++;
        kept += (unsigned)exists(f, i);
    }
    assert_true(kept * 100 >= hot * 90);
    assert_true(evicted(f) > NKEYS / 3);
}

/* ---- the pool holds copies: ghosts are skipped, never dereferenced ---- */

static void test_pool_ghosts(void **state)
{
    struct fx *f = *state;
    struct shard *s = f->sh[0];

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    for (unsigned i = 0; i < 1000; i++)
        put(f, i, 0);
    limit_to_free(f, 1);
    assert_int_equal(evict_until_under(f), 0);   /* pool now full of candidates */
    uint64_t ev = evicted(f);

    /* every pooled key disappears behind the pool's back */
    kvt_clear(s->db[0]);
    for (unsigned i = 5000; i < 5500; i++)
        put(f, i, 0);
    limit_to_free(f, 10);
    assert_int_equal(evict_until_under(f), 0);
    assert_true(evicted(f) > ev);
    assert_int_equal(total_keys(f) + (evicted(f) - ev), 500);

    /* volatile policy: a pooled key that lost its TTL is a ghost too */
    f->cfg->maxmemory_policy = MAXMEMORY_VOLATILE_LRU;
    kvt_clear(s->db[0]);
    for (unsigned i = 0; i < 200; i++)
        put(f, i, 3600000);
    f->cfg->maxmemory = (unsigned long long)mem_used() - 1;
    assert_int_equal(evict_before_write(&f->c), 0);
    for (unsigned i = 0; i < 200; i++) {
        char k[32];
        struct slice key = key_of(k, sizeof(k), i);
        struct kv_entry *e = kvt_find(ks_table(&f->c, &key), key.p, key.len);
        if (e)
            assert_int_equal(kvt_set_expire(s->db[0], e, KV_NO_EXPIRE), 0);
    }
    /* nothing volatile is left (the TTL index shrank: limit again) */
    f->cfg->maxmemory = (unsigned long long)mem_used() - 1;
    assert_int_equal(evict_before_write(&f->c), -ENOMEM);
    assert_int_equal(kvt_count(s->db[0]), 199);
}

static void test_several_dbs(void **state)
{
    struct fx *f = *state;

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    for (unsigned i = 0; i < NKEYS / 2; i++)
        put(f, i, 0);
    f->c.db = 7;
    for (unsigned i = 0; i < NKEYS / 2; i++)
        put(f, i, 0);
    limit_to_free(f, 40);
    assert_int_equal(evict_until_under(f), 0);
    /* both dbs were sampled */
    assert_true(kvt_count(f->sh[0]->db[0]) < NKEYS / 2);
    assert_true(kvt_count(f->sh[0]->db[7]) < NKEYS / 2);

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_RANDOM;
    limit_to_free(f, 40);
    assert_int_equal(evict_until_under(f), 0);
    f->c.db = 0;
}

/* Under the barrier, both shards give keys; otherwise only the own one. */
static void test_view_shards(void **state)
{
    struct fx *f = *state;
    struct slotmap *m = slotmap_new_even(2);
    struct kvt *t0 = f->sh[0]->db[0], *t1 = f->sh[1]->db[0];

    assert_non_null(m);
    slotmap_free(slotmap_publish(m));
    f->c.view.all = 1;
    for (unsigned i = 0; i < NKEYS; i++)
        put(f, i, 0);
    assert_true(kvt_count(t0) > NKEYS / 4 && kvt_count(t1) > NKEYS / 4);

    f->cfg->maxmemory_policy = MAXMEMORY_ALLKEYS_LRU;
    limit_to_free(f, 40);
    assert_int_equal(evict_until_under(f), 0);
    assert_true(f->sh[0]->evicted_keys > 0 && f->sh[1]->evicted_keys > 0);

    f->c.view.all = 0;
    f->c.view.self = 1;
    size_t before0 = kvt_count(t0);
    limit_to_free(f, 10);
    assert_int_equal(evict_until_under(f), 0);
    assert_int_equal(kvt_count(t0), before0);

    /* own shard empty: -ENOMEM although the other shard still has keys */
    kvt_clear(t1);
    f->cfg->maxmemory = (unsigned long long)mem_used() - 1;
    assert_int_equal(evict_before_write(&f->c), -ENOMEM);
    assert_int_equal(kvt_count(t0), before0);
    slotmap_free(slotmap_publish(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_limit_and_under_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noeviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_without_volatile_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_everything_evicted_then_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenacity_bounds_one_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allkeys_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_lru, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_lfu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_ttl_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volatile_ttl_shortest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allkeys_lru_keeps_recent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allkeys_lfu_keeps_frequent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_ghosts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_dbs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_shards, setup2, teardown),
    };

    slot_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
