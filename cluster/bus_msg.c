/* bus_msg — encode and decode Redis 7.0 cluster bus messages.
 *
 * Stateless and reentrant: the functions touch only their arguments, so the
 * control-plane thread (the only user) needs no locking. Fields are read and
 * written byte by byte at the offsets of cluster-bus.md §3-§4 rather than by
 * overlaying a packed struct, which keeps the code free of alignment and
 * endianness assumptions.
 *
 * Invariant of a decoded message: bus_msg_decode checked every length, so the
 * accessors (bus_gossip_get, bus_ext_iter_next) index the buffer without
 * further checks and cannot leave it. */
#include "bus_msg.h"

#include <errno.h>
#include <string.h>

/* Header field offsets (cluster-bus.md §3). */
enum {
    OFF_SIG = 0,
    OFF_TOTLEN = 4,
    OFF_VER = 8,
    OFF_PORT = 10,
    OFF_TYPE = 12,
    OFF_COUNT = 14,
    OFF_CUR_EPOCH = 16,
    OFF_CFG_EPOCH = 24,
    OFF_OFFSET = 32,
    OFF_SENDER = 40,
    OFF_MYSLOTS = 80,
    OFF_SLAVEOF = 2128,
    OFF_MYIP = 2168,
    OFF_EXTENSIONS = 2214,
    OFF_RESERVED = 2216,
    OFF_PPORT = 2246,
    OFF_CPORT = 2248,
    OFF_FLAGS = 2250,
    OFF_STATE = 2252,
    OFF_MFLAGS = 2253,
};

/* Gossip entry field offsets (cluster-bus.md §4.1). */
enum {
    G_NAME = 0,
    G_PING_SENT = 40,
    G_PONG_RECEIVED = 44,
    G_IP = 48,
    G_PORT = 94,
    G_CPORT = 96,
    G_FLAGS = 98,
    G_PPORT = 100,
    G_UNUSED = 102,
};

