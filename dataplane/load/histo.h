/* histo — a log-linear latency histogram in the manner of HdrHistogram:
 * exact below HISTO_SUB, then HISTO_SUB linear buckets per power of two, so
 * every recorded value is known to within 1/HISTO_SUB (< 0.8 %) of itself.
 *
 * Units are the caller's (slotd-load records TSC cycles and converts only
 * when it prints). A histogram is a plain struct with no pointers: one per
 * data core, recorded without locks, merged by the main thread afterwards. */
#ifndef SLOTD_HISTO_H
#define SLOTD_HISTO_H

#include <stdint.h>

#define HISTO_SUB_BITS 7
#define HISTO_SUB (1u << HISTO_SUB_BITS)
/* Values up to 2^HISTO_MAX_BITS - 1 get their own bucket (2^40 cycles is
 * minutes at any clock); larger ones share the last bucket, and max stays
 * exact. */
#define HISTO_MAX_BITS 40
#define HISTO_NBUCKETS ((HISTO_MAX_BITS - HISTO_SUB_BITS + 1) * HISTO_SUB)

struct histo {
    uint64_t count, sum, min, max;
    uint64_t n[HISTO_NBUCKETS];
};

/* Empty the histogram (min reads as 0 while count is 0). */
void histo_reset(struct histo *h);

/* Bucket of value v (< HISTO_NBUCKETS), and the lowest and highest values
 * that land in bucket i. */
unsigned histo_index(uint64_t v);
uint64_t histo_bucket_lo(unsigned i);
uint64_t histo_bucket_hi(unsigned i);

/* Add value v once / n times. */
void histo_record(struct histo *h, uint64_t v);
void histo_record_n(struct histo *h, uint64_t v, uint64_t n);

/* dst += src. */
void histo_merge(struct histo *dst, const struct histo *src);

/* The value at percentile p (0..100): the highest value of the bucket holding
 * the ceil(p% * count)-th smallest recording, but never above max nor below
 * min. p <= 0 gives min, p >= 100 max, an empty histogram 0. */
uint64_t histo_percentile(const struct histo *h, double p);

/* Mean of the recorded values (exact), 0 when empty. */
double histo_mean(const struct histo *h);

#endif
