/* tcp_timer — the per-core timer wheel and what expiries do: tail loss
 * probe (RFC 8985 7.3, rexmt_at with TCP_LOSS_PTO, the RTO's own deadline
 * in rto_due), retransmission timeout (RFC 6298, backoff), SYN/SYN-ACK
 * retries, zero-window persist, delayed ACK, keep-alive (RFC 1122
 * 4.2.3.6), TIME_WAIT and orphaned FIN_WAIT_2 lifetimes. (RTT estimation,
 * tcp_rtt_sample, is in tcp_in.c, next to the ACK processing that feeds
 * it.)
 *
 * Call chain: net_timers → tcp_timers_run → tcp_timer_fire → tcp_output,
 *             tcp_send_loss_probe, tcp_retransmit_first, tcp_send_probe,
 *             tcp_send_keepalive, tcp_conn_gone
 * Owner: the stack's data core.
 *
 * Wheel: 4096 slots of 1 ms (one turn 4.1 s). A connection sits in at most
 * one slot, for the earliest of its deadlines (rexmt_at, dack_at, ka_at).
 * Moving a deadline later leaves it where it is (re-armed lazily when it fires
 * early): an RTO restarted by every ACK costs no list surgery. Deadlines
 * beyond one turn stay in their slot and are skipped until due; a
 * connection whose deadlines were all cleared stays in its slot until it
 * comes up (it is no expiration then). Work per call is bounded by a
 * budget of expirations and by one turn of slots. */
#include "net_priv.h"

static void wheel_unlink(struct tcp_stack *t, struct tcp_conn *c)
{
    if (c->wheel_tick == 0)
        return;
    if (c->wheel_prev)
        c->wheel_prev->wheel_next = c->wheel_next;
    else
        t->wheel[c->wheel_tick & (TCP_WHEEL_SLOTS - 1)] = c->wheel_next;
    if (c->wheel_next)
        c->wheel_next->wheel_prev = c->wheel_prev;
    c->wheel_prev = c->wheel_next = NULL;
    c->wheel_tick = 0;
    c->wheel_from_us = UINT64_MAX;
}

static void wheel_link(struct tcp_stack *t, struct tcp_conn *c, uint64_t tick)
{
    uint32_t slot;

    /* A deadline already passed waits for the next tick we visit. */
    if (tick <= t->wheel_now)
        tick = t->wheel_now + 1;
    slot = (uint32_t)(tick & (TCP_WHEEL_SLOTS - 1));
    c->wheel_tick = tick;
    c->wheel_from_us = (tick - 1) * TCP_TICK_US;
    c->wheel_prev = NULL;
    c->wheel_next = t->wheel[slot];
    if (c->wheel_next)
        c->wheel_next->wheel_prev = c;
    t->wheel[slot] = c;
}

void tcp_timer_relink(struct tcp_conn *c, uint64_t tick)
{
    struct tcp_stack *t = &c->s->tcp;

    wheel_unlink(t, c);
    wheel_link(t, c, tick);
}

void tcp_timer_stop(struct tcp_conn *c)
{
    c->rexmt_at = 0;
    c->dack_at = 0;
    c->ka_at = 0;
    c->persist = 0;
    c->loss &= (uint8_t)~TCP_LOSS_PTO;
    wheel_unlink(&c->s->tcp, c);
}

static unsigned retries(const struct tcp_conn *c)
{
    return c->app_closed ? c->s->cfg.orphan_retries : c->s->cfg.data_retries;
}

/* Retransmissions or probes exhausted. An orphan's peer may still be there
 * (answering probes with a shut window): tell it, as Linux resets orphans
 * it gives up on. */
static void give_up(struct tcp_conn *c)
{
    struct net_stack *s = c->s;

    s->cnt.tcp_conns_timedout++;
    if (c->app_closed) {
        s->cnt.tcp_orphans_reset++;
        tcp_send_rst(c);
    }
    tcp_conn_gone(c, -ETIMEDOUT);
}

