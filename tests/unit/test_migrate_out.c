/* Unit tests for cluster/migrate_out.c: MIGRATE's outbound engine on the
 * control plane. Fake targets live in this process (listeners on 127.0.0.1
 * port 0, non-blocking sockets); one thread drives both sides step by step:
 * migrate_out_run, then each target reads what arrived and answers as the
 * test says, then a poll() on every descriptor with the engine's own wait,
 * so nothing sleeps longer than the next event or deadline.
 *
 * Covered: the reply bookkeeping (acked keys, which error is reported,
 * SELECT only when the link's database changes), the retry once on a fresh
 * link, time-outs, refusal and bad addresses, the idle sweep and the peer's
 * close, cut reply lines at their boundaries, the 64-link cap, the rings
 * (full submission ring, full done ring, concurrent producers) and
 * shutdown. Every descriptor is back at teardown; ASan and valgrind runs
 * check the memory. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cluster/migrate_out.h"

#define NCORES      2
#define TCONN_MAX   4
#define TBUF        8192
#define TNAMES      64        /* command names kept per connection */
#define TARGETS_MAX 70
#define WAIT_MS     10000     /* give up on a condition after this */
#define OK_REPLY    "+OK\r\n"

/* ---- fake targets ---------------------------------------------------------- */

enum tmode {
    T_AUTO,     /* answer +OK to every command as it completes */
    T_SILENT,   /* read, answer only what the test sends */
    T_DEAF,     /* accept, never read */
    T_OFF,      /* never accept */
};

struct tconn {
    int fd;                   /* -1 once the test closed it */
    int eof;                  /* the engine closed its side */
    unsigned ncmds, nanswered;
    char name[TNAMES][16];    /* argv[0] of the first commands */
    char arg1[TNAMES][24];
    size_t len;
    char buf[TBUF];           /* bytes not yet parsed */
};

struct target {
    int lfd;
    char port[16];
    enum tmode mode;
    unsigned nconn;
    struct tconn c[TCONN_MAX];
};

struct fixture {
    struct target *t[TARGETS_MAX];
    unsigned nt;
    unsigned wakes[NCORES];
    int fds_before;
    int64_t last_now;         /* the clock given to the latest migrate_out_run */
};

static struct fixture fx;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static struct target *target_new(enum tmode mode, int backlog)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    struct target *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    assert_true(fx.nt < TARGETS_MAX);
    t->mode = mode;
    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(t->lfd >= 0);
    assert_int_equal(bind(t->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(t->lfd, backlog), 0);
    assert_int_equal(getsockname(t->lfd, (struct sockaddr *)&a, &len), 0);
    snprintf(t->port, sizeof(t->port), "%u", ntohs(a.sin_port));
    fx.t[fx.nt++] = t;
    return t;
}

static void target_close_conn(struct target *t, unsigned i)
{
    if (t->c[i].fd >= 0)
        close(t->c[i].fd);
    t->c[i].fd = -1;
}

static void target_free(struct target *t)
{
    for (unsigned i = 0; i < t->nconn; i++)
        target_close_conn(t, i);
    close(t->lfd);
    free(t);
}

static void send_str(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            poll(&p, 1, 100);
            continue;
        }
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Length of a decimal field ending in "\r\n" at p, its value in *v; 0 if
 * incomplete. */
static size_t parse_num(const char *p, size_t n, long *v)
{
    const char *crlf = memmem(p, n, "\r\n", 2);

    if (!crlf)
        return 0;
    *v = strtol(p, NULL, 10);
    return (size_t)(crlf - p) + 2;
}

static void copy_arg(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* One RESP array of bulk strings: bytes used, or 0 if incomplete. */
static size_t parse_cmd(struct tconn *c, const char *p, size_t n)
{
    size_t at = 0, k;
    long argc, blen;

    assert_int_equal(p[0], '*');
    if (!(k = parse_num(p + 1, n - 1, &argc)))
        return 0;
    at = 1 + k;
    for (long i = 0; i < argc; i++) {
        if (at >= n)
            return 0;
        assert_int_equal(p[at], '$');
        if (!(k = parse_num(p + at + 1, n - at - 1, &blen)))
            return 0;
        at += 1 + k;
        if (at + (size_t)blen + 2 > n)
            return 0;
        if (c->ncmds < TNAMES && i == 0)
            copy_arg(c->name[c->ncmds], sizeof(c->name[0]), p + at, (size_t)blen);
        if (c->ncmds < TNAMES && i == 1)
            copy_arg(c->arg1[c->ncmds], sizeof(c->arg1[0]), p + at, (size_t)blen);
        at += (size_t)blen + 2;
    }
    return at;
}

static void conn_service(struct target *t, struct tconn *c)
{
    for (;;) {
        ssize_t r;
        size_t used;

        assert_true(c->len < sizeof(c->buf));
        r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            c->eof = 1;
            return;
        }
        if (r < 0)
            return;
        c->len += (size_t)r;
        while (c->len && (used = parse_cmd(c, c->buf, c->len)) > 0) {
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            c->ncmds++;
            if (t->mode == T_AUTO) {
                send_str(c->fd, OK_REPLY, strlen(OK_REPLY));
                c->nanswered++;
            }
        }
    }
}

