/* log — Redis-format log lines to stdout or to the `logfile`.
 *
 * Line format (Redis 7.0 serverLogRaw):
 *   "<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <level> <message>\n"
 * role 'M' master, 'S' replica, 'C' child process; level '.' debug, '-' verbose,
 * '*' notice, '#' warning.
 *
 * Process-wide state (the one exception to "no mutable globals"): the level and
 * role are atomics, the output is one file descriptor. Every line is formatted
 * into a stack buffer and handed to a single write(2), so lines from different
 * threads never interleave and no lock is taken. Any thread may log; data cores
 * should log only rare events (a formatted write is a system call). */
#ifndef SLOTD_LOG_H
#define SLOTD_LOG_H

/* Levels, ordered as Redis's LL_* (a message is written when level >= the
 * configured verbosity). */
enum log_level {
    LL_DEBUG = 0,
    LL_VERBOSE = 1,
    LL_NOTICE = 2,
    LL_WARNING = 3,
};

/* Longest message written; longer ones are truncated (Redis LOG_MAX_LEN). */
#define LOG_MAX_LEN 1024

/* Send output to `path`, opened O_APPEND|O_CREAT (0644 minus umask); NULL or
 * "" means stdout. Returns 0 or -errno (the previous output stays in use).
 * Call before the threads start; log_reopen() is the thread-safe way to
 * switch files later. */
int log_open(const char *path);

/* Reopen the current logfile (logrotate, SIGHUP): the new file replaces the
 * old descriptor in place with dup2(), so concurrent writers see either file.
 * Returns 0 (also when logging to stdout) or -errno. Not async-signal-safe:
 * call it from the control plane after noting the signal. */
int log_reopen(void);

/* Stop writing to the logfile and go back to stdout. */
void log_close(void);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* 'M', 'S', 'C' (set 'C' in a forked child first thing). */
void log_set_role(char role);

/* 1 if a message at `level` would be written (to skip costly formatting). */
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Message taken verbatim (no formatting). */
void log_raw(enum log_level level, const char *msg);

/* For a failed system call (nginx habit): reads errno first, then writes
 * "<message>: <call>() failed (<errno>: <strerror>)". errno is preserved. */
void log_errno(enum log_level level, const char *call, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats one line exactly as it would be written, into buf (cap bytes, NUL
 * terminated, ending in '\n' unless truncated). Returns the line length.
 * Exposed for tests and for callers that need the text (e.g. crash report). */
int log_format_line(char *buf, int cap, enum log_level level, const char *msg);

#endif
