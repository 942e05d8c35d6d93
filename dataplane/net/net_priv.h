/* net_priv — the stack context and the calls between the stack's own files
 * (eth.c, arp.c, ip.c, icmp.c, tcp_*.c). Nothing outside dataplane/net/
 * includes it, except the stack's unit tests, which read state through it.
 *
 * Owner: one data core per struct net_stack. Fields are written only by the
 * stack's functions running on that core. */
#ifndef SLOTD_NET_PRIV_H
#define SLOTD_NET_PRIV_H

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "net.h"
#include "tcp.h"

/* Frames gathered before the tx hook runs: twice a typical 32-frame rx
 * burst, so replies to one burst usually leave in one tx_burst call. */
#define NET_TX_BURST 64
/* Sent frames the stack keeps a reference to, reused for the next frames
 * built once the port let go of them (net_alloc_frame): a power of two. */
#define NET_TX_RECYCLE 64
#define NET_ETH_HLEN 14
#define NET_IP_HLEN 20
#define NET_TTL 64               /* RFC 1700 / IANA default TTL */

struct net_stack {
    struct net_config cfg;
    struct net_hooks hooks;
    struct net_upcalls up;
    uint32_t ip_be, mask_be, gw_be;  /* network byte order copies of cfg */
    uint32_t bcast_be;               /* the subnet's broadcast; 0 for a /32 */
    struct rte_ether_addr mac;
    /* The first 8 bytes of a frame to us, masked to the destination MAC:
     * one load and compare per frame instead of three. */
    uint64_t mac_word, mac_mask;
    uint32_t tso_max;                /* payload of one TSO frame; 0: no TSO */
    uint64_t now_us;                 /* the turn's clock, set by input/timers */
    uint32_t now_ms;                 /* now_us / 1000, set with it: the timestamp
                                        clock, read by every segment sent */
    struct net_counters cnt;

    struct rte_mbuf *tx[NET_TX_BURST];
    unsigned ntx;
    struct rte_mbuf *exc[NET_TX_BURST];
    unsigned nexc;
    /* received frames done with, freed in one go at the end of the burst;
     * rxfree_pool: their pool (meaningful while nrxfree > 0) */
    struct rte_mbuf *rxfree[NET_TX_BURST];
    unsigned nrxfree;
    struct rte_mempool *rxfree_pool;
    /* The last NET_TX_RECYCLE frames net_alloc_frame built (NULL: none
     * yet), each with a second reference the stack keeps; txrec_next is
     * the slot of the oldest, the next one built. A port that copies and
     * frees at once (memif, TAP) only drops its reference, and the frame
     * is built again without a trip through the mempool either way. */
    struct rte_mbuf *txrec[NET_TX_RECYCLE];
    unsigned txrec_next;

    struct arp_table arp;
    struct tcp_stack tcp;
};

#define NET_DROP(s, name) ((s)->cnt.drop.name++)

/* Byte order for the per-segment fields. DPDK's x86 rte_bswap16/32 are
 * volatile asm: the compiler may neither fold a swap into a compare with
 * a constant nor drop one whose result goes unused, ~2 instructions a
 * field on every segment; the builtins leave it both. Used by tcp_out.c
 * (~15 instructions a segment) and tcp_in.c; in ip.c and eth.c they made
 * LTO take tcp_input out of the receive loop, which cost more than they
 * saved. */
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
#define net_hton16(x) ((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define net_hton32(x) ((uint32_t)__builtin_bswap32((uint32_t)(x)))
#else
#define net_hton16(x) ((uint16_t)(x))
#define net_hton32(x) ((uint32_t)(x))
#endif
#define net_ntoh16(x) net_hton16(x)
#define net_ntoh32(x) net_hton32(x)

/* net_copy's step: the first and the last w of n bytes, w <= n <= 2w. */
static inline __attribute__((always_inline)) void net_copy_ends(uint8_t *d, const uint8_t *p,
                                                                size_t n, size_t w)
{
    uint8_t a[16], b[16];

    /* w is a constant once inlined: fixed-size moves, both loads first */
    memcpy(a, p, w);
    memcpy(b, p + n - w, w);
    memcpy(d, a, w);
    memcpy(d + n - w, b, w);
}

