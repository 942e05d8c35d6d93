/* migrate_out — MIGRATE's outbound links, driven by the control-plane thread
 * (see migrate_out.h for the contract and the Redis 7.0 rules it keeps).
 *
 * Threads and ownership. The module is one instance (the header's functions
 * take no handle), kept in the file-static `st`:
 *   - st.submit, a multi-producer/single-consumer rte_ring: data cores
 *     enqueue (migrate_out_submit), the control plane dequeues. A producer
 *     that flips st.signaled from 0 to 1 writes the eventfd, so a burst of
 *     submissions costs one system call on the data side;
 *   - st.cores[c].done, one single-producer/single-consumer rte_ring per
 *     core: the control plane enqueues finished jobs, core c dequeues
 *     (migrate_out_done). When it is full the job waits on the core's
 *     overflow list (control plane only) and is retried on the next run;
 *   - st.parked[c]: after migrate_out_shutdown the rings are gone and the
 *     jobs handed back wait here for core c's migrate_out_done (the cores
 *     are stopped by then, so nothing runs concurrently with it);
 *   - everything else (links, sockets, the epoll set) is the control
 *     plane's alone. No locks anywhere.
 *
 * A link is one target "host:port" (the strings as MIGRATE gave them) with
 * one socket, the database it last SELECTed, the job in progress and a FIFO
 * of jobs waiting for it. Each job runs this state machine on its link:
 *
 *   no socket ──connect──► CONNECTING ──writable──► WRITING ──all sent──►
 *   READING ──last reply line──► IDLE ──next job──► WRITING ...
 *
 * Connecting, each write and each reply line must progress within the job's
 * timeout (a deadline refreshed on progress). A failure closes the socket
 * and either retries the job once on a fresh socket (fail_io's rule, as
 * cmd_migrate.c decides it) or hands the job back with its outcome.
 *
 * Invariants:
 *   - at rest, every link in st.links has an open socket; a link whose
 *     socket closed is reconnected for its next waiting job or freed;
 *   - l->job == NULL exactly when l->state == L_IDLE (or the socket closed);
 *   - links are freed only at the end of migrate_out_run (st.dead), so an
 *     epoll event of the batch being dispatched never points to freed memory;
 *     events of a socket closed during the batch are discarded with l->rev.
 *
 * The cache holds MIGRATE_OUT_LINKS_MAX links; a new target closes a random
 * idle one. When all of them are busy the new link is opened anyway (the
 * cap is exceeded for as long as the busy links stay busy) and the excess
 * idle links are closed at the end of each run: a MIGRATE never waits for an
 * unrelated target, and the overshoot is bounded by the number of distinct
 * targets being migrated to at the same moment. A link's idle time counts
 * from the end of its last job (7.0 stamps the start of each MIGRATE, which
 * is the same thing when MIGRATE blocks; a job here may outlast 10 s). */
#include "migrate_out.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>

#include "../dataplane/core.h"
#include "../dataplane/log.h"

/* Each pending MIGRATE holds one client: 1023 queued jobs (a ring keeps
 * one slot empty) is far beyond what a node migrating slots submits. */
#define MO_SUBMIT_RING    1024
#define MO_DONE_RING      1024
#define MO_RBUF           4096   /* replies are short lines: +OK, -BUSYKEY ... */
#define MO_EVENTS         128    /* 64 links + the eventfd, with room to spare */
#define MO_RECV_BURST     16     /* recv calls per event: a chatty target cannot hold the thread */
#define MO_DONE_RETRY_MS  1      /* a full done ring: the core drains it on its next turn */
#define MO_NO_DB          INT64_MIN   /* no SELECT acknowledged on this socket */

enum link_state { L_IDLE, L_CONNECTING, L_WRITING, L_READING };

