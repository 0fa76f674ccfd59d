/* blocks.c — LongCat double-stream and single-stream blocks, forward and backward (spec §1.3), on
 * the shared kernels. Rows are [B·S, D] with text rows first in every sample; the text stream uses
 * the add_* / *_context weights and the text modulation sets, the image stream the others. */
#include "models/longcat_image/lc_run.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/modulate.h"
#include "kernels/norm.h"
#include "kernels/rope.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#define FOR_SPAN(sp, r0) for (int b_ = 0, r0; b_ < (sp).count && ((r0) = (sp).off + b_ * (sp).stride, 1); b_++)

const float *lc_pf(const LcModel *m, int idx) { return (const float *)m->p[idx].w.data; }

void lc_lin_fwd(LcModel *m, const LcLinear *l, const float *x, int ldx, float *y, int ldy, Span sp, float *acts) {
    const size_t apr = linear_acts_floats(&l->lin, 1);
    FOR_SPAN(sp, r0) {
        LinearDrop d = { m->dropout_on, m->dropout_seed, r0 };
        linear_layer_forward(&l->lin, x + (size_t)r0 * ldx, ldx, sp.n, y + (size_t)r0 * ldy, ldy, acts ? acts + (size_t)r0 * apr : NULL,
                             &d, &m->scratch);
    }
}

void lc_lin_bwd(LcModel *m, const LcLinear *l, const float *dy, int lddy, const float *x, int ldx, float *dx, int lddx,
                float beta, Span sp, const float *acts) {
    const size_t apr = linear_acts_floats(&l->lin, 1);
    FOR_SPAN(sp, r0) {
        LinearDrop d = { m->dropout_on, m->dropout_seed, r0 };
        linear_layer_backward(&l->lin, dy + (size_t)r0 * lddy, lddy, x + (size_t)r0 * ldx, ldx, sp.n, acts ? acts + (size_t)r0 * apr : NULL,
                              dx ? dx + (size_t)r0 * lddx : NULL, lddx, beta, &d, &m->scratch);
    }
}

static void mod_fwd(const float *x, float *y, int D, Span sp, const float *shift, const float *scale, int ld, const int *sel) {
    FOR_SPAN(sp, r0) modulate_forward(x + (size_t)r0 * D, D, sp.n, D, shift, scale, ld, sel + r0, y + (size_t)r0 * D, D);
}
static void mod_bwd(const float *dy, const float *x, float *dx, int D, Span sp, const float *scale, int ld, const int *sel,
                    float *dshift, float *dscale) {
    FOR_SPAN(sp, r0) modulate_backward(dy + (size_t)r0 * D, D, x + (size_t)r0 * D, D, sp.n, D, scale, ld, sel + r0,
                                       dx + (size_t)r0 * D, D, 0, dshift, dscale);
}
static void gate_fwd(float *x, const float *y, int D, Span sp, const float *gate, int ld, const int *sel) {
    FOR_SPAN(sp, r0) gate_residual_forward(x + (size_t)r0 * D, D, y + (size_t)r0 * D, D, sp.n, D, gate, ld, sel + r0);
}
static void gate_bwd(const float *dx, const float *y, float *dy, int D, Span sp, const float *gate, int ld, const int *sel, float *dgate) {
    FOR_SPAN(sp, r0) gate_residual_backward(dx + (size_t)r0 * D, D, y + (size_t)r0 * D, D, sp.n, D, gate, ld, sel + r0,
                                            dy + (size_t)r0 * D, D, 0, dgate);
}

