/* tcp_out — segment building and sending: data from the send ring within
 * min(cwnd, peer window), piggy-backed ACKs, SYN/SYN-ACK with options, RST,
 * challenge ACKs, zero-window probes, loss probes and limited transmit
 * (one new segment beyond cwnd), retransmission from the same ring; and
 * the app's send/close/shutdown/abort.
 *
 * Call chain: net_flush → tcp_flush_dirty → tcp_output → tcp_xmit → net_tx
 *             (header template) | ip_output (before the template can exist)
 *             tcp_input / tcp_timer_fire → tcp_send_ack, tcp_retransmit_first,
 *             tcp_send_probe, tcp_send_loss_probe, tcp_send_new_segment
 *             tcp_output (in SACK recovery) → tcp_sack_output → NextSeg →
 *             tcp_xmit (holes, RFC 6675) | tcp_send_new_segment
 *             app → net_tcp_send (copy into the ring, mark dirty)
 * Owner: the stack's data core.
 *
 * Nothing is sent from inside net_tcp_send: bytes wait in the ring until the
 * turn's net_flush, so a reply written in several pieces leaves as full
 * segments, and an ACK owed for the request rides on the reply (an ACK owed
 * by a connection that sent nothing goes out alone at that flush). There is
 * no Nagle delay: the stack serves request/response traffic.
 *
 * Once synchronized with the peer's MAC known, a connection's segments are
 * copied from its header template (tcp.h) and patched: sequence numbers,
 * flags, window, timestamps, lengths; the IPv4 checksum is the template's
 * sum plus the length, the TCP checksum one pass over header and payload
 * from the template's pseudo-header sum. The bytes are those the general
 * path (tcp_frame, ip_fill, eth_output) writes. SACK blocks (RFC 2018),
 * only while out-of-order data waits, follow the template's options: the
 * template stays what nearly every segment needs.
 *
 * SACK recovery (RFC 6675) keeps no per-segment state: the scoreboard is
 * the SACKed ranges (tcp.h), the holes between them are what is missing,
 * and the pipe is recomputed from them per segment sent (at most
 * TCP_SACK_MAX + 1 holes, a few dozen instructions). */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_tcp.h>

#include "net_priv.h"

/* RFC 9293 3.2 option kinds; RFC 7323 2.2 and 3.2. */
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACKOK 4             /* RFC 2018 2 */
#define TCPOPT_SACK 5               /* RFC 2018 3 */
#define TCPOPT_TS 8

struct tcp_hdr_args {
    const struct tcp_key *k;         /* the connection's key: rip/rport are the peer */
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    const uint8_t *opt;
    uint32_t optlen;                 /* multiple of 4 */
};

static uint32_t min32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

uint32_t tcp_eff_mss(const struct tcp_conn *c)
{
    return c->mss;
}

static inline void tcp_ring_copy_out(const struct tcp_ring *r, uint32_t off, uint8_t *dst,
                                     uint32_t n)
{
    uint32_t pos = (r->head + off) & (r->cap - 1);
    uint32_t first = min32(n, r->cap - pos);

    net_copy(dst, r->buf + pos, first);
    if (n > first)
        memcpy(dst + first, r->buf, n - first);
}

static struct rte_mbuf *tcp_frame(struct net_stack *s, const struct tcp_hdr_args *a,
                                  const struct tcp_ring *r, uint32_t roff, uint32_t len)
{
    uint32_t l4len = TCP_HLEN + a->optlen + len;
    struct rte_mbuf *m = net_alloc_frame(s, NET_ETH_HLEN + NET_IP_HLEN + l4len);
    struct rte_ipv4_hdr *ip;
    struct rte_tcp_hdr *th;

    if (m == NULL)
        return NULL;
    ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, NET_ETH_HLEN);
    th = (struct rte_tcp_hdr *)(ip + 1);
    th->src_port = a->k->lport;
    th->dst_port = a->k->rport;
    th->sent_seq = net_hton32(a->seq);
    th->recv_ack = net_hton32(a->ack);
    th->data_off = (uint8_t)(((TCP_HLEN + a->optlen) / 4) << 4);
    th->tcp_flags = a->flags;
    th->rx_win = net_hton16(a->wnd);
    th->cksum = 0;
    th->tcp_urp = 0;
    if (a->optlen)
        memcpy(th + 1, a->opt, a->optlen);
    if (len)
        tcp_ring_copy_out(r, roff, (uint8_t *)(th + 1) + a->optlen, len);
    ip_fill(s, m, ip, a->k->rip, IPPROTO_TCP, l4len);
    if (s->cfg.tx_csum_offload) {
        m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
        m->l4_len = (uint8_t)(TCP_HLEN + a->optlen);
        th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
    } else {
        th->cksum = (uint16_t)~net_cksum_fold64(
            net_cksum_add(net_cksum_phdr(ip->src_addr, ip->dst_addr, IPPROTO_TCP, l4len), th,
                          l4len));
    }
    s->cnt.tcp_segs_out++;
    return m;
}

static uint32_t put_ts(uint8_t *p, const struct tcp_conn *c)
{
    uint32_t tsval = net_hton32(tcp_now_ms(c->s) + c->ts_offset);
    uint32_t tsecr = net_hton32(c->ts_recent);

    p[0] = TCPOPT_NOP;
    p[1] = TCPOPT_NOP;
    p[2] = TCPOPT_TS;
    p[3] = 10;
    memcpy(p + 4, &tsval, 4);
    memcpy(p + 8, &tsecr, 4);
    return TCP_OPT_TS_LEN;
}

/* The connection's header template (tcp.h), once its options and the
 * peer's MAC are settled: a synchronized state, MAC learned. The bytes are
 * those tcp_frame, ip_fill and eth_output write, with zero in every field a
 * segment patches. */
