/* test_resp_parse — request parser against redis-server 7.0's observed behaviour.
 *
 * Every expectation below was first checked by sending the same bytes to a
 * real redis-server 7.0.15. Each corpus entry is parsed whole, split in two at
 * every offset, and fed byte by byte (and 3 and 7 bytes at a time), and must
 * give the same commands every time; the feeder moves its buffer between calls,
 * as a connection does, so a stale pointer shows up under ASan. Limits are
 * tested exactly at and one past each boundary. Links mem_shim_test.c, whose
 * byte counter must be zero after each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/mem.h"
#include "../../dataplane/resp_parse.h"

/* Failure injection from tests/unit/mem_shim_test.c. Weak: when the test
 * links the real dataplane/mem.c instead, it is NULL and the out-of-memory
 * cases are skipped. */
void mem_shim_fail_after(long n) __attribute__((weak));

#define LIT(s) (s), (sizeof(s) - 1)

/* Expected shape of a feed: one line per result, "C<argc>" then "|<len>:<bytes>"
 * per argument, "E" for an empty command, "X<error text>" for a protocol
 * error (the feed stops there), "R<n>" for the n bytes left unconsumed. */
struct events {
    char *s;
    size_t len, cap;
};

static void ev_add(struct events *e, const void *p, size_t n)
{
    if (e->len + n + 1 > e->cap) {
        e->cap = (e->len + n + 1) * 2;
        e->s = realloc(e->s, e->cap);
        assert_non_null(e->s);
    }
    memcpy(e->s + e->len, p, n);
    e->len += n;
    e->s[e->len] = '\0';
}

