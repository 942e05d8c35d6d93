/* net_fakeport — fake port, fake app and segment factory for the stack's
 * unit tests; see net_fakeport.h. Test code: single-threaded, one EAL per
 * process, cmocka assertions on every frame the stack emits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "../../dataplane/mem.h"
#include "../../dataplane/net/net_priv.h"
#include "net_fakeport.h"

const uint8_t fp_stack_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
const uint8_t fp_peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* Test-process state: EAL is process-wide by nature. */
uint64_t fp_drops_seen[NET_DROP__COUNT];
static int eal_up;
static unsigned pool_seq;

int fp_eal_init(void **state)
{
    char *argv[] = {
        "slotd-test", "--no-huge", "--no-pci", "-m", "512", "--no-shconf",
        "--no-telemetry", "--log-level=lib.eal:error", "--log-level=lib.mempool:error", NULL,
    };

    (void)state;
    if (eal_up)
        return 0;
    if (rte_eal_init(9, argv) < 0)
        return -1;
    eal_up = 1;
    return 0;
}

int fp_eal_fini(void **state)
{
    (void)state;
    if (eal_up)
        rte_eal_cleanup();
    eal_up = 0;
    return 0;
}

/* ---- hooks and upcalls ---------------------------------------------------- */

/* What a NIC makes of a TSO frame, written from DPDK's description of the
 * offload (rte_mbuf_core.h, RTE_MBUF_F_TX_TCP_SEG): headers of l2+l3+l4
 * bytes in the first mbuf, the TCP checksum field holding the pseudo-header
 * sum without the length, tso_segsz bytes of payload per segment; each
 * segment gets the headers with its own IP length, sequence number and
 * checksums, PSH and FIN on the last only. Captured as single-mbuf frames
 * with full checksums, as the stack's own segments are. */
static void tso_cut(struct fp *f, struct rte_mbuf *m)
{
    uint32_t hlen = m->l2_len + m->l3_len + m->l4_len, plen, segsz = m->tso_segsz;
    uint8_t hdr[128], *pay;
    const void *got;
    const struct rte_mbuf *seg;
    uint32_t chain = 0;
    unsigned nseg = 0;
    const struct rte_ipv4_hdr *ip0;
    const struct rte_tcp_hdr *th0;
    uint32_t seq0;

    assert_true(m->ol_flags & RTE_MBUF_F_TX_IPV4);
    assert_true(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
    assert_int_equal(m->l2_len, 14);
    assert_int_equal(m->l3_len, 20);
    assert_true(m->l4_len >= 20 && hlen <= sizeof(hdr));
    assert_true(segsz > 0);
    assert_true(rte_pktmbuf_data_len(m) >= hlen);
    for (seg = m; seg != NULL; seg = seg->next) {
        chain += seg->data_len;
        nseg++;
    }
    assert_int_equal(chain, m->pkt_len);
    assert_int_equal(nseg, m->nb_segs);
    memcpy(hdr, rte_pktmbuf_mtod(m, uint8_t *), hlen);
    ip0 = (const struct rte_ipv4_hdr *)(hdr + 14);
    th0 = (const struct rte_tcp_hdr *)(ip0 + 1);
    assert_int_equal(rte_be_to_cpu_16(ip0->total_length) + 14u, m->pkt_len);
    assert_int_equal(th0->cksum, rte_ipv4_phdr_cksum(ip0, RTE_MBUF_F_TX_TCP_SEG));
    plen = m->pkt_len - hlen;
    assert_true(plen > segsz);          /* else the stack had no reason to */
    pay = malloc(plen);
    assert_non_null(pay);
    got = rte_pktmbuf_read(m, hlen, plen, pay);
    assert_non_null(got);
    if (got != pay)
        memcpy(pay, got, plen);
    seq0 = rte_be_to_cpu_32(th0->sent_seq);
    f->tso_frames++;
    f->tso_segsz = segsz;
    if (m->nb_segs > f->tso_max_nb_segs)
        f->tso_max_nb_segs = m->nb_segs;
    for (uint32_t off = 0; off < plen; off += segsz) {
        uint32_t k = plen - off < segsz ? plen - off : segsz;
        struct rte_mbuf *s = rte_pktmbuf_alloc(f->pool);
        uint8_t *p;
        struct rte_ipv4_hdr *ip;
        struct rte_tcp_hdr *th;

        assert_non_null(s);
        p = (uint8_t *)rte_pktmbuf_append(s, (uint16_t)(hlen + k));
        assert_non_null(p);
        memcpy(p, hdr, hlen);
        memcpy(p + hlen, pay + off, k);
        ip = (struct rte_ipv4_hdr *)(p + 14);
        th = (struct rte_tcp_hdr *)(ip + 1);
        ip->total_length = rte_cpu_to_be_16((uint16_t)(hlen - 14 + k));
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        th->sent_seq = rte_cpu_to_be_32(seq0 + off);
        if (off + k < plen)
            th->tcp_flags &= (uint8_t)~(TCP_F_PSH | TCP_F_FIN);
        th->cksum = 0;
        th->cksum = rte_ipv4_udptcp_cksum(ip, th);
        assert_true(f->ntx < FP_MAX_FRAMES);
        f->tx[f->ntx++] = s;
        f->tso_segs++;
    }
    free(pay);
    rte_pktmbuf_free(m);
}

static uint16_t hook_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct fp *f = arg;
    uint16_t take = n;

    if (f->tx_take >= 0 && take > f->tx_take)
        take = (uint16_t)f->tx_take;
    for (uint16_t i = 0; i < take; i++) {
        if (f->tso_cut && (pkts[i]->ol_flags & RTE_MBUF_F_TX_TCP_SEG)) {
            tso_cut(f, pkts[i]);
            continue;
        }
        assert_true(f->ntx < FP_MAX_FRAMES);
        f->tx[f->ntx++] = pkts[i];
    }
    return take;
}

