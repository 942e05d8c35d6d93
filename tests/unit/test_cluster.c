/* Unit tests for cluster/cluster.c and cluster/bus.c: nodes.conf in 7.0's
 * exact format (files saved by redis-server 7.0.15 are loaded and written
 * back byte for byte), epoch rules (bump, collision, SET-CONFIG-EPOCH's
 * preconditions are command-level and tested end to end), failure reports
 * and the FAIL majority, slot ownership from claims and UPDATE, the MEET
 * handshake and gossip as bus_process sees them, votes, and the slot map
 * the data cores get.
 *
 * No sockets: links are made with fd -1, so what the node sends stays in
 * the link's output buffer, where the tests decode it. Every cluster is
 * freed and every temporary file removed before a test returns. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cluster/cluster_priv.h"
#include "../../cluster/slotmap.h"

#define T0 1795384600000LL        /* a fixed "now" */
#define TIMEOUT 15000

/* nodes.conf files written by redis-server 7.0.15 (CLUSTER SAVECONFIG):
 * three masters 7741-7743 from `redis-cli --cluster create`, 7742 with
 * --cluster-announce-hostname node2.example, 7744 added as a replica of
 * 7741 and then killed (slave,fail), CLUSTER DELSLOTS 5000 on 7741, and
 * SETSLOT 100/1672 MIGRATING on 7741, SETSLOT 1672 IMPORTING on 7742. */
static const char conf_7741[] =
    "3a0f29547789fed34d8347aeb1894a0a7187982e 127.0.0.1:7743@17743 master - 0 1795384595116 3 connected 10923-16383\n"
    "4e0dac6b03e4a259ea8403fee02c234c0f23bc54 127.0.0.1:7741@17741 myself,master - 0 1795384594000 1 connected 0-4999 5001-5460 [100->-95a131c8f6898967b51ff3fa070fcf0ef6196545] [1672->-95a131c8f6898967b51ff3fa070fcf0ef6196545]\n"
    "2d37a56a5055b63c4c44a0de3b5adffc956ea9c4 127.0.0.1:7744@17744 slave,fail 4e0dac6b03e4a259ea8403fee02c234c0f23bc54 1795384590131 1795384589122 1 disconnected\n"
    "95a131c8f6898967b51ff3fa070fcf0ef6196545 127.0.0.1:7742@17742,node2.example master - 0 1795384595218 2 connected 5461-10922\n"
    "vars currentEpoch 3 lastVoteEpoch 0\n";

static const char conf_7742[] =
    "4e0dac6b03e4a259ea8403fee02c234c0f23bc54 127.0.0.1:7741@17741 master - 0 1795384595257 1 connected 0-5460\n"
    "3a0f29547789fed34d8347aeb1894a0a7187982e 127.0.0.1:7743@17743 master - 0 1795384595157 3 connected 10923-16383\n"
    "2d37a56a5055b63c4c44a0de3b5adffc956ea9c4 127.0.0.1:7744@17744 slave,fail 4e0dac6b03e4a259ea8403fee02c234c0f23bc54 1795384590155 1795384589133 1 disconnected\n"
    "95a131c8f6898967b51ff3fa070fcf0ef6196545 127.0.0.1:7742@17742,node2.example myself,master - 0 1795384594000 2 connected 5461-10922 [1672-<-4e0dac6b03e4a259ea8403fee02c234c0f23bc54]\n"
    "vars currentEpoch 3 lastVoteEpoch 0\n";

/* What slotd writes back after loading them at time T0, as 7.0 would right
 * after a restart: non-zero ping/pong times became "now" (7.0's loading
 * rule), no link is up yet ("disconnected"), and nodes come in the order
 * they were created while loading, a node named by an open slot before its
 * own line included (7.0 has no order at all: a hash table). */
static const char conf_7741_saved[] =
    "3a0f29547789fed34d8347aeb1894a0a7187982e 127.0.0.1:7743@17743 master - 0 1795384600000 3 disconnected 10923-16383\n"
    "4e0dac6b03e4a259ea8403fee02c234c0f23bc54 127.0.0.1:7741@17741 myself,master - 0 1795384600000 1 connected 0-4999 5001-5460 [100->-95a131c8f6898967b51ff3fa070fcf0ef6196545] [1672->-95a131c8f6898967b51ff3fa070fcf0ef6196545]\n"
    "95a131c8f6898967b51ff3fa070fcf0ef6196545 127.0.0.1:7742@17742,node2.example master - 0 1795384600000 2 disconnected 5461-10922\n"
    "2d37a56a5055b63c4c44a0de3b5adffc956ea9c4 127.0.0.1:7744@17744 slave,fail 4e0dac6b03e4a259ea8403fee02c234c0f23bc54 1795384600000 1795384600000 1 disconnected\n"
    "vars currentEpoch 3 lastVoteEpoch 0\n";

static const char conf_7742_saved[] =
    "4e0dac6b03e4a259ea8403fee02c234c0f23bc54 127.0.0.1:7741@17741 master - 0 1795384600000 1 disconnected 0-5460\n"
    "3a0f29547789fed34d8347aeb1894a0a7187982e 127.0.0.1:7743@17743 master - 0 1795384600000 3 disconnected 10923-16383\n"
    "2d37a56a5055b63c4c44a0de3b5adffc956ea9c4 127.0.0.1:7744@17744 slave,fail 4e0dac6b03e4a259ea8403fee02c234c0f23bc54 1795384600000 1795384600000 1 disconnected\n"
    "95a131c8f6898967b51ff3fa070fcf0ef6196545 127.0.0.1:7742@17742,node2.example myself,master - 0 1795384600000 2 connected 5461-10922 [1672-<-4e0dac6b03e4a259ea8403fee02c234c0f23bc54]\n"
    "vars currentEpoch 3 lastVoteEpoch 0\n";

/* ---- helpers --------------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cluster.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

static char *path_of(const char *file)
{
    static char p[128];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, file);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static struct cluster *mk(void)
{
    struct cluster *cl = cl_new(2);

    assert_non_null(cl);
    cl->now = T0;
    cl->node_timeout = TIMEOUT;
    return cl;
}

static void name_of(char name[BUS_NAMELEN], char c)
{
    memset(name, c, BUS_NAMELEN);
}

/* A node named cccc...c (40 times c). */
static struct cl_node *mk_node(struct cluster *cl, char c, uint16_t flags)
{
    char name[BUS_NAMELEN];
    struct cl_node *n;

    name_of(name, c);
    n = cl_node_create(cl, name, flags);
    assert_non_null(n);
    snprintf(n->ip, sizeof(n->ip), "127.0.0.1");
    n->port = 7000 + (c & 0x7f);
    n->cport = n->port + CL_PORT_INCR;
    return n;
}

static struct cluster *mk_with_myself(char c)
{
    struct cluster *cl = mk();

    cl->myself = mk_node(cl, c, BUS_NODE_MYSELF | BUS_NODE_MASTER);
    return cl;
}

static void add_slots(struct cluster *cl, struct cl_node *n, unsigned from, unsigned to)
{
    for (unsigned s = from; s <= to; s++)
        assert_int_equal(cl_add_slot(cl, n, s), 0);
}

static void hdr(struct bus_hdr *h, uint16_t type, const struct cl_node *sender,
                uint64_t cur, uint64_t cfg, const uint8_t *slots)
{
    memset(h, 0, sizeof(*h));
    h->type = type;
    h->port = (uint16_t)sender->port;
    h->cport = (uint16_t)sender->cport;
    h->current_epoch = cur;
    h->config_epoch = cfg;
    memcpy(h->sender, sender->name, BUS_NAMELEN);
    h->myslots = slots;
    h->flags = BUS_NODE_MASTER | BUS_NODE_MYSELF;
}

/* Encode m and hand it to bus_process on link. Returns bus_process's rc. */
static int feed(struct cluster *cl, struct cl_link *link, const struct bus_msg *m)
{
    size_t len, got;
    uint8_t *buf;
    int rc;

    assert_int_equal(bus_msg_encoded_len(m, &len), 0);
    buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(bus_msg_encode(m, buf, len, &got), 0);
    rc = bus_process(cl, link, buf, got);
    free(buf);
    return rc;
}