static void ev_printf(struct events *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ev_printf(struct events *e, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    ev_add(e, tmp, (size_t)n);
}

static void ev_free(struct events *e)
{
    free(e->s);
    memset(e, 0, sizeof(*e));
}

static const struct resp_limits lim_default = { 512ull * 1024 * 1024, 0 };
static const struct resp_limits lim_auth = { 512ull * 1024 * 1024, 1 };

/* How run() prepares its parser: as a new connection's (argv not allocated
 * yet, so the first command takes the exact path), forced onto the exact
 * path, or warmed by a 64-argument command so the one-pass path may take
 * even the first command. All three must give the same events. */
/* PATH_PLAIN feeds as client.c does: between commands, resp_parse_plain
 * into the caller's own argv (PLAIN_ARGS of them) first, resp_parse when
 * it declines. */
enum path_mode { PATH_COLD, PATH_EXACT, PATH_WARM, PATH_PLAIN };

#define PLAIN_ARGS 8

#define WARM_ARGS 64

static void warm_up(struct resp_parser *p)
{
    char in[8 + WARM_ARGS * 7];
    size_t n = (size_t)snprintf(in, sizeof(in), "*%d\r\n", WARM_ARGS), used = 0;

    for (int i = 0; i < WARM_ARGS; i++) {
        memcpy(in + n, "$1\r\nx\r\n", 7);
        n += 7;
    }
    assert_int_equal(resp_parse(p, &lim_default, in, n, &used), RESP_COMMAND);
    assert_int_equal(used, n);
    assert_int_equal(p->argc, WARM_ARGS);
}

/* Feed in[0..n) as a connection would: chunks end at `split` (when step is
 * 0) or every `step` bytes; consumed bytes are dropped after each command.
 * With `move`, each chunk lands in a freshly allocated buffer. */
static void run_mode(const char *in, size_t n, size_t split, size_t step, int move,
                     const struct resp_limits *lim, struct events *ev, enum path_mode mode)
{
    struct resp_parser p;
    char *buf = NULL;
    size_t have = 0, fed = 0;
    int dead = 0;

    resp_parser_init(&p);
    if (mode == PATH_EXACT)
        p.exact_only = 1;
    else if (mode == PATH_WARM)
        warm_up(&p);
    if (!move) {
        buf = malloc(n + 1);
        assert_non_null(buf);
    }
    while (fed < n && !dead) {
        size_t next = step ? (n - fed < step ? n : fed + step) : (fed < split ? split : n);

        if (move) {
            char *nb = malloc(have + (next - fed) + 1);

            assert_non_null(nb);
            if (have)
                memcpy(nb, buf, have);
            free(buf);
            buf = nb;
        }
        memcpy(buf + have, in + fed, next - fed);
        have += next - fed;
        fed = next;
        for (;;) {
            size_t used = 0;
            struct slice plain[PLAIN_ARGS];
            const struct slice *argv = p.argv;
            int argc = 0;
            enum resp_result r;

            if (mode == PATH_PLAIN && resp_parser_between(&p) &&
                (used = resp_parse_plain(lim, buf, have, plain, PLAIN_ARGS, &argc)) > 0) {
                r = RESP_COMMAND;
                argv = plain;
            } else {
                r = resp_parse(&p, lim, buf, have, &used);
                argv = p.argv;
                argc = p.argc;
            }

            if (r == RESP_INCOMPLETE)
                break;
            if (r == RESP_ERROR) {
                assert_non_null(p.error);
                ev_printf(ev, "X%s\n", p.error);
                dead = 1;
                break;
            }
            assert_true(used > 0 && used <= have);
            if (r == RESP_EMPTY) {
                ev_add(ev, "E\n", 2);
            } else {
                assert_int_equal(r, RESP_COMMAND);
                assert_true(argc > 0);
                ev_printf(ev, "C%d", argc);
                for (int i = 0; i < argc; i++) {
                    char num[24];
                    size_t k = sizeof(num), v = argv[i].len;

                    /* By hand: this runs millions of times per test. */
                    num[--k] = ':';
                    do {
                        num[--k] = (char)('0' + v % 10);
                        v /= 10;
                    } while (v);
                    num[--k] = '|';
                    ev_add(ev, num + k, sizeof(num) - k);
                    ev_add(ev, argv[i].p, argv[i].len);
                }
                ev_add(ev, "\n", 1);
            }
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
    if (!dead)
        ev_printf(ev, "R%zu\n", have);
    resp_parser_free(&p);
    free(buf);
}

static void run(const char *in, size_t n, size_t split, size_t step, int move,
                const struct resp_limits *lim, struct events *ev)
{
    run_mode(in, n, split, step, move, lim, ev, PATH_COLD);
}

static void same_events(const struct events *a, const struct events *b, const char *what, size_t at)
{
    if (a->len != b->len || memcmp(a->s, b->s, a->len) != 0) {
        fprintf(stderr, "%s %zu differs:\n%s\nvs whole:\n%s\n", what, at, a->s, b->s);
        fail();
    }
}

/* Whole feed must equal `want`; every other chunking must equal the whole,
 * and so must the exact path alone, a warmed parser (the one-pass path
 * then sees every command, cut at every byte) and client.c's way of trying
 * resp_parse_plain first between commands. */
static void check_all_splits(const char *in, size_t n, const char *want, size_t wlen,
                             const struct resp_limits *lim, int every_split)
{
    struct events whole = {0}, ev = {0};
    static const size_t steps[] = { 1, 3, 7 };

    run(in, n, n, 0, 1, lim, &whole);
    if (want != NULL && (whole.len != wlen || memcmp(whole.s, want, wlen) != 0)) {
        fprintf(stderr, "want: %.*s\ngot:  %s\n", (int)wlen, want, whole.s);
        fail();
    }
    for (size_t k = 0; every_split && k <= n; k++) {
        run(in, n, k, 0, 1, lim, &ev);
        if (ev.len != whole.len || memcmp(ev.s, whole.s, whole.len) != 0) {
            fprintf(stderr, "split at %zu of %zu differs:\n%s\nvs whole:\n%s\n", k, n, ev.s, whole.s);
            fail();
        }
        ev.len = 0;
    }
    run_mode(in, n, n, 0, 1, lim, &ev, PATH_EXACT);
    same_events(&ev, &whole, "exact path, whole feed", n);
    ev.len = 0;
    for (size_t k = 0; k <= n; k += every_split ? 1 : (n > 64 ? n / 64 : 1)) {
        run_mode(in, n, k, 0, 1, lim, &ev, PATH_WARM);
        same_events(&ev, &whole, "warm parser, split at", k);
        ev.len = 0;
        run_mode(in, n, k, 0, 1, lim, &ev, PATH_PLAIN);
        same_events(&ev, &whole, "resp_parse_plain first, split at", k);
        ev.len = 0;
    }
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        run(in, n, 0, steps[s], n < 40000, lim, &ev);
        if (ev.len != whole.len || memcmp(ev.s, whole.s, whole.len) != 0) {
            fprintf(stderr, "step %zu differs:\n%s\nvs whole:\n%s\n", steps[s], ev.s, whole.s);
            fail();
        }
        ev.len = 0;
    }
    ev_free(&whole);
    ev_free(&ev);
}

static int teardown_mem(void **state)
{
    (void)state;
    if (mem_shim_fail_after != NULL)
        mem_shim_fail_after(-1);
    assert_int_equal(mem_used(), 0);
    return 0;
}

/* ---- boundaries first ---------------------------------------------------- */

/* PROTO_INLINE_MAX_SIZE is 65536: the unconsumed bytes may reach it without a
 * line end; one more is the error. */
static void test_inline_limit_boundary(void **state)
{
    size_t n = 65537 + 1;
    char *b = malloc(n);
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    memset(b, 'A', n);
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65536, &used), RESP_INCOMPLETE);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65537, &used), RESP_ERROR);
    assert_string_equal(p.error, "Protocol error: too big inline request");
    resp_parser_free(&p);

    /* A line end already in the buffer wins, whatever the line's length:
     * Redis only checks the limit when it finds none. */
    b[65536] = '\n';
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65537, &used), RESP_COMMAND);
    assert_int_equal(used, 65537);
    assert_int_equal(p.argc, 1);
    assert_int_equal(p.argv[0].len, 65536);
    resp_parser_free(&p);

    /* ...so a long line that arrives in pieces fails where one read would not,
     * exactly as with Redis, which checks after every read. */
    b[65537] = '\n';
    b[65536] = 'A';
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65537, &used), RESP_ERROR);
    resp_parser_free(&p);
    free(b);
}

static void test_mbulk_count_line_limit(void **state)
{
    size_t n = 65538;
    char *b = malloc(n);
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    b[0] = '*';
    memset(b + 1, '1', n - 1);
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65536, &used), RESP_INCOMPLETE);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65537, &used), RESP_ERROR);
    assert_string_equal(p.error, "Protocol error: too big mbulk count string");
    resp_parser_free(&p);

    /* A '\r' as the 65537th byte is a line end found: no size error, the
     * parser waits for the byte after it, then rejects the number. */
    b[65536] = '\r';
    b[65537] = '\n';
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65537, &used), RESP_INCOMPLETE);
    assert_int_equal(resp_parse(&p, &lim_default, b, 65538, &used), RESP_ERROR);
    assert_string_equal(p.error, "Protocol error: invalid multibulk length");
    resp_parser_free(&p);
    free(b);
}

static void test_bulk_count_line_limit(void **state)
{
    size_t n = 4 + 65537;
    char *b = malloc(n);
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    memcpy(b, "*1\r\n$", 5);
    memset(b + 5, '1', n - 5);
    resp_parser_init(&p);
    /* 65536 bytes from the '$' on: still waiting. */
    assert_int_equal(resp_parse(&p, &lim_default, b, 4 + 65536, &used), RESP_INCOMPLETE);
    assert_int_equal(resp_parse(&p, &lim_default, b, 4 + 65537, &used), RESP_ERROR);
    assert_string_equal(p.error, "Protocol error: too big bulk count string");
    resp_parser_free(&p);
    free(b);
}