static __attribute__((noinline)) void tcp_hdr_build(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)c->hdr;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
    struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
    uint32_t optlen = c->ts_ok ? TCP_OPT_TS_LEN : 0;
    uint8_t *opt = (uint8_t *)(th + 1);

    memset(c->hdr, 0, sizeof(c->hdr));
    rte_ether_addr_copy(&c->peer_mac, &eh->dst_addr);
    rte_ether_addr_copy(&s->mac, &eh->src_addr);
    eh->ether_type = net_hton16(RTE_ETHER_TYPE_IPV4);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->fragment_offset = net_hton16(0x4000);     /* DF, as ip_fill */
    ip->time_to_live = NET_TTL;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = s->ip_be;
    ip->dst_addr = c->key.rip;
    th->src_port = c->key.lport;
    th->dst_port = c->key.rport;
    th->data_off = (uint8_t)(((TCP_HLEN + optlen) / 4) << 4);
    if (optlen) {
        opt[0] = TCPOPT_NOP;
        opt[1] = TCPOPT_NOP;
        opt[2] = TCPOPT_TS;
        opt[3] = 10;
    }
    c->hdr_ipsum = net_cksum_raw(ip, NET_IP_HLEN);
    c->hdr_phsum = net_cksum_phdr(ip->src_addr, ip->dst_addr, IPPROTO_TCP, 0);
    c->hdr_len = (uint8_t)(NET_ETH_HLEN + NET_IP_HLEN + TCP_HLEN + optlen);
}

/* The template's header at p with this segment's fields: IP total length
 * (network order), sequence, ACK, flags, window, timestamps. The whole
 * template is copied, whatever hdr_len: the frame's buffer has room
 * (config_ok), and payload or nothing follows the header. */
static inline __attribute__((always_inline)) struct rte_tcp_hdr *
tcp_hdr_from_template(const struct tcp_conn *c, uint8_t *p, uint16_t tot_be, uint32_t seq,
                      uint8_t flags, uint16_t wnd)
{
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + NET_ETH_HLEN);
    struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

    memcpy(p, c->hdr, TCP_HDR_TMPL);
    ip->total_length = tot_be;
    th->sent_seq = net_hton32(seq);
    th->recv_ack = net_hton32(c->rcv_nxt);
    th->tcp_flags = flags;
    th->rx_win = net_hton16(wnd);
    if (c->ts_ok) {
        uint32_t ts[2] = { net_hton32(tcp_now_ms(c->s) + c->ts_offset),
                           net_hton32(c->ts_recent) };

        memcpy((uint8_t *)(th + 1) + 4, ts, sizeof(ts));
    }
    return th;
}

/* A segment from the template: what tcp_frame + ip_output make of it, for
 * a synchronized connection whose peer MAC is known. */
static inline __attribute__((always_inline)) struct rte_mbuf *
tcp_frame_fast(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags, uint16_t wnd)
{
    struct net_stack *s = c->s;
    uint32_t hlen = c->hdr_len;
    uint32_t l4len = hlen - NET_ETH_HLEN - NET_IP_HLEN + len;
    uint16_t tot = net_hton16((uint16_t)(NET_IP_HLEN + l4len));
    struct rte_mbuf *m = net_alloc_frame(s, hlen + len);
    struct rte_ipv4_hdr *ip;
    struct rte_tcp_hdr *th;
    uint8_t *p;

    if (m == NULL)
        return NULL;
    p = rte_pktmbuf_mtod(m, uint8_t *);
    th = tcp_hdr_from_template(c, p, tot, seq, flags, wnd);
    ip = (struct rte_ipv4_hdr *)(p + NET_ETH_HLEN);
    if (len)
        tcp_ring_copy_out(&c->sring, seq - c->snd_buf_seq, p + hlen, len);
    if (s->cfg.tx_csum_offload) {
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
        m->tx_offload = rte_mbuf_tx_offload(NET_ETH_HLEN, NET_IP_HLEN,
                                            hlen - NET_ETH_HLEN - NET_IP_HLEN, 0, 0, 0, 0);
        th->cksum = (uint16_t)net_cksum_fold64(c->hdr_phsum + net_hton16((uint16_t)l4len));
    } else {
        /* the lengths tcp_frame's ip_fill sets, in one store */
        m->tx_offload = rte_mbuf_tx_offload(NET_ETH_HLEN, NET_IP_HLEN, 0, 0, 0, 0, 0);
        ip->hdr_checksum = (uint16_t)~net_cksum_fold(c->hdr_ipsum + tot);
        th->cksum = (uint16_t)~net_cksum_fold64(
            net_cksum_add(c->hdr_phsum + net_hton16((uint16_t)l4len), th, l4len));
    }
    s->cnt.tcp_segs_out++;
    return m;
}

/* More than one MSS in one frame for the port to cut (TSO): the template's
 * header, then the payload over a chain of fresh mbufs, each filled to its
 * data room. Not a recycled frame: the stack's second reference would hold
 * the first mbuf only, and the chain's others go back to the pool when the
 * port is done. The port writes each segment's IP length, sequence number
 * and checksums; PSH and FIN stay on the last segment only. */
static __attribute__((noinline)) struct rte_mbuf *tcp_frame_tso(struct tcp_conn *c, uint32_t seq,
                                                                uint32_t len, uint8_t flags,
                                                                uint16_t wnd)
{
    struct net_stack *s = c->s;
    struct rte_mbuf *ms[UINT8_MAX];
    uint32_t hlen = c->hdr_len, l4h = hlen - NET_ETH_HLEN - NET_IP_HLEN;
    uint32_t room = rte_pktmbuf_data_room_size(s->cfg.pool) - RTE_PKTMBUF_HEADROOM;
    uint32_t off = seq - c->snd_buf_seq, left = len;
    uint32_t segsz = s->cfg.tso_frame_in_mtu ? min32(c->mss, s->cfg.mtu - hlen) : c->mss;
    unsigned n = 1 + (len + hlen - 1) / room;
    struct rte_tcp_hdr *th;
    uint8_t *p;

    if (n > s->cfg.tso_segs || rte_pktmbuf_alloc_bulk(s->cfg.pool, ms, n) != 0)
        return net_alloc_fail(s, NULL);
    p = rte_pktmbuf_mtod(ms[0], uint8_t *);
    th = tcp_hdr_from_template(c, p, net_hton16((uint16_t)(NET_IP_HLEN + l4h + len)), seq, flags,
                               wnd);
    /* the pseudo-header without the length, which differs per segment */
    th->cksum = (uint16_t)net_cksum_fold64(c->hdr_phsum);
    for (unsigned i = 0; i < n; i++) {
        uint32_t at = i == 0 ? hlen : 0;
        uint32_t k = min32(left, room - at);

        tcp_ring_copy_out(&c->sring, off, rte_pktmbuf_mtod(ms[i], uint8_t *) + at, k);
        ms[i]->data_len = (uint16_t)(at + k);
        off += k;
        left -= k;
        if (i > 0)
            ms[i - 1]->next = ms[i];
    }
    ms[0]->nb_segs = (uint16_t)n;
    ms[0]->pkt_len = hlen + len;
    ms[0]->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
    ms[0]->tx_offload = rte_mbuf_tx_offload(NET_ETH_HLEN, NET_IP_HLEN, l4h, segsz, 0, 0, 0);
    s->cnt.tcp_segs_out += (len + segsz - 1) / segsz;
    s->cnt.tcp_tso_frames++;
    return ms[0];
}

