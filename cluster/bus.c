/* bus — the cluster bus: links, the 100 ms cron, and the processing of each
 * message, as redis-server 7.0 does them (../shared/docs/cluster-bus.md §1-§5;
 * Redis src/cluster.c clusterCron, clusterProcessPacket, clusterSendPing).
 * Encoding and decoding are bus_msg.c's; this file decides what to send and
 * what a received message changes.
 *
 * Ownership: the control-plane thread owns the epoll set, the listeners and
 * every socket; it calls in here with the cluster lock held. A data core
 * running a CLUSTER command may queue bytes on a link or close one (FORGET,
 * RESET), also under the lock, but never reads or writes a socket: it wakes
 * the control thread (eventfd), which writes the bytes out.
 *
 * Links are never freed under the feet of the code using them: bus_link_free
 * closes the socket, detaches the link from its node and parks it on the
 * cluster's dead list; the memory goes when the locked section ends (so a
 * message being processed from a link's buffer, or an epoll event of the
 * current batch, never points to freed memory). */
#include "bus.h"
#include "cluster_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../dataplane/listen.h"
#include "../dataplane/log.h"

enum { TAG_LISTENER = 1, TAG_WAKE, TAG_LINK };

#define RBUF_INITIAL   4096
#define RBUF_KEEP      (64 * 1024)   /* shrink the read buffer back above this when idle */
#define WBUF_KEEP      (64 * 1024)
#define READ_CHUNK     (16 * 1024)

struct bus_tag {                 /* epoll data of a listener or the wake fd */
    int kind;
    int fd;
};

struct bus {
    int epfd;
    struct bus_tag wake;
    struct bus_tag listen[BUS_MAX_LISTENERS];
    unsigned nlisten;
};

static const char null_name[BUS_NAMELEN];

/* ---- sockets ------------------------------------------------------------- */

static void sock_ip(const struct sockaddr_storage *ss, char *ip, size_t cap, int *port)
{
    ip[0] = '\0';
    if (port)
        *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, (socklen_t)cap);
        if (port)
            *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, (socklen_t)cap);
        if (port)
            *port = ntohs(a->sin6_port);
    }
}

/* Peer (remote) or local address of a link as text. 0 or -1. */
static int link_addr(const struct cl_link *link, int peer, char *ip, size_t cap, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (link->fd < 0)
        return -1;
    memset(&ss, 0, sizeof(ss));
    if ((peer ? getpeername(link->fd, (struct sockaddr *)&ss, &len)
              : getsockname(link->fd, (struct sockaddr *)&ss, &len)) != 0)
        return -1;
    sock_ip(&ss, ip, cap, port);
    return ip[0] ? 0 : -1;
}

static void set_events(struct cluster *cl, struct cl_link *link)
{
    uint32_t ev = EPOLLIN;
    struct epoll_event e;

    if (link->connecting || link->woff < link->wlen)
        ev |= EPOLLOUT;
    if (!cl->bus || link->fd < 0 || ev == link->events)
        return;
    e.events = ev;
    e.data.ptr = link;
    if (epoll_ctl(cl->bus->epfd, EPOLL_CTL_MOD, link->fd, &e) == 0)
        link->events = ev;
}

static struct cl_link *link_new(struct cluster *cl, int fd, struct cl_node *node, int connecting)
{
    struct cl_link *link = calloc(1, sizeof(*link));