/* Redis 7.0 caps the count at INT_MAX (not 1024*1024 as older releases did). */
static void test_mbulk_count_int_max(void **state)
{
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*2147483647\r\n$1\r\nx\r\n"), &used),
                     RESP_INCOMPLETE);
    /* argv follows the data, not the claimed count. */
    assert_true(mem_used() <= 1024 * (int64_t)(sizeof(struct slice) + sizeof(size_t)));
    resp_parser_free(&p);

    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*2147483648\r\n"), &used), RESP_ERROR);
    assert_string_equal(p.error, "Protocol error: invalid multibulk length");
    resp_parser_free(&p);

    check_all_splits(LIT("*1048577\r\n"), LIT("R10\n"), &lim_default, 1);
}

/* Lengths of 18, 19 and 20 digits: the one-pass header path stops at 18 and
 * must hand longer ones to the exact parser without overflowing. */
static void test_long_length_digits(void **state)
{
    static const char *const mbulk[] = {
        "*999999999999999999\r\n", "*9223372036854775807\r\n",
        "*9223372036854775808\r\n", "*99999999999999999999\r\n",
    };
    static const char *const bulk[] = {
        "*1\r\n$999999999999999999\r\n", "*1\r\n$9223372036854775807\r\n",
        "*1\r\n$9223372036854775808\r\n", "*1\r\n$99999999999999999999\r\n",
    };
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(mbulk) / sizeof(mbulk[0]); i++) {
        resp_parser_init(&p);
        assert_int_equal(resp_parse(&p, &lim_default, mbulk[i], strlen(mbulk[i]), &used),
                         RESP_ERROR);
        assert_string_equal(p.error, "Protocol error: invalid multibulk length");
        resp_parser_free(&p);
        resp_parser_init(&p);
        assert_int_equal(resp_parse(&p, &lim_default, bulk[i], strlen(bulk[i]), &used),
                         RESP_ERROR);
        assert_string_equal(p.error, "Protocol error: invalid bulk length");
        resp_parser_free(&p);
    }
}

static void test_auth_limits(void **state)
{
    (void)state;
    check_all_splits(LIT("*10\r\n"), LIT("R5\n"), &lim_auth, 1);
    check_all_splits(LIT("*11\r\n"), LIT("XProtocol error: unauthenticated multibulk length\n"),
                     &lim_auth, 1);
    check_all_splits(LIT("*11\r\n"), LIT("R5\n"), &lim_default, 1);
    /* Negative and zero counts are empty commands, also before AUTH. */
    check_all_splits(LIT("*-100\r\n"), LIT("E\nR0\n"), &lim_auth, 1);
    check_all_splits(LIT("*1\r\n$16384\r\n"), LIT("R12\n"), &lim_auth, 1);
    check_all_splits(LIT("*1\r\n$16385\r\n"), LIT("XProtocol error: unauthenticated bulk length\n"),
                     &lim_auth, 1);
    check_all_splits(LIT("*1\r\n$16385\r\n"), LIT("R12\n"), &lim_default, 1);
    /* Over proto-max-bulk-len is reported first. */
    check_all_splits(LIT("*1\r\n$536870913\r\n"), LIT("XProtocol error: invalid bulk length\n"),
                     &lim_auth, 1);
    /* Inline requests have no unauthenticated limit. */
    check_all_splits(LIT("a b c d e f g h i j k l\r\n"),
                     LIT("C12|1:a|1:b|1:c|1:d|1:e|1:f|1:g|1:h|1:i|1:j|1:k|1:l\nR0\n"), &lim_auth, 1);
}

static void test_proto_max_bulk_len(void **state)
{
    const struct resp_limits small = { 100, 0 };
    const struct resp_limits huge = { UINT64_MAX, 0 };
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    check_all_splits(LIT("*1\r\n$536870912\r\n"), LIT("R16\n"), &lim_default, 1);
    check_all_splits(LIT("*1\r\n$536870913\r\n"), LIT("XProtocol error: invalid bulk length\n"),
                     &lim_default, 1);
    check_all_splits(LIT("*1\r\n$100\r\n"), LIT("R10\n"), &small, 1);
    check_all_splits(LIT("*1\r\n$101\r\n"), LIT("XProtocol error: invalid bulk length\n"), &small, 1);

    /* The largest long long is a valid length when the limit allows it. */
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &huge, LIT("*1\r\n$9223372036854775807\r\nab"), &used),
                     RESP_INCOMPLETE);
    assert_true(resp_parse_want(&p, 29) > (size_t)1 << 62);
    resp_parser_free(&p);
    check_all_splits(LIT("*1\r\n$9223372036854775808\r\n"),
                     LIT("XProtocol error: invalid bulk length\n"), &huge, 1);
}

/* ---- corpus: the same commands at every split point ---------------------- */

struct corpus_case {
    const char *in;
    size_t in_len;
    const char *want;
    size_t want_len;
};

#define CASE(in, want) { LIT(in), LIT(want) }

