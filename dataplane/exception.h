/* exception — the DPDK transport's exception path. Frames the data cores do
 * not keep (other TCP ports, UDP, IPv6, a copy of every ARP frame) go to a
 * kernel TAP interface carrying the node's MAC and IP; frames the kernel
 * writes there leave through the port. The cluster bus, replication, MIGRATE
 * and ssh thereby use ordinary kernel sockets on the node's own address.
 *
 * Threads: each data core hands frames over with exc_from_core (its own SPSC
 * ring: no lock, no syscall while the ring already holds frames); the control
 * plane owns the TAP file descriptor and the extra TX queue of the port, and
 * moves frames both ways in exc_poll. */
#ifndef SLOTD_EXCEPTION_H
#define SLOTD_EXCEPTION_H

#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;
struct dpdk_port;
struct exc_path;

/* Create the TAP `ifname` (a name the kernel accepts, or "" for slotd%d) with
 * the port's MAC and MTU, give it ip/prefix (host order) and a default route
 * via gateway (0: none), bring it up. txq is the port's TX queue the control
 * plane sends on; when the port has no such queue (txq >= port->ntxq: net_tap
 * pairs every TX queue with an RX queue, so it has none to spare), frames
 * from the kernel are relayed to data core 0 instead, which sends them with
 * exc_to_port. NULL with a message in err on failure. */
struct exc_path *exc_open(const char *ifname, const struct dpdk_port *port,
                          uint16_t txq, uint32_t ip, unsigned prefix,
                          uint32_t gateway, unsigned ncores,
                          char *err, size_t errlen);
/* Remove the TAP and free every frame still queued. */
void exc_close(struct exc_path *x);

/* Data core `core`: queue frames for the kernel. Returns how many were taken
 * (the caller frees the rest); the net stack's exception hook contract. */
uint16_t exc_from_core(struct exc_path *x, unsigned core,
                       struct rte_mbuf **pkts, uint16_t n);

/* Data core `core`, every loop turn: frames from the kernel this core must
 * send on its own TX queue (relay mode above; only core 0 ever gets any).
 * Moves up to n into pkts and returns how many; the caller owns them and
 * sends them in its TX burst. One ring read when there are none, and 0 at
 * once for other cores or when the control plane has its own TX queue. */
uint16_t exc_to_port(struct exc_path *x, unsigned core, struct rte_mbuf **pkts, uint16_t n);

/* Control plane: a descriptor that becomes readable when there is work for
 * exc_poll (a frame from the kernel or from a core). */
int exc_fd(const struct exc_path *x);
/* Control plane: move what is waiting, both directions, bounded per call.
 * Returns the number of frames moved. */
unsigned exc_poll(struct exc_path *x);

/* Frames moved and dropped, for INFO dataplane. */
struct exc_counters {
    uint64_t to_kernel, from_kernel;
    uint64_t drop_ring_full, drop_tap_write, drop_port_full, drop_nomem;
};
void exc_counters(const struct exc_path *x, struct exc_counters *out);

#endif
