/* exception — frames between the data cores' port and a kernel TAP (see
 * exception.h for the contract).
 *
 * Threads and ownership:
 * - lane k (ring, armed flag, drop_ring_full) is written by data core k
 *   (producer) and read by the control plane (consumer): an SPSC rte_ring of
 *   mbuf pointers. An mbuf in a ring belongs to the ring; exc_poll takes it,
 *   writes it to the TAP and frees it.
 * - the TAP fd, the eventfd's read side, the epoll fd, the scratch buffer and
 *   the port's exception TX queue belong to the control plane.
 * - relay mode (a port with no TX queue to spare, e.g. net_tap): frames from
 *   the kernel go through one more SPSC ring, control plane -> data core 0,
 *   which sends them on its own queue (exc_to_port). Core 0 spins, so this
 *   direction needs no wake-up.
 * - counters are relaxed atomics so INFO may read them from any thread.
 *
 * Wake-up: the control plane sleeps in poll() on exc_fd (an epoll fd holding
 * the TAP and an eventfd). A lane is "armed" when the control plane has
 * emptied it and may be asleep; the first producer to enqueue into an armed
 * lane disarms it and writes the eventfd, so a busy lane costs no system
 * call. Both sides put a full fence between their store (armed = 1 / the
 * ring's tail) and their load (the ring's count / armed), so either the
 * producer sees the lane armed or the consumer sees the frame (Dekker): no
 * frame waits for the next unrelated wake-up.
 *
 * Bounds: exc_poll moves at most EXC_BUDGET frames each way per call; when a
 * lane still holds frames it re-signals the eventfd itself so poll() returns
 * at once, and the TAP stays readable (level-triggered) on its own. */
#include "exception.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "config.h"
#include "core.h"
#include "dpdk_port.h"
#include "log.h"

#define EXC_RING_SIZE 1024       /* per core; exception traffic is low-volume */
#define EXC_BUDGET 256           /* frames per direction per exc_poll */
#define EXC_BURST 32
#define EXC_FRAME_MAX (65536 + 14 + 4)  /* a linearized chain: IP max plus header and tag */

struct exc_lane {
    struct rte_ring *ring;
    _Atomic int armed;
    _Atomic uint64_t drop_ring_full;
} __attribute__((aligned(64)));

struct exc_path {
    int tap_fd, ev_fd, ep_fd;
    uint16_t port_id, txq;
    struct rte_mempool *pool;    /* mbufs for frames from the kernel */
    struct rte_ring *relay;      /* relay mode: to core 0; NULL: own TX queue */
    unsigned ncores;
    char ifname[IFNAMSIZ];
    _Atomic uint64_t to_kernel, from_kernel;
    _Atomic uint64_t drop_tap_write, drop_port_full, drop_nomem;
    struct exc_lane lane[CORE_MAX];
    uint8_t scratch[EXC_FRAME_MAX];
};

/* Set the eventfd. It fails only when the counter is at its maximum, i.e.
 * already set, which is all a wake-up needs. */
static void wake(int ev_fd)
{
    uint64_t one = 1;
    ssize_t w = write(ev_fd, &one, sizeof(one));
    (void)w;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---- set-up ------------------------------------------------------------- */

static int if_ioctl(int s, unsigned long req, struct ifreq *ifr, const char *what,
                    char *err, size_t errlen)
{
    if (ioctl(s, req, ifr) == 0)
        return 0;
    int e = errno;
    snprintf(err, errlen, "exception TAP %s: %s failed: %s", ifr->ifr_name, what, strerror(e));
    return -e;
}

static void set_sin(struct sockaddr *sa, uint32_t ip)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip)};
    memcpy(sa, &sin, sizeof(sin));
}

#define TAP_ROUTE_METRIC 4096

/* MAC, MTU, address, netmask, up, route: everything the kernel needs to use
 * the TAP as if it were the NIC. */
