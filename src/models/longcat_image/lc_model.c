/* model.c — LongCat transformer forward and backward over the blocks (spec §1.3): embedders,
 * timestep embedding with optional per-token timesteps, RoPE tables, double then single blocks,
 * norm_out and proj_out. Gradient checkpointing keeps only block inputs and recomputes each block
 * before its backward. */
#include "models/longcat_image/lc_embed.h"
#include "models/longcat_image/lc_run.h"
#include "kernels/act.h"
#include "kernels/modulate.h"
#include "kernels/norm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEWF(n) xmalloc((size_t)(n) * sizeof(float))

static void acts_free(LcActs *a) {
    float **fields[] = { &a->mod, &a->modc, &a->ln1, &a->m1, &a->mean1, &a->rstd1, &a->qkv_raw, &a->qkv, &a->rq, &a->rk,
                         &a->o, &a->lse, &a->ya, &a->x1, &a->ln2, &a->m2, &a->mean2, &a->rstd2, &a->ffh, &a->ffg, &a->ffy };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) { free(*fields[i]); *fields[i] = NULL; }
    free(a->lin_acts); a->lin_acts = NULL;
}

/* The buffers a double block (dbl) and/or a single block (sgl) uses; with both, one set serves
 * either kind (the checkpointed recomputation runs one block at a time). */
static void acts_alloc(const LcModel *m, const LcRun *r, LcActs *a, int dbl, int sgl) {
    const size_t D = m->cfg.dim, F = m->cfg.ff, R = r->R, T = r->T, H = m->cfg.heads;
    a->mod = NEWF(T * 6 * D);
    a->modc = dbl ? NEWF(T * 6 * D) : NULL;
    a->ln1 = NEWF(R * D); a->m1 = NEWF(R * D); a->mean1 = NEWF(R); a->rstd1 = NEWF(R);
    a->qkv_raw = NEWF(R * 3 * D); a->qkv = NEWF(R * 3 * D); a->rq = NEWF(H * R); a->rk = NEWF(H * R);
    a->o = NEWF(R * (sgl ? D + F : D)); a->lse = NEWF(H * R);
    if (dbl) { a->ya = NEWF(R * D); a->x1 = NEWF(R * D); a->ln2 = NEWF(R * D); a->m2 = NEWF(R * D);
               a->mean2 = NEWF(R); a->rstd2 = NEWF(R); a->ffg = NEWF(R * F); }
    a->ffh = NEWF(R * F); a->ffy = NEWF(R * D);
    a->lin_acts = xcalloc((size_t)m->linears.n + 1, sizeof *a->lin_acts);
}

void lc_run_free(LcModel *m) {
    LcRun *r = m->run;
    if (!r) return;
    for (int i = 0; i < r->n_acts; i++) acts_free(&r->acts[i]);
    free(r->acts);
    free(r->tsin); free(r->t1); free(r->t1s); free(r->temb_all); free(r->stemb); free(r->wmean); free(r->sel);
    free(r->rcos); free(r->rsin); free(r->hs); free(r->mod_o); free(r->lnf); free(r->nf); free(r->meanf); free(r->rstdf);
    free(r->lin_acts_buf); free(r->x_in); free(r->ctx_in); free(r->io);
    free(r);
    m->run = NULL;
}

/* Which linears carry how much adapter state per row: buffers are laid out again when it changes
 * (adapters attached, loaded or replaced). */
static uint64_t acts_layout(const LcModel *m) {
    uint64_t h = 0;
    for (int i = 0; i < m->linears.n; i++) h = h * 1000003u + linear_acts_floats(m->linears.l[i], 1) + 1;
    return h;
}

