/* Unit tests for the stack's link layer and ARP (dataplane/net/eth.c,
 * dataplane/net/arp.c), driven through the fake port (net_fakeport.c).
 *
 * Each test builds its own stack and pool and leaves every mbuf back in the
 * pool and every byte freed (fp_free asserts both). Boundary cases first:
 * frames one byte short, the table's fill limit, expiry at the exact
 * deadline. The last test checks that every eth/arp/port drop counter was
 * raised by some test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "../../dataplane/net/net_priv.h"
#include "net_fakeport.h"

#define ARP_FRAME_LEN (14 + 28)

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct rte_mbuf *arp_frame(struct fp *f, uint16_t op, const uint8_t *sha, uint32_t sip,
                                  uint32_t tip, const uint8_t *eth_dst)
{
    uint8_t b[ARP_FRAME_LEN];
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)b;
    struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

    memset(b, 0, sizeof(b));
    memcpy(eh->dst_addr.addr_bytes, eth_dst, 6);
    memcpy(eh->src_addr.addr_bytes, sha, 6);
    eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ah->arp_hlen = 6;
    ah->arp_plen = 4;
    ah->arp_opcode = rte_cpu_to_be_16(op);
    memcpy(ah->arp_data.arp_sha.addr_bytes, sha, 6);
    ah->arp_data.arp_sip = rte_cpu_to_be_32(sip);
    if (op == RTE_ARP_OP_REPLY)
        memcpy(ah->arp_data.arp_tha.addr_bytes, fp_stack_mac, 6);
    ah->arp_data.arp_tip = rte_cpu_to_be_32(tip);
    return fp_raw_frame(f, b, sizeof(b));
}

/* Pop a frame the stack sent, which must be ARP with opcode op; returns
 * the target IP (host order) and checks the sender fields. */
static uint32_t pop_arp(struct fp *f, uint16_t op, uint8_t *eth_dst)
{
    struct rte_mbuf *m = fp_pop_tx(f);
    const struct rte_ether_hdr *eh;
    const struct rte_arp_hdr *ah;
    uint32_t tip;

    assert_non_null(m);
    assert_true(m->pkt_len >= ARP_FRAME_LEN);
    eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    assert_int_equal(rte_be_to_cpu_16(eh->ether_type), RTE_ETHER_TYPE_ARP);
    assert_memory_equal(eh->src_addr.addr_bytes, fp_stack_mac, 6);
    if (eth_dst)
        memcpy(eth_dst, eh->dst_addr.addr_bytes, 6);
    ah = (const struct rte_arp_hdr *)(eh + 1);
    assert_int_equal(rte_be_to_cpu_16(ah->arp_opcode), op);
    assert_int_equal(rte_be_to_cpu_16(ah->arp_hardware), RTE_ARP_HRD_ETHER);
    assert_int_equal(ah->arp_hlen, 6);
    assert_int_equal(ah->arp_plen, 4);
    assert_memory_equal(ah->arp_data.arp_sha.addr_bytes, fp_stack_mac, 6);
    assert_int_equal(rte_be_to_cpu_32(ah->arp_data.arp_sip), FP_STACK_IP);
    tip = rte_be_to_cpu_32(ah->arp_data.arp_tip);
    rte_pktmbuf_free(m);
    return tip;
}

static void expect_exception(struct fp *f, uint16_t ethertype)
{
    struct rte_mbuf *m = fp_pop_exc(f);

    assert_non_null(m);
    assert_int_equal(rte_be_to_cpu_16(rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type),
                     ethertype);
    rte_pktmbuf_free(m);
}

/* ---- Ethernet ------------------------------------------------------------ */

static void test_eth_short_frames(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    uint8_t b[14] = { 0 };

    (void)state;
    fp_input1(f, fp_raw_frame(f, b, 13));
    fp_input1(f, fp_raw_frame(f, b, 0));
    assert_int_equal(net_counters(f->s)->drop.eth_short, 2);
    /* exactly 14 bytes, ours, unknown type: the kernel's */
    memcpy(b, fp_stack_mac, 6);
    b[12] = 0x88;
    b[13] = 0xb5;                   /* IEEE 802 local experimental ethertype */
    fp_input1(f, fp_raw_frame(f, b, 14));
    assert_int_equal(net_counters(f->s)->drop.eth_short, 2);
    expect_exception(f, 0x88b5);
    assert_int_equal(net_counters(f->s)->rx_frames, 3);
    fp_free(f);
}

