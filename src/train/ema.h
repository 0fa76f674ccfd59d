/* ema.h — exponential moving average of the trainable parameters (SimpleTuner's EMAModel).
 *
 * After optimizer step number g (global_step after the increment), when g % ema_update_interval == 0:
 *   d = decay(g);  shadow ← shadow − (1 − d)·(shadow − θ)
 * decay(g), with s = g − 1:
 *   ema_warmup_steps W > 0:  0 while g < W (the shadow copies θ), ema_decay from then on;
 *   otherwise:               0 when s <= 0, else min((1 + s)/(10 + s), ema_decay).
 * The shadow starts as a copy of θ when the EMA is created. */
#ifndef ST_TRAIN_EMA_H
#define ST_TRAIN_EMA_H
#include <stdint.h>
#include "base/error.h"
#include "tensor/safetensors.h"
#include "tensor/param.h"

typedef struct EmaConfig {
    double decay;              /* ema_decay (0.995) */
    int64_t update_interval;   /* ema_update_interval (1) */
    int64_t warmup_steps;      /* ema_warmup_steps (0) */
} EmaConfig;
void ema_config_init(EmaConfig *c); /* SimpleTuner's defaults */

typedef struct Ema {
    EmaConfig cfg;
    int n;
    TrainParam *params;        /* copy of the caller's list */
    float **shadow;            /* one buffer per parameter */
    int64_t optimization_step; /* global step of the last update */
    double last_decay;         /* decay used by the last update (for logging) */
} Ema;

/* Errors (EXIT_USAGE) for decay outside [0, 1] or interval < 1. */
int ema_init(Ema *m, const EmaConfig *c, const TrainParam *params, int n, Err *e);
void ema_free(Ema *m);
double ema_decay_at(const EmaConfig *c, int64_t global_step);
/* Call after each optimizer step with the new global_step; returns 1 when it updated. */
int ema_step(Ema *m, int64_t global_step);
/* Exchanges shadow and live weights (call again to undo): validation and export with EMA weights. */
void ema_swap(Ema *m);

/* Tensors "<param name>" (f32, [numel]) + metadata ema_optimization_step. */
void ema_state_save(const Ema *m, StWriter *w);
int ema_state_load(Ema *m, const StFile *f, Err *e);

#endif