/* Buffers for these sizes (kept from the previous call when they match). */
static LcRun *run_prepare(LcModel *m, int B, int L, int N, int U) {
    LcRun *r = m->run;
    int S = L + N, R = B * S, T = B + U;
    /* adapters attached or replaced since: lay the activations out again */
    if (r && r->B == B && r->L == L && r->N == N && r->U == U && r->ckpt == m->checkpointing && r->acts_layout == acts_layout(m)) return r;
    lc_run_free(m);
    r = m->run = xcalloc(1, sizeof *r);
    r->B = B; r->L = L; r->N = N; r->S = S; r->R = R; r->U = U; r->T = T; r->ckpt = m->checkpointing;
    const size_t D = m->cfg.dim, nb = (size_t)m->cfg.layers + m->cfg.single_layers, P = m->cfg.head_dim / 2;
    r->tsin = NEWF((size_t)U * LC_TIME_CH); r->t1 = NEWF(U * D); r->t1s = NEWF(U * D);
    r->temb_all = NEWF(T * D); r->stemb = NEWF(T * D); r->wmean = NEWF((size_t)B * U);
    r->sel = xmalloc((size_t)R * sizeof(int));
    r->x_in = xcalloc((size_t)R * m->cfg.in_ch, sizeof(float)); r->ctx_in = xcalloc((size_t)R * m->cfg.joint_dim, sizeof(float));
    int wmax = m->cfg.in_ch > m->cfg.out_ch ? m->cfg.in_ch : m->cfg.out_ch;
    if (m->cfg.joint_dim > wmax) wmax = m->cfg.joint_dim;
    r->io = NEWF((size_t)R * wmax);
    r->rcos = NEWF(S * P); r->rsin = NEWF(S * P);
    r->hs = NEWF((nb + 1) * R * D);
    r->mod_o = NEWF(T * 2 * D); r->lnf = NEWF(R * D); r->nf = NEWF(R * D); r->meanf = NEWF(R); r->rstdf = NEWF(R);
    /* one activation set per block, or one shared by every block when checkpointing */
    r->n_acts = m->checkpointing ? 1 : (int)nb;
    r->acts = xcalloc((size_t)r->n_acts + 1, sizeof *r->acts);
    for (int i = 0; i < r->n_acts; i++)
        acts_alloc(m, r, &r->acts[i], m->checkpointing ? m->cfg.layers > 0 : i < m->cfg.layers, m->checkpointing ? m->cfg.single_layers > 0 : i >= m->cfg.layers);
    size_t total = 0;
    for (int i = 0; i < m->linears.n; i++) total += linear_acts_floats(m->linears.l[i], R);
    r->lin_acts_buf = NEWF(total + 1);
    /* each adapted linear's activations live in every activation set that may run its block */
    size_t off = 0;
    for (int i = 0; i < m->linears.n; i++) {
        size_t n = linear_acts_floats(m->linears.l[i], R);
        if (!n) continue;
        for (int s = 0; s < r->n_acts; s++) r->acts[s].lin_acts[i] = r->lin_acts_buf + off;
        off += n;
    }
    r->acts_layout = acts_layout(m);
    return r;
}

/* Adapter activations of a top-level linear (shared by every activation set). */
static float *top_h(const LcRun *r, const LcLinear *l) { return l->lin.ad ? r->acts[0].lin_acts[l->lin.id] : NULL; }

static LcActs *acts_of(LcRun *r, int blk) {
    return &r->acts[r->ckpt ? 0 : blk];
}

/* Rows [off, off + n) of every sample of x [B·S, D] as one [B, n, D] trace tensor. */
static void trace_span(const Trace *t, const char *name, const float *x, int B, int S, int off, int n, int D) {
    float *buf = NEWF((size_t)B * n * D + 1);
    for (int b = 0; b < B; b++) memcpy(buf + (size_t)b * n * D, x + ((size_t)b * S + off) * D, (size_t)n * D * sizeof(float));
    int64_t sh[3] = { B, n, D };
    trace_f32(t, name, 3, sh, buf);
    free(buf);
}

/* Distinct timesteps: per sample, every distinct σ of its image tokens is one modulation set. */
static int timestep_sets(const LcInput *in, float *vals, int *uidx) {
    int U = 0;
    for (int b = 0; b < in->B; b++) {
        int first = U;
        int n = in->per_token ? in->N : 1;
        for (int i = 0; i < n; i++) {
            float t = in->timestep[(size_t)b * n + i];
            int u = first;
            while (u < U && vals[u] != t) u++;
            if (u == U) vals[U++] = t;
            if (uidx) uidx[(size_t)b * in->N + i] = u;
        }
        if (!in->per_token && uidx) for (int i = 1; i < in->N; i++) uidx[(size_t)b * in->N + i] = uidx[(size_t)b * in->N];
    }
    return U;
}

