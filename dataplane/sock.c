/* sock — kernel-socket transport for one data core.
 *
 * Call chain: sock_poll → accept_ready → client_open
 *                       → conn_readable → client_rx_space/client_rx_done
 *                       → conn_writable → client_writable
 * Every structure here belongs to the core that polls it. A connection closed
 * by either side is unhooked from epoll and its fd closed at once, but the
 * client hears of it (client_closed) only at the end of the poll, so no caller
 * up the stack is left holding a freed conn. */
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "core.h"
#include "listen.h"
#include "log.h"
#include "transport.h"

#define SOCK_MAX_LISTENERS 16
#define SOCK_EVENTS 256          /* epoll batch: one loop turn's worth */
#define SOCK_READ_CHUNK 16384    /* Redis's PROTO_IOBUF_LEN */
#define SOCK_READS_PER_EVENT 4   /* then let other connections have a turn */
/* epoll tags below any valid pointer */
#define TAG_WAKE 1u
#define TAG_LISTENER_BASE 16u

struct sock_conn {
    struct conn c;               /* first: ops get a struct conn * */
    struct sock_transport *t;
    uint32_t events;
    uint8_t closed;
    struct sock_conn *dead_next;
};

struct sock_transport {
    struct core *core;
    int epfd;
    int lfd[SOCK_MAX_LISTENERS];
    unsigned nlfd;
    int new_lfd[SOCK_MAX_LISTENERS];   /* opened by sock_rebind_prepare */
    unsigned new_nlfd;
    int port;                          /* of lfd */
    struct sock_conn *dead;
    struct epoll_event evs[SOCK_EVENTS];
};

static void conn_set_events(struct sock_conn *sc, uint32_t ev)
{
    struct epoll_event e = { .events = ev, .data.ptr = sc };

    if (sc->closed || sc->events == ev)
        return;
    if (epoll_ctl(sc->t->epfd, EPOLL_CTL_MOD, sc->c.fd, &e) != 0)
        log_errno(LL_WARNING, "epoll_ctl", "cannot change events of fd %d", sc->c.fd);
    sc->events = ev;
}

static ssize_t op_send(struct conn *c, const void *p, size_t n)
{
    struct sock_conn *sc = (struct sock_conn *)c;
    ssize_t w;

    if (sc->closed)
        return -EPIPE;
    w = write(c->fd, p, n);
    if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            w = 0;
        else
            return -errno;
    }
    if ((size_t)w < n)
        conn_set_events(sc, sc->events | EPOLLOUT);
    else if (sc->events & EPOLLOUT)
        conn_set_events(sc, sc->events & ~(uint32_t)EPOLLOUT);
    return w;
}

static void op_pause_input(struct conn *c, int paused)
{
    struct sock_conn *sc = (struct sock_conn *)c;

    if (paused)
        conn_set_events(sc, sc->events & ~(uint32_t)EPOLLIN);
    else
        conn_set_events(sc, sc->events | EPOLLIN);
}

static void op_close(struct conn *c)
{
    struct sock_conn *sc = (struct sock_conn *)c;

    if (sc->closed)
        return;
    sc->closed = 1;
    epoll_ctl(sc->t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    sc->dead_next = sc->t->dead;
    sc->t->dead = sc;
}

static const struct conn_ops sock_ops = {
    .send = op_send,
    .pause_input = op_pause_input,
    .close = op_close,
};

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(buf, cap, "%s:%u", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(buf, cap, "%s:%u", ip, port);   /* Redis prints IPv6 unbracketed too */
    } else {
        snprintf(buf, cap, "?:0");
    }
}

static void tune_socket(int fd, int keepalive_s)
{
    int one = 1;

    /* Replies are coalesced per loop turn already; Nagle would only add delay. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (keepalive_s > 0) {
        int intvl = keepalive_s / 3 ? keepalive_s / 3 : 1, cnt = 3;  /* Redis's anetKeepAlive */
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_s, sizeof(keepalive_s));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
}