/* A segment with SACK blocks (RFC 2018 4: in every ACK while data waits
 * out of order, as many as fit beside the payload within the MSS), by the
 * general path: the template holds what nearly every segment needs, and
 * out of line this costs the others one test. */
static __attribute__((noinline)) struct rte_mbuf *tcp_frame_sack(struct tcp_conn *c, uint32_t seq,
                                                                 uint32_t len, uint8_t flags)
{
    uint8_t opt[TCP_OPT_TS_LEN + TCP_OPT_SACK_MAX];
    struct tcp_hdr_args a = { .k = &c->key, .seq = seq, .ack = c->rcv_nxt, .flags = flags,
                              .opt = opt };

    if (c->ts_ok)
        a.optlen = put_ts(opt, c);
    a.optlen += tcp_sack_option(c, opt + a.optlen, (c->mss - len - 4) / 8);
    a.wnd = tcp_wnd_field(c);
    return tcp_frame(c->s, &a, &c->sring, seq - c->snd_buf_seq, len);
}

/* A segment of the connection with its headers built field by field
 * (before the template exists, or for a frame that must not use it). */
static struct rte_mbuf *tcp_frame_plain(struct tcp_conn *c, uint32_t seq, uint32_t len,
                                        uint8_t flags)
{
    uint8_t opt[TCP_OPT_TS_LEN];
    struct tcp_hdr_args a = { .k = &c->key, .seq = seq, .ack = c->rcv_nxt, .flags = flags,
                              .opt = opt };

    if (c->ts_ok)
        a.optlen = put_ts(opt, c);
    a.wnd = tcp_wnd_field(c);
    return tcp_frame(c->s, &a, &c->sring, seq - c->snd_buf_seq, len);
}

/* One segment of the connection: [seq, seq+len) from the ring plus flags.
 * Inlined into tcp_output, which sends nearly every segment (~20 of its
 * ~330 instructions were the call); tcp_xmit below for the other callers. */
static inline __attribute__((always_inline)) int tcp_xmit_inline(struct tcp_conn *c, uint32_t seq,
                                                                 uint32_t len, uint8_t flags)
{
    struct net_stack *s = c->s;
    struct rte_mbuf *m;
    int fast;

    if (c->hdr_len == 0 && c->mac_ok && c->state >= TCP_ESTABLISHED)
        tcp_hdr_build(c);
    fast = c->hdr_len != 0;
    if (c->nooo != 0 && c->sack_ok && (flags & (TCP_F_ACK | TCP_F_RST)) == TCP_F_ACK &&
        len + 12 <= c->mss) {
        m = tcp_frame_sack(c, seq, len, flags);
        fast = 0;
    } else if (len > c->mss) {
        /* only tcp_output asks, with the template built (tcp_seg_cap) */
        m = tcp_frame_tso(c, seq, len, flags, tcp_wnd_field(c));
    } else if (fast) {
        m = tcp_frame_fast(c, seq, len, flags, tcp_wnd_field(c));
    } else {
        m = tcp_frame_plain(c, seq, len, flags);
    }
    if (m == NULL)
        return -ENOBUFS;
    if (flags & TCP_F_ACK) {
        c->last_ack_sent = c->rcv_nxt;
        c->ack_owed = c->ack_now = 0;
        c->segs_unacked = 0;
        c->dack_at = 0;
    }
    if (fast)
        net_tx(s, m);               /* the template holds both MACs */
    else
        ip_output(s, m, c->key.rip, c->mac_ok ? &c->peer_mac : NULL);
    return 0;
}

static int tcp_xmit(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
    return tcp_xmit_inline(c, seq, len, flags);
}

void tcp_send_syn(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint8_t opt[24], *p = opt;
    uint16_t mss = net_hton16(s->cfg.mss);
    struct tcp_hdr_args a = { .k = &c->key, .seq = c->iss, .flags = TCP_F_SYN, .opt = opt };
    uint32_t win = c->rcv_space ? c->rcv_space : s->tcp.rbuf_cap;
    int active = c->state == TCP_SYN_SENT;
    int sackok;
    struct rte_mbuf *m;

    *p++ = TCPOPT_MSS;
    *p++ = 4;
    memcpy(p, &mss, 2);
    p += 2;
    /* An active open offers what we support; a passive one answers only
     * what the peer offered (RFC 7323 1.3). */
    if (active ? s->cfg.wscale : c->ws_ok) {
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_WS;
        *p++ = 3;
        *p++ = active ? s->tcp.wscale : c->rcv_wscale;
    }
    sackok = active ? s->cfg.sack : c->sack_ok;
    if (active ? s->cfg.timestamps : c->ts_ok) {
        uint32_t tsval = net_hton32(tcp_now_ms(s) + c->ts_offset);
        uint32_t tsecr = net_hton32(active ? 0 : c->ts_recent);

        /* SACK-permitted takes the place of the two NOPs (RFC 2018 2,
         * RFC 7323 appendix A) */
        if (sackok) {
            *p++ = TCPOPT_SACKOK;
            *p++ = 2;
            sackok = 0;
        } else {
            *p++ = TCPOPT_NOP;
            *p++ = TCPOPT_NOP;
        }
        *p++ = TCPOPT_TS;
        *p++ = 10;
        memcpy(p, &tsval, 4);
        memcpy(p + 4, &tsecr, 4);
        p += 8;
    }
    if (sackok) {
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_SACKOK;
        *p++ = 2;
    }
    a.optlen = (uint32_t)(p - opt);
    if (!active) {
        a.flags |= TCP_F_ACK;
        a.ack = c->rcv_nxt;
        c->last_ack_sent = c->rcv_nxt;
    }
    /* RFC 7323 2.2: the window of a SYN is never scaled. */
    a.wnd = (uint16_t)min32(win, 65535);
    c->rcv_adv = c->rcv_nxt + a.wnd;
    c->snd_nxt = c->iss + 1;
    c->snd_max = seq_max(c->snd_max, c->snd_nxt);
    if (!c->syn_rexmt)
        c->rtt_start_us = s->now_us;    /* the handshake gives the first RTT sample */
    if (c->rexmt_at == 0)
        tcp_arm_rexmt(c);
    m = tcp_frame(s, &a, NULL, 0, 0);
    if (m == NULL)
        return;
    ip_output(s, m, c->key.rip, c->mac_ok ? &c->peer_mac : NULL);
}

