/* model.h — Qwen2.5-VL (Qwen2_5_VLForConditionalGeneration) as the text encoder of the edit
 * pipelines: configuration, the declared weight table, loading and the layer helpers shared by
 * the vision tower (vision.h) and the language model (language.h). Forward only.
 *
 * Config: text_encoder/config.json in either layout — language-model keys at the top level with a
 * "vision_config" object (published Qwen2.5-VL, transformers <= 4.52), or the newer nested
 * "text_config" object. Every size is read from the config; nothing assumes the 7B shapes.
 *
 * Weights are declared once in a table (canonical name = the published layout `visual.*`,
 * `model.*`, `lm_head.weight`). Binding accepts that layout and the newer one
 * (`model.visual.*`, `model.language_model.*`), tensor by tensor. lm_head is optional (absent in
 * the tied tiny checkpoints; only logits need it). Weights stay in their stored dtype in the mmap
 * (bf16 for real checkpoints) and are converted to f32 tile by tile inside each matmul, so a
 * 7B checkpoint is never copied whole into f32. */
#ifndef ST_MODELS_QWEN25VL_MODEL_H
#define ST_MODELS_QWEN25VL_MODEL_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/error.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"
#include "tensor/quant.h"

#define QV_MAX_FULLATT 64

typedef struct QvVisionConfig {
    int depth, hidden, heads, head_dim, intermediate, out_hidden;
    int patch, temporal_patch, in_ch, merge, window_size;
    int n_fullatt, fullatt[QV_MAX_FULLATT];   /* blocks with whole-frame attention */
    float eps;                                 /* RMSNorm eps (1e-6 upstream, fixed) */
} QvVisionConfig;

typedef struct QvTextConfig {
    int hidden, layers, heads, kv_heads, head_dim, intermediate, vocab;
    int tie_word_embeddings;
    float eps;
    double rope_theta;
    int mrope_section[3];                      /* frequency pairs per (t, h, w) component */
} QvTextConfig;

typedef struct QvConfig {
    QvTextConfig text;
    QvVisionConfig vision;
    int image_token_id, video_token_id, vision_start_token_id, vision_end_token_id;
} QvConfig;

/* Parses config.json (both layouts); errors name the key and what was expected. */
int qv_config_parse(const cJSON *cfg, QvConfig *c, Err *e);

typedef enum { QV_ROLE_LINEAR, QV_ROLE_BIAS, QV_ROLE_NORM, QV_ROLE_EMBED } QvRole;

typedef struct QvParam {
    char *name;                /* canonical (published) name */
    int ndim;
    int64_t shape[5];
    QvRole role;
    int optional;              /* may be absent (lm_head) */
    DType dtype;               /* bound storage */
    const void *data;          /* NULL when an optional tensor is absent */
} QvParam;

/* y = x W^T (+ b): param indices; b < 0 when the layer has no bias. */
typedef struct QvLinear { int w, b, in, out; } QvLinear;

typedef struct QvVisionBlock { int norm1, norm2; QvLinear qkv, proj, gate, up, down; } QvVisionBlock;
typedef struct QvTextLayer { int in_norm, post_norm; QvLinear q, k, v, o, gate, up, down; } QvTextLayer;

typedef struct QwenVL {
    QvConfig cfg;
    QvParam *p; int np, cap;
    /* vision tower */
    QvLinear patch_embed;      /* Conv3d weight [hidden, in_ch, tp, p, p] used as [hidden, in_ch*tp*p*p] */
    QvVisionBlock *vblocks;
    int merger_norm; QvLinear merger_fc1, merger_fc2;
    /* language model */
    int embed;
    QvTextLayer *layers;
    int final_norm;
    QvLinear lm_head;          /* w = embed when tied; w < 0 when there is no head */
    StSet set; int own_set;    /* checkpoint (owned when loaded from a folder) */
    void *owned;               /* random-init storage */
    Weight *qw;                /* per param: the quantised linear weight (quant != QUANT_NONE), or NULL */
    QuantStorage *qs;
} QwenVL;

