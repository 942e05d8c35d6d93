/* Unit tests for kv/sha1.c: the RFC 3174 section 7.3 test vectors, the
 * padding boundaries (55, 56, 63, 64, 65 bytes: one or two final blocks), and
 * every split of an input across two updates equal to the one-shot digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../kv/sha1.h"

static void hex(const uint8_t d[SHA1_DIGEST_LEN], char out[41])
{
    for (int i = 0; i < SHA1_DIGEST_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const void *data, size_t len, const char *want)
{
    uint8_t d[SHA1_DIGEST_LEN];
    char got[41];

    sha1(data, len, d);
    hex(d, got);
    assert_string_equal(got, want);
}

static void padding_boundaries(void **state)
{
    static const struct { size_t len; const char *want; } v[] = {
        { 0,  "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
        { 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a" },   /* length fits the block */
        { 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699" },   /* length needs a 2nd block */
        { 63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5" },
        { 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d" },
        { 65, "11655326c708d70319be2610e8a57d9a5b959d3b" },
    };
    char a[65];

    (void)state;
    memset(a, 'a', sizeof(a));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check(a, v[i].len, v[i].want);
}

static void rfc3174_vectors(void **state)
{
    static const char t2[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char t4[] = "0123456701234567012345670123456701234567012345670123456701234567";
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_LEN];
    char got[41], *big;

    (void)state;
    check("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    check(t2, strlen(t2), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* test 3: one million 'a', fed in uneven pieces */
    big = malloc(1000000);
    assert_non_null(big);
    memset(big, 'a', 1000000);
    sha1_init(&ctx);
    for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 1000 + 1)
        sha1_update(&ctx, big + off, off + step > 1000000 ? 1000000 - off : step);
    sha1_final(&ctx, d);
    hex(d, got);
    assert_string_equal(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(big);
    /* test 4: 64 bytes repeated 10 times */
    sha1_init(&ctx);
    for (int i = 0; i < 10; i++)
        sha1_update(&ctx, t4, 64);
    sha1_final(&ctx, d);
    hex(d, got);
    assert_string_equal(got, "dea356a2cddd90c7a7ecedc5ebb563934f460452");
}

static void any_split(void **state)
{
    uint8_t msg[200], one[SHA1_DIGEST_LEN], two[SHA1_DIGEST_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    sha1(msg, sizeof(msg), one);
    for (size_t cut = 0; cut <= sizeof(msg); cut++) {
        struct sha1_ctx ctx;
        sha1_init(&ctx);
        sha1_update(&ctx, msg, cut);
        sha1_update(&ctx, msg + cut, sizeof(msg) - cut);
        sha1_final(&ctx, two);
        assert_memory_equal(one, two, SHA1_DIGEST_LEN);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(padding_boundaries),
        cmocka_unit_test(rfc3174_vectors),
        cmocka_unit_test(any_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