/* memcpy for the short copies request/response traffic makes (a reply of
 * a few dozen bytes into the send ring, then into its frame): inline, two
 * moves of the largest power of two not above n, overlapping in the
 * middle. The library call, with the registers saved around it, cost
 * ~7 instructions a copy more (14 a GET at -P 1, callgrind); over 32
 * bytes, memcpy. */
static inline __attribute__((always_inline)) void net_copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *p = (const uint8_t *)src;

    if (n > 32)
        memcpy(d, p, n);
    else if (n >= 16)
        net_copy_ends(d, p, n, 16);
    else if (n >= 8)
        net_copy_ends(d, p, n, 8);
    else if (n >= 4)
        net_copy_ends(d, p, n, 4);
    else if (n >= 2)
        net_copy_ends(d, p, n, 2);
    else if (n == 1)
        d[0] = p[0];
}

/* No code: an empty asm that says field x may have changed in memory, so
 * GCC's SLP vectorizer cannot merge its update with its neighbours' into
 * one vector operation. Where the vectorizer did, the loads, lane inserts
 * and extracts cost more instructions than the scalar lines they replaced
 * (the cost model weighs cycles on wide cores, not instructions). */
#if defined(__GNUC__)
#define NET_NO_SLP(x) __asm__("" : "+m"(x))
#else
#define NET_NO_SLP(x) ((void)0)
#endif

/* Push the tx array through the tx hook. */
PHASE_ROOT void net_tx_flush(struct net_stack *s);

/* Queue a finished frame for the tx hook (takes m). */
static inline void net_tx(struct net_stack *s, struct rte_mbuf *m)
{
    if (s->ntx == NET_TX_BURST)
        net_tx_flush(s);
    s->cnt.tx_frames++;
    /* adding the two neighbours as one vector took 9 instructions a frame */
    NET_NO_SLP(s->cnt.tx_frames);
    s->cnt.tx_bytes += m->pkt_len;
    s->tx[s->ntx++] = m;
}

/* Drop the references to recycled frames: each goes back to the pool now,
 * or when its other holder frees it (net_stack_free; a test starving the
 * pool). */
void net_tx_recycle_release(struct net_stack *s);

/* Out of line, so that net_alloc_frame stays small enough to inline:
 * frees m if there is one, counts drop.mbuf_alloc, returns NULL. */
struct rte_mbuf *net_alloc_fail(struct net_stack *s, struct rte_mbuf *m);
/* The recycled frame in slot is missing or still held elsewhere: a fresh
 * mbuf takes the slot (the old one's reference dropped), or NULL when the
 * pool is empty (the slot as it was). */
struct rte_mbuf *net_alloc_refill(struct net_stack *s, struct rte_mbuf **slot);

/* A frame of `len` bytes with its data at the Ethernet header, or NULL
 * (counted as drop.mbuf_alloc). What rte_pktmbuf_alloc and
 * rte_pktmbuf_append do, without append's pointer arithmetic: one of
 * these per segment sent. The frame built NET_TX_RECYCLE frames ago when
 * everyone else let go of it (its count back to our one reference),
 * reset as a fresh one would be; else a fresh one in its slot. The
 * atomic count makes the second reference safe whoever drops the other:
 * the port, a dropped frame, ARP's queue. */
static inline struct rte_mbuf *net_alloc_frame(struct net_stack *s, uint32_t len)
{
    struct rte_mbuf **slot = &s->txrec[s->txrec_next];
    struct rte_mbuf *m = *slot;

    if (m == NULL || rte_mbuf_refcnt_read(m) != 1) {
        m = net_alloc_refill(s, slot);
        if (m == NULL)
            return net_alloc_fail(s, NULL);
    }
    s->txrec_next = (s->txrec_next + 1) & (NET_TX_RECYCLE - 1);
    rte_mbuf_refcnt_set(m, 2);
    rte_pktmbuf_reset(m);
    /* config_ok guarantees room for any frame up to the MTU */
    if (len > rte_pktmbuf_tailroom(m))
        return net_alloc_fail(s, m);
    m->data_len = (uint16_t)len;
    m->pkt_len = len;
    return m;
}

/* ---- per-segment TCP helpers, inline (tcp.h lists the rest) ---- */

