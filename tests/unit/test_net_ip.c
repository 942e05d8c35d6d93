/* Unit tests for IPv4 input/output and ICMP echo (dataplane/net/ip.c,
 * dataplane/net/icmp.c), driven through the fake port (net_fakeport.c).
 *
 * Each test builds its own stack and pool and leaves every mbuf back in the
 * pool and every byte freed. Boundary cases first: headers one byte short,
 * total length one past the frame, the first and a middle fragment. The last
 * test checks that every ip/icmp drop counter was raised by some test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "../../dataplane/net/net_priv.h"
#include "net_fakeport.h"

static struct rte_ipv4_hdr *iph(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
}

static void recsum(struct rte_mbuf *m)
{
    struct rte_ipv4_hdr *ip = iph(m);

    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* A SYN to the listening port: reaching TCP shows up as a SYN-ACK. */
static struct rte_mbuf *syn(struct fp *f)
{
    struct fp_seg g;

    fp_seg_init(&g);
    g.seq = 100;
    g.flags = TCP_F_SYN;
    g.mss = 1460;
    return fp_tcp_frame(f, &g);
}

static const struct net_counters *cnt(struct fp *f)
{
    return net_counters(f->s);
}

/* ---- header checks ---------------------------------------------------------- */

static void test_ip_short_and_version(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m = syn(f);

    (void)state;
    rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - (14 + 19)));    /* 19 bytes of IP */
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_short, 1);
    m = syn(f);
    iph(m)->version_ihl = 0x65;
    recsum(m);
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_version, 1);
    assert_int_equal(fp_tx_pending(f), 0);
    fp_free(f);
}

static void test_ip_bad_header_length(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;

    (void)state;
    m = syn(f);
    iph(m)->version_ihl = 0x44;                     /* 16 bytes: below the minimum */
    fp_input1(f, m);
    m = syn(f);
    iph(m)->version_ihl = 0x4f;                     /* 60 bytes: beyond the packet */
    rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - (14 + 40)));
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_hlen, 2);
    fp_free(f);
}

/* A header with options (IHL 6: four NOPs, RFC 791 3.1) is not the
 * 20-byte case: its length is read and checked, and the segment behind it
 * still reaches TCP. */
static void test_ip_header_with_options(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m = syn(f);
    uint8_t buf[256];
    uint32_t len = m->pkt_len;
    struct rte_ipv4_hdr *ip;

    (void)state;
    assert_true(len + 4 <= sizeof(buf));
    memcpy(buf, rte_pktmbuf_mtod(m, const uint8_t *), 14 + 20);
    memset(buf + 14 + 20, 1, 4);
    memcpy(buf + 14 + 24, rte_pktmbuf_mtod_offset(m, const uint8_t *, 14 + 20), len - 34);
    rte_pktmbuf_free(m);
    m = fp_raw_frame(f, buf, len + 4);
    ip = iph(m);
    ip->version_ihl = 0x46;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ip->total_length) + 4));
    ip->hdr_checksum = 0;
    ip->hdr_checksum = (uint16_t)~rte_raw_cksum(ip, 24);
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_hlen, 0);
    assert_int_equal(cnt(f)->drop.ip_bad_csum, 0);
    assert_int_equal(cnt(f)->drop.tcp_bad_csum, 0);
    assert_int_equal(fp_tx_pending(f), 1);             /* the SYN-ACK */
    fp_free(f);
}

static void test_ip_bad_total_length(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;
    uint16_t tl;

    (void)state;
    m = syn(f);
    tl = rte_be_to_cpu_16(iph(m)->total_length);
    iph(m)->total_length = rte_cpu_to_be_16((uint16_t)(tl + 1));  /* one past the frame */
    recsum(m);
    fp_input1(f, m);
    m = syn(f);
    iph(m)->total_length = rte_cpu_to_be_16(19);                  /* below the header */
    recsum(m);
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_len, 2);
    assert_int_equal(fp_tx_pending(f), 0);
    fp_free(f);
}

