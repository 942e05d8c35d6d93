/* Unit tests for the slowlog (dataplane/slowlog.c), SLOWLOG GET's merge of
 * several cores' rings (dataplane/cmd_conn.c), and the CLIENT LIST line
 * (dataplane/client_info.c).
 *
 * Cores and clients are plain structs here: no threads, no transport. Each
 * test starts from a fresh config and leaves every ring freed. Boundary cases
 * first: the 32-argument and 128-byte limits, max-len 0, ring wraparound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/client.h"
#include "../../dataplane/config.h"
#include "../../dataplane/core.h"
#include "../../dataplane/mem.h"
#include "../../dataplane/slowlog.h"
#include "../../kv/cmd.h"
#include "../../kv/commands.h"

struct fixture {
    struct config *cfg;
    struct runtime rt;
    struct core core[2];
    int64_t mem_at_start;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->cfg = config_new();
    assert_non_null(f->cfg);
    f->cfg->slowlog_log_slower_than = 0;   /* log everything */
    f->cfg->slowlog_max_len = 128;
    config_set_live(f->cfg);
    f->rt.ncores = 2;
    f->rt.cfg = f->cfg;
    for (unsigned i = 0; i < 2; i++) {
        f->core[i].id = i;
        f->core[i].rt = &f->rt;
        f->rt.cores[i] = &f->core[i];
    }
    f->mem_at_start = mem_used();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    slowlog_free(&f->core[0]);
    slowlog_free(&f->core[1]);
    assert_int_equal(mem_used(), f->mem_at_start);
    config_set_live(NULL);
    config_free(f->cfg);
    free(f);
    return 0;
}

static struct slice S(const char *s)
{
    struct slice v = { s, strlen(s) };
    return v;
}

static const struct slowlog_entry *newest(const struct core *c)
{
    return &c->slowlog[(c->slowlog_head + c->slowlog_cap - 1) % c->slowlog_cap];
}

static void assert_arg(const struct slowlog_entry *e, int i, const char *want)
{
    assert_int_equal(e->argv[i].len, strlen(want));
    assert_memory_equal(e->argv[i].p, want, strlen(want));
}

/* 32 arguments are kept whole; 33 keep 31 and say "... (2 more arguments)". */
static void test_argc_limit(void **state)
{
    struct fixture *f = *state;
    struct slice argv[40];
    char bufs[40][8];
    const struct slowlog_entry *e;

    for (int i = 0; i < 40; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "a%d", i);
        argv[i] = S(bufs[i]);
    }
    slowlog_push(&f->core[0], NULL, argv, 32, 5);
    e = newest(&f->core[0]);
    assert_int_equal(e->argc, 32);
    assert_arg(e, 31, "a31");

    slowlog_push(&f->core[0], NULL, argv, 33, 5);
    e = newest(&f->core[0]);
    assert_int_equal(e->argc, 32);
    assert_arg(e, 30, "a30");
    assert_arg(e, 31, "... (2 more arguments)");

    slowlog_push(&f->core[0], NULL, argv, 40, 5);
    assert_arg(newest(&f->core[0]), 31, "... (9 more arguments)");
}

/* 128 bytes stay whole; 129 become 128 bytes + "... (1 more bytes)". */
static void test_arg_truncation(void **state)
{
    struct fixture *f = *state;
    char big[300], want[200];
    struct slice argv[2] = { S("set"), { big, 128 } };
    const struct slowlog_entry *e;

    memset(big, 'x', sizeof(big));
    slowlog_push(&f->core[0], NULL, argv, 2, 1);
    e = newest(&f->core[0]);
    assert_int_equal(e->argv[1].len, 128);

    argv[1].len = 129;
    slowlog_push(&f->core[0], NULL, argv, 2, 1);
    e = newest(&f->core[0]);
    memset(want, 'x', 128);
    strcpy(want + 128, "... (1 more bytes)");
    assert_arg(e, 1, want);

    argv[1].len = 300;
    slowlog_push(&f->core[0], NULL, argv, 2, 1);
    strcpy(want + 128, "... (172 more bytes)");
    assert_arg(newest(&f->core[0]), 1, want);
}

/* Threshold: < 0 disables, 0 logs all, otherwise duration >= threshold. */
static void test_threshold(void **state)
{
    struct fixture *f = *state;
    struct slice argv[1] = { S("ping") };

    f->cfg->slowlog_log_slower_than = -1;
    slowlog_push(&f->core[0], NULL, argv, 1, 1000000);
    assert_int_equal(f->core[0].slowlog_len, 0);
    assert_int_equal(atomic_load(&f->rt.slowlog_next_id), 0);

    f->cfg->slowlog_log_slower_than = 100;
    slowlog_push(&f->core[0], NULL, argv, 1, 99);
    assert_int_equal(f->core[0].slowlog_len, 0);
    slowlog_push(&f->core[0], NULL, argv, 1, 100);
    assert_int_equal(f->core[0].slowlog_len, 1);
    assert_int_equal(newest(&f->core[0])->duration_us, 100);
}

/* max-len 0 stores nothing but still uses up ids, as Redis does. */
static void test_max_len_zero(void **state)
{
    struct fixture *f = *state;
    struct slice argv[1] = { S("ping") };

    f->cfg->slowlog_max_len = 0;
    slowlog_push(&f->core[0], NULL, argv, 1, 1);
    slowlog_push(&f->core[0], NULL, argv, 1, 1);
    assert_int_equal(f->core[0].slowlog_len, 0);
    assert_int_equal(atomic_load(&f->rt.slowlog_next_id), 2);
    f->cfg->slowlog_max_len = 5;
    slowlog_push(&f->core[0], NULL, argv, 1, 1);
    assert_int_equal(newest(&f->core[0])->id, 2);
}

