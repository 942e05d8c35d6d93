/* net — slotd's user-space TCP/IP stack, one instance per data core.
 *
 * Call chains
 *   receive:  glue rx burst → net_input_burst → eth_input → arp_input
 *                                                        → ip_input → icmp_input
 *                                                                   → tcp_input → upcalls
 *   send:     app → net_tcp_send (bytes copied into the connection's ring)
 *             net_flush → tcp_output → ip_output → eth_output → tx hook
 *   time:     net_timers → tcp_timer_fire, arp_timers → (retransmissions) → tx hook
 *
 * Owner: one data core. A stack instance and every connection, buffer and
 * table in it belong to the core that created it: no locks, no system calls,
 * no allocation of packet memory except mbufs from cfg.pool. Connection
 * structs come from an array sized at creation; each connection's send and
 * receive rings are allocated (dataplane/mem.h, the core's arena) when the
 * connection is set up, never per packet.
 *
 * Mbuf ownership: net_input_burst takes every mbuf it is given. The tx and
 * exception hooks take the frames they accept (their return value); the stack
 * frees the rest and counts them.
 *
 * Re-entrancy: upcalls run on the same core inside net_input_burst, net_flush
 * or net_timers. From an upcall the app may call net_tcp_send/pause_input/
 * close/shutdown on any connection; the stack never calls on_closed from
 * inside one of those calls (it is delivered at the end of the turn, in
 * net_flush), so a conn_ops implementation over this API behaves exactly as
 * dataplane/transport.h specifies.
 *
 * Loop shape expected from the glue (one clock read per turn):
 *   now = clock();  n = rx_burst(pkts);  net_input_burst(s, pkts, n, now);
 *   ... app work (parse, commands, replies via net_tcp_send) ...
 *   net_flush(s);   and every ~1 ms: net_timers(s, now);
 * net_input_burst must be called every turn, even with n == 0: it also
 * delivers input buffered while a connection was paused. */
#ifndef SLOTD_NET_H
#define SLOTD_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../phase.h"

struct rte_mbuf;
struct rte_mempool;
struct net_stack;
struct tcp_conn;

/* ---- drop and event counters --------------------------------------------- */

/* One counter per drop reason. X(name, what) — the list is the single source
 * for the struct fields below and for net_drop_name(). */
#define NET_DROP_LIST(X) \
    X(eth_short,          "frame shorter than an Ethernet header") \
    X(eth_other_mac,      "unicast frame for another MAC") \
    X(arp_short,          "ARP frame too short") \
    X(arp_bad_format,     "ARP hardware/protocol type or lengths not Ethernet/IPv4") \
    X(arp_table_full,     "ARP cache full of pending entries: packet not queued") \
    X(arp_queue_replaced, "packet waiting for ARP replaced by a newer one") \
    X(arp_unresolved,     "packet waiting for ARP dropped: no reply after retries") \
    X(ip_short,           "IPv4 packet shorter than its minimal header") \
    X(ip_bad_version,     "IP version is not 4") \
    X(ip_bad_hlen,        "IPv4 header length below 20 or beyond the packet") \
    X(ip_bad_len,         "IPv4 total length below the header or beyond the frame") \
    X(ip_too_big,         "IPv4 packet longer than the MTU (a NIC at that MTU drops it)") \
    X(ip_bad_csum,        "IPv4 header checksum wrong") \
    X(ip_frag,            "IPv4 fragment (no reassembly)") \
    X(ip_other_dst,       "unicast IPv4 packet for another address") \
    X(ip_bad_src,         "IPv4 source is broadcast, multicast, loopback or ours") \
    X(icmp_short,         "ICMP message too short") \
    X(icmp_bad_csum,      "ICMP checksum wrong") \
    X(tcp_short,          "TCP segment shorter than its header") \
    X(tcp_bad_off,        "TCP data offset below 5 or beyond the segment") \
    X(tcp_bad_csum,       "TCP checksum wrong") \
    X(tcp_bad_flags,      "TCP flag combination never valid (SYN+FIN, SYN+RST)") \
    X(tcp_listen_bad,     "segment to a listening port that is neither SYN nor ACK") \
    X(tcp_no_conn,        "segment with ACK to a listening port without connection (RST sent)") \
    X(tcp_conn_full,      "no free connection slot for a SYN or connect") \
    X(tcp_syn_evicted,    "half-open table full: oldest SYN_RECEIVED evicted") \
    X(tcp_buf_nomem,      "connection buffers over budget or allocation failed (RST sent)") \
    X(tcp_synsent_bad,    "segment in SYN_SENT that is not an acceptable SYN/RST") \
    X(tcp_bad_seq,        "sequence number outside the receive window (ACK sent)") \
    X(tcp_beyond_wnd,     "payload bytes beyond the receive window trimmed") \
    X(tcp_paws,           "old timestamp, RFC 7323 PAWS (ACK sent)") \
    X(tcp_no_ts,          "timestamps negotiated but segment has none (RFC 7323 3.2)") \
    X(tcp_no_ack,         "segment without ACK in a synchronized state") \
    X(tcp_ack_unsent,     "ACK for data not yet sent (ACK sent)") \
    X(tcp_ack_old,        "ACK older than the send window allows (RFC 5961 5.2)") \
    X(tcp_rst_ignored,    "RST outside the window or in a state that ignores it") \
    X(tcp_rst_challenge,  "RST in window but not exact: challenge ACK (RFC 5961 3.2)") \
    X(tcp_syn_challenge,  "SYN in a synchronized state: challenge ACK (RFC 5961 4.2)") \
    X(tcp_challenge_limit,"challenge ACK suppressed by the rate limit (RFC 5961 7)") \
    X(tcp_ooo_full,       "out-of-order segment: no room in the reassembly list") \
    X(tcp_after_close,    "data after the application closed (acknowledged, discarded)") \
    X(mbuf_alloc,         "mbuf pool empty when building a frame") \
    X(tx_full,            "tx hook took fewer frames than offered") \
    X(exception_full,     "exception hook took fewer frames than offered")