static uint16_t hook_exc(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct fp *f = arg;
    uint16_t take = n;

    if (f->exc_take >= 0 && take > f->exc_take)
        take = (uint16_t)f->exc_take;
    for (uint16_t i = 0; i < take; i++) {
        assert_true(f->nexc < FP_MAX_FRAMES);
        f->exc[f->nexc++] = pkts[i];
    }
    return take;
}

static int hook_pick_port(void *arg, const struct net_tuple *t, unsigned attempt)
{
    struct fp *f = arg;

    (void)t;
    f->nports++;
    if (f->pick_port_fail)
        return -1;
    /* 40000, 40002 ... as an RSS-aware chooser would skip ports */
    return 40000 + (int)attempt * 2;
}

static uint32_t hook_isn(void *arg, const struct net_tuple *t)
{
    struct fp *f = arg;

    (void)t;
    return f->isn_set ? f->isn : 1000u;
}

struct fp_conn *fp_conn_of(struct fp *f, struct tcp_conn *c)
{
    for (unsigned i = 0; i < f->nconns; i++)
        if (f->conns[i].c == c)
            return &f->conns[i];
    return NULL;
}

static struct fp_conn *fc_new(struct fp *f, struct tcp_conn *c)
{
    struct fp_conn *fc;

    assert_true(f->nconns < FP_MAX_CONNS);
    fc = &f->conns[f->nconns++];
    memset(fc, 0, sizeof(*fc));
    fc->f = f;
    fc->c = c;
    fc->take = SIZE_MAX;
    fc->rx = calloc(1, FP_RX_CAP);
    assert_non_null(fc->rx);
    return fc;
}

static void *up_accept(void *arg, struct tcp_conn *c)
{
    struct fp *f = arg;

    struct fp_conn *fc;

    if (f->refuse_accept)
        return NULL;
    fc = fc_new(f, c);
    if (f->close_in_accept)
        net_tcp_close(c);
    return fc;
}

static void up_connected(void *ctx)
{
    struct fp_conn *fc = ctx;

    fc->connected++;
}

static size_t up_data(void *ctx, const void *p, size_t n)
{
    struct fp_conn *fc = ctx;
    size_t k = n < fc->take ? n : fc->take;

    assert_int_equal(fc->closed, 0);
    if (n == 0) {
        assert_null(p);
        fc->eof++;
        return 0;
    }
    assert_true(fc->rxlen + k <= FP_RX_CAP);
    memcpy(fc->rx + fc->rxlen, p, k);
    fc->rxlen += k;
    if (fc->echo)
        assert_int_equal(net_tcp_send(fc->c, p, k), (ssize_t)k);
    if (fc->pause_in_data)
        net_tcp_pause_input(fc->c, 1);
    if (fc->close_in_data)
        net_tcp_close(fc->c);
    return k;
}