static void test_eth_other_mac_and_multicast(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    uint8_t b[60] = { 0 };
    static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
    static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };

    (void)state;
    memcpy(b, other, 6);
    b[12] = 0x08;
    fp_input1(f, fp_raw_frame(f, b, sizeof(b)));
    assert_int_equal(net_counters(f->s)->drop.eth_other_mac, 1);
    assert_int_equal(fp_exc_pending(f), 0);
    memcpy(b, mcast, 6);
    fp_input1(f, fp_raw_frame(f, b, sizeof(b)));
    assert_int_equal(fp_exc_pending(f), 1);
    expect_exception(f, 0x0800);
    fp_free(f);
}

static void test_eth_ipv6_vlan_to_kernel(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    uint8_t b[60] = { 0 };

    (void)state;
    memcpy(b, fp_stack_mac, 6);
    b[12] = 0x86;
    b[13] = 0xdd;
    fp_input1(f, fp_raw_frame(f, b, sizeof(b)));
    b[12] = 0x81;
    b[13] = 0x00;
    fp_input1(f, fp_raw_frame(f, b, sizeof(b)));
    expect_exception(f, RTE_ETHER_TYPE_IPV6);
    expect_exception(f, RTE_ETHER_TYPE_VLAN);
    assert_int_equal(net_counters(f->s)->exception_frames, 2);
    fp_free(f);
}

static void test_exception_hook_refuses(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    uint8_t b[60] = { 0 };
    struct rte_mbuf *m[3];

    (void)state;
    memcpy(b, fp_stack_mac, 6);
    b[12] = 0x86;
    b[13] = 0xdd;
    f->exc_take = 1;                /* the TAP takes one of three */
    for (int i = 0; i < 3; i++)
        m[i] = fp_raw_frame(f, b, sizeof(b));
    fp_input(f, m, 3);
    assert_int_equal(fp_exc_pending(f), 1);
    assert_int_equal(net_counters(f->s)->drop.exception_full, 2);
    fp_free(f);
}

/* ---- ARP responder -------------------------------------------------------- */

static void test_arp_request_reply(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;
    const struct rte_arp_hdr *ah;

    (void)state;
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast));
    m = fp_pop_tx(f);
    assert_non_null(m);
    ah = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, 14);
    assert_int_equal(rte_be_to_cpu_16(ah->arp_opcode), RTE_ARP_OP_REPLY);
    assert_memory_equal(ah->arp_data.arp_tha.addr_bytes, fp_peer_mac, 6);
    assert_int_equal(rte_be_to_cpu_32(ah->arp_data.arp_tip), FP_PEER_IP);
    assert_memory_equal(ah->arp_data.arp_sha.addr_bytes, fp_stack_mac, 6);
    assert_memory_equal(rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr.addr_bytes,
                        fp_peer_mac, 6);
    rte_pktmbuf_free(m);
    /* the kernel sees every ARP frame too */
    expect_exception(f, RTE_ETHER_TYPE_ARP);
    assert_int_equal(net_counters(f->s)->arp_replies_sent, 1);
    /* ... and the requester was learned: no request needed to reach it */
    assert_non_null(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP)));
    /* a request for another address is not answered, still copied */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP + 5, bcast));
    assert_int_equal(fp_tx_pending(f), 0);
    expect_exception(f, RTE_ETHER_TYPE_ARP);
    fp_free(f);
}

static void test_arp_malformed(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;

    (void)state;
    m = arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast);
    rte_pktmbuf_trim(m, 1);         /* one byte short of the ARP body */
    fp_input1(f, m);
    assert_int_equal(net_counters(f->s)->drop.arp_short, 1);
    m = arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast);
    rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14)->arp_hardware = rte_cpu_to_be_16(6);
    fp_input1(f, m);
    m = arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast);
    rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14)->arp_plen = 16;
    fp_input1(f, m);
    assert_int_equal(net_counters(f->s)->drop.arp_bad_format, 2);
    assert_int_equal(fp_tx_pending(f), 0);
    assert_int_equal(fp_exc_pending(f), 0);
    /* sender 0.0.0.0 (an RFC 5227 probe) is answered but not learned */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, 0, FP_STACK_IP, bcast));
    assert_null(arp_lookup(f->s, 0));
    fp_free(f);
}

static void test_arp_tx_refused(void **state)
{
    struct fp *f = fp_new(NULL, 0);

    (void)state;
    f->tx_take = 0;
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast));
    assert_int_equal(net_counters(f->s)->drop.tx_full, 1);
    assert_int_equal(fp_tx_pending(f), 0);
    fp_free(f);
}