static void rexmt_fire(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    const struct net_config *cfg = &s->cfg;
    uint32_t flight;

    switch (c->state) {
    case TCP_TIME_WAIT:
    case TCP_FIN_WAIT_2:
        tcp_conn_gone(c, 0);
        return;
    case TCP_SYN_SENT:
    case TCP_SYN_RECEIVED:
        if (++c->nrexmt > cfg->syn_retries) {
            if (c->state == TCP_SYN_SENT)
                s->cnt.tcp_conns_timedout++;
            tcp_conn_gone(c, -ETIMEDOUT);
            return;
        }
        c->syn_rexmt = 1;
        tcp_retransmit_first(c);
        tcp_arm_rexmt(c);
        return;
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
        break;
    default:
        return;
    }
    if (c->persist) {
        if (c->snd_wnd != 0) {
            c->persist = 0;
            c->nrexmt = 0;
            tcp_output(c);
            return;
        }
        /* RFC 1122 4.2.2.17: probe intervals grow exponentially; only
         * probes the peer leaves unanswered count toward giving up, but
         * every probe of an orphan (tcp_in.c). */
        if (++c->probes > retries(c)) {
            give_up(c);
            return;
        }
        if (c->nrexmt < 16)
            c->nrexmt++;
        tcp_send_probe(c);
        c->rexmt_at = s->now_us + tcp_rto_backed_off(c);
        return;
    }
    if (c->snd_una == c->snd_max) {
        /* Nothing in flight: bytes that found no mbuf earlier, if any. */
        c->loss &= (uint8_t)~TCP_LOSS_PTO;
        tcp_output(c);
        return;
    }
    if (c->loss & TCP_LOSS_PTO) {
        /* RFC 8985 7.3: the probe, then the RTO from now. Recovery or a
         * closed window since it was armed: the RTO it stood in front of. */
        c->loss &= (uint8_t)~TCP_LOSS_PTO;
        if (tcp_tlp_allowed(c)) {
            tcp_send_loss_probe(c);
            tcp_arm_rexmt(c);
            return;
        }
        /* SACK recovery, nothing sent and nothing acknowledged for a probe
         * timeout since the retransmission at snd_una: it went missing
         * too. Once more, once (RFC 8985 6.2 would call it lost as soon as
         * anything sent after it arrived; with nothing after it, the RTO
         * alone would, collapsing cwnd to one segment). */
        if (c->in_recovery && c->sack_ok && !c->rxt_probed && c->snd_una == c->rxt_una_seq &&
            seq_lt(c->snd_una, c->high_rxt)) {
            c->rxt_probed = 1;
            tcp_sack_rxt_lost(c);
            c->rexmt_at = c->rto_due > s->now_us ? c->rto_due : s->now_us + tcp_rto_backed_off(c);
            return;
        }
        if (c->rto_due > s->now_us) {
            c->rexmt_at = c->rto_due;
            return;
        }
    }
    s->cnt.tcp_rto_fired++;
    if (++c->nrexmt > retries(c)) {
        give_up(c);
        return;
    }
    flight = c->snd_max - c->snd_una;
    /* RFC 5681 3.1 (4): half the flight, at least two segments; loss window
     * of one segment. RFC 6582 4: recover = highest sequence sent. */
    c->ssthresh = flight / 2 > 2u * c->mss ? flight / 2 : 2u * c->mss;
    c->cwnd = c->mss;
    c->in_recovery = 0;
    c->dupacks = 0;
    c->recover = c->snd_max;
    /* RFC 6675 5.1: the receiver may have reneged; what it still holds it
     * SACKs again with its next ACKs, and the resend skips that. */
    c->nsacked = 0;
    /* RTO recovery; the timeout's response covers any probe's */
    c->loss = TCP_LOSS_RTO;
    c->rtt_timing = 0;                  /* Karn */
    if (c->snd_wnd == 0) {
        /* A window that closed with data in flight: probe, do not count
         * the peer's silence as loss. */
        c->snd_nxt = c->snd_una;
        c->persist = 1;
        c->nrexmt = 0;
        c->probes = 1;
        tcp_send_probe(c);
        c->rexmt_at = s->now_us + tcp_rto_backed_off(c);
        return;
    }
    /* Go back: resend from snd_una as the (one-segment) window allows. */
    c->snd_nxt = c->snd_una;
    tcp_output(c);
    if (c->rexmt_at == 0)
        tcp_arm_rexmt(c);
}

