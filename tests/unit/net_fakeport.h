/* net_fakeport — a fake port, a fake application and a segment factory for
 * the user-space stack's unit tests (dataplane/net/).
 *
 * The port: the stack's tx and exception hooks capture frames in arrays the
 * test pops; knobs make either hook refuse frames. The clock is the test's
 * (fp.now, microseconds): nothing reads real time.
 * The app: the upcalls record bytes, EOF, writability, close reasons per
 * connection in struct fp_conn; knobs limit how much on_data takes, refuse
 * accepts, or close from inside on_data.
 * The factory: well-formed Ethernet/IPv4/TCP frames with any flags, options
 * and payload (checksums correct unless asked otherwise), and a parser that
 * checks every frame the stack sends (lengths, IP and TCP checksums).
 *
 * EAL runs once per test process: fp_eal_init and fp_eal_fini are the
 * cmocka group setup and teardown. Every fp has its own mbuf pool;
 * fp_free() asserts that every mbuf came back and that the stack freed every
 * byte it took from dataplane/mem.h. */
#ifndef SLOTD_TEST_NET_FAKEPORT_H
#define SLOTD_TEST_NET_FAKEPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../../dataplane/net/net.h"

struct rte_mbuf;
struct rte_mempool;

#define FP_MAX_FRAMES 1024
#define FP_MAX_CONNS 64
#define FP_RX_CAP (512 * 1024)

/* Addresses used by default (host byte order). */
#define FP_STACK_IP 0xC6120002u   /* 198.18.0.2 (RFC 2544 benchmark range) */
#define FP_PEER_IP  0xC6120001u   /* 198.18.0.1 */
#define FP_GW_IP    0xC61200FEu   /* 198.18.0.254 */
#define FP_MASK     0xFFFFFF00u
#define FP_PORT     6379

extern const uint8_t fp_stack_mac[6];
extern const uint8_t fp_peer_mac[6];

struct fp;

struct fp_conn {
    struct fp *f;
    struct tcp_conn *c;
    uint8_t *rx;                  /* bytes delivered by on_data */
    size_t rxlen;
    size_t take;                  /* most bytes on_data takes per call (SIZE_MAX: all) */
    int eof;                      /* on_data(NULL, 0) count */
    int closed;                   /* on_closed count */
    int close_err;
    int writable;                 /* on_writable count */
    int connected;                /* on_connected count */
    int close_in_data;            /* call net_tcp_close from on_data */
    int pause_in_data;            /* call net_tcp_pause_input(1) from on_data */
    int echo;                     /* send back what arrives, from on_data */
    unsigned peeks, peeks_late;   /* on_peek / on_peek_late calls */
    unsigned peek_at, late_at;    /* fp.peek_clock at the last of each */
    uint8_t peeked[64];           /* the last on_peek's bytes (first 64) */
    size_t peeked_len;
    int peek_stop;                /* on_peek returns 0 */
};

struct fp {
    struct rte_mempool *pool;
    unsigned pool_size;
    struct net_stack *s;
    struct net_config cfg;
    uint64_t now;                 /* microseconds */
    struct rte_mbuf *tx[FP_MAX_FRAMES];
    unsigned ntx, tx_head;
    struct rte_mbuf *exc[FP_MAX_FRAMES];
    unsigned nexc, exc_head;
    int tx_take;                  /* -1: take all; n: take at most n per call */
    /* TSO frames (RTE_MBUF_F_TX_TCP_SEG) are checked against DPDK's
     * contract and cut into the segments a NIC would send, checksums
     * computed, before capture; unset, they are captured as they are. */
    int tso_cut;
    unsigned tso_frames, tso_segs;    /* cut so far */
    unsigned tso_max_nb_segs;         /* the longest chain seen */
    unsigned tso_segsz;               /* the last frame's segment payload */
    unsigned peek_clock;          /* on_peek and on_peek_late calls so far */
    int exc_take;
    int refuse_accept;
    int close_in_accept;          /* net_tcp_close from inside on_accept */
    int isn_set;
    uint32_t isn;
    unsigned nports;              /* pick_port calls */
    int pick_port_fail;
    struct fp_conn conns[FP_MAX_CONNS];
    unsigned nconns;
    int64_t mem_start;
};