/* The i-th message queued on a link (decoded; *raw keeps it alive). */
static int queued(const struct cl_link *link, unsigned i, struct bus_msg *m)
{
    size_t off = link->woff;

    while (off < link->wlen) {
        uint32_t totlen;
        assert_int_equal(bus_msg_frame(link->wbuf + off, link->wlen - off, &totlen), 0);
        if (i-- == 0) {
            assert_int_equal(bus_msg_decode(link->wbuf + off, totlen, m), 0);
            return 1;
        }
        off += totlen;
    }
    return 0;
}

static unsigned nqueued(const struct cl_link *link)
{
    struct bus_msg m;
    unsigned n = 0;

    while (queued(link, n, &m))
        n++;
    return n;
}

static void clear_queue(struct cl_link *link)
{
    link->woff = link->wlen = 0;
}

/* ---- nodes.conf ------------------------------------------------------------ */

static void conf_fresh_node(void **state)
{
    struct cluster *cl = mk();
    char expect[256], *got;

    (void)state;
    cl->myself = cl_node_create(cl, NULL, BUS_NODE_MYSELF | BUS_NODE_MASTER);
    assert_non_null(cl->myself);
    assert_true(cl_valid_name(cl->myself->name, BUS_NAMELEN));
    cl->config_path = strdup(path_of("nodes.conf"));
    assert_int_equal(cl_save_config(cl, 1), 0);
    /* 7.0's first nodes.conf: no address yet. */
    snprintf(expect, sizeof(expect), "%.40s :0@0 myself,master - 0 0 0 connected\n"
             "vars currentEpoch 0 lastVoteEpoch 0\n", cl->myself->name);
    got = read_file(cl->config_path);
    assert_string_equal(got, expect);
    free(got);
    assert_int_equal(unlink(cl->config_path), 0);
    cl_free(cl);
}

static void roundtrip(const char *in, const char *expect)
{
    struct cluster *cl = mk();
    char *got;

    write_file(path_of("in.conf"), in);
    assert_int_equal(cl_load_config(cl, path_of("in.conf")), 0);
    cl->config_path = strdup(path_of("out.conf"));
    assert_int_equal(cl_save_config(cl, 0), 0);
    got = read_file(cl->config_path);
    assert_string_equal(got, expect);
    free(got);
    /* And once more: a file slotd wrote loads back to the same bytes. */
    cl_free(cl);
    cl = mk();
    assert_int_equal(cl_load_config(cl, path_of("out.conf")), 0);
    cl->config_path = strdup(path_of("out2.conf"));
    assert_int_equal(cl_save_config(cl, 0), 0);
    got = read_file(cl->config_path);
    assert_string_equal(got, expect);
    free(got);
    cl_free(cl);
    unlink(path_of("in.conf"));
    unlink(path_of("out.conf"));
    unlink(path_of("out2.conf"));
}

static void conf_roundtrip_70(void **state)
{
    (void)state;
    roundtrip(conf_7741, conf_7741_saved);
    roundtrip(conf_7742, conf_7742_saved);
}

static void conf_loaded_state(void **state)
{
    struct cluster *cl = mk();
    struct cl_node *me, *replica, *n2;

    (void)state;
    write_file(path_of("in.conf"), conf_7741);
    assert_int_equal(cl_load_config(cl, path_of("in.conf")), 0);
    me = cl->myself;
    assert_memory_equal(me->name, "4e0dac6b03e4a259ea8403fee02c234c0f23bc54", 40);
    assert_int_equal(me->numslots, 5460);           /* 0-4999 and 5001-5460 */
    assert_ptr_equal(cl->slots[0], me);
    assert_null(cl->slots[5000]);
    assert_ptr_equal(cl->slots[5460], me);
    assert_int_equal(me->port, 7741);
    assert_int_equal(me->cport, 17741);
    assert_int_equal(cl->current_epoch, 3);
    assert_int_equal(cl->last_vote_epoch, 0);
    n2 = cl_lookup(cl, "95a131c8f6898967b51ff3fa070fcf0ef6196545", 40);
    assert_non_null(n2);
    assert_string_equal(n2->hostname, "node2.example");
    assert_int_equal(n2->config_epoch, 2);
    assert_ptr_equal(cl->migrating_to[100], n2);
    assert_ptr_equal(cl->migrating_to[1672], n2);
    assert_null(cl->migrating_to[101]);
    replica = cl_lookup(cl, "2d37a56a5055b63c4c44a0de3b5adffc956ea9c4", 40);
    assert_non_null(replica);
    assert_int_equal(replica->flags, BUS_NODE_SLAVE | BUS_NODE_FAIL);
    assert_ptr_equal(replica->slaveof, me);
    assert_int_equal(me->numslaves, 1);
    assert_int_equal(replica->config_epoch, 0);     /* a replica's comes from its master */
    assert_int_equal(replica->fail_time, T0);
    assert_int_equal(replica->ping_sent, T0);
    cl_free(cl);
    unlink(path_of("in.conf"));
}

static void conf_errors(void **state)
{
    static const char *const bad[] = {
        /* fewer than 8 fields */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0\n",
        /* upper-case ID */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA :0@0 myself,master - 0 0 0 connected\n",
        /* 39-char ID */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected\n",
        /* unknown flag */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,boss - 0 0 0 connected\n",
        /* no port */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1 myself,master - 0 0 0 connected\n",
        /* slot out of range, at the boundary */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected 16384\n",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected 0-16384\n",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected -1\n",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected 5x\n",
        /* open slot with a bad node */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected [5->-abc]\n",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected [5>>-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]\n",
        /* master with a bad ID */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,slave xyz 0 0 0 connected\n",
        /* no myself */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 master - 0 0 0 connected\n",
        /* two myself */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected\n"
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb :0@0 myself,master - 0 0 0 connected\n",
        /* vars without a value */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa :0@0 myself,master - 0 0 0 connected\n"
        "vars currentEpoch\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cluster *cl = mk();
        write_file(path_of("bad.conf"), bad[i]);
        assert_int_equal(cl_load_config(cl, path_of("bad.conf")), -EINVAL);
        cl_free(cl);
    }
    {
        struct cluster *cl = mk();
        assert_int_equal(cl_load_config(cl, path_of("missing.conf")), -ENOENT);
        write_file(path_of("bad.conf"), "");
        assert_int_equal(cl_load_config(cl, path_of("bad.conf")), -ENOENT);
        cl_free(cl);
    }
    unlink(path_of("bad.conf"));
}

static void conf_lenient_forms(void **state)
{
    struct cluster *cl = mk();

    (void)state;
    /* Old files have no @cport (port + 10000), blank lines, unknown vars
     * (skipped), noflags nodes and a currentEpoch below a configEpoch. */
    write_file(path_of("in.conf"),
               "\n"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:7001 myself,master - 0 0 7 connected 16383\n"
               "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1:7002@17777 noflags - 0 0 0 connected\n"
               "vars currentEpoch 2 lastVoteEpoch 1 futureVar 9\n");
    assert_int_equal(cl_load_config(cl, path_of("in.conf")), 0);
    assert_int_equal(cl->myself->cport, 17001);
    assert_ptr_equal(cl->slots[16383], cl->myself);
    assert_int_equal(cl->current_epoch, 7);
    assert_int_equal(cl->last_vote_epoch, 1);
    assert_int_equal(cl_lookup(cl, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 40)->cport, 17777);
    cl_free(cl);
    unlink(path_of("in.conf"));
}

/* ---- epochs ---------------------------------------------------------------- */

static void epoch_bump(void **state)
{
    struct cluster *cl = mk_with_myself('a');
    struct cl_node *b = mk_node(cl, 'b', BUS_NODE_MASTER);

    (void)state;
    /* configEpoch 0 always bumps. */
    assert_int_equal(cl_bump_epoch(cl), 0);
    assert_int_equal(cl->myself->config_epoch, 1);
    assert_int_equal(cl->current_epoch, 1);
    assert_true(cl->todo & CL_TODO_SAVE);
    assert_true(cl->todo & CL_TODO_FSYNC);
    /* Already the greatest: STILL. */
    assert_int_equal(cl_bump_epoch(cl), -EALREADY);
    assert_int_equal(cl->myself->config_epoch, 1);
    /* Another node is ahead: bump past the current epoch. */
    b->config_epoch = 5;
    cl->current_epoch = 5;
    assert_int_equal(cl_max_epoch(cl), 5);
    assert_int_equal(cl_bump_epoch(cl), 0);
    assert_int_equal(cl->myself->config_epoch, 6);
    assert_int_equal(cl->current_epoch, 6);
    /* currentEpoch counts in max too. */
    cl->current_epoch = 9;
    assert_int_equal(cl_max_epoch(cl), 9);
    cl_free(cl);
}