static const struct corpus_case corpus[] = {
    CASE("*1\r\n$4\r\nPING\r\n", "C1|4:PING\nR0\n"),
    CASE("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n", "C3|3:SET|3:key|5:va\r\nl\nR0\n"),
    CASE("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", "C2|3:GET|0:\nR0\n"),
    CASE("*2\r\n$4\r\nECHO\r\n$6\r\n\0\r\n$*\xff\r\n", "C2|4:ECHO|6:\0\r\n$*\xff\nR0\n"),
    CASE("*1\r\n$0\r\n\r\n", "C1|0:\nR0\n"),
    CASE("*0\r\n", "E\nR0\n"),
    CASE("*-1\r\n", "E\nR0\n"),
    CASE("*-9223372036854775808\r\n", "E\nR0\n"),
    CASE("*0\r\n*1\r\n$4\r\nPING\r\n", "E\nC1|4:PING\nR0\n"),
    /* The two bytes after a payload and the byte after a header's '\r' are
     * skipped unread. */
    CASE("*1\r\n$4\r\nPINGXY", "C1|4:PING\nR0\n"),
    CASE("*1\rX$4\rYPING\r\n", "C1|4:PING\nR0\n"),
    CASE("*2\r\n$4\r\nECHO\r\n$3\r\nabcXY*1\r\n$4\r\nPING\r\n", "C2|4:ECHO|3:abc\nC1|4:PING\nR0\n"),
    /* Incomplete tails are kept. */
    CASE("*2\r\n$4\r\nECHO\r\n$3\r\na\r\r\n", "R22\n"),
    CASE("*1\r\nx\r", "R6\n"),
    CASE("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", "C1|4:PING\nR10\n"),
    /* Inline. */
    CASE("PING\r\n", "C1|4:PING\nR0\n"),
    CASE("PING\n", "C1|4:PING\nR0\n"),
    CASE("set a b\r\n", "C3|3:set|1:a|1:b\nR0\n"),
    CASE("a\tb\r\n", "C2|1:a|1:b\nR0\n"),
    CASE("a\x0b" "b\n", "C1|3:a\x0b" "b\nR0\n"),
    CASE("\x0b a\n", "C1|1:a\nR0\n"),
    CASE("a\x0c" "b\n", "C1|3:a\x0c" "b\nR0\n"),
    CASE("a\rb\n", "C2|1:a|1:b\nR0\n"),
    CASE("a  \r\n", "C1|1:a\nR0\n"),
    CASE("\"a b\"\n", "C1|3:a b\nR0\n"),
    CASE("\"a\"\x0bz\n", "C2|1:a|1:z\nR0\n"),
    CASE("\"a\"\r\r\n", "C1|1:a\nR0\n"),
    CASE("\"a\"\x0c\n", "C1|1:a\nR0\n"),
    CASE("ab\"cd\"\n", "C1|4:abcd\nR0\n"),
    CASE("ab\"c d\" e\n", "C2|5:abc d|1:e\nR0\n"),
    CASE("x'y z'\n", "C1|4:xy z\nR0\n"),
    CASE("x \"a b\" 'c d' e\n", "C4|1:x|3:a b|3:c d|1:e\nR0\n"),
    CASE("\"\\x41\\x4g\\n\\r\\t\\b\\a\\z\\\\\\\"\"\n", "C1|12:Ax4g\n\r\t\b\az\\\"\nR0\n"),
    CASE("\"\\x41\\x42\"\n", "C1|2:AB\nR0\n"),
    CASE("\"\\xzz\"\n", "C1|3:xzz\nR0\n"),
    CASE("\"\\X41\"\n", "C1|3:X41\nR0\n"),
    CASE("\"\\x4\"\n", "C1|2:x4\nR0\n"),
    CASE("\"a\\x\"\n", "C1|2:ax\nR0\n"),
    CASE("'\\x41'\n", "C1|4:\\x41\nR0\n"),
    CASE("'a\\'b\\\\c\"d'\n", "C1|8:a'b\\\\c\"d\nR0\n"),
    CASE("\"a\tb\"\n", "C1|3:a\tb\nR0\n"),
    CASE("\"\"\n", "C1|0:\nR0\n"),
    CASE("''\n", "C1|0:\nR0\n"),
    CASE("\"\" \"\"\n", "C2|0:|0:\nR0\n"),
    CASE("a\\nb\n", "C1|4:a\\nb\nR0\n"),
    CASE("\r\n", "E\nR0\n"),
    CASE("\n", "E\nR0\n"),
    CASE("\r\r\n", "E\nR0\n"),
    CASE("  \t \x0b\x0c\r\nPING\r\n", "E\nC1|4:PING\nR0\n"),
    CASE("PING", "R4\n"),
    CASE("PING\r", "R5\n"),
    /* Pipelines mixing both kinds. */
    CASE("PING\r\n*1\r\n$4\r\nPING\r\n\nECHO x\n", "C1|4:PING\nC1|4:PING\nE\nC2|4:ECHO|1:x\nR0\n"),
    CASE("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nget k\r\n*1\r\n$4\r\nQUIT\r\n",
         "C3|3:SET|1:k|1:v\nC2|3:get|1:k\nC1|4:QUIT\nR0\n"),
    /* A NUL before the line end hides it, as strchr does in Redis. */
    CASE("PI\0NG\r\n", "R7\n"),
    CASE("*1\0\r\n", "R5\n"),
    CASE("*1\r\n$4\0\r\nPING\r\n", "R15\n"),
    CASE("*1\r\n\0\r\n", "R7\n"),
    CASE("\0\n", "R2\n"),
};

static void test_corpus_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
        check_all_splits(corpus[i].in, corpus[i].in_len, corpus[i].want, corpus[i].want_len,
                         &lim_default, 1);
}

/* The whole corpus as one pipeline, cut everywhere. Entries that stop in the
 * middle of a command or hide a line end behind a NUL cannot be followed by
 * others, so only complete ones are joined. */
static void test_corpus_as_one_pipeline(void **state)
{
    struct events in = {0}, want = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        const struct corpus_case *c = &corpus[i];

        if (c->want_len < 3 || memcmp(c->want + c->want_len - 3, "R0\n", 3) != 0)
            continue;
        ev_add(&in, c->in, c->in_len);
        ev_add(&want, c->want, c->want_len - 3);
    }
    ev_add(&want, "R0\n", 3);
    check_all_splits(in.s, in.len, want.s, want.len, &lim_default, 1);
    ev_free(&in);
    ev_free(&want);
}

