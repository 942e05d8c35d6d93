/* transport — the seam between a byte transport (kernel sockets, or the DPDK
 * user-space TCP stack) and the layers above it (clients, RESP, commands).
 *
 * A transport owns connections; each connection carries one client. Upward,
 * the transport calls client_* (dataplane/client.h) when a connection opens,
 * when bytes arrive, when it may write again and when it closed. Downward, the
 * client calls the connection's ops. All calls happen on the connection's data
 * core; nothing here is shared between cores. */
#ifndef SLOTD_TRANSPORT_H
#define SLOTD_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct conn;
struct client;

struct conn_ops {
    /* Queue up to n bytes for sending. Returns the number accepted (possibly 0
     * when the peer's window or the socket buffer is full: the transport then
     * calls client_writable once room opens), or -errno when the connection is
     * broken (the transport will report the close). Never blocks. */
    ssize_t (*send)(struct conn *c, const void *p, size_t n);
    /* Stop (paused=1) or resume (paused=0) delivering input: back-pressure while a
     * client waits for remote replies or its output is over its limit. */
    void (*pause_input)(struct conn *c, int paused);
    /* Close now. The transport calls client_closed() later, never inside. */
    void (*close)(struct conn *c);
};

struct conn {
    const struct conn_ops *ops;
    struct client *client;
    char peer[64];     /* "ip:port" as CLIENT LIST shows it */
    char local[64];
    int fd;            /* kernel fd, or -1 on the user-space stack */
};

#endif
