/* loha.c — the LoHa kind: ΔW = c · (A1·B1) ⊙ (A2·B2), A [out, r], B [r, in] (hada_w1_a, hada_w1_b,
 * hada_w2_a, hada_w2_b).
 *
 * A Hadamard product has no factored shortcut, so ΔW is formed — a block of output rows at a time,
 * so that the scratch stays a few MB whatever the layer: for rows [o0, o0+nb)
 *   P1 = A1[o0:]·B1, P2 = A2[o0:]·B2, D = c·mask ⊙ P1 ⊙ P2,  y[:, o0:] += x·Dᵀ
 * and in backward, with G = dy[:, o0:]ᵀ·x:  dP1 = c·mask ⊙ G ⊙ P2, dP2 = c·mask ⊙ G ⊙ P1,
 *   dA = dP·Bᵀ, dB += A[o0:]ᵀ·dP,  dx += dy[:, o0:]·D,  ds = scale·Σ mask ⊙ G ⊙ P1 ⊙ P2. */
#include "models/adapter/lycoris_internal.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_FLOATS (1 << 21)   /* one [rows, in] block of ΔW: 8 MB */

typedef struct Loha {
    LycoCommon k;
    int r1, r2;
    float *a1, *b1, *a2, *b2, *ga1, *gb1, *ga2, *gb2;
} Loha;

static int block_rows(const Adapter *a) {
    int ob = BLOCK_FLOATS / (a->in > 0 ? a->in : 1);
    return ob < 1 ? 1 : ob > a->out ? a->out : ob;
}

static size_t acts_per_row(const Adapter *a) { (void)a; return 0; }

static size_t scratch_floats(const Adapter *a, int n, int backward) {
    size_t ob = (size_t)block_rows(a);
    return (size_t)a->out + (backward ? 3 : 2) * ob * a->in + (size_t)n * ob;
}

/* P1, P2 of rows [o0, o0+nb) */
static void products(const Loha *m, int in, int o0, int nb, float *P1, float *P2) {
    lyco_gemm(0, 0, nb, in, m->r1, 1.0f, m->a1 + (size_t)o0 * m->r1, m->r1, m->b1, in, 0.0f, P1, in);
    lyco_gemm(0, 0, nb, in, m->r2, 1.0f, m->a2 + (size_t)o0 * m->r2, m->r2, m->b2, in, 0.0f, P2, in);
}

/* D = cs·mask ⊙ P1 ⊙ P2 into D (may be P1) */
static void hadamard(int in, int o0, int nb, float cs, const float *mask, const float *P1, const float *P2, float *D) {
    #pragma omp parallel for schedule(static) if ((size_t)nb * in > 65536)
    for (int o = 0; o < nb; o++) {
        float f = cs * (mask ? mask[o0 + o] : 1.0f);
        for (int i = 0; i < in; i++) D[(size_t)o * in + i] = f * P1[(size_t)o * in + i] * P2[(size_t)o * in + i];
    }
}

static void forward(const Adapter *a, const float *x, int ldx, int n, float *y, int ldy, float *acts, const AdapterCall *c) {
    (void)acts;
    const Loha *m = a->impl;
    const float cs = a->scale * m->k.s;
    if (cs == 0.0f || lyco_module_dropped(&m->k, c)) return;
    const int in = a->in, out = a->out, ob = block_rows(a);
    float *mask = c->scratch, *P1 = mask + out, *P2 = P1 + (size_t)ob * in, *Z = P2 + (size_t)ob * in;
    const int masked = lyco_rank_mask(&m->k, c, out, mask);   /* LoHa drops ΔW rows in both modes */
    const int od = lyco_out_dropout_on(&m->k, c);
    for (int o0 = 0; o0 < out; o0 += ob) {
        int nb = out - o0 < ob ? out - o0 : ob;
        products(m, in, o0, nb, P1, P2);
        hadamard(in, o0, nb, cs, masked ? mask : NULL, P1, P2, P1);
        if (!od) { lyco_gemm(0, 1, n, nb, in, 1.0f, x, ldx, P1, in, 1.0f, y + o0, ldy); continue; }
        lyco_gemm(0, 1, n, nb, in, 1.0f, x, ldx, P1, in, 0.0f, Z, nb);
        for (int r = 0; r < n; r++)
            for (int o = 0; o < nb; o++) y[(size_t)r * ldy + o0 + o] += Z[(size_t)r * nb + o] * lyco_out_keep(&m->k, c, r, o0 + o, out);
    }
}

