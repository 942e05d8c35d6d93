/* listen — a kernel TCP listening socket from a Redis-style bind address, for
 * the client port (one per data core) and the cluster bus port alike. */
#ifndef SLOTD_LISTEN_H
#define SLOTD_LISTEN_H

enum {
    LISTEN_REUSEPORT = 1,   /* several sockets on one port (one per core) */
    /* with LISTEN_REUSEPORT: fail, as Redis does, when the address is in use
     * already, by another process's SO_REUSEPORT group too (which would
     * otherwise quietly take a share of the connections). For the first of
     * the process's sockets on an address. */
    LISTEN_EXCLUSIVE = 2,
};

/* Listen on `spec` ("1.2.3.4", "::1", "*" any IPv4, "::*" any IPv6; a leading
 * '-' marks an address whose absence is not an error) and `port`, non-blocking.
 * Returns 0 with *fd set, 0 with *fd = -1 when an optional address is not
 * available, or -errno (logged with the address, as Redis words it). */
int listen_tcp(const char *spec, int port, int backlog, int flags, int *fd);

#endif
