/* tcp_conn — the per-core connection table and a connection's life: slots,
 * 4-tuple lookup, state bookkeeping, rings, the app-facing lists (deliver,
 * writable, closed) and reaping; active open and listen.
 *
 * Call chain: tcp_input → tcp_lookup (inline, net_priv.h) | tcp_conn_new
 *             net_flush → tcp_run_deliver/_writable/_closed → upcalls; tcp_run_reap
 *             app → net_tcp_connect → tcp_send_syn
 * Owner: the stack's data core.
 *
 * Table: open addressing over struct tcp_conn pointers, linear probing,
 * backward-shift deletion, at least twice as many slots as connections, so a
 * miss stops within a few probes. rte_hash would do as well but needs EAL
 * memory for tests and fuzzing, and its multi-writer machinery buys nothing
 * on a table only one core touches.
 * Connection structs: one array sized max_conns at creation, a free list.
 * When it is empty a TIME_WAIT connection is recycled (oldest first); a SYN
 * meeting a full half-open table evicts the oldest half-open connection
 * (SYN-flood bound: memory never grows with the flood). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <rte_byteorder.h>

#include "../mem.h"
#include "net_priv.h"

#define TCP_LIST_PUSH(l, c, field) do {            \
        (c)->field = NULL;                         \
        if ((l)->tail)                             \
            (l)->tail->field = (c);                \
        else                                       \
            (l)->head = (c);                       \
        (l)->tail = (c);                           \
    } while (0)

static const char *const state_names[] = {
    "CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(unsigned st)
{
    return st < sizeof(state_names) / sizeof(state_names[0]) ? state_names[st] : "?";
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

int tcp_init(struct net_stack *s)
{
    struct tcp_stack *t = &s->tcp;
    uint32_t slots = pow2_at_least(s->cfg.max_conns * 2 < 16 ? 16 : s->cfg.max_conns * 2);

    t->nconns = s->cfg.max_conns;
    t->conns = mem_calloc(sizeof(struct tcp_conn) * t->nconns);
    t->table = mem_calloc(sizeof(struct tcp_conn *) * slots);
    if (t->conns == NULL || t->table == NULL)
        return -ENOMEM;
    t->table_mask = slots - 1;
    for (unsigned i = t->nconns; i-- > 0;) {
        t->conns[i].fifo_next = t->free;
        t->free = &t->conns[i];
    }
    t->sbuf_cap = pow2_at_least(s->cfg.sndbuf);
    t->rbuf_cap = pow2_at_least(s->cfg.rcvbuf);
    t->wscale = 0;
    if (s->cfg.wscale)
        while ((t->rbuf_cap >> t->wscale) > 65535 && t->wscale < TCP_MAX_WSCALE)
            t->wscale++;
    t->next_port = s->cfg.eph_lo;
    t->chal_second = UINT64_MAX;     /* no second yet: the first draws a budget */
    t->tlp_delay_us = s->cfg.tlp_ack_delay_ms * 1000;
    t->rto_min_us = s->cfg.rto_min_ms * 1000;
    t->rto_max_us = s->cfg.rto_max_ms * 1000;
    return 0;
}

static void tcp_free_rings(struct tcp_conn *c)
{
    struct net_stack *s = c->s;

    if (c->sring.buf) {
        mem_free(c->sring.buf);
        s->cnt.tcp_buf_bytes -= c->sring.cap;
    }
    if (c->rring.buf) {
        mem_free(c->rring.buf);
        s->cnt.tcp_buf_bytes -= c->rring.cap;
    }
    memset(&c->sring, 0, sizeof(c->sring));
    memset(&c->rring, 0, sizeof(c->rring));
}

void tcp_fini(struct net_stack *s)
{
    struct tcp_stack *t = &s->tcp;

    if (t->conns)
        for (unsigned i = 0; i < t->nconns; i++)
            if (t->conns[i].in_use)
                tcp_free_rings(&t->conns[i]);
    mem_free(t->conns);
    mem_free(t->table);
    t->conns = NULL;
    t->table = NULL;
}