/* A segment without data or SYN/FIN carries snd_max, not snd_nxt: after an
 * RTO pulled snd_nxt back, an older number would be outside the peer's
 * window, and the peer would drop the segment with the ACK it carries;
 * two stacks retransmitting at each other would then never progress. */
void tcp_send_ack(struct tcp_conn *c)
{
    tcp_xmit(c, c->snd_max, 0, TCP_F_ACK);
}

/* RFC 5961 7: challenge ACKs are limited per core per second, and, as
 * Linux limits them since CVE-2016-5696, per connection too (one per
 * TCP_REFUSAL_ACK_US, shared with the ACKs for refused segments) and with
 * a budget drawn afresh each second: with one fixed count shared by every
 * connection, an attacker counting the challenges on a connection of its
 * own could learn whether its guesses at another's 4-tuple and sequence
 * numbers drew challenges there. */
static int challenge_allowed(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint64_t sec = s->now_us / 1000000;

    if (s->now_us < c->oow_next_us) {
        NET_DROP(s, tcp_challenge_limit);
        return 0;
    }
    if (sec != s->tcp.chal_second) {
        uint32_t lim = s->cfg.challenge_ack_per_s;

        s->tcp.chal_second = sec;
        s->tcp.chal_count = 0;
        s->tcp.chal_budget = lim / 2 + (lim ? (uint32_t)rte_rand_max(lim) : 0);
    }
    if (s->tcp.chal_count >= s->tcp.chal_budget) {
        NET_DROP(s, tcp_challenge_limit);
        return 0;
    }
    s->tcp.chal_count++;
    c->oow_next_us = s->now_us + TCP_REFUSAL_ACK_US;
    s->cnt.tcp_challenge_acks++;
    return 1;
}

void tcp_send_challenge_ack(struct tcp_conn *c)
{
    if (challenge_allowed(c))
        tcp_send_ack(c);
}

/* One without data (or with SYN) is held to one per TCP_REFUSAL_ACK_US
 * per connection, as Linux does: two stacks that disagree would otherwise
 * ACK each other's ACKs at line rate, and a blind forger would get an
 * answer for every guess. Data is not limited: an ACK loop carries none,
 * and a peer resending data we have needs our ACK. */
void tcp_send_refusal_ack(struct tcp_conn *c, const struct tcp_seg *g)
{
    struct net_stack *s = c->s;

    if ((g->len == 0 && !(g->flags & TCP_F_FIN)) || (g->flags & TCP_F_SYN)) {
        if (s->now_us < c->oow_next_us) {
            s->cnt.tcp_refusal_acks_limited++;
            return;
        }
        c->oow_next_us = s->now_us + TCP_REFUSAL_ACK_US;
    }
    tcp_send_ack(c);
}

void tcp_send_challenge_ack_to(struct tcp_conn *c, const struct rte_ether_addr *mac)
{
    struct rte_mbuf *m;

    if (c->mac_ok && rte_is_same_ether_addr(mac, &c->peer_mac)) {
        tcp_send_challenge_ack(c);
        return;
    }
    if (!challenge_allowed(c))
        return;
    /* not the template: it is addressed to the connection's own peer */
    m = tcp_frame_plain(c, c->snd_max, 0, TCP_F_ACK);
    if (m != NULL)
        ip_output(c->s, m, c->key.rip, mac);
}

void tcp_send_rst(struct tcp_conn *c)
{
    /* snd_max: what the peer expects if all we sent arrived; otherwise it
     * answers with a challenge ACK (RFC 5961 3.2) and, the connection being
     * gone here, that ACK draws a RST with the exact number. */
    if (tcp_xmit(c, c->snd_max, 0, TCP_F_RST | TCP_F_ACK) == 0)
        c->s->cnt.tcp_rsts_sent++;
}

void tcp_send_rst_reply(struct net_stack *s, const struct tcp_seg *g)
{
    struct tcp_hdr_args a = { .k = &g->key };
    struct rte_mbuf *m;

    if (g->flags & TCP_F_RST)
        return;
    /* RFC 9293 3.10.7.1 */
    if (g->flags & TCP_F_ACK) {
        a.seq = g->ack;
        a.flags = TCP_F_RST;
    } else {
        a.ack = g->seq + g->len + !!(g->flags & TCP_F_SYN) + !!(g->flags & TCP_F_FIN);
        a.flags = TCP_F_RST | TCP_F_ACK;
    }
    m = tcp_frame(s, &a, NULL, 0, 0);
    if (m == NULL)
        return;
    s->cnt.tcp_rsts_sent++;
    ip_output(s, m, g->key.rip, g->src_mac);
}

/* Length of the segment starting at seq (data only) and whether the FIN
 * rides on it. */
static uint32_t seg_extent(const struct tcp_conn *c, uint32_t seq, uint32_t max, int *fin)
{
    uint32_t off = seq - c->snd_buf_seq;
    uint32_t avail = off < c->sring.len ? c->sring.len - off : 0;
    uint32_t len = min32(avail, max);

    *fin = c->fin_queued && seq + len == c->snd_buf_seq + c->sring.len;
    return len;
}

