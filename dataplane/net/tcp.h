/* tcp — connection state and the calls between tcp_in.c (segment arrival),
 * tcp_out.c (segment building, retransmission), tcp_timer.c (timer wheel,
 * RTO) and tcp_conn.c (connection table, lifecycle, app-facing lists).
 * Private to dataplane/net/.
 *
 * Owner: one data core. A struct tcp_conn lives in the stack's array from
 * SYN (or connect) to reaping; reaping happens only in net_flush (and
 * net_stack_free), so no function that was handed a connection sees it
 * freed under it, upcalls included.
 *
 * Sequence numbers: every comparison is a signed 32-bit difference
 * (seq_lt & co.), so wraparound at 2^32 is harmless (RFC 9293 3.4).
 *
 * Send ring: bytes [snd_buf_seq, snd_buf_seq + sring.len) are the app's bytes
 * not yet acknowledged; [snd_una, snd_nxt) of them are in flight. The FIN, when
 * queued, has sequence number snd_buf_seq + sring.len.
 * Receive ring: rring.len in-order bytes wait for the app at rring.head;
 * rcv_nxt is the sequence number of ring position head + len; out-of-order
 * bytes are copied at their place beyond it and listed in ooo[]. */
#ifndef SLOTD_NET_TCP_H
#define SLOTD_NET_TCP_H

#include <stdint.h>
#include <rte_ether.h>

#include "net.h"

struct net_stack;
struct rte_mbuf;
struct rte_ipv4_hdr;

static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }

/* RFC 9293 3.3.2 state names. */
enum tcp_state {
    TCP_CLOSED = 0,
    TCP_SYN_SENT,
    TCP_SYN_RECEIVED,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT_1,
    TCP_FIN_WAIT_2,
    TCP_CLOSE_WAIT,
    TCP_CLOSING,
    TCP_LAST_ACK,
    TCP_TIME_WAIT,
};

const char *tcp_state_name(unsigned st);

#define TCP_F_FIN 0x01
#define TCP_F_SYN 0x02
#define TCP_F_RST 0x04
#define TCP_F_PSH 0x08
#define TCP_F_ACK 0x10
#define TCP_F_URG 0x20

#define TCP_HLEN 20
/* tcp_conn.loss: one byte, so that the ACK path tests them all at once */
#define TCP_LOSS_RTO 0x01            /* after an RTO, until snd_una reaches recover */
#define TCP_LOSS_PTO 0x02            /* rexmt_at is the loss probe timer (RFC 8985 7.2) */
#define TCP_LOSS_PROBED 0x04         /* a loss probe went out, no ACK advanced since */
#define TCP_LOSS_PROBE_OLD 0x08      /* a probe ending at tlp_end_seq resent old data:
                                        did it repair a loss? (RFC 8985 7.4.3) */
#define TCP_OPT_TS_LEN 12            /* NOP NOP kind 8 len 10 (RFC 7323 3.2 layout) */
/* Ethernet 14 + IPv4 20 + TCP 20 + timestamp option 12 */
#define TCP_HDR_TMPL 66
#define TCP_DEFAULT_MSS 536          /* RFC 9293 3.7.1: MSS when the option is absent */
#define TCP_MAX_WSCALE 14            /* RFC 7323 2.3 */
/* Out-of-order ranges kept per connection: 8 holes per window is far more
 * than random loss of a few percent makes, and keeps the merge a short
 * array walk. A ninth hole's segment is dropped and counted. */
#define TCP_OOO_MAX 8
/* RFC 2018 3: a SACK option holds at most 4 blocks (40 bytes of options);
 * with timestamps 3 fit, NOP NOP kind len and 8 bytes a block. */
#define TCP_SACK_BLOCKS 4
#define TCP_SACK_BLOCKS_TS 3
#define TCP_OPT_SACK_MAX (4 + 8 * TCP_SACK_BLOCKS)
/* SACKed ranges the sender keeps (RFC 6675 scoreboard): the receiver
 * holds at most its own out-of-order limit, 8 here and a handful of
 * holes per window under a few percent of loss elsewhere. When full, the
 * range farthest from snd_una is forgotten: its bytes only count as not
 * delivered (a needless retransmission at worst, never a missed one). */
