/* vae_backward.c — tape forward and backward of the VAE ops; see vae_backward.h. */
#include "models/vae/vae_backward.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/conv2d.h"
#include "kernels/groupnorm.h"
#include "kernels/upsample.h"
#include <stdlib.h>
#include <string.h>

/* scratch slots: a buffer is only ever used while no later call has grown the same slot */
enum {
    S_COL, S_W, S_B, S_GAMMA, S_BETA, S_DW,   /* im2col; one layer's f32 weights; causal dw */
    S_T1,                                     /* forward temporaries */
    S_G1, S_G2, S_G3, S_G4, S_G5, S_G6,       /* backward temporaries within an op */
    S_PA, S_PB                                /* gradients flowing between ops (ping-pong) */
};

void vae_grads_init(VaeGrads *g, const VaeModel *m) {
    g->np = m->np;
    g->g = xmalloc((size_t)m->np * sizeof *g->g);
    for (int i = 0; i < m->np; i++) g->g[i] = xcalloc(vae_param_numel(&m->p[i]), sizeof(float));
}

void vae_grads_zero(VaeGrads *g, const VaeModel *m) {
    for (int i = 0; i < g->np; i++) memset(g->g[i], 0, vae_param_numel(&m->p[i]) * sizeof(float));
}

void vae_grads_free(VaeGrads *g) {
    for (int i = 0; i < g->np; i++) free(g->g[i]);
    free(g->g);
    memset(g, 0, sizeof *g);
}

void vae_tape_free(VaeTape *t) {
    for (int i = 0; i < t->cap; i++)
        for (int k = 0; k < VAE_TAPE_BUFS; k++) free(t->ops[i].buf[k]);
    free(t->ops);   /* t->y is the last slot's buffer */
    for (int k = 0; k < VAE_TAPE_SCRATCH; k++) free(t->scratch[k]);
    memset(t, 0, sizeof *t);
}

static float *grow(float **buf, size_t *cap, size_t n) {
    if (*cap < n) {
        free(*buf);
        *buf = xmalloc(n * sizeof(float));
        *cap = n;
    }
    return *buf;
}

static float *scratch(VaeTape *t, int slot, size_t n) { return grow(&t->scratch[slot], &t->scap[slot], n); }
static float *opbuf(VaeTapeOp *o, int k, size_t n) { return grow(&o->buf[k], &o->cap[k], n); }

/* ---- weights as f32 ---- */

static const float *param32(VaeTape *t, int slot, const VaeModel *m, int idx) {
    const VaeParam *p = &m->p[idx];
    if (p->dtype == DT_F32) return p->data;
    size_t n = vae_param_numel(p);
    float *f = scratch(t, slot, n);
    dtype_to_f32(p->dtype, p->data, f, n);
    return f;
}

/* [cout, cin, k, k]: the param itself, or the causal 3-D weight's slice t_index */
static const float *conv_w32(VaeTape *t, const VaeModel *m, const VaeConv *c) {
    if (c->t_index < 0) return param32(t, S_W, m, c->w);
    const VaeParam *p = &m->p[c->w];
    size_t kk = (size_t)c->k * c->k, kt = (size_t)p->shape[2], es = dtype_size(p->dtype);
    size_t rows = (size_t)c->cout * c->cin;
    float *f = scratch(t, S_W, rows * kk);
    const unsigned char *src = p->data;
    for (size_t r = 0; r < rows; r++)
        dtype_to_f32(p->dtype, src + ((r * kt + (size_t)c->t_index) * kk) * es, f + r * kk, kk);
    return f;
}

/* ---- convolutions ---- */

typedef struct Geo { int stride, pt, pl, pb, pr; } Geo;

static Geo same(const VaeConv *c) { int p = c->k / 2; return (Geo){ 1, p, p, p, p }; }
static const Geo DOWN_GEO = { 2, 0, 0, 1, 1 };   /* zero pad right/bottom by 1, 3x3 stride 2 */

