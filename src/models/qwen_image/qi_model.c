/* qi_model.c — QwenImageTransformer2DModel forward and backward around the blocks (spec §2.2–2.3):
 * timestep embedding, text RMSNorm + projection, image projection, RoPE tables for
 * [text; images], zero_cond_t modulation sets, gradient checkpointing, the output head. */
#include "models/qwen_image/qi_internal.h"
#include "kernels/act.h"
#include "kernels/modulate.h"
#include "kernels/norm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6f

void qi_state_free(QiState *s) {
    if (!s) return;
    for (int i = 0; i < s->n_acts; i++) free(s->acts[i].arena);
    free(s->acts);
    free(s->top_arena); free(s->kmask_buf); free(s->sel_buf);
    free(s->s1); free(s->s2); free(s->s3); free(s->s4); free(s->gmod);
    free(s);
}

static void grow(float **p, size_t *cap, size_t n) {
    if (n > *cap) { free(*p); *p = xmalloc(n * sizeof(float)); *cap = n; }
}

/* Lays out the top-level buffers (or counts them when base is NULL). */
static size_t top_layout(QiModel *m, QiState *s, float *base, int N, int L, int n_sets) {
    const QiConfig *c = &m->cfg;
    const int D = c->dim, hp = c->head_dim / 2, S = N + L;
    size_t off = 0;
#define TAKE(p, n) do { if (base) (p) = base + off; off += (size_t)(n); } while (0)
    TAKE(s->img, (size_t)N * c->in_channels); TAKE(s->txt, (size_t)L * c->joint_attention_dim);
    TAKE(s->txt_n, (size_t)L * c->joint_attention_dim); TAKE(s->txt_rstd, L);
    TAKE(s->x, (size_t)N * D); TAKE(s->c, (size_t)L * D);
    TAKE(s->temb_e, n_sets * 256); TAKE(s->temb_h1, n_sets * D); TAKE(s->temb_s1, n_sets * D);
    TAKE(s->temb, n_sets * D); TAKE(s->st, n_sets * D);
    TAKE(s->no_ln_m, N); TAKE(s->no_ln_r, N); TAKE(s->no_xn, (size_t)N * D); TAKE(s->no_y, (size_t)N * D); TAKE(s->no_m, 2 * D);
    TAKE(s->rope_cos, (size_t)S * hp); TAKE(s->rope_sin, (size_t)S * hp);
    TAKE(s->dxb, (size_t)N * D); TAKE(s->dcb, (size_t)L * D); TAKE(s->dst, n_sets * D);
    if (m->checkpointing) TAKE(s->saved, (size_t)c->num_layers * S * D);
    QiLinear *tl[6] = {&m->t_lin1, &m->t_lin2, &m->img_in, &m->txt_in, &m->norm_out, &m->proj_out};
    int rows[6] = {n_sets, n_sets, N, L, 1, N};
    for (int k = 0; k < 6; k++) {
        s->top_la[k] = NULL;
        if (tl[k]->lin.ad) TAKE(s->top_la[k], linear_acts_floats(&tl[k]->lin, rows[k]));
    }
#undef TAKE
    return off;
}

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static void state_prepare(QiModel *m, int N, int L, int n_sets, int training) {
    if (!m->st) m->st = xcalloc(1, sizeof(QiState));
    QiState *s = m->st;
    const int D = m->cfg.dim, S = N + L;
    size_t need = top_layout(m, s, NULL, N, L, n_sets);
    grow(&s->top_arena, &s->top_cap, need);
    top_layout(m, s, s->top_arena, N, L, n_sets);
    int n_acts = m->checkpointing ? 1 : m->cfg.num_layers;
    if (s->n_acts != n_acts) {
        for (int i = 0; i < s->n_acts; i++) free(s->acts[i].arena);
        free(s->acts);
        s->acts = xcalloc((size_t)n_acts, sizeof *s->acts);
        s->n_acts = n_acts;
    }
    for (int i = 0; i < n_acts; i++) {
        QiBlockActs *a = &s->acts[i];
        /* checkpointing: one arena sized for the largest block (all blocks have the same shapes) */
        size_t n = qi_block_acts_layout(m, i, a, NULL, N, L, n_sets);
        grow(&a->arena, &a->cap, n);
        qi_block_acts_layout(m, i, a, a->arena, N, L, n_sets);
    }
    if ((size_t)S > s->tok_cap) {
        free(s->kmask_buf); free(s->sel_buf);
        s->kmask_buf = xmalloc((size_t)S); s->sel_buf = xmalloc((size_t)S * sizeof(int));
        s->tok_cap = (size_t)S;
    }
    s->kmask = s->kmask_buf; s->sel = s->sel_buf;
    if (training) {
        /* backward scratch, each sized for its largest use (qi_backward, qi_block_backward):
         *   s1  block-output recompute [S, D]; dO and dk_pre [2·S, D]; txt_in's input grad [L, J]
         *   s2  dQ | dK | dV [3·S, D]; the MLP's hidden grad [rows, 4D]; the text-norm grad [L, J]
         *   s3  the MLP's input grad [rows, D]
         *   s4  the output projections' grads and d xm1 | d cm1 [S, D] */
        const size_t rows = (size_t)(N > L ? N : L), SD = (size_t)S * D, LJ = (size_t)L * m->cfg.joint_attention_dim;
        const size_t ns = (size_t)n_sets * D;
        size_t n1 = max3(2 * SD, LJ, ns), n2 = max3(3 * SD, rows * 4 * D, LJ), n3 = rows * D, n4 = SD;
        if (n1 > s->s_cap[0] || n2 > s->s_cap[1] || n3 > s->s_cap[2] || n4 > s->s_cap[3]) {
            free(s->s1); free(s->s2); free(s->s3); free(s->s4);
            s->s1 = xmalloc(n1 * sizeof(float)); s->s2 = xmalloc(n2 * sizeof(float));
            s->s3 = xmalloc(n3 * sizeof(float)); s->s4 = xmalloc(n4 * sizeof(float));
            s->s_cap[0] = n1; s->s_cap[1] = n2; s->s_cap[2] = n3; s->s_cap[3] = n4;
        }
        grow(&s->gmod, &s->gmod_cap, (size_t)(n_sets + 1) * 6 * D);
    }
    s->N = N; s->L = L; s->n_sets = n_sets; s->training = training;
}

