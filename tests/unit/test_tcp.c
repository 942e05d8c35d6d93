/* Unit tests for the stack's TCP (dataplane/net/tcp_*.c), driven through the
 * fake port (net_fakeport.c): a scripted peer sends crafted segments and
 * reads every segment the stack emits (checksums verified by the parser).
 *
 * Each test builds its own stack and mbuf pool; fp_free asserts that every
 * mbuf is back in the pool and every byte the stack allocated is freed, and
 * tests that finish their connections also check the connection gauges are
 * back to zero. Wraparound and boundary cases (ISN just below 2^32, windows
 * of exactly the ring, the eighth and ninth out-of-order range) come first
 * in each area. The last test checks every TCP drop counter was raised. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "../../dataplane/mem.h"
#include "../../dataplane/net/net_priv.h"
#include "../../dataplane/transport.h"
#include "net_fakeport.h"

#define MS 1000u                     /* microseconds */
#define MSS_TS 1448u                 /* 1460 minus the timestamps option */

/* ---- the scripted peer ---------------------------------------------------- */

struct peer {
    struct fp *f;
    uint16_t port;                   /* the peer's port */
    uint16_t dport;                  /* the stack's port */
    uint32_t seq;                    /* next sequence number the peer sends */
    uint32_t ack;                    /* next one it expects from the stack */
    uint16_t win;
    int ts;
    uint32_t tsval;                  /* the peer's clock */
    uint32_t ts_recent;              /* the stack's last TSval */
    int ws;                          /* -1: no option */
    int mss;                         /* -1: no option */
    int sack;                        /* offers SACK-permitted (RFC 2018) */
};

static void peer_init(struct peer *p, struct fp *f, uint16_t port, uint32_t isn)
{
    memset(p, 0, sizeof(*p));
    p->f = f;
    p->port = port;
    p->dport = FP_PORT;
    p->seq = isn;
    p->win = 65535;
    p->ts = 1;
    p->tsval = 5000;
    p->ws = 0;
    p->mss = 1460;
}

static void peer_seg(struct peer *p, struct fp_seg *g, uint8_t flags)
{
    fp_seg_init(g);
    g->sport = p->port;
    g->dport = p->dport;
    g->seq = p->seq;
    g->ack = p->ack;
    g->flags = flags;
    g->win = p->win;
    if (p->ts) {
        g->ts = 1;
        g->tsval = ++p->tsval;
        g->tsecr = p->ts_recent;
    }
}

/* Send from the peer (input and flush); advances the peer's sequence. */
static void peer_tx(struct peer *p, uint8_t flags, const void *data, uint32_t len)
{
    struct fp_seg g;

    peer_seg(p, &g, flags);
    g.data = data;
    g.len = len;
    fp_send(p->f, &g);
    p->seq += len + !!(flags & TCP_F_SYN) + !!(flags & TCP_F_FIN);
}

/* Same, but only net_input_burst: the app gets its turn before net_flush. */
static void peer_tx_noflush(struct peer *p, uint8_t flags, const void *data, uint32_t len)
{
    struct fp_seg g;
    struct rte_mbuf *m;

    peer_seg(p, &g, flags);
    g.data = data;
    g.len = len;
    m = fp_tcp_frame(p->f, &g);
    net_input_burst(p->f->s, &m, 1, p->f->now);
    p->seq += len + !!(flags & TCP_F_SYN) + !!(flags & TCP_F_FIN);
}

static void peer_ack(struct peer *p)
{
    peer_tx(p, TCP_F_ACK, NULL, 0);
}

/* Next segment from the stack to this peer; remembers its TSval. */
static int peer_rx(struct peer *p, struct fp_seg *g)
{
    if (!fp_pop_seg(p->f, g))
        return 0;
    assert_int_equal(g->sport, p->dport);
    assert_int_equal(g->dport, p->port);
    assert_memory_equal(g->dst_mac, fp_peer_mac, 6);
    if (g->ts)
        p->ts_recent = g->tsval;
    return 1;
}

static void expect_nothing(struct fp *f)
{
    assert_int_equal(fp_tx_pending(f), 0);
}

/* Pop one segment that must be a pure ACK of `ack`. */
static void expect_ack(struct peer *p, uint32_t ack)
{
    struct fp_seg g;

    assert_int_equal(peer_rx(p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK);
    assert_int_equal(g.len, 0);
    assert_int_equal(g.ack, ack);
}

/* Read in-order data from the stack into buf (appending at *have), as far
 * as segments are pending; returns segments read. Checks continuity. */
static unsigned peer_read(struct peer *p, uint8_t *buf, size_t *have, size_t cap)
{
    struct fp_seg g;
    unsigned n = 0;

    while (peer_rx(p, &g)) {
        assert_true(g.flags & TCP_F_ACK);
        if (g.len == 0 && !(g.flags & TCP_F_FIN))
            continue;
        assert_int_equal(g.seq, p->ack);
        assert_true(*have + g.len <= cap);
        memcpy(buf + *have, g.payload, g.len);
        *have += g.len;
        p->ack += g.len + !!(g.flags & TCP_F_FIN);
        n++;
    }
    return n;
}

/* Passive open from the peer. Returns the app's record of the connection. */
static struct fp_conn *accept_conn(struct peer *p)
{
    struct fp *f = p->f;
    unsigned before = f->nconns;
    struct fp_seg g;

    peer_seg(p, &g, TCP_F_SYN);
    g.mss = p->mss;
    g.ws = p->ws;
    g.sack_ok = p->sack;
    fp_send(f, &g);
    p->seq++;
    assert_int_equal(peer_rx(p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.ack, p->seq);
    assert_int_equal(g.sack_ok, p->sack && f->cfg.sack);
    p->ack = g.seq + 1;
    peer_ack(p);
    expect_nothing(f);
    assert_int_equal(f->nconns, before + 1);
    return &f->conns[before];
}

static const struct net_counters *cnt(struct fp *f)
{
    return net_counters(f->s);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* The peer closes a connection the app already closed: ACK our FIN, send
 * its FIN; the stack then sits in TIME_WAIT. */
static void finish_from_peer(struct peer *p)
{
    struct fp_seg g;

    while (peer_rx(p, &g))
        p->ack = g.seq + g.len + !!(g.flags & TCP_F_FIN);
    peer_tx(p, TCP_F_FIN | TCP_F_ACK, NULL, 0);
    expect_ack(p, p->seq);
}

static void expect_all_closed(struct fp *f)
{
    fp_advance(f, (uint64_t)f->cfg.time_wait_ms * MS + 2 * MS);   /* whole ms ticks */
    fp_drain(f);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    assert_int_equal(cnt(f)->tcp_conns_half_open, 0);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 0);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 0);
}

/* ---- wraparound first ------------------------------------------------------- */

static void test_wraparound_near_2_32(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    static uint8_t out[3000], in[3000], got[3000];
    size_t have = 0;
    struct fp_seg g;

    (void)state;
    fill(out, sizeof(out), 1);
    fill(in, sizeof(in), 2);
    f->isn_set = 1;
    f->isn = 0xFFFFFF00u;                       /* our data crosses 2^32 at byte 255 */
    peer_init(&p, f, 50000, 0xFFFFFF80u);       /* the peer's at byte 127 */
    fc = accept_conn(&p);
    assert_int_equal(p.ack, 0xFFFFFF01u);
    /* stack → peer across the wrap */
    assert_int_equal(net_tcp_send(fc->c, out, sizeof(out)), (ssize_t)sizeof(out));
    fp_flush(f);
    assert_int_equal(peer_read(&p, got, &have, sizeof(got)), 3);
    assert_int_equal(have, sizeof(out));
    assert_memory_equal(got, out, sizeof(out));
    assert_int_equal(p.ack, 0xFFFFFF01u + 3000u);       /* wrapped */
    assert_true(p.ack < 0x1000u);
    peer_ack(&p);
    assert_int_equal(fc->c->sring.len, 0);              /* all freed by a wrapped ACK */
    /* peer → stack across the wrap, out of order: the segment that wraps
     * arrives first, then the one before it */
    {
        uint32_t s0 = p.seq;

        p.seq = s0 + 100;
        peer_tx(&p, TCP_F_ACK, in + 100, 100);          /* 0xFFFFFFE1 .. 0x00000045 */
        expect_ack(&p, s0);                             /* duplicate ACK at once */
        p.seq = s0;
        peer_tx(&p, TCP_F_ACK, in, 100);
        expect_ack(&p, s0 + 200);
        p.seq = s0 + 200;
        peer_tx(&p, TCP_F_ACK, in + 200, 1400);
        expect_ack(&p, s0 + 1600);
        peer_tx(&p, TCP_F_ACK | TCP_F_FIN, in + 1600, 1400);
        expect_ack(&p, s0 + 3001);
    }
    assert_int_equal(fc->rxlen, 3000);
    assert_memory_equal(fc->rx, in, 3000);
    assert_int_equal(fc->eof, 1);
    assert_int_equal(fc->c->state, TCP_CLOSE_WAIT);
    net_tcp_close(fc->c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_FIN | TCP_F_ACK);
    assert_int_equal(g.seq, 0xFFFFFF01u + 3000u);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(fc->closed, 1);
    expect_all_closed(f);
    fp_free(f);
}

/* ---- handshakes ----------------------------------------------------------- */

static void test_handshake_passive(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50001, 1000);
    p.ws = 7;
    peer_seg(&p, &g, TCP_F_SYN);
    g.mss = 1460;
    g.ws = 7;
    fp_send(f, &g);
    p.seq++;
    assert_int_equal(cnt(f)->tcp_conns_half_open, 1);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 0);         /* no rings before the ACK */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.seq, 1000);                      /* the test's ISN hook */
    assert_int_equal(g.ack, 1001);
    assert_int_equal(g.mss, 1460);
    assert_int_equal(g.ws, 0);                          /* 16 KiB needs no scaling */
    assert_int_equal(g.ts, 1);
    assert_int_equal(g.tsecr, p.tsval);
    assert_int_equal(g.win, 16384);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(f->nconns, 1);
    fc = &f->conns[0];
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    assert_int_equal(cnt(f)->tcp_conns_half_open, 0);
    assert_int_equal(cnt(f)->tcp_conns_total, 1);
    assert_int_equal(fc->c->mss, MSS_TS);
    assert_int_equal(fc->c->snd_wnd, 65535u << 7);
    {
        struct net_tuple t;

        net_tcp_tuple(fc->c, &t);
        assert_int_equal(t.lip, FP_STACK_IP);
        assert_int_equal(t.rip, FP_PEER_IP);
        assert_int_equal(t.lport, FP_PORT);
        assert_int_equal(t.rport, 50001);
    }
    /* a SYN repeated after the handshake is challenged, not obeyed */
    p.seq--;
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    expect_ack(&p, 1001);
    assert_int_equal(cnt(f)->drop.tcp_syn_challenge, 1);
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    expect_all_closed(f);
    fp_free(f);
}

/* The peer's host comes back with a new MAC and opens the same 4-tuple
 * again while the stack still holds the old connection: the challenge ACK
 * to its SYN goes to the new MAC (at the old one it would be lost), the
 * peer's RST ends the old connection, and its SYN then opens a new one,
 * answered at the new MAC too. */
static void syn_from_mac(struct peer *p, uint32_t isn, const uint8_t mac[6])
{
    struct fp_seg g;
    struct rte_mbuf *m;

    peer_seg(p, &g, TCP_F_SYN);
    g.seq = isn;
    g.ack = 0;
    g.mss = 1460;
    m = fp_tcp_frame(p->f, &g);
    memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, 6), mac, 6);   /* Ethernet source */
    fp_input1(p->f, m);
}

static void test_reopen_from_new_mac(void **state)
{
    static const uint8_t new_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x77, 0x01 };
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    struct fp_seg g;

    (void)state;
    peer_init(&p, f, 50011, 7000);
    fc = accept_conn(&p);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    assert_int_equal(net_tcp_send(fc->c, "x", 1), 1);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);        /* the template's first frame */

    /* the new incarnation's SYN, another ISN, from new_mac */
    syn_from_mac(&p, 900000, new_mac);
    assert_int_equal(fp_pop_seg(f, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK);
    assert_memory_equal(g.dst_mac, new_mac, 6);
    assert_int_equal(cnt(f)->drop.tcp_syn_challenge, 1);

    /* its answer: RST at the challenge's ACK number (RFC 9293 3.10.7.3) */
    peer_seg(&p, &g, TCP_F_RST);
    g.ack = 0;
    fp_send(f, &g);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);

    /* and the retransmitted SYN opens the connection, answered at new_mac */
    syn_from_mac(&p, 900000, new_mac);
    assert_int_equal(fp_pop_seg(f, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.ack, 900001);
    assert_memory_equal(g.dst_mac, new_mac, 6);
    assert_int_equal(cnt(f)->tcp_conns_half_open, 1);
    p.seq = 900001;
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(f->nconns, 2);
    fc = &f->conns[1];
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    assert_int_equal(net_tcp_send(fc->c, "y", 1), 1);
    fp_flush(f);
    assert_int_equal(fp_pop_seg(f, &g), 1);
    assert_int_equal(g.len, 1);
    assert_memory_equal(g.dst_mac, new_mac, 6);
    p.ack = g.seq + 1;
    net_tcp_close(fc->c);
    fp_flush(f);
    while (fp_pop_seg(f, &g))
        p.ack = g.seq + g.len + !!(g.flags & TCP_F_FIN);
    peer_tx(&p, TCP_F_FIN | TCP_F_ACK, NULL, 0);
    expect_all_closed(f);
    fp_free(f);
}

/* A SYN with the connection's 4-tuple from another MAC (anyone on the
 * segment can send one) is challenged at that MAC, but the connection's
 * own segments keep going to its peer. */
static void test_syn_from_other_mac_no_redirect(void **state)
{
    static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x66, 0x02 };
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    struct fp_seg g;

    (void)state;
    peer_init(&p, f, 50012, 7000);
    fc = accept_conn(&p);
    syn_from_mac(&p, 123456, other_mac);
    assert_int_equal(fp_pop_seg(f, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK);
    assert_int_equal(g.ack, p.seq);
    assert_memory_equal(g.dst_mac, other_mac, 6);
    assert_int_equal(cnt(f)->drop.tcp_syn_challenge, 1);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    /* a restarted host's clock is another: a SYN with an older timestamp
     * is challenged too, not dropped by PAWS */
    fp_advance(f, TCP_REFUSAL_ACK_US);
    p.tsval -= 100000;
    syn_from_mac(&p, 123456, other_mac);
    p.tsval += 100000;
    assert_int_equal(fp_pop_seg(f, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK);
    assert_memory_equal(g.dst_mac, other_mac, 6);
    assert_int_equal(cnt(f)->drop.tcp_syn_challenge, 2);
    assert_int_equal(cnt(f)->drop.tcp_paws, 0);
    assert_int_equal(net_tcp_send(fc->c, "z", 1), 1);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);        /* checks the peer's MAC */
    assert_int_equal(g.len, 1);
    p.ack = g.seq + 1;
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    expect_all_closed(f);
    fp_free(f);
}

static void test_handshake_active(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    fp_learn_peer(f);
    f->isn_set = 1;
    f->isn = 777;
    fc = fp_connect(f, FP_PEER_IP, 7000, &rc);
    assert_non_null(fc);
    /* bytes queued before the handshake wait for it */
    assert_int_equal(net_tcp_send(fc->c, "early", 5), 5);
    fp_flush(f);
    peer_init(&p, f, 7000, 90000);
    p.dport = 40000;                                    /* the pick_port hook's choice */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN);
    assert_int_equal(g.seq, 777);
    assert_int_equal(g.mss, 1460);
    assert_int_equal(g.ws, 0);
    assert_int_equal(g.ts, 1);
    assert_int_equal(g.tsecr, 0);
    assert_int_equal(f->nports, 1);
    expect_nothing(f);
    /* SYN-ACK with MSS 1400, window scale 2 */
    p.ack = 778;
    peer_seg(&p, &g, TCP_F_SYN | TCP_F_ACK);
    g.mss = 1400;
    g.ws = 2;
    fp_send(f, &g);
    p.seq++;
    assert_int_equal(fc->connected, 1);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    assert_int_equal(fc->c->mss, 1400 - 12);
    /* the early bytes carry the handshake's ACK */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_PSH);
    assert_int_equal(g.ack, 90001);
    assert_int_equal(g.seq, 778);
    assert_int_equal(g.len, 5);
    assert_memory_equal(g.payload, "early", 5);
    expect_nothing(f);
    p.ack += 5;
    /* windows from now on are scaled by 4 */
    p.win = 1000;
    peer_tx(&p, TCP_F_ACK, "hi", 2);
    assert_int_equal(fc->c->snd_wnd, 4000);
    assert_int_equal(fc->rxlen, 2);
    expect_ack(&p, p.seq);
    /* second connect gets the next port the hook offers when the first is taken */
    assert_int_equal(cnt(f)->tcp_conns_total, 1);
    net_tcp_abort(fc->c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_true(g.flags & TCP_F_RST);
    assert_int_equal(g.seq, 783);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    f->pick_port_fail = 1;
    assert_null(fp_connect(f, FP_PEER_IP, 7000, &rc));
    assert_int_equal(rc, -EADDRINUSE);
    fp_free(f);
}

