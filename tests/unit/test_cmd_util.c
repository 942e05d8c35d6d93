/* test_cmd_util — unit tests for the cmd.h helpers: kv/cmd_util.c (argument
 * parsing with Redis's string2ll / string2ld rules, error replies) and
 * kv/cmd_table.c (lookup, ids, names, routing flags).
 *
 * Expected texts and acceptance rules were measured on redis-server 7.0.15.
 * Every reply buffer is freed at teardown and mem_used() must be back where
 * it started. */
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

#include "../../kv/cmd.h"
#include "../../dataplane/mem.h"

struct fixture {
    struct resp_out out;
    struct cmd_ctx c;
    int64_t mem_base;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->mem_base = mem_used();
    resp_out_init(&f->out, 2);
    f->c.out = &f->out;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    resp_out_free(&f->out);
    assert_int_equal(mem_used(), f->mem_base);
    free(f);
    return 0;
}

static struct slice sl(const char *s)
{
    struct slice x = { s, strlen(s) };
    return x;
}

/* The reply written so far, as a NUL-terminated copy in a static buffer. */
static const char *reply(struct fixture *f)
{
    static char buf[512];
    size_t n = f->out.len < sizeof(buf) - 1 ? f->out.len : sizeof(buf) - 1;

    if (n)
        memcpy(buf, f->out.buf, n);
    buf[n] = '\0';
    resp_out_reset(&f->out);
    return buf;
}

static int ll_ok(const char *s, long long want)
{
    long long v = 12345;

    return str_to_ll(s, strlen(s), &v) == 1 && v == want;
}

static int ll_bad(const char *s)
{
    long long v = 12345;

    /* a refused string leaves the output alone */
    return str_to_ll(s, strlen(s), &v) == 0 && v == 12345;
}

/* ---- str_to_ll: limits and wraparound first ---- */

static void test_ll_limits(void **state)
{
    (void)state;
    assert_true(ll_ok("9223372036854775807", LLONG_MAX));
    assert_true(ll_bad("9223372036854775808"));
    assert_true(ll_ok("-9223372036854775808", LLONG_MIN));
    assert_true(ll_bad("-9223372036854775809"));
    assert_true(ll_bad("18446744073709551615"));
    assert_true(ll_bad("18446744073709551616"));
    assert_true(ll_bad("99999999999999999999"));
    assert_true(ll_bad("-99999999999999999999"));
    assert_true(ll_bad("100000000000000000000000000000"));
}

static void test_ll_form(void **state)
{
    long long v;

    (void)state;
    assert_true(ll_ok("0", 0));
    assert_true(ll_ok("1", 1));
    assert_true(ll_ok("-1", -1));
    assert_true(ll_ok("1234567890", 1234567890));
    assert_true(ll_bad(""));
    assert_true(ll_bad("-"));
    assert_true(ll_bad("-0"));
    assert_true(ll_bad("+1"));
    assert_true(ll_bad("+0"));
    assert_true(ll_bad(" 1"));
    assert_true(ll_bad("1 "));
    assert_true(ll_bad("01"));
    assert_true(ll_bad("00"));
    assert_true(ll_bad("-01"));
    assert_true(ll_bad("1a"));
    assert_true(ll_bad("0x10"));
    assert_true(ll_bad("1.0"));
    assert_true(ll_bad("1e3"));
    assert_true(ll_bad("--1"));
    /* a NUL inside is a byte like any other: not a digit */
    assert_int_equal(str_to_ll("1\0", 2, &v), 0);
    assert_int_equal(str_to_ll("12", 1, &v), 1);
    assert_int_equal(v, 1);
    /* the output pointer is optional */
    assert_int_equal(str_to_ll("42", 2, NULL), 1);
}