static int tap_configure(struct exc_path *x, const struct dpdk_port *port, uint32_t ip,
                         unsigned prefix, uint32_t gateway, char *err, size_t errlen)
{
    struct ifreq ifr;
    int s, rc;
    uint32_t mask = config_ipv4_mask(prefix);

    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        rc = -errno;
        snprintf(err, errlen, "exception TAP: socket() failed: %s", strerror(-rc));
        return rc;
    }
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, x->ifname, IFNAMSIZ);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, port->mac, 6);
    if ((rc = if_ioctl(s, SIOCSIFHWADDR, &ifr, "setting the MAC", err, errlen)) != 0)
        goto out;
    memset(&ifr.ifr_ifru, 0, sizeof(ifr.ifr_ifru));
    ifr.ifr_mtu = port->mtu;
    if ((rc = if_ioctl(s, SIOCSIFMTU, &ifr, "setting the MTU", err, errlen)) != 0)
        goto out;
    memset(&ifr.ifr_ifru, 0, sizeof(ifr.ifr_ifru));
    set_sin(&ifr.ifr_addr, ip);
    if ((rc = if_ioctl(s, SIOCSIFADDR, &ifr, "setting the address", err, errlen)) != 0)
        goto out;
    memset(&ifr.ifr_ifru, 0, sizeof(ifr.ifr_ifru));
    set_sin(&ifr.ifr_netmask, mask);
    if ((rc = if_ioctl(s, SIOCSIFNETMASK, &ifr, "setting the netmask", err, errlen)) != 0)
        goto out;
    memset(&ifr.ifr_ifru, 0, sizeof(ifr.ifr_ifru));
    if ((rc = if_ioctl(s, SIOCGIFFLAGS, &ifr, "reading the flags", err, errlen)) != 0)
        goto out;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if ((rc = if_ioctl(s, SIOCSIFFLAGS, &ifr, "bringing it up", err, errlen)) != 0)
        goto out;
    if (gateway) {
        struct rtentry rt;
        memset(&rt, 0, sizeof(rt));
        set_sin(&rt.rt_dst, 0);
        set_sin(&rt.rt_genmask, 0);
        set_sin(&rt.rt_gateway, gateway);
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = x->ifname;
        /* Least preferred: a default route the host has (its management
         * interface, any metric below this) keeps its traffic; the node's
         * own sockets reach other subnets through the TAP only without one.
         * SIOCADDRT takes the metric plus one. */
        rt.rt_metric = TAP_ROUTE_METRIC + 1;
        if (ioctl(s, SIOCADDRT, &rt) != 0)
            log_errno(LL_WARNING, "ioctl", "exception TAP %s: default route via dpdk-gateway not added",
                      x->ifname);
    }
    rc = 0;
out:
    close(s);
    return rc;
}

/* IPv6 on the TAP would send router and neighbour solicitations out of the
 * port for an address family slotd does not serve; best effort. */
static void tap_no_ipv6(const char *ifname)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, "1\n", 2) != 2)
        log_errno(LL_VERBOSE, "write", "%s", path);
    close(fd);
}

