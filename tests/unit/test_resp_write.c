/* test_resp_write — every reply writer in RESP2 and RESP3, byte for byte.
 *
 * Expected bytes marked "7.0.15" were captured from a real redis-server 7.0.15
 * answering the command named beside them. Links mem_shim_test.c, whose byte
 * counter must be zero after each test; the shim's failure injection drives
 * the out-of-memory paths. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/mem.h"
#include "../../dataplane/resp_write.h"

/* Failure injection from tests/unit/mem_shim_test.c. Weak: when the test
 * links the real dataplane/mem.c instead, it is NULL and the out-of-memory
 * cases are skipped. */
void mem_shim_fail_after(long n) __attribute__((weak));

#define LIT(s) (s), (sizeof(s) - 1)

static void expect_bytes(const struct resp_out *o, const char *want, size_t n)
{
    if (o->len != n || (n > 0 && memcmp(o->buf, want, n) != 0)) {
        fprintf(stderr, "want %zu bytes: \"%.*s\"\ngot  %zu bytes: \"%.*s\"\n",
                n, (int)n, want, o->len, (int)o->len, o->buf ? o->buf : "");
        fail();
    }
}

#define EXPECT(o, lit) expect_bytes((o), LIT(lit))

static int teardown_mem(void **state)
{
    (void)state;
    if (mem_shim_fail_after != NULL)
        mem_shim_fail_after(-1);
    assert_int_equal(mem_used(), 0);
    return 0;
}

/* ---- buffer management, boundaries first --------------------------------- */

static void test_init_reset_free(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 3);
    assert_int_equal(o.proto, 3);
    assert_int_equal(o.len, 0);
    assert_int_equal(o.oom, 0);
    assert_null(o.buf);
    resp_out_free(&o);
    resp_out_init(&o, 2);
    assert_int_equal(o.proto, 2);
    resp_out_free(&o);
    /* Anything but 3 is RESP2, the protocol every connection starts with. */
    resp_out_init(&o, 0);
    assert_int_equal(o.proto, 2);

    resp_add_ok(&o);
    EXPECT(&o, "+OK\r\n");
    {
        char *buf = o.buf;
        size_t cap = o.cap;

        resp_out_reset(&o);
        assert_int_equal(o.len, 0);
        assert_ptr_equal(o.buf, buf);
        assert_int_equal(o.cap, cap);
    }
    resp_add_ok(&o);
    EXPECT(&o, "+OK\r\n");
    resp_out_free(&o);
    assert_null(o.buf);
    assert_int_equal(o.len, 0);
    assert_int_equal(o.cap, 0);
    /* free is idempotent and the object stays usable. */
    resp_out_free(&o);
    resp_add_ok(&o);
    EXPECT(&o, "+OK\r\n");
    resp_out_free(&o);
}

static void test_reserve(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 2);
    assert_int_equal(resp_out_reserve(&o, 0), 0);
    assert_int_equal(resp_out_reserve(&o, 1), 0);
    assert_true(o.cap >= 1);
    assert_int_equal(o.len, 0);
    assert_int_equal(resp_out_reserve(&o, o.cap), 0);
    assert_int_equal(resp_out_reserve(&o, o.cap + 1), 0);
    /* Exactly the room left needs no growth. */
    {
        size_t cap = o.cap;

        o.len = cap - 10;
        assert_int_equal(resp_out_reserve(&o, 10), 0);
        assert_int_equal(o.cap, cap);
        o.len = 0;
    }
    /* len + extra would wrap: refused, and the buffer goes oom. */
    o.len = 10;
    assert_int_equal(resp_out_reserve(&o, SIZE_MAX - 5), -ENOMEM);
    assert_int_equal(o.oom, 1);
    assert_int_equal(resp_out_reserve(&o, 1), -ENOMEM);
    resp_out_reset(&o);
    assert_int_equal(o.oom, 0);
    assert_int_equal(resp_out_reserve(&o, 1), 0);
    resp_out_free(&o);
}

