/* Unit tests for cluster/bus_msg.c: messages captured from real redis-server
 * 7.0.15 nodes are decoded, checked field by field and re-encoded byte for
 * byte; every truncation and every corrupt length is refused; the encoder
 * builds 7.0's bytes from scratch and never writes past its buffer.
 * The module allocates nothing; the tests' own heap copies (exact-size, so
 * AddressSanitizer sees any read past a message) are freed before each test
 * returns. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cluster/bus_msg.h"

/* Captured bus traffic. How it was produced (Debian 12, redis-server 7.0.15):
 * four nodes `redis-server --port P --bind 127.0.0.1 --cluster-enabled yes
 * --cluster-node-timeout 3000 --save '' --appendonly no` on P = 7201..7204
 * (bus ports 17201..17204) in a temp dir, 7202 with
 * `--cluster-announce-hostname node2.example`, while
 * `tcpdump -i lo -s 0 -U -w bus.pcap 'tcp and portrange 17201-17209'` ran;
 * then `redis-cli --cluster create 127.0.0.1:7201 127.0.0.1:7202
 * 127.0.0.1:7203 --cluster-yes`, `redis-cli --cluster add-node 127.0.0.1:7204
 * 127.0.0.1:7201 --cluster-slave --cluster-master-id <7201's id>`,
 * `PUBLISH globalchan hello-global` on 7202, `SPUBLISH news hello-shard` on
 * 7201, `CLUSTER FAILOVER` on 7204, `kill -9` of 7203 and 12 s of waiting.
 * The TCP streams were reassembled, split by totlen (414 messages, all valid)
 * and the first message matching each case below was kept, with the stream it
 * came from. All processes were stopped by PID and the temp dir removed.
 * Text form: hex byte pairs; "=NNNNXX" stands for 0xNNNN bytes of value 0xXX
 * (slot bitmaps and zero fields would otherwise fill pages). */

/* meet_hostname: MEET, 2280 bytes, 127.0.0.1:57424>127.0.0.1:17201 */
static const char cap_meet_hostname[] =
    "52436d62000008e800011c220002=00090002=00070002=0008003032393539626161393"
    "7633639323531383366626235366561643065613963343738383136623630=02aa00e0=0"
    "2aaff07=03010001=002000433200110104000000000018000000006e6f6465322e65786"
    "16d706c65000000";

/* meet: MEET, 2256 bytes, 127.0.0.1:57438>127.0.0.1:17201 */
static const char cap_meet[] =
    "52436d62000008d000011c230002=00090003=00070003=0008003766323537373935366"
    "5313531353539353839373863353934353763613134303738373533356437=055500f8=0"
    "2aaff=0078004333001101000000";

/* ping_hostname: PING, 2488 bytes, 127.0.0.1:57424>127.0.0.1:17201 */
static const char cap_ping_hostname[] =
    "52436d62000009b800011c2200000002=00070003=00070002=000800303239353962616"
    "13937633639323531383366626235366561643065613963343738383136623630=02aa00"
    "e0=02aaff07=03010001=002000433200110004000037663235373739353665313531353"
    "539353839373863353934353763613134303738373533356437000000006b035e8231323"
    "72e302e302e31=0025001c23433300010000000037653734396439303566363937613165"
    "613666326635346562376237386465373139356434313461000000006b035e823132372e"
    "302e302e31=0025001c2443340002=00070018000000006e6f6465322e6578616d706c65"
    "000000";

/* ping_paused: PING, 2464 bytes, 127.0.0.1:17201>127.0.0.1:39562 */
static const char cap_ping_paused[] =
    "52436d62000009a000011c2100000002=00070003=00070001=0007000e3734653866343"
    "4623939336337663532303230363237613432313535386663636634393065623364=02aa"
    "ff1f=05cd004331011100010000303239353962616139376336393235313833666262353"
    "66561643065613963343738383136623630000000006b035e873132372e302e302e31=00"
    "25001c224332000100000000376632353737393536653135313535393538393738633539"
    "34353763613134303738373533356437000000006b035e883132372e302e302e31=00250"
    "01c234333000100000000";

/* ping_pfail: PING, 2568 bytes, 127.0.0.1:55588>127.0.0.1:17202 */
static const char cap_ping_pfail[] =
    "52436d6200000a0800011c2400000003=00070004=00070004=0007001c3765373439643"
    "9303566363937613165613666326635346562376237386465373139356434313461=02aa"
    "ff1f=05cd004334011100000000373465386634346239393363376635323032303632376"
    "13432313535386663636634393065623364000000006b035e913132372e302e302e31=00"
    "25001c214331000200000000303239353962616139376336393235313833666262353665"
    "616430656139633437383831366236306b035e926b035e913132372e302e302e31=00250"
    "01c224332000100000000376632353737393536653135313535393538393738633539343"
    "537636131343037383735333564376b035e8e6b035e8d3132372e302e302e31=0025001c"
    "234333000500000000";

/* pong_replica: PONG, 2464 bytes, 127.0.0.1:17201>127.0.0.1:57424 */
static const char cap_pong_replica[] =
    "52436d62000009a000011c2100010002=00070004=00070004=0007000e3734653866343"
    "4623939336337663532303230363237613432313535386663636634393065623364=02aa"
    "ff1f=0555003765373439643930356636393761316561366632663534656237623738646"
    "5373139356434313461=0050004331001200000000376632353737393536653135313535"
    "39353839373863353934353763613134303738373533356437000000006b035e89313237"
    "2e302e302e31=0025001c234333000100000000303239353962616139376336393235313"
    "83366626235366561643065613963343738383136623630000000006b035e893132372e3"
    "02e302e31=0025001c224332000100000000";

