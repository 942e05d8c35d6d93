/* test_watch — unit tests for kv/watch.c and the kvt change hook it hangs on
 * (cmocka).
 *
 * Each test builds NDBS real tables and a watch table over them, changes keys
 * through kvt.h as the commands do, and reads the nodes' verdicts. Memory is
 * checked both ways: what the tables and the watch table say they hold is
 * what mem.h counted, and everything is back to the starting count at
 * teardown. Boundaries first: an empty table, an empty key, a db out of
 * range, the expiry instant (now == expire is alive), then growth and
 * shrinking of the watched-key hash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/mem.h"
#include "../../kv/kvt.h"
#include "../../kv/watch.h"

#define NDBS 3
#define T0 1700000000000ll   /* a fixed "now" in unix ms */

struct fx {
    struct kvt *db[NDBS];
    struct watch_table *w;
    int64_t mem0;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->mem0 = mem_used();
    for (unsigned i = 0; i < NDBS; i++) {
        f->db[i] = kvt_create(0x1234 + i);
        assert_non_null(f->db[i]);
    }
    f->w = watch_table_create(f->db, NDBS, 0xfeed);
    assert_non_null(f->w);
    *state = f;
    return 0;
}

static void check_bytes(const struct fx *f)
{
    int64_t held = (int64_t)watch_table_bytes(f->w);

    for (unsigned i = 0; i < NDBS; i++)
        held += (int64_t)kvt_used_bytes(f->db[i]);
    assert_int_equal(held, mem_used() - f->mem0);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    check_bytes(f);
    watch_table_destroy(f->w);
    for (unsigned i = 0; i < NDBS; i++)
        kvt_destroy(f->db[i]);
    assert_int_equal(mem_used(), f->mem0);
    free(f);
    return 0;
}

static struct watch_node *watch(struct fx *f, unsigned db, const char *key, int64_t now)
{
    struct watch_node *n = watch_add(f->w, db, key, strlen(key), now);

    assert_non_null(n);
    return n;
}

static struct kv_entry *put(struct fx *f, unsigned db, const char *key, const char *val)
{
    struct kv_entry *e = NULL;
    int r = kvt_add(f->db[db], key, strlen(key), val, strlen(val), KV_ENC_RAW, &e);

    if (r == -EEXIST)
        e = kvt_set_value(f->db[db], e, val, strlen(val), KV_ENC_RAW);
    else
        assert_int_equal(r, 0);
    assert_non_null(e);
    return e;
}

static struct kv_entry *get(struct fx *f, unsigned db, const char *key)
{
    return kvt_find(f->db[db], key, strlen(key));
}

/* ---- boundaries ---- */

static void test_empty(void **state)
{
    struct fx *f = *state;
    struct watch_node *n;

    assert_int_equal(watch_table_keys(f->w), 0);
    assert_int_equal(watch_table_nodes(f->w), 0);
    /* writes with no watcher: no hook, nothing happens */
    put(f, 0, "k", "v");
    assert_int_equal(kvt_delete(f->db[0], "k", 1), 1);
    watch_touch(f->w, 0, "k", 1, 0);
    watch_flushing(f->w, 0);
    watch_swapping(f->w, 0, 1, T0);
    /* a db out of range is refused; an empty key is a key */
    assert_null(watch_add(f->w, NDBS, "k", 1, T0));
    n = watch(f, 2, "", T0);
    assert_true(watch_node_is(n, 2, "", 0));
    assert_false(watch_node_is(n, 1, "", 0));
    assert_false(watch_node_dirty(n));
    put(f, 2, "", "x");
    assert_true(watch_node_dirty(n));
    check_bytes(f);
    watch_release(f->w, n);
    assert_int_equal(watch_table_keys(f->w), 0);
}