/* Declares the weight table from a config (no weights bound yet). */
int qwenvl_build(QwenVL *m, const cJSON *config, Err *e);
/* Binds every declared tensor from s (not owned), accepting both key layouts; shape-checked. */
int qwenvl_bind(QwenVL *m, const StSet *s, Err *e);
/* dir: a text_encoder/ folder (config.json + model*.safetensors, possibly sharded). */
int qwenvl_load(QwenVL *m, const char *dir, Err *e);
/* Build + bind to an already open set (not owned). */
int qwenvl_load_from(QwenVL *m, const cJSON *config, const StSet *s, Err *e);
/* Build + seeded random weights stored as dt (DT_F32 or DT_BF16); each tensor depends only on
 * (seed, name). For benchmarks and tests. */
int qwenvl_init_random(QwenVL *m, const cJSON *config, uint64_t seed, DType dt, Err *e);
/* The file qwenvl_init_random + qwenvl_save would write (same bytes), streamed one tensor at a time. */
int qwenvl_write_random(const cJSON *config, uint64_t seed, DType dt, const char *path, Err *e);
void qwenvl_free(QwenVL *m);
size_t qwenvl_numel(const QwenVL *m);
/* Writes every bound tensor in its stored dtype under the published names (visual.*, model.*,
 * lm_head.weight unless tied) to one safetensors file, atomically. */
int qwenvl_save(const QwenVL *m, const char *path, Err *e);
/* text_encoder_1_precision: quantises every linear weight of the vision tower and the language
 * model (not the embedding, lm_head or the patch-embedding convolution) as tensor/quant.h does for
 * the transformer; QUANT_NONE leaves the stored dtype. Loaded from a folder, the checkpoint's pages of
 * each packed weight are released (weight_quantize_mapped). */
int qwenvl_quantize(QwenVL *m, QuantKind k, Err *e);

/* ---- layer helpers on row-major f32 buffers ---- */

/* y[n, out] = x[n, in] W^T + b (row strides ldx / ldy in floats). W is converted to f32 in tiles
 * of rows, so no whole-weight f32 copy is made. */
void qv_linear(const QwenVL *m, QvLinear l, const float *x, int n, int ldx, float *y, int ldy);
/* y[n, C] = w * (x / sqrt(mean(x^2) + eps)) row by row (y may alias x). */
void qv_rmsnorm(const QwenVL *m, int w, const float *x, int n, int C, float eps, float *y);
/* Rows of the embedding table for ids[n] into y[n, hidden]; error for ids outside the vocab. */
int qv_embed(const QwenVL *m, const int64_t *ids, int n, float *y, Err *e);

/* Attention with heads stored side by side in rows: q [L, ldq] head h at column h*D, k and v
 * [L, ldk] kv head g at h / (Hq / Hkv). Out o [L, ldo] head h at column h*D.
 * Keys of query i are restricted to its segment [seg_start, seg_end) (segments given by
 * cu[0..nseg]: cu[s] .. cu[s+1]), and when causal to j <= i, and when key_mask is not NULL to
 * key_mask[j] != 0. A query with no allowed key averages v over every key of its segment (what
 * the upstream additive-min mask gives). Scale 1/sqrt(D). */
typedef struct QvAttn {
    int L, Hq, Hkv, D;
    const float *q, *k, *v; int ldq, ldk;
    float *o; int ldo;
    const int *cu; int nseg;   /* NULL: one segment [0, L) */
    int causal;
    const int *key_mask;       /* NULL: every key valid */
} QvAttn;
void qv_attention(const QvAttn *a);

/* g <- silu(g) * u;  x <- x + y (n floats). */
void qv_silu_mul(float *g, const float *u, size_t n);
void qv_add_into(float *x, const float *y, size_t n);

/* x <- x*cos + rotate_half(x)*sin on each of H heads of width D (NEOX pairing d, d + D/2);
 * cos/sin [L, D] per row. x row stride ldx. */
void qv_rope_apply(float *x, int L, int H, int D, int ldx, const float *cos_t, const float *sin_t);

#endif
