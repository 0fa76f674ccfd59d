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
#include "kernels/linear.h"
#include "tensor/safetensors.h"
#include "train/param.h"

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

/* A LoRA adapter on one linear: y += scale·B(A x). */
typedef struct LcLora {
    int rank, in, out; float alpha, scale;
    float *A, *B, *dA, *dB;   /* A [r, in], B [out, r] */
    char *module;             /* diffusers module path, e.g. transformer_blocks.0.attn.to_q */
    char *key_A, *key_B;      /* trainable-parameter names <module>.lora_A.weight / lora_B.weight */
} LcLora;

typedef struct LcLinear { int w, b, in, out, lora; } LcLinear;   /* param indices; lora -1 = none */

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
    LcLora *lora; int n_lora;
    int full_grads;           /* gradients for every parameter */
    int checkpointing;        /* keep block inputs only, recompute in backward */
    StSet set; int own_set;
    void *owned;              /* random-init storage */
    struct LcRun *run;        /* what the last forward kept for backward */
    float lora_dropout;       /* lora_dropout on the adapters' input in training forwards */
    uint64_t dropout_seed;    /* drawn per training forward; masks are redrawn from it in backward */
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
/* LoRA on every linear whose module path is, or ends with ".<target>", one of targets (PEFT
 * suffix matching; NULL: SimpleTuner's default to_k, to_q, to_v, to_out.0, to_qkv — in this model
 * the double blocks' q/k/v/out and the single blocks' q/k/v). PEFT's default init: A kaiming-uniform
 * (±1/√in) from seed, B = 0; scale = alpha/rank. Error when nothing matches. */
int lc_lora_add(LcModel *m, const char *const *targets, int n_targets, int rank, float alpha, uint64_t seed, Err *e);
/* Diffusers format through src/train/lora.h: transformer.<module>.lora_A.weight / lora_B.weight
 * with alpha folded into B (dt: DT_F32 or DT_BF16). */
int lc_lora_save(const LcModel *m, const char *path, DType dt, Err *e);
/* Loads a LoRA file (every key style src/train/lora.h reads), creating the adapters it names;
 * replaces existing ones. strength multiplies every adapter's delta (1 = as saved, 0 = none). */
int lc_lora_load(LcModel *m, const char *path, float strength, Err *e);
/* init_lora: the trainable adapters made by lc_lora_add start from a LoRA file (as qi_lora_init_from). */
int lc_lora_init_from(LcModel *m, const char *path, Err *e);
/* Trainable parameters: LoRA A/B when adapters exist, else every parameter after lc_enable_full_grads. */
const TrainParam *lc_train_params(LcModel *m, int *n);
void lc_zero_grads(LcModel *m);
/* Every parameter as f32 under its diffusers key (full fine-tuning output), written atomically. */
int lc_save_full(const LcModel *m, const char *path, Err *e);
void lc_lora_free(LcModel *m);
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

/* Optional intermediates for the golden check (any pointer may be NULL). */
typedef struct LcTrace {
    float *x_emb, *ctx_emb, *temb, *norm_out, *rope_cos, *rope_sin;   /* rope: [S, head_dim] expanded */
    float **dbl_img, **dbl_txt, **sgl_img, **sgl_txt;                 /* per block */
} LcTrace;

/* out [B, N, out_ch]. keep = 1 keeps what lc_backward needs. */
int lc_forward(LcModel *m, const LcInput *in, int keep, float *out, const LcTrace *tr, Err *e);
/* From dout [B, N, out_ch]: accumulates parameter / LoRA gradients, writes dx [B,N,in_ch] and
 * dctx [B,L,joint_dim] when non-NULL. */
int lc_backward(LcModel *m, const float *dout, float *dx, float *dctx, Err *e);

/* Position ids of spec §1.4: text (0, i, i); image tokens of image k (k=0 target: modality 1,
 * references: 2) at (mod, start + r, start + c) on their packed grid. */
void lc_txt_ids(int L, float *ids);
void lc_img_ids(int modality, int start, int gh, int gw, float *ids);

#endif