struct mo_link {
    struct mo_link *prev, *next;        /* st.links; once freed, next links st.dead */
    char host[sizeof(((struct migrate_job *)0)->host)];
    char port[sizeof(((struct migrate_job *)0)->port)];
    int fd;                             /* -1: no socket */
    int dead;
    enum link_state state;
    uint32_t watching;                  /* events registered with epoll */
    uint32_t rev;                       /* events of this batch not yet handled */
    int64_t last_db;
    int64_t idle_since;                 /* the idle sweep's clock */
    int64_t deadline;                   /* busy: the current step must progress by then */

    struct migrate_job *job;            /* in progress, or NULL */
    struct migrate_job *wait_head, *wait_tail;

    /* The current attempt of l->job. */
    int retried;                        /* the one retry is used */
    int has_auth, do_select;
    unsigned lines;                     /* reply lines read so far */
    int pre_err;                        /* AUTH's or SELECT's reply was an error */
    int target_err;                     /* some key failed: job->error is final */
    struct iovec iov[3];                /* [AUTH] [SELECT] RESTOREs, minus what was sent */
    unsigned iov_at, iov_n;
    char sel[48];                       /* "*2\r\n$6\r\nSELECT\r\n$<n>\r\n<db>\r\n" */

    /* Reply reading: bytes received and not yet consumed, and the line
     * being assembled (cut to MIGRATE_OUT_LINE_MAX - 1 bytes). */
    size_t rpos, rlen;
    size_t line_len;
    int line_cut;
    char line[MIGRATE_OUT_LINE_MAX];
    char rbuf[MO_RBUF];
};

struct mo_core {
    struct rte_ring *done;
    struct migrate_job *ov_head, *ov_tail;   /* done ring was full */
    int wake;                                /* handed a job back during this run */
};

static struct {
    unsigned ncores;
    struct mo_core *cores;              /* NULL: not initialised */
    struct rte_ring *submit;
    int efd, epfd;
    atomic_int signaled;                /* the eventfd was written and not yet read */
    void (*wake)(unsigned core, void *arg);
    void *wake_arg;
    struct mo_link *links;
    _Atomic unsigned nlinks;            /* written here, read by INFO on data cores */
    struct mo_link *dead;
    unsigned overflowing;               /* cores with a non-empty overflow list */
    int any_wake;
    uint64_t rng;                       /* xorshift64: which idle link to evict */
    struct migrate_job *parked_head[CORE_MAX], *parked_tail[CORE_MAX];
} st = { .efd = -1, .epfd = -1 };

static void attempt_start(struct mo_link *l, int64_t now);
static void link_write(struct mo_link *l, int64_t now);
static void link_read(struct mo_link *l, int64_t now);

/* ---- small helpers ------------------------------------------------------- */

