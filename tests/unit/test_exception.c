/* test_exception — the exception path (dataplane/exception.c) on a real TAP:
 * frames the data cores hand over reach the kernel, frames the kernel sends
 * leave through the port's spare TX queue or, in relay mode, through data
 * core 0, and every frame lost on the way moves exactly one drop counter by
 * exactly one (INFO dataplane's exc_drop_*).
 *
 * A TAP needs CAP_NET_ADMIN, so the process first moves into a network
 * namespace of its own (unshare): the TAPs, their addresses and the frames
 * stay there and vanish with the process, and nothing touches the host's
 * interfaces or another test's 198.18.0.0/15. Without root (or without
 * /dev/net/tun) every test is skipped and says why.
 *
 * The port is net_ring (rte_eth_from_rings): its TX queues are rings the test
 * reads, so a full port is a full ring of known size. Frames "from the
 * kernel" are written by an AF_PACKET socket bound to the TAP (the kernel
 * transmits them on it, exactly as its TCP would); frames "to the kernel"
 * are checked with a second AF_PACKET socket that sees what the TAP
 * receives. Pools have no per-lcore cache, so the teardown can check that
 * every mbuf came back. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "../../dataplane/dpdk_port.h"
#include "../../dataplane/exception.h"

#define POOL_SIZE 2047
#define EXC_RING_CAP 1023        /* exception.c's EXC_RING_SIZE (1024): an rte_ring holds one less */
#define PORT_TXQ_CAP 7           /* the exception TX queue: a ring of 8 */
#define ETHERTYPE_TEST 0x88b5    /* IEEE 802 local experimental: the kernel ignores it */
#define FRAME_LEN 60
#define NODE_IP 0xc6120002u      /* 198.18.0.2/24 */
/* a kernel burst stays below the TAP's queue (500 frames), which would
 * otherwise drop on the kernel side, out of exc's sight */
#define INJECT_BATCH 200

static const uint8_t node_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

static const char *skip_why;     /* process-wide: the namespace and EAL */
static unsigned seq_no;          /* unique names for rings, pools, ports, TAPs */

struct fx {
    struct rte_ring *rxr, *txr[2];   /* txr[1]: the exception TX queue */
    struct rte_mempool *pool;
    struct dpdk_port port;
    struct exc_path *x;
    char ifname[IFNAMSIZ];
    int ifindex;
    int inject;                  /* AF_PACKET: frames the kernel sends on the TAP */
    int sniff;                   /* AF_PACKET: frames the TAP hands the kernel */
};

/* ---- set-up --------------------------------------------------------------- */