/* Body sizes after the header (cluster-bus.md §4). */
enum {
    FAIL_BODY = BUS_FAIL_LEN - BUS_HDR_LEN,            /* 40 */
    PUBLISH_FIXED = BUS_PUBLISH_MIN_LEN - BUS_HDR_LEN, /* 8 */
    UPDATE_BODY = BUS_UPDATE_LEN - BUS_HDR_LEN,        /* 2096 */
    MODULE_FIXED = BUS_MODULE_MIN_LEN - BUS_HDR_LEN,   /* 13 */
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

static int is_ping_type(uint16_t type)
{
    return type == BUS_TYPE_PING || type == BUS_TYPE_PONG || type == BUS_TYPE_MEET;
}

static int is_publish_type(uint16_t type)
{
    return type == BUS_TYPE_PUBLISH || type == BUS_TYPE_PUBLISHSHARD;
}

/* Extension bytes on the wire for a payload of len bytes: header, payload,
 * zeros up to the next multiple of 8 (64-bit so no len can wrap it). */
static uint64_t ext_wire_len(uint32_t len)
{
    return BUS_EXT_HDR_LEN + (((uint64_t)len + 7) & ~(uint64_t)7);
}

int bus_msg_frame(const uint8_t *buf, size_t avail, uint32_t *totlen)
{
    size_t n = avail < 4 ? avail : 4;

    /* Checking the signature on a partial prefix rejects a stray client (say
     * "PING\r\n") at once instead of waiting for bytes that may never come;
     * it refuses nothing 7.0 would accept. */
    if (n && memcmp(buf, BUS_SIG, n) != 0)
        return -EBADMSG;
    if (avail < BUS_FRAME_PREFIX)
        return -EAGAIN;
    *totlen = rd32(buf + OFF_TOTLEN);
    if (*totlen < BUS_HDR_LEN)
        return -EBADMSG;
    return 0;
}

static void decode_hdr(const uint8_t *b, struct bus_hdr *h)
{
    h->totlen = rd32(b + OFF_TOTLEN);
    h->port = rd16(b + OFF_PORT);
    h->type = rd16(b + OFF_TYPE);
    h->count = rd16(b + OFF_COUNT);
    h->current_epoch = rd64(b + OFF_CUR_EPOCH);
    h->config_epoch = rd64(b + OFF_CFG_EPOCH);
    h->offset = rd64(b + OFF_OFFSET);
    memcpy(h->sender, b + OFF_SENDER, BUS_NAMELEN);
    h->myslots = b + OFF_MYSLOTS;
    memcpy(h->slaveof, b + OFF_SLAVEOF, BUS_NAMELEN);
    memcpy(h->myip, b + OFF_MYIP, BUS_IPLEN);
    h->extensions = rd16(b + OFF_EXTENSIONS);
    memcpy(h->reserved, b + OFF_RESERVED, BUS_RESERVED_LEN);
    h->pport = rd16(b + OFF_PPORT);
    h->cport = rd16(b + OFF_CPORT);
    h->flags = rd16(b + OFF_FLAGS);
    h->state = b[OFF_STATE];
    memcpy(h->mflags, b + OFF_MFLAGS, sizeof(h->mflags));
}

/* Body of PING/PONG/MEET: the gossip entries must fit, then with EXT_DATA
 * each extension header must fit and its length must be a multiple of 8 that
 * stays inside the message; the extensions must end exactly at totlen. */
static int decode_ping(const uint8_t *body, uint32_t blen, struct bus_msg *m)
{
    const struct bus_hdr *h = &m->hdr;
    uint64_t gossip = (uint64_t)h->count * BUS_GOSSIP_LEN;
    const uint8_t *p;
    uint32_t left;

    if (gossip > blen)
        return -EINVAL;
    p = body + gossip;
    left = blen - (uint32_t)gossip;
    m->u.ping.gossip_wire = body;
    m->u.ping.ext_wire = p;
    m->u.ping.ext_wire_len = left;
    m->u.ping.gossip = NULL;
    m->u.ping.ext = NULL;
    if (!(h->mflags[0] & BUS_MF0_EXT_DATA)) {
        /* 7.0 leaves extensions out of the expected length here but still
         * walks h->extensions of them later, past the end: refuse. */
        return h->extensions == 0 && left == 0 ? 0 : -EINVAL;
    }
    for (unsigned i = 0; i < h->extensions; i++) {
        uint32_t elen;

        if (left < BUS_EXT_HDR_LEN)
            return -EINVAL;
        elen = rd32(p);
        if (elen < BUS_EXT_HDR_LEN || elen % 8 != 0 || elen > left)
            return -EINVAL;
        p += elen;
        left -= elen;
    }
    return left == 0 ? 0 : -EINVAL;
}

int bus_msg_decode(const uint8_t *buf, size_t len, struct bus_msg *m)
{
    const uint8_t *body;
    uint32_t totlen, blen;
    int rc;

    rc = bus_msg_frame(buf, len, &totlen);
    if (rc == -EAGAIN)
        return -EMSGSIZE;
    if (rc < 0)
        return rc;
    if (len != totlen)
        return -EMSGSIZE;
    if (rd16(buf + OFF_VER) != BUS_PROTO_VER)
        return -EPROTONOSUPPORT;
    decode_hdr(buf, &m->hdr);
    body = buf + BUS_HDR_LEN;
    blen = totlen - BUS_HDR_LEN;

    switch (m->hdr.type) {
    case BUS_TYPE_PING:
    case BUS_TYPE_PONG:
    case BUS_TYPE_MEET:
        return decode_ping(body, blen, m);
    case BUS_TYPE_FAIL:
        if (blen != FAIL_BODY)
            return -EINVAL;
        memcpy(m->u.fail.nodename, body, BUS_NAMELEN);
        return 0;
    case BUS_TYPE_PUBLISH:
    case BUS_TYPE_PUBLISHSHARD: {
        struct bus_publish *pb = &m->u.publish;

        if (blen < PUBLISH_FIXED)
            return -EINVAL;
        pb->channel_len = rd32(body);
        pb->message_len = rd32(body + 4);
        /* 64-bit sum: 7.0's 32-bit one wraps and would let a huge pair of
         * lengths pass. */
        if ((uint64_t)PUBLISH_FIXED + pb->channel_len + pb->message_len != blen)
            return -EINVAL;
        pb->channel = body + PUBLISH_FIXED;
        pb->message = pb->channel + pb->channel_len;
        return 0;
    }
    case BUS_TYPE_AUTH_REQUEST:
    case BUS_TYPE_AUTH_ACK:
    case BUS_TYPE_MFSTART:
        return blen == 0 ? 0 : -EINVAL;
    case BUS_TYPE_UPDATE:
        if (blen != UPDATE_BODY)
            return -EINVAL;
        m->u.update.config_epoch = rd64(body);
        memcpy(m->u.update.nodename, body + 8, BUS_NAMELEN);
        m->u.update.slots = body + 8 + BUS_NAMELEN;
        return 0;
    case BUS_TYPE_MODULE: {
        struct bus_module *md = &m->u.module;

        if (blen < MODULE_FIXED)
            return -EINVAL;
        memcpy(md->module_id, body, sizeof(md->module_id));
        md->len = rd32(body + 8);
        md->type = body[12];
        if ((uint64_t)MODULE_FIXED + md->len != blen)
            return -EINVAL;
        md->payload = body + MODULE_FIXED;
        return 0;
    }
    default:
        /* 7.0 takes totlen as the expected length of a type it does not
         * know, runs the common header processing, then logs it. */
        m->u.raw.len = blen;
        m->u.raw.data = body;
        return 0;
    }
}

void bus_gossip_get(const struct bus_msg *m, unsigned i, struct bus_gossip *g)
{
    const uint8_t *e = m->u.ping.gossip_wire + (size_t)i * BUS_GOSSIP_LEN;

    memcpy(g->nodename, e + G_NAME, BUS_NAMELEN);
    g->ping_sent = rd32(e + G_PING_SENT);
    g->pong_received = rd32(e + G_PONG_RECEIVED);
    memcpy(g->ip, e + G_IP, BUS_IPLEN);
    g->port = rd16(e + G_PORT);
    g->cport = rd16(e + G_CPORT);
    g->flags = rd16(e + G_FLAGS);
    g->pport = rd16(e + G_PPORT);
    g->unused = rd16(e + G_UNUSED);
}

void bus_ext_iter_init(struct bus_ext_iter *it, const struct bus_msg *m)
{
    it->p = m->u.ping.ext_wire;
    /* Without EXT_DATA decode allowed only extensions == 0. */
    it->left = m->hdr.extensions;
}

int bus_ext_iter_next(struct bus_ext_iter *it, struct bus_ext *e)
{
    uint32_t elen;

    if (it->left == 0)
        return 0;
    elen = rd32(it->p);
    e->type = rd16(it->p + 4);
    e->unused = rd16(it->p + 6);
    e->len = elen - BUS_EXT_HDR_LEN;
    e->payload = it->p + BUS_EXT_HDR_LEN;
    it->p += elen;
    it->left--;
    return 1;
}

int bus_ext_hostname(const struct bus_ext *e, const char **name, size_t *len)
{
    const uint8_t *nul;

    if (e->type != BUS_EXT_HOSTNAME)
        return -ENOENT;
    nul = e->len ? memchr(e->payload, 0, e->len) : NULL;
    *name = (const char *)e->payload;
    *len = nul ? (size_t)(nul - e->payload) : e->len;
    return 0;
}

void bus_ext_hostname_init(struct bus_ext *e, const char *name)
{
    e->type = BUS_EXT_HOSTNAME;
    e->unused = 0;
    e->len = (uint32_t)(strlen(name) + 1);
    e->payload = (const uint8_t *)name;
}

int bus_msg_encoded_len(const struct bus_msg *m, size_t *len)
{
    const struct bus_hdr *h = &m->hdr;
    uint64_t n = BUS_HDR_LEN;

    if (is_ping_type(h->type)) {
        if ((h->count && !m->u.ping.gossip) || (h->extensions && !m->u.ping.ext))
            return -EINVAL;
        n += (uint64_t)h->count * BUS_GOSSIP_LEN;
        for (unsigned i = 0; i < h->extensions; i++) {
            if (m->u.ping.ext[i].len && !m->u.ping.ext[i].payload)
                return -EINVAL;
            n += ext_wire_len(m->u.ping.ext[i].len);
        }
    } else if (is_publish_type(h->type)) {
        const struct bus_publish *pb = &m->u.publish;

        if ((pb->channel_len && !pb->channel) || (pb->message_len && !pb->message))
            return -EINVAL;
        n += PUBLISH_FIXED + (uint64_t)pb->channel_len + pb->message_len;
    } else if (h->type == BUS_TYPE_FAIL) {
        n += FAIL_BODY;
    } else if (h->type == BUS_TYPE_UPDATE) {
        n += UPDATE_BODY;
    } else if (h->type == BUS_TYPE_MODULE) {
        if (m->u.module.len && !m->u.module.payload)
            return -EINVAL;
        n += MODULE_FIXED + (uint64_t)m->u.module.len;
    } else if (h->type >= BUS_TYPE_COUNT) {
        if (m->u.raw.len && !m->u.raw.data)
            return -EINVAL;
        n += m->u.raw.len;
    }
    /* AUTH_REQUEST, AUTH_ACK, MFSTART: header only. */
    if (n > UINT32_MAX)
        return -EMSGSIZE;
    *len = (size_t)n;
    return 0;
}

static void encode_hdr(const struct bus_hdr *h, uint32_t totlen, uint8_t *b)
{
    memcpy(b + OFF_SIG, BUS_SIG, 4);
    wr32(b + OFF_TOTLEN, totlen);
    wr16(b + OFF_VER, BUS_PROTO_VER);
    wr16(b + OFF_PORT, h->port);
    wr16(b + OFF_TYPE, h->type);
    wr16(b + OFF_COUNT, h->count);
    wr64(b + OFF_CUR_EPOCH, h->current_epoch);
    wr64(b + OFF_CFG_EPOCH, h->config_epoch);
    wr64(b + OFF_OFFSET, h->offset);
    memcpy(b + OFF_SENDER, h->sender, BUS_NAMELEN);
    if (h->myslots)
        memcpy(b + OFF_MYSLOTS, h->myslots, BUS_SLOT_BYTES);
    else
        memset(b + OFF_MYSLOTS, 0, BUS_SLOT_BYTES);
    memcpy(b + OFF_SLAVEOF, h->slaveof, BUS_NAMELEN);
    memcpy(b + OFF_MYIP, h->myip, BUS_IPLEN);
    wr16(b + OFF_EXTENSIONS, h->extensions);
    memcpy(b + OFF_RESERVED, h->reserved, BUS_RESERVED_LEN);
    wr16(b + OFF_PPORT, h->pport);
    wr16(b + OFF_CPORT, h->cport);
    wr16(b + OFF_FLAGS, h->flags);
    b[OFF_STATE] = h->state;
    memcpy(b + OFF_MFLAGS, h->mflags, sizeof(h->mflags));
    /* 7.0 flags the extension area whenever it writes one. */
    if (is_ping_type(h->type) && h->extensions)
        b[OFF_MFLAGS] |= BUS_MF0_EXT_DATA;
}

static uint8_t *encode_gossip(const struct bus_gossip *g, uint8_t *e)
{
    memcpy(e + G_NAME, g->nodename, BUS_NAMELEN);
    wr32(e + G_PING_SENT, g->ping_sent);
    wr32(e + G_PONG_RECEIVED, g->pong_received);
    memcpy(e + G_IP, g->ip, BUS_IPLEN);
    wr16(e + G_PORT, g->port);
    wr16(e + G_CPORT, g->cport);
    wr16(e + G_FLAGS, g->flags);
    wr16(e + G_PPORT, g->pport);
    wr16(e + G_UNUSED, g->unused);
    return e + BUS_GOSSIP_LEN;
}

static uint8_t *encode_ext(const struct bus_ext *x, uint8_t *p)
{
    uint32_t elen = (uint32_t)ext_wire_len(x->len);   /* checked by encoded_len */
    uint32_t pad = elen - BUS_EXT_HDR_LEN - x->len;

    wr32(p, elen);
    wr16(p + 4, x->type);
    wr16(p + 6, x->unused);
    p += BUS_EXT_HDR_LEN;
    if (x->len)
        memcpy(p, x->payload, x->len);
    memset(p + x->len, 0, pad);
    return p + x->len + pad;
}

static void put(uint8_t **p, const void *src, size_t n)
{
    if (n)
        memcpy(*p, src, n);
    *p += n;
}

int bus_msg_encode(const struct bus_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    const struct bus_hdr *h = &m->hdr;
    uint8_t *p = buf + BUS_HDR_LEN;
    size_t n;
    int rc;

    rc = bus_msg_encoded_len(m, &n);
    if (rc < 0)
        return rc;
    if (n > cap)
        return -ENOBUFS;
    encode_hdr(h, (uint32_t)n, buf);

    if (is_ping_type(h->type)) {
        for (unsigned i = 0; i < h->count; i++)
            p = encode_gossip(&m->u.ping.gossip[i], p);
        for (unsigned i = 0; i < h->extensions; i++)
            p = encode_ext(&m->u.ping.ext[i], p);
    } else if (is_publish_type(h->type)) {
        wr32(p, m->u.publish.channel_len);
        wr32(p + 4, m->u.publish.message_len);
        p += PUBLISH_FIXED;
        put(&p, m->u.publish.channel, m->u.publish.channel_len);
        put(&p, m->u.publish.message, m->u.publish.message_len);
    } else if (h->type == BUS_TYPE_FAIL) {
        put(&p, m->u.fail.nodename, BUS_NAMELEN);
    } else if (h->type == BUS_TYPE_UPDATE) {
        wr64(p, m->u.update.config_epoch);
        memcpy(p + 8, m->u.update.nodename, BUS_NAMELEN);
        p += 8 + BUS_NAMELEN;
        if (m->u.update.slots)
            memcpy(p, m->u.update.slots, BUS_SLOT_BYTES);
        else
            memset(p, 0, BUS_SLOT_BYTES);
        p += BUS_SLOT_BYTES;
    } else if (h->type == BUS_TYPE_MODULE) {
        memcpy(p, m->u.module.module_id, sizeof(m->u.module.module_id));
        wr32(p + 8, m->u.module.len);
        p[12] = m->u.module.type;
        p += MODULE_FIXED;
        put(&p, m->u.module.payload, m->u.module.len);
    } else if (h->type >= BUS_TYPE_COUNT) {
        put(&p, m->u.raw.data, m->u.raw.len);
    }
    *len = (size_t)(p - buf);
    return 0;
}

const char *bus_type_name(uint16_t type)
{
    /* clusterGetMessageTypeString in src/cluster.c 7.0 */
    static const char *const names[BUS_TYPE_COUNT] = {
        "ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack",
        "update", "mfstart", "module", "publishshard",
    };

    return type < BUS_TYPE_COUNT ? names[type] : "unknown";
}
