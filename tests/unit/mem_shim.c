/* mem_shim — stand-in for dataplane/mem.c in standalone unit-test builds:
 * the mem.h allocation wrappers straight over jemalloc's non-standard API,
 * one byte counter, no arenas. Single-threaded tests only (the counter is a
 * plain global, which only a test double may have). Link either this file or
 * dataplane/mem.c, never both. */
#include "../../dataplane/mem.h"

#include <jemalloc/jemalloc.h>
#include <stdlib.h>

static int64_t shim_used;

/* mallocx/nallocx leave size 0 undefined; 1 byte lands in the same class. */
static size_t nz(size_t n) { return n ? n : 1; }

/* AddressSanitizer does not see jemalloc's *allocx calls, so under it every
 * block comes from malloc, padded to jemalloc's class: ASan then reports a
 * stale entry pointer as use-after-free, and sizes still count by class. */
#if defined(__SANITIZE_ADDRESS__)
#define SHIM_LIBC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHIM_LIBC 1
#endif
#endif

#ifdef SHIM_LIBC
#include <malloc.h>
#include <string.h>
static void *blk_alloc(size_t n) { return malloc(nallocx(nz(n), 0)); }
static size_t blk_size(void *p) { return malloc_usable_size(p); }
static void *blk_realloc(void *p, size_t n) { return realloc(p, nallocx(nz(n), 0)); }
static void blk_free(void *p, size_t n) { (void)n; free(p); }
static void *blk_zalloc(size_t n)
{
    void *p = blk_alloc(n);
    if (p)
        memset(p, 0, blk_size(p));
    return p;
}
#else
static void *blk_alloc(size_t n) { return mallocx(nz(n), 0); }
static void *blk_zalloc(size_t n) { return mallocx(nz(n), MALLOCX_ZERO); }
static size_t blk_size(void *p) { return sallocx(p, 0); }
static void *blk_realloc(void *p, size_t n) { return rallocx(p, nz(n), 0); }
static void blk_free(void *p, size_t n) { sdallocx(p, nz(n), 0); }
#endif

int mem_thread_init(unsigned slot)
{
    (void)slot;
    return 0;
}

unsigned mem_thread_arena(void) { return 0; }

void *mem_alloc(size_t n)
{
    void *p = blk_alloc(n);
    if (p)
        shim_used += (int64_t)blk_size(p);
    return p;
}

void *mem_calloc(size_t n)
{
    void *p = blk_zalloc(n);
    if (p)
        shim_used += (int64_t)blk_size(p);
    return p;
}

void *mem_realloc(void *p, size_t n)
{
    if (!p)
        return mem_alloc(n);
    size_t old = blk_size(p);
    void *q = blk_realloc(p, n);
    if (q)
        shim_used += (int64_t)blk_size(q) - (int64_t)old;
    return q;
}

void mem_free(void *p)
{
    if (!p)
        return;
    size_t n = blk_size(p);
    shim_used -= (int64_t)n;
    blk_free(p, n);
}

void mem_free_sized(void *p, size_t n)
{
    if (!p)
        return;
    /* Catch a caller passing a size of another class: jemalloc would free
     * into the wrong bin without a word. */
    if (nallocx(nz(n), 0) != blk_size(p))
        abort();
    shim_used -= (int64_t)blk_size(p);
    blk_free(p, n);
}

size_t mem_size_class(size_t n) { return nallocx(nz(n), 0); }

int64_t mem_used(void) { return shim_used; }

int64_t mem_used_slot(unsigned slot) { return slot == 0 ? shim_used : 0; }

void mem_stats(size_t *allocated, size_t *active, size_t *resident,
               size_t *mapped, size_t *retained)
{
    size_t *out[] = { allocated, active, resident, mapped, retained };
    for (unsigned i = 0; i < sizeof out / sizeof out[0]; i++)
        if (out[i])
            *out[i] = 0;
}