static void target_service(struct target *t)
{
    int fd;

    if (t->mode == T_OFF)
        return;
    while ((fd = accept(t->lfd, NULL, NULL)) >= 0) {
        struct tconn *c = &t->c[t->nconn++];

        assert_true(t->nconn <= TCONN_MAX);
        memset(c, 0, sizeof(*c));
        c->fd = fd;
    }
    if (t->mode == T_DEAF)
        return;
    for (unsigned i = 0; i < t->nconn; i++)
        if (t->c[i].fd >= 0 && !t->c[i].eof)
            conn_service(t, &t->c[i]);
}

/* Answer +OK to every command read and not answered yet. */
static void target_answer_all(struct target *t)
{
    for (unsigned i = 0; i < t->nconn; i++) {
        struct tconn *c = &t->c[i];
        for (; c->fd >= 0 && c->nanswered < c->ncmds; c->nanswered++)
            send_str(c->fd, OK_REPLY, strlen(OK_REPLY));
    }
}

static void reply(struct tconn *c, const char *s)
{
    send_str(c->fd, s, strlen(s));
}

/* ---- driving the engine ------------------------------------------------------ */

/* One turn: the engine, then every target, then wait for the next event
 * (at most cap_ms). */
static void step(int cap_ms)
{
    struct pollfd p[1 + TARGETS_MAX * (1 + TCONN_MAX)];
    unsigned n = 0;
    int64_t w;

    fx.last_now = mono_ms();
    migrate_out_run(fx.last_now);
    for (unsigned i = 0; i < fx.nt; i++)
        target_service(fx.t[i]);
    p[n++] = (struct pollfd){ .fd = migrate_out_fd(), .events = POLLIN };
    for (unsigned i = 0; i < fx.nt; i++) {
        struct target *t = fx.t[i];
        p[n++] = (struct pollfd){ .fd = t->lfd, .events = POLLIN };
        for (unsigned k = 0; t->mode != T_DEAF && k < t->nconn; k++)
            if (t->c[k].fd >= 0 && !t->c[k].eof)
                p[n++] = (struct pollfd){ .fd = t->c[k].fd, .events = POLLIN };
    }
    w = migrate_out_next_wait(mono_ms());
    if (w < 0 || w > cap_ms)
        w = cap_ms;
    poll(p, n, (int)w);
}

#define WAIT_UNTIL(cond)                                                  \
    do {                                                                  \
        int64_t until_ = mono_ms() + WAIT_MS;                             \
        while (!(cond)) {                                                 \
            if (mono_ms() >= until_)                                      \
                fail_msg("line %d: timed out waiting for %s", __LINE__, #cond); \
            step(5);                                                      \
        }                                                                 \
    } while (0)

static struct migrate_job *wait_job(unsigned core)
{
    struct migrate_job *j;

    WAIT_UNTIL((j = migrate_out_done(core)) != NULL);
    return j;
}

/* ---- jobs ----------------------------------------------------------------- */

struct tjob {
    struct migrate_job j;
    uint8_t acked[8];
    char auth[64];
    char cmds[512];
};

/* A job of nkeys RESTOREs ("k0", "k1", ...) for target t. */
static struct tjob *tjob_new(const struct target *t, unsigned core, int64_t db, unsigned nkeys,
                             const char *pass, int64_t timeout_ms)
{
    struct tjob *tj = calloc(1, sizeof(*tj));
    size_t n = 0;

    assert_non_null(tj);
    assert_true(nkeys <= sizeof(tj->acked));
    tj->j.core = core;
    tj->j.owner_ctx = tj;
    snprintf(tj->j.host, sizeof(tj->j.host), "127.0.0.1");
    snprintf(tj->j.port, sizeof(tj->j.port), "%s", t ? t->port : "1");
    tj->j.db = db;
    tj->j.timeout_ms = timeout_ms;
    if (pass) {
        snprintf(tj->auth, sizeof(tj->auth), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n",
                 strlen(pass), pass);
        tj->j.auth = (const uint8_t *)tj->auth;
        tj->j.auth_len = strlen(tj->auth);
    }
    for (unsigned k = 0; k < nkeys; k++)
        n += (size_t)snprintf(tj->cmds + n, sizeof(tj->cmds) - n,
                              "*4\r\n$7\r\nRESTORE\r\n$2\r\nk%u\r\n$1\r\n0\r\n$3\r\nabc\r\n", k);
    tj->j.cmds = (const uint8_t *)tj->cmds;
    tj->j.cmds_len = n;
    tj->j.nkeys = nkeys;
    tj->j.acked = tj->acked;
    memset(tj->acked, 0xee, sizeof(tj->acked));   /* the engine must set every byte */
    return tj;
}

static void submit(struct tjob *tj)
{
    assert_int_equal(migrate_out_submit(&tj->j), 0);
}

static void assert_acked(const struct migrate_job *j, const char *want)
{
    for (unsigned k = 0; k < j->nkeys; k++)
        assert_int_equal(j->acked[k], want[k] - '0');
}

/* ---- fixture ------------------------------------------------------------------ */

static void count_wake(unsigned core, void *arg)
{
    assert_ptr_equal(arg, &fx);
    assert_true(core < NCORES);
    fx.wakes[core]++;
}

static int setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    fx.fds_before = count_fds();
    if (migrate_out_init(NCORES, count_wake, &fx) != 0)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    migrate_out_shutdown();
    for (unsigned c = 0; c < NCORES; c++)
        assert_null(migrate_out_done(c));
    assert_int_equal(migrate_out_links(), 0);
    assert_int_equal(migrate_out_next_wait(0), -1);
    for (unsigned i = 0; i < fx.nt; i++)
        target_free(fx.t[i]);
    fx.nt = 0;
    assert_int_equal(count_fds(), fx.fds_before);
    return 0;
}