static int group_setup(void **state)
{
    char err[512];
    unsigned lcores[4];

    (void)state;
    if (geteuid() != 0) {
        skip_why = "not root: a TAP needs CAP_NET_ADMIN";
    } else if (access("/dev/net/tun", R_OK | W_OK) != 0) {
        skip_why = "no /dev/net/tun: this kernel or container has no TUN/TAP";
    } else if (unshare(CLONE_NEWNET) != 0) {
        skip_why = "unshare(CLONE_NEWNET) refused: no private network namespace";
    }
    if (skip_why) {
        fprintf(stderr, "test_exception: every test skipped: %s\n", skip_why);
        return 0;
    }
    if (dpdk_eal_start("--no-huge -m 256 --no-pci --no-shconf --no-telemetry --lcores=0@0,1@0 "
                       "--log-level=lib.eal:error", lcores, 4, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dpdk_eal_stop();
    return 0;
}

static struct fx *fx_new(unsigned ntxq)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct rte_eth_conf conf;
    struct sockaddr_ll sll;
    char err[512], name[32];
    int pid;
    unsigned n = seq_no++;

    assert_non_null(f);
    snprintf(name, sizeof(name), "exrx%u", n);
    f->rxr = rte_ring_create(name, 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    assert_non_null(f->rxr);
    for (unsigned q = 0; q < ntxq; q++) {
        snprintf(name, sizeof(name), "extx%u_%u", n, q);
        f->txr[q] = rte_ring_create(name, q == 1 ? PORT_TXQ_CAP + 1 : 64, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
        assert_non_null(f->txr[q]);
    }
    snprintf(name, sizeof(name), "export%u", n);
    pid = rte_eth_from_rings(name, &f->rxr, 1, f->txr, ntxq, SOCKET_ID_ANY);
    if (pid < 0)
        fail_msg("rte_eth_from_rings: %s", rte_strerror(rte_errno));
    snprintf(name, sizeof(name), "expool%u", n);
    f->pool = rte_pktmbuf_pool_create(name, POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      SOCKET_ID_ANY);
    assert_non_null(f->pool);
    memset(&conf, 0, sizeof(conf));
    assert_int_equal(rte_eth_dev_configure((uint16_t)pid, 1, (uint16_t)ntxq, &conf), 0);
    assert_int_equal(rte_eth_rx_queue_setup((uint16_t)pid, 0, 64, SOCKET_ID_ANY, NULL, f->pool), 0);
    for (unsigned q = 0; q < ntxq; q++)
        assert_int_equal(rte_eth_tx_queue_setup((uint16_t)pid, (uint16_t)q, 64, SOCKET_ID_ANY,
                                                NULL), 0);
    assert_int_equal(rte_eth_dev_start((uint16_t)pid), 0);

    /* what dpdk_port_open would have filled in for one data core */
    f->port.port_id = (uint16_t)pid;
    f->port.nqueues = 1;
    f->port.ntxq = ntxq;
    f->port.mtu = 1500;
    memcpy(f->port.mac, node_mac, 6);
    f->port.pool[0] = f->pool;

    snprintf(f->ifname, sizeof(f->ifname), "sltest%u", n);
    /* txq 1: its own TX queue when the port has two, relay mode otherwise */
    f->x = exc_open(f->ifname, &f->port, 1, NODE_IP, 24, 0, 2, err, sizeof(err));
    if (f->x == NULL)
        fail_msg("exc_open: %s", err);
    f->ifindex = (int)if_nametoindex(f->ifname);
    assert_true(f->ifindex > 0);

    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = f->ifindex;
    f->inject = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    assert_true(f->inject >= 0);
    f->sniff = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    assert_true(f->sniff >= 0);
    sll.sll_protocol = htons(ETH_P_ALL);
    assert_int_equal(bind(f->sniff, (struct sockaddr *)&sll, sizeof(sll)), 0);
    int rcvbuf = 8 << 20;
    assert_int_equal(setsockopt(f->sniff, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)), 0);
    return f;
}

static void fx_free(struct fx *f)
{
    void *m;

    if (f == NULL)
        return;
    close(f->inject);
    close(f->sniff);
    exc_close(f->x);
    while (rte_ring_sc_dequeue(f->rxr, &m) == 0)
        rte_pktmbuf_free(m);
    for (unsigned q = 0; q < 2; q++)
        while (f->txr[q] && rte_ring_sc_dequeue(f->txr[q], &m) == 0)
            rte_pktmbuf_free(m);
    /* every frame exc took was freed or handed back exactly once */
    assert_int_equal(rte_mempool_avail_count(f->pool), POOL_SIZE);
    rte_eth_dev_stop(f->port.port_id);
    rte_eth_dev_close(f->port.port_id);
    rte_mempool_free(f->pool);
    rte_ring_free(f->rxr);
    rte_ring_free(f->txr[0]);
    rte_ring_free(f->txr[1]);
    free(f);
}

/* Port with a spare TX queue for the exception path, or without one
 * (relay mode). */
static int setup_own(void **state)
{
    *state = skip_why ? NULL : fx_new(2);
    return 0;
}

static int setup_relay(void **state)
{
    *state = skip_why ? NULL : fx_new(1);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* ---- frames --------------------------------------------------------------- */

static void frame_bytes(uint8_t *b, const uint8_t *dst, const uint8_t *src, uint32_t seq)
{
    memset(b, 0, FRAME_LEN);
    memcpy(b, dst, 6);
    memcpy(b + 6, src, 6);
    b[12] = ETHERTYPE_TEST >> 8;
    b[13] = ETHERTYPE_TEST & 0xff;
    b[14] = (uint8_t)(seq >> 24);
    b[15] = (uint8_t)(seq >> 16);
    b[16] = (uint8_t)(seq >> 8);
    b[17] = (uint8_t)seq;
}

static uint32_t frame_seq(const uint8_t *b)
{
    return (uint32_t)b[14] << 24 | (uint32_t)b[15] << 16 | (uint32_t)b[16] << 8 | b[17];
}

/* A frame a data core would hand over: for the node, from the peer. */
static struct rte_mbuf *core_frame(struct fx *f, uint32_t seq, uint16_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(f->pool);
    uint8_t b[FRAME_LEN];

    assert_non_null(m);
    assert_true(len <= FRAME_LEN);
    frame_bytes(b, node_mac, peer_mac, seq);
    memcpy(rte_pktmbuf_append(m, len), b, len);
    return m;
}

/* The kernel sends n frames on the TAP (toward the peer). */
static void kernel_sends(struct fx *f, uint32_t first, unsigned n)
{
    struct sockaddr_ll sll;
    uint8_t b[FRAME_LEN];

    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = f->ifindex;
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, peer_mac, 6);
    for (unsigned i = 0; i < n; i++) {
        frame_bytes(b, peer_mac, node_mac, first + i);
        assert_int_equal(sendto(f->inject, b, sizeof(b), 0, (struct sockaddr *)&sll, sizeof(sll)),
                         (ssize_t)sizeof(b));
    }
}

static int readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, ms) == 1;
}