/* ---- hashing: SipHash-2-4 (Aumasson & Bernstein) for ISNs; the table's
 * hash is tcp_hash in net_priv.h. */

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND do {                                                  \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);  \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                       \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                       \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);  \
    } while (0)

/* SipHash-2-4 of the 12-byte key: words m0 (addresses) and m1 (ports plus
 * the length byte in the top, as the algorithm's last block carries it). */
static uint64_t siphash_key(const uint64_t k[2], const struct tcp_key *key)
{
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ull, v1 = k[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ull, v3 = k[1] ^ 0x7465646279746573ull;
    uint64_t m0 = (uint64_t)key->rip | ((uint64_t)key->lip << 32);
    uint64_t m1 = (uint64_t)key->rport | ((uint64_t)key->lport << 16) | (12ull << 56);

    v3 ^= m0; SIPROUND; SIPROUND; v0 ^= m0;
    v3 ^= m1; SIPROUND; SIPROUND; v0 ^= m1;
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t tcp_isn(struct net_stack *s, const struct tcp_key *k)
{
    if (s->hooks.isn) {
        struct net_tuple t = {
            .lip = rte_be_to_cpu_32(k->lip), .rip = rte_be_to_cpu_32(k->rip),
            .lport = rte_be_to_cpu_16(k->lport), .rport = rte_be_to_cpu_16(k->rport),
        };
        return s->hooks.isn(s->hooks.arg, &t);
    }
    /* RFC 6528 3: ISN = M + F(4-tuple, secret), M a 4 us clock. */
    return (uint32_t)(s->now_us / 4) + (uint32_t)siphash_key(s->cfg.secret, k);
}

static void table_insert(struct tcp_stack *t, struct tcp_conn *c)
{
    uint32_t i = c->hash & t->table_mask;

    while (t->table[i] != NULL)
        i = (i + 1) & t->table_mask;
    t->table[i] = c;
    c->hashed = 1;
}

static void table_remove(struct tcp_stack *t, struct tcp_conn *c)
{
    uint32_t i = c->hash & t->table_mask, j;

    if (!c->hashed)
        return;
    while (t->table[i] != c)
        i = (i + 1) & t->table_mask;
    j = i;
    for (;;) {
        uint32_t k;

        j = (j + 1) & t->table_mask;
        if (t->table[j] == NULL)
            break;
        k = t->table[j]->hash & t->table_mask;
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        t->table[i] = t->table[j];
        i = j;
    }
    t->table[i] = NULL;
    c->hashed = 0;
}

int tcp_is_listening(const struct net_stack *s, uint16_t port_be)
{
    for (unsigned i = 0; i < s->tcp.nlisten; i++)
        if (s->tcp.listen[i] == port_be)
            return 1;
    return 0;
}

int net_listen(struct net_stack *s, uint16_t port)
{
    uint16_t p = rte_cpu_to_be_16(port);

    if (tcp_is_listening(s, p))
        return -EEXIST;
    if (s->tcp.nlisten == NET_MAX_LISTEN)
        return -ENOSPC;
    s->tcp.listen[s->tcp.nlisten++] = p;
    return 0;
}

/* ---- FIFOs (half-open, TIME_WAIT): doubly linked so either end can leave */

static void fifo_remove(struct tcp_conn *c)
{
    struct tcp_list *l;

    if (c->fifo == 0)
        return;
    l = c->fifo == 1 ? &c->s->tcp.half_open : &c->s->tcp.time_wait;
    if (c->fifo_prev)
        c->fifo_prev->fifo_next = c->fifo_next;
    else
        l->head = c->fifo_next;
    if (c->fifo_next)
        c->fifo_next->fifo_prev = c->fifo_prev;
    else
        l->tail = c->fifo_prev;
    c->fifo_prev = c->fifo_next = NULL;
    c->fifo = 0;
}

static void fifo_push(struct tcp_conn *c, unsigned which)
{
    struct tcp_list *l = which == 1 ? &c->s->tcp.half_open : &c->s->tcp.time_wait;

    c->fifo = which & 3;
    c->fifo_next = NULL;
    c->fifo_prev = l->tail;
    if (l->tail)
        l->tail->fifo_next = c;
    else
        l->head = c;
    l->tail = c;
}

static int tcp_conn_idle(const struct tcp_conn *c)
{
    return !c->app_live && !c->on_dirty && !c->on_deliver && !c->on_writable &&
           !c->on_closed && !c->on_reap;
}

/* Back to the free list. Only for a connection on no list and unknown to
 * the app. */
static void tcp_conn_release(struct tcp_conn *c)
{
    struct net_stack *s = c->s;

    tcp_set_state(c, TCP_CLOSED);
    table_remove(&s->tcp, c);
    tcp_timer_stop(c);
    fifo_remove(c);
    tcp_free_rings(c);
    c->in_use = 0;
    s->cnt.tcp_conns_open--;
    c->fifo_next = s->tcp.free;
    s->tcp.free = c;
}

void tcp_conn_evict(struct tcp_conn *c)
{
    if (tcp_conn_idle(c))
        tcp_conn_release(c);
    else
        tcp_conn_gone(c, 0);
}

struct tcp_conn *tcp_conn_new(struct net_stack *s, const struct tcp_key *k, uint32_t h)
{
    struct tcp_stack *t = &s->tcp;
    struct tcp_conn *c = t->free;

    if (c == NULL) {
        /* Recycle the oldest TIME_WAIT connection that nothing refers to;
         * the first few are enough: only one with an ACK pending is busy. */
        unsigned n = 0;

        for (c = t->time_wait.head; c != NULL && n < 8; c = c->fifo_next, n++)
            if (tcp_conn_idle(c))
                break;
        if (c == NULL || n == 8) {
            NET_DROP(s, tcp_conn_full);
            return NULL;
        }
        tcp_conn_release(c);
        c = t->free;
    }
    t->free = c->fifo_next;
    memset(c, 0, sizeof(*c));
    c->wheel_from_us = UINT64_MAX;
    c->s = s;
    c->in_use = 1;
    c->key = *k;
    c->hash = h;
    c->peer_mss = TCP_DEFAULT_MSS;
    c->rto_us = s->cfg.rto_init_ms * 1000;
    c->rx_us = s->now_us;            /* PAWS ages ts_recent from here */
    c->ssthresh = UINT32_MAX;        /* RFC 5681 3.1: arbitrarily high at first */
    tcp_set_rcv_space(c, s->tcp.rbuf_cap - (s->tcp.wscale ? (1u << s->tcp.wscale) : 0));
    c->rcv_wmax = 65535;
    table_insert(t, c);
    s->cnt.tcp_conns_open++;
    return c;
}

int tcp_conn_buffers(struct tcp_conn *c)
{
    struct net_stack *s = c->s;
    uint32_t sc = s->tcp.sbuf_cap, rc = s->tcp.rbuf_cap;

    if (s->cfg.buf_budget && s->cnt.tcp_buf_bytes + sc + rc > s->cfg.buf_budget)
        goto fail;
    c->sring.buf = mem_alloc(sc);
    c->rring.buf = mem_alloc(rc);
    if (c->sring.buf == NULL || c->rring.buf == NULL) {
        mem_free(c->sring.buf);
        mem_free(c->rring.buf);
        c->sring.buf = c->rring.buf = NULL;
        goto fail;
    }
    c->sring.cap = sc;
    c->rring.cap = rc;
    s->cnt.tcp_buf_bytes += (uint64_t)sc + rc;
    /* The slack keeps a window rounded up to the scale unit inside the ring. */
    tcp_set_rcv_space(c, rc - (s->tcp.wscale ? (1u << s->tcp.wscale) : 0));
    return 0;
fail:
    NET_DROP(s, tcp_buf_nomem);
    return -ENOMEM;
}

void tcp_set_state(struct tcp_conn *c, unsigned st)
{
    struct net_stack *s = c->s;

    if (c->state == st)
        return;
    if (c->state == TCP_SYN_RECEIVED && c->passive) {
        s->cnt.tcp_conns_half_open--;
        fifo_remove(c);
    } else if (c->state == TCP_TIME_WAIT) {
        s->cnt.tcp_conns_time_wait--;
        fifo_remove(c);
    }
    c->state = (uint8_t)st;
    if (st == TCP_SYN_RECEIVED && c->passive) {
        s->cnt.tcp_conns_half_open++;
        fifo_push(c, 1);
    } else if (st == TCP_TIME_WAIT) {
        s->cnt.tcp_conns_time_wait++;
        fifo_push(c, 2);
    }
}

void tcp_mark_deliver(struct tcp_conn *c)
{
    if (!c->on_deliver) {
        c->on_deliver = 1;
        TCP_LIST_PUSH(&c->s->tcp.deliver, c, deliver_next);
    }
}

void tcp_mark_writable(struct tcp_conn *c)
{
    if (!c->on_writable) {
        c->on_writable = 1;
        TCP_LIST_PUSH(&c->s->tcp.writable, c, writable_next);
    }
}

void tcp_schedule_closed(struct tcp_conn *c, int err)
{
    if (!c->app_live || c->on_closed)
        return;
    c->close_err = err;
    c->on_closed = 1;
    TCP_LIST_PUSH(&c->s->tcp.closed, c, closed_next);
}

static void tcp_mark_reap(struct tcp_conn *c)
{
    if (!c->on_reap) {
        c->on_reap = 1;
        TCP_LIST_PUSH(&c->s->tcp.reap, c, reap_next);
    }
}

void tcp_conn_gone(struct tcp_conn *c, int err)
{
    if (c->state == TCP_CLOSED && !c->hashed)
        return;
    tcp_set_state(c, TCP_CLOSED);
    table_remove(&c->s->tcp, c);
    tcp_timer_stop(c);
    c->ack_owed = c->ack_now = 0;
    c->want_writable = 0;
    c->sring.len = 0;
    c->rring.len = 0;
    c->nooo = 0;
    if (!c->app_closed && c->close_err == 0)
        c->close_err = err;
    tcp_schedule_closed(c, c->close_err);
    tcp_mark_reap(c);
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
    tcp_set_state(c, TCP_TIME_WAIT);
    c->persist = 0;
    c->rexmt_at = c->s->now_us + (uint64_t)c->s->cfg.time_wait_ms * 1000;
    c->dack_at = 0;
    tcp_timer_sync(c);
}

/* ---- the lists, run at the end of input and in net_flush ---------------- */

void tcp_run_deliver(struct net_stack *s)
{
    struct tcp_conn *c = s->tcp.deliver.head;

    s->tcp.deliver.head = s->tcp.deliver.tail = NULL;
    while (c != NULL) {
        struct tcp_conn *next = c->deliver_next;

        c->on_deliver = 0;
        if (c->state != TCP_CLOSED)
            tcp_deliver(c);
        c = next;
    }
}

void tcp_run_writable(struct net_stack *s)
{
    struct tcp_conn *c = s->tcp.writable.head;

    s->tcp.writable.head = s->tcp.writable.tail = NULL;
    while (c != NULL) {
        struct tcp_conn *next = c->writable_next;

        c->on_writable = 0;
        if (c->want_writable && c->app_live && !c->app_closed &&
            (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT) &&
            c->sring.len < c->sring.cap) {
            c->want_writable = 0;
            if (s->up.on_writable)
                s->up.on_writable(c->ctx);
        }
        c = next;
    }
}

void tcp_run_closed(struct net_stack *s)
{
    /* An on_closed may close other connections: a few passes take those
     * too; anything later waits for the next flush. */
    for (unsigned pass = 0; pass < 4 && s->tcp.closed.head != NULL; pass++) {
        struct tcp_conn *c = s->tcp.closed.head;

        s->tcp.closed.head = s->tcp.closed.tail = NULL;
        while (c != NULL) {
            struct tcp_conn *next = c->closed_next;
            void *ctx = c->ctx;
            int live = c->app_live;

            c->on_closed = 0;
            c->app_live = 0;
            c->ctx = NULL;
            if (live && s->up.on_closed)
                s->up.on_closed(ctx, c->close_err);
            if (c->state == TCP_CLOSED)
                tcp_mark_reap(c);
            c = next;
        }
    }
}

void tcp_run_reap(struct net_stack *s)
{
    struct tcp_conn *c = s->tcp.reap.head;

    s->tcp.reap.head = s->tcp.reap.tail = NULL;
    while (c != NULL) {
        struct tcp_conn *next = c->reap_next;

        c->on_reap = 0;
        if (c->state != TCP_CLOSED)
            ;                           /* revived? cannot happen: keep it */
        else if (tcp_conn_idle(c))
            tcp_conn_release(c);
        else
            tcp_mark_reap(c);           /* still owed an upcall: next flush */
        c = next;
    }
}

/* ---- app-facing -------------------------------------------------------- */

void net_tcp_tuple(const struct tcp_conn *c, struct net_tuple *t)
{
    t->lip = rte_be_to_cpu_32(c->key.lip);
    t->rip = rte_be_to_cpu_32(c->key.rip);
    t->lport = rte_be_to_cpu_16(c->key.lport);
    t->rport = rte_be_to_cpu_16(c->key.rport);
}

void net_tcp_keepalive(struct tcp_conn *c, uint32_t idle_ms, uint32_t intvl_ms, uint8_t cnt)
{
    c->ka_idle_ms = idle_ms;
    c->ka_intvl_ms = intvl_ms ? intvl_ms : 1;
    c->ka_cnt = cnt;
    c->ka_probes = 0;
    if (idle_ms == 0 || c->state == TCP_CLOSED) {
        c->ka_at = 0;
        return;
    }
    c->ka_at = c->s->now_us + (uint64_t)idle_ms * 1000;
    tcp_timer_sync(c);
}

static int default_port(struct net_stack *s)
{
    int p = s->tcp.next_port;

    s->tcp.next_port = s->tcp.next_port >= s->cfg.eph_hi ? s->cfg.eph_lo
                                                        : (uint16_t)(s->tcp.next_port + 1);
    return p;
}

int net_tcp_connect(struct net_stack *s, uint32_t ip, uint16_t port, void *ctx,
                    struct tcp_conn **out)
{
    struct tcp_key k = { .rip = rte_cpu_to_be_32(ip), .lip = s->ip_be,
                         .rport = rte_cpu_to_be_16(port) };
    unsigned tries = s->hooks.pick_port ? 1024u : (unsigned)(s->cfg.eph_hi - s->cfg.eph_lo) + 1;
    struct tcp_conn *c;
    uint32_t h = 0;
    unsigned attempt;

    if (ip == 0 || k.rip == s->ip_be || port == 0 || ip_nexthop(s, k.rip) == 0)
        return -ENETUNREACH;
    for (attempt = 0; attempt < tries; attempt++) {
        struct net_tuple t = { .lip = s->cfg.ip, .rip = ip, .rport = port };
        int p;

        if (s->hooks.pick_port)
            p = s->hooks.pick_port(s->hooks.arg, &t, attempt);
        else
            p = default_port(s);
        if (p <= 0 || p > 65535)
            return -EADDRINUSE;
        k.lport = rte_cpu_to_be_16((uint16_t)p);
        h = tcp_hash(s, &k);
        if (tcp_lookup(s, &k, h) == NULL && !tcp_is_listening(s, k.lport))
            break;
    }
    if (attempt == tries)
        return -EADDRINUSE;
    c = tcp_conn_new(s, &k, h);
    if (c == NULL)
        return -ENOBUFS;
    if (tcp_conn_buffers(c) != 0) {
        tcp_conn_release(c);
        return -ENOMEM;
    }
    c->ctx = ctx;
    c->app_live = 1;
    c->iss = tcp_isn(s, &k);
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->snd_buf_seq = c->iss + 1;
    c->recover = c->iss;
    c->ts_offset = h * 2654435761u;    /* RFC 7323 5.4: a per-connection offset */
    tcp_set_state(c, TCP_SYN_SENT);
    tcp_send_syn(c);
    *out = c;
    return 0;
}
