/* sha1 — SHA-1 (RFC 3174), for DEBUG DIGEST and DIGEST-VALUE, whose hex
 * strings must equal redis-server 7.0's. Not for security: SHA-1 is broken
 * for collision resistance; here it is only a fingerprint format.
 *
 * Plain functions on a caller-owned context; no state of its own. */
#ifndef SLOTD_SHA1_H
#define SLOTD_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20

struct sha1_ctx {
    uint32_t h[5];
    uint64_t bytes;          /* message length so far */
    uint8_t block[64];
    size_t fill;             /* bytes waiting in block */
};

void sha1_init(struct sha1_ctx *ctx);
void sha1_update(struct sha1_ctx *ctx, const void *data, size_t len);
/* Writes the 20-byte digest; the context must be initialised again before reuse. */
void sha1_final(struct sha1_ctx *ctx, uint8_t out[SHA1_DIGEST_LEN]);
/* One-shot: the digest of `len` bytes at `data`. */
void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LEN]);

#endif