static Conv2dShape conv_shape(const VaeConv *c, int H, int W, Geo g) {
    return (Conv2dShape){ .cin = c->cin, .h = H, .w = W, .cout = c->cout, .k = c->k, .stride = g.stride,
                          .pad_top = g.pt, .pad_left = g.pl, .pad_bottom = g.pb, .pad_right = g.pr };
}

static void conv_fwd(VaeTape *t, const VaeModel *m, const VaeConv *c, const float *x, int H, int W, Geo g, float *y) {
    const float *w = conv_w32(t, m, c), *b = param32(t, S_B, m, c->b);
    Conv2dShape s = conv_shape(c, H, W, g);
    size_t ncol = conv2d_col_floats(&s);
    float *col = ncol ? scratch(t, S_COL, ncol) : NULL;
    conv2d_forward_banded(x, w, b, &s, col, ncol, y);
}

static void conv_bwd(VaeTape *t, const VaeModel *m, const VaeConv *c, const float *x, int H, int W, Geo g,
                     const float *dy, float *dx, VaeGrads *gr) {
    const float *w = conv_w32(t, m, c);
    Conv2dShape s = conv_shape(c, H, W, g);
    size_t ncol = conv2d_col_floats(&s), kk = (size_t)c->k * c->k, rows = (size_t)c->cout * c->cin;
    float *col = ncol ? scratch(t, S_COL, ncol) : NULL;
    float *dw = gr->g[c->w];
    if (c->t_index >= 0) { dw = scratch(t, S_DW, rows * kk); memset(dw, 0, rows * kk * sizeof(float)); }
    conv2d_backward_banded(x, w, dy, &s, col, ncol, dx, dw, gr->g[c->b]);
    if (c->t_index >= 0) {   /* into the slice of the [cout, cin, kt, k, k] gradient */
        size_t kt = (size_t)m->p[c->w].shape[2];
        float *full = gr->g[c->w];
        for (size_t r = 0; r < rows; r++) {
            float *d = full + (r * kt + (size_t)c->t_index) * kk;
            for (size_t i = 0; i < kk; i++) d[i] += dw[r * kk + i];
        }
    }
}

void vae_conv_forward_tape(const VaeModel *m, const VaeConv *c, const float *x, int H, int W, VaeTape *t, float *y) {
    conv_fwd(t, m, c, x, H, W, same(c), y);
}

void vae_conv_backward(const VaeModel *m, const VaeConv *c, const float *x, int H, int W, const float *dy,
                       VaeTape *t, float *dx, VaeGrads *g) {
    conv_bwd(t, m, c, x, H, W, same(c), dy, dx, g);
}

/* ---- norms ---- */

static void norm_fwd(VaeTape *t, const VaeModel *m, const VaeNorm *n, const float *x, size_t hw, float *y) {
    const float *g = param32(t, S_GAMMA, m, n->gamma), *b = n->beta >= 0 ? param32(t, S_BETA, m, n->beta) : NULL;
    if (m->norm == VAE_NORM_GROUP) groupnorm_forward(x, n->C, hw, m->groups, m->eps, g, b, y);
    else channel_l2norm_forward(x, n->C, hw, g, y);
}

static void norm_bwd(VaeTape *t, const VaeModel *m, const VaeNorm *n, const float *dy, const float *x, size_t hw,
                     float *dx, VaeGrads *gr) {
    const float *g = param32(t, S_GAMMA, m, n->gamma);
    if (m->norm == VAE_NORM_GROUP)
        groupnorm_backward(dy, x, n->C, hw, m->groups, m->eps, g, dx, gr->g[n->gamma], n->beta >= 0 ? gr->g[n->beta] : NULL);
    else
        channel_l2norm_backward(dy, x, n->C, hw, g, dx, gr->g[n->gamma]);
}

static void add_into(float *y, const float *x, size_t n) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* dst[j, i] = src[i, j] for src [rows, cols] (row stride lds) into dst [cols, rows] (row stride ldd). */
static void transpose(const float *src, int rows, int cols, int lds, float *dst, int ldd) {
    enum { B = 32 };
    for (int i0 = 0; i0 < rows; i0 += B)
        for (int j0 = 0; j0 < cols; j0 += B)
            for (int i = i0; i < i0 + B && i < rows; i++)
                for (int j = j0; j < j0 + B && j < cols; j++) dst[(size_t)j * ldd + i] = src[(size_t)i * lds + j];
}

