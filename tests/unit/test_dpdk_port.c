/* test_dpdk_port — the port layer's RSS contract (dataplane/dpdk_port.c):
 * the symmetric Toeplitz key, the redirection table dpdk_port_open writes,
 * and dpdk_port_rx_queue_of, by which active opens (the data cores' and
 * slotd-load's) choose a source port whose replies come back to the opening
 * core. If any of them drifts from what the NIC computes, replies land on
 * another core's queue and the connection never completes; nothing but a
 * multi-queue NIC would show it, so it is pinned here.
 *
 * The ports are net_null vdevs (no NIC, no hugepages): that PMD offers TCP
 * RSS with a 128-entry table it lets us write and read back, so
 * dpdk_port_open takes its RSS path exactly as on a NIC. EAL is started with
 * slotd's own dpdk_eal_start, once for the process (EAL cannot restart).
 *
 * Every hash is checked against a bit-by-bit Toeplitz over the frame's bytes
 * in wire order (Microsoft's RSS definition, which NICs follow), itself
 * pinned to Microsoft's published verification values; rte_softrss and
 * rte_softrss_be must agree with it too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_thash.h>

#include "../../dataplane/dpdk_port.h"
#include "../../dataplane/net/net.h"

#define NQ_MAX 4                 /* ports of 1..4 queues, one net_null each */
#define KEY_LEN 40               /* what dpdk_port_rx_queue_of hashes with */
#define RETA_MAX 512             /* set_reta's bound */
/* dpdk_transport.c's hook_pick_port: a cursor that walks the dynamic range
 * 49152..65535 (RFC 6335), at most once round per call */
#define PICK_LO 49152u

