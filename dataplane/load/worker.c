/* worker — one slotd-load data core: a user-space TCP/IP stack (dataplane/
 * net/) on port queue `id`, the core's share of the connections, and the
 * requests and reply checks of each test.
 *
 * Owner: the worker's lcore owns everything here; the main thread reads only
 * struct load_core, after `done` says a phase is published (load.h).
 * A connection works in batches as redis-benchmark does: -P requests are
 * written at once, the next batch goes out when the last reply of this one
 * arrived; every request of a batch is timed from the turn it was issued in
 * to the turn its reply arrived (one TSC read per turn, as in the node).
 * Requests are built from templates with the key's 12 digits patched in; a
 * whole batch of small requests is gathered in one buffer and handed to the
 * stack in one call, large SET values are written piece by piece as the
 * send ring empties. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_random.h>

#include "../dpdk_port.h"
#include "../mem.h"
#include "../net/net.h"
#include "../tsc.h"
#include "histo.h"
#include "load.h"
#include "reply.h"

#define RX_BURST 32
#define REQ_INLINE 256          /* requests up to this size are built whole */
#define SCRATCH (16 * 1024)     /* one batch of small requests, one send call */
#define TX_TRIES 64             /* tx_burst rounds before frames are dropped */
#define LINK_TIMEOUT_S 5        /* then try anyway: the connect timeout reports */
#define CONNECT_TIMEOUT_S 10
#define CLOSE_TIMEOUT_S 2
#define CLOSE_QUIET_MS 50       /* no frame for this long: the server is done */
#define KEY_DIGITS 12           /* redis-benchmark -r: "key:" + 12 digits */

enum { LC_IDLE, LC_CONNECTING, LC_UP, LC_DEAD };

struct lconn {
    struct worker *w;
    struct tcp_conn *c;
    struct reply_parser rp;
    uint64_t sent;              /* TSC of the turn the batch was issued in */
    uint8_t *kinds;             /* op of each started request, in order */
    unsigned nbatch;            /* requests in the batch */
    unsigned nstarted;          /* requests whose bytes began to go out */
    unsigned head;              /* replies received */
    uint32_t roff, rlen, mat;   /* current request: written, length, built in req */
    uint8_t state;
    char req[REQ_INLINE];
};

struct worker {
    struct load_core *core;
    const struct load_opts *o;
    const struct dpdk_port *port;
    struct net_stack *st;
    uint16_t port_id, q;
    uint64_t now, hz, us_mult, last_timer;   /* us_mult: tsc_us_mult(hz) */
    struct lconn *conns;
    unsigned nconns, nup, ndead, nopened;
    uint32_t next_sport;
    /* the test under way */
    const struct load_test *test;
    struct load_result *res;
    int running;
    uint64_t budget, issued, inflight, last_progress, t_end;
    int reported_err;
    int closing;                /* close_all under way: closes are ours */
    uint8_t *value;
    char get_tmpl[64], set_tmpl[64];
    uint32_t get_len, set_len, get_key, set_key;
    uint8_t scratch[SCRATCH];
};

/* ---- requests ------------------------------------------------------------ */

/* Two digits a step from a table: one division by 100 instead of two by
 * 10 per pair (the key is written into every request). */
static void put_key(char *p, uint64_t k)
{
    static const char pairs[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    int i = KEY_DIGITS;

    _Static_assert(KEY_DIGITS % 2 == 0, "put_key writes digit pairs");
    while (i > 0) {
        unsigned d = (unsigned)(k % 100);

        k /= 100;
        i -= 2;
        memcpy(p + i, pairs + 2 * d, 2);
    }
}

/* Uniform in [0, n) from one rte_rand(): the high half of a 64x64-bit
 * product, whose bias (below n / 2^64) no test can see. rte_rand_max's
 * rejection loop cost ~80 instructions a request (callgrind), as much as
 * the rest of building it. */
static inline uint64_t rand_below(uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rte_rand() * n) >> 64);
}

