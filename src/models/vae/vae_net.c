/* vae_net.c — weight table, loading, random init and the op executor shared by both VAEs. */
#include "models/vae/vae_net.h"
#include "models/vae/vae_pool.h"
#include "base/rng.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/conv2d.h"
#include "kernels/groupnorm.h"
#include "kernels/upsample.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vae_model_init(VaeModel *m, VaeNormKind norm, VaeWeightLayout layout) {
    memset(m, 0, sizeof *m);
    m->norm = norm;
    m->conv_layout = layout;
    m->groups = 32;
    m->eps = 1e-6f;
    m->quant.w = m->post_quant.w = -1;
    m->factor = 8;
}

void vae_model_free(VaeModel *m) {
    for (int i = 0; i < m->np; i++) free(m->p[i].name);
    free(m->p);
    free(m->enc.ops);
    free(m->dec.ops);
    if (m->set.files) stset_close(&m->set);
    free(m->owned);
    memset(m, 0, sizeof *m);
}

int vae_param_add(VaeModel *m, const char *name, VaeRole role, int fan_in, int ndim, const int64_t *shape) {
    if (m->np == m->cap) { m->cap = m->cap ? 2 * m->cap : 64; m->p = xrealloc(m->p, (size_t)m->cap * sizeof *m->p); }
    VaeParam *p = &m->p[m->np];
    memset(p, 0, sizeof *p);
    p->name = xstrdup(name);
    p->role = role;
    p->fan_in = fan_in;
    p->ndim = ndim;
    for (int d = 0; d < ndim; d++) p->shape[d] = shape[d];
    return m->np++;
}

VaeConv vae_conv_declare(VaeModel *m, const char *prefix, VaeWeightLayout layout, int cin, int cout, int k) {
    VaeConv c = { .cin = cin, .cout = cout, .k = k, .t_index = -1 };
    int64_t shape[5] = { cout, cin, k, k, k };
    int ndim = 4;
    if (layout == VAE_W_LINEAR) ndim = 2;
    if (layout == VAE_W_CAUSAL3D) { ndim = 5; c.t_index = k - 1; }   /* kt = k for these convs */
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    c.w = vae_param_add(m, name, VAE_ROLE_CONV_WEIGHT, cin * k * k, ndim, shape);
    snprintf(name, sizeof name, "%s.bias", prefix);
    int64_t nb = cout;
    c.b = vae_param_add(m, name, VAE_ROLE_BIAS, cin * k * k, 1, &nb);
    return c;
}

VaeNorm vae_norm_declare(VaeModel *m, const char *prefix, int C, int gamma_ndim) {
    VaeNorm n = { .C = C, .beta = -1 };
    char name[256];
    int64_t shape[4] = { C, 1, 1, 1 };
    if (m->norm == VAE_NORM_GROUP) {
        snprintf(name, sizeof name, "%s.weight", prefix);
        n.gamma = vae_param_add(m, name, VAE_ROLE_NORM_GAMMA, 0, 1, shape);
        snprintf(name, sizeof name, "%s.bias", prefix);
        n.beta = vae_param_add(m, name, VAE_ROLE_NORM_BETA, 0, 1, shape);
    } else {
        snprintf(name, sizeof name, "%s.gamma", prefix);
        n.gamma = vae_param_add(m, name, VAE_ROLE_NORM_GAMMA, 0, gamma_ndim, shape);
    }
    return n;
}

void vae_net_push(VaeNet *net, const VaeOp *op) {
    if (net->n == net->cap) { net->cap = net->cap ? 2 * net->cap : 32; net->ops = xrealloc(net->ops, (size_t)net->cap * sizeof *op); }
    net->ops[net->n++] = *op;
}

void vae_net_push_res(VaeModel *m, VaeNet *net, const char *prefix, int cin, int cout) {
    char name[256];
    VaeOp op = { .kind = VAE_OP_RES };
    op.sc.w = -1;
    snprintf(name, sizeof name, "%s.norm1", prefix); op.n1 = vae_norm_declare(m, name, cin, 4);
    snprintf(name, sizeof name, "%s.conv1", prefix); op.c1 = vae_conv_declare(m, name, m->conv_layout, cin, cout, 3);
    snprintf(name, sizeof name, "%s.norm2", prefix); op.n2 = vae_norm_declare(m, name, cout, 4);
    snprintf(name, sizeof name, "%s.conv2", prefix); op.c2 = vae_conv_declare(m, name, m->conv_layout, cout, cout, 3);
    if (cin != cout) {
        snprintf(name, sizeof name, "%s.conv_shortcut", prefix);
        op.sc = vae_conv_declare(m, name, m->conv_layout, cin, cout, 1);
    }
    vae_net_push(net, &op);
}