/* ---- ops: forward ---- */

static void res_fwd(VaeTape *t, const VaeModel *m, const VaeOp *op, VaeTapeOp *o, float *y) {
    const int H = o->H, W = o->W, ci = op->c1.cin, co = op->c1.cout;
    const size_t hw = (size_t)H * W;
    const float *x = o->buf[0];
    float *n1 = opbuf(o, 1, ci * hw), *t1 = opbuf(o, 2, ci * hw);
    float *h = opbuf(o, 3, co * hw), *n2 = opbuf(o, 4, co * hw), *t2 = opbuf(o, 5, co * hw);
    norm_fwd(t, m, &op->n1, x, hw, n1);
    silu_forward(n1, t1, ci * hw);
    conv_fwd(t, m, &op->c1, t1, H, W, same(&op->c1), h);
    norm_fwd(t, m, &op->n2, h, hw, n2);
    silu_forward(n2, t2, co * hw);
    conv_fwd(t, m, &op->c2, t2, H, W, same(&op->c2), y);
    if (op->sc.w >= 0) {
        float *s = scratch(t, S_T1, co * hw);
        conv_fwd(t, m, &op->sc, x, H, W, same(&op->sc), s);
        add_into(y, s, co * hw);
    } else {
        add_into(y, x, co * hw);
    }
}

/* the q|k|v convs of n [C, N] into qkv [3C, N] (fused: one conv of 3C outputs) */
static void qkv_fwd(VaeTape *t, const VaeModel *m, const VaeOp *op, const float *n, int H, int W, float *qkv) {
    const size_t cn = (size_t)op->n1.C * H * W;
    conv_fwd(t, m, &op->q, n, H, W, same(&op->q), qkv);
    if (!op->fused_qkv) {
        conv_fwd(t, m, &op->k, n, H, W, same(&op->k), qkv + cn);
        conv_fwd(t, m, &op->v, n, H, W, same(&op->v), qkv + 2 * cn);
    }
}

static void attn_fwd(VaeTape *t, const VaeModel *m, const VaeOp *op, VaeTapeOp *o, float *y) {
    const int C = op->n1.C, H = o->H, W = o->W, N = H * W;
    const size_t cn = (size_t)C * N;
    const float *x = o->buf[0];
    float *n = opbuf(o, 1, cn), *tok = opbuf(o, 2, 3 * cn), *ot = opbuf(o, 3, cn), *lse = opbuf(o, 4, (size_t)N);
    float *a = opbuf(o, 5, cn), *qkv = scratch(t, S_T1, 3 * cn);
    norm_fwd(t, m, &op->n1, x, (size_t)N, n);
    qkv_fwd(t, m, op, n, H, W, qkv);
    transpose(qkv, 3 * C, N, N, tok, 3 * C);
    attention_forward(tok, tok + C, tok + 2 * C, 3 * C, N, 1, C, NULL, ot, C, lse);
    transpose(ot, N, C, C, a, N);
    conv_fwd(t, m, &op->o, a, H, W, same(&op->o), y);
    add_into(y, x, cn);
}

static int op_in_channels(const VaeOp *op) {
    return op->kind == VAE_OP_NORM_SILU || op->kind == VAE_OP_ATTN ? op->n1.C : op->c1.cin;
}

