/* longcat.h — LongCatImageTransformer2DModel (spec longcat-image-spec.md §1): configuration, the
 * declared weight table, forward and backward (inputs, every parameter, LoRA A/B), per-token
 * timesteps and gradient checkpointing. Built on the shared kernels in src/kernels.
 *
 * Token layout: every activation is [B·S, D] with S = L + N per sample, text rows first (the order
 * the joint attention sees), image rows after (noisy target tokens, then reference tokens). */
#ifndef ST_MODELS_LONGCAT_H
#define ST_MODELS_LONGCAT_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/error.h"
#include "models/adapter/linear_set.h"
#include "tensor/safetensors.h"
#include "tensor/trace.h"
#include "tensor/param.h"

#define LC_TIME_CH 256          /* Timesteps(num_channels=256) */
#define LC_EPS 1e-6f            /* LayerNorm and q/k RMSNorm eps */

typedef struct LcConfig {
    int in_ch, out_ch, layers, single_layers, heads, head_dim, dim, ff, joint_dim;
    int axes[3];
} LcConfig;

/* Parses transformer/config.json; sizes never fall back to the FLUX class defaults silently for
 * the block counts (they are required). Errors name the key. */
int lc_config_parse(const cJSON *cfg, LcConfig *c, Err *e);

typedef enum { LC_ROLE_LINEAR, LC_ROLE_BIAS, LC_ROLE_NORM } LcRole;

typedef struct LcParam {
    char *name;           /* diffusers key */
    int ndim; int64_t shape[2];
    LcRole role;
    Weight w;             /* storage (rows/cols = shape, 1-D: rows = 1) */
    float *grad;          /* f32 [numel], NULL unless full gradients are enabled */
    float *owned;         /* f32 copy when the parameter is trainable in full */
} LcParam;

/* A linear layer: parameter indices of its weight and bias in the table, and the shared
 * adapter-carrying layer (models/adapter/linear_layer.h) viewing them. */
typedef struct LcLinear { int w, b, in, out; Linear lin; } LcLinear;

typedef struct LcDouble {
    LcLinear norm1, norm1_ctx, q, k, v, out, add_q, add_k, add_v, add_out, ff0, ff2, ffc0, ffc2;
    int norm_q, norm_k, norm_added_q, norm_added_k;
} LcDouble;

typedef struct LcSingle { LcLinear norm, q, k, v, mlp, out; int norm_q, norm_k; } LcSingle;

typedef struct LcModel {
    LcConfig cfg;
    LcParam *p; int np, cap;
    LcLinear x_emb, ctx_emb, t1, t2, norm_out, proj_out;
    LcDouble *dbl; LcSingle *sgl;
    LinearSet linears;        /* every LcLinear, in table order (adapters, quantisation, adapter files) */
    LinearScratch scratch;    /* temporaries of the linear layers */
    int full_grads;           /* gradients for every parameter */
    int checkpointing;        /* keep block inputs only, recompute in backward */
    StSet set; int own_set;
    void *owned;              /* random-init storage */
    struct LcRun *run;        /* what the last forward kept for backward */
    uint64_t dropout_seed;    /* adapter dropout of a training forward; masks are redrawn from it in backward */
    int dropout_on;           /* the last forward kept activations (training) */
    TrainParam *tp; int n_tp;
} LcModel;

/* Declares the table from a config; binds from a checkpoint (file, index json or folder). */
int lc_build(LcModel *m, const cJSON *config, Err *e);
int lc_bind(LcModel *m, const StSet *s, Err *e);
/* dir: a transformer/ folder (config.json + diffusion_pytorch_model*.safetensors). */
int lc_load(LcModel *m, const char *dir, Err *e);
/* Seeded random weights stored as dt (F32 / BF16); each tensor depends only on (seed, name). */
int lc_init_random(LcModel *m, const cJSON *config, uint64_t seed, DType dt, Err *e);
/* The same values (rounded to dt) streamed to a safetensors file stored as file_dt, one tensor in
 * memory at a time; with file_dt F32 it is the file lc_init_random + lc_save_full writes. */
int lc_write_random(const cJSON *config, uint64_t seed, DType dt, DType file_dt, const char *path, Err *e);
void lc_free(LcModel *m);
int lc_find(const LcModel *m, const char *name);   /* parameter index or -1 */

/* Every parameter trainable in f32 with a gradient (model_type full). */
void lc_enable_full_grads(LcModel *m);
/* Trainable parameters: the adapters' when adapters exist, else every parameter after lc_enable_full_grads. */
const TrainParam *lc_train_params(LcModel *m, int *n);
void lc_zero_grads(LcModel *m);
/* Every parameter as f32 under its diffusers key (full fine-tuning output), written atomically. */
int lc_save_full(const LcModel *m, const char *path, Err *e);
void lc_run_free(LcModel *m);

/* Forward input. timestep: [B] (one σ per sample) or, when per_token, [B, N] (σ of every image
 * token; SimpleTuner's edit training gives reference tokens 0) — the text stream then uses the mean
 * of the image tokens' embeddings. ids: txt_ids [L, 3] and img_ids [N, 3] (shared by the batch). */
typedef struct LcInput {
    int B, L, N;
    const float *x;           /* [B, N, in_ch] */
    const float *ctx;         /* [B, L, joint_dim] */
    const float *timestep;    /* [B] or [B, N], σ in [0, 1] */
    int per_token;
    const float *txt_ids, *img_ids;
} LcInput;

/* out [B, N, out_ch]. keep = 1 keeps what lc_backward needs. trace (may be NULL) receives
 * "x_embedder" [B, N, D], "context_embedder" [B, L, D], "temb" [B, D], "rope_cos"/"rope_sin"
 * [S, head_dim] (expanded), "block<i>.img"/"block<i>.txt" after each double block,
 * "single<i>.img"/"single<i>.txt" after each single block and "norm_out" [B, N, D]. */
int lc_forward(LcModel *m, const LcInput *in, int keep, float *out, const Trace *trace, Err *e);

/* The family's transformer behind models/transformer.h. */
extern const struct TransformerOps LONGCAT_IMAGE_TRANSFORMER;
/* From dout [B, N, out_ch]: accumulates parameter / LoRA gradients, writes dx [B,N,in_ch] and
 * dctx [B,L,joint_dim] when non-NULL. */
int lc_backward(LcModel *m, const float *dout, float *dx, float *dctx, Err *e);

/* Position ids of spec §1.4: text (0, i, i); image tokens of image k (k=0 target: modality 1,
 * references: 2) at (mod, start + r, start + c) on their packed grid. */
void lc_txt_ids(int L, float *ids);
void lc_img_ids(int modality, int start, int gh, int gw, float *ids);

#endif
