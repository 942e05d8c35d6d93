/* Unit tests for the data-core runtime: cross-core routing keeps reply order,
 * the all-cores barrier, and clean teardown.
 *
 * Two cores without TCP listeners (port 0): core 1 runs on its own thread,
 * core 0 is driven turn by turn from the test thread through a fake
 * connection whose send() appends to a buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cluster/slotmap.h"
#include "../../dataplane/client.h"
#include "../../dataplane/config.h"
#include "../../dataplane/core.h"
#include "../../kv/cmd.h"
#include "../../kv/slot.h"

struct fake_conn {
    struct conn c;
    char *out;
    size_t len, cap;
    int closed;
};

static ssize_t fake_send(struct conn *c, const void *p, size_t n)
{
    struct fake_conn *f = (struct fake_conn *)c;

    if (f->len + n + 1 > f->cap) {
        f->cap = (f->len + n + 1) * 2;
        f->out = realloc(f->out, f->cap);
        assert_non_null(f->out);
    }
    memcpy(f->out + f->len, p, n);
    f->len += n;
    f->out[f->len] = '\0';
    return (ssize_t)n;
}

static void fake_pause(struct conn *c, int paused)
{
    (void)c;
    (void)paused;
}

static void fake_close(struct conn *c)
{
    ((struct fake_conn *)c)->closed = 1;
}

static const struct conn_ops fake_ops = { fake_send, fake_pause, fake_close };

struct fixture {
    struct runtime rt;
    struct config *cfg;
    struct fake_conn conn;
    struct client *cl;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    fx->cfg = config_new();
    assert_non_null(fx->cfg);
    fx->cfg->port = 0;
    fx->cfg->threads = 2;
    config_set_live(fx->cfg);
    slot_init();
    assert_int_equal(cmd_table_init(), 0);
    fx->rt.cfg = fx->cfg;
    fx->rt.ncores = 2;
    fx->rt.start_ms = clock_ms();
    atomic_store(&fx->rt.next_client_id, 1);
    slotmap_free(slotmap_publish(slotmap_new_even(2)));
    assert_non_null(core_create(&fx->rt, 0));
    assert_non_null(core_create(&fx->rt, 1));
    assert_int_equal(core_launch(fx->rt.cores[1]), 0);
    fx->conn.c.ops = &fake_ops;
    fx->conn.c.fd = -1;
    snprintf(fx->conn.c.peer, sizeof(fx->conn.c.peer), "127.0.0.1:1");
    fx->cl = client_open(fx->rt.cores[0], &fx->conn.c);
    assert_non_null(fx->cl);
    fx->conn.c.client = fx->cl;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    atomic_store(&fx->rt.shutdown, 1);
    core_wake(fx->rt.cores[1]);
    core_join(fx->rt.cores[1]);
    client_free(fx->cl);
    core_drain_at_exit(fx->rt.cores[0]);
    core_drain_at_exit(fx->rt.cores[1]);
    core_destroy(fx->rt.cores[0]);
    core_destroy(fx->rt.cores[1]);
    slotmap_free(slotmap_publish(NULL));
    config_set_live(NULL);
    config_free(fx->cfg);
    free(fx->conn.out);
    free(fx);
    return 0;
}

static void feed(struct fixture *fx, const char *bytes, size_t n)
{
    while (n) {
        char *buf;
        long cap = client_rx_space(fx->cl, &buf, n);
        size_t chunk = (size_t)cap < n ? (size_t)cap : n;

        assert_true(cap > 0);
        memcpy(buf, bytes, chunk);
        client_rx_done(fx->cl, chunk);
        bytes += chunk;
        n -= chunk;
    }
}

/* Turn core 0 until `want` bytes of output arrived (or 10 s passed). */
static void run_until(struct fixture *fx, size_t want)
{
    int64_t deadline = clock_ms() + 10000;

    while (fx->conn.len < want && clock_ms() < deadline)
        core_turn(fx->rt.cores[0], 0);
    assert_true(fx->conn.len >= want);
}

