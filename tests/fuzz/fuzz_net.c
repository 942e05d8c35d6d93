/* fuzz_net — libFuzzer target for the user-space stack's input path
 * (dataplane/net/: Ethernet, ARP, IPv4, ICMP, TCP) and its timers.
 *
 * Build: clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *        $(pkg-config --cflags libdpdk) tests/fuzz/fuzz_net.c dataplane/net/[a-z]*.c
 *        dataplane/mem.c $(pkg-config --libs libdpdk) -ljemalloc
 *
 * Input: byte 0 picks stack options (timestamps, window scaling, checksum
 * offload flags, delayed ACKs, tiny rings, SACK); the rest is a list of records,
 * each an opcode byte and a 16-bit length:
 *   0  a raw frame (addresses optionally patched to the stack's, checksums
 *      optionally recomputed, so the bytes reach deep layers)
 *   1  a TCP segment from the peer to an existing connection, its sequence
 *      and acknowledgment numbers relative to the connection's own state
 *      (so the fuzzer reaches ESTABLISHED and beyond without guessing ISNs)
 *   2  advance the clock and run timers
 *   3  an app action: send, pause, resume, close, shutdown, abort, connect
 * At most FUZZ_MAX_RECORDS records run. Afterwards the stack is freed and
 * every mbuf must be back in the pool and every byte back to dataplane/mem.h.
 *
 * EAL is initialised once per process (LLVMFuzzerInitialize), with
 * --no-huge, so it runs anywhere as root or not. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "../../dataplane/mem.h"
#include "../../dataplane/net/net_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

#define FUZZ_MAX_RECORDS 256
#define FUZZ_POOL 1023
#define FUZZ_CTX 32
#define STACK_IP 0xC6120002u
#define PEER_IP 0xC6120001u
#define PORT 6379

static const uint8_t stack_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

/* Process-wide: EAL and the pool live for the fuzzing process. */
static struct rte_mempool *pool;

struct app_ctx {
    struct tcp_conn *c;
    int live;
    uint8_t take;                /* 0: all; else at most this many bytes per call */
    uint8_t echo;
};

struct run {
    struct net_stack *s;
    uint64_t now;
    struct app_ctx ctx[FUZZ_CTX];
    unsigned nctx;
    uint8_t seed;
};

static uint16_t hook_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    (void)arg;
    for (uint16_t i = 0; i < n; i++)
        rte_pktmbuf_free(pkts[i]);
    return n;
}

static uint16_t hook_exc(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
    struct run *r = arg;
    uint16_t take = (r->seed & 7) == 7 ? n / 2 : n;       /* sometimes refuse some */

    for (uint16_t i = 0; i < take; i++)
        rte_pktmbuf_free(pkts[i]);
    return take;
}

/* What net.h lets net_tcp_send return. */
static int send_result_ok(ssize_t w)
{
    return w >= 0 || w == -EPIPE || w == -ECONNRESET || w == -ETIMEDOUT ||
           w == -ECONNREFUSED || w == -ENOTCONN || w == -ENOMEM;
}

static struct app_ctx *ctx_new(struct run *r, struct tcp_conn *c)
{
    struct app_ctx *a;

    if (r->nctx == FUZZ_CTX)
        return NULL;
    a = &r->ctx[r->nctx++];
    memset(a, 0, sizeof(*a));
    a->c = c;
    a->live = 1;
    a->take = (uint8_t)(r->seed >> 3 & 3) == 3 ? 7 : 0;
    a->echo = (r->seed >> 5) & 1;
    return a;
}

static void *up_accept(void *arg, struct tcp_conn *c)
{
    return ctx_new(arg, c);
}

static size_t up_data(void *ctx, const void *p, size_t n)
{
    struct app_ctx *a = ctx;
    size_t k = n;

    CHECK(a->live);
    if (n == 0)
        return 0;
    CHECK(p != NULL);
    if (a->take && k > a->take)
        k = a->take;
    if (a->echo) {
        ssize_t w = net_tcp_send(a->c, p, k);

        CHECK(send_result_ok(w));
    }
    return k;
}

/* The warming pass hands over a preview of each segment: it must lie in
 * the frame (ASan watches) and come for a live connection. */
static int up_peek(void *ctx, const void *p, size_t n)
{
    const struct app_ctx *a = ctx;
    const volatile unsigned char *b = p;

    CHECK(a->live && n > 0);
    (void)b[0];
    (void)b[n - 1];
    return 1;
}

static void up_peek_late(void *ctx)
{
    const struct app_ctx *a = ctx;

    CHECK(a->live);
}