static void backward(Adapter *a, const float *dy, int lddy, const float *x, int ldx, int n, const float *acts,
                     float *dx, int lddx, const AdapterCall *c) {
    (void)acts;
    Loha *m = a->impl;
    if (lyco_module_dropped(&m->k, c)) return;
    const float cs = a->scale * m->k.s;
    const int in = a->in, out = a->out, ob = block_rows(a);
    float *mask = c->scratch, *P1 = mask + out, *P2 = P1 + (size_t)ob * in, *Q = P2 + (size_t)ob * in, *E = Q + (size_t)ob * in;
    const int masked = lyco_rank_mask(&m->k, c, out, mask);
    const int od = lyco_out_dropout_on(&m->k, c);
    double ds = 0;
    for (int o0 = 0; o0 < out; o0 += ob) {
        int nb = out - o0 < ob ? out - o0 : ob;
        products(m, in, o0, nb, P1, P2);
        const float *Eb = dy + o0;
        int lde = lddy;
        if (od) {
            for (int r = 0; r < n; r++)
                for (int o = 0; o < nb; o++) E[(size_t)r * nb + o] = dy[(size_t)r * lddy + o0 + o] * lyco_out_keep(&m->k, c, r, o0 + o, out);
            Eb = E; lde = nb;
        }
        if (dx && cs != 0.0f) {
            hadamard(in, o0, nb, cs, masked ? mask : NULL, P1, P2, Q);
            lyco_gemm(0, 0, n, in, nb, 1.0f, Eb, lde, Q, in, 1.0f, dx, lddx);
        }
        lyco_gemm(1, 0, nb, in, n, 1.0f, Eb, lde, x, ldx, 0.0f, Q, in);   /* G */
        if (m->k.use_scalar)
            for (int o = 0; o < nb; o++) {
                double rs = 0;
                for (int i = 0; i < in; i++) rs += (double)Q[(size_t)o * in + i] * P1[(size_t)o * in + i] * P2[(size_t)o * in + i];
                ds += rs * (masked ? mask[o0 + o] : 1.0f);
            }
        if (cs == 0.0f) continue;
        #pragma omp parallel for schedule(static) if ((size_t)nb * in > 65536)
        for (int o = 0; o < nb; o++) {
            float f = cs * (masked ? mask[o0 + o] : 1.0f);
            for (int i = 0; i < in; i++) {
                size_t j = (size_t)o * in + i;
                float g = f * Q[j], p1 = P1[j];
                P1[j] = g * P2[j];   /* dP1 */
                P2[j] = g * p1;      /* dP2 */
            }
        }
        lyco_gemm(0, 1, nb, m->r1, in, 1.0f, P1, in, m->b1, in, 1.0f, m->ga1 + (size_t)o0 * m->r1, m->r1);
        lyco_gemm(1, 0, m->r1, in, nb, 1.0f, m->a1 + (size_t)o0 * m->r1, m->r1, P1, in, 1.0f, m->gb1, in);
        lyco_gemm(0, 1, nb, m->r2, in, 1.0f, P2, in, m->b2, in, 1.0f, m->ga2 + (size_t)o0 * m->r2, m->r2);
        lyco_gemm(1, 0, m->r2, in, nb, 1.0f, m->a2 + (size_t)o0 * m->r2, m->r2, P2, in, 1.0f, m->gb2, in);
    }
    if (m->k.use_scalar) m->k.gs += (float)(a->scale * ds);
}

static void delta(const Adapter *a, float *dW) {
    const Loha *m = a->impl;
    float *P2 = xmalloc((size_t)a->out * a->in * sizeof(float));
    products(m, a->in, 0, a->out, dW, P2);
    hadamard(a->in, 0, a->out, a->scale * m->k.s, NULL, dW, P2, dW);
    free(P2);
}

const AdapterOps LYCO_LOHA_OPS = {"loha", acts_per_row, scratch_floats, forward, backward, delta, lyco_free_impl};

/* ---- construction ---- */