static void test_many_arguments(void **state)
{
    /* 1100 arguments: argv grows past its first 1024 entries. */
    struct events in = {0}, want = {0};
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    ev_printf(&in, "*1100\r\n");
    ev_printf(&want, "C1100");
    for (int i = 0; i < 1100; i++) {
        char a[16];
        int n = snprintf(a, sizeof(a), "%d", i);

        ev_printf(&in, "$%d\r\n%s\r\n", n, a);
        ev_printf(&want, "|%d:%s", n, a);
    }
    ev_printf(&want, "\nR0\n");
    check_all_splits(in.s, in.len, want.s, want.len, &lim_default, 1);

    /* The big argv is given back when the next command starts. */
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, in.s, in.len, &used), RESP_COMMAND);
    assert_int_equal(p.argc, 1100);
    assert_true(mem_used() >= 1100 * (int64_t)sizeof(struct slice));
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*1\r\n$4\r\nPING\r\n"), &used), RESP_COMMAND);
    assert_true(mem_used() <= 1024 * (int64_t)(sizeof(struct slice) + sizeof(size_t)));
    resp_parser_free(&p);
    ev_free(&in);
    ev_free(&want);
}

/* A large bulk arriving in small pieces: the parser must not rescan it (with a
 * rescan, 8 MB fed byte by byte would take hours), and argv points into the
 * caller's buffer without a copy. */
static void test_large_bulk_trickle(void **state)
{
    size_t blen = 8u << 20;
    size_t n = 32 + blen;
    char *b = malloc(n);
    struct resp_parser p;
    size_t used = 0, hdr, len;
    enum resp_result r = RESP_INCOMPLETE;

    (void)state;
    hdr = (size_t)snprintf(b, 32, "*2\r\n$3\r\nSET\r\n$%zu\r\n", blen);
    memset(b + hdr, 'v', blen);
    memcpy(b + hdr + blen, "\r\n", 2);
    n = hdr + blen + 2;
    resp_parser_init(&p);
    for (len = 1; len <= n; len++) {
        r = resp_parse(&p, &lim_default, b, len, &used);
        if (r != RESP_INCOMPLETE)
            break;
        if (len == hdr)
            assert_int_equal(resp_parse_want(&p, len), blen + 2);
    }
    assert_int_equal(r, RESP_COMMAND);
    assert_int_equal(len, n);
    assert_int_equal(used, n);
    assert_ptr_equal(p.argv[1].p, b + hdr);
    assert_int_equal(p.argv[1].len, blen);
    assert_ptr_equal(p.argv[0].p, b + 8);
    resp_parser_free(&p);
    free(b);
}

/* White box: after an incomplete line the search position is at the end of
 * the data (or on the NUL that hides the line end), so no byte is searched
 * twice when a long line trickles in. */
static void test_no_rescan_of_lines(void **state)
{
    char line[1000];
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    memset(line, 'a', sizeof(line));
    resp_parser_init(&p);
    for (size_t len = 1; len <= sizeof(line); len++) {
        assert_int_equal(resp_parse(&p, &lim_default, line, len, &used), RESP_INCOMPLETE);
        assert_int_equal(p.scan, len);
    }
    resp_parser_free(&p);

    line[0] = '*';
    resp_parser_init(&p);
    for (size_t len = 1; len <= sizeof(line); len++) {
        assert_int_equal(resp_parse(&p, &lim_default, line, len, &used), RESP_INCOMPLETE);
        assert_int_equal(p.scan, len);
    }
    resp_parser_free(&p);

    line[3] = '\0';
    resp_parser_init(&p);
    for (size_t len = 1; len <= sizeof(line); len++) {
        assert_int_equal(resp_parse(&p, &lim_default, line, len, &used), RESP_INCOMPLETE);
        assert_int_equal(p.scan, len < 3 ? len : 3);
    }
    resp_parser_free(&p);
}

static void test_want(void **state)
{
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    resp_parser_init(&p);
    assert_int_equal(resp_parse_want(&p, 0), 0);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*1\r\n$10\r\nab"), &used), RESP_INCOMPLETE);
    /* 9 header bytes + 10 + CRLF = 21 needed, 11 there. */
    assert_int_equal(resp_parse_want(&p, 11), 10);
    assert_int_equal(resp_parse_want(&p, 21), 0);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*1\r\n$10\r\n0123456789\r\n"), &used),
                     RESP_COMMAND);
    assert_int_equal(resp_parse_want(&p, 0), 0);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("PI"), &used), RESP_INCOMPLETE);
    assert_int_equal(resp_parse_want(&p, 2), 0);
    resp_parser_free(&p);
}

/* ---- each error string and the bytes that raise it ----------------------- */

struct error_case {
    const char *in;
    size_t in_len;
    const char *error;
};

#define ECASE(in, err) { LIT(in), err }

static const struct error_case errors[] = {
    ECASE("*\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*01\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*-0\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*-\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*+1\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*1 \r\n", "Protocol error: invalid multibulk length"),
    ECASE("* 1\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*1x\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*2147483648\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*00000000000000000001\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*-9223372036854775809\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*99999999999999999999\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*1\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length"),
    ECASE("*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$04\r\nPING\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$+4\r\nPING\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$ 4\r\nPING\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$4 \r\nPING\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$-0\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$9223372036854775808\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$-9223372036854775808\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\n$00000000000000000004\r\n", "Protocol error: invalid bulk length"),
    ECASE("*2\r\n$4\r\nECHO\r\n$4\nabcd\r\n", "Protocol error: invalid bulk length"),
    ECASE("*1\r\nx4\r\n", "Protocol error: expected '$', got 'x'"),
    ECASE("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
    ECASE("*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"),
    ECASE("*1\r\n\r\n", "Protocol error: expected '$', got ' '"),
    ECASE("*1\r\n\n\r\n", "Protocol error: expected '$', got ' '"),
    ECASE("*1\r\n\rx", "Protocol error: expected '$', got ' '"),
    ECASE("*1\r\n\xff\r\n", "Protocol error: expected '$', got '\xff'"),
    ECASE("*2\r\n$4\r\nECHO\r\nPING\r\n", "Protocol error: expected '$', got 'P'"),
    ECASE("*2\r\n$1\r\nabcd\r\n", "Protocol error: expected '$', got 'd'"),
    ECASE("\"abc\n", "Protocol error: unbalanced quotes in request"),
    ECASE("'abc\n", "Protocol error: unbalanced quotes in request"),
    ECASE("\"a\"b\n", "Protocol error: unbalanced quotes in request"),
    ECASE("'a'b\n", "Protocol error: unbalanced quotes in request"),
    ECASE("\"a\\\"\n", "Protocol error: unbalanced quotes in request"),
    ECASE("\"\\\n", "Protocol error: unbalanced quotes in request"),
    ECASE("a\"b\n", "Protocol error: unbalanced quotes in request"),
    ECASE("''''\n", "Protocol error: unbalanced quotes in request"),
    ECASE("set k \"v\r\n", "Protocol error: unbalanced quotes in request"),
};

static void test_error_strings(void **state)
{
    char want[128];

    (void)state;
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        int n = snprintf(want, sizeof(want), "X%s\n", errors[i].error);

        check_all_splits(errors[i].in, errors[i].in_len, want, (size_t)n, &lim_default, 1);
    }
}