enum net_drop {
#define NET_DROP_ENUM(n, d) NET_DROP_##n,
    NET_DROP_LIST(NET_DROP_ENUM)
#undef NET_DROP_ENUM
    NET_DROP__COUNT
};

struct net_counters {
    /* frames and bytes at the port */
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t exception_frames;       /* handed to the exception hook */
    uint64_t arp_requests_sent, arp_replies_sent, icmp_echo_replies;
    uint64_t tcp_segs_in, tcp_segs_out;  /* out: on the wire, TSO frames' segments each */
    uint64_t tcp_tso_frames;         /* frames of more than one MSS the port cut */
    uint64_t tcp_retransmits;        /* segments sent again, any cause */
    uint64_t tcp_fast_retransmits;   /* entries into fast recovery */
    uint64_t tcp_early_retransmits;  /* ... of them on fewer than 3 dupacks (RFC 5827) */
    uint64_t tcp_rto_fired;          /* retransmission timeouts */
    uint64_t tcp_tlp_sent;           /* tail loss probes (RFC 8985 7.3) */
    uint64_t tcp_limited_transmits;  /* new segments sent on dupacks 1-2 (RFC 3042) */
    uint64_t tcp_sack_recoveries;    /* entries into SACK loss recovery (RFC 6675) */
    uint64_t tcp_sack_retransmits;   /* ... segments it resent from the scoreboard */
    uint64_t tcp_sack_rxt_lost;      /* ... of them resent again: the first was lost */
    uint64_t tcp_sack_blocks_sent;   /* SACK blocks in our ACKs (RFC 2018) */
    uint64_t tcp_sack_blocks_bad;    /* received blocks ignored: outside snd_una..snd_max */
    uint64_t tcp_probes_sent;        /* zero-window probes */
    uint64_t tcp_rsts_sent, tcp_challenge_acks;
    uint64_t tcp_refusal_acks_limited;  /* ACKs not sent for refused segments (rate limit) */
    uint64_t tcp_conns_total;        /* established, both directions */
    uint64_t tcp_conns_reset;        /* ended by a RST from the peer */
    uint64_t tcp_conns_timedout;     /* ended by retransmission give-up */
    uint64_t tcp_orphans_reset;      /* ... of them closed by the app: RST sent */
    uint64_t tcp_keepalive_probes;   /* keep-alive probes sent */
    uint64_t tcp_keepalive_timeouts; /* connections ended by keep-alive (RST sent) */
    /* gauges */
    uint64_t tcp_conns_open;         /* structs in use (any state) */
    uint64_t tcp_conns_half_open;    /* passive SYN_RECEIVED */
    uint64_t tcp_conns_time_wait;
    uint64_t tcp_buf_bytes;          /* ring memory held by connections */
    union {
        struct {
#define NET_DROP_FIELD(n, d) uint64_t n;
            NET_DROP_LIST(NET_DROP_FIELD)
#undef NET_DROP_FIELD
        };
        uint64_t v[NET_DROP__COUNT];
    } drop;
};