#define TCP_SACK_MAX 8
#define TCP_DUPTHRESH 3              /* RFC 6675 2 DupThresh, RFC 5681 3.2 */
/* 4096 slots of 1 ms, one turn 4.1 s: RTOs, delayed ACKs and a short
 * TIME_WAIT land within one turn; longer deadlines wait a turn or more. */
#define TCP_WHEEL_BITS 12
#define TCP_WHEEL_SLOTS (1u << TCP_WHEEL_BITS)
#define TCP_TICK_US 1000
/* RFC 7323 5.5: a ts_recent this old (24 days) is no longer valid */
#define TCP_PAWS_IDLE_US (24ull * 86400 * 1000000)
/* Linux's tcp_invalid_ratelimit: at most one ACK per this for refused
 * segments without data (tcp_send_refusal_ack) */
#define TCP_REFUSAL_ACK_US 500000

struct tcp_key {                     /* network byte order, as in the headers */
    uint32_t rip, lip;
    uint16_t rport, lport;
};

struct tcp_ring {
    uint8_t *buf;
    uint32_t cap;                    /* power of two */
    uint32_t head;                   /* free-running index of the first byte */
    uint32_t len;
};

struct tcp_range {
    uint32_t lo, hi;                 /* [lo, hi) in sequence space */
};

struct tcp_conn {
    struct tcp_key key;
    uint32_t hash;
    uint8_t state;
    uint8_t dupacks;
    uint8_t nooo;
    uint8_t nrexmt;                  /* consecutive timeouts: the RTO backoff */
    uint8_t probes;                  /* zero-window probes since the peer last answered */
    uint8_t loss;                    /* TCP_LOSS_* */
    /* shift applied to the peer's / our window; both 0 unless ws_ok (set
     * together by the SYN's options), so the per-segment shifts need no
     * test of ws_ok */
    uint8_t snd_wscale, rcv_wscale;
    uint16_t mss;                    /* payload bytes per segment (options excluded) */
    uint16_t peer_mss;
    uint16_t segs_unacked;           /* in-order data segments since our last ACK */

    unsigned passive : 1;            /* created by a SYN to a listener */
    unsigned mac_ok : 1;             /* peer_mac learned */
    unsigned app_live : 1;           /* the app holds it (on_closed not yet delivered) */
    unsigned app_closed : 1;         /* net_tcp_close or abort was called */
    unsigned paused : 1;             /* net_tcp_pause_input(c, 1) */
    unsigned app_full : 1;           /* on_data took fewer bytes than offered */
    unsigned want_writable : 1;
    unsigned fin_queued : 1;         /* our FIN follows the ring's last byte */
    unsigned rcvd_fin : 1;           /* the peer's FIN was processed */
    unsigned ooo_fin : 1;            /* a FIN at ooo_fin_seq waits for the gap */
    unsigned eof_sent : 1;           /* on_data(NULL, 0) delivered */
    unsigned ts_ok : 1, ws_ok : 1;   /* RFC 7323 options negotiated */
    unsigned sack_ok : 1;            /* RFC 2018 SACK-permitted both ways */
    unsigned ack_owed : 1;           /* some ACK must go out (may be delayed) */
    unsigned ack_now : 1;            /* ... at this flush */
    unsigned in_recovery : 1;        /* RFC 6582 fast recovery */
    unsigned rtt_timing : 1;
    unsigned persist : 1;            /* rexmt_at is the zero-window probe timer */
    unsigned syn_rexmt : 1;          /* our SYN was retransmitted (RFC 6298 5.7) */
    /* membership of the stack's lists (a conn is reaped only when all clear) */
    unsigned on_dirty : 1, on_deliver : 1, on_writable : 1, on_closed : 1, on_reap : 1;
    unsigned fifo : 2;               /* 0 none, 1 half-open FIFO, 2 TIME_WAIT FIFO */
    unsigned hashed : 1;             /* in the connection table */
    unsigned in_use : 1;             /* not on the free list */

    int close_err;                   /* for on_closed */
    void *ctx;
    struct net_stack *s;
    struct rte_ether_addr peer_mac;

