/* loss_plot.h — the loss curve beside the loss log: output_dir/training_log.jsonl drawn as a PNG
 * (raw per-step loss in a light line, a moving average in a dark one, axes with step and loss
 * labels). A resumed run appends steps it may have logged before; the newest line of a step wins. */
#ifndef ST_TRAIN_LOSS_PLOT_H
#define ST_TRAIN_LOSS_PLOT_H
#include <stdint.h>
#include "base/error.h"
#include "image/image.h"

/* Reads "step" and "loss" of every JSONL line; steps ascending, one entry per step (malloc'd). */
int loss_log_read(const char *jsonl_path, int64_t **steps, double **losses, int *n, Err *e);
/* Draws the curve (n >= 1) into a new RGB image of width x height. */
Image loss_plot_render(const int64_t *steps, const double *losses, int n, int width, int height);
/* loss_log_read + loss_plot_render (800 x 400) + an atomic PNG write. */
int loss_plot_write(const char *jsonl_path, const char *png_path, Err *e);

#endif