/* q/k RMSNorm per head (weights wq/wk for the span) on qkv (in place from a copy of qkv_raw). */
static void qk_norm_fwd(const LcModel *m, const LcRun *r, LcActs *a, Span sp, int wq, int wk) {
    const int D = m->cfg.dim, H = m->cfg.heads, hd = m->cfg.head_dim, ld = 3 * D;
    FOR_SPAN(sp, r0)
        for (int h = 0; h < H; h++) {
            float *q = a->qkv + (size_t)r0 * ld + h * hd, *k = q + D;
            rmsnorm_forward(q, ld, sp.n, hd, lc_pf(m, wq), LC_EPS, q, ld, a->rq + (size_t)h * r->R + r0);
            rmsnorm_forward(k, ld, sp.n, hd, lc_pf(m, wk), LC_EPS, k, ld, a->rk + (size_t)h * r->R + r0);
        }
}
static void qk_norm_bwd(LcModel *m, const LcRun *r, const LcActs *a, const float *dqkv, float *draw, Span sp, int wq, int wk) {
    const int D = m->cfg.dim, H = m->cfg.heads, hd = m->cfg.head_dim, ld = 3 * D;
    FOR_SPAN(sp, r0)
        for (int h = 0; h < H; h++) {
            size_t off = (size_t)r0 * ld + h * hd;
            rmsnorm_backward(dqkv + off, ld, a->qkv_raw + off, ld, sp.n, hd, lc_pf(m, wq), a->rq + (size_t)h * r->R + r0,
                             draw + off, ld, m->p[wq].grad, 0);
            rmsnorm_backward(dqkv + off + D, ld, a->qkv_raw + off + D, ld, sp.n, hd, lc_pf(m, wk), a->rk + (size_t)h * r->R + r0,
                             draw + off + D, ld, m->p[wk].grad, 0);
        }
}

/* RoPE on q and k of every sample, then attention per sample into o (row stride ldo). */
static void rope_attn_fwd(const LcModel *m, const LcRun *r, LcActs *a, int ldo) {
    const int D = m->cfg.dim, H = m->cfg.heads, hd = m->cfg.head_dim, ld = 3 * D, S = r->S;
    for (int b = 0; b < r->B; b++) {
        float *q = a->qkv + (size_t)b * S * ld;
        rope_forward(q, ld, S, H, hd, r->rcos, r->rsin);
        rope_forward(q + D, ld, S, H, hd, r->rcos, r->rsin);
        attention_forward(q, q + D, q + 2 * D, ld, S, H, hd, NULL, a->o + (size_t)b * S * ldo, ldo, a->lse + (size_t)b * H * S);
    }
}
/* From do (stride ldo) to dqkv [R, 3D] (gradients w.r.t. the pre-RoPE normed q, k and v). */
static void rope_attn_bwd(const LcModel *m, const LcRun *r, const LcActs *a, const float *dO, int ldo, float *dqkv) {
    const int D = m->cfg.dim, H = m->cfg.heads, hd = m->cfg.head_dim, ld = 3 * D, S = r->S;
    for (int b = 0; b < r->B; b++) {
        const float *q = a->qkv + (size_t)b * S * ld;
        float *dq = dqkv + (size_t)b * S * ld;
        attention_backward(dO + (size_t)b * S * ldo, ldo, q, q + D, q + 2 * D, ld, a->o + (size_t)b * S * ldo,
                           a->lse + (size_t)b * H * S, S, H, hd, NULL, dq, dq + D, dq + 2 * D, ld);
        rope_backward(dq, ld, S, H, hd, r->rcos, r->rsin);
        rope_backward(dq + D, ld, S, H, hd, r->rcos, r->rsin);
    }
}

static float *lh(const LcActs *a, const LcLinear *l) { return l->lin.ad ? a->lin_acts[l->lin.id] : NULL; }