static void test_connect_port_collision(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct fp_conn *a, *b;
    struct net_tuple t;
    int rc;

    (void)state;
    fp_learn_peer(f);
    a = fp_connect(f, FP_PEER_IP, 7000, &rc);
    assert_non_null(a);
    b = fp_connect(f, FP_PEER_IP, 7000, &rc);  /* 40000 is taken: attempt 1 gives 40002 */
    assert_non_null(b);
    net_tcp_tuple(b->c, &t);
    assert_int_equal(t.lport, 40002);
    fp_flush(f);
    net_tcp_close(a->c);
    net_tcp_close(b->c);
    fp_flush(f);
    assert_int_equal(a->closed + b->closed, 2);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_simultaneous_open(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    fp_learn_peer(f);
    fc = fp_connect(f, FP_PEER_IP, 7001, &rc);
    fp_flush(f);
    peer_init(&p, f, 7001, 3000);
    p.dport = 40000;
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN);
    /* the peer's own SYN crosses ours */
    peer_seg(&p, &g, TCP_F_SYN);
    g.mss = 1460;
    g.ws = 0;
    fp_send(f, &g);
    assert_int_equal(fc->c->state, TCP_SYN_RECEIVED);
    assert_int_equal(cnt(f)->tcp_conns_half_open, 0);  /* not a passive one */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.seq, 1000);
    assert_int_equal(g.ack, 3001);
    /* the peer answers with its SYN-ACK */
    p.ack = 1001;
    peer_tx(&p, TCP_F_SYN | TCP_F_ACK, NULL, 0);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    assert_int_equal(fc->connected, 1);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_syn_retries(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    fp_config(&cfg);
    cfg.syn_retries = 2;
    f = fp_new(&cfg, 0);
    /* passive: the SYN-ACK is repeated after 1 s, 2 s, then forgotten */
    peer_init(&p, f, 50002, 10);
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    fp_advance(f, 1000 * MS - 1);
    expect_nothing(f);
    fp_advance(f, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    /* the peer repeats its SYN: answered at once */
    p.seq--;
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    fp_advance(f, 2000 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    fp_advance(f, 4000 * MS);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_conns_half_open, 0);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    assert_int_equal(f->nconns, 0);
    /* active: SYN at 0, 1 s, 3 s, then ETIMEDOUT at 7 s */
    fp_learn_peer(f);
    fc = fp_connect(f, FP_PEER_IP, 7002, &rc);
    fp_flush(f);
    fp_drain(f);
    fp_advance(f, 1000 * MS);
    assert_int_equal(fp_tx_pending(f), 1);
    fp_advance(f, 2000 * MS);
    assert_int_equal(fp_tx_pending(f), 2);
    fp_advance(f, 4000 * MS);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, -ETIMEDOUT);
    assert_int_equal(cnt(f)->tcp_conns_timedout, 1);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_synsent_bad_segments(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    fp_learn_peer(f);
    fc = fp_connect(f, FP_PEER_IP, 7003, &rc);
    fp_flush(f);
    fp_drain(f);
    peer_init(&p, f, 7003, 500);
    p.dport = 40000;
    /* SYN-ACK acknowledging something we never sent: RST <SEQ=SEG.ACK> */
    p.ack = 5000;
    peer_tx(&p, TCP_F_SYN | TCP_F_ACK, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_RST);
    assert_int_equal(g.seq, 5000);
    /* RST without ACK, and a bare ACK: ignored */
    p.seq = 500;
    p.ack = 1001;
    peer_tx(&p, TCP_F_RST, NULL, 0);
    peer_tx(&p, TCP_F_ACK, NULL, 0);
    assert_int_equal(cnt(f)->drop.tcp_synsent_bad, 3);
    assert_int_equal(fc->c->state, TCP_SYN_SENT);
    /* RST with an acceptable ACK: refused */
    peer_tx(&p, TCP_F_RST | TCP_F_ACK, NULL, 0);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, -ECONNREFUSED);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

/* ---- data ----------------------------------------------------------------- */

static void test_request_reply_piggyback(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50003, 1);
    fc = accept_conn(&p);
    /* request and reply in one turn: a single segment carries both */
    peer_tx_noflush(&p, TCP_F_ACK | TCP_F_PSH, "PING\r\n", 6);
    assert_int_equal(fc->rxlen, 6);
    assert_memory_equal(fc->rx, "PING\r\n", 6);
    assert_int_equal(net_tcp_send(fc->c, "+PO", 3), 3);
    assert_int_equal(net_tcp_send(fc->c, "NG\r\n", 4), 4);
    net_flush(f->s);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ack, p.seq);
    assert_int_equal(g.len, 7);
    assert_memory_equal(g.payload, "+PONG\r\n", 7);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_PSH);
    assert_int_equal(g.tsecr, p.tsval);
    expect_nothing(f);
    p.ack += 7;
    /* no reply this turn: the owed ACK goes out alone at the flush */
    peer_tx(&p, TCP_F_ACK | TCP_F_PSH, "GET k\r\n", 7);
    expect_ack(&p, p.seq);
    expect_nothing(f);
    /* a pure ACK from the peer owes nothing */
    peer_ack(&p);
    expect_nothing(f);
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    expect_all_closed(f);
    fp_free(f);
}

static void test_bulk_both_ways(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    enum { N = 200000 };
    uint8_t *out = malloc(N), *got = malloc(N), *in = malloc(N);
    size_t sent = 0, have = 0, fed = 0;

    (void)state;
    fill(out, N, 3);
    fill(in, N, 4);
    peer_init(&p, f, 50004, 123456);
    fc = accept_conn(&p);
    /* app → peer through a 16 KiB ring: send what fits, wait for writable */
    for (int turn = 0; sent < N || have < N; turn++) {
        assert_true(turn < 1000);
        if (sent < N) {
            ssize_t k = net_tcp_send(fc->c, out + sent, N - sent);

            assert_true(k >= 0);
            sent += (size_t)k;
        }
        fp_flush(f);
        peer_read(&p, got, &have, N);
        peer_ack(&p);
    }
    assert_memory_equal(got, out, N);
    assert_true(fc->writable > 0);
    /* peer → app within the advertised window */
    while (fed < N) {
        struct fp_seg g;
        uint32_t room = fc->c->rcv_adv - p.seq;
        uint32_t n = room < 1448 ? room : 1448;

        if (n > N - fed)
            n = (uint32_t)(N - fed);
        assert_true(n > 0);
        peer_tx(&p, TCP_F_ACK, in + fed, n);
        fed += n;
        while (peer_rx(&p, &g))
            assert_int_equal(g.ack, p.seq);
    }
    assert_int_equal(fc->rxlen, N);
    assert_memory_equal(fc->rx, in, N);
    assert_int_equal(cnt(f)->tcp_retransmits, 0);
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    expect_all_closed(f);
    free(out);
    free(got);
    free(in);
    fp_free(f);
}

static void test_out_of_order_and_duplicates(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[600];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 5);
    peer_init(&p, f, 50005, 7);
    fc = accept_conn(&p);
    s0 = p.seq;
    /* C, then B, then A */
    p.seq = s0 + 200;
    peer_tx(&p, TCP_F_ACK, d + 200, 100);
    expect_ack(&p, s0);
    p.seq = s0 + 100;
    peer_tx(&p, TCP_F_ACK, d + 100, 100);
    expect_ack(&p, s0);
    assert_int_equal(fc->rxlen, 0);
    assert_int_equal(fc->c->nooo, 1);                   /* B and C merged */
    p.seq = s0;
    peer_tx(&p, TCP_F_ACK, d, 100);
    expect_ack(&p, s0 + 300);
    assert_int_equal(fc->rxlen, 300);
    assert_memory_equal(fc->rx, d, 300);
    assert_int_equal(fc->c->nooo, 0);
    /* A again: wholly old, answered with an ACK, not delivered twice */
    p.seq = s0;
    peer_tx(&p, TCP_F_ACK, d, 100);
    expect_ack(&p, s0 + 300);
    assert_int_equal(cnt(f)->drop.tcp_bad_seq, 1);
    assert_int_equal(fc->rxlen, 300);
    /* half old, half new: only the new half reaches the app */
    p.seq = s0 + 250;
    peer_tx(&p, TCP_F_ACK, d + 250, 100);
    expect_ack(&p, s0 + 350);
    assert_int_equal(fc->rxlen, 350);
    assert_memory_equal(fc->rx, d, 350);
    /* a FIN beyond a gap waits for the gap */
    p.seq = s0 + 450;
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, d + 450, 150);
    expect_ack(&p, s0 + 350);
    assert_int_equal(fc->eof, 0);
    p.seq = s0 + 350;
    peer_tx(&p, TCP_F_ACK, d + 350, 100);
    expect_ack(&p, s0 + 601);
    assert_int_equal(fc->rxlen, 600);
    assert_memory_equal(fc->rx, d, 600);
    assert_int_equal(fc->eof, 1);
    assert_int_equal(fc->c->state, TCP_CLOSE_WAIT);
    net_tcp_close(fc->c);
    fp_flush(f);
    {
        struct fp_seg g;

        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.flags, TCP_F_FIN | TCP_F_ACK);
        p.seq = s0 + 601;
        p.ack = g.seq + 1;
    }
    peer_ack(&p);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_ooo_list_full(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[2000];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 6);
    peer_init(&p, f, 50006, 99);
    fc = accept_conn(&p);
    s0 = p.seq;
    /* nine islands of 10 bytes with gaps: room for eight */
    for (unsigned i = 1; i <= 9; i++) {
        p.seq = s0 + i * 100;
        peer_tx(&p, TCP_F_ACK, d + i * 100, 10);
        expect_ack(&p, s0);
    }
    assert_int_equal(fc->c->nooo, TCP_OOO_MAX);
    assert_int_equal(cnt(f)->drop.tcp_ooo_full, 1);
    /* one touching an existing island merges even when full */
    p.seq = s0 + 110;
    peer_tx(&p, TCP_F_ACK, d + 110, 10);
    expect_ack(&p, s0);
    assert_int_equal(cnt(f)->drop.tcp_ooo_full, 1);
    /* fill everything in order: all 1000 bytes arrive intact */
    p.seq = s0;
    peer_tx(&p, TCP_F_ACK, d, 1000);
    expect_ack(&p, s0 + 1000);
    assert_int_equal(fc->rxlen, 1000);
    assert_memory_equal(fc->rx, d, 1000);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* ---- loss recovery -------------------------------------------------------- */

static void test_rto_backoff_and_timeout(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint8_t d[100];

    (void)state;
    fp_config(&cfg);
    cfg.data_retries = 3;
    cfg.tlp = 0;                        /* the timer alone (probes: test_tlp_*) */
    f = fp_new(&cfg, 0);
    fill(d, sizeof(d), 7);
    peer_init(&p, f, 50007, 1);
    fc = accept_conn(&p);
    assert_int_equal(fc->c->rto_us, 200 * MS);          /* RTT ~0: the floor */
    net_tcp_send(fc->c, d, 100);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    /* 200, 400, 800 ms: each retransmission waits twice as long */
    for (uint32_t wait = 200; wait <= 800; wait *= 2) {
        fp_advance(f, wait * MS - 1);
        expect_nothing(f);
        fp_advance(f, 1);
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.seq, p.ack);
        assert_int_equal(g.len, 100);
        assert_memory_equal(g.payload, d, 100);
        assert_int_equal(fc->c->cwnd, fc->c->mss);      /* RFC 5681 loss window */
    }
    assert_int_equal(cnt(f)->tcp_rto_fired, 3);
    assert_int_equal(cnt(f)->tcp_retransmits, 3);
    /* an ACK ends the backoff; new data times out after 200 ms again */
    p.ack += 100;
    peer_ack(&p);
    assert_int_equal(fc->c->nrexmt, 0);
    net_tcp_send(fc->c, d, 10);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    fp_advance(f, 200 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    fp_advance(f, 400 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    fp_advance(f, 800 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    /* the fourth expiry gives up */
    fp_advance(f, 1600 * MS);
    expect_nothing(f);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, -ETIMEDOUT);
    assert_int_equal(net_tcp_send(fc->c, d, 1) < 0 || fc->closed, 1);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_rtt_estimate(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50008, 1);
    fc = accept_conn(&p);
    /* RFC 6298 2.2/2.3 with 100 ms samples: srtt converges on 100 ms and
     * the RTO stays above srtt + 4 rttvar */
    for (int i = 0; i < 20; i++) {
        net_tcp_send(fc->c, "x", 1);
        fp_flush(f);
        assert_int_equal(peer_rx(&p, &g), 1);
        f->now += 100 * MS;
        p.ack += 1;
        peer_ack(&p);
    }
    assert_true(fc->c->srtt_us > 90 * MS && fc->c->srtt_us <= 100 * MS);
    assert_true(fc->c->rto_us >= 200 * MS);
    /* Karn: an ACK for a retransmitted segment gives no sample */
    net_tcp_send(fc->c, "y", 1);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    fp_advance(f, fc->c->rto_us);
    assert_int_equal(peer_rx(&p, &g), 1);
    {
        uint32_t srtt = fc->c->srtt_us;

        f->now += 5000 * MS;
        p.ack += 1;
        peer_ack(&p);
        assert_int_equal(fc->c->srtt_us, srtt);
    }
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_fast_retransmit_newreno(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 8);
    peer_init(&p, f, 50009, 1);
    fc = accept_conn(&p);
    assert_int_equal(fc->c->cwnd, 10 * MSS_TS);         /* RFC 6928 IW10 */
    base = p.ack;
    assert_int_equal(net_tcp_send(fc->c, d, sizeof(d)), (ssize_t)sizeof(d));
    fp_flush(f);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.seq, base + i * MSS_TS);
        assert_int_equal(g.len, MSS_TS);
    }
    expect_nothing(f);
    /* segment 2 lost: the peer ACKs 1 and then repeats that ACK */
    p.ack = base + MSS_TS;
    peer_ack(&p);
    expect_nothing(f);
    peer_ack(&p);
    peer_ack(&p);
    expect_nothing(f);
    assert_int_equal(fc->c->dupacks, 2);
    peer_ack(&p);                                       /* third duplicate */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + MSS_TS);
    assert_int_equal(g.len, MSS_TS);
    assert_memory_equal(g.payload, d + MSS_TS, MSS_TS);
    assert_int_equal(cnt(f)->tcp_fast_retransmits, 1);
    assert_true(fc->c->in_recovery);
    /* flight 9 segments: ssthresh 4.5 segments, cwnd ssthresh + 3 */
    assert_int_equal(fc->c->ssthresh, 9 * MSS_TS / 2);
    assert_int_equal(fc->c->cwnd, 9 * MSS_TS / 2 + 3 * MSS_TS);
    peer_ack(&p);                                       /* inflates by one MSS */
    assert_int_equal(fc->c->cwnd, 9 * MSS_TS / 2 + 4 * MSS_TS);
    expect_nothing(f);
    /* partial ACK (2 and 3 arrived, 4 lost too): 4 goes at once */
    p.ack = base + 3 * MSS_TS;
    peer_ack(&p);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 3 * MSS_TS);
    assert_true(fc->c->in_recovery);
    /* full ACK: recovery ends, cwnd deflates */
    p.ack = base + 10 * MSS_TS;
    peer_ack(&p);
    assert_false(fc->c->in_recovery);
    assert_int_equal(fc->c->cwnd, 2 * MSS_TS);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_retransmits, 2);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    /* duplicate ACKs with nothing outstanding are not counted */
    peer_ack(&p);
    peer_ack(&p);
    peer_ack(&p);
    peer_ack(&p);
    assert_int_equal(cnt(f)->tcp_fast_retransmits, 1);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* accept_conn with a handshake round trip of rtt_us: the first RTT sample
 * (RFC 6298 2.2) makes srtt exactly that, rttvar half of it. */
static struct fp_conn *accept_conn_rtt(struct peer *p, uint64_t rtt_us)
{
    struct fp *f = p->f;
    unsigned before = f->nconns;
    struct fp_seg g;