/* ---- resolution ------------------------------------------------------------ */

/* An active open to ip makes the stack resolve ip's next hop. */
static struct tcp_conn *connect_to(struct fp *f, uint32_t ip)
{
    struct tcp_conn *c = NULL;

    assert_int_equal(net_tcp_connect(f->s, ip, 80, NULL, &c), 0);
    assert_non_null(c);
    fp_flush(f);
    return c;
}

static void test_arp_resolution_with_queued_packet(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct fp_seg g;
    uint8_t dst[6];

    (void)state;
    connect_to(f, FP_PEER_IP);
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, dst), FP_PEER_IP);
    assert_memory_equal(dst, bcast, 6);
    assert_int_equal(fp_tx_pending(f), 0);      /* the SYN waits */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REPLY, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, fp_stack_mac));
    expect_exception(f, RTE_ETHER_TYPE_ARP);
    assert_int_equal(fp_pop_seg(f, &g), 1);     /* the queued SYN leaves */
    assert_int_equal(g.flags, 0x02);
    assert_memory_equal(g.dst_mac, fp_peer_mac, 6);
    assert_int_equal(g.dip, FP_PEER_IP);
    fp_free(f);
}

static void test_arp_offlink_uses_gateway(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct tcp_conn *c = NULL;

    (void)state;
    connect_to(f, 0x08080808u);
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, NULL), FP_GW_IP);
    fp_free(f);
    /* without a gateway an off-link address is unreachable */
    {
        struct net_config cfg;

        fp_config(&cfg);
        cfg.gateway = 0;
        f = fp_new(&cfg, 0);
        assert_int_equal(net_tcp_connect(f->s, 0x08080808u, 80, NULL, &c), -ENETUNREACH);
        assert_int_equal(net_tcp_connect(f->s, FP_STACK_IP, 80, NULL, &c), -ENETUNREACH);
        fp_free(f);
    }
}

static void test_arp_queue_replaced(void **state)
{
    struct fp *f = fp_new(NULL, 0);

    (void)state;
    connect_to(f, FP_PEER_IP);
    connect_to(f, FP_PEER_IP);              /* second SYN, same next hop */
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, NULL), FP_PEER_IP);
    assert_int_equal(fp_tx_pending(f), 0);  /* no second request while pending */
    assert_int_equal(net_counters(f->s)->drop.arp_queue_replaced, 1);
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REPLY, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, fp_stack_mac));
    assert_int_equal(fp_tx_pending(f), 1);  /* only the newer SYN */
    fp_free(f);
}

static void test_arp_unresolved(void **state)
{
    struct net_config cfg;
    struct fp *f;

    (void)state;
    fp_config(&cfg);
    cfg.arp_retries = 3;
    cfg.arp_retry_ms = 1000;
    cfg.rto_init_ms = 1000;                 /* SYN again at +1 s and +3 s */
    f = fp_new(&cfg, 0);
    connect_to(f, FP_PEER_IP);
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, NULL), FP_PEER_IP);
    fp_advance(f, 999999);                  /* one microsecond early: nothing */
    assert_int_equal(fp_tx_pending(f), 0);
    fp_advance(f, 1);                       /* second request; the SYN retry replaces the first */
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, NULL), FP_PEER_IP);
    assert_int_equal(fp_tx_pending(f), 0);
    assert_int_equal(net_counters(f->s)->drop.arp_queue_replaced, 1);
    fp_advance(f, 1000000);                 /* third and last request */
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, NULL), FP_PEER_IP);
    assert_int_equal(net_counters(f->s)->drop.arp_unresolved, 0);
    fp_advance(f, 1000000);                 /* no answer to three: the packet goes */
    assert_int_equal(fp_tx_pending(f), 0);
    assert_int_equal(net_counters(f->s)->drop.arp_unresolved, 1);
    assert_int_equal(net_counters(f->s)->drop.arp_queue_replaced, 2);
    assert_int_equal(net_counters(f->s)->arp_requests_sent, 3);
    assert_int_equal(f->s->arp.used, 0);
    fp_free(f);
}