int lc_forward(LcModel *m, const LcInput *in, int keep, float *out, const Trace *trace, Err *e) {
    const LcConfig *c = &m->cfg;
    const int B = in->B, L = in->L, N = in->N, D = c->dim;
    m->dropout_on = keep;
    if (B <= 0 || L < 0 || N <= 0) return err_set(e, "longcat forward: batch %d, text %d, image tokens %d (need B, N > 0)", B, L, N);
    size_t nt = (size_t)B * (in->per_token ? N : 1);
    float *vals = NEWF(nt); int *uidx = xmalloc((size_t)B * N * sizeof(int));
    int U = timestep_sets(in, vals, uidx);
    LcRun *r = run_prepare(m, B, L, N, U);
    const int S = r->S, R = r->R, T = r->T;
    r->keep = keep;
    Span sets = { 0, T, T, 1 };
    /* timestep embedding of every distinct σ; the text stream gets the mean over its sample's image tokens */
    Span us = { 0, U, U, 1 };
    for (int u = 0; u < U; u++) lc_timestep_features(vals[u], r->tsin + (size_t)u * LC_TIME_CH);
    lc_lin_fwd(m, &m->t1, r->tsin, LC_TIME_CH, r->t1, D, us, top_h(r, &m->t1));
    silu_forward(r->t1, r->t1s, (size_t)U * D);
    lc_lin_fwd(m, &m->t2, r->t1s, D, r->temb_all + (size_t)B * D, D, us, top_h(r, &m->t2));
    memset(r->wmean, 0, (size_t)B * U * sizeof(float));
    for (int b = 0; b < B; b++) for (int i = 0; i < N; i++) r->wmean[(size_t)b * U + uidx[(size_t)b * N + i]] += 1.0f;
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            double s = 0;   /* exact when every token shares one σ: the mean of equal values */
            for (int u = 0; u < U; u++) s += (double)r->wmean[(size_t)b * U + u] * r->temb_all[(size_t)(B + u) * D + d];
            r->temb_all[(size_t)b * D + d] = (float)(s / N);
        }
    silu_forward(r->temb_all, r->stemb, (size_t)T * D);
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < L; i++) r->sel[(size_t)b * S + i] = b;
        for (int i = 0; i < N; i++) r->sel[(size_t)b * S + L + i] = B + uidx[(size_t)b * N + i];
    }
    free(vals); free(uidx);
    /* RoPE tables over cat(txt_ids, img_ids) */
    float *ids = NEWF((size_t)S * 3);
    memcpy(ids, in->txt_ids, (size_t)L * 3 * sizeof(float));
    memcpy(ids + (size_t)L * 3, in->img_ids, (size_t)N * 3 * sizeof(float));
    lc_rope_tables(c->axes, ids, S, r->rcos, r->rsin);
    free(ids);
    /* embedders into the joint rows */
    float *h = r->hs;
    Span img = { L, N, S, B }, txt = { 0, L, S, B };
    for (int b = 0; b < B; b++) {
        memcpy(r->x_in + ((size_t)b * S + L) * c->in_ch, in->x + (size_t)b * N * c->in_ch, (size_t)N * c->in_ch * sizeof(float));
        memcpy(r->ctx_in + (size_t)b * S * c->joint_dim, in->ctx + (size_t)b * L * c->joint_dim, (size_t)L * c->joint_dim * sizeof(float));
    }
    lc_lin_fwd(m, &m->x_emb, r->x_in, c->in_ch, h, D, img, top_h(r, &m->x_emb));
    lc_lin_fwd(m, &m->ctx_emb, r->ctx_in, c->joint_dim, h, D, txt, top_h(r, &m->ctx_emb));
    if (trace_on(trace)) {
        trace_span(trace, "x_embedder", h, B, S, L, N, D);
        trace_span(trace, "context_embedder", h, B, S, 0, L, D);
        int64_t sh[2] = { B, D }, sr[2] = { S, c->head_dim };
        trace_f32(trace, "temb", 2, sh, r->temb_all);
        /* upstream reports the tables expanded to every channel of the head: [S, head_dim] */
        float *rc = NEWF((size_t)S * c->head_dim), *rs = NEWF((size_t)S * c->head_dim);
        for (int s = 0; s < S; s++)
            for (int p = 0; p < c->head_dim; p++) {
                rc[(size_t)s * c->head_dim + p] = r->rcos[(size_t)s * (c->head_dim / 2) + p / 2];
                rs[(size_t)s * c->head_dim + p] = r->rsin[(size_t)s * (c->head_dim / 2) + p / 2];
            }
        trace_f32(trace, "rope_cos", 2, sr, rc); trace_f32(trace, "rope_sin", 2, sr, rs);
        free(rc); free(rs);
    }
    const int nb = c->layers + c->single_layers;
    for (int k = 0; k < nb; k++) {
        float *hin = r->hs + (size_t)k * R * D, *hout = hin + (size_t)R * D;
        if (k < c->layers) lc_double_fwd(m, k, hin, hout, acts_of(r, k));
        else lc_single_fwd(m, k - c->layers, hin, hout, acts_of(r, k));
        if (trace_on(trace)) {
            char nm[48];
            int dbl = k < c->layers, i = dbl ? k : k - c->layers;
            snprintf(nm, sizeof nm, "%s%d.img", dbl ? "block" : "single", i); trace_span(trace, nm, hout, B, S, L, N, D);
            snprintf(nm, sizeof nm, "%s%d.txt", dbl ? "block" : "single", i); trace_span(trace, nm, hout, B, S, 0, L, D);
        }
    }
    /* norm_out: (scale, shift) = chunk(linear(SiLU(temb)), 2), scale first; image rows only */
    const float *hf = r->hs + (size_t)nb * R * D;
    lc_lin_fwd(m, &m->norm_out, r->stemb, D, r->mod_o, 2 * D, sets, top_h(r, &m->norm_out));
    layernorm_forward(hf, D, R, D, LC_EPS, r->lnf, D, r->meanf, r->rstdf);
    for (int b = 0; b < B; b++) {
        size_t r0 = (size_t)b * S + L;
        modulate_forward(r->lnf + r0 * D, D, N, D, r->mod_o + D, r->mod_o, 2 * D, r->sel + r0, r->nf + r0 * D, D);
    }
    if (trace_on(trace)) trace_span(trace, "norm_out", r->nf, B, S, L, N, D);
    lc_lin_fwd(m, &m->proj_out, r->nf, D, r->io, c->out_ch, img, top_h(r, &m->proj_out));
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * N * c->out_ch, r->io + ((size_t)b * S + L) * c->out_ch, (size_t)N * c->out_ch * sizeof(float));
    return 0;
}