static void templates(struct worker *w)
{
    const char *key = "key:__rand_int__";   /* redis-benchmark's literal without -r */

    w->get_len = (uint32_t)snprintf(w->get_tmpl, sizeof(w->get_tmpl),
                                    "*2\r\n$3\r\nGET\r\n$16\r\n%s\r\n", key);
    w->set_len = (uint32_t)snprintf(w->set_tmpl, sizeof(w->set_tmpl),
                                    "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%u\r\n", key, w->o->dsize);
    w->get_key = (uint32_t)(strstr(w->get_tmpl, key) - w->get_tmpl) + 4;
    w->set_key = (uint32_t)(strstr(w->set_tmpl, key) - w->set_tmpl) + 4;
}

static uint8_t pick_op(const struct load_test *t)
{
    if (t->get_w == 0)
        return LOAD_SET;
    if (t->set_w == 0)
        return LOAD_GET;
    return rand_below(t->set_w + t->get_w) < t->set_w ? LOAD_SET : LOAD_GET;
}

/* Build the next request in lc->req: whole when it fits, else its header
 * (the value and CRLF follow from w->value). */
static void build_req(struct worker *w, struct lconn *lc, uint8_t op)
{
    const struct load_opts *o = w->o;
    uint32_t koff;

    if (op == LOAD_GET) {
        memcpy(lc->req, w->get_tmpl, w->get_len);
        lc->mat = lc->rlen = w->get_len;
        koff = w->get_key;
    } else {
        memcpy(lc->req, w->set_tmpl, w->set_len);
        lc->mat = w->set_len;
        lc->rlen = w->set_len + o->dsize + 2;
        koff = w->set_key;
        if (lc->rlen <= REQ_INLINE) {
            memcpy(lc->req + lc->mat, w->value, o->dsize);
            memcpy(lc->req + lc->mat + o->dsize, "\r\n", 2);
            lc->mat = lc->rlen;
        }
    }
    if (o->keyrange)
        put_key(lc->req + koff, rand_below(o->keyrange));
    lc->roff = 0;
}

/* Write the rest of the current request. 0 when done, -EAGAIN when the
 * send ring is full (on_writable resumes), another -errno when broken. */
static int write_pieces(struct worker *w, struct lconn *lc)
{
    while (lc->roff < lc->rlen) {
        uint32_t d = w->o->dsize;
        const void *p;
        size_t len;
        ssize_t k;

        if (lc->roff < lc->mat) {
            p = lc->req + lc->roff;
            len = lc->mat - lc->roff;
        } else if (lc->roff < lc->mat + d) {
            p = w->value + (lc->roff - lc->mat);
            len = lc->mat + d - lc->roff;
        } else {
            p = &"\r\n"[lc->roff - lc->mat - d];
            len = lc->rlen - lc->roff;
        }
        k = net_tcp_send(lc->c, p, len);
        if (k < 0)
            return (int)k;
        lc->roff += (uint32_t)k;
        if ((size_t)k < len)
            return -EAGAIN;
    }
    return 0;
}

static void conn_write(struct lconn *lc)
{
    struct worker *w = lc->w;
    size_t space, used = 0;

    if (lc->state != LC_UP || (lc->roff < lc->rlen && write_pieces(w, lc) != 0))
        return;
    space = net_tcp_send_space(lc->c);
    while (lc->nstarted < lc->nbatch) {
        uint8_t op = pick_op(w->test);

        lc->kinds[lc->nstarted++] = op;
        build_req(w, lc, op);
        if (lc->mat == lc->rlen && used + lc->rlen <= space && used + lc->rlen <= SCRATCH) {
            memcpy(w->scratch + used, lc->req, lc->rlen);
            used += lc->rlen;
            lc->roff = lc->rlen;
            continue;
        }
        /* Does not fit whole: what was gathered goes first (the ring has
         * room for all of it), then this request as far as it goes. */
        if (used && net_tcp_send(lc->c, w->scratch, used) < 0)
            return;
        used = 0;
        if (write_pieces(w, lc) != 0)
            return;
        space = net_tcp_send_space(lc->c);
    }
    if (used)
        (void)net_tcp_send(lc->c, w->scratch, used);
}

