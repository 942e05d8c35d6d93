/* Unit tests for kv/digest.c: DEBUG DIGEST-VALUE and DEBUG DIGEST replies for
 * the three string encodings, a TTL, a missing key, several dbs and the empty
 * dataset, against the hex strings redis-server 7.0.15 gives for the same
 * data. One shard, its memory back to the start at teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../dataplane/config.h"
#include "../../dataplane/mem.h"
#include "../../kv/digest.h"
#include "../../kv/keyspace.h"

#define T0 1700000000000ll   /* a fixed "now" in unix ms */
#define ZEROS "0000000000000000000000000000000000000000"

struct fx {
    struct config *cfg;
    struct shard *sh[1];
    struct resp_out out;
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
    f->sh[0] = shard_create(0, 16, 0x1234567ull);
    assert_non_null(f->sh[0]);
    resp_out_init(&f->out, 2);
    f->c.out = &f->out;
    f->c.view.shards = f->sh;
    f->c.view.nshards = 1;
    f->c.now_ms = T0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    resp_out_free(&f->out);
    shard_destroy(f->sh[0]);
    assert_int_equal(mem_used(), f->mem0);
    config_set_live(NULL);
    config_free(f->cfg);
    free(f);
    return 0;
}

static void set(struct fx *f, unsigned db, const char *k, const char *v)
{
    struct slice key = { k, strlen(k) };

    f->c.db = db;
    assert_non_null(ks_set_string(&f->c, &key, v, strlen(v), 0));
}

static void expect_reply(struct fx *f, const char *want)
{
    assert_int_equal(f->out.len, strlen(want));
    assert_memory_equal(f->out.buf, want, f->out.len);
    resp_out_reset(&f->out);
}

static void values(void **state)
{
    struct fx *f = *state;
    struct slice argv[] = { { "DEBUG", 5 }, { "DIGEST-VALUE", 12 }, { "n", 1 }, { "e", 1 },
                            { "r", 1 }, { "t", 1 }, { "nokey", 5 } };
    struct slice t = { "t", 1 };

    set(f, 0, "n", "12345");                       /* int */
    set(f, 0, "e", "hello");                       /* embstr */
    set(f, 0, "r", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"    /* 78 bytes: raw */
                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    set(f, 0, "t", "v");
    assert_int_equal(ks_set_expire(&f->c, &t, ks_lookup_write(&f->c, &t), T0 + 100000), 0);
    f->c.argv = argv;
    f->c.argc = 7;
    digest_reply_values(&f->c, 2);
    expect_reply(f, "*5\r\n"
                 "+e1cf90774e995ae03de66e8109dc5cb9d9c2dc83\r\n"
                 "+36b23a1456b2dce2c3ed252c456761301dba8060\r\n"
                 "+06d2e835c1d878094a0bbeb35e9c2d9ede2d174f\r\n"
                 "+311b17018163335616e089f6b951c82c477335ac\r\n"
                 "+" ZEROS "\r\n");
    f->c.argc = 2;
    digest_reply_values(&f->c, 2);
    expect_reply(f, "*0\r\n");
}

static void dataset(void **state)
{
    struct fx *f = *state;
    struct slice t = { "t", 1 };

    digest_reply_dataset(&f->c);
    expect_reply(f, "+" ZEROS "\r\n");
    set(f, 0, "n", "12345");
    digest_reply_dataset(&f->c);
    expect_reply(f, "+b5c1d2e75e149529637440c6cd7a1e5c770fb1a3\r\n");
    set(f, 0, "e", "hello");
    set(f, 0, "t", "v");
    assert_int_equal(ks_set_expire(&f->c, &t, ks_lookup_write(&f->c, &t), T0 + 100000), 0);
    set(f, 5, "x", "1");
    digest_reply_dataset(&f->c);
    expect_reply(f, "+9f8d73d85c6876b6ea18aec4efe7fb6591b7c9ff\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(values, setup, teardown),
        cmocka_unit_test_setup_teardown(dataset, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
