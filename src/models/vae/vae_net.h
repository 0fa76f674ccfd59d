/* vae_net.h — the engine shared by both image VAEs (Qwen-Image's Wan-2.1 VAE at T = 1 and the
 * FLUX-layout AutoencoderKL): a declared weight table and a straight list of layer ops
 * (conv, norm+SiLU, residual block, single-head spatial attention, down/upsample) run on one
 * channel-major [C, H, W] image at a time.
 *
 * The family builders (qwen_vae.c, flux_vae.c) read their config and declare every weight once
 * (name, shape, role) while appending the ops that use it; the same table then drives loading
 * (shape-checked, bound in place: bf16 checkpoint weights stay bf16 in the mmap), seeded random
 * initialisation and the conversion of one layer's weights to f32 right before that layer runs. */
#ifndef ST_MODELS_VAE_NET_H
#define ST_MODELS_VAE_NET_H
#include <stdint.h>
#include "base/error.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"

typedef enum { VAE_ROLE_CONV_WEIGHT, VAE_ROLE_BIAS, VAE_ROLE_NORM_GAMMA, VAE_ROLE_NORM_BETA } VaeRole;

typedef struct VaeParam {
    char *name;
    int ndim;
    int64_t shape[5];
    VaeRole role;
    int fan_in;              /* inputs per output of the slice that is used (random init scale) */
    DType dtype;             /* bound storage: checkpoint mmap or the random-init block */
    const void *data;
} VaeParam;

typedef enum { VAE_NORM_GROUP, VAE_NORM_CHANNEL_L2 } VaeNormKind;

/* How a convolution weight is stored: [cout,cin] (Linear), [cout,cin,k,k] (Conv2d) or
 * [cout,cin,kt,k,k] (the Wan CausalConv3d; at T = 1 only temporal slice kt-1 meets real data). */
typedef enum { VAE_W_LINEAR, VAE_W_CONV2D, VAE_W_CAUSAL3D } VaeWeightLayout;

typedef struct VaeConv { int w, b, cin, cout, k, t_index; } VaeConv;   /* w, b: param indices */
typedef struct VaeNorm { int gamma, beta, C; } VaeNorm;                 /* beta -1 when absent */

typedef enum {
    VAE_OP_CONV,        /* c1, k x k, padding k/2 */
    VAE_OP_NORM_SILU,   /* n1 then SiLU */
    VAE_OP_RES,         /* shortcut(x) + c2(SiLU(n2(c1(SiLU(n1(x)))))); sc.w < 0: identity */
    VAE_OP_ATTN,        /* x + o(attention(q, k, v of n1(x))); fused: q is one [3C, C] qkv conv */
    VAE_OP_DOWN,        /* zero pad right/bottom by 1, c1 3x3 stride 2 */
    VAE_OP_UP,          /* nearest x2, then c1 3x3 padding 1 */
} VaeOpKind;

typedef struct VaeOp {
    VaeOpKind kind;
    VaeNorm n1, n2;
    VaeConv c1, c2, sc;
    VaeConv q, k, v, o;
    int fused_qkv;
} VaeOp;

typedef struct VaeNet { VaeOp *ops; int n, cap; } VaeNet;

typedef struct VaeModel {
    VaeParam *p; int np, cap;
    VaeNormKind norm; int groups; float eps;   /* groups, eps: VAE_NORM_GROUP only */
    VaeWeightLayout conv_layout;               /* layout of this family's 3x3 / 1x1 block convs */
    VaeNet enc, dec;
    VaeConv quant, post_quant;                 /* w < 0 when the model has none */
    int in_ch, out_ch, z_ch, factor;           /* image channels, latent channels, spatial factor */
    StSet set;                                 /* owned checkpoint (vae_model_load_dir) */
    void *owned;                               /* random-init storage */
} VaeModel;

void vae_model_init(VaeModel *m, VaeNormKind norm, VaeWeightLayout layout);
void vae_model_free(VaeModel *m);

/* Declarations (the weight table). Return the param index / the described layer. */
int vae_param_add(VaeModel *m, const char *name, VaeRole role, int fan_in, int ndim, const int64_t *shape);
VaeConv vae_conv_declare(VaeModel *m, const char *prefix, VaeWeightLayout layout, int cin, int cout, int k);
/* gamma_ndim: 1 for GroupNorm weight/bias, 3 or 4 for the channel-L2 norm's [C,1,1(,1)] gamma. */
VaeNorm vae_norm_declare(VaeModel *m, const char *prefix, int C, int gamma_ndim);
void vae_net_push(VaeNet *net, const VaeOp *op);
/* A residual block with this family's norm and conv layout and the upstream key names
 * prefix.{norm1,conv1,norm2,conv2[,conv_shortcut]}. */
void vae_net_push_res(VaeModel *m, VaeNet *net, const char *prefix, int cin, int cout);

/* Binds every declared param to the tensor of the same name in s (shape checked, float dtypes).
 * Tensors of the checkpoint that nothing declares are ignored (e.g. unused temporal convs). */
int vae_model_bind(VaeModel *m, const StSet *s, Err *e);
/* Seeded random weights (uniform +-1/sqrt(fan_in) for convs, 1 + 0.1 N for gammas, 0.05 N for
 * biases/betas), stored as dt (DT_F32 or DT_BF16). Each tensor's values depend only on (seed, name). */
void vae_model_init_random(VaeModel *m, uint64_t seed, DType dt);
/* Total parameter count of the declared table, and of one param. */
size_t vae_model_numel(const VaeModel *m);
size_t vae_param_numel(const VaeParam *p);

/* Runs a net on one image x [C, H, W]; *y is a new malloc'd [*oc, *oh, *ow] buffer. */
int vae_net_forward(const VaeModel *m, const VaeNet *net, const float *x, int C, int H, int W,
                    float **y, int *oc, int *oh, int *ow, Err *e);
/* One convolution (k x k, padding k/2, stride 1) of x [cin, H, W] into y [cout, H, W]. */
void vae_conv_apply(const VaeModel *m, const VaeConv *c, const float *x, int H, int W, float *y);

#endif