static void test_oom_drops_output(void **state)
{
    static const char pad[4096];
    struct resp_out o;

    (void)state;
    if (mem_shim_fail_after == NULL)
        skip();
    resp_out_init(&o, 2);
    resp_add_simple(&o, "first");
    mem_shim_fail_after(0);
    resp_add_bulk(&o, pad, sizeof(pad));   /* needs to grow: fails */
    assert_int_equal(o.oom, 1);
    mem_shim_fail_after(-1);
    /* Later writers add nothing, even small ones that would fit. */
    resp_add_ok(&o);
    resp_add_int(&o, 1);
    resp_add_errorf(&o, "ERR %d", 1);
    EXPECT(&o, "+first\r\n");
    assert_int_equal(resp_add_deferred_array(&o), SIZE_MAX);
    resp_set_deferred_array(&o, SIZE_MAX, 3);
    EXPECT(&o, "+first\r\n");
    resp_out_reset(&o);
    resp_add_ok(&o);
    EXPECT(&o, "+OK\r\n");
    resp_out_free(&o);

    /* The first allocation failing. */
    resp_out_init(&o, 3);
    mem_shim_fail_after(0);
    resp_add_null(&o);
    assert_int_equal(o.oom, 1);
    assert_int_equal(o.len, 0);
    mem_shim_fail_after(-1);
    resp_out_free(&o);
}

static void test_growth_keeps_content(void **state)
{
    struct resp_out o;
    char *big = malloc(1 << 20);
    char hdr[32];
    int h;

    (void)state;
    memset(big, 'z', 1 << 20);
    resp_out_init(&o, 2);
    for (int i = 0; i < 1000; i++)
        resp_add_int(&o, i);
    resp_add_bulk(&o, big, 1 << 20);
    h = snprintf(hdr, sizeof(hdr), "$%d\r\n", 1 << 20);
    {
        size_t at = 0;

        for (int i = 0; i < 1000; i++) {
            char want[16];
            int n = snprintf(want, sizeof(want), ":%d\r\n", i);

            assert_memory_equal(o.buf + at, want, (size_t)n);
            at += (size_t)n;
        }
        assert_memory_equal(o.buf + at, hdr, (size_t)h);
        assert_memory_equal(o.buf + at + (size_t)h, big, 1 << 20);
        assert_memory_equal(o.buf + at + (size_t)h + (1 << 20), "\r\n", 2);
        assert_int_equal(o.len, at + (size_t)h + (1 << 20) + 2);
    }
    assert_true(o.len <= o.cap);
    resp_out_free(&o);
    free(big);
}

/* ---- simple types -------------------------------------------------------- */

static void test_raw_ok_simple(void **state)
{
    struct resp_out o;

    (void)state;
    for (int proto = 2; proto <= 3; proto++) {
        resp_out_init(&o, proto);
        resp_add_raw(&o, "", 0);
        EXPECT(&o, "");
        resp_add_raw(&o, LIT("+PONG\r\n"));
        resp_add_ok(&o);
        resp_add_simple(&o, "QUEUED");
        resp_add_simple(&o, "");
        EXPECT(&o, "+PONG\r\n+OK\r\n+QUEUED\r\n+\r\n");
        resp_out_free(&o);
    }
}

static void test_error(void **state)
{
    struct resp_out o;

    (void)state;
    for (int proto = 2; proto <= 3; proto++) {
        resp_out_init(&o, proto);
        resp_add_error(&o, "ERR syntax error");
        EXPECT(&o, "-ERR syntax error\r\n");
        resp_out_reset(&o);
        /* CR and LF anywhere become spaces. */
        resp_add_error(&o, "\rERR a\r\nb\n");
        EXPECT(&o, "- ERR a  b \r\n");
        resp_out_reset(&o);
        resp_add_error(&o, "");
        EXPECT(&o, "-\r\n");
        resp_out_free(&o);
    }
}

