/* grad_clip.h — gradient clipping after accumulation, before the optimizer step (SimpleTuner:
 * max_grad_norm with grad_clip_method; clipping happens only when max_grad_norm > 0).
 *   value: every gradient element clamped to [−max, max]          (torch clip_grad_value_)
 *   norm:  N = ‖all gradients as one vector‖₂;
 *          g ← g·min(1, max/(N + 1e-6))                            (torch clip_grad_norm_)
 * Both return N measured before clipping, for logging. */
#ifndef ST_TRAIN_GRAD_CLIP_H
#define ST_TRAIN_GRAD_CLIP_H
#include "base/error.h"
#include "tensor/param.h"

typedef enum { GRAD_CLIP_VALUE, GRAD_CLIP_NORM } GradClipMethod;

/* "value" | "norm" (NULL = value, SimpleTuner's default); else an EXIT_USAGE error naming the key. */
int grad_clip_method_parse(const char *s, GradClipMethod *out, Err *e);
/* Global L2 norm of all gradients (accumulated in double). */
double grad_global_norm(const TrainParam *params, int n);
/* Clips in place as described above; returns the pre-clip global norm. */
double grad_clip(TrainParam *params, int n, GradClipMethod method, double max_grad_norm);

#endif
