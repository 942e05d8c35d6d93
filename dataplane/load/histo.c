/* histo — log-linear histogram (see histo.h).
 *
 * Index layout: values below HISTO_SUB are their own index (group 0). A value
 * v >= HISTO_SUB with highest set bit e lies in group g = e - HISTO_SUB_BITS + 1;
 * shifting it right by g - 1 leaves HISTO_SUB_BITS + 1 bits whose top bit is
 * always 1, so the remaining HISTO_SUB_BITS bits pick one of HISTO_SUB linear
 * buckets: index = g * HISTO_SUB + ((v >> (g - 1)) - HISTO_SUB).
 * Owner: whoever holds the struct; no shared state. */
#include <string.h>

#include "histo.h"

#define HISTO_LAST_GROUP (HISTO_MAX_BITS - HISTO_SUB_BITS)

void histo_reset(struct histo *h)
{
    memset(h, 0, sizeof(*h));
}

unsigned histo_index(uint64_t v)
{
    unsigned e, g;

    if (v < HISTO_SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);
    g = e - HISTO_SUB_BITS + 1;
    if (g > HISTO_LAST_GROUP)
        return HISTO_NBUCKETS - 1;
    return g * HISTO_SUB + (unsigned)((v >> (g - 1)) - HISTO_SUB);
}

uint64_t histo_bucket_lo(unsigned i)
{
    unsigned g = i / HISTO_SUB, off = i % HISTO_SUB;

    if (g == 0)
        return off;
    return (uint64_t)(HISTO_SUB + off) << (g - 1);
}

uint64_t histo_bucket_hi(unsigned i)
{
    unsigned g = i / HISTO_SUB;

    if (i >= HISTO_NBUCKETS - 1)
        return UINT64_MAX;
    if (g == 0)
        return i;
    return histo_bucket_lo(i) + ((uint64_t)1 << (g - 1)) - 1;
}

void histo_record_n(struct histo *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count += n;
    h->sum += v * n;
    h->n[histo_index(v)] += n;
}

void histo_record(struct histo *h, uint64_t v)
{
    histo_record_n(h, v, 1);
}

void histo_merge(struct histo *dst, const struct histo *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (unsigned i = 0; i < HISTO_NBUCKETS; i++)
        dst->n[i] += src->n[i];
}

uint64_t histo_percentile(const struct histo *h, double p)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    rank = (uint64_t)(p / 100.0 * (double)h->count);
    if ((double)rank < p / 100.0 * (double)h->count)
        rank++;                     /* ceil without libm */
    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < HISTO_NBUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t v = histo_bucket_hi(i);

            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double histo_mean(const struct histo *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