int vae_net_forward_tape(const VaeModel *m, const VaeNet *net, const float *x, int C, int H, int W,
                         VaeTape *t, Err *e) {
    if (t->cap < net->n + 1) {
        t->ops = xrealloc(t->ops, (size_t)(net->n + 1) * sizeof *t->ops);
        memset(t->ops + t->cap, 0, (size_t)(net->n + 1 - t->cap) * sizeof *t->ops);
        t->cap = net->n + 1;
    }
    t->n = net->n;
    size_t n = (size_t)C * H * W;
    memcpy(opbuf(&t->ops[0], 0, n), x, n * sizeof(float));
    for (int i = 0; i < net->n; i++) {
        const VaeOp *op = &net->ops[i];
        VaeTapeOp *o = &t->ops[i];
        o->C = C; o->H = H; o->W = W;
        if (C != op_in_channels(op)) return err_set(e, "VAE op %d: input has %d channels, expected %d", i, C, op_in_channels(op));
        int oc = C, oh = H, ow = W;
        if (op->kind == VAE_OP_CONV || op->kind == VAE_OP_UP || op->kind == VAE_OP_DOWN) oc = op->c1.cout;
        if (op->kind == VAE_OP_RES) oc = op->c2.cout;
        if (op->kind == VAE_OP_UP) { oh = 2 * H; ow = 2 * W; }
        if (op->kind == VAE_OP_DOWN) {
            if (H < 2 || W < 2) return err_set(e, "VAE downsample: image %dx%d too small", W, H);
            oh = (H + 1 - 3) / 2 + 1; ow = (W + 1 - 3) / 2 + 1;
        }
        /* the output is the next op's input (op n: the tape's output slot) */
        float *y = opbuf(&t->ops[i + 1], 0, (size_t)oc * oh * ow);
        const float *in = o->buf[0];
        switch (op->kind) {
        case VAE_OP_CONV: conv_fwd(t, m, &op->c1, in, H, W, same(&op->c1), y); break;
        case VAE_OP_DOWN: conv_fwd(t, m, &op->c1, in, H, W, DOWN_GEO, y); break;
        case VAE_OP_NORM_SILU: {
            float *nb = opbuf(o, 1, (size_t)C * H * W);
            norm_fwd(t, m, &op->n1, in, (size_t)H * W, nb);
            silu_forward(nb, y, (size_t)C * H * W);
            break;
        }
        case VAE_OP_RES: res_fwd(t, m, op, o, y); break;
        case VAE_OP_ATTN: attn_fwd(t, m, op, o, y); break;
        case VAE_OP_UP: {
            float *u = opbuf(o, 1, (size_t)C * H * W * 4);
            upsample_nearest2x_forward(in, C, H, W, u);
            conv_fwd(t, m, &op->c1, u, oh, ow, same(&op->c1), y);
            break;
        }
        }
        C = oc; H = oh; W = ow;
    }
    t->C = C; t->H = H; t->W = W;
    /* the output lives in the slot after the last op; expose it as t->y without copying */
    VaeTapeOp *last = &t->ops[net->n];
    t->y = last->buf[0];
    return 0;
}

/* ---- ops: backward ---- */

static void res_bwd(VaeTape *t, const VaeModel *m, const VaeOp *op, const VaeTapeOp *o, const float *dy, float *dx, VaeGrads *g) {
    const int H = o->H, W = o->W, ci = op->c1.cin, co = op->c1.cout;
    const size_t hw = (size_t)H * W;
    const float *x = o->buf[0], *n1 = o->buf[1], *t1 = o->buf[2], *h = o->buf[3], *n2 = o->buf[4], *t2 = o->buf[5];
    if (op->sc.w >= 0) conv_bwd(t, m, &op->sc, x, H, W, same(&op->sc), dy, dx, g);
    else memcpy(dx, dy, co * hw * sizeof(float));
    float *dt2 = scratch(t, S_G1, co * hw), *dn2 = scratch(t, S_G2, co * hw), *dh = scratch(t, S_G3, co * hw);
    float *dt1 = scratch(t, S_G4, ci * hw), *dn1 = scratch(t, S_G5, ci * hw), *dxn = scratch(t, S_G6, ci * hw);
    conv_bwd(t, m, &op->c2, t2, H, W, same(&op->c2), dy, dt2, g);
    silu_backward(dt2, n2, dn2, co * hw);
    norm_bwd(t, m, &op->n2, dn2, h, hw, dh, g);
    conv_bwd(t, m, &op->c1, t1, H, W, same(&op->c1), dh, dt1, g);
    silu_backward(dt1, n1, dn1, ci * hw);
    norm_bwd(t, m, &op->n1, dn1, x, hw, dxn, g);
    add_into(dx, dxn, ci * hw);
}