static void epoch_collision(void **state)
{
    struct cluster *cl = mk_with_myself('5');
    struct cl_node *greater = mk_node(cl, '9', BUS_NODE_MASTER);
    struct cl_node *smaller = mk_node(cl, '1', BUS_NODE_MASTER);
    struct cl_node *replica = mk_node(cl, 'c', BUS_NODE_SLAVE);

    (void)state;
    cl->myself->config_epoch = greater->config_epoch = smaller->config_epoch = 3;
    replica->config_epoch = 3;
    cl->current_epoch = 3;
    /* The smaller ID keeps its epoch... */
    cl_epoch_collision(cl, smaller);
    assert_int_equal(cl->myself->config_epoch, 3);
    /* ...replicas never collide... */
    cl_epoch_collision(cl, replica);
    assert_int_equal(cl->myself->config_epoch, 3);
    /* ...and a greater ID makes us move to a new epoch. */
    cl_epoch_collision(cl, greater);
    assert_int_equal(cl->myself->config_epoch, 4);
    assert_int_equal(cl->current_epoch, 4);
    /* No longer equal: nothing more. */
    cl_epoch_collision(cl, greater);
    assert_int_equal(cl->myself->config_epoch, 4);
    cl_free(cl);
}

/* A fresh cluster of masters at epoch 0 pinging each other settles on
 * distinct epochs; the greatest ID keeps 0 (cluster-bus.md §5.4). */
static void epoch_collision_through_pings(void **state)
{
    struct cluster *cl = mk_with_myself('2');
    struct cl_node *b = mk_node(cl, '7', BUS_NODE_MASTER);
    struct cl_link *in = bus_link_new(cl, -1, NULL);
    uint8_t none[BUS_SLOT_BYTES] = { 0 };
    struct bus_msg m;

    (void)state;
    assert_non_null(in);
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_PING, b, 0, 0, none);
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(cl->myself->config_epoch, 1);
    assert_int_equal(b->config_epoch, 0);
    assert_ptr_equal(b->inbound_link, in);          /* bound on its first message */
    cl_free(cl);
}

/* ---- failure detection ----------------------------------------------------- */

/* myself + A, B, C, X: five masters with slots, quorum 3. */
static struct cluster *five_masters(struct cl_node **n)
{
    struct cluster *cl = mk_with_myself('e');

    n[0] = mk_node(cl, 'a', BUS_NODE_MASTER);
    n[1] = mk_node(cl, 'b', BUS_NODE_MASTER);
    n[2] = mk_node(cl, 'c', BUS_NODE_MASTER);
    n[3] = mk_node(cl, 'f', BUS_NODE_MASTER);   /* X, the one that fails */
    add_slots(cl, cl->myself, 0, 99);
    add_slots(cl, n[0], 100, 199);
    add_slots(cl, n[1], 200, 299);
    add_slots(cl, n[2], 300, 399);
    add_slots(cl, n[3], 400, 499);
    cl->first_update = T0 - 10 * CL_WRITABLE_DELAY_MS;
    cl_update_state(cl);
    assert_int_equal(cl->size, 5);
    return cl;
}

static void failure_majority(void **state)
{
    struct cl_node *n[4], *x;
    struct cluster *cl = five_masters(n);
    struct cl_link *link_a;
    struct bus_msg m;

    (void)state;
    x = n[3];
    link_a = bus_link_new(cl, -1, n[0]);             /* our outbound link to A */
    assert_non_null(link_a);
    /* Reports do not matter while we can reach X ourselves. */
    assert_int_equal(cl_report_add(cl, x, n[0]), 1);
    assert_int_equal(cl_report_add(cl, x, n[0]), 0);  /* refreshed, not added */
    assert_int_equal(cl_mark_failing_if_needed(cl, x), 0);
    /* PFAIL here + A's report = 2 < 3. */
    x->flags |= BUS_NODE_PFAIL;
    assert_int_equal(cl_mark_failing_if_needed(cl, x), 0);
    assert_int_equal(x->flags & BUS_NODE_FAIL, 0);
    /* B's report makes 3: FAIL, broadcast to every node with a link. */
    assert_int_equal(cl_report_add(cl, x, n[1]), 1);
    assert_int_equal(cl_report_count(cl, x), 2);
    assert_int_equal(cl_mark_failing_if_needed(cl, x), 1);
    assert_int_equal(x->flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL), BUS_NODE_FAIL);
    assert_int_equal(x->fail_time, T0);
    assert_int_equal(nqueued(link_a), 1);
    assert_true(queued(link_a, 0, &m));
    assert_int_equal(m.hdr.type, BUS_TYPE_FAIL);
    assert_memory_equal(m.u.fail.nodename, x->name, BUS_NAMELEN);
    assert_memory_equal(m.hdr.sender, cl->myself->name, BUS_NAMELEN);
    /* Already FAIL: nothing more. */
    assert_int_equal(cl_mark_failing_if_needed(cl, x), 0);
    cl_update_state(cl);
    assert_int_equal(cl->size, 5);
    cl_free(cl);
}

static void failure_reports_expire(void **state)
{
    struct cl_node *n[4];
    struct cluster *cl = five_masters(n);

    (void)state;
    cl_report_add(cl, n[3], n[0]);
    cl->now += 1000;
    cl_report_add(cl, n[3], n[1]);
    /* Exactly 2 * node_timeout old still counts; one ms more does not. */
    cl->now = T0 + 2 * TIMEOUT;
    assert_int_equal(cl_report_count(cl, n[3]), 2);
    cl->now = T0 + 2 * TIMEOUT + 1;
    assert_int_equal(cl_report_count(cl, n[3]), 1);
    /* A deleted reporter takes its reports with it. */
    cl_node_delete(cl, n[1]);
    assert_int_equal(cl_report_count(cl, n[3]), 0);
    cl_free(cl);
}

static void gossip_failure_reports(void **state)
{
    struct cl_node *n[4];
    struct cluster *cl = five_masters(n);
    struct cl_node *replica = mk_node(cl, 'd', BUS_NODE_SLAVE), *x = n[3];
    struct cl_link *in = bus_link_new(cl, -1, NULL);
    struct bus_gossip g;
    struct bus_msg m;

    (void)state;
    replica->slaveof = n[0];
    cl_node_add_slave(n[0], replica);
    x->flags |= BUS_NODE_PFAIL;
    memset(&g, 0, sizeof(g));
    memcpy(g.nodename, x->name, BUS_NAMELEN);
    g.flags = BUS_NODE_MASTER | BUS_NODE_PFAIL;
    memset(&m, 0, sizeof(m));
    /* From a replica: no report. */
    hdr(&m.hdr, BUS_TYPE_PING, replica, 0, 0, n[0]->slots);
    memcpy(m.hdr.slaveof, n[0]->name, BUS_NAMELEN);
    m.hdr.count = 1;
    m.u.ping.gossip = &g;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(cl_report_count(cl, x), 0);
    /* From masters A then B: the second makes the majority. */
    in = bus_link_new(cl, -1, NULL);
    hdr(&m.hdr, BUS_TYPE_PING, n[0], 0, 0, n[0]->slots);
    m.hdr.count = 1;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(cl_report_count(cl, x), 1);
    assert_int_equal(x->flags & BUS_NODE_FAIL, 0);
    /* A says X is fine again: its report goes. */
    g.flags = BUS_NODE_MASTER;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(cl_report_count(cl, x), 0);
    g.flags = BUS_NODE_MASTER | BUS_NODE_FAIL;
    assert_int_equal(feed(cl, in, &m), 0);
    in = bus_link_new(cl, -1, NULL);
    hdr(&m.hdr, BUS_TYPE_PING, n[1], 0, 0, n[1]->slots);
    m.hdr.count = 1;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(x->flags & (BUS_NODE_FAIL | BUS_NODE_PFAIL), BUS_NODE_FAIL);
    cl_free(cl);
}

