/* Unit tests for the DPDK transport (dataplane/dpdk_transport.c): a real data
 * core (core_create in dataplane dpdk mode, driven turn by turn with
 * core_turn) on a real ethdev made of two rte_rings (net_ring's
 * rte_eth_from_rings), no NIC and no hugepages. A scripted peer puts frames
 * built by the fake port's segment factory (net_fakeport.c) on the RX ring and
 * reads what the core sends from the TX ring with the factory's checking
 * parser. So the whole path runs: rx burst → stack → client → RESP →
 * command → reply → stack → tx burst.
 *
 * Each test builds its own core, port and pools; the teardown checks that
 * every client and connection is gone, every mbuf is back in its pool and
 * every byte allocated through dataplane/mem.h is freed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "../../cluster/slotmap.h"
#include "../../dataplane/client.h"
#include "../../dataplane/config.h"
#include "../../dataplane/core.h"
#include "../../dataplane/dpdk_port.h"
#include "../../dataplane/dpdk_transport.h"
#include "../../dataplane/mem.h"
#include "../../dataplane/net/tcp.h"
#include "../../kv/cmd.h"
#include "../../kv/slot.h"
#include "net_fakeport.h"

#define POOL_SIZE 2047
#define MSS 1460u

struct fx {
    struct config *cfg;
    struct fp *f;                /* segment factory, its pool, the parser */
    struct rte_ring *rxr, *txr;  /* the port's RX ring (we fill) and TX ring */
    struct rte_mempool *pool;    /* the core's TX pool */
    struct dpdk_port port;
    struct runtime rt;
    struct core *core;
};

static unsigned seq_no;          /* unique names for rings, pools, ports */

static int group_setup(void **state)
{
    if (fp_eal_init(state) != 0)
        return -1;
    slot_init();
    return cmd_table_init();
}

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof(*x));
    struct rte_eth_conf conf;
    char name[32];
    int pid;

    assert_non_null(x);
    memset(&conf, 0, sizeof(conf));
    x->cfg = config_new();
    assert_non_null(x->cfg);
    x->cfg->port = FP_PORT;
    x->cfg->threads = 1;
    x->cfg->dataplane = DATAPLANE_DPDK;
    x->cfg->dpdk_max_conns = 8;
    /* The scripted peer is 198.18.0.1, not loopback: run as an operator
     * would for remote clients (test_protected_mode turns it back on). */
    x->cfg->protected_mode = 0;
    config_set_live(x->cfg);
    x->f = fp_new(NULL, 0);

    snprintf(name, sizeof(name), "dtrx%u", seq_no);
    x->rxr = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    snprintf(name, sizeof(name), "dttx%u", seq_no);
    x->txr = rte_ring_create(name, 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    assert_non_null(x->rxr);
    assert_non_null(x->txr);
    snprintf(name, sizeof(name), "dtport%u", seq_no);
    pid = rte_eth_from_rings(name, &x->rxr, 1, &x->txr, 1, SOCKET_ID_ANY);
    assert_true(pid >= 0);
    snprintf(name, sizeof(name), "dtpool%u", seq_no++);
    /* No per-lcore cache: the free count must be exact at teardown. */
    x->pool = rte_pktmbuf_pool_create(name, POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      SOCKET_ID_ANY);
    assert_non_null(x->pool);
    assert_int_equal(rte_eth_dev_configure((uint16_t)pid, 1, 1, &conf), 0);
    assert_int_equal(rte_eth_rx_queue_setup((uint16_t)pid, 0, 1024, SOCKET_ID_ANY, NULL, x->pool), 0);
    assert_int_equal(rte_eth_tx_queue_setup((uint16_t)pid, 0, 1024, SOCKET_ID_ANY, NULL), 0);
    assert_int_equal(rte_eth_dev_start((uint16_t)pid), 0);

    x->port.port_id = (uint16_t)pid;
    x->port.nqueues = x->port.ntxq = 1;
    x->port.mtu = 1500;
    memcpy(x->port.mac, fp_stack_mac, 6);
    x->port.pool[0] = x->pool;
    snprintf(x->port.name, sizeof(x->port.name), "%s", "net_ring");

    x->rt.cfg = x->cfg;
    x->rt.ncores = 1;
    x->rt.port = &x->port;
    x->rt.dp_ip = FP_STACK_IP;
    x->rt.dp_mask = FP_MASK;
    x->rt.dp_gateway = FP_GW_IP;
    x->rt.start_ms = clock_ms();
    atomic_store(&x->rt.next_client_id, 1);
    slotmap_free(slotmap_publish(slotmap_new_even(1)));
    x->core = core_create(&x->rt, 0);
    assert_non_null(x->core);
    assert_non_null(x->core->dpdk);
    assert_null(x->core->sock);
    *state = x;
    return 0;
}

