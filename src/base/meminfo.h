/* meminfo.h — this process's memory as the kernel counts it (/proc/self/status and smaps), for the
 * peak figures train and bench print and for tests that bound what a loader keeps resident. */
#ifndef ST_MEMINFO_H
#define ST_MEMINFO_H
#include <stddef.h>

/* Resident set now (VmRSS) and its peak so far (VmHWM), in KiB; -1 when /proc is unavailable. */
long mem_rss_kib(void);
long mem_peak_kib(void);
/* Resets the peak to the current resident set (so a phase's own peak can be read); 0 on success. */
int mem_peak_reset(void);
/* Resident KiB of the mapping that contains addr (its smaps "Rss:"), -1 when none contains it. */
long mem_mapping_rss_kib(const void *addr);

#endif
