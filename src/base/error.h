/* error.h — one clear error message carried back to the caller, and logging.
 *
 * Functions that can fail take `Err *e` last and return nonzero on failure after
 * filling e->msg with a message that names the file, key or tensor and what was
 * expected. The caller prints it once (main.c), so messages are never printed twice
 * and tests can compare them exactly. */
#ifndef ST_ERROR_H
#define ST_ERROR_H
#include <stdarg.h>
#include <stddef.h>

typedef struct Err {
    char msg[2048];
    int code; /* exit code to use: 1 runtime, 2 usage/configuration, 130 interrupted */
} Err;

/* EXIT_INTERRUPTED: stopped by Ctrl-C / SIGTERM at a safe point before the job was done (as a shell
 * reports a process that SIGINT ended) */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Sets the message (printf-style) and code 1; returns -1 so callers can `return err_set(...)`. */
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same with an explicit exit code (e.g. EXIT_USAGE for configuration errors). */
int err_setc(Err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepends context: "ctx: <old message>". Returns -1. */
int err_prefix(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(Err *e);

/* Logging to stderr. Level from the caller; no global state: quiet mode is a parameter. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that aborts with a message on out-of-memory (there is no sane recovery). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