/* Start the next batch if the test wants more. */
static void conn_issue(struct lconn *lc)
{
    struct worker *w = lc->w;
    uint64_t n = w->o->pipeline;

    if (!w->running || lc->state != LC_UP || atomic_load_explicit(&w->core->sh->stop,
                                                                  memory_order_relaxed))
        return;
    if (w->o->seconds > 0) {
        if ((int64_t)(w->now - w->t_end) >= 0)
            return;
    } else {
        if (w->issued >= w->budget)
            return;
        if (n > w->budget - w->issued)
            n = w->budget - w->issued;
    }
    lc->nbatch = (unsigned)n;
    lc->nstarted = lc->head = 0;
    lc->sent = w->now;
    w->issued += n;
    w->inflight += n;
    conn_write(lc);
}

/* ---- the stack's upcalls and hooks ---------------------------------------- */

static void *up_accept(void *arg, struct tcp_conn *c)
{
    (void)arg;
    (void)c;
    return NULL;                    /* we listen on nothing */
}

static void open_conn(struct worker *w, struct lconn *lc)
{
    int rc = net_tcp_connect(w->st, w->o->server, w->o->server_port, lc, &lc->c);

    w->nopened++;
    if (rc != 0) {
        lc->state = LC_DEAD;
        w->ndead++;
        if (w->core->err == 0) {
            w->core->err = rc;
            snprintf(w->core->errmsg, sizeof(w->core->errmsg),
                     "core %u: connect failed: %s", w->core->id, strerror(-rc));
        }
        return;
    }
    lc->state = LC_CONNECTING;
}

static void up_connected(void *ctx)
{
    struct lconn *lc = ctx;
    struct worker *w = lc->w;

    lc->state = LC_UP;
    w->nup++;
}

/* The first few problems of a core are told; all are counted. */
static void conn_error(struct worker *w, const char *what)
{
    if (w->reported_err++ < 3 && !w->o->quiet)
        fprintf(stderr, "slotd-load: core %u: %s\n", w->core->id, what);
}

static size_t up_data(void *ctx, const void *p, size_t n)
{
    struct lconn *lc = ctx;
    struct worker *w = lc->w;
    const uint8_t *b = p;
    size_t left = n;

    if (n == 0) {                   /* the server closed its side */
        conn_error(w, "server closed a connection");
        net_tcp_close(lc->c);
        return 0;
    }
    while (left > 0) {
        enum reply_kind k = reply_next(&lc->rp, &b, &left);
        uint8_t op;

        if (k == REPLY_NONE)
            break;
        if (k == REPLY_BAD || lc->head >= lc->nstarted || w->res == NULL) {
            /* An error nobody asked for is the server refusing the connection
             * (-DENIED of protected-mode, max clients): fatal, and shown even
             * with -q, so the operator learns why. */
            if (k == REPLY_ERROR && w->core->err == 0) {
                w->core->err = -ECONNREFUSED;
                snprintf(w->core->errmsg, sizeof(w->core->errmsg),
                         "core %u: the server refused a connection: -%s%s", w->core->id,
                         lc->rp.line, lc->rp.linelen > REPLY_LINE_MAX ? "..." : "");
            }
            conn_error(w, "unparsable or unexpected reply: connection dropped");
            net_tcp_abort(lc->c);
            return n;
        }
        op = lc->kinds[lc->head++];
        if (op == LOAD_SET ? k != REPLY_OK : (k != REPLY_BULK && k != REPLY_NIL)) {
            w->res->errors++;
            if (k == REPLY_ERROR)
                conn_error(w, lc->rp.line);
            else
                conn_error(w, op == LOAD_SET ? "SET reply is not +OK"
                                                 : "GET reply is not a bulk string");
        }
        w->res->ops++;
        histo_record(&w->res->lat, w->now - lc->sent);
        w->inflight--;
        w->last_progress = w->now;
    }
    if (lc->nbatch && lc->head == lc->nbatch) {
        lc->nbatch = 0;
        conn_issue(lc);
    }
    return n;
}

static void up_writable(void *ctx)
{
    conn_write(ctx);
}