static void attn_bwd(VaeTape *t, const VaeModel *m, const VaeOp *op, const VaeTapeOp *o, const float *dy, float *dx, VaeGrads *g) {
    const int C = op->n1.C, H = o->H, W = o->W, N = H * W;
    const size_t cn = (size_t)C * N;
    const float *x = o->buf[0], *n = o->buf[1], *tok = o->buf[2], *ot = o->buf[3], *lse = o->buf[4], *a = o->buf[5];
    float *da = scratch(t, S_G1, cn), *dot_ = scratch(t, S_G2, cn), *dtok = scratch(t, S_G3, 3 * cn);
    float *dqkv = scratch(t, S_G4, 3 * cn), *dn = scratch(t, S_G5, cn), *tmp = scratch(t, S_G6, cn);
    memcpy(dx, dy, cn * sizeof(float));                        /* the residual */
    conv_bwd(t, m, &op->o, a, H, W, same(&op->o), dy, da, g);
    transpose(da, C, N, N, dot_, C);
    attention_backward(dot_, C, tok, tok + C, tok + 2 * C, 3 * C, ot, lse, N, 1, C, NULL,
                       dtok, dtok + C, dtok + 2 * C, 3 * C);
    transpose(dtok, N, 3 * C, 3 * C, dqkv, N);
    conv_bwd(t, m, &op->q, n, H, W, same(&op->q), dqkv, dn, g);
    if (!op->fused_qkv) {
        conv_bwd(t, m, &op->k, n, H, W, same(&op->k), dqkv + cn, tmp, g);
        add_into(dn, tmp, cn);
        conv_bwd(t, m, &op->v, n, H, W, same(&op->v), dqkv + 2 * cn, tmp, g);
        add_into(dn, tmp, cn);
    }
    norm_bwd(t, m, &op->n1, dn, x, (size_t)N, tmp, g);
    add_into(dx, tmp, cn);
}

void vae_net_backward(const VaeModel *m, const VaeNet *net, VaeTape *t, const float *dy, float *dx, VaeGrads *g) {
    const float *cur = dy;
    if (net->n == 0) { if (dx) memcpy(dx, dy, (size_t)t->C * t->H * t->W * sizeof(float)); return; }
    for (int i = net->n - 1; i >= 0; i--) {
        const VaeOp *op = &net->ops[i];
        const VaeTapeOp *o = &t->ops[i];
        const int C = o->C, H = o->H, W = o->W;
        const size_t n = (size_t)C * H * W;
        float *out;
        if (i == 0 && dx) out = dx;
        else if (i == 0 && op->kind == VAE_OP_CONV) out = NULL;   /* e.g. conv_in: no image gradient needed */
        else out = scratch(t, (net->n - i) % 2 ? S_PA : S_PB, n);
        switch (op->kind) {
        case VAE_OP_CONV: conv_bwd(t, m, &op->c1, o->buf[0], H, W, same(&op->c1), cur, out, g); break;
        case VAE_OP_DOWN: conv_bwd(t, m, &op->c1, o->buf[0], H, W, DOWN_GEO, cur, out, g); break;
        case VAE_OP_NORM_SILU: {
            float *dn = scratch(t, S_G1, n);
            silu_backward(cur, o->buf[1], dn, n);
            norm_bwd(t, m, &op->n1, dn, o->buf[0], (size_t)H * W, out, g);
            break;
        }
        case VAE_OP_RES: res_bwd(t, m, op, o, cur, out, g); break;
        case VAE_OP_ATTN: attn_bwd(t, m, op, o, cur, out, g); break;
        case VAE_OP_UP: {
            float *du = scratch(t, S_G1, n * 4);
            conv_bwd(t, m, &op->c1, o->buf[1], 2 * H, 2 * W, same(&op->c1), cur, du, g);
            upsample_nearest2x_backward(du, C, H, W, out);
            break;
        }
        }
        cur = out;
    }
}