static void test_errorf(void **state)
{
    struct resp_out o;
    char big[600];

    (void)state;
    resp_out_init(&o, 2);
    resp_add_errorf(&o, "ERR unknown command '%s', with args beginning with: ", "XX");
    /* 7.0.15: XX */
    EXPECT(&o, "-ERR unknown command 'XX', with args beginning with: \r\n");
    resp_out_reset(&o);
    /* As addReplyErrorFormat: CR/LF trimmed at both ends, mapped inside. */
    resp_add_errorf(&o, "%s", "\r\n\nERR a\r\nb\n\r");
    EXPECT(&o, "-ERR a  b\r\n");
    resp_out_reset(&o);
    resp_add_errorf(&o, "%s", "\r\n");
    EXPECT(&o, "-\r\n");
    resp_out_reset(&o);
    /* A NUL from the format ends the text (Redis appends with strlen). */
    resp_add_errorf(&o, "ERR got '%c' here", 0);
    EXPECT(&o, "-ERR got '\r\n");
    resp_out_reset(&o);
    /* Longer than any fixed buffer: formatted in place. */
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    resp_add_ok(&o);
    resp_add_errorf(&o, "ERR %s!", big);
    assert_int_equal(o.len, 5 + 1 + 4 + 599 + 1 + 2);
    assert_memory_equal(o.buf, "+OK\r\n-ERR qqq", 13);
    assert_memory_equal(o.buf + o.len - 4, "q!\r\n", 4);
    resp_out_free(&o);

    resp_out_init(&o, 3);
    resp_add_errorf(&o, "WRONGTYPE %s", "Operation against a key holding the wrong kind of value");
    EXPECT(&o, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    resp_out_free(&o);
}

static void test_int(void **state)
{
    struct resp_out o;

    (void)state;
    for (int proto = 2; proto <= 3; proto++) {
        resp_out_init(&o, proto);
        resp_add_int(&o, LLONG_MIN);
        resp_add_int(&o, LLONG_MAX);
        resp_add_int(&o, -1);
        resp_add_int(&o, 0);
        resp_add_int(&o, 1);
        resp_add_int(&o, 10);
        EXPECT(&o, ":-9223372036854775808\r\n:9223372036854775807\r\n:-1\r\n:0\r\n:1\r\n:10\r\n");
        resp_out_free(&o);
    }
}

/* ---- bulk strings -------------------------------------------------------- */

static void test_bulk(void **state)
{
    struct resp_out o;

    (void)state;
    for (int proto = 2; proto <= 3; proto++) {
        resp_out_init(&o, proto);
        resp_add_bulk(&o, "", 0);
        resp_add_bulk(&o, NULL, 0);
        resp_add_bulk(&o, LIT("a\0b\r\nc"));
        resp_add_bulk(&o, LIT("0123456789"));
        EXPECT(&o, "$0\r\n\r\n$0\r\n\r\n$6\r\na\0b\r\nc\r\n$10\r\n0123456789\r\n");
        resp_out_reset(&o);
        resp_add_bulk_str(&o, "hello");
        resp_add_bulk_str(&o, "");
        EXPECT(&o, "$5\r\nhello\r\n$0\r\n\r\n");
        resp_out_reset(&o);
        /* NULL is a null reply, as addReplyBulkCString. */
        resp_add_bulk_str(&o, NULL);
        if (proto == 2)
            EXPECT(&o, "$-1\r\n");
        else
            EXPECT(&o, "_\r\n");
        resp_out_reset(&o);
        resp_add_bulk_ll(&o, LLONG_MIN);
        resp_add_bulk_ll(&o, LLONG_MAX);
        resp_add_bulk_ll(&o, 0);
        resp_add_bulk_ll(&o, -42);
        EXPECT(&o, "$20\r\n-9223372036854775808\r\n$19\r\n9223372036854775807\r\n"
                   "$1\r\n0\r\n$3\r\n-42\r\n");
        resp_out_free(&o);
    }
}

/* Every bulk length across the short-bulk edge (99/100) and the copy's
 * size classes, written at every amount of room left around the reply's
 * size (the short path also needs room for its 8-byte header word), and the
 * bytes before the reply left alone. */
static void test_bulk_every_length_and_room(void **state)
{
    char payload[300], want[320];
    struct resp_out o;

    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)('A' + i % 26);
    for (size_t n = 0; n < sizeof(payload); n++) {
        int w = snprintf(want, sizeof(want), "$%zu\r\n", n);

        memcpy(want + w, payload, n);
        memcpy(want + w + n, "\r\n", 2);
        w += (int)n + 2;
        for (size_t room = (size_t)w - 1; room <= (size_t)w + 10; room++) {
            size_t pre;

            /* a fresh buffer each time: a growth must not carry over */
            resp_out_init(&o, 2);
            assert_int_equal(resp_out_reserve(&o, 1024), 0);
            pre = o.cap - room;
            memset(o.buf, '#', pre);
            o.len = pre;
            resp_add_bulk(&o, payload, n);
            assert_int_equal(o.len, pre + (size_t)w);
            assert_memory_equal(o.buf + pre, want, (size_t)w);
            assert_true(memchr(o.buf, 'A', pre) == NULL);
            resp_out_free(&o);
        }
    }
    resp_out_init(&o, 2);
    /* oom set: nothing is added, even with room */
    resp_out_reset(&o);
    o.oom = 1;
    resp_add_bulk(&o, payload, 16);
    resp_add_ok(&o);
    resp_add_int(&o, 7);
    assert_int_equal(o.len, 0);
    resp_out_free(&o);
}