static int dtype_is_float(DType t) { return t == DT_F32 || t == DT_BF16 || t == DT_F16 || t == DT_F64; }

int vae_model_bind(VaeModel *m, const StSet *s, Err *e) {
    for (int i = 0; i < m->np; i++) {
        VaeParam *p = &m->p[i];
        const StTensor *t = stset_find(s, p->name);
        if (!t) return err_set(e, "VAE weights: missing tensor %s", p->name);
        if (!dtype_is_float(t->dtype))
            return err_set(e, "%s: tensor %s has dtype %s, expected a floating type", t->file, p->name, dtype_name(t->dtype));
        if (st_expect_shape(t, p->ndim, p->shape, e)) return -1;
        p->dtype = t->dtype;
        p->data = t->data;
    }
    return 0;
}

size_t vae_model_numel(const VaeModel *m) {
    size_t n = 0;
    for (int i = 0; i < m->np; i++) {
        size_t k = 1;
        for (int d = 0; d < m->p[i].ndim; d++) k *= (size_t)m->p[i].shape[d];
        n += k;
    }
    return n;
}

size_t vae_param_numel(const VaeParam *p) {
    size_t k = 1;
    for (int d = 0; d < p->ndim; d++) k *= (size_t)p->shape[d];
    return k;
}

void vae_model_init_random(VaeModel *m, uint64_t seed, DType dt) {
    size_t total = 0, es = dtype_size(dt);
    for (int i = 0; i < m->np; i++) total += vae_param_numel(&m->p[i]);
    free(m->owned);
    m->owned = xmalloc(total * es);
    unsigned char *dst = m->owned;
    size_t chunk = 1 << 16;
    float *buf = xmalloc(chunk * sizeof(float));
    for (int i = 0; i < m->np; i++) {
        VaeParam *p = &m->p[i];
        Rng r;
        rng_seed_stream(&r, seed, hash64(p->name, strlen(p->name), 0));
        size_t n = vae_param_numel(p);
        float bound = p->fan_in > 0 ? 1.0f / sqrtf((float)p->fan_in) : 1.0f;
        for (size_t off = 0; off < n; off += chunk) {
            size_t len = n - off < chunk ? n - off : chunk;
            switch (p->role) {
            case VAE_ROLE_CONV_WEIGHT: rng_fill_uniform(&r, buf, len, -bound, bound); break;
            case VAE_ROLE_NORM_GAMMA: rng_fill_normal(&r, buf, len, 1.0f, 0.1f); break;
            default: rng_fill_normal(&r, buf, len, 0.0f, 0.05f); break;
            }
            dtype_from_f32(dt, buf, dst + off * es, len);
        }
        p->dtype = dt;
        p->data = dst;
        dst += n * es;
    }
    free(buf);
}

/* ---- per-layer f32 weights ---- */

static float *param_f32(const VaeModel *m, int idx) {
    const VaeParam *p = &m->p[idx];
    size_t n = vae_param_numel(p);
    float *f = xmalloc(n * sizeof(float));
    dtype_to_f32(p->dtype, p->data, f, n);
    return f;
}

/* [cout, cin, k, k] f32 from any layout (a causal 3-D weight contributes its slice t_index). */
static float *conv_weight_f32(const VaeModel *m, const VaeConv *c) {
    const VaeParam *p = &m->p[c->w];
    if (c->t_index < 0) return param_f32(m, c->w);
    size_t kk = (size_t)c->k * c->k, kt = (size_t)p->shape[2], es = dtype_size(p->dtype);
    size_t rows = (size_t)c->cout * c->cin;
    float *f = xmalloc(rows * kk * sizeof(float));
    const unsigned char *src = p->data;
    #pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++)
        dtype_to_f32(p->dtype, src + ((r * kt + (size_t)c->t_index) * kk) * es, f + r * kk, kk);
    return f;
}