static int64_t deadline_after(int64_t now, int64_t ms)
{
    /* MIGRATE accepts any positive long long as its timeout */
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

static uint64_t rng_next(void)
{
    st.rng ^= st.rng << 13;
    st.rng ^= st.rng >> 7;
    st.rng ^= st.rng << 17;
    return st.rng;
}

static struct rte_ring *ring_new(const char *name, unsigned count, unsigned flags)
{
    ssize_t sz = rte_ring_get_memsize(count);
    struct rte_ring *r;

    if (sz < 0)
        return NULL;
    /* rte_ring_init on our own memory: no EAL (and no hugepages) needed */
    r = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
    if (r && rte_ring_init(r, name, count, flags) != 0) {
        free(r);
        r = NULL;
    }
    return r;
}

static void job_append(struct migrate_job **head, struct migrate_job **tail,
                       struct migrate_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static struct migrate_job *job_pop(struct migrate_job **head, struct migrate_job **tail)
{
    struct migrate_job *j = *head;

    if (j) {
        *head = j->next;
        if (!*head)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void copy_error(struct migrate_job *j, const char *line)
{
    snprintf(j->error, sizeof(j->error), "%s", line + 1);   /* without the '-' */
}

/* ---- handing jobs back --------------------------------------------------- */

static void done_push(struct migrate_job *j)
{
    struct mo_core *c = &st.cores[j->core];

    /* behind an overflow list the ring would reorder the core's jobs */
    if (!c->ov_head && rte_ring_sp_enqueue(c->done, j) == 0) {
        c->wake = st.any_wake = 1;
        return;
    }
    if (!c->ov_head)
        st.overflowing++;
    job_append(&c->ov_head, &c->ov_tail, j);
}

static void done_flush(void)
{
    for (unsigned i = 0; st.overflowing && i < st.ncores; i++) {
        struct mo_core *c = &st.cores[i];

        if (!c->ov_head)
            continue;
        while (c->ov_head && rte_ring_sp_enqueue(c->done, c->ov_head) == 0) {
            job_pop(&c->ov_head, &c->ov_tail);
            c->wake = st.any_wake = 1;
        }
        if (!c->ov_head)
            st.overflowing--;
    }
    if (!st.any_wake)
        return;
    st.any_wake = 0;
    for (unsigned i = 0; i < st.ncores; i++) {
        if (st.cores[i].wake) {
            st.cores[i].wake = 0;
            if (st.wake)
                st.wake(i, st.wake_arg);
        }
    }
}

/* ---- sockets ------------------------------------------------------------- */

static int link_watch(struct mo_link *l, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = l };

    if (l->watching == events)
        return 0;
    if (epoll_ctl(st.epfd, EPOLL_CTL_MOD, l->fd, &ev) != 0) {
        log_errno(LL_WARNING, "epoll_ctl", "MIGRATE link to %s:%s", l->host, l->port);
        return -errno;
    }
    l->watching = events;
    return 0;
}

/* After this the link talks to nobody: the next attempt starts from a new
 * connection, knowing nothing of what the old one had SELECTed. */
static void link_close_socket(struct mo_link *l)
{
    if (l->fd >= 0) {
        epoll_ctl(st.epfd, EPOLL_CTL_DEL, l->fd, NULL);
        close(l->fd);
    }
    l->fd = -1;
    l->watching = 0;
    l->rev = 0;
    l->last_db = MO_NO_DB;
    l->rpos = l->rlen = 0;
    l->line_len = 0;
    l->line_cut = 0;
}

/* Redis reads the port with atoi: blanks, then digits, anything after them
 * ignored ("7000x" is 7000, "abc" is 0 and is refused by the kernel). A
 * sign or a value past 65535 is not a port. */
static int parse_port(const char *p, char *out, size_t cap)
{
    long v = 0;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '+' || *p == '-')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -EINVAL;
    }
    return snprintf(out, cap, "%ld", v) > 0 ? 0 : -EINVAL;
}

/* Start a non-blocking connect. 0 (in progress) or -errno. */
static int link_connect(struct mo_link *l, int64_t now)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *res = NULL, *ai;
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = l };
    char port[8];
    int fd = -1, rc, one = 1;

    if (parse_port(l->port, port, sizeof(port)) < 0)
        return -EINVAL;
    rc = getaddrinfo(l->host, port, &hints, &res);
    if (rc == EAI_NONAME) {
        /* A name, not an address. This lookup blocks the control plane
         * (no asynchronous resolver here); MIGRATE is given addresses by
         * redis-cli and by cluster tools, so names are the rare case. */
        hints.ai_flags = AI_NUMERICSERV;
        rc = getaddrinfo(l->host, port, &hints, &res);
    }
    if (rc != 0)
        return -EINVAL;
    rc = -EINVAL;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
            break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return rc;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (epoll_ctl(st.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        rc = -errno;
        log_errno(LL_WARNING, "epoll_ctl", "MIGRATE link to %s:%s", l->host, l->port);
        close(fd);
        return rc;
    }
    l->fd = fd;
    l->watching = EPOLLOUT;
    l->state = L_CONNECTING;
    l->deadline = deadline_after(now, l->job->timeout_ms);
    return 0;
}

/* ---- links --------------------------------------------------------------- */

/* A scan: at most 64 links (plus the busy overshoot), once per job. */
static struct mo_link *link_find(const char *host, const char *port)
{
    for (struct mo_link *l = st.links; l; l = l->next)
        if (strncmp(l->host, host, sizeof(l->host)) == 0 &&
            strncmp(l->port, port, sizeof(l->port)) == 0)
            return l;
    return NULL;
}