    peer_seg(p, &g, TCP_F_SYN);
    g.mss = p->mss;
    g.ws = p->ws;
    g.sack_ok = p->sack;
    fp_send(f, &g);
    p->seq++;
    assert_int_equal(peer_rx(p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    p->ack = g.seq + 1;
    f->now += rtt_us;
    peer_ack(p);
    expect_nothing(f);
    assert_int_equal(f->nconns, before + 1);
    assert_int_equal(f->conns[before].c->srtt_us, rtt_us);
    return &f->conns[before];
}

/* n bytes of d from the app, and the segments they make, read by the peer
 * (the peer's ack is not moved: it has not acknowledged them). */
static unsigned send_and_take(struct peer *p, struct fp_conn *fc, const uint8_t *d, uint32_t n)
{
    struct fp_seg g;
    unsigned segs = 0;

    assert_int_equal(net_tcp_send(fc->c, d, n), (ssize_t)n);
    fp_flush(p->f);
    while (peer_rx(p, &g))
        segs++;
    return segs;
}

static void test_rto_floor_and_initial(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_conn *fc;

    (void)state;
    /* RFC 6298 2.1: 1 s before any sample; the floor is 200 ms, not 2.4's 1 s */
    fp_config(&cfg);
    assert_int_equal(cfg.rto_init_ms, 1000);
    assert_int_equal(cfg.rto_min_ms, 200);
    assert_int_equal(cfg.tlp, 1);
    assert_int_equal(cfg.tlp_ack_delay_ms, 200);
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50060, 1);
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    fp_drain(f);
    assert_int_equal(f->s->tcp.half_open.head->rto_us, 1000 * MS);
    fp_free(f);
    /* srtt 10 ms, rttvar 5 ms: 30 ms, raised to the floor */
    f = fp_new(NULL, 0);
    peer_init(&p, f, 50061, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    assert_int_equal(fc->c->rto_us, 200 * MS);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
    /* a floor set lower is honoured */
    fp_config(&cfg);
    cfg.rto_min_ms = 50;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50062, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    assert_int_equal(fc->c->rto_us, 50 * MS);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_tlp_tail_probe(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[3000];
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 40);
    peer_init(&p, f, 50063, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    base = p.ack;
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 3);
    /* the tail is lost, no ACK comes: the probe leaves at 2 SRTT, not before */
    fp_advance(f, 20 * MS - 1);
    expect_nothing(f);
    fp_advance(f, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + sizeof(d) - MSS_TS);  /* the last segment's worth */
    assert_int_equal(g.len, MSS_TS);
    assert_memory_equal(g.payload, d + sizeof(d) - MSS_TS, MSS_TS);
    assert_int_equal(cnt(f)->tcp_tlp_sent, 1);
    assert_int_equal(cnt(f)->tcp_retransmits, 1);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    assert_int_equal(fc->c->cwnd, 10 * MSS_TS);         /* no reduction for a probe */
    /* one probe per episode; then the RTO, a whole RTO after the probe */
    fp_advance(f, 200 * MS - 1);
    expect_nothing(f);
    fp_advance(f, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    assert_int_equal(cnt(f)->tcp_rto_fired, 1);
    assert_int_equal(cnt(f)->tcp_tlp_sent, 1);
    assert_int_equal(fc->c->cwnd, MSS_TS);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_tlp_new_data_and_episodes(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[16384];
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 41);
    peer_init(&p, f, 50064, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    base = p.ack;
    /* IW10 out, 1904 bytes wait for the window: a probe sends new data */
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 10);
    fp_advance(f, 20 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 10 * MSS_TS);
    assert_int_equal(g.len, MSS_TS);
    assert_int_equal(cnt(f)->tcp_tlp_sent, 1);
    assert_int_equal(cnt(f)->tcp_retransmits, 0);
    assert_int_equal(fc->c->snd_max, base + 11 * MSS_TS);
    expect_nothing(f);
    /* the probe draws an ACK of part of the flight (the peer was holding it
     * back): the episode is over, the next PTO may probe again */
    p.ack = base + 5 * MSS_TS;
    peer_ack(&p);
    assert_false(fc->c->loss & TCP_LOSS_PROBED);
    while (peer_rx(&p, &g))                             /* the window moved */
        ;
    /* the ACK's 20 ms sample made srtt 11.25 ms */
    fp_advance(f, 23 * MS);
    assert_int_equal(cnt(f)->tcp_tlp_sent, 2);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    fp_drain(f);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_tlp_verdict(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[3000];
    uint32_t w;

    (void)state;
    fill(d, sizeof(d), 42);
    peer_init(&p, f, 50065, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    /* probe, then the ACK of exactly its end: the question stays open */
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 3);
    fp_advance(f, 20 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack += sizeof(d);
    peer_ack(&p);
    assert_true(fc->c->loss & TCP_LOSS_PROBE_OLD);
    /* a duplicate of it: original and probe both arrived, no loss */
    peer_ack(&p);
    assert_false(fc->c->loss & TCP_LOSS_PROBE_OLD);
    assert_int_equal(fc->c->ssthresh, UINT32_MAX);
    /* again, and this time the next ACK goes beyond the probe: it repaired
     * a loss, the window halves (RFC 8985 7.4.3) */
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 3);
    fp_advance(f, 20 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack += sizeof(d);
    peer_ack(&p);
    assert_true(fc->c->loss & TCP_LOSS_PROBE_OLD);
    assert_int_equal(send_and_take(&p, fc, d, 100), 1);
    w = fc->c->cwnd;
    p.ack += 100;
    peer_ack(&p);
    assert_false(fc->c->loss & TCP_LOSS_PROBE_OLD);
    assert_int_equal(fc->c->ssthresh, w / 2);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_tlp_one_segment(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint8_t d[100];
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 43);
    fp_config(&cfg);
    cfg.tlp_ack_delay_ms = 50;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50066, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    base = p.ack;
    /* one segment out: the peer may be delaying its ACK, 2 SRTT + 50 ms */
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 1);
    fp_advance(f, 70 * MS - 1);
    expect_nothing(f);
    fp_advance(f, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    assert_int_equal(g.len, sizeof(d));
    assert_int_equal(cnt(f)->tcp_tlp_sent, 1);
    p.ack += sizeof(d);
    peer_ack(&p);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
    /* 2 SRTT + 200 ms would come after the RTO: the probe takes the RTO's
     * place, and the window is left alone */
    f = fp_new(NULL, 0);
    peer_init(&p, f, 50067, 1);
    fc = accept_conn_rtt(&p, 10 * MS);
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 1);
    fp_advance(f, 200 * MS - 1);
    expect_nothing(f);
    fp_advance(f, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(cnt(f)->tcp_tlp_sent, 1);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    assert_int_equal(fc->c->cwnd, 10 * MSS_TS);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_limited_transmit(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[16384];
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 44);
    peer_init(&p, f, 50068, 1);
    fc = accept_conn(&p);
    base = p.ack;
    /* cwnd (IW10) full, 1904 bytes wait; the first segment is lost */
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 10);
    /* duplicates 1 and 2 each let one new segment out beyond cwnd */
    peer_ack(&p);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 10 * MSS_TS);
    assert_int_equal(g.len, MSS_TS);
    expect_nothing(f);
    peer_ack(&p);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 11 * MSS_TS);
    assert_int_equal(g.len, sizeof(d) - 11 * MSS_TS);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_limited_transmits, 2);
    assert_int_equal(fc->c->cwnd, 10 * MSS_TS);         /* cwnd itself unchanged */
    /* the third: fast retransmit as usual */
    peer_ack(&p);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    assert_int_equal(cnt(f)->tcp_fast_retransmits, 1);
    assert_int_equal(cnt(f)->tcp_early_retransmits, 0);
    p.ack = base + sizeof(d);
    peer_ack(&p);
    assert_false(fc->c->in_recovery);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_no_fast_retransmit_in_rto_recovery(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 48);
    fp_config(&cfg);
    cfg.tlp = 0;                        /* the RTO itself */
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50072, 1);
    fc = accept_conn(&p);
    base = p.ack;
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 10);
    fp_advance(f, 200 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    assert_true(fc->c->loss & TCP_LOSS_RTO);
    /* RFC 6582 3.2 (2): duplicates of data sent before the timeout do not
     * start fast recovery */
    p.ack = base + MSS_TS;
    peer_ack(&p);
    fp_drain(f);
    peer_ack(&p);
    peer_ack(&p);
    peer_ack(&p);
    assert_int_equal(cnt(f)->tcp_fast_retransmits, 0);
    fp_drain(f);
    /* everything sent before it acknowledged: they do again */
    p.ack = base + sizeof(d);
    peer_ack(&p);
    assert_false(fc->c->loss & TCP_LOSS_RTO);
    fp_drain(f);
    base = p.ack;
    assert_int_equal(send_and_take(&p, fc, d, 4 * MSS_TS), 3);   /* cwnd 3 */
    peer_ack(&p);
    peer_ack(&p);
    peer_ack(&p);
    assert_int_equal(cnt(f)->tcp_fast_retransmits, 1);
    fp_drain(f);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_early_retransmit(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    /* flight in bytes, duplicates that trigger (each on a fresh connection) */
    static const struct {
        uint32_t n;
        unsigned dups, early;
    } cs[] = {
        { 2000, 1, 1 },                 /* two segments: one duplicate (RFC 5827) */
        { 3000, 2, 1 },                 /* three: two */
        { 4 * MSS_TS, 3, 0 },           /* four full ones: the usual three */
    };
    static uint8_t d[4 * MSS_TS];

    (void)state;
    fill(d, sizeof(d), 45);
    for (unsigned i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
        struct peer p;
        struct fp_seg g;
        struct fp_conn *fc;
        uint32_t base;

        peer_init(&p, f, (uint16_t)(50069 + i), 1);
        fc = accept_conn(&p);
        base = p.ack;
        /* nothing more to send, the first segment lost */
        assert_int_equal(send_and_take(&p, fc, d, cs[i].n), (cs[i].n + MSS_TS - 1) / MSS_TS);
        for (unsigned k = 1; k < cs[i].dups; k++) {
            peer_ack(&p);
            expect_nothing(f);
        }
        peer_ack(&p);
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.seq, base);
        assert_int_equal(g.len, MSS_TS);
        assert_int_equal(cnt(f)->tcp_fast_retransmits, i + 1);
        p.ack = base + cs[i].n;
        peer_ack(&p);
        assert_false(fc->c->in_recovery);
        net_tcp_abort(fc->c);
        fp_flush(f);
        fp_drain(f);
    }
    assert_int_equal(cnt(f)->tcp_early_retransmits, 2);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    fp_free(f);
}

/* Segments of the peer fed in one receive burst, as a NIC delivers them. */
static void peer_tx_burst(struct peer *p, const uint8_t *d, uint32_t seglen, unsigned n)
{
    struct rte_mbuf *m[8];
    struct fp_seg g;

    assert_true(n <= 8);
    for (unsigned i = 0; i < n; i++) {
        peer_seg(p, &g, TCP_F_ACK);
        g.data = d + (size_t)i * seglen;
        g.len = seglen;
        m[i] = fp_tcp_frame(p->f, &g);
        p->seq += seglen;
    }
    fp_input(p->f, m, n);
}

/* A data segment from the peer at `seq`, built but not sent. */
static struct rte_mbuf *peer_frame(struct peer *p, uint32_t seq, const char *data)
{
    struct fp_seg g;

    peer_seg(p, &g, TCP_F_ACK);
    g.seq = seq;
    g.data = (const uint8_t *)data;
    g.len = (uint32_t)strlen(data);
    return fp_tcp_frame(p->f, &g);
}

/* The warming pass (on_peek) before a burst: one call per data segment at
 * rcv_nxt of an established connection, with its bytes, and on_peek_late
 * once for each; not for a later segment of the same connection in the
 * burst, one out of order, or a frame for no connection. Delivery is as
 * without it, and on_peek returning 0 ends the pass. */
static void test_peek_burst(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer a, b, stray;
    struct fp_conn *fa, *fb;
    struct rte_mbuf *m[5];
    uint32_t a0;

    (void)state;
    peer_init(&a, f, 50080, 1000);
    peer_init(&b, f, 50081, 2000);
    peer_init(&stray, f, 50082, 3000);
    fa = accept_conn(&a);
    fb = accept_conn(&b);
    a0 = a.seq;
    m[0] = peer_frame(&a, a0, "GET-A");
    m[1] = peer_frame(&b, b.seq, "GET-B");
    m[2] = peer_frame(&a, a0 + 5, "second");
    m[3] = peer_frame(&a, a0 + 1000, "ahead");
    m[4] = peer_frame(&stray, stray.seq, "nobody");
    fp_input(f, m, 5);
    assert_int_equal(fa->peeks, 1);
    assert_int_equal(fa->peeked_len, 5);
    assert_memory_equal(fa->peeked, "GET-A", 5);
    assert_int_equal(fb->peeks, 1);
    assert_memory_equal(fb->peeked, "GET-B", 5);
    assert_int_equal(fa->peeks_late, 1);
    assert_int_equal(fb->peeks_late, 1);
    assert_int_equal(fa->rxlen, 11);
    assert_memory_equal(fa->rx, "GET-Asecond", 11);
    assert_int_equal(fb->rxlen, 5);
    a.seq = a0 + 11;
    b.seq += 5;
    fp_drain(f);

    /* A declines: B's segment after it is not shown */
    fa->peek_stop = 1;
    m[0] = peer_frame(&a, a.seq, "x");
    m[1] = peer_frame(&b, b.seq, "y");
    fp_input(f, m, 2);
    assert_int_equal(fa->peeks, 2);
    assert_int_equal(fa->peeks_late, 1);
    assert_int_equal(fb->peeks, 1);
    assert_int_equal(fa->rxlen, 12);
    assert_int_equal(fb->rxlen, 6);
    net_tcp_abort(fa->c);
    net_tcp_abort(fb->c);
    fp_flush(f);
    fp_free(f);
}

/* A burst from more connections than the pass keeps waiting: each gets its
 * on_peek_late once, after its on_peek and in the order of the peeks, and
 * the later ones at the end of the pass. */
static void test_peek_burst_many(void **state)
{
    enum { N = 11 };
    struct fp *f = fp_new(NULL, 0);
    struct peer p[N];
    struct fp_conn *fc[N];
    struct rte_mbuf *m[N];

    (void)state;
    for (int i = 0; i < N; i++) {
        peer_init(&p[i], f, (uint16_t)(50100 + i), 1000u * (uint32_t)(i + 1));
        fc[i] = accept_conn(&p[i]);
    }
    for (int i = 0; i < N; i++)
        m[i] = peer_frame(&p[i], p[i].seq, "GET k");
    fp_input(f, m, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(fc[i]->peeks, 1);
        assert_int_equal(fc[i]->peeks_late, 1);
        assert_true(fc[i]->late_at > fc[i]->peek_at);
        if (i > 0) {
            assert_true(fc[i]->peek_at > fc[i - 1]->peek_at);
            assert_true(fc[i]->late_at > fc[i - 1]->late_at);
        }
        assert_int_equal(fc[i]->rxlen, 5);
    }
    /* the first waited for later peeks; the last, for the pass's end */
    assert_true(fc[0]->late_at > fc[1]->peek_at);
    assert_true(fc[N - 1]->late_at > fc[N - 1]->peek_at + 1);
    for (int i = 0; i < N; i++)
        net_tcp_abort(fc[i]->c);
    fp_flush(f);
    fp_free(f);
}

static void test_ack_every_second_segment(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    static uint8_t d[5 * MSS_TS];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 46);
    peer_init(&p, f, 50070, 1);
    fc = accept_conn(&p);
    s0 = p.seq;
    /* five full segments in one burst: ACKs after the 2nd and 4th, and the
     * owed one for the 5th at the flush; one lost ACK no longer leaves the
     * peer's window shut */
    peer_tx_burst(&p, d, MSS_TS, 5);
    expect_ack(&p, s0 + 2 * MSS_TS);
    expect_ack(&p, s0 + 4 * MSS_TS);
    expect_ack(&p, s0 + 5 * MSS_TS);
    expect_nothing(f);
    assert_int_equal(fc->rxlen, sizeof(d));
    assert_memory_equal(fc->rx, d, sizeof(d));
    /* small segments (requests) are not ACKed one by one */
    peer_tx_burst(&p, d, 100, 4);
    expect_ack(&p, s0 + 5 * MSS_TS + 400);
    expect_nothing(f);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_ack_at_once_for_gap_fill(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[300];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 47);
    fp_config(&cfg);
    cfg.delack_ms = 40;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50071, 1);
    fc = accept_conn(&p);
    s0 = p.seq;
    /* out of order: a duplicate ACK at once (RFC 5681 4.2) */
    p.seq = s0 + 200;
    peer_tx(&p, TCP_F_ACK, d + 200, 100);
    expect_ack(&p, s0);
    /* in order, filling part of the gap: at once too, not after 40 ms */
    p.seq = s0;
    peer_tx(&p, TCP_F_ACK, d, 100);
    expect_ack(&p, s0 + 100);
    /* the rest of it */
    peer_tx(&p, TCP_F_ACK, d + 100, 100);
    expect_ack(&p, s0 + 300);
    /* plain in-order data waits for the delayed ACK again */
    p.seq = s0 + 300;
    peer_tx(&p, TCP_F_ACK, d, 10);
    expect_nothing(f);
    assert_int_equal(fc->rxlen, 310);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_zero_window_probe(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint8_t d[3000];
    uint8_t got[3000];
    size_t have = 0;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 9);
    peer_init(&p, f, 50010, 1);
    p.win = 1000;
    fc = accept_conn(&p);
    base = p.ack;
    net_tcp_send(fc->c, d, sizeof(d));
    fp_flush(f);
    assert_int_equal(peer_read(&p, got, &have, sizeof(got)), 1);
    assert_int_equal(have, 1000);
    /* the peer takes them and closes its window */
    p.win = 0;
    peer_ack(&p);
    expect_nothing(f);
    assert_true(fc->c->persist);
    /* probes: one byte, after 200, then 400, then 800 ms */
    for (uint32_t wait = 200; wait <= 800; wait *= 2) {
        fp_advance(f, wait * MS - 1);
        expect_nothing(f);
        fp_advance(f, 1);
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.seq, base + 1000);
        assert_int_equal(g.len, 1);
        assert_int_equal(g.payload[0], d[1000]);
        peer_ack(&p);                                   /* still zero, byte refused */
    }
    assert_int_equal(cnt(f)->tcp_probes_sent, 3);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    /* the window opens, taking the probe byte: the rest flows */
    p.win = 65535;
    p.ack = base + 1001;
    peer_ack(&p);
    assert_false(fc->c->persist);
    have = 1001;
    memcpy(got, d, 1001);
    peer_read(&p, got, &have, sizeof(got));
    assert_int_equal(have, 3000);
    assert_memory_equal(got, d, 3000);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_zero_window_receive(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[16384 + 1];
    uint32_t fed = 0;

    (void)state;
    fill(d, sizeof(d), 10);
    peer_init(&p, f, 50011, 1);
    fc = accept_conn(&p);
    net_tcp_pause_input(fc->c, 1);
    /* the peer fills exactly the 16 KiB window */
    while (fed < 16384) {
        uint32_t n = 16384 - fed < MSS_TS ? 16384 - fed : MSS_TS;

        peer_tx(&p, TCP_F_ACK, d + fed, n);
        fed += n;
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.ack, p.seq);
        assert_int_equal(g.win, 16384 - fed);
    }
    assert_int_equal(fc->rxlen, 0);
    /* a one-byte probe into the closed window: refused, ACKed with zero */
    peer_tx(&p, TCP_F_ACK, d + 16384, 1);
    p.seq--;
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ack, p.seq);
    assert_int_equal(g.win, 0);
    assert_int_equal(cnt(f)->drop.tcp_beyond_wnd, 1);
    /* resuming delivers everything and reopens the window */
    net_tcp_pause_input(fc->c, 0);
    fp_flush(f);
    assert_int_equal(fc->rxlen, 16384);
    assert_memory_equal(fc->rx, d, 16384);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.win, 16384);
    assert_int_equal(g.ack, p.seq);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_backpressure_partial_take(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint8_t d[3000];

    (void)state;
    fill(d, sizeof(d), 11);
    peer_init(&p, f, 50012, 1);
    fc = accept_conn(&p);
    fc->take = 100;                         /* the app takes 100 bytes, then is full */
    peer_tx(&p, TCP_F_ACK, d, 1000);
    assert_int_equal(fc->rxlen, 100);
    assert_int_equal(peer_rx(&p, &g), 1);
    /* 900 buffered, 100 consumed: too little to move the right edge (SWS) */
    assert_int_equal(g.win, 16384 - 1000);
    peer_tx(&p, TCP_F_ACK, d + 1000, 1000);
    assert_int_equal(fc->rxlen, 100);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.win, 16384 - 2000);
    assert_int_equal(fc->c->rring.len, 1900);
    /* the app resumes: the buffered bytes arrive in order */
    fc->take = SIZE_MAX;
    net_tcp_pause_input(fc->c, 0);
    fp_flush(f);
    assert_int_equal(fc->rxlen, 2000);
    assert_memory_equal(fc->rx, d, 2000);
    fp_drain(f);
    /* pausing from inside on_data holds what follows */
    fc->pause_in_data = 1;
    peer_tx(&p, TCP_F_ACK, d + 2000, 500);
    peer_tx(&p, TCP_F_ACK, d + 2500, 500);
    assert_int_equal(fc->rxlen, 2500);
    fc->pause_in_data = 0;
    net_tcp_pause_input(fc->c, 0);
    fp_flush(f);
    assert_int_equal(fc->rxlen, 3000);
    assert_memory_equal(fc->rx, d, 3000);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* A pause holds input until the peer's FIN: then the rest and the end of
 * stream are delivered anyway, also what the app refused while paused. */