void lc_double_fwd(LcModel *m, int blk, const float *h, float *out, LcActs *a) {
    const LcRun *r = m->run;
    const LcDouble *k = &m->dbl[blk];
    const int D = m->cfg.dim, F = m->cfg.ff, R = r->R, L = r->L, S = r->S;
    Span all = { 0, R, R, 1 }, txt = { 0, L, S, r->B }, img = { L, r->N, S, r->B }, sets = { 0, r->T, r->T, 1 };
    lc_lin_fwd(m, &k->norm1, r->stemb, D, a->mod, 6 * D, sets, lh(a, &k->norm1));
    lc_lin_fwd(m, &k->norm1_ctx, r->stemb, D, a->modc, 6 * D, sets, lh(a, &k->norm1_ctx));
    layernorm_forward(h, D, R, D, LC_EPS, a->ln1, D, a->mean1, a->rstd1);
    mod_fwd(a->ln1, a->m1, D, img, a->mod, a->mod + D, 6 * D, r->sel);
    mod_fwd(a->ln1, a->m1, D, txt, a->modc, a->modc + D, 6 * D, r->sel);
    lc_lin_fwd(m, &k->q, a->m1, D, a->qkv_raw, 3 * D, img, lh(a, &k->q));
    lc_lin_fwd(m, &k->k, a->m1, D, a->qkv_raw + D, 3 * D, img, lh(a, &k->k));
    lc_lin_fwd(m, &k->v, a->m1, D, a->qkv_raw + 2 * D, 3 * D, img, lh(a, &k->v));
    lc_lin_fwd(m, &k->add_q, a->m1, D, a->qkv_raw, 3 * D, txt, lh(a, &k->add_q));
    lc_lin_fwd(m, &k->add_k, a->m1, D, a->qkv_raw + D, 3 * D, txt, lh(a, &k->add_k));
    lc_lin_fwd(m, &k->add_v, a->m1, D, a->qkv_raw + 2 * D, 3 * D, txt, lh(a, &k->add_v));
    memcpy(a->qkv, a->qkv_raw, (size_t)R * 3 * D * sizeof(float));
    qk_norm_fwd(m, r, a, img, k->norm_q, k->norm_k);
    qk_norm_fwd(m, r, a, txt, k->norm_added_q, k->norm_added_k);
    rope_attn_fwd(m, r, a, D);
    (void)all;
    lc_lin_fwd(m, &k->out, a->o, D, a->ya, D, img, lh(a, &k->out));
    lc_lin_fwd(m, &k->add_out, a->o, D, a->ya, D, txt, lh(a, &k->add_out));
    memcpy(a->x1, h, (size_t)R * D * sizeof(float));
    gate_fwd(a->x1, a->ya, D, img, a->mod + 2 * D, 6 * D, r->sel);
    gate_fwd(a->x1, a->ya, D, txt, a->modc + 2 * D, 6 * D, r->sel);
    layernorm_forward(a->x1, D, R, D, LC_EPS, a->ln2, D, a->mean2, a->rstd2);
    mod_fwd(a->ln2, a->m2, D, img, a->mod + 3 * D, a->mod + 4 * D, 6 * D, r->sel);
    mod_fwd(a->ln2, a->m2, D, txt, a->modc + 3 * D, a->modc + 4 * D, 6 * D, r->sel);
    lc_lin_fwd(m, &k->ff0, a->m2, D, a->ffh, F, img, lh(a, &k->ff0));
    lc_lin_fwd(m, &k->ffc0, a->m2, D, a->ffh, F, txt, lh(a, &k->ffc0));
    gelu_tanh_forward(a->ffh, a->ffg, (size_t)R * F);
    lc_lin_fwd(m, &k->ff2, a->ffg, F, a->ffy, D, img, lh(a, &k->ff2));
    lc_lin_fwd(m, &k->ffc2, a->ffg, F, a->ffy, D, txt, lh(a, &k->ffc2));
    memcpy(out, a->x1, (size_t)R * D * sizeof(float));
    gate_fwd(out, a->ffy, D, img, a->mod + 5 * D, 6 * D, r->sel);
    gate_fwd(out, a->ffy, D, txt, a->modc + 5 * D, 6 * D, r->sel);
}

