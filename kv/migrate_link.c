/* migrate_link — MIGRATE's cached outbound links (see migrate_link.h).
 *
 * Owner: one data core per cache; no locks. Sockets are non-blocking and
 * every wait is a poll() on the one descriptor with the caller's timeout, so
 * a silent target costs at most that timeout per call. Each link keeps a
 * small read buffer: replies are read in chunks rather than a byte per
 * system call as Redis does, and what follows a line waits there for the
 * next read. Invariant: every cache entry holds an open descriptor. */
#include "migrate_link.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/dump.h"
#include "../dataplane/core.h"
#include "../dataplane/mem.h"

#define MLINK_NAME_MAX  300     /* host (a 255-byte name) + ':' + port */
#define MLINK_RBUF      4096    /* replies are short lines: +OK, -BUSYKEY ... */

struct mlink {
    char name[MLINK_NAME_MAX];
    size_t name_len;
    int fd;
    int64_t last_db;
    int64_t last_use_ms;
    size_t rpos, rlen;
    char rbuf[MLINK_RBUF];
};

struct mlink_cache {
    struct mlink *link[MLINK_CACHE_MAX];
    unsigned n;
    uint64_t rng;                /* xorshift64: which link to evict */
    struct dump_lzf *lzf;
};

/* One cache per data core; slot i is read and written only by core i. */
static struct mlink_cache *core_caches[CORE_MAX];

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct mlink_cache *mlink_cache_new(void)
{
    struct mlink_cache *c = mem_calloc(sizeof(*c));

    if (c)
        c->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)mono_ms();
    return c;
}

static void link_close(struct mlink *l)
{
    if (l->fd >= 0)
        close(l->fd);
    mem_free(l);
}

void mlink_cache_free(struct mlink_cache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n; i++)
        link_close(c->link[i]);
    if (c->lzf)
        dump_lzf_free(c->lzf);
    mem_free(c);
}

struct mlink_cache *mlink_core_cache(unsigned core_id)
{
    if (core_id >= CORE_MAX)
        return NULL;
    if (!core_caches[core_id])
        core_caches[core_id] = mlink_cache_new();
    return core_caches[core_id];
}

void mlink_core_cron(unsigned core_id, int64_t now_ms)
{
    if (core_id < CORE_MAX && core_caches[core_id] && core_caches[core_id]->n)
        mlink_sweep(core_caches[core_id], now_ms);
}

void mlink_core_free(unsigned core_id)
{
    if (core_id >= CORE_MAX)
        return;
    mlink_cache_free(core_caches[core_id]);
    core_caches[core_id] = NULL;
}

struct dump_lzf *mlink_cache_lzf(struct mlink_cache *c)
{
    if (!c->lzf)
        c->lzf = dump_lzf_new();
    return c->lzf;
}

unsigned mlink_count(const struct mlink_cache *c)
{
    return c->n;
}

int64_t mlink_last_db(const struct mlink *l)
{
    return l->last_db;
}

void mlink_set_last_db(struct mlink *l, int64_t db)
{
    l->last_db = db;
}

static void remove_at(struct mlink_cache *c, unsigned i)
{
    link_close(c->link[i]);
    c->link[i] = c->link[--c->n];
    c->link[c->n] = NULL;
}

void mlink_drop(struct mlink_cache *c, struct mlink *l)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->link[i] == l) {
            remove_at(c, i);
            return;
        }
    }
}

unsigned mlink_sweep(struct mlink_cache *c, int64_t now_ms)
{
    unsigned closed = 0;

    for (unsigned i = 0; i < c->n;) {
        if (now_ms - c->link[i]->last_use_ms > MLINK_IDLE_MS) {
            remove_at(c, i);
            closed++;
        } else {
            i++;
        }
    }
    return closed;
}

/* Wait for `events` on fd until the monotonic deadline. 1 ready, 0 timed
 * out, -errno. EINTR restarts with the time left. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = events };
        int64_t left = deadline - mono_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* Redis reads the port with atoi: leading digits, anything after ignored. */
static int parse_port(const char *p, size_t n, char *out, size_t cap)
{
    long v = 0;
    size_t i = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        return -EINVAL;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (p[i] - '0');
        if (v > 65535)
            return -EINVAL;
    }
    return snprintf(out, cap, "%ld", v) > 0 ? 0 : -EINVAL;
}

