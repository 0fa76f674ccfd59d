/* qi_block.c — one QwenImageTransformerBlock, forward and backward (spec §2.4):
 *   mi = img_mod(silu temb)  = [shift1|scale1|gate1|shift2|scale2|gate2] per modulation set
 *   xm1 = LN(x)(1+scale1)+shift1 ;  cm1 likewise with mt
 *   Q = [RMS(add_q(cm1)); RMS(to_q(xm1))], K likewise, V = [add_v(cm1); to_v(xm1)];  RoPE(Q, K)
 *   O = softmax(QKᵀ/√d + mask)V ;  x1 = x + gate1·to_out(O_img) ;  c1 = c + gate1c·to_add_out(O_txt)
 *   x' = x1 + gate2·fc2(gelu(fc1(LN(x1)(1+scale2)+shift2)))  and the same for c. */
#include "models/qwen_image/qi_internal.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/modulate.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include <cblas.h>
#include <string.h>

#define EPS 1e-6f

/* ---- the shared linear layer with this model's scratch and dropout ---- */

void qi_lin_forward(QiModel *m, const QiLinear *l, float *acts, const float *x, int n, float *y, int training) {
    LinearDrop d = {training, m->st->drop_seed, 0};
    linear_layer_forward(&l->lin, x, l->w.cols, n, y, l->w.rows, acts, &d, &m->scratch);
}

void qi_lin_backward(QiModel *m, const QiLinear *l, const float *acts, const float *dy, const float *x, int n, float *dx, float beta) {
    LinearDrop d = {1, m->st->drop_seed, 0};
    linear_layer_backward(&l->lin, dy, l->w.rows, x, l->w.cols, n, acts, dx, l->w.cols, beta, &d, &m->scratch);
}

/* ---- activations layout ---- */

static QiLinear *block_linear(QiBlock *bl, int k) {
    QiLinear *ls[QI_LIN_PER_BLOCK] = {&bl->img_mod, &bl->txt_mod, &bl->to_q, &bl->to_k, &bl->to_v, &bl->add_q, &bl->add_k,
                                      &bl->add_v, &bl->to_out, &bl->to_add_out, &bl->img_fc1, &bl->img_fc2, &bl->txt_fc1, &bl->txt_fc2};
    return ls[k];
}
enum { L_IMG_MOD, L_TXT_MOD, L_Q, L_K, L_V, L_AQ, L_AK, L_AV, L_OUT, L_AOUT, L_IFC1, L_IFC2, L_TFC1, L_TFC2 };

/* Assigns a's pointers inside base (or only counts when base is NULL); returns floats needed. */
size_t qi_block_acts_layout(const QiModel *m, int b, QiBlockActs *a, float *base, int N, int L, int n_sets) {
    const int D = m->cfg.dim, H = m->cfg.heads, S = N + L;
    size_t off = 0;
#define TAKE(p, n) do { if (base) (p) = base + off; off += (size_t)(n); } while (0)
    TAKE(a->x_in, N * D); TAKE(a->ln1_m, N); TAKE(a->ln1_r, N); TAKE(a->xn1, N * D); TAKE(a->xm1, N * D);
    TAKE(a->q_pre, N * D); TAKE(a->k_pre, N * D); TAKE(a->q_r, N * H); TAKE(a->k_r, N * H); TAKE(a->ai, N * D);
    TAKE(a->x1, N * D); TAKE(a->ln2_m, N); TAKE(a->ln2_r, N); TAKE(a->xn2, N * D); TAKE(a->xm2, N * D);
    TAKE(a->h, N * 4 * D); TAKE(a->hg, N * 4 * D); TAKE(a->y, N * D);
    TAKE(a->c_in, L * D); TAKE(a->cln1_m, L); TAKE(a->cln1_r, L); TAKE(a->cn1, L * D); TAKE(a->cm1, L * D);
    TAKE(a->qc_pre, L * D); TAKE(a->kc_pre, L * D); TAKE(a->qc_r, L * H); TAKE(a->kc_r, L * H); TAKE(a->at, L * D);
    TAKE(a->c1, L * D); TAKE(a->cln2_m, L); TAKE(a->cln2_r, L); TAKE(a->cn2, L * D); TAKE(a->cm2, L * D);
    TAKE(a->ch, L * 4 * D); TAKE(a->chg, L * 4 * D); TAKE(a->cy, L * D);
    TAKE(a->Q, S * D); TAKE(a->K, S * D); TAKE(a->V, S * D); TAKE(a->O, S * D); TAKE(a->lse, H * S);
    TAKE(a->mi, n_sets * 6 * D); TAKE(a->mt, 6 * D);
    QiBlock *bl = &m->blocks[b];
    for (int k = 0; k < QI_LIN_PER_BLOCK; k++) {
        const QiLinear *l = block_linear(bl, k);
        int rows = k == L_IMG_MOD ? n_sets : k == L_TXT_MOD ? 1 : (k == L_Q || k == L_K || k == L_V || k == L_OUT || k == L_IFC1 || k == L_IFC2) ? N : L;
        a->la[k] = NULL;
        if (l->lin.ad) TAKE(a->la[k], linear_acts_floats(&l->lin, rows));
    }
#undef TAKE
    if (base) { a->N = N; a->L = L; }
    return off;
}

