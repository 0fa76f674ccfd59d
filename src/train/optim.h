/* optim.h — the optimizers SimpleTuner offers for edit-model LoRA/full training, on f32 weights.
 *
 * Names, defaults and optimizer_config handling follow SimpleTuner's optimizer_param.py:
 *   settings = the optimizer's own defaults, updated by optimizer_config ("k=v,k=v"), then betas =
 *   (optimizer_beta1, optimizer_beta2) when both are set. adam_beta1/adam_beta2/adam_weight_decay/
 *   adam_epsilon reach the optimizer only under DeepSpeed upstream, so they do not change it here
 *   either (optim_config_resolve warns when they are set to something else).
 *
 *   name           defaults                                  math
 *   adamw_bf16     betas .9/.999, wd 1e-2, eps 1e-6         AdamWBF16: bf16 moments, stochastic rounding
 *   torch-adamw    betas .9/.999, wd 1e-2, eps 1e-8         torch.optim.AdamW (amsgrad, maximize)
 *   optimi-adamw   betas .9/.99,  wd 0,    eps 1e-6         optimi.AdamW (debiased betas, decouple_lr)
 *   optimi-lion    betas .9/.99,  wd 0                       optimi.Lion
 *   optimi-sgd     momentum 0, wd 0, dampening false         optimi.SGD (decouple_wd, decouple_lr, torch_init)
 * Each file optim_<name>.c states its update rule. */
#ifndef ST_TRAIN_OPTIM_H
#define ST_TRAIN_OPTIM_H
#include <stdint.h>
#include "base/error.h"
#include "base/rng.h"
#include "tensor/safetensors.h"
#include "tensor/param.h"

typedef enum {
    OPTIM_ADAMW_BF16, OPTIM_TORCH_ADAMW, OPTIM_OPTIMI_ADAMW, OPTIM_OPTIMI_LION, OPTIM_OPTIMI_SGD
} OptimKind;

typedef struct OptimConfig {
    OptimKind kind;
    double lr;              /* base learning rate: learning_rate, or lr= from optimizer_config */
    double beta1, beta2;
    double eps;
    double weight_decay;
    int amsgrad, maximize;  /* torch-adamw */
    int decouple_lr;        /* optimi: decay by (lr/max_lr)·wd instead of lr·wd */
    double max_lr;          /* optimi: defaults to lr when decouple_lr is set */
    double momentum;        /* optimi-sgd */
    int dampening, decouple_wd, torch_init; /* optimi-sgd */
} OptimConfig;

const char *optim_name(OptimKind k);
/* "adamw_bf16, torch-adamw, optimi-adamw, optimi-lion, optimi-sgd" — for messages. */
const char *optim_supported_names(void);

/* The user-facing keys, as read from config.json. NaN means "not set". */
typedef struct OptimUserKeys {
    const char *optimizer;          /* required */
    const char *optimizer_config;   /* NULL or "" = none */
    double learning_rate;
    double optimizer_beta1, optimizer_beta2;
    double adam_beta1, adam_beta2, adam_weight_decay, adam_epsilon;
} OptimUserKeys;
/* All NaN / NULL. */
void optim_user_keys_init(OptimUserKeys *k);

/* Builds the effective settings. Errors (EXIT_USAGE) name the key: an unknown optimizer (listing the
 * supported ones), a malformed optimizer_config entry, a value of the wrong type, a value out of range. */
int optim_config_resolve(const OptimUserKeys *k, OptimConfig *out, Err *e);

typedef struct Optimizer {
    OptimConfig cfg;
    int n;
    TrainParam *params;        /* copy of the caller's list; the buffers stay the model's */
    int64_t step;              /* optimizer steps taken so far */
    float **m, **v, **vmax;    /* f32 state per parameter (NULL when the method has none) */
    uint16_t **m16, **v16;     /* adamw_bf16 moments as bf16 bit patterns */
    double *decay_owed;        /* adamw_bf16: weight decay accumulated but not yet applied, per tensor */
    Rng rng;                   /* adamw_bf16: stochastic rounding and the decay phase */
} Optimizer;

/* Allocates zeroed state for each parameter. seed drives adamw_bf16's randomness only. */
int optim_init(Optimizer *o, const OptimConfig *c, const TrainParam *params, int n, uint64_t seed, Err *e);
void optim_free(Optimizer *o);
/* One update of every parameter from its gradient, at learning rate lr (the schedule's value for
 * this step). Deterministic for any thread count. */
void optim_step(Optimizer *o, double lr);

/* Exact resume: the state as tensors "<param>.<buffer>" (+ metadata optimizer/step/rng). */
void optim_state_save(const Optimizer *o, StWriter *w);
/* Restores a state saved for the same optimizer and parameter list; errors name the file and tensor. */
int optim_state_load(Optimizer *o, const StFile *f, Err *e);

#endif
