/* mem — jemalloc arenas per data core and lock-free byte counters.
 *
 * Each thread owns one counter slot, padded to a cache line so that counting
 * on one core never bounces another core's line. A thread writes only its own
 * slot; mem_used() sums all slots with relaxed loads, which is exact once the
 * writers are quiet and never off by more than their in-flight allocations. */
#include "mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <jemalloc/jemalloc.h>

struct mem_slot {
    _Atomic int64_t used;
    char pad[64 - sizeof(int64_t)];
};

/* Process-wide by nature: one counter per thread, read by INFO and maxmemory. */
static struct mem_slot mem_slots[MEM_MAX_THREADS];

static _Thread_local unsigned tl_slot;
static _Thread_local unsigned tl_arena;

int mem_thread_init(unsigned slot)
{
    unsigned arena;
    size_t sz = sizeof(arena);

    if (slot >= MEM_MAX_THREADS)
        return -EINVAL;
    if (mallctl("arenas.create", &arena, &sz, NULL, 0) != 0)
        return -ENOMEM;
    /* Binding the thread makes plain malloc() in libraries land in the same
     * arena, and keeps the thread's tcache in front of it. */
    if (mallctl("thread.arena", NULL, NULL, &arena, sizeof(arena)) != 0)
        return -EINVAL;
    tl_slot = slot;
    tl_arena = arena;
    return 0;
}

unsigned mem_thread_arena(void)
{
    return tl_arena;
}

static inline void count(int64_t delta)
{
    atomic_fetch_add_explicit(&mem_slots[tl_slot].used, delta, memory_order_relaxed);
}

#if defined(__SANITIZE_ADDRESS__)
#define MEM_VIA_LIBC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_VIA_LIBC 1
#endif
#endif

#ifdef MEM_VIA_LIBC
/* AddressSanitizer sees only the libc allocator, not jemalloc's *allocx
 * calls: in a sanitizer build every block comes from malloc, sized up to the
 * jemalloc class it would have had, so a stale pointer into a table entry or
 * a client is reported and the byte counts stay those of a release build. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static size_t class_of(size_t n)
{
    return nallocx(n ? n : 1, 0);
}

void *mem_alloc(size_t n)
{
    void *p = malloc(class_of(n));

    if (p)
        count((int64_t)malloc_usable_size(p));
    return p;
}

void *mem_calloc(size_t n)
{
    void *p = calloc(1, class_of(n));

    if (p)
        count((int64_t)malloc_usable_size(p));
    return p;
}

void *mem_realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = realloc(p, class_of(n));

    if (q)
        count((int64_t)malloc_usable_size(q) - (int64_t)old);
    return q;
}

void mem_free(void *p)
{
    if (!p)
        return;
    count(-(int64_t)malloc_usable_size(p));
    free(p);
}

void mem_free_sized(void *p, size_t n)
{
    (void)n;
    mem_free(p);
}
#else

void *mem_alloc(size_t n)
{
    void *p = mallocx(n ? n : 1, 0);

    if (p)
        count((int64_t)sallocx(p, 0));
    return p;
}

void *mem_calloc(size_t n)
{
    void *p = mallocx(n ? n : 1, MALLOCX_ZERO);

    if (p)
        count((int64_t)sallocx(p, 0));
    return p;
}

void *mem_realloc(void *p, size_t n)
{
    size_t old;
    void *q;

    if (!p)
        return mem_alloc(n);
    old = sallocx(p, 0);
    q = rallocx(p, n ? n : 1, 0);
    if (q)
        count((int64_t)sallocx(q, 0) - (int64_t)old);
    return q;
}

void mem_free(void *p)
{
    if (!p)
        return;
    count(-(int64_t)sallocx(p, 0));
    dallocx(p, 0);
}

void mem_free_sized(void *p, size_t n)
{
    if (!p)
        return;
    n = n ? n : 1;
    count(-(int64_t)nallocx(n, 0));
    sdallocx(p, n, 0);
}

#endif /* MEM_VIA_LIBC */

size_t mem_size_class(size_t n)
{
    return nallocx(n ? n : 1, 0);
}

int64_t mem_used(void)
{
    int64_t sum = 0;

    for (unsigned i = 0; i < MEM_MAX_THREADS; i++)
        sum += atomic_load_explicit(&mem_slots[i].used, memory_order_relaxed);
    return sum;
}

int64_t mem_used_slot(unsigned slot)
{
    if (slot >= MEM_MAX_THREADS)
        return 0;
    return atomic_load_explicit(&mem_slots[slot].used, memory_order_relaxed);
}

void mem_stats(size_t *allocated, size_t *active, size_t *resident,
               size_t *mapped, size_t *retained)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), v, vsz = sizeof(v);

    /* Statistics are a snapshot taken at the last epoch bump. */
    mallctl("epoch", &epoch, &sz, &epoch, sz);
#define STAT(ptr, name) \
    do { if (ptr) { vsz = sizeof(v); *(ptr) = mallctl(name, &v, &vsz, NULL, 0) ? 0 : v; } } while (0)
    STAT(allocated, "stats.allocated");
    STAT(active, "stats.active");
    STAT(resident, "stats.resident");
    STAT(mapped, "stats.mapped");
    STAT(retained, "stats.retained");
#undef STAT
}