/* fail: FAIL, 2296 bytes, 127.0.0.1:57424>127.0.0.1:17201 */
static const char cap_fail[] =
    "52436d62000008f800011c220003=00090004=00070002=0008003032393539626161393"
    "7633639323531383366626235366561643065613963343738383136623630=02aa00e0=0"
    "2aaff07=0322004332001100000000376632353737393536653135313535393538393738"
    "63353934353763613134303738373533356437";

/* publish: PUBLISH, 2286 bytes, 127.0.0.1:57424>127.0.0.1:17201 */
static const char cap_publish[] =
    "52436d62000008ee00011c220004=00090003=00070002=0008003032393539626161393"
    "7633639323531383366626235366561643065613963343738383136623630=02aa00e0=0"
    "2aaff07=03220043320011=0007000a0000000c676c6f62616c6368616e68656c6c6f2d6"
    "76c6f62616c";

/* publishshard: PUBLISHSHARD, 2279 bytes, 127.0.0.1:56026>127.0.0.1:17204 */
static const char cap_publishshard[] =
    "52436d62000008e700011c21000a=00090003=00070001=0007000e37346538663434623"
    "939336337663532303230363237613432313535386663636634393065623364=02aaff1f"
    "=05cd0043310111=000700040000000b6e65777368656c6c6f2d7368617264";

/* update: UPDATE, 4352 bytes, 127.0.0.1:39562>127.0.0.1:17201 */
static const char cap_update[] =
    "52436d620000110000011c240007=00090004=00070004=0007000e37653734396439303"
    "566363937613165613666326635346562376237386465373139356434313461=02aaff1f"
    "=05cd0043340011=000b0004376537343964393035663639376131656136663266353465"
    "62376237386465373139356434313461=02aaff1f=055500";

/* auth_request: AUTH_REQ, 2256 bytes, 127.0.0.1:39562>127.0.0.1:17201 */
static const char cap_auth_request[] =
    "52436d62000008d000011c240005=00090004=00070001=0007000e37653734396439303"
    "566363937613165613666326635346562376237386465373139356434313461=02aaff1f"
    "=05550037346538663434623939336337663532303230363237613432313535386663636"
    "634393065623364=0050004334001200020000";

/* auth_ack: AUTH_ACK, 2256 bytes, 127.0.0.1:56030>127.0.0.1:17204 */
static const char cap_auth_ack[] =
    "52436d62000008d000011c230006=00090004=00070003=0008003766323537373935366"
    "5313531353539353839373863353934353763613134303738373533356437=055500f8=0"
    "2aaff=0078004333001100000000";

/* mfstart: MFSTART, 2256 bytes, 127.0.0.1:39562>127.0.0.1:17201 */
static const char cap_mfstart[] =
    "52436d62000008d000011c240008=00090003=00070001=0007000e37653734396439303"
    "566363937613165613666326635346562376237386465373139356434313461=02aaff1f"
    "=05550037346538663434623939336337663532303230363237613432313535386663636"
    "634393065623364=0050004334001200000000";


#define ID_7201 "74e8f44b993c7f52020627a421558fccf490eb3d"
#define ID_7202 "02959baa97c6925183fbb56ead0ea9c478816b60"
#define ID_7203 "7f2577956e15155958978c59457ca140787535d7"
#define ID_7204 "7e749d905f697a1ea6f2f54eb7b78de7195d414a"

static const char zero_name[BUS_NAMELEN];

struct capture {
    const char *name;
    const char *text;
    uint16_t type;
    size_t len;
};

static const struct capture captures[] = {
    { "meet_hostname", cap_meet_hostname, BUS_TYPE_MEET, 2280 },
    { "meet", cap_meet, BUS_TYPE_MEET, 2256 },
    { "ping_hostname", cap_ping_hostname, BUS_TYPE_PING, 2488 },
    { "ping_paused", cap_ping_paused, BUS_TYPE_PING, 2464 },
    { "ping_pfail", cap_ping_pfail, BUS_TYPE_PING, 2568 },
    { "pong_replica", cap_pong_replica, BUS_TYPE_PONG, 2464 },
    { "fail", cap_fail, BUS_TYPE_FAIL, 2296 },
    { "publish", cap_publish, BUS_TYPE_PUBLISH, 2286 },
    { "publishshard", cap_publishshard, BUS_TYPE_PUBLISHSHARD, 2279 },
    { "update", cap_update, BUS_TYPE_UPDATE, 4352 },
    { "auth_request", cap_auth_request, BUS_TYPE_AUTH_REQUEST, 2256 },
    { "auth_ack", cap_auth_ack, BUS_TYPE_AUTH_ACK, 2256 },
    { "mfstart", cap_mfstart, BUS_TYPE_MFSTART, 2256 },
};
#define NCAPTURES (sizeof(captures) / sizeof(captures[0]))

/* ---- helpers ------------------------------------------------------------- */

static unsigned hexval(char c)
{
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    assert_true(c >= 'a' && c <= 'f');
    return (unsigned)(c - 'a' + 10);
}

static unsigned hexbyte(const char *s)
{
    return hexval(s[0]) << 4 | hexval(s[1]);
}

/* Expand the capture text into a fresh heap buffer of exactly *len bytes. */
static uint8_t *load(const struct capture *c, size_t *len)
{
    uint8_t *b = malloc(c->len);
    size_t n = 0;

    assert_non_null(b);
    for (const char *s = c->text; *s;) {
        if (*s == '=') {
            size_t run = hexbyte(s + 1) << 8 | hexbyte(s + 3);
            unsigned v = hexbyte(s + 5);

            assert_true(n + run <= c->len);
            memset(b + n, (int)v, run);
            n += run;
            s += 7;
        } else {
            assert_true(n < c->len);
            b[n++] = (uint8_t)hexbyte(s);
            s += 2;
        }
    }
    assert_int_equal(n, c->len);
    *len = n;
    return b;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);

    assert_non_null(b);
    if (n)
        memcpy(b, p, n);
    return b;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Decode a private exact-size copy, so the buffer under test can be freed. */