    /* send sequence variables, RFC 9293 3.3.1 */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
    uint32_t max_sndwnd;
    uint32_t snd_buf_seq;
    uint32_t cwnd, ssthresh, recover;   /* RFC 5681, RFC 6582 */
    uint32_t tlp_end_seq;               /* RFC 8985 7.3 TLP.end_seq */
    struct tcp_ring sring;
    /* receive sequence variables */
    uint32_t irs, rcv_nxt, rcv_adv;     /* rcv_adv: right edge last advertised */
    uint32_t rcv_space;                 /* window basis: rring.cap minus slack */
    /* set with rcv_space / rcv_wscale, read by every segment sent: half
     * of rcv_space, the SWS threshold min(rcv_space / 2, MSS) and the
     * largest window the scale can say (65535 << rcv_wscale) */
    uint32_t rcv_half, rcv_sws, rcv_wmax;
    uint32_t ooo_fin_seq;
    struct tcp_ring rring;
    struct tcp_range ooo[TCP_OOO_MAX];
    /* RFC 2018 4: a byte of each of the latest out-of-order segments,
     * newest first; the first SACK block reports the newest, the next
     * ones repeat the blocks reported most recently. */
    uint32_t sack_recent[TCP_SACK_BLOCKS];
    uint8_t nsack_recent;
    /* RFC 6675 scoreboard: SACKed ranges above snd_una, sorted, disjoint,
     * within [snd_una, snd_max]. high_rxt: RFC 6675 HighRxt, the end of
     * the highest range retransmitted in this recovery. */
    uint8_t nsacked;
    uint8_t rescued;                 /* RFC 6675 4 (4) rescue sent in this recovery */
    uint8_t rxt_probed;              /* the probe timer resent rxt_una_seq's segment */
    struct tcp_range sacked[TCP_SACK_MAX];
    uint32_t high_rxt;
    uint32_t lost_hi;                /* in recovery: unSACKed bytes below are lost */
    /* The segment at rxt_una_seq was resent when snd_max was rxt_fence:
     * bytes from the fence on SACKed while it is still unacknowledged
     * left after it and arrived, so it was lost again (RFC 8985 6.2's
     * rule, for the one retransmission that blocks the window). */
    uint32_t rxt_una_seq, rxt_fence;
    /* RFC 7323 */
    uint32_t ts_recent, last_ack_sent, ts_offset;
    /* RFC 6298, microseconds */
    uint32_t srtt_us, rttvar_us, rto_us;
    uint32_t pto_us;                 /* RFC 8985 7.2 2 SRTT, from each sample; 0: no probes */
    uint32_t rtt_seq;
    uint64_t rtt_start_us;

    /* The Ethernet, IPv4 and TCP headers (timestamp option included when
     * negotiated) every segment of the synchronized connection starts
     * with, built once (tcp_out.c): a segment copies them and patches the
     * fields that change. hdr_len 0: not built yet. hdr_ipsum: sum of the
     * IPv4 header without its length; hdr_phsum: pseudo-header sum without
     * the TCP length. */
    uint8_t hdr[TCP_HDR_TMPL];
    uint8_t hdr_len;
    uint32_t hdr_ipsum;
    uint64_t hdr_phsum;

    /* timers (0 = off) and the wheel */
    uint64_t rexmt_at;               /* RTO, PTO, persist, SYN, TIME_WAIT, FIN_WAIT_2 */
    uint64_t rto_due;                /* the RTO's deadline while rexmt_at is the PTO */
    uint64_t dack_at;
    uint64_t ka_at;                  /* keep-alive check (RFC 1122 4.2.3.6) */
    uint64_t rx_us;                  /* last acceptable ACK: keep-alive idleness, PAWS age */
    uint64_t wheel_tick;             /* tick it sits in the wheel for; 0 = not */
    uint64_t wheel_from_us;          /* (wheel_tick - 1) ticks; UINT64_MAX when not */
    struct tcp_conn *wheel_prev, *wheel_next;

    /* lists */
    struct tcp_conn *fifo_prev, *fifo_next;   /* also the free list */
    struct tcp_conn *dirty_next, *deliver_next, *writable_next, *closed_next, *reap_next;

    /* rarely touched: after the lists, off the lines every segment reads */
    uint64_t oow_next_us;            /* earliest ACK for another refused segment
                                        without data (tcp_send_refusal_ack) */
    uint64_t ka_sent_us;             /* the last keep-alive probe */
    uint32_t ka_idle_ms, ka_intvl_ms;   /* net_tcp_keepalive; idle 0: off */
    uint8_t ka_cnt, ka_probes;       /* probes allowed / sent unanswered */
};