/* ---- forward ---- */

/* RMSNorm over each head's hd values: rows × H heads → rows·H rows of hd. */
static void head_rms(const float *x, int rows, int H, int hd, const float *w, float *y, float *rstd) {
    rmsnorm_forward(x, hd, rows * H, hd, w, EPS, y, hd, rstd);
}

void qi_block_forward(QiModel *m, int b, QiBlockActs *a, float *x, float *c, const float *st, int n_sets, const int *sel,
                      const float *rope_cos, const float *rope_sin, const unsigned char *kmask, int N, int L, int training) {
    QiBlock *bl = &m->blocks[b];
    const int D = m->cfg.dim, H = m->cfg.heads, hd = m->cfg.head_dim, S = N + L, D6 = 6 * D;
    memcpy(a->x_in, x, (size_t)N * D * sizeof(float));
    memcpy(a->c_in, c, (size_t)L * D * sizeof(float));
    qi_lin_forward(m, &bl->img_mod, a->la[L_IMG_MOD], st, n_sets, a->mi, training);
    qi_lin_forward(m, &bl->txt_mod, a->la[L_TXT_MOD], st, 1, a->mt, training);
    const float *mi = a->mi, *mt = a->mt;
    /* attention inputs */
    layernorm_forward(x, D, N, D, EPS, a->xn1, D, a->ln1_m, a->ln1_r);
    modulate_forward(a->xn1, D, N, D, mi, mi + D, D6, sel, a->xm1, D);
    layernorm_forward(c, D, L, D, EPS, a->cn1, D, a->cln1_m, a->cln1_r);
    modulate_forward(a->cn1, D, L, D, mt, mt + D, D6, NULL, a->cm1, D);
    qi_lin_forward(m, &bl->to_q, a->la[L_Q], a->xm1, N, a->q_pre, training);
    qi_lin_forward(m, &bl->to_k, a->la[L_K], a->xm1, N, a->k_pre, training);
    qi_lin_forward(m, &bl->to_v, a->la[L_V], a->xm1, N, a->V + (size_t)L * D, training);
    qi_lin_forward(m, &bl->add_q, a->la[L_AQ], a->cm1, L, a->qc_pre, training);
    qi_lin_forward(m, &bl->add_k, a->la[L_AK], a->cm1, L, a->kc_pre, training);
    qi_lin_forward(m, &bl->add_v, a->la[L_AV], a->cm1, L, a->V, training);
    head_rms(a->qc_pre, L, H, hd, bl->norm_added_q.w, a->Q, a->qc_r);
    head_rms(a->kc_pre, L, H, hd, bl->norm_added_k.w, a->K, a->kc_r);
    head_rms(a->q_pre, N, H, hd, bl->norm_q.w, a->Q + (size_t)L * D, a->q_r);
    head_rms(a->k_pre, N, H, hd, bl->norm_k.w, a->K + (size_t)L * D, a->k_r);
    rope_forward(a->Q, D, S, H, hd, rope_cos, rope_sin);
    rope_forward(a->K, D, S, H, hd, rope_cos, rope_sin);
    attention_forward(a->Q, a->K, a->V, D, S, H, hd, kmask, a->O, D, a->lse);
    qi_lin_forward(m, &bl->to_out, a->la[L_OUT], a->O + (size_t)L * D, N, a->ai, training);
    qi_lin_forward(m, &bl->to_add_out, a->la[L_AOUT], a->O, L, a->at, training);
    memcpy(a->x1, x, (size_t)N * D * sizeof(float));
    gate_residual_forward(a->x1, D, a->ai, D, N, D, mi + 2 * D, D6, sel);
    memcpy(a->c1, c, (size_t)L * D * sizeof(float));
    gate_residual_forward(a->c1, D, a->at, D, L, D, mt + 2 * D, D6, NULL);
    /* MLPs */
    layernorm_forward(a->x1, D, N, D, EPS, a->xn2, D, a->ln2_m, a->ln2_r);
    modulate_forward(a->xn2, D, N, D, mi + 3 * D, mi + 4 * D, D6, sel, a->xm2, D);
    qi_lin_forward(m, &bl->img_fc1, a->la[L_IFC1], a->xm2, N, a->h, training);
    gelu_tanh_forward(a->h, a->hg, (size_t)N * 4 * D);
    qi_lin_forward(m, &bl->img_fc2, a->la[L_IFC2], a->hg, N, a->y, training);
    memcpy(x, a->x1, (size_t)N * D * sizeof(float));
    gate_residual_forward(x, D, a->y, D, N, D, mi + 5 * D, D6, sel);
    layernorm_forward(a->c1, D, L, D, EPS, a->cn2, D, a->cln2_m, a->cln2_r);
    modulate_forward(a->cn2, D, L, D, mt + 3 * D, mt + 4 * D, D6, NULL, a->cm2, D);
    qi_lin_forward(m, &bl->txt_fc1, a->la[L_TFC1], a->cm2, L, a->ch, training);
    gelu_tanh_forward(a->ch, a->chg, (size_t)L * 4 * D);
    qi_lin_forward(m, &bl->txt_fc2, a->la[L_TFC2], a->chg, L, a->cy, training);
    memcpy(c, a->c1, (size_t)L * D * sizeof(float));
    gate_residual_forward(c, D, a->cy, D, L, D, mt + 5 * D, D6, NULL);
}