/* Installed in every fake port: each test's bursts also go through the
 * warming pass, which must change nothing. */
static int up_peek(void *ctx, const void *p, size_t n)
{
    struct fp_conn *fc = ctx;

    assert_int_equal(fc->closed, 0);
    assert_true(n > 0);
    fc->peeks++;
    fc->peek_at = ++fc->f->peek_clock;
    fc->peeked_len = n;
    memcpy(fc->peeked, p, n < sizeof(fc->peeked) ? n : sizeof(fc->peeked));
    return !fc->peek_stop;
}

static void up_peek_late(void *ctx)
{
    struct fp_conn *fc = ctx;

    fc->peeks_late++;
    fc->late_at = ++fc->f->peek_clock;
    assert_true(fc->peeks_late <= fc->peeks);
}

static void up_writable(void *ctx)
{
    struct fp_conn *fc = ctx;

    fc->writable++;
}

static void up_closed(void *ctx, int err)
{
    struct fp_conn *fc = ctx;

    assert_non_null(fc);
    fc->closed++;
    fc->close_err = err;
    assert_int_equal(fc->closed, 1);
}

/* ---- lifecycle -------------------------------------------------------------- */

void fp_config(struct net_config *cfg)
{
    net_config_defaults(cfg);
    cfg->ip = FP_STACK_IP;
    cfg->mask = FP_MASK;
    cfg->gateway = FP_GW_IP;
    memcpy(cfg->mac, fp_stack_mac, 6);
    cfg->max_conns = 64;
    cfg->max_half_open = 16;
    cfg->sndbuf = 16384;
    cfg->rcvbuf = 16384;
    cfg->arp_entries = 16;
    cfg->secret[0] = 0x0123456789abcdefull;
    cfg->secret[1] = 0xfedcba9876543210ull;
}

struct fp *fp_new(const struct net_config *cfg, unsigned pool_size)
{
    struct fp *f = calloc(1, sizeof(*f));
    struct net_hooks hooks;
    struct net_upcalls up = {
        .on_accept = up_accept, .on_connected = up_connected, .on_data = up_data,
        .on_writable = up_writable, .on_closed = up_closed,
        .on_peek = up_peek, .on_peek_late = up_peek_late,
    };
    char name[32];

    assert_non_null(f);
    assert_int_equal(fp_eal_init(NULL), 0);
    f->mem_start = mem_used();
    f->pool_size = pool_size ? pool_size : 2047;
    snprintf(name, sizeof(name), "fp%u", pool_seq++);
    /* No per-lcore cache: the free count must be exact at teardown. */
    f->pool = rte_pktmbuf_pool_create(name, f->pool_size, 0, 0,
                                      RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    assert_non_null(f->pool);
    if (cfg)
        f->cfg = *cfg;
    else
        fp_config(&f->cfg);
    f->cfg.pool = f->pool;
    f->tx_take = -1;
    f->exc_take = -1;
    f->now = 1000000;
    memset(&hooks, 0, sizeof(hooks));
    hooks.arg = f;
    hooks.tx = hook_tx;
    hooks.exception = hook_exc;
    hooks.pick_port = hook_pick_port;
    hooks.isn = hook_isn;
    f->s = net_stack_create(&f->cfg, &hooks, &up);
    assert_non_null(f->s);
    assert_int_equal(net_listen(f->s, FP_PORT), 0);
    /* the stack's clock starts with the first turn */
    net_input_burst(f->s, NULL, 0, f->now);
    return f;
}

void fp_free(struct fp *f)
{
    const struct net_counters *cnt;

    if (f == NULL)
        return;
    fp_drain(f);
    cnt = net_counters(f->s);
    for (unsigned i = 0; i < NET_DROP__COUNT; i++)
        fp_drops_seen[i] += cnt->drop.v[i];
    net_stack_free(f->s);
    assert_int_equal(mem_used(), f->mem_start);
    assert_int_equal(rte_mempool_avail_count(f->pool), f->pool_size);
    rte_mempool_free(f->pool);
    for (unsigned i = 0; i < f->nconns; i++)
        free(f->conns[i].rx);
    free(f);
}

void fp_input(struct fp *f, struct rte_mbuf **m, unsigned n)
{
    net_input_burst(f->s, m, n, f->now);
    net_flush(f->s);
}

void fp_input1(struct fp *f, struct rte_mbuf *m)
{
    fp_input(f, &m, 1);
}

void fp_flush(struct fp *f)
{
    net_input_burst(f->s, NULL, 0, f->now);
    net_flush(f->s);
}

void fp_advance(struct fp *f, uint64_t us)
{
    f->now += us;
    net_timers(f->s, f->now);
}

/* ---- factory ---------------------------------------------------------------- */

void fp_seg_init(struct fp_seg *g)
{
    memset(g, 0, sizeof(*g));
    g->sport = 50000;
    g->dport = FP_PORT;
    g->win = 65535;
    g->mss = -1;
    g->ws = -1;
}

static struct rte_mbuf *frame_alloc(struct fp *f, uint32_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(f->pool);

    assert_non_null(m);
    assert_non_null(rte_pktmbuf_append(m, (uint16_t)len));
    return m;
}

struct rte_mbuf *fp_raw_frame(struct fp *f, const void *p, uint32_t len)
{
    struct rte_mbuf *m = frame_alloc(f, len);