/* Commands before a bad one in the same pipeline still come out. */
static void test_error_after_good_command(void **state)
{
    (void)state;
    check_all_splits(LIT("*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n"),
                     LIT("C1|4:PING\nXProtocol error: invalid bulk length\n"), &lim_default, 1);
    check_all_splits(LIT("PING\r\n\"x\r\n"),
                     LIT("C1|4:PING\nXProtocol error: unbalanced quotes in request\n"), &lim_default, 1);
}

/* A NUL hides the line end until the 64 KiB limit turns it into an error. */
static void test_nul_hidden_line_end_limits(void **state)
{
    static const struct {
        const char *head;
        size_t head_len;
        const char *error;
    } cases[] = {
        { LIT("PI\0NG\r\n"), "Protocol error: too big inline request" },
        { LIT("*1\0\r\n"), "Protocol error: too big mbulk count string" },
        { LIT("*1\r\n$1\0"), "Protocol error: too big bulk count string" },
    };
    size_t n = 70000;
    char *b = malloc(n);
    char want[128];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int wn = snprintf(want, sizeof(want), "X%s\n", cases[i].error);

        memset(b, 'A', n);
        memcpy(b, cases[i].head, cases[i].head_len);
        check_all_splits(b, n, want, (size_t)wn, &lim_default, 0);
    }
    free(b);
}

/* ---- argv memory: zero copy, quoting scratch, out of memory --------------- */

static void test_zero_copy(void **state)
{
    static const char in[] = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nget plain \"quoted\"\r\n";
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, &lim_default, in, sizeof(in) - 1, &used), RESP_COMMAND);
    assert_ptr_equal(p.argv[0].p, in + 8);
    assert_ptr_equal(p.argv[1].p, in + 17);
    assert_int_equal(resp_parse(&p, &lim_default, in + used, sizeof(in) - 1 - used, &used),
                     RESP_COMMAND);
    assert_int_equal(p.argc, 3);
    assert_ptr_equal(p.argv[0].p, in + 22);
    assert_ptr_equal(p.argv[1].p, in + 26);
    /* A quoted argument is decoded into the parser's scratch. */
    assert_true(p.argv[2].p < in || p.argv[2].p >= in + sizeof(in));
    assert_int_equal(p.argv[2].len, 6);
    assert_memory_equal(p.argv[2].p, "quoted", 6);
    resp_parser_free(&p);
}

static void test_out_of_memory(void **state)
{
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    if (mem_shim_fail_after == NULL)
        skip();
    resp_parser_init(&p);
    mem_shim_fail_after(0);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*1\r\n$4\r\nPING\r\n"), &used), RESP_ERROR);
    assert_null(p.error);
    mem_shim_fail_after(-1);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*1\r\n$4\r\nPING\r\n"), &used), RESP_COMMAND);
    assert_int_equal(used, 14);
    resp_parser_free(&p);

    /* Inline: argv fits, the scratch for the quoted argument does not. */
    resp_parser_init(&p);
    mem_shim_fail_after(2);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("a \"b c\"\n"), &used), RESP_ERROR);
    assert_null(p.error);
    mem_shim_fail_after(-1);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("a \"b c\"\n"), &used), RESP_COMMAND);
    assert_int_equal(p.argc, 2);
    assert_memory_equal(p.argv[1].p, "b c", 3);
    resp_parser_free(&p);

    /* Growing past the first 1024 entries fails midway, then resumes. */
    {
        struct events in = {0};

        ev_printf(&in, "*1100\r\n");
        for (int i = 0; i < 1100; i++)
            ev_printf(&in, "$1\r\nx\r\n");
        resp_parser_init(&p);
        mem_shim_fail_after(2);
        assert_int_equal(resp_parse(&p, &lim_default, in.s, in.len, &used), RESP_ERROR);
        assert_null(p.error);
        mem_shim_fail_after(-1);
        assert_int_equal(resp_parse(&p, &lim_default, in.s, in.len, &used), RESP_COMMAND);
        assert_int_equal(p.argc, 1100);
        assert_int_equal(used, in.len);
        resp_parser_free(&p);
        ev_free(&in);
    }
}

/* The one-pass path's edges: every input here is complete, so a warmed
 * parser tries the fast path first, and check_all_splits demands the exact
 * path's events from it (cold, exact-only and warm, cut at every byte). */
