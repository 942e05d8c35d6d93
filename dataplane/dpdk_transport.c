/* dpdk_transport — one data core's glue between its DPDK queue pair, its
 * user-space TCP/IP stack and its clients.
 *
 * Call chain: dpdk_transport_poll → rte_eth_rx_burst → net_input_burst
 *                 → up_peek/up_peek_late → client_rx_peek* (cache warming)
 *                 → up_accept → client_open
 *                 → up_data → client_rx_space/client_rx_done (commands run)
 *             dpdk_transport_flush → net_flush | net_timers
 *                 → up_writable → client_writable;  up_closed → client_closed
 *                 → hook_tx → rte_eth_tx_burst;  hook_exc → exc_from_core
 *                 → exc_to_port → rte_eth_tx_burst (kernel frames, relay mode)
 *             client → conn_ops → net_tcp_send / pause_input / close
 * Owner: the data core whose id is the queue pair. No locks, no system calls
 * (net_tap's tx_burst makes one, which a real NIC's does not), no allocation
 * per packet or per connection: connection structs come from an array sized
 * like the stack's connection table.
 *
 * Lifetime of a connection struct: taken in up_accept, given back in
 * up_closed, which the stack delivers at net_flush after the app's close or
 * after the connection broke, never inside a conn_ops call; so a client never
 * holds a freed struct conn, exactly as with sock.c's dead list.
 *
 * Back-pressure: up_data takes bytes until the client pauses itself
 * (CLIENT_INPUT_PAUSED: it resumes through pause_input(0)) or waits for the
 * all-cores barrier (then the connection is stalled here and resumed by the
 * next poll once the client runs again). Bytes not taken stay in the stack's
 * receive ring and the advertised window closes: the peer slows down instead
 * of the query buffer growing. */
#include "dpdk_transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "client.h"
#include "config.h"
#include "core.h"
#include "dpdk_port.h"
#include "exception.h"
#include "log.h"
#include "mem.h"
#include "transport.h"
#include "tsc.h"

/* Frames a turn takes in, in one rte_eth_rx_burst. Their replies leave at
 * the end of the turn, so this bounds how long a reply waits for the input
 * ahead of it. Four bursts a turn (128 frames, up to 2,048 requests at -P 16)
 * held every reply ~80 µs and made a closed-loop client send in lumps: at
 * -c 50 -P 16 both ends idled a quarter of the time (7.5M GET/s); one burst
 * a turn delivers 10-11M (scripts/bench-dpdk.sh), and -P 1 is unchanged. */
#define DP_RX_BURST 32
#define DP_TX_TRIES 4            /* a full TX ring gets a few retries, then the stack drops */
#define DP_TIMER_US 1000         /* net_timers about every ms: the wheel's tick */
#define DP_WALL_US 100           /* core->now_ms read every 100 µs: at most that stale */
#define DP_BUF_BYTES 32768       /* send and receive ring per connection */
/* All connections' rings on one core: 1 GiB holds 16384 connections at
 * 64 KiB each; beyond it a new connection is refused with RST, counted. */
#define DP_BUF_BUDGET (1ull << 30)
#define DP_MAX_CONNS_DEFAULT 16384
/* Kernel frames relayed per turn when the port has no TX queue for the
 * control plane (net_tap): the bus and ssh are low-volume, 64 a turn is far
 * above what they send between two turns. */
#define DP_RELAY_BURSTS 2

struct dp_conn {
    struct conn c;               /* first: ops get a struct conn * */
    struct dpdk_transport *t;
    struct tcp_conn *tc;
    uint8_t in_use;
    uint8_t closed;              /* the client closed it */
    uint8_t stalled;             /* on the stalled list */
    struct dp_conn *next;        /* free list, or stalled list */
};

struct dpdk_transport {
    struct core *core;
    struct dpdk_port *port;
    struct exc_path *exc;
    uint16_t port_id, qid;
    struct rte_mempool *pool;
    struct net_stack *stack;

    uint64_t us_mult;            /* tsc_us_mult of the TSC rate */
    uint64_t now_us, next_timer_us;
    uint64_t wall_read_us;       /* now_us when core->now_ms was last read */
    uint64_t turn_start;         /* TSC at this turn's poll */
    unsigned turn_frames;        /* frames received or sent this turn */
    uint64_t rng;                /* xorshift64* for the test knobs */
    uint16_t pick_cursor;

    struct dp_conn *conns;       /* max_conns structs */
    unsigned nconns, used;
    struct dp_conn *free;
    struct dp_conn *stalled;

