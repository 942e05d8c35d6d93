/* dump — DUMP/RESTORE payloads exactly as redis-server 7.0 writes and reads
 * them, so keys move between slotd and real nodes in either direction.
 *
 *   payload = type byte | RDB value | RDB version (u16 LE) | CRC-64 (u64 LE)
 *
 * The CRC covers every byte before it, the version included. Strings are the
 * only value type slotd stores so far: the encoder writes type 0 choosing the
 * string form as 7.0 does (int8/16/32, LZF, or raw), and the decoder knows
 * every type byte 7.0 knows and answers -ENOTSUP for the ones slotd cannot
 * hold yet. The RDB string and length readers are public so the RDB loader
 * (replication) can share them.
 *
 * Pure functions over caller memory; no shared state. Results are allocated
 * with mem_alloc on the calling thread. */
#ifndef SLOTD_DUMP_H
#define SLOTD_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "../kv/kvt.h"

#define DUMP_RDB_VERSION 10   /* rdb.h RDB_VERSION of Redis 7.0 */
#define DUMP_FOOTER_LEN  10   /* cluster.c: 2-byte version + 8-byte CRC-64 */

/* RDB value type bytes (rdb.h RDB_TYPE_*, Redis 7.0). 8 is unused; 20 and 21
 * are Redis 7.2 types that 7.0 refuses, and so do we. */
enum dump_type {
    DUMP_TYPE_STRING = 0,
    DUMP_TYPE_LIST = 1,
    DUMP_TYPE_SET = 2,
    DUMP_TYPE_ZSET = 3,
    DUMP_TYPE_HASH = 4,
    DUMP_TYPE_ZSET_2 = 5,
    DUMP_TYPE_MODULE = 6,
    DUMP_TYPE_MODULE_2 = 7,
    DUMP_TYPE_HASH_ZIPMAP = 9,
    DUMP_TYPE_LIST_ZIPLIST = 10,
    DUMP_TYPE_SET_INTSET = 11,
    DUMP_TYPE_ZSET_ZIPLIST = 12,
    DUMP_TYPE_HASH_ZIPLIST = 13,
    DUMP_TYPE_LIST_QUICKLIST = 14,
    DUMP_TYPE_STREAM_LISTPACKS = 15,
    DUMP_TYPE_HASH_LISTPACK = 16,
    DUMP_TYPE_ZSET_LISTPACK = 17,
    DUMP_TYPE_LIST_QUICKLIST_2 = 18,
    DUMP_TYPE_STREAM_LISTPACKS_2 = 19,
};

/* 1 if `t` is a value type byte Redis 7.0 can load (rdbIsObjectType). */
int dump_type_known(unsigned t);

/* CRC-64/Jones as Redis's crc64.c computes it: reflected, polynomial
 * 0xad93d23594c935a9, init 0, no final xor; crc64(0, "123456789", 9) ==
 * 0xe9c6d914c4b8d9ca. Pass the previous result as `crc` to continue. */
uint64_t dump_crc64(uint64_t crc, const void *p, size_t n);

/* ---- LZF (the liblzf format RDB strings use) ---------------------------- */

/* Compressor scratch: a 64 Ki-entry match table (256 KiB). Keep one per
 * thread and pass it to every call; it never needs clearing between calls.
 * NULL on allocation failure. */
struct dump_lzf;
struct dump_lzf *dump_lzf_new(void);
void dump_lzf_free(struct dump_lzf *z);

/* Compress in[0..n) into out[0..cap), producing the same bytes as the
 * liblzf 3.6 that Debian's redis-server 7.0 links (VERY_FAST, 16-bit hash).
 * Returns the compressed length, or 0 if it does not fit in `cap` bytes
 * (liblzf's own conservative bound: Redis then stores the string raw) or if
 * n is 0 or over UINT32_MAX - 1. */
size_t dump_lzf_compress(struct dump_lzf *z, const void *in, size_t n,
                         void *out, size_t cap);

/* Decompress exactly: every input byte consumed, no back-reference before the
 * start, and exactly out_len bytes produced. 0 or -EINVAL. */
int dump_lzf_decompress(const void *in, size_t n, void *out, size_t out_len);

/* ---- encoding ------------------------------------------------------------ */

/* The RDB string encoding of val[0..len) as Redis 7.0 writes it into out
 * (rdbSaveRawString): an int8/16/32 form if the bytes are a canonical decimal
 * integer of at most 11 characters in int32 range; else, above 20 bytes, the
 * LZF form if it saves at least 4 bytes; else length + bytes. The bytes alone
 * decide; Redis's int/embstr/raw object encoding never changes the output.
 * `out` must hold dump_string_bound(len) bytes. Returns the bytes written.
 * `z` may be NULL: compression then allocates a temporary table, and if that
 * fails the string is written raw (still a valid payload). */
size_t dump_string_bound(size_t len);
size_t dump_put_string(struct dump_lzf *z, const void *val, size_t len, uint8_t *out);

/* A complete DUMP payload for a string value: type 0, the string as above,
 * version 10, CRC. *out is mem_alloc'd (caller frees with mem_free), *out_len
 * its length. 0 or -ENOMEM. */
int dump_encode_string(struct dump_lzf *z, const void *val, size_t len,
                       uint8_t **out, size_t *out_len);

/* ---- decoding ------------------------------------------------------------ */

/* RESTORE's footer check (verifyDumpPayload): at least 10 bytes, version
 * <= 10 (older versions are accepted, as 7.0 does), CRC-64 of everything
 * before the last 8 bytes equal to them. 0 or -EBADMSG; the reply for
 * -EBADMSG is "ERR DUMP payload version or checksum are wrong". */
int dump_check_footer(const void *p, size_t n);

/* A cursor over RDB bytes, for the readers below. */
struct dump_reader {
    const uint8_t *p;
    size_t n;      /* readable bytes */
    size_t at;     /* next byte */
};

/* RDB length (6/14/32/64-bit forms). When the first byte is 11xxxxxx,
 * *special is set to 1 and *len to the 6-bit string encoding; else
 * *special is 0. 0, or -EINVAL if truncated or 0x82..0xBF. */
int dump_read_len(struct dump_reader *r, uint64_t *len, int *special);

/* An RDB string in any form (raw, int8/16/32 as decimal text, LZF).
 * *out is mem_alloc'd (at least 1 byte even when *len is 0; caller frees),
 * *is_int is 1 for an int form. 0, -EINVAL (truncated, bad encoding byte,
 * corrupt LZF, impossible lengths), or -ENOMEM. */
int dump_read_string(struct dump_reader *r, char **out, size_t *len, int *is_int);

/* A decoded string value. `val` is mem_alloc'd (never NULL after success). */
struct dump_value {
    unsigned type;        /* RDB type byte */
    char *val;
    size_t len;
    enum kv_enc enc;      /* what OBJECT ENCODING shows after a 7.0 RESTORE */
};

/* Decode a whole payload. The value must lie before the footer; bytes
 * between the value and the footer are ignored, as 7.0 ignores them.
 * Returns 0 (a string in *v), or
 *   -EBADMSG  footer check failed (see dump_check_footer);
 *   -EINVAL   "ERR Bad data format": no type byte, a type byte 7.0 does not
 *             know, or a malformed value;
 *   -ENOTSUP  a valid 7.0 type slotd does not store yet; v->type says which
 *             (the value itself is not examined);
 *   -ENOMEM.
 * On any error *v holds no allocation. */
int dump_decode(const void *p, size_t n, struct dump_value *v);
void dump_value_free(struct dump_value *v);

#endif
