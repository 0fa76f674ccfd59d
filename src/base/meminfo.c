/* meminfo.c — see meminfo.h. Reads the kernel's own accounting instead of counting allocations,
 * so mapped checkpoint pages, BLAS buffers and allocator slack are all included. */
#include "base/meminfo.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long status_field(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') { v = strtol(line + n + 1, NULL, 10); break; }
    fclose(f);
    return v;
}

long mem_rss_kib(void) { return status_field("VmRSS"); }
long mem_peak_kib(void) { return status_field("VmHWM"); }

int mem_peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;   /* "5": reset the peak resident set size to the current one */
    return fclose(f) == 0 && ok ? 0 : -1;
}

long mem_mapping_rss_kib(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    long v = -1;
    int inside = 0;
    uintptr_t a = (uintptr_t)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        /* a mapping header: "lo-hi perms offset dev inode [path]" */
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) { inside = a >= lo && a < hi; continue; }
        if (inside && !strncmp(line, "Rss:", 4)) { v = strtol(line + 4, NULL, 10); break; }
    }
    fclose(f);
    return v;
}
