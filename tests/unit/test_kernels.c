/* Finite-difference checks of every hand-written backward, and forward checks against plain
 * reference code (attention against the naive softmax with a mask, over several tiles). */
#include "test_util.h"
#include <math.h>
#include "base/rng.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/linear.h"
#include "kernels/modulate.h"
#include "kernels/norm.h"
#include "kernels/rope.h"

static float *randv(Rng *r, size_t n, float s) { float *x = malloc(n * sizeof(float)); rng_fill_normal(r, x, n, 0, s); return x; }
static double dot(const float *a, const float *b, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i]; return s; }

/* A scalar function of the parameter buffer p (through closure ctx): loss = Σ y·g. */
typedef double (*LossFn)(void *ctx);

/* Checks analytic gradient `grad` of `p` against central differences, on up to 24 entries. */
static void fd_check(const char *what, LossFn f, void *ctx, float *p, const float *grad, size_t n, float h, double tol) {
    size_t step = n > 24 ? n / 24 : 1;
    double worst = 0;
    for (size_t i = 0; i < n; i += step) {
        float keep = p[i];
        p[i] = keep + h; double lp = f(ctx);
        p[i] = keep - h; double lm = f(ctx);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * h), err = fabs(num - grad[i]) / (fabs(num) + fabs(grad[i]) + 1e-2);
        if (err > worst) worst = err;
    }
    if (worst > tol) fail_msg("%s: finite-difference mismatch %.3e > %.1e", what, worst, tol);
}

/* ---- linear + LoRA ---- */
enum { N = 5, IN = 7, OUT = 6, R = 3 };
typedef struct { float *x, *W, *b, *A, *B, *g, *y, *h; float scale; } Lin;
static double lin_loss(void *c) {
    Lin *l = c;
    Weight w = {.dtype = DT_F32, .data = l->W, .rows = OUT, .cols = IN};
    linear_forward(l->x, IN, N, &w, l->b, l->y, OUT, 0.0f);
    lora_forward(l->x, IN, N, IN, OUT, R, l->A, l->B, l->scale, l->h, l->y, OUT);
    return dot(l->y, l->g, N * OUT);
}
static void test_linear_lora(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 1);
    Lin l = {randv(&r, N * IN, 1), randv(&r, OUT * IN, 0.5f), randv(&r, OUT, 0.5f), randv(&r, R * IN, 0.5f),
             randv(&r, OUT * R, 0.5f), randv(&r, N * OUT, 1), malloc(N * OUT * 4), malloc(N * R * 4), 0.7f};
    lin_loss(&l);
    float dx[N * IN] = {0}, dW[OUT * IN] = {0}, db[OUT] = {0}, dA[R * IN] = {0}, dB[OUT * R] = {0}, dh[N * R];
    Weight w = {.dtype = DT_F32, .data = l.W, .rows = OUT, .cols = IN};
    linear_backward_input(l.g, OUT, N, &w, dx, IN, 0.0f);
    linear_backward_weight(l.g, OUT, l.x, IN, N, OUT, IN, dW, db);
    lora_backward(l.g, OUT, l.x, IN, l.h, N, IN, OUT, R, l.A, l.B, l.scale, dA, dB, dh, dx, IN);
    fd_check("linear dx (+lora)", lin_loss, &l, l.x, dx, N * IN, 1e-2f, 2e-3);
    fd_check("linear dW", lin_loss, &l, l.W, dW, OUT * IN, 1e-2f, 2e-3);
    fd_check("linear db", lin_loss, &l, l.b, db, OUT, 1e-2f, 2e-3);
    fd_check("lora dA", lin_loss, &l, l.A, dA, R * IN, 1e-2f, 2e-3);
    fd_check("lora dB", lin_loss, &l, l.B, dB, OUT * R, 1e-2f, 2e-3);
    /* a bf16 weight computes exactly what its f32 rounding computes, tile by tile */
    uint16_t wb[OUT * IN]; float wr[OUT * IN], y1[N * OUT], y2[N * OUT];
    for (int i = 0; i < OUT * IN; i++) { wb[i] = f32_to_bf16(l.W[i]); wr[i] = bf16_to_f32(wb[i]); }
    Weight w16 = {.dtype = DT_BF16, .data = wb, .rows = OUT, .cols = IN}, w32 = {.dtype = DT_F32, .data = wr, .rows = OUT, .cols = IN};
    linear_forward(l.x, IN, N, &w16, l.b, y1, OUT, 0.0f);
    linear_forward(l.x, IN, N, &w32, l.b, y2, OUT, 0.0f);
    for (int i = 0; i < N * OUT; i++) assert_true(fabsf(y1[i] - y2[i]) <= 1e-5f * (1 + fabsf(y2[i])));
    free(l.x); free(l.W); free(l.b); free(l.A); free(l.B); free(l.g); free(l.y); free(l.h);
}

