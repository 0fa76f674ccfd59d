/* lokr.c — the LoKr kind: ΔW = c · W1 ⊗ W2, W1 [ol, im], W2 [ok, inn], out = ol·ok, in = im·inn.
 *
 * ΔW is never formed on the training path. Row r of x seen as X [im, inn] gives the branch
 * Y = W1·X·W2ᵀ [ol, ok] (flattened row-major = ΔW·x), computed for all rows at once as
 *   T_j = X_j·W2ᵀ      [n, ok]   for each j < im (X_j = columns j·inn .. of x: one GEMM each)
 *   Y   = W1·T          [ol, n·ok] (T as [im, n·ok]: one GEMM), then scattered into y[r, i·ok + k].
 * Backward with dY laid out like Y (dy ⊙ masks):
 *   dW1 = c·dY·Tᵀ,  dT = c·W1ᵀ·dY,  dW2 = Σ_j dT_jᵀ·X_j,  dx_j += dT_j·W2,  ds = scale·⟨W1, dY·Tᵀ⟩.
 * Nothing is kept per row: T is recomputed from x in backward. */
#include "models/adapter/lycoris_internal.h"
#include "base/error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Lokr {
    LycoCommon k;
    int ol, ok, im, inn;
    int r1, r2;                               /* ranks of the factored forms (0: the tensor is full) */
    float *w1, *w1a, *w1b, *w2, *w2a, *w2b;   /* NULL when that form is not used */
    float *g1, *g1a, *g1b, *g2, *g2a, *g2b;
} Lokr;

static size_t w1_floats(const Lokr *m) { return m->w1 ? 0 : (size_t)m->ol * m->im; }
static size_t w2_floats(const Lokr *m) { return m->w2 ? 0 : (size_t)m->ok * m->inn; }

static size_t acts_per_row(const Adapter *a) { (void)a; return 0; }

/* Rows are processed in chunks so that the per-row buffers (T, Y, dT, dY: im·ok or out floats a
 * row) stay near LYCO_CHUNK_FLOATS each, whatever the number of tokens. */
static int chunk_rows(const Lokr *m, int out, int n) {
    size_t per = (size_t)m->im * m->ok > (size_t)out ? (size_t)m->im * m->ok : (size_t)out;
    return (int)lyco_chunk_rows(&m->k, per, n);
}

static size_t scratch_floats(const Adapter *a, int n, int backward) {
    const Lokr *m = a->impl;
    int nc = chunk_rows(m, a->out, n > 0 ? n : 1);
    size_t t = (size_t)m->im * nc * m->ok, y = (size_t)m->ol * nc * m->ok;
    size_t base = w1_floats(m) + w2_floats(m) + (size_t)a->out + t + y;
    return backward ? base + t + (size_t)m->ol * m->im + (size_t)m->ok * m->inn : base;
}

/* W1 and W2 dense: the full tensor, or its two factors multiplied into scratch (advances *sc). */
static const float *dense_w1(const Lokr *m, float **sc) {
    if (m->w1) return m->w1;
    float *d = *sc; *sc += w1_floats(m);
    lyco_gemm(0, 0, m->ol, m->im, m->r1, 1.0f, m->w1a, m->r1, m->w1b, m->im, 0.0f, d, m->im);
    return d;
}
static const float *dense_w2(const Lokr *m, float **sc) {
    if (m->w2) return m->w2;
    float *d = *sc; *sc += w2_floats(m);
    lyco_gemm(0, 0, m->ok, m->inn, m->r2, 1.0f, m->w2a, m->r2, m->w2b, m->inn, 0.0f, d, m->inn);
    return d;
}

/* T [im, n, ok]: T_j = X_j·W2ᵀ */
static void inner(const Lokr *m, const float *x, int ldx, int n, const float *W2, float *T) {
    for (int j = 0; j < m->im; j++)
        lyco_gemm(0, 1, n, m->ok, m->inn, 1.0f, x + (size_t)j * m->inn, ldx, W2, m->inn, 0.0f, T + (size_t)j * n * m->ok, m->ok);
}