/* ---- boundaries: init, submission, waits ---------------------------------- */

static void test_init_and_submit_bounds(void **state)
{
    struct tjob *tj = tjob_new(NULL, NCORES, 0, 1, NULL, 100);

    (void)state;
    assert_int_equal(migrate_out_init(1, NULL, NULL), -EBUSY);
    assert_int_equal(migrate_out_submit(&tj->j), -EINVAL);    /* no such core */
    assert_int_equal(migrate_out_next_wait(0), -1);
    assert_false(migrate_out_pending(0));
    assert_false(migrate_out_pending(NCORES));
    assert_null(migrate_out_done(NCORES));
    migrate_out_run(mono_ms());                                 /* nothing to do */
    assert_int_equal(migrate_out_links(), 0);

    migrate_out_shutdown();
    tj->j.core = 0;
    assert_int_equal(migrate_out_submit(&tj->j), -ENOBUFS);   /* no queue any more */
    migrate_out_shutdown();                                     /* twice is harmless */
    assert_int_equal(migrate_out_init(0, NULL, NULL), -EINVAL);
    assert_int_equal(migrate_out_init(NCORES, count_wake, &fx), 0);
    free(tj);
}

static void test_submit_ring_full(void **state)
{
    enum { N = 1100 };
    struct tjob **tj = calloc(N, sizeof(*tj));
    unsigned n = 0;

    (void)state;
    assert_non_null(tj);
    /* nobody runs the control plane: the ring fills up */
    for (; n < N; n++) {
        tj[n] = tjob_new(NULL, n % NCORES, 0, 1, NULL, 100);
        if (migrate_out_submit(&tj[n]->j) != 0)
            break;
    }
    assert_int_equal(n, 1023);                 /* a 1024-slot ring keeps one empty */
    assert_int_equal(migrate_out_submit(&tj[n]->j), -ENOBUFS);
    migrate_out_shutdown();
    /* every queued job comes back to its core, in order, unfinished */
    for (unsigned c = 0; c < NCORES; c++) {
        for (unsigned i = c; i < n; i += NCORES) {
            struct migrate_job *j = migrate_out_done(c);
            assert_ptr_equal(j, &tj[i]->j);
            assert_int_equal(j->io_error, MIGRATE_IO_READ);
            assert_acked(j, "0");
            assert_string_equal(j->error, "");
        }
        assert_false(migrate_out_pending(c));
    }
    for (unsigned i = 0; i <= n; i++)
        free(tj[i]);
    free(tj);
}

/* ---- replies ------------------------------------------------------------------ */