/* Integers around every power of ten, both signs, against printf. */
static void test_int_every_width(void **state)
{
    struct resp_out o;
    char want[48];

    (void)state;
    resp_out_init(&o, 2);
    for (int neg = 0; neg <= 1; neg++) {
        long long p = 1;

        for (int d = 0; d < 19; d++) {
            for (long long delta = -1; delta <= 1; delta++) {
                long long v = neg ? -(p + delta) : p + delta;
                int w;

                resp_out_reset(&o);
                resp_add_int(&o, v);
                w = snprintf(want, sizeof(want), ":%lld\r\n", v);
                expect_bytes(&o, want, (size_t)w);
                resp_out_reset(&o);
                resp_add_bulk_ll(&o, v);
                w = snprintf(want, sizeof(want), "%lld", v);
                w = snprintf(want, sizeof(want), "$%d\r\n%lld\r\n", w, v);
                expect_bytes(&o, want, (size_t)w);
                resp_out_reset(&o);
                resp_add_array(&o, v);
                w = snprintf(want, sizeof(want), "*%lld\r\n", v);
                expect_bytes(&o, want, (size_t)w);
            }
            if (d < 18)
                p *= 10;
        }
    }
    for (long long v = -1000; v <= 1000; v++) {
        int w = snprintf(want, sizeof(want), ":%lld\r\n", v);

        resp_out_reset(&o);
        resp_add_int(&o, v);
        expect_bytes(&o, want, (size_t)w);
    }
    resp_out_free(&o);
}

/* ---- floating point ------------------------------------------------------ */

static void test_double_resp2(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 2);
    /* 7.0.15: ZADD z 0.1 a 1e300 b inf c -inf d 3 f 1.5e-7 g 123456789012345678 h; ZSCORE each */
    resp_add_double(&o, 0.1);
    resp_add_double(&o, 1e300);
    resp_add_double(&o, INFINITY);
    resp_add_double(&o, -INFINITY);
    resp_add_double(&o, 3);
    resp_add_double(&o, 1.5e-7);
    resp_add_double(&o, 123456789012345678.0);
    EXPECT(&o, "$19\r\n0.10000000000000001\r\n$23\r\n1.0000000000000001e+300\r\n"
               "$3\r\ninf\r\n$4\r\n-inf\r\n$1\r\n3\r\n$22\r\n1.4999999999999999e-07\r\n"
               "$22\r\n1.2345678901234568e+17\r\n");
    resp_out_reset(&o);
    /* Widest "%.17g" output, negative zero, and NaN as libc prints it. */
    resp_add_double(&o, -2.2250738585072014e-308);
    resp_add_double(&o, -0.0);
    resp_add_double(&o, NAN);
    resp_add_double(&o, -NAN);
    resp_add_double(&o, 1.7976931348623157e308);
    EXPECT(&o, "$24\r\n-2.2250738585072014e-308\r\n$2\r\n-0\r\n$3\r\nnan\r\n$4\r\n-nan\r\n"
               "$23\r\n1.7976931348623157e+308\r\n");
    resp_out_free(&o);
}

static void test_double_resp3(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 3);
    /* 7.0.15: the same ZSCOREs after HELLO 3 */
    resp_add_double(&o, 0.1);
    resp_add_double(&o, 1e300);
    resp_add_double(&o, INFINITY);
    resp_add_double(&o, -INFINITY);
    resp_add_double(&o, 0);
    resp_add_double(&o, 3);
    resp_add_double(&o, 1.5e-7);
    resp_add_double(&o, 123456789012345678.0);
    resp_add_double(&o, 3.5);
    EXPECT(&o, ",0.10000000000000001\r\n,1.0000000000000001e+300\r\n,inf\r\n,-inf\r\n,0\r\n,3\r\n"
               ",1.4999999999999999e-07\r\n,1.2345678901234568e+17\r\n,3.5\r\n");
    resp_out_reset(&o);
    resp_add_double(&o, -2.2250738585072014e-308);
    resp_add_double(&o, NAN);
    resp_add_double(&o, -0.0);
    EXPECT(&o, ",-2.2250738585072014e-308\r\n,nan\r\n,-0\r\n");
    resp_out_free(&o);
}