/* The connection table's hash: a keyed multiply-xorshift (not
 * cryptographic; the key keeps an outsider from aiming at one bucket
 * without seeing our collisions). The key is read as tcp_lookup compares
 * it, 8 + 4 bytes, so the two share their loads: assembling the addresses
 * and the ports field by field cost ~9 instructions a segment. */
static inline uint32_t tcp_hash(const struct net_stack *s, const struct tcp_key *k)
{
    uint64_t a, b;
    uint32_t k4;

    memcpy(&a, k, sizeof(a));
    memcpy(&k4, (const uint8_t *)k + sizeof(a), sizeof(k4));
    a ^= s->cfg.secret[0];
    b = k4 ^ s->cfg.secret[1];

    a *= 0x9E3779B97F4A7C15ull;
    b ^= a ^ (a >> 29);
    b *= 0xBF58476D1CE4E5B9ull;
    b ^= b >> 32;
    return (uint32_t)b;
}

_Static_assert(sizeof(struct tcp_key) == 12, "tcp_key: the 12 bytes tcp_lookup compares");

/* The key compared as 8 + 4 bytes: two compares instead of four. */
static inline struct tcp_conn *tcp_lookup(struct net_stack *s, const struct tcp_key *k, uint32_t h)
{
    struct tcp_stack *t = &s->tcp;
    uint64_t k8;
    uint32_t k4;

    memcpy(&k8, k, sizeof(k8));
    memcpy(&k4, (const uint8_t *)k + sizeof(k8), sizeof(k4));
    for (uint32_t i = h & t->table_mask;; i = (i + 1) & t->table_mask) {
        struct tcp_conn *c = t->table[i];
        uint64_t c8;
        uint32_t c4;

        if (c == NULL)
            return NULL;
        if (c->hash != h)
            continue;
        memcpy(&c8, &c->key, sizeof(c8));
        memcpy(&c4, (const uint8_t *)&c->key + sizeof(c8), sizeof(c4));
        if (c8 == k8 && c4 == k4)
            return c;
    }
}

static inline void tcp_mark_dirty(struct tcp_conn *c)
{
    struct tcp_list *l = &c->s->tcp.dirty;

    if (c->on_dirty)
        return;
    c->on_dirty = 1;
    c->dirty_next = NULL;
    if (l->tail)
        l->tail->dirty_next = c;
    else
        l->head = c;
    l->tail = c;
}

static inline uint32_t tcp_now_ms(const struct net_stack *s)
{
    return s->now_ms;
}

/* The receive window (RFC 9293 3.8.6.2.2 receiver-side SWS avoidance):
 * inline, as tcp_wnd_field runs for every segment sent. */