static void test_paused_input_ends_with_fin(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[600];

    (void)state;
    fill(d, sizeof(d), 12);
    peer_init(&p, f, 50013, 1);
    fc = accept_conn(&p);
    fc->take = 100;                               /* refuses the rest: app_full */
    peer_tx(&p, TCP_F_ACK, d, 300);
    assert_int_equal(fc->rxlen, 100);
    fc->take = SIZE_MAX;
    net_tcp_pause_input(fc->c, 1);
    peer_tx(&p, TCP_F_ACK, d + 300, 300);
    assert_int_equal(fc->rxlen, 100);
    assert_false(net_tcp_input_ended(fc->c));
    fp_drain(f);
    peer_tx(&p, TCP_F_FIN | TCP_F_ACK, NULL, 0);
    assert_true(net_tcp_input_ended(fc->c));
    assert_int_equal(fc->rxlen, 600);
    assert_memory_equal(fc->rx, d, 600);
    assert_int_equal(fc->eof, 1);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* ---- closing ---------------------------------------------------------------- */

static void test_fin_from_peer(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50013, 1);
    fc = accept_conn(&p);
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, "abc", 3);
    assert_int_equal(fc->rxlen, 3);
    assert_int_equal(fc->eof, 1);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->c->state, TCP_CLOSE_WAIT);
    /* the app may still answer; its close sends the reply and FIN together */
    assert_int_equal(net_tcp_send(fc->c, "bye", 3), 3);
    net_tcp_close(fc->c);
    assert_int_equal(fc->closed, 0);                    /* never inside close */
    assert_int_equal(net_tcp_send(fc->c, "x", 1), -EPIPE);
    fp_flush(f);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_PSH | TCP_F_FIN);
    assert_int_equal(g.len, 3);
    assert_int_equal(fc->c->state, TCP_LAST_ACK);
    p.ack = g.seq + 4;
    peer_ack(&p);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_fin_from_app(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    fp_config(&cfg);
    cfg.fin_wait2_ms = 5000;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50014, 1);
    fc = accept_conn(&p);
    net_tcp_close(fc->c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_FIN);
    assert_int_equal(fc->c->state, TCP_FIN_WAIT_1);
    assert_int_equal(fc->closed, 1);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(f->s->tcp.conns[0].state, TCP_FIN_WAIT_2);
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 1);
    /* the peer lost our ACK and repeats its FIN: ACKed again */
    p.seq--;
    fp_advance(f, 500 * MS);
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    expect_ack(&p, p.seq);
    fp_advance(f, 999 * MS);                            /* the FIN restarted the timer */
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 1);
    fp_advance(f, 1 * MS + 1);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 0);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    /* an orphan whose peer never sends FIN lasts fin_wait2_ms */
    peer_init(&p, f, 50015, 1);
    fc = accept_conn(&p);
    net_tcp_close(fc->c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack = g.seq + 1;
    peer_ack(&p);
    fp_advance(f, 4999 * MS);
    assert_int_equal(cnt(f)->tcp_conns_open, 1);
    fp_advance(f, 2 * MS);                              /* timers tick in whole ms */
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_simultaneous_close(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    struct tcp_conn *c;

    (void)state;
    peer_init(&p, f, 50016, 1);
    fc = accept_conn(&p);
    c = fc->c;
    net_tcp_close(c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_true(g.flags & TCP_F_FIN);
    /* the peer's FIN crosses ours: it does not ACK our FIN yet */
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    assert_int_equal(c->state, TCP_CLOSING);
    expect_ack(&p, p.seq);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(c->state, TCP_TIME_WAIT);
    expect_all_closed(f);
    /* FIN that also ACKs ours: FIN_WAIT_1 → TIME_WAIT in one segment */
    peer_init(&p, f, 50017, 1);
    fc = accept_conn(&p);
    c = fc->c;
    net_tcp_close(c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack = g.seq + 1;
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    assert_int_equal(c->state, TCP_TIME_WAIT);
    expect_ack(&p, p.seq);
    expect_all_closed(f);
    fp_free(f);
}

static void test_half_close(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[40000], got[40000];
    size_t have = 0, sent = 0;

    (void)state;
    fill(d, sizeof(d), 12);
    /* our half-close: FIN out, the peer keeps talking, we keep listening */
    peer_init(&p, f, 50018, 1);
    fc = accept_conn(&p);
    assert_int_equal(net_tcp_shutdown(fc->c), 0);
    assert_int_equal(net_tcp_shutdown(fc->c), -EPIPE);
    assert_int_equal(net_tcp_send(fc->c, "x", 1), -EPIPE);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_true(g.flags & TCP_F_FIN);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(fc->c->state, TCP_FIN_WAIT_2);
    assert_int_equal(fc->c->rexmt_at, 0);               /* the app still reads: no timer */
    peer_tx(&p, TCP_F_ACK, d, 1000);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->rxlen, 1000);
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->eof, 1);
    assert_int_equal(fc->c->state, TCP_TIME_WAIT);
    net_tcp_close(fc->c);
    fp_flush(f);
    assert_int_equal(fc->closed, 1);
    expect_all_closed(f);
    /* the peer's half-close: we keep sending 40 KB after its FIN */
    peer_init(&p, f, 50019, 1);
    fc = accept_conn(&p);
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->eof, 1);
    while (have < sizeof(d)) {
        ssize_t k = net_tcp_send(fc->c, d + sent, sizeof(d) - sent);

        assert_true(k >= 0);
        sent += (size_t)k;
        fp_flush(f);
        peer_read(&p, got, &have, sizeof(got));
        peer_ack(&p);
    }
    assert_memory_equal(got, d, sizeof(d));
    net_tcp_close(fc->c);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_FIN);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_data_after_close(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50020, 1);
    fc = accept_conn(&p);
    fc->close_in_data = 1;                  /* QUIT: the app closes on this input */
    peer_tx(&p, TCP_F_ACK, "QUIT\r\n", 6);
    assert_int_equal(fc->rxlen, 6);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_FIN);
    assert_int_equal(g.ack, p.seq);
    assert_int_equal(fc->closed, 1);
    /* more input: acknowledged, counted, never delivered */
    peer_tx(&p, TCP_F_ACK, "PING\r\n", 6);
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->drop.tcp_after_close, 1);
    assert_int_equal(fc->rxlen, 6);
    p.ack = g.seq + 1;
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    expect_ack(&p, p.seq);
    expect_all_closed(f);
    fp_free(f);
}

/* ---- RST in every state ----------------------------------------------------- */

enum reach { R_SYN_RCVD, R_EST, R_FW1, R_FW2, R_CLOSE_WAIT, R_CLOSING, R_LAST_ACK, R_TIME_WAIT };

/* Bring a connection from peer p to the state asked; returns its tcp_conn. */
static struct tcp_conn *reach(struct fp *f, struct peer *p, enum reach r, struct fp_conn **fcp)
{
    struct fp_seg g;
    struct fp_conn *fc;

    *fcp = NULL;
    if (r == R_SYN_RCVD) {
        peer_tx(p, TCP_F_SYN, NULL, 0);
        assert_int_equal(peer_rx(p, &g), 1);
        p->ack = g.seq + 1;
        return f->s->tcp.half_open.head;
    }
    fc = accept_conn(p);
    *fcp = fc;
    switch (r) {
    case R_EST:
        break;
    case R_FW1:
    case R_FW2:
    case R_CLOSING:
    case R_TIME_WAIT:
        net_tcp_close(fc->c);
        fp_flush(f);
        assert_int_equal(peer_rx(p, &g), 1);
        if (r == R_FW2 || r == R_TIME_WAIT) {
            p->ack = g.seq + 1;
            peer_ack(p);
        }
        if (r == R_CLOSING || r == R_TIME_WAIT) {
            peer_tx(p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
            fp_drain(f);
        }
        break;
    case R_CLOSE_WAIT:
    case R_LAST_ACK:
        peer_tx(p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
        fp_drain(f);
        if (r == R_LAST_ACK) {
            net_tcp_close(fc->c);
            fp_flush(f);
            fp_drain(f);
        }
        break;
    default:
        break;
    }
    return fc->c;
}

static void test_rst_in_every_state(void **state)
{
    static const struct {
        enum reach r;
        unsigned st;
        int err;                    /* on_closed for an app still holding it; 1: none */
    } cases[] = {
        { R_SYN_RCVD, TCP_SYN_RECEIVED, 1 },
        { R_EST, TCP_ESTABLISHED, -ECONNRESET },
        { R_FW1, TCP_FIN_WAIT_1, 0 },
        { R_FW2, TCP_FIN_WAIT_2, 0 },
        { R_CLOSE_WAIT, TCP_CLOSE_WAIT, -ECONNRESET },
        { R_CLOSING, TCP_CLOSING, 0 },
        { R_LAST_ACK, TCP_LAST_ACK, 0 },
        { R_TIME_WAIT, TCP_TIME_WAIT, 0 },
    };
    struct fp *f = fp_new(NULL, 0);
    struct fp_seg g;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct peer p;
        struct fp_conn *fc;
        struct tcp_conn *c;
        uint32_t open_before = (uint32_t)cnt(f)->tcp_conns_open;

        peer_init(&p, f, (uint16_t)(51000 + i), 100);
        c = reach(f, &p, cases[i].r, &fc);
        assert_non_null(c);
        assert_int_equal(c->state, cases[i].st);
        /* in the window but not exact: a challenge ACK, no reset */
        p.seq += 10;
        peer_tx(&p, TCP_F_RST, NULL, 0);
        p.seq -= 10;
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.flags, TCP_F_ACK);
        assert_int_equal(g.ack, p.seq);
        assert_int_equal(c->state, cases[i].st);
        /* exact: the connection ends */
        peer_tx(&p, TCP_F_RST, NULL, 0);
        expect_nothing(f);
        assert_int_equal(cnt(f)->tcp_conns_open, open_before);
        if (fc != NULL) {
            assert_int_equal(fc->closed, 1);
            if (cases[i].err != 1 && (cases[i].r == R_EST || cases[i].r == R_CLOSE_WAIT))
                assert_int_equal(fc->close_err, cases[i].err);
        }
    }
    assert_int_equal(cnt(f)->tcp_conns_reset, 4);        /* ESTABLISHED, FIN_WAIT_1/2, CLOSE_WAIT */
    assert_int_equal(cnt(f)->tcp_conns_half_open, 0);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 0);
    assert_int_equal(f->nconns, 7);                     /* the SYN_RECEIVED one was never accepted */
    assert_true(cnt(f)->drop.tcp_rst_challenge >= 7);
    /* far outside the window: ignored silently */
    {
        struct peer p;
        struct fp_conn *fc;

        peer_init(&p, f, 52000, 100);
        fc = accept_conn(&p);
        p.seq += 1000000;
        peer_tx(&p, TCP_F_RST, NULL, 0);
        expect_nothing(f);
        assert_int_equal(fc->c->state, TCP_ESTABLISHED);
        assert_true(cnt(f)->drop.tcp_rst_ignored >= 1);
        /* RST to the listener: nothing to reset */
        p.port = 52001;
        peer_tx(&p, TCP_F_RST, NULL, 0);
        expect_nothing(f);
        assert_int_equal(cnt(f)->drop.tcp_listen_bad, 1);
        net_tcp_abort(fc->c);
        fp_flush(f);
    }
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_send_after_reset(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50021, 1);
    fc = accept_conn(&p);
    peer_tx_noflush(&p, TCP_F_RST, NULL, 0);
    /* broken, but the app has not heard yet: send says why */
    assert_int_equal(net_tcp_send(fc->c, "x", 1), -ECONNRESET);
    assert_int_equal(fc->closed, 0);
    net_flush(f->s);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, -ECONNRESET);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

/* ---- options ------------------------------------------------------------------ */

static void test_window_scaling_and_mss(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[20000];
    uint32_t inflight = 0;

    (void)state;
    fp_config(&cfg);
    cfg.rcvbuf = 262144;                    /* needs shift 3 to be advertised */
    f = fp_new(&cfg, 0);
    fill(d, sizeof(d), 13);
    peer_init(&p, f, 50022, 1);
    p.ws = 7;
    p.mss = 536;
    peer_seg(&p, &g, TCP_F_SYN);
    g.mss = 536;
    g.ws = 7;
    fp_send(f, &g);
    p.seq++;
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ws, 3);
    assert_int_equal(g.win, 65535);         /* a SYN's window is never scaled */
    p.ack = g.seq + 1;
    p.win = 100;                            /* × 128 = 12800 */
    peer_ack(&p);
    fc = &f->conns[0];
    assert_int_equal(fc->c->snd_wnd, 12800);
    assert_int_equal(fc->c->mss, 536 - 12);
    /* our window in 8-byte units: the ring less one unit of slack */
    peer_tx(&p, TCP_F_ACK, "a", 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.win, (262144 - 8) >> 3);
    /* sending: segments of 524 bytes, the initial window of ten first,
     * then as the ACKs open cwnd, never more than 12800 in flight */
    net_tcp_send(fc->c, d, sizeof(d));
    fp_flush(f);
    while (peer_rx(&p, &g)) {
        assert_int_equal(g.len, 524);
        inflight += g.len;
    }
    assert_int_equal(inflight, 10 * 524);
    /* the peer ACKs each segment: slow start doubles cwnd per round, the
     * peer's window caps what is in flight */
    {
        uint32_t peak = 0;

        for (int round = 0; round < 6; round++) {
            uint32_t n = inflight / 524;

            inflight = 0;
            for (uint32_t k = 0; k < n; k++) {
                p.ack += 524;
                peer_ack(&p);
            }
            net_tcp_send(fc->c, d, sizeof(d));          /* keep the ring full */
            fp_flush(f);
            while (peer_rx(&p, &g)) {
                assert_true(g.len <= 524);
                inflight += g.len;
            }
            assert_true(fc->c->snd_max - fc->c->snd_una <= 12800);
            if (fc->c->snd_max - fc->c->snd_una > peak)
                peak = fc->c->snd_max - fc->c->snd_una;
        }
        assert_true(peak > 12800 - 524);
    }
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);

    /* a peer without options: no scaling, no timestamps, MSS 536 */
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50023, 1);
    p.ts = 0;
    p.ws = -1;
    p.mss = -1;
    peer_seg(&p, &g, TCP_F_SYN);
    fp_send(f, &g);
    p.seq++;
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ws, -1);
    assert_int_equal(g.ts, 0);
    p.ack = g.seq + 1;
    peer_ack(&p);
    fc = &f->conns[0];
    assert_int_equal(fc->c->mss, 536);
    peer_tx(&p, TCP_F_ACK, "a", 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.win, 65535);         /* unscaled: capped */
    assert_int_equal(g.ts, 0);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_timestamps_paws(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50024, 1);
    fc = accept_conn(&p);
    /* an old timestamp: PAWS drops it and ACKs */
    p.tsval -= 100;
    peer_tx(&p, TCP_F_ACK, "old", 3);
    p.seq -= 3;
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->drop.tcp_paws, 1);
    assert_int_equal(fc->rxlen, 0);
    p.tsval += 200;
    /* no timestamp at all once negotiated: dropped (RFC 7323 3.2) */
    p.ts = 0;
    peer_tx(&p, TCP_F_ACK, "nots", 4);
    p.seq -= 4;
    expect_nothing(f);
    assert_int_equal(cnt(f)->drop.tcp_no_ts, 1);
    p.ts = 1;
    /* a good one: delivered, and our ACK echoes its TSval */
    peer_tx(&p, TCP_F_ACK, "new", 3);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.tsecr, p.tsval);
    assert_int_equal(fc->rxlen, 3);
    /* the peer's clock wrapping past 2^31 from the last value is still newer */
    p.tsval = fc->c->ts_recent + 0x7ffffff0u;
    peer_tx(&p, TCP_F_ACK, "w", 1);
    assert_int_equal(fc->rxlen, 4);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* ts_recent moves only with a segment whose ACK is acceptable: a forged
 * one without ACK that lands in the window, carrying a timestamp far
 * ahead, is dropped without touching it, so the peer's next segment still
 * passes PAWS. And after 24 days without an acceptable segment ts_recent
 * is stale (RFC 7323 5.5): an older timestamp passes. */
static void test_ts_recent_needs_acceptable_ack(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint32_t real;

    (void)state;
    peer_init(&p, f, 50025, 1);
    fc = accept_conn(&p);
    real = p.tsval;
    p.tsval = fc->c->ts_recent + 0x7ffffff0u;
    peer_tx(&p, 0, "forged", 6);                  /* no ACK flag */
    p.seq -= 6;
    assert_int_equal(cnt(f)->drop.tcp_no_ack, 1);
    p.ack += 1000;                                /* an ACK of nothing sent */
    peer_tx(&p, TCP_F_ACK, "forged", 6);
    p.ack -= 1000;
    p.seq -= 6;
    assert_int_equal(cnt(f)->drop.tcp_ack_unsent, 1);
    fp_drain(f);
    p.tsval = real;
    peer_tx(&p, TCP_F_ACK, "real", 4);
    assert_int_equal(fc->rxlen, 4);
    assert_int_equal(cnt(f)->drop.tcp_paws, 0);
    fp_drain(f);
    /* 24 days and a bit of silence: the peer's clock may have wrapped */
    fp_advance(f, TCP_PAWS_IDLE_US + 1000 * MS);
    p.tsval = fc->c->ts_recent - 1000;
    peer_tx(&p, TCP_F_ACK, "late", 4);
    assert_int_equal(fc->rxlen, 8);
    /* ... and it replaced ts_recent: the peer's next segment passes too */
    fp_advance(f, 10 * MS);
    peer_tx(&p, TCP_F_ACK, "next", 4);
    assert_int_equal(fc->rxlen, 12);
    assert_int_equal(cnt(f)->drop.tcp_paws, 0);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* ACKs for refused segments without data are one per 500 ms per
 * connection; refused data is always answered. */
static void test_refusal_acks_limited(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50026, 1);
    fc = accept_conn(&p);
    p.ack += 1000;                                /* ACKs of nothing sent */
    peer_ack(&p);
    expect_ack(&p, p.seq);
    peer_ack(&p);
    peer_ack(&p);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_refusal_acks_limited, 2);
    p.seq -= 100;                                 /* old data: answered anyway */
    peer_tx(&p, TCP_F_ACK, "dup", 3);
    p.seq += 97;
    p.ack -= 1000;
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ack, p.seq);
    fp_advance(f, TCP_REFUSAL_ACK_US);
    p.ack += 1000;
    peer_ack(&p);
    p.ack -= 1000;
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->tcp_refusal_acks_limited, 2);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* Keep-alive: idle for ka_idle, a probe one below snd_una; an answer makes
 * it idle again; traffic postpones it; cnt unanswered probes and the
 * connection is reset and closed with -ETIMEDOUT. */
static void test_keepalive(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint8_t buf[8];
    size_t have = 0;

    (void)state;
    peer_init(&p, f, 50027, 1);
    fc = accept_conn(&p);
    net_tcp_keepalive(fc->c, 1000, 300, 3);
    fp_advance(f, 999 * MS);
    expect_nothing(f);
    fp_advance(f, 2 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK);
    assert_int_equal(g.len, 0);
    assert_int_equal(g.seq, p.ack - 1);
    assert_int_equal(cnt(f)->tcp_keepalive_probes, 1);
    peer_ack(&p);                                 /* the peer answers */
    fp_advance(f, 600 * MS);
    expect_nothing(f);
    /* traffic both ways at 600 ms: the next probe waits until 1600 */
    peer_tx(&p, TCP_F_ACK, "ping", 4);
    assert_int_equal(net_tcp_send(fc->c, "pong", 4), 4);
    fp_flush(f);
    peer_read(&p, buf, &have, sizeof(buf));
    peer_ack(&p);
    fp_advance(f, 900 * MS);
    expect_nothing(f);
    fp_advance(f, 102 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, p.ack - 1);
    assert_int_equal(cnt(f)->tcp_keepalive_probes, 2);
    /* now the peer is gone: two more probes 300 ms apart, then a RST */
    for (int i = 0; i < 2; i++) {
        fp_advance(f, 301 * MS);
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.len, 0);
        assert_int_equal(g.seq, p.ack - 1);
    }
    assert_int_equal(cnt(f)->tcp_keepalive_probes, 4);
    assert_int_equal(fc->closed, 0);
    fp_advance(f, 301 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_true(g.flags & TCP_F_RST);
    fp_flush(f);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, -ETIMEDOUT);
    assert_int_equal(cnt(f)->tcp_keepalive_timeouts, 1);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 0);
    fp_free(f);
}

/* Keep-alive leaves a connection with data in flight to the RTO (its own
 * give-up), and probes once it is idle again, counted from the ACK. */