    memcpy(rte_pktmbuf_mtod(m, void *), p, len);
    return m;
}

static void put_eth(struct rte_ether_hdr *eh, uint16_t type)
{
    memcpy(eh->dst_addr.addr_bytes, fp_stack_mac, 6);
    memcpy(eh->src_addr.addr_bytes, fp_peer_mac, 6);
    eh->ether_type = rte_cpu_to_be_16(type);
}

struct rte_mbuf *fp_ip_frame(struct fp *f, uint8_t proto, uint32_t sip, uint32_t dip,
                             const void *l4, uint32_t l4len)
{
    struct rte_mbuf *m = frame_alloc(f, 14 + 20 + l4len);
    struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);

    put_eth(rte_pktmbuf_mtod(m, struct rte_ether_hdr *), RTE_ETHER_TYPE_IPV4);
    memset(ip, 0, 20);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + l4len));
    ip->fragment_offset = rte_cpu_to_be_16(0x4000);
    ip->time_to_live = 64;
    ip->next_proto_id = proto;
    ip->src_addr = rte_cpu_to_be_32(sip ? sip : FP_PEER_IP);
    ip->dst_addr = rte_cpu_to_be_32(dip ? dip : FP_STACK_IP);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    if (l4len)
        memcpy(ip + 1, l4, l4len);
    return m;
}

void fp_fix_tcp_csum(struct rte_mbuf *m)
{
    struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
    struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)((uint8_t *)ip + (ip->version_ihl & 0xf) * 4);

    th->cksum = 0;
    th->cksum = rte_ipv4_udptcp_cksum(ip, th);
}

struct rte_mbuf *fp_tcp_frame(struct fp *f, const struct fp_seg *g)
{
    uint8_t opt[40], *p = opt;
    uint32_t optlen, l4len;
    struct rte_mbuf *m;
    struct rte_tcp_hdr *th;
    uint8_t *l4;