static int decode_copy(const uint8_t *p, size_t n)
{
    struct bus_msg m;
    uint8_t *b = dup_bytes(p, n);
    int rc = bus_msg_decode(b, n, &m);

    free(b);
    return rc;
}

#define MAX_ITEMS 16

/* Turn a decoded message into the encoder's form (arrays instead of wire
 * views), the way a caller would rebuild it. */
struct encodable {
    struct bus_msg m;
    struct bus_gossip g[MAX_ITEMS];
    struct bus_ext e[MAX_ITEMS];
};

static void to_encodable(const struct bus_msg *in, struct encodable *out)
{
    out->m = *in;
    if (in->hdr.type > BUS_TYPE_MEET)
        return;
    assert_true(in->hdr.count <= MAX_ITEMS && in->hdr.extensions <= MAX_ITEMS);
    for (unsigned i = 0; i < in->hdr.count; i++)
        bus_gossip_get(in, i, &out->g[i]);
    struct bus_ext_iter it;
    unsigned n = 0;
    bus_ext_iter_init(&it, in);
    while (bus_ext_iter_next(&it, &out->e[n]))
        n++;
    assert_int_equal(n, in->hdr.extensions);
    out->m.u.ping.gossip = out->g;
    out->m.u.ping.ext = out->e;
    out->m.u.ping.gossip_wire = NULL;
    out->m.u.ping.ext_wire = NULL;
}

/* Decode, re-encode, compare byte for byte. */
static void assert_roundtrip(const uint8_t *b, size_t len)
{
    struct bus_msg m;
    struct encodable e;
    uint8_t *out = malloc(len);
    size_t n = 0;

    assert_non_null(out);
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.totlen, len);
    to_encodable(&m, &e);
    assert_int_equal(bus_msg_encoded_len(&e.m, &n), 0);
    assert_int_equal(n, len);
    assert_int_equal(bus_msg_encode(&e.m, out, len, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(out, b, len);
    free(out);
}

/* A slot range [lo, hi] set and nothing else. */
static void assert_slots_exactly(const uint8_t *bm, unsigned lo, unsigned hi)
{
    for (unsigned s = 0; s < BUS_SLOTS; s++)
        assert_int_equal(bus_slot_test(bm, s), s >= lo && s <= hi);
}

/* ---- framing boundaries -------------------------------------------------- */

static void frame_prefix(void **state)
{
    (void)state;
    const uint8_t hdr[8] = { 'R', 'C', 'm', 'b', 0, 0, 0x08, 0xd0 };
    uint32_t totlen = 0;

    for (size_t n = 0; n < 8; n++)
        assert_int_equal(bus_msg_frame(hdr, n, &totlen), -EAGAIN);
    assert_int_equal(bus_msg_frame(hdr, 8, &totlen), 0);
    assert_int_equal(totlen, BUS_HDR_LEN);
    assert_int_equal(bus_msg_frame(NULL, 0, &totlen), -EAGAIN);

    /* A wrong byte is refused as soon as it arrives. */
    for (size_t i = 0; i < 4; i++) {
        uint8_t bad[8];
        memcpy(bad, hdr, 8);
        bad[i] ^= 0x20;
        for (size_t n = i + 1; n <= 8; n++)
            assert_int_equal(bus_msg_frame(bad, n, &totlen), -EBADMSG);
    }
    assert_int_equal(bus_msg_frame((const uint8_t *)"PING\r\n", 6, &totlen), -EBADMSG);
}

static void frame_totlen(void **state)
{
    (void)state;
    uint8_t hdr[8] = { 'R', 'C', 'm', 'b' };
    const uint32_t bad[] = { 0, 1, 8, 16, BUS_HDR_LEN - 1 };
    const uint32_t good[] = { BUS_HDR_LEN, BUS_HDR_LEN + 1, BUS_UPDATE_LEN, 0x7fffffff, UINT32_MAX };
    uint32_t totlen;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put32(hdr + 4, bad[i]);
        assert_int_equal(bus_msg_frame(hdr, 8, &totlen), -EBADMSG);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        put32(hdr + 4, good[i]);
        assert_int_equal(bus_msg_frame(hdr, 8, &totlen), 0);
        assert_int_equal(totlen, good[i]);
    }
}

static void slot_bits(void **state)
{
    (void)state;
    uint8_t bm[BUS_SLOT_BYTES] = { 0 };

    bus_slot_set(bm, 0);
    assert_int_equal(bm[0], 0x01);
    bus_slot_set(bm, 7);
    assert_int_equal(bm[0], 0x81);
    bus_slot_set(bm, BUS_SLOTS - 1);
    assert_int_equal(bm[BUS_SLOT_BYTES - 1], 0x80);
    assert_true(bus_slot_test(bm, 0) && bus_slot_test(bm, 7) && bus_slot_test(bm, 16383));
    assert_false(bus_slot_test(bm, 1) || bus_slot_test(bm, 8) || bus_slot_test(bm, 16382));
}

static void type_names(void **state)
{
    (void)state;
    assert_string_equal(bus_type_name(BUS_TYPE_PING), "ping");
    assert_string_equal(bus_type_name(BUS_TYPE_AUTH_REQUEST), "auth-req");
    assert_string_equal(bus_type_name(BUS_TYPE_AUTH_ACK), "auth-ack");
    assert_string_equal(bus_type_name(BUS_TYPE_PUBLISHSHARD), "publishshard");
    assert_string_equal(bus_type_name(BUS_TYPE_COUNT), "unknown");
    assert_string_equal(bus_type_name(UINT16_MAX), "unknown");
}

/* ---- real captures ------------------------------------------------------- */