static void up_closed(void *ctx, int err)
{
    struct lconn *lc = ctx;
    struct worker *w = lc->w;
    unsigned lost = lc->nbatch - lc->head;

    if (lc->state == LC_UP)
        w->nup--;
    if (lc->state == LC_CONNECTING && !w->closing && w->core->err == 0) {
        w->core->err = err ? err : -ECONNABORTED;
        snprintf(w->core->errmsg, sizeof(w->core->errmsg),
                 "core %u: connect to the server failed: %s", w->core->id,
                 strerror(err ? -err : ECONNABORTED));
    }
    lc->state = LC_DEAD;
    lc->c = NULL;
    w->ndead++;
    if (lc->nbatch && w->res) {
        w->res->errors += lost;
        w->inflight -= lost;
        lc->nbatch = 0;
    }
    if (err && w->running)
        conn_error(w, "connection broken during the test");
}

static uint16_t hook_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct worker *w = arg;
    uint16_t sent = 0;

    /* A full TX ring is usually a peer a few microseconds behind: wait a
     * little rather than make TCP recover a drop. */
    for (unsigned i = 0; sent < n && i < TX_TRIES; i++) {
        uint16_t k = rte_eth_tx_burst(w->port_id, w->q, pkts + sent, n - sent);

        sent += k;
        if (k == 0)
            rte_pause();
    }
    return sent;
}

/* Frames that are not ours (ARP copies, IPv6, other ports): a load
 * generator has no kernel side to give them to. Taking them keeps them out
 * of the drop counters, which then show only real losses. */
static uint16_t hook_exception(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    (void)arg;
    rte_pktmbuf_free_bulk(pkts, n);
    return n;
}

static int hook_pick_port(void *arg, const struct net_tuple *t, unsigned attempt)
{
    struct worker *w = arg;
    struct net_tuple c = *t;

    (void)attempt;
    /* Ports 10000..65535 (above common listeners); only those whose replies
     * the port's RSS brings back to this core's queue. */
    for (unsigned i = 0; i < 65536 - 10000; i++) {
        uint32_t p = w->next_sport;

        w->next_sport = p >= 65535 ? 10000 : p + 1;
        c.lport = (uint16_t)p;
        if (dpdk_port_replies_to(w->port, &c, w->q))
            return (int)p;
    }
    return -1;
}

/* ---- the loop -------------------------------------------------------------- */

static void turn(struct worker *w)
{
    struct rte_mbuf *pkts[RX_BURST];
    uint16_t n;

    w->now = rte_rdtsc();
    n = rte_eth_rx_burst(w->port_id, w->q, pkts, RX_BURST);
    net_input_burst(w->st, pkts, n, tsc_cycles_us(w->now, w->us_mult));
    net_flush(w->st);
    if (w->now - w->last_timer >= w->hz / 1000) {
        w->last_timer = w->now;
        net_timers(w->st, tsc_cycles_us(w->now, w->us_mult));
    }
}

static unsigned go(const struct worker *w)
{
    return atomic_load_explicit(&w->core->sh->go, memory_order_acquire);
}

/* Results of phases up to `phase` are complete: the main thread may read. */
static void publish(struct load_core *core, unsigned phase)
{
    atomic_store_explicit(&core->done, phase, memory_order_release);
}

static int connect_all(struct worker *w)
{
    struct rte_eth_link link;
    uint64_t end;

    if (w->nconns == 0)
        return 0;
    /* Turns first: the stack takes its clock from input and timers (a SYN
     * armed against a clock of 0 would time out at once), and a memif
     * client's link comes up a little after the port started; frames sent
     * before are lost and cost a 1 s ARP retry. */
    w->now = rte_rdtsc();
    end = w->now + w->hz * LINK_TIMEOUT_S;
    do {
        memset(&link, 0, sizeof(link));
        turn(w);
    } while (rte_eth_link_get_nowait(w->port_id, &link) == 0 && !link.link_status &&
             (int64_t)(w->now - end) < 0);
    end = w->now + w->hz * CONNECT_TIMEOUT_S;
    open_conn(w, &w->conns[0]);
    while (w->core->err == 0 && w->nup + w->ndead < w->nconns) {
        turn(w);
        /* The first connection resolved the server's MAC: the others go now,
         * so their SYNs do not replace each other in the ARP queue (one
         * packet per unresolved neighbour, dataplane/net/arp.c). Not from
         * on_connected: net.h does not allow connect inside an upcall. */
        if (w->nopened == 1 && w->nup == 1)
            for (unsigned i = 1; i < w->nconns; i++)
                open_conn(w, &w->conns[i]);
        if (atomic_load_explicit(&w->core->sh->stop, memory_order_relaxed)) {
            w->core->err = -EINTR;
            snprintf(w->core->errmsg, sizeof(w->core->errmsg), "core %u: interrupted",
                     w->core->id);
        } else if ((int64_t)(w->now - end) > 0) {
            w->core->err = -ETIMEDOUT;
            snprintf(w->core->errmsg, sizeof(w->core->errmsg),
                     "core %u: %u of %u connections up after %d s (is the server at "
                     "this address and port? ARP answered?)",
                     w->core->id, w->nup, w->nconns, CONNECT_TIMEOUT_S);
        }
    }
    return w->core->err;
}