static void test_three_keys_then_reuse(void **state)
{
    struct target *t = target_new(T_AUTO, 16);
    struct tjob *a = tjob_new(t, 0, 0, 3, NULL, 1000);
    struct tjob *b = tjob_new(t, 0, 0, 3, NULL, 1000);
    struct tjob *c = tjob_new(t, 1, 5, 1, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    assert_int_equal(migrate_out_next_wait(mono_ms()), -1);   /* not taken yet */
    j = wait_job(0);
    assert_ptr_equal(j, &a->j);
    assert_ptr_equal(j->owner_ctx, a);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "111");
    assert_string_equal(j->error, "");
    assert_int_equal(fx.wakes[0], 1);
    assert_int_equal(t->nconn, 1);
    assert_int_equal(t->c[0].ncmds, 4);
    assert_string_equal(t->c[0].name[0], "SELECT");
    assert_string_equal(t->c[0].arg1[0], "0");
    assert_string_equal(t->c[0].name[1], "RESTORE");
    assert_string_equal(t->c[0].arg1[3], "k2");
    assert_int_equal(migrate_out_links(), 1);
    /* idle now: the next deadline is the sweep's */
    assert_int_equal(migrate_out_next_wait(fx.last_now), MIGRATE_OUT_IDLE_MS + 1);

    /* same target and db: same connection, no SELECT */
    submit(b);
    j = wait_job(0);
    assert_ptr_equal(j, &b->j);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "111");
    assert_int_equal(t->nconn, 1);
    assert_int_equal(t->c[0].ncmds, 7);
    assert_string_equal(t->c[0].name[4], "RESTORE");

    /* another db (and core): SELECT again, on the same connection */
    submit(c);
    j = wait_job(1);
    assert_ptr_equal(j, &c->j);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_int_equal(t->nconn, 1);
    assert_int_equal(t->c[0].ncmds, 9);
    assert_string_equal(t->c[0].name[7], "SELECT");
    assert_string_equal(t->c[0].arg1[7], "5");
    assert_int_equal(fx.wakes[1], 1);
    assert_null(migrate_out_done(0));
    free(a);
    free(b);
    free(c);
}

static void test_replies_in_pieces(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 3, 2, "pw", 1000);
    const char *r = "+OK\r\n+OK\r\n+OK\r\n-BUSYKEY Target key name already exists.\r\n";
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 4);
    assert_string_equal(t->c[0].name[0], "AUTH");
    assert_string_equal(t->c[0].arg1[0], "pw");
    assert_string_equal(t->c[0].name[1], "SELECT");
    assert_string_equal(t->c[0].arg1[1], "3");
    /* a byte at a time: lines are assembled across reads */
    for (; *r; r++) {
        send_str(t->c[0].fd, r, 1);
        step(1);
        if (r[1])
            assert_false(migrate_out_pending(0));
    }
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "10");
    assert_string_equal(j->error, "BUSYKEY Target key name already exists.");
    free(a);
}

static void test_auth_error_fails_every_key(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 3, "bad", 1000);
    struct tjob *b = tjob_new(t, 0, 0, 1, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 5);
    reply(&t->c[0], "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                    "-NOAUTH Authentication required.\r\n+OK\r\n"
                    "-NOAUTH Authentication required.\r\n+OK\r\n");
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "000");
    assert_string_equal(j->error,
                        "WRONGPASS invalid username-password pair or user is disabled.");

    /* the link's database is forgotten after an error: SELECT again */
    t->mode = T_AUTO;
    submit(b);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "1");
    assert_int_equal(t->nconn, 1);
    assert_string_equal(t->c[0].name[5], "SELECT");
    free(a);
    free(b);
}

static void test_select_error_fails_every_key(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 99, 2, "pw", 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 4);
    /* AUTH fine, SELECT refused, keys fine: SELECT's error, no key acked */
    reply(&t->c[0], "+OK\r\n-ERR DB index is out of range\r\n+OK\r\n-BUSYKEY x\r\n");
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "00");
    assert_string_equal(j->error, "ERR DB index is out of range");
    free(a);
}

static void test_one_key_busy(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 3, NULL, 1000);
    struct tjob *b = tjob_new(t, 0, 0, 1, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 4);
    reply(&t->c[0], "+OK\r\n+OK\r\n-BUSYKEY Target key name already exists.\r\n+OK\r\n");
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "101");
    assert_string_equal(j->error, "BUSYKEY Target key name already exists.");
    t->mode = T_AUTO;
    submit(b);
    j = wait_job(0);
    assert_acked(j, "1");
    assert_string_equal(t->c[0].name[4], "SELECT");
    assert_int_equal(migrate_out_links(), 1);
    free(a);
    free(b);
}

