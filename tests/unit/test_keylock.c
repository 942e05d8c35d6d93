/* test_keylock — unit tests for dataplane/keylock.c (cmocka): the keys an
 * asynchronous MIGRATE holds. Lookups match key bytes and database exactly
 * (prefixes, empty keys, binary bytes), one owner's release leaves the
 * others' locks, a key locked twice stays locked until both release, a
 * large set stays searchable, and memory is back to zero at teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/keylock.h"
#include "../../dataplane/mem.h"

static int64_t mem0;

static int setup(void **state)
{
    (void)state;
    mem0 = mem_used();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(mem_used(), mem0);
    return 0;
}

static void empty_set(void **state)
{
    struct keylock_set s = { 0 };

    (void)state;
    assert_int_equal(keylock_count(&s), 0);
    assert_int_equal(keylock_held(&s, 0, "a", 1), 0);
    assert_int_equal(keylock_held(&s, 0, "", 0), 0);
    assert_int_equal(keylock_release(&s, &s), 0);
    keylock_free(&s);
}

static void exact_match(void **state)
{
    static const char bin[] = { 'k', '\0', 'x' };
    const char *keys[] = { "key", "", bin };
    const size_t lens[] = { 3, 0, 3 };
    struct keylock_set s = { 0 };
    int owner = 0;

    (void)state;
    assert_int_equal(keylock_add(&s, 2, keys, lens, 3, &owner), 0);
    assert_int_equal(keylock_count(&s), 3);
    assert_int_equal(keylock_held(&s, 2, "key", 3), 1);
    assert_int_equal(keylock_held(&s, 2, "", 0), 1);
    assert_int_equal(keylock_held(&s, 2, bin, 3), 1);
    /* other database, prefix, longer key, a byte after the NUL differing */
    assert_int_equal(keylock_held(&s, 0, "key", 3), 0);
    assert_int_equal(keylock_held(&s, 2, "ke", 2), 0);
    assert_int_equal(keylock_held(&s, 2, "keys", 4), 0);
    assert_int_equal(keylock_held(&s, 2, "k\0y", 3), 0);
    assert_int_equal(keylock_release(&s, &owner), 3);
    assert_int_equal(keylock_held(&s, 2, "key", 3), 0);
    keylock_free(&s);
}

static void owners(void **state)
{
    const char *a[] = { "a", "shared" }, *b[] = { "b", "shared" };
    const size_t la[] = { 1, 6 }, lb[] = { 1, 6 };
    struct keylock_set s = { 0 };
    int first = 1, second = 2;

    (void)state;
    assert_int_equal(keylock_add(&s, 0, a, la, 2, &first), 0);
    assert_int_equal(keylock_add(&s, 0, b, lb, 2, &second), 0);
    assert_int_equal(keylock_count(&s), 4);
    assert_int_equal(keylock_release(&s, &first), 2);
    assert_int_equal(keylock_held(&s, 0, "a", 1), 0);
    assert_int_equal(keylock_held(&s, 0, "b", 1), 1);
    assert_int_equal(keylock_held(&s, 0, "shared", 6), 1);   /* still the second's */
    assert_int_equal(keylock_release(&s, &first), 0);
    assert_int_equal(keylock_release(&s, &second), 2);
    assert_int_equal(keylock_held(&s, 0, "shared", 6), 0);
    keylock_free(&s);
}

/* Many keys in several batches: every one found, none of their neighbours,
 * and a release in the middle keeps the rest sorted and searchable. */
static void many(void **state)
{
    enum { N = 5000, BATCH = 1000 };
    static char names[N][12];
    const char *keys[BATCH];
    size_t lens[BATCH];
    struct keylock_set s = { 0 };
    int owner[N / BATCH] = { 0 };

    (void)state;
    for (int i = 0; i < N; i++)
        snprintf(names[i], sizeof(names[i]), "k%d", i);
    for (int b = 0; b < N / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            keys[i] = names[b * BATCH + i];
            lens[i] = strlen(keys[i]);
        }
        assert_int_equal(keylock_add(&s, 0, keys, lens, BATCH, &owner[b]), 0);
    }
    assert_int_equal(keylock_count(&s), N);
    for (int i = 0; i < N; i++)
        assert_int_equal(keylock_held(&s, 0, names[i], strlen(names[i])), 1);
    assert_int_equal(keylock_held(&s, 0, "k5000", 5), 0);
    assert_int_equal(keylock_release(&s, &owner[2]), BATCH);
    for (int i = 0; i < N; i++)
        assert_int_equal(keylock_held(&s, 0, names[i], strlen(names[i])),
                         i / BATCH != 2);
    for (int b = 0; b < N / BATCH; b++)
        keylock_release(&s, &owner[b]);
    assert_int_equal(keylock_count(&s), 0);
    keylock_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(empty_set, setup, teardown),
        cmocka_unit_test_setup_teardown(exact_match, setup, teardown),
        cmocka_unit_test_setup_teardown(owners, setup, teardown),
        cmocka_unit_test_setup_teardown(many, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
