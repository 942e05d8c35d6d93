/* eth — the stack's entry points and its link layer: create/free, the
 * receive burst, the end-of-turn flush, the tx and exception arrays, and
 * Ethernet II framing.
 *
 * Call chain: net_input_burst → eth_input → arp_input | ip_input | net_exception
 *             net_flush → tcp upcall lists → tcp_flush_dirty → net_tx_flush → tx hook
 * Owner: one data core (the stack's). The tx and exception arrays hold frames
 * the stack owns until the hook takes them; whatever a hook refuses is freed
 * at once and counted, so nothing waits across turns. Received frames the
 * stack is done with wait in rxfree until the end of their burst, then go
 * back to their pool in one call. */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "../mem.h"
#include "net_priv.h"

static const char *const drop_names[] = {
#define NET_DROP_NAME(n, d) #n,
    NET_DROP_LIST(NET_DROP_NAME)
#undef NET_DROP_NAME
};

static const char *const drop_descs[] = {
#define NET_DROP_DESC(n, d) d,
    NET_DROP_LIST(NET_DROP_DESC)
#undef NET_DROP_DESC
};

const char *net_drop_name(unsigned i)
{
    return i < NET_DROP__COUNT ? drop_names[i] : "?";
}

const char *net_drop_desc(unsigned i)
{
    return i < NET_DROP__COUNT ? drop_descs[i] : "?";
}

void net_config_defaults(struct net_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mtu = 1500;
    cfg->max_conns = 16384;
    cfg->max_half_open = 1024;
    cfg->sndbuf = 32768;
    cfg->rcvbuf = 32768;
    cfg->arp_entries = 256;
    cfg->rto_init_ms = 1000;        /* RFC 6298 2.1 */
    /* RFC 6298 2.4 says the RTO SHOULD be rounded up to 1 s, a conservative
     * floor for coarse clocks that the RFC itself expects research may
     * lower. Our clock is 1 ms, and Linux has run a 200 ms floor
     * (TCP_RTO_MIN) against the same peers for decades. At 1 s every loss
     * that neither fast retransmit nor a loss probe repairs would stall a
     * client for a second; at 200 ms, a fifth of that. */
    cfg->rto_min_ms = 200;
    cfg->rto_max_ms = 60000;        /* RFC 6298 2.5 */
    cfg->tlp = 1;
    cfg->tlp_ack_delay_ms = 200;    /* RFC 8985 7.2 (and Linux): worst-case delayed ACK */
    cfg->time_wait_ms = 1000;
    cfg->fin_wait2_ms = 60000;      /* Linux tcp_fin_timeout */
    cfg->delack_ms = 0;
    cfg->arp_timeout_ms = 60000;
    cfg->arp_retry_ms = 1000;
    cfg->arp_retries = 3;
    cfg->syn_retries = 6;           /* Linux tcp_syn_retries */
    cfg->data_retries = 15;         /* Linux tcp_retries2 */
    cfg->orphan_retries = 8;        /* Linux tcp_orphan_retries (0 there means 8) */
    cfg->init_cwnd = 10;            /* RFC 6928 */
    cfg->challenge_ack_per_s = 1000;/* Linux tcp_challenge_ack_limit */
    cfg->eph_lo = 49152;            /* RFC 6335 6: dynamic ports */
    cfg->eph_hi = 65535;
    cfg->timestamps = 1;
    cfg->wscale = 1;
    cfg->sack = 1;
}

static int config_ok(const struct net_config *c)
{
    uint32_t room;

    if (c->pool == NULL || c->max_conns == 0 || c->mtu < 576 || c->mtu > 9000)
        return 0;
    if (c->mss != 0 && (c->mss < 88 || c->mss > c->mtu - 40))
        return 0;
    room = rte_pktmbuf_data_room_size(c->pool);
    if (room < RTE_PKTMBUF_HEADROOM + NET_ETH_HLEN + (uint32_t)c->mtu)
        return 0;
    if (c->sndbuf < 1024 || c->rcvbuf < 1024 || c->sndbuf > (1u << 30) || c->rcvbuf > (1u << 30))
        return 0;
    if (c->eph_lo == 0 || c->eph_hi < c->eph_lo)
        return 0;
    /* RFC 9293 3.8.6.3: an ACK is never delayed beyond 0.5 s */
    if (c->delack_ms > 500 || c->rto_min_ms == 0 || c->rto_max_ms < c->rto_min_ms)
        return 0;
    /* a port that cuts segments also checksums them */
    if (c->tso_segs && !c->tx_csum_offload)
        return 0;
    return 1;
}

/* The payload of the largest TSO frame (built from the header template,
 * at most TCP_HDR_TMPL bytes): its IP length must fit 16 bits and its
 * chain the port's mbuf count, the first mbuf holding the headers too. */
