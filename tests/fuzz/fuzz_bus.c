/* fuzz_bus — libFuzzer target for cluster/bus_msg.c.
 *
 * Build: clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined
 *        tests/fuzz/fuzz_bus.c cluster/bus_msg.c
 *
 * Input: byte 0 picks a mode, the rest is the message. With mode bit 0 set
 * the signature, version and totlen are patched to be right, so the fuzzer
 * spends its time in the bodies rather than rediscovering "RCmb". The message
 * is decoded from an exact-size heap copy (AddressSanitizer sees any read
 * past it). Whatever decodes must: agree with bus_msg_frame, have every
 * gossip entry and extension readable inside the buffer, re-encode to the
 * same bytes (through the encoder's array form, not a copy of the wire), be
 * refused by the encoder with one byte less room without writing past it,
 * and be refused by the decoder once truncated by one byte. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cluster/bus_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

static void check_roundtrip(const uint8_t *b, size_t len, const struct bus_msg *m)
{
    struct bus_msg e = *m;
    struct bus_gossip *g = NULL;
    struct bus_ext *x = NULL;
    uint8_t *out;
    size_t n = 0;

    if (m->hdr.type <= BUS_TYPE_MEET) {
        struct bus_ext_iter it;
        unsigned k = 0;

        g = malloc(sizeof(*g) * (m->hdr.count + 1u));
        x = malloc(sizeof(*x) * (m->hdr.extensions + 1u));
        CHECK(g && x);
        for (unsigned i = 0; i < m->hdr.count; i++)
            bus_gossip_get(m, i, &g[i]);
        bus_ext_iter_init(&it, m);
        while (bus_ext_iter_next(&it, &x[k])) {
            const char *h;
            size_t hl;

            CHECK(x[k].len % 8 == 0);
            CHECK(x[k].payload >= b && x[k].payload + x[k].len <= b + len);
            if (bus_ext_hostname(&x[k], &h, &hl) == 0)
                CHECK(hl <= x[k].len);
            k++;
        }
        CHECK(k == m->hdr.extensions);
        e.u.ping.gossip = g;
        e.u.ping.ext = x;
        e.u.ping.gossip_wire = NULL;
        e.u.ping.ext_wire = NULL;
    }
    CHECK(bus_msg_encoded_len(&e, &n) == 0 && n == len);

    out = malloc(len + 1);
    CHECK(out);
    out[len - 1] = 0x5a;
    out[len] = 0xa5;
    CHECK(bus_msg_encode(&e, out, len - 1, &n) == -ENOBUFS);
    CHECK(out[len - 1] == 0x5a);
    CHECK(bus_msg_encode(&e, out, len, &n) == 0 && n == len);
    CHECK(out[len] == 0xa5);
    CHECK(memcmp(out, b, len) == 0);
    free(out);
    free(g);
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bus_msg m;
    uint32_t totlen = 0;
    uint8_t *b;
    size_t len;
    int rc, frc;

    if (size < 1)
        return 0;
    len = size - 1;
    b = malloc(len ? len : 1);
    CHECK(b);
    if (len)
        memcpy(b, data + 1, len);
    if ((data[0] & 1) && len >= BUS_HDR_LEN) {
        memcpy(b, BUS_SIG, 4);
        b[4] = (uint8_t)(len >> 24);
        b[5] = (uint8_t)(len >> 16);
        b[6] = (uint8_t)(len >> 8);
        b[7] = (uint8_t)len;
        b[8] = 0;
        b[9] = BUS_PROTO_VER;
    }

    frc = bus_msg_frame(b, len, &totlen);
    rc = bus_msg_decode(b, len, &m);
    CHECK(rc == 0 || rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT ||
          rc == -EINVAL);
    CHECK(frc == 0 || frc == -EAGAIN || frc == -EBADMSG);
    if (frc == -EBADMSG)
        CHECK(rc == -EBADMSG);
    if (rc == 0) {
        CHECK(frc == 0 && totlen == len && m.hdr.totlen == len);
        check_roundtrip(b, len, &m);
        /* One byte short is a truncated message, never another message. */
        uint8_t *t = malloc(len - 1);
        CHECK(t);
        memcpy(t, b, len - 1);
        CHECK(bus_msg_decode(t, len - 1, &m) == -EMSGSIZE);
        free(t);
    }
    free(b);
    return 0;
}