struct exc_path *exc_open(const char *ifname, const struct dpdk_port *port,
                          uint16_t txq, uint32_t ip, unsigned prefix,
                          uint32_t gateway, unsigned ncores,
                          char *err, size_t errlen)
{
    struct exc_path *x;
    struct ifreq ifr;
    struct epoll_event ev;

    if (ncores == 0 || ncores > CORE_MAX || prefix > 32) {
        snprintf(err, errlen, "exception path: bad arguments (%u cores, prefix %u)", ncores, prefix);
        return NULL;
    }
    /* the lanes are cache-line aligned, so one core's producer side never
     * shares a line with another's */
    x = aligned_alloc(64, (sizeof(*x) + 63) & ~(size_t)63);
    if (x == NULL) {
        snprintf(err, errlen, "exception path: out of memory");
        return NULL;
    }
    memset(x, 0, sizeof(*x));
    x->tap_fd = x->ev_fd = x->ep_fd = -1;
    x->port_id = port->port_id;
    x->txq = txq;
    x->pool = port->pool[0];
    x->ncores = ncores;
    for (unsigned k = 0; k < ncores; k++) {
        ssize_t sz = rte_ring_get_memsize(EXC_RING_SIZE);
        if (sz < 0)
            goto nomem;
        x->lane[k].ring = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
        if (x->lane[k].ring == NULL ||
            rte_ring_init(x->lane[k].ring, "exc", EXC_RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0)
            goto nomem;
        atomic_init(&x->lane[k].armed, 1);
    }
    if (txq >= port->ntxq) {
        ssize_t sz = rte_ring_get_memsize(EXC_RING_SIZE);
        if (sz < 0)
            goto nomem;
        x->relay = aligned_alloc(64, ((size_t)sz + 63) & ~(size_t)63);
        if (x->relay == NULL ||
            rte_ring_init(x->relay, "excrelay", EXC_RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ) != 0)
            goto nomem;
    }

    x->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (x->tap_fd < 0) {
        snprintf(err, errlen, "exception TAP: cannot open /dev/net/tun: %s (slotd needs root or "
                 "CAP_NET_ADMIN in dpdk mode)", strerror(errno));
        goto fail;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname && ifname[0] ? ifname : "slotd%d");
    if (ioctl(x->tap_fd, TUNSETIFF, &ifr) != 0) {
        snprintf(err, errlen, "exception TAP: cannot create '%s': %s%s", ifr.ifr_name,
                 strerror(errno), errno == EBUSY ? " (in use: another slotd? change dpdk-tap)" : "");
        goto fail;
    }
    memcpy(x->ifname, ifr.ifr_name, IFNAMSIZ);
    x->ifname[IFNAMSIZ - 1] = '\0';
    tap_no_ipv6(x->ifname);
    if (tap_configure(x, port, ip, prefix, gateway, err, errlen) != 0)
        goto fail;

    x->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    x->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (x->ev_fd < 0 || x->ep_fd < 0) {
        snprintf(err, errlen, "exception path: eventfd/epoll_create1 failed: %s", strerror(errno));
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.fd = x->tap_fd;
    if (epoll_ctl(x->ep_fd, EPOLL_CTL_ADD, x->tap_fd, &ev) != 0)
        goto fail_epoll;
    ev.data.fd = x->ev_fd;
    if (epoll_ctl(x->ep_fd, EPOLL_CTL_ADD, x->ev_fd, &ev) != 0)
        goto fail_epoll;
    log_msg(LL_NOTICE, "Exception path: TAP %s, %02x:%02x:%02x:%02x:%02x:%02x, "
            "%u.%u.%u.%u/%u, MTU %u, to the port %s %u",
            x->ifname, port->mac[0], port->mac[1], port->mac[2], port->mac[3], port->mac[4],
            port->mac[5], ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, prefix,
            port->mtu, x->relay ? "through data core" : "on TX queue", x->relay ? 0 : txq);
    return x;
fail_epoll:
    snprintf(err, errlen, "exception path: epoll_ctl failed: %s", strerror(errno));
    goto fail;
nomem:
    snprintf(err, errlen, "exception path: out of memory");
fail:
    exc_close(x);
    return NULL;
}

void exc_close(struct exc_path *x)
{
    void *m;

    if (x == NULL)
        return;
    for (unsigned k = 0; k < CORE_MAX; k++) {
        if (x->lane[k].ring == NULL)
            continue;
        while (rte_ring_sc_dequeue(x->lane[k].ring, &m) == 0)
            rte_pktmbuf_free(m);
        free(x->lane[k].ring);
    }
    if (x->relay) {
        while (rte_ring_sc_dequeue(x->relay, &m) == 0)
            rte_pktmbuf_free(m);
        free(x->relay);
    }
    if (x->ep_fd >= 0)
        close(x->ep_fd);
    if (x->ev_fd >= 0)
        close(x->ev_fd);
    /* a TAP that is not persistent disappears with its last descriptor */
    if (x->tap_fd >= 0)
        close(x->tap_fd);
    free(x);
}

/* ---- data cores --------------------------------------------------------- */

uint16_t exc_from_core(struct exc_path *x, unsigned core, struct rte_mbuf **pkts, uint16_t n)
{
    struct exc_lane *l = &x->lane[core];
    unsigned k = rte_ring_sp_enqueue_burst(l->ring, (void **)pkts, n, NULL);

    if (k < n)
        count(&l->drop_ring_full, n - k);
    if (k == 0)
        return 0;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&l->armed, memory_order_relaxed) &&
        atomic_exchange_explicit(&l->armed, 0, memory_order_relaxed))
        wake(x->ev_fd);
    return (uint16_t)k;
}

uint16_t exc_to_port(struct exc_path *x, unsigned core, struct rte_mbuf **pkts, uint16_t n)
{
    if (x->relay == NULL || core != 0)
        return 0;
    return (uint16_t)rte_ring_sc_dequeue_burst(x->relay, (void **)pkts, n, NULL);
}

/* ---- control plane ------------------------------------------------------ */

int exc_fd(const struct exc_path *x)
{
    return x->ep_fd;
}

static void to_kernel(struct exc_path *x, struct rte_mbuf *m)
{
    const void *p = NULL;
    ssize_t w = -1;

    /* a TAP write is one frame, so a chain is copied out whole first */
    if (m->nb_segs == 1)
        p = rte_pktmbuf_mtod(m, const void *);
    else if (m->pkt_len <= sizeof(x->scratch))
        p = rte_pktmbuf_read(m, 0, m->pkt_len, x->scratch);
    if (p)
        w = write(x->tap_fd, p, m->pkt_len);
    if (w < 0)
        count(&x->drop_tap_write, 1);
    else
        count(&x->to_kernel, 1);
    rte_pktmbuf_free(m);
}