static void accept_ready(struct sock_transport *t, int lfd)
{
    const struct config *cfg = config_live();

    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer, local;
        socklen_t plen = sizeof(peer), llen = sizeof(local);
        struct sock_conn *sc;
        struct epoll_event e;
        int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                log_errno(LL_WARNING, "accept4", "Accepting client connection");
            return;
        }
        sc = calloc(1, sizeof(*sc));
        if (!sc) {
            close(fd);
            continue;
        }
        tune_socket(fd, cfg->tcp_keepalive);
        getsockname(fd, (struct sockaddr *)&local, &llen);
        sc->c.ops = &sock_ops;
        sc->c.fd = fd;
        sc->t = t;
        format_addr(&peer, sc->c.peer, sizeof(sc->c.peer));
        format_addr(&local, sc->c.local, sizeof(sc->c.local));
        sc->events = EPOLLIN | EPOLLRDHUP;
        e.events = sc->events;
        e.data.ptr = sc;
        if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
            log_errno(LL_WARNING, "epoll_ctl", "cannot watch client fd %d", fd);
            close(fd);
            free(sc);
            continue;
        }
        sc->c.client = client_open(t->core, &sc->c);
        if (!sc->c.client)
            op_close(&sc->c);
    }
}

static void conn_readable(struct sock_conn *sc)
{
    for (int i = 0; i < SOCK_READS_PER_EVENT && !sc->closed; i++) {
        struct client *cl = sc->c.client;
        char *buf;
        long cap = client_rx_space(cl, &buf, SOCK_READ_CHUNK);
        ssize_t n;

        if (cap <= 0) {
            op_close(&sc->c);
            return;
        }
        n = read(sc->c.fd, buf, (size_t)cap);
        if (n > 0) {
            client_rx_done(cl, (size_t)n);
            if (n < cap || !(sc->events & EPOLLIN))
                return;
            continue;
        }
        if (n == 0) {
            op_close(&sc->c);
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        if (errno != ECONNRESET)
            log_errno(LL_VERBOSE, "read", "Reading from client %s", sc->c.peer);
        op_close(&sc->c);
        return;
    }
}

int sock_poll(struct sock_transport *t, int timeout_ms)
{
    int n = epoll_wait(t->epfd, t->evs, SOCK_EVENTS, timeout_ms);

    /* Commands run inside this poll: after a wait the turn's clock is stale. */
    if (timeout_ms != 0)
        t->core->now_ms = clock_ms();

    if (n < 0) {
        if (errno != EINTR)
            log_errno(LL_WARNING, "epoll_wait", "core %u poll", t->core->id);
        n = 0;
    }
    for (int i = 0; i < n; i++) {
        struct epoll_event *e = &t->evs[i];

        if (e->data.u64 == TAG_WAKE) {
            uint64_t v;
            if (read(t->core->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_errno(LL_WARNING, "read", "core %u wake-up descriptor", t->core->id);
        } else if (e->data.u64 >= TAG_LISTENER_BASE &&
                   e->data.u64 < TAG_LISTENER_BASE + SOCK_MAX_LISTENERS) {
            accept_ready(t, t->lfd[e->data.u64 - TAG_LISTENER_BASE]);
        } else {
            struct sock_conn *sc = e->data.ptr;
            if (sc->closed)
                continue;
            if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                conn_readable(sc);
            if (!sc->closed && (e->events & (EPOLLHUP | EPOLLERR)))
                op_close(&sc->c);
            if (!sc->closed && (e->events & EPOLLOUT))
                client_writable(sc->c.client);
        }
    }
    while (t->dead) {
        struct sock_conn *sc = t->dead;
        t->dead = sc->dead_next;
        if (sc->c.client)
            client_closed(sc->c.client);
        free(sc);
    }
    return n;
}

static int listen_one(int *lfd, unsigned *nlfd, const char *spec, int port, int backlog,
                      int flags)
{
    int fd, rc;

    if (*nlfd >= SOCK_MAX_LISTENERS)
        return -ENOSPC;
    /* One listener per core on the same port: the kernel balances accepts. */
    rc = listen_tcp(spec, port, backlog, LISTEN_REUSEPORT | flags, &fd);
    if (rc == 0 && fd >= 0)
        lfd[(*nlfd)++] = fd;
    return rc;
}

/* Open listeners for every bind address of the live config. port 0: none, as
 * in Redis (tests attach connections themselves). On failure nothing stays open.
 * `exclusive`: the process holds none of them yet (the first core's, on a new
 * port), so a holder of any is another process: fail as Redis does. */
static int open_listeners(int *lfd, unsigned *nlfd, int exclusive)
{
    const struct config *cfg = config_live();
    int rc = 0;

    *nlfd = 0;
    for (int i = 0; cfg->port != 0 && i < cfg->bind_count && rc == 0; i++)
        rc = listen_one(lfd, nlfd, cfg->bind[i], cfg->port, cfg->tcp_backlog,
                        exclusive ? LISTEN_EXCLUSIVE : 0);
    if (rc == 0 && *nlfd == 0 && cfg->port != 0)
        rc = -EADDRNOTAVAIL;
    if (rc != 0) {
        for (unsigned i = 0; i < *nlfd; i++)
            close(lfd[i]);
        *nlfd = 0;
    }
    return rc;
}

static int watch_listeners(struct sock_transport *t)
{
    struct epoll_event e;

    for (unsigned i = 0; i < t->nlfd; i++) {
        e.events = EPOLLIN;
        e.data.u64 = TAG_LISTENER_BASE + i;
        if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd[i], &e) != 0) {
            log_errno(LL_WARNING, "epoll_ctl", "core %u: cannot watch listener %u",
                      t->core->id, i);
            return -errno;
        }
    }
    return 0;
}

int sock_rebind_prepare(struct sock_transport *t)
{
    /* Same port: this process's own sockets hold it, a probe would fail. */
    return open_listeners(t->new_lfd, &t->new_nlfd,
                          t->core->id == 0 && config_live()->port != t->port);
}

void sock_rebind_abort(struct sock_transport *t)
{
    for (unsigned i = 0; i < t->new_nlfd; i++)
        close(t->new_lfd[i]);
    t->new_nlfd = 0;
}

void sock_rebind_commit(struct sock_transport *t)
{
    for (unsigned i = 0; i < t->nlfd; i++) {
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->lfd[i], NULL);
        close(t->lfd[i]);
    }
    memcpy(t->lfd, t->new_lfd, t->new_nlfd * sizeof(t->lfd[0]));
    t->nlfd = t->new_nlfd;
    t->new_nlfd = 0;
    t->port = config_live()->port;
    watch_listeners(t);
}