static uint32_t tso_max(const struct net_config *c)
{
    uint32_t room = rte_pktmbuf_data_room_size(c->pool) - RTE_PKTMBUF_HEADROOM;
    uint32_t hdrs = TCP_HDR_TMPL;
    uint32_t ip_max = UINT16_MAX - (TCP_HDR_TMPL - NET_ETH_HLEN);
    uint32_t chain;

    if (c->tso_segs == 0)
        return 0;
    chain = (uint32_t)c->tso_segs * room - hdrs;
    return chain < ip_max ? chain : ip_max;
}

struct net_stack *net_stack_create(const struct net_config *cfg,
                                   const struct net_hooks *hooks,
                                   const struct net_upcalls *up)
{
    struct net_stack *s;

    if (!config_ok(cfg))
        return NULL;
    s = mem_calloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    if (s->cfg.mss == 0)
        s->cfg.mss = (uint16_t)(s->cfg.mtu - NET_IP_HLEN - TCP_HLEN);
    s->tso_max = tso_max(cfg);
    if (s->cfg.max_half_open == 0 || s->cfg.max_half_open > s->cfg.max_conns)
        s->cfg.max_half_open = s->cfg.max_conns;
    if (hooks)
        s->hooks = *hooks;
    if (up)
        s->up = *up;
    s->ip_be = rte_cpu_to_be_32(cfg->ip);
    s->mask_be = rte_cpu_to_be_32(cfg->mask);
    s->gw_be = rte_cpu_to_be_32(cfg->gateway);
    if (s->mask_be != 0xffffffffu)
        s->bcast_be = s->ip_be | ~s->mask_be;
    memcpy(s->mac.addr_bytes, cfg->mac, RTE_ETHER_ADDR_LEN);
    {
        uint8_t w[8] = { 0 }, mask[8] = { 0 };

        memcpy(w, cfg->mac, RTE_ETHER_ADDR_LEN);
        memset(mask, 0xff, RTE_ETHER_ADDR_LEN);
        memcpy(&s->mac_word, w, sizeof(w));
        memcpy(&s->mac_mask, mask, sizeof(mask));
    }
    if (arp_init(s, cfg->arp_entries ? cfg->arp_entries : 16) != 0)
        goto fail;
    if (tcp_init(s) != 0)
        goto fail;
    return s;
fail:
    net_stack_free(s);
    return NULL;
}

void net_tx_recycle_release(struct net_stack *s)
{
    for (unsigned i = 0; i < NET_TX_RECYCLE; i++) {
        if (s->txrec[i] != NULL)
            rte_pktmbuf_free(s->txrec[i]);
        s->txrec[i] = NULL;
    }
}

struct rte_mbuf *net_alloc_refill(struct net_stack *s, struct rte_mbuf **slot)
{
    struct rte_mbuf *m = rte_mbuf_raw_alloc(s->cfg.pool);

    if (m == NULL)
        return NULL;
    if (*slot != NULL)
        rte_pktmbuf_free(*slot);
    *slot = m;
    return m;
}

void net_stack_free(struct net_stack *s)
{
    if (s == NULL)
        return;
    tcp_fini(s);
    arp_fini(s);
    for (unsigned i = 0; i < s->ntx; i++)
        rte_pktmbuf_free(s->tx[i]);
    for (unsigned i = 0; i < s->nexc; i++)
        rte_pktmbuf_free(s->exc[i]);
    net_rx_free_flush(s);
    net_tx_recycle_release(s);
    mem_free(s);
}

const struct net_counters *net_counters(const struct net_stack *s)
{
    return &s->cnt;
}

struct rte_mbuf *net_alloc_fail(struct net_stack *s, struct rte_mbuf *m)
{
    if (m != NULL)
        rte_pktmbuf_free(m);
    NET_DROP(s, mbuf_alloc);
    return NULL;
}

void net_tx_flush(struct net_stack *s)
{
    uint16_t took = 0;

    if (s->ntx == 0)
        return;
    if (s->hooks.tx)
        took = s->hooks.tx(s->hooks.arg, s->tx, (uint16_t)s->ntx);
    if (took > s->ntx)
        took = (uint16_t)s->ntx;
    for (unsigned i = took; i < s->ntx; i++) {
        rte_pktmbuf_free(s->tx[i]);
        NET_DROP(s, tx_full);
    }
    s->ntx = 0;
}

void net_rx_free_flush(struct net_stack *s)
{
    if (s->nrxfree == 0)
        return;
    rte_mempool_put_bulk(s->rxfree_pool, (void **)s->rxfree, s->nrxfree);
    s->nrxfree = 0;
}

void net_exception_flush(struct net_stack *s)
{
    uint16_t took = 0;

    if (s->nexc == 0)
        return;
    if (s->hooks.exception)
        took = s->hooks.exception(s->hooks.arg, s->exc, (uint16_t)s->nexc);
    if (took > s->nexc)
        took = (uint16_t)s->nexc;
    for (unsigned i = took; i < s->nexc; i++) {
        rte_pktmbuf_free(s->exc[i]);
        NET_DROP(s, exception_full);
    }
    s->nexc = 0;
}

