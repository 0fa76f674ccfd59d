/* test_vae_backward.c — finite-difference checks of every VAE layer's backward: the kernels (conv
 * incl. the stride-2 right/bottom-padded down conv and 1x1, group norm, channel L2 norm, nearest
 * upsample), each engine op (CONV, NORM_SILU, RES with and without shortcut, ATTN fused/unfused,
 * DOWN, UP) in both norm kinds and weight layouts, and the whole autoencoder objective of both
 * families (quant / post_quant convs, sampling, KL). Also: the tape forward equals the inference
 * forward, and a few steps of AdamW lower the reconstruction loss. */
#include "test_util.h"
#include "test_vae_fixtures.h"
#include "base/rng.h"
#include "kernels/conv2d.h"
#include "kernels/groupnorm.h"
#include "kernels/upsample.h"
#include "models/vae/vae.h"
#include "models/vae/vae_autoencoder.h"
#include "models/vae/vae_backward.h"
#include "train/optim.h"
#include <math.h>
#include <omp.h>

static float *randv(Rng *r, size_t n, float s) { float *x = malloc(n * sizeof(float)); rng_fill_normal(r, x, n, 0, s); return x; }
static double dot(const float *a, const float *b, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i]; return s; }

typedef double (*LossFn)(void *ctx);

/* Central differences against the analytic gradient on about `samples` evenly spaced entries of
 * p and on its three largest gradient entries. An entry fails when
 *   |numeric − analytic| > tol·(|numeric| + |analytic| + 1% of the largest entry) + atol:
 * f32 rounding in the forward leaves an absolute noise in the differences (atol) that would
 * otherwise dominate entries near zero. */
static void fd_check(const char *what, LossFn f, void *ctx, float *p, const float *grad, size_t n, float h,
                     double tol, int samples, double atol) {
    size_t step = n > (size_t)samples ? n / (size_t)samples : 1, top[3] = {0, 0, 0};
    double gmax = 0;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(grad[i]);
        gmax = fmax(gmax, a);
        if (a > fabs(grad[top[2]])) {
            top[2] = i;
            for (int j = 2; j > 0 && fabs(grad[top[j]]) > fabs(grad[top[j - 1]]); j--) { size_t t = top[j]; top[j] = top[j - 1]; top[j - 1] = t; }
        }
    }
    size_t *at = malloc(((size_t)samples + 4) * sizeof *at), na = 0;
    for (size_t i = step / 2; i < n && na < (size_t)samples + 1; i += step) at[na++] = i;
    for (int j = 0; j < 3 && j < (int)n; j++) at[na++] = top[j];
    for (size_t k = 0; k < na; k++) {
        size_t i = at[k];
        float keep = p[i];
        p[i] = keep + h; double lp = f(ctx);
        p[i] = keep - h; double lm = f(ctx);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * h), ana = grad[i];
        if (fabs(num - ana) > tol * (fabs(num) + fabs(ana) + 1e-2 * gmax) + atol)
            fail_msg("%s: finite-difference mismatch at %zu: numeric %.6g, analytic %.6g (largest entry %.3g)",
                     what, i, num, ana, gmax);
    }
    free(at);
}

/* ---- kernels ---- */

typedef struct ConvCase { Conv2dShape s; float *x, *w, *b, *r, *y; } ConvCase;
static double conv_loss(void *c) {
    ConvCase *k = c;
    conv2d_forward(k->x, k->w, k->b, &k->s, k->y);
    return dot(k->y, k->r, (size_t)k->s.cout * conv2d_out_h(&k->s) * conv2d_out_w(&k->s));
}