void tcp_retransmit_first(struct tcp_conn *c)
{
    uint32_t len;
    int fin;

    if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
        c->syn_rexmt = 1;
        tcp_send_syn(c);
        c->s->cnt.tcp_retransmits++;
        return;
    }
    len = seg_extent(c, c->snd_una, c->mss, &fin);
    if (len == 0 && !fin)
        return;
    if (tcp_xmit(c, c->snd_una, len, TCP_F_ACK | (fin ? TCP_F_FIN : 0)) == 0)
        c->s->cnt.tcp_retransmits++;
    /* RFC 6298 and Karn: a retransmitted range gives no RTT sample */
    c->rtt_timing = 0;
}

int tcp_send_new_segment(struct tcp_conn *c, uint32_t max)
{
    uint32_t data_end = c->snd_buf_seq + c->sring.len;
    uint32_t seq = c->snd_max, len;
    int fin;

    if (seq_lt(seq, data_end)) {
        if (!seq_lt(seq, c->snd_una + c->snd_wnd))
            return 0;
        len = seg_extent(c, seq, min32(max, c->snd_una + c->snd_wnd - seq), &fin);
    } else if (c->fin_queued && seq == data_end) {
        len = 0;
        fin = 1;
    } else {
        return 0;
    }
    if (len > 0 && !c->rtt_timing) {
        c->rtt_timing = 1;
        c->rtt_seq = seq;
        c->rtt_start_us = c->s->now_us;
    }
    if (tcp_xmit(c, seq, len,
                 TCP_F_ACK | (len && seq + len == data_end ? TCP_F_PSH : 0) | (fin ? TCP_F_FIN : 0)) != 0)
        return 0;
    c->snd_nxt = c->snd_max = seq + len + (uint32_t)fin;
    return 1;
}

void tcp_send_loss_probe(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    int again = 0;

    /* snd_nxt is snd_max here: no probe during RTO recovery. New data
     * when the peer's window takes it, else the last segment again: its
     * ACK, or a duplicate of it, tells what became of the flight's tail. */
    if (!tcp_send_new_segment(c, c->mss)) {
        uint32_t data_end = c->snd_buf_seq + c->sring.len;
        uint32_t end = seq_lt(c->snd_max, data_end) ? c->snd_max : data_end;
        uint32_t len = min32(c->mss, end - c->snd_una);
        uint32_t seq = end - len;
        int fin;

        len = seg_extent(c, seq, len, &fin);
        if (len == 0 && !fin)
            return;
        if (tcp_xmit(c, seq, len, TCP_F_ACK | (len ? TCP_F_PSH : 0) | (fin ? TCP_F_FIN : 0)) != 0)
            return;
        s->cnt.tcp_retransmits++;
        c->rtt_timing = 0;                  /* Karn */
        again = 1;
    }
    if (c->loss & TCP_LOSS_PROBE_OLD) {
        /* an earlier probe's question is still open: take it as a
         * repaired loss (tcp_in.c, tcp_tlp_verdict) */
        c->ssthresh = c->cwnd / 2 > 2u * c->mss ? c->cwnd / 2 : 2u * c->mss;
        c->cwnd = c->ssthresh;
    }
    c->loss = (uint8_t)((c->loss & ~TCP_LOSS_PROBE_OLD) | TCP_LOSS_PROBED |
                        (again ? TCP_LOSS_PROBE_OLD : 0));
    c->tlp_end_seq = c->snd_max;
    s->cnt.tcp_tlp_sent++;
}

void tcp_send_probe(struct tcp_conn *c)
{
    int fin;
    uint32_t len = seg_extent(c, c->snd_una, 1, &fin);

    if (len == 0 && !fin)
        return;
    if (tcp_xmit(c, c->snd_una, len, TCP_F_ACK | (fin ? TCP_F_FIN : 0)) != 0)
        return;
    c->s->cnt.tcp_probes_sent++;
    /* The probe byte is sent data: its ACK must be acceptable. */
    if (c->snd_nxt == c->snd_una) {
        c->snd_nxt += len + (uint32_t)fin;
        c->snd_max = seq_max(c->snd_max, c->snd_nxt);
    }
    c->rtt_timing = 0;
}

void tcp_send_keepalive(struct tcp_conn *c)
{
    tcp_xmit(c, c->snd_una - 1, 0, TCP_F_ACK);
}

/* ---- SACK (RFC 2018) and SACK-based loss recovery (RFC 6675) ---------- */

uint32_t tcp_sack_option(struct tcp_conn *c, uint8_t *p, unsigned max)
{
    unsigned lim = c->ts_ok ? TCP_SACK_BLOCKS_TS : TCP_SACK_BLOCKS;
    unsigned n = 0, used = 0;        /* used: bit i, ooo[i] reported */
    uint8_t *q = p + 4;

    if (max > lim)
        max = lim;
    /* RFC 2018 4: the block of the newest segment first, then the blocks
     * reported most recently, then any others, lowest first. */
    for (unsigned r = 0; r < c->nsack_recent + c->nooo && n < max; r++) {
        unsigned i;

        if (r < c->nsack_recent) {
            uint32_t seq = c->sack_recent[r];

            for (i = 0; i < c->nooo; i++)
                if (seq_ge(seq, c->ooo[i].lo) && seq_lt(seq, c->ooo[i].hi))
                    break;
        } else {
            i = r - c->nsack_recent;
        }
        if (i >= c->nooo || (used & (1u << i)))
            continue;
        used |= 1u << i;
        uint32_t be[2] = { net_hton32(c->ooo[i].lo), net_hton32(c->ooo[i].hi) };

        memcpy(q, be, sizeof(be));
        q += 8;
        n++;
    }
    if (n == 0)
        return 0;
    p[0] = TCPOPT_NOP;
    p[1] = TCPOPT_NOP;
    p[2] = TCPOPT_SACK;
    p[3] = (uint8_t)(2 + 8 * n);
    c->s->cnt.tcp_sack_blocks_sent += n;
    return 4 + 8 * n;
}

