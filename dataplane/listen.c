/* listen — Redis bind syntax to a listening socket. Called at start-up and by
 * CONFIG SET port/bind (under the barrier) or the control plane; no state. */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

int listen_tcp(const char *spec, int port, int backlog, int flags, int *fd_out)
{
    int optional = spec[0] == '-';
    const char *host = optional ? spec + 1 : spec;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
    struct addrinfo *res = NULL;
    char portstr[16];
    int fd = -1, one = 1, rc;
    const char *call = "socket";   /* the failing call, named in the log as Redis does */

    *fd_out = -1;
    if (strcmp(host, "*") == 0) {
        host = NULL;
        hints.ai_family = AF_INET;
    } else if (strcmp(host, "::*") == 0) {
        host = "::";
        hints.ai_family = AF_INET6;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        log_msg(LL_WARNING, "Invalid bind address '%s': %s", spec, gai_strerror(rc));
        return optional ? 0 : -EINVAL;
    }
    if (flags & LISTEN_EXCLUSIVE) {
        /* A bind without SO_REUSEPORT joins no group: it fails while anyone
         * holds the address. Released at once for the real socket; a start
         * racing ours in those microseconds is not guarded against. */
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        call = "bind";
        if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
            goto fail;
        close(fd);
        fd = -1;
        call = "socket";
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    call = "setsockopt SO_REUSEPORT";
    if ((flags & LISTEN_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    call = "bind";
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0)
        goto fail;
    call = "listen";
    if (listen(fd, backlog) != 0)
        goto fail;
    freeaddrinfo(res);
    *fd_out = fd;
    return 0;
fail:
    rc = -errno;
    if (!optional || (errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT))
        log_msg(optional ? LL_NOTICE : LL_WARNING,
                "Could not create server TCP listening socket %s:%d: %s: %s",
                spec, port, call, strerror(-rc));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return optional ? 0 : rc;
}