    if (!link)
        return NULL;
    link->kind = TAG_LINK;
    link->fd = fd;
    link->inbound = node == NULL;
    link->connecting = connecting;
    link->ctime = cl->now;
    link->node = node;
    if (cl->bus && fd >= 0) {
        struct epoll_event e = { .events = EPOLLIN | (connecting ? EPOLLOUT : 0) };
        e.data.ptr = link;
        if (epoll_ctl(cl->bus->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
            log_errno(LL_WARNING, "epoll_ctl", "cluster bus link");
            free(link);
            return NULL;
        }
        link->events = e.events;
    }
    if (node)
        node->link = link;
    link->next = cl->links;
    if (cl->links)
        cl->links->prev = link;
    cl->links = link;
    return link;
}

struct cl_link *bus_link_new(struct cluster *cl, int fd, struct cl_node *node)
{
    return link_new(cl, fd, node, 0);
}

void bus_link_free(struct cluster *cl, struct cl_link *link)
{
    if (link->dead)
        return;
    link->dead = 1;
    if (link->fd >= 0) {
        if (cl->bus)
            epoll_ctl(cl->bus->epfd, EPOLL_CTL_DEL, link->fd, NULL);
        close(link->fd);
        link->fd = -1;
    }
    if (link->node) {
        if (link->node->link == link)
            link->node->link = NULL;
        else if (link->node->inbound_link == link)
            link->node->inbound_link = NULL;
        link->node = NULL;
    }
    if (link->prev)
        link->prev->next = link->next;
    else
        cl->links = link->next;
    if (link->next)
        link->next->prev = link->prev;
    link->prev = NULL;
    link->next = cl->dead_links;
    cl->dead_links = link;
}

static void bind_inbound(struct cl_node *node, struct cl_link *link, struct cluster *cl)
{
    if (node->inbound_link && node->inbound_link != link) {
        /* The peer reconnected before we noticed the old link die. */
        log_msg(LL_DEBUG, "Replacing inbound link fd %d from node %.40s with fd %d",
                node->inbound_link->fd, node->name, link->fd);
        bus_link_free(cl, node->inbound_link);
    }
    node->inbound_link = link;
    link->node = node;
}

/* ---- sending ------------------------------------------------------------- */

/* Encode and append to the link's output; written by bus_flush. */
static void link_queue(struct cluster *cl, struct cl_link *link, const struct bus_msg *m)
{
    size_t len, got;

    if (!link || link->dead || bus_msg_encoded_len(m, &len) != 0)
        return;
    if (link->wlen + len > link->wcap) {
        size_t cap = link->wcap ? link->wcap : 8192;
        uint8_t *p;
        if (link->woff > 0) {       /* reuse the consumed front first */
            memmove(link->wbuf, link->wbuf + link->woff, link->wlen - link->woff);
            link->wlen -= link->woff;
            link->woff = 0;
        }
        while (cap < link->wlen + len)
            cap *= 2;
        if (cap > link->wcap) {
            p = realloc(link->wbuf, cap);
            if (!p) {
                log_msg(LL_WARNING, "Out of memory queueing a cluster bus message");
                return;
            }
            link->wbuf = p;
            link->wcap = cap;
        }
    }
    if (bus_msg_encode(m, link->wbuf + link->wlen, link->wcap - link->wlen, &got) != 0)
        return;
    link->wlen += got;
    if (m->hdr.type < BUS_TYPE_COUNT)
        cl->stats_sent[m->hdr.type]++;
}

static void hdr_fill(struct cluster *cl, struct bus_hdr *h, uint16_t type)
{
    const struct cl_node *me = cl->myself;
    const struct cl_node *master = (cl_is_slave(me) && me->slaveof) ? me->slaveof : me;

    memset(h, 0, sizeof(*h));
    h->type = type;
    h->port = (uint16_t)me->port;
    h->pport = (uint16_t)me->pport;
    h->cport = (uint16_t)me->cport;
    h->current_epoch = cl->current_epoch;
    h->config_epoch = master->config_epoch;
    h->offset = 0;                   /* no replication: master_repl_offset stays 0 */
    memcpy(h->sender, me->name, BUS_NAMELEN);
    h->myslots = master->slots;
    if (me->slaveof)
        memcpy(h->slaveof, me->slaveof->name, BUS_NAMELEN);
    memcpy(h->myip, cl->announce_ip, sizeof(h->myip));
    h->myip[BUS_IPLEN - 1] = '\0';
    h->flags = me->flags;
    h->state = (uint8_t)cl->state;
}

static void gossip_fill(struct bus_gossip *g, const struct cl_node *n)
{
    memset(g, 0, sizeof(*g));
    memcpy(g->nodename, n->name, BUS_NAMELEN);
    g->ping_sent = (uint32_t)(n->ping_sent / 1000);
    g->pong_received = (uint32_t)(n->pong_received / 1000);
    memcpy(g->ip, n->ip, sizeof(g->ip));
    g->port = (uint16_t)n->port;
    g->cport = (uint16_t)n->cport;
    g->flags = n->flags;
    g->pport = (uint16_t)n->pport;
}

void bus_send_ping(struct cluster *cl, struct cl_link *link, uint16_t type)
{
    int n = (int)cl->nnodes;
    /* max(3, N/10) entries capped at N - 2 (Redis clusterSendPing: with
     * N/10 entries a PFAIL node reaches a majority of masters' reports
     * within the 2 * node_timeout validity). */
    int freshnodes = n - 2, wanted = n / 10, pfail_wanted = (int)cl->stats_pfail_nodes;
    int count = 0, maxiter;
    struct bus_gossip *g;
    struct bus_ext ext;
    struct bus_msg m;

    if (!link || link->dead)
        return;
    if (wanted < 3)
        wanted = 3;
    if (wanted > freshnodes)
        wanted = freshnodes;
    g = calloc((size_t)(wanted > 0 ? wanted : 0) + (size_t)pfail_wanted + 1, sizeof(*g));
    if (!g)
        return;
    if (!link->inbound && type == BUS_TYPE_PING)
        link->node->ping_sent = cl->now;
    cl->pings_sent++;
    maxiter = wanted * 3;
    while (freshnodes > 0 && count < wanted && maxiter-- > 0) {
        struct cl_node *t = cl->nodes[cl_random(cl) % (uint64_t)n];

        if (t == cl->myself || (t->flags & BUS_NODE_PFAIL))
            continue;
        if ((t->flags & (BUS_NODE_HANDSHAKE | BUS_NODE_NOADDR)) ||
            (t->link == NULL && t->numslots == 0)) {
            freshnodes--;
            continue;
        }
        if (t->gossip_mark == cl->pings_sent)
            continue;
        gossip_fill(&g[count++], t);
        t->gossip_mark = cl->pings_sent;
        freshnodes--;
    }
    /* Every PFAIL node goes in: failure reports then spread fastest. */
    for (unsigned i = 0; i < cl->nnodes && pfail_wanted > 0; i++) {
        struct cl_node *t = cl->nodes[i];
        if (t->flags & (BUS_NODE_HANDSHAKE | BUS_NODE_NOADDR))
            continue;
        if (!(t->flags & BUS_NODE_PFAIL))
            continue;
        gossip_fill(&g[count++], t);
        pfail_wanted--;
    }
    hdr_fill(cl, &m.hdr, type);
    m.hdr.count = (uint16_t)count;
    memset(&m.u.ping, 0, sizeof(m.u.ping));
    m.u.ping.gossip = g;
    if (cl->myself->hostname[0]) {
        bus_ext_hostname_init(&ext, cl->myself->hostname);
        m.hdr.extensions = 1;
        m.u.ping.ext = &ext;
    }
    link_queue(cl, link, &m);
    free(g);
}

void bus_broadcast_pong(struct cluster *cl)
{
    for (unsigned i = 0; i < cl->nnodes; i++) {
        struct cl_node *n = cl->nodes[i];
        if (!n->link || n == cl->myself || cl_in_handshake(n))
            continue;
        bus_send_ping(cl, n->link, BUS_TYPE_PONG);
    }
}

static void broadcast(struct cluster *cl, const struct bus_msg *m)
{
    for (unsigned i = 0; i < cl->nnodes; i++) {
        struct cl_node *n = cl->nodes[i];
        if (n->flags & (BUS_NODE_MYSELF | BUS_NODE_HANDSHAKE))
            continue;
        link_queue(cl, n->link, m);
    }
}

void bus_send_fail(struct cluster *cl, const char *name)
{
    struct bus_msg m;

    hdr_fill(cl, &m.hdr, BUS_TYPE_FAIL);
    memcpy(m.u.fail.nodename, name, BUS_NAMELEN);
    broadcast(cl, &m);
}

void bus_send_update(struct cluster *cl, struct cl_link *link, const struct cl_node *n)
{
    uint8_t slots[BUS_SLOT_BYTES];
    struct bus_msg m;

    if (!link)
        return;
    /* Slots the owner stopped claiming are not ours to assert. */
    for (size_t i = 0; i < sizeof(slots); i++)
        slots[i] = (uint8_t)(n->slots[i] & ~cl->owner_not_claiming[i]);
    hdr_fill(cl, &m.hdr, BUS_TYPE_UPDATE);
    m.u.update.config_epoch = n->config_epoch;
    memcpy(m.u.update.nodename, n->name, BUS_NAMELEN);
    m.u.update.slots = slots;
    link_queue(cl, link, &m);
}

static void send_header_only(struct cluster *cl, struct cl_link *link, uint16_t type)
{
    struct bus_msg m;

    hdr_fill(cl, &m.hdr, type);
    link_queue(cl, link, &m);
}

void bus_send_auth_ack(struct cluster *cl, struct cl_node *node)
{
    send_header_only(cl, node->link, BUS_TYPE_AUTH_ACK);
}

/* ---- receiving ----------------------------------------------------------- */

/* nodeUpdateAddressIfNeeded: a node pinging us from a new address (its
 * announced ip, else the connection's peer address) gets its address
 * updated and its outbound link reopened. 1 if it changed. */
static int update_address(struct cluster *cl, struct cl_node *node, struct cl_link *link,
                          const struct bus_hdr *h)
{
    char ip[BUS_IPLEN];

    if (link == node->link)
        return 0;
    if (h->myip[0]) {
        memcpy(ip, h->myip, sizeof(ip));
        ip[BUS_IPLEN - 1] = '\0';
    } else if (link_addr(link, 1, ip, sizeof(ip), NULL) != 0) {
        return 0;
    }
    if (node->port == h->port && node->cport == h->cport && node->pport == h->pport &&
        strcmp(ip, node->ip) == 0)
        return 0;
    memcpy(node->ip, ip, sizeof(ip));
    node->port = h->port;
    node->pport = h->pport;
    node->cport = h->cport;
    if (node->link)
        bus_link_free(cl, node->link);
    node->flags &= (uint16_t)~BUS_NODE_NOADDR;
    log_msg(LL_NOTICE, "Address updated for node %.40s, now %s:%d", node->name, node->ip,
            node->port);
    return 1;
}

static void process_gossip(struct cluster *cl, const struct bus_msg *m, struct cl_node *sender)
{
    for (unsigned i = 0; i < m->hdr.count; i++) {
        struct bus_gossip g;
        struct cl_node *node;
        uint16_t flags;

        bus_gossip_get(m, i, &g);
        g.ip[BUS_IPLEN - 1] = '\0';
        flags = g.flags;
        node = cl_lookup(cl, g.nodename, BUS_NAMELEN);
        if (node) {
            if (sender && cl_is_master(sender) && node != cl->myself) {
                if (flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL)) {
                    if (cl_report_add(cl, node, sender))
                        log_msg(LL_VERBOSE, "Node %.40s reported node %.40s as not reachable.",
                                sender->name, node->name);
                    cl_mark_failing_if_needed(cl, node);
                } else if (cl_report_del(cl, node, sender)) {
                    log_msg(LL_VERBOSE, "Node %.40s reported node %.40s is back online.",
                            sender->name, node->name);
                }
            }
            /* Someone else heard from it lately: trust their pong time, if it
             * is not in our future by more than half a second. */
            if (!(flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL)) && node->ping_sent == 0 &&
                cl_report_count(cl, node) == 0) {
                int64_t pongtime = (int64_t)g.pong_received * 1000;
                if (pongtime <= cl->now + 500 && pongtime > node->pong_received)
                    node->pong_received = pongtime;
            }
            /* A node we cannot reach that others reach at another address. */
            if ((node->flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL)) && !(flags & BUS_NODE_NOADDR) &&
                !(flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL)) &&
                (strcasecmp(node->ip, g.ip) || node->port != g.port || node->pport != g.pport ||
                 node->cport != g.cport)) {
                if (node->link)
                    bus_link_free(cl, node->link);
                memcpy(node->ip, g.ip, sizeof(node->ip));
                node->port = g.port;
                node->pport = g.pport;
                node->cport = g.cport;
                node->flags &= (uint16_t)~BUS_NODE_NOADDR;
            }
        } else if (sender && !(flags & BUS_NODE_NOADDR) &&
                   cl_valid_name(g.nodename, BUS_NAMELEN) &&
                   !cl_blacklist_has(cl, g.nodename)) {
            /* Only a known member may introduce nodes: a reused ip:port of a
             * foreign cluster can then never pull us in. MYSELF is the
             * sender's bit, never the new node's. */
            node = cl_node_create(cl, g.nodename, (uint16_t)(flags & ~BUS_NODE_MYSELF));
            if (node) {
                memcpy(node->ip, g.ip, sizeof(node->ip));
                node->port = g.port;
                node->pport = g.pport;
                node->cport = g.cport;
            }
        }
    }
}