static void test_long_double(void **state)
{
    /* 7.0.15: SET u 1e300; INCRBYFLOAT u 0 */
    static const char e300[] =
        "$301\r\n1000000000000000000008997324079559193870523944273290747938260082321265646"
        "596180935755849152083750497190350372508614274835903592556184672983913096260520748646"
        "287327135641843653294084255107606016789726652932370030551382947620994540294772781889"
        "620606179267611627097410650567187386105690089424915104006144\r\n";
    struct resp_out o;

    (void)state;
    for (int proto = 2; proto <= 3; proto++) {
        resp_out_init(&o, proto);
        /* 7.0.15: SET x 10.5; INCRBYFLOAT x 0.1 (both strtold, summed as long double) */
        resp_add_long_double_bulk(&o, strtold("10.5", NULL) + strtold("0.1", NULL));
        /* 7.0.15: SET y 0; INCRBYFLOAT y 1e20; INCRBYFLOAT y 0.5 */
        resp_add_long_double_bulk(&o, strtold("1e20", NULL));
        resp_add_long_double_bulk(&o, strtold("1e20", NULL) + strtold("0.5", NULL));
        /* 7.0.15: SET w 5; INCRBYFLOAT w -5 */
        resp_add_long_double_bulk(&o, 5.0L + -5.0L);
        /* 7.0.15: SET v -0.0000000000000000001; INCRBYFLOAT v 0 -> "-0" becomes "0" */
        resp_add_long_double_bulk(&o, strtold("-0.0000000000000000001", NULL));
        EXPECT(&o, "$4\r\n10.6\r\n$21\r\n100000000000000000000\r\n$21\r\n100000000000000000000\r\n"
                   "$1\r\n0\r\n$1\r\n0\r\n");
        resp_out_reset(&o);
        resp_add_long_double_bulk(&o, strtold("1e300", NULL));
        expect_bytes(&o, e300, sizeof(e300) - 1);
        resp_out_reset(&o);
        resp_add_long_double_bulk(&o, -1.25L);
        resp_add_long_double_bulk(&o, 3.0L);
        resp_add_long_double_bulk(&o, -0.0L);
        resp_add_long_double_bulk(&o, (long double)INFINITY);
        resp_add_long_double_bulk(&o, -(long double)INFINITY);
        resp_add_long_double_bulk(&o, 0.00000000000000001L);
        resp_add_long_double_bulk(&o, 0.000000000000000001L);
        EXPECT(&o, "$5\r\n-1.25\r\n$1\r\n3\r\n$1\r\n0\r\n$3\r\ninf\r\n$4\r\n-inf\r\n"
                   "$19\r\n0.00000000000000001\r\n$1\r\n0\r\n");
        resp_out_reset(&o);
        /* The largest finite long double: all 4933 integer digits, no exponent. */
        resp_add_long_double_bulk(&o, LDBL_MAX);
        assert_memory_equal(o.buf, "$4933\r\n1189731495357231765", 25);
        assert_int_equal(o.len, 7 + 4933 + 2);
        resp_out_free(&o);
    }
}

/* ---- nulls and aggregates ------------------------------------------------ */

static void test_nulls(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 2);
    resp_add_null(&o);
    resp_add_null_array(&o);
    EXPECT(&o, "$-1\r\n*-1\r\n");
    resp_out_free(&o);
    /* 7.0.15: GET nosuch after HELLO 3 */
    resp_out_init(&o, 3);
    resp_add_null(&o);
    resp_add_null_array(&o);
    EXPECT(&o, "_\r\n_\r\n");
    resp_out_free(&o);
}

