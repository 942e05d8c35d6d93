/* slot — CRC16/XMODEM and hash tags. Pure functions over tables and
 * constants that main builds before any thread starts (slot_init).
 *
 * Every keyed command of cluster mode hashes its key, so slot_of is on the
 * hot path. On x86-64 with PCLMULQDQ and AVX it takes eight key bytes per
 * step, a Barrett reduction of two carry-less multiplies, and looks for '{'
 * with one 16-byte compare over the same loads; a key of 8 to 16 bytes is
 * two overlapping loads and two steps, ~33 instructions against ~105 for the
 * sliced tables plus memchr (callgrind, 16-byte keys), which remain for other
 * CPUs. AVX only for its three-operand forms: the SSE encoding of the same
 * code needs a register copy per step. Rejected: the '{' compare fused into
 * every 8-byte step (costs more than one compare per 16 bytes), a 16-bit
 * table (128 KiB, out of L1). */
#include "slot.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SLOT_CLMUL 1
#include <immintrin.h>
#endif

/* Table-driven CRC, sliced by eight: crc_table[k][b] is the CRC state after
 * byte b followed by k zero bytes, so eight bytes cost eight independent
 * lookups (a 16-byte key takes two steps instead of sixteen). 4 KiB, in L1
 * beside the key. Written by slot_init (and slot_force_portable, tests)
 * before threads exist, read-only afterwards, as is every static below. */
#define CRC_SLICES 8
#define CRC_POLY 0x1021           /* CRC-16/XMODEM: x^16 + x^12 + x^5 + 1 */
static uint16_t crc_table[CRC_SLICES][256];

#ifdef SLOT_CLMUL
/* Lane 0: floor(x^80 / P) without its x^64 term, the Barrett constant that
 * turns "64 message bits times x^16, mod P" into two carry-less multiplies;
 * lane 1: P without its x^16 term. */
static __m128i crc_k;
static int clmul_ok;              /* the CPU has PCLMULQDQ and AVX */
static int use_clmul;             /* and slot_force_portable allows them */

static void clmul_init(void)
{
    uint64_t hi = 1u << 16, lo = 0;     /* the dividend x^80, bits 127..0 */
    uint64_t mu = 0;

    for (int d = 80; d >= 16; d--) {
        int bit = d >= 64 ? (int)(hi >> (d - 64)) & 1 : (int)(lo >> d) & 1;
        if (!bit)
            continue;
        if (d - 16 < 64)
            mu |= 1ull << (d - 16);
        /* Subtract (xor) P * x^(d-16). */
        for (int j = 0; j <= 16; j++) {
            if (!((0x10000u | CRC_POLY) >> j & 1))
                continue;
            int pos = d - 16 + j;
            if (pos >= 64)
                hi ^= 1ull << (pos - 64);
            else
                lo ^= 1ull << pos;
        }
    }
    crc_k = _mm_set_epi64x(CRC_POLY, (long long)mu);
    __builtin_cpu_init();
    clmul_ok = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("avx");
}
#endif

void slot_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ CRC_POLY) : (uint16_t)(c << 1);
        crc_table[0][i] = c;
    }
    for (unsigned k = 1; k < CRC_SLICES; k++)
        for (unsigned i = 0; i < 256; i++) {
            uint16_t c = crc_table[k - 1][i];
            crc_table[k][i] = (uint16_t)((c << 8) ^ crc_table[0][c >> 8]);
        }
#ifdef SLOT_CLMUL
    clmul_init();
#endif
    slot_force_portable(0);
}

static uint16_t crc16_table(const unsigned char *p, size_t len)
{
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

/* The span that decides the slot: the bytes between the first '{' and the
 * first '}' after it when that span is non-empty, else the whole key. */
static const unsigned char *tag_span(const unsigned char *k, size_t *len)
{
    const unsigned char *open = memchr(k, '{', *len);

    if (open) {
        size_t rest = *len - (size_t)(open - k) - 1;
        const unsigned char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            *len = (size_t)(close - open - 1);
            return open + 1;
        }
    }
    return k;
}

#ifdef SLOT_CLMUL
#define CLMUL_FN __attribute__((target("pclmul,avx")))

/* One step: w holds 64 message bits, most significant first, with the CRC so
 * far already added into its top 16; returns w * x^16 mod P in the low 16
 * bits of lane 0 (lane 1 and the bits above 16 are junk the next step drops).
 * Barrett: q = floor(w * x^16 / P) = w ^ hi64(w * mu); the remainder is the
 * low 16 bits of q * P, which are those of q * CRC_POLY. */
static inline CLMUL_FN __m128i clmul_step(__m128i w, __m128i k)
{
    __m128i t = _mm_clmulepi64_si128(w, k, 0x00);
    __m128i q = _mm_xor_si128(_mm_srli_si128(t, 8), w);

    return _mm_clmulepi64_si128(q, k, 0x10);
}

