/* icmp — echo reply for the stack's address (RFC 792, RFC 1122 3.2.2.6);
 * every other ICMP message goes to the kernel through the exception path.
 *
 * Call chain: ip_input → icmp_input → net_tx
 * Owner: the stack's data core. The reply is the request turned around in
 * its own mbuf: no allocation, the payload is echoed untouched. */
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net_priv.h"

#define ICMP_HLEN 8                  /* RFC 792: type, code, checksum, id, seq */

void icmp_input(struct net_stack *s, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
                uint32_t l4off, uint32_t l4len)
{
    struct rte_ether_hdr *eh;
    struct rte_icmp_hdr *ic;
    uint32_t hlen = l4off - NET_ETH_HLEN;

    if (l4len < ICMP_HLEN || m->data_len < l4off + ICMP_HLEN) {
        NET_DROP(s, icmp_short);
        rte_pktmbuf_free(m);
        return;
    }
    if (net_cksum_fold(net_cksum_mbuf(m, l4off, l4len, 0)) != 0xffff) {
        NET_DROP(s, icmp_bad_csum);
        rte_pktmbuf_free(m);
        return;
    }
    ic = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, l4off);
    if (ic->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ic->icmp_code != 0) {
        net_exception(s, m);
        return;
    }
    eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    rte_ether_addr_copy(&eh->src_addr, &eh->dst_addr);
    rte_ether_addr_copy(&s->mac, &eh->src_addr);
    ip->dst_addr = ip->src_addr;
    ip->src_addr = s->ip_be;
    ip->time_to_live = NET_TTL;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = (uint16_t)~net_cksum_raw(ip, hlen);
    ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    ic->icmp_cksum = 0;
    ic->icmp_cksum = (uint16_t)~net_cksum_fold(net_cksum_mbuf(m, l4off, l4len, 0));
    /* rx offload bits share ol_flags with tx requests: start clean */
    m->ol_flags = 0;
    s->cnt.icmp_echo_replies++;
    net_tx(s, m);
}