/* Precondition: no job in progress and none waiting. The memory goes at
 * the end of the run (st.dead). */
static void link_free(struct mo_link *l)
{
    link_close_socket(l);
    if (l->prev)
        l->prev->next = l->next;
    else
        st.links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    st.nlinks--;
    l->dead = 1;
    l->prev = NULL;
    l->next = st.dead;
    st.dead = l;
}

static void reap_dead(void)
{
    while (st.dead) {
        struct mo_link *l = st.dead;
        st.dead = l->next;
        free(l);
    }
}

/* Close a random idle link (Redis evicts a random cache entry). 1 if one
 * was closed, 0 if every link is busy. */
static int evict_idle(void)
{
    unsigned idle = 0, k;
    struct mo_link *l;

    for (l = st.links; l; l = l->next)
        idle += !l->job && !l->wait_head;
    if (!idle)
        return 0;
    k = (unsigned)(rng_next() % idle);
    for (l = st.links; l; l = l->next) {
        if (!l->job && !l->wait_head && k-- == 0) {
            link_free(l);
            return 1;
        }
    }
    return 0;
}

static struct mo_link *link_new(const struct migrate_job *j)
{
    struct mo_link *l;

    if (st.nlinks >= MIGRATE_OUT_LINKS_MAX)
        evict_idle();       /* all busy: exceed the cap, see the file header */
    l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    memcpy(l->host, j->host, sizeof(l->host));
    memcpy(l->port, j->port, sizeof(l->port));
    l->host[sizeof(l->host) - 1] = '\0';
    l->port[sizeof(l->port) - 1] = '\0';
    l->fd = -1;
    l->last_db = MO_NO_DB;
    l->next = st.links;
    if (st.links)
        st.links->prev = l;
    st.links = l;
    st.nlinks++;
    return l;
}

/* ---- a job's outcome ----------------------------------------------------- */

/* Hand l->job back with `io` and make the link idle (if its socket lives). */
static void job_finish(struct mo_link *l, enum migrate_io_error io, int64_t now)
{
    struct migrate_job *j = l->job;

    j->io_error = io;
    /* an AUTH or SELECT error seen before the failure is not reported:
     * cmd_migrate reports the target's error only once a key's line came */
    if (!l->target_err)
        j->error[0] = '\0';
    l->job = NULL;
    done_push(j);
    if (l->fd < 0)
        return;
    l->state = L_IDLE;
    l->idle_since = now;
    /* readable while idle = the peer closed or sent what nobody asked for */
    if (link_watch(l, EPOLLIN | EPOLLRDHUP) < 0)
        link_close_socket(l);
}

/* The last expected reply line arrived. */
static void job_complete(struct mo_link *l, int64_t now)
{
    /* After any error the SELECT state is unknown (Redis resets last_dbid);
     * with no key left the current code would trust a failed SELECT, we
     * forget it too, which costs at most one SELECT. */
    l->last_db = l->pre_err || l->target_err ? MO_NO_DB : l->job->db;
    /* Bytes past the last reply would be taken for the next job's replies:
     * such a target is not reused. */
    if (l->rpos < l->rlen)
        link_close_socket(l);
    job_finish(l, MIGRATE_IO_NONE, now);
}

/* An I/O failure (timed_out: the step's deadline passed). The socket is
 * closed. As cmd_migrate.c (7.0 migrateCommand): a connect failure ends
 * the job; a write or read failure retries once on a new connection when
 * it was not a timeout and no key was answered yet (the cached socket may
 * simply have gone stale); otherwise the job ends with IO_WRITE/IO_READ,
 * unless a target error was already seen, which then wins, and the keys
 * already acknowledged stay acknowledged. */