static void test_conv2d_backward(void **state) {
    (void)state;
    Conv2dShape cases[] = {
        { .cin = 3, .h = 6, .w = 7, .cout = 4, .k = 3, .stride = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1 },
        { .cin = 4, .h = 8, .w = 9, .cout = 3, .k = 3, .stride = 2, .pad_bottom = 1, .pad_right = 1 },   /* the VAE down conv */
        { .cin = 4, .h = 7, .w = 6, .cout = 3, .k = 3, .stride = 2, .pad_bottom = 1, .pad_right = 1 },
        { .cin = 5, .h = 4, .w = 3, .cout = 6, .k = 1, .stride = 1 },                                    /* pointwise */
        { .cin = 2, .h = 4, .w = 2, .cout = 3, .k = 3, .stride = 2, .pad_top = 2, .pad_left = 3, .pad_right = 2 },
    };
    Rng r; rng_seed(&r, 11);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ConvCase k = { .s = cases[c] };
        const Conv2dShape *s = &k.s;
        size_t nx = (size_t)s->cin * s->h * s->w, nw = (size_t)s->cout * s->cin * s->k * s->k;
        size_t ny = (size_t)s->cout * conv2d_out_h(s) * conv2d_out_w(s);
        k.x = randv(&r, nx, 1); k.w = randv(&r, nw, 0.5f); k.b = randv(&r, s->cout, 0.5f); k.r = randv(&r, ny, 1);
        k.y = malloc(ny * 4);
        float *dx = malloc(nx * 4), *dw = calloc(nw, 4), *db = calloc(s->cout, 4);
        conv2d_backward(k.x, k.w, k.r, s, dx, dw, db);
        char what[64];
        snprintf(what, sizeof what, "conv case %zu dx", c); fd_check(what, conv_loss, &k, k.x, dx, nx, 1e-2f, 1e-2, 40, 1e-4);
        snprintf(what, sizeof what, "conv case %zu dw", c); fd_check(what, conv_loss, &k, k.w, dw, nw, 1e-2f, 1e-2, 40, 1e-4);
        snprintf(what, sizeof what, "conv case %zu db", c); fd_check(what, conv_loss, &k, k.b, db, s->cout, 1e-2f, 1e-2, 40, 1e-4);
        /* banded (one output row per band) = unbanded; dw, db accumulate */
        size_t ncol = conv2d_col_floats_min(s);
        float *col = ncol ? malloc(ncol * 4) : NULL, *dx2 = malloc(nx * 4), *dw2 = calloc(nw, 4), *db2 = calloc(s->cout, 4);
        conv2d_backward_banded(k.x, k.w, k.r, s, col, ncol, dx2, dw2, db2);
        conv2d_backward_banded(k.x, k.w, k.r, s, col, ncol, NULL, dw2, NULL);
        for (size_t i = 0; i < nx; i++) assert_float_equal(dx2[i], dx[i], 1e-4);
        for (size_t i = 0; i < nw; i++) assert_float_equal(dw2[i], 2 * dw[i], 1e-4);
        for (int i = 0; i < s->cout; i++) assert_float_equal(db2[i], db[i], 1e-4);
        free(col); free(dx2); free(dw2); free(db2);
        free(k.x); free(k.w); free(k.b); free(k.r); free(k.y); free(dx); free(dw); free(db);
    }
}

enum { NC = 8, NHW = 10, NG = 4 };
typedef struct NormCase { int l2; float x[NC * NHW], g[NC], b[NC], r[NC * NHW], y[NC * NHW]; } NormCase;
static double norm_loss(void *c) {
    NormCase *k = c;
    if (k->l2) channel_l2norm_forward(k->x, NC, NHW, k->g, k->y);
    else groupnorm_forward(k->x, NC, NHW, NG, 1e-6f, k->g, k->b, k->y);
    return dot(k->y, k->r, NC * NHW);
}

