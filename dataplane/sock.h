/* sock — the kernel-socket transport: one SO_REUSEPORT listener per bind
 * address on every data core, non-blocking connections, one epoll instance
 * per core. The kernel spreads new connections over the cores' listeners. */
#ifndef SLOTD_SOCK_H
#define SLOTD_SOCK_H

struct core;
struct sock_transport;

/* Listen on the configured bind addresses and port for `core`; the core's
 * wake eventfd is polled too. NULL on failure (logged with the failing call). */
struct sock_transport *sock_create(struct core *core);
void sock_destroy(struct sock_transport *t);

/* Wait up to timeout_ms (0: don't wait) and handle what is ready: accept,
 * read into clients (which parse and run commands), write pending output.
 * Returns the number of events handled. */
int sock_poll(struct sock_transport *t, int timeout_ms);

#endif