static void run_test(struct worker *w, unsigned t)
{
    const struct load_opts *o = w->o;
    struct load_result *res = &w->core->res[t];
    uint64_t ncores = w->core->sh->ncores, stall = (uint64_t)(o->stall_s * (double)w->hz);

    histo_reset(&res->lat);
    w->test = &o->tests[t];
    w->res = res;
    w->running = 1;
    w->issued = w->inflight = 0;
    /* -n over all cores: each takes its share, the first ones the rest. */
    w->budget = o->requests / ncores + (w->core->id < o->requests % ncores);
    w->now = rte_rdtsc();
    w->t_end = w->now + (uint64_t)(o->seconds * (double)w->hz);
    res->t0 = w->last_progress = w->now;
    for (unsigned i = 0; i < w->nconns; i++)
        conn_issue(&w->conns[i]);
    for (;;) {
        turn(w);
        if (w->inflight == 0) {
            int stop = atomic_load_explicit(&w->core->sh->stop, memory_order_relaxed);

            if (stop)
                res->interrupted = 1;
            if (stop || w->nup == 0 || (o->seconds > 0 ? (int64_t)(w->now - w->t_end) >= 0
                                                        : w->issued >= w->budget))
                break;
        } else if (w->now - w->last_progress > stall) {
            res->stalled = 1;
            res->errors += w->inflight;
            w->core->err = -ETIMEDOUT;
            snprintf(w->core->errmsg, sizeof(w->core->errmsg),
                     "core %u: %s: %llu replies missing after %.1f s without progress",
                     w->core->id, w->test->name, (unsigned long long)w->inflight, o->stall_s);
            break;
        }
    }
    res->t1 = w->last_progress;
    w->running = 0;
    w->res = NULL;
}

/* Close every connection and return once the server is done with us:
 * each FIN answered by the server's (ours then in TIME_WAIT, which the stack
 * ends itself when freed, or already freed) and no frame for CLOSE_QUIET_MS.
 * on_closed comes at the flush after net_tcp_close, so ndead alone says
 * nothing about the server.
 * Why wait: the port goes down when we exit, and a memif server (DPDK
 * 22.11's net_memif) unmaps the shared rings from its interrupt thread with
 * no synchronisation with its polling core; a core between the PMD's
 * "connected" test and its ring accesses then faults (the likely cause of
 * slotd's SIGSEGV at the end of a load run under callgrind). Leaving at
 * once put the disconnect where slotd's core was busy with our FINs, much
 * of it inside rx and tx bursts; idle, it only reads a ring index, a far
 * smaller window. That window remains: the race is the PMD's. */
static void close_all(struct worker *w)
{
    const struct net_counters *nc = net_counters(w->st);
    uint64_t end, quiet = w->hz / 1000 * CLOSE_QUIET_MS, rx, rx_at;

    w->now = rte_rdtsc();
    end = w->now + w->hz * CLOSE_TIMEOUT_S;
    w->closing = 1;
    for (unsigned i = 0; i < w->nconns; i++)
        if (w->conns[i].state == LC_UP || w->conns[i].state == LC_CONNECTING)
            net_tcp_close(w->conns[i].c);
    rx = nc->rx_frames;
    rx_at = w->now;
    while ((int64_t)(w->now - end) < 0) {
        turn(w);
        if (nc->rx_frames != rx) {
            rx = nc->rx_frames;
            rx_at = w->now;
        }
        if (w->ndead >= w->nopened && nc->tcp_conns_open == nc->tcp_conns_time_wait &&
            w->now - rx_at >= quiet)
            break;
    }
}