static void test_ll_to_str(void **state)
{
    const long long vals[] = { 0, 1, -1, 9, 10, -10, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
    char buf[21], ref[32];

    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        int n = ll_to_str(buf, vals[i]);
        long long back;

        snprintf(ref, sizeof(ref), "%lld", vals[i]);
        assert_string_equal(buf, ref);
        assert_int_equal(n, (int)strlen(ref));
        assert_int_equal(str_to_ll(buf, (size_t)n, &back), 1);
        assert_true(back == vals[i]);
    }
}

/* ---- argument helpers with replies ---- */

static void test_arg_ll_replies(void **state)
{
    struct fixture *f = *state;
    struct slice s;
    long long v = 0;

    s = sl("-42");
    assert_int_equal(cmd_arg_ll(&f->c, &s, &v), 0);
    assert_true(v == -42);
    assert_string_equal(reply(f), "");
    s = sl("4x");
    assert_int_equal(cmd_arg_ll(&f->c, &s, &v), -1);
    assert_string_equal(reply(f), "-ERR value is not an integer or out of range\r\n");
    assert_int_equal(cmd_arg_ll_msg(&f->c, &s, &v, "ERR invalid first DB index"), -1);
    assert_string_equal(reply(f), "-ERR invalid first DB index\r\n");
    assert_int_equal(cmd_arg_ll_msg(&f->c, &s, &v, NULL), -1);
    assert_string_equal(reply(f), "-ERR value is not an integer or out of range\r\n");
}

static int ld_ok(struct fixture *f, const char *s, long double want)
{
    struct slice x = sl(s);
    long double v = -1;
    int r = cmd_arg_long_double(&f->c, &x, &v);

    return r == 0 && f->out.len == 0 && v == want;
}

static int ld_bad(struct fixture *f, const char *s, size_t n)
{
    struct slice x = { s, n };
    long double v = -1;
    int r = cmd_arg_long_double(&f->c, &x, &v);

    return r == -1 && v == -1 &&
           strcmp(reply(f), "-ERR value is not a valid float\r\n") == 0;
}

static void test_arg_long_double(void **state)
{
    struct fixture *f = *state;
    char *big;

    assert_true(ld_ok(f, "1.5", 1.5L));
    assert_true(ld_ok(f, "+1.5", 1.5L));       /* strtold takes a '+' */
    assert_true(ld_ok(f, "-0", 0.0L));
    assert_true(ld_ok(f, ".5", 0.5L));
    assert_true(ld_ok(f, "1.", 1.0L));
    assert_true(ld_ok(f, "0x10", 16.0L));      /* and hex */
    assert_true(ld_ok(f, "1e308", 1e308L));
    assert_true(ld_ok(f, "inf", (long double)INFINITY));  /* INCRBYFLOAT refuses it later */
    assert_true(ld_ok(f, "1e-400", 1e-400L));  /* below double, fine for long double */
    assert_true(ld_bad(f, "", 0));
    assert_true(ld_bad(f, " 1", 2));
    assert_true(ld_bad(f, "1 ", 2));
    assert_true(ld_bad(f, "nan", 3));
    assert_true(ld_bad(f, "1e5000", 6));        /* overflow */
    assert_true(ld_bad(f, "1e-5000", 7));       /* underflow to zero */
    assert_true(ld_bad(f, "0x", 2));
    assert_true(ld_bad(f, "1\0" "2", 3));
    assert_true(ld_bad(f, "abc", 3));

    /* Redis caps the text at 5 KiB - 1 bytes (MAX_LONG_DOUBLE_CHARS) */
    big = malloc(5 * 1024 + 1);
    assert_non_null(big);
    memset(big, '0', 5 * 1024);
    big[5 * 1024 - 2] = '7';
    big[5 * 1024 - 1] = '\0';
    assert_true(ld_ok(f, big, 7.0L));
    big[5 * 1024 - 1] = '0';
    big[5 * 1024] = '\0';
    assert_true(ld_bad(f, big, 5 * 1024));
    free(big);
}

