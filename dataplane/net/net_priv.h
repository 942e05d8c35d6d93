/* net_priv — the stack context and the calls between the stack's own files
 * (eth.c, arp.c, ip.c, icmp.c, tcp_*.c). Nothing outside dataplane/net/
 * includes it, except the stack's unit tests, which read state through it.
 *
 * Owner: one data core per struct net_stack. Fields are written only by the
 * stack's functions running on that core. */
#ifndef SLOTD_NET_PRIV_H
#define SLOTD_NET_PRIV_H

#include <stdint.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "net.h"
#include "tcp.h"

/* Frames gathered before the tx hook runs: twice a typical 32-frame rx
 * burst, so replies to one burst usually leave in one tx_burst call. */
#define NET_TX_BURST 64
#define NET_ETH_HLEN 14
#define NET_IP_HLEN 20
#define NET_TTL 64               /* RFC 1700 / IANA default TTL */

struct net_stack {
    struct net_config cfg;
    struct net_hooks hooks;
    struct net_upcalls up;
    uint32_t ip_be, mask_be, gw_be;  /* network byte order copies of cfg */
    struct rte_ether_addr mac;
    uint64_t now_us;                 /* the turn's clock, set by input/timers */
    struct net_counters cnt;

    struct rte_mbuf *tx[NET_TX_BURST];
    unsigned ntx;
    struct rte_mbuf *exc[NET_TX_BURST];
    unsigned nexc;

    struct arp_table arp;
    struct tcp_stack tcp;
};

#define NET_DROP(s, name) ((s)->cnt.drop.name++)

/* eth.c */
void eth_input(struct net_stack *s, struct rte_mbuf *m);
/* Fill the addresses of frame m (data at the Ethernet header, ether_type
 * already set by its builder) and queue it. */
void eth_output(struct net_stack *s, struct rte_mbuf *m, const struct rte_ether_addr *dst);
/* Queue a finished frame for the tx hook (takes m). */
void net_tx(struct net_stack *s, struct rte_mbuf *m);
void net_tx_flush(struct net_stack *s);
/* Hand a received frame to the exception hook (takes m). */
void net_exception(struct net_stack *s, struct rte_mbuf *m);
void net_exception_flush(struct net_stack *s);
/* A frame of `len` bytes with its data at the Ethernet header, or NULL
 * (counted as drop.mbuf_alloc). */
struct rte_mbuf *net_alloc_frame(struct net_stack *s, uint32_t len);

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
uint16_t net_cksum_fold(uint32_t sum);

#endif
