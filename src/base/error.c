#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void err_vset(Err *e, int code, const char *fmt, va_list ap) {
    if (!e) return;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    e->code = code;
}

int err_set(Err *e, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); err_vset(e, EXIT_RUNTIME, fmt, ap); va_end(ap);
    return -1;
}

int err_setc(Err *e, int code, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); err_vset(e, code, fmt, ap); va_end(ap);
    return -1;
}

int err_prefix(Err *e, const char *fmt, ...) {
    if (!e) return -1;
    char pre[1024], old[sizeof e->msg];
    va_list ap; va_start(ap, fmt); vsnprintf(pre, sizeof pre, fmt, ap); va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t k = strlen(pre);
    if (k > sizeof e->msg - 3) k = sizeof e->msg - 3;
    memcpy(e->msg, pre, k);
    e->msg[k] = ':'; e->msg[k + 1] = ' ';
    size_t rest = sizeof e->msg - k - 3, lo = strlen(old);
    if (lo > rest) lo = rest;
    memcpy(e->msg + k + 2, old, lo);
    e->msg[k + 2 + lo] = 0;
    return -1;
}

void err_clear(Err *e) { if (e) { e->msg[0] = 0; e->code = 0; } }

void log_info(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    vfprintf(stderr, fmt, ap); fputc('\n', stderr);
    va_end(ap);
}

void log_warn(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    fputs("warning: ", stderr); vfprintf(stderr, fmt, ap); fputc('\n', stderr);
    va_end(ap);
}

static void oom(size_t n) {
    fprintf(stderr, "error: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n) { void *p = malloc(n ? n : 1); if (!p) oom(n); return p; }
void *xcalloc(size_t n, size_t size) { void *p = calloc(n ? n : 1, size ? size : 1); if (!p) oom(n * size); return p; }
void *xrealloc(void *p, size_t n) { p = realloc(p, n ? n : 1); if (!p) oom(n); return p; }
char *xstrdup(const char *s) { size_t n = strlen(s) + 1; char *p = xmalloc(n); memcpy(p, s, n); return p; }
char *xasprintf(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); int n = vsnprintf(NULL, 0, fmt, ap); va_end(ap);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt); vsnprintf(p, (size_t)n + 1, fmt, ap); va_end(ap);
    return p;
}