static void process_extensions(struct cluster *cl, const struct bus_msg *m, struct cl_node *sender)
{
    struct bus_ext_iter it;
    struct bus_ext e;
    const char *host = NULL;
    size_t hostlen = 0;

    bus_ext_iter_init(&it, m);
    while (bus_ext_iter_next(&it, &e)) {
        if (e.type == BUS_EXT_HOSTNAME)
            bus_ext_hostname(&e, &host, &hostlen);
        else
            log_msg(LL_WARNING, "Received unknown extension type %d", e.type);
    }
    /* No hostname extension means no announced hostname (cluster-bus.md §4.2). */
    if (host) {
        char tmp[CL_HOSTNAME_MAX];
        if (hostlen >= sizeof(tmp))
            hostlen = sizeof(tmp) - 1;
        memcpy(tmp, host, hostlen);
        tmp[hostlen] = '\0';
        if (strcmp(tmp, sender->hostname)) {
            memcpy(sender->hostname, tmp, hostlen + 1);
            cl->todo |= CL_TODO_SAVE;
        }
    } else if (sender->hostname[0]) {
        sender->hostname[0] = '\0';
        cl->todo |= CL_TODO_SAVE;
    }
}

/* Role from `slaveof` (all zero: a master). */
static void process_role(struct cluster *cl, struct cl_node *sender, const struct bus_hdr *h)
{
    struct cl_node *master;

    if (!memcmp(h->slaveof, null_name, BUS_NAMELEN)) {
        cl_set_node_master(cl, sender);
        return;
    }
    master = cl_lookup(cl, h->slaveof, BUS_NAMELEN);
    if (cl_is_master(sender)) {
        cl_del_node_slots(cl, sender);
        sender->flags &= (uint16_t)~(BUS_NODE_MASTER | BUS_NODE_MIGRATE_TO);
        sender->flags |= BUS_NODE_SLAVE;
        cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;
    }
    if (master && sender->slaveof != master && master != sender) {
        if (sender->slaveof)
            cl_node_remove_slave(sender->slaveof, sender);
        cl_node_add_slave(master, sender);
        sender->slaveof = master;
        cl->todo |= CL_TODO_SAVE;
    }
}

