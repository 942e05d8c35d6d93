/* tcp_in — segment arrival (RFC 9293 3.10.7): header checks, options,
 * passive open with a bounded half-open table, SYN_SENT processing, the
 * acceptability test, PAWS (RFC 7323), RST and SYN per RFC 5961, ACK
 * processing with SACK (RFC 2018: options, the sender's scoreboard, RFC
 * 6675 recovery entered here and run by tcp_out.c) or, when the peer did
 * not offer it, NewReno (RFC 5681, RFC 6582); limited transmit (RFC 3042),
 * early retransmit (RFC 5827) and the ACK side of loss probes (RFC 8985
 * 7.4), in-order and out-of-order data into the receive ring (an ACK at
 * once for out-of-order data and gap fills, and for every second full
 * segment, RFC 5681 4.2; SACK blocks with it, tcp_out.c), FIN; and
 * delivery to the app.
 *
 * Loss recovery without SACK: the RTO (200 ms floor) is the last resort.
 * Measured on the 2%-loss phase of tests/e2e/test_dpdk.py (100,000 keys
 * through python3-redis): 135-150 RTOs and ~35 s before probes, limited
 * and early retransmit and the per-burst ACKs, 10-12 RTOs and ~9 s after;
 * what remains is mostly a fast retransmission lost again, which NewReno
 * can only leave to the RTO. With SACK a retransmission lost again is
 * seen when bytes sent after it are SACKed (rxt_fence), and a hole below
 * a SACKed loss probe starts recovery at once. The scoreboard is a fixed
 * array per connection (TCP_SACK_MAX ranges): nothing is allocated per
 * segment, and a full board only forgets the highest range.
 *
 * Call chain: ip_input → tcp_input → tcp_listen_input | tcp_synsent_input |
 *             tcp_fast_input (header prediction) | tcp_conn_input →
 *             tcp_ack → tcp_rcv_data → tcp_deliver → on_data → tcp_fin_arrived
 * Owner: the stack's data core. A segment's mbuf is only read here and freed
 * by tcp_input (net_rx_free: back to the pool at the end of the burst);
 * payload is either handed to on_data in place (in order, nothing buffered)
 * or copied into the ring. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "net_priv.h"

static uint32_t min32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* ---- delivery ------------------------------------------------------------- */

/* A pause holds input only until the peer's FIN: nothing more can come
 * then, and a peer that half-closed and never reads would otherwise hold
 * the connection for good (Redis reads to the end of the stream). */
static int can_deliver(const struct tcp_conn *c)
{
    return c->app_live && !c->app_closed && (!c->paused || c->rcvd_fin) && !c->app_full &&
           c->s->up.on_data != NULL;
}

void tcp_deliver(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    struct tcp_ring *r = &c->rring;

    if (c->app_closed) {
        r->head += r->len;
        r->len = 0;
        return;
    }
    while (r->len > 0 && can_deliver(c)) {
        uint32_t pos = r->head & (r->cap - 1);
        uint32_t chunk = min32(r->len, r->cap - pos);
        size_t k = s->up.on_data(c->ctx, r->buf + pos, chunk);

        if (c->app_closed)          /* closed from the upcall: ring dropped */
            return;
        if (k > chunk)
            k = chunk;
        r->head += (uint32_t)k;
        r->len -= (uint32_t)k;
        if (k < chunk) {
            c->app_full = 1;
            break;
        }
    }
    if (c->rcvd_fin && r->len == 0 && !c->eof_sent && can_deliver(c)) {
        c->eof_sent = 1;
        s->up.on_data(c->ctx, NULL, 0);
    }
    if (c->state != TCP_CLOSED && tcp_window_update_due(c)) {
        c->ack_owed = c->ack_now = 1;
        tcp_mark_dirty(c);
    }
}

void net_tcp_pause_input(struct tcp_conn *c, int paused)
{
    if (paused) {
        c->paused = 1;
        return;
    }
    c->paused = 0;
    c->app_full = 0;
    if (c->rring.len > 0 || (c->rcvd_fin && !c->eof_sent))
        tcp_mark_deliver(c);
}

int net_tcp_input_ended(const struct tcp_conn *c)
{
    return c->rcvd_fin;
}

/* ---- helpers -------------------------------------------------------------- */

/* Out of line, as the other paths a request/response segment does not take
 * (tcp_dupack, tcp_tlp_verdict, tcp_merge_ooo, tcp_rcv_ooo): that keeps
 * tcp_rcv_data small enough to inline into tcp_input. */
static __attribute__((noinline)) void ring_write_mbuf(struct tcp_ring *r, uint32_t off,
                                                      const struct rte_mbuf *m, uint32_t moff,
                                                      uint32_t len)
{
    while (m != NULL && moff >= m->data_len) {
        moff -= m->data_len;
        m = m->next;
    }
    while (m != NULL && len > 0) {
        uint32_t n = min32(m->data_len - moff, len);
        const uint8_t *src = rte_pktmbuf_mtod_offset(m, const uint8_t *, moff);
        uint32_t pos = (r->head + off) & (r->cap - 1);
        uint32_t first = min32(n, r->cap - pos);

        memcpy(r->buf + pos, src, first);
        if (n > first)
            memcpy(r->buf, src + first, n - first);
        off += n;
        len -= n;
        moff = 0;
        m = m->next;
    }
}

