/* arp — ARP responder, neighbour cache and resolution (RFC 826), private to
 * dataplane/net/.
 *
 * The cache is a small open-addressing table (linear probing, backward-shift
 * delete) owned by one stack, so one data core. An entry is PENDING while a
 * request is out (it holds at most one packet waiting for the answer: a newer
 * packet replaces it, as RFC 1122 2.3.2.2 allows) or RESOLVED until it
 * expires. */
#ifndef SLOTD_NET_ARP_H
#define SLOTD_NET_ARP_H

#include <stdint.h>
#include <rte_ether.h>

struct net_stack;
struct rte_mbuf;

enum { ARP_FREE = 0, ARP_PENDING, ARP_RESOLVED };

struct arp_entry {
    uint32_t ip_be;
    uint8_t state;
    uint8_t tries;                 /* requests sent while PENDING */
    struct rte_ether_addr mac;
    uint64_t at_us;                /* PENDING: next retry; RESOLVED: expiry */
    struct rte_mbuf *queued;       /* PENDING: the packet waiting (a frame) */
};

struct arp_table {
    struct arp_entry *e;
    uint32_t mask;                 /* slots - 1 */
    uint32_t used;
    uint64_t next_due_us;          /* earliest at_us of any entry (a bound) */
};

int arp_init(struct net_stack *s, unsigned entries);
void arp_fini(struct net_stack *s);

/* A received ARP frame (data at the Ethernet header). Answers requests for
 * our address, learns the sender, sends a packet that waited for it, then
 * hands the frame to the exception hook (the kernel learns it too). */
void arp_input(struct net_stack *s, struct rte_mbuf *m);

/* Send frame m (Ethernet header to be filled) to next hop nh_be: at once when
 * resolved, else queued behind a request. Takes m. */
void arp_output(struct net_stack *s, struct rte_mbuf *m, uint32_t nh_be);

/* The resolved MAC of ip_be, or NULL. */
const struct rte_ether_addr *arp_lookup(struct net_stack *s, uint32_t ip_be);

/* Retries and expiry. Visits the table only when an entry is due, so the
 * work is one pass over at most arp_entries slots per due deadline. */
unsigned arp_timers(struct net_stack *s);

#endif