static void captures_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCAPTURES; i++) {
        size_t len;
        uint8_t *b = load(&captures[i], &len);
        struct bus_msg m;
        uint32_t totlen;

        assert_int_equal(bus_msg_frame(b, len, &totlen), 0);
        assert_int_equal(totlen, len);
        assert_int_equal(bus_msg_decode(b, len, &m), 0);
        assert_int_equal(m.hdr.type, captures[i].type);
        assert_roundtrip(b, len);
        free(b);
    }
}

static void capture_meet_hostname(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[0], &len);
    struct bus_msg m;
    struct bus_ext_iter it;
    struct bus_ext e;
    const char *host;
    size_t hlen;

    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_memory_equal(m.hdr.sender, ID_7202, BUS_NAMELEN);
    assert_memory_equal(m.hdr.slaveof, zero_name, BUS_NAMELEN);
    assert_int_equal(m.hdr.port, 7202);
    assert_int_equal(m.hdr.cport, 17202);
    assert_int_equal(m.hdr.pport, 0);
    assert_int_equal(m.hdr.flags, BUS_NODE_MASTER | BUS_NODE_MYSELF);
    assert_int_equal(m.hdr.current_epoch, 2);
    assert_int_equal(m.hdr.config_epoch, 2);
    assert_int_equal(m.hdr.state, BUS_STATE_FAIL);
    assert_int_equal(m.hdr.mflags[0], BUS_MF0_EXT_DATA);
    assert_int_equal(m.hdr.count, 0);
    assert_int_equal(m.hdr.extensions, 1);
    assert_int_equal(m.hdr.myip[0], 0);
    assert_slots_exactly(m.hdr.myslots, 5461, 10922);
    assert_int_equal(m.u.ping.ext_wire_len, 24);

    bus_ext_iter_init(&it, &m);
    assert_int_equal(bus_ext_iter_next(&it, &e), 1);
    assert_int_equal(e.type, BUS_EXT_HOSTNAME);
    assert_int_equal(e.len, 16);
    assert_int_equal(bus_ext_hostname(&e, &host, &hlen), 0);
    assert_int_equal(hlen, strlen("node2.example"));
    assert_memory_equal(host, "node2.example", hlen);
    assert_int_equal(bus_ext_iter_next(&it, &e), 0);
    free(b);
}

static void capture_ping_gossip(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[4], &len);      /* ping_pfail */
    struct bus_msg m;
    struct bus_gossip g;
    struct bus_ext_iter it;
    struct bus_ext e;

    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_PING);
    assert_memory_equal(m.hdr.sender, ID_7204, BUS_NAMELEN);
    assert_int_equal(m.hdr.flags, BUS_NODE_MASTER | BUS_NODE_MYSELF | BUS_NODE_MIGRATE_TO);
    assert_int_equal(m.hdr.current_epoch, 4);
    assert_int_equal(m.hdr.config_epoch, 4);
    assert_int_equal(m.hdr.offset, 28);
    assert_int_equal(m.hdr.mflags[0], 0);
    assert_int_equal(m.hdr.count, 3);
    assert_int_equal(m.hdr.extensions, 0);
    assert_int_equal(m.u.ping.ext_wire_len, 0);
    assert_slots_exactly(m.hdr.myslots, 0, 5460);

    bus_gossip_get(&m, 0, &g);
    assert_memory_equal(g.nodename, ID_7201, BUS_NAMELEN);
    assert_int_equal(g.flags, BUS_NODE_SLAVE);
    assert_int_equal(g.ping_sent, 0);
    assert_int_equal(g.pong_received, 1795382929u);
    bus_gossip_get(&m, 1, &g);
    assert_memory_equal(g.nodename, ID_7202, BUS_NAMELEN);
    assert_int_equal(g.ping_sent, 1795382930u);
    bus_gossip_get(&m, 2, &g);
    assert_memory_equal(g.nodename, ID_7203, BUS_NAMELEN);
    assert_string_equal(g.ip, "127.0.0.1");
    assert_int_equal(g.port, 7203);
    assert_int_equal(g.cport, 17203);
    assert_int_equal(g.pport, 0);
    assert_int_equal(g.flags, BUS_NODE_MASTER | BUS_NODE_PFAIL);
    assert_int_equal(g.ping_sent, 1795382926u);
    assert_int_equal(g.pong_received, 1795382925u);
    assert_int_equal(g.unused, 0);

    bus_ext_iter_init(&it, &m);
    assert_int_equal(bus_ext_iter_next(&it, &e), 0);
    free(b);
}

static void capture_ping_hostname_and_pong(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[2], &len);      /* ping_hostname */
    struct bus_msg m;
    struct bus_gossip g;

    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.count, 2);
    assert_int_equal(m.hdr.extensions, 1);
    assert_int_equal(len, BUS_HDR_LEN + 2 * BUS_GOSSIP_LEN + 24);
    bus_gossip_get(&m, 1, &g);
    assert_memory_equal(g.nodename, ID_7204, BUS_NAMELEN);
    assert_int_equal(g.flags, BUS_NODE_SLAVE);
    free(b);

    b = load(&captures[5], &len);               /* pong_replica */
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_PONG);
    assert_memory_equal(m.hdr.sender, ID_7201, BUS_NAMELEN);
    assert_memory_equal(m.hdr.slaveof, ID_7204, BUS_NAMELEN);
    assert_int_equal(m.hdr.flags, BUS_NODE_SLAVE | BUS_NODE_MYSELF);
    /* A replica advertises its master's configEpoch and slots. */
    assert_int_equal(m.hdr.config_epoch, 4);
    assert_slots_exactly(m.hdr.myslots, 0, 5460);
    free(b);

    b = load(&captures[3], &len);               /* ping_paused */
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.mflags[0], BUS_MF0_PAUSED);
    assert_int_equal(m.hdr.offset, 14);
    free(b);
}