/* Keep-alive (RFC 1122 4.2.3.6): after ka_idle_ms without an acceptable
 * ACK, probe every ka_intvl_ms with a segment one below snd_una, which the
 * peer must answer with an ACK; ka_cnt probes unanswered and the peer is
 * gone: reset and free the connection, as Linux does. The idle clock is
 * rx_us, stored by every ACK; the deadline itself moves only when it
 * fires, so the data path never touches the wheel for it. A connection
 * that retransmits or probes its window has those give-ups instead. */
static void keepalive_fire(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint64_t now = s->now_us, idle_us = (uint64_t)c->ka_idle_ms * 1000;

    if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)
        return;
    if (c->rexmt_at != 0 || c->snd_una != c->snd_max) {
        c->ka_probes = 0;
        c->ka_at = now + idle_us;
        return;
    }
    if (c->ka_probes > 0 && c->rx_us >= c->ka_sent_us)
        c->ka_probes = 0;            /* answered: idle again from the answer */
    if (c->ka_probes == 0 && now - c->rx_us < idle_us) {
        c->ka_at = c->rx_us + idle_us;
        return;
    }
    if (c->ka_probes >= c->ka_cnt) {
        s->cnt.tcp_keepalive_timeouts++;
        tcp_send_rst(c);
        tcp_conn_gone(c, -ETIMEDOUT);
        return;
    }
    c->ka_probes++;
    c->ka_sent_us = now;
    s->cnt.tcp_keepalive_probes++;
    tcp_send_keepalive(c);
    c->ka_at = now + (uint64_t)c->ka_intvl_ms * 1000;
}

/* Returns 1 when a deadline expired, 0 for a stale or early entry. */
static int tcp_timer_fire(struct tcp_conn *c, uint64_t now)
{
    int fired = 0;

    if (c->dack_at && c->dack_at <= now) {
        c->dack_at = 0;
        fired = 1;
        if (c->ack_owed)
            tcp_send_ack(c);
    }
    if (c->rexmt_at && c->rexmt_at <= now) {
        c->rexmt_at = 0;
        fired = 1;
        rexmt_fire(c);
    }
    if (c->ka_at && c->ka_at <= now && c->state != TCP_CLOSED) {
        c->ka_at = 0;
        fired = 1;
        keepalive_fire(c);
    }
    if (c->state != TCP_CLOSED)
        tcp_timer_sync(c);
    return fired;
}

unsigned tcp_timers_run(struct net_stack *s, uint64_t now_us, unsigned budget)
{
    struct tcp_stack *t = &s->tcp;
    uint64_t target = now_us / TCP_TICK_US;
    uint64_t span, tick;
    unsigned fired = 0;

    if (target <= t->wheel_now)
        return 0;
    span = target - t->wheel_now;
    if (span > TCP_WHEEL_SLOTS)
        span = TCP_WHEEL_SLOTS;
    tick = t->wheel_now;
    for (uint64_t i = 0; i < span; i++) {
        uint32_t slot;
        struct tcp_conn *c;

        tick++;
        /* A deadline re-armed into the past while this slot runs goes to
         * the next one (wheel_link), not behind the cursor. */
        t->wheel_now = tick;
        slot = (uint32_t)(tick & (TCP_WHEEL_SLOTS - 1));
        c = t->wheel[slot];
        while (c != NULL) {
            struct tcp_conn *next = c->wheel_next;

            if (c->wheel_tick <= target) {
                if (fired == budget) {
                    /* Out of budget: revisit this slot next call. */
                    t->wheel_now = tick - 1;
                    return fired;
                }
                wheel_unlink(t, c);
                fired += (unsigned)tcp_timer_fire(c, now_us);
            }
            c = next;
        }
    }
    /* Every slot visited once covers every deadline up to target. */
    t->wheel_now = target;
    return fired;
}
