/* interrupt.h — a graceful stop on Ctrl-C / SIGTERM with neither a signal handler nor global state.
 *
 * main.c holds SIGINT and SIGTERM (blocks them) for commands that stop gracefully, before any
 * thread exists, so every thread (OpenMP's pool included) inherits the mask and a signal stays
 * pending for the process instead of killing it. Long loops poll with interrupt_take() at points
 * where stopping loses nothing (after an optimizer step, between cache entries); once they have
 * decided to stop they call interrupt_release(), so a second Ctrl-C acts at once. Without the
 * hold (tests, other commands) the signals keep their default action and interrupt_take() is 0. */
#ifndef ST_BASE_INTERRUPT_H
#define ST_BASE_INTERRUPT_H

/* Blocks SIGINT and SIGTERM in the calling thread (call first thing in main). */
void interrupt_hold(void);
/* 1 when SIGINT or SIGTERM is pending (the signal is consumed), else 0. */
int interrupt_take(void);
/* Unblocks SIGINT and SIGTERM in the calling thread. */
void interrupt_release(void);

#endif