static void capture_fail_publish_update(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[6], &len);
    struct bus_msg m;

    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_FAIL);
    assert_memory_equal(m.u.fail.nodename, ID_7203, BUS_NAMELEN);
    assert_int_equal(m.hdr.count, 0);
    free(b);

    b = load(&captures[7], &len);
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.u.publish.channel_len, 10);
    assert_int_equal(m.u.publish.message_len, 12);
    assert_memory_equal(m.u.publish.channel, "globalchan", 10);
    assert_memory_equal(m.u.publish.message, "hello-global", 12);
    free(b);

    b = load(&captures[8], &len);
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_PUBLISHSHARD);
    assert_memory_equal(m.u.publish.channel, "news", 4);
    assert_memory_equal(m.u.publish.message, "hello-shard", 11);
    free(b);

    b = load(&captures[9], &len);
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_UPDATE);
    assert_int_equal(m.u.update.config_epoch, 4);
    assert_memory_equal(m.u.update.nodename, ID_7204, BUS_NAMELEN);
    assert_slots_exactly(m.u.update.slots, 0, 5460);
    free(b);
}

static void capture_failover(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[10], &len);
    struct bus_msg m;

    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_AUTH_REQUEST);
    assert_int_equal(m.hdr.mflags[0], BUS_MF0_FORCEACK);
    assert_memory_equal(m.hdr.slaveof, ID_7201, BUS_NAMELEN);
    assert_int_equal(m.hdr.current_epoch, 4);
    assert_int_equal(m.hdr.config_epoch, 1);
    free(b);

    b = load(&captures[11], &len);
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_AUTH_ACK);
    assert_memory_equal(m.hdr.sender, ID_7203, BUS_NAMELEN);
    assert_slots_exactly(m.hdr.myslots, 10923, 16383);
    free(b);

    b = load(&captures[12], &len);
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    assert_int_equal(m.hdr.type, BUS_TYPE_MFSTART);
    assert_int_equal(m.hdr.flags, BUS_NODE_SLAVE | BUS_NODE_MYSELF);
    free(b);
}

/* The encoder alone, from fields, reproduces what 7.0 sent. */
static void encode_meet_from_scratch(void **state)
{
    (void)state;
    size_t len, n;
    uint8_t *want = load(&captures[0], &len);
    uint8_t slots[BUS_SLOT_BYTES] = { 0 };
    uint8_t out[2400];
    struct bus_ext host;
    struct bus_msg m;

    for (unsigned s = 5461; s <= 10922; s++)
        bus_slot_set(slots, s);
    memset(&m, 0, sizeof(m));
    m.hdr.type = BUS_TYPE_MEET;
    m.hdr.port = 7202;
    m.hdr.cport = 17202;
    m.hdr.flags = BUS_NODE_MASTER | BUS_NODE_MYSELF;
    m.hdr.current_epoch = 2;
    m.hdr.config_epoch = 2;
    m.hdr.state = BUS_STATE_FAIL;
    memcpy(m.hdr.sender, ID_7202, BUS_NAMELEN);
    m.hdr.myslots = slots;
    bus_ext_hostname_init(&host, "node2.example");
    m.hdr.extensions = 1;
    m.u.ping.ext = &host;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(out, want, len);
    free(want);
}

/* ---- truncation and corrupt lengths -------------------------------------- */

static void every_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCAPTURES; i++) {
        size_t len;
        uint8_t *b = load(&captures[i], &len);

        for (size_t k = 0; k < len; k++) {
            uint32_t totlen;
            uint8_t *p = dup_bytes(b, k);
            struct bus_msg m;

            assert_int_equal(bus_msg_decode(p, k, &m), -EMSGSIZE);
            assert_int_equal(bus_msg_frame(p, k, &totlen), k < 8 ? -EAGAIN : 0);
            free(p);
        }
        /* One byte of the next message behind it is a framing error too. */
        uint8_t *p = malloc(len + 1);
        assert_non_null(p);
        memcpy(p, b, len);
        p[len] = 'R';
        struct bus_msg m;
        assert_int_equal(bus_msg_decode(p, len + 1, &m), -EMSGSIZE);
        free(p);
        free(b);
    }
}

/* totlen moved with the buffer (zero bytes added or bytes cut): the framing
 * is consistent but the body no longer matches the type. */
static void every_corrupt_totlen(void **state)
{
    (void)state;
    const long deltas[] = { -BUS_GOSSIP_LEN, -24, -16, -9, -8, -7, -1, 1, 7, 8, 9, 16,
                            BUS_GOSSIP_LEN, BUS_GOSSIP_LEN + 8 };

    for (size_t i = 0; i < NCAPTURES; i++) {
        size_t len;
        uint8_t *b = load(&captures[i], &len);

        for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
            size_t n = (size_t)((long)len + deltas[d]);
            uint8_t *p = calloc(1, n);

            assert_non_null(p);
            memcpy(p, b, n < len ? n : len);
            put32(p + 4, (uint32_t)n);
            struct bus_msg m;
            int rc = bus_msg_decode(p, n, &m);
            if (n < BUS_HDR_LEN)
                assert_int_equal(rc, -EBADMSG);
            else
                assert_int_equal(rc, -EINVAL);
            free(p);
        }
        free(b);
    }
}

static void corrupt_signature_and_version(void **state)
{
    (void)state;
    const uint16_t versions[] = { 0, 2, 0x0100, UINT16_MAX };

    for (size_t i = 0; i < NCAPTURES; i++) {
        size_t len;
        uint8_t *b = load(&captures[i], &len);

        for (size_t k = 0; k < 4; k++) {
            b[k] ^= 0x01;
            assert_int_equal(decode_copy(b, len), -EBADMSG);
            b[k] ^= 0x01;
        }
        for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
            put16(b + 8, versions[v]);
            assert_int_equal(decode_copy(b, len), -EPROTONOSUPPORT);
        }
        put16(b + 8, BUS_PROTO_VER);
        assert_int_equal(decode_copy(b, len), 0);
        free(b);
    }
}