static struct worker *worker_new(struct load_core *core)
{
    const struct load_opts *o = core->sh->o;
    struct worker *w;
    struct net_config nc;
    struct net_hooks hooks;
    struct net_upcalls up = {
        .on_accept = up_accept, .on_connected = up_connected, .on_data = up_data,
        .on_writable = up_writable, .on_closed = up_closed,
    };
    uint64_t req = (uint64_t)o->pipeline * (o->dsize + 64);

    w = mem_calloc(sizeof(*w));
    if (w == NULL)
        return NULL;
    w->core = core;
    w->o = o;
    w->port = core->sh->port;
    w->port_id = w->port->port_id;
    w->q = (uint16_t)core->id;
    w->hz = core->sh->tsc_hz;
    w->us_mult = tsc_us_mult(w->hz);
    w->next_sport = 10000 + (uint32_t)rte_rand_max(55536);
    w->nconns = core->nconns;
    w->conns = mem_calloc(sizeof(*w->conns) * (w->nconns ? w->nconns : 1));
    w->value = mem_alloc(o->dsize ? o->dsize : 1);
    if (w->conns == NULL || w->value == NULL)
        goto fail;
    memset(w->value, 'x', o->dsize);
    templates(w);
    for (unsigned i = 0; i < w->nconns; i++) {
        w->conns[i].w = w;
        reply_init(&w->conns[i].rp);
        w->conns[i].kinds = mem_alloc(o->pipeline);
        if (w->conns[i].kinds == NULL)
            goto fail;
    }

    net_config_defaults(&nc);
    dpdk_port_net_config(w->port, core->id, &nc);
    nc.ip = o->ip;
    nc.mask = o->mask;
    nc.gateway = o->gateway;
    nc.max_conns = w->nconns + 16;
    nc.max_half_open = 16;
    /* Room for a whole batch each way, so a batch never waits for the
     * window; bounded so 10,000 connections stay within memory. */
    req = req < 32768 ? 32768 : req > (4u << 20) ? (4u << 20) : req;
    nc.sndbuf = nc.rcvbuf = (uint32_t)req;
    nc.secret[0] = rte_rand();
    nc.secret[1] = rte_rand();
    memset(&hooks, 0, sizeof(hooks));
    hooks.arg = w;
    hooks.tx = hook_tx;
    hooks.exception = hook_exception;
    hooks.pick_port = hook_pick_port;
    w->st = net_stack_create(&nc, &hooks, &up);
    if (w->st == NULL)
        goto fail;
    return w;
fail:
    if (w->conns)
        for (unsigned i = 0; i < w->nconns; i++)
            mem_free(w->conns[i].kinds);
    mem_free(w->conns);
    mem_free(w->value);
    mem_free(w);
    return NULL;
}

static void worker_free(struct worker *w)
{
    w->core->net = *net_counters(w->st);
    net_stack_free(w->st);
    for (unsigned i = 0; i < w->nconns; i++)
        mem_free(w->conns[i].kinds);
    mem_free(w->conns);
    mem_free(w->value);
    mem_free(w);
}

int load_worker_main(void *arg)
{
    struct load_core *core = arg;
    unsigned ntests = core->sh->o->ntests, final = ntests + 2;
    struct worker *w = NULL;

    if (mem_thread_init(1 + core->id) == 0)
        w = worker_new(core);
    if (w == NULL) {
        core->err = -ENOMEM;
        snprintf(core->errmsg, sizeof(core->errmsg),
                 "core %u: stack set-up failed (memory, or the port's pool)", core->id);
    } else {
        if (connect_all(w) == 0) {
            publish(core, 1);
            for (unsigned t = 0; t < ntests && core->err == 0; t++) {
                while (go(w) < 2 + t)
                    turn(w);
                if (go(w) >= final)
                    break;
                run_test(w, t);
                publish(core, 2 + t);
            }
        }
        close_all(w);
        worker_free(w);
    }
    publish(core, final);
    return core->err;
}