static void up_closed(void *ctx, int err)
{
    struct app_ctx *a = ctx;

    (void)err;
    CHECK(a->live);
    a->live = 0;
}

static void up_writable(void *ctx)
{
    struct app_ctx *a = ctx;

    CHECK(a->live);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *eal[] = { "fuzz_net", "--no-huge", "--no-pci", "-m", "256", "--no-shconf",
                    "--no-telemetry", "--log-level=lib.eal:error", NULL };

    (void)argc;
    (void)argv;
    if (rte_eal_init(8, eal) < 0)
        abort();
    pool = rte_pktmbuf_pool_create("fuzz", FUZZ_POOL, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (pool == NULL)
        abort();
    return 0;
}

/* ---- frame building ----------------------------------------------------- */

static struct rte_mbuf *frame(const uint8_t *p, uint32_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    char *d;

    if (m == NULL)
        return NULL;
    if (len > 1514)
        len = 1514;
    d = rte_pktmbuf_append(m, (uint16_t)len);
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    memcpy(d, p, len);
    return m;
}

/* Point a raw frame at the stack and make its checksums right, so the
 * fuzzer's bytes get past the first checks. */
static void patch(struct rte_mbuf *m, uint8_t how)
{
    uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t len = m->pkt_len;
    struct rte_ipv4_hdr *ip;
    uint32_t hl, tl;

    if (len < 14)
        return;
    memcpy(b, stack_mac, 6);
    if (!(how & 2) || len < 34 || b[12] != 0x08 || b[13] != 0x00)
        return;
    ip = (struct rte_ipv4_hdr *)(b + 14);
    ip->version_ihl = (uint8_t)(0x40 | (ip->version_ihl & 0xf));
    ip->dst_addr = rte_cpu_to_be_32(STACK_IP);
    if (how & 4)
        ip->src_addr = rte_cpu_to_be_32(PEER_IP);
    hl = (uint32_t)(ip->version_ihl & 0xf) * 4;
    tl = rte_be_to_cpu_16(ip->total_length);
    if (how & 8) {
        tl = len - 14;
        ip->total_length = rte_cpu_to_be_16((uint16_t)tl);
    }
    if (hl < 20 || hl > len - 14)
        return;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    if (ip->next_proto_id == IPPROTO_TCP && tl >= hl + 20 && tl <= len - 14) {
        struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(b + 14 + hl);
        uint32_t sum;

        th->cksum = 0;
        sum = rte_raw_cksum(th, tl - hl) + rte_ipv4_phdr_cksum(ip, 0);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        th->cksum = (uint16_t)~sum;
    }
}

/* A segment from the peer of connection c: numbers relative to c. */
static struct rte_mbuf *segment(const struct tcp_conn *c, const uint8_t *p, uint32_t len)
{
    uint8_t hdr[14 + 20 + 20 + 40];
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)hdr;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
    struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
    uint8_t *opt = (uint8_t *)(th + 1);
    struct rte_mbuf *m;
    uint32_t plen, optlen = 0, sum;
    int16_t dseq, dack;
    uint8_t flags, ctl;
    uint16_t win;
    char *d;

    if (len < 7)
        return NULL;
    flags = p[0];
    memcpy(&dseq, p + 1, 2);
    memcpy(&dack, p + 3, 2);
    memcpy(&win, p + 5, 2);
    ctl = len > 7 ? p[7] : 0;
    p += 8 < len ? 8 : len;
    plen = len > 8 ? len - 8 : 0;
    if (plen > 1400)
        plen = 1400;
    memset(hdr, 0, sizeof(hdr));
    memcpy(eh->dst_addr.addr_bytes, stack_mac, 6);
    memcpy(eh->src_addr.addr_bytes, peer_mac, 6);
    eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    if (ctl & 1) {                              /* timestamps option */
        uint32_t tsval = rte_cpu_to_be_32(c->ts_recent + (uint32_t)(ctl >> 4) - 2);
        uint32_t tsecr = 0;

        opt[0] = 1;
        opt[1] = 1;
        opt[2] = 8;
        opt[3] = 10;
        memcpy(opt + 4, &tsval, 4);
        memcpy(opt + 8, &tsecr, 4);
        optlen = 12;
    }
    if ((ctl & 4) && (flags & TCP_F_SYN)) {     /* SACK-permitted */
        memcpy(opt + optlen, "\x01\x01\x04\x02", 4);
        optlen += 4;
    } else if (ctl & 4) {
        /* SACK blocks (1 or 3) from the payload's first bytes: edges
         * relative to snd_una, any order, bogus ones included */
        unsigned nb = ctl & 8 ? 3 : 1;

        opt[optlen] = 1;
        opt[optlen + 1] = 1;
        opt[optlen + 2] = 5;
        opt[optlen + 3] = (uint8_t)(2 + 8 * nb);
        for (unsigned b = 0; b < nb; b++) {
            int16_t e[2] = { 0, 0 };
            uint32_t edge[2];

            if (plen >= 4) {
                memcpy(e, p, 4);
                p += 4;
                plen -= 4;
            }
            edge[0] = rte_cpu_to_be_32(c->snd_una + (uint32_t)(int32_t)e[0]);
            edge[1] = rte_cpu_to_be_32(c->snd_una + (uint32_t)(int32_t)e[0] + (uint32_t)(int32_t)e[1]);
            memcpy(opt + optlen + 4 + 8 * b, edge, 8);
        }
        optlen += 4 + 8 * nb;
    }
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 20 + optlen + plen));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = c->key.rip;
    ip->dst_addr = c->key.lip;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    th->src_port = c->key.rport;
    th->dst_port = c->key.lport;
    th->sent_seq = rte_cpu_to_be_32(c->rcv_nxt + (uint32_t)(int32_t)dseq);
    th->recv_ack = rte_cpu_to_be_32((ctl & 2 ? c->snd_max : c->snd_una) + (uint32_t)(int32_t)dack);
    th->data_off = (uint8_t)(((20 + optlen) / 4) << 4);
    th->tcp_flags = flags & 0x3f;
    th->rx_win = win;
    m = rte_pktmbuf_alloc(pool);
    if (m == NULL)
        return NULL;
    d = rte_pktmbuf_append(m, (uint16_t)(14 + 40 + optlen + plen));
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    memcpy(d, hdr, 14 + 40 + optlen);
    memcpy(d + 14 + 40 + optlen, p, plen);
    th = (struct rte_tcp_hdr *)(d + 34);
    ip = (struct rte_ipv4_hdr *)(d + 14);
    sum = rte_raw_cksum(th, 20 + optlen + plen) + rte_ipv4_phdr_cksum(ip, 0);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    th->cksum = (uint16_t)~sum;
    return m;
}