static void forward(const Adapter *a, const float *x, int ldx, int n, float *y, int ldy, float *acts, const AdapterCall *c) {
    (void)acts;
    const Lokr *m = a->impl;
    const float cs = a->scale * m->k.s;
    if (cs == 0.0f || lyco_module_dropped(&m->k, c)) return;
    float *sc = c->scratch;
    const float *W1 = dense_w1(m, &sc), *W2 = dense_w2(m, &sc);
    float *mask = sc; sc += a->out;
    /* LyCORIS' LoKr drops rows of ΔW only when it rebuilds the weight (not in bypass mode) */
    const int masked = !m->k.bypass && lyco_rank_mask(&m->k, c, a->out, mask);
    const int od = lyco_out_dropout_on(&m->k, c);
    const int ol = m->ol, ok = m->ok, out = a->out, nc = chunk_rows(m, out, n);
    float *T = sc, *Y = sc + (size_t)m->im * nc * ok;
    for (int r0 = 0; r0 < n; r0 += nc) {
        const int nb = n - r0 < nc ? n - r0 : nc, nk = nb * ok;
        inner(m, x + (size_t)r0 * ldx, ldx, nb, W2, T);
        lyco_gemm(0, 0, ol, nk, m->im, 1.0f, W1, m->im, T, nk, 0.0f, Y, nk);
        #pragma omp parallel for schedule(static) if ((size_t)nb * out > 65536)
        for (int r = 0; r < nb; r++)
            for (int i = 0; i < ol; i++)
                for (int k = 0; k < ok; k++) {
                    int o = i * ok + k;
                    float v = cs * Y[((size_t)i * nb + r) * ok + k];
                    if (masked) v *= mask[o];
                    if (od) v *= lyco_out_keep(&m->k, c, r0 + r, o, out);
                    y[(size_t)(r0 + r) * ldy + o] += v;
                }
    }
}

static void backward(Adapter *a, const float *dy, int lddy, const float *x, int ldx, int n, const float *acts,
                     float *dx, int lddx, const AdapterCall *c) {
    (void)acts;
    Lokr *m = a->impl;
    if (lyco_module_dropped(&m->k, c)) return;
    const float cs = a->scale * m->k.s;
    float *sc = c->scratch;
    const float *W1 = dense_w1(m, &sc), *W2 = dense_w2(m, &sc);
    float *mask = sc; sc += a->out;
    const int masked = !m->k.bypass && lyco_rank_mask(&m->k, c, a->out, mask);
    const int od = lyco_out_dropout_on(&m->k, c);
    const int ol = m->ol, ok = m->ok, im = m->im, inn = m->inn, out = a->out, nc = chunk_rows(m, out, n);
    float *T = sc, *dY = T + (size_t)im * nc * ok, *dT = dY + (size_t)ol * nc * ok, *G1 = dT + (size_t)im * nc * ok, *G2 = G1 + (size_t)ol * im;
    for (int r0 = 0; r0 < n; r0 += nc) {
        const int nb = n - r0 < nc ? n - r0 : nc, nk = nb * ok;
        const float *xc = x + (size_t)r0 * ldx;
        inner(m, xc, ldx, nb, W2, T);
        #pragma omp parallel for schedule(static) if ((size_t)nb * out > 65536)
        for (int r = 0; r < nb; r++)
            for (int i = 0; i < ol; i++)
                for (int k = 0; k < ok; k++) {
                    int o = i * ok + k;
                    float g = dy[(size_t)(r0 + r) * lddy + o];
                    if (masked) g *= mask[o];
                    if (od) g *= lyco_out_keep(&m->k, c, r0 + r, o, out);
                    dY[((size_t)i * nb + r) * ok + k] = g;
                }
        /* G1 = Σ dY·Tᵀ: dL/dW1 without c, and dL/dc = ⟨W1, G1⟩ */
        lyco_gemm(0, 1, ol, im, nk, 1.0f, dY, nk, T, nk, r0 ? 1.0f : 0.0f, G1, im);
        if (cs == 0.0f) continue;   /* s = 0: only the scalar learns */
        lyco_gemm(1, 0, im, nk, ol, cs, W1, im, dY, nk, 0.0f, dT, nk);
        for (int j = 0; j < im; j++) {
            const float *dTj = dT + (size_t)j * nk;
            lyco_gemm(1, 0, ok, inn, nb, 1.0f, dTj, ok, xc + (size_t)j * inn, ldx, r0 || j ? 1.0f : 0.0f, G2, inn);
            if (dx) lyco_gemm(0, 0, nb, inn, ok, 1.0f, dTj, ok, W2, inn, 1.0f, dx + (size_t)r0 * lddx + (size_t)j * inn, lddx);
        }
    }
    if (m->k.use_scalar) {
        double d = 0;
        for (size_t i = 0; i < (size_t)ol * im; i++) d += (double)W1[i] * G1[i];
        m->k.gs += (float)(a->scale * d);
    }
    if (cs == 0.0f) return;
    const int r1 = m->r1, r2 = m->r2;
    if (m->w1) for (size_t i = 0; i < (size_t)ol * im; i++) m->g1[i] += cs * G1[i];
    else {
        lyco_gemm(0, 1, ol, r1, im, cs, G1, im, m->w1b, im, 1.0f, m->g1a, r1);
        lyco_gemm(1, 0, r1, im, ol, cs, m->w1a, r1, G1, im, 1.0f, m->g1b, im);
    }
    if (m->w2) for (size_t i = 0; i < (size_t)ok * inn; i++) m->g2[i] += G2[i];
    else {
        lyco_gemm(0, 1, ok, r2, inn, 1.0f, G2, inn, m->w2b, inn, 1.0f, m->g2a, r2);
        lyco_gemm(1, 0, r2, inn, ok, 1.0f, m->w2a, r2, G2, inn, 1.0f, m->g2b, inn);
    }
}