static void test_arp_cache_expiry(void **state)
{
    struct net_config cfg;
    struct fp *f;

    (void)state;
    fp_config(&cfg);
    cfg.arp_timeout_ms = 5000;
    f = fp_new(&cfg, 0);
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast));
    fp_drain(f);
    assert_non_null(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP)));
    f->now += 4999999;
    fp_flush(f);
    assert_non_null(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP)));
    f->now += 1;                            /* exactly at expiry: gone */
    fp_flush(f);
    assert_null(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP)));
    /* sending now asks again */
    connect_to(f, FP_PEER_IP);
    assert_int_equal(pop_arp(f, RTE_ARP_OP_REQUEST, NULL), FP_PEER_IP);
    /* the timer scan frees expired entries */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REPLY, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, fp_stack_mac));
    fp_drain(f);
    assert_int_equal(f->s->arp.used, 1);
    /* in 1 s steps: the SYN's retries (+1 s, +3 s) must not land on +5 s */
    for (int i = 0; i < 5; i++)
        fp_advance(f, 1000000);
    fp_drain(f);
    assert_int_equal(f->s->arp.used, 0);
    fp_free(f);
}

static void test_arp_table_full(void **state)
{
    struct net_config cfg;
    struct fp *f;
    unsigned limit;

    (void)state;
    fp_config(&cfg);
    cfg.arp_entries = 16;                   /* 16 slots, 12 usable (3/4) */
    f = fp_new(&cfg, 0);
    limit = 16 - 16 / 4;
    for (unsigned i = 0; i < limit; i++)
        connect_to(f, FP_PEER_IP + 10 + i);
    assert_int_equal(f->s->arp.used, limit);
    assert_int_equal(net_counters(f->s)->drop.arp_table_full, 0);
    connect_to(f, FP_PEER_IP + 10 + limit);     /* all pending: no room */
    assert_int_equal(net_counters(f->s)->drop.arp_table_full, 1);
    /* a resolved entry can be evicted for a new one */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REPLY, fp_peer_mac, FP_PEER_IP + 10, FP_STACK_IP, fp_stack_mac));
    fp_drain(f);
    connect_to(f, FP_PEER_IP + 100);
    assert_int_equal(net_counters(f->s)->drop.arp_table_full, 1);
    assert_null(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP + 10)));
    fp_free(f);
}

static void test_arp_learn_only_when_for_us(void **state)
{
    struct fp *f = fp_new(NULL, 0);

    (void)state;
    /* a gratuitous broadcast about a stranger is not cached (RFC 826) */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_PEER_IP, bcast));
    assert_null(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP)));
    /* but once known, any ARP from it updates the entry */
    fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, fp_peer_mac, FP_PEER_IP, FP_STACK_IP, bcast));
    {
        static const uint8_t moved[6] = { 0x02, 0, 0, 0, 0, 0x77 };

        fp_input1(f, arp_frame(f, RTE_ARP_OP_REQUEST, moved, FP_PEER_IP, FP_PEER_IP, bcast));
        assert_memory_equal(arp_lookup(f->s, rte_cpu_to_be_32(FP_PEER_IP))->addr_bytes, moved, 6);
    }
    fp_free(f);
}

static void test_drop_counters_covered(void **state)
{
    /* every counter of this file's modules, found by name, so a new one
     * cannot be forgotten */
    static const char *const prefixes[] = { "eth_", "arp_" };
    static const char *const exact[] = { "tx_full", "exception_full" };

    (void)state;
    for (unsigned i = 0; i < NET_DROP__COUNT; i++) {
        const char *n = net_drop_name(i);
        int mine = 0;

        for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
            mine |= strncmp(n, prefixes[k], strlen(prefixes[k])) == 0;
        for (size_t k = 0; k < sizeof(exact) / sizeof(exact[0]); k++)
            mine |= strcmp(n, exact[k]) == 0;
        if (mine && fp_drops_seen[i] == 0)
            fail_msg("drop counter %s never incremented", n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth_short_frames),
        cmocka_unit_test(test_eth_other_mac_and_multicast),
        cmocka_unit_test(test_eth_ipv6_vlan_to_kernel),
        cmocka_unit_test(test_exception_hook_refuses),
        cmocka_unit_test(test_arp_request_reply),
        cmocka_unit_test(test_arp_malformed),
        cmocka_unit_test(test_arp_tx_refused),
        cmocka_unit_test(test_arp_resolution_with_queued_packet),
        cmocka_unit_test(test_arp_offlink_uses_gateway),
        cmocka_unit_test(test_arp_queue_replaced),
        cmocka_unit_test(test_arp_unresolved),
        cmocka_unit_test(test_arp_cache_expiry),
        cmocka_unit_test(test_arp_table_full),
        cmocka_unit_test(test_arp_learn_only_when_for_us),
        cmocka_unit_test(test_drop_counters_covered),
    };

    return cmocka_run_group_tests(tests, fp_eal_init, fp_eal_fini);
}