struct tcp_list {
    struct tcp_conn *head, *tail;
};

struct tcp_stack {
    struct tcp_conn *conns;
    unsigned nconns;
    struct tcp_conn *free;
    struct tcp_conn **table;         /* open addressing, NULL = empty */
    uint32_t table_mask;
    uint16_t listen[NET_MAX_LISTEN]; /* network order */
    unsigned nlisten;
    uint16_t next_port;              /* default pick_port cursor */
    uint32_t sbuf_cap, rbuf_cap;     /* ring sizes, powers of two */
    uint8_t wscale;                  /* the shift we offer */
    uint32_t tlp_delay_us;           /* cfg.tlp_ack_delay_ms, in the clock's unit */
    uint32_t rto_min_us, rto_max_us; /* cfg.rto_min_ms, rto_max_ms in it (RFC 6298 2.4, 2.5) */

    struct tcp_list dirty, deliver, writable, closed, reap;
    struct tcp_list half_open, time_wait;   /* doubly linked via fifo_* */

    struct tcp_conn *wheel[TCP_WHEEL_SLOTS];
    uint64_t wheel_now;              /* last tick fully processed */

    uint64_t chal_second;            /* RFC 5961 7 rate-limit window */
    unsigned chal_count, chal_budget;   /* sent / allowed this second */
};

/* A received segment, parsed. Lives on the caller's stack. */
struct tcp_seg {
    struct rte_mbuf *m;
    /* What the options said, has_mss to tsecr: 16 bytes at offset 8, the
     * only part tcp_input zeroes (one or two aligned stores; every other
     * field is assigned, and sack[] is read only up to nsack). */
    uint8_t has_mss, has_ws, has_ts, has_sackok;
    uint8_t ws;
    uint8_t nsack;                   /* SACK blocks in sack[] (RFC 2018 3) */
    uint16_t opt_mss;
    uint32_t tsval, tsecr;
    struct tcp_key key;
    uint32_t seq, ack;
    uint32_t len;                    /* payload bytes (SYN/FIN excluded) */
    uint32_t off;                    /* payload offset in m */
    uint16_t wnd;
    uint8_t flags;
    /* in m's Ethernet header: copied only by the paths that keep it */
    const struct rte_ether_addr *src_mac;
    struct tcp_range sack[TCP_SACK_BLOCKS];
};

/* tcp_conn.c (tcp_hash, tcp_lookup, tcp_mark_dirty and tcp_now_ms are
 * inline in net_priv.h: every segment calls them) */
int tcp_init(struct net_stack *s);
void tcp_fini(struct net_stack *s);
int tcp_is_listening(const struct net_stack *s, uint16_t port_be);
/* A fresh connection in TCP_CLOSED, hashed under k, or NULL (counted). */
struct tcp_conn *tcp_conn_new(struct net_stack *s, const struct tcp_key *k, uint32_t h);
int tcp_conn_buffers(struct tcp_conn *c);
void tcp_set_state(struct tcp_conn *c, unsigned st);
/* The connection is finished: CLOSED, unhashed, timers off; the app (if it
 * still holds it and has not closed) hears on_closed(err) at net_flush. */
void tcp_conn_gone(struct tcp_conn *c, int err);
void tcp_enter_time_wait(struct tcp_conn *c);
/* Free c at once when nothing refers to it, else tcp_conn_gone(c, 0).
 * For half-open eviction and TIME_WAIT reuse; c must not be in use up the
 * call stack. */
void tcp_conn_evict(struct tcp_conn *c);
void tcp_mark_deliver(struct tcp_conn *c);
void tcp_mark_writable(struct tcp_conn *c);
void tcp_schedule_closed(struct tcp_conn *c, int err);
/* Upcall lists: run at the end of input, and in net_flush. */
void tcp_run_deliver(struct net_stack *s);
void tcp_run_writable(struct net_stack *s);
void tcp_run_closed(struct net_stack *s);
void tcp_run_reap(struct net_stack *s);
uint32_t tcp_isn(struct net_stack *s, const struct tcp_key *k);

/* tcp_in.c */
/* The cache-warming pass over a burst (net_upcalls.on_peek), before
 * net_input_burst processes it: headers are only looked at, nothing is
 * checked, counted or changed. */
