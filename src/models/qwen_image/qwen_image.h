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
#include "models/adapter/linear_set.h"
#include "tensor/safetensors.h"
#include "tensor/trace.h"
#include "tensor/param.h"

#define QI_MAX_IMAGES 8

typedef struct QiConfig {
    int in_channels, out_channels, patch_size;
    int num_layers, heads, head_dim, dim;   /* dim = heads * head_dim */
    int joint_attention_dim;
    int axes[3];                            /* axes_dims_rope */
    int zero_cond_t;
} QiConfig;

int qi_config_parse(const cJSON *j, QiConfig *c, const char *source, Err *e);

/* A linear layer: the shared adapter-carrying layer (models/adapter/linear_layer.h) over this
 * model's storage: the frozen base view into the checkpoint (or the f32 copy when trained in
 * full) and the f32 bias. */
typedef struct QiLinear {
    Linear lin;               /* name, dims, &w, b, full-training grads, adapter */
    Weight w;                 /* [out, in] */
    float *b;                 /* [out] f32 */
    float *wf;                /* full fine-tune: the f32 weight w points to */
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
    LinearSet linears;        /* every QiLinear, in the weight table's order */
    LinearScratch scratch;    /* temporaries of the linear layers (grown, then reused) */
    int train_full;           /* every parameter trainable (model_type full) */
    int checkpointing;        /* gradient checkpointing per block */
    StSet weights;            /* open checkpoint (mmapped) when loaded from files */
    int own_weights;
    void *owned;              /* random-init storage */
    TrainParam *params;       /* full-training parameters (after qi_train_full) */
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

/* Makes every parameter trainable (f32 copies) — model_type full. */
int qi_train_full(QiModel *m, Err *e);
/* The trainable parameters of full training (after qi_train_full). */
const TrainParam *qi_full_params(QiModel *m, int *n);

/* The family's transformer behind models/transformer.h. */
extern const struct TransformerOps QWEN_IMAGE_TRANSFORMER;

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
    uint64_t dropout_seed;            /* adapter dropout masks of a training forward */
} QiInput;

/* out [N_img, out_channels*patch²] for ALL image tokens. trace (may be NULL) receives "img_in" [N, D],
 * "txt_in" [L, D], "temb" [sets, D], "rope_{txt,img}_{cos,sin}" [L or N, head_dim/2],
 * "block<i>.img" / "block<i>.txt" after each block and "norm_out" [N, D]. */
int qi_forward(QiModel *m, const QiInput *in, float *out, const Trace *trace, Err *e);
/* After a training forward: dout [N_img, C_out] → parameter grads (+=), and optionally dimg
 * [N_img, in_channels] and dtxt [L, joint_dim] (overwritten; may be NULL). */
int qi_backward(QiModel *m, const float *dout, float *dimg, float *dtxt, Err *e);

#endif