/* Sinusoidal timestep features: cos first (flip_sin_to_cos), f_k = exp(−ln(10⁴)·k/128), ×1000. */
static void timestep_features(float t, float *e) {
    for (int k = 0; k < 128; k++) {
        float f = expf((-9.210340371976184f * (float)k) / 128.0f);
        float a = 1000.0f * (t * f);
        e[k] = cosf(a);
        e[128 + k] = sinf(a);
    }
}

/* RoPE tables for [text; image 0; image 1; ...] (spec §2.3). */
static void rope_tables(const QiConfig *c, const QiInput *in, int L, float *cos_t, float *sin_t) {
    const int hp = c->head_dim / 2;
    float w[512];
    int axis_of[512];
    int k0 = 0;
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < c->axes[a] / 2; k++, k0++) {
            w[k0] = 1.0f / powf(10000.0f, (float)(2 * k) / (float)c->axes[a]);
            axis_of[k0] = a;
        }
    int M = 0;
    for (int n = 0; n < in->n_img; n++) {
        int v = in->img_h[n] / 2 > in->img_w[n] / 2 ? in->img_h[n] / 2 : in->img_w[n] / 2;
        if (v > M) M = v;
    }
    for (int t = 0; t < L; t++)
        for (int p = 0; p < hp; p++) {
            float a = (float)(M + t) * w[p];
            cos_t[(size_t)t * hp + p] = cosf(a); sin_t[(size_t)t * hp + p] = sinf(a);
        }
    size_t row = (size_t)L;
    for (int n = 0; n < in->n_img; n++) {
        int h = in->img_h[n], wd = in->img_w[n];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < wd; j++, row++) {
                int pos[3] = {n, i - (h - h / 2), j - (wd - wd / 2)};
                for (int p = 0; p < hp; p++) {
                    float a = (float)pos[axis_of[p]] * w[p];
                    cos_t[row * hp + p] = cosf(a); sin_t[row * hp + p] = sinf(a);
                }
            }
    }
}