/* CRC of len bytes; with `scan`, returns -1 when a '{' shows up so the
 * caller can look for a tag. Leading zero bytes leave a CRC with initial
 * value 0 unchanged, so the key is taken as if zero-padded in front to a
 * multiple of 8 bytes: the first step takes the leading len % 8 bytes (or 8),
 * every later step 8 whole bytes. No load reads past the key: short keys are
 * assembled from overlapping loads, and the '{' compares of longer ones
 * overlap the block before at the end. */
static inline CLMUL_FN __attribute__((always_inline))
int crc16_clmul(const unsigned char *p, size_t len, int scan)
{
    const __m128i k = crc_k;
    const __m128i brace = _mm_set1_epi8('{');
    /* Each lane's bytes reversed: most significant first. */
    const __m128i bswap = _mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15,
                                       0, 1, 2, 3, 4, 5, 6, 7);
    const unsigned char *end = p + len;
    __m128i crc, w;

    if (len < 8) {
        uint64_t v;
        uint32_t a, b;

        if (len >= 4) {
            memcpy(&a, p, 4);
            memcpy(&b, end - 4, 4);
            v = (uint64_t)__builtin_bswap32(a) << (8 * (len - 4)) | __builtin_bswap32(b);
        } else if (len > 0) {
            v = (uint64_t)p[0] << (8 * (len - 1)) | (uint64_t)p[len / 2] << (8 * (len - 1 - len / 2)) |
                p[len - 1];
        } else {
            return 0;
        }
        w = _mm_cvtsi64_si128((long long)v);
        if (scan && _mm_movemask_epi8(_mm_cmpeq_epi8(w, brace)))
            return -1;
        return _mm_cvtsi128_si32(clmul_step(w, k)) & 0xffff;
    }
    if (len <= 16) {
        /* Lane 0 the first 8 bytes, lane 1 the last 8: two steps, the first
         * on the len - 8 leading bytes (none when len is 8). */
        w = _mm_loadl_epi64((const __m128i *)(const void *)p);
        w = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(w), (const double *)(const void *)(end - 8)));
        if (scan && _mm_movemask_epi8(_mm_cmpeq_epi8(w, brace)))
            return -1;
        w = _mm_shuffle_epi8(w, bswap);
        crc = clmul_step(_mm_srl_epi64(w, _mm_cvtsi32_si128((int)(128 - 8 * len))), k);
        w = _mm_unpackhi_epi64(w, w);
        crc = clmul_step(_mm_xor_si128(w, _mm_slli_epi64(crc, 48)), k);
        return _mm_cvtsi128_si32(crc) & 0xffff;
    }
    if (scan) {
        const unsigned char *q;

        for (q = p; q < end - 16; q += 16)
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)q),
                                                 brace)))
                return -1;
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(end - 16)),
                                             brace)))
            return -1;
    }
    w = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(const void *)p), bswap);
    if (len & 7) {
        w = _mm_srl_epi64(w, _mm_cvtsi32_si128((int)(64 - 8 * (len & 7))));
        p += len & 7;
    } else {
        p += 8;
    }
    crc = clmul_step(w, k);
    while (p < end) {
        w = _mm_shuffle_epi8(_mm_loadl_epi64((const __m128i *)(const void *)p), bswap);
        crc = clmul_step(_mm_xor_si128(w, _mm_slli_epi64(crc, 48)), k);
        p += 8;
    }
    return _mm_cvtsi128_si32(crc) & 0xffff;
}

static CLMUL_FN uint16_t crc16_fast(const unsigned char *p, size_t len)
{
    return (uint16_t)crc16_clmul(p, len, 0);
}

/* Apart from slot_fast so that the common case saves no registers. */
static CLMUL_FN __attribute__((noinline)) unsigned slot_fast_tag(const unsigned char *k, size_t len)
{
    k = tag_span(k, &len);
    return (unsigned)crc16_clmul(k, len, 0) & (SLOT_COUNT - 1);
}

static CLMUL_FN unsigned slot_fast(const unsigned char *k, size_t len)
{
    int crc = crc16_clmul(k, len, 1);

    if (crc < 0)
        return slot_fast_tag(k, len);
    return (unsigned)crc & (SLOT_COUNT - 1);
}
#endif

uint16_t slot_crc16(const void *buf, size_t len)
{
#ifdef SLOT_CLMUL
    if (use_clmul)
        return crc16_fast(buf, len);
#endif
    return crc16_table(buf, len);
}

static unsigned slot_table(const unsigned char *k, size_t len)
{
    k = tag_span(k, &len);
    return crc16_table(k, len) & (SLOT_COUNT - 1);
}

/* slot_of's implementation, chosen by slot_init: one indirect jump. */
static unsigned (*slot_impl)(const unsigned char *k, size_t len) = slot_table;

unsigned slot_of(const void *key, size_t len)
{
    return slot_impl(key, len);
}

void slot_force_portable(int on)
{
#ifdef SLOT_CLMUL
    use_clmul = !on && clmul_ok;
    slot_impl = use_clmul ? slot_fast : slot_table;
#else
    (void)on;
#endif
}
