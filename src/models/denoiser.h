/* denoiser.h — what the trainer and the sampler need from a transformer family, per sample:
 * predict the flow velocity of the target tokens given the noisy target tokens, the clean
 * reference tokens, the text embedding and σ; then (training) back-propagate dL/dprediction into
 * the trainable parameters. Families (Qwen-Image, LongCat) implement it over their transformer;
 * per-family conditioning (RoPE frames, zero_cond_t, LongCat's per-token timesteps and position
 * ids) happens behind this interface, so the loop is the same for every family. */
#ifndef ST_TRAIN_DENOISER_H
#define ST_TRAIN_DENOISER_H
#include "base/error.h"
#include "base/rng.h"
#include "tensor/param.h"
#include "tensor/trace.h"

#define DENOISE_MAX_IMAGES 4   /* target + up to 3 references */

typedef struct DenoiseInput {
    int n_img;                              /* 1 (text-to-image) .. 1 + references */
    int grid_h[DENOISE_MAX_IMAGES], grid_w[DENOISE_MAX_IMAGES]; /* packed token grid per image */
    int channels;                           /* packed features per token (64) */
    const float *tokens;                    /* [sum grid_h*grid_w, channels]: target first */
    int txt_len, txt_dim;
    const float *txt;                       /* [txt_len, txt_dim] prompt embedding (all valid) */
    float sigma;                            /* noise level of the target in [0, 1] */
    int training;                           /* 1: keep what backward needs, apply LoRA dropout */
    Rng *rng;                               /* dropout stream (training); may be NULL otherwise */
    const Trace *trace;                     /* optional: family-specific inputs under upstream's names */
} DenoiseInput;

typedef struct Denoiser {
    void *self;
    /* pred [grid_h[0]*grid_w[0], channels] */
    int (*forward)(void *self, const DenoiseInput *in, float *pred, Err *e);
    /* Adds the gradients of the last training forward for dL/dpred into params[i].grad. */
    int (*backward)(void *self, const float *dpred, Err *e);
    /* Writes the trainable weights (LoRA in diffusers format, or the full transformer). */
    int (*save)(void *self, const char *path, Err *e);
    TrainParam *params;
    int n_params;
} Denoiser;

#endif