static void drain_tx(struct fx *x);

static int teardown(void **state)
{
    struct fx *x = *state;
    void *m;

    /* what a failed test left on either ring */
    while (rte_ring_sc_dequeue(x->rxr, &m) == 0)
        rte_pktmbuf_free(m);
    drain_tx(x);
    fp_drain(x->f);
    core_drain_at_exit(x->core);
    core_destroy(x->core);
    assert_int_equal(rte_mempool_avail_count(x->pool), POOL_SIZE);
    rte_eth_dev_stop(x->port.port_id);
    rte_eth_dev_close(x->port.port_id);
    rte_mempool_free(x->pool);
    rte_ring_free(x->rxr);
    rte_ring_free(x->txr);
    slotmap_free(slotmap_publish(NULL));
    fp_free(x->f);               /* asserts mem_used() back where it started */
    config_set_live(NULL);
    config_free(x->cfg);
    free(x);
    return 0;
}

/* Frames the core sent, into the factory's capture array for fp_pop_seg. */
static void drain_tx(struct fx *x)
{
    void *m;

    while (rte_ring_sc_dequeue(x->txr, &m) == 0) {
        assert_true(x->f->ntx < FP_MAX_FRAMES);
        x->f->tx[x->f->ntx++] = m;
    }
}

static void turns(struct fx *x, int n)
{
    for (int i = 0; i < n; i++)
        core_turn(x->core, 0);
    drain_tx(x);
}

/* ---- the scripted peer ------------------------------------------------------ */

struct peer {
    struct fx *x;
    uint16_t port;
    uint32_t seq, ack;           /* next to send, next expected */
    uint16_t win;
    char rx[1 << 20];            /* in-order bytes from the core */
    size_t rxlen;
    int fin, rst;
};

static void peer_tx(struct peer *p, uint8_t flags, const void *data, uint32_t len)
{
    struct fp_seg g;
    struct rte_mbuf *m;

    fp_seg_init(&g);
    g.sport = p->port;
    g.seq = p->seq;
    g.ack = p->ack;
    g.flags = flags;
    g.win = p->win;
    g.data = data;
    g.len = len;
    if (flags & TCP_F_SYN)
        g.mss = MSS;
    m = fp_tcp_frame(p->x->f, &g);
    assert_int_equal(rte_ring_sp_enqueue(p->x->rxr, m), 0);
    p->seq += len + ((flags & (TCP_F_SYN | TCP_F_FIN)) ? 1 : 0);
}

/* Read every segment the core sent; keep in-order payload. Returns segments. */
static unsigned peer_rx(struct peer *p)
{
    struct fp_seg g;
    unsigned n = 0;

    while (fp_pop_seg(p->x->f, &g)) {
        n++;
        assert_int_equal(g.dport, p->port);
        if (g.flags & TCP_F_RST) {
            p->rst = 1;
            continue;
        }
        if (g.len && g.seq == p->ack) {
            assert_true(p->rxlen + g.len <= sizeof(p->rx));
            memcpy(p->rx + p->rxlen, g.payload, g.len);
            p->rxlen += g.len;
            p->ack += g.len;
        }
        if ((g.flags & TCP_F_FIN) && g.seq + g.len == p->ack) {
            p->ack++;
            p->fin = 1;
        }
    }
    return n;
}

static void peer_connect(struct peer *p, struct fx *x, uint16_t port)
{
    struct fp_seg g;

    memset(p, 0, sizeof(*p));
    p->x = x;
    p->port = port;
    p->seq = 1000u * port;
    p->win = 65535;
    peer_tx(p, TCP_F_SYN, NULL, 0);
    turns(x, 1);
    assert_true(fp_pop_seg(x->f, &g));
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.ack, p->seq);
    p->ack = g.seq + 1;
    peer_tx(p, TCP_F_ACK, NULL, 0);
    turns(x, 1);
}

static void peer_send_str(struct peer *p, const char *s)
{
    peer_tx(p, TCP_F_ACK | TCP_F_PSH, s, (uint32_t)strlen(s));
}

/* Run turns, acknowledging what arrives, until `want` bytes came in. */
static void peer_expect(struct peer *p, const char *want)
{
    size_t start = p->rxlen, n = strlen(want);

    for (int i = 0; i < 50 && p->rxlen - start < n; i++) {
        turns(p->x, 1);
        if (peer_rx(p))
            peer_tx(p, TCP_F_ACK, NULL, 0);
    }
    assert_int_equal(p->rxlen - start, n);
    assert_memory_equal(p->rx + start, want, n);
}