static void parse_options(struct tcp_seg *g, const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;

    while (i < n) {
        uint8_t kind = p[i], len;

        if (kind == 0)              /* RFC 9293 3.1: end of option list */
            break;
        if (kind == 1) {            /* no-operation */
            i++;
            continue;
        }
        if (i + 1 >= n)
            break;
        len = p[i + 1];
        if (len < 2 || i + len > n)
            break;                  /* malformed: ignore the rest */
        switch (kind) {
        case 2:                     /* MSS, RFC 9293 3.7.1 */
            if (len == 4) {
                g->has_mss = 1;
                g->opt_mss = (uint16_t)(p[i + 2] << 8 | p[i + 3]);
            }
            break;
        case 3:                     /* window scale, RFC 7323 2.2 */
            if (len == 3) {
                g->has_ws = 1;
                g->ws = p[i + 2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : p[i + 2];
            }
            break;
        case 4:                     /* SACK-permitted, RFC 2018 2 */
            if (len == 2)
                g->has_sackok = 1;
            break;
        case 5:                     /* SACK, RFC 2018 3: 2 + 8 bytes a block */
            if ((len - 2) % 8 == 0 && len >= 10) {
                unsigned nb = (len - 2u) / 8;

                g->nsack = (uint8_t)(nb < TCP_SACK_BLOCKS ? nb : TCP_SACK_BLOCKS);
                for (unsigned b = 0; b < g->nsack; b++) {
                    const uint8_t *q = p + i + 2 + 8 * b;

                    g->sack[b].lo = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
                                    (uint32_t)q[2] << 8 | q[3];
                    g->sack[b].hi = (uint32_t)q[4] << 24 | (uint32_t)q[5] << 16 |
                                    (uint32_t)q[6] << 8 | q[7];
                }
            }
            break;
        case 8:                     /* timestamps, RFC 7323 3.2 */
            if (len == 10) {
                g->has_ts = 1;
                g->tsval = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
                           (uint32_t)p[i + 4] << 8 | p[i + 5];
                g->tsecr = (uint32_t)p[i + 6] << 24 | (uint32_t)p[i + 7] << 16 |
                           (uint32_t)p[i + 8] << 8 | p[i + 9];
            }
            break;
        default:
            break;
        }
        i += len;
    }
}

/* Options of exactly NOP, NOP, timestamps (RFC 7323 appendix A layout):
 * what parse_options finds in them, without the walk. Returns 0 for any
 * other 12 bytes. */
static int ts_only_options(const void *p, struct tcp_seg *g)
{
    const uint8_t *b = p;
    uint32_t kind, val, ecr;

    /* Each word loaded from the frame itself: copied into an array first,
     * its two 4-byte stores were read back as one 8-byte load, which
     * store forwarding cannot serve; the stall was a fifth of ip_input's
     * time (perf). */
    memcpy(&kind, b, 4);
    if (kind != net_hton32(0x0101080a))
        return 0;
    memcpy(&val, b + 4, 4);
    memcpy(&ecr, b + 8, 4);
    g->has_ts = 1;
    g->tsval = net_ntoh32(val);
    g->tsecr = net_ntoh32(ecr);
    return 1;
}

/* RFC 6298 2 (RTT estimation, the RTO from it), microseconds. */
static inline void tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
    const struct net_config *cfg = &c->s->cfg;
    uint32_t rto, var4;

    if (c->srtt_us == 0) {
        /* RFC 6298 2.2 */
        c->srtt_us = r ? r : 1;
        c->rttvar_us = r / 2;
    } else {
        /* RFC 6298 2.3, alpha 1/8, beta 1/4 */
        uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;

        c->rttvar_us = (3 * c->rttvar_us + delta) / 4;
        c->srtt_us = (7 * c->srtt_us + r) / 8;
        if (c->srtt_us == 0)
            c->srtt_us = 1;
    }
    var4 = 4 * c->rttvar_us;
    rto = c->srtt_us + (var4 > TCP_TICK_US ? var4 : TCP_TICK_US);   /* G = one tick */
    if (rto < c->s->tcp.rto_min_us)
        rto = c->s->tcp.rto_min_us;             /* RFC 6298 2.4 */
    if (rto > c->s->tcp.rto_max_us)
        rto = c->s->tcp.rto_max_us;             /* RFC 6298 2.5 */
    c->rto_us = rto;
    c->pto_us = cfg->tlp ? 2 * c->srtt_us : 0;  /* RFC 8985 7.2 */
}

/* Options of the peer's SYN (or SYN-ACK) decide what this connection uses. */
static void take_syn_options(struct tcp_conn *c, const struct tcp_seg *g)
{
    struct net_stack *s = c->s;

    c->peer_mss = g->has_mss && g->opt_mss >= 64 ? g->opt_mss : TCP_DEFAULT_MSS;
    if (g->has_ws && s->cfg.wscale) {
        c->ws_ok = 1;
        c->snd_wscale = g->ws;
        c->rcv_wscale = s->tcp.wscale;
    } else {
        c->ws_ok = 0;
        c->snd_wscale = c->rcv_wscale = 0;
    }
    c->rcv_wmax = 65535u << c->rcv_wscale;
    if (g->has_ts && s->cfg.timestamps) {
        c->ts_ok = 1;
        c->ts_recent = g->tsval;
    }
    /* An active open offered it only when configured (tcp_send_syn). */
    c->sack_ok = g->has_sackok && s->cfg.sack;
}

/* Both SYNs are acknowledged: windows, MSS, congestion state, upcall.
 * Returns 0, or -1 when the connection was refused (it is gone). */
static int tcp_established(struct tcp_conn *c, const struct tcp_seg *g, uint32_t wnd)
{
    struct net_stack *s = c->s;
    uint32_t mss = min32(c->peer_mss, s->cfg.mss);

    if (c->passive && tcp_conn_buffers(c) != 0) {
        tcp_send_rst(c);
        tcp_conn_gone(c, 0);
        return -1;
    }
    if (c->ts_ok)
        mss -= TCP_OPT_TS_LEN;
    c->mss = (uint16_t)(mss < 64 ? 64 : mss);
    c->snd_una = g->ack;
    c->snd_nxt = seq_max(c->snd_nxt, g->ack);
    c->snd_wnd = wnd;
    c->max_sndwnd = wnd;
    c->snd_wl1 = g->seq;
    c->snd_wl2 = g->ack;
    c->cwnd = (uint32_t)s->cfg.init_cwnd * c->mss;
    if (c->cwnd < 2u * c->mss)
        c->cwnd = 2u * c->mss;
    c->rexmt_at = 0;
    c->nrexmt = 0;
    c->rx_us = s->now_us;
    tcp_timer_sync(c);
    if (!c->syn_rexmt)
        tcp_rtt_sample(c, (uint32_t)(s->now_us - c->rtt_start_us));
    else if (c->srtt_us == 0 && c->rto_us < 3000000)
        c->rto_us = 3000000;        /* RFC 6298 5.7 */
    tcp_set_state(c, TCP_ESTABLISHED);
    s->cnt.tcp_conns_total++;
    tcp_mark_dirty(c);              /* bytes queued before the handshake may go */
    if (c->passive) {
        void *ctx;

        /* app_live first: a close from inside on_accept must be heard. */
        c->app_live = 1;
        ctx = s->up.on_accept ? s->up.on_accept(s->hooks.arg, c) : NULL;
        if (ctx == NULL) {
            c->app_live = 0;        /* refused: no on_closed to report */
            if (c->state != TCP_CLOSED) {
                tcp_send_rst(c);
                tcp_conn_gone(c, 0);
            }
            return -1;
        }
        c->ctx = ctx;
    } else if (s->up.on_connected) {
        s->up.on_connected(c->ctx);
    } else if (s->up.on_writable) {
        s->up.on_writable(c->ctx);
    }
    return c->state == TCP_CLOSED ? -1 : 0;
}

/* ---- LISTEN ------------------------------------------------------------- */

static void tcp_listen_input(struct net_stack *s, struct tcp_seg *g, uint32_t h)
{
    struct tcp_conn *c;

    /* RFC 9293 3.10.7.2 */
    if (g->flags & TCP_F_RST) {
        NET_DROP(s, tcp_listen_bad);
        return;
    }
    if (g->flags & TCP_F_ACK) {
        NET_DROP(s, tcp_no_conn);
        tcp_send_rst_reply(s, g);
        return;
    }
    if (!(g->flags & TCP_F_SYN)) {
        NET_DROP(s, tcp_listen_bad);
        return;
    }
    if (s->cnt.tcp_conns_half_open >= s->cfg.max_half_open && s->tcp.half_open.head) {
        /* SYN flood: the oldest half-open connection makes room. Its peer,
         * if real, retransmits its SYN. */
        NET_DROP(s, tcp_syn_evicted);
        tcp_conn_evict(s->tcp.half_open.head);
    }
    c = tcp_conn_new(s, &g->key, h);
    if (c == NULL)
        return;
    c->passive = 1;
    c->mac_ok = 1;
    c->peer_mac = *g->src_mac;
    c->irs = g->seq;
    c->rcv_nxt = g->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->iss = tcp_isn(s, &g->key);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_buf_seq = c->iss + 1;
    c->recover = c->iss;
    c->ts_offset = h * 2654435761u;
    take_syn_options(c, g);
    /* The SYN's window is never scaled (RFC 7323 2.2). */
    c->snd_wnd = g->wnd;
    tcp_set_state(c, TCP_SYN_RECEIVED);
    tcp_send_syn(c);
}