/* Name and one-line description of drop reason i (< NET_DROP__COUNT). */
const char *net_drop_name(unsigned i);
const char *net_drop_desc(unsigned i);

/* ---- configuration -------------------------------------------------------- */

struct net_config {
    uint32_t ip, mask, gateway;      /* host byte order; gateway 0 = none */
    uint8_t mac[6];
    uint16_t mtu;                    /* IP MTU, 576..9000 */
    uint16_t mss;                    /* MSS we announce; 0 = mtu - 40 */
    struct rte_mempool *pool;        /* tx mbufs; data room >= mtu + 14 + headroom */

    unsigned max_conns;              /* connection structs, any state */
    unsigned max_half_open;          /* passive SYN_RECEIVED at once (SYN-flood bound) */
    uint32_t sndbuf, rcvbuf;         /* ring bytes per connection, rounded up to 2^k */
    uint64_t buf_budget;             /* ring bytes all connections may hold; 0 = none */
    unsigned arp_entries;            /* ARP cache slots, rounded up to 2^k */

    uint32_t rto_init_ms;            /* RFC 6298 2.1: 1 s */
    uint32_t rto_min_ms;             /* RFC 6298 2.4 says 1 s; default 200 ms as Linux */
    uint32_t rto_max_ms;             /* RFC 6298 2.5: at least 60 s */
    uint32_t tlp_ack_delay_ms;       /* RFC 8985 7.2 TLP.max_ack_delay: the peer's ACK delay */
    uint32_t time_wait_ms;           /* short TIME_WAIT (RFC 9293 3.6 says 2*MSL) */
    uint32_t fin_wait2_ms;           /* orphaned FIN_WAIT_2 lifetime */
    uint32_t delack_ms;              /* 0: owed ACK goes out at net_flush */
    uint32_t arp_timeout_ms;         /* a resolved entry lives this long */
    uint32_t arp_retry_ms;           /* between requests for a pending entry */
    uint8_t arp_retries;             /* requests before the queued packet is dropped */
    uint8_t syn_retries, data_retries;   /* then the connection times out */
    /* A connection the application closed: retransmissions or window
     * probes (answered or not: a peer that keeps its window shut would
     * hold it forever) before it is reset and freed. */
    uint8_t orphan_retries;
    uint8_t init_cwnd;               /* segments, RFC 6928 allows 10 */
    uint16_t challenge_ack_per_s;    /* RFC 5961 7 rate limit */
    uint16_t eph_lo, eph_hi;         /* default source ports for active opens */

    uint8_t timestamps;              /* offer RFC 7323 timestamps */
    uint8_t tlp;                     /* send RFC 8985 tail loss probes */
    uint8_t wscale;                  /* offer RFC 7323 window scaling */
    uint8_t sack;                    /* offer RFC 2018 SACK, recover per RFC 6675 */
    uint8_t rx_csum_offload;         /* trust RTE_MBUF_F_RX_*_CKSUM_GOOD/BAD */
    uint8_t tx_csum_offload;         /* set RTE_MBUF_F_TX_*_CKSUM, checksum by NIC */
    /* TSO: the mbufs one frame may chain for the port to cut into MSS
     * segments (needs tx_csum_offload); 0 = every segment built here. The
     * stack fills each mbuf of a chain to its data room. */
    uint8_t tso_segs;
    /* The port's TSO counts each segment's whole frame, Ethernet header
     * included, against the MTU (net_tap refuses a frame otherwise): its
     * segments then carry mtu - headers bytes, a little under an MSS. */
    uint8_t tso_frame_in_mtu;

    uint64_t secret[2];              /* keys the ISN (RFC 6528) and table hash */
};