static void test_expiry_instant(void **state)
{
    struct fx *f = *state;
    struct kv_entry *e = put(f, 0, "k", "v");
    struct watch_node *n;

    /* expire == now: alive at WATCH (Redis keyIsExpired is now > when) */
    assert_int_equal(kvt_set_expire(f->db[0], e, T0), 0);
    n = watch(f, 0, "k", T0);
    assert_false(watch_node_changed(f->w, n, T0));
    /* one ms later it is logically expired: EXEC fails though nothing
     * deleted it */
    assert_true(watch_node_changed(f->w, n, T0 + 1));
    assert_false(watch_node_dirty(n));
    watch_release(f->w, n);
}

/* ---- what dirties a node ---- */

static void test_each_change(void **state)
{
    struct fx *f = *state;
    struct watch_node *n;
    struct kv_entry *e;

    put(f, 0, "k", "v");
    /* each kvt change, one node at a time */
    n = watch(f, 0, "k", T0);
    e = kvt_set_value(f->db[0], get(f, 0, "k"), "w", 1, KV_ENC_RAW);
    assert_non_null(e);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    n = watch(f, 0, "k", T0);
    assert_non_null(kvt_resize_value(f->db[0], get(f, 0, "k"), 100));
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    n = watch(f, 0, "k", T0);
    kvt_value_written(f->db[0], get(f, 0, "k"));
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    n = watch(f, 0, "k", T0);
    assert_int_equal(kvt_set_expire(f->db[0], get(f, 0, "k"), T0 + 1000), 0);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    n = watch(f, 0, "k", T0);
    assert_int_equal(kvt_set_expire(f->db[0], get(f, 0, "k"), KV_NO_EXPIRE), 0);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    n = watch(f, 0, "k", T0);
    kvt_delete_entry(f->db[0], get(f, 0, "k"));
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    /* a missing key: deleting it is no change, creating it is */
    n = watch(f, 0, "k", T0);
    assert_int_equal(kvt_delete(f->db[0], "k", 1), 0);
    assert_false(watch_node_dirty(n));
    put(f, 0, "k", "new");
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);
}

static void test_rename(void **state)
{
    struct fx *f = *state;
    struct watch_node *src, *dst, *other;

    put(f, 0, "src", "v");
    src = watch(f, 0, "src", T0);
    dst = watch(f, 0, "dst-with-a-longer-name", T0);
    other = watch(f, 0, "other", T0);
    assert_non_null(kvt_rename(f->db[0], get(f, 0, "src"), "dst-with-a-longer-name", 22));
    assert_true(watch_node_dirty(src));
    assert_true(watch_node_dirty(dst));
    assert_false(watch_node_dirty(other));
    watch_release(f->w, src);
    watch_release(f->w, dst);
    watch_release(f->w, other);

    /* same size class: renamed in place */
    src = watch(f, 0, "dst-with-a-longer-name", T0);
    dst = watch(f, 0, "b", T0);
    assert_non_null(kvt_rename(f->db[0], get(f, 0, "dst-with-a-longer-name"), "b", 1));
    assert_true(watch_node_dirty(src));
    assert_true(watch_node_dirty(dst));
    watch_release(f->w, src);
    watch_release(f->w, dst);
}

static void test_other_keys_and_dbs(void **state)
{
    struct fx *f = *state;
    struct watch_node *a = watch(f, 0, "k", T0), *b = watch(f, 1, "k", T0);
    struct watch_node *c = watch(f, 1, "k", T0);   /* a second client */

    put(f, 0, "j", "v");
    put(f, 2, "k", "v");
    assert_false(watch_node_dirty(a));
    assert_false(watch_node_dirty(b));
    put(f, 1, "k", "v");
    assert_false(watch_node_dirty(a));
    assert_true(watch_node_dirty(b));
    assert_true(watch_node_dirty(c));
    assert_int_equal(watch_table_keys(f->w), 2);
    assert_int_equal(watch_table_nodes(f->w), 3);
    watch_release(f->w, b);
    /* the key stays watched while one watcher is left */
    assert_int_equal(watch_table_keys(f->w), 2);
    watch_release(f->w, c);
    assert_int_equal(watch_table_keys(f->w), 1);
    /* db 1 lost its hook: no crash, nothing to mark */
    put(f, 1, "k", "again");
    watch_release(f->w, a);
    assert_int_equal(watch_table_keys(f->w), 0);
    assert_int_equal(watch_table_nodes(f->w), 0);
}