/* ---- SYN_SENT ----------------------------------------------------------- */

static void tcp_synsent_input(struct tcp_conn *c, struct tcp_seg *g)
{
    struct net_stack *s = c->s;

    /* RFC 9293 3.10.7.3 */
    if ((g->flags & TCP_F_ACK) && (seq_le(g->ack, c->iss) || seq_gt(g->ack, c->snd_max))) {
        NET_DROP(s, tcp_synsent_bad);
        tcp_send_rst_reply(s, g);
        return;
    }
    if (g->flags & TCP_F_RST) {
        if (g->flags & TCP_F_ACK) {
            tcp_conn_gone(c, -ECONNREFUSED);
            return;
        }
        NET_DROP(s, tcp_synsent_bad);
        return;
    }
    if (!(g->flags & TCP_F_SYN)) {
        NET_DROP(s, tcp_synsent_bad);
        return;
    }
    c->irs = g->seq;
    c->rcv_nxt = g->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->mac_ok = 1;
    c->peer_mac = *g->src_mac;
    take_syn_options(c, g);
    if (g->flags & TCP_F_ACK) {
        c->ack_owed = c->ack_now = 1;
        tcp_mark_dirty(c);
        tcp_established(c, g, g->wnd);
        return;
    }
    /* Simultaneous open (RFC 9293 3.5 figure 8). */
    c->snd_wnd = g->wnd;
    tcp_set_state(c, TCP_SYN_RECEIVED);
    tcp_send_syn(c);
}

/* ---- ACK processing ----------------------------------------------------- */

/* Bytes of the ring not sent yet, or the FIN not sent yet, and the peer's
 * window has room for them. */
static int tcp_can_send_new(const struct tcp_conn *c)
{
    uint32_t end = c->snd_buf_seq + c->sring.len;

    if (seq_lt(c->snd_max, end))
        return seq_lt(c->snd_max, c->snd_una + c->snd_wnd);
    return c->fin_queued && c->snd_max == end;
}

/* ---- SACK scoreboard (RFC 6675 3) ---------------------------------------- */

/* The cumulative ACK moved: ranges it covers leave the scoreboard. */
static __attribute__((noinline)) void tcp_sack_trim(struct tcp_conn *c)
{
    unsigned k = 0;

    while (k < c->nsacked && seq_le(c->sacked[k].hi, c->snd_una))
        k++;
    if (k > 0) {
        memmove(&c->sacked[0], &c->sacked[k], sizeof(c->sacked[0]) * (c->nsacked - k));
        c->nsacked = (uint8_t)(c->nsacked - k);
    }
    if (c->nsacked > 0 && seq_lt(c->sacked[0].lo, c->snd_una))
        c->sacked[0].lo = c->snd_una;
}

/* [lo, hi) joins the scoreboard, merged with ranges it touches. */
static void tcp_sack_insert(struct tcp_conn *c, uint32_t lo, uint32_t hi)
{
    struct tcp_range *r = c->sacked;
    unsigned n = c->nsacked, i = 0, j;

    while (i < n && seq_lt(r[i].hi, lo))
        i++;
    for (j = i; j < n && seq_le(r[j].lo, hi); j++) {
        if (seq_lt(r[j].lo, lo))
            lo = r[j].lo;
        if (seq_gt(r[j].hi, hi))
            hi = r[j].hi;
    }
    if (j == i) {
        if (n == TCP_SACK_MAX) {
            if (i == n)
                return;             /* beyond all we keep: forgotten (tcp.h) */
            n--;                    /* the highest range makes room */
        }
        memmove(&r[i + 1], &r[i], sizeof(r[0]) * (n - i));
        n++;
    } else if (j > i + 1) {
        memmove(&r[i + 1], &r[j], sizeof(r[0]) * (n - j));
        n -= j - i - 1;
    }
    r[i].lo = lo;
    r[i].hi = hi;
    c->nsacked = (uint8_t)n;
}

/* The SACK blocks of an ACK (snd_una already moved by it). Blocks at or
 * below snd_una are old news or D-SACKs (RFC 2883) and are passed over;
 * any other block not within [snd_una, snd_max] is bogus, ignored and
 * counted. Returns 1 when SACK recovery began here, whatever the count of
 * duplicate ACKs: enough was SACKed above the first hole to call it lost
 * (RFC 6675 5, IsLost(HighACK + 1)), or a loss probe (probed: one was out
 * before this ACK) arrived above a hole, which therefore left before it
 * and did not arrive (RFC 8985 7.4.2 with 6.2). In recovery, a SACK for
 * bytes sent after the retransmission at snd_una says it was lost. */
static __attribute__((noinline)) int tcp_sack_rcv(struct tcp_conn *c, const struct tcp_seg *g,
                                                  int probed)
{
    struct net_stack *s = c->s;

    if (!c->sack_ok)
        return 0;
    for (unsigned b = 0; b < g->nsack; b++) {
        uint32_t lo = g->sack[b].lo, hi = g->sack[b].hi;

        if (seq_le(hi, c->snd_una) && seq_lt(lo, hi))
            continue;
        if (!seq_lt(lo, hi) || seq_lt(lo, c->snd_una) || seq_gt(hi, c->snd_max)) {
            s->cnt.tcp_sack_blocks_bad++;
            continue;
        }
        tcp_sack_insert(c, lo, hi);
    }
    if (c->nsacked == 0)
        return 0;
    if (c->in_recovery) {
        if (c->snd_una == c->rxt_una_seq && seq_lt(c->snd_una, c->high_rxt) &&
            seq_gt(c->sacked[c->nsacked - 1].hi, c->rxt_fence)) {
            tcp_sack_rxt_lost(c);
            tcp_arm_loss_timer(c, 0);
        }
        return 0;
    }
    if ((c->loss & TCP_LOSS_RTO) || c->persist || c->sacked[0].lo == c->snd_una)
        return 0;
    if (!tcp_sack_hole_lost(c, 0) && !(probed && c->sacked[c->nsacked - 1].hi == c->tlp_end_seq))
        return 0;
    tcp_sack_enter_recovery(c);
    return 1;
}

