/* test_slotkeys — unit tests for kv/slotkeys.c (cmocka): the per-slot index
 * of a cluster-mode shard (shard_create_ex(..., 1)) answers exactly as the
 * full walk a plain shard falls back to.
 *
 * Shards 0 (indexed) and 1 (plain) get the same operations through the
 * keyspace functions, the view's self picking the shard; memory is back to
 * its starting value after teardown. Limits first: max 0, 1, exactly the
 * count, past it; slots 0 and 16383. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/config.h"
#include "../../dataplane/mem.h"
#include "../../kv/keyspace.h"
#include "../../kv/kvt.h"
#include "../../kv/slot.h"
#include "../../kv/slotkeys.h"

#define T0 1700000000000ll   /* a fixed "now" in unix ms */

struct fx {
    struct config *cfg;
    struct shard *sh[2];
    struct cmd_ctx c;
    int64_t mem0;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->cfg = config_new();
    assert_non_null(f->cfg);
    config_set_live(f->cfg);
    f->mem0 = mem_used();
    f->sh[0] = shard_create_ex(0, 16, 0x51075107ull, 1);
    f->sh[1] = shard_create(1, 16, 0x51075108ull);
    assert_non_null(f->sh[0]);
    assert_non_null(f->sh[1]);
    assert_true(kvt_has_slots(f->sh[0]->db[0]));
    assert_false(kvt_has_slots(f->sh[0]->db[1]));   /* db 0 only */
    assert_false(kvt_has_slots(f->sh[1]->db[0]));
    f->c.view.shards = f->sh;
    f->c.view.nshards = 1;   /* each shard is its own view: no barrier */
    f->c.view.self = 0;
    f->c.now_ms = T0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    shard_destroy(f->sh[0]);
    shard_destroy(f->sh[1]);
    assert_int_equal(mem_used(), f->mem0);
    config_set_live(NULL);
    config_free(f->cfg);
    free(f);
    return 0;
}

static void on(struct fx *f, unsigned shard)
{
    f->c.view.self = shard;
}

static struct slice S(const char *s)
{
    struct slice x = { s, strlen(s) };
    return x;
}

static void set_both(struct fx *f, const char *k, const char *v)
{
    struct slice key = S(k);

    for (unsigned i = 0; i < 2; i++) {
        on(f, i);
        assert_non_null(ks_set_string(&f->c, &key, v, strlen(v), 0));
    }
}

struct keys_out {
    char *buf[64];
    size_t n;
};

static void grab(const char *key, size_t klen, void *arg)
{
    struct keys_out *o = arg;
    char *k = malloc(klen + 1);

    assert_non_null(k);
    assert_true(o->n < 64);
    memcpy(k, key, klen);
    k[klen] = '\0';
    o->buf[o->n++] = k;
}

static void drop(struct keys_out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->buf[i]);
    o->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A key of the wanted slot: tried names until one lands there. */
static void key_in_slot(char *out, unsigned slot, unsigned from)
{
    for (unsigned i = from;; i++) {
        sprintf(out, "n%u", i);
        if (slot_of(out, strlen(out)) == slot)
            return;
    }
}