/* Fill cfg with the defaults above (no addresses, no pool). */
void net_config_defaults(struct net_config *cfg);

/* ---- the glue's hooks and the application's upcalls ----------------------- */

/* 4-tuple, host byte order. */
struct net_tuple {
    uint32_t lip, rip;
    uint16_t lport, rport;
};

struct net_hooks {
    void *arg;
    /* Transmit up to n frames; return how many were taken (the stack frees
     * the rest, counting drop.tx_full). Called from net_input_burst,
     * net_flush and net_timers. */
    uint16_t (*tx)(void *arg, struct rte_mbuf **pkts, uint16_t n);
    /* Frames that are not the stack's (other TCP ports, UDP, IPv6, unknown
     * ethertypes, ICMP other than echo, and a copy-by-hand-over of every ARP
     * frame): the glue writes them to the kernel TAP. Same contract as tx.
     * NULL: they are freed and counted as exception_full. */
    uint16_t (*exception)(void *arg, struct rte_mbuf **pkts, uint16_t n);
    /* Source port for an active open (host order), or -1 to give up.
     * attempt counts from 0 for successive tries when the tuple is taken. The
     * glue picks ports whose RSS hash lands on this core. NULL: eph_lo..eph_hi
     * in turn. */
    int (*pick_port)(void *arg, const struct net_tuple *t, unsigned attempt);
    /* Initial sequence number for a new connection. NULL: RFC 6528 keyed
     * hash of the tuple plus a 4 us clock. Tests use it to start near 2^32. */
    uint32_t (*isn)(void *arg, const struct net_tuple *t);
};

struct net_upcalls {
    /* A passive open reached ESTABLISHED. Return the app's context for the
     * connection, or NULL to refuse (the stack sends RST and frees it). The
     * app may call net_tcp_send from here. */
    void *(*on_accept)(void *arg, struct tcp_conn *c);
    /* An active open reached ESTABLISHED. NULL: on_writable is called. */
    void (*on_connected)(void *ctx);
    /* In-order bytes. p is valid only during the call (it may point into an
     * mbuf). Return how many were taken (0..n); taking fewer stops delivery
     * as net_tcp_pause_input(c, 1) does, and the rest waits in the receive
     * ring (the advertised window shrinks) until the app resumes.
     * n == 0 (p == NULL): the peer sent FIN and every byte before it has been
     * delivered (end of stream); the app may still send, then close. */
    size_t (*on_data)(void *ctx, const void *p, size_t n);
    /* Room opened in the send ring after net_tcp_send took fewer bytes than
     * asked (or returned 0). */
    void (*on_writable)(void *ctx);
    /* The connection is gone for the app: err 0 after the app's own close,
     * -ECONNRESET (peer RST), -ECONNREFUSED (RST to our SYN), -ETIMEDOUT
     * (retransmissions exhausted), -ENOMEM (buffers). Delivered from
     * net_flush, never inside a call made by the app. After it returns the
     * tcp_conn pointer and ctx are never used again. */
    void (*on_closed)(void *ctx, int err);
    /* Optional cache warming (NULL: none). Before a received burst is
     * processed, on_peek sees the payload of each in-order data segment of
     * an established connection in it, first to last; on_peek_late gets the
     * same ctx a few segments later (or at the end of the pass), for a fetch
     * that needs the first one's line to have arrived. The bytes are a
     * preview: they come through on_data later, or not at all (a segment may
     * still be dropped), and nothing may be done with them but warming.
     * on_peek returns 0 to end the pass for this burst (nothing worth
     * warming). */
    int (*on_peek)(void *ctx, const void *p, size_t n);
    void (*on_peek_late)(void *ctx);
};

/* ---- stack lifecycle and the per-turn calls ------------------------------ */

/* Create a stack. cfg, hooks and up are copied. Returns NULL when cfg is
 * invalid (no pool, mtu out of range, pool data room too small, max_conns 0)
 * or memory runs out. */
struct net_stack *net_stack_create(const struct net_config *cfg,
                                   const struct net_hooks *hooks,
                                   const struct net_upcalls *up);
/* Free everything: connections (no upcalls), rings, queued and unsent mbufs.
 * NULL is fine. */
void net_stack_free(struct net_stack *s);