static __attribute__((noinline)) void tcp_dupack(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint32_t flight = c->snd_max - c->snd_una;
    uint32_t thresh = 3;            /* RFC 5681 3.2 */

    if (c->dupacks < 255)
        c->dupacks++;
    if (c->in_recovery) {
        /* RFC 6582 3.2 (4): inflate for each segment that left the network;
         * with SACK the pipe counts them (RFC 6675 5), sent at the flush */
        if (!c->sack_ok)
            c->cwnd += c->mss;
        tcp_mark_dirty(c);
        return;
    }
    /* RFC 5827 3.2 (byte-based early retransmit): a flight under four
     * segments with nothing new to send cannot produce three duplicates;
     * it takes one fewer than the segments it holds. Byte-based because
     * segment boundaries are not kept: small segments only make the
     * threshold higher than the segment count would. */
    if (flight < 4u * c->mss && !tcp_can_send_new(c)) {
        uint32_t oseg = (flight + c->mss - 1) / c->mss;

        thresh = oseg > 2 ? oseg - 1 : 1;
    }
    /* RFC 5681 3.2 (2), RFC 6582 3.2 (2): enough duplicates, and the ACK
     * covers everything sent before the last recovery (fast recovery ends
     * only there; TCP_LOSS_RTO keeps the mark for a timeout). */
    if (c->dupacks >= thresh && !(c->loss & TCP_LOSS_RTO) && c->sack_ok) {
        tcp_sack_enter_recovery(c);
        if (thresh < 3)
            s->cnt.tcp_early_retransmits++;
    } else if (c->dupacks >= thresh && !(c->loss & TCP_LOSS_RTO)) {
        c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
        c->recover = c->snd_max;
        c->loss &= (uint8_t)~(TCP_LOSS_PROBED | TCP_LOSS_PROBE_OLD);   /* recovery responds */
        tcp_tlp_disarm(c);
        tcp_retransmit_first(c);
        c->cwnd = c->ssthresh + (uint32_t)c->dupacks * c->mss;
        c->in_recovery = 1;
        s->cnt.tcp_fast_retransmits++;
        if (thresh < 3)
            s->cnt.tcp_early_retransmits++;
        tcp_mark_dirty(c);
    } else if (c->dupacks <= 2 && c->snd_nxt == c->snd_max && flight < c->cwnd + 2u * c->mss) {
        /* RFC 3042 limited transmit: each of the first two duplicates lets
         * one new segment out beyond cwnd, up to cwnd + 2 segments in
         * flight, so that a short flight still draws the duplicates fast
         * retransmit needs. */
        if (tcp_send_new_segment(c, min32(c->mss, c->cwnd + 2u * c->mss - flight))) {
            s->cnt.tcp_limited_transmits++;
            tcp_arm_loss_timer(c, 0);
        }
    }
}

/* RFC 8985 7.4.3: a loss probe that sent old data again repaired a loss
 * once an ACK goes beyond it, which costs the window as fast recovery
 * would (half the cwnd, as Linux: for the short flights of request/
 * response traffic half the flight would be nearly nothing). An ACK at
 * exactly its end leaves the question open; a duplicate of that ACK
 * answers "both arrived" (tcp_ack). */
static __attribute__((noinline)) void tcp_tlp_verdict(struct tcp_conn *c, uint32_t ack)
{
    if (seq_gt(ack, c->tlp_end_seq)) {
        c->loss &= (uint8_t)~TCP_LOSS_PROBE_OLD;
        c->ssthresh = c->cwnd / 2 > 2u * c->mss ? c->cwnd / 2 : 2u * c->mss;
        c->cwnd = c->ssthresh;
    }
}

static inline __attribute__((always_inline)) void tcp_new_ack(struct tcp_conn *c, uint32_t ack)
{
    struct net_stack *s = c->s;
    uint32_t acked = ack - c->snd_una;
    uint32_t data_end = c->snd_buf_seq + c->sring.len;
    uint32_t upto = seq_lt(ack, data_end) ? ack : data_end;

    if (seq_gt(upto, c->snd_buf_seq)) {
        uint32_t n = upto - c->snd_buf_seq;

        c->sring.head += n;
        c->sring.len -= n;
        c->snd_buf_seq = upto;
        if (c->want_writable && c->sring.cap - c->sring.len >= c->sring.cap / 4)
            tcp_mark_writable(c);
    }
    c->snd_una = ack;
    if (seq_lt(c->snd_nxt, ack))
        c->snd_nxt = ack;
    if (c->nsacked != 0)
        tcp_sack_trim(c);
    if (c->rtt_timing && seq_gt(ack, c->rtt_seq)) {
        tcp_rtt_sample(c, (uint32_t)(s->now_us - c->rtt_start_us));
        c->rtt_timing = 0;
    }
    c->nrexmt = 0;
    /* One test for the usual case, none of the three set. Any progress
     * closes a probe's episode, not only the ACK of all it covered (RFC
     * 8985 7.4's TLP.end_seq): without SACK a probe often draws the ACK a
     * delayed-ACK receiver was holding back, and the hole behind it then
     * needs a probe of its own, not the RTO. */
    if (c->loss & (TCP_LOSS_PROBED | TCP_LOSS_PROBE_OLD | TCP_LOSS_RTO)) {
        c->loss &= (uint8_t)~TCP_LOSS_PROBED;
        if ((c->loss & TCP_LOSS_PROBE_OLD) && seq_ge(ack, c->tlp_end_seq))
            tcp_tlp_verdict(c, ack);
        if ((c->loss & TCP_LOSS_RTO) && seq_ge(ack, c->recover))
            c->loss &= (uint8_t)~TCP_LOSS_RTO;
    }
    if (c->in_recovery) {
        if (seq_ge(ack, c->recover)) {
            /* RFC 6582 3.2 (3) full ACK */
            uint32_t flight = c->snd_max - c->snd_una;
            uint32_t f = (flight > c->mss ? flight : c->mss) + c->mss;

            c->cwnd = min32(c->ssthresh, f);
            c->in_recovery = 0;
            c->dupacks = 0;
        } else if (c->sack_ok) {
            /* RFC 6675 5 (C): the scoreboard and the pipe say what goes
             * next, at the flush (tcp_mark_dirty below). A retransmission
             * arrived: what was sent before it and is still missing is
             * lost (RFC 8985 6.2), up to the recovery point. */
            c->lost_hi = c->recover;
            if (seq_lt(c->snd_una, c->high_rxt)) {
                c->rxt_una_seq = c->snd_una;
                c->rxt_fence = c->snd_max;
                c->rxt_probed = 0;
            }
        } else {
            /* RFC 6582 3.2 (4) partial ACK: resend the next hole, deflate */
            tcp_retransmit_first(c);
            c->cwnd = (c->cwnd > acked ? c->cwnd - acked : 0) + (acked >= c->mss ? c->mss : 0);
            if (c->cwnd < c->mss)
                c->cwnd = c->mss;
        }
    } else {
        c->dupacks = 0;
        if (c->cwnd < c->ssthresh)
            c->cwnd += min32(acked, c->mss);            /* RFC 5681 3.1 (2) */
        else
            c->cwnd += (uint32_t)c->mss * c->mss / c->cwnd ? (uint32_t)c->mss * c->mss / c->cwnd : 1;
        if (c->cwnd > (1u << 30))
            c->cwnd = 1u << 30;
    }
    /* RFC 6298 5.2 / 5.3, RFC 8985 7.2 */
    if (!c->persist) {
        if (c->snd_una == c->snd_max) {
            c->rexmt_at = 0;                /* (TCP_LOSS_PTO means nothing then) */
            /* tcp_timer_sync has nothing to do without a delayed ACK: the
             * test here spares every request/response exchange the call
             * LTO leaves it as (~5 instructions a GET at -P 1, callgrind). */
            if (c->dack_at != 0)
                tcp_timer_sync(c);
        } else {
            tcp_arm_loss_timer(c, 1);
        }
    }
    tcp_mark_dirty(c);
}

/* Returns 0 to go on with the segment, -1 when it is consumed or the
 * connection went away. Inlined into the predicted path (one per
 * request/response exchange); tcp_ack below is the same for the rest.
 * predicted (a constant at each call): tcp_predicted passed, so the ACK is
 * within [snd_una, snd_max] (neither unsent nor older than the window:
 * both differences stay below 2^31) and the state is ESTABLISHED, where
 * no FIN of ours can be outstanding; those tests are left out. */
