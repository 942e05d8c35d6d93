/* slot — CRC16/XMODEM and hash tags. Pure functions over 4 KiB of tables that
 * main builds before any thread starts (slot_init). */
#include "slot.h"

#include <string.h>

/* Table-driven CRC, sliced by eight: crc_table[k][b] is the CRC state after
 * byte b followed by k zero bytes, so eight bytes cost eight independent
 * lookups (a 16-byte key takes two steps instead of sixteen; every keyed
 * command hashes its key in cluster mode). 4 KiB, in L1 beside the key.
 * Written once by slot_init before threads exist, read-only afterwards. */
#define CRC_SLICES 8
static uint16_t crc_table[CRC_SLICES][256];

void slot_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        crc_table[0][i] = c;
    }
    for (unsigned k = 1; k < CRC_SLICES; k++)
        for (unsigned i = 0; i < 256; i++) {
            uint16_t c = crc_table[k - 1][i];
            crc_table[k][i] = (uint16_t)((c << 8) ^ crc_table[0][c >> 8]);
        }
}

uint16_t slot_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;

    /* The state's two bytes fold into the first two message bytes, then the
     * eight bytes' contributions add up (the CRC is linear). */
    for (; len >= 8; p += 8, len -= 8) {
        unsigned hi = (crc >> 8) ^ p[0], lo = (crc & 0xff) ^ p[1];
        crc = (uint16_t)(crc_table[7][hi] ^ crc_table[6][lo] ^
                         crc_table[5][p[2]] ^ crc_table[4][p[3]] ^
                         crc_table[3][p[4]] ^ crc_table[2][p[5]] ^
                         crc_table[1][p[6]] ^ crc_table[0][p[7]]);
    }
    for (; len > 0; p++, len--)
        crc = (uint16_t)((crc << 8) ^ crc_table[0][((crc >> 8) ^ p[0]) & 0xff]);
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
