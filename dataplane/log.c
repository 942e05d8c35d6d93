/* log — Redis-format log lines, one write(2) per line.
 *
 * Shared by every thread. State: `log_level_now` and `log_role_now` are
 * relaxed atomics (a stale read logs one line more or less, which is harmless);
 * `log_fd` is the output descriptor, fixed after log_open(): log_reopen()
 * replaces the file behind it with dup2(), which the kernel does atomically
 * with respect to concurrent write() calls, so writers never see a closed fd.
 * A line is built on the stack (LOG_MAX_LEN + header) and written whole:
 * O_APPEND writes of a few hundred bytes are not interleaved by Linux. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* GNU strerror_r returning char * */
#endif
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level_now = LL_NOTICE;
static _Atomic char log_role_now = 'M';
/* -1: stdout. Otherwise our own descriptor for the logfile. */
static int log_fd = -1;
static char *log_path;

int log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level_now, memory_order_relaxed);
}

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_level_now, (int)level, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&log_level_now, memory_order_relaxed);
}

void log_set_role(char role)
{
    atomic_store_explicit(&log_role_now, role, memory_order_relaxed);
}

static int log_open_fd(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int log_open(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        log_close();
        return 0;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        return -ENOMEM;
    int fd = log_open_fd(path);
    if (fd < 0) {
        free(copy);
        return fd;
    }
    if (log_fd >= 0)
        close(log_fd);
    free(log_path);
    log_fd = fd;
    log_path = copy;
    return 0;
}

int log_reopen(void)
{
    if (log_fd < 0 || log_path == NULL)
        return 0;
    int fd = log_open_fd(log_path);
    if (fd < 0)
        return fd;
    int rc = 0;
    if (dup2(fd, log_fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

void log_close(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    free(log_path);
    log_path = NULL;
}

int log_format_line(char *buf, int cap, enum log_level level, const char *msg)
{
    /* Redis level marks, indexed by LL_* */
    static const char marks[] = ".-*#";
    struct timeval tv;
    struct tm tm;
    char ts[64];

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t off = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(ts + off, sizeof(ts) - off, "%03d", (int)(tv.tv_usec / 1000));

    int lv = (int)level;
    if (lv < LL_DEBUG || lv > LL_WARNING)
        lv = LL_WARNING;
    int n = snprintf(buf, (size_t)cap, "%d:%c %s %c %s\n", (int)getpid(),
                     atomic_load_explicit(&log_role_now, memory_order_relaxed),
                     ts, marks[lv], msg);
    if (n < 0)
        return 0;
    return n < cap ? n : cap - 1;
}

static void log_write(const char *line, int len)
{
    int fd = log_fd >= 0 ? log_fd : STDOUT_FILENO;
    while (len > 0) {
        ssize_t w = write(fd, line, (size_t)len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* nowhere left to report it */
        line += w;
        len -= (int)w;
    }
}

void log_raw(enum log_level level, const char *msg)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    /* header: pid (<= 10) + role + date (24) + marks and spaces: < 64 */
    char line[LOG_MAX_LEN + 64];
    char trunc[LOG_MAX_LEN];
    if (strlen(msg) >= sizeof(trunc)) {
        memcpy(trunc, msg, sizeof(trunc) - 1);
        trunc[sizeof(trunc) - 1] = '\0';
        msg = trunc;
    }
    int n = log_format_line(line, (int)sizeof(line), level, msg);
    log_write(line, n);
    errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    char msg[LOG_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    errno = saved;
    log_raw(level, msg);
}

void log_errno(enum log_level level, const char *call, const char *fmt, ...)
{
    int saved = errno;
    if (!log_enabled(level))
        return;
    char msg[LOG_MAX_LEN];
    char ebuf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s() failed (%d: %s)", call,
                 saved, strerror_r(saved, ebuf, sizeof(ebuf)));
    log_raw(level, msg);
    errno = saved;
}
