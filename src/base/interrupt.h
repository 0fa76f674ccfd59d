/* interrupt.h — a graceful stop on Ctrl-C / SIGTERM without signal handlers or global variables.
 *
 * main.c calls interrupt_hold() for the commands that stop gracefully (train, cache, validate), before
 * any other thread exists: SIGINT, SIGTERM and SIGUSR2 are then blocked in every thread (OpenMP's pool
 * inherits the mask) and one watcher thread waits for SIGINT/SIGTERM (sigwaitinfo):
 *   first signal   the watcher prints what will happen ("<note>; Ctrl-C again to stop now") at once and
 *                  makes SIGUSR2 pending for the process. SIGUSR2 is blocked everywhere and never
 *                  consumed, so the kernel's pending set is the "stop requested" flag that long loops
 *                  poll with interrupt_requested() at points where stopping loses nothing (after an
 *                  optimizer step, between cache entries, after a sampling step);
 *   second signal  the watcher prints "stopping now" and the process dies of that signal (exit status
 *                  130 for SIGINT, 143 for SIGTERM). Outputs are written to temp files and renamed, so
 *                  nothing half-written is left under a final name; the next run removes the temps.
 * Without the hold (unit tests, other commands) the signals keep their default action and
 * interrupt_requested() is 0. */
#ifndef ST_BASE_INTERRUPT_H
#define ST_BASE_INTERRUPT_H
#include "base/error.h"

/* Blocks the signals and starts the watcher; `note` says what the first signal does (e.g. "stopping
 * after this step, with a checkpoint"). Call first thing in main, before any thread exists. */
void interrupt_hold(const char *note);
/* 1 once SIGINT or SIGTERM arrived under the hold (stays 1), else 0. */
int interrupt_requested(void);
/* When a stop was requested: sets e to "interrupted <what>" with EXIT_INTERRUPTED and returns -1;
 * else 0. For loops that stop where they are (loading, caching, sampling). */
int interrupt_check(Err *e, const char *what);

#endif