static void corrupt_gossip_count(void **state)
{
    (void)state;
    const size_t pings[] = { 2, 3, 4, 5 };
    const int deltas[] = { -2, -1, 1, 2 };

    for (size_t i = 0; i < sizeof(pings) / sizeof(pings[0]); i++) {
        size_t len;
        uint8_t *b = load(&captures[pings[i]], &len);
        uint16_t count = (uint16_t)(b[14] << 8 | b[15]);

        for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
            put16(b + 14, (uint16_t)(count + deltas[d]));
            assert_int_equal(decode_copy(b, len), -EINVAL);
        }
        put16(b + 14, UINT16_MAX);
        assert_int_equal(decode_copy(b, len), -EINVAL);
        free(b);
    }
}

static void corrupt_extensions(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[2], &len);       /* ping_hostname: 2 gossip + 24-byte ext */
    const size_t ext = BUS_HDR_LEN + 2 * BUS_GOSSIP_LEN;
    /* 0: 7.0 loops in place; 4, 12, 20: padding; 16: leaves 8 stray bytes;
     * 32: overrun; 65560: 7.0 truncates to 16 bits and reads 24; the rest
     * overrun by far or wrap. */
    const uint32_t bad_len[] = { 0, 4, 8, 12, 16, 20, 32, 65536 + 24, 0x80000000u,
                                 0xfffffff8u, UINT32_MAX };

    assert_int_equal(b[ext + 3], 24);
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
        put32(b + ext, bad_len[i]);
        assert_int_equal(decode_copy(b, len), -EINVAL);
    }
    put32(b + ext, 24);
    assert_int_equal(decode_copy(b, len), 0);

    /* Two mis-padded extensions of 12 that fill the 24 bytes exactly: only
     * the multiple-of-8 rule refuses them (as 7.0 does). */
    put16(b + 2214, 2);
    put32(b + ext, 12);
    put32(b + ext + 12, 12);
    assert_int_equal(decode_copy(b, len), -EINVAL);
    put32(b + ext, 8);
    put32(b + ext + 8, 16);
    assert_int_equal(decode_copy(b, len), 0);
    put32(b + ext, 24);

    /* More extensions than there is room for, or fewer than there are. */
    put16(b + 2214, 2);
    assert_int_equal(decode_copy(b, len), -EINVAL);
    put16(b + 2214, UINT16_MAX);
    assert_int_equal(decode_copy(b, len), -EINVAL);
    put16(b + 2214, 0);
    assert_int_equal(decode_copy(b, len), -EINVAL);
    put16(b + 2214, 1);

    /* Extensions without EXT_DATA: 7.0 would walk them past its length check. */
    b[2253] = 0;
    assert_int_equal(decode_copy(b, len), -EINVAL);
    put16(b + 2214, 0);
    assert_int_equal(decode_copy(b, len), -EINVAL);
    free(b);
}

/* EXT_DATA with zero extensions passes 7.0's checks; keep it, byte for byte. */
static void ext_data_without_extensions(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[1], &len);       /* meet, no extensions */
    struct bus_msg m;
    struct bus_ext_iter it;
    struct bus_ext e;

    b[2253] = BUS_MF0_EXT_DATA;
    assert_int_equal(bus_msg_decode(b, len, &m), 0);
    bus_ext_iter_init(&it, &m);
    assert_int_equal(bus_ext_iter_next(&it, &e), 0);
    assert_roundtrip(b, len);
    free(b);
}

static void corrupt_publish(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load(&captures[7], &len);       /* channel 10, message 12 */
    struct { uint32_t c, m; } bad[] = {
        { 9, 12 }, { 11, 12 }, { 10, 11 }, { 10, 13 }, { 0, 0 }, { 23, 0 }, { UINT32_MAX, 23 }, { 23, UINT32_MAX }, { 0x80000000u, 0x80000016u },
        { UINT32_MAX, UINT32_MAX },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put32(b + BUS_HDR_LEN, bad[i].c);
        put32(b + BUS_HDR_LEN + 4, bad[i].m);
        assert_int_equal(decode_copy(b, len), -EINVAL);
    }
    /* { 0x80000000, 0x80000016 } above wraps to 22 in 7.0's 32-bit sum. Any
     * other split of the same 22 bytes is only another channel name. */
    put32(b + BUS_HDR_LEN, 22);
    put32(b + BUS_HDR_LEN + 4, 0);
    assert_int_equal(decode_copy(b, len), 0);
    put32(b + BUS_HDR_LEN, 0);
    put32(b + BUS_HDR_LEN + 4, 22);
    assert_int_equal(decode_copy(b, len), 0);
    free(b);

    /* A body too short for the two lengths. */
    uint8_t *p = load(&captures[7], &len);
    for (uint32_t n = BUS_HDR_LEN; n < BUS_PUBLISH_MIN_LEN; n++) {
        put32(p + 4, n);
        assert_int_equal(decode_copy(p, n), -EINVAL);
    }
    free(p);
}

/* ---- synthesized: MODULE, unknown types and extensions ------------------- */

static void init_hdr(struct bus_msg *m, uint16_t type)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.port = 7301;
    m->hdr.cport = 17301;
    m->hdr.flags = BUS_NODE_MASTER | BUS_NODE_MYSELF;
    memcpy(m->hdr.sender, ID_7201, BUS_NAMELEN);
}

