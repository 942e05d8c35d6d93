/* test_glob — unit tests for kv/glob.c (cmocka).
 *
 * Expected answers are Redis 7.0.15's (KEYS against a real redis-server),
 * quirks included: "*" does not match the empty string, a class range
 * compares signed bytes, an unterminated class ends with the pattern. The
 * matcher allocates nothing, so there is nothing to free at teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../kv/glob.h"

static int m(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), 0);
}

static int mi(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), 1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- boundaries first ---- */

static void test_empty(void **state)
{
    (void)state;
    assert_int_equal(m("", ""), 1);
    assert_int_equal(m("", "a"), 0);
    assert_int_equal(m("a", ""), 0);
    /* Redis: matching stops when the string is empty, so stars alone do not
     * match it (KEYS * works only through its own shortcut) */
    assert_int_equal(m("*", ""), 0);
    assert_int_equal(m("**", ""), 0);
    assert_int_equal(m("?", ""), 0);
    assert_int_equal(m("[a]", ""), 0);
}

static void test_nesting_limit(void **state)
{
    /* 1001 groups of "a*" nest 1000 deep: still a match; 1100 are cut off
     * (Redis 7.0.15 measured the same way). */
    size_t slen = 1200;
    char *s = malloc(slen), *p = malloc(2 * 1100);

    (void)state;
    assert_non_null(s);
    assert_non_null(p);
    memset(s, 'a', slen);
    for (size_t i = 0; i < 1100; i++) {
        p[2 * i] = 'a';
        p[2 * i + 1] = '*';
    }
    assert_int_equal(glob_match(p, 2 * 999, s, slen, 0), 1);
    assert_int_equal(glob_match(p, 2 * 1001, s, slen, 0), 1);
    assert_int_equal(glob_match(p, 2 * 1100, s, slen, 0), 0);
    free(s);
    free(p);
}

static void test_pathological_fast(void **state)
{
    /* Backtracking without the give-up rule is exponential here. */
    const char *pats[] = {
        "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
        "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
        "*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b",
        "[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*c",
    };
    size_t slen = 20000;
    char *s = malloc(slen);
    double t0;

    (void)state;
    assert_non_null(s);
    memset(s, 'a', slen);
    t0 = now_s();
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
        assert_int_equal(glob_match(pats[i], strlen(pats[i]), s, slen, 0), 0);
    assert_true(now_s() - t0 < 1.0);
    free(s);
}

/* ---- ordinary matching ---- */

static void test_literal_and_question(void **state)
{
    (void)state;
    assert_int_equal(m("abc", "abc"), 1);
    assert_int_equal(m("abc", "abd"), 0);
    assert_int_equal(m("abc", "ab"), 0);
    assert_int_equal(m("ab", "abc"), 0);
    assert_int_equal(m("a?c", "abc"), 1);
    assert_int_equal(m("a?c", "ac"), 0);
    assert_int_equal(m("???", "abc"), 1);
    assert_int_equal(m("???", "abcd"), 0);
}

static void test_stars(void **state)
{
    (void)state;
    assert_int_equal(m("*", "x"), 1);
    assert_int_equal(m("a*", "a"), 1);
    assert_int_equal(m("a**", "a"), 1);
    assert_int_equal(m("*a", "a"), 1);
    assert_int_equal(m("*a", "ba"), 1);
    assert_int_equal(m("*a", "ab"), 0);
    assert_int_equal(m("h*llo", "hello"), 1);
    assert_int_equal(m("h*llo", "hllo"), 1);
    assert_int_equal(m("h*llo", "heeeello"), 1);
    assert_int_equal(m("*a*b*", "xxaxxbxx"), 1);
    assert_int_equal(m("*a*b*", "xxbxxaxx"), 0);
    assert_int_equal(m("a*b*c", "abbbcbc"), 1);
    assert_int_equal(m("a*?", "a"), 0);
    assert_int_equal(m("a*?", "ab"), 1);
    assert_int_equal(m("*?*", "x"), 1);
}

static void test_classes(void **state)
{
    (void)state;
    assert_int_equal(m("h[ae]llo", "hello"), 1);
    assert_int_equal(m("h[ae]llo", "hallo"), 1);
    assert_int_equal(m("h[ae]llo", "hillo"), 0);
    assert_int_equal(m("h[^e]llo", "hallo"), 1);
    assert_int_equal(m("h[^e]llo", "hello"), 0);
    assert_int_equal(m("h[a-b]llo", "hbllo"), 1);
    assert_int_equal(m("h[a-b]llo", "hcllo"), 0);
    /* a reversed range is the same range */
    assert_int_equal(m("[z-a]", "q"), 1);
    /* '-' first is literal */
    assert_int_equal(m("[-a]", "-"), 1);
    /* "a-]" is the range a..']' (swapped: ']'..'a'), so the ']' does not
     * close the class: "[a-]x" is that range plus 'x', unterminated, and
     * "[a-]x]" the same, closed */
    assert_int_equal(m("[a-]", "-"), 0);
    assert_int_equal(m("[a-]x", "a"), 1);
    assert_int_equal(m("[a-]x]", "^"), 1);
    assert_int_equal(m("[a-]x]", "x"), 1);
    /* an escaped ']' inside a class */
    assert_int_equal(m("[\\]]", "]"), 1);
    assert_int_equal(m("[\\]a]", "a"), 1);
    assert_int_equal(m("[\\]a]", "b"), 0);
    /* unterminated class: the class runs to the end of the pattern */
    assert_int_equal(m("[abc", "a"), 1);
    assert_int_equal(m("[abc", "ab"), 0);
    assert_int_equal(m("[", "a"), 0);
    assert_int_equal(m("[^", "a"), 1);
    assert_int_equal(m("x[", "x"), 0);
    /* empty class "[]" is never closed by its first ']' */
    assert_int_equal(m("[]", "]"), 0);
    assert_int_equal(m("[]]", "]"), 0);
}

static void test_escapes(void **state)
{
    (void)state;
    assert_int_equal(m("\\*", "*"), 1);
    assert_int_equal(m("\\*", "a"), 0);
    assert_int_equal(m("\\?", "?"), 1);
    assert_int_equal(m("\\[a]", "[a]"), 1);
    assert_int_equal(m("a\\", "a\\"), 1);    /* a trailing backslash is literal */
    assert_int_equal(m("\\\\", "\\"), 1);
    assert_int_equal(m("\\a", "a"), 1);
}

static void test_nocase_and_bytes(void **state)
{
    (void)state;
    assert_int_equal(m("HELLO", "hello"), 0);
    assert_int_equal(mi("HELLO", "hello"), 1);
    assert_int_equal(mi("h[A-C]llo", "hbllo"), 1);
    assert_int_equal(mi("[^A]", "a"), 0);
    /* NUL bytes are ordinary bytes */
    assert_int_equal(glob_match("a\0b", 3, "a\0b", 3, 0), 1);
    assert_int_equal(glob_match("a?b", 3, "a\0b", 3, 0), 1);
    assert_int_equal(glob_match("a*", 2, "a\0\0", 3, 0), 1);
    /* ranges compare signed chars: 0xff (-1) is inside [\x80-a] */
    assert_int_equal(glob_match("[\x80-a]", 5, "\xff", 1, 0), 1);
    assert_int_equal(glob_match("[a-\x80]", 5, "b", 1, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_pathological_fast),
        cmocka_unit_test(test_literal_and_question),
        cmocka_unit_test(test_stars),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_nocase_and_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