/* FAILOVER_AUTH_REQUEST: vote as a master with slots, at most once per
 * epoch and once per 2 * node_timeout for a given failed master. */
static void maybe_vote(struct cluster *cl, struct cl_node *node, const struct bus_msg *m)
{
    struct cl_node *master = node->slaveof, *me = cl->myself;
    uint64_t req_epoch = m->hdr.current_epoch, req_config = m->hdr.config_epoch;
    int force = (m->hdr.mflags[0] & BUS_MF0_FORCEACK) != 0;

    if (cl_is_slave(me) || me->numslots == 0)
        return;
    if (req_epoch < cl->current_epoch) {
        log_msg(LL_WARNING, "Failover auth denied to %.40s: reqEpoch (%llu) < curEpoch(%llu)",
                node->name, (unsigned long long)req_epoch,
                (unsigned long long)cl->current_epoch);
        return;
    }
    if (cl->last_vote_epoch == cl->current_epoch) {
        log_msg(LL_WARNING, "Failover auth denied to %.40s: already voted for epoch %llu",
                node->name, (unsigned long long)cl->current_epoch);
        return;
    }
    if (cl_is_master(node) || !master || (!cl_failed(master) && !force)) {
        if (cl_is_master(node))
            log_msg(LL_WARNING, "Failover auth denied to %.40s: it is a master node", node->name);
        else if (!master)
            log_msg(LL_WARNING, "Failover auth denied to %.40s: I don't know its master",
                    node->name);
        else
            log_msg(LL_WARNING, "Failover auth denied to %.40s: its master is up", node->name);
        return;
    }
    if (cl->now - master->voted_time < cl->node_timeout * 2) {
        log_msg(LL_WARNING, "Failover auth denied to %.40s: can't vote about this master "
                "before %lld milliseconds", node->name,
                (long long)(cl->node_timeout * 2 - (cl->now - master->voted_time)));
        return;
    }
    for (unsigned j = 0; j < BUS_SLOTS; j++) {
        if (!bus_slot_test(m->hdr.myslots, j) || cl_slot_unclaimed(cl, j) ||
            cl->slots[j]->config_epoch <= req_config)
            continue;
        log_msg(LL_WARNING, "Failover auth denied to %.40s: slot %u epoch (%llu) > reqEpoch (%llu)",
                node->name, j, (unsigned long long)cl->slots[j]->config_epoch,
                (unsigned long long)req_config);
        return;
    }
    cl->last_vote_epoch = cl->current_epoch;
    master->voted_time = cl->now;
    cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
    cl_vote_ack(cl, node);
    log_msg(LL_NOTICE, "Failover auth granted to %.40s for epoch %llu", node->name,
            (unsigned long long)cl->current_epoch);
}

/* PING, PONG, MEET after the common header processing. -ECONNRESET when
 * the link is gone. */
static int process_ping(struct cluster *cl, struct cl_link *link, const struct bus_msg *m,
                        struct cl_node *sender, uint64_t sender_config_epoch)
{
    const struct bus_hdr *h = &m->hdr;
    struct cl_node *sender_master;
    int dirty = 0;

    if (h->type == BUS_TYPE_PING || h->type == BUS_TYPE_MEET) {
        /* Learn our own address from the socket a peer reached us on. */
        if ((h->type == BUS_TYPE_MEET || cl->myself->ip[0] == '\0') && !cl->announce_ip[0]) {
            char ip[BUS_IPLEN];
            if (link_addr(link, 0, ip, sizeof(ip), NULL) == 0 && strcmp(ip, cl->myself->ip)) {
                memcpy(cl->myself->ip, ip, sizeof(ip));
                log_msg(LL_NOTICE, "IP address for this node updated to %s", cl->myself->ip);
                cl->todo |= CL_TODO_SAVE;
            }
        }
        if (!sender && h->type == BUS_TYPE_MEET) {
            struct cl_node *n = cl_node_create(cl, NULL, BUS_NODE_HANDSHAKE);
            if (n) {
                if (h->myip[0]) {
                    memcpy(n->ip, h->myip, sizeof(n->ip));
                    n->ip[BUS_IPLEN - 1] = '\0';
                } else {
                    link_addr(link, 1, n->ip, sizeof(n->ip), NULL);
                }
                n->port = h->port;
                n->pport = h->pport;
                n->cport = h->cport;
                cl->todo |= CL_TODO_SAVE;
            }
            /* A MEET is trusted for its gossip; an unknown sender adds nobody. */
            process_gossip(cl, m, NULL);
        }
        bus_send_ping(cl, link, BUS_TYPE_PONG);
    }