void net_exception(struct net_stack *s, struct rte_mbuf *m)
{
    if (s->nexc == NET_TX_BURST)
        net_exception_flush(s);
    s->cnt.exception_frames++;
    s->exc[s->nexc++] = m;
}

void eth_output(struct net_stack *s, struct rte_mbuf *m, const struct rte_ether_addr *dst)
{
    struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

    rte_ether_addr_copy(dst, &eh->dst_addr);
    rte_ether_addr_copy(&s->mac, &eh->src_addr);
    net_tx(s, m);
}

void eth_input(struct net_stack *s, struct rte_mbuf *m)
{
    const struct rte_ether_hdr *eh;
    uint64_t head;
    uint16_t type;

    if (m->data_len < NET_ETH_HLEN) {
        NET_DROP(s, eth_short);
        rte_pktmbuf_free(m);
        return;
    }
    eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    memcpy(&head, eh, sizeof(head));
    if (((head ^ s->mac_word) & s->mac_mask) != 0) {
        if (!rte_is_multicast_ether_addr(&eh->dst_addr)) {
            NET_DROP(s, eth_other_mac);
            rte_pktmbuf_free(m);
            return;
        }
        /* Multicast other than broadcast is never the stack's business. */
        if (!rte_is_broadcast_ether_addr(&eh->dst_addr)) {
            net_exception(s, m);
            return;
        }
    }
    type = rte_be_to_cpu_16(eh->ether_type);
    if (type == RTE_ETHER_TYPE_IPV4)
        ip_input(s, m);
    else if (type == RTE_ETHER_TYPE_ARP)
        arp_input(s, m);
    else
        net_exception(s, m);
}

void net_input_burst(struct net_stack *s, struct rte_mbuf **pkts, unsigned n,
                     uint64_t now_us)
{
    uint64_t bytes = 0;

    s->now_us = now_us;
    s->now_ms = (uint32_t)(now_us / 1000);
    /* The lists are empty on nearly every turn: a test, not a call. */
    if (s->tcp.deliver.head != NULL)
        tcp_run_deliver(s);
    if (n > 0)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[0], void *));
    if (n > 0 && s->up.on_peek != NULL)
        tcp_peek_burst(s, pkts, n);
    s->cnt.rx_frames += n;
    /* The byte count in a register, stored once: eth_input's calls would
     * make the compiler reload and store it for every frame. */
    for (unsigned i = 0; i < n; i++) {
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        bytes += pkts[i]->pkt_len;
        eth_input(s, pkts[i]);
    }
    s->cnt.rx_bytes += bytes;
    if (s->nrxfree > 0)
        net_rx_free_flush(s);
    if (s->tcp.writable.head != NULL)
        tcp_run_writable(s);
    /* The kernel should not wait a turn for its frames. */
    if (s->nexc > 0)
        net_exception_flush(s);
}

void net_flush(struct net_stack *s)
{
    struct tcp_stack *t = &s->tcp;

    /* Each step may fill a later one's list: tested in order, as called. */
    if (t->deliver.head != NULL)
        tcp_run_deliver(s);
    if (t->writable.head != NULL)
        tcp_run_writable(s);
    if (t->closed.head != NULL)
        tcp_run_closed(s);
    if (t->dirty.head != NULL)
        tcp_flush_dirty(s);
    if (t->reap.head != NULL)
        tcp_run_reap(s);
    if (s->nexc > 0)
        net_exception_flush(s);
    if (s->ntx > 0)
        net_tx_flush(s);
}

unsigned net_timers(struct net_stack *s, uint64_t now_us)
{
    unsigned n;

    if (now_us > s->now_us) {
        s->now_us = now_us;
        s->now_ms = (uint32_t)(now_us / 1000);
    }
    n = tcp_timers_run(s, s->now_us, NET_TIMER_BUDGET);
    n += arp_timers(s);
    net_flush(s);
    return n;
}

uint32_t net_cksum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t sum)
{
    /* Bytes of a segment boundary falling on an odd offset must keep their
     * position in the 16-bit words: track the parity of what was summed. */
    uint32_t done = 0;

    while (m != NULL && off >= m->data_len) {
        off -= m->data_len;
        m = m->next;
    }
    if (m != NULL && len <= m->data_len - off)
        return sum + net_cksum_raw(rte_pktmbuf_mtod_offset(m, const void *, off), len);
    while (m != NULL && done < len) {
        uint32_t n = m->data_len - off;
        uint32_t part;

        if (n > len - done)
            n = len - done;
        part = net_cksum_raw(rte_pktmbuf_mtod_offset(m, const void *, off), n);
        if (done & 1)
            part = ((part & 0xff) << 8) | (part >> 8);
        sum += part;
        done += n;
        off = 0;
        m = m->next;
    }
    return sum;
}