    if (g->mss >= 0) {
        *p++ = 2;
        *p++ = 4;
        *p++ = (uint8_t)(g->mss >> 8);
        *p++ = (uint8_t)g->mss;
    }
    if (g->ws >= 0) {
        *p++ = 1;
        *p++ = 3;
        *p++ = 3;
        *p++ = (uint8_t)g->ws;
    }
    if (g->sack_ok) {
        *p++ = 1;
        *p++ = 1;
        *p++ = 4;
        *p++ = 2;
    }
    if (g->ts) {
        uint32_t v = rte_cpu_to_be_32(g->tsval), e = rte_cpu_to_be_32(g->tsecr);

        *p++ = 1;
        *p++ = 1;
        *p++ = 8;
        *p++ = 10;
        memcpy(p, &v, 4);
        memcpy(p + 4, &e, 4);
        p += 8;
    }
    if (g->nsack > 0) {
        assert_true(g->nsack <= 4 && (size_t)(p - opt) + 4 + 8 * g->nsack <= sizeof(opt));
        *p++ = 1;
        *p++ = 1;
        *p++ = 5;
        *p++ = (uint8_t)(2 + 8 * g->nsack);
        for (unsigned b = 0; b < g->nsack; b++) {
            uint32_t e[2] = { rte_cpu_to_be_32(g->sack[b][0]), rte_cpu_to_be_32(g->sack[b][1]) };

            memcpy(p, e, 8);
            p += 8;
        }
    }
    optlen = (uint32_t)(p - opt);
    l4len = 20 + optlen + g->len;
    l4 = calloc(1, l4len);
    assert_non_null(l4);
    th = (struct rte_tcp_hdr *)l4;
    th->src_port = rte_cpu_to_be_16(g->sport);
    th->dst_port = rte_cpu_to_be_16(g->dport);
    th->sent_seq = rte_cpu_to_be_32(g->seq);
    th->recv_ack = rte_cpu_to_be_32(g->ack);
    th->data_off = (uint8_t)(((20 + optlen) / 4) << 4);
    th->tcp_flags = g->flags;
    th->rx_win = rte_cpu_to_be_16(g->win);
    memcpy(l4 + 20, opt, optlen);
    if (g->len)
        memcpy(l4 + 20 + optlen, g->data, g->len);
    m = fp_ip_frame(f, IPPROTO_TCP, g->sip, g->dip, l4, l4len);
    free(l4);
    fp_fix_tcp_csum(m);
    return m;
}

void fp_send(struct fp *f, const struct fp_seg *g)
{
    fp_input1(f, fp_tcp_frame(f, g));
}

/* ---- captured output -------------------------------------------------------- */

unsigned fp_tx_pending(const struct fp *f)
{
    return f->ntx - f->tx_head;
}

unsigned fp_exc_pending(const struct fp *f)
{
    return f->nexc - f->exc_head;
}

struct rte_mbuf *fp_pop_tx(struct fp *f)
{
    struct rte_mbuf *m;

    if (f->tx_head == f->ntx)
        return NULL;
    m = f->tx[f->tx_head++];
    if (f->tx_head == f->ntx)
        f->tx_head = f->ntx = 0;
    return m;
}

struct rte_mbuf *fp_pop_exc(struct fp *f)
{
    struct rte_mbuf *m;

    if (f->exc_head == f->nexc)
        return NULL;
    m = f->exc[f->exc_head++];
    if (f->exc_head == f->nexc)
        f->exc_head = f->nexc = 0;
    return m;
}

void fp_drain(struct fp *f)
{
    struct rte_mbuf *m;

    while ((m = fp_pop_tx(f)) != NULL)
        rte_pktmbuf_free(m);
    while ((m = fp_pop_exc(f)) != NULL)
        rte_pktmbuf_free(m);
}

static void parse_opts(struct fp_seg *g, const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;

    while (i < n) {
        if (p[i] == 0)
            break;
        if (p[i] == 1) {
            i++;
            continue;
        }
        assert_true(i + 1 < n);
        assert_true(p[i + 1] >= 2 && i + p[i + 1] <= n);
        if (p[i] == 2) {
            assert_int_equal(p[i + 1], 4);
            g->mss = p[i + 2] << 8 | p[i + 3];
        } else if (p[i] == 3) {
            assert_int_equal(p[i + 1], 3);
            g->ws = p[i + 2];
        } else if (p[i] == 8) {
            uint32_t v, e;

            assert_int_equal(p[i + 1], 10);
            memcpy(&v, p + i + 2, 4);
            memcpy(&e, p + i + 6, 4);
            g->ts = 1;
            g->tsval = rte_be_to_cpu_32(v);
            g->tsecr = rte_be_to_cpu_32(e);
        } else if (p[i] == 4) {
            assert_int_equal(p[i + 1], 2);
            g->sack_ok = 1;
        } else if (p[i] == 5) {
            assert_true(p[i + 1] >= 10 && (p[i + 1] - 2) % 8 == 0 && p[i + 1] <= 34);
            g->nsack = (p[i + 1] - 2u) / 8;
            for (unsigned b = 0; b < g->nsack; b++) {
                uint32_t e[2];

                memcpy(e, p + i + 2 + 8 * b, 8);
                g->sack[b][0] = rte_be_to_cpu_32(e[0]);
                g->sack[b][1] = rte_be_to_cpu_32(e[1]);
            }
        }
        i += p[i + 1];
    }
}