static void test_norms_backward(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 12);
    for (int l2 = 0; l2 < 2; l2++) {
        NormCase k = { .l2 = l2 };
        rng_fill_normal(&r, k.x, NC * NHW, 0.5f, 2); rng_fill_normal(&r, k.g, NC, 1, 0.3f);
        rng_fill_normal(&r, k.b, NC, 0, 0.3f); rng_fill_normal(&r, k.r, NC * NHW, 0, 1);
        float dx[NC * NHW], dg[NC] = {0}, db[NC] = {0};
        if (l2) channel_l2norm_backward(k.r, k.x, NC, NHW, k.g, dx, dg);
        else groupnorm_backward(k.r, k.x, NC, NHW, NG, 1e-6f, k.g, dx, dg, db);
        const char *name = l2 ? "channel L2 norm" : "group norm";
        char what[64];
        snprintf(what, sizeof what, "%s dx", name); fd_check(what, norm_loss, &k, k.x, dx, NC * NHW, 1e-2f, 1e-2, 80, 1e-4);
        snprintf(what, sizeof what, "%s dgamma", name); fd_check(what, norm_loss, &k, k.g, dg, NC, 1e-2f, 1e-2, 80, 1e-4);
        if (!l2) fd_check("group norm dbeta", norm_loss, &k, k.b, db, NC, 1e-2f, 1e-2, 80, 1e-4);
    }
    /* a pixel whose channels are all zero: F.normalize's clamp, gradient s·gamma·dy/1e-12 is
     * finite only through the clamp, so it is simply not NaN */
    float x[2 * 2] = { 0, 1, 0, 2 }, dy[4] = { 1, 1, 1, 1 }, dx[4];
    channel_l2norm_backward(dy, x, 2, 2, NULL, dx, NULL);
    for (int i = 0; i < 4; i++) assert_false(isnan(dx[i]));
}

static void test_upsample_backward(void **state) {
    (void)state;
    enum { C = 2, H = 3, W = 4 };
    Rng r; rng_seed(&r, 13);
    float x[C * H * W], g[C * 4 * H * W], y[C * 4 * H * W], dx[C * H * W];
    rng_fill_normal(&r, x, C * H * W, 0, 1); rng_fill_normal(&r, g, C * 4 * H * W, 0, 1);
    upsample_nearest2x_forward(x, C, H, W, y);
    upsample_nearest2x_backward(g, C, H, W, dx);
    /* the adjoint: <up(x), g> = <x, upᵀ(g)>, and the loss is linear so this is the gradient */
    assert_float_equal(dot(y, g, C * 4 * H * W), dot(x, dx, C * H * W), 1e-4);
    assert_float_equal(dx[0], g[0] + g[1] + g[2 * W] + g[2 * W + 1], 1e-6);
}

/* ---- engine ops ---- */

typedef struct NetCase {
    VaeModel m;
    int C, H, W;
    float *x, *r;
    VaeTape t;
} NetCase;

static void net_forward(NetCase *k) {
    Err e = {0};
    if (vae_net_forward_tape(&k->m, &k->m.enc, k->x, k->C, k->H, k->W, &k->t, &e)) fail_msg("%s", e.msg);
}

static double net_loss(void *c) {
    NetCase *k = c;
    net_forward(k);
    return dot(k->t.y, k->r, (size_t)k->t.C * k->t.H * k->t.W);
}

/* Builds the op(s) described by `kind` into m.enc, checks the tape forward against vae_net_forward,
 * then the input gradient and every param's gradient by finite differences. */
static void check_net(const char *what, NetCase *k) {
    Rng r; rng_seed(&r, 21);
    vae_model_init_random(&k->m, 5, DT_F32);
    size_t nx = (size_t)k->C * k->H * k->W;
    k->x = randv(&r, nx, 1);
    Err e = {0};
    float *ref; int oc, oh, ow;
    if (vae_net_forward(&k->m, &k->m.enc, k->x, k->C, k->H, k->W, &ref, &oc, &oh, &ow, &e)) fail_msg("%s", e.msg);
    memset(&k->t, 0, sizeof k->t);
    net_forward(k);
    assert_int_equal(k->t.C, oc); assert_int_equal(k->t.H, oh); assert_int_equal(k->t.W, ow);
    size_t ny = (size_t)oc * oh * ow;
    for (size_t i = 0; i < ny; i++) assert_float_equal(k->t.y[i], ref[i], 1e-5);
    free(ref);
    k->r = randv(&r, ny, 1);
    net_loss(k);
    VaeGrads g; vae_grads_init(&g, &k->m);
    float *dx = malloc(nx * 4);
    vae_net_backward(&k->m, &k->m.enc, &k->t, k->r, dx, &g);
    char name[160];
    snprintf(name, sizeof name, "%s: dx", what);
    fd_check(name, net_loss, k, k->x, dx, nx, 3e-3f, 1e-2, 30, 3e-4);
    for (int i = 0; i < k->m.np; i++) {
        VaeParam *p = &k->m.p[i];
        snprintf(name, sizeof name, "%s: %s", what, p->name);
        fd_check(name, net_loss, k, (float *)p->data, g.g[i], vae_param_numel(p), 3e-3f, 1e-2, 30, 3e-4);
    }
    free(dx);
    vae_grads_free(&g);
    vae_tape_free(&k->t);
    free(k->x); free(k->r);
    vae_model_free(&k->m);
}