/* ---- a key already expired at WATCH (7.0 watchedKey.expired) ---- */

static void test_expired_at_watch(void **state)
{
    struct fx *f = *state;
    struct watch_node *n;

    /* never touched: EXEC runs, even much later */
    assert_int_equal(kvt_set_expire(f->db[0], put(f, 0, "k", "v"), T0 - 1), 0);
    n = watch(f, 0, "k", T0);
    assert_false(watch_node_changed(f->w, n, T0 + 100000));
    /* its deletion (lazy or active expiry) is no change */
    kvt_delete_entry(f->db[0], get(f, 0, "k"));
    assert_false(watch_node_dirty(n));
    assert_false(watch_node_changed(f->w, n, T0));
    /* from then on it is an absent key: creating it is a change */
    put(f, 0, "k", "v");
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    /* a change that leaves the expired key in place does not dirty */
    assert_int_equal(kvt_set_expire(f->db[0], get(f, 0, "k"), T0 - 1), 0);
    n = watch(f, 0, "k", T0);
    assert_int_equal(kvt_set_expire(f->db[0], get(f, 0, "k"), T0 - 2), 0);
    assert_false(watch_node_dirty(n));
    assert_false(watch_node_changed(f->w, n, T0));
    watch_release(f->w, n);
}

/* ---- FLUSHDB / FLUSHALL ---- */

static void test_flushing(void **state)
{
    struct fx *f = *state;
    struct watch_node *live, *missing, *expired, *otherdb;

    put(f, 0, "live", "v");
    assert_int_equal(kvt_set_expire(f->db[0], put(f, 0, "expired", "v"), T0 - 1), 0);
    put(f, 1, "live", "v");
    live = watch(f, 0, "live", T0);
    missing = watch(f, 0, "missing", T0);
    expired = watch(f, 0, "expired", T0);
    otherdb = watch(f, 1, "live", T0);
    watch_flushing(f->w, 0);
    kvt_clear(f->db[0]);
    assert_true(watch_node_dirty(live));
    assert_false(watch_node_dirty(missing));
    assert_false(watch_node_dirty(expired));
    assert_false(watch_node_dirty(otherdb));
    /* the expired one now watches an absent key */
    put(f, 0, "expired", "v");
    assert_true(watch_node_dirty(expired));
    assert_false(watch_node_dirty(missing));
    watch_flushing(f->w, NDBS);          /* out of range: ignored */
    watch_release(f->w, live);
    watch_release(f->w, missing);
    watch_release(f->w, expired);
    watch_release(f->w, otherdb);
}

/* ---- SWAPDB (7.0 touchAllWatchedKeysInDb(a, b) and (b, a)) ---- */

static void swap(struct fx *f, unsigned a, unsigned b, int64_t now)
{
    watch_swapping(f->w, a, b, now);
    kvt_swap(f->db[a], f->db[b]);
}

static void test_swapping(void **state)
{
    struct fx *f = *state;
    struct watch_node *n;

    /* missing on both sides: no change */
    n = watch(f, 0, "k", T0);
    swap(f, 0, 1, T0);
    assert_false(watch_node_dirty(n));
    /* same db: nothing */
    put(f, 0, "j", "v");
    watch_release(f->w, n);
    n = watch(f, 0, "j", T0);
    watch_swapping(f->w, 0, 0, T0);
    assert_false(watch_node_dirty(n));
    /* present here, gone after: change */
    swap(f, 0, 1, T0);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);
    /* absent here, arriving from the other db: change */
    n = watch(f, 0, "j", T0);
    swap(f, 0, 1, T0);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);
    /* a watcher of db 1 is told too */
    n = watch(f, 1, "j", T0);
    swap(f, 0, 1, T0);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);
}

