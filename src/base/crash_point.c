/* crash_point.c — see crash_point.h. */
#include "base/crash_point.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void crash_point(const char *fmt, ...) {
    const char *want = getenv(CRASH_POINT_ENV);
    if (!want || !*want) return;
    char label[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(label, sizeof label, fmt, ap);
    va_end(ap);
    if (!strstr(label, want)) return;
    /* under mpirun, SIMPLETUNER_CRASH_RANK picks the one rank that dies (the others must notice) */
    const char *rank = getenv("SIMPLETUNER_CRASH_RANK"), *mine = getenv("OMPI_COMM_WORLD_RANK");
    if (rank && *rank && (!mine || strcmp(mine, rank))) return;
    /* one write(2), no stdio: the message must reach the log before the kill, whatever is buffered */
    char msg[1100];
    int n = snprintf(msg, sizeof msg, "crash point: %s (%s=%s): SIGKILL\n", label, CRASH_POINT_ENV, want);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {}
    raise(SIGKILL);
}
