/* fuzz_dump — libFuzzer target for the DUMP payload codec (cluster/dump.c).
 *
 * Build: clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined
 *        tests/fuzz/fuzz_dump.c cluster/dump.c dataplane/strconv.c
 *        tests/unit/mem_shim_test.c
 *
 * Input: byte 0 picks options, the rest is the data. The data is decoded
 *   1. as a whole payload, as a peer would send it (mostly caught by the CRC);
 *   2. as a payload body behind a freshly computed footer, so the value
 *      decoder itself sees arbitrary bytes;
 *   3. as a run of RDB strings read back to back with dump_read_string;
 *   4. as LZF data decompressed into a buffer of a chosen size.
 * Every decoded value is re-encoded and decoded again and must come back
 * with the same bytes and encoding; the data itself must survive an encode /
 * decode round trip and an LZF compress / decompress round trip. The shim's
 * byte counter must return to zero after each input. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cluster/dump.h"
#include "../../dataplane/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); abort(); } } while (0)

/* A decoded value must encode to a payload that decodes to itself. With
 * `fresh`, the bytes must also equal those from a fresh table: the output may
 * not depend on the scratch table's history (a fresh 256 KiB table per call
 * is slow under ASan, so only the last check of an input does it). */
static void check_reencode(struct dump_lzf *z, const struct dump_value *v, int fresh)
{
    uint8_t *a;
    size_t an;
    struct dump_value again;

    CHECK(dump_encode_string(z, v->val, v->len, &a, &an) == 0);
    if (fresh) {
        uint8_t *b;
        size_t bn;

        CHECK(dump_encode_string(NULL, v->val, v->len, &b, &bn) == 0);
        CHECK(an == bn && memcmp(a, b, an) == 0);
        mem_free(b);
    }
    CHECK(dump_check_footer(a, an) == 0);
    CHECK(dump_decode(a, an, &again) == 0);
    CHECK(again.type == DUMP_TYPE_STRING);
    CHECK(again.len == v->len && memcmp(again.val, v->val, v->len) == 0);
    CHECK(again.enc == v->enc);
    dump_value_free(&again);
    mem_free(a);
}

/* Decode from an exact-size heap copy so ASan sees any read past the end. */
static int decode_exact(struct dump_lzf *z, const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    struct dump_value v;
    int rc;

    CHECK(c != NULL);
    if (n)
        memcpy(c, p, n);
    rc = dump_decode(c, n, &v);
    CHECK(rc == 0 || rc == -EBADMSG || rc == -EINVAL || rc == -ENOTSUP);
    if (rc == 0) {
        CHECK(v.val != NULL && v.type == DUMP_TYPE_STRING);
        check_reencode(z, &v, 0);
        dump_value_free(&v);
    } else {
        CHECK(v.val == NULL);
        if (rc == -ENOTSUP)
            CHECK(dump_type_known(v.type) && v.type != DUMP_TYPE_STRING);
    }
    free(c);
    return rc;
}

static void with_footer(struct dump_lzf *z, const uint8_t *body, size_t n, unsigned ver)
{
    uint8_t *p = malloc(n + DUMP_FOOTER_LEN);
    uint64_t crc;
    int rc;

    CHECK(p != NULL);
    if (n)
        memcpy(p, body, n);
    p[n] = (uint8_t)ver;
    p[n + 1] = (uint8_t)(ver >> 8);
    crc = dump_crc64(0, p, n + 2);
    for (int k = 0; k < 8; k++)
        p[n + 2 + k] = (uint8_t)(crc >> (8 * k));
    rc = decode_exact(z, p, n + DUMP_FOOTER_LEN);
    CHECK((rc == -EBADMSG) == (ver > DUMP_RDB_VERSION));
    free(p);
}

static void read_strings(const uint8_t *p, size_t n)
{
    struct dump_reader r = { p, n, 0 };

    for (;;) {
        size_t before = r.at, len;
        char *s;
        int is_int, rc = dump_read_string(&r, &s, &len, &is_int);

        if (rc < 0) {
            CHECK(rc == -EINVAL);
            break;
        }
        CHECK(r.at > before && r.at <= n);
        CHECK(!is_int || (len >= 1 && len <= 11));
        mem_free(s);
    }
}

static void lzf_round_trip(struct dump_lzf *z, const uint8_t *p, size_t n, size_t slack)
{
    size_t cap = n + n / 16 + 16, c;
    uint8_t *out = malloc(cap), *back = malloc(n ? n : 1);

    CHECK(out && back);
    /* Incompressible data grows by one header per 32 bytes plus 3 spare;
     * matches never grow it. */
    c = dump_lzf_compress(z, p, n, out, cap);
    CHECK(n == 0 || c > 0);
    if (c > 0) {
        CHECK(dump_lzf_decompress(out, c, back, n) == 0);
        CHECK(memcmp(back, p, n) == 0);
        /* a tighter cap either fits the same bytes or gives up */
        if (slack < c) {
            uint8_t *t = malloc(c);
            size_t c2;

            CHECK(t != NULL);
            c2 = dump_lzf_compress(z, p, n, t, c - slack);
            CHECK(c2 == 0 || (c2 == c && memcmp(t, out, c) == 0));
            free(t);
        }
    }
    free(out);
    free(back);
}

static void lzf_decompress_any(const uint8_t *p, size_t n, size_t out_len)
{
    uint8_t *out = malloc(out_len ? out_len : 1);
    int rc;

    CHECK(out != NULL);
    rc = dump_lzf_decompress(p, n, out, out_len);
    CHECK(rc == 0 || rc == -EINVAL);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dump_lzf *z;
    struct dump_value v;
    unsigned opt;

    if (size < 1)
        return 0;
    opt = data[0];
    data++;
    size--;
    z = dump_lzf_new();
    CHECK(z != NULL);

    decode_exact(z, data, size);
    with_footer(z, data, size, opt & 1 ? (opt >> 1) & 15 : DUMP_RDB_VERSION);
    read_strings(data, size);
    lzf_decompress_any(data, size, (size_t)opt * 37 % (size * 4 + 1));
    lzf_round_trip(z, data, size, opt & 7);

    /* the data as a value */
    v.val = (char *)(uintptr_t)data;
    v.len = size;
    v.type = DUMP_TYPE_STRING;
    {
        uint8_t *p;
        size_t n;
        struct dump_value back;

        CHECK(dump_encode_string(z, data, size, &p, &n) == 0);
        CHECK(dump_decode(p, n, &back) == 0);
        CHECK(back.len == size && memcmp(back.val, data, size) == 0);
        v.enc = back.enc;
        check_reencode(z, &v, 1);
        dump_value_free(&back);
        mem_free(p);
    }

    dump_lzf_free(z);
    CHECK(mem_used() == 0);
    return 0;
}