int qi_forward(QiModel *m, const QiInput *in, float *out, const Trace *trace, Err *e) {
    const QiConfig *c = &m->cfg;
    if (in->n_img < 1 || in->n_img > QI_MAX_IMAGES) return err_set(e, "transformer: %d images per sample (1..%d)", in->n_img, QI_MAX_IMAGES);
    if (in->txt_len < 1) return err_set(e, "transformer: the prompt embedding is empty");
    int N = 0;
    for (int n = 0; n < in->n_img; n++) {
        if (in->img_h[n] < 1 || in->img_w[n] < 1) return err_set(e, "transformer: image %d has an empty token grid", n);
        N += in->img_h[n] * in->img_w[n];
    }
    const int L = in->txt_len, D = c->dim, S = N + L, n_sets = c->zero_cond_t ? 2 : 1, hp = c->head_dim / 2;
    int M = 0;   /* text token t sits at RoPE position M + t, in diffusers' table of 4096 positions */
    for (int n = 0; n < in->n_img; n++) { int v = (in->img_h[n] > in->img_w[n] ? in->img_h[n] : in->img_w[n]) / 2; if (v > M) M = v; }
    if (M + L > 4096)
        return err_set(e, "transformer: %d prompt rows after the image grids' %d positions exceed the 4096 text positions of "
                       "Qwen-Image (diffusers' RoPE table): shorten the prompt", L, M);
    state_prepare(m, N, L, n_sets, in->training);
    QiState *s = m->st;
    memcpy(s->img, in->img, (size_t)N * c->in_channels * sizeof(float));
    memcpy(s->txt, in->txt, (size_t)L * c->joint_attention_dim * sizeof(float));
    for (int t = 0; t < L; t++) s->kmask[t] = in->txt_mask ? in->txt_mask[t] != 0 : 1;
    memset(s->kmask + L, 1, (size_t)N);
    const int n_target = in->img_h[0] * in->img_w[0];
    for (int i = 0; i < N; i++) s->sel[i] = c->zero_cond_t && i >= n_target ? 1 : 0;
    const int *sel = c->zero_cond_t ? s->sel : NULL;
    s->drop_seed = in->dropout_seed;
    /* timestep embedding per modulation set: [σ] or, with zero_cond_t, [σ, 0] */
    for (int k = 0; k < n_sets; k++) timestep_features(k == 0 ? in->timestep : 0.0f, s->temb_e + (size_t)k * 256);
    qi_lin_forward(m, &m->t_lin1, s->top_la[0], s->temb_e, n_sets, s->temb_h1, in->training);
    silu_forward(s->temb_h1, s->temb_s1, (size_t)n_sets * D);
    qi_lin_forward(m, &m->t_lin2, s->top_la[1], s->temb_s1, n_sets, s->temb, in->training);
    silu_forward(s->temb, s->st, (size_t)n_sets * D);
    /* streams in */
    rmsnorm_forward(s->txt, c->joint_attention_dim, L, c->joint_attention_dim, m->txt_norm.w, EPS, s->txt_n, c->joint_attention_dim, s->txt_rstd);
    qi_lin_forward(m, &m->txt_in, s->top_la[3], s->txt_n, L, s->c, in->training);
    qi_lin_forward(m, &m->img_in, s->top_la[2], s->img, N, s->x, in->training);
    rope_tables(c, in, L, s->rope_cos, s->rope_sin);
    if (trace_on(trace)) {
        int64_t nd[2] = {N, D}, ld[2] = {L, D}, sd[2] = {n_sets, D}, lh[2] = {L, hp}, nh[2] = {N, hp};
        trace_f32(trace, "img_in", 2, nd, s->x);
        trace_f32(trace, "txt_in", 2, ld, s->c);
        trace_f32(trace, "temb", 2, sd, s->temb);
        trace_f32(trace, "rope_txt_cos", 2, lh, s->rope_cos); trace_f32(trace, "rope_txt_sin", 2, lh, s->rope_sin);
        trace_f32(trace, "rope_img_cos", 2, nh, s->rope_cos + (size_t)L * hp); trace_f32(trace, "rope_img_sin", 2, nh, s->rope_sin + (size_t)L * hp);
    }
    for (int b = 0; b < c->num_layers; b++) {
        QiBlockActs *a = &s->acts[m->checkpointing ? 0 : b];
        if (m->checkpointing) {
            memcpy(s->saved + (size_t)b * S * D, s->x, (size_t)N * D * sizeof(float));
            memcpy(s->saved + (size_t)b * S * D + (size_t)N * D, s->c, (size_t)L * D * sizeof(float));
        }
        qi_block_forward(m, b, a, s->x, s->c, s->st, n_sets, sel, s->rope_cos, s->rope_sin, s->kmask, N, L, in->training);
        if (trace_on(trace)) {
            char nm[32]; int64_t nd[2] = {N, D}, ld[2] = {L, D};
            snprintf(nm, sizeof nm, "block%d.img", b); trace_f32(trace, nm, 2, nd, s->x);
            snprintf(nm, sizeof nm, "block%d.txt", b); trace_f32(trace, nm, 2, ld, s->c);
        }
    }
    /* output head: scale first, then shift (AdaLayerNormContinuous), from the σ set only */
    qi_lin_forward(m, &m->norm_out, s->top_la[4], s->st, 1, s->no_m, in->training);
    layernorm_forward(s->x, D, N, D, EPS, s->no_xn, D, s->no_ln_m, s->no_ln_r);
    modulate_forward(s->no_xn, D, N, D, s->no_m + D, s->no_m, 0, NULL, s->no_y, D);
    if (trace_on(trace)) { int64_t nd[2] = {N, D}; trace_f32(trace, "norm_out", 2, nd, s->no_y); }
    qi_lin_forward(m, &m->proj_out, s->top_la[5], s->no_y, N, out, in->training);
    return 0;
}