static void test_limits(void **state)
{
    struct fx *f = *state;
    struct keys_out o = { .n = 0 };
    const unsigned s = slot_of("t", 1);
    char k[32];

    on(f, 0);
    assert_int_equal(ks_slot_count(&f->c, s), 0);
    assert_int_equal(ks_slot_keys(&f->c, s, 10, grab, &o), 0);
    for (int i = 0; i < 5; i++) {
        sprintf(k, "{t}%d", i);
        set_both(f, k, "v");
    }
    for (unsigned sh = 0; sh < 2; sh++) {
        on(f, sh);
        assert_int_equal(ks_slot_count(&f->c, s), 5);
        assert_int_equal(ks_slot_keys(&f->c, s, 0, grab, &o), 0);
        assert_int_equal(o.n, 0);
        assert_int_equal(ks_slot_keys(&f->c, s, 1, grab, &o), 1);
        assert_int_equal(o.n, 1);
        drop(&o);
        assert_int_equal(ks_slot_keys(&f->c, s, 4, grab, &o), 4);
        drop(&o);
        assert_int_equal(ks_slot_keys(&f->c, s, 5, grab, &o), 5);
        drop(&o);
        assert_int_equal(ks_slot_keys(&f->c, s, (size_t)-1, grab, &o), 5);
        qsort(o.buf, o.n, sizeof(o.buf[0]), cmp_str);
        for (int i = 0; i < 5; i++) {
            sprintf(k, "{t}%d", i);
            assert_string_equal(o.buf[i], k);
        }
        drop(&o);
        assert_int_equal(ks_slot_keys(&f->c, s, 3, NULL, NULL), 3);
        assert_int_equal(ks_slot_count(&f->c, s + 1), 0);
    }
    /* The index hands keys newest first. */
    on(f, 0);
    assert_int_equal(ks_slot_keys(&f->c, s, 2, grab, &o), 2);
    assert_string_equal(o.buf[0], "{t}4");
    assert_string_equal(o.buf[1], "{t}3");
    drop(&o);

    /* First and last slots. */
    key_in_slot(k, 0, 0);
    set_both(f, k, "x");
    key_in_slot(k, SLOT_COUNT - 1, 0);
    set_both(f, k, "x");
    for (unsigned sh = 0; sh < 2; sh++) {
        on(f, sh);
        assert_int_equal(ks_slot_count(&f->c, 0), 1);
        assert_int_equal(ks_slot_count(&f->c, SLOT_COUNT - 1), 1);
        assert_int_equal(ks_slot_keys(&f->c, SLOT_COUNT - 1, 10, grab, &o), 1);
        assert_string_equal(o.buf[0], k);
        drop(&o);
    }
}

/* Logically expired keys count until something deletes them (Redis reads
 * its slot index without expiring); a lazy or explicit delete takes them
 * out. */
static void test_expired_counted_until_deleted(void **state)
{
    struct fx *f = *state;
    struct slice a = S("{e}a"), b = S("{e}b");
    const unsigned s = slot_of("e", 1);

    set_both(f, "{e}a", "1");
    set_both(f, "{e}b", "2");
    for (unsigned sh = 0; sh < 2; sh++) {
        on(f, sh);
        f->c.now_ms = T0;
        struct kv_entry *e = ks_lookup_write(&f->c, &a);
        assert_non_null(e);
        assert_int_equal(ks_set_expire(&f->c, &a, e, T0 + 10), 0);
        f->c.now_ms = T0 + 11;
        assert_int_equal(ks_slot_count(&f->c, s), 2);
        assert_null(ks_lookup_read(&f->c, &a));   /* lazy expiry deletes */
        assert_int_equal(ks_slot_count(&f->c, s), 1);
        assert_int_equal(ks_delete(&f->c, &b), 1);
        assert_int_equal(ks_slot_count(&f->c, s), 0);
    }
    f->c.now_ms = T0;
}

/* 20,000 keys, overwrites that grow values past size classes, deletes,
 * TTLs, active expiry: every slot's count and key set agree between the
 * index and the walk. */
static void count_slot(struct kv_entry *e, void *arg)
{
    size_t *counts = arg;

    counts[slot_of(kv_key(e), kv_klen(e))]++;
}