static void test_no_keys_left(void **state)
{
    struct target *t = target_new(T_AUTO, 16);
    struct tjob *a = tjob_new(t, 0, 0, 0, NULL, 1000);
    struct tjob *b = tjob_new(t, 0, 0, 1, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    /* every key expired on the way: only the SELECT goes out */
    submit(a);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_string_equal(j->error, "");
    assert_int_equal(t->c[0].ncmds, 1);
    /* nothing at all to send (db already selected): done at once */
    a->j.cmds_len = 0;
    submit(a);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    submit(b);
    j = wait_job(0);
    assert_acked(j, "1");
    assert_int_equal(t->c[0].ncmds, 2);
    free(a);
    free(b);
}

static void test_long_reply_lines(void **state)
{
    /* content length before "\r\n" -> stored error length (without '-'):
     * 1022 fits with its CR; from 1023 on the CR falls past the cut. The
     * last case has a CR as byte 1023 of a longer line: it is data, kept */
    static const size_t len[] = { 1022, 1023, 1024, 10000, 1024 };
    static const size_t want[] = { 1021, 1022, 1022, 1022, 1022 };
    static const char last[] = "eeee\r";
    struct target *t = target_new(T_SILENT, 16);
    char *line = malloc(10000 + 3);

    (void)state;
    assert_non_null(line);
    for (unsigned i = 0; i < 5; i++) {
        struct tjob *a = tjob_new(t, 0, 0, 2, NULL, 1000);
        struct migrate_job *j;

        memset(line, 'e', len[i]);
        line[0] = '-';
        memcpy(line + len[i], "\r\n", 3);
        if (i == 4)
            line[1022] = '\r';
        submit(a);
        /* every job SELECTs: the previous one ended with an error */
        WAIT_UNTIL(t->c[0].ncmds == 3 * (i + 1));
        reply(&t->c[0], OK_REPLY);
        reply(&t->c[0], line);
        line[0] = '+';
        reply(&t->c[0], line);      /* a long success line acks its key */
        j = wait_job(0);
        assert_int_equal(j->io_error, MIGRATE_IO_NONE);
        assert_acked(j, "01");
        assert_int_equal(strlen(j->error), want[i]);
        assert_int_equal(j->error[want[i] - 1], last[i]);
        free(a);
    }
    assert_int_equal(t->nconn, 1);
    free(line);
}

/* ---- failures and the retry ----------------------------------------------- */

static void test_retry_on_stale_link(void **state)
{
    struct target *t = target_new(T_AUTO, 16);
    struct tjob *a = tjob_new(t, 0, 0, 1, NULL, 1000);
    struct tjob *b = tjob_new(t, 0, 0, 3, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    wait_job(0);
    /* the target takes the request on the cached link and closes it
     * without answering: retried once on a new connection */
    t->mode = T_SILENT;
    submit(b);
    WAIT_UNTIL(t->c[0].ncmds == 5);
    target_close_conn(t, 0);
    t->mode = T_AUTO;
    j = wait_job(0);
    assert_ptr_equal(j, &b->j);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_acked(j, "111");
    assert_int_equal(t->nconn, 2);
    assert_int_equal(t->c[1].ncmds, 4);
    assert_string_equal(t->c[1].name[0], "SELECT");   /* a fresh link knows no db */
    assert_int_equal(migrate_out_links(), 1);
    free(a);
    free(b);
}

static void test_retry_only_once(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 2, "pw", 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 4);
    /* AUTH answered with an error, then the connection drops before any
     * key's line: the error is not reported (no key line came), retry */
    reply(&t->c[0], "-WRONGPASS x\r\n");
    target_close_conn(t, 0);
    WAIT_UNTIL(t->nconn == 2 && t->c[1].ncmds == 4);
    target_close_conn(t, 1);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_string_equal(j->error, "");
    assert_acked(j, "00");
    assert_int_equal(migrate_out_links(), 0);
    step(5);
    assert_int_equal(t->nconn, 2);
    free(a);
}

static void test_error_then_close(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 3, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 4);
    reply(&t->c[0], "+OK\r\n+OK\r\n-BUSYKEY x\r\n");
    target_close_conn(t, 0);
    /* the target's error wins over the read failure; key 0 stays acked */
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    assert_string_equal(j->error, "BUSYKEY x");
    assert_acked(j, "100");
    assert_int_equal(migrate_out_links(), 0);
    step(5);
    assert_int_equal(t->nconn, 1);
    free(a);
}

static void test_close_after_first_key(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 3, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    submit(a);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 4);
    reply(&t->c[0], "+OK\r\n+OK\r\n");
    target_close_conn(t, 0);
    /* a key was answered: no retry, IOERR, the answered key stays acked */
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_acked(j, "100");
    step(5);
    assert_int_equal(t->nconn, 1);
    free(a);
}

static void test_timeout_reading(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 3, NULL, 60);
    struct tjob *b = tjob_new(t, 0, 0, 3, NULL, 60);
    struct migrate_job *j;
    int64_t t0 = mono_ms();

    (void)state;
    /* never answers: SELECT's line times out, no retry */
    submit(a);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_acked(j, "000");
    assert_true(mono_ms() - t0 >= 60);
    assert_int_equal(migrate_out_links(), 0);
    WAIT_UNTIL(t->c[0].eof);
    assert_int_equal(t->nconn, 1);

    /* answers the first key, then stalls: each line has its own 60 ms */
    submit(b);
    WAIT_UNTIL(t->nconn == 2 && t->c[1].ncmds == 4);
    reply(&t->c[1], "+OK\r\n+OK\r\n");
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_acked(j, "100");
    step(5);
    assert_int_equal(t->nconn, 2);
    free(a);
    free(b);
}