/* exc_poll until it has moved `want` frames (the kernel's side may lag a
 * little); then once more, which must find nothing. */
static void poll_moves(struct fx *f, unsigned want)
{
    unsigned moved = 0;

    for (int i = 0; i < 200 && moved < want; i++) {
        if (!readable(exc_fd(f->x), 10))
            continue;
        moved += exc_poll(f->x);
    }
    assert_int_equal(moved, want);
    assert_int_equal(exc_poll(f->x), 0);
}

/* Frames of the test's ethertype the TAP gave the kernel, in order; their
 * sequence numbers into seqs, lengths into lens. */
static unsigned sniffed(struct fx *f, unsigned want, uint32_t *seqs, unsigned *lens)
{
    static uint8_t buf[70000];
    unsigned n = 0;

    for (int idle = 0; idle < 20 && n < want;) {
        struct sockaddr_ll from;
        socklen_t fl = sizeof(from);
        ssize_t r = recvfrom(f->sniff, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

        if (r < 0) {
            assert_int_equal(errno, EAGAIN);
            idle += !readable(f->sniff, 10);
            continue;
        }
        if (from.sll_pkttype == PACKET_OUTGOING || r < 18 ||
            buf[12] != ETHERTYPE_TEST >> 8 || buf[13] != (ETHERTYPE_TEST & 0xff))
            continue;
        if (seqs)
            seqs[n] = frame_seq(buf);
        if (lens)
            lens[n] = (unsigned)r;
        n++;
    }
    return n;
}

static struct exc_counters counters(const struct fx *f)
{
    struct exc_counters c;

    exc_counters(f->x, &c);
    return c;
}

static void assert_counters(const struct fx *f, uint64_t to_kernel, uint64_t from_kernel,
                            uint64_t ring_full, uint64_t tap_write, uint64_t port_full,
                            uint64_t nomem)
{
    struct exc_counters c = counters(f);

    assert_int_equal(c.to_kernel, to_kernel);
    assert_int_equal(c.from_kernel, from_kernel);
    assert_int_equal(c.drop_ring_full, ring_full);
    assert_int_equal(c.drop_tap_write, tap_write);
    assert_int_equal(c.drop_port_full, port_full);
    assert_int_equal(c.drop_nomem, nomem);
}

/* ---- cores to the kernel ---------------------------------------------------- */

/* A full lane refuses the rest of a burst (the caller frees it: the net
 * stack's exception hook contract) and counts each refused frame once; the
 * other core's lane is not affected, and every frame taken reaches the
 * kernel in order. */
static void test_ring_full(void **state)
{
    struct rte_mbuf *burst[32];
    uint32_t seqs[EXC_RING_CAP + 8];
    unsigned offered = 0, taken = 0, refused = 0;
    struct fx *f = *state;

    if (skip_why)
        skip();
    assert_counters(f, 0, 0, 0, 0, 0, 0);
    while (taken == offered) {
        uint16_t k;

        for (unsigned i = 0; i < 32; i++)
            burst[i] = core_frame(f, offered + i, FRAME_LEN);
        k = exc_from_core(f->x, 0, burst, 32);
        offered += 32;
        taken += k;
        for (unsigned i = k; i < 32; i++)
            rte_pktmbuf_free(burst[i]);
        refused += 32u - k;
    }
    assert_int_equal(taken, EXC_RING_CAP);
    assert_int_equal(refused, offered - EXC_RING_CAP);
    assert_counters(f, 0, 0, refused, 0, 0, 0);
    /* a lane already full takes nothing more */
    burst[0] = core_frame(f, 999999, FRAME_LEN);
    assert_int_equal(exc_from_core(f->x, 0, burst, 1), 0);
    rte_pktmbuf_free(burst[0]);
    refused++;
    /* core 1's lane is its own */
    for (unsigned i = 0; i < 5; i++)
        burst[i] = core_frame(f, 100000 + i, FRAME_LEN);
    assert_int_equal(exc_from_core(f->x, 1, burst, 5), 5);
    assert_counters(f, 0, 0, refused, 0, 0, 0);

    poll_moves(f, EXC_RING_CAP + 5);
    assert_counters(f, EXC_RING_CAP + 5, 0, refused, 0, 0, 0);
    /* each lane in order; exc_poll takes turns between lanes */
    assert_int_equal(sniffed(f, EXC_RING_CAP + 5, seqs, NULL), EXC_RING_CAP + 5);
    for (unsigned i = 0, next0 = 0, next1 = 100000; i < EXC_RING_CAP + 5; i++) {
        if (seqs[i] >= 100000)
            assert_int_equal(seqs[i], next1++);
        else
            assert_int_equal(seqs[i], next0++);
    }
}

/* A TAP write that fails costs one frame and one count, and the frames
 * around it still go: a runt (the kernel refuses a TAP frame shorter than an
 * Ethernet header) and a chain longer than the scratch buffer it must be
 * linearised into. A chain that fits arrives whole. */
static void test_tap_write_drops(void **state)
{
    struct rte_mbuf *burst[4], *seg;
    uint32_t seqs[4];
    unsigned lens[4];
    struct fx *f = *state;

    if (skip_why)
        skip();
    burst[0] = core_frame(f, 1, FRAME_LEN);
    burst[1] = core_frame(f, 2, ETH_HLEN - 1);
    /* 3 segments: 60 + 2 * 1000 bytes */
    burst[2] = core_frame(f, 3, FRAME_LEN);
    for (int i = 0; i < 2; i++) {
        seg = rte_pktmbuf_alloc(f->pool);
        assert_non_null(seg);
        memset(rte_pktmbuf_append(seg, 1000), 0xa5, 1000);
        assert_int_equal(rte_pktmbuf_chain(burst[2], seg), 0);
    }
    /* 34 segments of 2000 bytes: more than the 65554 a TAP frame may be */
    burst[3] = core_frame(f, 4, FRAME_LEN);
    for (int i = 0; i < 34; i++) {
        seg = rte_pktmbuf_alloc(f->pool);
        assert_non_null(seg);
        memset(rte_pktmbuf_append(seg, 2000), 0x5a, 2000);
        assert_int_equal(rte_pktmbuf_chain(burst[3], seg), 0);
    }
    assert_true(burst[3]->pkt_len > 65536 + 14 + 4);
    assert_int_equal(exc_from_core(f->x, 0, burst, 4), 4);
    poll_moves(f, 4);
    assert_counters(f, 2, 0, 0, 2, 0, 0);
    assert_int_equal(sniffed(f, 3, seqs, lens), 2);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(lens[0], FRAME_LEN);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(lens[1], FRAME_LEN + 2000);
}

/* The control plane sleeps in poll() on exc_fd: the first frame into an
 * emptied lane must wake it, and an emptied path must let it sleep. */
static void test_wakeup(void **state)
{
    struct rte_mbuf *m;
    struct fx *f = *state;

    if (skip_why)
        skip();
    assert_false(readable(exc_fd(f->x), 0));
    for (unsigned round = 0; round < 3; round++) {
        m = core_frame(f, round, FRAME_LEN);
        assert_int_equal(exc_from_core(f->x, round & 1, &m, 1), 1);
        assert_true(readable(exc_fd(f->x), 0));
        assert_int_equal(exc_poll(f->x), 1);
        assert_false(readable(exc_fd(f->x), 0));
    }
    /* what the kernel sends wakes it too */
    kernel_sends(f, 7, 1);
    assert_true(readable(exc_fd(f->x), 1000));
    poll_moves(f, 1);
    assert_false(readable(exc_fd(f->x), 0));
    assert_counters(f, 3, 1, 0, 0, 0, 0);
}

/* ---- the kernel to the port ------------------------------------------------- */

/* Own TX queue: what the queue does not take after one retry is dropped and
 * counted; what it took is the kernel's frames in order. Such frames never
 * go through a data core. */
static void test_port_full(void **state)
{
    struct rte_mbuf *m;
    struct fx *f = *state;

    if (skip_why)
        skip();
    kernel_sends(f, 0, PORT_TXQ_CAP + 3);
    poll_moves(f, PORT_TXQ_CAP + 3);
    assert_counters(f, 0, PORT_TXQ_CAP, 0, 0, 3, 0);
    assert_int_equal(rte_ring_count(f->txr[1]), PORT_TXQ_CAP);
    assert_int_equal(rte_ring_count(f->txr[0]), 0);
    for (uint32_t i = 0; i < PORT_TXQ_CAP; i++) {
        assert_int_equal(rte_ring_sc_dequeue(f->txr[1], (void **)&m), 0);
        assert_int_equal(m->pkt_len, FRAME_LEN);
        assert_int_equal(frame_seq(rte_pktmbuf_mtod(m, const uint8_t *)), i);
        rte_pktmbuf_free(m);
    }
    assert_int_equal(exc_to_port(f->x, 0, &m, 1), 0);
}

/* No mbuf for a frame from the kernel: the frame is still read (or the TAP
 * would stay readable and the control plane spin), and counted; once mbufs
 * are back, frames flow again. */
static void test_nomem(void **state)
{
    static struct rte_mbuf *held[POOL_SIZE + 1];     /* + the NULL that ends the loop */
    unsigned nheld = 0;
    struct fx *f = *state;

    if (skip_why)
        skip();
    while ((held[nheld] = rte_pktmbuf_alloc(f->pool)) != NULL)
        nheld++;
    assert_int_equal(nheld, POOL_SIZE);
    kernel_sends(f, 0, 5);
    poll_moves(f, 5);
    assert_false(readable(exc_fd(f->x), 0));
    assert_counters(f, 0, 0, 0, 0, 0, 5);
    rte_pktmbuf_free_bulk(held, nheld);
    kernel_sends(f, 5, 2);
    poll_moves(f, 2);
    assert_counters(f, 0, 2, 0, 0, 0, 5);
    assert_int_equal(rte_ring_count(f->txr[1]), 2);
}

/* Relay mode (no spare TX queue): frames from the kernel wait for data core
 * 0 in a ring; a full ring drops and counts as a full port; only core 0
 * gets them, in order. */
static void test_relay(void **state)
{
    struct rte_mbuf *burst[32];
    unsigned sent = 0, got = 0;
    struct fx *f = *state;

    if (skip_why)
        skip();
    while (sent < EXC_RING_CAP + 7) {
        unsigned n = EXC_RING_CAP + 7 - sent < INJECT_BATCH ? EXC_RING_CAP + 7 - sent : INJECT_BATCH;

        kernel_sends(f, sent, n);
        poll_moves(f, n);
        sent += n;
    }
    assert_counters(f, 0, EXC_RING_CAP, 0, 0, 7, 0);
    assert_int_equal(rte_ring_count(f->txr[0]), 0);
    assert_int_equal(exc_to_port(f->x, 1, burst, 32), 0);
    for (;;) {
        uint16_t n = exc_to_port(f->x, 0, burst, 32);

        if (n == 0)
            break;
        assert_true(n <= 32);
        for (uint16_t i = 0; i < n; i++) {
            assert_int_equal(frame_seq(rte_pktmbuf_mtod(burst[i], const uint8_t *)), got + i);
            rte_pktmbuf_free(burst[i]);
        }
        got += n;
    }
    assert_int_equal(got, EXC_RING_CAP);
    /* room again */
    kernel_sends(f, 5000, 3);
    poll_moves(f, 3);
    assert_counters(f, 0, EXC_RING_CAP + 3, 0, 0, 7, 0);
    assert_int_equal(exc_to_port(f->x, 0, burst, 32), 3);
    rte_pktmbuf_free_bulk(burst, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ring_full, setup_own, teardown),
        cmocka_unit_test_setup_teardown(test_tap_write_drops, setup_own, teardown),
        cmocka_unit_test_setup_teardown(test_wakeup, setup_own, teardown),
        cmocka_unit_test_setup_teardown(test_port_full, setup_own, teardown),
        cmocka_unit_test_setup_teardown(test_nomem, setup_own, teardown),
        cmocka_unit_test_setup_teardown(test_relay, setup_relay, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