int fp_pop_seg(struct fp *f, struct fp_seg *g)
{
    struct rte_mbuf *m = fp_pop_tx(f);
    const struct rte_ether_hdr *eh;
    struct rte_ipv4_hdr *ip;
    const struct rte_tcp_hdr *th;
    uint32_t tlen, doff;

    if (m == NULL)
        return 0;
    fp_seg_init(g);
    assert_int_equal(m->nb_segs, 1);
    assert_true(m->pkt_len >= 14 + 20 + 20);
    eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    assert_int_equal(rte_be_to_cpu_16(eh->ether_type), RTE_ETHER_TYPE_IPV4);
    memcpy(g->src_mac, eh->src_addr.addr_bytes, 6);
    memcpy(g->dst_mac, eh->dst_addr.addr_bytes, 6);
    assert_memory_equal(g->src_mac, fp_stack_mac, 6);
    ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
    assert_int_equal(ip->version_ihl, 0x45);
    assert_int_equal(ip->next_proto_id, IPPROTO_TCP);
    tlen = rte_be_to_cpu_16(ip->total_length);
    assert_int_equal(tlen + 14, m->pkt_len);
    g->ttl = ip->time_to_live;
    g->frag = rte_be_to_cpu_16(ip->fragment_offset);
    if (!(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM))
        assert_int_equal(rte_raw_cksum(ip, 20), 0xffff);
    g->sip = rte_be_to_cpu_32(ip->src_addr);
    g->dip = rte_be_to_cpu_32(ip->dst_addr);
    th = (const struct rte_tcp_hdr *)(ip + 1);
    if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM)) {
        uint32_t sum = rte_raw_cksum(th, tlen - 20) + rte_ipv4_phdr_cksum(ip, 0);

        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        assert_int_equal(sum, 0xffff);
    }
    doff = (uint32_t)(th->data_off >> 4) * 4;
    assert_true(doff >= 20 && doff <= tlen - 20);
    g->sport = rte_be_to_cpu_16(th->src_port);
    g->dport = rte_be_to_cpu_16(th->dst_port);
    g->seq = rte_be_to_cpu_32(th->sent_seq);
    g->ack = rte_be_to_cpu_32(th->recv_ack);
    g->flags = th->tcp_flags;
    g->win = rte_be_to_cpu_16(th->rx_win);
    parse_opts(g, (const uint8_t *)(th + 1), doff - 20);
    g->len = tlen - 20 - doff;
    assert_true(g->len <= sizeof(g->payload));
    memcpy(g->payload, (const uint8_t *)th + doff, g->len);
    g->data = g->payload;
    rte_pktmbuf_free(m);
    return 1;
}

struct fp_conn *fp_connect(struct fp *f, uint32_t ip, uint16_t port, int *rc)
{
    struct fp_conn *fc = fc_new(f, NULL);
    struct tcp_conn *c = NULL;

    *rc = net_tcp_connect(f->s, ip, port, fc, &c);
    if (*rc != 0) {
        free(fc->rx);
        f->nconns--;
        return NULL;
    }
    fc->c = c;
    return fc;
}

void fp_learn_peer(struct fp *f)
{
    uint8_t b[14 + 28];
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)b;
    struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

    memset(b, 0, sizeof(b));
    put_eth(eh, RTE_ETHER_TYPE_ARP);
    ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ah->arp_hlen = 6;
    ah->arp_plen = 4;
    ah->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    memcpy(ah->arp_data.arp_sha.addr_bytes, fp_peer_mac, 6);
    ah->arp_data.arp_sip = rte_cpu_to_be_32(FP_PEER_IP);
    memcpy(ah->arp_data.arp_tha.addr_bytes, fp_stack_mac, 6);
    ah->arp_data.arp_tip = rte_cpu_to_be_32(FP_STACK_IP);
    fp_input1(f, fp_raw_frame(f, b, sizeof(b)));
    rte_pktmbuf_free(fp_pop_exc(f));
}
