/* qwen_image.h — QwenImageTransformer2DModel (Qwen-Image, -Edit, -Edit-2509, -Edit-2511) for training
 * and inference: forward, backward into every parameter or into LoRA adapters, gradient
 * checkpointing per block, frozen base weights kept in their storage dtype.
 *
 * One sample at a time (batches are loops: samples are independent; the trainer accumulates).
 * Token layout: image tokens [N_img, 64] = target tokens then reference tokens in img_shapes order;
 * text tokens [L, joint_attention_dim] with a validity mask (padded tokens influence nothing).
 * The model runs joint attention over [text; image] tokens (text first), as upstream. */
#ifndef ST_QWEN_IMAGE_H
#define ST_QWEN_IMAGE_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "base/error.h"
#include "base/rng.h"
#include "kernels/linear.h"
#include "tensor/quant.h"
#include "tensor/safetensors.h"
#include "train/param.h"

#define QI_MAX_IMAGES 8

typedef struct QiConfig {
    int in_channels, out_channels, patch_size;
    int num_layers, heads, head_dim, dim;   /* dim = heads * head_dim */
    int joint_attention_dim;
    int axes[3];                            /* axes_dims_rope */
    int zero_cond_t;
} QiConfig;

int qi_config_parse(const cJSON *j, QiConfig *c, const char *source, Err *e);

/* A linear layer: frozen base view, f32 bias, optional full-training copy, optional LoRA. */
typedef struct QiLinear {
    char *name;               /* module name, e.g. "transformer_blocks.3.attn.to_q" */
    Weight w;                 /* [out, in]; points into the checkpoint (or `wf` when trained) */
    float *b;                 /* [out] f32 or NULL */
    float *wf, *gw, *gb;      /* full fine-tune: f32 weight and grads */
    int r;                    /* LoRA rank (0 = none) */
    float scale, dropout;     /* alpha / r; lora_dropout */
    float *A, *B, *gA, *gB;   /* A [r, in], B [out, r] */
    QuantStorage qs;          /* packed weights when the frozen base is quantised */
} QiLinear;

typedef struct QiNorm { float *w, *gw; int n; char *name; } QiNorm;  /* RMSNorm weight */

typedef struct QiBlock {
    QiLinear img_mod, txt_mod, to_q, to_k, to_v, add_q, add_k, add_v, to_out, to_add_out;
    QiLinear img_fc1, img_fc2, txt_fc1, txt_fc2;
    QiNorm norm_q, norm_k, norm_added_q, norm_added_k;
} QiBlock;

typedef struct QiModel {
    QiConfig cfg;
    QiLinear t_lin1, t_lin2, img_in, txt_in, norm_out, proj_out;
    QiNorm txt_norm;
    QiBlock *blocks;
    int train_full;           /* every parameter trainable (model_type full) */
    int checkpointing;        /* gradient checkpointing per block */
    StSet weights;            /* open checkpoint (mmapped) when loaded from files */
    int own_weights;
    void *owned;              /* random-init storage */
    TrainParam *params;       /* trainable parameters (after qi_train_setup) */
    int n_params;
    struct QiState *st;       /* activations and scratch (forward → backward) */
} QiModel;

/* Loads transformer/config.json + weights (a dir with *.safetensors, sharded or not). */
int qi_load(QiModel *m, const char *dir, Err *e);
/* Builds from a parsed config and an open set of weights (not owned). */
int qi_load_from(QiModel *m, const cJSON *config, const StSet *weights, Err *e);
/* Seeded random weights stored as dt (DT_F32 or DT_BF16), any size. */
int qi_init_random(QiModel *m, const QiConfig *c, uint64_t seed, DType dt, Err *e);
void qi_free(QiModel *m);
/* The checkpoint qi_init_random + qi_save would write (same bytes), streamed tensor by tensor:
 * memory holds one tensor at a time, so full-size layouts can be written. */
int qi_write_random(const QiConfig *c, uint64_t seed, DType dt, const char *path, Err *e);

/* Calls fn for every tensor of the checkpoint layout (name, shape, f32 value pointer or the frozen
 * Weight). Used for saving full models and bundled tiny models. */
int qi_save(const QiModel *m, const char *path, DType dt, Err *e);

/* LoRA: targets are module-name suffixes (default to_k, to_q, to_v, to_out.0); PEFT init
 * (A kaiming-uniform a=√5, B = 0) from rng. */
typedef struct QiLoraSpec { int rank; float alpha, dropout; const char *const *targets; int n_targets; } QiLoraSpec;
int qi_lora_attach(QiModel *m, const QiLoraSpec *s, Rng *rng, Err *e);
/* Quantises every frozen base linear (base_model_precision); not with full training. Loaded with
 * qi_load, the checkpoint's pages of each weight are released as it is packed (quant.h). */
int qi_quantize_base(QiModel *m, QuantKind k, Err *e);
/* Makes every parameter trainable (f32 copies) — model_type full. */
int qi_train_full(QiModel *m, Err *e);
/* Collects the trainable parameters into m->params (LoRA A/B named "<module>.lora_A.weight"). */
void qi_collect_params(QiModel *m);
/* All LoRA-capable linears (for loading LoRA files into the model). */
int qi_linear_count(const QiModel *m);
QiLinear *qi_linear_at(QiModel *m, int i);

/* LoRA files: save the attached adapters (diffusers keys, scale folded), or load adapters made by
 * us, diffusers, ComfyUI or kohya into the model for inference (strength multiplies their scale). */
int qi_lora_save(QiModel *m, const char *path, DType dt, Err *e);
int qi_lora_load(QiModel *m, const char *path, float strength, Err *e);
/* init_lora: the attached (trainable) adapters start from a LoRA file's weights; ranks must match,
 * the file's alpha/r is carried into B so the initial delta equals the file's; adapters the file
 * lacks keep their PEFT init; a module it adapts that is not attached is an error. */
int qi_lora_init_from(QiModel *m, const char *path, Err *e);

/* One sample's inputs. */
typedef struct QiInput {
    int n_img;                        /* images: target + references */
    int img_h[QI_MAX_IMAGES], img_w[QI_MAX_IMAGES]; /* token grid of each image */
    const float *img;                 /* [N_img, in_channels] */
    int txt_len;
    const float *txt;                 /* [txt_len, joint_attention_dim] */
    const unsigned char *txt_mask;    /* [txt_len] 1 = valid; NULL = all valid */
    float timestep;                   /* σ in [0, 1] */
    int training;
    Rng *rng;                         /* LoRA dropout */
} QiInput;

/* Intermediates run-module reports (optional; NULL = not wanted). */
typedef struct QiTrace {
    float *img_in, *txt_in, *temb, *norm_out;   /* [N,D], [L,D], [n_sets,D], [N,D] */
    float *rope_img_cos, *rope_img_sin, *rope_txt_cos, *rope_txt_sin; /* [N,hd/2], [L,hd/2] */
    float **block_img, **block_txt;             /* per block [N,D], [L,D] */
} QiTrace;

/* out [N_img, out_channels*patch²] for ALL image tokens. */
int qi_forward(QiModel *m, const QiInput *in, float *out, QiTrace *trace, Err *e);
/* After a training forward: dout [N_img, C_out] → parameter grads (+=), and optionally dimg
 * [N_img, in_channels] and dtxt [L, joint_dim] (overwritten; may be NULL). */
int qi_backward(QiModel *m, const float *dout, float *dimg, float *dtxt, Err *e);

#endif