    if (!link->inbound) {
        if (cl_in_handshake(link->node)) {
            if (sender) {
                /* A node we know, reached at a new address. */
                log_msg(LL_VERBOSE, "Handshake: we already know node %.40s, updating the "
                        "address if needed.", sender->name);
                if (update_address(cl, sender, link, h))
                    cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;
                cl_node_delete(cl, link->node);
                return -ECONNRESET;
            }
            cl_node_rename(cl, link->node, h->sender);
            log_msg(LL_DEBUG, "Handshake with node %.40s completed.", link->node->name);
            link->node->flags &= (uint16_t)~BUS_NODE_HANDSHAKE;
            link->node->flags |= (uint16_t)(h->flags & (BUS_NODE_MASTER | BUS_NODE_SLAVE));
            cl->todo |= CL_TODO_SAVE;
        } else if (memcmp(link->node->name, h->sender, BUS_NAMELEN) != 0) {
            /* Someone else answers at that address now. */
            struct cl_node *n = link->node;
            log_msg(LL_DEBUG, "PONG contains mismatching sender ID. About node %.40s added "
                    "%d ms ago, having flags %d", n->name, (int)(cl->now - n->ctime), n->flags);
            n->flags |= BUS_NODE_NOADDR;
            n->ip[0] = '\0';
            n->port = n->pport = n->cport = 0;
            bus_link_free(cl, link);
            cl->todo |= CL_TODO_SAVE;
            return -ECONNRESET;
        }
    }

    if (sender) {
        sender->flags &= (uint16_t)~BUS_NODE_NOFAILOVER;
        sender->flags |= (uint16_t)(h->flags & BUS_NODE_NOFAILOVER);
    }
    if (sender && h->type == BUS_TYPE_PING && !cl_in_handshake(sender) &&
        update_address(cl, sender, link, h))
        cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;

    if (!link->inbound && h->type == BUS_TYPE_PONG) {
        struct cl_node *n = link->node;
        n->pong_received = cl->now;
        n->ping_sent = 0;
        if (cl_timed_out(n)) {
            n->flags &= (uint16_t)~BUS_NODE_PFAIL;
            cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;
        } else if (cl_failed(n)) {
            cl_clear_failure_if_needed(cl, n);
        }
    }

    if (!sender)
        return 0;
    process_role(cl, sender, h);

    /* Slots: only when the claim differs from what we hold for its shard. */
    sender_master = cl_is_master(sender) ? sender : sender->slaveof;
    if (sender_master)
        dirty = memcmp(sender_master->slots, h->myslots, BUS_SLOT_BYTES) != 0;
    if (cl_is_master(sender) && dirty)
        cl_update_slots_config(cl, sender, sender_config_epoch, h->myslots);
    /* A stale claim: tell the sender who owns the slot now (one UPDATE per
     * message, as 7.0). */
    if (dirty) {
        for (unsigned j = 0; j < BUS_SLOTS; j++) {
            if (!bus_slot_test(h->myslots, j))
                continue;
            if (cl->slots[j] == sender || cl_slot_unclaimed(cl, j))
                continue;
            if (cl->slots[j]->config_epoch > sender_config_epoch) {
                log_msg(LL_VERBOSE, "Node %.40s has old slots configuration, sending an "
                        "UPDATE message about %.40s", sender->name, cl->slots[j]->name);
                bus_send_update(cl, sender->link, cl->slots[j]);
                break;
            }
        }
    }
    if (cl_is_master(cl->myself) && cl_is_master(sender) &&
        sender_config_epoch == cl->myself->config_epoch)
        cl_epoch_collision(cl, sender);
    process_gossip(cl, m, sender);
    process_extensions(cl, m, sender);
    return 0;
}

