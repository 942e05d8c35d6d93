/* bus_msg — the Redis 7.0 cluster bus messages, encoded and decoded byte for
 * byte. Pure functions: no sockets, no cluster state, no allocation; any thread
 * may call them (the control plane does). Layout and rules are those of
 * ../shared/docs/cluster-bus.md §2-§4, which were checked against live
 * redis-server 7.0.15 traffic; tests/unit/test_bus_msg.c replays real captures.
 *
 * Wire integers are big-endian except MODULE's module_id (opaque bytes). Every
 * fixed-size field of the wire is kept whole in the structs below (IDs without
 * NUL, the 46-byte ip fields, reserved and unused bytes), so that decoding and
 * encoding again gives the same bytes; a sender zeroes what it does not use.
 *
 * A decoded message borrows from the buffer it was decoded from: the slot
 * bitmaps, the gossip and extension areas and every payload point into it, so
 * they are valid only while that buffer lives unchanged. Nothing is copied. */
#ifndef SLOTD_BUS_MSG_H
#define SLOTD_BUS_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Sizes (src/cluster.h 7.0: clusterMsg and its bodies; cluster-bus.md §2-§4). */
#define BUS_SIG             "RCmb"  /* clusterMsg.sig */
#define BUS_PROTO_VER       1       /* CLUSTER_PROTO_VER */
#define BUS_FRAME_PREFIX    8       /* sig + totlen: enough to frame a message */
#define BUS_HDR_LEN         2256    /* header; also the smallest legal totlen */
#define BUS_NAMELEN         40      /* CLUSTER_NAMELEN */
#define BUS_IPLEN           46      /* NET_IP_STR_LEN */
#define BUS_SLOTS           16384   /* CLUSTER_SLOTS */
#define BUS_SLOT_BYTES      (BUS_SLOTS / 8)
#define BUS_RESERVED_LEN    30      /* clusterMsg.notused1 */
#define BUS_GOSSIP_LEN      104     /* sizeof(clusterMsgDataGossip) */
#define BUS_EXT_HDR_LEN     8       /* clusterMsgPingExt: length, type, unused */
#define BUS_FAIL_LEN        2296    /* header + node ID */
#define BUS_PUBLISH_MIN_LEN 2264    /* header + channel_len + message_len */
#define BUS_UPDATE_LEN      4352    /* header + configEpoch + node ID + bitmap */
#define BUS_MODULE_MIN_LEN  2269    /* header + module_id + len + type */

/* Message types (CLUSTERMSG_TYPE_* in src/cluster.h 7.0). */
#define BUS_TYPE_PING          0
#define BUS_TYPE_PONG          1
#define BUS_TYPE_MEET          2
#define BUS_TYPE_FAIL          3
#define BUS_TYPE_PUBLISH       4
#define BUS_TYPE_AUTH_REQUEST  5   /* CLUSTERMSG_TYPE_FAILOVER_AUTH_REQUEST */
#define BUS_TYPE_AUTH_ACK      6   /* CLUSTERMSG_TYPE_FAILOVER_AUTH_ACK */
#define BUS_TYPE_UPDATE        7
#define BUS_TYPE_MFSTART       8
#define BUS_TYPE_MODULE        9
#define BUS_TYPE_PUBLISHSHARD  10
#define BUS_TYPE_COUNT         11  /* 7.0 accepts greater types, body unchecked */

/* Node flags, header `flags` and gossip `flags` (CLUSTER_NODE_* in src/cluster.h 7.0). */
#define BUS_NODE_MASTER      0x0001
#define BUS_NODE_SLAVE       0x0002
#define BUS_NODE_PFAIL       0x0004
#define BUS_NODE_FAIL        0x0008
#define BUS_NODE_MYSELF      0x0010
#define BUS_NODE_HANDSHAKE   0x0020
#define BUS_NODE_NOADDR      0x0040
#define BUS_NODE_MEET        0x0080
#define BUS_NODE_MIGRATE_TO  0x0100
#define BUS_NODE_NOFAILOVER  0x0200

/* mflags[0] bits (CLUSTERMSG_FLAG0_* in src/cluster.h 7.0). */
#define BUS_MF0_PAUSED    0x01
#define BUS_MF0_FORCEACK  0x02
#define BUS_MF0_EXT_DATA  0x04

/* Header `state` (CLUSTER_OK / CLUSTER_FAIL in src/cluster.h 7.0). */
#define BUS_STATE_OK    0
#define BUS_STATE_FAIL  1

/* Ping extension types (clusterMsgPingtypes). 7.0 knows only HOSTNAME; the
 * others are 7.2's (cluster-bus.md §4.2), named here for logs only: like any
 * other type they are decoded as opaque payloads, as 7.0 skips them. */
