/* optim_update.h — the per-tensor update rules behind optim_step (one file each).
 * t is the 1-based step number of this update; lr the learning rate for it. All buffers hold n floats
 * (bf16 bit patterns for adamw_bf16). Element-wise, so any thread split gives the same result. */
#ifndef ST_TRAIN_OPTIM_UPDATE_H
#define ST_TRAIN_OPTIM_UPDATE_H
#include <stddef.h>
#include <stdint.h>
#include "train/optim.h"

/* Parallelise element loops only when a tensor is big enough to pay for the threads. */
#define OPTIM_PAR_MIN 32768

void adamw_torch_update(const OptimConfig *c, int64_t t, double lr, float *p, const float *g,
                        float *m, float *v, float *vmax, size_t n);
void adamw_optimi_update(const OptimConfig *c, int64_t t, double lr, float *p, const float *g,
                         float *m, float *v, size_t n);
/* decay: weight decay applied this step (already taken from the owed amount); seed: this tensor's
 * stochastic-rounding stream for this step. */
void adamw_bf16_update(const OptimConfig *c, int64_t t, double lr, double decay, uint64_t seed,
                       float *p, const float *g, uint16_t *m, uint16_t *v, size_t n);
/* Adds wd·lr to *owed; returns the decay to apply now (the whole owed amount once it passes the
 * threshold, else 0) and leaves the rest owed. */
double adamw_bf16_take_decay(double *owed, double weight_decay, double lr);
#define ADAMW_BF16_DECAY_THRESHOLD 5e-3
void lion_update(const OptimConfig *c, double lr, float *p, const float *g, float *m, size_t n);
void sgd_update(const OptimConfig *c, int64_t t, double lr, float *p, const float *g, float *m, size_t n);
/* The decoupled weight-decay multiplier optimi uses: 1 - lr·wd, or 1 - (lr/max_lr)·wd with decouple_lr. */
double optimi_decay_factor(const OptimConfig *c, double lr);

#endif
