/* cluster — slotd as a member of a Redis 7.0 cluster: the node table, epochs,
 * slot owners, failure detection, nodes.conf and the cluster bus, owned by
 * the control-plane thread (cluster/control.c drives it). The data cores see
 * the outcome only as the published slot map (slotmap.h).
 *
 * Wiring (all from the control-plane thread, or main before it runs):
 *   cluster_init(rt)      once, before the data cores start, when
 *                         cluster-enabled yes: loads or creates nodes.conf,
 *                         listens on the bus port, publishes the first map,
 *                         starts the thread that writes nodes.conf;
 *   cluster_fd()          poll it for POLLIN and call cluster_events();
 *   cluster_tick(rt, now) every 100 ms (Redis clusterCron at hz 10);
 *   cluster_shutdown()    after the data cores stopped: stops the writer,
 *                         saves nodes.conf, closes every socket, frees the
 *                         state.
 * With cluster-enabled no, every call is a no-op and cluster_fd() is -1.
 *
 * The CLUSTER, ASKING, READONLY and READWRITE commands are in cmd_cluster.c
 * (declared in kv/commands.h). */
#ifndef SLOTD_CLUSTER_H
#define SLOTD_CLUSTER_H

#include <stdint.h>

struct runtime;

/* 0, or -errno with the reason logged (main must exit, as redis-server
 * does): nodes.conf corrupt or locked by another node, client port above
 * 55535 without cluster-port, no bind address, bus port not bindable. */
int cluster_init(struct runtime *rt);
int cluster_fd(void);
void cluster_events(struct runtime *rt);
void cluster_tick(struct runtime *rt, int64_t now_ms);
void cluster_shutdown(void);

/* INFO clients "cluster_connections" (Redis getClusterConnectionsCount: two
 * sockets per known node besides myself); any thread, lock-free. */
unsigned long cluster_connections(void);

#endif
