/* mem — jemalloc with one arena per data core, and per-thread byte counters.
 *
 * Every data-core thread binds itself to its own arena (mem_thread_init), so its
 * allocations never contend with another core's. Each thread counts the usable
 * bytes it allocates minus those it frees in a counter only it writes; memory
 * handed to another core and freed there makes one counter go down and another
 * up, so only the sum (mem_used) is meaningful. Reading the sum takes no lock. */
#ifndef SLOTD_MEM_H
#define SLOTD_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MEM_MAX_THREADS 130   /* data cores (up to 128) + control plane + main */

/* Bind the calling thread to a fresh jemalloc arena and give it counter slot
 * `slot` (< MEM_MAX_THREADS). Returns 0 or -errno. Threads that never call it
 * use the main arena and slot 0. */
int mem_thread_init(unsigned slot);

/* Arena index of the calling thread (for INFO memory per core). */
unsigned mem_thread_arena(void);

/* Allocation wrappers: NULL on failure (callers answer -OOM, never abort). */
void *mem_alloc(size_t n);
void *mem_calloc(size_t n);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
/* Sized free: `n` must be the size last asked for; cheaper than mem_free. */
void mem_free_sized(void *p, size_t n);
/* Usable size jemalloc gives for a request of n bytes (its size class). */
size_t mem_size_class(size_t n);

/* Bytes allocated through these wrappers by all threads, right now. */
int64_t mem_used(void);
/* Per-slot counter (may be negative, see above). */
int64_t mem_used_slot(unsigned slot);

/* jemalloc statistics, refreshed on call (takes jemalloc's internal locks:
 * control plane only). Any pointer may be NULL. */
void mem_stats(size_t *allocated, size_t *active, size_t *resident,
               size_t *mapped, size_t *retained);

#endif