int bus_process(struct cluster *cl, struct cl_link *link, const uint8_t *buf, size_t len)
{
    struct bus_msg m;
    struct cl_node *sender;
    uint64_t sender_config_epoch = 0;
    uint16_t type = len >= 14 ? (uint16_t)((buf[12] << 8) | buf[13]) : 0xffff;
    int rc;

    if (type < BUS_TYPE_COUNT)
        cl->stats_received[type]++;
    rc = bus_msg_decode(buf, len, &m);
    if (rc == -EBADMSG || rc == -EMSGSIZE) {
        bus_link_free(cl, link);
        return -ECONNRESET;
    }
    if (rc == -EPROTONOSUPPORT)
        return 0;
    if (rc != 0) {
        log_msg(LL_WARNING, "Received invalid %s packet of length %zu", bus_type_name(type), len);
        return 0;
    }

    sender = cl_lookup(cl, m.hdr.sender, BUS_NAMELEN);
    if (sender && link->inbound && !link->node)
        bind_inbound(sender, link, cl);
    if (sender)
        sender->data_received = cl->now;
    if (sender && !cl_in_handshake(sender)) {
        if (m.hdr.current_epoch > cl->current_epoch)
            cl->current_epoch = m.hdr.current_epoch;
        sender_config_epoch = m.hdr.config_epoch;
        if (sender_config_epoch > sender->config_epoch) {
            sender->config_epoch = sender_config_epoch;
            cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
        }
        sender->repl_offset = m.hdr.offset;
    }

    switch (m.hdr.type) {
    case BUS_TYPE_PING:
    case BUS_TYPE_PONG:
    case BUS_TYPE_MEET:
        return process_ping(cl, link, &m, sender, sender_config_epoch);
    case BUS_TYPE_FAIL: {
        struct cl_node *failing;
        if (!sender) {
            log_msg(LL_NOTICE, "Ignoring FAIL message from unknown node %.40s about %.40s",
                    m.hdr.sender, m.u.fail.nodename);
            return 0;
        }
        failing = cl_lookup(cl, m.u.fail.nodename, BUS_NAMELEN);
        if (failing && !(failing->flags & (BUS_NODE_FAIL | BUS_NODE_MYSELF))) {
            log_msg(LL_NOTICE, "FAIL message received from %.40s about %.40s", m.hdr.sender,
                    m.u.fail.nodename);
            failing->flags |= BUS_NODE_FAIL;
            failing->fail_time = cl->now;
            failing->flags &= (uint16_t)~BUS_NODE_PFAIL;
            cl->todo |= CL_TODO_SAVE | CL_TODO_UPDATE_STATE;
        }
        return 0;
    }
    case BUS_TYPE_PUBLISH:
    case BUS_TYPE_PUBLISHSHARD:
        /* slotd has no Pub/Sub subscribers to deliver to; like 7.0, a
         * received PUBLISH is never forwarded. */
        return 0;
    case BUS_TYPE_AUTH_REQUEST:
        if (sender)
            maybe_vote(cl, sender, &m);
        return 0;
    case BUS_TYPE_AUTH_ACK:
        return 0;                    /* slotd runs no election of its own */
    case BUS_TYPE_MFSTART:
        if (!sender || sender->slaveof != cl->myself)
            return 0;
        /* Only a replica of ours sends it; slotd has none, so this is for
         * completeness: answer with the PING 7.0 sends (no write pause). */
        log_msg(LL_NOTICE, "Manual failover requested by replica %.40s.", sender->name);
        bus_send_ping(cl, link, BUS_TYPE_PING);
        return 0;
    case BUS_TYPE_UPDATE: {
        struct cl_node *n;
        uint64_t epoch = m.u.update.config_epoch;
        if (!sender)
            return 0;
        n = cl_lookup(cl, m.u.update.nodename, BUS_NAMELEN);
        if (!n || n->config_epoch >= epoch)
            return 0;
        if (cl_is_slave(n))
            cl_set_node_master(cl, n);
        n->config_epoch = epoch;
        cl->todo |= CL_TODO_SAVE | CL_TODO_FSYNC;
        cl_update_slots_config(cl, n, epoch, m.u.update.slots);
        return 0;
    }
    case BUS_TYPE_MODULE:
        return 0;                    /* no modules */
    default:
        log_msg(LL_WARNING, "Received unknown packet type: %d", m.hdr.type);
        return 0;
    }
}

/* ---- link I/O ------------------------------------------------------------ */

static void link_connected(struct cluster *cl, struct cl_link *link)
{
    struct cl_node *node = link->node;
    int64_t old_ping = node->ping_sent;

    link->connecting = 0;
    /* The first message is a MEET while the node still has the flag (CLUSTER
     * MEET), a PING otherwise; a ping outstanding before the reconnection
     * keeps its time, so failure detection is not reset. */
    bus_send_ping(cl, link, (node->flags & BUS_NODE_MEET) ? BUS_TYPE_MEET : BUS_TYPE_PING);
    if (old_ping)
        node->ping_sent = old_ping;
    node->flags &= (uint16_t)~BUS_NODE_MEET;
    set_events(cl, link);
    log_msg(LL_DEBUG, "Connecting with Node %.40s at %s:%d", node->name, node->ip, node->cport);
}

static void link_connect(struct cluster *cl, struct cl_node *node)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, node->ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)node->cport);
        len = sizeof(*a);
    } else if (inet_pton(AF_INET6, node->ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)node->cport);
        len = sizeof(*a);
    } else {
        goto sync_error;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto sync_error;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
        struct cl_link *link = link_new(cl, fd, node, 0);
        if (!link)
            close(fd);
        else
            link_connected(cl, link);
        return;
    }
    if (errno == EINPROGRESS) {
        if (!link_new(cl, fd, node, 1))
            close(fd);
        return;
    }
    close(fd);
sync_error:
    /* No link, so no ping can be sent: count one as sent, or failure
     * detection would never start for a node that refuses at once. */
    if (node->ping_sent == 0)
        node->ping_sent = cl->now;
    log_msg(LL_DEBUG, "Unable to connect to Cluster Node [%s]:%d -> %s", node->ip, node->cport,
            strerror(errno));
}

static void connect_done(struct cluster *cl, struct cl_link *link)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(link->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        log_msg(LL_VERBOSE, "Connection with Node %.40s at %s:%d failed: %s",
                link->node ? link->node->name : "", link->node ? link->node->ip : "",
                link->node ? link->node->cport : 0, strerror(err));
        bus_link_free(cl, link);
        return;
    }
    link_connected(cl, link);
}