static void test_aggregates(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 2);
    resp_add_array(&o, 0);
    resp_add_array(&o, 3);
    resp_add_array(&o, -1);
    resp_add_map(&o, 0);
    resp_add_map(&o, 2);
    resp_add_map(&o, 5000000000LL);
    resp_add_set(&o, 0);
    resp_add_set(&o, 7);
    EXPECT(&o, "*0\r\n*3\r\n*-1\r\n*0\r\n*4\r\n*10000000000\r\n*0\r\n*7\r\n");
    resp_out_reset(&o);
    /* A map count that cannot double is refused, never wrapped. */
    resp_add_map(&o, LLONG_MAX);
    assert_int_equal(o.oom, 1);
    EXPECT(&o, "");
    resp_out_free(&o);

    /* 7.0.15: SMEMBERS nosuch, HGETALL nosuch after HELLO 3 */
    resp_out_init(&o, 3);
    resp_add_set(&o, 0);
    resp_add_map(&o, 0);
    resp_add_array(&o, 12);
    resp_add_map(&o, 2);
    resp_add_set(&o, 7);
    resp_add_map(&o, LLONG_MAX);
    EXPECT(&o, "~0\r\n%0\r\n*12\r\n%2\r\n~7\r\n%9223372036854775807\r\n");
    resp_out_free(&o);
}

static void test_bool(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 2);
    resp_add_bool(&o, 1);
    resp_add_bool(&o, 0);
    resp_add_bool(&o, 42);
    EXPECT(&o, ":1\r\n:0\r\n:1\r\n");
    resp_out_free(&o);
    resp_out_init(&o, 3);
    resp_add_bool(&o, 1);
    resp_add_bool(&o, 0);
    resp_add_bool(&o, -1);
    EXPECT(&o, "#t\r\n#f\r\n#t\r\n");
    resp_out_free(&o);
}

static void test_verbatim(void **state)
{
    struct resp_out o;

    (void)state;
    resp_out_init(&o, 2);
    resp_add_verbatim(&o, LIT("id=1 addr=x\n"), "txt");
    resp_add_verbatim(&o, "", 0, "txt");
    EXPECT(&o, "$12\r\nid=1 addr=x\n\r\n$0\r\n\r\n");
    resp_out_free(&o);

    /* 7.0.15 CLIENT INFO after HELLO 3: "=277\r\ntxt:id=..." (length counts "txt:") */
    resp_out_init(&o, 3);
    resp_add_verbatim(&o, LIT("id=1 addr=x\n"), "txt");
    resp_add_verbatim(&o, "", 0, "txt");
    EXPECT(&o, "=16\r\ntxt:id=1 addr=x\n\r\n=4\r\ntxt:\r\n");
    resp_out_reset(&o);
    /* Short formats are padded with spaces, long ones cut to 3 bytes. */
    resp_add_verbatim(&o, LIT("a"), "md");
    resp_add_verbatim(&o, LIT("b"), "");
    resp_add_verbatim(&o, LIT("c"), NULL);
    resp_add_verbatim(&o, LIT("d"), "markdown");
    resp_add_verbatim(&o, LIT("e\r\nf"), "mkd");
    EXPECT(&o, "=5\r\nmd :a\r\n=5\r\n   :b\r\n=5\r\n   :c\r\n=5\r\nmar:d\r\n=8\r\nmkd:e\r\nf\r\n");
    resp_out_free(&o);
}

/* ---- deferred array length ------------------------------------------------ */

static void test_deferred_counts_of_every_width(void **state)
{
    static const long long counts[] = {
        0, 1, 9, 10, 99, 100, 12345, 999999999, 1000000000,
        LLONG_MAX, -1, LLONG_MIN,
    };
    struct resp_out o;
    char want[128];

    (void)state;
    for (int proto = 2; proto <= 3; proto++) {
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
            size_t h;
            int n;

            resp_out_init(&o, proto);
            resp_add_ok(&o);
            h = resp_add_deferred_array(&o);
            assert_int_equal(h, 5);
            resp_add_bulk(&o, LIT("k1"));
            resp_add_int(&o, 7);
            resp_set_deferred_array(&o, h, counts[i]);
            n = snprintf(want, sizeof(want), "+OK\r\n*%lld\r\n$2\r\nk1\r\n:7\r\n", counts[i]);
            expect_bytes(&o, want, (size_t)n);
            /* Writing after the set continues where the reply ends. */
            resp_add_ok(&o);
            assert_memory_equal(o.buf + n, "+OK\r\n", 5);
            assert_int_equal(o.len, (size_t)n + 5);
            resp_out_free(&o);
        }
    }
}