static void test_keepalive_waits_for_rto(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50028, 1);
    fc = accept_conn(&p);
    net_tcp_keepalive(fc->c, 1000, 300, 3);
    assert_int_equal(net_tcp_send(fc->c, "data", 4), 4);
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);        /* not acknowledged */
    for (unsigned ms = 0; ms < 1500; ms += 50) {
        fp_advance(f, 50 * MS);
        while (peer_rx(&p, &g))
            assert_int_equal(g.len, 4);          /* retransmissions only */
    }
    assert_int_equal(cnt(f)->tcp_keepalive_probes, 0);
    p.ack += 4;
    peer_ack(&p);
    fp_advance(f, 999 * MS);
    expect_nothing(f);
    fp_advance(f, 400 * MS);                     /* the re-armed check, then idle */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.len, 0);
    assert_int_equal(g.seq, p.ack - 1);
    assert_int_equal(cnt(f)->tcp_keepalive_probes, 1);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* Segments that look like the predicted case (ESTABLISHED, in order,
 * ACK) but differ in one field take the full path: each keeps its full-path
 * outcome. */
static void test_header_prediction_edges(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50031, 1);
    fc = accept_conn(&p);
    /* ACK beyond what we sent, with data: dropped, ACK sent, not delivered */
    p.ack += 5;
    peer_tx(&p, TCP_F_ACK | TCP_F_PSH, "bad", 3);
    p.ack -= 5;
    p.seq -= 3;
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->drop.tcp_ack_unsent, 1);
    assert_int_equal(fc->rxlen, 0);
    /* the same TSval again (not older): delivered */
    p.tsval--;
    peer_tx(&p, TCP_F_ACK | TCP_F_PSH, "one", 3);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->rxlen, 3);
    /* URG set: the full path, which ignores it, delivers too */
    peer_tx(&p, TCP_F_ACK | TCP_F_URG, "two", 3);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->rxlen, 6);
    /* a segment one byte ahead: out of order, a duplicate ACK at once */
    p.seq++;
    peer_tx(&p, TCP_F_ACK, "x", 1);
    expect_ack(&p, p.seq - 2);
    assert_int_equal(fc->c->nooo, 1);
    p.seq -= 2;
    peer_tx(&p, TCP_F_ACK, "y", 1);             /* fills the hole: both delivered */
    p.seq++;
    expect_ack(&p, p.seq);
    assert_int_equal(fc->rxlen, 8);
    assert_memory_equal(fc->rx + 6, "yx", 2);
    /* the reply's ACK and new data in one segment: predicted, all at once */
    assert_int_equal(net_tcp_send(fc->c, "+OK\r\n", 5), 5);
    net_flush(f->s);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.len, 5);
    p.ack += 5;
    peer_tx(&p, TCP_F_ACK | TCP_F_PSH, "three", 5);
    expect_ack(&p, p.seq);
    assert_int_equal(fc->rxlen, 13);
    assert_int_equal(fc->c->sring.len, 0);
    assert_int_equal(fc->c->snd_una, fc->c->snd_max);
    /* with everything acknowledged the RTO is off: the wheel's stale entry
     * fires nothing when its slot comes */
    assert_int_equal(fc->c->rexmt_at, 0);
    f->now += 400 * MS;
    assert_int_equal(net_timers(f->s, f->now), 0);
    expect_nothing(f);
    assert_int_equal(fc->c->wheel_tick, 0);
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    expect_all_closed(f);
    fp_free(f);
}

/* ---- validation drops ------------------------------------------------------------ */

static void test_ack_validation(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint32_t una;

    (void)state;
    fp_config(&cfg);
    cfg.challenge_ack_per_s = 2;
    f = fp_new(&cfg, 0);
    /* SYN_RECEIVED: an ACK of something else is answered with RST */
    peer_init(&p, f, 50025, 1);
    p.win = 1000;
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack = g.seq + 7;
    peer_ack(&p);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_RST);
    assert_int_equal(g.seq, p.ack);
    assert_int_equal(cnt(f)->tcp_conns_half_open, 1);
    p.ack -= 6;
    peer_ack(&p);
    assert_int_equal(f->nconns, 1);
    fc = &f->conns[0];
    una = p.ack;
    /* ACK of unsent data: ACKed back, dropped */
    p.ack = una + 50;
    peer_tx(&p, TCP_F_ACK, "zz", 2);
    p.seq -= 2;
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->drop.tcp_ack_unsent, 2);
    assert_int_equal(fc->rxlen, 0);
    /* ACK older than the largest window (1000) allows */
    p.ack = una - 1001;
    peer_tx(&p, TCP_F_ACK, "zz", 2);
    p.seq -= 2;
    expect_ack(&p, p.seq);
    assert_int_equal(cnt(f)->drop.tcp_ack_old, 1);
    /* no ACK bit */
    p.ack = una;
    peer_tx(&p, 0, "zz", 2);
    p.seq -= 2;
    expect_nothing(f);
    assert_int_equal(cnt(f)->drop.tcp_no_ack, 1);
    /* SYNs: one challenge ACK per connection per 500 ms */
    for (int i = 0; i < 3; i++)
        peer_tx_noflush(&p, TCP_F_SYN, NULL, 0), p.seq--;
    net_flush(f->s);
    assert_int_equal(fp_tx_pending(f), 1);
    fp_drain(f);
    assert_int_equal(cnt(f)->drop.tcp_syn_challenge, 3);
    assert_int_equal(cnt(f)->drop.tcp_challenge_limit, 2);
    assert_int_equal(cnt(f)->tcp_challenge_acks, 1);
    fp_advance(f, 1000 * MS);
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    p.seq--;
    assert_int_equal(fp_tx_pending(f), 1);
    fp_drain(f);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    /* and per core: a budget drawn each second between half the limit and
     * 1.5 times it (here 1 or 2) across connections */
    {
        struct peer q[4];
        uint64_t acks0, sent;

        for (int i = 0; i < 4; i++) {
            peer_init(&q[i], f, (uint16_t)(50100 + i), 1);
            accept_conn(&q[i]);
        }
        fp_advance(f, 1000 * MS);
        acks0 = cnt(f)->tcp_challenge_acks;
        for (int i = 0; i < 4; i++)
            peer_tx_noflush(&q[i], TCP_F_SYN, NULL, 0), q[i].seq--;
        net_flush(f->s);
        sent = cnt(f)->tcp_challenge_acks - acks0;
        assert_true(sent >= 1 && sent <= 2);
        assert_int_equal(fp_tx_pending(f), sent);
        fp_drain(f);
        for (unsigned i = 1; i < f->nconns; i++)
            net_tcp_abort(f->conns[i].c);
    }
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_listener_and_header_drops(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct rte_mbuf *m;

    (void)state;
    fp_config(&cfg);
    cfg.rx_csum_offload = 1;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50026, 1000);
    /* ACK to the listener with no connection: RST <SEQ=SEG.ACK> */
    p.ack = 4242;
    peer_tx(&p, TCP_F_ACK, "data", 4);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_RST);
    assert_int_equal(g.seq, 4242);
    assert_int_equal(cnt(f)->drop.tcp_no_conn, 1);
    /* FIN alone: dropped */
    peer_tx(&p, TCP_F_FIN, NULL, 0);
    expect_nothing(f);
    assert_int_equal(cnt(f)->drop.tcp_listen_bad, 1);
    /* SYN+FIN, SYN+RST: never valid */
    peer_tx(&p, TCP_F_SYN | TCP_F_FIN, NULL, 0);
    peer_tx(&p, TCP_F_SYN | TCP_F_RST, NULL, 0);
    expect_nothing(f);
    assert_int_equal(cnt(f)->drop.tcp_bad_flags, 2);
    /* another port of our address: the kernel's (exception path) */
    p.dport = 16379;
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    expect_nothing(f);
    assert_int_equal(fp_exc_pending(f), 1);
    fp_drain(f);
    p.dport = FP_PORT;
    /* short header, bad offsets */
    {
        uint8_t th[20] = { 0 };

        fp_input1(f, fp_ip_frame(f, IPPROTO_TCP, 0, 0, th, 19));
        assert_int_equal(cnt(f)->drop.tcp_short, 1);
        th[12] = 4 << 4;                                /* 16-byte header */
        m = fp_ip_frame(f, IPPROTO_TCP, 0, 0, th, 20);
        fp_fix_tcp_csum(m);
        fp_input1(f, m);
        th[12] = 6 << 4;                                /* 24 bytes, 20 present */
        m = fp_ip_frame(f, IPPROTO_TCP, 0, 0, th, 20);
        fp_fix_tcp_csum(m);
        fp_input1(f, m);
        assert_int_equal(cnt(f)->drop.tcp_bad_off, 2);
    }
    /* checksum: wrong in software, and the NIC's verdict when it gives one */
    peer_seg(&p, &g, TCP_F_SYN);
    m = fp_tcp_frame(f, &g);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 4)[0] ^= 1;
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.tcp_bad_csum, 1);
    m = fp_tcp_frame(f, &g);
    m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.tcp_bad_csum, 2);
    m = fp_tcp_frame(f, &g);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 4)[0] ^= 1;
    m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;         /* trusted */
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.tcp_bad_csum, 2);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.ack, (p.seq ^ (1u << 24)) + 1);  /* the flipped seq byte */
    /* a SYN carrying data: the data is not acknowledged (peer resends it) */
    fp_drain(f);
    peer_init(&p, f, 50027, 5000);
    peer_tx(&p, TCP_F_SYN, "early", 5);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ack, 5001);
    fp_free(f);
}

static void test_syn_flood_bounded(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_conn *fc;

    (void)state;
    fp_config(&cfg);
    cfg.max_half_open = 16;
    cfg.max_conns = 64;
    f = fp_new(&cfg, 0);
    for (unsigned i = 0; i < 500; i++) {
        struct fp_seg g;

        fp_seg_init(&g);
        g.sip = 0xC6120100u + (i & 0xff);            /* spoofed sources 198.18.1.x */
        g.sport = (uint16_t)(10000 + i);
        g.seq = i * 7919u;
        g.flags = TCP_F_SYN;
        fp_send(f, &g);
        fp_drain(f);
        assert_true(cnt(f)->tcp_conns_half_open <= 16);
        assert_true(cnt(f)->tcp_conns_open <= 16);
    }
    assert_int_equal(cnt(f)->drop.tcp_syn_evicted, 500 - 16);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 0);      /* half-open holds no rings */
    assert_int_equal(cnt(f)->drop.tcp_conn_full, 0);
    /* a real client still gets through */
    peer_init(&p, f, 50028, 1);
    fc = accept_conn(&p);
    assert_int_equal(fc->c->state, TCP_ESTABLISHED);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_conn_table_full_and_time_wait_recycle(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p[5];
    struct fp_seg g;

    (void)state;
    fp_config(&cfg);
    cfg.max_conns = 4;
    cfg.max_half_open = 4;
    f = fp_new(&cfg, 0);
    for (int i = 0; i < 4; i++) {
        peer_init(&p[i], f, (uint16_t)(53000 + i), 1);
        accept_conn(&p[i]);
    }
    peer_init(&p[4], f, 53004, 1);
    peer_tx(&p[4], TCP_F_SYN, NULL, 0);
    expect_nothing(f);
    assert_int_equal(cnt(f)->drop.tcp_conn_full, 1);
    /* one goes to TIME_WAIT: its slot is recycled for the next SYN */
    net_tcp_close(f->conns[0].c);
    fp_flush(f);
    finish_from_peer(&p[0]);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 1);
    p[4].seq--;
    peer_tx(&p[4], TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p[4], &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 0);
    assert_int_equal(cnt(f)->tcp_conns_open, 4);
    for (int i = 1; i < 4; i++)
        net_tcp_abort(f->conns[i].c);
    fp_flush(f);
    fp_free(f);
}

static void test_time_wait_reuse(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint32_t old_seq;

    (void)state;
    peer_init(&p, f, 50029, 1);
    fc = accept_conn(&p);
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 1);
    /* RFC 6191: a SYN above the old sequence space opens a new incarnation */
    old_seq = p.seq;
    p.seq = old_seq + 100000;
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.ack, old_seq + 100001);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 0);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(f->nconns, 2);
    net_tcp_abort(f->conns[1].c);
    fp_flush(f);
    fp_free(f);
}

static void test_accept_refused(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;

    (void)state;
    f->refuse_accept = 1;
    peer_init(&p, f, 50030, 1);
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_true(g.flags & TCP_F_RST);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    assert_int_equal(f->nconns, 0);
    fp_free(f);
}

static void test_buffer_budget(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p, q;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    fp_config(&cfg);
    cfg.buf_budget = 32768;                 /* one connection's two 16 KiB rings */
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50031, 1);
    fc = accept_conn(&p);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 32768);
    peer_init(&q, f, 50032, 1);
    peer_tx(&q, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&q, &g), 1);
    q.ack = g.seq + 1;
    peer_ack(&q);
    assert_int_equal(peer_rx(&q, &g), 1);
    assert_true(g.flags & TCP_F_RST);
    assert_int_equal(cnt(f)->drop.tcp_buf_nomem, 1);
    fp_learn_peer(f);
    assert_null(fp_connect(f, FP_PEER_IP, 7004, &rc));
    assert_int_equal(rc, -ENOMEM);
    net_tcp_abort(fc->c);
    fp_flush(f);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 0);
    fp_free(f);
}

/* ---- resources and the port ------------------------------------------------------ */