int tcp_sack_hole_lost(const struct tcp_conn *c, unsigned k)
{
    uint32_t bytes = 0;

    if (c->nsacked - k >= TCP_DUPTHRESH)
        return 1;
    for (unsigned i = k; i < c->nsacked; i++)
        bytes += c->sacked[i].hi - c->sacked[i].lo;
    return bytes > (TCP_DUPTHRESH - 1) * (uint32_t)c->mss;
}

/* Hole k of the scoreboard: [*lo, *hi) unSACKed, below range k (k ==
 * nsacked: the tail above the last range, up to snd_max). Returns whether
 * its bytes are lost. In recovery every hole below a SACKed range is: its
 * bytes left before bytes that arrived, and recovery began only once
 * DupThresh said this is loss, not reordering (RFC 8985 6.2's reordering
 * window of zero in recovery, before any reordering was seen); and so are
 * bytes below lost_hi (sent before a retransmission that arrived). Out of
 * recovery: RFC 6675 IsLost. */
static int tcp_sack_hole(const struct tcp_conn *c, unsigned k, uint32_t *lo, uint32_t *hi)
{
    *lo = k == 0 ? c->snd_una : c->sacked[k - 1].hi;
    *hi = k < c->nsacked ? c->sacked[k].lo : c->snd_max;
    if (!c->in_recovery)
        return k < c->nsacked && tcp_sack_hole_lost(c, k);
    if (k < c->nsacked)
        return 1;
    if (seq_lt(*lo, c->lost_hi)) {
        if (seq_lt(c->lost_hi, *hi))
            *hi = c->lost_hi;
        return 1;
    }
    return 0;
}

/* RFC 6675 4 SetPipe: bytes in flight by the scoreboard. Every byte of a
 * hole counts once when not lost and once more when retransmitted (below
 * high_rxt); a lost tail cut at lost_hi leaves the rest of it in flight. */
static uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
    uint32_t rxt = seq_gt(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
    uint32_t pipe = 0, lo, hi;

    for (unsigned k = 0; k <= c->nsacked; k++) {
        uint32_t end = k < c->nsacked ? c->sacked[k].lo : c->snd_max;

        if (!tcp_sack_hole(c, k, &lo, &hi))
            hi = lo;
        if (seq_lt(hi, end))
            pipe += end - hi;               /* the part not lost */
        if (seq_gt(rxt, lo) && seq_lt(lo, end))
            pipe += (seq_lt(rxt, end) ? rxt : end) - lo;
    }
    return pipe;
}

/* Resend [seq, seq + at most one MSS) of a hole ending at end. */
static int tcp_sack_resend(struct tcp_conn *c, uint32_t seq, uint32_t end)
{
    struct net_stack *s = c->s;
    uint32_t len;
    int fin;

    len = seg_extent(c, seq, min32(c->mss, end - seq), &fin);
    if (len == 0 && !fin)
        return 0;
    if (tcp_xmit(c, seq, len, TCP_F_ACK | (fin ? TCP_F_FIN : 0)) != 0)
        return 0;
    if (seq_gt(seq + len + (uint32_t)fin, c->high_rxt))
        c->high_rxt = seq + len + (uint32_t)fin;
    if (seq == c->snd_una) {
        /* what leaves after this and arrives says it arrived or not */
        c->rxt_una_seq = seq;
        c->rxt_fence = c->snd_max;
    }
    c->rtt_timing = 0;              /* Karn */
    s->cnt.tcp_retransmits++;
    s->cnt.tcp_sack_retransmits++;
    return 1;
}

/* RFC 6675 4 NextSeg, and the segment it picks sent. Returns 0 when
 * nothing may go. */