/* Rings toward the kernel. Returns frames moved; *more when a lane still
 * holds frames after the budget. */
static unsigned drain_lanes(struct exc_path *x, int *more)
{
    struct rte_mbuf *burst[EXC_BURST];
    unsigned moved = 0;

    for (unsigned k = 0; k < x->ncores; k++) {
        struct exc_lane *l = &x->lane[k];
        unsigned got;
        do {
            got = rte_ring_sc_dequeue_burst(l->ring, (void **)burst, EXC_BURST, NULL);
            for (unsigned i = 0; i < got; i++)
                to_kernel(x, burst[i]);
            moved += got;
        } while (got == EXC_BURST && moved < EXC_BUDGET);
    }
    /* arm, then look again: see the Dekker note at the top */
    for (unsigned k = 0; k < x->ncores; k++)
        atomic_store_explicit(&x->lane[k].armed, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    for (unsigned k = 0; k < x->ncores; k++)
        if (rte_ring_count(x->lane[k].ring))
            *more = 1;
    return moved;
}

/* Relay mode: into core 0's ring. Otherwise one retry on our own queue: a
 * full ring means the port is behind, and the kernel's TCP retransmits. */
static void send_burst(struct exc_path *x, struct rte_mbuf **b, uint16_t n)
{
    uint16_t sent = 0;

    if (x->relay)
        sent = (uint16_t)rte_ring_sp_enqueue_burst(x->relay, (void **)b, n, NULL);
    else
        for (int tries = 0; tries < 2 && sent < n; tries++)
            sent += rte_eth_tx_burst(x->port_id, x->txq, b + sent, (uint16_t)(n - sent));
    if (sent < n) {
        count(&x->drop_port_full, n - sent);
        rte_pktmbuf_free_bulk(b + sent, n - sent);
    }
    count(&x->from_kernel, sent);
}

/* TAP toward the port, through the exception TX queue or core 0's: never
 * anywhere else. */
static unsigned drain_tap(struct exc_path *x)
{
    struct rte_mbuf *burst[EXC_BURST];
    uint16_t n = 0;
    unsigned moved = 0;

    while (moved < EXC_BUDGET) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(x->pool);
        ssize_t r;

        if (m == NULL) {
            /* drain the frame anyway, or the TAP stays readable and the
             * control plane spins */
            r = read(x->tap_fd, x->scratch, sizeof(x->scratch));
            if (r < 0)
                break;
            count(&x->drop_nomem, 1);
            moved++;
            continue;
        }
        r = read(x->tap_fd, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_tailroom(m));
        if (r <= 0) {
            rte_pktmbuf_free(m);
            break;
        }
        m->data_len = (uint16_t)r;
        m->pkt_len = (uint32_t)r;
        burst[n++] = m;
        moved++;
        if (n == EXC_BURST) {
            send_burst(x, burst, n);
            n = 0;
        }
    }
    if (n)
        send_burst(x, burst, n);
    return moved;
}

unsigned exc_poll(struct exc_path *x)
{
    uint64_t v;
    int more = 0;
    unsigned moved;
    /* clear before draining, so a wake-up during the drain is kept;
     * EAGAIN just means the TAP alone woke us */
    ssize_t r = read(x->ev_fd, &v, sizeof(v));

    (void)r;
    moved = drain_lanes(x, &more);
    moved += drain_tap(x);
    if (more)
        wake(x->ev_fd);
    return moved;
}

void exc_counters(const struct exc_path *x, struct exc_counters *out)
{
    memset(out, 0, sizeof(*out));
    out->to_kernel = atomic_load_explicit(&x->to_kernel, memory_order_relaxed);
    out->from_kernel = atomic_load_explicit(&x->from_kernel, memory_order_relaxed);
    out->drop_tap_write = atomic_load_explicit(&x->drop_tap_write, memory_order_relaxed);
    out->drop_port_full = atomic_load_explicit(&x->drop_port_full, memory_order_relaxed);
    out->drop_nomem = atomic_load_explicit(&x->drop_nomem, memory_order_relaxed);
    for (unsigned k = 0; k < x->ncores; k++)
        out->drop_ring_full += atomic_load_explicit(&x->lane[k].drop_ring_full,
                                                    memory_order_relaxed);
}
