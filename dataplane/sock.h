/* sock — the kernel-socket transport: one SO_REUSEPORT listener per bind
 * address on every data core, non-blocking connections, one epoll instance
 * per core. The kernel spreads new connections over the cores' listeners. */
#ifndef SLOTD_SOCK_H
#define SLOTD_SOCK_H

#include "phase.h"

struct core;
struct sock_transport;

/* Listen on the configured bind addresses and port for `core`; the core's
 * wake eventfd is polled too. NULL on failure (logged with the failing call). */
struct sock_transport *sock_create(struct core *core);
void sock_destroy(struct sock_transport *t);

/* Wait up to timeout_ms (0: don't wait) and handle what is ready: accept,
 * read into clients (which parse and run commands), write pending output.
 * Returns the number of events handled. */
PHASE_ROOT int sock_poll(struct sock_transport *t, int timeout_ms);

/* CONFIG SET port/bind: listen on the configured addresses again. Two phases
 * so that a failure on any core leaves every core on its old listeners:
 * prepare opens the new sockets (0 or -errno), then commit swaps them in or
 * abort closes them. Run by the barrier holder for every core (epoll_ctl on
 * another core's epoll instance is safe while that core is parked). */
int  sock_rebind_prepare(struct sock_transport *t);
void sock_rebind_commit(struct sock_transport *t);
void sock_rebind_abort(struct sock_transport *t);

#endif