static struct dpdk_transport_stats stats(struct fx *x)
{
    struct dpdk_transport_stats st;

    dpdk_transport_stats(x->core->dpdk, &st);
    return st;
}

/* ---- tests ------------------------------------------------------------------- */

/* Handshake, PING/SET/GET through the whole path, then the peer closes: the
 * client goes away, the core answers FIN, the connection finishes. */
static void test_request_reply_and_peer_close(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    peer_connect(p, x, 40001);
    assert_int_equal(x->core->nclients, 1);
    assert_int_equal(stats(x).conns, 1);
    assert_string_equal(x->core->clients->conn->peer, "198.18.0.1:40001");
    assert_string_equal(x->core->clients->conn->local, "198.18.0.2:6379");

    peer_send_str(p, "*1\r\n$4\r\nPING\r\n");
    peer_expect(p, "+PONG\r\n");
    /* a pipeline in one segment */
    peer_send_str(p, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    peer_expect(p, "+OK\r\n$5\r\nhello\r\n");

    peer_tx(p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    for (int i = 0; i < 5 && !p->fin; i++) {
        turns(x, 1);
        peer_rx(p);
    }
    assert_true(p->fin);
    assert_int_equal(x->core->nclients, 0);
    assert_int_equal(stats(x).conns, 0);
    peer_tx(p, TCP_F_ACK, NULL, 0);   /* our ACK of its FIN: LAST_ACK → CLOSED */
    turns(x, 2);
    assert_int_equal(stats(x).net.tcp_conns_open, 0);
    assert_int_equal(stats(x).net.tcp_conns_total, 1);
    free(p);
}

/* QUIT: the reply, then the core's FIN; the client is freed at once. */
static void test_close_from_server(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    peer_connect(p, x, 40002);
    peer_send_str(p, "*1\r\n$4\r\nQUIT\r\n");
    peer_expect(p, "+OK\r\n");
    for (int i = 0; i < 5 && !p->fin; i++) {
        turns(x, 1);
        peer_rx(p);
    }
    assert_true(p->fin);
    assert_int_equal(x->core->nclients, 0);
    assert_int_equal(stats(x).conns, 0);
    peer_tx(p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    turns(x, 2);
    peer_rx(p);
    /* TIME_WAIT holds the struct for a second; the teardown frees it. */
    assert_int_equal(stats(x).net.tcp_conns_time_wait, 1);
    free(p);
}

/* A peer RST: the client hears of it and is freed. */
static void test_reset_from_peer(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    peer_connect(p, x, 40003);
    peer_send_str(p, "*1\r\n$4\r\nPING\r\n");
    peer_expect(p, "+PONG\r\n");
    peer_tx(p, TCP_F_RST | TCP_F_ACK, NULL, 0);
    turns(x, 2);
    assert_int_equal(x->core->nclients, 0);
    assert_int_equal(stats(x).conns, 0);
    assert_int_equal(stats(x).net.tcp_conns_reset, 1);
    assert_int_equal(stats(x).net.tcp_conns_open, 0);
    free(p);
}

/* A reply larger than the peer's window and the send ring: the client keeps
 * what the stack did not take and resumes on on_writable as the peer opens
 * its window; every byte arrives in order. */
static void test_send_back_pressure(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(1, sizeof(*p));
    static char cmd[200100], want[200100];
    size_t vlen = 200000;
    int hdr, shdr;

    assert_non_null(p);
    peer_connect(p, x, 40004);
    shdr = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$1\r\nv\r\n$%zu\r\n", vlen);
    for (size_t i = 0; i < vlen; i++)
        cmd[shdr + i] = (char)('a' + i % 26);
    memcpy(cmd + shdr + vlen, "\r\n", 2);
    /* the SET in MSS-sized segments, a few per turn */
    for (size_t off = 0, len = (size_t)shdr + vlen + 2; off < len;) {
        uint32_t k = (uint32_t)(len - off < MSS ? len - off : MSS);
        peer_tx(p, TCP_F_ACK, cmd + off, k);
        off += k;
        if ((off / MSS) % 8 == 0) {
            turns(x, 1);
            peer_rx(p);
        }
    }
    peer_expect(p, "+OK\r\n");

    /* a small window: the 200 KB reply trickles out */
    p->win = 4096;
    peer_send_str(p, "*2\r\n$3\r\nGET\r\n$1\r\nv\r\n");
    hdr = snprintf(want, sizeof(want), "$%zu\r\n", vlen);
    memcpy(want + hdr, cmd + shdr, vlen);
    memcpy(want + hdr + vlen, "\r\n", 2);
    {
        size_t start = p->rxlen, n = (size_t)hdr + vlen + 2;
        for (int i = 0; i < 2000 && p->rxlen - start < n; i++) {
            turns(x, 1);
            if (peer_rx(p))
                peer_tx(p, TCP_F_ACK, NULL, 0);
            if (i == 20)
                p->win = 65535;      /* then the window opens */
        }
        assert_int_equal(p->rxlen - start, n);
        assert_memory_equal(p->rx + start, want, n);
    }
    peer_tx(p, TCP_F_RST | TCP_F_ACK, NULL, 0);
    turns(x, 2);
    assert_int_equal(x->core->nclients, 0);
    free(p);
}

/* Input back-pressure: a client over its output limit pauses its input; the
 * transport stops taking bytes, which wait in the stack's receive ring; they
 * are taken once the client resumes. */
static void test_input_back_pressure(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(1, sizeof(*p));
    struct client *cl;

    assert_non_null(p);
    peer_connect(p, x, 40005);
    cl = x->core->clients;
    assert_non_null(cl);
    /* Pause as the client layer does when its output is over the limit. */
    cl->flags |= CLIENT_INPUT_PAUSED;
    cl->conn->ops->pause_input(cl->conn, 1);
    peer_send_str(p, "*1\r\n$4\r\nPING\r\n");
    turns(x, 3);
    peer_rx(p);
    assert_int_equal(cl->qlen, 0);
    assert_int_equal(p->rxlen, 0);
    cl->flags &= ~(uint32_t)CLIENT_INPUT_PAUSED;
    cl->conn->ops->pause_input(cl->conn, 0);
    peer_expect(p, "+PONG\r\n");

    /* Stalled while waiting for the barrier: bytes stay in the stack. */
    cl->flags |= CLIENT_WAIT_BARRIER;
    x->core->waiting_barrier++;
    peer_send_str(p, "*1\r\n$4\r\nPING\r\n");
    core_turn(x->core, 0);
    assert_true(stats(x).input_stalls >= 1);
    assert_int_equal(cl->qlen, 0);
    /* core_turn resumes it (one core: the barrier is free), the next poll
     * takes the bytes. */
    peer_expect(p, "+PONG\r\n");
    peer_tx(p, TCP_F_RST | TCP_F_ACK, NULL, 0);
    turns(x, 2);
    assert_int_equal(x->core->nclients, 0);
    free(p);
}

/* More connections than the transport has structs: the extra SYN meets a
 * full table and is dropped (counted), the others still work. */
static void test_conn_table_full(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(9, sizeof(*p));
    struct fp_seg g;

    assert_non_null(p);
    for (unsigned i = 0; i < 8; i++)
        peer_connect(&p[i], x, (uint16_t)(41000 + i));
    assert_int_equal(x->core->nclients, 8);
    memset(&p[8], 0, sizeof(p[8]));
    p[8].x = x;
    p[8].port = 41008;
    p[8].win = 65535;
    p[8].seq = 5;
    peer_tx(&p[8], TCP_F_SYN, NULL, 0);
    turns(x, 1);
    assert_false(fp_pop_seg(x->f, &g));
    assert_int_equal(stats(x).net.drop.tcp_conn_full, 1);
    peer_send_str(&p[3], "*1\r\n$4\r\nPING\r\n");
    peer_expect(&p[3], "+PONG\r\n");
    for (unsigned i = 0; i < 8; i++)
        peer_tx(&p[i], TCP_F_RST | TCP_F_ACK, NULL, 0);
    turns(x, 2);
    assert_int_equal(x->core->nclients, 0);
    assert_int_equal(stats(x).conns, 0);
    free(p);
}

/* The test knobs: every frame duplicated and half of them held back a turn.
 * The stack's reassembly puts the stream back in order: a value written in
 * many segments reads back intact. */
static void test_knobs_reorder_duplicate(void **state)
{
    struct fx *x = *state;
    struct peer *p = calloc(1, sizeof(*p));
    static char cmd[20000], want[20000];
    size_t vlen = 12000;
    int shdr, hdr;
    struct dpdk_transport_stats st;

    assert_non_null(p);
    peer_connect(p, x, 40006);
    x->cfg->dpdk_test_duplicate_pct = 100;
    x->cfg->dpdk_test_reorder_pct = 50;
    shdr = snprintf(cmd, sizeof(cmd), "*3\r\n$3\r\nSET\r\n$1\r\nw\r\n$%zu\r\n", vlen);
    for (size_t i = 0; i < vlen; i++)
        cmd[shdr + i] = (char)('A' + i % 23);
    memcpy(cmd + shdr + vlen, "\r\n", 2);
    for (size_t off = 0, len = (size_t)shdr + vlen + 2; off < len;) {
        uint32_t k = (uint32_t)(len - off < 1000 ? len - off : 1000);
        peer_tx(p, TCP_F_ACK, cmd + off, k);
        off += k;
    }
    peer_expect(p, "+OK\r\n");
    peer_send_str(p, "*2\r\n$3\r\nGET\r\n$1\r\nw\r\n");
    hdr = snprintf(want, sizeof(want), "$%zu\r\n", vlen);
    memcpy(want + hdr, cmd + shdr, vlen);
    memcpy(want + hdr + vlen, "\r\n", 3);
    peer_expect(p, want);
    st = stats(x);
    assert_true(st.test_duplicated >= 3);
    assert_true(st.test_reordered >= 1);
    assert_int_equal(st.test_dup_nomem, 0);
    x->cfg->dpdk_test_duplicate_pct = 0;
    x->cfg->dpdk_test_reorder_pct = 0;
    peer_tx(p, TCP_F_RST | TCP_F_ACK, NULL, 0);
    turns(x, 2);
    assert_int_equal(x->core->nclients, 0);
    free(p);
}

static void set_requirepass(struct fx *x, const char *pw)
{
    struct slice nv[2] = { { "requirepass", 11 }, { pw, strlen(pw) } };
    char err[CONFIG_ERR_LEN];

    assert_int_equal(config_set(x->cfg, nv, 1, 0, err, sizeof(err)), 0);
}

/* Run turns until the core's FIN arrived, acknowledging data; then close our
 * side, so the connection ends in the core's TIME_WAIT. */
static void peer_wait_fin(struct peer *p)
{
    for (int i = 0; i < 10 && !p->fin; i++) {
        turns(p->x, 1);
        if (peer_rx(p))
            peer_tx(p, TCP_F_ACK, NULL, 0);
    }
    assert_true(p->fin);
    peer_tx(p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    turns(p->x, 2);
    peer_rx(p);
}

/* protected-mode yes without requirepass: every DPDK peer is refused with
 * Redis 7.0's DENIED line, then FIN; counted as rejected, not received. The
 * live value decides for each new connection; a password lifts it. */
static void test_protected_mode(void **state)
{
    static const char head[] = "-DENIED Redis is running in protected mode because protected "
                               "mode is enabled and no password is set for the default user.";
    static const char tail[] = "the server to start accepting connections from the outside.\r\n";
    struct fx *x = *state;
    struct peer *p = calloc(3, sizeof(*p));

    assert_non_null(p);
    x->cfg->protected_mode = 1;
    peer_connect(&p[0], x, 42000);
    peer_send_str(&p[0], "*1\r\n$4\r\nPING\r\n");
    peer_wait_fin(&p[0]);
    assert_int_equal(p[0].rxlen, 1067);              /* redis-server 7.0.15's length */
    assert_memory_equal(p[0].rx, head, sizeof(head) - 1);
    assert_memory_equal(p[0].rx + p[0].rxlen - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    assert_int_equal(x->core->nclients, 0);
    assert_int_equal(stats(x).conns, 0);
    assert_int_equal(x->core->stats.rejected_connections, 1);
    assert_int_equal(x->core->stats.connections_received, 0);

    /* a password: accepted, and PING wants AUTH as in Redis */
    set_requirepass(x, "pw");
    peer_connect(&p[1], x, 42001);
    assert_int_equal(x->core->nclients, 1);
    peer_send_str(&p[1], "*1\r\n$4\r\nPING\r\n");
    peer_expect(&p[1], "-NOAUTH Authentication required.\r\n");
    peer_tx(&p[1], TCP_F_RST | TCP_F_ACK, NULL, 0);
    set_requirepass(x, "");

    /* protected-mode no (CONFIG SET at runtime): the next connection works */
    x->cfg->protected_mode = 0;
    peer_connect(&p[2], x, 42002);
    peer_send_str(&p[2], "*1\r\n$4\r\nPING\r\n");
    peer_expect(&p[2], "+PONG\r\n");
    peer_tx(&p[2], TCP_F_RST | TCP_F_ACK, NULL, 0);
    turns(x, 2);
    assert_int_equal(x->core->nclients, 0);
    assert_int_equal(x->core->stats.rejected_connections, 1);
    assert_int_equal(x->core->stats.connections_received, 2);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_reply_and_peer_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_from_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_back_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_back_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_table_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_knobs_reorder_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protected_mode, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, fp_eal_fini);
}