static void test_fast_path_boundaries(void **state)
{
    static const struct resp_limits small = { 16, 0 };
    static const struct {
        const char *in;
        const char *want;   /* NULL: only "same as the exact path" */
    } cases[] = {
        { "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "C2|3:GET|1:k\nR0\n" },
        /* "0" is a length; a leading zero is not */
        { "*1\r\n$0\r\n\r\n", "C1|0:\nR0\n" },
        { "*1\r\n$00\r\n\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$01\r\nx\r\n", "XProtocol error: invalid bulk length\n" },
        { "*01\r\n$1\r\nx\r\n", "XProtocol error: invalid multibulk length\n" },
        { "*0\r\n", "E\nR0\n" },
        { "*00\r\n", "XProtocol error: invalid multibulk length\n" },
        /* signs: '-' is a number to the exact path, '+' never */
        { "*-1\r\n*1\r\n$1\r\nx\r\n", "E\nC1|1:x\nR0\n" },
        { "*+1\r\n$1\r\nx\r\n", "XProtocol error: invalid multibulk length\n" },
        { "*1\r\n$+1\r\nx\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$-1\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$-0\r\n\r\n", "XProtocol error: invalid bulk length\n" },
        /* the byte after a '\r' and the two after a payload are not read */
        { "*1\rX$1\rYxZW", "C1|1:x\nR0\n" },
        { "*1\r\0$1\r\0x\0\0", "C1|1:x\nR0\n" },
        { "*1\r\n$1\r\nx", "R9\n" },
        { "*1\r\n$1\r\nx\r", "R10\n" },
        /* a blank, a NUL or a bare '\n' inside a header */
        { "*1 \r\n$1\r\nx\r\n", "XProtocol error: invalid multibulk length\n" },
        { "*1\r\n$1 \r\nx\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$\r\n\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\n\r\n$1\r\nx\r\n", NULL },
        { "*1\r\nx1\r\nx\r\n", "XProtocol error: expected '$', got 'x'\n" },
        { "*2\r\n$1\r\nx\r\n*1\r\n", "XProtocol error: expected '$', got '*'\n" },
        /* 18 digits are the fast path's, 19 and more the exact path's */
        { "*1\r\n$999999999999999999\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$000000000000000000\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$0000000000000000001\r\nx\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$1000000000000000000\r\n", "XProtocol error: invalid bulk length\n" },
        { "*1\r\n$9223372036854775807\r\n", "XProtocol error: invalid bulk length\n" },
        /* 2^64 + 1 wraps to 1 in 64 bits: the digit cap must stop it */
        { "*1\r\n$18446744073709551617\r\nx\r\n", "XProtocol error: invalid bulk length\n" },
        { "*18446744073709551617\r\n$1\r\nx\r\n", "XProtocol error: invalid multibulk length\n" },
        { "*999999999999999999\r\n", "XProtocol error: invalid multibulk length\n" },
        { "*1000000000000000000\r\n", "XProtocol error: invalid multibulk length\n" },
    };
    struct events in = {0}, want = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* strlen would stop at the NULs of one case: find the real end. */
        size_t n = strlen(cases[i].in);

        if (i == 13)
            n = 11;
        check_all_splits(cases[i].in, n, cases[i].want,
                         cases[i].want ? strlen(cases[i].want) : 0, &lim_default, 1);
        check_all_splits(cases[i].in, n, NULL, 0, &lim_auth, 1);
        check_all_splits(cases[i].in, n, NULL, 0, &small, 1);
        /* Followed by a 30-byte argument, every header above is 21 bytes or
         * more from the buffer's end: the fast path's unchecked branch. */
        in.len = 0;
        ev_add(&in, cases[i].in, n);
        ev_add(&in, LIT("*1\r\n$30\r\n012345678901234567890123456789\r\n"));
        check_all_splits(in.s, in.len, NULL, 0, &lim_default, 1);
        check_all_splits(in.s, in.len, NULL, 0, &small, 1);
    }

    /* proto-max-bulk-len exactly and one past, with the payload present */
    check_all_splits(LIT("*1\r\n$16\r\n0123456789abcdef\r\n"),
                     LIT("C1|16:0123456789abcdef\nR0\n"), &small, 1);
    check_all_splits(LIT("*1\r\n$17\r\n0123456789abcdefg\r\n"),
                     LIT("XProtocol error: invalid bulk length\n"), &small, 1);

    /* unauthenticated caps: 10 arguments and 16384 bytes pass, one more fails */
    for (int argc = 10; argc <= 11; argc++) {
        in.len = want.len = 0;
        ev_printf(&in, "*%d\r\n", argc);
        ev_printf(&want, argc == 10 ? "C10" : "XProtocol error: unauthenticated multibulk length\n");
        for (int i = 0; i < argc; i++) {
            ev_printf(&in, "$1\r\n%c\r\n", 'a' + i);
            if (argc == 10)
                ev_printf(&want, "|1:%c", 'a' + i);
        }
        if (argc == 10)
            ev_printf(&want, "\nR0\n");
        check_all_splits(in.s, in.len, want.s, want.len, &lim_auth, 1);
        check_all_splits(in.s, in.len, NULL, 0, &lim_default, 1);
    }
    for (size_t blen = 16384; blen <= 16385; blen++) {
        in.len = want.len = 0;
        ev_printf(&in, "*1\r\n$%zu\r\n", blen);
        for (size_t k = 0; k < blen; k++)
            ev_add(&in, "v", 1);
        ev_add(&in, "\r\n", 2);
        if (blen == 16385) {
            ev_printf(&want, "XProtocol error: unauthenticated bulk length\n");
            check_all_splits(in.s, in.len, want.s, want.len, &lim_auth, 0);
        } else {
            check_all_splits(in.s, in.len, NULL, 0, &lim_auth, 0);
        }
        check_all_splits(in.s, in.len, NULL, 0, &lim_default, 0);
    }

    /* More arguments than argv holds: the exact path grows it. */
    in.len = 0;
    ev_printf(&in, "*%d\r\n", WARM_ARGS + 1);
    for (int i = 0; i <= WARM_ARGS; i++)
        ev_printf(&in, "$1\r\ny\r\n");
    check_all_splits(in.s, in.len, NULL, 0, &lim_default, 1);
    ev_free(&in);
    ev_free(&want);
}

/* A warmed parser takes a whole GET in one pass: the exact path would have
 * recorded the argument offsets, the fast one leaves the warm-up's there. */
