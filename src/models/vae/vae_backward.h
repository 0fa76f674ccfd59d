/* vae_backward.h — the training path of the VAE engine (vae_net.h): a forward over a net that
 * keeps what the backward needs (a tape), and the backward of every op into f32 gradients of the
 * weight table.
 *
 * Gradients (VaeGrads) are f32 buffers in each param's full declared shape. A Wan causal 3-D conv
 * meets a single frame only through its last temporal slice (t_index), so only that slice gets
 * gradient; the temporal convs of the 3-D resamplers never run and get none.
 *
 * What the tape keeps per op (x is the op's input; y its output, the next op's input):
 *   CONV, DOWN  x                                                      y = c1(x)
 *   NORM_SILU   x, n = norm(x)                                         y = SiLU(n)
 *   RES         x, n1 = norm1(x), t1 = SiLU(n1), h = c1(t1), n2 = norm2(h), t2 = SiLU(n2)
 *                                                                      y = c2(t2) + sc(x)
 *   ATTN        x, n = norm(x), qkv rows [N, 3C], o [N, C], lse [N], a = oᵀ [C, N]
 *                                                                      y = x + proj(a)
 *   UP          x, u = up2x(x)                                         y = c1(u)
 * Buffers (activations, im2col, gradient temporaries) persist in the tape across calls, so steady-
 * state training of one image size allocates nothing. Weights of any stored dtype are read
 * (f32 ones in place, others converted one layer at a time). */
#ifndef ST_MODELS_VAE_BACKWARD_H
#define ST_MODELS_VAE_BACKWARD_H
#include "models/vae/vae_net.h"

typedef struct VaeGrads {
    float **g;      /* [np] f32, each vae_param_numel of its param */
    int np;
} VaeGrads;

void vae_grads_init(VaeGrads *g, const VaeModel *m);   /* zeroed */
void vae_grads_zero(VaeGrads *g, const VaeModel *m);
void vae_grads_free(VaeGrads *g);

enum { VAE_TAPE_BUFS = 6, VAE_TAPE_SCRATCH = 16 };

typedef struct VaeTapeOp {
    int C, H, W;                         /* input dims */
    float *buf[VAE_TAPE_BUFS];           /* buf[0] = x, then the op's saved intermediates */
    size_t cap[VAE_TAPE_BUFS];
} VaeTapeOp;

typedef struct VaeTape {
    VaeTapeOp *ops;
    int n, cap;
    int C, H, W;                         /* output dims */
    float *y;                            /* output [C, H, W] (a buffer of the tape) */
    float *scratch[VAE_TAPE_SCRATCH];
    size_t scap[VAE_TAPE_SCRATCH];
} VaeTape;

/* Runs net on x [C, H, W] keeping the tape; the output is t->y [t->C, t->H, t->W]. The tape starts
 * zeroed ({0}) and is reused across calls. */
int vae_net_forward_tape(const VaeModel *m, const VaeNet *net, const float *x, int C, int H, int W,
                         VaeTape *t, Err *e);
/* From dy [t->C, t->H, t->W] (the gradient of the output of the last forward_tape): dx of the input
 * [C, H, W] (overwritten; NULL when not wanted) and every weight's gradient accumulated into g. */
void vae_net_backward(const VaeModel *m, const VaeNet *net, VaeTape *t, const float *dy, float *dx, VaeGrads *g);
void vae_tape_free(VaeTape *t);

/* One stand-alone k x k same-padding convolution (quant_conv / post_quant_conv) with the tape's
 * scratch: forward y [cout, H, W] from x [cin, H, W]; backward dx (overwritten, may be NULL) and
 * the conv's gradients accumulated. */
void vae_conv_forward_tape(const VaeModel *m, const VaeConv *c, const float *x, int H, int W, VaeTape *t, float *y);
void vae_conv_backward(const VaeModel *m, const VaeConv *c, const float *x, int H, int W, const float *dy,
                       VaeTape *t, float *dx, VaeGrads *g);

#endif
