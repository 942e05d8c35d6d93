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

struct slotmap;
/* Publish a new slot map (control plane only). The previous one is freed once
 * every data core has finished a loop turn on a newer map. Returns 0, or
 * -ENOMEM when the old map could not be queued (it is then leaked, never
 * freed early). */
int control_publish_slotmap(struct runtime *rt, struct slotmap *m);
/* Free retired maps that no core can still be reading; called every tick. */
void control_reclaim_slotmaps(struct runtime *rt);
/* Free every retired map (after the data cores have stopped). */
void control_free_slotmaps(void);

#endif