static inline __attribute__((always_inline)) int tcp_ack_inline(struct tcp_conn *c,
                                                                const struct tcp_seg *g,
                                                                int predicted)
{
    struct net_stack *s = c->s;
    uint32_t ack = g->ack;
    uint32_t wnd = (uint32_t)g->wnd << c->snd_wscale;

    if (!predicted && seq_gt(ack, c->snd_max)) {
        NET_DROP(s, tcp_ack_unsent);
        tcp_send_refusal_ack(c, g);
        return -1;
    }
    /* RFC 5961 5.2: an ACK older than the largest window we were given */
    if (!predicted && seq_lt(ack, c->snd_una - c->max_sndwnd)) {
        NET_DROP(s, tcp_ack_old);
        tcp_send_refusal_ack(c, g);
        return -1;
    }
    /* RFC 7323 4.3 (2), once the segment has proved acceptable, ACK
     * included: a forged segment without ACK (or with a wild one) that
     * merely lands in the window must not move ts_recent, or PAWS would
     * then drop the peer's own segments (the attack Linux closed in
     * bd090dfc634d). The fast path does its own. */
    if (!predicted && c->ts_ok && g->has_ts && seq_le(g->seq, c->last_ack_sent) &&
        (seq_ge(g->tsval, c->ts_recent) || s->now_us - c->rx_us >= TCP_PAWS_IDLE_US))
        c->ts_recent = g->tsval;     /* newer, or ours gone stale (RFC 7323 5.5) */
    c->rx_us = s->now_us;
    if (seq_gt(ack, c->snd_una)) {
        int probed = c->loss & TCP_LOSS_PROBED;

        tcp_new_ack(c, ack);
        if (g->nsack != 0)
            tcp_sack_rcv(c, g, probed);
    } else if (g->nsack != 0 && tcp_sack_rcv(c, g, c->loss & TCP_LOSS_PROBED) != 0) {
        /* RFC 6675 5: recovery began on the scoreboard alone */
    } else if ((c->loss & TCP_LOSS_PROBE_OLD) && ack == c->tlp_end_seq && g->len == 0 &&
             !(g->flags & TCP_F_FIN))
        c->loss &= (uint8_t)~TCP_LOSS_PROBE_OLD;   /* RFC 8985 7.4.3: the probe's duplicate */
    else if (ack == c->snd_una && g->len == 0 && !(g->flags & TCP_F_FIN) &&
             wnd == c->snd_wnd && c->snd_max != c->snd_una && c->snd_wnd != 0 && !c->persist)
        tcp_dupack(c);                              /* RFC 5681 2 definition */
    /* RFC 9293 3.10.7.4: window update from a newer segment only, whose
     * ACK is not below snd_una (an older one's right edge would overstate
     * the window by the difference) */
    if (seq_ge(ack, c->snd_una) &&
        (seq_lt(c->snd_wl1, g->seq) || (c->snd_wl1 == g->seq && seq_le(c->snd_wl2, ack)))) {
        uint32_t old = c->snd_wnd;

        c->snd_wnd = wnd;
        c->snd_wl1 = g->seq;
        c->snd_wl2 = ack;
        if (wnd > c->max_sndwnd)
            c->max_sndwnd = wnd;
        if (old == 0 && wnd > 0 && c->persist) {
            /* Only the probe byte can be in flight: if the peer did not
             * take it, it goes again at once, in order. */
            c->persist = 0;
            c->nrexmt = 0;
            c->probes = 0;
            c->rexmt_at = 0;
            c->snd_nxt = c->snd_una;
            tcp_timer_sync(c);
        }
        if (wnd > old)
            tcp_mark_dirty(c);
    }
    /* The peer answers our probes: alive, and an open connection waits for
     * its window as long as it takes; a closed one only orphan_retries. */
    if (c->persist && !c->app_closed)
        c->probes = 0;
    /* Our FIN acknowledged? */
    if (!predicted && c->fin_queued && seq_gt(c->snd_una, c->snd_buf_seq + c->sring.len)) {
        switch (c->state) {
        case TCP_FIN_WAIT_1:
            tcp_set_state(c, TCP_FIN_WAIT_2);
            c->rexmt_at = 0;
            c->persist = 0;
            if (c->app_closed)
                c->rexmt_at = s->now_us + (uint64_t)s->cfg.fin_wait2_ms * 1000;
            tcp_timer_sync(c);
            break;
        case TCP_CLOSING:
            tcp_enter_time_wait(c);
            break;
        case TCP_LAST_ACK:
            tcp_conn_gone(c, 0);
            return -1;
        default:
            break;
        }
    }
    return 0;
}

static int tcp_ack(struct tcp_conn *c, const struct tcp_seg *g)
{
    return tcp_ack_inline(c, g, /* predicted */ 0);
}

/* ---- data and FIN ------------------------------------------------------- */

static void tcp_fin_arrived(struct tcp_conn *c)
{
    c->rcv_nxt++;
    c->rcvd_fin = 1;
    c->ack_owed = c->ack_now = 1;
    tcp_mark_dirty(c);
    switch (c->state) {
    case TCP_ESTABLISHED:
        tcp_set_state(c, TCP_CLOSE_WAIT);
        break;
    case TCP_FIN_WAIT_1:
        tcp_set_state(c, TCP_CLOSING);      /* simultaneous close */
        break;
    case TCP_FIN_WAIT_2:
        tcp_enter_time_wait(c);
        break;
    default:
        break;
    }
    if (c->paused)
        c->app_full = 0;     /* what it refused while paused is offered again */
    tcp_deliver(c);
}

static __attribute__((noinline)) void tcp_merge_ooo(struct tcp_conn *c)
{
    while (c->nooo > 0 && seq_le(c->ooo[0].lo, c->rcv_nxt)) {
        if (seq_gt(c->ooo[0].hi, c->rcv_nxt)) {
            c->rring.len += c->ooo[0].hi - c->rcv_nxt;
            c->rcv_nxt = c->ooo[0].hi;
        }
        memmove(&c->ooo[0], &c->ooo[1], sizeof(c->ooo[0]) * (size_t)(c->nooo - 1));
        c->nooo--;
    }
}

/* RFC 2018 4: the segment at seq, now part of ooo range [lo, hi), is the
 * newest; an older entry in the same range says nothing more. */
static void tcp_sack_note(struct tcp_conn *c, uint32_t seq, uint32_t lo, uint32_t hi)
{
    uint32_t keep[TCP_SACK_BLOCKS];
    unsigned n = 0;

    keep[n++] = seq;
    for (unsigned i = 0; i < c->nsack_recent && n < TCP_SACK_BLOCKS; i++) {
        uint32_t r = c->sack_recent[i];

        if (seq_lt(r, c->rcv_nxt) || (seq_ge(r, lo) && seq_lt(r, hi)))
            continue;
        keep[n++] = r;
    }
    memcpy(c->sack_recent, keep, sizeof(keep[0]) * n);
    c->nsack_recent = (uint8_t)n;
}

