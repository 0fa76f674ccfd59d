/* trainer.h — the training loop, model- and data-independent.
 *
 * One optimizer step = gradient_accumulation_steps micro-batches of train_batch_size samples. For
 * every sample: σ ~ the flow schedule (shifted for its latent size), ε ~ N(0, I),
 * x_σ = (1−σ)x0 + σε, the denoiser predicts the velocity of the target tokens given x_σ ⊕ the clean
 * reference latents, the loss compares it with v = ε − x0, and its gradient (scaled by
 * 1/(batch·accumulation), so k micro-batches equal one batch of k) flows back into the trainable
 * parameters. Then: clip (a non-finite gradient norm stops the run here, before anything of the step
 * is applied), learning rate of the step, optimizer, EMA, log, validation, checkpoint.
 *
 * Every random number comes from one Rng whose state is checkpointed together with the optimizer,
 * EMA, sample source and weights, so a resumed run reproduces an uninterrupted one bit for bit. */
#ifndef ST_TRAIN_TRAINER_H
#define ST_TRAIN_TRAINER_H
#include <stdint.h>
#include <stdio.h>
#include "base/error.h"
#include "base/rng.h"
#include "models/denoiser.h"
#include "train/ema.h"
#include "train/flow_objective.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/optim.h"
#include "train/parallel.h"

/* One training sample as the caches deliver it (buffers owned by the source). */
typedef struct TrainSample {
    int c, h, w;                   /* latent channels and size of the edit image */
    const float *x0;               /* [c, h, w] normalised latents */
    int n_refs;
    int ref_h[DENOISE_MAX_IMAGES - 1], ref_w[DENOISE_MAX_IMAGES - 1];
    const float *refs[DENOISE_MAX_IMAGES - 1]; /* [c, ref_h, ref_w] each */
    int txt_len, txt_dim;
    const float *txt;              /* [txt_len, txt_dim] */
    double timestep_offset;        /* the dataset's timestep_sampling_offset */
    const float *mask;             /* [h, w] loss weights of a mask dataset (m/2 + 0.5), or NULL */
} TrainSample;

/* Where samples come from (the dataset + caches in a run, a fixture in tests). */
typedef struct SampleSource {
    void *self;
    /* Fills up to `cap` samples of one batch; *n receives how many. */
    int (*next_batch)(void *self, TrainSample *samples, int cap, int *n, Err *e);
    /* Opaque resumable position (malloc'd text) and its restore. */
    char *(*state_save)(void *self);
    int (*state_load)(void *self, const char *state, Err *e);
    int64_t (*epoch)(void *self);
} SampleSource;

typedef struct TrainerConfig {
    const char *output_dir;
    int64_t max_train_steps;
    int train_batch_size;
    int gradient_accumulation_steps;
    double max_grad_norm;          /* <= 0: no clipping */
    GradClipMethod clip_method;    /* grad_clip_method: value | norm */
    int use_ema;
    EmaConfig ema;
    int64_t checkpoint_every;      /* 0 = only at the end */
    int checkpoints_total_limit;   /* <= 0: keep all */
    const char *resume_from;       /* NULL, "latest" or a checkpoint path */
    uint64_t seed;
    FlowConfig flow;
    OptimConfig optim;
    LrSchedule lr;
    const Parallel *par;           /* data-parallel ranks (train/parallel.h); NULL = one process */
    const char *weights_file;      /* the exported weights in output_dir and each checkpoint (relative):
                                      CKPT_LORA_FILE (NULL means it) or, model_type=full, CKPT_FULL_FILE */
    const char *weights_config;    /* a config.json copied next to them (model_type=full: the base
                                      transformer's, so the folder loads as a transformer); NULL: none */
} TrainerConfig;

/* Called before the first step (TrainerHooks), every validation interval and at the last step (may be NULL). variant is NULL for the weights
 * ema_validation chooses, or "ema" for the EMA weights' extra render in comparison mode. */
typedef int (*ValidateFn)(void *ctx, int64_t step, const char *variant, Err *e);

/* SimpleTuner's ema_validation: which weights validation renders when use_ema is on. */
typedef enum { EMA_VALIDATE_ONLY = 0, EMA_VALIDATE_NONE, EMA_VALIDATE_COMPARISON } EmaValidation;

/* What the loop reports (the caller prints or streams it; nothing is printed here). */
typedef enum {
    TRAIN_EV_START,        /* step = first step of this run, total = max_train_steps */
    TRAIN_EV_RESUMED,      /* step, path = the checkpoint resumed */
    TRAIN_EV_STEP,         /* step, total, epoch, loss, lr, grad_norm, seconds since this run's start */
    TRAIN_EV_CHECKPOINT,   /* step, path = the checkpoint folder written */
    TRAIN_EV_INTERRUPTED,  /* step: Ctrl-C / SIGTERM, the run stops here; checkpointing: a checkpoint of this
                              step follows (0: it was just written, or no step was trained in this run) */
} TrainEventKind;

typedef struct TrainEvent {
    TrainEventKind kind;
    int64_t step, total, epoch;
    double loss, lr, grad_norm, seconds;
    const char *path;
    int checkpointing;
} TrainEvent;

typedef void (*TrainEventFn)(void *ctx, const TrainEvent *ev);

typedef struct TrainerHooks {
    TrainEventFn on_event;         /* may be NULL */
    void *event_ctx;
    ValidateFn validate;
    void *validate_ctx;
    int64_t validate_every;        /* 0 = never */
    EmaValidation ema_validation;  /* ema_only: EMA weights; none: the trained ones; comparison: both */
    /* Before the first step: a fresh run renders step 0 with the untrained weights (SimpleTuner's
     * base-model benchmark) unless no_base_validation (disable_benchmark); validate_on_startup
     * (validation_on_startup) also renders at the step a resumed run starts from. */
    int no_base_validation, validate_on_startup;
} TrainerHooks;

typedef struct TrainResult {
    int64_t steps_done;            /* global step at the end */
    int64_t resumed_from;          /* global step of the checkpoint resumed, or -1 */
    double first_loss, last_loss;  /* loss of the first and last optimizer step of this run */
    char *final_weights;           /* output_dir/pytorch_lora_weights.safetensors (malloc'd); NULL when interrupted */
    int interrupted;               /* stopped early by SIGINT/SIGTERM after checkpointing steps_done */
} TrainResult;

/* Runs to max_train_steps. Writes output_dir/training_log.jsonl and .csv (step, epoch, loss, lr,
 * grad_norm, sigma mean; train/train_log.h), checkpoints with loss_curve.png refreshed beside the log,
 * and the final weights (EMA weights when use_ema). A stop requested by SIGINT/SIGTERM (base/interrupt.h)
 * ends the run after the current step with a checkpoint and out->interrupted set (not an error); a
 * validation render that the stop cut short (the validate hook fails with EXIT_INTERRUPTED) is dropped,
 * its step still checkpointed; a stop before the first step of the run trains and checkpoints nothing.
 * Crash safety: at the start, leftovers of killed runs in output_dir are removed (temp files,
 * unfinished or half-rotated checkpoints); resume_from "latest" passes over damaged checkpoints with a
 * warning; the logs are cut back to the step resumed from. */
int trainer_run(const TrainerConfig *cfg, Denoiser *model, SampleSource *src, const TrainerHooks *hooks,
                TrainResult *out, Err *e);
void train_result_free(TrainResult *r);

#endif
