/* Unit tests for kv/migrate_link.c: the cache of MIGRATE links (reuse by
 * host:port, the 10 s idle sweep, the 64-entry bound), address parsing, and
 * the line reader and writer with their timeouts, against real loopback
 * sockets: a listener made here plays the target. Every link and every byte
 * of memory is back at teardown. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../dataplane/mem.h"
#include "../../kv/migrate_link.h"

struct fixture {
    struct mlink_cache *c;
    int lfd;                 /* listener */
    char port[16];
    int64_t mem_base;
};

static int setup(void **state)
{
    static struct fixture f;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);

    memset(&f, 0, sizeof(f));
    f.mem_base = mem_used();
    f.c = mlink_cache_new();
    f.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (!f.c || f.lfd < 0 || bind(f.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(f.lfd, 128) != 0 || getsockname(f.lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    snprintf(f.port, sizeof(f.port), "%u", ntohs(a.sin_port));
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    mlink_cache_free(f->c);
    close(f->lfd);
    assert_int_equal(mem_used(), f->mem_base);
    return 0;
}

static struct mlink *get(struct fixture *f, const char *host, const char *port, int64_t now)
{
    struct mlink *l = NULL;

    assert_int_equal(mlink_get(f->c, host, strlen(host), port, strlen(port), 1000, now, &l), 0);
    assert_non_null(l);
    return l;
}

/* The target side of the newest connection. */
static int accept_one(struct fixture *f)
{
    struct pollfd p = { .fd = f->lfd, .events = POLLIN };
    int fd;

    assert_int_equal(poll(&p, 1, 2000), 1);
    fd = accept(f->lfd, NULL, NULL);
    assert_true(fd >= 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
}

/* ---- parsing and connecting -------------------------------------------- */

static void test_bad_addresses(void **state)
{
    struct fixture *f = *state;
    struct mlink *l = NULL;
    static const char *ports[] = { "-1", "+5", "65536", "99999999999999999999" };

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        assert_int_equal(mlink_get(f->c, "127.0.0.1", 9, ports[i], strlen(ports[i]), 100, 0, &l),
                         -EINVAL);
    assert_int_equal(mlink_get(f->c, "127.0\0.1", 8, f->port, strlen(f->port), 100, 0, &l),
                     -EINVAL);
    assert_int_equal(mlink_count(f->c), 0);
}

static void test_port_like_atoi(void **state)
{
    struct fixture *f = *state;
    char p[32];

    /* Redis reads the port with atoi: trailing junk and leading zeros pass,
     * and each spelling is its own cache entry, as in Redis */
    snprintf(p, sizeof(p), "%sxyz", f->port);
    get(f, "127.0.0.1", p, 0);
    snprintf(p, sizeof(p), "00%s", f->port);
    get(f, "127.0.0.1", p, 0);
    assert_int_equal(mlink_count(f->c), 2);
    close(accept_one(f));
    close(accept_one(f));
}

static void test_refused_shows_on_first_io(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    char port[16], line[16];
    struct mlink *l;
    long r;
    int w;

    /* a port that was just free: nothing listens there */
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    snprintf(port, sizeof(port), "%u", ntohs(a.sin_port));
    close(s);
    l = get(f, "127.0.0.1", port, 0);
    w = mlink_write(l, "PING\r\n", 6, 200);
    r = mlink_read_line(l, line, sizeof(line), 200);
    assert_true(w < 0 || r < 0);
    assert_true(r != -ETIMEDOUT);
}

/* ---- the cache ----------------------------------------------------------- */

static void test_reuse_and_sweep(void **state)
{
    struct fixture *f = *state;
    struct mlink *a, *b, *c;
    int t1, t2;

    a = get(f, "127.0.0.1", f->port, 1000);
    t1 = accept_one(f);
    assert_true(mlink_last_db(a) == MLINK_NO_DB);
    mlink_set_last_db(a, 3);
    b = get(f, "127.0.0.1", f->port, 5000);
    assert_ptr_equal(a, b);
    assert_int_equal(mlink_last_db(b), 3);
    c = get(f, "localhost", f->port, 5000);
    assert_ptr_not_equal(a, c);
    t2 = accept_one(f);
    assert_int_equal(mlink_count(f->c), 2);

    /* idle exactly 10 s stays; one more millisecond closes it */
    assert_int_equal(mlink_sweep(f->c, 5000 + MLINK_IDLE_MS), 0);
    assert_int_equal(mlink_sweep(f->c, 5000 + MLINK_IDLE_MS + 1), 2);
    assert_int_equal(mlink_count(f->c), 0);
    /* the target sees the close */
    {
        char ch;
        assert_int_equal(recv(t1, &ch, 1, 0), 0);
        assert_int_equal(recv(t2, &ch, 1, 0), 0);
    }
    close(t1);
    close(t2);
    a = get(f, "127.0.0.1", f->port, 20000);
    assert_true(mlink_last_db(a) == MLINK_NO_DB);
    mlink_drop(f->c, a);
    assert_int_equal(mlink_count(f->c), 0);
    close(accept_one(f));
}

static void test_cache_bound(void **state)
{
    struct fixture *f = *state;
    char port[MLINK_CACHE_MAX + 20];
    int fds[MLINK_CACHE_MAX + 1];

    /* 65 spellings of the same port: 65 entries by name */
    for (int i = 0; i <= MLINK_CACHE_MAX; i++) {
        snprintf(port, sizeof(port), "%.*s%s", i, "0000000000000000000000000000000000000000"
                 "000000000000000000000000000000", f->port);
        get(f, "127.0.0.1", port, i);
        fds[i] = accept_one(f);
        assert_int_equal(mlink_count(f->c), i < MLINK_CACHE_MAX ? i + 1 : MLINK_CACHE_MAX);
    }
    /* exactly one of the first 64 was closed to make room */
    {
        int closed = 0;
        for (int i = 0; i < MLINK_CACHE_MAX; i++) {
            char ch;
            struct pollfd p = { .fd = fds[i], .events = POLLIN };
            if (poll(&p, 1, 0) == 1 && recv(fds[i], &ch, 1, MSG_DONTWAIT) == 0)
                closed++;
        }
        assert_int_equal(closed, 1);
    }
    for (int i = 0; i <= MLINK_CACHE_MAX; i++)
        close(fds[i]);
}

/* ---- line I/O ----------------------------------------------------------- */

static void test_read_lines(void **state)
{
    struct fixture *f = *state;
    struct mlink *l = get(f, "127.0.0.1", f->port, 0);
    int t = accept_one(f);
    char line[8];

    /* several replies in one segment, then a CRLF split across two */
    send_all(t, "+OK\r\n-ERR x\r\n:1\n+PART");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 3);
    assert_string_equal(line, "+OK");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 6);
    assert_string_equal(line, "-ERR x");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 2);
    assert_string_equal(line, ":1");
    send_all(t, "IAL\r");
    usleep(20000);
    send_all(t, "\n");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 7);
    assert_string_equal(line, "+PARTIA");
    /* too long: cut to 7 bytes, the rest of that line dropped, the next kept;
     * a CR inside the cut part is data, not the line end */
    send_all(t, "-BUSYKEY Target key\r\n+OK\r\n-ABCDEF\r\r\n");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 7);
    assert_string_equal(line, "-BUSYKE");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 3);
    assert_string_equal(line, "+OK");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 7);
    assert_string_equal(line, "-ABCDEF");
    /* an empty line, a one-byte buffer */
    send_all(t, "\r\n+OK\r\n");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 0);
    assert_int_equal(mlink_read_line(l, line, 1, 1000), 0);
    assert_string_equal(line, "");
    /* nothing more: a timeout, then the peer's close */
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 50), -ETIMEDOUT);
    send_all(t, "+unterminated");
    close(t);
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), -ECONNRESET);
}

