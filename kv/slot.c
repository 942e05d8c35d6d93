/* slot — CRC16/XMODEM and hash tags. Pure functions over a 512-byte table that
 * main builds before any thread starts (slot_init). */
#include "slot.h"

#include <string.h>

/* Table-driven CRC, 8 bits per step: 256 entries of 16 bits (512 bytes, fits in
 * L1 beside the key). Written once by slot_init before threads exist, read-only
 * afterwards. */
static uint16_t crc_table[256];

void slot_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        crc_table[i] = c;
    }
}

uint16_t slot_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ p[i]) & 0xff]);
    return crc;
}

unsigned slot_of(const void *key, size_t len)
{
    const char *k = key;
    const char *open = memchr(k, '{', len);

    if (open) {
        size_t rest = len - (size_t)(open - k) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return slot_crc16(open + 1, (size_t)(close - open - 1)) & (SLOT_COUNT - 1);
    }
    return slot_crc16(k, len) & (SLOT_COUNT - 1);
}