/* ---- norms ---- */
enum { NR = 4, C = 9 };
typedef struct { float *x, *w, *g, *y; int rms; } Nrm;
static double norm_loss(void *c) {
    Nrm *n = c;
    if (n->rms) rmsnorm_forward(n->x, C, NR, C, n->w, 1e-6f, n->y, C, NULL);
    else layernorm_forward(n->x, C, NR, C, 1e-6f, n->y, C, NULL, NULL);
    return dot(n->y, n->g, NR * C);
}
static void test_norms(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 2);
    for (int rms = 0; rms < 2; rms++) {
        Nrm n = {randv(&r, NR * C, 1), randv(&r, C, 1), randv(&r, NR * C, 1), malloc(NR * C * 4), rms};
        float mean[NR], rstd[NR], dx[NR * C], dw[C] = {0};
        if (rms) rmsnorm_forward(n.x, C, NR, C, n.w, 1e-6f, n.y, C, rstd);
        else layernorm_forward(n.x, C, NR, C, 1e-6f, n.y, C, mean, rstd);
        if (rms) rmsnorm_backward(n.g, C, n.x, C, NR, C, n.w, rstd, dx, C, dw, 0);
        else layernorm_backward(n.g, C, n.x, C, NR, C, mean, rstd, dx, C, 0);
        fd_check(rms ? "rmsnorm dx" : "layernorm dx", norm_loss, &n, n.x, dx, NR * C, 1e-2f, 3e-3);
        if (rms) fd_check("rmsnorm dw", norm_loss, &n, n.w, dw, C, 1e-2f, 3e-3);
        free(n.x); free(n.w); free(n.g); free(n.y);
    }
}

/* ---- activations ---- */
typedef struct { float *x, *g, *y; int gelu; size_t n; } Act;
static double act_loss(void *c) {
    Act *a = c;
    if (a->gelu) gelu_tanh_forward(a->x, a->y, a->n); else silu_forward(a->x, a->y, a->n);
    return dot(a->y, a->g, a->n);
}
static void test_activations(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 3);
    for (int gelu = 0; gelu < 2; gelu++) {
        Act a = {randv(&r, 40, 2), randv(&r, 40, 1), malloc(160), gelu, 40};
        float dx[40];
        if (gelu) gelu_tanh_backward(a.g, a.x, dx, 40); else silu_backward(a.g, a.x, dx, 40);
        fd_check(gelu ? "gelu_tanh" : "silu", act_loss, &a, a.x, dx, 40, 1e-2f, 3e-3);
        free(a.x); free(a.g); free(a.y);
    }
    float x = 1.0f, y;
    gelu_tanh_forward(&x, &y, 1);
    assert_true(fabsf(y - 0.8411920071f) < 1e-6f);
    /* the sigmoid form agrees with 0.5·v·(1 + tanh u) (double reference) over the whole range,
     * the saturated tails included (no inf or NaN from e^(−2u) overflowing) */
    enum { NG = 2001 };
    float *gx = malloc(NG * sizeof(float)), *gy = malloc(NG * sizeof(float)), *gd = malloc(NG * sizeof(float)), *one = malloc(NG * sizeof(float));
    for (int i = 0; i < NG; i++) { gx[i] = (float)(i - NG / 2) * 0.02f; one[i] = 1.0f; }
    gx[0] = -1e4f; gx[NG - 1] = 1e4f;
    gelu_tanh_forward(gx, gy, NG);
    gelu_tanh_backward(one, gx, gd, NG);
    for (int i = 0; i < NG; i++) {
        double v = gx[i], u = 0.7978845608028654 * (v + 0.044715 * v * v * v), t = tanh(u);
        double want = 0.5 * v * (1.0 + t);
        double dwant = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v);
        if (!(fabs(gy[i] - want) <= 1e-6 * fabs(want) + 1e-7)) fail_msg("gelu(%g) = %.9g, want %.9g", v, gy[i], want);
        if (!(fabs(gd[i] - dwant) <= 1e-5 * fabs(dwant) + 1e-6)) fail_msg("gelu'(%g) = %.9g, want %.9g", v, gd[i], dwant);
    }
    free(gx); free(gy); free(gd); free(one);
}