static void fail_message_and_clearing(void **state)
{
    struct cl_node *n[4];
    struct cluster *cl = five_masters(n);
    struct cl_node *x = n[3];
    struct cl_link *in = bus_link_new(cl, -1, NULL), *out_x;
    uint8_t none[BUS_SLOT_BYTES] = { 0 };
    struct bus_msg m;

    (void)state;
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_FAIL, n[0], 0, 0, n[0]->slots);
    memcpy(m.u.fail.nodename, x->name, BUS_NAMELEN);
    assert_int_equal(feed(cl, in, &m), 0);
    assert_true(x->flags & BUS_NODE_FAIL);
    assert_int_equal(x->fail_time, T0);
    /* FAIL about myself is ignored. */
    memcpy(m.u.fail.nodename, cl->myself->name, BUS_NAMELEN);
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(cl->myself->flags & BUS_NODE_FAIL, 0);
    /* X answers again: a master with slots stays FAIL until 2 * timeout... */
    out_x = bus_link_new(cl, -1, x);
    hdr(&m.hdr, BUS_TYPE_PONG, x, 0, 0, x->slots);
    cl->now = T0 + 2 * TIMEOUT;
    assert_int_equal(feed(cl, out_x, &m), 0);
    assert_true(x->flags & BUS_NODE_FAIL);
    assert_int_equal(x->pong_received, cl->now);
    /* ...then clears. */
    cl->now = T0 + 2 * TIMEOUT + 1;
    assert_int_equal(feed(cl, out_x, &m), 0);
    assert_int_equal(x->flags & BUS_NODE_FAIL, 0);
    /* A master without slots clears at once. */
    cl_del_node_slots(cl, x);
    x->flags |= BUS_NODE_FAIL;
    x->fail_time = cl->now;
    hdr(&m.hdr, BUS_TYPE_PONG, x, 0, 0, none);
    assert_int_equal(feed(cl, out_x, &m), 0);
    assert_int_equal(x->flags & BUS_NODE_FAIL, 0);
    cl_free(cl);
}

static void pfail_after_timeout(void **state)
{
    struct cl_node *n[4];
    struct cluster *cl = five_masters(n);
    struct cl_node *x = n[3];

    (void)state;
    x->ping_sent = T0;
    x->data_received = T0;
    x->pong_received = T0;
    for (unsigned i = 0; i < 3; i++)
        n[i]->pong_received = n[i]->data_received = T0;
    /* Exactly node_timeout is not yet a timeout. */
    cl->now = T0 + TIMEOUT;
    bus_cron(cl);
    assert_int_equal(x->flags & BUS_NODE_PFAIL, 0);
    cl->now = T0 + TIMEOUT + 1;
    bus_cron(cl);
    assert_true(x->flags & BUS_NODE_PFAIL);
    cl_free(cl);
}

/* ---- slots ----------------------------------------------------------------- */

static void claims_and_epochs(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER), *b = mk_node(cl, 'b', BUS_NODE_MASTER);
    uint8_t claim[BUS_SLOT_BYTES] = { 0 };

    (void)state;
    add_slots(cl, cl->myself, 0, 9);
    add_slots(cl, a, 10, 19);
    a->config_epoch = 5;
    cl->myself->config_epoch = 3;
    for (unsigned s = 0; s < 30; s++)
        bus_slot_set(claim, s);
    /* b claims 0-29 with epoch 4: ours (3) and the free ones move; a's (5) stay. */
    cl_update_slots_config(cl, b, 4, claim);
    assert_ptr_equal(cl->slots[0], b);
    assert_ptr_equal(cl->slots[9], b);
    assert_ptr_equal(cl->slots[10], a);
    assert_ptr_equal(cl->slots[29], b);
    assert_int_equal(cl->myself->numslots, 0);
    assert_int_equal(b->numslots, 20);
    b->config_epoch = 4;        /* bus_process stores the sender's epoch first */
    /* Equal epochs never move a slot. */
    cl_update_slots_config(cl, a, 4, claim);
    assert_ptr_equal(cl->slots[0], b);
    /* An importing slot is left alone. */
    cl->importing_from[25] = b;
    cl_update_slots_config(cl, a, 9, claim);
    assert_ptr_equal(cl->slots[25], b);
    assert_ptr_equal(cl->slots[24], a);
    a->config_epoch = 9;
    /* A slot its owner stops claiming stays bound but goes to the next claimant. */
    memset(claim, 0, sizeof(claim));
    for (unsigned s = 0; s < 30; s++)
        if (s != 12)
            bus_slot_set(claim, s);
    cl_update_slots_config(cl, a, 9, claim);
    assert_ptr_equal(cl->slots[12], a);
    assert_true(bus_slot_test(cl->owner_not_claiming, 12));
    memset(claim, 0, sizeof(claim));
    bus_slot_set(claim, 12);
    cl_update_slots_config(cl, b, 1, claim);
    assert_ptr_equal(cl->slots[12], b);
    assert_false(bus_slot_test(cl->owner_not_claiming, 12));
    /* Claims about myself are discarded. */
    cl_update_slots_config(cl, cl->myself, 99, claim);
    assert_ptr_equal(cl->slots[12], b);
    cl_free(cl);
}

static void stale_claim_gets_update(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER), *b = mk_node(cl, 'b', BUS_NODE_MASTER);
    struct cl_link *in = bus_link_new(cl, -1, NULL), *out_b = bus_link_new(cl, -1, b);
    uint8_t claim[BUS_SLOT_BYTES] = { 0 };
    struct bus_msg m, up;

    (void)state;
    add_slots(cl, a, 0, 99);
    a->config_epoch = 5;
    b->config_epoch = 1;
    bus_slot_set(claim, 0);
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_PING, b, 5, 1, claim);
    assert_int_equal(feed(cl, in, &m), 0);
    assert_ptr_equal(cl->slots[0], a);
    /* The PONG goes back on the link the PING came in on... */
    assert_int_equal(nqueued(in), 1);
    assert_true(queued(in, 0, &up));
    assert_int_equal(up.hdr.type, BUS_TYPE_PONG);
    /* ...the UPDATE on our own link to b, about the rightful owner. */
    assert_int_equal(nqueued(out_b), 1);
    assert_true(queued(out_b, 0, &up));
    assert_int_equal(up.hdr.type, BUS_TYPE_UPDATE);
    assert_int_equal(up.hdr.totlen, BUS_UPDATE_LEN);
    assert_memory_equal(up.u.update.nodename, a->name, BUS_NAMELEN);
    assert_int_equal(up.u.update.config_epoch, 5);
    assert_true(bus_slot_test(up.u.update.slots, 99));
    assert_false(bus_slot_test(up.u.update.slots, 100));
    cl_free(cl);
}

static void update_message(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER), *b = mk_node(cl, 'b', BUS_NODE_SLAVE);
    struct cl_link *in = bus_link_new(cl, -1, NULL);
    uint8_t slots[BUS_SLOT_BYTES] = { 0 };
    struct bus_msg m;

    (void)state;
    add_slots(cl, a, 0, 9);
    a->config_epoch = 2;
    bus_slot_set(slots, 5);
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_UPDATE, a, 3, 2, a->slots);
    memcpy(m.u.update.nodename, b->name, BUS_NAMELEN);
    m.u.update.slots = slots;
    /* Not newer than what we know: ignored. */
    m.u.update.config_epoch = 0;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_ptr_equal(cl->slots[5], a);
    /* Newer: b becomes a master with that epoch and takes slot 5. */
    m.u.update.config_epoch = 3;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_true(cl_is_master(b));
    assert_int_equal(b->config_epoch, 3);
    assert_ptr_equal(cl->slots[5], b);
    assert_ptr_equal(cl->slots[4], a);
    cl_free(cl);
}

/* ---- handshake and gossip -------------------------------------------------- */