static void test_timeout_writing(void **state)
{
    struct target *t = target_new(T_DEAF, 16);
    struct tjob *a = tjob_new(t, 0, 0, 1, NULL, 80);
    size_t n = 64u << 20;
    char *big = malloc(n);
    struct migrate_job *j;

    (void)state;
    assert_non_null(big);
    memset(big, 'x', n);
    /* 64 MB to a target that never reads: the socket buffers fill, then
     * no byte moves for 80 ms */
    a->j.cmds = (const uint8_t *)big;
    a->j.cmds_len = n;
    submit(a);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_WRITE);
    assert_acked(j, "0");
    assert_int_equal(t->nconn, 1);              /* a timeout is not retried */
    assert_int_equal(migrate_out_links(), 0);
    free(big);
    free(a);
}

static void test_refused_and_bad_addresses(void **state)
{
    static const char *ports[] = { "-1", "+5", "65536", "99999999999999" };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct tjob *a = tjob_new(NULL, 0, 0, 1, NULL, 1000);
    struct migrate_job *j;

    (void)state;
    /* a port that was just free: nothing listens there. Linux answers the
     * loopback SYN with a reset after connect() returned EINPROGRESS, so
     * the handshake "ends" and the refusal fails the first send: retried
     * once, then IOERR writing, as redis-server 7.0 answers here */
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    snprintf(a->j.port, sizeof(a->j.port), "%u", ntohs(sa.sin_port));
    close(s);
    submit(a);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_WRITE);
    assert_acked(j, "0");
    assert_int_equal(migrate_out_links(), 0);

    /* not a port: connecting fails at once */
    for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        snprintf(a->j.port, sizeof(a->j.port), "%s", ports[i]);
        submit(a);
        j = wait_job(0);
        assert_int_equal(j->io_error, MIGRATE_IO_CONNECT);
        assert_int_equal(migrate_out_links(), 0);
    }
    free(a);
}

static void test_connect_timeout(void **state)
{
    struct target *t = target_new(T_OFF, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)atoi(t->port)) };
    struct tjob *a = tjob_new(t, 0, 0, 1, NULL, 60);
    struct migrate_job *j;
    int filler = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* backlog 0 holds one connection and nobody accepts it, so the
     * next SYN is dropped and connect() hangs */
    assert_int_equal(connect(filler, (struct sockaddr *)&sa, sizeof(sa)), 0);
    submit(a);
    j = wait_job(0);
    assert_int_equal(j->io_error, MIGRATE_IO_CONNECT);
    assert_int_equal(migrate_out_links(), 0);
    close(filler);
    free(a);
}

/* ---- the link cache ------------------------------------------------------- */

static void test_idle_sweep(void **state)
{
    struct target *t = target_new(T_AUTO, 16);
    struct tjob *a = tjob_new(t, 0, 0, 1, NULL, 1000);
    int64_t done_at;

    (void)state;
    submit(a);
    wait_job(0);
    done_at = fx.last_now;
    assert_int_equal(migrate_out_links(), 1);
    assert_int_equal(migrate_out_next_wait(done_at + 100), MIGRATE_OUT_IDLE_MS + 1 - 100);
    /* idle exactly 10 s stays; one more millisecond closes it */
    migrate_out_run(done_at + MIGRATE_OUT_IDLE_MS);
    assert_int_equal(migrate_out_links(), 1);
    assert_int_equal(migrate_out_next_wait(done_at + MIGRATE_OUT_IDLE_MS), 1);
    migrate_out_run(done_at + MIGRATE_OUT_IDLE_MS + 1);
    assert_int_equal(migrate_out_links(), 0);
    assert_int_equal(migrate_out_next_wait(done_at + MIGRATE_OUT_IDLE_MS + 1), -1);
    WAIT_UNTIL(t->c[0].eof);
    free(a);
}

static void test_idle_link_closed_by_peer(void **state)
{
    struct target *t = target_new(T_AUTO, 16);
    struct tjob *a = tjob_new(t, 0, 0, 1, NULL, 1000);

    (void)state;
    submit(a);
    wait_job(0);
    assert_int_equal(migrate_out_links(), 1);
    target_close_conn(t, 0);
    WAIT_UNTIL(migrate_out_links() == 0);

    /* bytes nobody asked for also end an idle link */
    submit(a);
    wait_job(0);
    assert_int_equal(t->nconn, 2);
    reply(&t->c[1], "+OK\r\n");
    WAIT_UNTIL(migrate_out_links() == 0);
    WAIT_UNTIL(t->c[1].eof);

    /* and so do bytes that came with the last reply: they would be taken
     * for the next job's replies */
    t->mode = T_SILENT;
    submit(a);
    WAIT_UNTIL(t->nconn == 3 && t->c[2].ncmds == 2);
    reply(&t->c[2], "+OK\r\n+OK\r\n+EXTRA\r\n");
    assert_int_equal(wait_job(0)->io_error, MIGRATE_IO_NONE);
    assert_acked(&a->j, "1");
    assert_int_equal(migrate_out_links(), 0);
    WAIT_UNTIL(t->c[2].eof);
    free(a);
}