static void test_index_matches_walk(void **state)
{
    struct fx *f = *state;
    char k[32], v[300];
    struct keys_out o1 = { .n = 0 }, o2 = { .n = 0 };

    memset(v, 'z', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    for (unsigned i = 0; i < 20000; i++) {
        sprintf(k, i % 4 ? "key:%u" : "{h%u}", i % 4 ? i : i % 97);
        if (i % 4 == 0)
            sprintf(k + strlen(k), "%u", i);
        set_both(f, k, (i % 7) ? "small" : v);
    }
    for (unsigned i = 0; i < 20000; i += 3) {
        struct slice key;
        sprintf(k, i % 4 ? "key:%u" : "{h%u}", i % 4 ? i : i % 97);
        if (i % 4 == 0)
            sprintf(k + strlen(k), "%u", i);
        key = S(k);
        for (unsigned sh = 0; sh < 2; sh++) {
            on(f, sh);
            if (i % 2)
                ks_delete(&f->c, &key);
            else if (i % 5 == 0) {
                struct kv_entry *e = ks_lookup_write(&f->c, &key);
                assert_non_null(e);
                ks_set_expire(&f->c, &key, e, T0 + 1);
            } else
                assert_non_null(ks_set_string(&f->c, &key, v + (i % 7), 50 + i % 240, 1));
        }
    }
    f->c.now_ms = T0 + 2;
    shard_active_expire(f->sh[0], T0 + 2, 1000000);
    shard_active_expire(f->sh[1], T0 + 2, 1000000);
    assert_int_equal(kvt_count(f->sh[0]->db[0]), kvt_count(f->sh[1]->db[0]));
    /* The plain table's counts come from one pass over it: asking it slot by
     * slot would walk the whole table 16384 times (minutes under ASan). */
    size_t total = 0, *brute = calloc(SLOT_COUNT, sizeof(*brute));
    uint64_t cursor = 0;

    assert_non_null(brute);
    do {
        cursor = kvt_scan(f->sh[1]->db[0], cursor, count_slot, brute);
    } while (cursor != 0);
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        on(f, 0);
        size_t n0 = ks_slot_count(&f->c, s);
        assert_int_equal(brute[s], n0);
        total += n0;
        if (s % 97 == 0 || n0 > 8) {
            on(f, 1);
            assert_int_equal(ks_slot_count(&f->c, s), n0);
            on(f, 0);
            ks_slot_keys(&f->c, s, 64, grab, &o1);
            on(f, 1);
            ks_slot_keys(&f->c, s, 64, grab, &o2);
            assert_int_equal(o1.n, o2.n);
            qsort(o1.buf, o1.n, sizeof(o1.buf[0]), cmp_str);
            qsort(o2.buf, o2.n, sizeof(o2.buf[0]), cmp_str);
            for (size_t i = 0; i < o1.n; i++)
                assert_string_equal(o1.buf[i], o2.buf[i]);
            drop(&o1);
            drop(&o2);
        }
    }
    assert_int_equal(total, kvt_count(f->sh[0]->db[0]));
    on(f, 0);
    assert_int_equal(ks_db0_count(&f->c), total);
    free(brute);
    f->c.now_ms = T0;
}

/* The purge deletes exactly the lost slots' keys, as the walk does. */
static void test_purge(void **state)
{
    struct fx *f = *state;
    uint8_t lost[SLOT_COUNT / 8] = { 0 };
    char k[32];
    size_t in_lost = 0;

    for (unsigned i = 0; i < 5000; i++) {
        sprintf(k, i % 2 ? "p:%u" : "{q%u}%u", i % 2 ? i : i % 61, i);
        set_both(f, k, "v");
        if (slot_of(k, strlen(k)) % 3 == 0)
            in_lost++;
    }
    for (unsigned sh = 0; sh < 2; sh++) {
        on(f, sh);
        assert_int_equal(ks_slots_purge(&f->c, lost), 0);
    }
    for (unsigned j = 0; j < SLOT_COUNT; j += 3)
        lost[j >> 3] = (uint8_t)(lost[j >> 3] | (1u << (j & 7)));
    lost[(SLOT_COUNT - 1) >> 3] |= (uint8_t)(1u << ((SLOT_COUNT - 1) & 7));
    key_in_slot(k, SLOT_COUNT - 1, 0);
    set_both(f, k, "last");
    in_lost++;
    for (unsigned sh = 0; sh < 2; sh++) {
        on(f, sh);
        assert_int_equal(ks_slots_purge(&f->c, lost), (long)in_lost);
        assert_int_equal(ks_db0_count(&f->c), 5001 - in_lost);
        assert_int_equal(ks_slots_purge(&f->c, lost), 0);
    }
    /* Per slot, the index against one pass over the plain table (asking the
     * plain table slot by slot would walk it 16384 times). */
    size_t *brute = calloc(SLOT_COUNT, sizeof(*brute));
    uint64_t cursor = 0;

    assert_non_null(brute);
    do {
        cursor = kvt_scan(f->sh[1]->db[0], cursor, count_slot, brute);
    } while (cursor != 0);
    on(f, 0);
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        assert_int_equal(ks_slot_count(&f->c, s), brute[s]);
        if (lost[s >> 3] & (1u << (s & 7)))
            assert_int_equal(brute[s], 0);
    }
    free(brute);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_counted_until_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_matches_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
    };

    slot_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