static int open_socket(const char *host, size_t hlen, const char *port, size_t plen,
                       int64_t timeout_ms)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL, *ai;
    char h[MLINK_NAME_MAX], pbuf[8];
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = -1, rc = -EINVAL, one = 1;

    if (hlen >= sizeof(h) || memchr(host, '\0', hlen))
        return -EINVAL;
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    if (parse_port(port, plen, pbuf, sizeof(pbuf)) < 0)
        return -EINVAL;
    if (getaddrinfo(h, pbuf, &hints, &res) != 0)
        return -EINVAL;
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
    /* Writable means the handshake ended, either way; a refusal then shows
     * on the first send, which is where Redis reports it too. */
    rc = wait_fd(fd, POLLOUT, deadline);
    if (rc <= 0) {
        close(fd);
        return rc == 0 ? -ETIMEDOUT : rc;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int mlink_get(struct mlink_cache *c, const char *host, size_t hlen,
              const char *port, size_t plen, int64_t timeout_ms, int64_t now_ms,
              struct mlink **out)
{
    struct mlink *l;
    int fd;

    for (unsigned i = 0; i < c->n; i++) {
        l = c->link[i];
        if (l->name_len == hlen + 1 + plen && memcmp(l->name, host, hlen) == 0 &&
            l->name[hlen] == ':' && memcmp(l->name + hlen + 1, port, plen) == 0) {
            l->last_use_ms = now_ms;
            *out = l;
            return 0;
        }
    }
    if (hlen + 1 + plen > MLINK_NAME_MAX)
        return -EINVAL;
    l = mem_alloc(sizeof(*l));
    if (!l)
        return -ENOMEM;
    fd = open_socket(host, hlen, port, plen, timeout_ms);
    if (fd < 0) {
        mem_free(l);
        return fd;
    }
    if (c->n == MLINK_CACHE_MAX) {
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 7;
        c->rng ^= c->rng << 17;
        remove_at(c, (unsigned)(c->rng % MLINK_CACHE_MAX));
    }
    memcpy(l->name, host, hlen);
    l->name[hlen] = ':';
    memcpy(l->name + hlen + 1, port, plen);
    l->name_len = hlen + 1 + plen;
    l->fd = fd;
    l->last_db = MLINK_NO_DB;
    l->last_use_ms = now_ms;
    l->rpos = l->rlen = 0;
    c->link[c->n++] = l;
    *out = l;
    return 0;
}

int mlink_write(struct mlink *l, const void *p, size_t n, int64_t timeout_ms)
{
    const char *b = p;
    size_t done = 0;

    while (done < n) {
        size_t chunk = n - done < MLINK_WRITE_CHUNK ? n - done : MLINK_WRITE_CHUNK;
        size_t end = done + chunk;
        int64_t deadline = mono_ms() + timeout_ms;

        while (done < end) {
            ssize_t w = send(l->fd, b + done, end - done, MSG_NOSIGNAL);
            int r;

            if (w > 0) {
                done += (size_t)w;
                continue;
            }
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            r = wait_fd(l->fd, POLLOUT, deadline);
            if (r == 0)
                return -ETIMEDOUT;
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* Fill the read buffer with whatever is there, waiting until the deadline.
 * Returns bytes added (> 0), or -ETIMEDOUT, -ECONNRESET, -errno. */
static long fill(struct mlink *l, int64_t deadline)
{
    if (l->rpos == l->rlen)
        l->rpos = l->rlen = 0;
    for (;;) {
        ssize_t r = recv(l->fd, l->rbuf + l->rlen, sizeof(l->rbuf) - l->rlen, 0);
        int w;

        if (r > 0) {
            l->rlen += (size_t)r;
            return r;
        }
        if (r == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        w = wait_fd(l->fd, POLLIN, deadline);
        if (w == 0)
            return -ETIMEDOUT;
        if (w < 0)
            return w;
    }
}

long mlink_read_line(struct mlink *l, char *buf, size_t cap, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    size_t len = 0;
    int cut = 0;

    for (;;) {
        char *nl = memchr(l->rbuf + l->rpos, '\n', l->rlen - l->rpos);
        size_t take = nl ? (size_t)(nl - (l->rbuf + l->rpos)) : l->rlen - l->rpos;
        size_t room = cap - 1 - len;
        long r;

        if (take > room)
            cut = 1;
        memcpy(buf + len, l->rbuf + l->rpos, take < room ? take : room);
        len += take < room ? take : room;
        l->rpos += take;
        if (nl) {
            l->rpos++;
            if (!cut && len > 0 && buf[len - 1] == '\r')
                len--;
            buf[len] = '\0';
            return (long)len;
        }
        r = fill(l, deadline);
        if (r < 0)
            return r;
    }
}
