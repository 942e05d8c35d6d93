/* bus — the cluster bus of this node: listening on the bus port, one
 * outbound link per known node and the inbound links peers open to us,
 * non-blocking sockets in one epoll set owned by the control-plane thread,
 * and the processing of every 7.0 message (MEET/PING/PONG with gossip and
 * extensions, FAIL, UPDATE, PUBLISH, FAILOVER_AUTH_REQUEST/ACK, MFSTART).
 *
 * The bus has no state of its own beyond sockets and buffers: it reads and
 * changes `struct cluster` (cluster_priv.h), whose lock its caller holds.
 * Its functions are declared in cluster_priv.h with the rest of the
 * module's internals; cluster.h is the module's public face. This header
 * only names the constants other files of the module share with it. */
#ifndef SLOTD_BUS_H
#define SLOTD_BUS_H

#define BUS_MAX_LISTENERS     16     /* one per bind address (CONFIG_BINDADDR_MAX) */
#define BUS_MAX_ACCEPTS       1000   /* per readiness, Redis MAX_CLUSTER_ACCEPTS_PER_CALL */
#define BUS_EVENTS_PER_CALL   64     /* epoll batch; the rest come on the next call */

#endif