static __attribute__((noinline)) void tcp_rcv_ooo(struct tcp_conn *c, const struct tcp_seg *g)
{
    struct tcp_range out[TCP_OOO_MAX];
    uint32_t lo = g->seq, hi = g->seq + g->len;
    unsigned n = 0, i = 0;
    int placed = 0;

    for (i = 0; i < c->nooo; i++) {
        const struct tcp_range *r = &c->ooo[i];

        if (seq_lt(r->hi, lo)) {
            if (n == TCP_OOO_MAX)
                goto full;
            out[n++] = *r;
        } else if (seq_gt(r->lo, hi)) {
            if (!placed) {
                if (n == TCP_OOO_MAX)
                    goto full;
                out[n++] = (struct tcp_range){ lo, hi };
                placed = 1;
            }
            if (n == TCP_OOO_MAX)
                goto full;
            out[n++] = *r;
        } else {
            if (seq_lt(r->lo, lo))
                lo = r->lo;
            if (seq_gt(r->hi, hi))
                hi = r->hi;
        }
    }
    if (!placed) {
        if (n == TCP_OOO_MAX)
            goto full;
        out[n++] = (struct tcp_range){ lo, hi };
    }
    ring_write_mbuf(&c->rring, c->rring.len + (g->seq - c->rcv_nxt), g->m, g->off, g->len);
    memcpy(c->ooo, out, sizeof(out[0]) * n);
    c->nooo = (uint8_t)n;
    if (c->sack_ok)
        tcp_sack_note(c, g->seq, lo, hi);
    /* RFC 5681 4.2: a duplicate ACK at once for every out-of-order segment
     * (the sender counts them for fast retransmit). */
    tcp_send_ack(c);
    return;
full:
    NET_DROP(c->s, tcp_ooo_full);
    tcp_send_ack(c);
}

/* RFC 5681 4.2: an ACK for at least every second full-sized segment, also
 * inside one receive burst. Left to the turn's flush, a burst that fills
 * the window would be answered by a single segment, and its loss would
 * leave the peer with a closed window until a timer: a client streaming
 * into a 32 KB window lost about one round in fifty that way. Requests
 * under two segments (nearly all) never get here; their ACK rides on the
 * reply. */
static void tcp_ack_every_second(struct tcp_conn *c)
{
    if (c->segs_unacked >= 2 && c->rcv_nxt - c->last_ack_sent >= 2u * c->mss)
        tcp_send_ack(c);
}

/* predicted (a constant at each call): tcp_predicted passed and the ACK
 * left the connection ESTABLISHED (tcp_ack_inline changes no state on that
 * path), so the peer's FIN has not come (it would have moved us on) and
 * the segment is the next in sequence: those tests are left out. */
static inline __attribute__((always_inline)) void tcp_rcv_data(struct tcp_conn *c,
                                                               const struct tcp_seg *g,
                                                               int predicted)
{
    struct net_stack *s = c->s;
    uint32_t len = g->len;

    if (!predicted) {
        switch (c->state) {
        case TCP_ESTABLISHED:
        case TCP_FIN_WAIT_1:
        case TCP_FIN_WAIT_2:
            break;
        default:
            return;                 /* RFC 9293: after the peer's FIN, ignore text */
        }
        if (c->rcvd_fin)
            return;
    }
    if (c->app_closed) {
        if (g->seq == c->rcv_nxt) {
            c->rcv_nxt += len;
            c->ack_owed = 1;
            NET_DROP(s, tcp_after_close);
        }
        return;
    }
    if (!predicted && g->seq != c->rcv_nxt) {
        tcp_rcv_ooo(c, g);
        return;
    }
    c->ack_owed = 1;
    c->segs_unacked++;
    if (c->rring.len == 0 && c->nooo == 0 && can_deliver(c) && g->m->nb_segs == 1) {
        /* Fast path: the app reads the payload where the NIC put it. */
        const uint8_t *p = rte_pktmbuf_mtod_offset(g->m, const uint8_t *, g->off);
        size_t k;

        c->rcv_nxt += len;
        k = s->up.on_data(c->ctx, p, len);
        if (c->app_closed || c->state == TCP_CLOSED)
            return;
        if (k > len)
            k = len;
        if (k < len) {
            ring_write_mbuf(&c->rring, 0, g->m, g->off + (uint32_t)k, len - (uint32_t)k);
            c->rring.len = len - (uint32_t)k;
            c->app_full = 1;
        }
        if (tcp_window_update_due(c))
            c->ack_now = 1;
        tcp_ack_every_second(c);
        return;
    }
    ring_write_mbuf(&c->rring, c->rring.len, g->m, g->off, len);
    c->rring.len += len;
    c->rcv_nxt += len;
    if (c->nooo > 0) {
        tcp_merge_ooo(c);
        /* RFC 5681 4.2: at once for a segment that fills all or part of a gap */
        c->ack_now = 1;
    }
    tcp_deliver(c);
    if (c->state != TCP_CLOSED && !c->app_closed)
        tcp_ack_every_second(c);
}

/* ---- synchronized states -------------------------------------------------- */

static int seq_in_window(uint32_t seq, uint32_t lo, uint32_t wnd)
{
    return seq_ge(seq, lo) && seq_lt(seq, lo + wnd);
}

/* Header prediction (RFC 9293 3.10.7.4 in its most common case, after Van
 * Jacobson): ESTABLISHED, ACK with at most PSH, exactly the next sequence
 * number, a timestamp no older than ts_recent when they are in use, an ACK
 * within [snd_una, snd_max] and the payload within the window. For such a
 * segment the full path's PAWS, SYN, acceptability, trimming, RST and FIN
 * steps all pass without effect; what remains is tcp_fast_input. */
static int tcp_predicted(const struct tcp_conn *c, const struct tcp_seg *g)
{
    return c->state == TCP_ESTABLISHED &&
           (g->flags & (TCP_F_SYN | TCP_F_FIN | TCP_F_RST | TCP_F_ACK | TCP_F_URG)) == TCP_F_ACK &&
           g->seq == c->rcv_nxt &&
           (!c->ts_ok || (g->has_ts && seq_ge(g->tsval, c->ts_recent))) &&
           seq_ge(g->ack, c->snd_una) && seq_le(g->ack, c->snd_max) &&
           g->len <= rcv_edge_room(c) && !c->ooo_fin;
}

/* The steps of tcp_conn_input that act on a predicted segment, in order.
 * Inlined into tcp_input (one call per request): the call and the six
 * registers it saved and restored were ~8 instructions a GET at -P 1. */
static inline __attribute__((always_inline)) void tcp_fast_input(struct tcp_conn *c,
                                                                 const struct tcp_seg *g)
{
    /* RFC 7323 4.3 (2) */
    if (c->ts_ok && seq_le(g->seq, c->last_ack_sent))
        c->ts_recent = g->tsval;
    if (tcp_ack_inline(c, g, /* predicted */ 1) != 0)
        return;
    if (g->len > 0)
        tcp_rcv_data(c, g, /* predicted */ 1);
    if (c->state != TCP_CLOSED && c->ack_owed)
        tcp_mark_dirty(c);
}

