/* control — control-plane loop on the main thread.
 *
 * Owns: signal delivery (signalfd), the shutdown decision, and the periodic
 * jobs that must not run on a data core (jemalloc statistics take locks). It
 * reads the runtime's atomics and never a shard. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../dataplane/core.h"
#include "../dataplane/log.h"

#define CONTROL_TICK_MS 100   /* shutdown requests by SHUTDOWN are seen within this */

int control_run(struct runtime *rt)
{
    sigset_t set;
    int sfd;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        log_errno(LL_WARNING, "signalfd", "cannot receive signals");
        return -errno;
    }
    while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
        struct pollfd p = { .fd = sfd, .events = POLLIN };
        struct signalfd_siginfo si;

        if (poll(&p, 1, CONTROL_TICK_MS) <= 0)
            continue;
        if (read(sfd, &si, sizeof(si)) != sizeof(si))
            continue;
        if (si.ssi_signo == SIGHUP) {
            log_reopen();
            continue;
        }
        log_msg(LL_WARNING, "Received %s scheduling shutdown...",
                si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        atomic_store_explicit(&rt->shutdown, 1, memory_order_release);
    }
    for (unsigned i = 0; i < rt->ncores; i++)
        if (rt->cores[i])
            core_wake(rt->cores[i]);
    close(sfd);
    return 0;
}