static void test_mbuf_exhaustion_recovers(void **state)
{
    struct fp *f = fp_new(NULL, 63);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    struct rte_mbuf *hold[64];
    unsigned nhold = 0;

    (void)state;
    peer_init(&p, f, 50033, 1);
    fc = accept_conn(&p);
    /* the frames the stack recycles are mbufs too */
    net_tx_recycle_release(f->s);
    while (nhold < 64 && (hold[nhold] = rte_pktmbuf_alloc(f->pool)) != NULL)
        nhold++;
    net_tcp_send(fc->c, "reply", 5);
    fp_flush(f);
    expect_nothing(f);
    assert_true(cnt(f)->drop.mbuf_alloc >= 1);
    for (unsigned i = 0; i < nhold; i++)
        rte_pktmbuf_free(hold[i]);
    /* the retransmission timer retries */
    fp_advance(f, 200 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.len, 5);
    assert_memory_equal(g.payload, "reply", 5);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_tx_hook_refuses(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    peer_init(&p, f, 50034, 1);
    fc = accept_conn(&p);
    f->tx_take = 0;
    net_tcp_send(fc->c, "lost", 4);
    fp_flush(f);
    assert_int_equal(cnt(f)->drop.tx_full, 1);
    f->tx_take = -1;
    fp_advance(f, 200 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_memory_equal(g.payload, "lost", 4);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_delayed_ack_timer(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_conn *fc;

    (void)state;
    fp_config(&cfg);
    cfg.delack_ms = 40;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50035, 1);
    fc = accept_conn(&p);
    peer_tx(&p, TCP_F_ACK, "one", 3);
    expect_nothing(f);
    fp_advance(f, 40 * MS - 1);
    expect_nothing(f);
    fp_advance(f, 1);
    expect_ack(&p, p.seq);
    /* every second segment is ACKed at once (RFC 9293 3.8.6.3) */
    peer_tx(&p, TCP_F_ACK, "two", 3);
    expect_nothing(f);
    peer_tx(&p, TCP_F_ACK, "three", 5);
    expect_ack(&p, p.seq);
    /* a reply in the same turn still carries it */
    peer_tx_noflush(&p, TCP_F_ACK, "four", 4);
    net_tcp_send(fc->c, "ok", 2);
    net_flush(f->s);
    {
        struct fp_seg g;

        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.len, 2);
        assert_int_equal(g.ack, p.seq);
    }
    p.ack += 2;
    peer_ack(&p);                       /* (else a loss probe would follow) */
    fp_advance(f, 100 * MS);
    expect_nothing(f);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

/* transport.h's struct conn_ops over this stack, as the DPDK glue will do it */
struct tconn {
    struct conn c;
    struct tcp_conn *tc;
};

static ssize_t top_send(struct conn *c, const void *p, size_t n)
{
    return net_tcp_send(((struct tconn *)c)->tc, p, n);
}

static void top_pause(struct conn *c, int paused)
{
    net_tcp_pause_input(((struct tconn *)c)->tc, paused);
}

static void top_close(struct conn *c)
{
    net_tcp_close(((struct tconn *)c)->tc);
}

static const struct conn_ops tops = { .send = top_send, .pause_input = top_pause, .close = top_close };

static void test_conn_ops_adapter(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    struct tconn t = { .c = { .ops = &tops, .fd = -1 } };
    static uint8_t big[40000];

    (void)state;
    peer_init(&p, f, 50036, 1);
    p.win = 65535;
    fc = accept_conn(&p);
    t.tc = fc->c;
    /* send: takes what the ring holds, 0 when full, writable later */
    assert_int_equal(t.c.ops->send(&t.c, big, sizeof(big)), 16384);
    assert_int_equal(t.c.ops->send(&t.c, big, 1), 0);
    fp_flush(f);
    {
        uint8_t sink[16384];
        size_t have = 0;

        peer_read(&p, sink, &have, sizeof(sink));
        peer_ack(&p);
        assert_true(have > 0);
    }
    assert_true(fc->writable >= 1);
    /* pause_input: bytes wait; resume delivers them */
    t.c.ops->pause_input(&t.c, 1);
    peer_tx(&p, TCP_F_ACK, "abc", 3);
    assert_int_equal(fc->rxlen, 0);
    t.c.ops->pause_input(&t.c, 0);
    fp_flush(f);
    assert_int_equal(fc->rxlen, 3);
    /* close: client_closed (on_closed) never from inside close */
    t.c.ops->close(&t.c);
    assert_int_equal(fc->closed, 0);
    assert_int_equal(t.c.ops->send(&t.c, "x", 1), -EPIPE);
    fp_flush(f);
    assert_int_equal(fc->closed, 1);
    fp_drain(f);
    (void)g;
    fp_free(f);
}

/* ---- more edges --------------------------------------------------------------- */

/* net_copy, which moves replies into the send ring and out into frames:
 * every length across each of its size classes and into memcpy's, at
 * every start alignment of source and destination; not a byte outside
 * [dst, dst + n) written. */
static void test_net_copy_lengths(void **state)
{
    uint8_t src[64], dst[80], want[80];

    (void)state;
    fill(src, sizeof(src), 9);
    for (size_t n = 0; n <= 40; n++)
        for (size_t so = 0; so < 8; so++)
            for (size_t d0 = 0; d0 < 8; d0++) {
                memset(dst, 0xa5, sizeof(dst));
                memset(want, 0xa5, sizeof(want));
                memcpy(want + 8 + d0, src + so, n);
                net_copy(dst + 8 + d0, src + so, n);
                assert_memory_equal(dst, want, sizeof(dst));
            }
}

static void test_chained_mbufs(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[1001];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 14);
    peer_init(&p, f, 50037, 1);
    fc = accept_conn(&p);
    s0 = p.seq;
    /* headers and 7 payload bytes in the first mbuf, the rest in a second:
     * an odd split, so the checksum must keep byte positions */
    for (int pass = 0; pass < 2; pass++) {
        struct fp_seg g;
        struct rte_mbuf *m, *tail;
        uint32_t off = pass == 0 ? 500 : 0;         /* out of order first */
        uint32_t hlen;

        peer_seg(&p, &g, TCP_F_ACK);
        g.seq = s0 + off;
        g.data = d + off;
        g.len = pass == 0 ? 501 : 500;
        m = fp_tcp_frame(f, &g);
        hlen = m->pkt_len - g.len;
        tail = rte_pktmbuf_alloc(f->pool);
        assert_non_null(tail);
        memcpy(rte_pktmbuf_append(tail, (uint16_t)(g.len - 7)),
               rte_pktmbuf_mtod_offset(m, uint8_t *, hlen + 7), g.len - 7);
        rte_pktmbuf_trim(m, (uint16_t)(g.len - 7));
        assert_int_equal(rte_pktmbuf_chain(m, tail), 0);
        fp_input1(f, m);
    }
    fp_drain(f);
    assert_int_equal(cnt(f)->drop.tcp_bad_csum, 0);
    assert_int_equal(fc->rxlen, 1001);
    assert_memory_equal(fc->rx, d, 1001);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_window_trim(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[16384 + 1448];
    uint32_t fed = 0;

    (void)state;
    fill(d, sizeof(d), 15);
    peer_init(&p, f, 50038, 1);
    fc = accept_conn(&p);
    net_tcp_pause_input(fc->c, 1);
    while (fed < 16384 - 1000) {
        uint32_t n = 16384 - 1000 - fed < 1448 ? 16384 - 1000 - fed : 1448;

        peer_tx(&p, TCP_F_ACK, d + fed, n);
        fed += n;
    }
    fp_drain(f);
    /* 1448 bytes into a 1000-byte window: the tail is cut, the rest kept */
    peer_tx(&p, TCP_F_ACK, d + fed, 1448);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.ack, p.seq - 448);
    assert_int_equal(g.win, 0);
    assert_int_equal(cnt(f)->drop.tcp_beyond_wnd, 1);
    net_tcp_pause_input(fc->c, 0);
    fp_flush(f);
    assert_int_equal(fc->rxlen, 16384);
    assert_memory_equal(fc->rx, d, 16384);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_congestion_avoidance(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[4 * MSS_TS];
    uint32_t cwnd;

    (void)state;
    peer_init(&p, f, 50039, 1);
    fc = accept_conn(&p);
    fc->c->ssthresh = fc->c->cwnd;              /* as if after a loss */
    cwnd = fc->c->cwnd;
    net_tcp_send(fc->c, d, sizeof(d));
    fp_flush(f);
    while (peer_rx(&p, &g)) {
        p.ack += g.len;
        peer_ack(&p);
        /* RFC 5681 3.1 (3): about one MSS per window, not per ACK */
        assert_int_equal(fc->c->cwnd, cwnd + MSS_TS * MSS_TS / cwnd);
        cwnd = fc->c->cwnd;
    }
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_persist_timeout_and_window_closing_in_flight(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[2000];

    (void)state;
    fp_config(&cfg);
    cfg.data_retries = 3;
    f = fp_new(&cfg, 0);
    fill(d, sizeof(d), 16);
    /* a window that closes while bytes are in flight: the RTO turns into
     * probing instead of counting toward a timeout */
    peer_init(&p, f, 50040, 1);
    fc = accept_conn(&p);
    net_tcp_send(fc->c, d, sizeof(d));
    fp_flush(f);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack += MSS_TS;
    p.win = 0;
    peer_ack(&p);
    fp_advance(f, 200 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.len, 1);
    assert_int_equal(g.seq, p.ack);
    assert_true(fc->c->persist);
    assert_int_equal(cnt(f)->tcp_probes_sent, 1);
    /* a window update and the rest follows */
    p.win = 65535;
    peer_ack(&p);
    assert_false(fc->c->persist);
    {
        static uint8_t got[2000];
        size_t have = MSS_TS;

        memcpy(got, d, MSS_TS);
        peer_read(&p, got, &have, sizeof(got));
        assert_int_equal(have, 2000);
        assert_memory_equal(got, d, 2000);
    }
    peer_ack(&p);
    /* a peer that stops answering probes: given up after data_retries */
    p.win = 0;
    peer_ack(&p);
    net_tcp_send(fc->c, d, 10);
    fp_flush(f);
    expect_nothing(f);
    for (uint32_t wait = 200; wait <= 800; wait *= 2) {
        fp_advance(f, wait * MS);
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.len, 1);
    }
    fp_advance(f, 1600 * MS);
    assert_int_equal(fc->closed, 1);
    assert_int_equal(fc->close_err, -ETIMEDOUT);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

/* A connection the app closed while the peer keeps its window shut and
 * answers every probe: it would live forever on answered probes alone, so
 * an orphan counts them all, then resets the peer and frees itself. */
static void test_orphan_persist_bounded(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[100];
    unsigned probes = 0, rst = 0;

    (void)state;
    fp_config(&cfg);
    cfg.orphan_retries = 3;
    f = fp_new(&cfg, 0);
    fill(d, sizeof(d), 17);
    peer_init(&p, f, 50041, 1);
    p.win = 0;
    fc = accept_conn(&p);
    net_tcp_send(fc->c, d, sizeof(d));
    net_tcp_close(fc->c);
    fp_flush(f);
    expect_nothing(f);
    for (unsigned ms = 0; ms < 600000 && !rst; ms += 100) {
        fp_advance(f, 100 * MS);
        while (peer_rx(&p, &g)) {
            if (g.flags & TCP_F_RST) {
                rst = 1;
                break;
            }
            assert_int_equal(g.len, 1);          /* a window probe */
            assert_int_equal(g.seq, p.ack);
            probes++;
            peer_ack(&p);                         /* answered, window still 0 */
        }
    }
    assert_int_equal(rst, 1);
    assert_int_equal(probes, cfg.orphan_retries);
    assert_int_equal(cnt(f)->tcp_orphans_reset, 1);
    assert_int_equal(cnt(f)->tcp_conns_timedout, 1);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    assert_int_equal(cnt(f)->tcp_buf_bytes, 0);
    fp_free(f);
}

static void test_syn_lost_rto_3s(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    fp_learn_peer(f);
    fc = fp_connect(f, FP_PEER_IP, 7005, &rc);
    fp_flush(f);
    fp_drain(f);
    fp_advance(f, 1000 * MS);                   /* the SYN is sent again */
    peer_init(&p, f, 7005, 1);
    p.dport = 40000;
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack = g.seq + 1;
    peer_tx(&p, TCP_F_SYN | TCP_F_ACK, NULL, 0);
    assert_int_equal(fc->connected, 1);
    /* RFC 6298 5.7: no usable sample, the RTO for data starts at 3 s */
    assert_int_equal(fc->c->rto_us, 3000 * MS);
    assert_int_equal(fc->c->srtt_us, 0);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_timer_wheel(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p[5];
    struct fp_conn *fc[5];
    unsigned n;

    (void)state;
    fp_config(&cfg);
    cfg.time_wait_ms = 10000;                   /* longer than one 4.1 s wheel turn */
    cfg.tlp = 0;                                /* RTOs only */
    f = fp_new(&cfg, 0);
    /* five RTOs due in the same tick, run with a budget of two */
    for (int i = 0; i < 5; i++) {
        peer_init(&p[i], f, (uint16_t)(54000 + i), 1);
        fc[i] = accept_conn(&p[i]);
    }
    for (int i = 0; i < 5; i++)
        net_tcp_send(fc[i]->c, "x", 1);
    fp_flush(f);
    fp_drain(f);
    f->now += 200 * MS;
    assert_int_equal(tcp_timers_run(f->s, f->now, 2), 2);
    assert_int_equal(tcp_timers_run(f->s, f->now, 2), 2);
    assert_int_equal(tcp_timers_run(f->s, f->now, 2), 1);
    assert_int_equal(tcp_timers_run(f->s, f->now, 2), 0);
    net_flush(f->s);
    assert_int_equal(fp_tx_pending(f), 5);
    fp_drain(f);
    /* a jump of 20 s: each pending RTO fires once, nothing is lost */
    f->now += 20000 * MS;
    n = net_timers(f->s, f->now);
    assert_int_equal(n, 5);
    assert_int_equal(fp_tx_pending(f), 5);
    fp_drain(f);
    for (int i = 0; i < 5; i++) {
        p[i].ack += 1;
        peer_ack(&p[i]);
    }
    /* TIME_WAIT of 10 s: survives two and a half turns of the wheel */
    net_tcp_close(fc[0]->c);
    fp_flush(f);
    finish_from_peer(&p[0]);
    for (int i = 0; i < 19; i++)
        fp_advance(f, 500 * MS);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 1);
    fp_advance(f, 502 * MS);
    assert_int_equal(cnt(f)->tcp_conns_time_wait, 0);
    for (int i = 1; i < 5; i++)
        net_tcp_abort(fc[i]->c);
    fp_flush(f);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_config_and_defaults(void **state)
{
    struct net_config cfg;
    struct fp *f = fp_new(NULL, 0);
    struct rte_mempool *small;
    struct fp_seg g;
    struct peer p;
    struct fp_conn *a, *b;
    struct net_tuple t;
    int64_t mem0 = mem_used();
    int rc;

    (void)state;
    /* invalid configurations are refused without leaking */
    fp_config(&cfg);
    assert_null(net_stack_create(&cfg, NULL, NULL));                 /* no pool */
    cfg.pool = f->pool;
    cfg.mtu = 500;
    assert_null(net_stack_create(&cfg, NULL, NULL));
    fp_config(&cfg);
    cfg.pool = f->pool;
    cfg.mss = 1461;
    assert_null(net_stack_create(&cfg, NULL, NULL));
    fp_config(&cfg);
    cfg.pool = f->pool;
    cfg.max_conns = 0;
    assert_null(net_stack_create(&cfg, NULL, NULL));
    fp_config(&cfg);
    cfg.pool = f->pool;
    cfg.eph_lo = 100;
    cfg.eph_hi = 99;
    assert_null(net_stack_create(&cfg, NULL, NULL));
    fp_config(&cfg);
    cfg.pool = f->pool;
    cfg.delack_ms = 501;
    assert_null(net_stack_create(&cfg, NULL, NULL));
    small = rte_pktmbuf_pool_create("fp_small", 63, 0, 0, 1024, SOCKET_ID_ANY);
    assert_non_null(small);
    fp_config(&cfg);
    cfg.pool = small;                                                /* 1024 < MTU frames */
    assert_null(net_stack_create(&cfg, NULL, NULL));
    rte_mempool_free(small);
    assert_int_equal(mem_used(), mem0);
    /* listen */
    assert_int_equal(net_listen(f->s, FP_PORT), -EEXIST);
    for (uint16_t i = 1; i < NET_MAX_LISTEN; i++)
        assert_int_equal(net_listen(f->s, (uint16_t)(FP_PORT + i)), 0);
    assert_int_equal(net_listen(f->s, 9), -ENOSPC);
    /* without the test's hooks: RFC 6528 ISNs, ports from eph_lo up */
    f->s->hooks.isn = NULL;
    f->s->hooks.pick_port = NULL;
    fp_learn_peer(f);
    a = fp_connect(f, FP_PEER_IP, 7006, &rc);
    b = fp_connect(f, FP_PEER_IP, 7006, &rc);
    net_tcp_tuple(a->c, &t);
    assert_int_equal(t.lport, 49152);
    net_tcp_tuple(b->c, &t);
    assert_int_equal(t.lport, 49153);
    assert_true(a->c->iss != b->c->iss);
    peer_init(&p, f, 50041, 1);
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    fp_flush(f);
    fp_drain(f);
    assert_true(f->s->tcp.half_open.head->iss != 1000);
    net_tcp_abort(a->c);
    net_tcp_abort(b->c);
    fp_flush(f);
    fp_drain(f);
    (void)g;
    assert_true(net_drop_desc(0)[0] != '\0');
    assert_string_equal(net_drop_name(NET_DROP__COUNT), "?");
    assert_string_equal(tcp_state_name(TCP_TIME_WAIT), "TIME_WAIT");
    fp_free(f);
}

static void test_small_window_no_stall(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    uint8_t d[1000], got[1000];
    size_t have = 0;

    (void)state;
    fill(d, sizeof(d), 17);
    peer_init(&p, f, 50042, 1);
    fc = accept_conn(&p);
    p.win = 100;                                /* far below half the largest offered */
    peer_ack(&p);
    net_tcp_send(fc->c, d, sizeof(d));
    fp_flush(f);
    /* nothing in flight: the small segment goes rather than wait forever */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.len, 100);
        assert_int_equal(g.seq, p.ack);
        memcpy(got + have, g.payload, g.len);
        have += g.len;
        p.ack += g.len;
        expect_nothing(f);
        peer_ack(&p);
    }
    assert_memory_equal(got, d, sizeof(d));
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_free(f);
}

static void test_close_inside_accept(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;

    (void)state;
    f->close_in_accept = 1;
    peer_init(&p, f, 50043, 1);
    peer_tx(&p, TCP_F_SYN, NULL, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    p.ack = g.seq + 1;
    peer_ack(&p);
    assert_int_equal(f->nconns, 1);
    fc = &f->conns[0];
    assert_int_equal(fc->closed, 1);            /* heard at the flush, with its ctx */
    assert_int_equal(fc->close_err, 0);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK | TCP_F_FIN);
    p.ack = g.seq + 1;
    peer_tx(&p, TCP_F_ACK | TCP_F_FIN, NULL, 0);
    expect_ack(&p, p.seq);
    expect_all_closed(f);
    fp_free(f);
}

/* ---- two stacks over a bad wire ---------------------------------------------- */

struct side {
    struct net_stack *s;
    struct rte_mbuf *q[4096];
    unsigned n;
};

struct papp {
    struct side *side;
    struct tcp_conn *c;
    uint8_t *rx;
    size_t rxlen;
    int echo, eof, closed, connected;
};

static struct papp pair_srv;                /* the echo server's one connection */

static uint16_t side_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct side *sd = arg;

    for (uint16_t i = 0; i < n; i++) {
        assert_true(sd->n < 4096);
        sd->q[sd->n++] = pkts[i];
    }
    return n;
}

static uint16_t side_exc(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    (void)arg;
    for (uint16_t i = 0; i < n; i++)
        rte_pktmbuf_free(pkts[i]);
    return n;
}

static void *pair_accept(void *arg, struct tcp_conn *c)
{
    (void)arg;
    assert_null(pair_srv.c);
    pair_srv.c = c;
    pair_srv.echo = 1;
    return &pair_srv;
}

static void pair_connected(void *ctx)
{
    ((struct papp *)ctx)->connected++;
}

static size_t pair_data(void *ctx, const void *p, size_t n)
{
    struct papp *a = ctx;
    ssize_t k;

    if (n == 0) {
        a->eof++;
        return 0;
    }
    if (!a->echo) {
        memcpy(a->rx + a->rxlen, p, n);
        a->rxlen += n;
        return n;
    }
    /* echo what fits; the rest waits in our receive ring (back-pressure)
     * until on_writable resumes input */
    k = net_tcp_send(a->c, p, n);
    assert_true(k >= 0);
    return (size_t)k;
}

static void pair_writable(void *ctx)
{
    struct papp *a = ctx;

    if (a->echo)
        net_tcp_pause_input(a->c, 0);
}

static void pair_closed(void *ctx, int err)
{
    struct papp *a = ctx;

    assert_int_equal(err, 0);
    a->closed++;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

struct badness {
    unsigned loss, dup, swap;        /* percent of frames */
};

/* Move what `from` sent to `to`, losing, duplicating and swapping frames
 * with the previous one as `b` says. */
static void wire(struct side *from, struct side *to, struct rte_mempool *pool, uint64_t now,
                 const struct badness *b)
{
    struct rte_mbuf *out[8192];
    unsigned n = 0;

    for (unsigned i = 0; i < from->n; i++) {
        struct rte_mbuf *m = from->q[i];
        uint32_t r = rng() % 100;

        if (r < b->loss) {
            rte_pktmbuf_free(m);
            continue;
        }
        if (r < b->loss + b->dup) {
            struct rte_mbuf *d = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);

            if (d != NULL)
                out[n++] = d;
        }
        out[n++] = m;
        if (r >= 100 - b->swap && n >= 2) {
            struct rte_mbuf *t = out[n - 1];

            out[n - 1] = out[n - 2];
            out[n - 2] = t;
        }
    }
    from->n = 0;
    net_input_burst(to->s, out, n, now);
}

static void pair_run(const struct badness *bad, size_t N)
{
    struct net_config ca, cb;
    struct net_hooks ha = { 0 }, hb = { 0 };
    struct net_upcalls up = { .on_accept = pair_accept, .on_connected = pair_connected,
                              .on_data = pair_data, .on_writable = pair_writable,
                              .on_closed = pair_closed };
    static struct side A, B;
    struct papp cli = { 0 };
    struct rte_mempool *pool;
    uint8_t *src = malloc(N);
    int64_t mem0 = mem_used();
    uint64_t now = 1000000;
    size_t sent = 0;
    unsigned iter;

    fill(src, N, 18);
    memset(&pair_srv, 0, sizeof(pair_srv));
    memset(&A, 0, sizeof(A));
    memset(&B, 0, sizeof(B));
    pool = rte_pktmbuf_pool_create("pair", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    assert_non_null(pool);
    fp_config(&ca);
    ca.pool = pool;
    cb = ca;
    memcpy(cb.mac, fp_peer_mac, 6);
    cb.ip = FP_PEER_IP;
    cb.rcvbuf = 8192;                       /* small: the window closes often */
    ha.arg = &A;
    ha.tx = side_tx;
    ha.exception = side_exc;
    hb = ha;
    hb.arg = &B;
    A.s = net_stack_create(&ca, &ha, &up);
    B.s = net_stack_create(&cb, &hb, &up);
    assert_non_null(A.s);
    assert_non_null(B.s);
    assert_int_equal(net_listen(B.s, 6379), 0);
    net_input_burst(A.s, NULL, 0, now);
    net_input_burst(B.s, NULL, 0, now);
    cli.rx = malloc(N);
    assert_int_equal(net_tcp_connect(A.s, FP_PEER_IP, 6379, &cli, &cli.c), 0);
    for (iter = 0; iter < 2000000 && cli.rxlen < N; iter++) {
        now += 50;
        if (cli.connected && sent < N) {
            ssize_t k = net_tcp_send(cli.c, src + sent, N - sent);

            assert_true(k >= 0);
            sent += (size_t)k;
        }
        net_flush(A.s);
        net_flush(B.s);
        wire(&A, &B, pool, now, bad);
        net_flush(B.s);
        wire(&B, &A, pool, now, bad);
        if (iter % 20 == 0) {
            net_timers(A.s, now);
            net_timers(B.s, now);
        }
    }
    if (cli.rxlen < N) {
        /* a stall: show both ends before the assertion fails */
        struct tcp_conn *cs[2] = { cli.c, pair_srv.c };

        for (int k = 0; k < 2 && cs[k]; k++) {
            const struct tcp_conn *c = cs[k];

            print_message("  %c %s una %u nxt %u max %u wnd %u cwnd %u rcv_nxt %u adv %u "
                          "rlen %u persist %d nrexmt %u\n", k ? 'B' : 'A', tcp_state_name(c->state),
                          c->snd_una, c->snd_nxt, c->snd_max, c->snd_wnd, c->cwnd, c->rcv_nxt,
                          c->rcv_adv, c->rring.len, c->persist, c->nrexmt);
        }
    }
    print_message("  loss %u%% dup %u%% swap %u%%: %zu bytes echoed in %.1f ms; retransmits %lu/%lu, "
                  "fast %lu/%lu, RTO %lu/%lu\n", bad->loss, bad->dup, bad->swap, N, (now - 1000000) / 1000.0,
                  (unsigned long)net_counters(A.s)->tcp_retransmits, (unsigned long)net_counters(B.s)->tcp_retransmits,
                  (unsigned long)net_counters(A.s)->tcp_fast_retransmits, (unsigned long)net_counters(B.s)->tcp_fast_retransmits,
                  (unsigned long)net_counters(A.s)->tcp_rto_fired, (unsigned long)net_counters(B.s)->tcp_rto_fired);
    assert_int_equal(cli.rxlen, N);
    assert_memory_equal(cli.rx, src, N);
    if (bad->loss)
        assert_true(net_counters(A.s)->tcp_retransmits > 0);
    /* both close; run until every connection is gone (TIME_WAIT included) */
    net_tcp_close(cli.c);
    for (iter = 0; iter < 400000; iter++) {
        now += 50;
        if (pair_srv.eof && !pair_srv.closed && pair_srv.c) {
            net_tcp_close(pair_srv.c);
            pair_srv.c = NULL;
        }
        net_flush(A.s);
        net_flush(B.s);
        wire(&A, &B, pool, now, bad);
        net_flush(B.s);
        wire(&B, &A, pool, now, bad);
        if (iter % 20 == 0) {
            net_timers(A.s, now);
            net_timers(B.s, now);
        }
        if (net_counters(A.s)->tcp_conns_open == 0 && net_counters(B.s)->tcp_conns_open == 0)
            break;
    }
    assert_int_equal(cli.closed, 1);
    assert_int_equal(pair_srv.closed, 1);
    assert_int_equal(net_counters(A.s)->tcp_conns_open, 0);
    assert_int_equal(net_counters(B.s)->tcp_conns_open, 0);
    net_stack_free(A.s);
    net_stack_free(B.s);
    for (unsigned i = 0; i < A.n; i++)
        rte_pktmbuf_free(A.q[i]);
    for (unsigned i = 0; i < B.n; i++)
        rte_pktmbuf_free(B.q[i]);
    assert_int_equal(rte_mempool_avail_count(pool), 8191);
    rte_mempool_free(pool);
    assert_int_equal(mem_used(), mem0);
    free(cli.rx);
    free(src);
}

/* Stack A connects to stack B (ARP first), sends N bytes that B echoes
 * with back-pressure through an 8 KiB receive ring, both close; every byte
 * must come back intact and every connection, mbuf and byte be freed. */
static void test_two_stacks_lossy_wire(void **state)
{
    static const struct badness bad[] = {
        { 0, 0, 0 }, { 2, 1, 3 }, { 10, 2, 10 }, { 25, 5, 20 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        pair_run(&bad[i], i == 3 ? 100000 : 1000000);
}

/* ---- SACK (RFC 2018) and SACK-based recovery (RFC 6675) -------------------- */

/* A pure ACK of `ack` carrying exactly the n blocks given (offsets from
 * base, in the order expected). */
static void expect_sack(struct peer *p, uint32_t ack, uint32_t base, unsigned n, ...)
{
    struct fp_seg g;
    va_list ap;

    assert_int_equal(peer_rx(p, &g), 1);
    assert_int_equal(g.flags, TCP_F_ACK);
    assert_int_equal(g.ack, ack);
    assert_int_equal(g.nsack, n);
    va_start(ap, n);
    for (unsigned b = 0; b < n; b++) {
        uint32_t lo = va_arg(ap, uint32_t), hi = va_arg(ap, uint32_t);

        assert_int_equal(g.sack[b][0], base + lo);
        assert_int_equal(g.sack[b][1], base + hi);
    }
    va_end(ap);
}

/* A duplicate (or any) ACK from the peer with SACK blocks, offsets from base. */
static void peer_sack(struct peer *p, uint32_t base, unsigned n, ...)
{
    struct fp_seg g;
    va_list ap;

    peer_seg(p, &g, TCP_F_ACK);
    g.nsack = n;
    va_start(ap, n);
    for (unsigned b = 0; b < n; b++) {
        g.sack[b][0] = base + va_arg(ap, uint32_t);
        g.sack[b][1] = base + va_arg(ap, uint32_t);
    }
    va_end(ap);
    fp_send(p->f, &g);
}

/* End of a SACK case: abort the connection, let the RST go, and free the
 * fake port (which checks that every resource came back). */
static void abort_and_free(struct fp *f, struct fp_conn *fc)
{
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    fp_free(f);
}

static void test_sack_negotiation(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    int rc;

    (void)state;
    /* passive: answered only when offered, and only when configured */
    f = fp_new(NULL, 0);
    assert_int_equal(f->cfg.sack, 1);
    peer_init(&p, f, 50100, 1);
    p.sack = 1;
    fc = accept_conn(&p);
    assert_true(fc->c->sack_ok);
    peer_init(&p, f, 50101, 1);
    fc = accept_conn(&p);
    assert_false(fc->c->sack_ok);
    /* without timestamps the SYN-ACK still carries it (NOP NOP kind 4) */
    peer_init(&p, f, 50102, 1);
    p.sack = 1;
    p.ts = 0;
    fc = accept_conn(&p);
    assert_true(fc->c->sack_ok);
    assert_false(fc->c->ts_ok);
    for (unsigned i = 0; i < f->nconns; i++)
        net_tcp_abort(f->conns[i].c);
    fp_flush(f);
    fp_drain(f);
    fp_free(f);

    fp_config(&cfg);
    cfg.sack = 0;
    f = fp_new(&cfg, 0);
    peer_init(&p, f, 50103, 1);
    p.sack = 1;
    fc = accept_conn(&p);                   /* asserts no SACK-permitted back */
    assert_false(fc->c->sack_ok);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    /* active, not configured: not offered */
    fp_learn_peer(f);
    fc = fp_connect(f, FP_PEER_IP, 7000, &rc);
    assert_non_null(fc);
    fp_flush(f);
    assert_true(fp_pop_seg(f, &g));
    assert_int_equal(g.flags, TCP_F_SYN);
    assert_int_equal(g.sack_ok, 0);
    abort_and_free(f, fc);

    /* active: offered; used when the SYN-ACK answers it, not otherwise */
    for (int answer = 0; answer <= 1; answer++) {
        f = fp_new(NULL, 0);
        fp_learn_peer(f);
        fc = fp_connect(f, FP_PEER_IP, 7000, &rc);
        assert_non_null(fc);
        fp_flush(f);
        peer_init(&p, f, 7000, 90000);
        p.dport = 40000;
        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.flags, TCP_F_SYN);
        assert_int_equal(g.sack_ok, 1);
        assert_int_equal(g.ts, 1);
        assert_int_equal(g.ws, 0);
        assert_int_equal(g.mss, 1460);
        p.ack = g.seq + 1;
        peer_seg(&p, &g, TCP_F_SYN | TCP_F_ACK);
        g.mss = 1460;
        g.sack_ok = answer;
        fp_send(f, &g);
        p.seq++;
        assert_int_equal(fc->c->state, TCP_ESTABLISHED);
        assert_int_equal(fc->c->sack_ok, answer);
        net_tcp_abort(fc->c);
        fp_flush(f);
        fp_drain(f);
        assert_int_equal(cnt(f)->tcp_conns_open, 0);
        fp_free(f);
    }
}

/* A TSO port: data beyond an MSS leaves in frames the port cuts (the fake
 * port cuts them as a NIC would, checking each against DPDK's contract).
 * Returns the stack with `segs` mbufs a frame; frame_in_mtu as net.h. */
static struct fp *tso_port(unsigned segs, int frame_in_mtu)
{
    struct net_config cfg;
    struct fp *f;

    fp_config(&cfg);
    cfg.tx_csum_offload = 1;
    cfg.tso_segs = (uint8_t)segs;
    cfg.tso_frame_in_mtu = (uint8_t)frame_in_mtu;
    f = fp_new(&cfg, 0);
    f->tso_cut = 1;
    return f;
}

/* The app sends n bytes of out to the peer, which reads and ACKs each turn. */
static void tso_transfer(struct peer *p, struct fp_conn *fc, const uint8_t *out, size_t n)
{
    uint8_t *got = malloc(n);
    size_t sent = 0, have = 0;

    assert_non_null(got);
    for (int turn = 0; sent < n || have < n; turn++) {
        assert_true(turn < 1000);
        if (sent < n) {
            ssize_t k = net_tcp_send(fc->c, out + sent, n - sent);

            assert_true(k >= 0);
            sent += (size_t)k;
        }
        fp_flush(p->f);
        peer_read(p, got, &have, n);
        peer_ack(p);
    }
    assert_memory_equal(got, out, n);
    free(got);
}

static void test_tso_bulk(void **state)
{
    struct fp *f = tso_port(8, 0);
    struct net_config bad = f->cfg;
    struct peer p;
    struct fp_conn *fc;
    enum { N = 300000 };
    uint8_t *out = malloc(N);
    uint64_t segs0;

    (void)state;
    /* a port that cuts segments must also checksum them */
    bad.tx_csum_offload = 0;
    assert_null(net_stack_create(&bad, NULL, NULL));
    fill(out, N, 5);
    peer_init(&p, f, 50200, 777);
    fc = accept_conn(&p);
    segs0 = cnt(f)->tcp_segs_out;
    tso_transfer(&p, fc, out, N);
    /* frames of several MSS, chains within the port's limit, segments of
     * one MSS, and the counters telling frames from wire segments */
    assert_true(f->tso_frames > 0);
    assert_int_equal(cnt(f)->tcp_tso_frames, f->tso_frames);
    assert_true(f->tso_max_nb_segs >= 2 && f->tso_max_nb_segs <= 8);
    assert_int_equal(f->tso_segsz, MSS_TS);
    assert_true(f->tso_segs > f->tso_frames);
    assert_true(cnt(f)->tcp_segs_out - segs0 >= f->tso_segs);
    assert_true((cnt(f)->tcp_segs_out - segs0) * MSS_TS >= N);
    assert_int_equal(cnt(f)->tcp_retransmits, 0);
    net_tcp_close(fc->c);
    fp_flush(f);
    finish_from_peer(&p);
    expect_all_closed(f);
    free(out);
    fp_free(f);
}

/* net_tap's TSO counts each segment's Ethernet header against the MTU: the
 * stack's segments are then mtu - headers long. */
static void test_tso_frame_in_mtu(void **state)
{
    struct fp *f = tso_port(32, 1);
    struct peer p;
    struct fp_conn *fc;
    enum { N = 100000 };
    uint8_t *out = malloc(N);

    (void)state;
    fill(out, N, 6);
    peer_init(&p, f, 50201, 778);
    fc = accept_conn(&p);
    tso_transfer(&p, fc, out, N);
    assert_true(f->tso_frames > 0);
    assert_int_equal(f->tso_segsz, 1500 - (14 + 20 + 20 + 12));
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    free(out);
    fp_free(f);
}

/* While our ACKs owe SACK blocks the options differ segment by segment, so
 * data leaves MSS by MSS; once the hole is filled, TSO frames again. */
static void test_tso_not_while_sack_owed(void **state)
{
    struct fp *f = tso_port(8, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[200], *out = malloc(20000);
    struct fp_seg g;
    uint32_t s0;
    size_t have = 0;
    uint8_t *got = malloc(20000);

    (void)state;
    fill(d, sizeof(d), 7);
    fill(out, 20000, 8);
    peer_init(&p, f, 50202, 779);
    p.sack = 1;
    fc = accept_conn(&p);
    s0 = p.seq;
    p.seq = s0 + 100;
    peer_tx(&p, TCP_F_ACK, d + 100, 100);
    expect_sack(&p, s0, s0, 1, 100, 200);
    assert_int_equal(fc->c->nooo, 1);
    assert_int_equal(net_tcp_send(fc->c, out, 10000), 10000);
    fp_flush(f);
    assert_int_equal(f->tso_frames, 0);
    while (peer_rx(&p, &g)) {
        assert_true(g.len <= MSS_TS);
        assert_int_equal(g.seq, p.ack);
        memcpy(got + have, g.payload, g.len);
        have += g.len;
        p.ack += g.len;
    }
    assert_int_equal(have, 10000);
    /* the hole filled: nothing owed, the next reply goes as one frame */
    p.seq = s0;
    peer_tx(&p, TCP_F_ACK, d, 100);
    assert_int_equal(fc->c->nooo, 0);
    while (peer_rx(&p, &g))
        ;
    p.seq = s0 + 200;
    assert_int_equal(net_tcp_send(fc->c, out + 10000, 10000), 10000);
    fp_flush(f);
    assert_int_equal(f->tso_frames, 1);
    peer_read(&p, got, &have, 20000);
    assert_int_equal(have, 20000);
    assert_memory_equal(got, out, 20000);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    free(out);
    free(got);
    fp_free(f);
}

static void test_sack_blocks_out_of_order(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[1000];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 21);
    /* the peer's sequence numbers wrap at 2^32 in the middle of the islands */
    peer_init(&p, f, 50110, 0xFFFFFE00u);
    p.sack = 1;
    fc = accept_conn(&p);
    s0 = p.seq;
    assert_true(seq_lt(s0 + 300, s0 + 700) && s0 + 700 < s0);   /* 0xfffffe01 + 700 wraps */
    /* RFC 2018 4: the newest segment's block first, then the others */
    p.seq = s0 + 100;
    peer_tx(&p, TCP_F_ACK, d + 100, 100);
    expect_sack(&p, s0, s0, 1, 100, 200);
    p.seq = s0 + 300;
    peer_tx(&p, TCP_F_ACK, d + 300, 100);
    expect_sack(&p, s0, s0, 2, 300, 400, 100, 200);
    p.seq = s0 + 500;
    peer_tx(&p, TCP_F_ACK, d + 500, 100);
    expect_sack(&p, s0, s0, 3, 500, 600, 300, 400, 100, 200);
    /* at most three blocks beside timestamps: the oldest reported drops */
    p.seq = s0 + 700;
    peer_tx(&p, TCP_F_ACK, d + 700, 100);
    expect_sack(&p, s0, s0, 3, 700, 800, 500, 600, 300, 400);
    /* a segment joining two islands: the merged block comes first */
    p.seq = s0 + 200;
    peer_tx(&p, TCP_F_ACK, d + 200, 100);
    expect_sack(&p, s0, s0, 3, 100, 400, 700, 800, 500, 600);
    /* a duplicate inside an island reports that island first */
    p.seq = s0 + 520;
    peer_tx(&p, TCP_F_ACK, d + 520, 50);
    expect_sack(&p, s0, s0, 3, 500, 600, 100, 400, 700, 800);
    assert_int_equal(fc->c->nooo, 3);
    /* the gap at the front filled: what stays out of order is reported */
    p.seq = s0;
    peer_tx(&p, TCP_F_ACK, d, 100);
    expect_sack(&p, s0 + 400, s0, 2, 500, 600, 700, 800);
    p.seq = s0 + 400;
    peer_tx(&p, TCP_F_ACK, d + 400, 100);
    expect_sack(&p, s0 + 600, s0, 1, 700, 800);
    /* in order again: no option at all */
    p.seq = s0 + 600;
    peer_tx(&p, TCP_F_ACK, d + 600, 100);
    expect_ack(&p, s0 + 800);
    assert_int_equal(fc->rxlen, 800);
    assert_memory_equal(fc->rx, d, 800);
    assert_int_equal(cnt(f)->tcp_sack_blocks_sent, 1 + 2 + 3 + 3 + 3 + 3 + 2 + 1);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_sack_blocks_four_without_ts(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    uint8_t d[1200];
    uint32_t s0;

    (void)state;
    fill(d, sizeof(d), 22);
    peer_init(&p, f, 50111, 4242);
    p.sack = 1;
    p.ts = 0;
    fc = accept_conn(&p);
    s0 = p.seq;
    for (unsigned i = 1; i <= 5; i++) {
        p.seq = s0 + i * 200;
        peer_tx(&p, TCP_F_ACK, d + i * 200, 100);
        if (i < 5) {
            assert_true(fp_tx_pending(f) == 1);
            fp_drain(f);
        }
    }
    /* 40 bytes of options: NOP NOP kind len and four blocks */
    expect_sack(&p, s0, s0, 4, 1000, 1100, 800, 900, 600, 700, 400, 500);
    /* the app sends a reply meanwhile: the blocks ride on it as well */
    assert_int_equal(net_tcp_send(fc->c, "reply", 5), 5);
    fp_flush(f);
    {
        struct fp_seg g;

        assert_int_equal(peer_rx(&p, &g), 1);
        assert_int_equal(g.len, 5);
        assert_int_equal(g.ack, s0);
        assert_int_equal(g.nsack, 4);
        assert_int_equal(g.sack[0][0], s0 + 1000);
    }
    abort_and_free(f, fc);
}

/* The stack sends ten full segments to a SACK peer; returns their base. */
static uint32_t sack_ten(struct fp *f, struct peer *p, struct fp_conn **fcp, const uint8_t *d)
{
    struct fp_seg g;
    uint32_t base;

    p->sack = 1;
    *fcp = accept_conn(p);
    assert_true((*fcp)->c->sack_ok);
    base = p->ack;
    assert_int_equal(net_tcp_send((*fcp)->c, d, 10 * MSS_TS), (ssize_t)(10 * MSS_TS));
    fp_flush(f);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(peer_rx(p, &g), 1);
        assert_int_equal(g.seq, base + i * MSS_TS);
    }
    expect_nothing(f);
    return base;
}

static void test_sack_retransmits_only_holes(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 23);
    f->isn_set = 1;
    f->isn = 0xFFFFE000u;                       /* our sequence space wraps in segment 5 */
    peer_init(&p, f, 50112, 0xFFFFF000u);
    base = sack_ten(f, &p, &fc, d);
    assert_true(base + 10 * M < base);
    /* segments 1 and 4 lost; 0 arrives, then 2, 3, 5 */
    p.ack = base + M;
    peer_ack(&p);
    peer_sack(&p, base, 1, 2 * M, 3 * M);
    peer_sack(&p, base, 1, 2 * M, 4 * M);
    expect_nothing(f);                      /* limited transmit: nothing new to send */
    assert_false(fc->c->in_recovery);
    assert_int_equal(fc->c->nsacked, 1);
    peer_sack(&p, base, 2, 5 * M, 6 * M, 2 * M, 4 * M);
    /* third duplicate: recovery, segment 1 alone (pipe: 1 resent, the
     * hole at 4 not yet lost, 6..9 in flight = 6 > cwnd 4.5) */
    assert_true(fc->c->in_recovery);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + M);
    assert_int_equal(g.len, M);
    assert_memory_equal(g.payload, d + M, M);
    expect_nothing(f);
    assert_int_equal(fc->c->ssthresh, 9 * M / 2);
    assert_int_equal(fc->c->cwnd, 9 * M / 2);
    assert_int_equal(cnt(f)->tcp_sack_recoveries, 1);
    /* 6 arrives: the hole at 4 has two segments above it, not lost yet */
    peer_sack(&p, base, 2, 5 * M, 7 * M, 2 * M, 4 * M);
    expect_nothing(f);
    /* 7 arrives: three above it, lost (RFC 6675 IsLost); it goes, only it */
    peer_sack(&p, base, 2, 5 * M, 8 * M, 2 * M, 4 * M);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 4 * M);
    assert_int_equal(g.len, M);
    assert_memory_equal(g.payload, d + 4 * M, M);
    expect_nothing(f);
    /* the resent 1 arrives: a partial ACK up to the hole at 4; nothing is
     * sent again that the peer holds */
    p.ack = base + 4 * M;
    peer_sack(&p, base, 1, 5 * M, 8 * M);
    assert_true(fc->c->in_recovery);
    assert_int_equal(fc->c->nsacked, 1);
    while (peer_rx(&p, &g))
        assert_true(g.seq != base + 2 * M && g.seq != base + 3 * M && g.seq != base + 5 * M &&
                    g.seq != base + 6 * M && g.seq != base + 7 * M);
    /* everything: recovery ends */
    p.ack = base + 10 * M;
    peer_ack(&p);
    assert_false(fc->c->in_recovery);
    assert_int_equal(fc->c->nsacked, 0);
    assert_int_equal(cnt(f)->tcp_sack_retransmits, cnt(f)->tcp_retransmits);
    assert_true(cnt(f)->tcp_sack_retransmits >= 2);
    assert_int_equal(cnt(f)->tcp_fast_retransmits, 1);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    assert_int_equal(cnt(f)->tcp_sack_blocks_bad, 0);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_sack_lost_by_scoreboard_alone(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 24);
    peer_init(&p, f, 50113, 1);
    base = sack_ten(f, &p, &fc, d);
    /* the peer's earlier ACKs were lost: one ACK SACKs 1..9, segment 0 is
     * lost by the scoreboard without three duplicates (RFC 6675 5) */
    peer_sack(&p, base, 1, M, 10 * M);
    assert_true(fc->c->in_recovery);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    expect_nothing(f);
    /* no answer for a probe timeout (2 ms at this RTT): once more, once */
    fp_advance(f, 3 * MS);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    assert_int_equal(cnt(f)->tcp_sack_rxt_lost, 1);
    fp_advance(f, 10 * MS);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    p.ack = base + 10 * M;
    peer_ack(&p);
    assert_false(fc->c->in_recovery);
    assert_int_equal(cnt(f)->tcp_retransmits, 2);
    abort_and_free(f, fc);
}