    /* reorder knob: frames held back from the previous turn */
    struct rte_mbuf *held[DP_RX_BURST];
    unsigned nheld;

    struct dpdk_transport_stats st;
};

/* ---- conn_ops ------------------------------------------------------------ */

static ssize_t op_send(struct conn *c, const void *p, size_t n)
{
    struct dp_conn *dc = (struct dp_conn *)c;

    if (dc->closed)
        return -EPIPE;
    return net_tcp_send(dc->tc, p, n);
}

static void op_pause_input(struct conn *c, int paused)
{
    struct dp_conn *dc = (struct dp_conn *)c;

    if (!dc->closed)
        net_tcp_pause_input(dc->tc, paused);
}

static void op_close(struct conn *c)
{
    struct dp_conn *dc = (struct dp_conn *)c;

    if (dc->closed)
        return;
    dc->closed = 1;
    /* Queued replies still go out, then FIN; up_closed follows at net_flush. */
    net_tcp_close(dc->tc);
}

static const struct conn_ops dp_ops = {
    .send = op_send,
    .pause_input = op_pause_input,
    .close = op_close,
};

/* ---- upcalls ------------------------------------------------------------- */

static void format_ip_port(char *buf, size_t cap, uint32_t ip, uint16_t port)
{
    snprintf(buf, cap, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
             ip & 255, port);
}

static void *up_accept(void *arg, struct tcp_conn *tc)
{
    struct dpdk_transport *t = arg;
    struct dp_conn *dc = t->free;
    struct net_tuple tu;

    if (!dc)
        return NULL;             /* cannot happen: as many structs as stack slots */
    t->free = dc->next;
    memset(dc, 0, sizeof(*dc));
    dc->in_use = 1;
    dc->t = t;
    dc->tc = tc;
    dc->c.ops = &dp_ops;
    dc->c.fd = -1;
    net_tcp_tuple(tc, &tu);
    format_ip_port(dc->c.peer, sizeof(dc->c.peer), tu.rip, tu.rport);
    format_ip_port(dc->c.local, sizeof(dc->c.local), tu.lip, tu.lport);
    t->used++;
    /* tcp-keepalive as the socket transport sets it (Redis anetKeepAlive):
     * idle for that many seconds, then probes a third of it apart, three;
     * at most Linux's TCP_KEEPIDLE limit, 32767 s */
    if (config_live()->tcp_keepalive > 0) {
        uint32_t ka = (uint32_t)config_live()->tcp_keepalive;

        if (ka > 32767)
            ka = 32767;
        net_tcp_keepalive(tc, ka * 1000, (ka / 3 ? ka / 3 : 1) * 1000, 3);
    }
    dc->c.client = client_open(t->core, &dc->c);
    /* Refused (maxclients, protected-mode): its error reply is queued; close
     * after it. The struct stays ours until up_closed, as for any closed
     * connection. */
    if (!dc->c.client)
        op_close(&dc->c);
    return dc;
}

static void stall(struct dp_conn *dc)
{
    struct dpdk_transport *t = dc->t;

    if (dc->stalled)
        return;
    dc->stalled = 1;
    dc->next = t->stalled;
    t->stalled = dc;
    t->st.input_stalls++;
}

static size_t up_data(void *ctx, const void *p, size_t n)
{
    struct dp_conn *dc = ctx;
    struct client *cl = dc->c.client;
    size_t taken = 0;

    if (dc->closed || !cl)
        return n;
    if (n == 0) {
        /* End of stream. Redis closes at EOF; what the client already
         * computed goes out first, then FIN. */
        client_flush(cl);
        op_close(&dc->c);
        return 0;
    }
    while (taken < n) {
        char *buf;
        long cap;
        size_t k;

        /* Paused for output: a peer that sent its FIN gets the rest run
         * anyway, as Redis runs a stream to its end. */
        if ((cl->flags & CLIENT_INPUT_PAUSED) && !net_tcp_input_ended(dc->tc))
            break;
        if (cl->flags & CLIENT_WAIT_BARRIER) {
            stall(dc);
            break;
        }
        cap = client_rx_space(cl, &buf, n - taken);
        if (cap <= 0) {
            op_close(&dc->c);
            return n;
        }
        k = (size_t)cap < n - taken ? (size_t)cap : n - taken;
        memcpy(buf, (const char *)p + taken, k);
        taken += k;
        /* Commands run here; they may pause or close this client. */
        client_rx_done(cl, k);
        if (dc->closed)
            return n;
    }
    return taken;
}