static void tcp_conn_input(struct tcp_conn *c, struct tcp_seg *g)
{
    struct net_stack *s = c->s;
    uint32_t wnd, seglen;
    int ok;

    if (c->state == TCP_SYN_SENT) {
        tcp_synsent_input(c, g);
        return;
    }
    /* A SYN retransmitted by the peer: answer with the SYN-ACK again. */
    if (c->state == TCP_SYN_RECEIVED && (g->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == TCP_F_SYN &&
        g->seq == c->irs) {
        tcp_retransmit_first(c);
        return;
    }
    /* Simultaneous open: the peer's SYN-ACK repeats its SYN; what counts
     * is the ACK of ours (RFC 9293 3.5 figure 8, line 5). */
    if (c->state == TCP_SYN_RECEIVED && !c->passive &&
        (g->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == (TCP_F_SYN | TCP_F_ACK) && g->seq == c->irs) {
        g->flags &= (uint8_t)~TCP_F_SYN;
        g->seq++;
    }
    /* RFC 5961 4.2: a SYN in a synchronized state, whatever its sequence
     * number (or timestamp: a restarted host's clock is another), is
     * answered with a challenge ACK and dropped. */
    if ((g->flags & (TCP_F_SYN | TCP_F_RST)) == TCP_F_SYN) {
        NET_DROP(s, tcp_syn_challenge);
        /* A peer that lost the connection and opens it again (a restarted
         * host, its NIC replaced: a new MAC) must see the challenge to
         * answer it with the RST that ends this connection; at the MAC of
         * the old handshake it would be lost, and the port stay taken until
         * a timeout. So the challenge goes where the SYN came from, but the
         * connection's segments do not follow: a SYN is unauthenticated,
         * and anyone on the segment could send one with this 4-tuple. */
        tcp_send_challenge_ack_to(c, g->src_mac);
        return;
    }
    /* RFC 7323 5.3 PAWS; a RST is exempt (it may carry no timestamp). */
    if (c->ts_ok && !(g->flags & TCP_F_RST)) {
        if (!g->has_ts) {
            NET_DROP(s, tcp_no_ts);
            return;
        }
        /* RFC 7323 5.5: after 24 days without an acceptable segment the
         * peer's clock may have wrapped past ts_recent; it is invalid. */
        if (seq_lt(g->tsval, c->ts_recent) && s->now_us - c->rx_us < TCP_PAWS_IDLE_US) {
            NET_DROP(s, tcp_paws);
            tcp_send_refusal_ack(c, g);
            return;
        }
    }
    /* RFC 9293 3.10.7.4: acceptability */
    wnd = rcv_edge_room(c);
    seglen = g->len + !!(g->flags & TCP_F_SYN) + !!(g->flags & TCP_F_FIN);
    if (seglen == 0)
        ok = wnd == 0 ? g->seq == c->rcv_nxt : seq_in_window(g->seq, c->rcv_nxt, wnd);
    else
        ok = wnd != 0 && (seq_in_window(g->seq, c->rcv_nxt, wnd) ||
                          seq_in_window(g->seq + seglen - 1, c->rcv_nxt, wnd));
    if (!ok) {
        if (g->flags & TCP_F_RST) {
            NET_DROP(s, tcp_rst_ignored);
            return;
        }
        if (wnd == 0 && g->seq == c->rcv_nxt && !(g->flags & TCP_F_SYN)) {
            /* Zero window: the text goes, the ACK and window still count
             * (RFC 9293 3.10.7.4 "special allowance"). */
            NET_DROP(s, tcp_beyond_wnd);
            g->len = 0;
            g->flags &= (uint8_t)~TCP_F_FIN;
            tcp_send_ack(c);
        } else {
            if (c->state == TCP_TIME_WAIT && (g->flags & TCP_F_FIN))
                tcp_enter_time_wait(c);     /* the peer lost our last ACK */
            NET_DROP(s, tcp_bad_seq);
            tcp_send_refusal_ack(c, g);
            return;
        }
    }
    /* Trim to the window: the front is old, the tail does not fit. */
    if (seq_lt(g->seq, c->rcv_nxt) && !(g->flags & TCP_F_RST)) {
        uint32_t d = c->rcv_nxt - g->seq;

        if (g->flags & TCP_F_SYN) {
            g->flags &= (uint8_t)~TCP_F_SYN;
            g->seq++;
            d--;
        }
        if (d > g->len) {
            g->flags &= (uint8_t)~TCP_F_FIN;
            d = g->len;
        }
        g->off += d;
        g->len -= d;
        g->seq += d;
        c->ack_owed = c->ack_now = 1;       /* duplicate data: maybe our ACK was lost */
    }
    if (g->len > 0 && seq_gt(g->seq + g->len, c->rcv_nxt + wnd)) {
        uint32_t keep = c->rcv_nxt + wnd - g->seq;

        NET_DROP(s, tcp_beyond_wnd);
        g->len = seq_gt(c->rcv_nxt + wnd, g->seq) ? keep : 0;
        g->flags &= (uint8_t)~TCP_F_FIN;
    }
    /* RFC 5961 3.2: only an exact RST resets; one in the window is
     * challenged, so a blind attacker must guess rcv_nxt itself. */
    if (g->flags & TCP_F_RST) {
        if (g->seq != c->rcv_nxt) {
            NET_DROP(s, tcp_rst_challenge);
            tcp_send_challenge_ack(c);
            return;
        }
        switch (c->state) {
        case TCP_SYN_RECEIVED:
            tcp_conn_gone(c, c->passive ? 0 : -ECONNREFUSED);
            break;
        case TCP_ESTABLISHED:
        case TCP_FIN_WAIT_1:
        case TCP_FIN_WAIT_2:
        case TCP_CLOSE_WAIT:
            s->cnt.tcp_conns_reset++;
            tcp_conn_gone(c, -ECONNRESET);
            break;
        default:
            tcp_conn_gone(c, 0);
            break;
        }
        return;
    }
    if (!(g->flags & TCP_F_ACK)) {
        NET_DROP(s, tcp_no_ack);
        return;
    }
    if (c->state == TCP_SYN_RECEIVED) {
        if (seq_le(g->ack, c->snd_una) || seq_gt(g->ack, c->snd_max)) {
            NET_DROP(s, tcp_ack_unsent);
            tcp_send_rst_reply(s, g);
            return;
        }
        if (tcp_established(c, g, (uint32_t)g->wnd << c->snd_wscale) != 0)
            return;
    }
    if (tcp_ack(c, g) != 0)
        return;
    if (g->len > 0)
        tcp_rcv_data(c, g, /* predicted */ 0);
    if (c->state == TCP_CLOSED)
        return;
    if (g->flags & TCP_F_FIN) {
        uint32_t fin_seq = g->seq + g->len;

        if (c->rcvd_fin) {
            c->ack_owed = c->ack_now = 1;       /* retransmitted FIN */
        } else if (fin_seq == c->rcv_nxt) {
            tcp_fin_arrived(c);
        } else if (seq_gt(fin_seq, c->rcv_nxt)) {
            c->ooo_fin = 1;
            c->ooo_fin_seq = fin_seq;
        }
    }
    if (c->ooo_fin && !c->rcvd_fin && c->rcv_nxt == c->ooo_fin_seq && c->state != TCP_CLOSED) {
        c->ooo_fin = 0;
        tcp_fin_arrived(c);
    }
    if (c->ack_owed)
        tcp_mark_dirty(c);
}

/* ---- entry ------------------------------------------------------------------ */

/* The folded sum over pseudo-header and segment: 0xffff when it checks. */
static uint32_t tcp_rx_cksum(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip,
                             uint32_t l4off, uint32_t l4len)
{
    uint64_t ph = net_cksum_phdr(ip->src_addr, ip->dst_addr, IPPROTO_TCP, l4len);

    if (l4off + l4len <= m->data_len)
        return net_cksum_fold64(net_cksum_add(ph, rte_pktmbuf_mtod_offset(m, const void *, l4off),
                                              l4len));
    return net_cksum_fold(net_cksum_mbuf(m, l4off, l4len, net_cksum_fold64(ph)));
}

/* Every segment tcp_predicted does not take: out of line, so that
 * tcp_input stays small enough for LTO to keep it in the receive loop.
 * Returns 1 when m went to the exception path (not ours to free). */
static __attribute__((noinline)) int tcp_input_other(struct net_stack *s, struct tcp_seg *g,
                                                     struct tcp_conn *c, uint32_t h)
{
    if (c != NULL && c->state == TCP_TIME_WAIT && (g->flags & (TCP_F_SYN | TCP_F_ACK)) == TCP_F_SYN &&
        (seq_gt(g->seq, c->rcv_nxt) || (c->ts_ok && g->has_ts && seq_gt(g->tsval, c->ts_recent)))) {
        /* RFC 6191: a new incarnation of a TIME_WAIT connection. */
        tcp_conn_evict(c);
        c = NULL;
    }
    if (c != NULL)
        tcp_conn_input(c, g);
    else if (tcp_is_listening(s, g->key.lport))
        tcp_listen_input(s, g, h);
    else {
        /* Not ours: another port of the node's address, kept by the kernel. */
        s->cnt.tcp_segs_in--;
        net_exception(s, g->m);
        return 1;
    }
    return 0;
}

_Static_assert(offsetof(struct tcp_seg, key) - offsetof(struct tcp_seg, has_mss) == 16 &&
                   offsetof(struct tcp_seg, has_mss) % 8 == 0,
               "tcp_seg: the option fields tcp_input zeroes are 16 aligned bytes");

void tcp_input(struct net_stack *s, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
               uint32_t l4off, uint32_t l4len)
{
    const struct rte_tcp_hdr *th;
    const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    struct tcp_seg g;
    struct tcp_conn *c;
    uint32_t doff, h;

    if (l4len < TCP_HLEN || m->data_len < l4off + TCP_HLEN) {
        NET_DROP(s, tcp_short);
        goto drop;
    }
    th = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, l4off);
    doff = (uint32_t)(th->data_off >> 4) * 4;
    if (doff < TCP_HLEN || doff > l4len || m->data_len < l4off + doff) {
        NET_DROP(s, tcp_bad_off);
        goto drop;
    }
    if (s->cfg.rx_csum_offload &&
        (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
        NET_DROP(s, tcp_bad_csum);
        goto drop;
    }
    if (!(s->cfg.rx_csum_offload &&
          (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) &&
        tcp_rx_cksum(m, ip, l4off, l4len) != 0xffff) {
        NET_DROP(s, tcp_bad_csum);
        goto drop;
    }
    s->cnt.tcp_segs_in++;
    memset((uint8_t *)&g + offsetof(struct tcp_seg, has_mss), 0,
           offsetof(struct tcp_seg, key) - offsetof(struct tcp_seg, has_mss));
    g.m = m;
    g.key.rip = ip->src_addr;
    g.key.lip = ip->dst_addr;
    g.key.rport = th->src_port;
    g.key.lport = th->dst_port;
    g.seq = net_ntoh32(th->sent_seq);
    g.ack = net_ntoh32(th->recv_ack);
    /* seq, ack, len and off are neighbours: as one vector store they came
     * back to the ACK and data steps through lane extracts (~8
     * instructions a segment) */
    NET_NO_SLP(g.ack);
    g.flags = th->tcp_flags & 0x3f;
    g.wnd = net_ntoh16(th->rx_win);
    g.off = l4off + doff;
    g.len = l4len - doff;
    g.src_mac = &eh->src_addr;
    /* Nearly every segment with options carries just the timestamps. */
    if (doff > TCP_HLEN && !(doff == TCP_HLEN + TCP_OPT_TS_LEN && ts_only_options(th + 1, &g)))
        parse_options(&g, (const uint8_t *)(th + 1), doff - TCP_HLEN);
    if ((g.flags & TCP_F_SYN) && (g.flags & (TCP_F_FIN | TCP_F_RST))) {
        NET_DROP(s, tcp_bad_flags);
        goto drop;
    }
    h = tcp_hash(s, &g.key);
    c = tcp_lookup(s, &g.key, h);
    /* A predicted segment is never a SYN: the TIME_WAIT test is the
     * other path's. */
    if (c != NULL && tcp_predicted(c, &g))
        tcp_fast_input(c, &g);
    else if (tcp_input_other(s, &g, c, h))
        return;
drop:
    net_rx_free(s, m);
}

/* ---- cache warming ---------------------------------------------------------- */

/* A plain IPv4/TCP frame to our address on an established connection, data
 * in sequence and in the first segment of the mbuf: its payload, or NULL.
 * No checksum: a corrupt frame only warms the wrong lines. */
static const void *peek_payload(struct net_stack *s, const struct rte_mbuf *m, size_t *len,
                                struct tcp_conn **conn)
{
    const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eh + 1);
    const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(ip + 1);
    const uint32_t hdrs = NET_ETH_HLEN + NET_IP_HLEN + TCP_HLEN;
    struct tcp_key k;
    struct tcp_conn *c;
    uint32_t doff, tlen;

    if (m->data_len < hdrs || eh->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
        ip->version_ihl != RTE_IPV4_VHL_DEF || ip->next_proto_id != IPPROTO_TCP ||
        ip->dst_addr != s->ip_be)
        return NULL;
    doff = (uint32_t)(th->data_off >> 4) * 4;
    tlen = rte_be_to_cpu_16(ip->total_length);
    if (doff < TCP_HLEN || tlen <= NET_IP_HLEN + doff ||
        NET_ETH_HLEN + tlen > m->data_len)
        return NULL;
    k.rip = ip->src_addr;
    k.lip = ip->dst_addr;
    k.rport = th->src_port;
    k.lport = th->dst_port;
    c = tcp_lookup(s, &k, tcp_hash(s, &k));
    if (c == NULL || c->state != TCP_ESTABLISHED || c->ctx == NULL ||
        rte_be_to_cpu_32(th->sent_seq) != c->rcv_nxt)
        return NULL;
    *len = tlen - NET_IP_HLEN - doff;
    *conn = c;
    return (const char *)th + doff;
}

/* Segments between a connection's on_peek and its on_peek_late: the late
 * fetch needs the line the first one asked for, and two segments' worth of
 * peeking left it in flight at -P 1 (its load stalled); eight cost the
 * pipelined case what they gained there (A/B rounds, bench-dpdk.sh). */
#define PEEK_LAG 4

void tcp_peek_burst(struct net_stack *s, struct rte_mbuf **pkts, unsigned n)
{
    void *late[PEEK_LAG];
    unsigned nlate = 0, first = 0;

    for (unsigned i = 0; i < n; i++) {
        struct tcp_conn *c;
        size_t len;
        const void *p = peek_payload(s, pkts[i], &len, &c);

        if (p == NULL)
            continue;
        if (!s->up.on_peek(c->ctx, p, len))
            break;
        if (s->up.on_peek_late == NULL)
            continue;
        if (nlate == PEEK_LAG) {
            s->up.on_peek_late(late[first]);
            late[first] = c->ctx;
            first = (first + 1) % PEEK_LAG;
        } else {
            late[nlate++] = c->ctx;
        }
    }
    for (unsigned i = 0; i < nlate; i++)
        s->up.on_peek_late(late[(first + i) % PEEK_LAG]);
}