static void link_write(struct cluster *cl, struct cl_link *link)
{
    while (link->woff < link->wlen) {
        ssize_t n = write(link->fd, link->wbuf + link->woff, link->wlen - link->woff);
        if (n > 0) {
            link->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        log_msg(LL_DEBUG, "I/O error writing to node link: %s",
                n < 0 ? strerror(errno) : "short write");
        bus_link_free(cl, link);
        return;
    }
    if (link->woff == link->wlen) {
        link->woff = link->wlen = 0;
        if (link->wcap > WBUF_KEEP) {
            free(link->wbuf);
            link->wbuf = NULL;
            link->wcap = 0;
        }
    }
    set_events(cl, link);
}

/* Every whole message in the read buffer. */
static void link_consume(struct cluster *cl, struct cl_link *link)
{
    size_t off = 0;

    while (!link->dead && link->rlen - off >= BUS_FRAME_PREFIX) {
        uint32_t totlen;
        int rc = bus_msg_frame(link->rbuf + off, link->rlen - off, &totlen);

        if (rc == -EBADMSG) {
            char ip[BUS_IPLEN];
            int port;
            if (link_addr(link, 1, ip, sizeof(ip), &port) == 0)
                log_msg(LL_WARNING, "Bad message length or signature received on the "
                        "Cluster bus from %s:%d", ip, port);
            else
                log_msg(LL_WARNING, "Bad message length or signature received on the Cluster bus.");
            bus_link_free(cl, link);
            return;
        }
        if (rc != 0 || link->rlen - off < totlen)
            break;
        if (bus_process(cl, link, link->rbuf + off, totlen) != 0)
            return;
        off += totlen;
    }
    if (link->dead)
        return;
    if (off) {
        memmove(link->rbuf, link->rbuf + off, link->rlen - off);
        link->rlen -= off;
    }
    if (link->rlen == 0 && link->rcap > RBUF_KEEP) {
        free(link->rbuf);
        link->rbuf = NULL;
        link->rcap = 0;
    }
}

static void link_read(struct cluster *cl, struct cl_link *link)
{
    for (;;) {
        ssize_t n;
        size_t want = READ_CHUNK;
        uint32_t totlen;

        /* A message announced larger than the chunk is read whole at once. */
        if (link->rlen >= BUS_FRAME_PREFIX &&
            bus_msg_frame(link->rbuf, link->rlen, &totlen) == 0 && totlen > link->rlen &&
            totlen - link->rlen > want)
            want = totlen - link->rlen;
        if (link->rcap - link->rlen < want) {
            size_t cap = link->rcap ? link->rcap : RBUF_INITIAL;
            uint8_t *p;
            while (cap - link->rlen < want)
                cap *= 2;
            p = realloc(link->rbuf, cap);
            if (!p) {
                log_msg(LL_WARNING, "Out of memory reading the cluster bus");
                bus_link_free(cl, link);
                return;
            }
            link->rbuf = p;
            link->rcap = cap;
        }
        n = read(link->fd, link->rbuf + link->rlen, link->rcap - link->rlen);
        if (n > 0) {
            link->rlen += (size_t)n;
            link_consume(cl, link);
            if (link->dead)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        log_msg(LL_DEBUG, "I/O error reading from node link: %s",
                n == 0 ? "connection closed" : strerror(errno));
        bus_link_free(cl, link);
        return;
    }
}

static void accept_ready(struct cluster *cl, int lfd)
{
    for (int i = 0; i < BUS_MAX_ACCEPTS; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char ip[BUS_IPLEN];
        int port, one = 1, fd;

        fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_msg(LL_VERBOSE, "Error accepting cluster node: %s", strerror(errno));
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        {
            /* Redis connKeepAlive(node_timeout/1000*2): interval in seconds */
            int idle = (int)(cl->node_timeout / 1000 * 2);
            if (idle > 0) {
                int intvl = idle / 3 ? idle / 3 : 1, cnt = 3;
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
            }
        }
        sock_ip(&ss, ip, sizeof(ip), &port);
        log_msg(LL_VERBOSE, "Accepting cluster node connection from %s:%d", ip, port);
        if (!link_new(cl, fd, NULL, 0))
            close(fd);
    }
}

void bus_events(struct cluster *cl)
{
    struct epoll_event ev[BUS_EVENTS_PER_CALL];
    int n;

    if (!cl->bus)
        return;
    n = epoll_wait(cl->bus->epfd, ev, BUS_EVENTS_PER_CALL, 0);
    for (int i = 0; i < n; i++) {
        int kind = *(int *)ev[i].data.ptr;

        if (kind == TAG_LISTENER) {
            accept_ready(cl, ((struct bus_tag *)ev[i].data.ptr)->fd);
        } else if (kind == TAG_WAKE) {
            uint64_t v;
            while (read(cl->bus->wake.fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                ;
        } else {
            struct cl_link *link = ev[i].data.ptr;
            if (link->dead)
                continue;
            if (link->connecting) {
                if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    connect_done(cl, link);
                continue;
            }
            if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                link_read(cl, link);
            if (!link->dead && (ev[i].events & EPOLLOUT))
                link_write(cl, link);
        }
    }
}

void bus_flush(struct cluster *cl)
{
    for (struct cl_link *l = cl->links, *next; l; l = next) {
        next = l->next;
        if (cl->bus && !l->connecting && l->fd >= 0 && l->woff < l->wlen)
            link_write(cl, l);
    }
    bus_reap(cl);
}

void bus_reap(struct cluster *cl)
{
    while (cl->dead_links) {
        struct cl_link *l = cl->dead_links;
        cl->dead_links = l->next;
        free(l->rbuf);
        free(l->wbuf);
        free(l);
    }
}

void bus_wake(struct cluster *cl)
{
    uint64_t one = 1;

    if (cl->bus && write(cl->bus->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_errno(LL_WARNING, "write", "cluster bus wake-up");
}

void bus_link_events(const struct cl_link *link, char out[3])
{
    int i = 0;

    if (!link->connecting)
        out[i++] = 'r';
    if (link->connecting || link->woff < link->wlen)
        out[i++] = 'w';
    out[i] = '\0';
}

/* ---- cron ---------------------------------------------------------------- */

void bus_cron(struct cluster *cl)
{
    int64_t handshake_timeout = cl->node_timeout, now = cl->now;
    struct cl_node *min_node = NULL;
    int64_t min_pong = 0;
    int update_state = 0;

    cl->iteration++;
    if (handshake_timeout < CL_MIN_HANDSHAKE_MS)
        handshake_timeout = CL_MIN_HANDSHAKE_MS;
    cl->stats_pfail_nodes = 0;
    for (unsigned i = cl->nnodes; i-- > 0;) {
        struct cl_node *n = cl->nodes[i];

        /* A link whose peer reads too slowly is dropped and reopened. */
        if (cl->sendbuf_limit) {
            struct cl_link *l[2] = { n->link, n->inbound_link };
            for (int k = 0; k < 2; k++)
                if (l[k] && l[k]->wlen - l[k]->woff > cl->sendbuf_limit) {
                    log_msg(LL_WARNING, "Freeing cluster link(%s node %.40s, used memory: %zu) "
                            "due to exceeding send buffer memory limit.",
                            l[k]->inbound ? "from" : "to", n->name, l[k]->wcap);
                    bus_link_free(cl, l[k]);
                    cl->stats_links_limit_exceeded++;
                }
        }
        if (n->flags & (BUS_NODE_MYSELF | BUS_NODE_NOADDR))
            continue;
        if (n->flags & BUS_NODE_PFAIL)
            cl->stats_pfail_nodes++;
        if (cl_in_handshake(n) && now - n->ctime > handshake_timeout) {
            cl_node_delete(cl, n);
            continue;
        }
        if (!n->link && cl->bus)
            link_connect(cl, n);
    }

    /* About once a second, ping the least recently heard of 5 random nodes. */
    if (cl->iteration % 10 == 0 && cl->nnodes > 0) {
        for (int j = 0; j < 5; j++) {
            struct cl_node *t = cl->nodes[cl_random(cl) % cl->nnodes];
            if (!t->link || t->ping_sent != 0)
                continue;
            if (t->flags & (BUS_NODE_MYSELF | BUS_NODE_HANDSHAKE))
                continue;
            if (!min_node || min_pong > t->pong_received) {
                min_node = t;
                min_pong = t->pong_received;
            }
        }
        if (min_node) {
            log_msg(LL_DEBUG, "Pinging node %.40s", min_node->name);
            bus_send_ping(cl, min_node->link, BUS_TYPE_PING);
        }
    }

    for (unsigned i = 0; i < cl->nnodes; i++) {
        struct cl_node *n = cl->nodes[i];
        int64_t ping_delay, data_delay, delay;

        if (n->flags & (BUS_NODE_MYSELF | BUS_NODE_NOADDR | BUS_NODE_HANDSHAKE))
            continue;
        ping_delay = now - n->ping_sent;
        data_delay = now - n->data_received;
        /* Connected, but silent for half the timeout with a ping out: the
         * link may be stuck even if the node lives; reconnect. */
        if (n->link && now - n->link->ctime > cl->node_timeout && n->ping_sent &&
            ping_delay > cl->node_timeout / 2 && data_delay > cl->node_timeout / 2)
            bus_link_free(cl, n->link);
        /* Nobody pinged for half the timeout: do it now, so every node is
         * pinged well within node_timeout. */
        if (n->link && n->ping_sent == 0 && now - n->pong_received > cl->node_timeout / 2) {
            bus_send_ping(cl, n->link, BUS_TYPE_PING);
            continue;
        }
        if (n->ping_sent == 0)
            continue;
        /* Any data from the node counts as liveness. */
        delay = ping_delay < data_delay ? ping_delay : data_delay;
        if (delay > cl->node_timeout && !(n->flags & (BUS_NODE_PFAIL | BUS_NODE_FAIL))) {
            log_msg(LL_DEBUG, "*** NODE %.40s possibly failing", n->name);
            n->flags |= BUS_NODE_PFAIL;
            update_state = 1;
        }
    }
    if (update_state || cl->state == BUS_STATE_FAIL)
        cl_update_state(cl);
}

/* ---- set-up -------------------------------------------------------------- */

static int listen_one(struct cluster *cl, const char *spec, int port)
{
    struct epoll_event e;
    int fd, rc;

    if (cl->bus->nlisten >= BUS_MAX_LISTENERS)
        return -ENOSPC;
    rc = listen_tcp(spec, port, 511, 0, &fd);   /* 511: Redis's tcp-backlog default */
    if (rc != 0 || fd < 0)
        return rc;
    cl->bus->listen[cl->bus->nlisten].kind = TAG_LISTENER;
    cl->bus->listen[cl->bus->nlisten].fd = fd;
    e.events = EPOLLIN;
    e.data.ptr = &cl->bus->listen[cl->bus->nlisten];
    if (epoll_ctl(cl->bus->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    cl->bus->nlisten++;
    return 0;
}

int bus_open(struct cluster *cl, char *const *binds, int nbinds)
{
    struct bus *b = calloc(1, sizeof(*b));
    struct epoll_event e;
    int rc = 0;

    if (!b)
        return -ENOMEM;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    b->wake.kind = TAG_WAKE;
    b->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->epfd < 0 || b->wake.fd < 0) {
        rc = -errno;
        log_errno(LL_WARNING, b->epfd < 0 ? "epoll_create1" : "eventfd", "cluster bus");
        goto fail;
    }
    e.events = EPOLLIN;
    e.data.ptr = &b->wake;
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->wake.fd, &e) != 0) {
        rc = -errno;
        goto fail;
    }
    cl->bus = b;
    for (int i = 0; i < nbinds && rc == 0; i++)
        rc = listen_one(cl, binds[i], cl->listen_cport);
    if (rc == 0 && b->nlisten == 0)
        rc = -EADDRNOTAVAIL;
    if (rc != 0) {
        log_msg(LL_WARNING, "Failed listening on port %u (cluster), aborting.",
                (unsigned)cl->listen_cport);
        bus_close(cl);
        return rc;
    }
    return 0;
fail:
    if (b->epfd >= 0)
        close(b->epfd);
    if (b->wake.fd >= 0)
        close(b->wake.fd);
    free(b);
    return rc;
}

void bus_close(struct cluster *cl)
{
    struct bus *b = cl->bus;

    if (!b)
        return;
    while (cl->links)
        bus_link_free(cl, cl->links);
    for (unsigned i = 0; i < b->nlisten; i++)
        close(b->listen[i].fd);
    close(b->wake.fd);
    close(b->epfd);
    free(b);
    cl->bus = NULL;
    bus_flush(cl);
}

int bus_fd(const struct cluster *cl)
{
    return cl->bus ? cl->bus->epfd : -1;
}