static void test_reply_arity(void **state)
{
    struct fixture *f = *state;
    struct slice get = sl("get"), config = sl("CONFIG"), cget = sl("Get");
    const struct cmd_spec *parent;

    f->c.cmd = cmd_lookup(&get, NULL, &parent);
    assert_non_null(f->c.cmd);
    cmd_reply_arity(&f->c);
    assert_string_equal(reply(f), "-ERR wrong number of arguments for 'get' command\r\n");
    f->c.cmd = cmd_lookup(&config, &cget, &parent);
    assert_non_null(f->c.cmd);
    cmd_reply_arity(&f->c);
    assert_string_equal(reply(f), "-ERR wrong number of arguments for 'config|get' command\r\n");
}

/* ---- command table ---- */

static void test_table_sorted_and_ids(void **state)
{
    unsigned n, ids = cmd_count_ids();
    const struct cmd_spec *t = cmd_table(&n);
    char *seen = calloc(ids, 1);

    (void)state;
    assert_int_equal(cmd_table_init(), 0);
    assert_non_null(seen);
    assert_true(n > 50);
    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            assert_true(strcmp(t[i - 1].name, t[i].name) < 0);
        assert_true(t[i].id < ids);
        assert_int_equal(seen[t[i].id], 0);
        seen[t[i].id] = 1;
        assert_ptr_equal(cmd_by_id(t[i].id), &t[i]);
        assert_true(t[i].fn != NULL || t[i].subcommands != NULL);
        for (const struct cmd_spec *s = t[i].subcommands; s && s->name; s++) {
            assert_true(s->id < ids);
            assert_int_equal(seen[s->id], 0);
            seen[s->id] = 1;
            assert_ptr_equal(cmd_by_id(s->id), s);
            assert_non_null(s->fn);
        }
    }
    for (unsigned i = 0; i < ids; i++)
        assert_int_equal(seen[i], 1);
    assert_null(cmd_by_id(ids));
    free(seen);
}

static const struct cmd_spec *look(const char *name, const char *sub,
                                   const struct cmd_spec **parent)
{
    struct slice a = sl(name), b = sub ? sl(sub) : (struct slice){ NULL, 0 };

    return cmd_lookup(&a, sub ? &b : NULL, parent);
}

static void test_lookup(void **state)
{
    const struct cmd_spec *p, *s, *cfg;
    char buf[64];

    (void)state;
    s = look("GeT", NULL, &p);
    assert_non_null(s);
    assert_string_equal(s->name, "get");
    assert_null(p);
    /* a plain command ignores the would-be subcommand */
    assert_ptr_equal(look("get", "x", &p), s);
    assert_null(p);
    /* first, last and lone names of the sorted table, and near misses */
    assert_non_null(look("append", NULL, &p));
    assert_non_null(look("UNLINK", NULL, &p));
    assert_null(look("", NULL, &p));
    assert_null(p);
    assert_null(look("ge", NULL, &p));
    assert_null(look("gett", NULL, &p));
    assert_null(look("zzz", NULL, &p));
    assert_null(look("aaa", NULL, &p));
    {
        struct slice nul = { "get\0", 4 };
        assert_null(cmd_lookup(&nul, NULL, &p));
    }
    /* containers: alone, with a known and with an unknown subcommand */
    cfg = look("config", NULL, &p);
    assert_non_null(cfg);
    assert_null(p);
    assert_int_equal(cfg->arity, -2);
    s = look("Config", "GET", &p);
    assert_non_null(s);
    assert_ptr_equal(p, cfg);
    assert_string_equal(cmd_fullname(s, buf, sizeof(buf)), "config|get");
    assert_string_equal(cmd_fullname(cfg, buf, sizeof(buf)), "config");
    assert_null(look("config", "xyz", &p));
    assert_ptr_equal(p, cfg);
    /* COMMAND alone runs its own handler */
    s = look("command", NULL, &p);
    assert_non_null(s);
    assert_non_null(s->fn);
    /* Redis 7.2's CLIENT SETINFO is accepted (clients send it on connect) */
    assert_non_null(look("client", "SetInfo", &p));
    assert_null(look("client", "pause", &p));
    /* truncating fullname never overflows */
    assert_string_equal(cmd_fullname(look("config", "resetstat", &p), buf, 8), "config|");
}