#define BUS_EXT_HOSTNAME        0
#define BUS_EXT_HUMAN_NODENAME  1   /* 7.2+ */
#define BUS_EXT_FORGOTTEN_NODE  2   /* 7.2+ */
#define BUS_EXT_SHARDID         3   /* 7.2+ */

/* The 2256-byte header, every field of the wire in order. */
struct bus_hdr {
    uint32_t totlen;                 /* decode: the message length; encode: ignored (computed) */
    uint16_t port;                   /* client port (TLS port if tls-cluster) */
    uint16_t type;                   /* BUS_TYPE_* or any other value */
    uint16_t count;                  /* gossip entries (PING/PONG/MEET), else 0 */
    uint64_t current_epoch;
    uint64_t config_epoch;           /* a replica sends its master's */
    uint64_t offset;                 /* replication offset */
    char sender[BUS_NAMELEN];        /* 40 hex chars, no NUL */
    const uint8_t *myslots;          /* BUS_SLOT_BYTES bytes, slot s = bit s%8 of byte s/8;
                                      * encode: NULL sends no slots */
    char slaveof[BUS_NAMELEN];       /* master's ID, or all zero for a master */
    char myip[BUS_IPLEN];            /* NUL-terminated; all zero unless announced */
    uint16_t extensions;             /* ping extensions (PING/PONG/MEET), else 0 */
    uint8_t reserved[BUS_RESERVED_LEN];
    uint16_t pport;                  /* plaintext port of a TLS node, else 0 */
    uint16_t cport;                  /* bus port */
    uint16_t flags;                  /* BUS_NODE_*, MYSELF included */
    uint8_t state;                   /* BUS_STATE_* */
    uint8_t mflags[3];               /* [0]: BUS_MF0_*; [1], [2]: zero */
};

/* One gossip entry of a PING/PONG/MEET (104 bytes on the wire). */
struct bus_gossip {
    char nodename[BUS_NAMELEN];
    uint32_t ping_sent;              /* Unix seconds; 0 = no ping outstanding */
    uint32_t pong_received;          /* Unix seconds */
    char ip[BUS_IPLEN];              /* NUL-terminated, zero padded */
    uint16_t port;
    uint16_t cport;
    uint16_t flags;                  /* BUS_NODE_* as the sender sees that node */
    uint16_t pport;
    uint16_t unused;                 /* zero when sending */
};

/* One ping extension. On the wire: u32 length (header included, a multiple
 * of 8), u16 type, u16 unused, then the payload zero padded to the length. */
struct bus_ext {
    uint16_t type;                   /* BUS_EXT_* or any other value */
    uint16_t unused;                 /* zero when sending */
    uint32_t len;                    /* payload bytes; decoded: wire length - 8, padding included */
    const uint8_t *payload;          /* encode: padded with zeros up to a multiple of 8 */
};

/* PING, PONG, MEET: hdr.count gossip entries, then hdr.extensions extensions
 * (only when mflags[0] has EXT_DATA). Decoding fills the *_wire views (read
 * them with bus_gossip_get and bus_ext_iter_*); encoding reads the arrays. */
struct bus_ping {
    const uint8_t *gossip_wire;      /* decode: hdr.count * BUS_GOSSIP_LEN bytes */
    const uint8_t *ext_wire;         /* decode: the extension area */
    uint32_t ext_wire_len;           /* decode: its size in bytes */
    const struct bus_gossip *gossip; /* encode: hdr.count entries; decode: NULL */
    const struct bus_ext *ext;       /* encode: hdr.extensions entries; decode: NULL */
};

struct bus_fail {
    char nodename[BUS_NAMELEN];      /* the node to flag FAIL */
};

/* PUBLISH and PUBLISHSHARD. */
struct bus_publish {
    uint32_t channel_len;
    uint32_t message_len;
    const uint8_t *channel;
    const uint8_t *message;
};

struct bus_update {
    uint64_t config_epoch;           /* of the node described */
    char nodename[BUS_NAMELEN];      /* the rightful owner of the slots */
    const uint8_t *slots;            /* BUS_SLOT_BYTES bytes; encode: NULL sends none */
};

struct bus_module {
    uint8_t module_id[8];            /* host-order u64 of the sender: opaque bytes */
    uint32_t len;
    uint8_t type;                    /* module-defined */
    const uint8_t *payload;
};

/* Body of a type >= BUS_TYPE_COUNT: bytes after the header, unchecked. */
struct bus_raw {
    uint32_t len;
    const uint8_t *data;
};

/* AUTH_REQUEST, AUTH_ACK and MFSTART have no body. */
struct bus_msg {
    struct bus_hdr hdr;
    union {
        struct bus_ping ping;
        struct bus_fail fail;
        struct bus_publish publish;
        struct bus_update update;
        struct bus_module module;
        struct bus_raw raw;
    } u;
};