/* ---- backward ---- */

static void head_rms_backward(const float *dy, const float *x, int rows, int H, int hd, QiNorm *nm, const float *rstd, float *dx) {
    rmsnorm_backward(dy, hd, x, hd, rows * H, hd, nm->w, rstd, dx, hd, nm->gw, 0);
}

/* One stream's MLP half backward: d (grad of stream output, [n, D]) becomes the grad of x1/c1. */
static void mlp_backward(QiModel *m, const QiLinear *fc1, const QiLinear *fc2, const float *la1, const float *la2,
                         float *d, int n, const float *x1, const float *ln_m, const float *ln_r, const float *xn2, const float *xm2,
                         const float *h, const float *hg, const float *y, const float *mod, float *dmod, int n_sets_ld, const int *sel,
                         QiState *s) {
    const int D = m->cfg.dim, D6 = 6 * D;
    (void)n_sets_ld;
    float *dy = s->s1, *dhg = s->s2, *dxm2 = s->s3;
    gate_residual_backward(d, D, y, D, n, D, mod + 5 * D, D6, sel, dy, D, 0, dmod + 5 * D);
    qi_lin_backward(m, fc2, la2, dy, hg, n, dhg, 0.0f);
    gelu_tanh_backward(dhg, h, dhg, (size_t)n * 4 * D);
    qi_lin_backward(m, fc1, la1, dhg, xm2, n, dxm2, 0.0f);
    modulate_backward(dxm2, D, xn2, D, n, D, mod + 4 * D, D6, sel, dy, D, 0, dmod + 3 * D, dmod + 4 * D);
    layernorm_backward(dy, D, x1, D, n, D, ln_m, ln_r, d, D, 1);
}