static void test_queue_per_link(void **state)
{
    struct target *t = target_new(T_SILENT, 16);
    struct tjob *a = tjob_new(t, 0, 0, 1, NULL, 1000);
    struct tjob *b = tjob_new(t, 1, 0, 1, NULL, 1000);
    struct tjob *c = tjob_new(t, 0, 2, 1, NULL, 1000);

    (void)state;
    /* one job at a time per link, the others wait in order */
    submit(a);
    submit(b);
    submit(c);
    WAIT_UNTIL(t->nconn == 1 && t->c[0].ncmds == 2);
    step(5);
    assert_int_equal(t->c[0].ncmds, 2);
    target_answer_all(t);
    WAIT_UNTIL(t->c[0].ncmds == 3);
    assert_ptr_equal(wait_job(0), &a->j);
    target_answer_all(t);
    WAIT_UNTIL(t->c[0].ncmds == 5);
    assert_ptr_equal(wait_job(1), &b->j);
    assert_string_equal(t->c[0].name[3], "SELECT");
    assert_string_equal(t->c[0].arg1[3], "2");
    target_answer_all(t);
    assert_ptr_equal(wait_job(0), &c->j);
    assert_int_equal(t->nconn, 1);
    free(a);
    free(b);
    free(c);
}

static int conn_closed(const struct target *t)
{
    return t->nconn == 1 && t->c[0].eof;
}

static void test_link_cap(void **state)
{
    enum { N = MIGRATE_OUT_LINKS_MAX };
    struct target *t[N + 2];
    struct tjob *tj[N + 2];
    unsigned evicted = N, closed = 0;

    (void)state;
    for (unsigned i = 0; i < N + 2; i++) {
        t[i] = target_new(T_AUTO, 16);
        tj[i] = tjob_new(t[i], i % NCORES, 0, 1, NULL, 2000);
    }
    /* 64 targets: 64 links */
    for (unsigned i = 0; i < N; i++)
        submit(tj[i]);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(wait_job(i % NCORES)->io_error, MIGRATE_IO_NONE);
    assert_int_equal(migrate_out_links(), N);

    /* a 65th: a random idle one is closed to make room */
    submit(tj[N]);
    assert_ptr_equal(wait_job(N % NCORES), &tj[N]->j);
    assert_int_equal(migrate_out_links(), N);
    for (unsigned k = 0; k < 20 && !closed; k++) {
        step(5);
        for (unsigned i = 0; i < N; i++)
            if (conn_closed(t[i])) {
                evicted = i;
                closed++;
            }
    }
    assert_int_equal(closed, 1);

    /* every link busy: the 66th target gets a link beyond the cap, which
     * goes back to 64 once they are idle again */
    for (unsigned i = 0; i <= N; i++)
        t[i]->mode = T_SILENT;
    for (unsigned i = 0; i <= N; i++)
        if (i != evicted)
            submit(tj[i]);
    for (unsigned i = 0; i <= N; i++)
        if (i != evicted)
            WAIT_UNTIL(t[i]->c[0].ncmds == 3);
    assert_int_equal(migrate_out_links(), N);
    submit(tj[N + 1]);
    WAIT_UNTIL(t[N + 1]->nconn == 1 && t[N + 1]->c[0].ncmds == 2);
    assert_int_equal(migrate_out_links(), N + 1);
    for (unsigned i = 0; i < N + 2; i++)
        target_answer_all(t[i]);
    for (unsigned i = 0; i < N + 2; i++)
        if (i != evicted)
            assert_int_equal(wait_job(i % NCORES)->io_error, MIGRATE_IO_NONE);
    step(5);
    assert_int_equal(migrate_out_links(), N);
    for (unsigned i = 0; i < N + 2; i++)
        free(tj[i]);
}

/* ---- the rings -------------------------------------------------------------- */

/* Take core's finished jobs, checking they come in the order of tj.
 * Returns how many were taken so far. */
static unsigned take_in_order(unsigned core, struct tjob **tj, unsigned n, unsigned *got)
{
    struct migrate_job *j;

    while ((j = migrate_out_done(core))) {
        assert_true(*got < n);
        assert_ptr_equal(j, &tj[*got]->j);
        assert_int_equal(j->io_error, MIGRATE_IO_NONE);
        (*got)++;
    }
    return *got;
}