struct sock_transport *sock_create(struct core *core)
{
    struct sock_transport *t = calloc(1, sizeof(*t));
    struct epoll_event e;

    if (!t)
        return NULL;
    t->core = core;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (t->epfd < 0) {
        log_errno(LL_WARNING, "epoll_create1", "core %u", core->id);
        goto fail;
    }
    e.events = EPOLLIN;
    e.data.u64 = TAG_WAKE;
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, core->wake_fd, &e) != 0) {
        log_errno(LL_WARNING, "epoll_ctl", "core %u: cannot watch its wake-up descriptor", core->id);
        goto fail;
    }
    /* Cores are created in order, core 0 first. */
    if (open_listeners(t->lfd, &t->nlfd, core->id == 0) != 0) {
        /* Redis 7.0's words; the server then exits (CONFIG SET only refuses) */
        log_msg(LL_WARNING, "Failed listening on port %d (TCP), aborting.", config_live()->port);
        goto fail;
    }
    if (watch_listeners(t) != 0)
        goto fail;
    t->port = config_live()->port;
    return t;
fail:
    sock_destroy(t);
    return NULL;
}

void sock_destroy(struct sock_transport *t)
{
    if (!t)
        return;
    while (t->dead) {
        struct sock_conn *sc = t->dead;
        t->dead = sc->dead_next;
        free(sc);
    }
    for (unsigned i = 0; i < t->nlfd; i++)
        close(t->lfd[i]);
    if (t->epfd >= 0)
        close(t->epfd);
    free(t);
}