static void test_deferred_nested_and_empty(void **state)
{
    static const char pad[4096];
    struct resp_out o;
    size_t outer, inner;

    (void)state;
    /* Nothing after the gap. */
    resp_out_init(&o, 2);
    outer = resp_add_deferred_array(&o);
    assert_int_equal(outer, 0);
    resp_set_deferred_array(&o, outer, 0);
    EXPECT(&o, "*0\r\n");
    resp_out_reset(&o);

    /* SCAN-like: [cursor, [keys...]], inner set first. */
    resp_add_array(&o, 2);
    resp_add_bulk_str(&o, "0");
    outer = resp_add_deferred_array(&o);
    for (int i = 0; i < 12; i++) {
        char k[16];

        inner = resp_add_deferred_array(&o);
        snprintf(k, sizeof(k), "k%d", i);
        resp_add_bulk_str(&o, k);
        resp_set_deferred_array(&o, inner, 1);
    }
    resp_set_deferred_array(&o, outer, 12);
    {
        struct resp_out w;

        resp_out_init(&w, 2);
        resp_add_array(&w, 2);
        resp_add_bulk_str(&w, "0");
        resp_add_array(&w, 12);
        for (int i = 0; i < 12; i++) {
            char k[16];

            snprintf(k, sizeof(k), "k%d", i);
            resp_add_array(&w, 1);
            resp_add_bulk_str(&w, k);
        }
        expect_bytes(&o, w.buf, w.len);
        resp_out_free(&w);
    }
    /* A stale or foreign handle is ignored rather than corrupting output. */
    {
        size_t len = o.len;

        resp_set_deferred_array(&o, o.len, 1);
        resp_set_deferred_array(&o, o.len - 3, 1);
        resp_set_deferred_array(&o, SIZE_MAX, 1);
        assert_int_equal(o.len, len);
    }
    resp_out_free(&o);

    /* Handle reserved, then the reply runs out of memory: set does nothing. */
    if (mem_shim_fail_after != NULL) {
        resp_out_init(&o, 3);
        outer = resp_add_deferred_array(&o);
        mem_shim_fail_after(0);
        resp_add_bulk(&o, pad, sizeof(pad));
        mem_shim_fail_after(-1);
        assert_int_equal(o.oom, 1);
        resp_set_deferred_array(&o, outer, 1);
        assert_int_equal(o.len, 23);
        resp_out_free(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_init_reset_free, teardown_mem),
        cmocka_unit_test_teardown(test_reserve, teardown_mem),
        cmocka_unit_test_teardown(test_oom_drops_output, teardown_mem),
        cmocka_unit_test_teardown(test_growth_keeps_content, teardown_mem),
        cmocka_unit_test_teardown(test_raw_ok_simple, teardown_mem),
        cmocka_unit_test_teardown(test_error, teardown_mem),
        cmocka_unit_test_teardown(test_errorf, teardown_mem),
        cmocka_unit_test_teardown(test_int, teardown_mem),
        cmocka_unit_test_teardown(test_bulk, teardown_mem),
        cmocka_unit_test_teardown(test_bulk_every_length_and_room, teardown_mem),
        cmocka_unit_test_teardown(test_int_every_width, teardown_mem),
        cmocka_unit_test_teardown(test_double_resp2, teardown_mem),
        cmocka_unit_test_teardown(test_double_resp3, teardown_mem),
        cmocka_unit_test_teardown(test_long_double, teardown_mem),
        cmocka_unit_test_teardown(test_nulls, teardown_mem),
        cmocka_unit_test_teardown(test_aggregates, teardown_mem),
        cmocka_unit_test_teardown(test_bool, teardown_mem),
        cmocka_unit_test_teardown(test_verbatim, teardown_mem),
        cmocka_unit_test_teardown(test_deferred_counts_of_every_width, teardown_mem),
        cmocka_unit_test_teardown(test_deferred_nested_and_empty, teardown_mem),
    };

    /* TEST_FILTER=name runs matching tests only (cmocka's own pattern syntax). */
    if (getenv("TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
