/* dpdk_port — EAL start-up and one Ethernet port for the kernel-bypass
 * transport (see dpdk_port.h for the contract).
 *
 * Threads: everything here but dpdk_port_rx_queue_of and
 * dpdk_port_net_config runs on the main thread before the data cores start
 * or after they stopped; those two only read the struct dpdk_port.
 *
 * Design notes:
 * - RSS uses a Toeplitz key made of 0x6d5a repeated: with it the hash of
 *   (a, b, pa, pb) equals the hash of (b, a, pb, pa) (Woo and Park, "Scalable
 *   TCP Session Monitoring with Symmetric Receive-side Scaling", 2012), so
 *   both directions of a flow land on one queue, and an active open can
 *   compute in software (rte_softrss) which queue its replies will use. The
 *   redirection table is set to entry i -> queue i % nqueues, the default of
 *   most PMDs, written explicitly so the software side can rely on it.
 * - One mbuf pool per NUMA socket: queue q belongs to data core q, which
 *   runs on the q-th EAL worker lcore, so its pool lives on that lcore's
 *   socket. Pool size covers, per queue, a full RX ring, a full TX ring, two
 *   bursts, the per-lcore cache and the exception ring, so a core that holds
 *   everything it may legally hold still finds an mbuf.
 * - Offloads are enabled only when the port offers both halves (IPv4 and
 *   TCP); the flags recorded in struct dpdk_port tell the stack to compute
 *   checksums in software otherwise (net_ring and net_memif offer none).
 *
 * The only mutable file-scope state is the EAL argument vector: EAL may keep
 * pointers into it until rte_eal_cleanup, and EAL itself is process-wide. */
#include "dpdk_port.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_thash.h>

#include "log.h"
#include "net/net.h"

#define EAL_MAX_ARGS 128
#define PORT_RX_DESC 1024        /* per queue; adjusted to what the port allows */
#define PORT_TX_DESC 1024
#define PORT_BURST 32            /* the data cores' rx/tx burst */
#define POOL_CACHE 256           /* per-lcore mempool cache (RTE_MEMPOOL_CACHE_MAX_SIZE is 512) */
#define EXC_RING_MBUFS 1024      /* exception.c's ring per core */
#define ETH_OVERHEAD (14 + 4 + 4)/* header, one VLAN tag, FCS */
#define RSS_SYM_KEY_LEN 40       /* Toeplitz key most NICs take; rte_softrss reads 4+12 bytes */

static struct {
    int running;                 /* rte_eal_init succeeded */
    char *buf;                   /* the split argument string */
    char *argv[EAL_MAX_ARGS + 2];
} eal;

/* ---- EAL ---------------------------------------------------------------- */

static int has_arg(char **argv, int argc, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], name))
            return 1;
    return 0;
}

