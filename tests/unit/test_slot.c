/* Unit tests for kv/slot.c: CRC16/XMODEM check value and hash-tag rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../kv/slot.h"

static unsigned slot_str(const char *s)
{
    return slot_of(s, strlen(s));
}

/* The bitwise definition, to check the sliced tables against. */
static uint16_t crc16_bitwise(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void fill_random(unsigned char *buf, size_t n, uint32_t x)
{
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
}

/* Every length 0..300 at every alignment 0..7, over pseudo-random bytes:
 * the steps and the tail agree with the definition, with the CPU's fast
 * path (where it has one) and with the portable tables. */
static void crc16_sliced_matches_bitwise(void **state)
{
    unsigned char buf[320];

    (void)state;
    fill_random(buf, sizeof(buf), 12345);
    for (int portable = 0; portable <= 1; portable++) {
        slot_force_portable(portable);
        for (size_t off = 0; off < 8; off++)
            for (size_t n = 0; n <= 300; n++)
                assert_int_equal(slot_crc16(buf + off, n), crc16_bitwise(buf + off, n));
    }
    slot_force_portable(0);
}

/* The reference rule, spelled out: the first '{', the first '}' after it,
 * a non-empty span between, else the whole key. */
static unsigned slot_reference(const unsigned char *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (k[i] != '{')
            continue;
        for (size_t j = i + 1; j < n; j++)
            if (k[j] == '}') {
                if (j > i + 1)
                    return crc16_bitwise(k + i + 1, j - i - 1) & (SLOT_COUNT - 1);
                break;
            }
        break;
    }
    return crc16_bitwise(k, n) & (SLOT_COUNT - 1);
}

/* Keys of every length 0..80 with braces at each place the fast path looks
 * at separately (the first and last 8 or 16 bytes, the blocks between), in
 * both implementations. */
static void slot_of_matches_reference(void **state)
{
    unsigned char buf[96];

    (void)state;
    for (int portable = 0; portable <= 1; portable++) {
        slot_force_portable(portable);
        for (size_t n = 0; n <= 80; n++) {
            fill_random(buf, n, (uint32_t)n + 7);
            for (size_t i = 0; i < n; i++)
                if (buf[i] == '{' || buf[i] == '}')
                    buf[i] = 'x';
            assert_int_equal(slot_of(buf, n), slot_reference(buf, n));
            for (size_t a = 0; a < n; a++) {
                buf[a] = '{';
                assert_int_equal(slot_of(buf, n), slot_reference(buf, n));
                for (size_t b = a + 1; b < n; b += 3) {
                    buf[b] = '}';
                    assert_int_equal(slot_of(buf, n), slot_reference(buf, n));
                    buf[b] = 'x';
                }
                buf[a] = 'x';
            }
        }
    }
    slot_force_portable(0);
}

static void crc16_check_value(void **state)
{
    (void)state;
    /* The CRC catalogue's check value for CRC-16/XMODEM. */
    assert_int_equal(slot_crc16("123456789", 9), 0x31C3);
    assert_int_equal(slot_crc16("", 0), 0);
}

static void known_slots(void **state)
{
    (void)state;
    /* Values from redis-server 7.0 CLUSTER KEYSLOT. */
    assert_int_equal(slot_str("foo"), 12182);
    assert_int_equal(slot_str("bar"), 5061);
    assert_int_equal(slot_str(""), 0);
    assert_int_equal(slot_str("123456789"), 0x31C3 & 16383);
}

static void hash_tags(void **state)
{
    (void)state;
    /* First '{' and first '}' after it, non-empty span only. */
    assert_int_equal(slot_str("{user1000}.following"), slot_str("user1000"));
    assert_int_equal(slot_str("{user1000}.followers"), slot_str("user1000"));
    assert_int_equal(slot_str("foo{}{bar}"), slot_str("foo{}{bar}"));
    assert_int_not_equal(slot_str("foo{}{bar}"), slot_str("bar"));
    assert_int_equal(slot_str("foo{{bar}}zap"), slot_str("{bar"));
    assert_int_equal(slot_str("foo{bar}{zap}"), slot_str("bar"));
    assert_int_equal(slot_str("{a"), slot_crc16("{a", 2) & 16383);   /* no closing brace */
    assert_int_equal(slot_str("a}b{"), slot_crc16("a}b{", 4) & 16383);
    assert_int_equal(slot_str("x{}"), slot_crc16("x{}", 3) & 16383);
}

static void binary_keys(void **state)
{
    (void)state;
    const char k[] = { 'a', 0, '{', 'z', '}', (char)0xff };
    assert_int_equal(slot_of(k, sizeof(k)), slot_of("z", 1));
    for (unsigned i = 0; i < 256; i++) {
        char c = (char)i;
        assert_true(slot_of(&c, 1) < SLOT_COUNT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc16_check_value),
        cmocka_unit_test(crc16_sliced_matches_bitwise),
        cmocka_unit_test(slot_of_matches_reference),
        cmocka_unit_test(known_slots),
        cmocka_unit_test(hash_tags),
        cmocka_unit_test(binary_keys),
    };

    slot_init();
    return cmocka_run_group_tests_name("slot", tests, NULL, NULL);
}
