/* arp — ARP for the stack's one IPv4 address (RFC 826): answer requests,
 * keep a neighbour cache, resolve next hops with one packet held per pending
 * entry (RFC 1122 2.3.2.2 asks for at least one).
 *
 * Call chain: eth_input → arp_input → (reply) eth_output, (queued) eth_output
 *             ip_output → arp_output → eth_output | request
 *             net_timers → arp_timers
 * Owner: the stack's data core. The table is open addressing with linear
 * probing and backward-shift deletion (no tombstones, so a lookup never walks
 * further than the longest cluster); it is kept at most 3/4 full. */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "../mem.h"
#include "net_priv.h"

#define ARP_LEN (NET_ETH_HLEN + (uint32_t)sizeof(struct rte_arp_hdr))

static uint32_t arp_home(const struct arp_table *t, uint32_t ip_be)
{
    /* Fibonacci hashing: neighbours differ in the low bits of the address. */
    return (uint32_t)(((uint64_t)ip_be * 0x9E3779B97F4A7C15ull) >> 40) & t->mask;
}

int arp_init(struct net_stack *s, unsigned entries)
{
    uint32_t n = 16;

    while (n < entries && n < (1u << 20))
        n <<= 1;
    s->arp.e = mem_calloc(sizeof(struct arp_entry) * n);
    if (s->arp.e == NULL)
        return -ENOMEM;
    s->arp.mask = n - 1;
    s->arp.next_due_us = UINT64_MAX;
    return 0;
}

void arp_fini(struct net_stack *s)
{
    if (s->arp.e == NULL)
        return;
    for (uint32_t i = 0; i <= s->arp.mask; i++)
        if (s->arp.e[i].queued)
            rte_pktmbuf_free(s->arp.e[i].queued);
    mem_free(s->arp.e);
    s->arp.e = NULL;
}

static void arp_due(struct arp_table *t, uint64_t at)
{
    if (at < t->next_due_us)
        t->next_due_us = at;
}

static struct arp_entry *arp_find(struct arp_table *t, uint32_t ip_be)
{
    for (uint32_t i = arp_home(t, ip_be);; i = (i + 1) & t->mask) {
        if (t->e[i].state == ARP_FREE)
            return NULL;
        if (t->e[i].ip_be == ip_be)
            return &t->e[i];
    }
}

