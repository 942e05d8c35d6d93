/* mem_shim_test — dataplane/mem.h over plain malloc, for unit tests and fuzz
 * targets that must not link jemalloc or the real mem.c.
 *
 * Single-threaded test use only. Each block carries its size in a 16-byte
 * prefix so mem_used() is exact and a test can assert it is back to zero at
 * teardown. mem_shim_fail_after(n) lets the next n allocations succeed and
 * fails the ones after, to drive -ENOMEM paths; n < 0 turns failures off.
 * Tests declare the two shim functions themselves: the shim has no header. */
#include "../../dataplane/mem.h"

#include <stdlib.h>
#include <string.h>

#define SHIM_HDR 16

/* Test-process globals: the shim stands in for the allocator, which is
 * process-wide by nature. */
static int64_t shim_used;
static long shim_fail_after = -1;

void mem_shim_fail_after(long n);
void mem_shim_fail_after(long n)
{
    shim_fail_after = n;
}

static int shim_should_fail(void)
{
    if (shim_fail_after < 0)
        return 0;
    if (shim_fail_after == 0)
        return 1;
    shim_fail_after--;
    return 0;
}

int mem_thread_init(unsigned slot)
{
    (void)slot;
    return 0;
}

unsigned mem_thread_arena(void)
{
    return 0;
}

void *mem_alloc(size_t n)
{
    char *b;

    if (shim_should_fail() || n > SIZE_MAX - SHIM_HDR)
        return NULL;
    b = malloc(n + SHIM_HDR);
    if (b == NULL)
        return NULL;
    memcpy(b, &n, sizeof(n));
    shim_used += (int64_t)n;
    return b + SHIM_HDR;
}

void *mem_calloc(size_t n)
{
    void *p = mem_alloc(n);

    if (p != NULL)
        memset(p, 0, n);
    return p;
}

void *mem_realloc(void *p, size_t n)
{
    char *b;
    size_t old;

    if (p == NULL)
        return mem_alloc(n);
    if (shim_should_fail() || n > SIZE_MAX - SHIM_HDR)
        return NULL;
    memcpy(&old, (char *)p - SHIM_HDR, sizeof(old));
    b = realloc((char *)p - SHIM_HDR, n + SHIM_HDR);
    if (b == NULL)
        return NULL;
    memcpy(b, &n, sizeof(n));
    shim_used += (int64_t)n - (int64_t)old;
    return b + SHIM_HDR;
}

void mem_free(void *p)
{
    size_t old;

    if (p == NULL)
        return;
    memcpy(&old, (char *)p - SHIM_HDR, sizeof(old));
    shim_used -= (int64_t)old;
    free((char *)p - SHIM_HDR);
}

void mem_free_sized(void *p, size_t n)
{
    (void)n;
    mem_free(p);
}

size_t mem_size_class(size_t n)
{
    return n;
}

int64_t mem_used(void)
{
    return shim_used;
}

int64_t mem_used_slot(unsigned slot)
{
    return slot == 0 ? shim_used : 0;
}

void mem_stats(size_t *allocated, size_t *active, size_t *resident,
               size_t *mapped, size_t *retained)
{
    size_t u = shim_used > 0 ? (size_t)shim_used : 0;

    if (allocated)
        *allocated = u;
    if (active)
        *active = u;
    if (resident)
        *resident = u;
    if (mapped)
        *mapped = u;
    if (retained)
        *retained = 0;
}