static int tcp_sack_next_seg(struct tcp_conn *c)
{
    uint32_t rxt = seq_gt(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
    uint32_t lo, hi;

    /* (1) lost bytes above HighRxt */
    for (unsigned k = 0; k <= c->nsacked; k++) {
        if (!tcp_sack_hole(c, k, &lo, &hi))
            continue;
        if (seq_gt(rxt, lo))
            lo = rxt;
        if (seq_lt(lo, hi))
            return tcp_sack_resend(c, lo, hi);
    }
    /* (2) new data */
    if (c->snd_nxt == c->snd_max && tcp_send_new_segment(c, c->mss))
        return 1;
    /* (3) unSACKed bytes above HighRxt below the highest SACKed byte: the
     * holes are all lost in recovery, (1) took them. (4) the rescue: once
     * per recovery, the segment ending at the highest unSACKed byte sent
     * before recovery, when not resent yet, so that a lost tail draws an
     * ACK (what recovery sent new is younger than any loss it repairs). */
    if (!c->rescued) {
        uint32_t data_end = c->snd_buf_seq + c->sring.len;
        uint32_t top = c->recover, end, from, len;
        int fin;

        for (unsigned k = c->nsacked; k-- > 0;)
            if (seq_lt(c->sacked[k].lo, top) && seq_ge(c->sacked[k].hi, top))
                top = c->sacked[k].lo;
        if (!seq_gt(top, rxt))
            return 0;
        end = seq_lt(top, data_end) ? top : data_end;   /* a FIN rides along (seg_extent) */
        from = seq_gt(end, rxt) && end - rxt > c->mss ? end - c->mss : rxt;
        c->rescued = 1;
        len = seg_extent(c, from, seq_gt(end, from) ? end - from : 0, &fin);
        if ((len != 0 || fin) &&
            tcp_xmit(c, from, len, TCP_F_ACK | (fin ? TCP_F_FIN : 0)) == 0) {
            c->rtt_timing = 0;              /* Karn */
            c->s->cnt.tcp_retransmits++;
            c->s->cnt.tcp_sack_retransmits++;
            return 1;
        }
    }
    return 0;
}

void tcp_sack_output(struct tcp_conn *c)
{
    /* Bounded: at most a window's worth of segments per call anyway; the
     * cap keeps one turn's work per connection finite whatever cwnd. */
    for (unsigned i = 0; i < 64; i++) {
        uint32_t pipe = tcp_sack_pipe(c);

        if (pipe >= c->cwnd || c->cwnd - pipe < c->mss || !tcp_sack_next_seg(c))
            break;
        tcp_arm_loss_timer(c, 0);
    }
}

void tcp_sack_enter_recovery(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint32_t flight = c->snd_max - c->snd_una;
    uint32_t end = c->nsacked ? c->sacked[0].lo : c->snd_max;

    /* RFC 6675 5 (4): RecoveryPoint = HighData; ssthresh = cwnd = half
     * the flight (RFC 5681 3.2 (2)); the first unSACKed segment at once */
    c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
    c->cwnd = c->ssthresh;
    c->recover = c->snd_max;
    c->in_recovery = 1;
    c->rescued = 0;
    c->rxt_probed = 0;
    c->high_rxt = c->snd_una;
    c->lost_hi = c->snd_una;
    c->loss &= (uint8_t)~(TCP_LOSS_PROBED | TCP_LOSS_PROBE_OLD);   /* recovery responds */
    tcp_tlp_disarm(c);
    if (seq_lt(c->snd_una, end) && tcp_sack_resend(c, c->snd_una, end))
        tcp_arm_loss_timer(c, 0);       /* its probe timer (tcp_timer.c), the RTO kept */
    s->cnt.tcp_fast_retransmits++;
    s->cnt.tcp_sack_recoveries++;
    tcp_mark_dirty(c);
}

void tcp_sack_rxt_lost(struct tcp_conn *c)
{
    uint32_t end = c->nsacked ? c->sacked[0].lo : c->snd_max;

    c->s->cnt.tcp_sack_rxt_lost++;
    if (seq_lt(c->snd_una, end))
        tcp_sack_resend(c, c->snd_una, end);
    tcp_mark_dirty(c);
}

/* After an RTO went back to snd_una, with SACK information come back
 * since: resend only what the peer lacks (RFC 6675 5.1 allows keeping
 * it), as cwnd allows, SACKed bytes not counted in flight. Returns 0 when
 * snd_nxt reached snd_max (new data may follow), 1 when it stopped short. */
static __attribute__((noinline)) int tcp_sack_gbn(struct tcp_conn *c)
{
    while (seq_lt(c->snd_nxt, c->snd_max)) {
        uint32_t lim = c->snd_max - c->snd_nxt, below = 0, wnd, flight, len;
        int fin;

        for (unsigned k = 0; k < c->nsacked; k++) {
            const struct tcp_range *r = &c->sacked[k];

            if (seq_le(r->lo, c->snd_nxt) && seq_gt(r->hi, c->snd_nxt))
                c->snd_nxt = r->hi;
            if (seq_gt(r->hi, c->snd_nxt)) {
                lim = r->lo - c->snd_nxt;
                break;
            }
            below += r->hi - (seq_gt(r->lo, c->snd_una) ? r->lo : c->snd_una);
        }
        if (!seq_lt(c->snd_nxt, c->snd_max))
            return 0;
        wnd = min32(c->snd_wnd, c->cwnd);
        flight = c->snd_nxt - c->snd_una - below;
        if (flight >= wnd)
            return 1;
        len = seg_extent(c, c->snd_nxt, min32(min32(wnd - flight, c->mss), lim), &fin);
        if ((len == 0 && !fin) ||
            tcp_xmit(c, c->snd_nxt, len, TCP_F_ACK | (fin ? TCP_F_FIN : 0)) != 0)
            return 1;
        c->s->cnt.tcp_retransmits++;
        c->snd_nxt += len + (uint32_t)fin;
        c->snd_max = seq_max(c->snd_max, c->snd_nxt);
        tcp_arm_loss_timer(c, 0);
    }
    return 0;
}

static void tcp_ack_if_owed(struct tcp_conn *c)
{
    struct net_stack *s = c->s;

    if (!c->ack_owed)
        return;
    if (c->ack_now || s->cfg.delack_ms == 0 || c->segs_unacked >= 2) {
        tcp_send_ack(c);
    } else if (c->dack_at == 0) {
        /* RFC 9293 3.8.6.3: an ACK may wait, but not past 500 ms, and every
         * second full segment is acknowledged at once (segs_unacked). */
        c->dack_at = s->now_us + (uint64_t)s->cfg.delack_ms * 1000;
        tcp_timer_sync(c);
    }
}

/* The most new data one frame of tcp_output may carry: an MSS, or a TSO
 * frame's worth when the port cuts segments, the header template is there
 * (peer MAC known: tcp_xmit_inline builds it) and no SACK blocks are owed
 * (they ride on short segments, tcp_frame_sack). */
static inline uint32_t tcp_seg_cap(const struct tcp_conn *c)
{
    return c->s->tso_max > c->mss && c->mac_ok && c->nooo == 0 ? c->s->tso_max : c->mss;
}

/* Inlined into tcp_flush_dirty, which sends nearly every segment; the
 * out-of-line tcp_output below serves the other callers. */
static inline __attribute__((always_inline)) void tcp_output_inline(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint32_t unsent = 0, cap;

    if (c->state != TCP_ESTABLISHED) {
        switch (c->state) {
        case TCP_CLOSE_WAIT:
        case TCP_FIN_WAIT_1:
        case TCP_CLOSING:
        case TCP_LAST_ACK:
            break;
        case TCP_FIN_WAIT_2:
        case TCP_TIME_WAIT:
            tcp_ack_if_owed(c);
            return;
        default:
            return;
        }
    }
    if ((c->in_recovery && c->sack_ok) ||
        (c->nsacked != 0 && seq_lt(c->snd_nxt, c->snd_max) && tcp_sack_gbn(c) != 0)) {
        if (c->in_recovery && c->sack_ok)
            tcp_sack_output(c);
        tcp_ack_if_owed(c);
        return;
    }
    cap = tcp_seg_cap(c);
    while (!c->persist) {
        uint32_t off = c->snd_nxt - c->snd_buf_seq;
        uint32_t avail = off < c->sring.len ? c->sring.len - off : 0;
        uint32_t wnd = min32(c->snd_wnd, c->cwnd);
        uint32_t flight = c->snd_nxt - c->snd_una;
        uint32_t usable = wnd > flight ? wnd - flight : 0;
        uint32_t len = min32(min32(avail, usable), cap);
        /* Once the FIN is out snd_nxt is past it and this stays false. */
        int fin = c->fin_queued && c->snd_nxt + len == c->snd_buf_seq + c->sring.len;

        unsent = avail;
        if (len == 0 && !fin)
            break;
        /* RFC 9293 3.8.6.2.1 sender SWS avoidance: a short segment only
         * when it empties the ring or the window is at least half the
         * largest the peer offered. The ACK of what is in flight brings
         * us back here; with nothing in flight it goes now (the RFC's
         * override timeout, at zero). */
        if (len < avail && len < c->mss && usable < c->max_sndwnd / 2 && flight > 0)
            break;
        if (len > 0 && !c->rtt_timing && c->snd_nxt == c->snd_max) {
            c->rtt_timing = 1;
            c->rtt_seq = c->snd_nxt;
            c->rtt_start_us = s->now_us;
        }
        if (tcp_xmit_inline(c, c->snd_nxt, len,
                            TCP_F_ACK | (len == avail && len ? TCP_F_PSH : 0) |
                                (fin ? TCP_F_FIN : 0)) != 0) {
            /* No mbuf: the retransmission timer tries again. */
            if (c->rexmt_at == 0)
                tcp_arm_rexmt(c);
            break;
        }
        if (seq_lt(c->snd_nxt, c->snd_max))
            s->cnt.tcp_retransmits++;
        c->snd_nxt += len + (uint32_t)fin;
        c->snd_max = seq_max(c->snd_max, c->snd_nxt);
        unsent = avail - len;
        tcp_arm_loss_timer(c, 0);
        /* The ring is out (the FIN, if queued, rode on this segment): the
         * next turn of the loop would find nothing to send. */
        if (fin || len == avail)
            break;
    }
    /* Zero window with bytes waiting and nothing in flight to be ACKed:
     * only a probe will learn when it opens (RFC 9293 3.8.6.1). */
    if (unsent > 0 && c->snd_wnd == 0 && !c->persist && c->snd_nxt == c->snd_una) {
        c->persist = 1;
        c->nrexmt = 0;
        c->probes = 0;
        c->loss &= (uint8_t)~TCP_LOSS_PTO;
        c->rexmt_at = s->now_us + tcp_rto_backed_off(c);
        tcp_timer_sync(c);
    }
    tcp_ack_if_owed(c);
}

void tcp_output(struct tcp_conn *c)
{
    tcp_output_inline(c);
}

void tcp_flush_dirty(struct net_stack *s)
{
    struct tcp_conn *c = s->tcp.dirty.head;

    s->tcp.dirty.head = s->tcp.dirty.tail = NULL;
    while (c != NULL) {
        struct tcp_conn *next = c->dirty_next;

        c->on_dirty = 0;
        if (c->state != TCP_CLOSED)
            tcp_output_inline(c);
        c = next;
    }
}

/* ---- app-facing -------------------------------------------------------- */

size_t net_tcp_send_space(const struct tcp_conn *c)
{
    if (c->sring.buf == NULL || c->fin_queued)
        return 0;
    return c->sring.cap - c->sring.len;
}

ssize_t net_tcp_send(struct tcp_conn *c, const void *p, size_t n)
{
    struct tcp_ring *r = &c->sring;
    uint32_t k, pos, first;

    /* ESTABLISHED first: one compare for every reply, the table below
     * only for the other states. */
    if (c->state != TCP_ESTABLISHED) {
        switch (c->state) {
        case TCP_CLOSE_WAIT:
        case TCP_SYN_SENT:
            break;
        case TCP_CLOSED:
            return c->close_err ? c->close_err : -EPIPE;
        case TCP_SYN_RECEIVED:
            if (c->passive)
                return -ENOTCONN;
            break;
        default:
            return -EPIPE;
        }
    }
    if (c->app_closed || c->fin_queued)
        return -EPIPE;
    k = (uint32_t)(n < (size_t)(r->cap - r->len) ? n : r->cap - r->len);
    if (k < n)
        c->want_writable = 1;
    if (k == 0)
        return 0;
    pos = (r->head + r->len) & (r->cap - 1);
    first = min32(k, r->cap - pos);
    net_copy(r->buf + pos, p, first);
    if (k > first)
        memcpy(r->buf, (const uint8_t *)p + first, k - first);
    r->len += k;
    tcp_mark_dirty(c);
    return k;
}

static int tcp_queue_fin(struct tcp_conn *c)
{
    switch (c->state) {
    case TCP_ESTABLISHED:
        tcp_set_state(c, TCP_FIN_WAIT_1);
        break;
    case TCP_CLOSE_WAIT:
        tcp_set_state(c, TCP_LAST_ACK);
        break;
    default:
        return -ENOTCONN;
    }
    c->fin_queued = 1;
    tcp_mark_dirty(c);
    return 0;
}

int net_tcp_shutdown(struct tcp_conn *c)
{
    if (c->app_closed || c->fin_queued)
        return -EPIPE;
    return tcp_queue_fin(c);
}

void net_tcp_close(struct tcp_conn *c)
{
    struct net_stack *s = c->s;

    if (c->app_closed)
        return;
    c->app_closed = 1;
    c->want_writable = 0;
    tcp_schedule_closed(c, 0);
    /* Nobody will read what waits: give the window back. */
    c->rring.head += c->rring.len;
    c->rring.len = 0;
    switch (c->state) {
    case TCP_SYN_SENT:
        tcp_conn_gone(c, 0);
        break;
    case TCP_SYN_RECEIVED:
        tcp_send_rst(c);
        tcp_conn_gone(c, 0);
        break;
    case TCP_ESTABLISHED:
    case TCP_CLOSE_WAIT:
        tcp_queue_fin(c);
        break;
    case TCP_FIN_WAIT_2:
        /* after a shutdown: now nobody waits for the peer's FIN */
        c->rexmt_at = s->now_us + (uint64_t)s->cfg.fin_wait2_ms * 1000;
        tcp_timer_sync(c);
        break;
    default:
        break;
    }
}

void net_tcp_abort(struct tcp_conn *c)
{
    if (c->app_closed)
        return;
    c->app_closed = 1;
    c->want_writable = 0;
    tcp_schedule_closed(c, 0);
    if (c->state != TCP_CLOSED && c->state != TCP_SYN_SENT && c->state != TCP_TIME_WAIT)
        tcp_send_rst(c);
    tcp_conn_gone(c, 0);
}