static void arp_delete(struct arp_table *t, struct arp_entry *del)
{
    uint32_t i = (uint32_t)(del - t->e), j = i;

    for (;;) {
        uint32_t k;

        j = (j + 1) & t->mask;
        if (t->e[j].state == ARP_FREE)
            break;
        k = arp_home(t, t->e[j].ip_be);
        /* The entry at j may stay when its home lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->e[i] = t->e[j];
        i = j;
    }
    memset(&t->e[i], 0, sizeof(t->e[i]));
    t->used--;
}

/* A slot for ip_be (not present), evicting a resolved entry when the table
 * is at its fill limit. NULL when every entry is pending. */
static struct arp_entry *arp_insert(struct net_stack *s, uint32_t ip_be)
{
    struct arp_table *t = &s->arp;
    uint32_t i;

    if (t->used >= (t->mask + 1) - (t->mask + 1) / 4) {
        struct arp_entry *victim = NULL;

        for (i = 0; i <= t->mask; i++) {
            struct arp_entry *e = &t->e[i];

            if (e->state == ARP_RESOLVED && (victim == NULL || e->at_us < victim->at_us))
                victim = e;
        }
        if (victim == NULL)
            return NULL;
        arp_delete(t, victim);
    }
    for (i = arp_home(t, ip_be); t->e[i].state != ARP_FREE; i = (i + 1) & t->mask)
        ;
    t->used++;
    t->e[i].ip_be = ip_be;
    return &t->e[i];
}

static void arp_send(struct net_stack *s, uint16_t op, const struct rte_ether_addr *eth_dst,
                     const struct rte_ether_addr *tha, uint32_t tip_be)
{
    struct rte_mbuf *m = net_alloc_frame(s, ARP_LEN);
    struct rte_ether_hdr *eh;
    struct rte_arp_hdr *ah;

    if (m == NULL)
        return;
    eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    ah = (struct rte_arp_hdr *)(eh + 1);
    ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ah->arp_hlen = RTE_ETHER_ADDR_LEN;
    ah->arp_plen = 4;
    ah->arp_opcode = rte_cpu_to_be_16(op);
    rte_ether_addr_copy(&s->mac, &ah->arp_data.arp_sha);
    ah->arp_data.arp_sip = s->ip_be;
    rte_ether_addr_copy(tha, &ah->arp_data.arp_tha);
    ah->arp_data.arp_tip = tip_be;
    if (op == RTE_ARP_OP_REQUEST)
        s->cnt.arp_requests_sent++;
    else
        s->cnt.arp_replies_sent++;
    eth_output(s, m, eth_dst);
}

static void arp_request(struct net_stack *s, uint32_t ip_be)
{
    static const struct rte_ether_addr bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    static const struct rte_ether_addr zero;

    arp_send(s, RTE_ARP_OP_REQUEST, &bcast, &zero, ip_be);
}

static void arp_resolved(struct net_stack *s, struct arp_entry *e, const struct rte_ether_addr *mac)
{
    rte_ether_addr_copy(mac, &e->mac);
    e->state = ARP_RESOLVED;
    e->tries = 0;
    e->at_us = s->now_us + (uint64_t)s->cfg.arp_timeout_ms * 1000;
    arp_due(&s->arp, e->at_us);
    if (e->queued) {
        struct rte_mbuf *q = e->queued;

        e->queued = NULL;
        eth_output(s, q, &e->mac);
    }
}

void arp_input(struct net_stack *s, struct rte_mbuf *m)
{
    const struct rte_arp_hdr *ah;
    struct arp_entry *e;
    uint32_t sip, tip;
    uint16_t op;

    if (m->data_len < ARP_LEN) {
        NET_DROP(s, arp_short);
        rte_pktmbuf_free(m);
        return;
    }
    ah = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, NET_ETH_HLEN);
    if (ah->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        ah->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
        ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != 4) {
        NET_DROP(s, arp_bad_format);
        rte_pktmbuf_free(m);
        return;
    }
    sip = ah->arp_data.arp_sip;
    tip = ah->arp_data.arp_tip;
    op = rte_be_to_cpu_16(ah->arp_opcode);
    /* RFC 826 "packet reception": merge the sender if known, add it when the
     * packet is for us. Address 0 is a probe (RFC 5227) and teaches nothing. */
    if (sip != 0 && sip != s->ip_be && !rte_is_multicast_ether_addr(&ah->arp_data.arp_sha)) {
        e = arp_find(&s->arp, sip);
        if (e == NULL && tip == s->ip_be)
            e = arp_insert(s, sip);
        if (e != NULL)
            arp_resolved(s, e, &ah->arp_data.arp_sha);
    }
    if (tip == s->ip_be && op == RTE_ARP_OP_REQUEST)
        arp_send(s, RTE_ARP_OP_REPLY, &ah->arp_data.arp_sha, &ah->arp_data.arp_sha, sip);
    net_exception(s, m);
}

const struct rte_ether_addr *arp_lookup(struct net_stack *s, uint32_t ip_be)
{
    struct arp_entry *e = arp_find(&s->arp, ip_be);

    if (e == NULL || e->state != ARP_RESOLVED || e->at_us <= s->now_us)
        return NULL;
    return &e->mac;
}

void arp_output(struct net_stack *s, struct rte_mbuf *m, uint32_t nh_be)
{
    struct arp_entry *e = arp_find(&s->arp, nh_be);

    if (e != NULL && e->state == ARP_RESOLVED && e->at_us > s->now_us) {
        eth_output(s, m, &e->mac);
        return;
    }
    if (e != NULL && e->state == ARP_PENDING) {
        if (e->queued) {
            rte_pktmbuf_free(e->queued);
            NET_DROP(s, arp_queue_replaced);
        }
        e->queued = m;
        return;
    }
    if (e == NULL) {
        e = arp_insert(s, nh_be);
        if (e == NULL) {
            NET_DROP(s, arp_table_full);
            rte_pktmbuf_free(m);
            return;
        }
    }
    /* new, or resolved but expired: ask again, holding this packet */
    e->state = ARP_PENDING;
    e->tries = 1;
    e->at_us = s->now_us + (uint64_t)s->cfg.arp_retry_ms * 1000;
    arp_due(&s->arp, e->at_us);
    e->queued = m;
    arp_request(s, nh_be);
}

unsigned arp_timers(struct net_stack *s)
{
    struct arp_table *t = &s->arp;
    unsigned work = 0;
    uint64_t next = UINT64_MAX;
    uint32_t i = 0;

    if (s->now_us < t->next_due_us)
        return 0;
    while (i <= t->mask) {
        struct arp_entry *e = &t->e[i];

        if (e->state == ARP_FREE || e->at_us > s->now_us) {
            if (e->state != ARP_FREE && e->at_us < next)
                next = e->at_us;
            i++;
            continue;
        }
        work++;
        if (e->state == ARP_PENDING && e->tries < s->cfg.arp_retries) {
            e->tries++;
            e->at_us = s->now_us + (uint64_t)s->cfg.arp_retry_ms * 1000;
            if (e->at_us < next)
                next = e->at_us;
            arp_request(s, e->ip_be);
            i++;
            continue;
        }
        if (e->queued) {
            rte_pktmbuf_free(e->queued);
            e->queued = NULL;
            NET_DROP(s, arp_unresolved);
        }
        /* A later entry may shift into slot i: look at it again. */
        arp_delete(t, e);
    }
    t->next_due_us = next;
    return work;
}