/* Every name of the table is found however it is cased, with no byte of
 * slack on either side, and no one-byte change of it finds it: the lookup
 * folds and compares whole words, so each byte position of names from 1 to
 * 32 bytes is exercised (the overlapping loads, the 8- and 16-byte edges,
 * the byte-wise tail). */
static void test_lookup_every_name(void **state)
{
    unsigned n;
    const struct cmd_spec *t = cmd_table(&n), *p;

    (void)state;
    for (unsigned i = 0; i < n; i++) {
        size_t len = strlen(t[i].name);
        char buf[40];
        struct slice s = { buf, len };

        memcpy(buf, t[i].name, len + 1);
        assert_ptr_equal(cmd_lookup(&s, NULL, &p), &t[i]);
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)buf[k];

            if (c >= 'a' && c <= 'z') {
                buf[k] = (char)(c - 'a' + 'A');
                assert_ptr_equal(cmd_lookup(&s, NULL, &p), &t[i]);
            }
            /* bytes that a careless fold would map onto the right one */
            for (int d = 0; d < 4; d++) {
                static const unsigned char other[4] = { 0x80, 0xc0, 0x00, '@' };

                buf[k] = (char)(c ^ other[d]);
                if ((unsigned char)buf[k] == c || (unsigned char)buf[k] == (c & ~0x20u))
                    continue;
                assert_ptr_not_equal(cmd_lookup(&s, NULL, &p), &t[i]);
            }
            buf[k] = (char)c;
        }
        s.len = len - 1;
        assert_ptr_not_equal(cmd_lookup(&s, NULL, &p), &t[i]);
        buf[len] = 'x';
        s.len = len + 1;
        assert_ptr_not_equal(cmd_lookup(&s, NULL, &p), &t[i]);
    }
}

/* Through a memo, every answer is cmd_lookup's, whatever came before:
 * repeats, other cases, prefixes, a trailing NUL, containers (whose answer
 * depends on the subcommand), unknown names, long names. */
static void test_lookup_memo(void **state)
{
    static const char *const seq[][2] = {
        { "GET", NULL }, { "GET", NULL }, { "get", NULL }, { "GE", NULL }, { "GET", "x" },
        { "config", "get" }, { "config", "set" }, { "config", NULL }, { "nosuch", NULL },
        { "nosuch", NULL }, { "SET", NULL }, { "get", NULL }, { "client", "list" },
        { "client", "nosuch" }, { "client", "list" }, { "zrangebyscore", NULL },
        { "ZRANGEBYSCORE", NULL }, { "set", NULL }, { "s", NULL }, { "", NULL },
        { "x", NULL }, { "SET", NULL },
    };
    struct cmd_memo memo = { 0 };

    (void)state;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
            struct slice a = sl(seq[i][0]), b = seq[i][1] ? sl(seq[i][1]) : (struct slice){ NULL, 0 };
            const struct cmd_spec *p1, *p2 = (const void *)&memo;
            const struct cmd_spec *want = cmd_lookup(&a, seq[i][1] ? &b : NULL, &p1);

            assert_ptr_equal(cmd_lookup_memo(&memo, &a, seq[i][1] ? &b : NULL, &p2), want);
            assert_ptr_equal(p2, p1);
        }
    }
    {
        struct slice get = sl("get"), nul = { "get\0", 4 };
        const struct cmd_spec *p;

        assert_non_null(cmd_lookup_memo(&memo, &get, NULL, &p));
        assert_null(cmd_lookup_memo(&memo, &nul, NULL, &p));
        assert_non_null(cmd_lookup_memo(&memo, &get, NULL, &p));
    }
}