static void test_done_ring_full(void **state)
{
    enum { N = 1100 };
    struct target *t = target_new(T_AUTO, 16);
    struct tjob **tj = calloc(N, sizeof(*tj));
    unsigned got = 0;

    (void)state;
    assert_non_null(tj);
    for (unsigned i = 0; i < N; i++)
        tj[i] = tjob_new(t, 0, 0, 1, NULL, 2000);
    /* the core does not collect: 1023 fit in its ring, the rest wait on
     * the control plane and follow in order */
    for (unsigned i = 0; i < N; i++) {
        submit(tj[i]);
        if (i % 500 == 499)
            WAIT_UNTIL(t->c[0].ncmds == i + 2);
    }
    WAIT_UNTIL(t->c[0].ncmds == N + 1);
    WAIT_UNTIL(migrate_out_next_wait(mono_ms()) == 1);   /* the overflow's retry */
    assert_true(fx.wakes[0] > 0);
    WAIT_UNTIL(take_in_order(0, tj, N, &got) == N);
    step(5);
    assert_false(migrate_out_pending(0));
    for (unsigned i = 0; i < N; i++)
        free(tj[i]);
    free(tj);
}

struct producer {
    struct tjob **tj;
    unsigned n;
};

static void *produce(void *arg)
{
    struct producer *p = arg;

    for (unsigned i = 0; i < p->n; i++)
        while (migrate_out_submit(&p->tj[i]->j) == -ENOBUFS)
            sched_yield();
    return NULL;
}

/* Take every finished job of every core, checking each core's order.
 * Returns how many were taken so far. */
static unsigned collect(const struct producer *p, unsigned *got)
{
    unsigned total = 0;

    for (unsigned c = 0; c < NCORES; c++) {
        total += take_in_order(c, p[c].tj, p[c].n, &got[c]);
    }
    return total;
}

static void test_concurrent_producers(void **state)
{
    enum { N = 400 };
    struct target *t[NCORES];
    struct producer p[NCORES];
    pthread_t th[NCORES];
    unsigned got[NCORES] = { 0 };

    (void)state;
    /* each core submits to its own target: its jobs come back in order */
    for (unsigned c = 0; c < NCORES; c++) {
        t[c] = target_new(T_AUTO, 16);
        p[c].n = N;
        p[c].tj = calloc(N, sizeof(*p[c].tj));
        assert_non_null(p[c].tj);
        for (unsigned i = 0; i < N; i++)
            p[c].tj[i] = tjob_new(t[c], c, 0, 1, NULL, 2000);
    }
    for (unsigned c = 0; c < NCORES; c++)
        assert_int_equal(pthread_create(&th[c], NULL, produce, &p[c]), 0);
    WAIT_UNTIL(collect(p, got) == NCORES * N);
    for (unsigned c = 0; c < NCORES; c++) {
        pthread_join(th[c], NULL);
        for (unsigned i = 0; i < N; i++)
            free(p[c].tj[i]);
        free(p[c].tj);
    }
}

/* ---- shutdown ---------------------------------------------------------------- */

static void test_shutdown_returns_everything(void **state)
{
    struct target *t = target_new(T_AUTO, 16);
    struct tjob *z = tjob_new(t, 0, 0, 1, NULL, 1000);    /* finished, not collected */
    struct tjob *a = tjob_new(t, 0, 0, 2, NULL, 1000);    /* in flight, one key acked */
    struct tjob *b = tjob_new(t, 0, 0, 1, NULL, 1000);    /* waiting for the link */
    struct tjob *c = tjob_new(t, 0, 0, 1, NULL, 1000);    /* still in the ring */
    struct migrate_job *j;

    (void)state;
    submit(z);
    WAIT_UNTIL(migrate_out_pending(0));
    t->mode = T_SILENT;
    submit(a);
    submit(b);
    WAIT_UNTIL(t->c[0].ncmds == 4);
    reply(&t->c[0], "+OK\r\n");
    step(5);
    step(5);
    submit(c);
    migrate_out_shutdown();
    assert_int_equal(migrate_out_links(), 0);
    assert_int_equal(migrate_out_fd(), -1);
    assert_true(migrate_out_pending(0));
    j = migrate_out_done(0);
    assert_ptr_equal(j, &z->j);
    assert_int_equal(j->io_error, MIGRATE_IO_NONE);
    j = migrate_out_done(0);
    assert_ptr_equal(j, &a->j);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_acked(j, "10");                 /* the target has that one */
    j = migrate_out_done(0);
    assert_ptr_equal(j, &b->j);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_acked(j, "0");
    j = migrate_out_done(0);
    assert_ptr_equal(j, &c->j);
    assert_int_equal(j->io_error, MIGRATE_IO_READ);
    assert_null(migrate_out_done(0));
    assert_false(migrate_out_pending(0));
    WAIT_UNTIL(t->c[0].eof);
    free(z);
    free(a);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_and_submit_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_ring_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_reply_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_keys_then_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_error_fails_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select_error_fails_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_key_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_keys_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_on_stale_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_only_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_then_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_after_first_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_bad_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_link_closed_by_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_per_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_done_ring_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_producers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_returns_everything, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
