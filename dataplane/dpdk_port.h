/* dpdk_port — the DPDK half of the kernel-bypass transport: EAL start-up and
 * one Ethernet port with an RX/TX queue pair per data core, its mbuf pools,
 * offloads and RSS. Shared by slotd (dataplane dpdk) and slotd-load.
 *
 * Threads: dpdk_eal_start, dpdk_port_open/close and dpdk_eal_stop run on the
 * main thread before the data cores start or after they stopped. Queue q's
 * RX queue and TX queue q belong to the lcore that runs data core q; the
 * extra TX queues (nqueues..nqueues+extra_txq-1) belong to whoever the caller
 * gives them to (slotd: the control plane's exception path). Nothing here
 * takes a lock or allocates on the packet path. */
#ifndef SLOTD_DPDK_PORT_H
#define SLOTD_DPDK_PORT_H

#include <stddef.h>
#include <stdint.h>

struct rte_mempool;
struct net_config;
struct net_tuple;

#define DPDK_PORT_MAX_QUEUES 64
#define DPDK_PORT_RETA_MAX 512     /* RSS table entries slotd sets and keeps */
#define DPDK_PORT_QUEUE_UNKNOWN (~0u)

/* rte_eal_init with `eal_args` split on blanks (a program name is put in
 * front). Fills lcores[] with the worker lcore ids in EAL order (data core i
 * runs on lcores[i]) and returns how many there are (>= 1), or -errno with an
 * actionable message in err: EAL refused the arguments, no hugepages (say how
 * to reserve them or to pass --no-huge), no worker lcore (say -l/--lcores). */
int dpdk_eal_start(const char *eal_args, unsigned *lcores, unsigned max_lcores,
                   char *err, size_t errlen);
/* rte_eal_cleanup; safe to call when dpdk_eal_start failed or never ran. */
void dpdk_eal_stop(void);

struct dpdk_port_config {
    const char *name;        /* EAL device name ("net_tap0", "0000:01:00.0");
                                NULL or "": the only port there is */
    unsigned nqueues;        /* RX/TX queue pairs: one per data core */
    unsigned extra_txq;      /* TX queues beyond them (exception path) */
    uint16_t mtu;            /* IP MTU */
    unsigned mbufs_per_queue;/* pool sizing; 0: enough for the rings and bursts */
    const uint8_t *mac;      /* set this MAC on the port; NULL: keep the port's */
};

struct dpdk_port {
    uint16_t port_id;
    unsigned nqueues, ntxq;
    uint16_t mtu;
    uint8_t mac[6];
    /* what the port offered and we enabled; software fallback otherwise */
    uint8_t rx_csum, tx_csum, tso, rss;
    uint8_t tso_segs;        /* mbufs a TSO frame may chain (net.h) */
    uint8_t tso_frame_in_mtu;    /* net.h: net_tap's reading of the MTU */
    /* the port's RSS table as read back once started (0 entries: unknown) */
    uint16_t reta_size;
    uint16_t reta[DPDK_PORT_RETA_MAX];
    /* one pool per NUMA socket in use; queue q takes pool[q] */
    struct rte_mempool *pool[DPDK_PORT_MAX_QUEUES];
    char name[64];
};

/* Find, configure and start the port. Returns 0, or -errno with an actionable
 * message: port not found (list the ports EAL sees), fewer queues than asked
 * (say how many the port has), MTU refused, pool allocation failed. */
int dpdk_port_open(const struct dpdk_port_config *cfg, struct dpdk_port *p,
                   char *err, size_t errlen);
/* Stop and close the port, free its pools. */
void dpdk_port_close(struct dpdk_port *p);

/* Fill the stack's port-dependent settings for queue q: MAC, MTU, pool,
 * offload flags and TSO. Addresses and the rest stay as the caller set them. */
void dpdk_port_net_config(const struct dpdk_port *p, unsigned q, struct net_config *nc);

/* The RX queue the port's RSS puts the reply traffic of tuple t (as seen
 * from this node: local ip/port, remote ip/port) on, from the key and the
 * table read back at open (no call into the driver). Ports without RSS: 0;
 * RSS with a table that could not be read: DPDK_PORT_QUEUE_UNKNOWN. */
unsigned dpdk_port_rx_queue_of(const struct dpdk_port *p, const struct net_tuple *t);
/* Whether replies to tuple t come to queue q, as far as the port lets us
 * know: active opens try source ports until this holds. True on a port
 * without RSS (one queue, or net_tap, which steers a flow back to the queue
 * that sent on it) and when the table is unknown. */
int dpdk_port_replies_to(const struct dpdk_port *p, const struct net_tuple *t, unsigned q);

/* The first len bytes of the Toeplitz key dpdk_port_open gives a port with
 * RSS and dpdk_port_rx_queue_of hashes with: 0x6d5a repeated, so a flow
 * hashes the same in both directions, and a shorter key (40 bytes) is a
 * prefix of the longer one a port may take (52 on i40e). */
void dpdk_port_rss_key(uint8_t *key, size_t len);

#endif