static void meet_from_unknown(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_link *in = bus_link_new(cl, -1, NULL);
    struct cl_node *known = mk_node(cl, 'b', BUS_NODE_MASTER), *stranger, *h = NULL;
    struct bus_gossip g[2];
    struct bus_msg m, pong;

    (void)state;
    add_slots(cl, cl->myself, 7, 7);
    cl->current_epoch = 4;
    cl->myself->config_epoch = 2;
    memset(&m, 0, sizeof(m));
    memset(g, 0, sizeof(g));
    /* gossip about a known node (refreshes its pong time) and an unknown one
     * (not added: the sender is unknown). */
    memcpy(g[0].nodename, known->name, BUS_NAMELEN);
    g[0].pong_received = (uint32_t)(T0 / 1000);
    g[0].flags = BUS_NODE_MASTER;
    memset(g[1].nodename, '3', BUS_NAMELEN);
    g[1].flags = BUS_NODE_MASTER;
    snprintf(g[1].ip, sizeof(g[1].ip), "127.0.0.1");
    {
        struct cl_node tmp;
        memset(&tmp, 0, sizeof(tmp));
        memset(tmp.name, '9', BUS_NAMELEN);
        tmp.port = 7300;
        tmp.cport = 17300;
        hdr(&m.hdr, BUS_TYPE_MEET, &tmp, 0, 0, NULL);
    }
    snprintf(m.hdr.myip, sizeof(m.hdr.myip), "10.1.2.3");
    m.hdr.count = 2;
    m.u.ping.gossip = g;
    assert_int_equal(feed(cl, in, &m), 0);
    /* A handshake node with a random name, at the announced address. */
    assert_int_equal(cl->nnodes, 3);
    for (unsigned i = 0; i < cl->nnodes; i++)
        if (cl_in_handshake(cl->nodes[i]))
            h = cl->nodes[i];
    assert_non_null(h);
    assert_string_equal(h->ip, "10.1.2.3");
    assert_int_equal(h->port, 7300);
    assert_int_equal(h->cport, 17300);
    assert_int_equal(h->flags, BUS_NODE_HANDSHAKE);
    assert_int_equal(known->pong_received, (T0 / 1000) * 1000);
    stranger = cl_lookup(cl, g[1].nodename, BUS_NAMELEN);
    assert_null(stranger);
    /* The PONG: every header field as 7.0 fills it. */
    assert_int_equal(nqueued(in), 1);
    assert_true(queued(in, 0, &pong));
    assert_int_equal(pong.hdr.type, BUS_TYPE_PONG);
    assert_memory_equal(pong.hdr.sender, cl->myself->name, BUS_NAMELEN);
    assert_int_equal(pong.hdr.current_epoch, 4);
    assert_int_equal(pong.hdr.config_epoch, 2);
    assert_int_equal(pong.hdr.flags, BUS_NODE_MYSELF | BUS_NODE_MASTER);
    assert_int_equal(pong.hdr.port, cl->myself->port);
    assert_int_equal(pong.hdr.cport, cl->myself->cport);
    assert_true(bus_slot_test(pong.hdr.myslots, 7));
    assert_false(bus_slot_test(pong.hdr.myslots, 8));
    assert_int_equal(pong.hdr.myip[0], 0);
    assert_int_equal(pong.hdr.extensions, 0);
    /* gossip: at most N - 2 = 1 entry, never about myself */
    assert_true(pong.hdr.count <= 1);
    cl_free(cl);
}

static void handshake_completes(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *h, *z;
    struct cl_link *out;
    char zname[BUS_NAMELEN];
    uint8_t none[BUS_SLOT_BYTES] = { 0 };
    struct bus_ext ext;
    struct bus_msg m;

    (void)state;
    assert_int_equal(cl_start_handshake(cl, "127.0.0.1", 7002, 17002), 0);
    assert_int_equal(cl_start_handshake(cl, "127.0.0.1", 7002, 17002), -EAGAIN);
    h = cl->nodes[cl->nnodes - 1];
    assert_int_equal(h->flags, BUS_NODE_HANDSHAKE | BUS_NODE_MEET);
    out = bus_link_new(cl, -1, h);
    name_of(zname, 'z');
    memset(&m, 0, sizeof(m));
    {
        struct cl_node tmp;
        memset(&tmp, 0, sizeof(tmp));
        memcpy(tmp.name, zname, BUS_NAMELEN);
        tmp.port = 7002;
        tmp.cport = 17002;
        hdr(&m.hdr, BUS_TYPE_PONG, &tmp, 0, 0, none);
    }
    bus_ext_hostname_init(&ext, "node2.example");
    m.hdr.extensions = 1;
    m.u.ping.ext = &ext;
    assert_int_equal(feed(cl, out, &m), 0);
    z = cl_lookup(cl, zname, BUS_NAMELEN);
    assert_ptr_equal(z, h);                 /* renamed, same node */
    /* MEET is cleared when the link connects (not simulated here). */
    assert_int_equal(z->flags & ~BUS_NODE_MEET, BUS_NODE_MASTER);
    assert_int_equal(z->pong_received, T0);
    /* The sender was unknown when the PONG arrived: its extensions wait for
     * the next message, which sets the hostname... */
    assert_string_equal(z->hostname, "");
    assert_int_equal(feed(cl, out, &m), 0);
    assert_string_equal(z->hostname, "node2.example");
    /* ...and a message without it clears it. */
    m.hdr.extensions = 0;
    m.u.ping.ext = NULL;
    assert_int_equal(feed(cl, out, &m), 0);
    assert_string_equal(z->hostname, "");
    /* A PONG from someone else on that link: NOADDR, link dropped. */
    memset(m.hdr.sender, 'y', BUS_NAMELEN);
    assert_int_equal(feed(cl, out, &m), -ECONNRESET);
    assert_true(z->flags & BUS_NODE_NOADDR);
    assert_null(z->link);
    assert_string_equal(z->ip, "");
    cl_free(cl);
}

static void handshake_invalid_addresses(void **state)
{
    struct cluster *cl = mk_with_myself('e');

    (void)state;
    assert_int_equal(cl_start_handshake(cl, "not-an-ip", 7000, 17000), -EINVAL);
    assert_int_equal(cl_start_handshake(cl, "127.0.0.1", 0, 10000), -EINVAL);
    assert_int_equal(cl_start_handshake(cl, "127.0.0.1", 65536, 17000), -EINVAL);
    assert_int_equal(cl_start_handshake(cl, "127.0.0.1", 7000, 65536), -EINVAL);
    assert_int_equal(cl_start_handshake(cl, "127.0.0.1", 65535, 65535), 0);
    /* IPv6 written in normalised form. */
    assert_int_equal(cl_start_handshake(cl, "0:0:0:0:0:0:0:1", 7000, 17000), 0);
    assert_string_equal(cl->nodes[cl->nnodes - 1]->ip, "::1");
    assert_int_equal(cl->nnodes, 3);
    cl_free(cl);
}

static void gossip_introduces_nodes(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *b = mk_node(cl, 'b', BUS_NODE_MASTER), *n;
    struct cl_link *in = bus_link_new(cl, -1, NULL);
    struct bus_gossip g;
    struct bus_msg m;

    (void)state;
    memset(&g, 0, sizeof(g));
    memset(g.nodename, '4', BUS_NAMELEN);
    snprintf(g.ip, sizeof(g.ip), "127.0.0.1");
    g.port = 7004;
    g.cport = 17004;
    g.flags = BUS_NODE_MASTER;
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_PING, b, 0, 0, b->slots);
    m.hdr.count = 1;
    m.u.ping.gossip = &g;
    /* A forgotten node stays out for the blacklist's 60 s. */
    cl_blacklist_add(cl, g.nodename);
    assert_int_equal(feed(cl, in, &m), 0);
    assert_null(cl_lookup(cl, g.nodename, BUS_NAMELEN));
    cl->now += CL_BLACKLIST_TTL_MS + 1;
    /* NOADDR entries are never added. */
    g.flags = BUS_NODE_MASTER | BUS_NODE_NOADDR;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_null(cl_lookup(cl, g.nodename, BUS_NAMELEN));
    g.flags = BUS_NODE_MASTER;
    assert_int_equal(feed(cl, in, &m), 0);
    n = cl_lookup(cl, g.nodename, BUS_NAMELEN);
    assert_non_null(n);
    assert_int_equal(n->flags, BUS_NODE_MASTER);
    assert_int_equal(n->port, 7004);
    assert_int_equal(n->cport, 17004);
    assert_string_equal(n->ip, "127.0.0.1");
    cl_free(cl);
}