/* Framing on the byte stream: with `avail` bytes received, learn how long the
 * next message is. Returns 0 and *totlen (>= BUS_HDR_LEN; 7.0 sets no upper
 * bound, the link layer may) once the first BUS_FRAME_PREFIX bytes are in;
 * -EAGAIN while fewer are in and those match the signature so far; -EBADMSG
 * when the bytes are not a bus message (signature other than "RCmb", or totlen
 * below BUS_HDR_LEN): 7.0 closes the link then. */
int bus_msg_frame(const uint8_t *buf, size_t avail, uint32_t *totlen);

/* Decode the single message held in buf[0..len) (len must be its totlen) into
 * *m, which then borrows from buf. Every rule of 7.0's receiver is checked, so
 * every accessor below stays inside buf. Returns 0, or:
 *   -EBADMSG          not a bus message (as bus_msg_frame): close the link;
 *   -EMSGSIZE         len differs from the header's totlen (truncated buffer
 *                     or trailing bytes): a framing error of the caller;
 *   -EPROTONOSUPPORT  version other than 1: 7.0 ignores the message;
 *   -EINVAL           totlen differs from what the type's body needs, or the
 *                     gossip section or an extension overruns, an extension
 *                     length is not a multiple of 8: 7.0 ignores the message
 *                     and keeps the link.
 * Stricter than 7.0 (which reads past the message in these cases): an
 * extension must hold its 8-byte header (length >= 8, inside the message), the
 * 32-bit length is used whole (7.0 truncates it to 16 bits), PUBLISH and
 * MODULE lengths may not wrap around 2^32, and extensions > 0 without
 * EXT_DATA is refused (7.0 would walk extensions that are not there). No
 * message a 7.0 node sends is refused. On error *m is unspecified. */
int bus_msg_decode(const uint8_t *buf, size_t len, struct bus_msg *m);

/* Gossip entry i (< hdr.count) of a decoded PING/PONG/MEET. */
void bus_gossip_get(const struct bus_msg *m, unsigned i, struct bus_gossip *g);

/* Walk the extensions of a decoded PING/PONG/MEET:
 *   struct bus_ext_iter it; struct bus_ext e;
 *   bus_ext_iter_init(&it, m);
 *   while (bus_ext_iter_next(&it, &e)) ...
 * Unknown types come out like known ones; skipping them is the caller's. */
struct bus_ext_iter {
    const uint8_t *p;
    unsigned left;
};
void bus_ext_iter_init(struct bus_ext_iter *it, const struct bus_msg *m);
/* 1 and *e filled, or 0 after the last extension. */
int bus_ext_iter_next(struct bus_ext_iter *it, struct bus_ext *e);

/* The hostname carried by a HOSTNAME extension: *name points into the payload
 * and *len stops at the first NUL (or the payload's end; 7.0 checks no
 * characters). 0, or -ENOENT if e is of another type. */
int bus_ext_hostname(const struct bus_ext *e, const char **name, size_t *len);
/* Make *e the HOSTNAME extension 7.0 sends for `name` (NUL-terminated, which
 * the payload includes; e borrows it): length 8 + round_up_8(strlen + 1). */
void bus_ext_hostname_init(struct bus_ext *e, const char *name);

/* Bytes bus_msg_encode will write for *m, in *len. 0, or -EINVAL (a count
 * without its array) or -EMSGSIZE (more than a u32 totlen can express). */
int bus_msg_encoded_len(const struct bus_msg *m, size_t *len);

/* Write *m into buf[0..cap) exactly as 7.0 does: signature, computed totlen,
 * version 1, every header field from m->hdr (its totlen is ignored), then the
 * body for hdr.type: for PING/PONG/MEET hdr.count entries of u.ping.gossip and
 * hdr.extensions of u.ping.ext, each extension padded to a multiple of 8 with
 * zeros, and EXT_DATA set in mflags[0] whenever hdr.extensions > 0. Types
 * AUTH_REQUEST, AUTH_ACK, MFSTART write the header alone; types from
 * BUS_TYPE_COUNT up write u.raw after it. Returns 0 and *len, -EINVAL,
 * -EMSGSIZE (as bus_msg_encoded_len) or -ENOBUFS if cap is too small; nothing
 * is written past cap. */
int bus_msg_encode(const struct bus_msg *m, uint8_t *buf, size_t cap, size_t *len);

/* 7.0's name of a type, as in its logs ("ping", "auth-req", ..., "unknown"). */
const char *bus_type_name(uint16_t type);

/* Slot bitmaps (cluster-bus.md §3.3): least-significant bit first. */
static inline int bus_slot_test(const uint8_t *bitmap, unsigned slot)
{
    return (bitmap[slot >> 3] >> (slot & 7)) & 1;
}

static inline void bus_slot_set(uint8_t *bitmap, unsigned slot)
{
    bitmap[slot >> 3] = (uint8_t)(bitmap[slot >> 3] | (1u << (slot & 7)));
}

#endif
