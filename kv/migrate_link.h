/* migrate_link — MIGRATE's outbound connections: a cache of blocking-style
 * kernel TCP links to target nodes, one per "host:port" as the command named
 * it, with the database each link last SELECTed, and the line-oriented I/O
 * MIGRATE needs (write everything, read one reply line), every call bounded
 * by a timeout through poll().
 *
 * Threads: a cache belongs to one data core and is never locked. MIGRATE runs
 * synchronously on the core that owns its keys (as Redis blocks its whole
 * server), so only that core waits while a link connects or reads. The
 * per-core caches (mlink_core_cache) are the one piece of mutable global
 * state here: an array indexed by data-core id, each slot touched only by
 * its own core.
 *
 * Bounds as Redis 7.0 (cluster.c): at most 64 cached links, a random one
 * closed to make room; a link unused for 10 s is closed by the sweep. */
#ifndef SLOTD_MIGRATE_LINK_H
#define SLOTD_MIGRATE_LINK_H

#include <stddef.h>
#include <stdint.h>

#define MLINK_CACHE_MAX     64      /* Redis cluster.c MIGRATE_SOCKET_CACHE_ITEMS */
#define MLINK_IDLE_MS       10000   /* Redis cluster.c MIGRATE_SOCKET_CACHE_TTL (10 s) */
#define MLINK_WRITE_CHUNK   (64 * 1024)   /* Redis writes MIGRATE's buffer in 64 KiB calls */
#define MLINK_NO_DB         INT64_MIN     /* no SELECT acknowledged on this link */

struct mlink;
struct mlink_cache;
struct dump_lzf;

/* A private cache (tests, or a caller with its own storage). NULL on
 * allocation failure. Freeing closes every link. */
struct mlink_cache *mlink_cache_new(void);
void mlink_cache_free(struct mlink_cache *c);

/* The calling data core's cache, created on first use; NULL if core_id is
 * out of range or memory ran out. Only core `core_id` may call these. */
struct mlink_cache *mlink_core_cache(unsigned core_id);
/* Close the core's links idle for 10 s; the data core's cron calls it. A
 * core that never migrated costs one load. */
void mlink_core_cron(unsigned core_id, int64_t now_ms);
/* Free the core's cache (links closed) at shutdown. */
void mlink_core_free(unsigned core_id);

/* LZF scratch for serializing values (DUMP, MIGRATE), created on first use;
 * NULL when memory ran out (the encoder then allocates its own). */
struct dump_lzf *mlink_cache_lzf(struct mlink_cache *c);

/* The cached link for host:port (the bytes as given, not resolved), or a new
 * one connected within timeout_ms. `now_ms` stamps its last use. Returns 0
 * with *out set, or:
 *   -ENOMEM     no memory for the entry;
 *   -EINVAL     the host does not resolve or the port is not a port;
 *   -ETIMEDOUT  the connection did not complete in time;
 *   -errno      socket() / connect() failed at once.
 * A connect refused asynchronously is not reported here: as in Redis, the
 * first write or read on the link fails instead. */
int mlink_get(struct mlink_cache *c, const char *host, size_t hlen,
              const char *port, size_t plen, int64_t timeout_ms, int64_t now_ms,
              struct mlink **out);
/* Close a link and forget it (after an I/O error). */
void mlink_drop(struct mlink_cache *c, struct mlink *l);
/* Close links whose last use is more than MLINK_IDLE_MS before now_ms.
 * Returns how many were closed. */
unsigned mlink_sweep(struct mlink_cache *c, int64_t now_ms);
unsigned mlink_count(const struct mlink_cache *c);

/* Database the link last SELECTed successfully (MLINK_NO_DB on a new link);
 * the caller sets it after the target acknowledged, resets it on an error. */
int64_t mlink_last_db(const struct mlink *l);
void mlink_set_last_db(struct mlink *l, int64_t db);

/* Write all n bytes, in MLINK_WRITE_CHUNK pieces each allowed timeout_ms.
 * 0, -ETIMEDOUT, or -errno of the failed send (-EPIPE, -ECONNRESET, ...). */
int mlink_write(struct mlink *l, const void *p, size_t n, int64_t timeout_ms);

/* Read one line (up to "\n", the "\r\n" stripped) within timeout_ms into
 * buf, NUL-terminated; a longer line is cut to cap-1 bytes and its rest is
 * discarded. Returns the stored length, or -ETIMEDOUT, -ECONNRESET (peer
 * closed), -errno. Bytes after the line stay buffered for the next call. */
long mlink_read_line(struct mlink *l, char *buf, size_t cap, int64_t timeout_ms);   /* cap >= 1 */

#endif