static void ping_gossip_selection(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *nodes[12], *target;
    struct cl_link *out;
    struct bus_msg m;
    struct bus_gossip g;

    (void)state;
    for (int i = 0; i < 12; i++) {
        nodes[i] = mk_node(cl, (char)('a' + i) == 'e' ? 'z' : (char)('a' + i), BUS_NODE_MASTER);
        add_slots(cl, nodes[i], (unsigned)i, (unsigned)i);
    }
    nodes[3]->flags |= BUS_NODE_PFAIL;
    nodes[4]->flags |= BUS_NODE_HANDSHAKE;
    target = nodes[0];
    out = bus_link_new(cl, -1, target);
    cl->stats_pfail_nodes = 1;
    bus_send_ping(cl, out, BUS_TYPE_PING);
    assert_int_equal(target->ping_sent, T0);
    assert_true(queued(out, 0, &m));
    assert_int_equal(m.hdr.type, BUS_TYPE_PING);
    /* 13 nodes: wanted = max(3, 13/10) = 3 random entries at most, then
     * the PFAIL node appended; never myself, never a handshake node. */
    assert_true(m.hdr.count >= 1 && m.hdr.count <= 4);
    bus_gossip_get(&m, m.hdr.count - 1u, &g);
    assert_memory_equal(g.nodename, nodes[3]->name, BUS_NAMELEN);
    assert_true(g.flags & BUS_NODE_PFAIL);
    for (unsigned i = 0; i < m.hdr.count; i++) {
        bus_gossip_get(&m, i, &g);
        assert_memory_not_equal(g.nodename, cl->myself->name, BUS_NAMELEN);
        assert_memory_not_equal(g.nodename, nodes[4]->name, BUS_NAMELEN);
        for (unsigned j = 0; j < i; j++) {
            struct bus_gossip h;
            bus_gossip_get(&m, j, &h);
            assert_memory_not_equal(g.nodename, h.nodename, BUS_NAMELEN);
        }
    }
    /* With a hostname: one 8-aligned extension and EXT_DATA. */
    clear_queue(out);
    snprintf(cl->myself->hostname, sizeof(cl->myself->hostname), "slotd.example");
    bus_send_ping(cl, out, BUS_TYPE_PONG);
    assert_true(queued(out, 0, &m));
    assert_int_equal(m.hdr.extensions, 1);
    assert_true(m.hdr.mflags[0] & BUS_MF0_EXT_DATA);
    cl_free(cl);
}

static void votes(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *master = mk_node(cl, 'a', BUS_NODE_MASTER);
    struct cl_node *replica = mk_node(cl, 'b', BUS_NODE_SLAVE);
    struct cl_link *in = bus_link_new(cl, -1, NULL), *out_r = bus_link_new(cl, -1, replica);
    struct bus_msg m, ack;

    (void)state;
    replica->slaveof = master;
    cl_node_add_slave(master, replica);
    add_slots(cl, cl->myself, 0, 9);
    add_slots(cl, master, 10, 19);
    master->config_epoch = 2;
    cl->current_epoch = 3;
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_AUTH_REQUEST, replica, 4, 2, master->slots);
    memcpy(m.hdr.slaveof, master->name, BUS_NAMELEN);
    m.hdr.flags = BUS_NODE_SLAVE | BUS_NODE_MYSELF;
    /* Its master is up: no vote. */
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(nqueued(out_r), 0);
    /* Master FAIL: one vote, for epoch 4, on our link to the replica. */
    master->flags |= BUS_NODE_FAIL;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(nqueued(out_r), 1);
    assert_true(queued(out_r, 0, &ack));
    assert_int_equal(ack.hdr.type, BUS_TYPE_AUTH_ACK);
    assert_int_equal(ack.hdr.totlen, BUS_HDR_LEN);
    assert_int_equal(cl->last_vote_epoch, 4);
    assert_true(cl->todo & CL_TODO_FSYNC);
    /* Once per epoch... */
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(nqueued(out_r), 1);
    /* ...and once per 2 * node_timeout for that master. */
    m.hdr.current_epoch = 5;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(nqueued(out_r), 1);
    cl->now += 2 * TIMEOUT;
    m.hdr.current_epoch = 6;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(nqueued(out_r), 2);
    /* A master without slots never votes. */
    cl_del_node_slots(cl, cl->myself);
    cl->now += 2 * TIMEOUT;
    m.hdr.current_epoch = 7;
    assert_int_equal(feed(cl, in, &m), 0);
    assert_int_equal(nqueued(out_r), 2);
    cl_free(cl);
}

static void malformed_messages(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_link *in = bus_link_new(cl, -1, NULL);
    struct cl_node *b = mk_node(cl, 'b', BUS_NODE_MASTER);
    struct bus_msg m;
    uint8_t buf[BUS_HDR_LEN + 8];
    size_t len;

    (void)state;
    memset(&m, 0, sizeof(m));
    hdr(&m.hdr, BUS_TYPE_PING, b, 9, 0, b->slots);
    assert_int_equal(bus_msg_encode(&m, buf, sizeof(buf), &len), 0);
    /* Version 2: ignored, link kept, epoch untouched. */
    buf[9] = 2;
    assert_int_equal(bus_process(cl, in, buf, len), 0);
    assert_int_equal(cl->current_epoch, 0);
    assert_false(in->dead);
    /* A length that does not fit the type: ignored, link kept. */
    buf[9] = 1;
    buf[15] = 1;                           /* count 1 without the entry */
    assert_int_equal(bus_process(cl, in, buf, len), 0);
    assert_int_equal(cl->current_epoch, 0);
    assert_false(in->dead);
    /* Not a bus message at all: the link goes. */
    buf[0] = 'X';
    assert_int_equal(bus_process(cl, in, buf, len), -ECONNRESET);
    assert_true(in->dead);
    cl_free(cl);
}

/* ---- slot map ------------------------------------------------------------------ */