static void test_swapping_expired(void **state)
{
    struct fx *f = *state;
    struct watch_node *n;

    /* absent here, an expired key arrives: the watcher now watches an
     * expired key (no change, and EXEC ignores its expiry) */
    assert_int_equal(kvt_set_expire(f->db[1], put(f, 1, "k", "v"), T0 - 1), 0);
    n = watch(f, 0, "k", T0);
    swap(f, 0, 1, T0);
    assert_false(watch_node_dirty(n));
    assert_false(watch_node_changed(f->w, n, T0));
    /* expired here, expired there too: still no change */
    assert_int_equal(kvt_set_expire(f->db[1], put(f, 1, "k", "w"), T0 - 1), 0);
    swap(f, 0, 1, T0);
    assert_false(watch_node_dirty(n));
    /* expired here, nothing there: deleted, so from now an absent key */
    kvt_clear(f->db[1]);
    swap(f, 0, 1, T0);
    assert_false(watch_node_dirty(n));
    put(f, 0, "k", "v");
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);

    /* expired here, a live key there: change */
    kvt_clear(f->db[0]);
    kvt_clear(f->db[1]);
    assert_int_equal(kvt_set_expire(f->db[0], put(f, 0, "k", "v"), T0 - 1), 0);
    put(f, 1, "k", "live");
    n = watch(f, 0, "k", T0);
    swap(f, 0, 1, T0);
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);
}

/* The hook belongs to the db number: after kvt_swap the table now in db 0's
 * place reports db 0's changes. */
static void test_hook_stays_with_place(void **state)
{
    struct fx *f = *state;
    struct watch_node *n = watch(f, 0, "k", T0);

    kvt_swap(f->db[0], f->db[1]);
    put(f, 1, "k", "v");
    assert_false(watch_node_dirty(n));
    put(f, 0, "k", "v");
    assert_true(watch_node_dirty(n));
    watch_release(f->w, n);
    kvt_swap(f->db[0], f->db[1]);
    /* no hook anywhere now */
    put(f, 0, "k", "w");
    put(f, 1, "k", "w");
    check_bytes(f);
}

/* ---- growth, shrinking, destroy with nodes left ---- */

static void test_many_keys(void **state)
{
    struct fx *f = *state;
    enum { N = 5000 };
    static struct watch_node *nodes[N];
    char key[32];
    size_t bytes0 = watch_table_bytes(f->w);

    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key:%u", i);
        nodes[i] = watch(f, i % NDBS, key, T0);
    }
    assert_int_equal(watch_table_keys(f->w), N);
    check_bytes(f);
    /* every key is still found after the doublings */
    for (unsigned i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "key:%u", i);
        put(f, i % NDBS, key, "v");
    }
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(watch_node_dirty(nodes[i]), i % 2 == 0);
    /* release in an order that shrinks the table while keys remain */
    for (unsigned i = 0; i < N; i++) {
        watch_release(f->w, nodes[(i * 7919u) % N]);
        if (i % 1000 == 0)
            check_bytes(f);
    }
    assert_int_equal(watch_table_keys(f->w), 0);
    assert_int_equal(watch_table_bytes(f->w), bytes0);
}

static void test_destroy_with_nodes(void **state)
{
    struct fx *f = *state;

    /* a shard going away with watchers left (shutdown): everything freed,
     * hooks taken off (teardown's kvt writes would crash otherwise) */
    watch(f, 0, "a", T0);
    watch(f, 0, "a", T0);
    watch(f, 2, "b", T0);
    watch_table_destroy(f->w);
    put(f, 0, "a", "v");
    put(f, 2, "b", "v");
    f->w = watch_table_create(f->db, NDBS, 1);
    assert_non_null(f->w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_instant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_keys_and_dbs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_at_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flushing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapping_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_stays_with_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_nodes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