/* Any connection in use, picked by k. */
static struct tcp_conn *pick_conn(struct run *r, uint8_t k)
{
    struct tcp_stack *t = &r->s->tcp;

    for (unsigned i = 0; i < t->nconns; i++) {
        struct tcp_conn *c = &t->conns[(k + i) % t->nconns];

        if (c->in_use && c->state != TCP_CLOSED)
            return c;
    }
    return NULL;
}

static struct app_ctx *pick_app(struct run *r, uint8_t k)
{
    for (unsigned i = 0; i < r->nctx; i++) {
        struct app_ctx *a = &r->ctx[(k + i) % r->nctx];

        if (a->live)
            return a;
    }
    return NULL;
}

static void app_action(struct run *r, const uint8_t *p, uint32_t len)
{
    static const uint8_t junk[2048];
    struct app_ctx *a;

    if (len < 2)
        return;
    if ((p[0] & 7) == 7) {                      /* connect */
        struct tcp_conn *c = NULL;
        struct app_ctx *n = ctx_new(r, NULL);

        if (n == NULL)
            return;
        if (net_tcp_connect(r->s, PEER_IP, (uint16_t)(1000 + p[1]), n, &c) == 0)
            n->c = c;
        else
            r->nctx--;
        return;
    }
    a = pick_app(r, p[1]);
    if (a == NULL)
        return;
    switch (p[0] & 7) {
    case 0:
    case 1: {
        size_t n = (size_t)len * 8 < sizeof(junk) ? (size_t)len * 8 : sizeof(junk);
        ssize_t w = net_tcp_send(a->c, junk, n);

        CHECK(send_result_ok(w));
        break;
    }
    case 2:
        net_tcp_pause_input(a->c, 1);
        break;
    case 3:
        net_tcp_pause_input(a->c, 0);
        break;
    case 4:
        net_tcp_close(a->c);
        break;
    case 5:
        net_tcp_shutdown(a->c);
        break;
    case 6:
        net_tcp_abort(a->c);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct net_config cfg;
    struct net_hooks hooks;
    struct net_upcalls up = { .on_accept = up_accept, .on_data = up_data,
                              .on_writable = up_writable, .on_closed = up_closed,
                              .on_peek = up_peek, .on_peek_late = up_peek_late };
    struct run r;
    int64_t mem0 = mem_used();
    size_t pos = 2;
    unsigned records = 0;

    if (size < 2)
        return 0;
    memset(&r, 0, sizeof(r));
    r.seed = data[1];
    r.now = 1000000;
    net_config_defaults(&cfg);
    cfg.ip = STACK_IP;
    cfg.mask = 0xFFFFFF00u;
    cfg.gateway = 0xC61200FEu;
    memcpy(cfg.mac, stack_mac, 6);
    cfg.pool = pool;
    cfg.max_conns = 24;
    cfg.max_half_open = 6;
    cfg.arp_entries = 16;
    cfg.sndbuf = data[0] & 0x40 ? 1024 : 8192;
    cfg.rcvbuf = data[0] & 0x40 ? 1024 : 131072;
    cfg.timestamps = data[0] & 1;
    cfg.wscale = (data[0] >> 1) & 1;
    cfg.rx_csum_offload = (data[0] >> 2) & 1;
    cfg.tx_csum_offload = (data[0] >> 3) & 1;
    cfg.delack_ms = data[0] & 0x10 ? 40 : 0;
    cfg.sack = !(data[0] & 0x80);
    cfg.challenge_ack_per_s = 5;
    cfg.data_retries = 4;
    cfg.syn_retries = 2;
    memset(&hooks, 0, sizeof(hooks));
    hooks.arg = &r;
    hooks.tx = hook_tx;
    hooks.exception = hook_exc;
    r.s = net_stack_create(&cfg, &hooks, &up);
    CHECK(r.s != NULL);
    CHECK(net_listen(r.s, PORT) == 0);
    net_input_burst(r.s, NULL, 0, r.now);

    while (pos + 3 <= size && records++ < FUZZ_MAX_RECORDS) {
        uint8_t op = data[pos];
        uint32_t len = (uint32_t)data[pos + 1] | (uint32_t)data[pos + 2] << 8;
        const uint8_t *p = data + pos + 3;
        struct rte_mbuf *m = NULL;

        pos += 3;
        if (len > size - pos)
            len = (uint32_t)(size - pos);
        pos += len;
        switch (op & 3) {
        case 0:
            m = frame(p, len);
            if (m != NULL && (op & 0x10))
                patch(m, op >> 4);
            break;
        case 1: {
            struct tcp_conn *c = pick_conn(&r, op >> 2);

            if (c != NULL)
                m = segment(c, p, len);
            break;
        }
        case 2:
            r.now += (uint64_t)(len ? p[0] : 1) * 1000 * ((op >> 2) + 1);
            net_timers(r.s, r.now);
            continue;
        default:
            app_action(&r, p, len);
            net_flush(r.s);
            continue;
        }
        if (m == NULL)
            continue;
        /* bursts of one: the input path must stand alone per frame */
        net_input_burst(r.s, &m, 1, r.now);
        if (op & 0x80)
            net_flush(r.s);
    }
    net_flush(r.s);
    /* Invariants that hold between turns. */
    {
        const struct net_counters *cnt = net_counters(r.s);

        CHECK(cnt->tcp_conns_open <= cfg.max_conns);
        CHECK(cnt->tcp_conns_half_open <= cfg.max_half_open);
        for (unsigned i = 0; i < r.s->tcp.nconns; i++) {
            const struct tcp_conn *c = &r.s->tcp.conns[i];

            if (!c->in_use || c->state == TCP_CLOSED)
                continue;
            CHECK(c->sring.len <= c->sring.cap);
            CHECK(c->rring.len <= c->rring.cap);
            CHECK(seq_le(c->snd_una, c->snd_nxt) || c->state == TCP_SYN_SENT);
            CHECK(seq_le(c->snd_nxt, c->snd_max));
            CHECK(c->nooo <= TCP_OOO_MAX);
            CHECK(c->nsacked <= TCP_SACK_MAX && c->nsack_recent <= TCP_SACK_BLOCKS);
            for (unsigned k = 0; k < c->nsacked; k++) {
                CHECK(seq_lt(c->sacked[k].lo, c->sacked[k].hi));
                CHECK(seq_ge(c->sacked[k].lo, c->snd_una) && seq_le(c->sacked[k].hi, c->snd_max));
                CHECK(k == 0 || seq_lt(c->sacked[k - 1].hi, c->sacked[k].lo));
            }
        }
    }
    net_stack_free(r.s);
    CHECK(rte_mempool_avail_count(pool) == FUZZ_POOL);
    CHECK(mem_used() == mem0);
    return 0;
}
