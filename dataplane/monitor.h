/* monitor — the MONITOR feed: every command a client runs, as a status line,
 * to every MONITOR client on any core. The connection's core formats the line
 * once; other cores with monitors get it by ring and append it to theirs. */
#ifndef SLOTD_MONITOR_H
#define SLOTD_MONITOR_H

#include <stdatomic.h>
#include "client.h"
#include "core.h"
#include "slice.h"

/* Format and send the line of one command run by `cl`. */
void monitor_feed_line(struct client *cl, int argc, const struct slice *argv);

/* Feed one command run by `cl`: every command pays this test, so while
 * nobody monitors it is one load, inline. */
static inline void monitor_feed(struct client *cl, int argc, const struct slice *argv)
{
    if (atomic_load_explicit(&cl->core->rt->monitors, memory_order_relaxed) != 0)
        monitor_feed_line(cl, argc, argv);
}
/* A line arrived from another core: hand it to this core's monitors, free it. */
void monitor_deliver(struct core *self, struct xreq *line);

#endif
