/* Unit tests for slotd-load's reply framing (dataplane/load/reply.c).
 *
 * Every reply kind, then the same stream cut at every byte boundary (TCP may
 * split anywhere), then malformed input, which must latch REPLY_BAD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/load/reply.h"

static const char stream[] =
    "+OK\r\n$-1\r\n$5\r\nhello\r\n-ERR wrong type\r\n:12\r\n$0\r\n\r\n+PONG\r\n"
    "$12\r\nab\r\ncd\r\nef\r\n\r\n$01\r\nx\r\n+OKAY\r\n";
static const enum reply_kind kinds[] = {
    REPLY_OK, REPLY_NIL, REPLY_BULK, REPLY_ERROR, REPLY_INT, REPLY_BULK, REPLY_STATUS, REPLY_BULK,
    REPLY_BULK, REPLY_STATUS,
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static unsigned feed(struct reply_parser *p, const char *s, size_t len, size_t chunk,
                     enum reply_kind *out, unsigned max)
{
    unsigned got = 0;

    for (size_t off = 0; off < len; off += chunk) {
        size_t n = off + chunk <= len ? chunk : len - off;
        const uint8_t *b = (const uint8_t *)s + off;

        while (n > 0) {
            enum reply_kind k = reply_next(p, &b, &n);

            if (k == REPLY_NONE) {
                assert_int_equal(n, 0);
                break;
            }
            assert_true(got < max);
            out[got++] = k;
            if (k == REPLY_BAD)
                return got;
        }
    }
    return got;
}

static void test_every_split(void **state)
{
    (void)state;
    for (size_t chunk = 1; chunk <= sizeof(stream) - 1; chunk++) {
        struct reply_parser p;
        enum reply_kind got[NKINDS + 1];

        reply_init(&p);
        assert_int_equal(feed(&p, stream, sizeof(stream) - 1, chunk, got, NKINDS + 1), NKINDS);
        assert_memory_equal(got, kinds, sizeof(kinds));
    }
}

/* Whole replies take the one-step path, cut ones the state machine: the
 * caller reads the same bulk length either way. */
static void test_bulk_len_both_paths(void **state)
{
    static const char r[] = "$16\r\n0123456789abcdef\r\n";

    (void)state;
    for (size_t chunk = 1; chunk <= sizeof(r) - 1; chunk++) {
        struct reply_parser p;
        enum reply_kind got[2];

        reply_init(&p);
        assert_int_equal(feed(&p, r, sizeof(r) - 1, chunk, got, 2), 1);
        assert_int_equal(got[0], REPLY_BULK);
        assert_int_equal(p.bulk_len, 16);
    }
}

static void test_error_line_kept(void **state)
{
    struct reply_parser p;
    enum reply_kind k;
    char big[200];

    (void)state;
    reply_init(&p);
    assert_int_equal(feed(&p, "-ERR x\r\n", 8, 3, &k, 1), 1);
    assert_int_equal(k, REPLY_ERROR);
    assert_string_equal(p.line, "ERR x");
    /* longer than REPLY_LINE_MAX: truncated, still framed */
    memset(big, 'e', sizeof(big));
    big[0] = '-';
    memcpy(big + sizeof(big) - 2, "\r\n", 2);
    assert_int_equal(feed(&p, big, sizeof(big), 7, &k, 1), 1);
    assert_int_equal(k, REPLY_ERROR);
    assert_int_equal(strlen(p.line), REPLY_LINE_MAX);
    /* +OKAY is not +OK */
    assert_int_equal(feed(&p, "+OKAY\r\n", 7, 7, &k, 1), 1);
    assert_int_equal(k, REPLY_STATUS);
}

static void test_bad(void **state)
{
    static const char *const bad[] = {
        "*1\r\n", "%1\r\n", "$-2\r\n", "$x\r\n", "$\r\n", "+OK\rX", ":1a\r\n",
        "$99999999999999999999\r\n",
    };

    (void)state;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct reply_parser p;
        enum reply_kind k = REPLY_NONE;
        const uint8_t *b;
        size_t n;

        reply_init(&p);
        assert_int_equal(feed(&p, bad[i], strlen(bad[i]), 1, &k, 1), 1);
        assert_int_equal(k, REPLY_BAD);
        b = (const uint8_t *)"+OK\r\n";
        n = 5;
        assert_int_equal(reply_next(&p, &b, &n), REPLY_BAD);   /* latched */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_bulk_len_both_paths),
        cmocka_unit_test(test_error_line_kept),
        cmocka_unit_test(test_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