static int up_peek(void *ctx, const void *p, size_t n)
{
    struct dp_conn *dc = ctx;

    return dc->closed || !dc->c.client ? 1 : client_rx_peek(dc->c.client, p, n);
}

static void up_peek_late(void *ctx)
{
    struct dp_conn *dc = ctx;

    if (!dc->closed && dc->c.client)
        client_rx_peek_late(dc->c.client);
}

static void up_writable(void *ctx)
{
    struct dp_conn *dc = ctx;

    if (!dc->closed && dc->c.client)
        client_writable(dc->c.client);
}

static void conn_put(struct dp_conn *dc)
{
    struct dpdk_transport *t = dc->t;

    if (dc->stalled) {
        struct dp_conn **pp = &t->stalled;
        while (*pp && *pp != dc)
            pp = &(*pp)->next;
        if (*pp)
            *pp = dc->next;
    }
    dc->in_use = 0;
    dc->stalled = 0;
    dc->tc = NULL;
    dc->next = t->free;
    t->free = dc;
    t->used--;
}

static void up_closed(void *ctx, int err)
{
    struct dp_conn *dc = ctx;
    struct client *cl = dc->c.client;

    if (err != 0 && err != -ECONNRESET && cl)
        log_msg(LL_VERBOSE, "Client %s: connection lost: %s", dc->c.peer, strerror(-err));
    dc->c.client = NULL;
    dc->closed = 1;
    if (cl)
        client_closed(cl);
    conn_put(dc);
}

/* ---- hooks --------------------------------------------------------------- */

static uint16_t hook_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct dpdk_transport *t = arg;
    uint16_t sent = 0;

    for (int i = 0; i < DP_TX_TRIES && sent < n; i++)
        sent += rte_eth_tx_burst(t->port_id, t->qid, pkts + sent, (uint16_t)(n - sent));
    t->turn_frames += n;
    return sent;
}

static uint16_t hook_exc(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct dpdk_transport *t = arg;

    if (t->exc)
        return exc_from_core(t->exc, t->qid, pkts, n);
    /* No kernel path (tests, or the TAP could not be made): frames the stack
     * does not keep are dropped here, counted apart from ring overflows. */
    for (uint16_t i = 0; i < n; i++)
        rte_pktmbuf_free(pkts[i]);
    t->st.exc_no_path += n;
    return n;
}

/* A source port whose replies the port's RSS brings back to this queue. */
static int hook_pick_port(void *arg, const struct net_tuple *tu, unsigned attempt)
{
    struct dpdk_transport *t = arg;
    const unsigned lo = 49152, span = 65536 - lo;   /* RFC 6335 6: dynamic ports */
    struct net_tuple x = *tu;

    (void)attempt;
    /* Up to the whole range: ports whose replies go to other queues come in
     * runs of hundreds with some queue counts (15 queues, a 128-entry
     * table: 270), and a port is a hash, with no call into the driver. */
    for (unsigned i = 0; i < span; i++) {
        x.lport = (uint16_t)(lo + t->pick_cursor % span);
        t->pick_cursor = (uint16_t)((t->pick_cursor + 1) % span);
        if (dpdk_port_replies_to(t->port, &x, t->qid))
            return x.lport;
    }
    return -1;
}

/* ---- the turn ------------------------------------------------------------ */