static void test_ip_padding_trimmed(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m = syn(f);
    struct fp_seg g;

    (void)state;
    /* Ethernet minimum-size padding after the datagram */
    memset(rte_pktmbuf_append(m, 6), 0xee, 6);
    fp_input1(f, m);
    assert_int_equal(fp_pop_seg(f, &g), 1);
    assert_int_equal(g.flags, TCP_F_SYN | TCP_F_ACK);
    assert_int_equal(g.ack, 101);
    fp_free(f);
}

static void test_ip_bad_checksum(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;

    (void)state;
    m = syn(f);
    iph(m)->hdr_checksum ^= 0x0100;
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_csum, 1);
    assert_int_equal(fp_tx_pending(f), 0);
    fp_free(f);
}

static void test_ip_rx_offload_flags(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct rte_mbuf *m;
    struct fp_seg g;

    (void)state;
    fp_config(&cfg);
    cfg.rx_csum_offload = 1;
    f = fp_new(&cfg, 0);
    /* NIC says bad: dropped even though the checksum is right */
    m = syn(f);
    m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_csum, 1);
    /* NIC says good: not checked again (a wrong field passes) */
    m = syn(f);
    iph(m)->hdr_checksum ^= 0x0100;
    m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_csum, 1);
    assert_int_equal(fp_pop_seg(f, &g), 1);
    /* NIC does not know: checked in software */
    m = syn(f);
    iph(m)->hdr_checksum ^= 0x0100;
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_bad_csum, 2);
    fp_free(f);
}

static void test_ip_fragments_dropped(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;

    (void)state;
    m = syn(f);
    iph(m)->fragment_offset = rte_cpu_to_be_16(0x2000);         /* first, MF */
    recsum(m);
    fp_input1(f, m);
    m = syn(f);
    iph(m)->fragment_offset = rte_cpu_to_be_16(0x0001);         /* last, offset 8 */
    recsum(m);
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.ip_frag, 2);
    assert_int_equal(fp_tx_pending(f), 0);
    /* DF alone is not a fragment */
    fp_input1(f, syn(f));
    assert_int_equal(fp_tx_pending(f), 1);
    fp_free(f);
}

static void test_ip_destination(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    uint8_t udp[8] = { 0, 68, 0, 67, 0, 8, 0, 0 };

    (void)state;
    fp_input1(f, fp_ip_frame(f, IPPROTO_UDP, 0, FP_STACK_IP + 1, udp, sizeof(udp)));
    assert_int_equal(cnt(f)->drop.ip_other_dst, 1);
    /* limited and subnet broadcast, multicast: the kernel's */
    fp_input1(f, fp_ip_frame(f, IPPROTO_UDP, 0, 0xffffffffu, udp, sizeof(udp)));
    fp_input1(f, fp_ip_frame(f, IPPROTO_UDP, 0, (FP_STACK_IP & FP_MASK) | ~FP_MASK, udp, sizeof(udp)));
    fp_input1(f, fp_ip_frame(f, IPPROTO_UDP, 0, 0xe00000fbu, udp, sizeof(udp)));
    assert_int_equal(fp_exc_pending(f), 3);
    /* UDP and other protocols for us: the kernel's too */
    fp_input1(f, fp_ip_frame(f, IPPROTO_UDP, 0, 0, udp, sizeof(udp)));
    fp_input1(f, fp_ip_frame(f, 47, 0, 0, udp, sizeof(udp)));
    assert_int_equal(fp_exc_pending(f), 5);
    assert_int_equal(cnt(f)->drop.ip_other_dst, 1);
    fp_free(f);
}

static void test_ip_martian_sources(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    const uint32_t bad[] = { 0x7f000001u, 0xe0000001u, 0xffffffffu, FP_STACK_IP,
                             (FP_STACK_IP & FP_MASK) | ~FP_MASK, 0x00000001u };
    uint8_t udp[8] = { 0 };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        fp_input1(f, fp_ip_frame(f, IPPROTO_UDP, bad[i], 0, udp, sizeof(udp)));
    assert_int_equal(cnt(f)->drop.ip_bad_src, sizeof(bad) / sizeof(bad[0]));
    assert_int_equal(fp_exc_pending(f), 0);
    fp_free(f);
}