static void push_conv(VaeModel *m, VaeOpKind kind, VaeWeightLayout layout, int cin, int cout, int k) {
    VaeOp op = { .kind = kind };
    op.c1 = vae_conv_declare(m, kind == VAE_OP_CONV ? "conv" : kind == VAE_OP_UP ? "up" : "down", layout, cin, cout, k);
    vae_net_push(&m->enc, &op);
}

static void test_op_conv_down_up(void **state) {
    (void)state;
    NetCase k = { .C = 3, .H = 5, .W = 6 };
    vae_model_init(&k.m, VAE_NORM_CHANNEL_L2, VAE_W_CAUSAL3D);
    push_conv(&k.m, VAE_OP_CONV, VAE_W_CAUSAL3D, 3, 4, 3);   /* the Wan causal 3-D conv: slice kt-1 only */
    check_net("conv causal3d", &k);

    k = (NetCase){ .C = 4, .H = 6, .W = 5 };
    vae_model_init(&k.m, VAE_NORM_GROUP, VAE_W_CONV2D);
    push_conv(&k.m, VAE_OP_CONV, VAE_W_CONV2D, 4, 3, 1);
    check_net("conv 1x1", &k);

    for (int odd = 0; odd < 2; odd++) {
        k = (NetCase){ .C = 3, .H = 6 + odd, .W = 8 - odd };
        vae_model_init(&k.m, VAE_NORM_GROUP, VAE_W_CONV2D);
        push_conv(&k.m, VAE_OP_DOWN, VAE_W_CONV2D, 3, 4, 3);
        check_net(odd ? "down (odd)" : "down", &k);
    }

    k = (NetCase){ .C = 3, .H = 3, .W = 4 };
    vae_model_init(&k.m, VAE_NORM_GROUP, VAE_W_CONV2D);
    push_conv(&k.m, VAE_OP_UP, VAE_W_CONV2D, 3, 2, 3);
    check_net("up", &k);
}

static void test_op_norm_silu(void **state) {
    (void)state;
    for (int l2 = 0; l2 < 2; l2++) {
        NetCase k = { .C = 8, .H = 3, .W = 4 };
        vae_model_init(&k.m, l2 ? VAE_NORM_CHANNEL_L2 : VAE_NORM_GROUP, l2 ? VAE_W_CAUSAL3D : VAE_W_CONV2D);
        k.m.groups = 4;
        VaeOp op = { .kind = VAE_OP_NORM_SILU };
        op.n1 = vae_norm_declare(&k.m, "norm_out", 8, l2 ? 4 : 1);
        vae_net_push(&k.m.enc, &op);
        check_net(l2 ? "norm_silu (L2)" : "norm_silu (group)", &k);
    }
}

static void test_op_res(void **state) {
    (void)state;
    for (int l2 = 0; l2 < 2; l2++)
        for (int shortcut = 0; shortcut < 2; shortcut++) {
            NetCase k = { .C = 4, .H = 4, .W = 5 };
            vae_model_init(&k.m, l2 ? VAE_NORM_CHANNEL_L2 : VAE_NORM_GROUP, l2 ? VAE_W_CAUSAL3D : VAE_W_CONV2D);
            k.m.groups = 2;
            vae_net_push_res(&k.m, &k.m.enc, "res", 4, shortcut ? 6 : 4);
            char what[64];
            snprintf(what, sizeof what, "res (%s%s)", l2 ? "L2, causal" : "group", shortcut ? ", shortcut" : "");
            check_net(what, &k);
        }
}

