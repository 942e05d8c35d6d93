/* dpdk_transport — the kernel-bypass transport of one data core: it drives
 * the core's user-space TCP/IP stack (dataplane/net/net.h) from the core's
 * RX/TX queue pair of the DPDK port and presents the stack's connections to
 * the client layer through the transport seam (dataplane/transport.h), as
 * dataplane/sock.c does for kernel sockets.
 *
 * A turn of a DPDK data core (core_turn):
 *   dpdk_transport_poll   one clock read, one RX burst, the stack's input and
 *                         upcalls (clients parse and run commands)
 *   ... rings, flush_clients (replies copied into the stack's send rings) ...
 *   dpdk_transport_flush  segments built and sent, timers about every ms
 * Everything here belongs to the core that polls it; INFO reads the counters
 * of other cores only while they are parked under the all-cores barrier. */
#ifndef SLOTD_DPDK_TRANSPORT_H
#define SLOTD_DPDK_TRANSPORT_H

#include <stdint.h>

#include "net/net.h"

struct core;
struct dpdk_transport;

/* Build the core's stack on queue pair core->id of core->rt->port, with the
 * node's address from the runtime and limits from the live config, and listen
 * on the client port (cfg->port; 0: no listener, as in Redis). NULL on failure
 * (logged). */
struct dpdk_transport *dpdk_transport_create(struct core *core);
/* Free the stack (no upcalls), unsent frames and every connection struct.
 * Clients must have been freed first (core_destroy does). NULL is fine. */
void dpdk_transport_destroy(struct dpdk_transport *t);

/* Start of a turn: read the clock once, receive one RX burst, apply the
 * test knobs, run the stack's input (upcalls into the clients). Returns the
 * number of frames received. */
unsigned dpdk_transport_poll(struct dpdk_transport *t);
/* End of a turn: net_flush (segments for what clients queued, on_writable,
 * on_closed), the stack's timers when a millisecond has passed, and frames
 * the kernel sent on the exception TAP when this core's queue carries them
 * (exc_to_port). `work` counts what the core did this turn besides frames
 * (requests from other cores' rings): a turn with frames in or out, or with
 * work, counts as busy (see busy_cycles). */
void dpdk_transport_flush(struct dpdk_transport *t, unsigned work);

/* Counters for INFO dataplane. */
struct dpdk_transport_stats {
    uint64_t rx_bursts, rx_polls;            /* non-empty RX bursts, polls */
    uint64_t test_reordered, test_duplicated;/* frames touched by the test knobs */
    uint64_t test_dup_nomem;                 /* a duplicate could not be made */
    uint64_t exc_no_path;                    /* exception frames dropped: no TAP */
    uint64_t exc_relayed, exc_relay_drops;   /* kernel frames sent for the TAP */
    uint64_t input_stalls;                   /* input left in the window: client busy */
    /* A polling core is always 100% on the CPU; what it could serve shows in
     * the turns that found work: their cycles (start of poll to end of
     * flush) over the requests served give the core's capacity, which a
     * load generator that cannot saturate it does not show. */
    uint64_t busy_turns, busy_cycles;
    unsigned conns;                          /* connection structs held by clients */
    unsigned held;                           /* frames held back by the reorder knob */
    struct net_counters net;
};

/* Fill *out with this transport's counters (the owner core, or any core while
 * the owner is parked). */
void dpdk_transport_stats(const struct dpdk_transport *t, struct dpdk_transport_stats *out);

/* The loop's load counters, which any thread may read at any time (the
 * owner stores them atomically): DPDK telemetry reads them while the core
 * runs, INFO while it is parked. busy_usec is busy_cycles at EAL's TSC rate. */
struct dpdk_transport_load {
    uint64_t loop_turns, busy_turns, busy_usec;
};
void dpdk_transport_load(const struct dpdk_transport *t, struct dpdk_transport_load *out);

#endif