static void delta(const Adapter *a, float *dW) {
    const Lokr *m = a->impl;
    float *buf = xmalloc((w1_floats(m) + w2_floats(m) + 1) * sizeof(float)), *sc = buf;
    const float *W1 = dense_w1(m, &sc), *W2 = dense_w2(m, &sc);
    const float cs = a->scale * m->k.s;
    const int in = a->in;
    for (int i = 0; i < m->ol; i++)
        for (int k = 0; k < m->ok; k++)
            for (int j = 0; j < m->im; j++)
                for (int l = 0; l < m->inn; l++)
                    dW[(size_t)(i * m->ok + k) * in + j * m->inn + l] = cs * W1[i * m->im + j] * W2[(size_t)k * m->inn + l];
    free(buf);
}

const AdapterOps LYCO_LOKR_OPS = {"lokr", acts_per_row, scratch_floats, forward, backward, delta, lyco_free_impl};

/* ---- construction ---- */

/* An adapter with the given forms: w1_rank / w2_rank 0 = full tensor, else its two factors of that
 * rank (LyCORIS gives both the same rank; a file from elsewhere may not). */
static Adapter *make(const char *module, int in, int out, int ol, int ok, int im, int inn, int w1_rank, int w2_rank, LycoCommon *k0) {
    Lokr *m = xcalloc(1, sizeof *m);
    m->k = *k0;
    m->ol = ol; m->ok = ok; m->im = im; m->inn = inn;
    m->r1 = w1_rank; m->r2 = w2_rank;
    const char *suf[4]; int rows[4], cols[4], n = 0;
    if (!w1_rank) { suf[n] = "lokr_w1"; rows[n] = ol; cols[n] = im; n++; }
    else { suf[n] = "lokr_w1_a"; rows[n] = ol; cols[n] = w1_rank; n++; suf[n] = "lokr_w1_b"; rows[n] = w1_rank; cols[n] = im; n++; }
    if (!w2_rank) { suf[n] = "lokr_w2"; rows[n] = ok; cols[n] = inn; n++; }
    else { suf[n] = "lokr_w2_a"; rows[n] = ok; cols[n] = w2_rank; n++; suf[n] = "lokr_w2_b"; rows[n] = w2_rank; cols[n] = inn; n++; }
    float *v[4], *g[4];
    Adapter *a = lyco_make(&LYCO_LOKR_OPS, module, in, out, m, &m->k, n, suf, rows, cols, v, g);
    int i = 0;
    if (!w1_rank) { m->w1 = v[i]; m->g1 = g[i]; i++; }
    else { m->w1a = v[i]; m->g1a = g[i]; i++; m->w1b = v[i]; m->g1b = g[i]; i++; }
    if (!w2_rank) { m->w2 = v[i]; m->g2 = g[i]; i++; }
    else { m->w2a = v[i]; m->g2a = g[i]; i++; m->w2b = v[i]; m->g2b = g[i]; i++; }
    return a;
}