static void test_fast_path_taken(void **state)
{
    struct resp_parser p;
    size_t used = 0, before;

    (void)state;
    resp_parser_init(&p);
    warm_up(&p);
    before = p.offs[1];
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*2\r\n$3\r\nGET\r\n$16\r\n0123456789abcdef\r\n"),
                                &used), RESP_COMMAND);
    assert_int_equal(used, 36);
    assert_int_equal(p.argc, 2);
    assert_int_equal(p.offs[1], before);
    assert_memory_equal(p.argv[1].p, "0123456789abcdef", 16);
    resp_parser_free(&p);

    resp_parser_init(&p);
    p.exact_only = 1;
    warm_up(&p);
    assert_int_equal(resp_parse(&p, &lim_default, LIT("*2\r\n$3\r\nGET\r\n$16\r\n0123456789abcdef\r\n"),
                                &used), RESP_COMMAND);
    assert_int_equal(p.offs[1], 18);
    resp_parser_free(&p);
}

/* resp_parse_plain takes a whole plain command of at most `cap` arguments
 * and declines everything else; resp_parser_between says when a caller may
 * try it. */
static void test_plain_and_between(void **state)
{
    static const char three[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    struct slice argv[3];
    struct resp_parser p;
    size_t used = 0;
    int argc = 0;

    (void)state;
    assert_int_equal(resp_parse_plain(&lim_default, LIT(three), argv, 3, &argc), strlen(three));
    assert_int_equal(argc, 3);
    assert_memory_equal(argv[1].p, "k", 1);
    assert_memory_equal(argv[2].p, "v", 1);
    assert_int_equal(resp_parse_plain(&lim_default, LIT(three), argv, 2, &argc), 0);
    assert_int_equal(resp_parse_plain(&lim_default, three, strlen(three) - 1, argv, 3, &argc), 0);
    assert_int_equal(resp_parse_plain(&lim_default, LIT("SET k v\r\n"), argv, 3, &argc), 0);
    assert_int_equal(resp_parse_plain(&lim_default, LIT("*0\r\n"), argv, 3, &argc), 0);

    resp_parser_init(&p);
    assert_true(resp_parser_between(&p));
    assert_int_equal(resp_parse(&p, &lim_default, three, 12, &used), RESP_INCOMPLETE);
    assert_false(resp_parser_between(&p));
    assert_int_equal(resp_parse(&p, &lim_default, LIT(three), &used), RESP_COMMAND);
    assert_true(resp_parser_between(&p));
    resp_parser_free(&p);
    /* the warming preview: argv[1] of a plain multibulk, none otherwise */
    {
        const char *k = NULL;

        assert_int_equal(resp_peek_arg1(LIT(three), &k), 1);
        assert_ptr_equal(k, three + 17);
        assert_int_equal(resp_peek_arg1(three, 18, &k), 1);
        assert_int_equal(resp_peek_arg1(three, 17, &k), 0);
        assert_int_equal(resp_peek_arg1(LIT("*1\r\n$4\r\nPING\r\n"), &k), 0);
        assert_int_equal(resp_peek_arg1(LIT("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"), &k), 0);
        assert_int_equal(resp_peek_arg1(LIT("GET k\r\n"), &k), 0);
    }
    /* the tests' exact-only parser must not be bypassed */
    resp_parser_init(&p);
    p.exact_only = 1;
    assert_false(resp_parser_between(&p));
    resp_parser_free(&p);
}

static void test_null_limits_are_defaults(void **state)
{
    struct resp_parser p;
    size_t used = 0;

    (void)state;
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, NULL, LIT("*11\r\n$536870912\r\n"), &used), RESP_INCOMPLETE);
    resp_parser_free(&p);
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, NULL, LIT("*1\r\n$536870913\r\n"), &used), RESP_ERROR);
    resp_parser_free(&p);
    resp_parser_init(&p);
    assert_int_equal(resp_parse(&p, NULL, "", 0, &used), RESP_INCOMPLETE);
    resp_parser_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_inline_limit_boundary, teardown_mem),
        cmocka_unit_test_teardown(test_mbulk_count_line_limit, teardown_mem),
        cmocka_unit_test_teardown(test_bulk_count_line_limit, teardown_mem),
        cmocka_unit_test_teardown(test_mbulk_count_int_max, teardown_mem),
        cmocka_unit_test_teardown(test_long_length_digits, teardown_mem),
        cmocka_unit_test_teardown(test_auth_limits, teardown_mem),
        cmocka_unit_test_teardown(test_proto_max_bulk_len, teardown_mem),
        cmocka_unit_test_teardown(test_corpus_every_split, teardown_mem),
        cmocka_unit_test_teardown(test_corpus_as_one_pipeline, teardown_mem),
        cmocka_unit_test_teardown(test_many_arguments, teardown_mem),
        cmocka_unit_test_teardown(test_large_bulk_trickle, teardown_mem),
        cmocka_unit_test_teardown(test_no_rescan_of_lines, teardown_mem),
        cmocka_unit_test_teardown(test_want, teardown_mem),
        cmocka_unit_test_teardown(test_error_strings, teardown_mem),
        cmocka_unit_test_teardown(test_error_after_good_command, teardown_mem),
        cmocka_unit_test_teardown(test_nul_hidden_line_end_limits, teardown_mem),
        cmocka_unit_test_teardown(test_zero_copy, teardown_mem),
        cmocka_unit_test_teardown(test_out_of_memory, teardown_mem),
        cmocka_unit_test_teardown(test_null_limits_are_defaults, teardown_mem),
        cmocka_unit_test_teardown(test_fast_path_boundaries, teardown_mem),
        cmocka_unit_test_teardown(test_fast_path_taken, teardown_mem),
        cmocka_unit_test_teardown(test_plain_and_between, teardown_mem),
    };

    /* TEST_FILTER=name runs matching tests only (cmocka's own pattern syntax). */
    if (getenv("TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