void lc_double_bwd(LcModel *m, int blk, const float *h, const float *dout, float *dh, LcActs *a, float *dstemb) {
    const LcRun *r = m->run;
    const LcDouble *k = &m->dbl[blk];
    const int D = m->cfg.dim, F = m->cfg.ff, R = r->R, L = r->L, S = r->S, T = r->T;
    Span txt = { 0, L, S, r->B }, img = { L, r->N, S, r->B }, sets = { 0, T, T, 1 };
    float *dmod = xcalloc((size_t)T * 6 * D, sizeof(float)), *dmodc = xcalloc((size_t)T * 6 * D, sizeof(float));
    float *g1 = xmalloc((size_t)R * D * sizeof(float)), *g2 = xmalloc((size_t)R * D * sizeof(float));
    float *gf = xmalloc((size_t)R * F * sizeof(float));
    float *dqkv = xmalloc((size_t)R * 3 * D * sizeof(float)), *draw = xmalloc((size_t)R * 3 * D * sizeof(float));
    /* out = x1 + g_m·ffy */
    memcpy(dh, dout, (size_t)R * D * sizeof(float));                          /* dh holds dx1 for now */
    gate_bwd(dout, a->ffy, g1, D, img, a->mod + 5 * D, 6 * D, r->sel, dmod + 5 * D);
    gate_bwd(dout, a->ffy, g1, D, txt, a->modc + 5 * D, 6 * D, r->sel, dmodc + 5 * D);
    lc_lin_bwd(m, &k->ff2, g1, D, a->ffg, F, gf, F, 0, img, lh(a, &k->ff2));
    lc_lin_bwd(m, &k->ffc2, g1, D, a->ffg, F, gf, F, 0, txt, lh(a, &k->ffc2));
    gelu_tanh_backward(gf, a->ffh, gf, (size_t)R * F);
    lc_lin_bwd(m, &k->ff0, gf, F, a->m2, D, g1, D, 0, img, lh(a, &k->ff0));
    lc_lin_bwd(m, &k->ffc0, gf, F, a->m2, D, g1, D, 0, txt, lh(a, &k->ffc0));
    mod_bwd(g1, a->ln2, g2, D, img, a->mod + 4 * D, 6 * D, r->sel, dmod + 3 * D, dmod + 4 * D);
    mod_bwd(g1, a->ln2, g2, D, txt, a->modc + 4 * D, 6 * D, r->sel, dmodc + 3 * D, dmodc + 4 * D);
    layernorm_backward(g2, D, a->x1, D, R, D, a->mean2, a->rstd2, dh, D, 1);
    /* x1 = h + g_a·ya */
    gate_bwd(dh, a->ya, g1, D, img, a->mod + 2 * D, 6 * D, r->sel, dmod + 2 * D);
    gate_bwd(dh, a->ya, g1, D, txt, a->modc + 2 * D, 6 * D, r->sel, dmodc + 2 * D);
    lc_lin_bwd(m, &k->out, g1, D, a->o, D, g2, D, 0, img, lh(a, &k->out));
    lc_lin_bwd(m, &k->add_out, g1, D, a->o, D, g2, D, 0, txt, lh(a, &k->add_out));
    rope_attn_bwd(m, r, a, g2, D, dqkv);
    memcpy(draw, dqkv, (size_t)R * 3 * D * sizeof(float));                    /* v passes unchanged */
    qk_norm_bwd(m, r, a, dqkv, draw, img, k->norm_q, k->norm_k);
    qk_norm_bwd(m, r, a, dqkv, draw, txt, k->norm_added_q, k->norm_added_k);
    lc_lin_bwd(m, &k->q, draw, 3 * D, a->m1, D, g1, D, 0, img, lh(a, &k->q));
    lc_lin_bwd(m, &k->k, draw + D, 3 * D, a->m1, D, g1, D, 1, img, lh(a, &k->k));
    lc_lin_bwd(m, &k->v, draw + 2 * D, 3 * D, a->m1, D, g1, D, 1, img, lh(a, &k->v));
    lc_lin_bwd(m, &k->add_q, draw, 3 * D, a->m1, D, g1, D, 0, txt, lh(a, &k->add_q));
    lc_lin_bwd(m, &k->add_k, draw + D, 3 * D, a->m1, D, g1, D, 1, txt, lh(a, &k->add_k));
    lc_lin_bwd(m, &k->add_v, draw + 2 * D, 3 * D, a->m1, D, g1, D, 1, txt, lh(a, &k->add_v));
    mod_bwd(g1, a->ln1, g2, D, img, a->mod + D, 6 * D, r->sel, dmod, dmod + D);
    mod_bwd(g1, a->ln1, g2, D, txt, a->modc + D, 6 * D, r->sel, dmodc, dmodc + D);
    layernorm_backward(g2, D, h, D, R, D, a->mean1, a->rstd1, dh, D, 1);
    lc_lin_bwd(m, &k->norm1, dmod, 6 * D, r->stemb, D, dstemb, D, 1, sets, lh(a, &k->norm1));
    lc_lin_bwd(m, &k->norm1_ctx, dmodc, 6 * D, r->stemb, D, dstemb, D, 1, sets, lh(a, &k->norm1_ctx));
    free(dmod); free(dmodc); free(g1); free(g2); free(gf); free(dqkv); free(draw);
}