static inline uint32_t tcp_min32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static inline uint32_t rcv_edge_room(const struct tcp_conn *c)
{
    return seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

static inline uint32_t rcv_free(const struct tcp_conn *c)
{
    uint32_t used = c->app_closed ? 0 : c->rring.len;

    return c->rcv_space > used ? c->rcv_space - used : 0;
}

static inline uint32_t rcv_max_window(const struct tcp_conn *c)
{
    return c->rcv_wmax;
}

static inline void tcp_set_rcv_space(struct tcp_conn *c, uint32_t space)
{
    c->rcv_space = space;
    c->rcv_half = space / 2;
    c->rcv_sws = tcp_min32(space / 2, c->s->cfg.mss);
}

static inline uint32_t tcp_rcv_window(struct tcp_conn *c)
{
    uint32_t cur = rcv_edge_room(c);
    uint32_t win = rcv_free(c);
    uint32_t sws = c->rcv_sws;

    /* RFC 9293 3.8.6.2.2: move the right edge only by a useful amount ... */
    if (win > cur && win - cur < sws)
        win = cur;
    /* ... and never back (RFC 9293 3.8.6.2.2, RFC 1122 4.2.2.16). */
    if (win < cur)
        win = cur;
    return tcp_min32(win, rcv_max_window(c));
}

/* The window field: never moves the right edge left (RFC 9293 3.8.6.2.2),
 * which may round up by less than one scale unit; the ring's slack holds it. */
static inline uint16_t tcp_wnd_field(struct tcp_conn *c)
{
    uint32_t ws = c->rcv_wscale;
    uint32_t win = tcp_rcv_window(c);
    uint32_t field = win >> ws;

    if (seq_lt(c->rcv_nxt + (field << ws), c->rcv_adv))
        field++;
    if (field > 65535)
        field = 65535;
    c->rcv_adv = seq_max(c->rcv_adv, c->rcv_nxt + (field << ws));
    return (uint16_t)field;
}

static inline __attribute__((always_inline)) int tcp_window_update_due(struct tcp_conn *c)
{
    uint32_t cur = rcv_edge_room(c);
    uint32_t win, sws;

    /* Only worth a segment of its own when the peer's view is narrow. */
    if (cur >= c->rcv_half)
        return 0;
    win = tcp_min32(rcv_free(c), rcv_max_window(c));
    sws = c->rcv_sws;
    return win > cur && win - cur >= sws;
}

/* After rexmt_at or dack_at changed: the wheel entry for the earlier one.
 * A deadline moved later keeps the entry where it is (re-armed when it
 * comes up early); no deadline leaves a stale entry, dropped when its slot
 * comes up. A request/response connection clears its RTO with every ACK
 * and sets it again with the next reply: no list surgery for either. */
static inline void tcp_timer_sync(struct tcp_conn *c)
{
    uint64_t due = c->rexmt_at;
    uint64_t tick;

    if (c->dack_at && (due == 0 || c->dack_at < due))
        due = c->dack_at;
    /* Keep-alive only once nothing else is armed: while an RTO or a probe
     * runs it would only re-arm itself (tcp_timer.c), and every reply
     * re-arms the RTO here. */
    if (due == 0)
        due = c->ka_at;
    if (due == 0)
        return;
    /* wheel_tick <= ceil(due / tick) exactly when due > (wheel_tick - 1)
     * ticks (wheel_from_us): one compare instead of the division, for the
     * usual deadline that moved later (every reply re-arms its RTO). */
    if (due > c->wheel_from_us)
        return;
    tick = (due + TCP_TICK_US - 1) / TCP_TICK_US;
    tcp_timer_relink(c, tick);
}

/* The RTO with the exponential backoff of consecutive timeouts, at most
 * rto_max (RFC 6298 5.5, 2.5). */
static inline uint32_t tcp_rto_backed_off(const struct tcp_conn *c)
{
    uint64_t rto = (uint64_t)c->rto_us << (c->nrexmt < 16 ? c->nrexmt : 16);
    uint64_t max = (uint64_t)c->s->cfg.rto_max_ms * 1000;

    return (uint32_t)(rto < max ? rto : max);
}

/* The retransmission timer from now. */
static inline void tcp_arm_rexmt(struct tcp_conn *c)
{
    c->loss &= (uint8_t)~TCP_LOSS_PTO;
    c->rexmt_at = c->s->now_us + tcp_rto_backed_off(c);
    tcp_timer_sync(c);
}

/* Below this a loss probe would race the ACK it waits for: two wheel
 * ticks, as Linux's TCP_TIMEOUT_MIN (RFC 8985 7.2 leaves the floor to the
 * timer's granularity). */
#define TCP_PTO_MIN_US (2 * TCP_TICK_US)

/* RFC 8985 7.2: a loss probe may go when no recovery runs (fast or RTO),
 * no probe is unanswered and the window is open. Checked when the PTO
 * fires; arming needs only pto_us (an RTT sample, probes on), and a PTO
 * that finds probes not allowed becomes the RTO it stood in front of,
 * which keeps the send path short. */
static inline int tcp_tlp_allowed(const struct tcp_conn *c)
{
    return !(c->loss & (TCP_LOSS_RTO | TCP_LOSS_PROBED)) && !c->in_recovery && !c->persist &&
           c->snd_wnd != 0;
}

/* Data went out (ack_of_new 0) or an ACK of new data left some in flight
 * (1): the RTO runs from the first send (RFC 6298 5.1) or restarts with
 * the ACK (5.3); a loss probe fires first, 2 SRTT from now plus the peer's
 * delayed ACK when only one segment is out, never after the RTO (RFC 8985
 * 7.2). */
static inline void tcp_arm_loss_timer(struct tcp_conn *c, int ack_of_new)
{
    uint64_t now = c->s->now_us;
    uint64_t rto_due;

    if (ack_of_new || c->rexmt_at == 0)
        rto_due = now + (c->nrexmt ? tcp_rto_backed_off(c) : c->rto_us);
    else
        rto_due = (c->loss & TCP_LOSS_PTO) ? c->rto_due : c->rexmt_at;
    if (c->pto_us != 0) {
        uint64_t pto = now + (c->pto_us > TCP_PTO_MIN_US ? c->pto_us : TCP_PTO_MIN_US);

        if (c->snd_max - c->snd_una <= c->mss)
            pto += c->s->tcp.tlp_delay_us;
        c->loss |= TCP_LOSS_PTO;
        c->rto_due = rto_due;
        c->rexmt_at = pto < rto_due ? pto : rto_due;
    } else {
        c->loss &= (uint8_t)~TCP_LOSS_PTO;
        c->rexmt_at = rto_due;
    }
    tcp_timer_sync(c);
}

/* Recovery starts: a pending PTO becomes the RTO it stood in front of. */
static inline void tcp_tlp_disarm(struct tcp_conn *c)
{
    if (!(c->loss & TCP_LOSS_PTO))
        return;
    c->loss &= (uint8_t)~TCP_LOSS_PTO;
    c->rexmt_at = c->rto_due;
    tcp_timer_sync(c);
}

/* eth.c */
void eth_input(struct net_stack *s, struct rte_mbuf *m);
/* Fill the addresses of frame m (data at the Ethernet header, ether_type
 * already set by its builder) and queue it. */
void eth_output(struct net_stack *s, struct rte_mbuf *m, const struct rte_ether_addr *dst);
/* net_tx and net_alloc_frame: inline, above. */

/* Free received frames in bulk: net_rx_free takes m; a single-segment
 * frame nothing else refers to waits in rxfree (all from one pool) and
 * goes back with the others in one mempool call at net_rx_free_flush,
 * which net_input_burst makes before it returns. Always inline, as
 * tcp_window_update_due: LTO moved both out of line when the input path
 * grew, at ~40 instructions a segment. */
void net_rx_free_flush(struct net_stack *s);
static inline __attribute__((always_inline)) void net_rx_free(struct net_stack *s,
                                                            struct rte_mbuf *m)
{
    if (m->next != NULL) {
        rte_pktmbuf_free(m);
        return;
    }
    m = rte_pktmbuf_prefree_seg(m);
    if (m == NULL)
        return;
    if (m->pool != s->rxfree_pool || s->nrxfree == NET_TX_BURST) {
        net_rx_free_flush(s);
        s->rxfree_pool = m->pool;
    }
    s->rxfree[s->nrxfree++] = m;
}
/* Hand a received frame to the exception hook (takes m). */
void net_exception(struct net_stack *s, struct rte_mbuf *m);
void net_exception_flush(struct net_stack *s);

/* ip.c */
void ip_input(struct net_stack *s, struct rte_mbuf *m);
/* Fill the IPv4 header at ip for a datagram of l4len payload bytes from our
 * address to dst_be, checksum included unless tx offload is on. */
void ip_fill(struct net_stack *s, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
             uint32_t dst_be, uint8_t proto, uint32_t l4len);
/* Send frame m (IPv4 header filled) to dst_be: straight to mac when known,
 * else through ARP for the next hop. Takes m. */
void ip_output(struct net_stack *s, struct rte_mbuf *m, uint32_t dst_be,
               const struct rte_ether_addr *mac);
/* Next hop for dst_be, or 0 when off-subnet without gateway. */
uint32_t ip_nexthop(const struct net_stack *s, uint32_t dst_be);

/* icmp.c */
void icmp_input(struct net_stack *s, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
                uint32_t l4off, uint32_t l4len);

/* Checksum of len bytes at offset off of m, chained mbufs allowed, added to
 * sum (not folded, not complemented). */
uint32_t net_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t sum);

