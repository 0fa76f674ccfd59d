/* qi_internal.h — activations kept from forward for backward, shared by qi_block.c and qi_model.c. */
#ifndef ST_QI_INTERNAL_H
#define ST_QI_INTERNAL_H
#include "models/qwen_image/qwen_image.h"

enum { QI_LIN_PER_BLOCK = 14 };

typedef struct QiBlockActs {
    int N, L;                 /* sizes the buffers were laid out for */
    float *arena; size_t cap;
    /* image stream [N, D] (mean/rstd [N]; q/k rstd [N·H]) */
    float *x_in, *ln1_m, *ln1_r, *xn1, *xm1, *q_pre, *k_pre, *q_r, *k_r, *ai, *x1, *ln2_m, *ln2_r, *xn2, *xm2, *h, *hg, *y;
    /* text stream [L, D] */
    float *c_in, *cln1_m, *cln1_r, *cn1, *cm1, *qc_pre, *kc_pre, *qc_r, *kc_r, *at, *c1, *cln2_m, *cln2_r, *cn2, *cm2, *ch, *chg, *cy;
    /* joint [L+N, D] (text first), lse [H, L+N] */
    float *Q, *K, *V, *O, *lse;
    float *mi, *mt;           /* modulation [n_sets, 6D], [1, 6D] */
    float *la[QI_LIN_PER_BLOCK];  /* what each linear's adapter keeps for backward (linear_acts_floats) */
} QiBlockActs;

typedef struct QiState {
    int N, L, n_sets, training;
    /* top level */
    float *img_in_x, *txt_n, *txt_rstd, *x, *c, *temb_e, *temb_h1, *temb, *st, *no_ln_m, *no_ln_r, *no_xn, *no_y, *no_m;
    float *rope_cos, *rope_sin;     /* joint [L+N, hd/2] */
    unsigned char *kmask;           /* [L+N] */
    int *sel;                       /* [N] modulation set per image token */
    float *img, *txt, *temb_s1, *dxb, *dcb, *saved;  /* inputs, silu(h1), stream grads, block inputs */
    float *top_la[6];
    QiBlockActs *acts;              /* per block (checkpointing: one shared) */
    int n_acts;
    uint64_t drop_seed;             /* adapter dropout of this training forward (a recompute redraws the same masks) */
    /* backward scratch */
    float *s1, *s2, *s3, *s4;       /* sized in state_prepare (qi_model.c) */
    size_t s_cap[4];
    float *gmod; size_t gmod_cap;   /* a block's modulation grads [n_sets + 1, 6D] */
    float *dst;                     /* d silu(temb) [n_sets, D] */
    float *top_arena; size_t top_cap;
    unsigned char *kmask_buf; int *sel_buf; size_t tok_cap;
} QiState;

/* The shared linear layer on n contiguous rows with this forward's dropout (models/adapter). */
void qi_lin_forward(QiModel *m, const QiLinear *l, float *acts, const float *x, int n, float *y, int training);
/* dx (beta 0: overwrite, 1: add; NULL: not wanted) and parameter grads. */
void qi_lin_backward(QiModel *m, const QiLinear *l, const float *acts, const float *dy, const float *x, int n, float *dx, float beta);

size_t qi_block_acts_layout(const QiModel *m, int b, QiBlockActs *a, float *base, int N, int L, int n_sets);
void qi_block_forward(QiModel *m, int b, QiBlockActs *a, float *x, float *c, const float *st, int n_sets, const int *sel,
                      const float *rope_cos, const float *rope_sin, const unsigned char *kmask, int N, int L, int training);
/* dx [N, D], dc [L, D] in: grads of the block outputs; out: grads of its inputs. dst [n_sets, D] += . */
void qi_block_backward(QiModel *m, int b, QiBlockActs *a, float *dx, float *dc, const float *st, int n_sets, const int *sel,
                       const float *rope_cos, const float *rope_sin, const unsigned char *kmask, QiState *s);

#endif