static void append(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(*s + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if ((size_t)n < *cap - *len)
            break;
        *cap *= 2;
        *s = realloc(*s, *cap);
        assert_non_null(*s);
    }
    *len += (size_t)n;
}

static void keys_span_both_cores(void **state)
{
    const struct slotmap *m = slotmap_current();
    int seen[2] = { 0, 0 };
    char key[32];

    (void)state;
    for (int i = 0; i < 100; i++) {
        int n = snprintf(key, sizeof(key), "key:%d", i);
        seen[slotmap_core(m, slot_of(key, (size_t)n))]++;
    }
    assert_true(seen[0] > 10 && seen[1] > 10);
}

/* A pipeline mixing keys of both cores, a barrier command (DBSIZE) and a
 * multi-key command over both cores is answered in request order. */
static void pipeline_order(void **state)
{
    struct fixture *fx = *state;
    size_t rlen = 0, rcap = 4096, elen = 0, ecap = 4096;
    char *req = malloc(rcap), *exp = malloc(ecap);
    const int n = 2000;

    assert_non_null(req);
    assert_non_null(exp);
    for (int i = 0; i < n; i++) {
        char v[16];
        int vl = snprintf(v, sizeof(v), "%d", i);
        append(&req, &rlen, &rcap, "*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\n%s\r\n",
               (int)strlen("key:") + vl, i, vl, v);
        append(&exp, &elen, &ecap, "+OK\r\n");
        if (i % 500 == 499) {
            append(&req, &rlen, &rcap, "DBSIZE\r\n");
            append(&exp, &elen, &ecap, ":%d\r\n", i + 1);
        }
    }
    for (int i = 0; i < n; i++) {
        char v[16];
        int vl = snprintf(v, sizeof(v), "%d", i);
        append(&req, &rlen, &rcap, "*2\r\n$4\r\nINCR\r\n$%d\r\nkey:%d\r\n",
               (int)strlen("key:") + vl, i);
        append(&exp, &elen, &ecap, ":%d\r\n", i + 1);
    }
    append(&req, &rlen, &rcap, "MGET key:1 key:2 key:3 key:4 nokey\r\n");
    append(&exp, &elen, &ecap, "*5\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$-1\r\n");
    append(&req, &rlen, &rcap, "DEL key:1 key:2 key:3 key:4 nokey\r\n");
    append(&exp, &elen, &ecap, ":4\r\n");
    append(&req, &rlen, &rcap, "DBSIZE\r\n");
    append(&exp, &elen, &ecap, ":%d\r\n", n - 4);

    feed(fx, req, rlen);
    run_until(fx, elen);
    assert_int_equal(fx->conn.len, elen);
    assert_memory_equal(fx->conn.out, exp, elen);
    assert_int_equal(fx->cl->inflight, 0);
    assert_null(fx->cl->pend_head);
    free(req);
    free(exp);
}

/* Every split point of a command that goes to the other core. */
static void split_points_remote(void **state)
{
    struct fixture *fx = *state;
    const struct slotmap *m = slotmap_current();
    char cmd[128], key[32];
    int k = 0, len;

    for (;; k++) {
        int n = snprintf(key, sizeof(key), "rk%d", k);
        if (slotmap_core(m, slot_of(key, (size_t)n)) == 1)
            break;
    }
    len = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$5\r\nvalue\r\n",
                   strlen(key), key);
    for (int cut = 1; cut < len; cut++) {
        fx->conn.len = 0;
        feed(fx, cmd, (size_t)cut);
        core_turn(fx->rt.cores[0], 0);
        feed(fx, cmd + cut, (size_t)(len - cut));
        run_until(fx, 5);
        assert_int_equal(fx->conn.len, 5);
        assert_memory_equal(fx->conn.out, "+OK\r\n", 5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keys_span_both_cores, setup, teardown),
        cmocka_unit_test_setup_teardown(pipeline_order, setup, teardown),
        cmocka_unit_test_setup_teardown(split_points_remote, setup, teardown),
    };

    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