void tcp_peek_burst(struct net_stack *s, struct rte_mbuf **pkts, unsigned n);
void tcp_input(struct net_stack *s, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
               uint32_t l4off, uint32_t l4len);
/* Give buffered input to the app as far as it takes it. */
void tcp_deliver(struct tcp_conn *c);
/* tcp_wnd_field (the window field of a segment sent now, scaled; rcv_adv
 * moves with it) and tcp_window_update_due (whether the window opened
 * enough since the last advertisement to be worth an update): inline in
 * net_priv.h */

/* tcp_out.c */
/* Send what the windows allow from the ring, then any ACK still owed. */
void tcp_output(struct tcp_conn *c);
void tcp_send_syn(struct tcp_conn *c);           /* SYN or SYN-ACK by state */
void tcp_send_ack(struct tcp_conn *c);           /* pure ACK, now */
void tcp_send_challenge_ack(struct tcp_conn *c); /* rate-limited, RFC 5961 */
/* The ACK RFC 9293 asks for a refused segment (outside the window, PAWS,
 * an ACK of nothing sent or older than the window), rate-limited when the
 * segment carries no data. */
void tcp_send_refusal_ack(struct tcp_conn *c, const struct tcp_seg *g);
/* The same, to `mac` (a SYN's source) without changing where the
 * connection's segments go. */
void tcp_send_challenge_ack_to(struct tcp_conn *c, const struct rte_ether_addr *mac);
void tcp_send_rst(struct tcp_conn *c);           /* RST for an open connection */
/* RST answering segment g for which no connection exists (RFC 9293 3.10.7.1). */
void tcp_send_rst_reply(struct net_stack *s, const struct tcp_seg *g);
/* Retransmit one segment from snd_una (fast retransmit, partial ACK). */
void tcp_retransmit_first(struct tcp_conn *c);
/* One segment of data never sent (or the FIN alone), at most max bytes,
 * as far as the peer's window allows but regardless of cwnd: for loss
 * probes and limited transmit. Needs snd_nxt == snd_max. Returns 1 when it
 * went, 0 when nothing new fits the window (or no mbuf). */
int tcp_send_new_segment(struct tcp_conn *c, uint32_t max);
/* The RFC 8985 7.3 loss probe: one new segment when the peer's window
 * takes it, else the last segment sent again; records tlp_end_seq. */
void tcp_send_loss_probe(struct tcp_conn *c);
/* One byte at snd_una into a zero window (RFC 9293 3.8.6.1). */
void tcp_send_probe(struct tcp_conn *c);
/* Keep-alive probe: no data, one below snd_una (RFC 1122 4.2.3.6) */
void tcp_send_keepalive(struct tcp_conn *c);
void tcp_flush_dirty(struct net_stack *s);
/* Segment payload per segment for this connection. */
uint32_t tcp_eff_mss(const struct tcp_conn *c);
/* RFC 6675 loss recovery: enter it (the first hole goes at once), and
 * send what the pipe allows: holes, then new data. */
void tcp_sack_enter_recovery(struct tcp_conn *c);
/* RFC 6675 IsLost for the hole below scoreboard range k: DupThresh
 * ranges, or more than DupThresh - 1 segments' bytes, SACKed above it. */
int tcp_sack_hole_lost(const struct tcp_conn *c, unsigned k);
void tcp_sack_output(struct tcp_conn *c);
/* The retransmission at snd_una was lost (rxt_fence): once more. Timers
 * are the caller's. */
void tcp_sack_rxt_lost(struct tcp_conn *c);
/* The SACK blocks for an ACK sent now, at most max: RFC 2018 4 order.
 * Returns the option's length (0: none), the bytes at p. */
uint32_t tcp_sack_option(struct tcp_conn *c, uint8_t *p, unsigned max);

/* tcp_timer.c */
/* tcp_timer_sync, tcp_arm_rexmt, tcp_arm_loss_timer, tcp_rto_backed_off:
 * inline in net_priv.h */
void tcp_timer_relink(struct tcp_conn *c, uint64_t tick);   /* into the slot of tick */
void tcp_timer_stop(struct tcp_conn *c);         /* both off, out of the wheel */
unsigned tcp_timers_run(struct net_stack *s, uint64_t now_us, unsigned budget);

#endif