static void module_message(void **state)
{
    (void)state;
    const uint8_t id[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    struct bus_msg m, d;
    uint8_t out[BUS_MODULE_MIN_LEN + 5];
    size_t n;

    init_hdr(&m, BUS_TYPE_MODULE);
    memcpy(m.u.module.module_id, id, 8);
    m.u.module.type = 200;
    m.u.module.len = 5;
    m.u.module.payload = (const uint8_t *)"hello";
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), 0);
    assert_int_equal(n, BUS_MODULE_MIN_LEN + 5);
    assert_memory_equal(out + BUS_HDR_LEN, id, 8);         /* raw, not swapped */
    assert_memory_equal(out + BUS_HDR_LEN + 8, "\0\0\0\5\310hello", 10);
    assert_int_equal(bus_msg_decode(out, n, &d), 0);
    assert_memory_equal(d.u.module.module_id, id, 8);
    assert_int_equal(d.u.module.type, 200);
    assert_int_equal(d.u.module.len, 5);
    assert_memory_equal(d.u.module.payload, "hello", 5);
    assert_roundtrip(out, n);

    put32(out + BUS_HDR_LEN + 8, 6);
    assert_int_equal(decode_copy(out, n), -EINVAL);
    put32(out + BUS_HDR_LEN + 8, UINT32_MAX - 7);          /* 13 + len wraps to 5 */
    assert_int_equal(decode_copy(out, n), -EINVAL);
    for (uint32_t t = BUS_HDR_LEN; t < BUS_MODULE_MIN_LEN; t++) {
        put32(out + 4, t);
        assert_int_equal(decode_copy(out, t), -EINVAL);
    }
}

static void unknown_types(void **state)
{
    (void)state;
    const uint16_t types[] = { BUS_TYPE_COUNT, 12, 0x1234, UINT16_MAX };
    const uint8_t body[] = "any body at all";
    uint8_t out[BUS_HDR_LEN + sizeof(body)];

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        for (size_t blen = 0; blen <= sizeof(body); blen += sizeof(body)) {
            struct bus_msg m, d;
            size_t n;

            init_hdr(&m, types[i]);
            m.u.raw.len = (uint32_t)blen;
            m.u.raw.data = body;
            assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), 0);
            assert_int_equal(n, BUS_HDR_LEN + blen);
            assert_int_equal(bus_msg_decode(out, n, &d), 0);
            assert_int_equal(d.hdr.type, types[i]);
            assert_int_equal(d.u.raw.len, blen);
            assert_memory_equal(d.u.raw.data, body, blen);
            assert_roundtrip(out, n);
        }
    }
}

/* 7.2's extension types and any other are carried opaquely, in order, with
 * whatever padding they came with; HOSTNAME is found among them. */
static void unknown_extensions(void **state)
{
    (void)state;
    const uint8_t shard[40] = "0123456789012345678901234567890123456789";
    const uint8_t odd[3] = { 0xde, 0xad, 0xbf };
    struct bus_ext ext[5] = {
        { BUS_EXT_SHARDID, 0, sizeof(shard), shard },
        { BUS_EXT_FORGOTTEN_NODE, 0, sizeof(odd), odd },
        { 0, 0, 0, NULL },
        { 7, 0, 0, NULL },
        { UINT16_MAX, 0x5a5a, 1, odd },
    };
    struct bus_gossip g;
    struct bus_msg m, d;
    uint8_t out[4096];
    size_t n;
    struct bus_ext_iter it;
    struct bus_ext e;
    unsigned k = 0, hostnames = 0;

    bus_ext_hostname_init(&ext[2], "host-a");
    init_hdr(&m, BUS_TYPE_PONG);
    memset(&g, 0, sizeof(g));
    memcpy(g.nodename, ID_7202, BUS_NAMELEN);
    strcpy(g.ip, "::1");
    g.port = 1;
    g.cport = 65535;
    g.flags = BUS_NODE_NOFAILOVER | BUS_NODE_MASTER;
    m.hdr.count = 1;
    m.hdr.extensions = 5;
    m.u.ping.gossip = &g;
    m.u.ping.ext = ext;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), 0);
    /* 48 + 16 + 16 + 8 + 16 */
    assert_int_equal(n, BUS_HDR_LEN + BUS_GOSSIP_LEN + 48 + 16 + 16 + 8 + 16);
    assert_int_equal(out[2253], BUS_MF0_EXT_DATA);   /* set by the encoder */
    assert_int_equal(bus_msg_decode(out, n, &d), 0);
    bus_ext_iter_init(&it, &d);
    while (bus_ext_iter_next(&it, &e)) {
        const char *h;
        size_t hl;

        assert_int_equal(e.type, ext[k].type);
        assert_int_equal(e.unused, ext[k].unused);
        assert_int_equal(e.len, (ext[k].len + 7) / 8 * 8);
        assert_memory_equal(e.payload, ext[k].len ? ext[k].payload : e.payload, ext[k].len);
        for (uint32_t j = ext[k].len; j < e.len; j++)
            assert_int_equal(e.payload[j], 0);
        if (bus_ext_hostname(&e, &h, &hl) == 0) {
            assert_int_equal(hl, 6);
            assert_memory_equal(h, "host-a", 6);
            hostnames++;
        } else {
            assert_int_equal(bus_ext_hostname(&e, &h, &hl), -ENOENT);
        }
        k++;
    }
    assert_int_equal(k, 5);
    assert_int_equal(hostnames, 1);
    assert_roundtrip(out, n);
}