void qi_block_backward(QiModel *m, int b, QiBlockActs *a, float *dx, float *dc, const float *st, int n_sets, const int *sel,
                       const float *rope_cos, const float *rope_sin, const unsigned char *kmask, QiState *s) {
    QiBlock *bl = &m->blocks[b];
    const int D = m->cfg.dim, H = m->cfg.heads, hd = m->cfg.head_dim, N = a->N, L = a->L, S = N + L, D6 = 6 * D;
    /* modulation grads [n_sets, 6D] and [1, 6D] */
    float *gmi = s->gmod, *gmt = gmi + (size_t)n_sets * D6;
    memset(gmi, 0, (size_t)(n_sets + 1) * D6 * sizeof(float));
    /* MLP halves: dx, dc become grads of x1, c1 */
    mlp_backward(m, &bl->img_fc1, &bl->img_fc2, a->la[L_IFC1], a->la[L_IFC2], dx, N, a->x1, a->ln2_m, a->ln2_r, a->xn2,
                 a->xm2, a->h, a->hg, a->y, a->mi, gmi, n_sets, sel, s);
    mlp_backward(m, &bl->txt_fc1, &bl->txt_fc2, a->la[L_TFC1], a->la[L_TFC2], dc, L, a->c1, a->cln2_m, a->cln2_r, a->cn2,
                 a->cm2, a->ch, a->chg, a->cy, a->mt, gmt, 1, NULL, s);
    /* attention residuals: dO from gate·d through the output projections */
    float *dO = s->s1, *dQ = s->s2, *dK = s->s2 + (size_t)S * D, *dV = s->s2 + (size_t)2 * S * D, *tmp = s->s4;
    gate_residual_backward(dx, D, a->ai, D, N, D, a->mi + 2 * D, D6, sel, tmp, D, 0, gmi + 2 * D);
    qi_lin_backward(m, &bl->to_out, a->la[L_OUT], tmp, a->O + (size_t)L * D, N, dO + (size_t)L * D, 0.0f);
    gate_residual_backward(dc, D, a->at, D, L, D, a->mt + 2 * D, D6, NULL, tmp, D, 0, gmt + 2 * D);
    qi_lin_backward(m, &bl->to_add_out, a->la[L_AOUT], tmp, a->O, L, dO, 0.0f);
    attention_backward(dO, D, a->Q, a->K, a->V, D, a->O, a->lse, S, H, hd, kmask, dQ, dK, dV, D);
    rope_backward(dQ, D, S, H, hd, rope_cos, rope_sin);
    rope_backward(dK, D, S, H, hd, rope_cos, rope_sin);
    /* q/k norms → pre-norm grads (into dO, no longer needed) */
    float *dq_pre = dO, *dk_pre = dO + (size_t)S * D;
    head_rms_backward(dQ, a->qc_pre, L, H, hd, &bl->norm_added_q, a->qc_r, dq_pre);
    head_rms_backward(dQ + (size_t)L * D, a->q_pre, N, H, hd, &bl->norm_q, a->q_r, dq_pre + (size_t)L * D);
    head_rms_backward(dK, a->kc_pre, L, H, hd, &bl->norm_added_k, a->kc_r, dk_pre);
    head_rms_backward(dK + (size_t)L * D, a->k_pre, N, H, hd, &bl->norm_k, a->k_r, dk_pre + (size_t)L * D);
    /* projections → d xm1, d cm1 (into tmp) */
    float *dxm1 = tmp, *dcm1 = tmp + (size_t)N * D;
    qi_lin_backward(m, &bl->to_q, a->la[L_Q], dq_pre + (size_t)L * D, a->xm1, N, dxm1, 0.0f);
    qi_lin_backward(m, &bl->to_k, a->la[L_K], dk_pre + (size_t)L * D, a->xm1, N, dxm1, 1.0f);
    qi_lin_backward(m, &bl->to_v, a->la[L_V], dV + (size_t)L * D, a->xm1, N, dxm1, 1.0f);
    qi_lin_backward(m, &bl->add_q, a->la[L_AQ], dq_pre, a->cm1, L, dcm1, 0.0f);
    qi_lin_backward(m, &bl->add_k, a->la[L_AK], dk_pre, a->cm1, L, dcm1, 1.0f);
    qi_lin_backward(m, &bl->add_v, a->la[L_AV], dV, a->cm1, L, dcm1, 1.0f);
    /* modulation 1 and LN1 (the residual already carries dx, dc) */
    float *dln = dO;
    modulate_backward(dxm1, D, a->xn1, D, N, D, a->mi + D, D6, sel, dln, D, 0, gmi, gmi + D);
    layernorm_backward(dln, D, a->x_in, D, N, D, a->ln1_m, a->ln1_r, dx, D, 1);
    modulate_backward(dcm1, D, a->cn1, D, L, D, a->mt + D, D6, NULL, dln, D, 0, gmt, gmt + D);
    layernorm_backward(dln, D, a->c_in, D, L, D, a->cln1_m, a->cln1_r, dc, D, 1);
    /* modulation linears → d silu(temb) */
    qi_lin_backward(m, &bl->img_mod, a->la[L_IMG_MOD], gmi, st, n_sets, s->dst, 1.0f);
    qi_lin_backward(m, &bl->txt_mod, a->la[L_TXT_MOD], gmt, st, 1, s->dst, 1.0f);
}
