/* control — the control-plane thread (the process's main thread once the data
 * cores run): signals, shutdown, periodic housekeeping. The cluster bus,
 * replication and migration will live here; none of it touches a shard. */
#ifndef SLOTD_CONTROL_H
#define SLOTD_CONTROL_H

struct runtime;

/* Run until a shutdown is requested (SIGTERM, SIGINT, SHUTDOWN). SIGTERM and
 * SIGINT must be blocked in every thread before the data cores start. Returns
 * 0, or -errno if the loop could not be set up. */
int control_run(struct runtime *rt);

#endif