static void test_op_attention(void **state) {
    (void)state;
    /* Qwen: channel L2 norm, one fused [3C, C] 1x1 qkv conv */
    NetCase k = { .C = 4, .H = 3, .W = 5 };
    vae_model_init(&k.m, VAE_NORM_CHANNEL_L2, VAE_W_CAUSAL3D);
    VaeOp op = { .kind = VAE_OP_ATTN, .fused_qkv = 1 };
    op.n1 = vae_norm_declare(&k.m, "attn.norm", 4, 3);
    op.q = vae_conv_declare(&k.m, "attn.to_qkv", VAE_W_CONV2D, 4, 12, 1);
    op.o = vae_conv_declare(&k.m, "attn.proj", VAE_W_CONV2D, 4, 4, 1);
    vae_net_push(&k.m.enc, &op);
    check_net("attention (fused, L2)", &k);

    /* FLUX: group norm, Linear q, k, v, out */
    k = (NetCase){ .C = 4, .H = 4, .W = 3 };
    vae_model_init(&k.m, VAE_NORM_GROUP, VAE_W_CONV2D);
    k.m.groups = 2;
    op = (VaeOp){ .kind = VAE_OP_ATTN };
    op.n1 = vae_norm_declare(&k.m, "attn.group_norm", 4, 1);
    op.q = vae_conv_declare(&k.m, "attn.to_q", VAE_W_LINEAR, 4, 4, 1);
    op.k = vae_conv_declare(&k.m, "attn.to_k", VAE_W_LINEAR, 4, 4, 1);
    op.v = vae_conv_declare(&k.m, "attn.to_v", VAE_W_LINEAR, 4, 4, 1);
    op.o = vae_conv_declare(&k.m, "attn.to_out.0", VAE_W_LINEAR, 4, 4, 1);
    vae_net_push(&k.m.enc, &op);
    check_net("attention (q, k, v, group)", &k);
}

/* ---- the whole objective ---- */

typedef struct AeCase { Vae v; float *x; VaeLossConfig c; VaeAeWork w; int H, W; } AeCase;
static double ae_loss(void *ctx) {
    AeCase *a = ctx;
    Rng r; rng_seed(&r, 77);   /* the same ε for every evaluation */
    VaeLossParts p; Err e = {0};
    if (vae_ae_step(&a->v.net, a->x, a->H, a->W, &a->c, &r, 1.0f, &a->w, NULL, &p, &e)) fail_msg("%s", e.msg);
    return p.loss;
}

static void ae_check(const char *cfg_text, const char *what) {
    AeCase a = { .H = 16, .W = 16, .c = { .l1 = 0.0f, .l2 = 1.0f, .kl = 0.5f, .sample = 1 } };
    cJSON *cfg = cJSON_Parse(cfg_text);
    Err e = {0};
    if (vae_init_random(&a.v, cfg, 3, DT_F32, &e)) fail_msg("%s", e.msg);
    cJSON_Delete(cfg);
    Rng r; rng_seed(&r, 31);
    a.x = malloc(3 * 16 * 16 * 4);
    rng_fill_uniform(&r, a.x, 3 * 16 * 16, -1, 1);
    VaeGrads g; vae_grads_init(&g, &a.v.net);
    Rng eps; rng_seed(&eps, 77);
    VaeLossParts p;
    /* loss scaled by 3 gives 3x the gradient */
    if (vae_ae_step(&a.v.net, a.x, 16, 16, &a.c, &eps, 3.0f, &a.w, &g, &p, &e)) fail_msg("%s", e.msg);
    assert_true(p.kl > 0 && p.l2 > 0);
    for (int i = 0; i < a.v.net.np; i++) {
        size_t n = vae_param_numel(&a.v.net.p[i]);
        for (size_t j = 0; j < n; j++) g.g[i][j] /= 3.0f;
    }
    char name[200];
    int checked_quant = 0;
    for (int i = 0; i < a.v.net.np; i++) {
        VaeParam *pp = &a.v.net.p[i];
        if (strstr(pp->name, "quant_conv")) checked_quant++;
        snprintf(name, sizeof name, "%s: %s", what, pp->name);
        fd_check(name, ae_loss, &a, (float *)pp->data, g.g[i], vae_param_numel(pp), 3e-3f, 2e-2, 6, 2e-5);
    }
    assert_int_equal(checked_quant, 4);   /* quant_conv and post_quant_conv, weight and bias */
    vae_grads_free(&g);
    vae_ae_work_free(&a.w);
    free(a.x);
    vae_free(&a.v);
}