/* ---- modulation and gated residual, with two parameter sets chosen per row ---- */
typedef struct { float *x, *sh, *sc, *gt, *y, *res, *g; int sel[NR]; } Mod;
static double mod_loss(void *c) {
    Mod *m = c;
    modulate_forward(m->x, C, NR, C, m->sh, m->sc, C, m->sel, m->y, C);
    float tmp[NR * C];
    memcpy(tmp, m->res, sizeof tmp);
    gate_residual_forward(tmp, C, m->y, C, NR, C, m->gt, C, m->sel);
    return dot(tmp, m->g, NR * C);
}
static void test_modulation(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 4);
    Mod m = {randv(&r, NR * C, 1), randv(&r, 2 * C, 1), randv(&r, 2 * C, 1), randv(&r, 2 * C, 1), malloc(NR * C * 4),
             randv(&r, NR * C, 1), randv(&r, NR * C, 1), {0, 1, 0, 1}};
    mod_loss(&m);
    float dy[NR * C], dx[NR * C], dsh[2 * C] = {0}, dsc[2 * C] = {0}, dg[2 * C] = {0};
    gate_residual_backward(m.g, C, m.y, C, NR, C, m.gt, C, m.sel, dy, C, 0, dg);
    modulate_backward(dy, C, m.x, C, NR, C, m.sc, C, m.sel, dx, C, 0, dsh, dsc);
    fd_check("modulate dx", mod_loss, &m, m.x, dx, NR * C, 1e-2f, 2e-3);
    fd_check("modulate dshift", mod_loss, &m, m.sh, dsh, 2 * C, 1e-2f, 2e-3);
    fd_check("modulate dscale", mod_loss, &m, m.sc, dsc, 2 * C, 1e-2f, 2e-3);
    fd_check("gate dgate", mod_loss, &m, m.gt, dg, 2 * C, 1e-2f, 2e-3);
    free(m.x); free(m.sh); free(m.sc); free(m.gt); free(m.y); free(m.res); free(m.g);
}

/* ---- rope ---- */
static void test_rope(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 5);
    const int n = 3, H = 2, D = 8;
    float *x = randv(&r, n * H * D, 1), *cs = malloc(n * D / 2 * 4), *sn = malloc(n * D / 2 * 4), x0[48];
    for (int i = 0; i < n * D / 2; i++) { float a = 0.37f * i; cs[i] = cosf(a); sn[i] = sinf(a); }
    memcpy(x0, x, sizeof x0);
    rope_forward(x, H * D, n, H, D, cs, sn);
    /* norms of pairs kept; second pair of token 1 rotated as a complex multiply */
    float a = x0[1 * 16 + 2], b = x0[1 * 16 + 3], c = cs[1 * 4 + 1], s = sn[1 * 4 + 1];
    assert_true(fabsf(x[1 * 16 + 2] - (a * c - b * s)) < 1e-6f && fabsf(x[1 * 16 + 3] - (a * s + b * c)) < 1e-6f);
    /* backward is the transpose (inverse rotation): <R x, g> = <x, Rᵀ g> */
    float *g = randv(&r, n * H * D, 1), gt[48];
    memcpy(gt, g, sizeof gt);
    rope_backward(gt, H * D, n, H, D, cs, sn);
    assert_true(fabs(dot(x, g, 48) - dot(x0, gt, 48)) < 1e-4);
    free(x); free(cs); free(sn); free(g);
}