/* A segment to build, or one parsed from the stack's output. Host order. */
struct fp_seg {
    uint32_t sip, dip;            /* 0: peer → stack defaults */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;                /* TCP_F_* */
    uint16_t win;
    int mss;                      /* -1: no option */
    int ws;                       /* -1: no option */
    int ts;                       /* 1: timestamps option */
    uint32_t tsval, tsecr;
    int sack_ok;
    unsigned nsack;               /* SACK blocks (RFC 2018 3), left and right edges */
    uint32_t sack[4][2];
    const void *data;             /* input payload */
    uint32_t len;
    /* parsed frames */
    uint8_t payload[9216];
    uint8_t src_mac[6], dst_mac[6];
    uint8_t ttl;
    uint16_t frag;
};

int fp_eal_init(void **state);
int fp_eal_fini(void **state);

/* Defaults: stack 198.18.0.2/24 gw .254, listen FP_PORT, small tables. */
void fp_config(struct net_config *cfg);
/* A fake port with a stack built from cfg (NULL: fp_config defaults) and
 * pool_size mbufs (0: 2047). */
struct fp *fp_new(const struct net_config *cfg, unsigned pool_size);
/* Drain, free the stack, assert resources back to zero, free f. */
void fp_free(struct fp *f);

/* Process frames at f->now (net_input_burst), then net_flush. */
void fp_input(struct fp *f, struct rte_mbuf **m, unsigned n);
void fp_input1(struct fp *f, struct rte_mbuf *m);
void fp_flush(struct fp *f);
/* Advance the clock by us and run timers (which flush). */
void fp_advance(struct fp *f, uint64_t us);

/* Segment factory. */
void fp_seg_init(struct fp_seg *g);
struct rte_mbuf *fp_tcp_frame(struct fp *f, const struct fp_seg *g);
/* Build and input (with flush). */
void fp_send(struct fp *f, const struct fp_seg *g);
/* Raw frame of len bytes copied from p (for malformed input). */
struct rte_mbuf *fp_raw_frame(struct fp *f, const void *p, uint32_t len);
/* Frame of Ethernet + IPv4 header (checksummed) + l4 bytes. */
struct rte_mbuf *fp_ip_frame(struct fp *f, uint8_t proto, uint32_t sip, uint32_t dip,
                             const void *l4, uint32_t l4len);
/* Fix the TCP checksum of a frame built by hand. */
void fp_fix_tcp_csum(struct rte_mbuf *m);

/* Captured output. */
unsigned fp_tx_pending(const struct fp *f);
unsigned fp_exc_pending(const struct fp *f);
struct rte_mbuf *fp_pop_tx(struct fp *f);        /* caller frees */
struct rte_mbuf *fp_pop_exc(struct fp *f);       /* caller frees */
/* Pop the next tx frame, which must be IPv4/TCP with valid checksums, into
 * out. Returns 1, or 0 when nothing is pending. */
int fp_pop_seg(struct fp *f, struct fp_seg *out);
/* Pop and free everything captured. */
void fp_drain(struct fp *f);

/* Drop counters seen nonzero by any fp_free in this process. */
extern uint64_t fp_drops_seen[NET_DROP__COUNT];

/* The fake app's record of connection c, or NULL. */
struct fp_conn *fp_conn_of(struct fp *f, struct tcp_conn *c);
/* Active open through the stack with a fresh fp_conn as context. Returns
 * the fp_conn (its c set), or NULL with *rc the error. */
struct fp_conn *fp_connect(struct fp *f, uint32_t ip, uint16_t port, int *rc);
/* Teach the stack the peer's MAC (an ARP reply for us), so active opens do
 * not wait for resolution. */
void fp_learn_peer(struct fp *f);

#endif