static uint64_t rng_next(struct dpdk_transport *t)
{
    uint64_t x = t->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int rng_pct(struct dpdk_transport *t, int pct)
{
    return pct > 0 && (int)(rng_next(t) % 100) < pct;
}

/* Resume connections stalled while their client waited for the barrier. */
static void unstall(struct dpdk_transport *t)
{
    struct dp_conn *dc = t->stalled, *keep = NULL;

    t->stalled = NULL;
    while (dc) {
        struct dp_conn *next = dc->next;
        struct client *cl = dc->c.client;

        if (cl && !dc->closed && (cl->flags & CLIENT_WAIT_BARRIER)) {
            dc->next = keep;
            keep = dc;
        } else {
            dc->stalled = 0;
            if (cl && !dc->closed && !(cl->flags & CLIENT_INPUT_PAUSED))
                net_tcp_pause_input(dc->tc, 0);
        }
        dc = next;
    }
    t->stalled = keep;
}

/* The test knobs, applied to one received burst in place: a duplicate of a
 * frame follows it; a held frame leaves the burst and comes back next turn,
 * after the frames received then. Returns the new count. */
static unsigned apply_knobs(struct dpdk_transport *t, struct rte_mbuf **pkts, unsigned n,
                            unsigned cap, struct rte_mbuf **hold, unsigned *nhold,
                            int reorder_pct, int dup_pct)
{
    struct rte_mbuf *in[DP_RX_BURST];
    unsigned out = 0;

    memcpy(in, pkts, n * sizeof(in[0]));
    for (unsigned i = 0; i < n; i++) {
        struct rte_mbuf *m = in[i];

        if (rng_pct(t, reorder_pct) && *nhold < DP_RX_BURST) {
            hold[(*nhold)++] = m;
            t->st.test_reordered++;
            continue;
        }
        pkts[out++] = m;
        if (rng_pct(t, dup_pct) && out < cap) {
            struct rte_mbuf *d = rte_pktmbuf_copy(m, t->pool, 0, UINT32_MAX);
            if (d) {
                pkts[out++] = d;
                t->st.test_duplicated++;
            } else {
                t->st.test_dup_nomem++;
            }
        }
    }
    return out;
}

unsigned dpdk_transport_poll(struct dpdk_transport *t)
{
    const struct config *cfg = config_live();
    int reorder = cfg->dpdk_test_reorder_pct, dup = cfg->dpdk_test_duplicate_pct;
    struct rte_mbuf *pkts[3 * DP_RX_BURST];
    struct rte_mbuf *hold[DP_RX_BURST];
    unsigned got, n, nhold = 0;

    t->turn_start = rte_get_tsc_cycles();
    t->now_us = tsc_cycles_us(t->turn_start, t->us_mult);
    /* The core's wall clock in ms (expiry, as Redis's cached mstime): read
     * through the vDSO on every turn it drew ~4% of the core's perf samples
     * at -P 16; a millisecond clock needs it once per DP_WALL_US. */
    if (t->now_us - t->wall_read_us >= DP_WALL_US) {
        t->core->now_ms = clock_ms();
        t->wall_read_us = t->now_us;
    }
    /* stored atomically for dpdk_transport_load; a plain store on x86 */
    __atomic_store_n(&t->st.rx_polls, t->st.rx_polls + 1, __ATOMIC_RELAXED);
    if (t->stalled)
        unstall(t);
    n = got = rte_eth_rx_burst(t->port_id, t->qid, pkts, DP_RX_BURST);
    if (got > 0) {
        t->turn_frames += got;
        t->st.rx_bursts++;
        if (reorder > 0 || dup > 0)
            n = apply_knobs(t, pkts, n, 2 * DP_RX_BURST, hold, &nhold, reorder, dup);
    }
    /* Frames held last turn come after this turn's; with none received,
     * the call still delivers input a client resumed. */
    memcpy(pkts + n, t->held, t->nheld * sizeof(pkts[0]));
    n += t->nheld;
    net_input_burst(t->stack, pkts, n, t->now_us);
    if (nhold > 0)
        memcpy(t->held, hold, nhold * sizeof(hold[0]));
    t->nheld = nhold;
    return got;
}

/* Frames the kernel sent on the exception TAP, when they leave through this
 * core's TX queue (exception.h's relay mode). */
static void relay_from_kernel(struct dpdk_transport *t)
{
    struct rte_mbuf *pkts[DP_RX_BURST];

    for (unsigned b = 0; b < DP_RELAY_BURSTS; b++) {
        uint16_t n = exc_to_port(t->exc, t->qid, pkts, DP_RX_BURST), sent;

        if (n == 0)
            return;
        sent = hook_tx(t, pkts, n);
        t->st.exc_relayed += sent;
        if (sent < n) {
            t->st.exc_relay_drops += (uint64_t)(n - sent);
            rte_pktmbuf_free_bulk(pkts + sent, (unsigned)(n - sent));
        }
    }
}

void dpdk_transport_flush(struct dpdk_transport *t, unsigned work)
{
    if ((int64_t)(t->now_us - t->next_timer_us) >= 0) {
        t->next_timer_us = t->now_us + DP_TIMER_US;
        net_timers(t->stack, t->now_us);     /* ends with net_flush */
    } else {
        net_flush(t->stack);
    }
    if (t->exc)
        relay_from_kernel(t);
    if (t->turn_frames || work) {
        __atomic_store_n(&t->st.busy_turns, t->st.busy_turns + 1, __ATOMIC_RELAXED);
        __atomic_store_n(&t->st.busy_cycles,
                         t->st.busy_cycles + (rte_get_tsc_cycles() - t->turn_start), __ATOMIC_RELAXED);
        t->turn_frames = 0;
    }
}

void dpdk_transport_load(const struct dpdk_transport *t, struct dpdk_transport_load *out)
{
    uint64_t cycles = __atomic_load_n(&t->st.busy_cycles, __ATOMIC_RELAXED), hz = rte_get_tsc_hz();

    out->loop_turns = __atomic_load_n(&t->st.rx_polls, __ATOMIC_RELAXED);
    out->busy_turns = __atomic_load_n(&t->st.busy_turns, __ATOMIC_RELAXED);
    out->busy_usec = hz ? (uint64_t)((long double)cycles * 1e6L / (long double)hz) : 0;
}

void dpdk_transport_stats(const struct dpdk_transport *t, struct dpdk_transport_stats *out)
{
    *out = t->st;
    out->conns = t->used;
    out->held = t->nheld;
    out->net = *net_counters(t->stack);
}

/* ---- lifecycle ----------------------------------------------------------- */

struct dpdk_transport *dpdk_transport_create(struct core *core)
{
    const struct config *cfg = config_live();
    struct runtime *rt = core->rt;
    struct dpdk_transport *t;
    struct net_config nc;
    struct net_hooks hooks;
    struct net_upcalls up = {
        .on_accept = up_accept,
        .on_data = up_data,
        .on_writable = up_writable,
        .on_closed = up_closed,
        .on_peek = up_peek,
        .on_peek_late = up_peek_late,
    };
    uint64_t hz = rte_get_tsc_hz();
    int rc;

    if (!rt->port || core->id >= rt->port->nqueues) {
        log_msg(LL_WARNING, "core %u: the DPDK port has no queue pair for it", core->id);
        return NULL;
    }
    t = mem_calloc(sizeof(*t));
    if (!t)
        return NULL;
    t->core = core;
    t->port = rt->port;
    t->exc = rt->exc;
    t->port_id = rt->port->port_id;
    t->qid = (uint16_t)core->id;
    t->pool = rt->port->pool[core->id];
    t->us_mult = tsc_us_mult(hz);
    t->rng = rte_rand() | 1;
    t->pick_cursor = (uint16_t)(rte_rand() % (65536 - 49152));

    net_config_defaults(&nc);
    dpdk_port_net_config(rt->port, core->id, &nc);
    nc.ip = rt->dp_ip;
    nc.mask = rt->dp_mask;
    nc.gateway = rt->dp_gateway;
    nc.max_conns = cfg->dpdk_max_conns > 0 ? (unsigned)cfg->dpdk_max_conns : DP_MAX_CONNS_DEFAULT;
    nc.sndbuf = nc.rcvbuf = DP_BUF_BYTES;
    nc.buf_budget = DP_BUF_BUDGET;
    nc.secret[0] = rte_rand();
    nc.secret[1] = rte_rand();

    t->nconns = nc.max_conns;
    t->conns = mem_calloc(sizeof(*t->conns) * t->nconns);
    if (!t->conns)
        goto fail;
    for (unsigned i = t->nconns; i-- > 0;) {
        t->conns[i].next = t->free;
        t->free = &t->conns[i];
    }

    memset(&hooks, 0, sizeof(hooks));
    hooks.arg = t;
    hooks.tx = hook_tx;
    hooks.exception = hook_exc;
    hooks.pick_port = hook_pick_port;
    t->stack = net_stack_create(&nc, &hooks, &up);
    if (!t->stack) {
        log_msg(LL_WARNING, "core %u: cannot create the TCP/IP stack (mtu %u, %u connections)",
                core->id, nc.mtu, nc.max_conns);
        goto fail;
    }
    if (cfg->port != 0 && (rc = net_listen(t->stack, (uint16_t)cfg->port)) != 0) {
        log_msg(LL_WARNING, "core %u: cannot listen on port %d: %s", core->id, cfg->port,
                strerror(-rc));
        goto fail;
    }
    t->now_us = tsc_cycles_us(rte_get_tsc_cycles(), t->us_mult);
    t->next_timer_us = t->now_us + DP_TIMER_US;
    return t;
fail:
    dpdk_transport_destroy(t);
    return NULL;
}

void dpdk_transport_destroy(struct dpdk_transport *t)
{
    if (!t)
        return;
    net_stack_free(t->stack);
    for (unsigned i = 0; i < t->nheld; i++)
        rte_pktmbuf_free(t->held[i]);
    mem_free(t->conns);
    mem_free(t);
}