int lc_backward(LcModel *m, const float *dout, float *dx, float *dctx, Err *e) {
    LcRun *r = m->run;
    if (!r || !r->keep) return err_set(e, "longcat backward: no training forward to back-propagate");
    const LcConfig *c = &m->cfg;
    const int B = r->B, L = r->L, N = r->N, S = r->S, R = r->R, T = r->T, U = r->U, D = c->dim;
    const int nb = c->layers + c->single_layers;
    Span sets = { 0, T, T, 1 }, us = { 0, U, U, 1 };
    float *dh = xcalloc((size_t)R * D, sizeof(float)), *dh2 = NEWF((size_t)R * D), *g = NEWF((size_t)R * D);
    float *dstemb = xcalloc((size_t)T * D, sizeof(float)), *dmod_o = xcalloc((size_t)T * 2 * D, sizeof(float));
    Span img = { L, N, S, B };
    /* proj_out and norm_out (image rows) */
    for (int b = 0; b < B; b++)
        memcpy(r->io + ((size_t)b * S + L) * c->out_ch, dout + (size_t)b * N * c->out_ch, (size_t)N * c->out_ch * sizeof(float));
    lc_lin_bwd(m, &m->proj_out, r->io, c->out_ch, r->nf, D, g, D, 0, img, top_h(r, &m->proj_out));
    for (int b = 0; b < B; b++) {
        size_t r0 = (size_t)b * S + L;
        modulate_backward(g + r0 * D, D, r->lnf + r0 * D, D, N, D, r->mod_o, 2 * D, r->sel + r0, dh2 + r0 * D, D, 0,
                          dmod_o + D, dmod_o);
        layernorm_backward(dh2 + r0 * D, D, r->hs + ((size_t)nb * R + r0) * D, D, N, D, r->meanf + r0, r->rstdf + r0, dh + r0 * D, D, 0);
    }
    lc_lin_bwd(m, &m->norm_out, dmod_o, 2 * D, r->stemb, D, dstemb, D, 1, sets, top_h(r, &m->norm_out));
    for (int k = nb - 1; k >= 0; k--) {
        float *hin = r->hs + (size_t)k * R * D;
        LcActs *a = acts_of(r, k);
        if (r->ckpt) {   /* recompute the block from its kept input (its output is already stored) */
            float *tmp = NEWF((size_t)R * D);
            if (k < c->layers) lc_double_fwd(m, k, hin, tmp, a); else lc_single_fwd(m, k - c->layers, hin, tmp, a);
            free(tmp);
        }
        if (k < c->layers) lc_double_bwd(m, k, hin, dh, dh2, a, dstemb);
        else lc_single_bwd(m, k - c->layers, hin, dh, dh2, a, dstemb);
        float *t = dh; dh = dh2; dh2 = t;
    }
    /* embedders */
    Span txt = { 0, L, S, B };
    lc_lin_bwd(m, &m->x_emb, dh, D, r->x_in, c->in_ch, dx ? r->io : NULL, c->in_ch, 0, img, top_h(r, &m->x_emb));
    for (int b = 0; b < B && dx; b++)
        memcpy(dx + (size_t)b * N * c->in_ch, r->io + ((size_t)b * S + L) * c->in_ch, (size_t)N * c->in_ch * sizeof(float));
    lc_lin_bwd(m, &m->ctx_emb, dh, D, r->ctx_in, c->joint_dim, dctx ? r->io : NULL, c->joint_dim, 0, txt, top_h(r, &m->ctx_emb));
    for (int b = 0; b < B && dctx; b++)
        memcpy(dctx + (size_t)b * L * c->joint_dim, r->io + (size_t)b * S * c->joint_dim, (size_t)L * c->joint_dim * sizeof(float));
    /* timestep MLP: temb_all = [text means; temb_u], stemb = SiLU(temb_all) */
    if (m->p[m->t1.w].grad || m->p[m->t2.w].grad || m->t1.lin.ad || m->t2.lin.ad) {
        float *dtemb = NEWF((size_t)T * D), *dt1 = NEWF((size_t)U * D);
        silu_backward(dstemb, r->temb_all, dtemb, (size_t)T * D);
        for (int b = 0; b < B; b++)
            for (int u = 0; u < U; u++) {
                float w = r->wmean[(size_t)b * U + u] / N;
                if (w == 0) continue;
                for (int d = 0; d < D; d++) dtemb[(size_t)(B + u) * D + d] += w * dtemb[(size_t)b * D + d];
            }
        lc_lin_bwd(m, &m->t2, dtemb + (size_t)B * D, D, r->t1s, D, dt1, D, 0, us, top_h(r, &m->t2));
        silu_backward(dt1, r->t1, dt1, (size_t)U * D);
        lc_lin_bwd(m, &m->t1, dt1, D, r->tsin, LC_TIME_CH, NULL, 0, 0, us, top_h(r, &m->t1));
        free(dtemb); free(dt1);
    }
    free(dh); free(dh2); free(g); free(dstemb); free(dmod_o);
    return 0;
}