/* The ring wraps, keeps the newest max-len entries, and shrinks when
 * max-len is lowered. */
static void test_wraparound_and_shrink(void **state)
{
    struct fixture *f = *state;
    struct slice argv[2] = { S("get"), S("k") };
    struct core *c = &f->core[0];

    f->cfg->slowlog_max_len = 20;
    for (int i = 0; i < 45; i++)
        slowlog_push(c, NULL, argv, 2, i);
    assert_int_equal(c->slowlog_len, 20);
    assert_int_equal(newest(c)->id, 44);
    for (unsigned age = 0; age < 20; age++) {
        unsigned idx = (c->slowlog_head + c->slowlog_cap - 1 - age) % c->slowlog_cap;
        assert_int_equal(c->slowlog[idx].id, 44 - age);
    }
    f->cfg->slowlog_max_len = 3;
    slowlog_push(c, NULL, argv, 2, 1);
    assert_int_equal(c->slowlog_len, 3);
    assert_int_equal(newest(c)->id, 45);
}

/* AUTH arguments and HELLO's AUTH user/password are redacted. */
static void test_redaction(void **state)
{
    struct fixture *f = *state;
    struct slice auth[3] = { S("AUTH"), S("default"), S("secret") };
    struct slice hello[6] = { S("hello"), S("3"), S("auth"), S("u"), S("p"), S("x") };
    const struct slowlog_entry *e;

    slowlog_push(&f->core[0], NULL, auth, 3, 1);
    e = newest(&f->core[0]);
    assert_arg(e, 0, "AUTH");
    assert_arg(e, 1, "(redacted)");
    assert_arg(e, 2, "(redacted)");

    slowlog_push(&f->core[0], NULL, hello, 5, 1);
    e = newest(&f->core[0]);
    assert_arg(e, 1, "3");
    assert_arg(e, 2, "auth");
    assert_arg(e, 3, "(redacted)");
    assert_arg(e, 4, "(redacted)");
}

/* SLOWLOG GET merges the cores' rings newest first, and RESET empties all. */
static void test_get_merges_cores(void **state)
{
    struct fixture *f = *state;
    struct slice argv[1] = { S("ping") };
    struct slice get[3] = { S("slowlog"), S("get"), S("3") };
    struct resp_out out;
    struct cmd_ctx ctx = { .argc = 3, .argv = get, .out = &out, .core = &f->core[0] };
    const char *p;

    resp_out_init(&out, 2);
    slowlog_push(&f->core[0], NULL, argv, 1, 10);   /* id 0 */
    slowlog_push(&f->core[1], NULL, argv, 1, 11);   /* id 1 */
    slowlog_push(&f->core[1], NULL, argv, 1, 12);   /* id 2 */
    slowlog_push(&f->core[0], NULL, argv, 1, 13);   /* id 3 */
    cmd_slowlog_get(&ctx);
    resp_add_raw(&out, "", 1);          /* NUL-terminate for strstr */
    p = out.buf;
    assert_memory_equal(p, "*3\r\n*6\r\n:3\r\n", 12);
    p = strstr(p + 12, "*6\r\n:2\r\n");
    assert_non_null(p);
    assert_non_null(strstr(p, "*6\r\n:1\r\n"));
    assert_null(strstr(out.buf, "*6\r\n:0\r\n"));

    resp_out_reset(&out);
    ctx.argc = 2;
    cmd_slowlog_len(&ctx);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.buf, ":4\r\n", 4);

    resp_out_reset(&out);
    cmd_slowlog_reset(&ctx);
    assert_int_equal(f->core[0].slowlog_len + f->core[1].slowlog_len, 0);
    resp_out_free(&out);
}

/* CLIENT LIST line: 7.0 fields in order, then lib-name/lib-ver. */
static void test_client_info_line(void **state)
{
    struct fixture *f = *state;
    struct conn conn = { .fd = 9 };
    struct client cl;
    struct resp_out out;
    char line[2048];

    memset(&cl, 0, sizeof(cl));
    snprintf(conn.peer, sizeof(conn.peer), "127.0.0.1:5000");
    snprintf(conn.local, sizeof(conn.local), "127.0.0.1:6379");
    cl.id = 7;
    cl.conn = &conn;
    cl.core = &f->core[0];
    cl.db = 3;
    cl.proto = 3;
    cl.ctime_ms = 10000;
    cl.last_ms = 12500;
    cl.name = "app";
    cl.lib_name = "redis-py";
    resp_out_init(&out, 2);
    client_format_info(&cl, &out, 15999);
    assert_true(out.len < sizeof(line));
    memcpy(line, out.buf, out.len);
    line[out.len] = '\0';
    assert_non_null(strstr(line, "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=9 name=app age=5 idle=3 flags=N db=3 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs="));
    assert_non_null(strstr(line, " events=r cmd=NULL user=default redir=-1 resp=3 lib-name=redis-py lib-ver="));
    assert_int_equal(line[out.len - 1], '=');   /* lib-ver empty, no newline */

    resp_out_reset(&out);
    cl.flags = CLIENT_MONITOR | CLIENT_CLOSE_AFTER_REPLY;
    cl.name = NULL;
    client_format_info(&cl, &out, 15999);
    memcpy(line, out.buf, out.len);
    line[out.len] = '\0';
    assert_non_null(strstr(line, " name= age=5 "));
    assert_non_null(strstr(line, " flags=Oc db=3 "));
    resp_out_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_argc_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arg_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_len_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wraparound_and_shrink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_merges_cores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_info_line, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