static void fail_io(struct mo_link *l, enum migrate_io_error io, int timed_out, int64_t now)
{
    unsigned pre = (unsigned)(l->has_auth + l->do_select);
    unsigned keys_read = l->lines > pre ? l->lines - pre : 0;

    link_close_socket(l);
    if (io == MIGRATE_IO_CONNECT) {
        job_finish(l, io, now);
        return;
    }
    if (!l->target_err && keys_read == 0 && !timed_out && !l->retried) {
        l->retried = 1;
        attempt_start(l, now);
        return;
    }
    job_finish(l, l->target_err ? MIGRATE_IO_NONE : io, now);
}

/* ---- the attempt: write the request, read the replies -------------------- */

static void request_build(struct mo_link *l)
{
    struct migrate_job *j = l->job;
    char db[24];
    int n;

    l->has_auth = j->auth && j->auth_len;
    l->do_select = l->last_db != j->db;
    l->iov_at = l->iov_n = 0;
    if (l->has_auth)
        l->iov[l->iov_n++] = (struct iovec){ (void *)(uintptr_t)j->auth, j->auth_len };
    if (l->do_select) {
        n = snprintf(db, sizeof(db), "%lld", (long long)j->db);
        n = snprintf(l->sel, sizeof(l->sel), "*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n", n, db);
        l->iov[l->iov_n++] = (struct iovec){ l->sel, (size_t)n };
    }
    if (j->cmds_len)
        l->iov[l->iov_n++] = (struct iovec){ (void *)(uintptr_t)j->cmds, j->cmds_len };
}

/* The socket is connected (or its handshake ended either way): send. */
static void write_start(struct mo_link *l, int64_t now)
{
    request_build(l);
    l->state = L_WRITING;
    l->deadline = deadline_after(now, l->job->timeout_ms);
    link_write(l, now);
}

static void attempt_start(struct mo_link *l, int64_t now)
{
    struct migrate_job *j = l->job;

    l->lines = 0;
    l->pre_err = l->target_err = 0;
    l->has_auth = l->do_select = 0;
    j->error[0] = '\0';
    if (j->nkeys)
        memset(j->acked, 0, j->nkeys);
    if (l->fd >= 0) {
        write_start(l, now);
        return;
    }
    if (link_connect(l, now) < 0)
        fail_io(l, MIGRATE_IO_CONNECT, 0, now);
}

static void link_write(struct mo_link *l, int64_t now)
{
    while (l->iov_at < l->iov_n) {
        struct msghdr m = { .msg_iov = l->iov + l->iov_at, .msg_iovlen = l->iov_n - l->iov_at };
        ssize_t w = sendmsg(l->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        size_t left;

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (link_watch(l, EPOLLOUT) < 0)
                fail_io(l, MIGRATE_IO_WRITE, 0, now);
            return;
        }
        if (w <= 0) {
            fail_io(l, MIGRATE_IO_WRITE, 0, now);
            return;
        }
        l->deadline = deadline_after(now, l->job->timeout_ms);
        for (left = (size_t)w; left && l->iov_at < l->iov_n;) {
            struct iovec *v = &l->iov[l->iov_at];
            size_t k = left < v->iov_len ? left : v->iov_len;

            v->iov_base = (char *)v->iov_base + k;
            v->iov_len -= k;
            left -= k;
            if (!v->iov_len)
                l->iov_at++;
        }
    }
    if (!l->has_auth && !l->do_select && !l->job->nkeys) {
        job_complete(l, now);   /* nothing to answer (every key expired) */
        return;
    }
    l->state = L_READING;
    l->deadline = deadline_after(now, l->job->timeout_ms);
    if (link_watch(l, EPOLLIN) < 0) {
        fail_io(l, MIGRATE_IO_READ, 0, now);
        return;
    }
    link_read(l, now);
}