/* sum + (sum rotated by 16): the upper half is hi + lo plus the carry out
 * of the lower half's same addition, i.e. hi + lo with its end-around
 * carry (RFC 1071 2 (B)): the same value as folding twice, in fewer
 * instructions (one fold per checksum, two checksums a segment). */
static inline uint16_t net_cksum_fold(uint32_t sum)
{
    return (uint16_t)((sum + (sum << 16 | sum >> 16)) >> 16);
}

/* a + b with the carry folded back in: ones'-complement addition on 64 bits. */
static inline uint64_t net_cksum_add64(uint64_t a, uint64_t b)
{
    uint64_t r = a + b;

    return r + (r < b);
}

/* RFC 1071 sum of len bytes at p, as 16-bit words in memory order, added
 * to s: 64 bits, carries folded back in, not reduced. Eight bytes per
 * addition (RFC 1071 2 (C): the sum may be taken over any word size and
 * folded); the loads are in host order, so once folded the result is the
 * network-order sum as stored, as __rte_raw_cksum's. The odd last byte is
 * the high-order byte of its word in network order, i.e. first in memory.
 * Always inline: a call (LTO's choice once the tx path inlined it) costs
 * the rx path ~40 instructions a segment. */
static inline __attribute__((always_inline)) uint64_t net_cksum_add(uint64_t s, const void *buf,
                                                                    uint32_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    /* The blocks' end, not a count: len's low bits are the tail as they
     * are, and the loop needs no trip count worked out (~10 instructions
     * a call). */
    const uint8_t *end = p + (len & ~(uint32_t)31);

#if defined(__x86_64__) && defined(__GNUC__)
    /* One carry chain per block: 5 instructions for 32 bytes where the
     * compilers emit 11 (each carry re-derived by a compare). */
    for (; p != end; p += 32)
        __asm__("addq 0(%[p]), %[s]\n\t"
                "adcq 8(%[p]), %[s]\n\t"
                "adcq 16(%[p]), %[s]\n\t"
                "adcq 24(%[p]), %[s]\n\t"
                "adcq $0, %[s]"
                : [s] "+r"(s)
                : [p] "r"(p), "m"(*(const uint8_t(*)[32])p)
                : "cc");
    if (len & 16) {
        __asm__("addq 0(%[p]), %[s]\n\t"
                "adcq 8(%[p]), %[s]\n\t"
                "adcq $0, %[s]"
                : [s] "+r"(s)
                : [p] "r"(p), "m"(*(const uint8_t(*)[16])p)
                : "cc");
        p += 16;
    }
#else
    for (; p != end; p += 32) {
        uint64_t w0, w1, w2, w3;

        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        s = net_cksum_add64(s, w0);
        s = net_cksum_add64(s, w1);
        s = net_cksum_add64(s, w2);
        s = net_cksum_add64(s, w3);
    }
    if (len & 16) {
        uint64_t w0, w1;

        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        s = net_cksum_add64(s, w0);
        s = net_cksum_add64(s, w1);
        p += 16;
    }
#endif
    if (len & 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        s = net_cksum_add64(s, w);
        p += 8;
    }
    if (len & 4) {
        uint32_t w;

        memcpy(&w, p, sizeof(w));
        s = net_cksum_add64(s, w);
        p += 4;
    }
    if (len & 2) {
        uint16_t w;

        memcpy(&w, p, sizeof(w));
        s = net_cksum_add64(s, w);
        p += 2;
    }
    if (len & 1) {
        uint16_t w = 0;

        memcpy(&w, p, 1);
        s = net_cksum_add64(s, w);
    }
    return s;
}

/* A 64-bit sum reduced to 16 bits (not complemented). */
static inline uint32_t net_cksum_fold64(uint64_t s)
{
    /* 64 to 32 bits as net_cksum_fold does 32 to 16 */
    return net_cksum_fold((uint32_t)((s + (s << 32 | s >> 32)) >> 32));
}

/* The folded sum of len bytes at buf. */
static inline uint32_t net_cksum_raw(const void *buf, uint32_t len)
{
    return net_cksum_fold64(net_cksum_add(0, buf, len));
}

/* IPv4 pseudo-header sum (RFC 9293 3.1) for l4len bytes of protocol proto,
 * addresses as stored in the header: 64 bits, not reduced. */
static inline uint64_t net_cksum_phdr(uint32_t src_be, uint32_t dst_be, uint8_t proto,
                                      uint32_t l4len)
{
    return (uint64_t)src_be + dst_be + net_hton16((uint16_t)proto) +
           net_hton16((uint16_t)l4len);
}

#endif