static void test_sack_bogus_blocks_ignored(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 25);
    peer_init(&p, f, 50114, 1);
    base = sack_ten(f, &p, &fc, d);
    p.ack = base + M;
    peer_ack(&p);
    /* beyond snd_max, straddling snd_una, empty */
    peer_sack(&p, base, 3, 9 * M, 11 * M, 0, 2 * M, 3 * M, 3 * M);
    assert_int_equal(fc->c->nsacked, 0);
    assert_int_equal(cnt(f)->tcp_sack_blocks_bad, 3);
    /* reversed, and a whole window beyond snd_max: no scoreboard, so no
     * recovery on it; below snd_una (old news, or a D-SACK, RFC 2883):
     * passed over, not counted */
    peer_sack(&p, base, 3, 5 * M, 4 * M, 2 * M, 12 * M, 0, M);
    assert_int_equal(fc->c->nsacked, 0);
    assert_int_equal(cnt(f)->tcp_sack_blocks_bad, 5);
    assert_false(fc->c->in_recovery);
    expect_nothing(f);
    /* more ranges than the scoreboard keeps: the highest are forgotten */
    for (unsigned i = 0; i < 4; i++)
        peer_sack(&p, base, 1, (2 + 2 * i) * M, (2 + 2 * i) * M + 100);
    for (unsigned i = 0; i < 8; i++)
        peer_sack(&p, base, 1, 2 * M + 200 + 50 * i, 2 * M + 210 + 50 * i);
    assert_int_equal(fc->c->nsacked, TCP_SACK_MAX);
    for (unsigned k = 1; k < fc->c->nsacked; k++)
        assert_true(seq_lt(fc->c->sacked[k - 1].hi, fc->c->sacked[k].lo));
    fp_drain(f);
    abort_and_free(f, fc);
}