/* Accept connections on TCP port `port` (host order). Returns 0, -EEXIST,
 * -ENOSPC (NET_MAX_LISTEN ports already). */
#define NET_MAX_LISTEN 8
int net_listen(struct net_stack *s, uint16_t port);

/* Process n received frames (the stack owns them from here), then deliver
 * input that was waiting for the app to resume. now_us: the turn's clock in
 * microseconds, monotonic. Frames for the port go out in bursts through the
 * tx hook; they may wait in the tx array until net_flush. */
PHASE_ROOT void net_input_burst(struct net_stack *s, struct rte_mbuf **pkts, unsigned n,
                                uint64_t now_us);

/* End of the turn: build segments for data the app queued (coalesced per
 * connection, ACKs piggy-backed), send ACKs still owed, deliver on_closed,
 * free finished connections, and push the tx array through the tx hook. */
void net_flush(struct net_stack *s);

/* Run due timers (retransmission, persist, delayed ACK, TIME_WAIT, ARP).
 * Bounded: at most NET_TIMER_BUDGET expirations per call; the rest run on the
 * next call. Ends with net_flush. Returns the number of expirations run. */
#define NET_TIMER_BUDGET 1024
PHASE_ROOT unsigned net_timers(struct net_stack *s, uint64_t now_us);

const struct net_counters *net_counters(const struct net_stack *s);

/* ---- TCP connections ------------------------------------------------------ */

/* Active open to ip:port (host order). The SYN leaves at the next net_flush
 * (after ARP resolution if needed). ctx is passed to the upcalls.
 * Returns 0 and *out, or -ENETUNREACH (off-subnet, no gateway), -EADDRINUSE
 * (pick_port gave up), -ENOBUFS (no connection slot), -ENOMEM (buffers). */
int net_tcp_connect(struct net_stack *s, uint32_t ip, uint16_t port, void *ctx,
                    struct tcp_conn **out);

/* Copy up to n bytes into the send ring. Returns the number taken (possibly 0:
 * on_writable follows once room opens), -EPIPE after close/shutdown,
 * -ECONNRESET / -ETIMEDOUT once the connection broke (on_closed follows),
 * -ENOTCONN before the handshake of a passive open finished. Segments are
 * built at net_flush. Never blocks. */
PHASE_ROOT ssize_t net_tcp_send(struct tcp_conn *c, const void *p, size_t n);

/* Stop (paused = 1) or resume (paused = 0) delivering input. While paused,
 * arriving bytes wait in the receive ring and the window closes as it fills,
 * until the peer's FIN arrives: then the rest and the end of stream are
 * delivered anyway (nothing more can come; a peer that half-closed and never
 * reads would otherwise hold the connection for good). Resumed input is
 * delivered at the next net_input_burst or net_flush. */
PHASE_ROOT void net_tcp_pause_input(struct tcp_conn *c, int paused);

/* 1 once the peer's FIN is in: its input ends with what the ring holds. */
int net_tcp_input_ended(const struct tcp_conn *c);

/* Close gracefully: queued bytes go out, then FIN. Input arriving afterwards
 * is acknowledged and discarded. on_closed(ctx, 0) follows at the next
 * net_flush; the stack finishes the close on its own. */
void net_tcp_close(struct tcp_conn *c);

/* Half-close: FIN after the queued bytes, keep receiving. Returns 0 or -EPIPE. */
int net_tcp_shutdown(struct tcp_conn *c);

/* Abort: send RST, drop both rings. on_closed(ctx, 0) follows. */
void net_tcp_abort(struct tcp_conn *c);

/* Keep-alive, as SO_KEEPALIVE with TCP_KEEPIDLE/KEEPINTVL/KEEPCNT: after
 * idle_ms without an ACK from the peer, a probe every intvl_ms; cnt probes
 * unanswered and the connection is reset and closed (on_closed with
 * -ETIMEDOUT). idle_ms 0 turns it off. */
void net_tcp_keepalive(struct tcp_conn *c, uint32_t idle_ms, uint32_t intvl_ms, uint8_t cnt);

void net_tcp_tuple(const struct tcp_conn *c, struct net_tuple *t);
/* Bytes the send ring can take now. */
size_t net_tcp_send_space(const struct tcp_conn *c);

#endif