static void test_ip_output_fields_and_tx_offload(void **state)
{
    struct net_config cfg;
    struct fp *f;
    struct rte_mbuf *m;
    struct rte_ipv4_hdr *ip;
    struct rte_tcp_hdr *th;

    (void)state;
    f = fp_new(NULL, 0);
    fp_input1(f, syn(f));
    {
        struct fp_seg g;

        assert_int_equal(fp_pop_seg(f, &g), 1);      /* checks both checksums */
        assert_int_equal(g.ttl, 64);
        assert_int_equal(g.frag, 0x4000);            /* DF */
        assert_int_equal(g.sip, FP_STACK_IP);
        assert_int_equal(g.dip, FP_PEER_IP);
        assert_memory_equal(g.dst_mac, fp_peer_mac, 6);
    }
    fp_free(f);

    fp_config(&cfg);
    cfg.tx_csum_offload = 1;
    f = fp_new(&cfg, 0);
    fp_input1(f, syn(f));
    m = fp_pop_tx(f);
    assert_non_null(m);
    assert_true(m->ol_flags & RTE_MBUF_F_TX_IPV4);
    assert_true(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
    assert_true(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM);
    assert_int_equal(m->l2_len, 14);
    assert_int_equal(m->l3_len, 20);
    ip = iph(m);
    th = (struct rte_tcp_hdr *)(ip + 1);
    assert_int_equal(ip->hdr_checksum, 0);
    /* the NIC expects the pseudo-header sum in the TCP field */
    assert_int_equal(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
    rte_pktmbuf_free(m);
    fp_free(f);
}

/* ---- ICMP --------------------------------------------------------------------- */

static struct rte_mbuf *echo(struct fp *f, uint8_t type, uint32_t paylen)
{
    uint8_t b[1500];
    struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)b;

    memset(b, 0, sizeof(b));
    ic->icmp_type = type;
    ic->icmp_ident = rte_cpu_to_be_16(0x1234);
    ic->icmp_seq_nb = rte_cpu_to_be_16(7);
    for (uint32_t i = 0; i < paylen; i++)
        b[8 + i] = (uint8_t)(i * 7);
    ic->icmp_cksum = (uint16_t)~rte_raw_cksum(b, 8 + paylen);
    return fp_ip_frame(f, IPPROTO_ICMP, 0, 0, b, 8 + paylen);
}

/* Beyond the MTU nothing is answered: the reply would not fit either. */
static void test_ip_longer_than_mtu(void **state)
{
    struct net_config cfg;
    struct fp *f;

    (void)state;
    fp_config(&cfg);
    cfg.mtu = 1000;
    f = fp_new(&cfg, 0);
    fp_input1(f, echo(f, RTE_IP_ICMP_ECHO_REQUEST, 1000 - 28));
    assert_int_equal(fp_tx_pending(f), 1);
    fp_drain(f);
    fp_input1(f, echo(f, RTE_IP_ICMP_ECHO_REQUEST, 1000 - 28 + 1));
    assert_int_equal(fp_tx_pending(f), 0);
    assert_int_equal(cnt(f)->drop.ip_too_big, 1);
    assert_int_equal(cnt(f)->icmp_echo_replies, 1);
    fp_free(f);
}

static void test_icmp_echo_reply(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;
    struct rte_ipv4_hdr *ip;
    struct rte_icmp_hdr *ic;
    const uint8_t *pl;

    (void)state;
    fp_input1(f, echo(f, RTE_IP_ICMP_ECHO_REQUEST, 56));
    m = fp_pop_tx(f);
    assert_non_null(m);
    assert_memory_equal(rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr.addr_bytes, fp_peer_mac, 6);
    assert_memory_equal(rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr.addr_bytes, fp_stack_mac, 6);
    ip = iph(m);
    assert_int_equal(rte_be_to_cpu_32(ip->src_addr), FP_STACK_IP);
    assert_int_equal(rte_be_to_cpu_32(ip->dst_addr), FP_PEER_IP);
    assert_int_equal(rte_raw_cksum(ip, 20), 0xffff);
    ic = (struct rte_icmp_hdr *)(ip + 1);
    assert_int_equal(ic->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
    assert_int_equal(rte_be_to_cpu_16(ic->icmp_ident), 0x1234);
    assert_int_equal(rte_be_to_cpu_16(ic->icmp_seq_nb), 7);
    assert_int_equal(rte_raw_cksum(ic, 8 + 56), 0xffff);
    pl = (const uint8_t *)(ic + 1);
    for (uint32_t i = 0; i < 56; i++)
        assert_int_equal(pl[i], (uint8_t)(i * 7));
    assert_int_equal(m->pkt_len, 14 + 20 + 8 + 56);
    rte_pktmbuf_free(m);
    assert_int_equal(cnt(f)->icmp_echo_replies, 1);
    /* odd payload length, empty payload */
    fp_input1(f, echo(f, RTE_IP_ICMP_ECHO_REQUEST, 1));
    fp_input1(f, echo(f, RTE_IP_ICMP_ECHO_REQUEST, 0));
    assert_int_equal(fp_tx_pending(f), 2);
    for (int i = 0; i < 2; i++) {
        m = fp_pop_tx(f);
        ic = (struct rte_icmp_hdr *)(iph(m) + 1);
        assert_int_equal(rte_raw_cksum(ic, m->pkt_len - 34), 0xffff);
        rte_pktmbuf_free(m);
    }
    fp_free(f);
}

static void test_icmp_drops_and_others(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m;
    uint8_t b[7] = { 8, 0 };

    (void)state;
    fp_input1(f, fp_ip_frame(f, IPPROTO_ICMP, 0, 0, b, 7));     /* one byte short */
    assert_int_equal(cnt(f)->drop.icmp_short, 1);
    m = echo(f, RTE_IP_ICMP_ECHO_REQUEST, 10);
    rte_pktmbuf_mtod_offset(m, uint8_t *, 34 + 9)[0] ^= 0x40;   /* payload bit flip */
    fp_input1(f, m);
    assert_int_equal(cnt(f)->drop.icmp_bad_csum, 1);
    assert_int_equal(fp_tx_pending(f), 0);
    /* destination unreachable and echo replies belong to the kernel */
    fp_input1(f, echo(f, 3, 28));
    fp_input1(f, echo(f, RTE_IP_ICMP_ECHO_REPLY, 8));
    assert_int_equal(fp_exc_pending(f), 2);
    assert_int_equal(fp_tx_pending(f), 0);
    fp_free(f);
}

static void test_icmp_burst_larger_than_tx_array(void **state)
{
    struct fp *f = fp_new(NULL, 0);
    struct rte_mbuf *m[100];

    (void)state;
    /* 100 requests in one burst: the 64-frame tx array drains mid-burst */
    for (int i = 0; i < 100; i++)
        m[i] = echo(f, RTE_IP_ICMP_ECHO_REQUEST, 16);
    net_input_burst(f->s, m, 100, f->now);
    assert_true(fp_tx_pending(f) >= 64);
    net_flush(f->s);
    assert_int_equal(fp_tx_pending(f), 100);
    assert_int_equal(cnt(f)->icmp_echo_replies, 100);
    assert_int_equal(cnt(f)->rx_frames, 100);
    assert_int_equal(cnt(f)->tx_frames, 100);
    fp_free(f);
}

/* ---- checksum arithmetic ----------------------------------------------------- */

/* The 64-bit sum against DPDK's 16-bit reference: every length up to a few
 * words past the unrolled block, every start alignment, odd tails, a sum
 * that is all ones (0xffff, never 0 unless the data is all zero). */
static void test_cksum_raw_lengths(void **state)
{
    uint8_t b[304];
    uint32_t x = 12345;

    (void)state;
    for (size_t i = 0; i < sizeof(b); i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    for (uint32_t off = 0; off < 8; off++)
        for (uint32_t len = 0; len + off <= 296; len++)
            assert_int_equal(net_cksum_raw(b + off, len), rte_raw_cksum(b + off, len));
    memset(b, 0xff, 64);
    for (uint32_t len = 0; len <= 64; len++)
        assert_int_equal(net_cksum_raw(b, len), rte_raw_cksum(b, len));
    memset(b, 0, 64);
    assert_int_equal(net_cksum_raw(b, 63), 0);
    /* a 64-bit word sum that carries out of every lane */
    memset(b, 0xff, 32);
    b[31] = 0xfe;
    assert_int_equal(net_cksum_raw(b, 32), rte_raw_cksum(b, 32));
    /* the pseudo-header as rte_ipv4_phdr_cksum builds it */
    {
        struct rte_ipv4_hdr ip = { .version_ihl = 0x45, .next_proto_id = IPPROTO_TCP,
                                   .total_length = rte_cpu_to_be_16(20 + 1481),
                                   .src_addr = rte_cpu_to_be_32(0xc6120002),
                                   .dst_addr = rte_cpu_to_be_32(0xfffffffe) };

        assert_int_equal(net_cksum_fold64(net_cksum_phdr(ip.src_addr, ip.dst_addr, IPPROTO_TCP,
                                                         1481)),
                         rte_ipv4_phdr_cksum(&ip, 0));
    }
}

/* net_cksum_mbuf over chains cut at odd and even places, from offsets in
 * the first, a middle and the last segment, against the flat bytes. */
static void test_cksum_mbuf_chains(void **state)
{
    static const uint16_t cuts[][3] = {
        { 1, 1, 60 }, { 7, 13, 41 }, { 20, 21, 22 }, { 33, 2, 3 }, { 64, 0, 5 },
    };
    struct fp *f = fp_new(NULL, 0);
    uint8_t flat[128];

    (void)state;
    for (size_t i = 0; i < sizeof(flat); i++)
        flat[i] = (uint8_t)(i * 37 + 11);
    for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        struct rte_mbuf *head = NULL, *tail = NULL;
        uint32_t total = 0;

        for (int k = 0; k < 3; k++) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(f->pool);

            assert_non_null(m);
            if (cuts[c][k])
                memcpy(rte_pktmbuf_append(m, cuts[c][k]), flat + total, cuts[c][k]);
            total += cuts[c][k];
            if (head == NULL) {
                head = m;
            } else {
                tail->next = m;
                head->nb_segs++;
                head->pkt_len += m->data_len;
            }
            tail = m;
        }
        for (uint32_t off = 0; off < total; off++)
            for (uint32_t len = 0; off + len <= total; len += 3)
                assert_int_equal(net_cksum_fold(net_cksum_mbuf(head, off, len, 0)),
                                 rte_raw_cksum(flat + off, len));
        rte_pktmbuf_free(head);
    }
    fp_free(f);
}

static void test_drop_counters_covered(void **state)
{
    /* every counter of this file's modules, found by name, so a new one
     * cannot be forgotten */
    static const char *const prefixes[] = { "ip_", "icmp_" };

    (void)state;
    for (unsigned i = 0; i < NET_DROP__COUNT; i++) {
        const char *n = net_drop_name(i);
        int mine = 0;

        for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
            mine |= strncmp(n, prefixes[k], strlen(prefixes[k])) == 0;
        if (mine && fp_drops_seen[i] == 0)
            fail_msg("drop counter %s never incremented", n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_short_and_version),
        cmocka_unit_test(test_ip_bad_header_length),
        cmocka_unit_test(test_ip_header_with_options),
        cmocka_unit_test(test_ip_bad_total_length),
        cmocka_unit_test(test_ip_longer_than_mtu),
        cmocka_unit_test(test_ip_padding_trimmed),
        cmocka_unit_test(test_ip_bad_checksum),
        cmocka_unit_test(test_ip_rx_offload_flags),
        cmocka_unit_test(test_ip_fragments_dropped),
        cmocka_unit_test(test_ip_destination),
        cmocka_unit_test(test_ip_martian_sources),
        cmocka_unit_test(test_ip_output_fields_and_tx_offload),
        cmocka_unit_test(test_icmp_echo_reply),
        cmocka_unit_test(test_icmp_drops_and_others),
        cmocka_unit_test(test_icmp_burst_larger_than_tx_array),
        cmocka_unit_test(test_cksum_raw_lengths),
        cmocka_unit_test(test_cksum_mbuf_chains),
        cmocka_unit_test(test_drop_counters_covered),
    };

    return cmocka_run_group_tests(tests, fp_eal_init, fp_eal_fini);
}