static void conv_run(const VaeModel *m, VaePool *pool, const VaeConv *c, const float *x, int H, int W,
                     int stride, int pt, int pl, int pb, int pr, float *y) {
    float *w = conv_weight_f32(m, c), *b = param_f32(m, c->b);
    Conv2dShape s = { .cin = c->cin, .h = H, .w = W, .cout = c->cout, .k = c->k, .stride = stride,
                      .pad_top = pt, .pad_left = pl, .pad_bottom = pb, .pad_right = pr };
    size_t ncol = conv2d_col_floats(&s);
    float *col = ncol ? vae_pool_col(pool, ncol) : NULL;
    conv2d_forward_banded(x, w, b, &s, col, ncol, y);
    free(w);
    free(b);
}

/* k x k, padding k/2, stride 1 */
static void conv_same(const VaeModel *m, VaePool *pool, const VaeConv *c, const float *x, int H, int W, float *y) {
    int p = c->k / 2;
    conv_run(m, pool, c, x, H, W, 1, p, p, p, p, y);
}

void vae_conv_apply(const VaeModel *m, const VaeConv *c, const float *x, int H, int W, float *y) {
    VaePool pool = {0};
    conv_same(m, &pool, c, x, H, W, y);
    vae_pool_free(&pool);
}

/* ---- layer ops ---- */

static void norm_apply(const VaeModel *m, const VaeNorm *n, const float *x, size_t hw, float *y) {
    float *g = param_f32(m, n->gamma), *b = n->beta >= 0 ? param_f32(m, n->beta) : NULL;
    if (m->norm == VAE_NORM_GROUP) groupnorm_forward(x, n->C, hw, m->groups, m->eps, g, b, y);
    else channel_l2norm_forward(x, n->C, hw, g, y);
    free(g);
    free(b);
}

