/* monitor — the MONITOR feed: every command a client runs, as a status line,
 * to every MONITOR client on any core. The connection's core formats the line
 * once; other cores with monitors get it by ring and append it to theirs. */
#ifndef SLOTD_MONITOR_H
#define SLOTD_MONITOR_H

#include "slice.h"

struct client;
struct core;
struct xreq;

/* Feed one command run by `cl` (no-op when nobody monitors). */
void monitor_feed(struct client *cl, int argc, const struct slice *argv);
/* A line arrived from another core: hand it to this core's monitors, free it. */
void monitor_deliver(struct core *self, struct xreq *line);

#endif
