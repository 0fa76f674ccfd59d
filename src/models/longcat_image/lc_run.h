/* run.h — what a LongCat forward keeps for backward (internal to the model folder).
 * R = B·S rows (text first per sample), T = B + U modulation sets: one per sample for the text
 * stream, then one per distinct image-token timestep. */
#ifndef ST_MODELS_LONGCAT_RUN_H
#define ST_MODELS_LONGCAT_RUN_H
#include "models/longcat_image/longcat.h"

/* Rows off + b·stride + [0, n) for b < count. */
typedef struct Span { int off, n, stride, count; } Span;

typedef struct LcActs {
    float *mod, *modc;              /* [T, 6D] (single: mod [T, 3D]) */
    float *ln1, *m1, *mean1, *rstd1;
    float *qkv_raw, *qkv;           /* [R, 3D]: q | k | v before and after q/k norm + RoPE */
    float *rq, *rk;                 /* [H, R] q/k RMSNorm rstd */
    float *o;                       /* double: [R, D]; single: [R, D+F] = attention | GELU(mlp) */
    float *lse;                     /* [B, H, S] */
    float *ya, *x1, *ln2, *m2, *mean2, *rstd2;   /* double only */
    float *ffh, *ffg;               /* double: [R, F] pre/post GELU; single: ffh = mlp pre-GELU */
    float *ffy;                     /* [R, D]: double FF output, single proj_out output */
    float **lin_acts;               /* [linear id] -> [R, acts per row] of adapted linears (else NULL) */
} LcActs;

typedef struct LcRun {
    int B, L, N, S, R, U, T;
    int cap_R, cap_T, ckpt;         /* sizes the buffers were made for */
    uint64_t acts_layout;           /* adapter state per linear the buffers were made for */
    float *tsin, *t1, *t1s, *temb_all, *stemb;  /* [U,256] [U,D] [U,D] [T,D] [T,D] */
    float *wmean;                   /* [B, U] text temb = Σ_u wmean·temb_u */
    int *sel;                       /* [R] row -> modulation set */
    float *rcos, *rsin;             /* [S, hd/2] */
    float *hs;                      /* [(nblocks+1), R, D] block inputs, then the last output */
    LcActs *acts; int n_acts;       /* one per block, or one shared when checkpointing */
    float *mod_o, *lnf, *nf, *meanf, *rstdf;      /* norm_out: [T,2D], [R,D] x2, [R] x2 */
    float *lin_acts_buf;            /* storage of every lin_acts */
    float *x_in, *ctx_in;           /* inputs in row layout: x_in [R, in_ch] image rows, ctx_in [R, joint] text rows */
    float *io;                      /* [R, max(in_ch, out_ch, joint)]: proj_out output / input-gradient rows */
    int keep;
} LcRun;

/* The shared linear layer over a span (models/adapter/linear_layer.h): y = x·Wᵀ + b + adapter,
 * rows of x/y at the same indices; acts: the layer's [R, acts per row] (NULL without adapter). */
void lc_lin_fwd(LcModel *m, const LcLinear *l, const float *x, int ldx, float *y, int ldy, Span sp, float *acts);
/* dx (beta 0: overwrite, 1: add) from dy; parameter / adapter gradients when enabled. dx may be NULL. */
void lc_lin_bwd(LcModel *m, const LcLinear *l, const float *dy, int lddy, const float *x, int ldx, float *dx, int lddx,
                float beta, Span sp, const float *acts);
const float *lc_pf(const LcModel *m, int idx);      /* f32 data of a bias / norm weight */

void lc_double_fwd(LcModel *m, int blk, const float *h, float *out, LcActs *a);
/* dh = d loss / d h from dout; d modulation-set embeddings added into dstemb [T, D]. */
void lc_double_bwd(LcModel *m, int blk, const float *h, const float *dout, float *dh, LcActs *a, float *dstemb);
void lc_single_fwd(LcModel *m, int blk, const float *h, float *out, LcActs *a);
void lc_single_bwd(LcModel *m, int blk, const float *h, const float *dout, float *dh, LcActs *a, float *dstemb);

#endif