/* DPDK's RTE_IPV4 shifts an int: undefined for a first byte above 127 */
#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* One port per queue count; ports[0] is unused. EAL is process-wide. */
static struct dpdk_port ports[NQ_MAX + 1];
static int eal_up;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd32(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- the reference hash -------------------------------------------------- */

/* win[i] is the 32 key bits starting at bit i (bit 0: the first byte's
 * MSB); the hash XORs win[i] for each set input bit i. */
struct toeplitz {
    uint32_t win[96];
};

static void toeplitz_init(struct toeplitz *t, const uint8_t *key, size_t klen)
{
    assert_true(klen * 8 >= 96 + 32);
    for (size_t i = 0; i < 96; i++) {
        uint32_t w = 0;
        for (size_t b = 0; b < 32; b++) {
            size_t k = i + b;
            w = w << 1 | ((key[k / 8] >> (7 - k % 8)) & 1u);
        }
        t->win[i] = w;
    }
}

/* src ip, dst ip, src port, dst port, as the bytes of the frame carry them */
static uint32_t toeplitz_wire(const struct toeplitz *t, uint32_t src, uint32_t dst,
                              uint16_t sport, uint16_t dport)
{
    uint8_t in[12] = {
        (uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src,
        (uint8_t)(dst >> 24), (uint8_t)(dst >> 16), (uint8_t)(dst >> 8), (uint8_t)dst,
        (uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
    };
    uint32_t h = 0;

    for (size_t i = 0; i < 96; i++)
        if (in[i / 8] >> (7 - i % 8) & 1)
            h ^= t->win[i];
    return h;
}

/* DPDK's two software hashes over the same fields (host-order tuple; the
 * _be variant takes the key rte_convert_rss_key made). */
static uint32_t softrss(const uint8_t *key, uint32_t src, uint32_t dst, uint16_t sport,
                        uint16_t dport)
{
    struct rte_ipv4_tuple in = {.src_addr = src, .dst_addr = dst};

    in.sport = sport;
    in.dport = dport;
    return rte_softrss((uint32_t *)&in, RTE_THASH_V4_L4_LEN, key);
}

static uint32_t softrss_be(const uint8_t *key, uint32_t src, uint32_t dst, uint16_t sport,
                           uint16_t dport)
{
    uint32_t conv[KEY_LEN / 4];
    struct rte_ipv4_tuple in = {.src_addr = src, .dst_addr = dst};

    rte_convert_rss_key((const uint32_t *)key, conv, KEY_LEN);
    in.sport = sport;
    in.dport = dport;
    return rte_softrss_be((uint32_t *)&in, RTE_THASH_V4_L4_LEN, (const uint8_t *)conv);
}

/* Microsoft's RSS verification suite, IPv4 with TCP: if the reference were
 * wrong (bit order, window), every comparison below would be meaningless. */
static void test_reference_hash(void **state)
{
    static const uint8_t ms_key[KEY_LEN] = {
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
        0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
        0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    };
    static const struct {
        uint32_t src, dst;
        uint16_t sport, dport;
        uint32_t hash;
    } v[] = {
        {IP4(66, 9, 149, 187), IP4(161, 142, 100, 80), 2794, 1766, 0x51ccc178},
        {IP4(199, 92, 111, 2), IP4(65, 69, 140, 83), 14230, 4739, 0xc626b0ea},
        {IP4(24, 19, 198, 95), IP4(12, 22, 207, 184), 12898, 38024, 0x5c2b394a},
        {IP4(38, 27, 205, 30), IP4(209, 142, 163, 6), 48228, 2217, 0xafc7327f},
        {IP4(153, 39, 163, 191), IP4(202, 188, 127, 2), 44251, 1303, 0x10e828a2},
    };
    struct toeplitz t;

    (void)state;
    toeplitz_init(&t, ms_key, sizeof(ms_key));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(toeplitz_wire(&t, v[i].src, v[i].dst, v[i].sport, v[i].dport), v[i].hash);
        assert_int_equal(softrss(ms_key, v[i].src, v[i].dst, v[i].sport, v[i].dport), v[i].hash);
        assert_int_equal(softrss_be(ms_key, v[i].src, v[i].dst, v[i].sport, v[i].dport), v[i].hash);
    }
}

/* ---- the key ------------------------------------------------------------- */

static void test_key_symmetric(void **state)
{
    uint8_t key[KEY_LEN], longer[52], zero[KEY_LEN] = {0};
    struct toeplitz t;
    unsigned low_bits_seen = 0;

    (void)state;
    dpdk_port_rss_key(key, sizeof(key));
    /* a port may be given a longer key (hash_key_size) than the 40 bytes
     * dpdk_port_rx_queue_of hashes with: the hash reads only the first
     * 16, but both must be the same key */
    dpdk_port_rss_key(longer, sizeof(longer));
    assert_memory_equal(key, longer, sizeof(key));
    assert_memory_not_equal(key, zero, sizeof(key));
    toeplitz_init(&t, key, sizeof(key));
    for (int i = 0; i < 20000; i++) {
        uint32_t a = rnd32(), b = rnd32(), pp = rnd32();
        uint16_t pa = (uint16_t)pp, pb = (uint16_t)(pp >> 16);
        uint32_t h = toeplitz_wire(&t, a, b, pa, pb);

        assert_int_equal(toeplitz_wire(&t, b, a, pb, pa), h);
        assert_int_equal(softrss(key, a, b, pa, pb), h);
        assert_int_equal(softrss(key, b, a, pb, pa), h);
        assert_int_equal(softrss_be(key, a, b, pa, pb), h);
        assert_int_equal(softrss_be(key, b, a, pb, pa), h);
        low_bits_seen |= 1u << (h & 7);
    }
    /* symmetric but degenerate (e.g. the same bits everywhere) would send
     * every flow to one queue */
    assert_int_equal(low_bits_seen, 0xff);
}

/* ---- the port: RETA and rx_queue_of --------------------------------------- */

static int group_setup(void **state)
{
    char args[512], err[512];
    unsigned lcores[8];
    int n, off;

    (void)state;
    /* one worker lcore (dpdk_eal_start wants one) on CPU 0, so a one-CPU
     * machine runs this too */
    off = snprintf(args, sizeof(args),
                   "--no-huge -m 256 --no-pci --no-shconf --no-telemetry --lcores=0@0,1@0 "
                   "--log-level=lib.eal:error --log-level=pmd.net.null:error");
    for (int q = 1; q <= NQ_MAX; q++)
        off += snprintf(args + off, sizeof(args) - (size_t)off, " --vdev=net_null%d", q);
    n = dpdk_eal_start(args, lcores, 8, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    eal_up = 1;
    for (unsigned q = 1; q <= NQ_MAX; q++) {
        struct dpdk_port_config pc = {.nqueues = q, .extra_txq = 1, .mtu = 1500,
                                      .mbufs_per_queue = 512};
        char name[16];

        snprintf(name, sizeof(name), "net_null%u", q);
        pc.name = name;
        if (dpdk_port_open(&pc, &ports[q], err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (unsigned q = 1; q <= NQ_MAX; q++) {
        char pool[RTE_MEMPOOL_NAMESIZE];
        uint16_t pid = ports[q].port_id;

        if (pid >= RTE_MAX_ETHPORTS)
            continue;
        dpdk_port_close(&ports[q]);
        /* the pools go with the port (make_pools' name) */
        snprintf(pool, sizeof(pool), "slotd_p%u_s0", pid);
        if (rte_mempool_lookup(pool) != NULL)
            return -1;
    }
    if (eal_up)
        dpdk_eal_stop();
    eal_up = 0;
    return 0;
}

static uint16_t reta_size_of(const struct dpdk_port *p)
{
    struct rte_eth_dev_info info;

    assert_int_equal(rte_eth_dev_info_get(p->port_id, &info), 0);
    return info.reta_size;
}

/* The table as the port holds it (what set_reta wrote). */
static void read_reta(const struct dpdk_port *p, uint16_t *reta, uint16_t size)
{
    struct rte_eth_rss_reta_entry64 conf[RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];

    assert_true(size > 0 && size <= RETA_MAX && size % RTE_ETH_RETA_GROUP_SIZE == 0);
    memset(conf, 0, sizeof(conf));
    for (unsigned i = 0; i < size / RTE_ETH_RETA_GROUP_SIZE; i++)
        conf[i].mask = ~0ull;
    assert_int_equal(rte_eth_dev_rss_reta_query(p->port_id, conf, size), 0);
    for (unsigned i = 0; i < size; i++)
        reta[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
}

/* What the NIC does with a frame of the reply direction (peer -> us): hash
 * the wire bytes, index the table with the hash's low bits. */
static unsigned nic_queue(const struct toeplitz *t, const uint16_t *reta, uint16_t size,
                          const struct net_tuple *tu)
{
    uint32_t h = toeplitz_wire(t, tu->rip, tu->lip, tu->rport, tu->lport);

    return reta[h & (uint32_t)(size - 1)];
}

static struct net_tuple swapped(const struct net_tuple *t)
{
    return (struct net_tuple){.lip = t->rip, .rip = t->lip, .lport = t->rport, .rport = t->lport};
}

static void test_port_rss_enabled(void **state)
{
    (void)state;
    /* one queue needs no spreading; more must have RSS, or every other
     * test here checks only the "return 0" branch */
    assert_int_equal(ports[1].rss, 0);
    for (unsigned q = 2; q <= NQ_MAX; q++) {
        assert_int_equal(ports[q].nqueues, q);
        assert_int_equal(ports[q].rss, 1);
    }
}

static void test_reta_written(void **state)
{
    uint16_t reta[RETA_MAX];

    (void)state;
    for (unsigned q = 2; q <= NQ_MAX; q++) {
        uint16_t size = reta_size_of(&ports[q]);

        /* the NIC indexes with the hash's low bits: a power of two */
        assert_true(size >= 64 && (size & (size - 1)) == 0);
        read_reta(&ports[q], reta, size);
        for (unsigned i = 0; i < size; i++)
            assert_int_equal(reta[i], i % q);
    }
}

static void test_rx_queue_of(void **state)
{
    uint8_t key[KEY_LEN];
    uint16_t reta[RETA_MAX];
    struct toeplitz t;

    (void)state;
    dpdk_port_rss_key(key, sizeof(key));
    toeplitz_init(&t, key, sizeof(key));
    for (unsigned q = 1; q <= NQ_MAX; q++) {
        const struct dpdk_port *p = &ports[q];
        uint16_t size = reta_size_of(p);
        unsigned seen = 0;

        if (p->rss)
            read_reta(p, reta, size);
        for (int i = 0; i < 5000; i++) {
            uint32_t ports16 = rnd32();
            struct net_tuple tu = {.lip = rnd32(), .rip = rnd32(),
                                   .lport = (uint16_t)ports16, .rport = (uint16_t)(ports16 >> 16)};
            struct net_tuple sw = swapped(&tu);
            unsigned want = p->rss ? nic_queue(&t, reta, size, &tu) : 0;
            unsigned got = dpdk_port_rx_queue_of(p, &tu);

            assert_int_equal(got, want);
            assert_int_equal(dpdk_port_rx_queue_of(p, &sw), got);
            seen |= 1u << got;
        }
        /* every queue receives some flows */
        assert_int_equal(seen, (1u << q) - 1);
    }
}

static void test_rx_queue_of_without_rss(void **state)
{
    struct dpdk_port p = ports[NQ_MAX], unknown = ports[NQ_MAX];

    (void)state;
    /* a port that refused RSS spreads by its own rule: the contract is
     * queue 0, and any source port will do for any core */
    p.rss = 0;
    /* RSS on but its table unreadable: no port can be preferred either */
    unknown.reta_size = 0;
    for (int i = 0; i < 1000; i++) {
        struct net_tuple tu = {.lip = rnd32(), .rip = rnd32(), .lport = (uint16_t)rnd32(),
                               .rport = 6379};
        assert_int_equal(dpdk_port_rx_queue_of(&p, &tu), 0);
        assert_int_equal(dpdk_port_rx_queue_of(&unknown, &tu), DPDK_PORT_QUEUE_UNKNOWN);
        for (unsigned q = 0; q < NQ_MAX; q++) {
            assert_true(dpdk_port_replies_to(&p, &tu, q));
            assert_true(dpdk_port_replies_to(&unknown, &tu, q));
            /* with the table known: exactly the queue the hash picks */
            assert_int_equal(dpdk_port_replies_to(&ports[NQ_MAX], &tu, q),
                             dpdk_port_rx_queue_of(&ports[NQ_MAX], &tu) == q);
        }
    }
}

/* Longest run of consecutive ports (cyclic over [lo, 65535]) whose replies
 * do not come to queue want. */
static unsigned longest_miss(const uint8_t *queue_of, unsigned lo, unsigned want)
{
    unsigned span = 65536 - lo, run = 0, best = 0, first = span;

    for (unsigned i = 0; i < span; i++) {
        if (queue_of[lo + i] == want) {
            if (first == span)
                first = i;
            run = 0;
        } else if (++run > best) {
            best = run;
        }
    }
    if (first == span)
        return span;
    /* the run at the end continues at the start */
    return run + first > best ? run + first : best;
}

/* The data cores' hook_pick_port fails the connect (-EADDRINUSE from
 * net_tcp_connect) if no port of the dynamic range sends replies to its
 * queue, so every queue must own some port of it for every tuple. (It
 * scanned 64 ports at first: 3 queues meet runs of 46 misses, 5 queues 74.)
 * The hash is linear: the tuple without the local port moves only the
 * reply's table index, by XOR with a constant, so one tuple for each of the
 * reta_size constants covers every tuple there is. slotd-load scans a range
 * that holds this one (10000..65535), so it finds a port whenever this does. */
static void test_pick_port_scan_bound(void **state)
{
    static uint8_t queue_of[65536];
    uint8_t key[KEY_LEN];
    struct toeplitz t;

    (void)state;
    dpdk_port_rss_key(key, sizeof(key));
    toeplitz_init(&t, key, sizeof(key));
    for (unsigned q = 2; q <= NQ_MAX; q++) {
        const struct dpdk_port *p = &ports[q];
        uint32_t mask = reta_size_of(p) - 1u;

        for (uint32_t c = 0; c <= mask; c++) {
            /* the e2e set-up (node 198.18.0.2, peer .1:6379) first */
            struct net_tuple tu = {.lip = IP4(198, 18, 0, 2), .rip = IP4(198, 18, 0, 1),
                                   .rport = 6379};

            while ((toeplitz_wire(&t, tu.rip, tu.lip, tu.rport, 0) & mask) != c)
                tu = (struct net_tuple){.lip = rnd32(), .rip = rnd32(), .rport = (uint16_t)rnd32()};
            for (unsigned port = PICK_LO; port < 65536; port++) {
                tu.lport = (uint16_t)port;
                queue_of[port] = (uint8_t)dpdk_port_rx_queue_of(p, &tu);
                assert_true(queue_of[port] < q);
            }
            for (unsigned want = 0; want < q; want++)
                assert_true(longest_miss(queue_of, PICK_LO, want) < 65536 - PICK_LO);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_hash),
        cmocka_unit_test(test_key_symmetric),
        cmocka_unit_test(test_port_rss_enabled),
        cmocka_unit_test(test_reta_written),
        cmocka_unit_test(test_rx_queue_of),
        cmocka_unit_test(test_rx_queue_of_without_rss),
        cmocka_unit_test(test_pick_port_scan_bound),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