static Adapter *make(const char *module, int in, int out, int r1, int r2, LycoCommon *k0) {
    Loha *m = xcalloc(1, sizeof *m);
    m->k = *k0;
    m->r1 = r1; m->r2 = r2;
    static const char *const SUF[4] = {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"};
    int rows[4] = {out, r1, out, r2}, cols[4] = {r1, in, r2, in};
    float *v[4], *g[4];
    Adapter *a = lyco_make(&LYCO_LOHA_OPS, module, in, out, m, &m->k, 4, SUF, rows, cols, v, g);
    m->a1 = v[0]; m->b1 = v[1]; m->a2 = v[2]; m->b2 = v[3];
    m->ga1 = g[0]; m->gb1 = g[1]; m->ga2 = g[2]; m->gb2 = g[3];
    return a;
}

Adapter *lyco_loha_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed) {
    const int r = s->dim;
    double alpha = s->alpha == 0 ? r : s->alpha, rf = s->rs_lora ? sqrt((double)r) : r;
    LycoCommon k = {0};
    lyco_common_init(&k, s, r, (float)(alpha / rf), (float)(alpha * (r / rf)));
    Adapter *a = make(module, in, out, r, r, &k);
    Loha *m = a->impl;
    /* LyCORIS' init: w1_a ~ N(0, 0.1²), w1_b, w2_b ~ N(0, 1), w2_a = 0 (ΔW = 0), or N(0, 0.1²) with
     * use_scalar, whose s = 0 keeps ΔW = 0 */
    Rng rng;
    lyco_init_rng(&rng, seed, module);
    rng_fill_normal(&rng, m->a1, (size_t)out * r, 0.0f, 0.1f);
    rng_fill_normal(&rng, m->b1, (size_t)r * in, 0.0f, 1.0f);
    rng_fill_normal(&rng, m->b2, (size_t)r * in, 0.0f, 1.0f);
    if (s->use_scalar) rng_fill_normal(&rng, m->a2, (size_t)out * r, 0.0f, 0.1f);
    return a;
}

Adapter *lyco_loha_import(const char *module, int in, int out, const LycorisTensors *t, float strength, const char *where, Err *e) {
    int ra1, ca1, rb1, cb1, ra2, ca2, rb2, cb2;
    const float *a1 = lyco_find(t, "hada_w1_a", &ra1, &ca1), *b1 = lyco_find(t, "hada_w1_b", &rb1, &cb1);
    const float *a2 = lyco_find(t, "hada_w2_a", &ra2, &ca2), *b2 = lyco_find(t, "hada_w2_b", &rb2, &cb2);
    if (!a1 || !b1 || !a2 || !b2) {
        err_set(e, "%s: LoHa module '%s' needs hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b", where, module);
        return NULL;
    }
    if (ra1 != out || ra2 != out || cb1 != in || cb2 != in || ca1 != rb1 || ca2 != rb2) {
        err_set(e, "%s: LoHa module '%s': hada_w1_a %dx%d, hada_w1_b %dx%d, hada_w2_a %dx%d, hada_w2_b %dx%d do not make the layer's %dx%d "
                   "(a LyCORIS file for another model?)", where, module, ra1, ca1, rb1, cb1, ra2, ca2, rb2, cb2, out, in);
        return NULL;
    }
    LycoCommon k = {0};
    k.algo = LYCO_LOHA;
    k.r = ca1;
    k.file_scale = t->has_alpha ? t->alpha / ca1 : 1.0f;   /* ComfyUI: alpha / w1_b.shape[0] */
    k.multiplier = strength;
    k.has_alpha = t->has_alpha;
    k.alpha_saved = t->alpha;
    k.s = 1.0f;
    Adapter *a = make(module, in, out, ca1, ca2, &k);
    Loha *m = a->impl;
    memcpy(m->a1, a1, (size_t)out * ca1 * sizeof(float)); memcpy(m->b1, b1, (size_t)ca1 * in * sizeof(float));
    memcpy(m->a2, a2, (size_t)out * ca2 * sizeof(float)); memcpy(m->b2, b2, (size_t)ca2 * in * sizeof(float));
    return a;
}

void lyco_loha_export(const Adapter *a, LycorisTensors *t) {
    const Loha *m = a->impl;
    lyco_put(t, "hada_w1_a", a->out, m->r1, m->a1, m->k.s);
    lyco_put(t, "hada_w1_b", m->r1, a->in, m->b1, 1.0f);
    lyco_put(t, "hada_w2_a", a->out, m->r2, m->a2, 1.0f);
    lyco_put(t, "hada_w2_b", m->r2, a->in, m->b2, 1.0f);
}