static void slotmap_contents(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER), *b = mk_node(cl, 'b', BUS_NODE_MASTER);
    struct slotmap *m, *old;

    (void)state;
    snprintf(b->hostname, sizeof(b->hostname), "node-b.example");
    add_slots(cl, cl->myself, 0, 99);
    add_slots(cl, a, 100, 199);
    cl->migrating_to[5] = a;
    cl->importing_from[150] = a;
    cl->importing_from[300] = b;
    cl->state = BUS_STATE_OK;
    m = cl_build_slotmap(cl);
    assert_non_null(m);
    assert_int_equal(m->cluster, 1);
    assert_int_equal(m->state_ok, 1);
    assert_int_equal(m->ncores, 2);
    assert_int_equal(m->nnodes, 3);
    assert_int_equal(m->self, cl->myself->idx);
    assert_int_equal(m->node_of[0], cl->myself->idx);
    assert_int_equal(m->node_of[99], cl->myself->idx);
    assert_int_equal(m->node_of[100], a->idx);
    assert_int_equal(m->node_of[199], a->idx);
    assert_int_equal(m->node_of[200], SLOTMAP_NONE);
    assert_int_equal(m->node_of[16383], SLOTMAP_NONE);
    assert_int_equal(m->migrating_to[5], a->idx);
    assert_int_equal(m->migrating_to[6], SLOTMAP_NONE);
    assert_int_equal(m->importing_from[150], a->idx);
    assert_int_equal(m->importing_from[300], b->idx);
    assert_string_equal(m->nodes[a->idx].endpoint, "127.0.0.1:7097");
    assert_string_equal(m->nodes[b->idx].endpoint, "127.0.0.1:7098");
    /* every slot's core is one of ours */
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        assert_true(m->core_of[s] < 2);
    /* Publishing derives direct[]: ours and stable only. */
    old = slotmap_publish(m);
    assert_int_equal(m->direct[0], 1);
    assert_int_equal(m->direct[99], 1);
    assert_int_equal(m->direct[5], 0);        /* migrating */
    assert_int_equal(m->direct[100], 0);      /* another node's */
    assert_int_equal(m->direct[150], 0);      /* another node's, importing */
    assert_int_equal(m->direct[200], 0);      /* unassigned */
    assert_int_equal(m->direct[300], 0);      /* unassigned, importing */
    assert_ptr_equal(slotmap_publish(old), m);
    slotmap_free(m);
    /* Endpoint types: hostname ("?" without one) and unknown-endpoint. */
    cl->endpoint_type = CL_ENDPOINT_HOSTNAME;
    cl->state = BUS_STATE_FAIL;
    m = cl_build_slotmap(cl);
    assert_int_equal(m->state_ok, 0);
    /* A cluster that is down has no direct slot. */
    old = slotmap_publish(m);
    assert_int_equal(m->direct[0], 0);
    assert_ptr_equal(slotmap_publish(old), m);
    assert_string_equal(m->nodes[a->idx].endpoint, "?:7097");
    assert_string_equal(m->nodes[b->idx].endpoint, "node-b.example:7098");
    slotmap_free(m);
    cl->endpoint_type = CL_ENDPOINT_UNKNOWN;
    m = cl_build_slotmap(cl);
    assert_string_equal(m->nodes[a->idx].endpoint, ":7097");
    slotmap_free(m);
    /* The longest hostname a node can announce still fits with its port. */
    cl->endpoint_type = CL_ENDPOINT_HOSTNAME;
    memset(b->hostname, 'h', sizeof(b->hostname) - 1);
    b->hostname[sizeof(b->hostname) - 1] = '\0';
    m = cl_build_slotmap(cl);
    assert_int_equal(strlen(m->nodes[b->idx].endpoint), sizeof(b->hostname) - 1 + 5);
    assert_string_equal(m->nodes[b->idx].endpoint + sizeof(b->hostname) - 1, ":7098");
    slotmap_free(m);
    /* Deleting a node renumbers the others; the map follows. */
    cl_node_delete(cl, a);
    assert_null(cl->slots[100]);
    assert_null(cl->migrating_to[5]);
    assert_null(cl->importing_from[150]);
    m = cl_build_slotmap(cl);
    assert_int_equal(m->nnodes, 2);
    assert_int_equal(m->node_of[0], cl->myself->idx);
    assert_int_equal(m->importing_from[300], b->idx);
    slotmap_free(m);
    cl_free(cl);
}

static void cluster_state_rules(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER);

    (void)state;
    add_slots(cl, cl->myself, 0, 8191);
    add_slots(cl, a, 8192, 16383);
    /* The first 2 s after start-up a master stays fail. */
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_FAIL);
    cl->now += CL_WRITABLE_DELAY_MS;
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_OK);
    assert_int_equal(cl->size, 2);
    /* A missing slot: fail with full coverage, ok without. */
    cl_del_slot(cl, 16383);
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_FAIL);
    cl->require_full_coverage = 0;
    cl->now += CL_MAX_REJOIN_DELAY_MS;
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_OK);
    /* No majority of masters reachable: fail, and a rejoin delay after. */
    a->flags |= BUS_NODE_PFAIL;
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_FAIL);
    a->flags &= (uint16_t)~BUS_NODE_PFAIL;
    cl->now += 100;
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_FAIL);
    cl->now += CL_MAX_REJOIN_DELAY_MS;
    cl_update_state(cl);
    assert_int_equal(cl->state, BUS_STATE_OK);
    cl_free(cl);
}

static void node_lines(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER), *r = mk_node(cl, 'r', BUS_NODE_SLAVE);
    struct cl_node *h = mk_node(cl, 'h', BUS_NODE_HANDSHAKE | BUS_NODE_MEET);
    struct sbuf b = { 0 };

    (void)state;
    (void)h;
    r->slaveof = a;
    cl_node_add_slave(a, r);
    a->config_epoch = 7;
    r->flags |= BUS_NODE_PFAIL | BUS_NODE_NOFAILOVER;
    add_slots(cl, a, 0, 0);
    add_slots(cl, a, 2, 4);
    add_slots(cl, a, 16383, 16383);
    cl->importing_from[9] = a;
    cl->migrating_to[1] = a;
    snprintf(cl->myself->hostname, sizeof(cl->myself->hostname), "me.example");
    cl_nodes_text(cl, BUS_NODE_HANDSHAKE, &b);
    assert_false(b.oom);
    assert_string_equal(b.p,
        "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee 127.0.0.1:7101@17101,me.example myself,master - 0 0 0 connected [1->-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] [9-<-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:7097@17097 master - 0 0 7 disconnected 0 2-4 16383\n"
        "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr 127.0.0.1:7114@17114 slave,fail?,nofailover aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0 0 7 disconnected\n");
    sb_free(&b);
    /* With handshake nodes (CLUSTER NODES): "handshake", never "meet". */
    cl_nodes_text(cl, 0, &b);
    assert_non_null(strstr(b.p, "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh 127.0.0.1:7104@17104 handshake - 0 0 0 disconnected\n"));
    sb_free(&b);
    cl_free(cl);
}

static void reset_soft_and_hard(void **state)
{
    struct cluster *cl = mk_with_myself('e');
    struct cl_node *a = mk_node(cl, 'a', BUS_NODE_MASTER);
    char old[BUS_NAMELEN];

    (void)state;
    add_slots(cl, cl->myself, 0, 10);
    add_slots(cl, a, 11, 20);
    cl->migrating_to[3] = a;
    cl->current_epoch = 5;
    cl->myself->config_epoch = 4;
    memcpy(old, cl->myself->name, BUS_NAMELEN);
    cl_reset(cl, 0);
    assert_int_equal(cl->nnodes, 1);
    assert_int_equal(cl->myself->numslots, 0);
    assert_null(cl->migrating_to[3]);
    assert_int_equal(cl->current_epoch, 5);
    assert_memory_equal(cl->myself->name, old, BUS_NAMELEN);
    cl_reset(cl, 1);
    assert_int_equal(cl->current_epoch, 0);
    assert_int_equal(cl->myself->config_epoch, 0);
    assert_memory_not_equal(cl->myself->name, old, BUS_NAMELEN);
    assert_ptr_equal(cl_lookup(cl, cl->myself->name, BUS_NAMELEN), cl->myself);
    assert_null(cl_lookup(cl, old, BUS_NAMELEN));
    cl_free(cl);
}

/* ---- nodes.conf writer thread -------------------------------------------- */

/* A disk that stalls: the writer thread stops in front of each write until
 * the test opens the gate. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open, entered;
};

static void gate_init(struct gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_hook(void *arg)
{
    struct gate *g = arg;

    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(struct gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* A locked section of the control thread (cluster.c's lock_control). */
static void control_section(struct cluster *cl, int todo)
{
    pthread_mutex_lock(&cl->lock);
    cl->on_control = 1;
    cl->todo |= todo;
    cl_after(cl);
    pthread_mutex_unlock(&cl->lock);
}

static struct cluster *mk_saving(char c, const char *file, struct gate *g)
{
    struct cluster *cl = mk_with_myself(c);

    cl->config_path = strdup(path_of(file));
    assert_non_null(cl->config_path);
    cl->save_hook = gate_hook;
    cl->save_hook_arg = g;
    assert_int_equal(cl_saver_start(cl), 0);
    assert_int_equal(cl_saver_start(cl), -EALREADY);
    return cl;
}