static unsigned long free_hugepages(void)
{
    unsigned long total = 0;
    glob_t g;

    if (glob("/sys/kernel/mm/hugepages/hugepages-*/free_hugepages", 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *fp = fopen(g.gl_pathv[i], "r");
        unsigned long n = 0;
        if (fp == NULL)
            continue;
        if (fscanf(fp, "%lu", &n) == 1)
            total += n;
        fclose(fp);
    }
    globfree(&g);
    return total;
}

static int hugetlbfs_mounted(void)
{
    char line[512];
    int found = 0;
    FILE *fp = fopen("/proc/mounts", "r");

    if (fp == NULL)
        return 0;
    while (!found && fgets(line, sizeof(line), fp))
        found = strstr(line, " hugetlbfs ") != NULL;
    fclose(fp);
    return found;
}

#define HUGEPAGE_HELP \
    "reserve hugepages (echo 512 > /proc/sys/vm/nr_hugepages) and mount hugetlbfs " \
    "(mount -t hugetlbfs nodev /dev/hugepages), or add --no-huge -m 512 to dpdk-eal-args"

int dpdk_eal_start(const char *eal_args, unsigned *lcores, unsigned max_lcores,
                   char *err, size_t errlen)
{
    int argc = 0, rc;
    unsigned n = 0, l;
    char *p;

    if (eal.running)
        return snprintf(err, errlen, "EAL is already running"), -EALREADY;
    free(eal.buf);
    eal.buf = strdup(eal_args ? eal_args : "");
    if (eal.buf == NULL)
        return snprintf(err, errlen, "out of memory"), -ENOMEM;
    eal.argv[argc++] = "slotd";
    for (p = eal.buf; *p;) {
        while (isspace((unsigned char)*p))
            *p++ = '\0';
        if (*p == '\0')
            break;
        if (argc == EAL_MAX_ARGS + 1)
            return snprintf(err, errlen, "dpdk-eal-args: more than %d words", EAL_MAX_ARGS), -E2BIG;
        eal.argv[argc++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    eal.argv[argc] = NULL;

    /* EAL's own message for this case ("Cannot get hugepage information")
     * does not say what to do. */
    if (!has_arg(eal.argv, argc, "--no-huge") && free_hugepages() == 0) {
        snprintf(err, errlen, "DPDK: no free hugepages: %s", HUGEPAGE_HELP);
        return -ENOMEM;
    }
    /* rte_eal_init permutes argv; a copy keeps ours intact for the message */
    char *argv_copy[EAL_MAX_ARGS + 2];
    memcpy(argv_copy, eal.argv, sizeof(argv_copy));
    rc = rte_eal_init(argc, argv_copy);
    if (rc < 0) {
        int e = rte_errno;
        if (!has_arg(eal.argv, argc, "--no-huge") && !hugetlbfs_mounted())
            snprintf(err, errlen, "DPDK: EAL start-up failed (%s): hugetlbfs is not mounted: %s",
                     rte_strerror(e), HUGEPAGE_HELP);
        else
            snprintf(err, errlen, "DPDK: EAL start-up failed (%s); see EAL's messages above "
                     "(dpdk-eal-args \"%s\"; another slotd on this host needs its own --file-prefix)",
                     rte_strerror(e), eal_args ? eal_args : "");
        return e > 0 ? -e : -EINVAL;
    }
    eal.running = 1;
    RTE_LCORE_FOREACH_WORKER(l) {
        if (n == max_lcores) {
            log_msg(LL_WARNING, "DPDK: %u worker lcores, using the first %u", rte_lcore_count() - 1,
                    max_lcores);
            break;
        }
        lcores[n++] = l;
    }
    if (n == 0) {
        snprintf(err, errlen, "DPDK: no worker lcore: the main lcore runs the control plane and "
                 "each worker lcore one data core; give EAL at least two, e.g. -l 0-1");
        return -EINVAL;
    }
    return (int)n;
}

void dpdk_eal_stop(void)
{
    if (eal.running) {
        int rc = rte_eal_cleanup();
        if (rc < 0)
            log_msg(LL_WARNING, "DPDK: rte_eal_cleanup failed: %s", rte_strerror(-rc));
        eal.running = 0;
    }
    free(eal.buf);
    eal.buf = NULL;
}

/* ---- port --------------------------------------------------------------- */

void dpdk_port_rss_key(uint8_t *key, size_t len)
{
    for (size_t i = 0; i < len; i++)
        key[i] = i & 1 ? 0x5a : 0x6d;
}

/* "net_tap0 (port 0), 0000:01:00.0 (port 1)" or "none" */
static void list_ports(char *buf, size_t len)
{
    size_t off = 0;
    uint16_t pid;

    buf[0] = '\0';
    RTE_ETH_FOREACH_DEV(pid) {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(pid, name) != 0)
            continue;
        int w = snprintf(buf + off, len - off, "%s%s (port %u)", off ? ", " : "", name, pid);
        if (w < 0 || (size_t)w >= len - off)
            break;
        off += (size_t)w;
    }
    if (off == 0)
        snprintf(buf, len, "none (add --vdev=net_tap0 or -a <pci address> to dpdk-eal-args, "
                 "and bind the NIC with dpdk-devbind.py)");
}

static int find_port(const char *name, uint16_t *pid, char *err, size_t errlen)
{
    char seen[512];

    if (name && name[0]) {
        if (rte_eth_dev_get_port_by_name(name, pid) == 0)
            return 0;
        list_ports(seen, sizeof(seen));
        snprintf(err, errlen, "DPDK: port '%s' not found; EAL sees: %s", name, seen);
        return -ENODEV;
    }
    if (rte_eth_dev_count_avail() == 1) {
        RTE_ETH_FOREACH_DEV(*pid)
            return 0;
    }
    list_ports(seen, sizeof(seen));
    if (rte_eth_dev_count_avail() == 0)
        snprintf(err, errlen, "DPDK: no port; EAL sees: %s", seen);
    else
        snprintf(err, errlen, "DPDK: several ports, name one with dpdk-port; EAL sees: %s", seen);
    return -ENODEV;
}

/* NUMA socket of queue q: its data core's lcore, else the port's. */
static int queue_socket(uint16_t pid, unsigned q)
{
    unsigned l, i = 0;
    int s;

    RTE_LCORE_FOREACH_WORKER(l) {
        if (i++ == q)
            return (int)rte_lcore_to_socket_id(l);
    }
    s = rte_eth_dev_socket_id(pid);
    return s < 0 ? 0 : s;
}

static int make_pools(struct dpdk_port *p, const struct dpdk_port_config *cfg,
                      uint16_t nrxd, uint16_t ntxd, char *err, size_t errlen)
{
    unsigned per_q = cfg->mbufs_per_queue;
    unsigned data_room = RTE_PKTMBUF_HEADROOM + p->mtu + ETH_OVERHEAD;

    if (data_room < RTE_MBUF_DEFAULT_BUF_SIZE)
        data_room = RTE_MBUF_DEFAULT_BUF_SIZE;
    if (per_q == 0)
        per_q = nrxd + ntxd + 2 * PORT_BURST + POOL_CACHE + EXC_RING_MBUFS;
    for (unsigned q = 0; q < p->nqueues; q++) {
        int sock = queue_socket(p->port_id, q);
        unsigned users = 0, n;
        char name[RTE_MEMPOOL_NAMESIZE];

        for (unsigned j = 0; j < q; j++)
            if (queue_socket(p->port_id, j) == sock)
                p->pool[q] = p->pool[j];
        if (p->pool[q])
            continue;
        for (unsigned j = q; j < p->nqueues; j++)
            users += queue_socket(p->port_id, j) == sock;
        n = users * per_q;
        /* the extra TX queues (exception path, from the main lcore) draw
         * from the port's first pool */
        if (q == 0)
            n += (p->ntxq - p->nqueues) * (ntxd + PORT_BURST) + POOL_CACHE;
        /* a ring mempool is cheapest at 2^k - 1 elements */
        n = (unsigned)rte_align32pow2(n + 1) - 1;
        snprintf(name, sizeof(name), "slotd_p%u_s%d", p->port_id, sock);
        p->pool[q] = rte_pktmbuf_pool_create(name, n, POOL_CACHE, 0, (uint16_t)data_room, sock);
        if (p->pool[q] == NULL) {
            snprintf(err, errlen, "DPDK: cannot allocate %u mbufs of %u bytes on socket %d (%s): "
                     "reserve more hugepages or raise -m in dpdk-eal-args",
                     n, data_room, sock, rte_strerror(rte_errno));
            return -ENOMEM;
        }
        log_msg(LL_VERBOSE, "DPDK: pool %s: %u mbufs of %u bytes", name, n, data_room);
    }
    return 0;
}

/* Entry i -> queue i % nqueues. Ports that do not let us write it keep
 * their own, which is the same for the PMDs we know. */
static void set_reta(struct dpdk_port *p, uint16_t reta_size)
{
    struct rte_eth_rss_reta_entry64 reta[DPDK_PORT_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
    int rc;

    p->reta_size = 0;
    if (reta_size == 0 || reta_size > DPDK_PORT_RETA_MAX) {
        log_msg(LL_WARNING, "DPDK: port %s: RSS table of %u entries not handled; connections "
                "this node opens may be answered on another core", p->name, reta_size);
        return;
    }
    memset(reta, 0, sizeof(reta));
    for (unsigned i = 0; i < reta_size; i++) {
        reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
        reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
            (uint16_t)(i % p->nqueues);
    }
    rc = rte_eth_dev_rss_reta_update(p->port_id, reta, reta_size);
    if (rc != 0)
        log_msg(LL_VERBOSE, "DPDK: port %s keeps its RSS table (%s)", p->name, rte_strerror(-rc));
    /* what the port holds, ours or its own: the queue of a flow follows it */
    rc = rte_eth_dev_rss_reta_query(p->port_id, reta, reta_size);
    if (rc != 0) {
        log_msg(LL_WARNING, "DPDK: port %s: RSS table unreadable (%s); connections this node "
                "opens may be answered on another core", p->name, rte_strerror(-rc));
        return;
    }
    for (unsigned i = 0; i < reta_size; i++)
        p->reta[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
    p->reta_size = reta_size;
}

/* Free each pool once (queues of one socket share a pool) and mark the
 * port closed. */
static void free_pools(struct dpdk_port *p)
{
    for (unsigned q = 0; q < DPDK_PORT_MAX_QUEUES; q++) {
        struct rte_mempool *mp = p->pool[q];
        if (mp == NULL)
            continue;
        for (unsigned j = q; j < DPDK_PORT_MAX_QUEUES; j++)
            if (p->pool[j] == mp)
                p->pool[j] = NULL;
        rte_mempool_free(mp);
    }
    p->port_id = RTE_MAX_ETHPORTS;
}

int dpdk_port_open(const struct dpdk_port_config *cfg, struct dpdk_port *p,
                   char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    struct rte_eth_conf conf;
    struct rte_eth_rxconf rxconf;
    struct rte_eth_txconf txconf;
    uint8_t key[RSS_SYM_KEY_LEN * 2];
    uint16_t nrxd = PORT_RX_DESC, ntxd = PORT_TX_DESC;
    uint64_t want;
    int rc, configured = 0, tap;

    memset(p, 0, sizeof(*p));
    p->port_id = RTE_MAX_ETHPORTS;
    if (cfg->nqueues == 0 || cfg->nqueues > DPDK_PORT_MAX_QUEUES) {
        snprintf(err, errlen, "DPDK: %u queues asked, 1..%d possible", cfg->nqueues,
                 DPDK_PORT_MAX_QUEUES);
        return -EINVAL;
    }
    rc = find_port(cfg->name, &p->port_id, err, errlen);
    if (rc < 0)
        goto fail;
    rte_eth_dev_get_name_by_port(p->port_id, p->name);
    p->nqueues = cfg->nqueues;
    p->ntxq = cfg->nqueues + cfg->extra_txq;
    p->mtu = cfg->mtu ? cfg->mtu : 1500;

    rc = rte_eth_dev_info_get(p->port_id, &info);
    if (rc != 0) {
        snprintf(err, errlen, "DPDK: port %s: no device info (%s)", p->name, rte_strerror(-rc));
        goto fail;
    }
    if (p->nqueues > info.max_rx_queues || p->nqueues > info.max_tx_queues) {
        snprintf(err, errlen, "DPDK: port %s has %u RX and %u TX queues; slotd needs one pair per "
                 "data core (%u): give EAL at most %u worker lcores (-l)", p->name,
                 info.max_rx_queues, info.max_tx_queues, p->nqueues,
                 RTE_MIN(info.max_rx_queues, info.max_tx_queues));
        rc = -ENOSPC;
        goto fail;
    }
    if (p->ntxq > info.max_tx_queues)
        p->ntxq = p->nqueues;
    /* ethdev also bounds the frame: MTU plus header and FCS (net_tap says
     * max_mtu 65535 but frames of 1522 bytes) */
    if (info.max_rx_pktlen > RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN &&
        info.max_rx_pktlen - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN < info.max_mtu)
        info.max_mtu = (uint16_t)(info.max_rx_pktlen - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN);
    if ((info.max_mtu && p->mtu > info.max_mtu) || p->mtu < info.min_mtu) {
        snprintf(err, errlen, "DPDK: port %s takes an MTU of %u..%u, not %u (dpdk-mtu)",
                 p->name, info.min_mtu, info.max_mtu, p->mtu);
        rc = -EINVAL;
        goto fail;
    }

    tap = !strcmp(info.driver_name, "net_tap");
    memset(&conf, 0, sizeof(conf));
    conf.rxmode.mtu = p->mtu;
    want = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    if ((info.rx_offload_capa & want) == want) {
        conf.rxmode.offloads |= want;
        p->rx_csum = 1;
    }
    want = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    if ((info.tx_offload_capa & want) == want) {
        conf.txmode.offloads |= want;
        p->tx_csum = 1;
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    /* TSO frames are mbuf chains (net.h tso_segs), and a segment of one may
     * straddle two mbufs of the chain. Limits of 0 mean none given. */
    want = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    if (p->tx_csum && (info.tx_offload_capa & want) == want &&
        info.tx_desc_lim.nb_seg_max != 1 &&
        (info.tx_desc_lim.nb_mtu_seg_max == 0 || info.tx_desc_lim.nb_mtu_seg_max >= 2)) {
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
        p->tso = 1;
        p->tso_segs = info.tx_desc_lim.nb_seg_max == 0 || info.tx_desc_lim.nb_seg_max > UINT8_MAX
                          ? UINT8_MAX
                          : (uint8_t)info.tx_desc_lim.nb_seg_max;
        /* DPDK 22.11's net_tap refuses a TSO frame whose segments, Ethernet
         * header included, exceed the MTU (it counts errors, sends nothing) */
        p->tso_frame_in_mtu = tap;
    }
    /* net_tap accepts RSS but spreads with the kernel's own flow hash
     * unless its BPF classifier loads; the kernel then steers a flow back to
     * the queue that last sent on it, which keeps connections on their core
     * without a Toeplitz hash. */
    want = RTE_ETH_RSS_NONFRAG_IPV4_TCP;
    if (p->nqueues > 1 && !tap && (info.flow_type_rss_offloads & want)) {
        size_t klen = info.hash_key_size ? info.hash_key_size : RSS_SYM_KEY_LEN;
        if (klen > sizeof(key))
            klen = sizeof(key);
        dpdk_port_rss_key(key, klen);
        conf.rx_adv_conf.rss_conf.rss_key = key;
        conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
        conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
                                           (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP);
        p->rss = 1;
    }

    /* Best first. Some PMDs list RSS flows but refuse the key or the mode;
     * net_tap refuses TX queues beyond its RX queues (each of its queues is
     * one file descriptor for both directions), and then the exception path
     * relays through data core 0 (exception.h). */
    rc = -EINVAL;
    for (int attempt = 0; attempt < 4 && rc != 0; attempt++) {
        int rss = p->rss && !(attempt & 1), extra = p->ntxq > p->nqueues && !(attempt & 2);
        if ((attempt & 1 && !p->rss) || (attempt & 2 && p->ntxq == p->nqueues))
            continue;
        conf.rxmode.mq_mode = rss ? RTE_ETH_MQ_RX_RSS : RTE_ETH_MQ_RX_NONE;
        rc = rte_eth_dev_configure(p->port_id, (uint16_t)p->nqueues,
                                   (uint16_t)(extra ? p->ntxq : p->nqueues), &conf);
        if (rc == 0) {
            if (p->rss && !rss)
                log_msg(LL_WARNING, "DPDK: port %s refused RSS with a symmetric key", p->name);
            p->rss = (uint8_t)rss;
            if (!extra)
                p->ntxq = p->nqueues;
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "DPDK: port %s: configure with %u RX / %u TX queues, MTU %u failed (%s)",
                 p->name, p->nqueues, p->ntxq, p->mtu, rte_strerror(-rc));
        goto fail;
    }
    if (p->ntxq < p->nqueues + cfg->extra_txq)
        log_msg(LL_NOTICE, "DPDK: port %s has no TX queue to spare: frames from the kernel leave "
                "through data core 0's queue", p->name);
    if (p->nqueues > 1 && !p->rss && !tap)
        log_msg(LL_WARNING, "DPDK: port %s has no TCP RSS: the port's own spreading decides which "
                "data core a connection lands on, and active opens cannot choose theirs", p->name);
    configured = 1;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrxd, &ntxd);
    if (rc != 0) {
        snprintf(err, errlen, "DPDK: port %s: descriptor counts refused (%s)", p->name,
                 rte_strerror(-rc));
        goto fail;
    }
    rc = make_pools(p, cfg, nrxd, ntxd, err, errlen);
    if (rc != 0)
        goto fail;

    rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    for (unsigned q = 0; q < p->nqueues; q++) {
        rc = rte_eth_rx_queue_setup(p->port_id, (uint16_t)q, nrxd,
                                    (unsigned)queue_socket(p->port_id, q), &rxconf, p->pool[q]);
        if (rc != 0) {
            snprintf(err, errlen, "DPDK: port %s: RX queue %u set-up failed (%s)", p->name, q,
                     rte_strerror(-rc));
            goto fail;
        }
    }
    txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    for (unsigned q = 0; q < p->ntxq; q++) {
        int sock = q < p->nqueues ? queue_socket(p->port_id, q) : rte_eth_dev_socket_id(p->port_id);
        rc = rte_eth_tx_queue_setup(p->port_id, (uint16_t)q, ntxd,
                                    (unsigned)(sock < 0 ? 0 : sock), &txconf);
        if (rc != 0) {
            snprintf(err, errlen, "DPDK: port %s: TX queue %u set-up failed (%s)", p->name, q,
                     rte_strerror(-rc));
            goto fail;
        }
    }
    if (cfg->mac) {
        struct rte_ether_addr a;
        memcpy(a.addr_bytes, cfg->mac, 6);
        rc = rte_eth_dev_default_mac_addr_set(p->port_id, &a);
        if (rc != 0) {
            snprintf(err, errlen, "DPDK: port %s refused MAC %02x:%02x:%02x:%02x:%02x:%02x (%s)",
                     p->name, cfg->mac[0], cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4],
                     cfg->mac[5], rte_strerror(-rc));
            goto fail;
        }
    }
    rc = rte_eth_dev_start(p->port_id);
    if (rc != 0) {
        snprintf(err, errlen, "DPDK: port %s: start failed (%s)", p->name, rte_strerror(-rc));
        goto fail;
    }
    if (p->rss)
        set_reta(p, info.reta_size);
    /* the kernel behind the exception TAP speaks IPv6 neighbour discovery
     * and the like to multicast groups; best effort */
    rte_eth_allmulticast_enable(p->port_id);
    {
        struct rte_ether_addr a;
        rte_eth_macaddr_get(p->port_id, &a);
        /* net_ring and net_memif may report 00:00:00:00:00:00, which no
         * peer (nor the exception TAP) accepts: give such a port a random
         * locally administered address; one that refuses it filters
         * nothing, so the stack may still use it */
        if (rte_is_zero_ether_addr(&a)) {
            rte_eth_random_addr(a.addr_bytes);
            if (rte_eth_dev_default_mac_addr_set(p->port_id, &a) != 0)
                log_msg(LL_VERBOSE, "DPDK: port %s keeps a zero MAC; slotd uses a random one",
                        p->name);
        }
        memcpy(p->mac, a.addr_bytes, 6);
    }
    log_msg(LL_NOTICE, "DPDK: port %s (%s) up: %u queue pair%s + %u TX, MTU %u, "
            "MAC %02x:%02x:%02x:%02x:%02x:%02x, RSS %s, checksum offload rx %s tx %s, TSO %s",
            p->name, info.driver_name, p->nqueues, p->nqueues == 1 ? "" : "s", p->ntxq - p->nqueues,
            p->mtu, p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5],
            p->rss ? "on" : "off", p->rx_csum ? "on" : "off", p->tx_csum ? "on" : "off",
            p->tso ? "on" : "off");
    return 0;
fail:
    if (configured) {
        rte_eth_dev_close(p->port_id);
        configured = 0;
    }
    free_pools(p);
    return rc < 0 ? rc : -EIO;
}

void dpdk_port_close(struct dpdk_port *p)
{
    if (p == NULL || p->port_id >= RTE_MAX_ETHPORTS)
        return;
    /* stop before close: a PMD still running its queues may hold mbufs of
     * the pools freed below */
    int rc = rte_eth_dev_stop(p->port_id);
    if (rc != 0)
        log_msg(LL_WARNING, "DPDK: port %s: stop failed (%s)", p->name, rte_strerror(-rc));
    rte_eth_dev_close(p->port_id);
    free_pools(p);
}

void dpdk_port_net_config(const struct dpdk_port *p, unsigned q, struct net_config *nc)
{
    memcpy(nc->mac, p->mac, sizeof(nc->mac));
    nc->mtu = p->mtu;
    nc->pool = p->pool[q < p->nqueues ? q : 0];
    nc->rx_csum_offload = p->rx_csum;
    nc->tx_csum_offload = p->tx_csum;
    nc->tso_segs = p->tso ? p->tso_segs : 0;
    nc->tso_frame_in_mtu = p->tso_frame_in_mtu;
}

unsigned dpdk_port_rx_queue_of(const struct dpdk_port *p, const struct net_tuple *t)
{
    struct rte_ipv4_tuple in;
    uint8_t key[RSS_SYM_KEY_LEN];
    uint32_t h;

    if (!p->rss || p->nqueues <= 1)
        return 0;
    if (p->reta_size == 0)
        return DPDK_PORT_QUEUE_UNKNOWN;
    dpdk_port_rss_key(key, sizeof(key));
    /* the reply as the port receives it: from the peer to us */
    in.src_addr = t->rip;
    in.dst_addr = t->lip;
    in.sport = t->rport;
    in.dport = t->lport;
    h = rte_softrss((uint32_t *)&in, RTE_THASH_V4_L4_LEN, key);
    return p->reta[h % p->reta_size];
}

int dpdk_port_replies_to(const struct dpdk_port *p, const struct net_tuple *t, unsigned q)
{
    unsigned got;

    if (!p->rss || p->nqueues <= 1)
        return 1;
    got = dpdk_port_rx_queue_of(p, t);
    return got == q || got == DPDK_PORT_QUEUE_UNKNOWN;
}