/* ---- attention ---- */
typedef struct { float *q, *k, *v, *o, *lse, *g; int S, H, D; unsigned char *mask; } Att;
static double att_loss(void *c) {
    Att *a = c;
    attention_forward(a->q, a->k, a->v, a->H * a->D, a->S, a->H, a->D, a->mask, a->o, a->H * a->D, a->lse);
    return dot(a->o, a->g, (size_t)a->S * a->H * a->D);
}
static void naive_attention(const Att *a, float *out) {
    int S = a->S, H = a->H, D = a->D, ld = H * D;
    float *p = malloc(S * sizeof(float));
    for (int h = 0; h < H; h++)
        for (int i = 0; i < S; i++) {
            double mx = -1e30, sum = 0;
            for (int j = 0; j < S; j++) {
                double s = a->mask && !a->mask[j] ? -1e30 : dot(a->q + i * ld + h * D, a->k + j * ld + h * D, D) / sqrt(D);
                p[j] = (float)s; if (s > mx) mx = s;
            }
            for (int j = 0; j < S; j++) { p[j] = a->mask && !a->mask[j] ? 0 : (float)exp(p[j] - mx); sum += p[j]; }
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int j = 0; j < S; j++) acc += p[j] * a->v[j * ld + h * D + d];
                out[i * ld + h * D + d] = (float)(acc / sum);
            }
        }
    free(p);
}
static void test_attention(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 6);
    int sizes[2] = {7, ATTN_TK + ATTN_TQ + 5}; /* one tile, and several tiles of both kinds */
    for (int t = 0; t < 2; t++) {
        int S = sizes[t], H = 2, D = 8; size_t n = (size_t)S * H * D;
        Att a = {randv(&r, n, 1), randv(&r, n, 1), randv(&r, n, 1), malloc(n * 4), malloc(H * S * 4), randv(&r, n, 1), S, H, D,
                 malloc(S)};
        for (int j = 0; j < S; j++) a.mask[j] = (j % 5) != 3;
        float *ref = malloc(n * 4);
        att_loss(&a);
        naive_attention(&a, ref);
        for (size_t i = 0; i < n; i++) assert_true(fabsf(a.o[i] - ref[i]) < 1e-5f);
        float *dq = malloc(n * 4), *dk = malloc(n * 4), *dv = malloc(n * 4);
        attention_backward(a.g, H * D, a.q, a.k, a.v, H * D, a.o, a.lse, S, H, D, a.mask, dq, dk, dv, H * D);
        fd_check("attention dq", att_loss, &a, a.q, dq, n, 5e-3f, 5e-3);
        fd_check("attention dk", att_loss, &a, a.k, dk, n, 5e-3f, 5e-3);
        fd_check("attention dv", att_loss, &a, a.v, dv, n, 5e-3f, 5e-3);
        /* masked keys get no gradient */
        for (int d = 0; d < H * D; d++) { assert_true(dk[3 * H * D + d] == 0.0f); assert_true(dv[3 * H * D + d] == 0.0f); }
        free(a.q); free(a.k); free(a.v); free(a.o); free(a.lse); free(a.g); free(a.mask); free(ref); free(dq); free(dk); free(dv);
    }
}

/* Non-finite scores (a NaN activation, or q so large that q·k overflows to ±inf) reach the
 * vectorised exp of the softmax: no undefined behaviour (run under SANITIZE=1), the bad query row
 * comes out NaN instead of silently finite, and every other row is untouched. */
static void test_attention_nonfinite(void **state) {
    (void)state;
    Rng r; rng_seed(&r, 9);
    int S = ATTN_TK + 9, H = 2, D = 8, ld = H * D; size_t n = (size_t)S * ld;
    Att a = {randv(&r, n, 1), randv(&r, n, 1), randv(&r, n, 1), malloc(n * 4), malloc(H * S * 4), randv(&r, n, 1), S, H, D, NULL};
    float *clean = malloc(n * 4);
    att_loss(&a);
    memcpy(clean, a.o, n * 4);
    a.q[0] = NAN;                                    /* row 0, head 0 */
    for (int d = 0; d < D; d++) a.q[1 * ld + d] = 1e38f * (d % 2 ? 1.0f : -1.0f);   /* row 1, head 0: ±inf scores */
    for (int d = 0; d < D; d++) a.q[2 * ld + d] = -3e37f;                          /* row 2, head 0: -inf scores */
    att_loss(&a);
    for (int d = 0; d < D; d++) assert_true(isnan(a.o[d]));
    for (int i = 3; i < S; i++)
        for (int c = 0; c < ld; c++) assert_true(fabsf(a.o[(size_t)i * ld + c] - clean[(size_t)i * ld + c]) <= 1e-6f);
    for (int i = 0; i < 3; i++)
        for (int c = D; c < ld; c++) assert_true(fabsf(a.o[(size_t)i * ld + c] - clean[(size_t)i * ld + c]) <= 1e-6f);
    float *dq = malloc(n * 4), *dk = malloc(n * 4), *dv = malloc(n * 4);
    attention_backward(a.g, ld, a.q, a.k, a.v, ld, a.o, a.lse, S, H, D, NULL, dq, dk, dv, ld);
    for (int i = 3; i < S; i++) assert_true(isfinite(dq[(size_t)i * ld + D]));   /* head 1 never saw the bad rows */
    free(a.q); free(a.k); free(a.v); free(a.o); free(a.lse); free(a.g); free(clean); free(dq); free(dk); free(dv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_lora), cmocka_unit_test(test_norms), cmocka_unit_test(test_activations),
        cmocka_unit_test(test_modulation), cmocka_unit_test(test_rope), cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_nonfinite),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