/* One reply line, in l->line. Returns 1 when it was the job's last. */
static int reply_line(struct mo_link *l, int64_t now)
{
    struct migrate_job *j = l->job;
    unsigned i = l->lines++;
    int err = l->line[0] == '-';

    if (l->has_auth && i == 0) {
        if (err) {
            copy_error(j, l->line);
            l->pre_err = 1;
        }
    } else if (l->do_select && i == (unsigned)l->has_auth) {
        if (err && !l->pre_err)
            copy_error(j, l->line);     /* AUTH's error, when there is one, wins */
        l->pre_err |= err;
    } else {
        unsigned k = i - (unsigned)(l->has_auth + l->do_select);

        if (l->pre_err || err) {
            /* a key fails when its own reply, AUTH's or SELECT's is an
             * error; the first such error is the one reported */
            if (!l->target_err && !l->pre_err)
                copy_error(j, l->line);
            l->target_err = 1;
        } else {
            j->acked[k] = 1;
        }
    }
    if (l->lines < (unsigned)(l->has_auth + l->do_select) + j->nkeys)
        return 0;
    job_complete(l, now);
    return 1;
}

static void link_read(struct mo_link *l, int64_t now)
{
    for (unsigned burst = 0;;) {
        while (l->rpos < l->rlen) {
            char *p = l->rbuf + l->rpos;
            char *nl = memchr(p, '\n', l->rlen - l->rpos);
            size_t take = nl ? (size_t)(nl - p) : l->rlen - l->rpos;
            size_t room = sizeof(l->line) - 1 - l->line_len;
            size_t keep = take < room ? take : room;
            int last;

            /* a longer line is cut and its rest dropped (7.0 reads each
             * reply into a 1024-byte buffer) */
            if (take > room)
                l->line_cut = 1;
            memcpy(l->line + l->line_len, p, keep);
            l->line_len += keep;
            l->rpos += take;
            if (!nl)
                break;
            l->rpos++;
            if (!l->line_cut && l->line_len > 0 && l->line[l->line_len - 1] == '\r')
                l->line_len--;
            l->line[l->line_len] = '\0';
            l->deadline = deadline_after(now, l->job->timeout_ms);
            last = reply_line(l, now);
            l->line_len = 0;
            l->line_cut = 0;
            if (last)
                return;
        }
        if (burst++ == MO_RECV_BURST)
            return;     /* level-triggered: the rest comes on the next run */
        l->rpos = l->rlen = 0;
        ssize_t r = recv(l->fd, l->rbuf, sizeof(l->rbuf), MSG_DONTWAIT);
        if (r > 0) {
            l->rlen = (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        fail_io(l, MIGRATE_IO_READ, 0, now);   /* EOF or a reset */
        return;
    }
}

/* ---- dispatch ------------------------------------------------------------ */

/* Run the link's waiting jobs while it is free (a job can end at once, e.g.
 * a connect refused synchronously), then free a link left without socket. */
static void link_settle(struct mo_link *l, int64_t now)
{
    while (!l->job && l->wait_head) {
        l->job = job_pop(&l->wait_head, &l->wait_tail);
        l->retried = 0;
        attempt_start(l, now);
    }
    if (!l->job && l->fd < 0)
        link_free(l);
}

static void link_event(struct mo_link *l, int64_t now)
{
    char c;
    ssize_t r;

    switch (l->state) {
    case L_CONNECTING:
        /* Writable means the handshake ended, either way: a refusal then
         * fails the first send, where 7.0 reports it too ("IOERR error or
         * timeout writing to target instance", after one retry). */
        write_start(l, now);
        break;
    case L_WRITING:
        link_write(l, now);
        break;
    case L_READING:
        link_read(l, now);
        break;
    case L_IDLE:
        r = recv(l->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        link_close_socket(l);
        break;
    }
    link_settle(l, now);
}

static void take_submissions(int64_t now)
{
    void *burst[64];
    unsigned n;

    while ((n = rte_ring_sc_dequeue_burst(st.submit, burst, 64, NULL)) > 0) {
        for (unsigned i = 0; i < n; i++) {
            struct migrate_job *j = burst[i];
            struct mo_link *l;

            j->io_error = MIGRATE_IO_NONE;
            j->error[0] = '\0';
            j->next = NULL;
            l = link_find(j->host, j->port);
            if (!l)
                l = link_new(j);
            if (!l) {
                if (j->nkeys)
                    memset(j->acked, 0, j->nkeys);
                j->io_error = MIGRATE_IO_NOMEM;
                done_push(j);
                continue;
            }
            job_append(&l->wait_head, &l->wait_tail, j);
            link_settle(l, now);
        }
    }
}

static void poll_links(int64_t now)
{
    struct epoll_event ev[MO_EVENTS];
    int n = epoll_wait(st.epfd, ev, MO_EVENTS, 0);

    /* Two passes: record first, then act. Acting may close a socket and
     * open another for the same link, and the batch's old events for it
     * must not be taken for the new socket's (link_close_socket clears rev). */
    for (int i = 0; i < n; i++) {
        struct mo_link *l = ev[i].data.ptr;
        if (l)
            l->rev |= ev[i].events;
    }
    for (int i = 0; i < n; i++) {
        struct mo_link *l = ev[i].data.ptr;

        if (!l || l->dead || !l->rev)
            continue;
        l->rev = 0;
        link_event(l, now);
    }
}

static void check_timers(int64_t now)
{
    struct mo_link *l, *next;

    /* only the link at hand can be freed in this loop (link_settle), so the
     * saved next pointer stays in the list */
    for (l = st.links; l; l = next) {
        next = l->next;
        if (!l->job) {
            if (now - l->idle_since > MIGRATE_OUT_IDLE_MS)
                link_free(l);
            continue;
        }
        if (now - l->deadline < 0)
            continue;
        switch (l->state) {
        case L_CONNECTING:
            fail_io(l, MIGRATE_IO_CONNECT, 1, now);
            break;
        case L_WRITING:
            fail_io(l, MIGRATE_IO_WRITE, 1, now);
            break;
        case L_READING:
        case L_IDLE:
            fail_io(l, MIGRATE_IO_READ, 1, now);
            break;
        }
        link_settle(l, now);
    }
}

/* ---- public -------------------------------------------------------------- */

static void release_all(void)
{
    if (st.cores) {
        for (unsigned i = 0; i < st.ncores; i++)
            free(st.cores[i].done);
        free(st.cores);
    }
    free(st.submit);
    if (st.efd >= 0)
        close(st.efd);
    if (st.epfd >= 0)
        close(st.epfd);
    st.cores = NULL;
    st.submit = NULL;
    st.efd = st.epfd = -1;
    st.ncores = 0;
    st.nlinks = 0;
    st.links = NULL;
    st.overflowing = 0;
    st.any_wake = 0;
    atomic_store(&st.signaled, 0);
}

int migrate_out_init(unsigned ncores, void (*wake)(unsigned core, void *arg), void *arg)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    struct timespec ts;
    int rc = -ENOMEM;

    if (st.cores)
        return -EBUSY;
    if (ncores == 0 || ncores > CORE_MAX)
        return -EINVAL;
    st.cores = calloc(ncores, sizeof(*st.cores));
    if (!st.cores)
        goto fail;
    st.ncores = ncores;
    for (unsigned i = 0; i < ncores; i++) {
        st.cores[i].done = ring_new("migdone", MO_DONE_RING, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!st.cores[i].done)
            goto fail;
    }
    st.submit = ring_new("migsubmit", MO_SUBMIT_RING, RING_F_SC_DEQ);
    if (!st.submit)
        goto fail;
    st.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st.efd < 0) {
        rc = -errno;
        log_errno(LL_WARNING, "eventfd", "MIGRATE: no wake-up descriptor");
        goto fail;
    }
    st.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st.epfd < 0 || epoll_ctl(st.epfd, EPOLL_CTL_ADD, st.efd, &ev) != 0) {
        rc = -errno;
        log_errno(LL_WARNING, st.epfd < 0 ? "epoll_create1" : "epoll_ctl",
                  "MIGRATE: no event set");
        goto fail;
    }
    st.wake = wake;
    st.wake_arg = arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    st.rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec;
    return 0;
fail:
    release_all();
    return rc;
}