static void test_sack_cleared_on_rto(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fp_config(&cfg);
    cfg.tlp = 0;                            /* the RTO itself */
    f = fp_new(&cfg, 0);
    fill(d, sizeof(d), 26);
    peer_init(&p, f, 50115, 1);
    base = sack_ten(f, &p, &fc, d);
    peer_sack(&p, base, 1, 5 * M, 6 * M);
    assert_int_equal(fc->c->nsacked, 1);
    fp_advance(f, 1000 * MS + MS);          /* initial RTO: no sample before data */
    assert_int_equal(cnt(f)->tcp_rto_fired, 1);
    assert_int_equal(fc->c->nsacked, 0);    /* RFC 6675 5.1 */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    expect_nothing(f);
    /* the peer's next ACK SACKs again what it holds: the resend skips it */
    p.ack = base + M;
    peer_sack(&p, base, 2, 2 * M, 3 * M, 5 * M, 6 * M);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + M);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 3 * M);
    expect_nothing(f);
    p.ack = base + 10 * M;
    peer_ack(&p);
    assert_int_equal(fc->c->nsacked, 0);
    abort_and_free(f, fc);
}

static void test_sack_lost_retransmission(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[11 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;
    int again = 0;

    (void)state;
    fill(d, sizeof(d), 28);
    peer_init(&p, f, 50117, 1);
    p.sack = 1;
    fc = accept_conn(&p);
    base = p.ack;
    assert_int_equal(send_and_take(&p, fc, d, 10 * M), 10);
    /* segment 0 lost: recovery resends it, then new data as the pipe drains */
    peer_sack(&p, base, 1, M, 2 * M);
    peer_sack(&p, base, 1, M, 3 * M);
    peer_sack(&p, base, 1, M, 4 * M);
    assert_true(fc->c->in_recovery);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    assert_int_equal(fc->c->rxt_fence, base + 10 * M);
    /* the app writes more; the pipe (resent 0, 4..9 in flight) holds it */
    assert_int_equal(net_tcp_send(fc->c, d + 10 * M, M), (ssize_t)M);
    fp_flush(f);
    expect_nothing(f);
    peer_sack(&p, base, 1, M, 10 * M);
    while (peer_rx(&p, &g))
        assert_int_equal(g.seq, base + 10 * M);          /* new data only */
    assert_true(seq_gt(fc->c->snd_max, base + 10 * M));
    assert_int_equal(cnt(f)->tcp_sack_rxt_lost, 0);
    /* segment 10, sent after the retransmission, arrives; 0 still missing:
     * the retransmission was lost and goes again */
    peer_sack(&p, base, 1, M, 11 * M);
    assert_int_equal(cnt(f)->tcp_sack_rxt_lost, 1);
    while (peer_rx(&p, &g))
        again |= g.seq == base;
    assert_true(again);
    /* a repeat of that SACK does not send it a third time */
    peer_sack(&p, base, 1, M, 11 * M);
    assert_int_equal(cnt(f)->tcp_sack_rxt_lost, 1);
    fp_drain(f);
    net_tcp_abort(fc->c);
    fp_flush(f);
    fp_drain(f);
    assert_int_equal(cnt(f)->tcp_conns_open, 0);
    fp_free(f);
}

static void test_sack_probe_starts_recovery(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[4 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 29);
    peer_init(&p, f, 50118, 1);
    p.sack = 1;
    fc = accept_conn_rtt(&p, 10 * MS);
    base = p.ack;
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 4);
    /* 0 arrives; 1, 2, 3 lost: one ACK, no duplicates */
    p.ack = base + M;
    peer_ack(&p);
    expect_nothing(f);
    fp_advance(f, 25 * MS);                 /* PTO: 2 SRTT */
    assert_int_equal(cnt(f)->tcp_tlp_sent, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 3 * M);  /* the last segment again */
    expect_nothing(f);
    /* the probe arrives above the hole: 1 and 2 left before it and are
     * lost (RFC 8985 7.4.2), recovery resends both at once */
    peer_sack(&p, base, 1, 3 * M, 4 * M);
    assert_true(fc->c->in_recovery);
    assert_int_equal(cnt(f)->tcp_sack_recoveries, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + M);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 2 * M);
    expect_nothing(f);
    p.ack = base + 4 * M;
    peer_ack(&p);
    assert_false(fc->c->in_recovery);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    abort_and_free(f, fc);
}

static void test_sack_partial_ack_and_probe_timer(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 30);
    peer_init(&p, f, 50119, 1);
    p.sack = 1;
    fc = accept_conn_rtt(&p, 10 * MS);
    base = p.ack;
    assert_int_equal(send_and_take(&p, fc, d, sizeof(d)), 10);
    /* 0 and 5..9 lost; 1..4 SACKed: recovery resends 0 */
    peer_sack(&p, base, 1, M, 2 * M);
    peer_sack(&p, base, 1, M, 3 * M);
    peer_sack(&p, base, 1, M, 4 * M);
    assert_true(fc->c->in_recovery);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base);
    peer_sack(&p, base, 1, M, 5 * M);
    fp_drain(f);
    /* the resent 0 arrives: a partial ACK to 5. 5..9 left before it and
     * are lost: resent as the pipe allows, 5 first */
    p.ack = base + 5 * M;
    peer_ack(&p);
    assert_true(fc->c->in_recovery);
    assert_int_equal(fc->c->lost_hi, base + 10 * M);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 5 * M);
    while (peer_rx(&p, &g))
        assert_true(seq_gt(g.seq, base + 5 * M) && seq_lt(g.seq, base + 10 * M));
    /* nothing comes back for a probe timeout: the segment at snd_una goes
     * once more, then only the RTO is left */
    fp_advance(f, 25 * MS);
    assert_int_equal(cnt(f)->tcp_sack_rxt_lost, 1);
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + 5 * M);
    expect_nothing(f);
    fp_advance(f, 25 * MS);
    expect_nothing(f);
    assert_int_equal(cnt(f)->tcp_rto_fired, 0);
    fp_advance(f, 250 * MS);
    assert_int_equal(cnt(f)->tcp_rto_fired, 1);
    assert_false(fc->c->in_recovery);
    assert_int_equal(fc->c->nsacked, 0);
    fp_drain(f);
    abort_and_free(f, fc);
}

static void test_no_sack_peer_unchanged(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct peer p;
    struct fp_seg g;
    struct fp_conn *fc;
    static uint8_t d[10 * MSS_TS];
    const uint32_t M = MSS_TS;
    uint32_t base;

    (void)state;
    fill(d, sizeof(d), 27);
    peer_init(&p, f, 50116, 1);
    fc = accept_conn(&p);
    assert_false(fc->c->sack_ok);
    /* out-of-order data from it: plain duplicate ACKs, no blocks */
    p.seq += 100;
    peer_tx(&p, TCP_F_ACK, d, 100);
    expect_ack(&p, p.seq - 200);
    p.seq -= 200;
    peer_tx(&p, TCP_F_ACK, d, 100);
    expect_ack(&p, p.seq + 100);
    p.seq += 100;
    assert_int_equal(cnt(f)->tcp_sack_blocks_sent, 0);
    /* blocks it sends anyway are not used: NewReno as before */
    base = p.ack;
    assert_int_equal(net_tcp_send(fc->c, d, sizeof(d)), (ssize_t)sizeof(d));
    fp_flush(f);
    fp_drain(f);
    p.ack = base + M;
    peer_ack(&p);
    peer_sack(&p, base, 1, 2 * M, 10 * M);
    assert_int_equal(fc->c->nsacked, 0);
    assert_false(fc->c->in_recovery);
    peer_sack(&p, base, 1, 2 * M, 10 * M);
    peer_sack(&p, base, 1, 2 * M, 10 * M);
    assert_true(fc->c->in_recovery);
    assert_int_equal(fc->c->cwnd, 9 * M / 2 + 3 * M);  /* NewReno's inflation */
    assert_int_equal(peer_rx(&p, &g), 1);
    assert_int_equal(g.seq, base + M);
    assert_int_equal(cnt(f)->tcp_sack_recoveries, 0);
    abort_and_free(f, fc);
}

static void test_drop_counters_covered(void **state)
{
    static const char *const elsewhere[] = {      /* checked by test_net_arp / test_net_ip */
        "eth_", "arp_", "ip_", "icmp_", "tx_full", "exception_full",
    };

    (void)state;
    for (unsigned i = 0; i < NET_DROP__COUNT; i++) {
        const char *n = net_drop_name(i);
        int known = strncmp(n, "tcp_", 4) == 0 || strcmp(n, "mbuf_alloc") == 0;

        for (size_t k = 0; k < sizeof(elsewhere) / sizeof(elsewhere[0]); k++)
            known |= strncmp(n, elsewhere[k], strlen(elsewhere[k])) == 0;
        if (!known)
            fail_msg("drop counter %s belongs to no test file's coverage list", n);

        if (strncmp(n, "tcp_", 4) != 0 && strcmp(n, "mbuf_alloc") != 0)
            continue;
        if (fp_drops_seen[i] == 0)
            fail_msg("drop counter %s never incremented", n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wraparound_near_2_32),
        cmocka_unit_test(test_handshake_passive),
        cmocka_unit_test(test_reopen_from_new_mac),
        cmocka_unit_test(test_handshake_active),
        cmocka_unit_test(test_connect_port_collision),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_syn_from_other_mac_no_redirect),
        cmocka_unit_test(test_ts_recent_needs_acceptable_ack),
        cmocka_unit_test(test_refusal_acks_limited),
        cmocka_unit_test(test_paused_input_ends_with_fin),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_keepalive_waits_for_rto),
        cmocka_unit_test(test_syn_retries),
        cmocka_unit_test(test_orphan_persist_bounded),
        cmocka_unit_test(test_synsent_bad_segments),
        cmocka_unit_test(test_request_reply_piggyback),
        cmocka_unit_test(test_bulk_both_ways),
        cmocka_unit_test(test_tso_bulk),
        cmocka_unit_test(test_tso_frame_in_mtu),
        cmocka_unit_test(test_tso_not_while_sack_owed),
        cmocka_unit_test(test_out_of_order_and_duplicates),
        cmocka_unit_test(test_ooo_list_full),
        cmocka_unit_test(test_rto_backoff_and_timeout),
        cmocka_unit_test(test_rtt_estimate),
        cmocka_unit_test(test_fast_retransmit_newreno),
        cmocka_unit_test(test_rto_floor_and_initial),
        cmocka_unit_test(test_tlp_tail_probe),
        cmocka_unit_test(test_tlp_new_data_and_episodes),
        cmocka_unit_test(test_tlp_verdict),
        cmocka_unit_test(test_tlp_one_segment),
        cmocka_unit_test(test_limited_transmit),
        cmocka_unit_test(test_early_retransmit),
        cmocka_unit_test(test_no_fast_retransmit_in_rto_recovery),
        cmocka_unit_test(test_ack_every_second_segment),
        cmocka_unit_test(test_peek_burst),
        cmocka_unit_test(test_peek_burst_many),
        cmocka_unit_test(test_ack_at_once_for_gap_fill),
        cmocka_unit_test(test_zero_window_probe),
        cmocka_unit_test(test_zero_window_receive),
        cmocka_unit_test(test_backpressure_partial_take),
        cmocka_unit_test(test_fin_from_peer),
        cmocka_unit_test(test_fin_from_app),
        cmocka_unit_test(test_simultaneous_close),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_data_after_close),
        cmocka_unit_test(test_rst_in_every_state),
        cmocka_unit_test(test_send_after_reset),
        cmocka_unit_test(test_window_scaling_and_mss),
        cmocka_unit_test(test_timestamps_paws),
        cmocka_unit_test(test_header_prediction_edges),
        cmocka_unit_test(test_ack_validation),
        cmocka_unit_test(test_listener_and_header_drops),
        cmocka_unit_test(test_syn_flood_bounded),
        cmocka_unit_test(test_conn_table_full_and_time_wait_recycle),
        cmocka_unit_test(test_time_wait_reuse),
        cmocka_unit_test(test_accept_refused),
        cmocka_unit_test(test_buffer_budget),
        cmocka_unit_test(test_mbuf_exhaustion_recovers),
        cmocka_unit_test(test_tx_hook_refuses),
        cmocka_unit_test(test_delayed_ack_timer),
        cmocka_unit_test(test_conn_ops_adapter),
        cmocka_unit_test(test_net_copy_lengths),
        cmocka_unit_test(test_chained_mbufs),
        cmocka_unit_test(test_window_trim),
        cmocka_unit_test(test_congestion_avoidance),
        cmocka_unit_test(test_persist_timeout_and_window_closing_in_flight),
        cmocka_unit_test(test_syn_lost_rto_3s),
        cmocka_unit_test(test_timer_wheel),
        cmocka_unit_test(test_config_and_defaults),
        cmocka_unit_test(test_small_window_no_stall),
        cmocka_unit_test(test_close_inside_accept),
        cmocka_unit_test(test_two_stacks_lossy_wire),
        cmocka_unit_test(test_sack_negotiation),
        cmocka_unit_test(test_sack_blocks_out_of_order),
        cmocka_unit_test(test_sack_blocks_four_without_ts),
        cmocka_unit_test(test_sack_retransmits_only_holes),
        cmocka_unit_test(test_sack_lost_by_scoreboard_alone),
        cmocka_unit_test(test_sack_bogus_blocks_ignored),
        cmocka_unit_test(test_sack_cleared_on_rto),
        cmocka_unit_test(test_sack_lost_retransmission),
        cmocka_unit_test(test_sack_probe_starts_recovery),
        cmocka_unit_test(test_sack_partial_ack_and_probe_timer),
        cmocka_unit_test(test_no_sack_peer_unchanged),
        cmocka_unit_test(test_drop_counters_covered),
    };

    return cmocka_run_group_tests(tests, fp_eal_init, fp_eal_fini);
}