int qi_backward(QiModel *m, const float *dout, float *dimg, float *dtxt, Err *e) {
    QiState *s = m->st;
    if (!s || !s->training) return err_set(e, "transformer backward without a training forward");
    const QiConfig *c = &m->cfg;
    const int N = s->N, L = s->L, D = c->dim, S = N + L, n_sets = s->n_sets;
    const int *sel = c->zero_cond_t ? s->sel : NULL;
    memset(s->dst, 0, (size_t)n_sets * D * sizeof(float));
    /* output head */
    float *dy = s->s1, *dxn = s->s2, dm[2 * 8192];
    if (2 * D > (int)(sizeof dm / sizeof *dm)) return err_set(e, "transformer: dim %d too large for the output head", D);
    memset(dm, 0, (size_t)2 * D * sizeof(float));
    qi_lin_backward(m, &m->proj_out, s->top_la[5], dout, s->no_y, N, dy, 0.0f);
    modulate_backward(dy, D, s->no_xn, D, N, D, s->no_m, 0, NULL, dxn, D, 0, dm + D, dm);
    layernorm_backward(dxn, D, s->x, D, N, D, s->no_ln_m, s->no_ln_r, s->dxb, D, 0);
    qi_lin_backward(m, &m->norm_out, s->top_la[4], dm, s->st, 1, s->dst, 1.0f);
    memset(s->dcb, 0, (size_t)L * D * sizeof(float));
    for (int b = c->num_layers - 1; b >= 0; b--) {
        QiBlockActs *a = &s->acts[m->checkpointing ? 0 : b];
        if (m->checkpointing) {
            /* recompute this block's activations from its saved inputs (the same dropout masks: they
             * depend only on the forward's seed and each layer's id) */
            float *x = s->s1, *cc = s->s1 + (size_t)N * D;
            memcpy(x, s->saved + (size_t)b * S * D, (size_t)N * D * sizeof(float));
            memcpy(cc, s->saved + (size_t)b * S * D + (size_t)N * D, (size_t)L * D * sizeof(float));
            qi_block_forward(m, b, a, x, cc, s->st, n_sets, sel, s->rope_cos, s->rope_sin, s->kmask, N, L, 1);
        }
        qi_block_backward(m, b, a, s->dxb, s->dcb, s->st, n_sets, sel, s->rope_cos, s->rope_sin, s->kmask, s);
    }
    /* streams in */
    float *dtn = s->s1;
    qi_lin_backward(m, &m->txt_in, s->top_la[3], s->dcb, s->txt_n, L, dtn, 0.0f);
    float *dt = dtxt ? dtxt : s->s2;
    rmsnorm_backward(dtn, c->joint_attention_dim, s->txt, c->joint_attention_dim, L, c->joint_attention_dim, m->txt_norm.w,
                     s->txt_rstd, dt, c->joint_attention_dim, m->txt_norm.gw, 0);
    qi_lin_backward(m, &m->img_in, s->top_la[2], s->dxb, s->img, N, dimg, 0.0f);
    /* timestep embedding */
    float *dtemb = s->s1, *ds1 = s->s2;
    silu_backward(s->dst, s->temb, dtemb, (size_t)n_sets * D);
    qi_lin_backward(m, &m->t_lin2, s->top_la[1], dtemb, s->temb_s1, n_sets, ds1, 0.0f);
    silu_backward(ds1, s->temb_h1, ds1, (size_t)n_sets * D);
    qi_lin_backward(m, &m->t_lin1, s->top_la[0], ds1, s->temb_e, n_sets, NULL, 0.0f);
    return 0;
}