static void hostname_sizes(void **state)
{
    (void)state;
    const struct { const char *name; size_t wire; } cases[] = {
        { "", 16 }, { "a", 16 }, { "abcdefg", 16 }, { "abcdefgh", 24 },
        { "node2.example", 24 }, { "abcdefghijklmno", 24 }, { "abcdefghijklmnop", 32 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bus_ext e;
        struct bus_msg m;
        size_t n;

        bus_ext_hostname_init(&e, cases[i].name);
        init_hdr(&m, BUS_TYPE_PING);
        m.hdr.extensions = 1;
        m.u.ping.ext = &e;
        assert_int_equal(bus_msg_encoded_len(&m, &n), 0);
        assert_int_equal(n - BUS_HDR_LEN, cases[i].wire);
    }

    /* A payload with no NUL: the name stops at the payload's end. */
    const uint8_t raw[8] = { 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };
    struct bus_ext e = { BUS_EXT_HOSTNAME, 0, 8, raw };
    const char *h;
    size_t hl;
    assert_int_equal(bus_ext_hostname(&e, &h, &hl), 0);
    assert_int_equal(hl, 8);
    e.len = 0;
    assert_int_equal(bus_ext_hostname(&e, &h, &hl), 0);
    assert_int_equal(hl, 0);
}

/* ---- encoder limits ------------------------------------------------------ */

static void encode_buffer_too_small(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCAPTURES; i++) {
        size_t len, n;
        uint8_t *b = load(&captures[i], &len);
        struct bus_msg m;
        struct encodable e;
        uint8_t *out = malloc(len + 1);

        assert_non_null(out);
        assert_int_equal(bus_msg_decode(b, len, &m), 0);
        to_encodable(&m, &e);
        memset(out, 0xA5, len + 1);
        assert_int_equal(bus_msg_encode(&e.m, out, len - 1, &n), -ENOBUFS);
        for (size_t k = 0; k <= len; k++)
            assert_int_equal(out[k], 0xA5);
        assert_int_equal(bus_msg_encode(&e.m, out, 0, &n), -ENOBUFS);
        assert_int_equal(bus_msg_encode(&e.m, out, len, &n), 0);
        assert_int_equal(out[len], 0xA5);
        free(out);
        free(b);
    }
}

static void encode_invalid(void **state)
{
    (void)state;
    static const uint8_t one = 1;
    struct bus_msg m;
    struct bus_ext big = { 9, 0, UINT32_MAX - 7, &one };
    uint8_t out[BUS_HDR_LEN];
    size_t n;

    init_hdr(&m, BUS_TYPE_PING);
    m.hdr.count = 1;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), -EINVAL);
    m.hdr.count = 0;
    m.hdr.extensions = 1;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), -EINVAL);

    /* Lengths are checked before any payload is read: these point at 1 byte. */
    m.u.ping.ext = &big;
    big.payload = NULL;
    assert_int_equal(bus_msg_encoded_len(&m, &n), -EINVAL);
    big.payload = &one;
    assert_int_equal(bus_msg_encoded_len(&m, &n), -EMSGSIZE);
    /* Totals are multiples of 8, the largest 0xfffffff8: padding counts. */
    big.len = 0xfffffff8u - BUS_HDR_LEN - BUS_EXT_HDR_LEN + 1;
    assert_int_equal(bus_msg_encoded_len(&m, &n), -EMSGSIZE);
    big.len = 0xfffffff8u - BUS_HDR_LEN - BUS_EXT_HDR_LEN - 7;
    assert_int_equal(bus_msg_encoded_len(&m, &n), 0);
    assert_int_equal(n, 0xfffffff8u);

    init_hdr(&m, BUS_TYPE_PUBLISH);
    m.u.publish.channel_len = 1;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), -EINVAL);
    m.u.publish.channel = &one;
    m.u.publish.message = &one;
    m.u.publish.message_len = UINT32_MAX - BUS_PUBLISH_MIN_LEN;
    assert_int_equal(bus_msg_encoded_len(&m, &n), -EMSGSIZE);
    m.u.publish.message_len--;
    assert_int_equal(bus_msg_encoded_len(&m, &n), 0);
    assert_int_equal(n, UINT32_MAX);

    init_hdr(&m, BUS_TYPE_MODULE);
    m.u.module.len = 1;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), -EINVAL);
    m.u.module.payload = &one;
    m.u.module.len = UINT32_MAX;
    assert_int_equal(bus_msg_encoded_len(&m, &n), -EMSGSIZE);

    init_hdr(&m, 99);
    m.u.raw.len = 1;
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), -EINVAL);

    /* Header-only types and NULL bitmaps. */
    init_hdr(&m, BUS_TYPE_UPDATE);
    uint8_t upd[BUS_UPDATE_LEN];
    memset(upd, 0xff, sizeof(upd));
    assert_int_equal(bus_msg_encode(&m, upd, sizeof(upd), &n), 0);
    assert_int_equal(n, BUS_UPDATE_LEN);
    for (size_t k = 0; k < BUS_SLOT_BYTES; k++)
        assert_true(upd[80 + k] == 0 && upd[BUS_HDR_LEN + 48 + k] == 0);
    init_hdr(&m, BUS_TYPE_MFSTART);
    assert_int_equal(bus_msg_encode(&m, out, sizeof(out), &n), 0);
    assert_int_equal(n, BUS_HDR_LEN);
    assert_int_equal(decode_copy(out, n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_prefix),
        cmocka_unit_test(frame_totlen),
        cmocka_unit_test(slot_bits),
        cmocka_unit_test(type_names),
        cmocka_unit_test(captures_roundtrip),
        cmocka_unit_test(capture_meet_hostname),
        cmocka_unit_test(capture_ping_gossip),
        cmocka_unit_test(capture_ping_hostname_and_pong),
        cmocka_unit_test(capture_fail_publish_update),
        cmocka_unit_test(capture_failover),
        cmocka_unit_test(encode_meet_from_scratch),
        cmocka_unit_test(every_truncation),
        cmocka_unit_test(every_corrupt_totlen),
        cmocka_unit_test(corrupt_signature_and_version),
        cmocka_unit_test(corrupt_gossip_count),
        cmocka_unit_test(corrupt_extensions),
        cmocka_unit_test(ext_data_without_extensions),
        cmocka_unit_test(corrupt_publish),
        cmocka_unit_test(module_message),
        cmocka_unit_test(unknown_types),
        cmocka_unit_test(unknown_extensions),
        cmocka_unit_test(hostname_sizes),
        cmocka_unit_test(encode_buffer_too_small),
        cmocka_unit_test(encode_invalid),
    };

    return cmocka_run_group_tests_name("bus_msg", tests, NULL, NULL);
}
