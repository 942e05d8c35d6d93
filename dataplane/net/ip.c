/* ip — IPv4 input checks and dispatch, header filling and next-hop choice
 * (RFC 791, RFC 1122 3.2.1). No fragment reassembly: fragments are dropped
 * and counted; we always send with DF.
 *
 * Call chain: eth_input → ip_input → icmp_input | tcp_input | net_exception
 *             tcp_out / icmp → ip_fill, ip_output → eth_output | arp_output
 * Owner: the stack's data core. */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net_priv.h"

#define IP_DF 0x4000                 /* RFC 791 3.1 flags: don't fragment */
#define IP_MF 0x2000                 /* RFC 791 3.1 flags: more fragments */
#define IP_OFFMASK 0x1fff

uint32_t ip_nexthop(const struct net_stack *s, uint32_t dst_be)
{
    if (((dst_be ^ s->ip_be) & s->mask_be) == 0)
        return dst_be;
    return s->gw_be;
}

void ip_fill(struct net_stack *s, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
             uint32_t dst_be, uint8_t proto, uint32_t l4len)
{
    struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

    eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(NET_IP_HLEN + l4len));
    /* RFC 6864 4.1: the ID of an atomic datagram (DF set) has no meaning. */
    ip->packet_id = 0;
    ip->fragment_offset = rte_cpu_to_be_16(IP_DF);
    ip->time_to_live = NET_TTL;
    ip->next_proto_id = proto;
    ip->src_addr = s->ip_be;
    ip->dst_addr = dst_be;
    ip->hdr_checksum = 0;
    m->l2_len = NET_ETH_HLEN;
    m->l3_len = NET_IP_HLEN;
    if (s->cfg.tx_csum_offload)
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    else
        ip->hdr_checksum = (uint16_t)~net_cksum_raw(ip, NET_IP_HLEN);
}

void ip_output(struct net_stack *s, struct rte_mbuf *m, uint32_t dst_be,
               const struct rte_ether_addr *mac)
{
    if (mac != NULL) {
        eth_output(s, m, mac);
        return;
    }
    /* net_tcp_connect refuses unroutable destinations, so nh is never 0. */
    arp_output(s, m, ip_nexthop(s, dst_be));
}

static int ip_martian_src(const struct net_stack *s, uint32_t src_be)
{
    uint32_t src = rte_be_to_cpu_32(src_be);

    /* RFC 1122 3.2.1.3: never a source: 0/8, 127/8, class D/E, limited or
     * our subnet's broadcast, our own address. */
    return (src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) >= 0xe ||
           src_be == s->ip_be || src_be == s->bcast_be;
}

void ip_input(struct net_stack *s, struct rte_mbuf *m)
{
    struct rte_ipv4_hdr *ip;
    uint32_t avail = m->pkt_len - NET_ETH_HLEN;
    uint32_t hlen, tlen;
    uint16_t frag;

    if (avail < NET_IP_HLEN || m->data_len < NET_ETH_HLEN + NET_IP_HLEN) {
        NET_DROP(s, ip_short);
        goto drop;
    }
    ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, NET_ETH_HLEN);
    /* Nearly every datagram is version 4 without options: one compare,
     * and the length tests above already cover its 20-byte header. */
    if (ip->version_ihl == RTE_IPV4_VHL_DEF) {
        hlen = NET_IP_HLEN;
    } else {
        if ((ip->version_ihl >> 4) != 4) {
            NET_DROP(s, ip_bad_version);
            goto drop;
        }
        hlen = (uint32_t)(ip->version_ihl & 0xf) * 4;
        if (hlen < NET_IP_HLEN || hlen > avail || NET_ETH_HLEN + hlen > m->data_len) {
            NET_DROP(s, ip_bad_hlen);
            goto drop;
        }
    }
    tlen = rte_be_to_cpu_16(ip->total_length);
    if (tlen < hlen || tlen > avail) {
        NET_DROP(s, ip_bad_len);
        goto drop;
    }
    /* A port that delivers frames beyond its MTU (net_tap) would have us
     * answer with one it refuses: an echo reply, a segment for an MSS the
     * peer took from a larger MTU. */
    if (tlen > s->cfg.mtu) {
        NET_DROP(s, ip_too_big);
        goto drop;
    }
    if (s->cfg.rx_csum_offload &&
        (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD) {
        NET_DROP(s, ip_bad_csum);
        goto drop;
    }
    /* The usual 20-byte header gets the sum unrolled for its constant length. */
    if (!(s->cfg.rx_csum_offload &&
          (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD) &&
        (hlen == NET_IP_HLEN ? net_cksum_raw(ip, NET_IP_HLEN)
                             : net_cksum_raw(ip, hlen)) != 0xffff) {
        NET_DROP(s, ip_bad_csum);
        goto drop;
    }
    /* Ethernet pads short frames to 60 bytes: the IP length is the truth. */
    if (tlen < avail)
        rte_pktmbuf_trim(m, (uint16_t)(avail - tlen));

    if (ip->dst_addr != s->ip_be) {
        uint32_t bcast = s->ip_be | ~s->mask_be;
        uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);

        /* Broadcast and multicast belong to the kernel (DHCP, mDNS ...). */
        if (ip->dst_addr == 0xffffffffu || (ip->dst_addr == bcast && s->mask_be != 0xffffffffu) ||
            (dst >> 28) == 0xe) {
            net_exception(s, m);
            return;
        }
        NET_DROP(s, ip_other_dst);
        goto drop;
    }
    if (ip_martian_src(s, ip->src_addr)) {
        NET_DROP(s, ip_bad_src);
        goto drop;
    }
    frag = rte_be_to_cpu_16(ip->fragment_offset);
    if ((frag & IP_MF) || (frag & IP_OFFMASK)) {
        NET_DROP(s, ip_frag);
        goto drop;
    }
    switch (ip->next_proto_id) {
    case IPPROTO_TCP:
        tcp_input(s, m, ip, NET_ETH_HLEN + hlen, tlen - hlen);
        return;
    case IPPROTO_ICMP:
        icmp_input(s, m, ip, NET_ETH_HLEN + hlen, tlen - hlen);
        return;
    default:
        net_exception(s, m);
        return;
    }
drop:
    rte_pktmbuf_free(m);
}