void lc_single_fwd(LcModel *m, int blk, const float *h, float *out, LcActs *a) {
    const LcRun *r = m->run;
    const LcSingle *k = &m->sgl[blk];
    const int D = m->cfg.dim, F = m->cfg.ff, R = r->R, W = D + F;
    Span all = { 0, R, R, 1 }, sets = { 0, r->T, r->T, 1 };
    lc_lin_fwd(m, &k->norm, r->stemb, D, a->mod, 3 * D, sets, lh(a, &k->norm));
    layernorm_forward(h, D, R, D, LC_EPS, a->ln1, D, a->mean1, a->rstd1);
    mod_fwd(a->ln1, a->m1, D, all, a->mod, a->mod + D, 3 * D, r->sel);
    lc_lin_fwd(m, &k->mlp, a->m1, D, a->ffh, F, all, lh(a, &k->mlp));
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < R; i++) gelu_tanh_forward(a->ffh + (size_t)i * F, a->o + (size_t)i * W + D, (size_t)F);
    lc_lin_fwd(m, &k->q, a->m1, D, a->qkv_raw, 3 * D, all, lh(a, &k->q));
    lc_lin_fwd(m, &k->k, a->m1, D, a->qkv_raw + D, 3 * D, all, lh(a, &k->k));
    lc_lin_fwd(m, &k->v, a->m1, D, a->qkv_raw + 2 * D, 3 * D, all, lh(a, &k->v));
    memcpy(a->qkv, a->qkv_raw, (size_t)R * 3 * D * sizeof(float));
    qk_norm_fwd(m, r, a, all, k->norm_q, k->norm_k);
    rope_attn_fwd(m, r, a, W);
    lc_lin_fwd(m, &k->out, a->o, W, a->ffy, D, all, lh(a, &k->out));
    memcpy(out, h, (size_t)R * D * sizeof(float));
    gate_fwd(out, a->ffy, D, all, a->mod + 2 * D, 3 * D, r->sel);
}

void lc_single_bwd(LcModel *m, int blk, const float *h, const float *dout, float *dh, LcActs *a, float *dstemb) {
    const LcRun *r = m->run;
    const LcSingle *k = &m->sgl[blk];
    const int D = m->cfg.dim, F = m->cfg.ff, R = r->R, W = D + F, T = r->T;
    Span all = { 0, R, R, 1 }, sets = { 0, T, T, 1 };
    float *dmod = xcalloc((size_t)T * 3 * D, sizeof(float));
    float *g1 = xmalloc((size_t)R * D * sizeof(float)), *g2 = xmalloc((size_t)R * D * sizeof(float));
    float *gcat = xmalloc((size_t)R * W * sizeof(float)), *gf = xmalloc((size_t)R * F * sizeof(float));
    float *dqkv = xmalloc((size_t)R * 3 * D * sizeof(float)), *draw = xmalloc((size_t)R * 3 * D * sizeof(float));
    memcpy(dh, dout, (size_t)R * D * sizeof(float));
    gate_bwd(dout, a->ffy, g1, D, all, a->mod + 2 * D, 3 * D, r->sel, dmod + 2 * D);
    lc_lin_bwd(m, &k->out, g1, D, a->o, W, gcat, W, 0, all, lh(a, &k->out));
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < R; i++) gelu_tanh_backward(gcat + (size_t)i * W + D, a->ffh + (size_t)i * F, gf + (size_t)i * F, (size_t)F);
    lc_lin_bwd(m, &k->mlp, gf, F, a->m1, D, g1, D, 0, all, lh(a, &k->mlp));
    rope_attn_bwd(m, r, a, gcat, W, dqkv);
    memcpy(draw, dqkv, (size_t)R * 3 * D * sizeof(float));
    qk_norm_bwd(m, r, a, dqkv, draw, all, k->norm_q, k->norm_k);
    lc_lin_bwd(m, &k->q, draw, 3 * D, a->m1, D, g1, D, 1, all, lh(a, &k->q));
    lc_lin_bwd(m, &k->k, draw + D, 3 * D, a->m1, D, g1, D, 1, all, lh(a, &k->k));
    lc_lin_bwd(m, &k->v, draw + 2 * D, 3 * D, a->m1, D, g1, D, 1, all, lh(a, &k->v));
    mod_bwd(g1, a->ln1, g2, D, all, a->mod + D, 3 * D, r->sel, dmod, dmod + D);
    layernorm_backward(g2, D, h, D, R, D, a->mean1, a->rstd1, dh, D, 1);
    lc_lin_bwd(m, &k->norm, dmod, 3 * D, r->stemb, D, dstemb, D, 1, sets, lh(a, &k->norm));
    free(dmod); free(g1); free(g2); free(gcat); free(gf); free(dqkv); free(draw);
}