static void test_long_line_over_buffer(void **state)
{
    struct fixture *f = *state;
    struct mlink *l = get(f, "127.0.0.1", f->port, 0);
    int t = accept_one(f);
    static char big[20000];
    char line[1024];

    memset(big, 'e', sizeof(big));
    big[0] = '-';
    assert_int_equal(send(t, big, sizeof(big), 0), (ssize_t)sizeof(big));
    send_all(t, "\r\n+OK\r\n");
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 1023);
    assert_int_equal(line[0], '-');
    assert_int_equal(mlink_read_line(l, line, sizeof(line), 1000), 3);
    assert_string_equal(line, "+OK");
    close(t);
}

static void test_write_all_and_timeout(void **state)
{
    struct fixture *f = *state;
    struct mlink *l = get(f, "127.0.0.1", f->port, 0);
    int t = accept_one(f);
    size_t n = 64u << 20;
    char *buf = mem_alloc(n);
    char got[32];
    ssize_t r;

    assert_non_null(buf);
    memset(buf, 'x', n);
    assert_int_equal(mlink_write(l, "*1\r\n$4\r\nPING\r\n", 14, 1000), 0);
    r = recv(t, got, sizeof(got), 0);
    assert_int_equal(r, 14);
    /* 64 MB to a peer that stops reading: the kernel buffers fill, then
     * the 64 KiB piece that cannot go out times out */
    assert_int_equal(mlink_write(l, buf, n, 100), -ETIMEDOUT);
    mem_free(buf);
    close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_like_atoi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_shows_on_first_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse_and_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_over_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_all_and_timeout, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