int migrate_out_fd(void)
{
    return st.epfd;
}

void migrate_out_run(int64_t now_ms)
{
    if (!st.cores)
        return;
    if (atomic_load(&st.signaled)) {
        uint64_t v;

        /* Clear the flag only once the write it announced was consumed: a
         * producer may be between flipping it and writing, and then the
         * flag stays up until the next run reads the eventfd. */
        if (read(st.efd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
            atomic_store(&st.signaled, 0);
            /* pairs with the producer's fence: a job enqueued before a
             * producer saw the flag still up is in the ring for the
             * drain below */
            atomic_thread_fence(memory_order_seq_cst);
        }
    }
    take_submissions(now_ms);
    if (st.nlinks) {
        poll_links(now_ms);
        check_timers(now_ms);
        while (st.nlinks > MIGRATE_OUT_LINKS_MAX && evict_idle())
            ;
    }
    done_flush();
    reap_dead();
}

int64_t migrate_out_next_wait(int64_t now_ms)
{
    int64_t best = -1;

    if (!st.cores)
        return -1;
    for (struct mo_link *l = st.links; l; l = l->next) {
        int64_t at = l->job ? l->deadline : l->idle_since + MIGRATE_OUT_IDLE_MS + 1;
        int64_t left = at - now_ms;

        if (left < 0)
            left = 0;
        if (best < 0 || left < best)
            best = left;
    }
    if (st.overflowing && (best < 0 || best > MO_DONE_RETRY_MS))
        best = MO_DONE_RETRY_MS;
    return best;
}

static void park(struct migrate_job *j)
{
    job_append(&st.parked_head[j->core], &st.parked_tail[j->core], j);
}

static void park_unfinished(struct migrate_job *j)
{
    j->io_error = MIGRATE_IO_READ;
    j->error[0] = '\0';
    if (j->nkeys)
        memset(j->acked, 0, j->nkeys);
    park(j);
}

void migrate_out_shutdown(void)
{
    struct migrate_job *j;
    void *p;

    if (!st.cores)
        return;
    /* per core: what was finished first, in order, then what was not */
    for (unsigned i = 0; i < st.ncores; i++) {
        struct mo_core *c = &st.cores[i];

        while (rte_ring_sc_dequeue(c->done, &p) == 0)
            park(p);
        while ((j = job_pop(&c->ov_head, &c->ov_tail)))
            park(j);
    }
    while (st.links) {
        struct mo_link *l = st.links;

        if ((j = l->job)) {
            /* keys already acknowledged stay so: the target has them */
            j->io_error = MIGRATE_IO_READ;
            if (!l->target_err)
                j->error[0] = '\0';
            l->job = NULL;
            park(j);
        }
        while ((j = job_pop(&l->wait_head, &l->wait_tail)))
            park_unfinished(j);
        link_free(l);
    }
    while (rte_ring_sc_dequeue(st.submit, &p) == 0)
        park_unfinished(p);
    reap_dead();
    release_all();
}

int migrate_out_submit(struct migrate_job *j)
{
    uint64_t one = 1;

    if (!st.submit)
        return -ENOBUFS;
    if (j->core >= st.ncores)
        return -EINVAL;
    if (rte_ring_mp_enqueue(st.submit, j) != 0)
        return -ENOBUFS;
    /* pairs with the fence in migrate_out_run (see there) */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_exchange(&st.signaled, 1) == 0) {
        /* an eventfd write fails only when the counter would pass 2^64-2 */
        ssize_t w = write(st.efd, &one, sizeof(one));
        (void)w;
    }
    return 0;
}

struct migrate_job *migrate_out_done(unsigned core)
{
    void *p;

    if (core >= CORE_MAX)
        return NULL;
    if (st.parked_head[core])
        return job_pop(&st.parked_head[core], &st.parked_tail[core]);
    if (!st.cores || core >= st.ncores || rte_ring_sc_dequeue(st.cores[core].done, &p) != 0)
        return NULL;
    return p;
}

int migrate_out_pending(unsigned core)
{
    if (core >= CORE_MAX)
        return 0;
    if (st.parked_head[core])
        return 1;
    return st.cores && core < st.ncores && !rte_ring_empty(st.cores[core].done);
}

unsigned migrate_out_links(void)
{
    return st.nlinks;
}
