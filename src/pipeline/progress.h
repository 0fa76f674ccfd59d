/* progress.h — what the trainer shows per optimizer step: on a terminal one line redrawn in
 * place (bar, step/total, loss, it/s, ETA); otherwise (logs, CI) one plain line per step with the
 * same figures. Rates and ETA count only this run's steps (a resumed run starts its clock anew). */
#ifndef ST_TRAIN_PROGRESS_H
#define ST_TRAIN_PROGRESS_H
#include <stdint.h>
#include <stdio.h>
#include <time.h>

typedef struct Progress {
    FILE *out;
    int tty;
    int open_line;             /* a redrawn line is on screen (tty) */
    int64_t first, total;      /* step this run started at, last step */
    struct timespec t0;
} Progress;

void progress_init(Progress *p, FILE *out, int64_t first_step, int64_t total_steps);
/* After optimizer step `step` (1-based global). */
void progress_step(Progress *p, int64_t step, double loss, double lr, double grad_norm);
/* Ends a redrawn line before other output (validation, messages, the end of training). */
void progress_break(Progress *p);
/* "1h02m03s" / "2m03s" / "3s" into buf. */
void progress_format_duration(double seconds, char *buf, size_t cap);

#endif