static void saver_writes_newest_text(void **state)
{
    struct gate g;
    struct cluster *cl;
    uint64_t ok, done;
    char *got;

    (void)state;
    alarm(30);                      /* a hang here is a failure, not a stuck suite */
    gate_init(&g);
    cl = mk_saving('a', "saver.conf", &g);
    /* Nothing queued: no write, nothing done. */
    cl_saver_done(cl, &ok, &done);
    assert_true(ok == 0 && done == 0);
    control_section(cl, CL_TODO_SAVE);
    gate_wait_entered(&g, 1);
    /* While generation 1 is stuck on the disk, 2 and 3 arrive: only the
     * newest text is written, with the fsync 3 asked for. */
    cl->current_epoch = 7;
    control_section(cl, CL_TODO_SAVE);
    cl->current_epoch = 8;
    control_section(cl, CL_TODO_SAVE | CL_TODO_FSYNC);
    assert_int_equal(cl->todo & (CL_TODO_SAVE | CL_TODO_FSYNC), 0);
    cl_saver_done(cl, &ok, &done);
    assert_true(ok == 0 && done == 0);
    gate_open(&g);
    assert_int_equal(cl_saver_wait(cl, 3), 0);
    assert_int_equal(cl_saver_wait(cl, 2), 0);
    cl_saver_done(cl, &ok, &done);
    assert_true(ok == 3 && done == 3);
    assert_int_equal(g.entered, 2);
    got = read_file(cl->config_path);
    assert_non_null(strstr(got, "vars currentEpoch 8 lastVoteEpoch 0\n"));
    assert_non_null(strstr(got, "myself,master"));
    free(got);
    /* Stop hands the flock()ed descriptor back; a second stop is harmless. */
    assert_true(cl->lock_fd < 0);
    cl_saver_stop(cl);
    assert_null(cl->saver);
    assert_true(cl->lock_fd >= 0);
    cl_saver_stop(cl);
    assert_int_equal(unlink(path_of("saver.conf")), 0);
    cl_free(cl);
    gate_destroy(&g);
    alarm(0);
}

struct section_arg {
    struct cluster *cl;
    int todo, rc;
    _Atomic int finished;
};

static void *data_core_section(void *p)
{
    struct section_arg *a = p;

    cl_lock(a->cl);
    a->cl->todo |= a->todo;
    a->rc = cl_unlock(a->cl);
    atomic_store(&a->finished, 1);
    return NULL;
}

/* The bug: a stalled disk held the cluster lock, so the bus stopped
 * answering PINGs (peers flagged the node FAIL) and every CLUSTER command
 * waited behind it. */
static void stalled_disk_holds_no_lock(void **state)
{
    struct section_arg fs = { 0 }, plain = { 0 };
    pthread_t t;
    struct gate g;
    struct cluster *cl;
    char *got;

    (void)state;
    alarm(30);
    gate_init(&g);
    cl = mk_saving('a', "stall.conf", &g);
    control_section(cl, CL_TODO_SAVE | CL_TODO_FSYNC);
    gate_wait_entered(&g, 1);
    /* The disk is stuck: the control thread still gets through sections
     * that save, with or without fsync... */
    control_section(cl, CL_TODO_SAVE | CL_TODO_FSYNC);
    control_section(cl, CL_TODO_SAVE);
    /* ...so does a CLUSTER command whose change needs no fsync... */
    plain.cl = cl;
    plain.todo = CL_TODO_SAVE;
    data_core_section(&plain);
    assert_int_equal(plain.rc, 0);
    /* ...and one that needs it (an epoch) waits for its save, but without
     * the lock. */
    fs.cl = cl;
    fs.todo = CL_TODO_SAVE | CL_TODO_FSYNC;
    cl->phase = NULL;               /* set again once the command's section ran */
    assert_int_equal(pthread_create(&t, NULL, data_core_section, &fs), 0);
    for (;;) {
        int passed;
        if (pthread_mutex_trylock(&cl->lock) != 0) {
            usleep(1000);
            continue;
        }
        passed = cl->phase != NULL;
        pthread_mutex_unlock(&cl->lock);
        if (passed)
            break;
        usleep(1000);
    }
    /* We held the lock after its section: it now waits outside it. */
    usleep(20000);
    assert_int_equal(atomic_load(&fs.finished), 0);
    gate_open(&g);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(fs.rc, 0);
    got = read_file(path_of("stall.conf"));
    assert_non_null(strstr(got, "vars currentEpoch"));
    free(got);
    cl_free(cl);                    /* stops the writer too */
    assert_int_equal(unlink(path_of("stall.conf")), 0);
    gate_destroy(&g);
    alarm(0);
}

/* A vote leaves only once lastVoteEpoch is on disk; one that cannot be
 * saved is withdrawn. */
static void vote_waits_for_its_save(void **state)
{
    static const char *const files[] = { "vote.conf", "no-such-dir/vote.conf" };

    (void)state;
    alarm(30);
    for (int k = 0; k < 2; k++) {
        struct gate g;
        struct cluster *cl;
        struct cl_node *master, *replica;
        struct cl_link *in, *out_r;
        struct bus_msg m, ack;

        gate_init(&g);
        cl = mk_saving('e', files[k], &g);
        master = mk_node(cl, 'a', BUS_NODE_MASTER | BUS_NODE_FAIL);
        replica = mk_node(cl, 'b', BUS_NODE_SLAVE);
        in = bus_link_new(cl, -1, NULL);
        out_r = bus_link_new(cl, -1, replica);
        replica->slaveof = master;
        cl_node_add_slave(master, replica);
        add_slots(cl, cl->myself, 0, 9);
        add_slots(cl, master, 10, 19);
        master->config_epoch = 2;
        cl->current_epoch = 3;
        control_section(cl, CL_TODO_SAVE);   /* generation 1, stuck */
        gate_wait_entered(&g, 1);
        memset(&m, 0, sizeof(m));
        hdr(&m.hdr, BUS_TYPE_AUTH_REQUEST, replica, 4, 2, master->slots);
        memcpy(m.hdr.slaveof, master->name, BUS_NAMELEN);
        m.hdr.flags = BUS_NODE_SLAVE | BUS_NODE_MYSELF;
        pthread_mutex_lock(&cl->lock);
        cl->on_control = 1;
        assert_int_equal(feed(cl, in, &m), 0);
        assert_int_equal(cl->last_vote_epoch, 4);
        cl_after(cl);                        /* generation 2 carries the vote */
        pthread_mutex_unlock(&cl->lock);
        assert_int_equal(nqueued(out_r), 0);
        assert_int_equal(cl->nacks, 1);
        gate_open(&g);
        assert_int_equal(cl_saver_wait(cl, 2), k == 0 ? 0 : -ENOENT);
        control_section(cl, 0);
        assert_int_equal(cl->nacks, 0);
        if (k == 0) {
            char *got = read_file(path_of(files[k]));
            assert_non_null(strstr(got, "lastVoteEpoch 4\n"));
            free(got);
            assert_int_equal(nqueued(out_r), 1);
            assert_true(queued(out_r, 0, &ack));
            assert_int_equal(ack.hdr.type, BUS_TYPE_AUTH_ACK);
            assert_int_equal(unlink(path_of(files[k])), 0);
        } else {
            assert_int_equal(nqueued(out_r), 0);
        }
        cl_free(cl);
        gate_destroy(&g);
    }
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conf_fresh_node),
        cmocka_unit_test(conf_roundtrip_70),
        cmocka_unit_test(conf_loaded_state),
        cmocka_unit_test(conf_errors),
        cmocka_unit_test(conf_lenient_forms),
        cmocka_unit_test(epoch_bump),
        cmocka_unit_test(epoch_collision),
        cmocka_unit_test(epoch_collision_through_pings),
        cmocka_unit_test(failure_majority),
        cmocka_unit_test(failure_reports_expire),
        cmocka_unit_test(gossip_failure_reports),
        cmocka_unit_test(fail_message_and_clearing),
        cmocka_unit_test(pfail_after_timeout),
        cmocka_unit_test(claims_and_epochs),
        cmocka_unit_test(stale_claim_gets_update),
        cmocka_unit_test(update_message),
        cmocka_unit_test(meet_from_unknown),
        cmocka_unit_test(handshake_completes),
        cmocka_unit_test(handshake_invalid_addresses),
        cmocka_unit_test(gossip_introduces_nodes),
        cmocka_unit_test(ping_gossip_selection),
        cmocka_unit_test(votes),
        cmocka_unit_test(malformed_messages),
        cmocka_unit_test(slotmap_contents),
        cmocka_unit_test(cluster_state_rules),
        cmocka_unit_test(node_lines),
        cmocka_unit_test(reset_soft_and_hard),
        cmocka_unit_test(saver_writes_newest_text),
        cmocka_unit_test(stalled_disk_holds_no_lock),
        cmocka_unit_test(vote_waits_for_its_save),
    };

    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
