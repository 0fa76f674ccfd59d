/* transformer.h — a family's diffusion transformer behind one interface: loading, its linear
 * layers (adapters, quantisation, adapter files), full fine-tuning, and the Denoiser the trainer
 * and the sampler drive (models/denoiser.h).
 *
 * A family implements TransformerOps over its own model struct (QiModel, LcModel): load or build
 * the weights and register every linear layer in t->linears; run one sample's forward over ALL its
 * image tokens (noisy target tokens, then clean reference tokens) and the backward from the
 * gradient of those outputs. Everything else — adapters, the target/reference split of the
 * denoiser, saving the trainable weights — is shared here. */
#ifndef ST_MODELS_TRANSFORMER_H
#define ST_MODELS_TRANSFORMER_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/error.h"
#include "models/adapter/linear_set.h"
#include "models/denoiser.h"

typedef struct Transformer Transformer;

typedef struct TransformerOps {
    /* transformer/ folder (config.json + *.safetensors, mmapped): t->model, t->linears, dims */
    int (*load)(Transformer *t, const char *dir, Err *e);
    /* seeded random weights of a config.json stored as dt (F32 / BF16) */
    int (*init_random)(Transformer *t, const cJSON *config, uint64_t seed, DType dt, Err *e);
    /* the checkpoint init_random(dt) + save_full would write, streamed tensor by tensor (one in memory
     * at a time); file_dt: its storage dtype, DT_COUNT = the one save_full writes */
    int (*write_random)(const cJSON *config, uint64_t seed, DType dt, DType file_dt, const char *path, Err *e);
    /* every weight under its diffusers key, written atomically */
    int (*save_full)(const Transformer *t, const char *path, DType dt, Err *e);
    /* every weight trainable (f32 copies with gradients); the linears' gw/gb are set */
    int (*enable_full_training)(Transformer *t, Err *e);
    /* the trainable parameters of full training */
    const TrainParam *(*full_params)(Transformer *t, int *n);
    /* one sample: in->tokens [N, in_channels] (target first) -> out [N, out_channels] for all N */
    int (*forward)(Transformer *t, const DenoiseInput *in, float *out, Err *e);
    /* after a training forward: dout [N, out_channels] -> parameter gradients (+=) */
    int (*backward)(Transformer *t, const float *dout, Err *e);
    void (*free_model)(Transformer *t);
} TransformerOps;

struct Transformer {
    const TransformerOps *ops;
    void *model;                  /* the family's model struct */
    LinearSet *linears;           /* the model's linear layers, in its declared order (owned by the model) */
    int in_channels, out_channels, txt_dim;
    int checkpointing;            /* gradient checkpointing per block in training forwards */
    int refs_t0_in_training;      /* training forwards condition reference tokens at t = 0 */
    int full;                     /* model_type=full: every weight trainable */
    Denoiser den;                 /* valid after transformer_bind_denoiser */
    float *out, *dout;            /* all-token buffers of the denoiser */
    size_t cap, n_tok, n_target;
};

int transformer_load(Transformer *t, const TransformerOps *ops, const char *dir, Err *e);
int transformer_init_random(Transformer *t, const TransformerOps *ops, const cJSON *config, uint64_t seed, DType dt, Err *e);
void transformer_free(Transformer *t);

/* model_type=full (refused after quantisation). */
int transformer_enable_full_training(Transformer *t, Err *e);
/* Binds t->den with the current trainable parameters: the adapters', or every weight when full.
 * Call again after changing adapters. */
void transformer_bind_denoiser(Transformer *t);
/* The trainable weights: adapters (adapter file, F32) or, when full, the whole transformer (BF16). */
int transformer_save_trainable(Transformer *t, const char *path, Err *e);

#endif