Adapter *lyco_lokr_new(const char *module, int in, int out, const LycorisModuleSpec *s, uint64_t seed) {
    int ol, ok, im, inn;
    lycoris_factorization(out, s->factor, &ol, &ok);
    if (s->unbalanced_factorization) { int t = ol; ol = ok; ok = t; }
    lycoris_factorization(in, s->factor, &im, &inn);
    const int r = s->dim;
    /* LyCORIS compares with real-valued halves */
    const int w1_fact = s->decompose_both && r < (ol > im ? ol : im) / 2.0 && !s->full_matrix;
    const int w2_fact = r < (ok > inn ? ok : inn) / 2.0 && !s->full_matrix;
    double alpha = s->alpha == 0 ? r : s->alpha;
    if (!w1_fact && !w2_fact) alpha = r;   /* both full: scale 1 */
    double rf = s->rs_lora ? sqrt((double)r) : r;
    LycoCommon k = {0};
    lyco_common_init(&k, s, r, (float)(alpha / rf), (float)(alpha * (r / rf)));
    Adapter *a = make(module, in, out, ol, ok, im, inn, w1_fact ? r : 0, w2_fact ? r : 0, &k);
    Lokr *m = a->impl;
    /* LyCORIS' init: W1 kaiming; W2 = 0 (its second factor = 0) so ΔW starts at 0, or kaiming with
     * use_scalar, when s = 0 does that */
    Rng rng;
    lyco_init_rng(&rng, seed, module);
    if (m->w1) lyco_kaiming(&rng, m->w1, ol, im);
    else { lyco_kaiming(&rng, m->w1a, ol, r); lyco_kaiming(&rng, m->w1b, r, im); }
    if (m->w2) { if (s->use_scalar) lyco_kaiming(&rng, m->w2, ok, inn); }
    else { lyco_kaiming(&rng, m->w2a, ok, r); if (s->use_scalar) lyco_kaiming(&rng, m->w2b, r, inn); }
    return a;
}

static int shape_err(const char *where, const char *module, const char *what, Err *e) {
    return err_set(e, "%s: LoKr module '%s': %s", where, module, what);
}

Adapter *lyco_lokr_import(const char *module, int in, int out, const LycorisTensors *t, float strength, const char *where, Err *e) {
    int r1a = 0, c1a = 0, r1b = 0, c1b = 0, r1 = 0, c1 = 0, r2a = 0, c2a = 0, r2b = 0, c2b = 0, r2 = 0, c2 = 0;
    const float *w1 = lyco_find(t, "lokr_w1", &r1, &c1), *w1a = lyco_find(t, "lokr_w1_a", &r1a, &c1a), *w1b = lyco_find(t, "lokr_w1_b", &r1b, &c1b);
    const float *w2 = lyco_find(t, "lokr_w2", &r2, &c2), *w2a = lyco_find(t, "lokr_w2_a", &r2a, &c2a), *w2b = lyco_find(t, "lokr_w2_b", &r2b, &c2b);
    char msg[256];
    if (!w1 && !(w1a && w1b)) { shape_err(where, module, "needs lokr_w1, or both lokr_w1_a and lokr_w1_b", e); return NULL; }
    if (!w2 && !(w2a && w2b)) { shape_err(where, module, "needs lokr_w2, or both lokr_w2_a and lokr_w2_b", e); return NULL; }
    if ((w1 && (w1a || w1b)) || (w2 && (w2a || w2b))) { shape_err(where, module, "has both a full factor and its low-rank pair", e); return NULL; }
    int ol = w1 ? r1 : r1a, im = w1 ? c1 : c1b, ok = w2 ? r2 : r2a, inn = w2 ? c2 : c2b;
    if (!w1 && c1a != r1b) {
        snprintf(msg, sizeof msg, "lokr_w1_a is %dx%d but lokr_w1_b %dx%d (ranks differ)", r1a, c1a, r1b, c1b);
        shape_err(where, module, msg, e); return NULL;
    }
    if (!w2 && c2a != r2b) {
        snprintf(msg, sizeof msg, "lokr_w2_a is %dx%d but lokr_w2_b %dx%d (ranks differ)", r2a, c2a, r2b, c2b);
        shape_err(where, module, msg, e); return NULL;
    }
    if ((long)ol * ok != out || (long)im * inn != in) {
        snprintf(msg, sizeof msg, "W1 %dx%d ⊗ W2 %dx%d gives %ldx%ld, the layer is %dx%d (a LyCORIS file for another model?)", ol, im, ok, inn,
                 (long)ol * ok, (long)im * inn, out, in);
        shape_err(where, module, msg, e); return NULL;
    }
    /* ComfyUI's rank: w1_b's when W1 is factored, overridden by w2_b's when W2 is; scale alpha/rank */
    int dim = w2 ? (w1 ? 0 : r1b) : r2b;
    LycoCommon k = {0};
    k.algo = LYCO_LOKR;
    k.r = dim;
    k.file_scale = t->has_alpha && dim ? t->alpha / dim : 1.0f;
    k.multiplier = strength;
    k.has_alpha = t->has_alpha;
    k.alpha_saved = t->alpha;
    k.s = 1.0f;
    Adapter *a = make(module, in, out, ol, ok, im, inn, w1 ? 0 : c1a, w2 ? 0 : c2a, &k);
    Lokr *m = a->impl;
    if (w1) memcpy(m->w1, w1, (size_t)ol * im * sizeof(float));
    else { memcpy(m->w1a, w1a, (size_t)ol * c1a * sizeof(float)); memcpy(m->w1b, w1b, (size_t)c1a * im * sizeof(float)); }
    if (w2) memcpy(m->w2, w2, (size_t)ok * inn * sizeof(float));
    else { memcpy(m->w2a, w2a, (size_t)ok * c2a * sizeof(float)); memcpy(m->w2b, w2b, (size_t)c2a * inn * sizeof(float)); }
    return a;
}