static void test_specs_match_redis(void **state)
{
    const struct cmd_spec *p, *s;

    (void)state;
    s = look("mset", NULL, &p);
    assert_int_equal(s->arity, -3);
    assert_int_equal(s->first_key, 1);
    assert_int_equal(s->last_key, -1);
    assert_int_equal(s->key_step, 2);
    assert_int_equal(s->flags & (CMD_WRITE | CMD_DENYOOM), CMD_WRITE | CMD_DENYOOM);
    s = look("rename", NULL, &p);
    assert_int_equal(s->last_key, 2);
    s = look("object", "encoding", &p);
    assert_int_equal(s->first_key, 2);
    assert_int_equal(s->arity, 3);
    s = look("hello", NULL, &p);
    assert_int_equal(s->flags & (CMD_NO_AUTH | CMD_ALLOW_BUSY | CMD_FAST),
                     CMD_NO_AUTH | CMD_ALLOW_BUSY | CMD_FAST);
}

static void test_routing_flags(void **state)
{
    static const char *const split[] = { "mget", "mset", "msetnx", "del", "unlink",
                                         "exists", "touch", "rename", "renamenx" };
    static const char *const all[] = { "keys", "scan", "dbsize", "flushdb", "flushall",
                                       "swapdb", "randomkey", "info", "debug", "exec" };
    static const char *const conn[] = { "ping", "echo", "hello", "auth", "quit", "select",
                                        "reset", "time", "shutdown", "monitor", "command",
                                        "multi", "discard" };
    static const char *const subs_all[][2] = { { "config", "set" }, { "config", "resetstat" },
                                               { "client", "list" }, { "client", "kill" },
                                               { "slowlog", "get" }, { "slowlog", "reset" } };
    static const char *const subs_conn[][2] = { { "config", "get" }, { "client", "id" },
                                                { "slowlog", "help" }, { "command", "info" } };
    const struct cmd_spec *p;
    const uint32_t route = CMD_CONN | CMD_ALLCORES | CMD_SPLITKEYS;

    (void)state;
    for (size_t i = 0; i < sizeof(split) / sizeof(split[0]); i++)
        assert_int_equal(look(split[i], NULL, &p)->flags & route, CMD_SPLITKEYS);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        assert_int_equal(look(all[i], NULL, &p)->flags & route, CMD_ALLCORES);
    for (size_t i = 0; i < sizeof(conn) / sizeof(conn[0]); i++)
        assert_int_equal(look(conn[i], NULL, &p)->flags & route, CMD_CONN);
    for (size_t i = 0; i < sizeof(subs_all) / sizeof(subs_all[0]); i++)
        assert_int_equal(look(subs_all[i][0], subs_all[i][1], &p)->flags & route, CMD_ALLCORES);
    for (size_t i = 0; i < sizeof(subs_conn) / sizeof(subs_conn[0]); i++)
        assert_int_equal(look(subs_conn[i][0], subs_conn[i][1], &p)->flags & route, CMD_CONN);
    /* keyed commands route by their key */
    assert_int_equal(look("get", NULL, &p)->flags & route, 0);
    assert_int_equal(look("move", NULL, &p)->flags & route, 0);
    assert_int_equal(look("object", "freq", &p)->flags & route, 0);
    assert_int_equal(look("memory", "usage", &p)->flags & route, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ll_limits),
        cmocka_unit_test(test_ll_form),
        cmocka_unit_test(test_ll_to_str),
        cmocka_unit_test_setup_teardown(test_arg_ll_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arg_long_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_arity, setup, teardown),
        cmocka_unit_test(test_table_sorted_and_ids),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_lookup_every_name),
        cmocka_unit_test(test_lookup_memo),
        cmocka_unit_test(test_specs_match_redis),
        cmocka_unit_test(test_routing_flags),
    };

    /* The command index is built once by main before anything looks up. */
    if (cmd_table_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