static void test_autoencoder_qwen(void **state) { (void)state; ae_check(TINY_QWEN_VAE_CONFIG, "qwen VAE"); }
static void test_autoencoder_flux(void **state) { (void)state; ae_check(TINY_FLUX_VAE_CONFIG, "flux VAE"); }

/* A few AdamW steps on one image lower the L1 + L2 reconstruction loss. */
static void test_training_lowers_loss(void **state) {
    (void)state;
    const char *cfgs[2] = { TINY_QWEN_VAE_CONFIG, TINY_FLUX_VAE_CONFIG };
    for (int f = 0; f < 2; f++) {
        Vae v; Err e = {0};
        cJSON *cfg = cJSON_Parse(cfgs[f]);
        if (vae_init_random(&v, cfg, 4, DT_F32, &e)) fail_msg("%s", e.msg);
        cJSON_Delete(cfg);
        VaeModel *m = &v.net;
        VaeGrads g; vae_grads_init(&g, m);
        TrainParam *tp = calloc((size_t)m->np, sizeof *tp);
        for (int i = 0; i < m->np; i++)
            tp[i] = (TrainParam){ .name = m->p[i].name, .value = (float *)m->p[i].data, .grad = g.g[i], .numel = vae_param_numel(&m->p[i]) };
        OptimConfig oc = { .kind = OPTIM_TORCH_ADAMW, .lr = 3e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8 };
        Optimizer o;
        assert_int_equal(optim_init(&o, &oc, tp, m->np, 1, &e), 0);
        enum { S = 16 };
        float *x = malloc(3 * S * S * 4);
        for (int c = 0; c < 3; c++)   /* a smooth two-tone image */
            for (int i = 0; i < S * S; i++) x[c * S * S + i] = (i % S < S / 2) ? 0.6f - 0.3f * c : -0.5f;
        VaeLossConfig lc = { .l1 = 1.0f, .l2 = 1.0f, .kl = 1e-6f, .sample = 1 };
        VaeAeWork w = {0};
        Rng r; rng_seed(&r, 8);
        double first = 0, last = 0;
        for (int step = 0; step < 30; step++) {
            VaeLossParts p;
            vae_grads_zero(&g, m);
            if (vae_ae_step(m, x, S, S, &lc, &r, 1.0f, &w, &g, &p, &e)) fail_msg("%s", e.msg);
            optim_step(&o, oc.lr);
            if (step == 0) first = p.loss;
            last = p.loss;
        }
        if (!(last < 0.5 * first)) fail_msg("family %d: loss %.4f -> %.4f did not halve", f, first, last);
        optim_free(&o);
        vae_ae_work_free(&w);
        vae_grads_free(&g);
        free(tp); free(x);
        vae_free(&v);
    }
}

int main(void) {
    /* shapes this small gain nothing from threads; on a busy machine the barriers cost seconds */
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_backward), cmocka_unit_test(test_norms_backward),
        cmocka_unit_test(test_upsample_backward), cmocka_unit_test(test_op_conv_down_up),
        cmocka_unit_test(test_op_norm_silu), cmocka_unit_test(test_op_res), cmocka_unit_test(test_op_attention),
        cmocka_unit_test(test_autoencoder_qwen), cmocka_unit_test(test_autoencoder_flux),
        cmocka_unit_test(test_training_lowers_loss),
    };
    return cmocka_run_group_tests_name("vae_backward", tests, NULL, NULL);
}