static void add_inplace(float *y, const float *x, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* Residual block on x [cin, H, W] -> new [cout, H, W]. At most three full activations live at once. */
static float *res_forward(const VaeModel *m, VaePool *pool, const VaeOp *op, const float *x, int H, int W) {
    size_t hw = (size_t)H * W;
    float *t = vae_pool_get(pool, (size_t)op->c1.cin * hw);
    norm_apply(m, &op->n1, x, hw, t);
    silu_forward(t, t, (size_t)op->c1.cin * hw);
    float *h = vae_pool_get(pool, (size_t)op->c1.cout * hw);
    conv_same(m, pool, &op->c1, t, H, W, h);
    vae_pool_put(pool, t);
    norm_apply(m, &op->n2, h, hw, h);
    silu_forward(h, h, (size_t)op->c1.cout * hw);
    float *out = vae_pool_get(pool, (size_t)op->c2.cout * hw);
    conv_same(m, pool, &op->c2, h, H, W, out);
    if (op->sc.w >= 0) {                     /* h is free now: reuse it for the shortcut */
        conv_same(m, pool, &op->sc, x, H, W, h);
        add_inplace(out, h, (size_t)op->c2.cout * hw);
    } else {
        add_inplace(out, x, (size_t)op->c2.cout * hw);
    }
    vae_pool_put(pool, h);
    return out;
}

/* dst[j, i] = src[i, j] for src [rows, cols] (row stride lds) into dst [cols, rows] (row stride ldd). */
static void transpose(const float *src, int rows, int cols, int lds, float *dst, int ldd) {
    enum { B = 32 };
    #pragma omp parallel for collapse(2) schedule(static)
    for (int i0 = 0; i0 < rows; i0 += B)
        for (int j0 = 0; j0 < cols; j0 += B)
            for (int i = i0; i < i0 + B && i < rows; i++)
                for (int j = j0; j < j0 + B && j < cols; j++) dst[(size_t)j * ldd + i] = src[(size_t)i * lds + j];
}

/* Single-head self-attention over the N = H*W pixels (the shared tiled attention kernel works on
 * token-major rows, so q|k|v and the result are transposed around it). */
static float *attn_forward(const VaeModel *m, VaePool *pool, const VaeOp *op, const float *x, int H, int W) {
    const int C = op->n1.C, N = H * W;
    const size_t cn = (size_t)C * N;
    float *n = vae_pool_get(pool, cn);
    norm_apply(m, &op->n1, x, (size_t)N, n);
    float *qkv = vae_pool_get(pool, 3 * cn);         /* [3C, N]: q, k, v channels */
    if (op->fused_qkv) {
        conv_same(m, pool, &op->q, n, H, W, qkv);      /* channels [0,C) q, [C,2C) k, [2C,3C) v */
    } else {
        conv_same(m, pool, &op->q, n, H, W, qkv);
        conv_same(m, pool, &op->k, n, H, W, qkv + cn);
        conv_same(m, pool, &op->v, n, H, W, qkv + 2 * cn);
    }
    float *tok = vae_pool_get(pool, 3 * cn);         /* [N, 3C] token-major */
    transpose(qkv, 3 * C, N, N, tok, 3 * C);
    float *lse = vae_pool_get(pool, (size_t)N);
    attention_forward(tok, tok + C, tok + 2 * C, 3 * C, N, 1, C, NULL, qkv, C, lse);   /* out [N, C] */
    transpose(qkv, N, C, C, n, N);                     /* back to [C, N] */
    vae_pool_put(pool, lse);
    vae_pool_put(pool, tok);
    vae_pool_put(pool, qkv);
    float *out = vae_pool_get(pool, cn);
    conv_same(m, pool, &op->o, n, H, W, out);
    add_inplace(out, x, cn);
    vae_pool_put(pool, n);
    return out;
}

int vae_net_forward(const VaeModel *m, const VaeNet *net, const float *x, int C, int H, int W,
                    float **y, int *oc, int *oh, int *ow, Err *e) {
    VaePool pool = {0};
    const float *cur = x;
    float *owned = NULL;
    int rc = 0;
    for (int i = 0; i < net->n && !rc; i++) {
        const VaeOp *op = &net->ops[i];
        int expect = op->kind == VAE_OP_NORM_SILU ? op->n1.C : op->kind == VAE_OP_ATTN ? op->n1.C : op->c1.cin;
        if (C != expect) { rc = err_set(e, "VAE op %d: input has %d channels, expected %d", i, C, expect); break; }
        float *next = NULL;
        size_t hw = (size_t)H * W;
        switch (op->kind) {
        case VAE_OP_CONV:
            next = vae_pool_get(&pool, (size_t)op->c1.cout * hw);
            conv_same(m, &pool, &op->c1, cur, H, W, next);
            C = op->c1.cout;
            break;
        case VAE_OP_NORM_SILU:
            next = vae_pool_get(&pool, (size_t)C * hw);
            norm_apply(m, &op->n1, cur, hw, next);
            silu_forward(next, next, (size_t)C * hw);
            break;
        case VAE_OP_RES:
            next = res_forward(m, &pool, op, cur, H, W);
            C = op->c2.cout;
            break;
        case VAE_OP_ATTN:
            next = attn_forward(m, &pool, op, cur, H, W);
            break;
        case VAE_OP_DOWN: {
            if (H < 2 || W < 2) { rc = err_set(e, "VAE downsample: image %dx%d too small", W, H); break; }
            int H2 = (H + 1 - 3) / 2 + 1, W2 = (W + 1 - 3) / 2 + 1;
            next = vae_pool_get(&pool, (size_t)op->c1.cout * H2 * W2);
            conv_run(m, &pool, &op->c1, cur, H, W, 2, 0, 0, 1, 1, next);
            C = op->c1.cout; H = H2; W = W2;
            break;
        }
        case VAE_OP_UP: {
            /* the input is dead once upsampled: hand it back first so the conv can reuse it */
            float *up = vae_pool_get(&pool, (size_t)C * hw * 4);
            upsample_nearest2x_forward(cur, C, H, W, up);
            vae_pool_put(&pool, owned);
            owned = NULL;
            H *= 2; W *= 2;
            next = vae_pool_get(&pool, (size_t)op->c1.cout * H * W);
            conv_same(m, &pool, &op->c1, up, H, W, next);
            vae_pool_put(&pool, up);
            C = op->c1.cout;
            break;
        }
        }
        if (rc) break;
        vae_pool_put(&pool, owned);
        owned = next;
        cur = next;
    }
    if (!rc) {
        size_t n = (size_t)C * H * W;
        *y = xmalloc(n * sizeof(float));
        memcpy(*y, cur, n * sizeof(float));
        *oc = C; *oh = H; *ow = W;
    }
    vae_pool_put(&pool, owned);
    vae_pool_free(&pool);
    return rc;
}