void lyco_lokr_export(const Adapter *a, LycorisTensors *t) {
    const Lokr *m = a->impl;
    const float s = m->k.s;
    if (m->w1) lyco_put(t, "lokr_w1", m->ol, m->im, m->w1, s);
    else { lyco_put(t, "lokr_w1_a", m->ol, m->r1, m->w1a, s); lyco_put(t, "lokr_w1_b", m->r1, m->im, m->w1b, 1.0f); }
    if (m->w2) lyco_put(t, "lokr_w2", m->ok, m->inn, m->w2, 1.0f);
    else { lyco_put(t, "lokr_w2_a", m->ok, m->r2, m->w2a, 1.0f); lyco_put(t, "lokr_w2_b", m->r2, m->inn, m->w2b, 1.0f); }
}

int lyco_lokr_init_norm(Adapter *a, const float *W, float scale, uint64_t seed, const char *module, Err *e) {
    Lokr *m = a->impl;
    if (!m->w1 || !m->w2)
        return err_setc(e, EXIT_USAGE, "init_lokr_norm sets lokr_w1 and lokr_w2, but '%s' has %s factored (set full_matrix true in lycoris_config)",
                        module, !m->w2 ? "lokr_w2" : "lokr_w1");
    size_t nw = (size_t)a->out * a->in, n2 = (size_t)m->ok * m->inn;
    /* SimpleTuner's approximate_normal_tensor: noise with W's norm, then its std, then its mean */
    double sum = 0, sq = 0;
    for (size_t i = 0; i < nw; i++) { sum += W[i]; sq += (double)W[i] * W[i]; }
    double mean = sum / nw, norm = sqrt(sq), var = 0;
    for (size_t i = 0; i < nw; i++) var += (W[i] - mean) * (W[i] - mean);
    double std = nw > 1 ? sqrt(var / (nw - 1)) : 0;
    Rng rng;
    lyco_init_rng(&rng, seed ^ 0x6E6F726Dull, module);
    rng_fill_normal(&rng, m->w2, n2, 0.0f, 1.0f);
    double tn = 0;
    for (size_t i = 0; i < n2; i++) tn += (double)m->w2[i] * m->w2[i];
    tn = sqrt(tn);
    if (tn > 0) for (size_t i = 0; i < n2; i++) m->w2[i] = (float)(m->w2[i] * (norm / tn));
    double tm = 0, tv = 0;
    for (size_t i = 0; i < n2; i++) tm += m->w2[i];
    tm /= (double)n2;
    for (size_t i = 0; i < n2; i++) tv += (m->w2[i] - tm) * (m->w2[i] - tm);
    double tstd = n2 > 1 ? sqrt(tv / (n2 - 1)) : 0;
    if (tstd > 0) for (size_t i = 0; i < n2; i++) m->w2[i] = (float)(m->w2[i] * (std / tstd));
    tm = 0;
    for (size_t i = 0; i < n2; i++) tm += m->w2[i];
    tm /= (double)n2;
    for (size_t i = 0; i < n2; i++) m->w2[i] = (float)((m->w2[i] - tm + mean) * scale);
    for (size_t i = 0; i < (size_t)m->ol * m->im; i++) m->w1[i] = 1.0f;
    return 0;
}
