/* train_log.h — output_dir/training_log.jsonl and training_log.csv: one line per optimizer step,
 * each step exactly once, always valid JSON.
 *
 * A run that stops between two checkpoints (kill, crash, full disk) has logged steps that its
 * resume will train again; opening the logs for a run that starts at step K first cuts both files
 * back to the steps <= K (a torn last line goes too), rewriting them atomically (temp + rename), so
 * the resumed run appends each later step once. A value that is not finite is written as null in
 * JSON and as an empty field in CSV (the trainer stops on a non-finite loss or gradient norm before
 * logging it, so this only guards the format). The files are synced before every checkpoint. */
#ifndef ST_TRAIN_TRAIN_LOG_H
#define ST_TRAIN_TRAIN_LOG_H
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"

#define TRAIN_LOG_JSONL "training_log.jsonl"
#define TRAIN_LOG_CSV   "training_log.csv"
#define TRAIN_LOG_CSV_HEADER "step,epoch,loss,lr,grad_norm,sigma_mean\n"

typedef struct TrainLog { FILE *jsonl, *csv; } TrainLog;

typedef struct TrainLogEntry {
    int64_t step, epoch;
    double loss, lr, grad_norm, sigma_mean;
} TrainLogEntry;

/* Cuts both logs in output_dir back to the steps <= keep_through (saying how many lines went), then
 * opens them for appending (the CSV with its header when new). */
int train_log_open(TrainLog *l, const char *output_dir, int64_t keep_through, Err *e);
/* Appends one step to both files and flushes them. */
int train_log_step(TrainLog *l, const TrainLogEntry *en, Err *e);
/* Makes what was logged durable (before a checkpoint claims the steps). */
int train_log_sync(TrainLog *l, Err *e);
void train_log_close(TrainLog *l);

/* Rewrites one log keeping the lines of steps <= keep_through (csv: 1 keeps the header line and
 * reads the step from the first field). *dropped receives how many lines went; an absent file is fine. */
int train_log_cut(const char *path, int csv, int64_t keep_through, int *dropped, Err *e);

#endif
